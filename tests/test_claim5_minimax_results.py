"""Claim 5's device results, read back (experiments/results/ued_dcd25_minimax/): DR vs dcd's
minimax adversary on dcd's 25-block maze. The runs used dcd's ``mg_25b_{dr,minimax}``
settings; the table's numbers are worked out here by hand from the per-seed evaluations; the
designer updated and the students trained; and the README quotes what the files give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _dcd25_minimax import check_dcd25_minimax_runs

from experiments.reporting.results_scripts import load_script

HERE = Path(__file__).resolve().parents[1] / "experiments" / "results" / "ued_dcd25_minimax"


def test_the_runs_used_dcds_25_block_dr_and_minimax_settings():
    # dcd train_scripts/grid_configs/minigrid/25_blocks/mg_25b_{minimax,dr}.json at dcd's shape:
    # 32 processes x 256 steps (the rest: tests/_dcd25_minimax.py)
    check_dcd25_minimax_runs(HERE / "runs_slim.tar.gz", n_envs=32, n_steps=256)


def test_minimax_default_designer_has_no_lstm():
    from teachers.paired import PAIRED, Minimax

    assert Minimax.recurrent_adversary is False and PAIRED.recurrent_adversary is True


def test_the_table_is_the_per_seed_evaluations_worked_out_by_hand():
    summarise = load_script(HERE / "summarise.py")
    test, means = summarise.load()
    at = test[test["step"] == 2_000_032].sort_values("seed")
    dr = at[at["teacher"] == "random"]["mastered_pct"].round(6).tolist()
    mm = at[at["teacher"] == "minimax"]["mastered_pct"].round(6).tolist()
    # 50 test levels: each seed's % is a multiple of 2; minimax's seed 1 was cut before its 2M row
    assert dr == [62.0, 52.0, 44.0, 46.0, 48.0] and mm == [62.0, 48.0, 46.0, 56.0]
    # P(minimax seed > DR seed), ties counted half, over the 4 x 5 pairs:
    # 62 beats 52 44 46 48 and ties 62 (4.5); 48 beats 44 46, ties 48 (2.5); 46 beats 44, ties 46 (1.5);
    # 56 beats 52 44 46 48 (4) -> 12.5 / 20
    rows = {r["teacher"]: r for r in summarise.table(test, means).query("step == 2000032 and metric == 'mastered_pct'")
            .to_dict("records")}
    assert rows["minimax"]["p_above_dr"] == pytest.approx(12.5 / 20)
    assert rows["DR"]["mean"] == pytest.approx(50.4) and rows["minimax"]["mean"] == pytest.approx(53.0)
    # held-out at 1M: both teachers, 5 seeds, 100 episodes per maze (whole percents)
    held = means[means["step"] == 1_000_032]
    assert len(held) == 10
    assert held.groupby("teacher")["held_out_dcd7"].mean()["random"] == pytest.approx(3.743, abs=1e-3)


def test_the_designer_updated_and_still_makes_near_random_levels():
    summarise = load_script(HERE / "summarise.py")
    d = summarise.designer()
    last = d.groupby("seed").tail(1)
    # dcd's rate: one update per 32 levels; ~2M steps of 250-step (or shorter) episodes -> hundreds
    assert last["adversary_updates"].between(250, 450).all()
    first = d.dropna(subset=["mean_adversary_return"]).groupby("seed").head(1)
    # its return (minus the student's best) fell as the student learnt: a live training signal
    assert (first["mean_adversary_return"] > -0.2).all() and (last["mean_adversary_return"] < -0.5).all()
    unsolvable, walls = summarise.random_designs(n=2000)
    # 25 uniform wall placements on the 13x13 interior leave ~23 distinct walls: 25 - E[repeats and
    # cells cleared by goal/agent]; 169 * (1 - (1 - 1/169) ** 25) = 23.3 distinct cells before clearing
    assert 22.5 < walls < 23.4 and unsolvable < 0.01
    assert d[d["step"] >= 1_500_000]["unsolvable_rate"].mean() < 0.02


def test_the_students_took_gradient_steps():
    # every run reached its 1.5M evaluation: 1.5M / 8,192 steps per PPO update = 183 updates
    summarise = load_script(HERE / "summarise.py")
    test, _ = summarise.load()
    reached = test.groupby(["teacher", "seed"])["step"].max()
    assert len(reached) == 10 and (reached >= 1_500_032).all()
    assert test[test["step"] >= 1_500_032]["mastered_pct"].gt(0).all()  # and learnt: step 0 was 0-4 %


def test_the_readme_and_reproductions_quote_the_files():
    readme = (HERE / "README.md").read_text()
    text = (HERE.parent / "reproductions.md").read_text()
    for quote in ("50.4 ± 7.1", "53.0 ± 7.4", "0.62 [0.23, 0.97]", "0.46%"):
        assert quote in readme
    assert "| 5 | dcd maze: held-out DR > minimax" in text and "0.62 [0.23, 0.97]" in text
    summarise = load_script(HERE / "summarise.py")
    test, means = summarise.load()
    table = summarise.table(test, means)
    row = table.query("step == 1000032 and metric == 'held_out_dcd7' and teacher == 'minimax'").iloc[0]
    assert f"P {row['p_above_dr']:.2f} [{row['p_lo']:.2f}, {row['p_hi']:.2f}]" in readme
    assert np.isclose(row["mean"], 3.371, atol=1e-3)
