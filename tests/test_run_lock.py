"""Run ownership (issue 23 findings 2 and 3).

2. A rejected rerun overwrote a live run: a typo'd rerun (``device=gpu``) wrote its
   config.yaml and set status.json to failed; a rerun with a smaller budget resumed a
   longer run's checkpoint and "finished" past its budget. Now validation comes before
   anything is written, and a different budget is refused naming ``budget.steps``.
3. No run lock: two processes on one run identity both trained it. Now the second
   refuses with one line (exit 2), and a dead owner's lock is taken over.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envs.errors import TeachBenchError
from experiments.rundir import RunDir, RunLock
from experiments.running.run import run, run_dir_for

ROOT = Path(__file__).resolve().parents[1]
TINY = ["env=gridworld_small", "budget.steps=1024", "eval.every=1024", "checkpoint.every=512",
        "env.kwargs.max_steps=30", "+env.kwargs.n_test_tasks=4", "eval.held_out=false", "log.progress_bar=false",
        "env.students.ppo.n_steps=64"]


def _snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_rejected_rerun_writes_nothing_into_an_existing_run(compose):
    cfg = compose("name=live", *TINY)
    run(cfg)
    rd = run_dir_for(cfg)
    rd.summary_path.unlink()  # an unfinished run, as if it were still training
    rd.set_status("running", step=512)
    before = _snapshot(rd.path)
    with pytest.raises(TeachBenchError) as err:  # the typo of the issue
        run(compose("name=live", *TINY, "device=gpu"))
    assert err.value.key == "device"
    assert _snapshot(rd.path) == before, "a rejected rerun wrote into the run directory"
    assert rd.status()["state"] == "running"


def test_smaller_budget_never_finishes_a_longer_runs_checkpoint(compose):
    """The issue: kill a long run part-way, rerun with a smaller budget: it resumed the
    long run's checkpoint and finished with more steps than its budget."""
    cfg = compose("name=short", *TINY)
    run(cfg)
    rd = run_dir_for(cfg)
    rd.summary_path.unlink()
    rd.set_status("running", step=1024)  # killed after its checkpoint at 1024
    before = _snapshot(rd.path)
    with pytest.raises(TeachBenchError, match="smaller budget") as err:
        run(compose("name=short", *TINY, "budget.steps=512"))
    assert err.value.key == "budget.steps" and _snapshot(rd.path) == before


def _spawn_long_run(tmp_path: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    args = [f"runs_dir={tmp_path / 'runs'}", f"name={name}", *TINY, "budget.steps=10000000"]
    return subprocess.Popen([sys.executable, "-m", "experiments.running.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(pattern: Path, what: str, proc: subprocess.Popen, timeout: float = 120) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = list(pattern.parent.glob(pattern.name))
        if found:
            return found[0]
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}: {proc.stderr.read()[-2000:]}")
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout} s")


def test_run_refuses_a_directory_locked_by_a_live_process(compose):
    """Fast form of the two-process test below: the lock names a live process."""
    cfg = compose("name=held", *TINY)
    rd = run_dir_for(cfg)
    rd.create()
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (rd.path / "lock").write_text(json.dumps({"pid": owner.pid, "host": socket.gethostname(), "started": None}))
        with pytest.raises(TeachBenchError, match=f"being run by process {owner.pid}") as err:
            run(cfg)
        assert err.value.key == "run_dir"
        assert sorted(p.name for p in rd.path.iterdir()) == ["lock"]  # nothing written
    finally:
        owner.kill()
        owner.wait()


@pytest.mark.slow
def test_second_process_on_a_running_identity_refuses(compose, tmp_path):
    proc = _spawn_long_run(tmp_path, "twice")
    try:
        run_dir = _wait_for(tmp_path / "runs" / "twice" / "gridworld_small__random__ppo__s0__*", "run dir", proc)
        rd = RunDir(run_dir)
        _wait_for(rd.checkpoint_dir / "latest.json", "checkpoint", proc)
        config = rd.config_path.read_bytes()
        cfg = compose("name=twice", *TINY, "budget.steps=10000000")
        assert run_dir_for(cfg).path == rd.path
        with pytest.raises(TeachBenchError, match=f"being run by process {proc.pid} on host") as err:
            run(cfg)  # the same identity, in this process
        assert err.value.key == "run_dir"
        # and through the command line: one line, exit status 2
        out = subprocess.run([sys.executable, "-m", "experiments.running.cli", f"runs_dir={tmp_path / 'runs'}", "name=twice",
                              *TINY, "budget.steps=10000000"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert "teachbench: error: run_dir:" in out.stderr and "being run by process" in out.stderr
        assert rd.config_path.read_bytes() == config and rd.status()["state"] == "running"
        assert proc.poll() is None, "the first run was disturbed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # its owner is dead now: the lock is stale, and the next run takes it over
    assert (rd.path / "lock").exists()
    lock = RunLock(rd.path / "lock")
    assert lock.stale(lock.owner())
    lock.acquire()
    lock.release()
    assert not (rd.path / "lock").exists()


def test_lock_is_exclusive_and_stale_locks_are_taken_over(tmp_path):
    path = tmp_path / "lock"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": None}))
    lock = RunLock(path)
    lock.acquire()  # dead owner on this host: taken over
    assert json.loads(path.read_text())["pid"] == os.getpid()
    lock.release()
    # a live owner (our parent shell's process) is respected
    path.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(), "started": None}))
    with pytest.raises(TeachBenchError, match="being run by process"):
        RunLock(path).acquire()
    # another host cannot be checked from here: respected, naming the file to delete
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": None}))
    with pytest.raises(TeachBenchError, match=f"delete {path}"):
        RunLock(path).acquire()
    # an empty lock younger than 10 s is a process still writing it; older is stale
    path.write_text("")
    with pytest.raises(TeachBenchError):
        RunLock(path).acquire()
    old = time.time() - 60
    os.utime(path, (old, old))
    lock = RunLock(path)
    lock.acquire()
    lock.release()
    # release never removes someone else's lock
    other = RunLock(path)
    other.acquire()
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere.example"}))
    other.release()
    assert path.exists()
