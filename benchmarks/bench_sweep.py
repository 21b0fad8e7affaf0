"""Sweep throughput: runs per hour vs the number of joblib workers.

Runs the same small sweep (``--runs`` seeds of one short gridworld run) through the real
CLI with Hydra's joblib launcher at 1, 2, 4, ... workers (up to the cores present), each
into a fresh runs folder, and prints runs/hour and the speed-up over one worker measured
in the same invocation. The basic (sequential) launcher is the peer.

    python benchmarks/bench_sweep.py --runs 8 --steps 20000
    python benchmarks/bench_sweep.py --runs 2 --runs-per-worker 2 --steps 20000   # many cores

With ``--runs-per-worker k`` a variant with ``w`` workers runs ``max(--runs, k·w)`` runs, so
every worker gets the same amount of work on a 16-core machine without the sequential
peer taking 16 runs' time; runs/hour compares the variants.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def sweep_seconds(launcher: list[str], runs: int, steps: int, runs_dir: str) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "experiments.running.cli", "-m", *launcher, "env=gridworld_small", "teacher=random",
           f"seed=range(0,{runs})", f"budget.steps={steps}", f"eval.every={steps}", f"checkpoint.every={steps}",
           "eval.held_out=false", f"runs_dir={runs_dir}", "name=bench_sweep", "log.progress_bar=false"]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--max-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--runs-per-worker", type=int, default=0,
                        help="with w workers run max(--runs, this * w) runs (0: always --runs)")
    args = parser.parse_args()
    workers = [w for w in (1, 2, 4, 8, 16, 32) if w <= args.max_workers]
    variants = [("basic (sequential)", [], args.runs)] + [
        (f"joblib n_jobs={w}", ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={w}"], max(args.runs, args.runs_per_worker * w))
        for w in workers]
    print(f"cores={os.cpu_count()} steps/run={args.steps} (gridworld_small, PPO, random teacher)")
    print(f"{'launcher':<22}{'runs':>6}{'wall (s)':>10}{'runs/hour':>12}{'x basic':>10}")
    base = None
    for label, launcher, runs in variants:
        with tempfile.TemporaryDirectory() as tmp:
            seconds = sweep_seconds(launcher, runs, args.steps, tmp)
        rate = 3600 * runs / seconds
        base = base or rate
        print(f"{label:<22}{runs:>6}{seconds:>10.1f}{rate:>12.0f}{rate / base:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
