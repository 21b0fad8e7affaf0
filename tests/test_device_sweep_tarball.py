"""benchmarks/device_ued_sweep.sh's tarball of the runs (what a device call brings back): with
KEEP_CHECKPOINTS it keeps each unfinished run's latest checkpoint, so the next call resumes it,
and leaves a finished run's checkpoints and model behind (TMA's walker network makes ~1.5 MB
checkpoints: 30 runs' would fill most of the 64 MiB a call returns). The sweep itself is given an
experiment that does not exist, so it stops at once and only the packaging runs."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path, **env: str) -> tuple[list[str], str]:
    runs = tmp_path / "runs"
    finished = runs / "baseline" / "walker__random__ppo__s0__aaaa"
    unfinished = runs / "baseline" / "walker__riac__ppo__s0__bbbb"
    for run in (finished, unfinished):
        for step in ("step-000000100000", "step-000000200000"):
            (run / "checkpoints" / step).mkdir(parents=True)
            (run / "checkpoints" / step / "model.zip").write_bytes(b"x")
        (run / "config.yaml").write_text("seed: 0\n")
    (finished / "summary.json").write_text("{}")
    (finished / "episodes").mkdir()
    (finished / "episodes" / "part-000001.parquet").write_bytes(b"x")
    (finished / "model.zip").write_bytes(b"x")
    out = tmp_path / "out"
    result = subprocess.run(["bash", "benchmarks/device_ued_sweep.sh"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OUT": str(out), "RUNS": str(runs), "TAG": "t",
                                              "EXPERIMENT": "no_such_experiment", "SWEEP_S": "60", **env})
    with tarfile.open(out / "t_runs.tar.gz") as tar:
        return sorted(m.name.removeprefix("./") for m in tar.getmembers() if m.isfile()), result.stdout


def test_an_unfinished_run_keeps_its_latest_checkpoint_and_a_finished_one_none(tmp_path):
    names, stdout = _run(tmp_path, KEEP_CHECKPOINTS="1")
    assert "baseline/walker__riac__ppo__s0__bbbb/checkpoints/step-000000200000/model.zip" in names
    assert not any("bbbb/checkpoints/step-000000100000" in n for n in names)
    assert not any("aaaa/checkpoints" in n for n in names) and "baseline/walker__random__ppo__s0__aaaa/model.zip" not in names
    assert "baseline/walker__random__ppo__s0__aaaa/summary.json" in names
    assert "MiB of the 64 MiB a call carries" in stdout


def test_keep_finished_keeps_a_finished_runs_latest_checkpoint_too(tmp_path):
    names, _ = _run(tmp_path, KEEP_CHECKPOINTS="1", KEEP_FINISHED="1")
    assert "baseline/walker__random__ppo__s0__aaaa/checkpoints/step-000000200000/model.zip" in names
    assert not any("aaaa/checkpoints/step-000000100000" in n for n in names)


def test_without_keep_checkpoints_no_checkpoint_or_model_comes_back(tmp_path):
    names, _ = _run(tmp_path)
    assert not any("/checkpoints/" in n or n.endswith(".zip") for n in names)
    assert {n.rsplit("/", 1)[-1] for n in names} == {"config.yaml", "summary.json"}


def test_episode_tables_come_back_only_with_keep_episodes(tmp_path):
    names, _ = _run(tmp_path / "without", KEEP_CHECKPOINTS="1")
    assert not any("/episodes/" in n for n in names)
    names, _ = _run(tmp_path / "with", KEEP_CHECKPOINTS="1", KEEP_EPISODES="1")
    assert "baseline/walker__random__ppo__s0__aaaa/episodes/part-000001.parquet" in names
    names, _ = _run(tmp_path / "plain", KEEP_EPISODES="1")
    assert "baseline/walker__random__ppo__s0__aaaa/episodes/part-000001.parquet" in names
    assert not any("/checkpoints/" in n or n.endswith(".zip") for n in names)
