"""Real sweeps through the CLI: a rerun skips finished runs, and the joblib launcher runs
a sweep in parallel processes, each run in its own identity-named directory. Each test runs
two real sweeps of PPO runs (about a minute on 2 loaded cores): marked slow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.reporting.leaderboard import collect_runs
from experiments.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]
FAST = ["budget.steps=2048", "eval.every=1024", "checkpoint.every=1024", "env.kwargs.max_steps=40",
        "eval.held_out=false", "log.progress_bar=false"]


def cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               **(env or {})}
    out = subprocess.run([sys.executable, "-m", "experiments.running.cli", *args, f"runs_dir={tmp_path / 'runs'}", *FAST],
                         capture_output=True, text=True, timeout=600, cwd=ROOT, env=environ)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.mark.slow
def test_rerun_skips_finished_runs_and_redoes_only_the_rest(tmp_path):
    cli(tmp_path, "-m", "name=rerun", "seed=0,1")
    root = tmp_path / "runs" / "rerun"
    first, second = (RunDir(next(root.glob(f"gridworld__random__ppo__s{s}__*"))) for s in (0, 1))  # + config id
    assert first.finished and second.finished
    kept = first.summary_path.read_text(), first.summary_path.stat().st_mtime_ns
    episodes_before = sorted(p.name for p in (first.path / "episodes").iterdir())
    second.summary_path.unlink()  # seed 1 looks unfinished now
    second.set_status("running", step=1024)
    out = cli(tmp_path, "-m", "name=rerun", "seed=0,1")
    assert (first.summary_path.read_text(), first.summary_path.stat().st_mtime_ns) == kept
    assert sorted(p.name for p in (first.path / "episodes").iterdir()) == episodes_before
    assert f"run already finished, skipping: {first.path}" in out.stdout + out.stderr
    assert f"run already finished, skipping: {second.path}" not in out.stdout + out.stderr
    # seed 1 continued from its last checkpoint: no episode lost or counted twice
    assert second.finished and json.loads(second.status_path.read_text())["state"] == "finished"
    assert second.summary()["resumed"] is True and second.summary()["steps"] >= 2048
    episodes = second.read("episodes")
    assert episodes["episode_id"].tolist() == list(range(second.summary()["episodes"]))
    assert "gridworld" in out.stdout  # the leaderboard printed at the sweep's end
    runs = collect_runs(root)
    assert sorted(runs["seed"]) == [0, 1] and set(runs["state"]) == {"finished"}


@pytest.mark.slow
def test_joblib_launcher_runs_a_sweep_in_parallel_processes(tmp_path):
    out = cli(tmp_path, "-m", "name=par", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=0,1",
              "teacher.name=random,alp_gmm")
    assert "Joblib.Parallel(n_jobs=2" in out.stderr + out.stdout
    root = tmp_path / "runs" / "par"
    runs = collect_runs(root)
    assert len(runs) == 4 and set(runs["state"]) == {"finished"}
    assert sorted(zip(runs["teacher"], runs["seed"])) == [("alp_gmm", 0), ("alp_gmm", 1), ("random", 0), ("random", 1)]
    for _, r in runs.iterrows():
        rd = RunDir(r["path"])
        assert rd.summary()["steps"] >= 2048 and not rd.read("episodes").empty
