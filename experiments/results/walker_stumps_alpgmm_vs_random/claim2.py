"""Claim 2 (TeachMyAgent stump tracks: ALP-GMM > Random on the default biped): table and plot.

Reads the run directories of ``claim2_2.5M_runs.tar.gz`` (seeds 0-4) and of the two tarballs of
seeds 5-7 and 8-10 (extracted next to this file, or into a folder given as the first argument) and writes ``claim2_curves.png`` and ``claim2_table.csv``:
% of TMA's 100-task test grid mastered at each evaluation (every 500k steps), mean over
seeds with a bootstrap 95% interval, and P(ALP-GMM seed > Random seed) at the end with its
stratified-bootstrap interval (rliable, as the leaderboard computes it).

    mkdir -p /tmp/claim2 && for t in claim2_2.5M_runs claim2_2.5M_s5-7_runs claim2_2.5M_s8-10_runs; do
      tar xzf $t.tar.gz -C /tmp/claim2; done && python claim2.py /tmp/claim2
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments.reporting.analysis import (learning_curves, load_evaluations, load_runs,  # noqa: E402
                                            mastery_curves, plot_learning_curves)

HERE = Path(__file__).parent


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
    plt.close(fig)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
