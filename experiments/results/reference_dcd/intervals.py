"""How strongly dcd's own seeds support its maze orderings, by the leaderboard's statistic.

Reads ``dcd_held_out_per_seed.csv`` (dcd's released per-seed, per-maze held-out solved
rates; see this folder's README), averages each seed over the mazes, and prints per
setting and teacher the mean over seeds, then the probability that a seed of one teacher
beats a seed of another with its stratified-bootstrap 95% interval
(``experiments.reporting.leaderboard.improvement_interval``, rliable's definition).

Each pair's interval draws its resamples from its own generator, seeded by
``keyed_rng(seed, "reference_dcd", setting, x, y)`` as the leaderboard seeds its rows, with its
50,000 resamples (``BOOTSTRAP_REPS``, rliable's default): a pair's interval depends on its two
teachers' seeds alone, never on which pairs are listed or in what order. Until session 10 all
pairs drew from one generator in list order, 2,000 resamples each.

    python experiments/results/reference_dcd/intervals.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.reporting.leaderboard import BOOTSTRAP_REPS, improvement_interval, keyed_rng

HERE = Path(__file__).parent
# The orderings whose intervals are computed, per setting, as (X, Y): P(a seed of X beats a seed of Y).
PAIRS = {"0-60 blocks": [("plr_robust", "random"), ("accel", "plr_robust"), ("accel", "random")],
         "25 blocks": [("plr_robust", "random"), ("random", "paired"), ("random", "repaired"),
                       ("plr_robust", "paired"), ("repaired", "paired"), ("plr", "random"),
                       ("random", "minimax")]}


def per_seed(table: pd.DataFrame) -> pd.DataFrame:
    """One row per setting, teacher and seed: the mean solved rate over the mazes."""
    return table.groupby(["setting", "teacher", "seed"], as_index=False)["solved_rate"].mean()


def orderings(table: pd.DataFrame, reps: int = BOOTSTRAP_REPS, seed: int = 0) -> pd.DataFrame:
    """One row per pair of :data:`PAIRS`: the two means over seeds and P(X > Y) with its
    interval, each pair's bootstrap seeded by its own key."""
    seeds = per_seed(table)
    rows = []
    for setting, pairs in PAIRS.items():
        for x, y in pairs:
            xs = seeds.query("setting == @setting and teacher == @x")["solved_rate"].to_numpy()
            ys = seeds.query("setting == @setting and teacher == @y")["solved_rate"].to_numpy()
            rng = keyed_rng(seed, "reference_dcd", setting, x, y)
            p, lo, hi, _ = improvement_interval({"maze": xs}, {"maze": ys}, rng, reps)
            rows.append({"setting": setting, "x": x, "y": y, "x_mean": xs.mean(), "y_mean": ys.mean(),
                         "seeds": f"{len(xs)} vs {len(ys)}", "p_x_above_y": p, "lo": lo, "hi": hi})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    data = pd.read_csv(HERE / "dcd_held_out_per_seed.csv")
    print(per_seed(data).pivot_table(index=["setting", "seed"], columns="teacher", values="solved_rate").round(3))
    print()
    print(orderings(data).round(3).to_string(index=False))
