"""A small sweep for notebooks and demos: ``teachbench -m`` in a subprocess.

This was ``analysis.run_sweep``; it starts runs, so it belongs to the run side, and the
analysis API (results side) stays a reader of run directories only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from envs.errors import TeachBenchError

ROOT = Path(__file__).resolve().parents[2]  # the repository: Hydra's configs/ are found from here


def run_sweep(runs_dir: str | Path, name: str, overrides: Sequence[str] = (), timeout: float = 1800.0) -> Path:
    """Run ``teachbench -m name=<name> <overrides>`` in a subprocess (one thread per
    process) and return the experiment folder ``<runs_dir>/<name>``. Finished runs are
    skipped on a rerun, so calling this again only completes what is missing.

    Raises :class:`TeachBenchError` with the CLI's last lines when the sweep fails."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "experiments.running.cli", "-m", f"name={name}", f"runs_dir={Path(runs_dir).resolve()}",
           "log.progress_bar=false", *overrides]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    if out.returncode != 0:
        raise TeachBenchError("sweep", f"`{' '.join(cmd[2:])}` exited {out.returncode}: {out.stderr[-1500:]}")
    return Path(runs_dir).resolve() / name


__all__ = ["run_sweep"]
