"""What a GoalGAN / Setter-Solver training round costs the training loop's process (issue 18).

A round (GoalGAN: ``n_gan_iterations`` = 250 GAN steps per 100 labelled goals; Setter-Solver:
``n_train_steps`` = 50 steps of judge and setter per 50 episodes, ours; TMA takes one) comes every
few vector steps at 1024 envs. With ``train_lag=0`` (the papers) the loop pays the whole round
at its boundary. With ``train_lag=1`` (``teachers/refit.py``) the round trains in a worker and
the loop pays, per round:

1. ``boundary``: the main thread's own time in the call that crosses the boundary (copying the
   networks' state out, reading the previous round's result back and installing it), here
   with the previous round already finished (the loop did not get ahead of the worker);
2. ``loop slowdown``: how much slower the loop's own work runs while a round trains beside it
   (a stand-in: a 64-64 policy forward on 256 observations and a numpy step, repeated),
   the wall time of the same work with a round in flight over that with none: the
   interpreter lock for a thread, a core (and memory bandwidth) for a process.

The worker with the lower cost on the main process is the default (``train_worker``). A
worker only keeps up when a round takes less time than the loop needs for a period's
episodes; ``round`` is that time on this machine (``bench_overhead.py`` measures the whole
loop)::

    python benchmarks/bench_train_lag.py --rounds 6
"""

from __future__ import annotations

import _setup  # noqa: F401  (repository on sys.path, one BLAS thread)

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np
import torch

from envs.task_space import TaskSpace
from students.threads import pin_threads
from teachers.base import Episode, Teacher
from teachers.registry import make_teacher
from teachers.torch_utils import mlp

SPACE = TaskSpace.box(["a", "b"], [0.0, 0.0], [1.0, 1.0])
EK = {"success": "env"}
PARAMS: dict[str, dict[str, Any]] = {"goal_gan": {"expert": EK, "pretrain_iterations": 20},  # TMA's rounds
                                     "setter_solver": {"expert": EK}}


def period(teacher: Teacher, rng: np.random.Generator) -> list[Episode]:
    """The episodes of one training period (GoalGAN: each goal played ``n_rollouts`` times)."""
    if teacher.name == "goal_gan":
        goals = [SPACE.from_unit(u) for u in rng.uniform(size=(teacher.update_size, 2))]
        for g in goals:  # GoalGAN labels only the goals it awaits (TeachMyAgent): await these
            teacher._await(SPACE.to_unit(g))
        tasks = [g for g in goals for _ in range(teacher.n_rollouts)]
    else:
        tasks = [SPACE.from_unit(u) for u in rng.uniform(size=(teacher.update_period, 2))]
    wins = rng.random(len(tasks)) < 0.5
    return [Episode(task=dict(t), episode_return=float(w), length=1, success=bool(w)) for t, w in zip(tasks, wins)]


def stand_in(iterations: int) -> float:
    """Wall seconds of the loop stand-in (module doc)."""
    policy = mlp([16, 64, 64, 4])
    obs = torch.randn(256, 16)
    state = np.zeros((256, 16))
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(iterations):
            policy(obs)
            state = np.tanh(state + 0.01)
    return time.perf_counter() - start


def measure(name: str, worker: str | None, rounds: int, round_s: float, iterations: int,
            startup: float) -> dict[str, float]:
    lag = {} if worker is None else {"train_lag": 1, "train_worker": worker}
    teacher = make_teacher(name, SPACE, seed=0, **PARAMS[name], **lag)
    rng = np.random.default_rng(0)
    cpu, wall, slow = [], [], []
    time.sleep(startup if worker == "process" else 0.0)  # a worker process's start-up (imports) not measured
    for r in range(rounds + 1):
        episodes = period(teacher, rng)
        teacher.update_batch(episodes[:-1])
        c0, w0 = time.thread_time(), time.perf_counter()
        teacher.update_batch(episodes[-1:])  # crosses the boundary
        c1, w1 = time.thread_time(), time.perf_counter()
        if r == 0:  # the first boundary starts the first round: no result to install yet
            time.sleep(1.5 * round_s)
            continue
        cpu.append(c1 - c0)
        wall.append(w1 - w0)
        if worker is not None and worker != "inline":
            during = stand_in(iterations)  # a round is training now
            time.sleep(max(1.5 * round_s - during, 0.0))
            slow.append(during / stand_in(iterations))
        else:
            time.sleep(1.5 * round_s)
    trainer = getattr(teacher, "trainer", None)
    if trainer is not None:
        trainer.close()
    return {"cpu": statistics.median(cpu), "wall": statistics.median(wall),
            "slow": statistics.median(slow) if slow else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", nargs="+", default=["goal_gan", "setter_solver"])
    parser.add_argument("--workers", nargs="+", default=["process", "thread"])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--startup", type=float, default=3.0, help="seconds left to a worker process to start")
    args = parser.parse_args()
    pin_threads(1)
    print(f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.2f} rounds={args.rounds}")
    print(f"{'teacher':<16}{'schedule':<22}{'round ms':>10}{'boundary cpu ms':>17}{'boundary wall ms':>18}"
          f"{'loop slowdown':>15}")
    for name in args.teachers:
        sync = measure(name, None, args.rounds, 0.0, 0, 0.0)
        round_s = sync["wall"]
        per = stand_in(200) / 200
        iterations = max(int(0.5 * round_s / per), 1)  # the stand-in lasts about half a round
        print(f"{name:<16}{'train_lag=0 (papers)':<22}{1e3 * round_s:>10.1f}{1e3 * sync['cpu']:>17.1f}"
              f"{1e3 * sync['wall']:>18.1f}{'':>15}", flush=True)
        for worker in args.workers:
            got = measure(name, worker, args.rounds, round_s, iterations, args.startup)
            print(f"{'':<16}{'train_lag=1 ' + worker:<22}{'':>10}{1e3 * got['cpu']:>17.2f}{1e3 * got['wall']:>18.2f}"
                  f"{got['slow']:>15.3f}", flush=True)


if __name__ == "__main__":
    main()
