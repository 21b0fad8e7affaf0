"""Claim 5b: DR vs dcd's minimax adversary on dcd's 25-block maze at 256 envs x 64 steps.

Claim 5 (``../ued_dcd25_minimax/``) ran dcd's own rollout shape (32 envs x 256 steps) and
its minimax designer took only ~350 updates in 2M steps. These runs use claim 3c's shape
(256 envs x 64 steps, ``ued.max_pending=auto``), which hands the designer ~8x more levels
per second, to see whether it reaches the failure mode the paper blames for minimax's
0.04 held-out solved rate: levels the student cannot solve.

Reads ``runs_slim.tar.gz`` (the 10 run directories without checkpoints or episode tables),
cut by the session's device time at ~4M (minimax) and ~10M (DR) steps. Each run evaluated
itself: the 50-level test set every 1M steps and the literature's 13 held-out mazes every
4M steps, 100 stochastic episodes a maze (dcd's protocol; dcd's table averages 7 of them).

Everything is read with claim 5's functions (same run layout, same statistics), only the
tarball differs. This prints, and writes ``table.csv`` (per metric and step both teachers
reached: mean ± sd, IQM with its 95% interval, P(a minimax seed beats a DR seed) with its
interval) and ``curves.png``, then the designer's diagnostics binned by 0.5M steps and its
unsolvable levels from 3M steps on against uniformly random designs, per seed.

    python experiments/results/ued_dcd25_minimax_256/summarise.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scipy.stats import binomtest

from experiments.reporting.results_scripts import load_script

HERE = Path(__file__).resolve().parent
TAR = HERE / "runs_slim.tar.gz"
CLAIM5 = load_script(HERE.parent / "ued_dcd25_minimax" / "summarise.py")


def designer_bins(designer: pd.DataFrame, width: int = 500_000) -> pd.DataFrame:
    """The designer's logged diagnostics averaged over seeds and over ``width``-step bins."""
    binned = designer.assign(bin=(designer["step"] // width) * width)
    return binned.groupby("bin")[CLAIM5.DESIGNER[1:]].mean()


def unsolvable_excess(designer: pd.DataFrame, random_share: float, start: int = 3_000_000) -> pd.DataFrame:
    """Per seed, the designer's unsolvable levels from ``start`` on against uniformly random designs.

    Each diagnostics row is the share over the designer's last 200 levels, logged every 50k
    steps. A row counts only when the designer completed at least 7 batches of 32 levels (224
    levels) since the seed's previous row, so that its window holds no level of the previous
    window and the counts add up; rows after a pause (an evaluation, a resume) are dropped.
    One-sided binomial test of the count against ``random_share`` (the share of unsolvable
    levels among uniformly random designs).
    """
    designer = designer.sort_values(["seed", "step"])
    new_window = designer.groupby("seed")["adversary_updates"].diff() >= 7
    late = designer[(designer["step"] >= start) & new_window]
    rows = []
    for seed, frame in late.groupby("seed"):
        levels = 200 * len(frame)
        unsolvable = int(round(float((200 * frame["unsolvable_rate"]).sum())))
        test = binomtest(unsolvable, levels, random_share, alternative="greater")
        rows.append({"seed": int(seed), "levels": levels, "unsolvable": unsolvable,
                     "share_pct": 100 * unsolvable / levels, "ratio_to_random": unsolvable / levels / random_share,
                     "p_value": float(test.pvalue)})
    return pd.DataFrame(rows)


RANDOM_DESIGNS = 200_000  # the random share's own 95% error is then ~0.03 points (5,000 designs: ~0.16)


def ratio_interval(excess: pd.DataFrame, random_share: float, random_n: int = RANDOM_DESIGNS,
                   reps: int = 50_000, seed: int = 0) -> tuple[float, float, float]:
    """Claim 5c: the designer's unsolvable share over uniformly random designs' share.

    The point is the mean over seeds of each seed's share (:func:`unsolvable_excess`), divided
    by ``random_share`` (measured on ``random_n`` random designs). The 95% interval resamples
    the seeds with replacement and redraws the random designs' count from its binomial, so both
    the spread between seeds and the error of the reference share are in it.
    """
    rng = np.random.default_rng(seed)
    shares = (excess["unsolvable"] / excess["levels"]).to_numpy()
    means = rng.choice(shares, size=(reps, len(shares))).mean(axis=1)
    reference = rng.binomial(random_n, random_share, size=reps) / random_n
    lo, hi = np.percentile(means / reference, [2.5, 97.5])
    return float(shares.mean() / random_share), float(lo), float(hi)


def main() -> pd.DataFrame:
    test, means = CLAIM5.load(TAR)
    result = CLAIM5.table(test, means)
    result.to_csv(HERE / "table.csv", index=False)
    pd.set_option("display.width", 220)
    print(result.drop(columns=["iqm", "iqm_lo", "iqm_hi"]).round(3).to_string(index=False))
    print()
    print("last step per run:")
    print(test.groupby(["teacher", "seed"])["step"].max().unstack().to_string())
    unsolvable, walls = CLAIM5.random_designs(RANDOM_DESIGNS)
    print(f"{RANDOM_DESIGNS:,} uniformly random designs (DR's levels): {100 * unsolvable:.3f}% unsolvable, "
          f"{walls:.2f} walls")
    print()
    d = CLAIM5.designer(TAR)
    print("minimax designer, every 0.5M steps (mean over seeds):")
    print(designer_bins(d).round(3).to_string())
    print()
    print("last log per seed:")
    print(d.groupby("seed").tail(1)[["seed", *CLAIM5.DESIGNER]].round(3).to_string(index=False))
    print()
    print("unsolvable levels from 3M steps on, per seed, against uniformly random designs (one-sided binomial):")
    excess = unsolvable_excess(d, unsolvable)
    print(excess.round({"share_pct": 2, "ratio_to_random": 1}).to_string(index=False))
    point, lo, hi = ratio_interval(excess, unsolvable)
    print(f"claim 5c: mean unsolvable share over seeds {excess['share_pct'].mean():.2f}% = {point:.2f} x random designs' "
          f"[{lo:.2f}, {hi:.2f}] (seeds resampled, random count redrawn); seeds above random: "
          f"{int((excess['share_pct'] > 100 * unsolvable).sum())} of {len(excess)}")
    CLAIM5.PLR25.plot_curves(test, means, CLAIM5.NAMES, "dcd's 25-block maze, 256 envs x 64 steps, recurrent PPO: "
                             "DR vs minimax (mean, 95% normal interval)", HERE / "curves.png", marker="o")
    return result


if __name__ == "__main__":
    main()
