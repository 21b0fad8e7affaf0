"""The loose ends of issue 23 finding 7, each reproduced first.

- ``env.n_envs=100000`` with a 2,000-step budget ran 1.8M steps: one rollout > budget;
- ``runs_dir=`` wrote ``/_hydra`` at the filesystem root;
- a wandb key without network hung silently for 95 s;
- Ctrl-C printed a 40-line traceback and recorded the run as failed;
- disk-full and read-only folders gave long tracebacks and left status.json "running".
(Student hyperparameters reaching SB3 unchecked are the CLI checks' part.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envs.errors import TeachBenchError
from experiments.rundir import RunDir
from experiments.running.run import run, run_dir_for

ROOT = Path(__file__).resolve().parents[1]
TINY = ["env=gridworld_small", "budget.steps=1024", "eval.every=1024", "checkpoint.every=512",
        "env.kwargs.max_steps=30", "+env.kwargs.n_test_tasks=4", "eval.held_out=false", "log.progress_bar=false",
        "env.students.ppo.n_steps=64"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.mark.parametrize("overrides", [
    ["env.n_envs=100000", "budget.steps=2000"],
    ["budget.steps=2000", "+student.params.n_steps=4096"],  # 8 envs x 4096
    ["budget.steps=100", "student=dqn", "env.n_envs=101"],
])
def test_one_rollout_larger_than_the_budget_is_refused(compose, overrides):
    with pytest.raises(TeachBenchError, match="more than the whole budget") as err:
        run(compose(*overrides))
    assert err.value.key == "budget.steps"


def test_empty_runs_dir_is_refused_before_hydra_writes_anything(tmp_path):
    for args in (["runs_dir="], ["-m", "runs_dir=", "seed=0,1"]):
        out = subprocess.run([sys.executable, "-m", "experiments.running.cli", *args], cwd=tmp_path, env=_env(),
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
        assert "teachbench: error: runs_dir: must be a folder" in out.stderr
        assert not list(tmp_path.iterdir()) and not Path("/_hydra").exists()


def test_wandb_without_network_fails_in_bounded_time_with_one_line(compose, monkeypatch):
    pytest.importorskip("wandb")
    from experiments.running.sinks import WandbSink

    monkeypatch.setenv("WANDB_API_KEY", "tbfake0123456789abcdef0123456789abcdef01")
    monkeypatch.setenv("WANDB_BASE_URL", "http://10.255.255.1")  # unroutable: connections hang
    cfg = compose("logger=wandb", "logger.mode=online", "+logger.init_timeout=5", *TINY)
    rd = run_dir_for(cfg)
    rd.create()
    t0 = time.perf_counter()
    with pytest.raises(TeachBenchError, match="logger.mode=offline") as err:
        WandbSink(cfg, rd)
    assert err.value.key == "logger.mode" and time.perf_counter() - t0 < 60


@pytest.mark.slow
def test_ctrl_c_records_interrupted_and_exits_130_with_one_line(tmp_path):
    args = [f"runs_dir={tmp_path / 'runs'}", "name=intr", *TINY, "budget.steps=10000000"]
    proc = subprocess.Popen([sys.executable, "-m", "experiments.running.cli", *args], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    pointers: list[Path] = []
    while time.time() < deadline and not pointers:
        pointers = list((tmp_path / "runs" / "intr").glob("*/checkpoints/latest.json"))
        time.sleep(0.1)
    assert pointers, "no checkpoint was written"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "interrupted at step" in line]
    assert len(lines) == 1 and "rerun the same command to resume" in lines[0]
    rd = RunDir(pointers[0].parent.parent)
    status = rd.status()
    assert status["state"] == "interrupted" and status["step"] == json.loads(pointers[0].read_text())["step"]
    assert not (rd.path / "lock").exists()


@pytest.fixture
def small_disk(tmp_path):
    """A real 1.5 MB filesystem (tmpfs); skipped where this process may not mount."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_disk_full_gives_one_line_and_never_leaves_running(compose, small_disk):
    cfg = compose(f"runs_dir={small_disk}", "name=full", *TINY, "budget.steps=200000", "checkpoint.every=512",
                  "log.flush_every=1")
    with pytest.raises(TeachBenchError, match="no space left") as err:
        run(cfg)
    assert err.value.key == "runs_dir"
    rd = run_dir_for(cfg)
    assert rd.status()["state"] in ("failed", "missing")  # never "running"
    assert not rd.lock_path.exists()


def test_read_only_runs_dir_gives_one_line(compose, small_disk):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    cfg = compose(f"runs_dir={small_disk}", "name=ro", *TINY)
    with pytest.raises(TeachBenchError, match="read-only") as err:
        run(cfg)
    assert err.value.key == "runs_dir"
