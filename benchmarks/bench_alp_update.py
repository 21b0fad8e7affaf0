"""Micro-benchmark of ALP-GMM's ``update_batch`` / ``sample_batch`` per vector step (issue 18).

Fills a teacher with ``--history`` episodes on the maze's task space (a discrete size and
two continuous dims, as ``gridworld_batched``), then times ``update_batch`` on batches of
``--batch`` episodes (about what 1024 mazes finish per vector step) and ``sample_batch``
of the same size, in µs per call (best of ``--repeat`` timeit runs).

    python benchmarks/bench_alp_update.py --history 10000 50000 --batch 5
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from envs.task_space import Dim, TaskSpace  # noqa: E402
from teachers.alp_gmm import ALPGMM  # noqa: E402
from teachers.base import Episode  # noqa: E402

SPACE = TaskSpace([Dim("size", 5, 15, "discrete"), Dim("wall_density", 0.0, 0.4), Dim("min_goal_distance", 0.0, 1.0)])


def episodes(teacher: ALPGMM, n: int, rng: np.random.Generator) -> list[Episode]:
    tasks = teacher.sample_batch(n)
    return [Episode(task=t, episode_return=float(rng.random()), length=10, episode_id=i) for i, t in enumerate(tasks)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for h in args.history:
        rng = np.random.default_rng(0)
        # fits every 250 episodes would dominate; fit_rate larger than the timed span keeps
        # the numbers about the per-episode path (the refit is a separate cost)
        teacher = ALPGMM(SPACE, seed=0, fit_rate=250)
        for start in range(0, h, 1000):
            teacher.update_batch(episodes(teacher, min(1000, h - start), rng))
        teacher.fit_rate = 10**9  # no refit while timing
        pool = [episodes(teacher, args.batch, rng) for _ in range(args.calls * args.repeat)]
        it = iter(pool)
        upd = min(timeit.repeat(lambda: teacher.update_batch(next(it)), number=args.calls, repeat=args.repeat))
        smp = min(timeit.repeat(lambda: teacher.sample_batch(args.batch), number=args.calls, repeat=args.repeat))
        print(f"history={h:>7} batch={args.batch}: update_batch {1e6 * upd / args.calls:8.1f} µs/call"
              f"   sample_batch {1e6 * smp / args.calls:8.1f} µs/call", flush=True)


if __name__ == "__main__":
    main()
