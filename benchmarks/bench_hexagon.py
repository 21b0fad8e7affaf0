"""Random-action speed of hexagon tracks (``walker_hexagon``) vs gymnasium's BipedalWalker-v3
in the same run.

Hexagon tracks are flat ground with 10 polygon obstacles, so the peer is gymnasium's
ordinary walker. Rows: the published quadruped (``old_big_quadru``, the env's default) and
the default biped, each on the zero-offset track (base hexagons) and on test tasks of TMA's
400-task set (one fixed task per row; every reset draws a new track), with random and with
zero actions (step cost only); plus mean reset time
(track generation, hulls and Box2D bodies) against gymnasium's reset. Measurement and
timing as ``bench_walker.py`` (process CPU time, best of interleaved repeats).

    .venv/bin/python benchmarks/bench_hexagon.py [--steps 4000] [--repeats 3] [--resets 50]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gymnasium as gym  # noqa: E402

import envs  # noqa: E402,F401  (registers TeachBench ids)
from bench_walker import measure, print_ratio_table, reset_only  # noqa: E402
from envs.walker.hexagon import NAMES, load_test_set  # noqa: E402

PEER = "gym BipedalWalker-v3"


def cases() -> list[tuple[str, object, dict | None]]:
    zero = {n: 0.0 for n in NAMES}
    test = load_test_set("tma")
    out: list[tuple[str, object, dict | None]] = [(PEER, lambda: gym.make("BipedalWalker-v3"), None)]
    for body in ("old_big_quadru", "default"):
        make = (lambda b=body: gym.make("TeachBench/WalkerHexagon-v0", body=b))
        out.append((f"WalkerHexagon zero [{body}]", make, zero))
        for k in (0, 200):
            out.append((f"WalkerHexagon tma test #{k} [{body}]", make, test[k]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000, help="random steps per env per repeat")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats; best kept")
    parser.add_argument("--resets", type=int, default=50, help="resets timed per env (reset-only loop)")
    args = parser.parse_args()
    todo = cases()
    best: dict[str, float] = {}
    still: dict[str, float] = {}
    for rep in range(args.repeats):
        for label, make, task in todo:
            sps, _ = measure(make, task, args.steps, seed=rep)
            best[label] = max(best.get(label, 0.0), sps)
            sps, _ = measure(make, task, args.steps, seed=rep, zero=True)
            still[label] = max(still.get(label, 0.0), sps)
    resets = {label: reset_only(make, task, args.resets) for label, make, task in todo}
    print_ratio_table([(label, "" if label == PEER else PEER) for label, _, _ in todo], best, still, resets, width=44)
    print("random/s: random actions, resets included (falls: many resets); zero/s: zero actions (step cost only);")
    print("ratios = ours / peer for speed, peer / ours for reset time (> 1: ours faster)")


if __name__ == "__main__":
    main()
