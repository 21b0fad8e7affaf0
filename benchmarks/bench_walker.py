"""Random-action speed of the TeachBench walkers vs gymnasium's BipedalWalker in one run.

Prints steps/s of every walker env and body (TeachMyAgent's old_classic_bipedal = default,
small_bipedal, spider, millipede, old_big_quadru and teachDeepRL's short walker; random
actions, episodes reset as they end,
TimeLimit 2000 as registered) next to gymnasium's ``BipedalWalker-v3`` (the peer for
flat / stump terrain) and ``BipedalWalker-v3`` hardcore (the peer for the obstacle course),
as ratios, plus the mean reset time. Goal: ratio >= 1.0 on comparable terrain.

Times are process CPU time (``time.process_time``), so that other jobs on a shared machine
disturb the ratios less than they would wall-clock time. Default run: ~25 s of CPU. ``--steps`` and ``--repeats`` make it longer; the best of
the repeats is kept per env (shared machines are noisy; measured interleaved).

    .venv/bin/python benchmarks/bench_walker.py [--steps 4000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import envs  # noqa: E402,F401  (registers TeachBench ids)
from envs.walker.bodies import BODIES  # noqa: E402

# (label, factory, task, peer label)
STUMP_TASK = {"stump_height": 1.5, "stump_spacing": 3.0}
OBSTACLE_TASK = {"ground_roughness": 1.0, "pit_gap_low": 2.0, "pit_gap_high": 3.0, "stump_height_low": 1.0,
                 "stump_height_high": 2.0, "stair_height_low": 1.0, "stair_height_high": 1.0, "stair_steps": 4}
FLAT_TASK = {"ground_roughness": 1.0, "pit_gap_low": 0.0, "pit_gap_high": 0.0, "stump_height_low": 0.0,
             "stump_height_high": 0.0, "stair_height_low": 0.0, "stair_height_high": 0.0, "stair_steps": 1}


def cases(bodies: list[str]) -> list[tuple[str, Callable[[], gym.Env], dict[str, Any] | None, str]]:
    out: list[tuple[str, Callable[[], gym.Env], dict[str, Any] | None, str]] = [
        ("gym BipedalWalker-v3", lambda: gym.make("BipedalWalker-v3"), None, ""),
        ("gym BipedalWalkerHardcore-v3", lambda: gym.make("BipedalWalker-v3", hardcore=True), None, ""),
    ]
    for body in bodies:
        out.append((f"WalkerObstacles flat(v3) [{body}]", lambda b=body: gym.make("TeachBench/WalkerObstacles-v0", body=b),
                    FLAT_TASK, "gym BipedalWalker-v3"))
        out.append((f"WalkerStumps h1.5 s3 [{body}]", lambda b=body: gym.make("TeachBench/WalkerStumps-v0", body=b),
                    STUMP_TASK, "gym BipedalWalker-v3"))
        out.append((f"WalkerObstacles hardcore [{body}]", lambda b=body: gym.make("TeachBench/WalkerObstacles-v0", body=b),
                    OBSTACLE_TASK, "gym BipedalWalkerHardcore-v3"))
    return out


def measure(make: Callable[[], gym.Env], task: dict[str, Any] | None, steps: int, seed: int,
            zero: bool = False) -> tuple[float, float]:
    """(steps/s, mean reset seconds) with uniform random actions (falls: many resets), or with
    zero actions (the default biped stands: pure step cost)."""
    env = make()
    rng = np.random.default_rng(seed)
    low, high = env.action_space.low, env.action_space.high
    actions = rng.uniform(low, high, size=(steps, low.shape[0])).astype(np.float32)
    if zero:
        actions[:] = 0.0
    options = {"task": task} if task is not None else None
    reset_time, resets = 0.0, 0
    t0 = time.process_time()
    r0 = time.process_time()
    env.reset(seed=seed, options=options)
    reset_time += time.process_time() - r0
    resets += 1
    for k in range(steps):
        _, _, term, trunc, _ = env.step(actions[k])
        if term or trunc:
            r0 = time.process_time()
            env.reset(options=options)
            reset_time += time.process_time() - r0
            resets += 1
    total = time.process_time() - t0
    env.close()
    return steps / total, reset_time / resets


def reset_only(make: Callable[[], gym.Env], task: dict[str, Any] | None, n: int) -> float:
    env = make()
    options = {"task": task} if task is not None else None
    t0 = time.process_time()
    for s in range(n):
        env.reset(seed=s, options=options)
    return (time.process_time() - t0) / n


def print_ratio_table(rows: list[tuple[str, str]], best: dict[str, float], still: dict[str, float],
                      resets: dict[str, float], width: int) -> None:
    """One line per (label, peer): random- and zero-action steps/s and reset time, each with
    its ratio to the peer measured in the same run (an empty peer: the peer itself)."""
    print(f"{'env':{width}s} {'random/s':>9s} {'ratio':>6s} {'zero/s':>8s} {'ratio':>6s} {'reset ms':>9s} {'ratio':>6s}  vs")
    for label, peer in rows:
        ratio = best[label] / best[peer] if peer else 1.0
        sratio = still[label] / still[peer] if peer else 1.0
        rratio = resets[peer] / resets[label] if peer else 1.0
        print(f"{label:{width}s} {best[label]:9.0f} {ratio:6.2f} {still[label]:8.0f} {sratio:6.2f} "
              f"{1e3 * resets[label]:9.2f} {rratio:6.2f}  {peer or '-'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000, help="random steps per env per repeat")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats; best kept")
    parser.add_argument("--resets", type=int, default=50, help="resets timed per env (reset-only loop)")
    parser.add_argument("--bodies", default=",".join(BODIES), help="comma-separated body names (envs.walker.bodies)")
    args = parser.parse_args()
    todo = cases(args.bodies.split(","))
    best: dict[str, float] = {}
    still: dict[str, float] = {}
    for rep in range(args.repeats):
        for label, make, task, _ in todo:
            sps, _ = measure(make, task, args.steps, seed=rep)
            best[label] = max(best.get(label, 0.0), sps)
            sps, _ = measure(make, task, args.steps, seed=rep, zero=True)
            still[label] = max(still.get(label, 0.0), sps)
    resets = {label: reset_only(make, task, args.resets) for label, make, task, _ in todo}
    print_ratio_table([(label, peer) for label, _, _, peer in todo], best, still, resets, width=48)
    print("\nper body, random-action steps/s relative to gymnasium's walker (obstacles flat, stumps, obstacles hardcore):")
    for body in args.bodies.split(","):
        row = []
        for label, _, _, peer in todo:
            if label.endswith(f"[{body}]"):
                row.append(f"{best[label] / best[peer]:.2f}")
        print(f"  {body:22s} " + " / ".join(row))
    print("random/s: random actions, resets included; zero/s: zero actions (a standing biped: step cost only);")
    print("ratios = ours / peer for speed, peer / ours for reset time (> 1: ours faster)")


if __name__ == "__main__":
    main()
