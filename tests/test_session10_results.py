"""Session 10's results, read back: the lite tiers of ADR, SPDL, Covar-GMM and Setter-Solver
rerun after their TeachMyAgent fidelity fixes (experiments/results/teacher_audit_reruns/
runs_lite.tar.gz), and the committed leaderboard rebuilt so that these teachers' rows come
from the fixed code wherever a rerun exists (leaderboard/rebuild.py).

Every number is read from the committed run files through the leaderboard's own code, and
the P(> random) point estimates are also worked out by hand from the per-seed summaries, so a
table that does not match its runs fails here."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.reporting.leaderboard import collect_runs, leaderboard
from experiments.reporting.lite import rank_agreement

ROOT = Path(__file__).resolve().parents[1]
BOARD = ROOT / "leaderboard"
AUDIT = ROOT / "experiments" / "results" / "teacher_audit_reruns"
FIXED = ("adr", "spdl", "covar_gmm", "setter_solver")


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _summaries(tarball: Path) -> list[dict]:
    with tarfile.open(tarball) as tar:
        return [json.load(io.BytesIO(tar.extractfile(m).read()))  # type: ignore[union-attr]
                for m in tar.getmembers() if m.name.endswith("/summary.json")]


def _finals(summaries: list[dict], experiment: str, env: str, teacher: str) -> list[float]:
    return [s["final_mastered"] for s in sorted(summaries, key=lambda s: s["seed"])
            if (s["experiment"], s["env"], s["teacher"]) == (experiment, env, teacher)]


def _p_by_hand(x: list[float], y: list[float]) -> float:
    """P(a seed of x ends above a seed of y), ties counting half, over every pair."""
    return float(np.mean([[1.0 if a > b else 0.5 if a == b else 0.0 for b in y] for a in x]))


@pytest.fixture(scope="module")
def committed() -> pd.DataFrame:
    return pd.read_csv(BOARD / "leaderboard.csv").set_index(["experiment", "env", "teacher"])


@pytest.fixture(scope="module")
def manifest_runs() -> pd.DataFrame:
    return collect_runs(BOARD / "runs")


def test_the_committed_table_is_the_leaderboard_of_its_manifest(committed, manifest_runs):
    """leaderboard.csv, rebuilt by leaderboard/rebuild.py, is what the leaderboard's code makes of
    the committed run files (leaderboard/runs/): same rows, seeds, config ids, means, intervals and
    flags (the bootstrap uses one seeded stream over the rows, so the intervals match exactly)."""
    table = leaderboard(manifest_runs).set_index(["experiment", "env", "teacher"])
    assert sorted(table.index) == sorted(committed.index)
    for col in ("seeds", "final_mastered_mean", "final_mastered_std", "p_improve", "p_improve_lo", "p_improve_hi"):
        assert np.allclose(table[col].astype(float), committed.loc[table.index, col].astype(float), equal_nan=True), col
    for col in ("config_id", "separates", "flags"):
        assert (table[col].fillna("").astype(str) == committed.loc[table.index, col].fillna("").astype(str)).all(), col
    lite = rank_agreement(manifest_runs).set_index("env")
    saved = pd.read_csv(BOARD / "lite.csv").set_index("env")
    assert np.allclose(lite.loc[saved.index, "kendall_tau"], saved["kendall_tau"])
    assert np.allclose(lite.loc[saved.index, "spearman_rho"], saved["spearman_rho"])


def test_the_four_teachers_rows_are_the_fixed_code_runs_and_the_rest_are_flagged(committed, manifest_runs):
    """Every row of ADR, SPDL, Covar-GMM and Setter-Solver that was rerun holds exactly the rerun
    seeds (the committed tarballs' summaries); the one row still made by the earlier code (the
    hexagon tracks' Covar-GMM, device work not rerun) carries the flag."""
    reruns = _summaries(AUDIT / "runs.tar.gz") + _summaries(AUDIT / "runs_lite.tar.gz")
    mine = manifest_runs[manifest_runs["teacher"].isin(FIXED)]
    for (experiment, env, teacher), group in mine.groupby(["experiment", "env", "teacher"]):
        flags = str(committed.loc[(experiment, env, teacher), "flags"])
        if experiment.startswith("tma_"):
            assert f"made before the teacher's TMA fidelity fix ({len(group)}/{len(group)} seeds)" in flags
            continue
        assert "fidelity fix" not in flags, (experiment, env, teacher)
        assert sorted(group["final_mastered"]) == sorted(_finals(reruns, experiment, env, teacher)), (env, teacher)
        assert group["code_commit"].notna().all()
    rows = {(e, v) for e, v, t in committed.index if t in FIXED}
    assert ("lite", "gridworld") in rows and ("lite", "webform") in rows and ("lite", "toy-default") in rows
