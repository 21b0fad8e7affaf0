"""Fixed-seed scenarios of the neural teachers for ``tests/test_train_lag.py``.

``record(name)`` plays a teacher against a synthetic student through both APIs (per
episode and batched) and returns every task it handed out and a digest of its checkpoint
state. ``tests/data/train_lag_reference.json`` holds what the code before ``train_lag``
existed gave (``python -m tests._lag_scenarios`` rewrites it; Setter-Solver's entry was
regenerated when its setter, judge and losses were made TeachMyAgent's): ``train_lag=0``
must reproduce it exactly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from envs.task_space import TaskSpace
from teachers.base import Episode, Teacher
from teachers.goal_gan import GoalGAN
from teachers.setter_solver import SetterSolver

SPACE = TaskSpace.box(["a", "b"], [0.0, 0.0], [2.0, 1.0])
EK = {"success": "env", "initial": {"mean": {"a": 0.1, "b": 0.05}, "std": {"a": 0.1, "b": 0.05}}}
REFERENCE = Path(__file__).parent / "data" / "train_lag_reference.json"

#: small networks and short training rounds (the same algorithm as the defaults), so that a
#: scenario crosses many training rounds in well under a second
PARAMS: dict[str, dict[str, Any]] = {
    "goal_gan": dict(expert=EK, update_size=6, n_gan_iterations=15, pretrain_samples=64, pretrain_iterations=20,
                     generator_hidden=(32, 32), discriminator_hidden=(16, 16), batch_size=32),
    "setter_solver": dict(expert=EK, update_period=9, n_train_steps=6, batch_size=16, setter_hidden=16,
                          judge_hidden=(16, 16), buffer_size=40),
}
CLASSES: dict[str, Callable[..., Teacher]] = {"goal_gan": GoalGAN, "setter_solver": SetterSolver}


def build(name: str, seed: int = 3, **overrides: Any) -> Teacher:
    return CLASSES[name](SPACE, seed=seed, **{**PARAMS[name], **overrides})


def success_prob(u: np.ndarray) -> float:
    """Masters the unit-cube disc of radius 0.3 around the origin, fails beyond 0.6."""
    return float(np.clip((0.6 - np.hypot(u[0], u[1])) / 0.3, 0.0, 1.0))


def play(teacher: Teacher, rounds: int, rng: np.random.Generator, tasks: list[list[float]] | None = None) -> None:
    """``rounds`` of: a batch of 7 (sample_batch / update_batch), then 3 one by one."""
    def outcome(task: dict[str, float], i: int) -> Episode:
        ok = bool(rng.random() < success_prob(SPACE.to_unit(task)))
        return Episode(task=task, episode_return=float(ok), length=1, success=ok, episode_id=i)

    for r in range(rounds):
        batch = teacher.sample_batch(7)
        teacher.update_batch([outcome(t, i) for i, t in enumerate(batch)])
        singles = []
        for i in range(3):
            task = teacher.sample()
            singles.append(task)
            teacher.update(outcome(task, 7 + i))
        if tasks is not None:
            tasks += [[t["a"], t["b"]] for t in batch + singles]


def digest(value: Any) -> str:
    """SHA-256 of a state's structure and contents (keys in order, tensors by dtype, shape
    and bytes, floats by repr): equal digests mean equal checkpoints."""
    h = hashlib.sha256()

    def walk(v: Any) -> None:
        if isinstance(v, torch.Tensor):
            t = v.detach().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.numpy().tobytes())
        elif isinstance(v, dict):
            h.update(b"{")
            for k, x in v.items():
                h.update(repr(k).encode())
                walk(x)
            h.update(b"}")
        elif isinstance(v, (list, tuple)):
            h.update(b"[" if isinstance(v, list) else b"(")
            for x in v:
                walk(x)
            h.update(b"]")
        else:
            h.update(f"{type(v).__name__}:{v!r};".encode())

    walk(value)
    return h.hexdigest()


def record(name: str, **overrides: Any) -> dict[str, Any]:
    """Tasks handed out over a scenario, and the digest of the final state."""
    teacher = build(name, **overrides)
    tasks: list[list[float]] = []
    play(teacher, 12, np.random.default_rng(11), tasks)
    extra = []
    if name == "setter_solver":
        extra = [[t["a"], t["b"]] for t in (teacher.sample_with_feasibility(f) for f in (0.1, 0.5, 0.9))]
    return {"tasks": tasks + extra, "state": digest(teacher.state_dict()), "diagnostics": teacher.diagnostics()}


def write_reference(path: Path = REFERENCE) -> None:
    """Record every teacher's scenario in ``path``, one teacher per line."""
    path.parent.mkdir(exist_ok=True)
    records = {name: record(name) for name in CLASSES}
    path.write_text("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in records.items()) + "\n}\n")


if __name__ == "__main__":  # regenerate the reference (only from the code before train_lag)
    write_reference()
    print(f"wrote {REFERENCE}")
