"""A row's bootstrap intervals are a function of its own runs: adding an unrelated row to the
table must not move them (experiments/reporting/leaderboard.py, ``keyed_rng``).

Until session 10 every row drew its resamples from one generator shared by the whole table,
so a teacher's rows sorted before another row shifted that row's stream: adding minimax's
gridworld rows moved the gridworld Covar-GMM's P(> random) upper end from 0.50 to 0.52. The
tests below take real runs of the committed table (leaderboard/runs/: the gridworld baseline's
Random, ALP-GMM and Covar-GMM, 5 seeds each), build the table, add other rows (ACCEL, which
sorts before both teachers, and the web forms' WebRL and Random) and require every original
interval to be bit-identical. With the shared stream they are not.

The results folders' comparisons (``seed_comparison``, one row per teacher, metric and
evaluation step) are keyed the same way: until session 10 a results script passed one
generator for its whole table, so a table with another evaluation step or metric before a row
gave that row other intervals."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.reporting import leaderboard as lb
from experiments.reporting.analysis import learning_curves
from experiments.reporting.results_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "leaderboard" / "runs" / "baseline"
KEY = ["experiment", "env", "student", "teacher"]
INTERVALS = ["final_mastered_lo", "final_mastered_hi", "auc_mastered_lo", "auc_mastered_hi",
             "p_improve", "p_improve_lo", "p_improve_hi"]


def _copy(dest: Path, env: str, *teachers: str) -> None:
    """The committed table's runs of ``teachers`` on ``env`` (5 seeds each), copied into ``dest``."""
    for teacher in teachers:
        runs = sorted(MANIFEST.glob(f"{env}__{teacher}__*__s[0-9]*"))
        assert len(runs) == 5, (env, teacher)
        for run in runs:
            shutil.copytree(run, dest / "baseline" / run.name)


def _table(root: Path) -> pd.DataFrame:
    return lb.leaderboard(lb.collect_runs(root)).set_index(KEY)


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    root = tmp_path_factory.mktemp("runs")
    _copy(root, "gridworld", "random", "alp_gmm", "covar_gmm")
    small = _table(root)
    again = _table(root)
    _copy(root, "gridworld", "accel")  # sorts before alp_gmm and covar_gmm: it used to take their draws
    _copy(root, "webform", "random", "webrl")
    return small, again, _table(root)


def test_adding_rows_leaves_every_other_rows_intervals_bit_identical(tables):
    small, _, big = tables
    assert len(small) == 3 and len(big) == 6
    # the gridworld intervals are real intervals (5 seeds each), not the n<3 NaNs
    assert small[["final_mastered_lo", "final_mastered_hi"]].notna().all().all()
    assert small["p_improve_lo"].notna().sum() == 2
    for col in INTERVALS:
        old, new = small[col].to_numpy(float), big.loc[small.index, col].to_numpy(float)
        assert np.array_equal(old, new, equal_nan=True), col
    for col in ("iqm_final", "p_improve_text", "separates"):
        assert (small[col].astype(str) == big.loc[small.index, col].astype(str)).all(), col


def test_the_same_runs_give_the_same_table_twice(tables):
    small, again, _ = tables
    pd.testing.assert_frame_equal(small, again)


def test_the_across_env_rows_do_not_move_when_a_teacher_is_added(tmp_path):
    """``aggregate`` (aggregate.csv): one row per experiment x student x teacher; here the
    gridworld (PPO) and the web forms (MaskablePPO) rows, one env stratum each."""
    _copy(tmp_path, "gridworld", "random", "covar_gmm")
    _copy(tmp_path, "webform", "random", "covar_gmm")
    before = lb.aggregate(lb.collect_runs(tmp_path)).set_index(["student", "teacher"])
    _copy(tmp_path, "gridworld", "alp_gmm")  # sorts before covar_gmm
    _copy(tmp_path, "webform", "alp_gmm")
    after = lb.aggregate(lb.collect_runs(tmp_path)).set_index(["student", "teacher"])
    assert len(before) == 4 and len(after) == 6
    assert np.isfinite(before.loc[("ppo", "covar_gmm"), "p_improve_lo"])
    for col in ("iqm", "iqm_lo", "iqm_hi", "p_improve", "p_improve_lo", "p_improve_hi"):
        assert np.array_equal(before[col].to_numpy(float), after.loc[before.index, col].to_numpy(float),
                              equal_nan=True), col


def test_a_learning_curve_band_does_not_move_when_another_group_is_added():
    grid = np.linspace(0, 100, 6)
    def curves(teachers):  # noqa: E306 (three seeds per teacher, each a rising curve)
        return pd.DataFrame([{"teacher": t, "path": f"{t}/{s}", "step": x, "mastered_pct": x * (0.5 + 0.1 * s + i)}
                             for i, t in enumerate(teachers) for s in range(3) for x in grid])
    one = learning_curves(curves(["b"]).assign(teacher="b"), by=["teacher"], points=6, reps=300)
    two = learning_curves(pd.concat([curves(["a"]), curves(["b"]).assign(teacher="b")]), by=["teacher"],
                          points=6, reps=300)
    b = two[two["teacher"] == "b"].reset_index(drop=True)
    assert (one["hi"] > one["lo"]).any()
    pd.testing.assert_frame_equal(one, b)


def test_the_row_seed_is_the_same_in_every_process():
    """``keyed_rng`` hashes the key with SHA-256: Python's ``hash()`` of a string is salted per
    process (PYTHONHASHSEED), which would make the table differ from one run to the next."""
    code = ("from experiments.reporting.leaderboard import keyed_rng; "
            "print(keyed_rng(0, 'row', 'baseline', 'gridworld', 'ppo', 'covar_gmm', None, 300000.0).integers(0, 2**62, 4))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                           env={**os.environ, "PYTHONHASHSEED": str(h), "PYTHONPATH": str(ROOT)}).stdout
            for h in (1, 2)}
    assert len(outs) == 1
    here = lb.keyed_rng(0, "row", "baseline", "gridworld", "ppo", "covar_gmm", float("nan"), 300000).integers(0, 2**62, 4)
    assert outs.pop().split() == str(here).split()  # None and NaN are one missing value; 300000.0 is 300000
    # another key or another base seed is another stream
    assert lb.keyed_rng(0, "a").integers(0, 2**62) != lb.keyed_rng(0, "b").integers(0, 2**62)
    assert lb.keyed_rng(0, "a").integers(0, 2**62) != lb.keyed_rng(1, "a").integers(0, 2**62)


def _per_seed(steps, columns) -> pd.DataFrame:
    """Five seeds of two teachers at ``steps``, one value per metric in ``columns``: spread
    values with ties (what 50 test levels give), so that every interval has width."""
    rng = np.random.default_rng(3)
    return pd.DataFrame([{"teacher": t, "seed": s, "step": step,
                          **{c: float(2 * rng.integers(10 + 5 * i, 30 + 5 * i)) for c in columns}}
                         for step in steps for i, t in enumerate(("random", "plr")) for s in range(5)])


def _comparison(values: pd.DataFrame, plan) -> pd.DataFrame:
    """The rows a results script writes: ``seed_comparison`` per (step, metric) of ``plan``, in order."""
    rows = []
    for step, column in plan:
        at = values[values["step"] == step]
        for row in lb.seed_comparison(at, column, {"random": "DR", "plr": "PLR"}, "random", key=(step,),
                                      p_column="p_above_dr"):
            rows.append({"step": step, **row})
    return pd.DataFrame(rows).set_index(["step", "metric", "teacher"])


def test_a_comparison_row_does_not_move_when_a_step_or_metric_is_added():
    values = _per_seed([1_000_000, 2_000_000], ["mastered_pct", "held_out_pct"])
    one = _comparison(values, [(2_000_000, "mastered_pct")])
    # another step and another metric, computed before the original row (they took its draws)
    more = _comparison(values, [(1_000_000, "mastered_pct"), (1_000_000, "held_out_pct"),
                                (2_000_000, "held_out_pct"), (2_000_000, "mastered_pct")])
    assert len(one) == 2 and len(more) == 8
    assert (one["iqm_hi"] > one["iqm_lo"]).all() and one["p_hi"].notna().sum() == 1
    for col in ("iqm", "iqm_lo", "iqm_hi", "p_above_dr", "p_lo", "p_hi"):
        assert np.array_equal(one[col].to_numpy(float), more.loc[one.index, col].to_numpy(float), equal_nan=True), col
    # the same input gives the same table twice
    pd.testing.assert_frame_equal(more, _comparison(values, [(1_000_000, "mastered_pct"), (1_000_000, "held_out_pct"),
                                                             (2_000_000, "held_out_pct"), (2_000_000, "mastered_pct")]))


def test_claim_5s_table_rows_do_not_move_with_its_other_steps_and_metrics():
    """On real runs (experiments/results/ued_dcd25_minimax/): the 2M test-set rows of the
    committed table, alone and with every other step and the held-out metrics before them."""
    claim5 = load_script(ROOT / "experiments" / "results" / "ued_dcd25_minimax" / "summarise.py")
    test, means = claim5.load()
    full = claim5.table(test, means).set_index(["step", "metric", "teacher"])
    alone = claim5.table(test[test["step"] == 2_000_032], means.iloc[:0]).set_index(["step", "metric", "teacher"])
    assert len(alone) == 2 and len(full) > 10
    for col in ("iqm_lo", "iqm_hi", "p_lo", "p_hi"):
        assert np.array_equal(alone[col].to_numpy(float), full.loc[alone.index, col].to_numpy(float), equal_nan=True), col
    committed = pd.read_csv(ROOT / "experiments" / "results" / "ued_dcd25_minimax" / "table.csv")
    pd.testing.assert_frame_equal(full.reset_index(), committed, check_dtype=False)  # the script wrote this table
