"""Env steps/s of the session-8 CLI sweeps on the device, as rows of the scale table.

Two real sweeps through ``teachbench -m ... hydra/launcher=packed`` (not a benchmark script), so
their rates come from what the runs wrote:

- the walker: 5 ALP-GMM runs packed on one H200 machine's 16 cores (``packed_summary.txt``,
  written on the device from each run's ``summary.json``: steps / wall time of the run, its
  two evaluations included);
- dcd's 25-block maze (``../../ued_dcd25_paired/runs_slim.tar.gz``): 5 DR and 5 PAIRED runs of
  ``experiment=ued_maze_paired_dcd25`` packed 5 per GPU on 2 H200s (32 cores). The rate of each
  run is taken over the second call only, from its ``resuming ... from step S`` line to its
  ``interrupted at step X`` line in ``run.log`` (steady state: no start-up; the DR runs'
  evaluations at 1M and 2M steps are inside it). PAIRED counts protagonist steps, as dcd does.
  DR seed 4 logged no interruption in the second call (killed at the time limit before it
  could), so it has no rate; the machine column sums the 9 runs that have one.

    python experiments/results/scale_2026-11-30/session8/cli_sweep_rates.py   # writes cli_sweeps.csv here

Then ``python experiments/results/steps_per_second.py experiments/results/scale_2026-11-30 --markdown
experiments/results/scale_2026-11-30/steps_per_second.md --csv experiments/results/scale_2026-11-30/steps_per_second_table.csv``.
"""

from __future__ import annotations

import re
import sys
import tarfile
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[3]))
from benchmarks._results import COLUMNS  # noqa: E402

STAMP = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})"


def _time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def walker_rows() -> list[dict]:
    text = (HERE / "packed_summary.txt").read_text()
    rates = [int(steps) / float(wall) for steps, wall in re.findall(r"(\d+) steps, wall ([\d.]+) s", text)]
    return [{"benchmark": "cli_packed", "env": "walker_stumps", "student": "ppo/sb3_64_64", "teacher": "alp_gmm",
             "device": "cuda", "gpus": 1, "runs": len(rates), "runs_per_gpu": len(rates), "n_envs": 100, "vec": "shm",
             "workers": 2, "cores_per_run": 3, "env_steps_per_s": round(sum(rates), 1),
             "per_run_env_steps_per_s": round(sum(rates) / len(rates), 1), "host": "device/16c",
             "accelerator": "1x NVIDIA H200"}]


def maze_rows() -> list[dict]:
    rates: dict[str, list[float]] = {}
    with tarfile.open(HERE.parents[1] / "ued_dcd25_paired" / "runs_slim.tar.gz") as tar:
        for member in tar.getmembers():
            if not member.name.endswith("run.log"):
                continue
            log = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
            start = re.findall(STAMP + r" INFO .*resuming .* from step (\d+)", log)
            stop = re.findall(STAMP + r" WARNING .*interrupted at step (\d+)", log)
            (t0, s0), (t1, s1) = start[-1], stop[-1]
            if _time(t1) < _time(t0):  # killed without its "interrupted" line in the second call: no rate
                print(f"skipped {member.name}: no interruption logged after its resume", file=sys.stderr)
                continue
            teacher = "paired" if "__paired__" in member.name else "random"
            rates.setdefault(teacher, []).append((int(s1) - int(s0)) / (_time(t1) - _time(t0)))
    machine = sum(sum(r) for r in rates.values())
    return [{"benchmark": "cli_packed", "env": "gridworld_dcd25", "student": "recurrent_ppo", "teacher": teacher,
             "device": "cuda", "gpus": 2, "runs": 10, "runs_per_gpu": 5, "n_envs": 32,
             "vec": "batched", "cores_per_run": 3, "env_steps_per_s": round(machine, 1),
             "per_run_env_steps_per_s": round(sum(r) / len(r), 1), "host": "device/32c",
             "accelerator": "2x NVIDIA H200"} for teacher, r in sorted(rates.items())]


if __name__ == "__main__":
    import csv
    rows = walker_rows() + maze_rows()
    with open(HERE / "cli_sweeps.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        print(row["env"], row["teacher"], row["runs"], "runs:", row["per_run_env_steps_per_s"], "per run,",
              row["env_steps_per_s"], "machine (all runs of the sweep)")
