"""CLUTR's leaderboard rows after its audit against clutr's code, read back
(experiments/results/clutr_audit/): the committed table's CLUTR rows are exactly the rerun
runs, made by the audited code (clutr's generator settings in their configs), and the README
quotes the per-seed finals."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "experiments" / "results" / "clutr_audit"


def _runs() -> dict[str, tuple[dict, dict]]:
    """run folder -> (config, summary)."""
    out: dict[str, dict] = {}
    with tarfile.open(HERE / "runs.tar.gz") as tar:
        for m in tar.getmembers():
            name = m.name.rsplit("/", 1)[-1]
            if name in ("config.yaml", "summary.json"):
                run = m.name.rsplit("/", 1)[0].lstrip("./")
                text = tar.extractfile(m).read()  # type: ignore[union-attr]
                out.setdefault(run, {})[name] = yaml.safe_load(io.BytesIO(text)) if name.endswith("yaml") else json.loads(text)
    return {run: (files["config.yaml"], files["summary.json"]) for run, files in out.items()}


def test_the_reruns_used_clutrs_generator_settings():
    # clutr's scripts/train_minigrid50_clutr.sh and arguments.py: adversary lr 1e-4, 5 PPO epochs,
    # one minibatch, no entropy bonus, clip 0.2, 50-D noise; latents in [0, 1] (the Beta sample)
    runs = _runs()
    assert len(runs) == 8
    for config, summary in runs.values():
        p = config["teacher"]["params"]
        assert config["teacher"]["name"] == "clutr"
        assert (p["lr"], p["n_epochs"], p["ent_coef"], p["clip_range"], p["noise_dim"]) == (1e-4, 5, 0.0, 0.2, 50)
        assert list(p["latent_range"]) == [0.0, 1.0]
        assert summary["code"]["commit"]  # made by a recorded commit (after the audit's merge)


def test_the_leaderboard_rows_are_the_reruns_and_the_readme_quotes_them():
    runs = _runs()
    finals = {"baseline": [], "lite": []}
    for run, (config, summary) in sorted(runs.items()):
        finals[run.split("/")[0]].append(summary["final_mastered"])
    assert np.allclose(finals["baseline"], [27.2, 26.8, 40.4, 18.0, 22.8])  # seeds 0-4
    assert np.allclose(finals["lite"], [18.8, 34.4, 35.6])  # seeds 0-2
    board = pd.read_csv(ROOT / "leaderboard" / "leaderboard.csv").set_index(["experiment", "env", "teacher"])
    for experiment, values in finals.items():
        row = board.loc[(experiment, "gridworld", "clutr")]
        assert row["seeds"] == len(values) and row["final_mastered_mean"] == pytest.approx(np.mean(values))
        # every CLUTR seed is below every Random seed of the row: P(> random) is 0 exactly
        assert (row["p_improve"], row["p_improve_hi"]) == (0.0, 0.0)
    text = (HERE / "README.md").read_text()
    assert "27.0 ± 8.3" in text and "29.6 ± 9.4" in text
