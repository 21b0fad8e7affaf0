"""Env steps/s of 15 packed walker runs with TeachMyAgent's PPO network on one H200 machine (16
cores), measured a third time: session 22's first call started GoalGAN, Setter-Solver and PLR x
seeds 0-4 of ``experiment=baseline_walker`` from scratch and cut them after 545 s
(``../../walker_baseline_tma/device_call5.log``; ``device_call5_progress.txt`` there lists each run's
last checkpoint, from the call's output). Same reading as session 18's row
(``../session18/walker_packed15_tma.py``): the interrupted step each run logged, else its last
checkpoint, over the sweep's span in the log. Two runs (GoalGAN seeds 2 and 4) finished inside the
call and left their cores idle for its last ~2 min, so the row is a lower bound.

    python experiments/results/scale_2026-11-30/session22/walker_packed15_tma_call5.py   # writes walker_packed15_tma_call5.csv here
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parents[1] / "walker_baseline_tma"
sys.path.insert(0, str(HERE.parents[3]))
from experiments.reporting.results_scripts import load_script  # noqa: E402


def main(out: Path = HERE) -> dict:
    session18 = load_script(HERE.parent / "session18" / "walker_packed15_tma.py")
    return session18.main(out, RUNS / "device_call5.log", RUNS / "device_call5_progress.txt",
                          "goal_gan+setter_solver+plr", "walker_packed15_tma_call5.csv")


if __name__ == "__main__":
    main()
