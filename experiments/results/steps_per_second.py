"""Steps/s per env x student x device x runs per GPU, from the benchmark CSVs: for sizing sweeps.

Reads every CSV given (or found under a folder given) that has the columns of
``benchmarks/_results.py`` (written by ``bench_packed.py``, ``bench_walker_subproc.py`` and
``bench_overhead.py --csv``; other CSVs, e.g. ``profile_sb3_loop.py``'s, are skipped with
a note) and writes one table, as Markdown and CSV:

- one row per (env, student, teacher, device, runs per GPU, runs, envs per run, vec,
  accelerator, script);
  repeated measurements of a row are summarised by their median (``measurements`` says
  how many);
- ``machine steps/s``: all runs that shared the machine together; ``per run``: each;
- ``M steps/h per run`` and ``M steps/h machine``: what a sweep gets done in an hour, e.g.
  a 10M-step run takes ``10 / (M steps/h per run)`` hours at that packing.

    python experiments/results/steps_per_second.py experiments/results/device_scale/ \
        --markdown steps_per_second.md --csv steps_per_second.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

REQUIRED = ("benchmark", "env", "student", "device", "runs", "n_envs", "env_steps_per_s", "per_run_env_steps_per_s")
KEYS = ("env", "student", "teacher", "device", "runs_per_gpu", "runs", "n_envs", "vec", "accelerator", "benchmark")
"""A setting: rows of different scripts stay apart (their PPO settings differ)."""


def csv_files(paths: Iterable[str | Path]) -> list[Path]:
    """The CSVs named, and those found (recursively) under the folders named."""
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(p.rglob("*.csv")) if p.is_dir() else [p])
    return out


def load(paths: Iterable[str | Path], notes: list[str] | None = None) -> pd.DataFrame:
    """The rows of every benchmark CSV among ``paths``; other CSVs are skipped (and noted)."""
    frames = []
    for path in csv_files(paths):
        frame = pd.read_csv(path)
        missing = [c for c in REQUIRED if c not in frame.columns]
        if missing:
            if notes is not None:
                notes.append(f"skipped {path}: not a benchmark throughput CSV (no {', '.join(missing)})")
            continue
        frames.append(frame.assign(source=path.name))
    if not frames:
        return pd.DataFrame(columns=[*REQUIRED, "source"])
    return pd.concat(frames, ignore_index=True)


def _label(value: object) -> str:
    """A key cell as text: empty for missing, ``4`` for a whole number read as ``4.0``."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per setting (:data:`KEYS`), the median of its measurements, fastest first per env."""
    if rows.empty:
        return pd.DataFrame()
    rows = rows.copy()
    for key in KEYS:
        if key not in rows.columns:
            rows[key] = ""
    keys = list(KEYS)
    for key in keys:
        rows[key] = [_label(v) for v in rows[key]]
    grouped = rows.groupby(keys, sort=False)
    out = grouped.agg(machine_steps_per_s=("env_steps_per_s", "median"),
                      per_run_steps_per_s=("per_run_env_steps_per_s", "median"),
                      measurements=("env_steps_per_s", "size")).reset_index()
    out["M_steps_per_h_per_run"] = out["per_run_steps_per_s"] * 3600 / 1e6
    out["M_steps_per_h_machine"] = out["machine_steps_per_s"] * 3600 / 1e6
    return out.sort_values(["env", "machine_steps_per_s"], ascending=[True, False]).reset_index(drop=True)


def markdown(frame: pd.DataFrame) -> str:
    """The table as GitHub Markdown (no extra dependency)."""
    if frame.empty:
        return "(no benchmark rows)\n"
    cols = ["env", "student", "teacher", "device", "runs_per_gpu", "runs", "n_envs", "vec", "machine_steps_per_s",
            "per_run_steps_per_s", "M_steps_per_h_per_run", "M_steps_per_h_machine", "measurements", "accelerator",
            "benchmark"]
    heads = ["env", "student", "teacher", "device", "runs/GPU", "runs", "envs/run", "vec", "machine steps/s",
             "per run", "M steps/h per run", "M steps/h machine", "n", "accelerator", "script"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for _, r in frame.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if c in ("machine_steps_per_s", "per_run_steps_per_s"):
                cells.append(f"{float(v):,.0f}")
            elif c.startswith("M_steps"):
                cells.append(f"{float(v):.1f}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="benchmark CSVs or folders holding them")
    parser.add_argument("--markdown", default=None, help="write the Markdown table here (default: print only)")
    parser.add_argument("--csv", default=None, help="write the table as CSV here")
    args = parser.parse_args(argv)
    notes: list[str] = []
    out = table(load(args.paths, notes))
    for note in notes:
        print(note, file=sys.stderr)
    text = markdown(out)
    print(text, end="")
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.csv:
        out.to_csv(args.csv, index=False)
    return 0 if not out.empty else 1


if __name__ == "__main__":
    sys.exit(main())
