"""How early do an env's baseline runs rank teachers as they end? (issue #20, lite tier)

The lite gridworld preset (100k steps, 3 seeds) ranked the 15 teachers with Kendall's tau
0.38 against the 300k-step baseline (leaderboard/lite.csv, 2026-11-30). This separates the
two causes, budget and seeds, on the baseline runs themselves (written for the gridworld;
``--env webform`` asks the same of the web-form baseline, evaluated every 10k of 40k steps):
the ranking by mean % of the
test set mastered at each evaluation of the 300k runs (every 60k steps) against their final
ranking, and the final ranking of seeds 0-2 against all five seeds. A truncated long run is
not a lite run (the lite preset also scales the replay buffer and SPDL's schedule to its
budget), so this bounds what a lite budget can give; it does not validate one.

    python experiments/results/lite_tier/truncation.py <folder with baseline/<env>__*> [--env gridworld]

The table's runs (every baseline run, with its evaluations) are assembled from the committed
tarballs by the leaderboard's own code, from the repository root::

    python -c "from pathlib import Path; from leaderboard.rebuild import assemble, SOURCES; \
assemble(Path('/tmp/board'), list(SOURCES))"
    python experiments/results/lite_tier/truncation.py /tmp/board --env webform
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
from scipy.stats import kendalltau


def test_mastery(run: Path) -> pd.Series:
    """% of the test set mastered at each evaluation step of one run (test split only)."""
    ev = pd.concat([pd.read_parquet(p) for p in sorted((run / "eval").glob("*.parquet"))])
    ev = ev[ev["split"] == "test"]
    return ev.groupby("step")["mastered"].mean() * 100   # over tasks x episodes, as summary.json's final_mastered


def main(root: Path, env: str = "gridworld") -> None:
    rows = []
    for run in sorted(root.glob(f"baseline/{env}__*")):
        s = json.loads((run / "summary.json").read_text())
        for step, value in test_mastery(run).items():
            rows.append((s["teacher"], s["seed"], int(step), value))
    df = pd.DataFrame(rows, columns=["teacher", "seed", "step", "mastered"])
    last = df["step"].max()
    final = df[df["step"] == last].groupby("teacher")["mastered"].mean()
    print(f"{df['teacher'].nunique()} teachers, {df['seed'].nunique()} seeds; final step {last}")
    print("step     tau vs final (p)")
    for step in sorted(df["step"].unique())[1:-1]:
        at = df[df["step"] == step].groupby("teacher")["mastered"].mean().reindex(final.index)
        t = kendalltau(at, final)
        print(f"{step:>7}  {t.statistic:5.2f} ({t.pvalue:.3f})")
    for step in sorted(df["step"].unique())[1:]:
        three = df[(df["step"] == step) & (df["seed"] < 3)].groupby("teacher")["mastered"].mean().reindex(final.index)
        t = kendalltau(three, final)
        print(f"{step:>7}, seeds 0-2 vs final, seeds 0-4: tau {t.statistic:.2f} ({t.pvalue:.2g})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--env", default="gridworld")
    args = parser.parse_args()
    main(args.root, args.env)
