"""The run directory: one folder per run, named from the run's identity.

The name comes from (experiment, env, teacher, student, seed), never from the clock, so
rerunning a sweep finds its finished runs (``summary.json`` present: skipped) and its
unfinished ones (resumed from ``checkpoints/``). The leaderboard and the analysis API read
only these files; the layout is documented in docs/run_directory.md.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from experiments.tables import TableWriter, read_table

TABLES = ("episodes", "eval", "teacher")
_SAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


def _slug(value: Any) -> str:
    return _SAFE.sub("-", str(value)).strip("-") or "x"


def run_name(env: str, teacher: str, student: str, seed: int) -> str:
    """``<env>__<teacher>__<student>__s<seed>``: the identity of a run inside an experiment."""
    return f"{_slug(env)}__{_slug(teacher)}__{_slug(student)}__s{int(seed)}"


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Atomic JSON write (temp file + rename), NaN/inf written as null."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        json.dump(_finite(data), fh, indent=2, sort_keys=True, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


class RunDir:
    """Paths and files of one run."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def for_run(cls, runs_dir: str | os.PathLike, experiment: str, env: str, teacher: str, student: str,
                seed: int) -> "RunDir":
        return cls(Path(runs_dir) / _slug(experiment) / run_name(env, teacher, student, seed))

    # -- files ----------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def log_path(self) -> Path:
        return self.path / "run.log"

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def writer(self, table: str, flush_every: int = 5000) -> TableWriter:
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        return TableWriter(self.path / table, flush_every=flush_every)

    def read(self, table: str) -> pd.DataFrame:
        return read_table(self.path / table)

    # -- state ----------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.summary_path.exists()

    def summary(self) -> dict[str, Any] | None:
        return read_json(self.summary_path)

    def status(self) -> dict[str, Any]:
        status = read_json(self.status_path) or {"state": "missing"}
        if self.finished:
            status["state"] = "finished"
        return status

    def set_status(self, state: str, **fields: Any) -> None:
        write_json(self.status_path, {"state": state, **fields})

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        write_json(self.summary_path, summary)


def table_scalars(d: Mapping[str, Any]) -> dict[str, Any]:
    """The entries a table column can hold (numbers, strings, bools, None); non-finite
    floats become None. Used for teacher diagnostics by real runs and the track."""
    out = {}
    for k, v in d.items():
        if isinstance(v, (bool, int, str)) or v is None:
            out[k] = v
        elif isinstance(v, (float, np.floating)):
            out[k] = float(v) if math.isfinite(float(v)) else None
        elif isinstance(v, np.integer):
            out[k] = int(v)
    return out
