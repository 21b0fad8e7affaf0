"""Kill-and-resume for every teacher that has state.

Two levels:

1. In process, every registered teacher: after real feedback, its ``state_dict`` goes
   through a checkpoint (``torch.save`` / ``torch.load(weights_only=True)``) into a teacher
   built with another seed; the restored state equals the saved one (RNG and counters
   included), and both teachers then sample and learn identically.
2. A real run (gridworld, PPO, the Hydra CLI) in a subprocess that SIGKILLs itself a few
   thousand steps after its first checkpoint, with tables flushed every few rows so parts
   written after the checkpoint are on disk when it dies; then the run resumes in this
   process. Checked: the teacher state right after loading equals the checkpoint's; no
   episode id is duplicated or missing; steps are monotone; the rows up to the checkpoint
   are unchanged; and the resumed run's tables have the same columns as an uninterrupted
   run's. ALP-GMM runs in the default suite, the other stateful teachers with ``-m slow``.

The figures (rows on disk at the kill, episodes at the checkpoint, episodes after resume,
duplicates) are printed: ``pytest tests/test_resume.py -s`` shows them.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from experiments.rundir import RunDir
from experiments.running.run import run, run_dir_for
from teachers.registry import TEACHERS, teacher_class
from test_fuzz_teachers import TEACHER_PARAMS, build, episode_for, valid
from envs.task_space import Dim, TaskSpace

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 4096
ARGS = [f"budget.steps={BUDGET}", "eval.every=2048", "checkpoint.every=2048", "env.kwargs.max_steps=40",
        "+env.kwargs.n_test_tasks=6", "eval.held_out=false", "log.flush_every=8", "log.diagnostics_every=512"]
# Per teacher: overrides that make its state change within BUDGET steps (~100 episodes).
TEACHER_ARGS: dict[str, list[str]] = {
    "alp_gmm": ["++teacher.params.fit_rate=20", "++teacher.params.max_k=3"],
    "covar_gmm": ["++teacher.params.fit_rate=20", "++teacher.params.max_k=3"],
    "riac": ["++teacher.params.max_region_size=15"],
    "adr": ["++teacher.params.queue_len=2"],
    "spdl": ["++teacher.params.offset=0", "++teacher.params.update_period=600", "++teacher.params.min_contexts=5"],
    "plr": ["++teacher.params.buffer_size=16", "++teacher.params.min_fill=0.25"],
    "plr_robust": ["++teacher.params.buffer_size=16", "++teacher.params.min_fill=0.25"],
    "accel": ["++teacher.params.buffer_size=16", "++teacher.params.min_fill=0.25"],
    "goal_gan": ["++teacher.params.update_size=20", "++teacher.params.pretrain_iterations=20"],
    "setter_solver": ["++teacher.params.update_period=20"],
    "paired_param": ["++teacher.params.batch_size=8"],
    "clutr_param": ["++teacher.params.batch_size=8", "++teacher.params.pretrain_tasks=200", "++teacher.params.vae_epochs=3"],
}
STATELESS = {"random"}
# One checkpoint at step 2048 (a rollout start: 8 envs x 128 steps per rollout), then the
# kill 1324 steps later: past the next rollout's end, because regret teachers (PLR, ACCEL,
# PAIRED) receive their episodes only at rollout end, and rows must be on disk past the
# checkpoint for the truncation on resume to be tested.
KILL_AFTER_CHECKPOINTS = 1
KILL_EXTRA_STEPS = 1324

# Runs experiments.running.cli, SIGKILLs itself KILL_EXTRA_STEPS steps after checkpoint number K.
DRIVER = """
import os, signal, sys
import experiments.running.run as R
from students.bridge import Curriculum
K, EXTRA = int(sys.argv[1]), int(sys.argv[2])
box = {"n": 0, "kill_at": None}
save = R._Checkpointer.save
def counted_save(self, step, model, state, *extra):
    out = save(self, step, model, state, *extra)
    box["n"] += 1
    if box["n"] == K:
        box["kill_at"] = step + EXTRA
    return out
R._Checkpointer.save = counted_save
on_step = Curriculum.on_step
def killing_on_step(self, dones, infos, global_step):
    out = on_step(self, dones, infos, global_step)
    if box["kill_at"] is not None and global_step >= box["kill_at"]:
        os.kill(os.getpid(), signal.SIGKILL)
    return out
Curriculum.on_step = killing_on_step
sys.argv = ["teachbench", *sys.argv[3:]]
from experiments.running.cli import main
main()
"""


def deep_equal(a: Any, b: Any) -> bool:
    """Equality of checkpoint states: NaN equals NaN, tensors and arrays by value."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return torch.is_tensor(a) and torch.is_tensor(b) and a.shape == b.shape and a.dtype == b.dtype and bool(
            torch.equal(torch.nan_to_num(a, nan=0.0), torch.nan_to_num(b, nan=0.0))
            and torch.equal(torch.isnan(a) if a.is_floating_point() else a, torch.isnan(b) if b.is_floating_point() else b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# -- 1. every teacher's checkpoint is exact -------------------------------------------------
SPACE = TaskSpace((Dim("size", 5, 15, "discrete"), Dim("density", 0.0, 0.5), Dim("distance", 0.0, 1.0)))


def feed(teacher, n: int, rng: np.random.Generator, start: int = 0) -> list[dict[str, Any]]:
    """``n`` sample/update rounds with a return that rewards small sizes (so there is
    learning progress to track); returns the tasks sampled."""
    tasks = []
    antagonist = teacher.antagonist_view() if hasattr(teacher, "antagonist_view") else None
    for i in range(start, start + n):
        task = teacher.sample()
        assert valid(SPACE, task)
        tasks.append(task)
        size = task.get("size", 10) if "level" not in task else 10
        ret = float(np.clip(1.2 - size / 12 + rng.normal(0, 0.05), 0, 1))
        teacher.update(episode_for(teacher, task, ret, i))
        if antagonist is not None:
            a_task = antagonist.sample()
            antagonist.update(episode_for(antagonist, a_task, ret * 0.5, i))
    return tasks


@pytest.mark.parametrize("name", TEACHER_PARAMS)
def test_teacher_checkpoint_is_exact(name):
    teacher = build(name, SPACE, seed=11)
    feed(teacher, 60, np.random.default_rng(0))
    state = teacher.state_dict()
    restored = build(name, SPACE, seed=999)
    restored.load_state_dict(roundtrip(state))
    assert deep_equal(restored.state_dict(), state), f"{name}: state after load differs from the checkpoint"
    assert (restored.n_sampled, restored.n_updates, restored.n_dropped) == tuple(state["counters"])
    # both continue identically: same tasks, same feedback, same final state
    a = feed(teacher, 30, np.random.default_rng(1), start=60)
    b = feed(restored, 30, np.random.default_rng(1), start=60)
    assert a == b, f"{name}: restored teacher sampled differently"
    assert deep_equal(teacher.state_dict(), restored.state_dict())


# -- 2. a real run killed with SIGKILL -----------------------------------------------------
def _stateful() -> list[Any]:
    out = []
    for p in TEACHER_PARAMS:
        name = p if isinstance(p, str) else p.values[0]
        if name in STATELESS:
            continue
        marks = list(p.marks) if not isinstance(p, str) else []
        if name != "alp_gmm":
            marks.append(pytest.mark.slow)
        out.append(pytest.param(name, marks=marks))
    return out


def _kill_mid_run(tmp_path: Path, overrides: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(KILL_AFTER_CHECKPOINTS), str(KILL_EXTRA_STEPS),
                           f"runs_dir={tmp_path / 'runs'}", *overrides], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == -9, f"the run was not killed (rc {proc.returncode}): {proc.stderr[-2000:]}"


@pytest.mark.parametrize("name", _stateful())
def test_sigkilled_run_resumes_with_teacher_state_and_no_duplicates(name, tmp_path, compose, monkeypatch, capsys):
    overrides = ["name=resume", f"teacher={name}", *ARGS, *TEACHER_ARGS.get(name, [])]
    _kill_mid_run(tmp_path, overrides)
    rd = RunDir(tmp_path / "runs" / "resume" / run_dir_for(compose(*overrides)).path.name)
    assert not rd.finished and rd.status()["state"] == "running"
    pointer = json.loads((rd.checkpoint_dir / "latest.json").read_text())
    ckpt = torch.load(rd.checkpoint_dir / pointer["dir"] / "state.pt", weights_only=True)
    before = rd.read("episodes")
    ckpt_episodes = int(ckpt["next_episode_id"])
    assert len(before) > ckpt_episodes, "no rows were written after the checkpoint: truncation untested"

    # resume in this process, watching what the teacher loads
    loaded: list[tuple[dict, dict]] = []
    cls = teacher_class(name)
    original = cls.load_state_dict

    def spy(self, state):
        given = copy.deepcopy(state)  # copies: optimiser states alias the loaded tensors and train on
        original(self, state)
        loaded.append((given, copy.deepcopy(self.state_dict())))

    monkeypatch.setattr(cls, "load_state_dict", spy)
    summary = run(compose(*overrides))
    assert summary["resumed"] is True and summary["steps"] >= BUDGET

    assert len(loaded) == 1
    assert deep_equal(loaded[0][0], ckpt["teacher"]), "the runner loaded another state than the checkpoint's"
    assert deep_equal(loaded[0][1], ckpt["teacher"]), f"{name}: teacher state after resume != checkpointed state"

    after = rd.read("episodes")
    duplicates = int(after["episode_id"].duplicated().sum())
    assert duplicates == 0
    assert after["episode_id"].tolist() == list(range(summary["episodes"])), "episodes lost or renumbered"
    assert after["global_step"].is_monotonic_increasing
    assert (after["global_step"] > pointer["step"]).any()
    # nothing written before the checkpoint changed
    keep = before[before["episode_id"] < ckpt_episodes].reset_index(drop=True)
    pd.testing.assert_frame_equal(after.iloc[: len(keep)].reset_index(drop=True), keep, check_dtype=False)
    evals = rd.read("eval")
    assert not evals.duplicated(["eval_id", "split", "task_index"]).any()
    assert evals.drop_duplicates("eval_id")["step"].is_monotonic_increasing
    diag = rd.read("teacher")
    assert diag["step"].is_monotonic_increasing

    # same columns as an uninterrupted run of the same config
    plain = ["name=plain", *overrides[1:]]
    run(compose(*plain))
    prd = run_dir_for(compose(*plain))
    for table in ("episodes", "eval", "teacher"):
        assert sorted(rd.read(table).columns) == sorted(prd.read(table).columns), f"{table} columns differ"
    with capsys.disabled():
        print(f"\nRESUME {name}: killed at step >= {pointer['step'] + KILL_EXTRA_STEPS} (checkpoint {pointer['step']}); "
              f"episode rows on disk at kill {len(before)}, at checkpoint {ckpt_episodes}, "
              f"dropped on resume {len(before) - ckpt_episodes}, after resume {len(after)} "
              f"(uninterrupted run: {len(prd.read('episodes'))}); duplicates {duplicates}")
