"""Is the lite tier a faithful miniature? Rank correlation across teachers between the
lite runs of an env and longer runs of the same env (issue #20).

The lite tier (``configs/experiment/lite_*.yaml``; ``teachbench-track name=lite ...`` for
the simulated student) is the protocol a contributor can afford: a fraction of the
baseline's budget and fewer seeds. It is only worth running if it orders the teachers as
the longer protocol does. :func:`rank_agreement` answers that from run directories: per
env × student, each teacher's mean score over its finished seeds in the lite runs and in
the long runs, and over the teachers both have

- Kendall's tau-b (``scipy.stats.kendalltau``: ties counted as ties, so teachers tied at
  0 in both tiers neither agree nor disagree) and
- Spearman's rho (``scipy.stats.spearmanr``, average ranks for ties),

with their p-values, the number of teachers, and whether both tiers put the same
teacher on top. Fewer than 3 common teachers, or a tier where every teacher ties, gives
NaN (no ranking to compare), never a number. ::

    python -m experiments.reporting.lite runs                    # lite = experiment "lite"; long = "baseline", "track_full"
    python -m experiments.reporting.lite runs --lite lite --long baseline --metric auc_mastered --out lite.csv
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.stats

from experiments.reporting.runs import collect_runs

LITE = ("lite",)
LONG = ("baseline", "track_full")
MIN_TEACHERS = 3


def _means(runs: pd.DataFrame, experiments: Sequence[str], metric: str) -> pd.DataFrame:
    """Mean ``metric`` per env × student × teacher over finished seeds of ``experiments``,
    with the seeds and budget(s) behind each mean."""
    if runs.empty:
        return pd.DataFrame(columns=["env", "student", "teacher", "mean", "seeds", "budget"])
    sel = runs[(runs["state"] == "finished") & runs["experiment"].isin(list(experiments))].dropna(subset=[metric])
    if sel.empty:
        return pd.DataFrame(columns=["env", "student", "teacher", "mean", "seeds", "budget"])
    return (sel.groupby(["env", "student", "teacher"], sort=True)
            .agg(mean=(metric, "mean"), seeds=(metric, "size"),
                 budget=("budget_steps", lambda b: ",".join(str(int(v)) for v in sorted(set(b.dropna())))))
            .reset_index())


def _all_tied(values: np.ndarray) -> bool:
    return bool(np.all(values == values[0]))


def rank_agreement(runs: pd.DataFrame, lite: Sequence[str] = LITE, long: Sequence[str] = LONG,
                   metric: str = "final_mastered") -> pd.DataFrame:
    """One row per env × student that both tiers ran: ``teachers`` (in both), lite and
    long budgets and seeds per teacher (min-max), ``kendall_tau`` / ``kendall_p``,
    ``spearman_rho`` / ``spearman_p``, ``same_top`` and the two orders (best first)."""
    a, b = _means(runs, lite, metric), _means(runs, long, metric)
    rows = []
    for (env, student), small in a.groupby(["env", "student"], sort=True):
        big = b[(b["env"] == env) & (b["student"] == student)]
        both = small.merge(big, on="teacher", suffixes=("_lite", "_long"))
        row = {"env": env, "student": student, "metric": metric, "teachers": len(both),
               "lite_budget": ",".join(sorted(set(small["budget"]))), "long_budget": ",".join(sorted(set(big["budget"]))),
               "lite_seeds": _span(both["seeds_lite"]), "long_seeds": _span(both["seeds_long"]),
               "kendall_tau": math.nan, "kendall_p": math.nan, "spearman_rho": math.nan, "spearman_p": math.nan,
               "same_top": None,
               "lite_order": _order(both, "mean_lite"), "long_order": _order(both, "mean_long")}
        x, y = both["mean_lite"].to_numpy(float), both["mean_long"].to_numpy(float)
        if len(both) >= MIN_TEACHERS and not _all_tied(x) and not _all_tied(y):
            tau = scipy.stats.kendalltau(x, y)
            rho = scipy.stats.spearmanr(x, y)
            row.update(kendall_tau=float(tau.statistic), kendall_p=float(tau.pvalue),
                       spearman_rho=float(rho.statistic), spearman_p=float(rho.pvalue),
                       same_top=bool(set(both.loc[x == x.max(), "teacher"]) & set(both.loc[y == y.max(), "teacher"])))
        rows.append(row)
    return pd.DataFrame(rows)


def _span(values: pd.Series) -> str:
    if values.empty:
        return "-"
    lo, hi = int(values.min()), int(values.max())
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _order(frame: pd.DataFrame, column: str) -> str:
    part = frame.sort_values([column, "teacher"], ascending=[False, True])
    return " > ".join(f"{t} {v:.1f}" for t, v in zip(part["teacher"], part[column]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.reporting.lite",
                                     description="Rank agreement of teachers between lite and long runs.")
    parser.add_argument("runs_dir", nargs="+", help="folders of run directories (searched recursively)")
    parser.add_argument("--lite", nargs="+", default=list(LITE), help="experiment names of the lite runs")
    parser.add_argument("--long", nargs="+", default=list(LONG), help="experiment names of the long runs")
    parser.add_argument("--metric", default="final_mastered", choices=["final_mastered", "auc_mastered"])
    parser.add_argument("--out", help="write the table as CSV here")
    args = parser.parse_args(argv)
    frames = [collect_runs(d) for d in args.runs_dir if Path(d).is_dir()]
    frames = [f for f in frames if not f.empty]
    runs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    table = rank_agreement(runs, args.lite, args.long, args.metric)
    if table.empty:
        print("no env has both lite and long finished runs")
        return 1
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 200):
        print(table.drop(columns=["lite_order", "long_order"]).to_string(index=False))
        for _, r in table.iterrows():
            print(f"\n{r['env']} / {r['student']}\n  lite: {r['lite_order']}\n  long: {r['long_order']}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
