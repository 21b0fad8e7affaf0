"""The session-8 device results are read back by their own scripts: the rates of the CLI sweeps
(experiments/results/scale_2026-11-30/session8/cli_sweep_rates.py) and the 25-block DR vs PAIRED
runs (experiments/results/ued_dcd25_paired/summarise.py) give what their logs say, worked out here
by hand, and PAIRED's designer ran at least at dcd's adversary-update rate."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from experiments.reporting.results_scripts import load_script

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"


def test_maze_rates_are_steps_over_the_second_calls_log_times():
    rates = load_script(RESULTS / "scale_2026-11-30" / "session8" / "cli_sweep_rates.py")
    rows = {r["teacher"]: r for r in rates.maze_rows()}
    # DR seed 0's run.log: resumed at step 1,523,712 at 20:07:31.479, interrupted at 2,680,960 at 20:12:09.800
    seconds = (datetime(2026, 11, 30, 20, 12, 9, 800000) - datetime(2026, 11, 30, 20, 7, 31, 479000)).total_seconds()
    dr_seed0 = (2_680_960 - 1_523_712) / seconds
    assert 4000 < dr_seed0 < 4300
    assert rows["random"]["per_run_env_steps_per_s"] == pytest.approx(dr_seed0, rel=0.03)  # the seeds ran alike
    assert rows["paired"]["per_run_env_steps_per_s"] < rows["random"]["per_run_env_steps_per_s"] / 2
    assert rows["paired"]["env_steps_per_s"] == rows["random"]["env_steps_per_s"]  # one machine, one sweep


def test_walker_rate_is_the_sum_of_the_five_runs():
    rates = load_script(RESULTS / "scale_2026-11-30" / "session8" / "cli_sweep_rates.py")
    (row,) = rates.walker_rows()
    # packed_summary.txt: 400,000 steps each in 108.6, 105.9, 108.8, 115.3 and 111.4 s
    by_hand = sum(400_000 / w for w in (108.6, 105.9, 108.8, 115.3, 111.4))
    assert row["env_steps_per_s"] == pytest.approx(by_hand, abs=1.0)
    assert row["runs"] == 5 and row["env_steps_per_s"] > 15_000


def test_dcd25_runs_summary_and_paired_update_rate():
    summarise = load_script(RESULTS / "ued_dcd25_paired" / "summarise.py")
    evals, runs = summarise.summarise()
    dr = evals.query("teacher == 'random' and step == 2000032")["mastered_pct"]
    assert len(dr) == 5 and dr.mean() == pytest.approx(52.4)
    paired = runs.query("teacher == 'paired'")
    # dcd updates the adversary once per 32 processes x 256 steps; one episode per level here can only be faster
    assert (paired["adversary_updates"] >= paired["step"] // (32 * 256)).all()
    assert (paired["extra_protagonist_episodes"] == 0).all()
    assert (paired["mean_walls"] <= 25).all()
    assert evals.query("teacher == 'paired'")["step"].max() == 32  # cut before the first evaluation at 1M
