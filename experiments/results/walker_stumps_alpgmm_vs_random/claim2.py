"""Claim 2 (TeachMyAgent stump tracks: ALP-GMM > Random on the default biped): table and plot.

Reads the run directories of ``claim2_2.5M_runs.tar.gz`` (seeds 0-4) and of the two tarballs
of seeds 5-7 and 8-10 (extracted next to this file, or into a folder given as the first
argument) and writes ``claim2_curves.png``, ``claim2_table.csv`` and ``claim2_stats.txt``:
% of TMA's 100-task test grid mastered at each evaluation (every 500k steps), mean over
seeds with a bootstrap 95% interval, and P(ALP-GMM seed > Random seed) at the end with its
stratified-bootstrap interval (rliable, as the leaderboard computes it), on the final score and
on the AUC, with a one-sided Mann-Whitney test; and, for the walker's lite tier, how often the
means of 3 seeds per teacher order the two teachers as the means of all seeds at the last
evaluation do (every pair of 3-seed subsets, at each evaluation).

    mkdir -p /tmp/claim2 && for t in claim2_2.5M_runs claim2_2.5M_s5-7_runs claim2_2.5M_s8-10_runs; do
      tar xzf $t.tar.gz -C /tmp/claim2; done && python claim2.py /tmp/claim2
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import mannwhitneyu  # noqa: E402

from experiments.reporting.analysis import (learning_curves, load_evaluations, load_runs,  # noqa: E402
                                            mastery_curves, plot_learning_curves)

from experiments.reporting.leaderboard import improvement_interval  # noqa: E402

HERE = Path(__file__).parent
REPS = 50_000  # bootstrap resamples, as the leaderboard


def comparison(alp: np.ndarray, rnd: np.ndarray, name: str) -> str:
    """P(ALP-GMM seed > Random seed) with its stratified-bootstrap interval, and Mann-Whitney."""
    p, lo, hi, _ = improvement_interval({"w": alp}, {"w": rnd}, np.random.default_rng(0), reps=REPS)
    test = mannwhitneyu(alp, rnd, alternative="greater")
    return (f"{name}: ALP-GMM {alp.mean():.1f} +- {alp.std(ddof=1):.1f}, Random {rnd.mean():.1f} +- "
            f"{rnd.std(ddof=1):.1f}; P(> random) {p:.2f} [{lo:.2f}, {hi:.2f}]; "
            f"one-sided Mann-Whitney U {test.statistic:.0f}, p {test.pvalue:.3f}")


def lite_agreement(curves, k: int = 3) -> list[str]:
    """Share of (k-seed subset of ALP-GMM, k-seed subset of Random) pairs whose means order the
    two teachers as all seeds' means do at the last evaluation, at each evaluation (ties apart)."""
    last = curves["step"].max()
    full = curves[curves["step"] == last].groupby("teacher")["mastered_pct"].mean()
    sign = np.sign(full["alp_gmm"] - full["random"])
    lines = [f"{k}-seed subsets ordering the teachers as all seeds at step {last} (sign {sign:+.0f})"]
    for step, at in curves.groupby("step"):
        means = {t: [np.mean(c) for c in itertools.combinations(g["mastered_pct"].to_numpy(), k)]
                 for t, g in at.groupby("teacher")}
        diff = np.subtract.outer(np.array(means["alp_gmm"]), np.array(means["random"]))
        lines.append(f"{step:>8}: agree {np.mean(np.sign(diff) == sign):.2f}, ties {np.mean(diff == 0):.2f}")
    return lines


def main(root: Path) -> None:
    runs = load_runs(root)
    curves = mastery_curves(load_evaluations(runs))
    bands = learning_curves(curves, by=("env", "student", "teacher"))
    axes = plot_learning_curves(bands)
    fig = np.atleast_1d(axes)[0].figure
    n_seeds = curves.groupby("teacher")["seed"].nunique().min()
    fig.suptitle(f"Stump tracks, default biped, PPO, {n_seeds} seeds: % of TMA's test grid mastered", y=1.06)
    fig.savefig(HERE / "claim2_curves.png", dpi=110, bbox_inches="tight")
    final = curves.sort_values("step").groupby(["teacher", "seed"]).tail(1)
    table = (curves.groupby(["teacher", "step"])["mastered_pct"]
             .agg(["mean", "std", "count", list]).reset_index())
    table.to_csv(HERE / "claim2_table.csv", index=False)
    print(table.to_string(index=False))
    print(final.pivot_table(index="seed", columns="teacher", values="mastered_pct"))
    done = runs[runs["state"] == "finished"]
    by = {t: g.sort_values("seed") for t, g in done.groupby("teacher")}
    stats = [f"{len(by['alp_gmm'])} ALP-GMM and {len(by['random'])} Random seeds; gradient updates "
             f"{sorted(set(done['gradient_updates']))}",
             comparison(by["alp_gmm"]["final_mastered"].to_numpy(float), by["random"]["final_mastered"].to_numpy(float),
                        "final % mastered"),
             comparison(by["alp_gmm"]["auc_mastered"].to_numpy(float), by["random"]["auc_mastered"].to_numpy(float),
                        "AUC % mastered"),
             *lite_agreement(curves)]
    (HERE / "claim2_stats.txt").write_text("\n".join(stats) + "\n")
    print("\n".join(stats))
    plt.close(fig)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
