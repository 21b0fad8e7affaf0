"""Profile the hot paths of the loop with cProfile and print the top entries.

Targets (each one process, one torch thread):

- ``batched``: raw stepping of the batched gridworld at N = 1024 with random actions
  (env step, auto-reset, level generation);
- ``walker``: raw stepping of the walker (stump track) with random actions;
- ``ppo``: PPO on the gridworld (8 DummyVecEnv envs) through the curriculum bridge with a
  teacher (``--teacher``, default ALP-GMM): env step, bridge callback, teacher update and
  SB3's own work side by side.

For each target it prints the wall time, the time share of each part of the stack (our
``envs``, ``students``, ``teachers``, SB3, torch, the rest) and the top functions by own
time. Run it before and after a change to show what the change did:

    .venv/bin/python benchmarks/profile_hot_paths.py --targets batched ppo --top 12
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from pathlib import Path

from _setup import ROOT  # noqa: E402 - the repo on sys.path, one thread per process (benchmarks/_setup.py)

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import envs  # noqa: E402,F401  (registers the TeachBench ids)
from envs.gridworld.batched import BatchedMazeVecEnv  # noqa: E402
from students.bridge import Curriculum, CurriculumCallback  # noqa: E402
from students.build import make_student  # noqa: E402
from students.vec import make_vec_env  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402

# Imports happen here, not inside the timed targets: the wall times compare the work only.

PARTS = (("envs", f"{ROOT}/envs/"), ("students", f"{ROOT}/students/"), ("teachers", f"{ROOT}/teachers/"),
         ("stable_baselines3", "stable_baselines3"), ("torch", "torch"), ("minigrid", "/minigrid/"),
         ("gymnasium", "gymnasium"), ("Box2D", "Box2D"), ("numpy", "numpy"), ("copy (infos)", "copy.py"))


def run_batched(steps: int) -> None:
    vec = BatchedMazeVecEnv(1024, seed=0, max_size=15, max_steps=250)
    vec.reset()
    actions = np.random.default_rng(0).integers(3, size=(steps, 1024))
    for a in actions:
        vec.step_async(a)
        vec.step_wait()


def run_walker(steps: int) -> None:
    env = gym.make("TeachBench/WalkerStumps-v0")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, size=4).astype(np.float32))
        if terminated or truncated:
            env.reset()
    env.close()


def run_ppo(steps: int, teacher: str) -> None:
    torch.set_num_threads(1)
    vec = make_vec_env("gridworld", {"max_size": 15}, 8, "dummy", seed=0)
    space = vec.get_attr("task_space", indices=[0])[0]
    curriculum = Curriculum(make_teacher(teacher, space, seed=0), vec)
    curriculum.prime()
    model = make_student("ppo", vec, params={"n_steps": 128, "batch_size": 256, "n_epochs": 4}, seed=0)
    model.learn(steps, callback=CurriculumCallback(curriculum))
    vec.close()


def part_of(filename: str) -> str:
    for name, marker in PARTS:
        if marker in filename:
            return name
    return "other"


def report(stats: pstats.Stats, wall: float, top: int) -> None:
    shares: dict[str, float] = {}
    total = 0.0
    for (filename, _, func), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        part = part_of(f"{filename}:{func}")  # built-ins have no file: "~:0(<... Box2D ...>)"
        shares[part] = shares.get(part, 0.0) + tottime
        total += tottime
    print(f"wall {wall:.2f} s (unprofiled); profiled own time by part of the stack:")
    print("  " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in sorted(shares.items(), key=lambda kv: -kv[1]) if v >= 0.005 * total))
    print(f"top {top} functions by own time:")
    print(f"  {'own s':>7} {'cum s':>7} {'calls':>9}  function")
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]  # type: ignore[attr-defined]
    for (filename, line, func), (_, ncalls, tottime, cumtime, _) in rows:
        where = os.path.relpath(filename, ROOT) if filename.startswith(str(ROOT)) else Path(filename).name
        print(f"  {tottime:7.3f} {cumtime:7.3f} {ncalls:9d}  {where}:{line}({func})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="+", default=["batched", "walker", "ppo"], choices=["batched", "walker", "ppo"])
    parser.add_argument("--batched-steps", type=int, default=1000, help="batched steps (x1024 env steps)")
    parser.add_argument("--walker-steps", type=int, default=20000)
    parser.add_argument("--ppo-steps", type=int, default=20480)
    parser.add_argument("--teacher", default="alp_gmm")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    jobs = {"batched": lambda: run_batched(args.batched_steps), "walker": lambda: run_walker(args.walker_steps),
            "ppo": lambda: run_ppo(args.ppo_steps, args.teacher)}
    for target in args.targets:
        print(f"\n== {target}")
        start = time.perf_counter()
        jobs[target]()  # unprofiled: the wall time to compare before/after
        wall = time.perf_counter() - start
        profiler = cProfile.Profile()
        profiler.runcall(jobs[target])
        report(pstats.Stats(profiler), wall, args.top)


if __name__ == "__main__":
    main()
