"""Env steps/s of 15 packed walker runs on one H200 machine (16 cores), issue #18's walker row.

Session 17's fourth device call started 15 runs of ``experiment=baseline_walker`` (GoalGAN,
Setter-Solver and PLR x seeds 0-4: 100 envs in a shm VecEnv, PPO's update on the GPU) from
scratch and cut them after ~235 s (``../../walker_baseline/device_call4_lost.log``; the call's
checkpoint tarball was too large to come back, so the runs themselves are lost). Each run logged
the step it had reached when it was interrupted; their sum over the sweep's span in the log
(Hydra's launch line to the last "interrupted" line) is the machine's rate. Start-up and every
run's 500-episode evaluation at step 0 are inside the span, so it is a lower bound on training
speed. Unlike session 16's figure (``../session16/walker_packed16.py``) it counts the steps made
after the last checkpoint, which were made but not kept.

    python experiments/results/scale_2026-11-30/session17/walker_packed15.py   # writes walker_packed15.csv here
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOG = HERE.parents[1] / "walker_baseline" / "device_call4_lost.log"
sys.path.insert(0, str(HERE.parents[3]))
from experiments.reporting.results_scripts import load_script  # noqa: E402

INTERRUPTED = re.compile(r"interrupted at step (\d+)")


def main(out: Path = HERE) -> dict:
    session16 = load_script(HERE.parent / "session16" / "walker_packed16.py")
    steps = [int(m.group(1)) for m in INTERRUPTED.finditer(LOG.read_text())]
    seconds = session16.span_seconds(LOG)
    row = session16.write_packed_row(out / "walker_packed15.csv", "goal_gan+setter_solver+plr", steps, seconds)
    total = sum(steps)
    print(f"{len(steps)} runs, {total:,} steps in {seconds:.0f} s: {total / seconds:,.0f} env steps/s")
    return row


if __name__ == "__main__":
    main()
