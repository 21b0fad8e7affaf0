"""dcd's released per-seed held-out results (experiments/results/reference_dcd): the table
reproduces the headline means of the ACCEL paper (0-60 blocks, 20k updates: ACCEL 0.875,
PLR⊥ 0.71, DR 0.62) and of the PLR⊥ paper (25 blocks, 250M steps: PLR⊥ 0.68, DR 0.43),
and its script computes the orderings' intervals that reproductions.md quotes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

HERE = Path(__file__).resolve().parents[1] / "experiments" / "results" / "reference_dcd"


def _table() -> pd.DataFrame:
    return pd.read_csv(HERE / "dcd_held_out_per_seed.csv")


def test_the_table_gives_the_papers_headline_means():
    means = _table().groupby(["setting", "teacher"])["solved_rate"].mean()
    assert means["0-60 blocks", "accel"] == pytest.approx(0.875, abs=5e-4)
    assert means["0-60 blocks", "plr_robust"] == pytest.approx(0.71, abs=5e-3)
    assert means["0-60 blocks", "random"] == pytest.approx(0.62, abs=5e-3)
    assert means["25 blocks", "plr_robust"] == pytest.approx(0.68, abs=5e-3)
    assert means["25 blocks", "random"] == pytest.approx(0.43, abs=5e-3)
    shape = _table().groupby(["setting", "teacher"]).agg(seeds=("seed", "nunique"), mazes=("maze", "nunique"))
    assert shape.loc["0-60 blocks"].to_dict("list") == {"seeds": [5, 5, 5], "mazes": [12, 12, 12]}
    assert shape.loc["25 blocks"].to_dict("list") == {"seeds": [10, 10], "mazes": [7, 7]}


def test_intervals_script_gives_the_quoted_orderings():
    spec = importlib.util.spec_from_file_location("dcd_intervals", HERE / "intervals.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    table = module.orderings(_table()).set_index(["setting", "x", "y"])
    plr_dr = table.loc[("0-60 blocks", "plr_robust", "random")]
    assert plr_dr["p_x_above_y"] == pytest.approx(0.80) and plr_dr["lo"] < 0.5  # not separated in the source
    accel_plr = table.loc[("0-60 blocks", "accel", "plr_robust")]
    assert accel_plr["p_x_above_y"] == pytest.approx(0.92) and accel_plr["lo"] > 0.5
    assert table.loc[("25 blocks", "plr_robust", "random")]["p_x_above_y"] == pytest.approx(0.78)
    text = (HERE.parent / "reproductions.md").read_text()
    assert "0.80 [0.44, 1.00]" in text and "0.92 [0.68, 1.00]" in text
