"""The throughput CSV that the scale benchmarks write (bench_packed, bench_walker_subproc,
bench_overhead ``--csv``) and ``experiments/results/steps_per_second.py`` reads.

One row per measured setting; ``env_steps_per_s`` is the total over every run that shared
the machine at once, ``per_run_env_steps_per_s`` its mean per run. ``runs_per_gpu`` is
empty for CPU-only settings."""

from __future__ import annotations

import csv
import os
import platform
from typing import Any, Iterable

COLUMNS = ("benchmark", "env", "student", "teacher", "device", "gpus", "runs", "runs_per_gpu", "n_envs", "vec",
           "workers", "cores_per_run", "env_steps_per_s", "per_run_env_steps_per_s", "update_share", "seconds",
           "host", "accelerator")


def host() -> str:
    """``<hostname>/<cores>c``: which machine a row came from."""
    return f"{platform.node()}/{len(os.sched_getaffinity(0))}c"


def accelerator() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.device_count()}x {torch.cuda.get_device_name(0)}"
    except ImportError:  # pragma: no cover
        pass
    return "none"


def write_rows(path: str, rows: Iterable[dict[str, Any]], append: bool = False) -> None:
    """Write (or append to) ``path`` with :data:`COLUMNS`; unknown keys are an error, missing ones empty."""
    rows = list(rows)
    new = not (append and os.path.exists(path))
    with open(path, "a" if append else "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        if new:
            writer.writeheader()
        for row in rows:
            writer.writerow({"host": host(), "accelerator": accelerator(), **row})
