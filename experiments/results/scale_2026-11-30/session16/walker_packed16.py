"""Env steps/s of 16 packed walker runs on one H200 machine (16 cores), issue #18's walker row.

Session 16's first device call of ``../../walker_stumps_teachers/`` packed 16 CLI runs (RIAC,
Covar-GMM, GoalGAN and ADR x seeds 0-3; claim 2's protocol: 100 envs in a shm VecEnv, PPO's
update on the GPU) onto the machine at once, and cut the sweep after ~505 s. The rate is a
lower bound: the steps of each run's last checkpoint in the call's tarball (``progress.txt``
there, every 100k steps: up to 100k steps per run were made after it and are not counted),
summed, over the sweep's span in its log (Hydra's launch line to the last "interrupted" line).
Start-up and the evaluations at 0, 0.5M, 1M and 1.5M steps are inside the span.

    python experiments/results/scale_2026-11-30/session16/walker_packed16.py   # writes walker_packed16.csv here
"""

from __future__ import annotations

import csv
import re
import sys
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parents[1] / "walker_stumps_teachers"
sys.path.insert(0, str(HERE.parents[3]))
from benchmarks._results import COLUMNS  # noqa: E402

STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


def call1_steps(progress: Path) -> list[int]:
    """The step of each run's last checkpoint after call 1 (the block under 'call 1:')."""
    steps, inside = [], False
    for line in progress.read_text().splitlines():
        if line.startswith("call "):
            inside = line.startswith("call 1:")
        elif inside and line.strip():
            steps.append(int(line.split()[1]))
    return steps


def span_seconds(log: Path) -> float:
    stamps = [datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
              for m in map(STAMP.match, log.read_text().splitlines()) if m]
    return max(stamps) - min(stamps)


def write_packed_row(path: Path, teacher: str, steps: list[int], seconds: float,
                     student: str = "ppo/sb3_64_64") -> dict:
    """The scale table's row (``benchmarks/_results.py`` columns) of packed walker runs on the
    16-core H200 (claim 2's shape: 100 envs in a shm VecEnv, two workers, the update on the GPU)
    that made ``steps`` in ``seconds`` together, written to ``path`` as a one-row CSV. ``student``
    labels the network: SB3's default 64-64 (sessions 16-17) or TMA's shared 400-300 (session 18)."""
    total = sum(steps)
    row = {"benchmark": "cli_packed", "env": "walker_stumps", "student": student,
           "teacher": teacher, "device": "cuda", "gpus": 1, "runs": len(steps),
           "runs_per_gpu": len(steps), "n_envs": 100, "vec": "shm", "workers": 2, "cores_per_run": round(16 / len(steps), 2),
           "env_steps_per_s": round(total / seconds, 1), "per_run_env_steps_per_s": round(total / seconds / len(steps), 1),
           "update_share": "", "seconds": round(seconds, 1), "host": "device/16c", "accelerator": "1x NVIDIA H200"}
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerow({k: row.get(k, "") for k in COLUMNS})
    return row


def main() -> dict:
    steps = call1_steps(RUNS / "progress.txt")
    seconds = span_seconds(RUNS / "device_call1.log")
    row = write_packed_row(HERE / "walker_packed16.csv", "riac+covar_gmm+goal_gan+adr", steps, seconds)
    total = sum(steps)
    print(f"{len(steps)} runs, {total:,} steps (last checkpoints) in {seconds:.0f} s: {total / seconds:,.0f} env steps/s")
    return row


if __name__ == "__main__":
    main()
