"""Random-action speed of the Parkour's three bodies vs gymnasium's BipedalWalker, in one run.

Prints steps/s of ``TeachBench/Parkour-v0`` for each of TMA's Parkour bodies
(``old_classic_bipedal`` on a dry track, ``fish`` in a full-water track, where every part
gets water forces each step, and ``climbing_profile_chimpanzee`` with creepers), uniform
random actions, episodes reset as they end (TimeLimit 2000 as registered), next to
gymnasium's ``BipedalWalker-v3`` measured in the same process, as ratios; plus the mean
reset time (the CPPN forward pass and ~440 static bodies).

Times are process CPU time (``time.process_time``). The best of ``--repeats`` interleaved
measurements is kept per case (shared machines are noisy).

    .venv/bin/python benchmarks/bench_parkour.py [--steps 4000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402

import envs  # noqa: E402,F401  (registers TeachBench ids)
from bench_walker import measure  # noqa: E402  (the same timing loop as the walker benchmarks)

# a mid-box task of TMA's medium CPPN space; water and creepers as each body's test set has them
BASE = {"input_vector_0": -0.15, "input_vector_1": 0.8, "input_vector_2": 0.1, "water_level": 0.0,
        "creepers_height": 2.0, "creepers_spacing": 2.5}
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("old_classic_bipedal", "dry track", dict(BASE)),
    ("fish", "full of water", {**BASE, "water_level": 1.0}),
    ("climbing_profile_chimpanzee", "creepers", dict(BASE)),
]
PEER = "gym BipedalWalker-v3"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    runs: list[tuple[str, Callable[[], gym.Env], dict[str, Any] | None]] = [
        (PEER, lambda: gym.make("BipedalWalker-v3"), None)]
    for body, what, task in CASES:
        runs.append((f"Parkour [{body}] {what}", lambda b=body: gym.make("TeachBench/Parkour-v0", body=b), task))
    best: dict[str, tuple[float, float]] = {}
    for r in range(args.repeats):
        for label, make, task in runs:
            sps, reset = measure(make, task, args.steps, args.seed + r)
            if label not in best or sps > best[label][0]:
                best[label] = (sps, reset)
    peer = best[PEER][0]
    print(f"{'env':52s} {'steps/s':>9s} {'reset ms':>9s}  ratio")
    for label, (sps, reset) in best.items():
        ratio = "" if label == PEER else f"  {sps / peer:.2f} x {PEER}"
        print(f"{label:52s} {sps:9.0f} {reset * 1000:9.2f}{ratio}")


if __name__ == "__main__":
    main()
