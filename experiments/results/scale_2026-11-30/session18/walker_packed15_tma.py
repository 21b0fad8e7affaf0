"""Env steps/s of 15 packed walker runs with TeachMyAgent's PPO network on one H200 machine (16
cores), issue #18's walker row for ``student=ppo_tma`` (one 400-300 trunk shared by policy and value).

Session 18's first device call started 15 runs of ``experiment=baseline_walker`` (Random, ALP-GMM
and Covar-GMM x seeds 0-4: 100 envs in a shm VecEnv, PPO's update on the GPU) from scratch and cut
them after ~530 s (``../../walker_baseline_tma/device_call1.log``). A run's steps are the step it
logged when interrupted; the kill cut five runs' lines, and for those the last checkpoint the call
printed (``device_call1_progress.txt`` there) stands in, which undercounts them by < 100k steps
each. The sum over the sweep's span in the log is the machine's rate: a lower bound, since
start-up, every run's 500-episode evaluation at step 0 and one run's final evaluation are inside it.

    python experiments/results/scale_2026-11-30/session18/walker_packed15_tma.py   # writes walker_packed15_tma.csv here

A later call's row is the same reading of its own log and listing (session 22's call 5, GoalGAN,
Setter-Solver and PLR; two runs finished inside it, so it too is a lower bound)::

    python experiments/results/scale_2026-11-30/session18/walker_packed15_tma.py --call 5 \
        --teachers goal_gan+setter_solver+plr --out experiments/results/scale_2026-11-30/session22
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parents[1] / "walker_baseline_tma"
LOG = RUNS / "device_call1.log"
PROGRESS = RUNS / "device_call1_progress.txt"
sys.path.insert(0, str(HERE.parents[3]))
from experiments.reporting.results_scripts import load_script  # noqa: E402

INTERRUPTED = re.compile(r"/(walker_stumps__\w+?__s\d+__\w+): interrupted at step (\d+)")
CHECKPOINT = re.compile(r"/(walker_stumps__\w+?__s\d+__\w+)/ step-(\d+)$")


def run_steps(log: Path = LOG, progress: Path = PROGRESS) -> dict[str, int]:
    """run -> steps made in the call: the interrupted line's step, else the run's last checkpoint."""
    steps = {m.group(1): int(m.group(2)) for m in map(CHECKPOINT.search, progress.read_text().splitlines()) if m}
    steps.update({m.group(1): int(m.group(2)) for m in INTERRUPTED.finditer(log.read_text())})
    return steps


def main(out: Path = HERE, log: Path = LOG, progress: Path = PROGRESS, teachers: str = "random+alp_gmm+covar_gmm",
         name: str = "walker_packed15_tma.csv") -> dict:
    """Write the row for the call of ``log`` (session 19's call 3 reuses this: ``../session19/``)."""
    session16 = load_script(HERE.parent / "session16" / "walker_packed16.py")
    steps = run_steps(log, progress)
    seconds = session16.span_seconds(log)
    row = session16.write_packed_row(out / name, teachers, list(steps.values()), seconds, student="ppo_tma/shared_400_300")
    total = sum(steps.values())
    print(f"{len(steps)} runs, {total:,} steps in {seconds:.0f} s: {total / seconds:,.0f} env steps/s")
    return row


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--call", type=int, default=1, help="the device call N: walker_baseline_tma/device_callN.log")
    parser.add_argument("--teachers", default="random+alp_gmm+covar_gmm")
    parser.add_argument("--out", type=Path, default=HERE, help="the folder the CSV goes to")
    args = parser.parse_args()
    suffix = "" if args.call == 1 else f"_call{args.call}"
    main(args.out, RUNS / f"device_call{args.call}.log", RUNS / f"device_call{args.call}_progress.txt", args.teachers,
         f"walker_packed15_tma{suffix}.csv")
