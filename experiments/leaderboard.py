"""The leaderboard: many run directories -> one table per env x student x teacher.

Reads only run directories (``config.yaml``, ``summary.json``, ``status.json``, the eval
table). Finished runs are aggregated; running, failed or incomplete runs are counted and
shown as such, never averaged in.

    teachbench-leaderboard runs/quickstart
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.rundir import RunDir

GROUP = ["env", "student", "teacher"]


def find_run_dirs(root: str | Path) -> list[RunDir]:
    """Every run directory below ``root`` (a folder holding ``config.yaml`` and a status)."""
    root = Path(root)
    if not root.exists():
        return []
    found = []
    for cfg in sorted(root.rglob("config.yaml")):
        if cfg.parent.name.startswith((".", "_")) or "_hydra" in cfg.parts:
            continue
        found.append(RunDir(cfg.parent))
    return found


def collect_runs(root: str | Path) -> pd.DataFrame:
    """One row per run: identity, state, and the summary's numbers when finished."""
    rows: list[dict[str, Any]] = []
    for rd in find_run_dirs(root):
        from omegaconf import OmegaConf

        cfg = OmegaConf.load(rd.config_path)
        status = rd.status()
        row: dict[str, Any] = {
            "path": str(rd.path), "experiment": cfg.get("name"), "env": cfg.env.name, "teacher": cfg.teacher.name,
            "student": cfg.student.algo, "seed": int(cfg.seed), "state": status.get("state", "missing"),
            "error": status.get("error"), "budget_steps": int(cfg.budget.steps),
        }
        summary = rd.summary()
        if summary:
            row.update({k: v for k, v in summary.items() if not isinstance(v, (dict, list))})
            held = summary.get("held_out_solved") or {}
            row["held_out_solved"] = 100.0 * float(np.mean(list(held.values()))) if held else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def _mean_std(values: pd.Series) -> str:
    values = values.dropna().astype(float)
    if values.empty:
        return "-"
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return f"{values.mean():.1f} ± {std:.1f}"


def leaderboard(runs: pd.DataFrame) -> pd.DataFrame:
    """Aggregate finished runs per env x student x teacher (mean ± std over seeds)."""
    out = []
    for key, group in runs.groupby(GROUP, sort=True):
        done = group[group["state"] == "finished"]
        row = dict(zip(GROUP, key))
        row["seeds"] = len(done)
        row["not_finished"] = int(len(group) - len(done))
        row["final_mastered_mean"] = float(done["final_mastered"].mean()) if len(done) else math.nan
        row["final_mastered_std"] = float(done["final_mastered"].std(ddof=1)) if len(done) > 1 else (0.0 if len(done) else math.nan)
        row["final_mastered"] = _mean_std(done["final_mastered"]) if len(done) else "-"
        row["auc_mastered"] = _mean_std(done["auc_mastered"]) if len(done) else "-"
        if "held_out_solved" in done and done["held_out_solved"].notna().any():
            row["held_out_solved"] = _mean_std(done["held_out_solved"])
        row["wall_time_s"] = float(done["wall_time_s"].mean()) if len(done) else math.nan
        row["runs_dir"] = str(Path(group["path"].iloc[0]).parent)
        out.append(row)
    table = pd.DataFrame(out)
    if not table.empty:
        table = table.sort_values(["env", "student", "final_mastered_mean"], ascending=[True, True, False])
    return table.reset_index(drop=True)


def print_leaderboard(runs: pd.DataFrame, title: str = "TeachBench leaderboard") -> pd.DataFrame:
    """Print the table in the terminal (rich) and return it."""
    from rich.console import Console
    from rich.table import Table

    table = leaderboard(runs)
    view = Table(title=title)
    columns = ["env", "student", "teacher", "seeds", "final_mastered", "auc_mastered"]
    if "held_out_solved" in table:
        columns.append("held_out_solved")
    columns += ["wall_time_s", "not_finished", "runs_dir"]
    headers = {"final_mastered": "final % mastered", "auc_mastered": "AUC % mastered",
               "held_out_solved": "held-out % solved", "wall_time_s": "wall time (s)", "not_finished": "unfinished"}
    for c in columns:
        view.add_column(headers.get(c, c))
    for _, r in table.iterrows():
        view.add_row(*[(f"{r[c]:.0f}" if c == "wall_time_s" and isinstance(r[c], float) and math.isfinite(r[c])
                        else str(r.get(c, "-"))) for c in columns])
    Console(width=200).print(view)
    failed = runs[runs["state"] == "failed"]
    for _, r in failed.iterrows():
        Console(width=200).print(f"[red]failed[/red] {r['path']}: {r['error']}")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="teachbench-leaderboard", description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir", help="a folder of run directories (searched recursively)")
    args = parser.parse_args(argv)
    runs = collect_runs(args.runs_dir)
    if runs.empty:
        print(f"no runs under {args.runs_dir}")
        return 1
    print_leaderboard(runs, title=f"TeachBench leaderboard: {args.runs_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
