"""Claim 4 rerun: DR vs PAIRED vs the audited CLUTR on the maze, with no level replays.

The runs of ``../ued_clutr_paired_3m/`` predate CLUTR's audit against clutr's code and let
84-86% of protagonist episodes replay open levels. These runs use the audited CLUTR and
``ued.max_pending=auto`` (33 open batches at 256 sub-envs, one episode per student per level):
``experiment=ued_maze_paired_dcd`` at 256 envs x 64 steps, seeds 0-2, 9 runs packed on one H200
(``benchmarks/device_ued_sweep.sh``, the claim-4 line). That session's device time cut PAIRED at
~1.0M steps; DR and CLUTR reached 3.0M. The next session ran PAIRED's 3 seeds again from step 0,
alone on one H200 (two device calls, the second resuming from the first's checkpoints), to 3.0M;
its runs replace the cut ones in ``runs_slim.tar.gz`` (same config id, and the same scores at
0.5M and 1M as the cut runs).

Each run evaluated itself: the 50-level test set every 0.5M steps (5 episodes a level; %
mastered) and the literature's 13 held-out mazes every 1M steps (10 stochastic episodes a
maze, dcd's protocol). Read with claim 3c's loaders (``../ued_dcd25_plr/summarise.py``) and
claim 5's designer loader (``../ued_dcd25_minimax/summarise.py``).

This prints, and writes ``table.csv`` (per metric and evaluation step: mean ± sd, IQM with its
95% interval, and P(a seed of the teacher beats a seed of the baseline) with its interval, once
against PAIRED, the claim's baseline, and once against DR, dcd's) and
``curves.png``; then the floor check (every teacher's per-seed score at 0.5M and 1M) and each
designer's last diagnostics row per seed.

    python experiments/results/ued_clutr_paired_256/summarise.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.reporting.leaderboard import seed_comparison
from experiments.reporting.results_scripts import load_script

HERE = Path(__file__).resolve().parent
TAR = HERE / "runs_slim.tar.gz"
NAMES = {"random": "DR", "paired": "PAIRED", "clutr": "CLUTR"}
PLR25 = load_script(HERE.parent / "ued_dcd25_plr" / "summarise.py")  # claim 3c's loaders and plot
CLAIM5 = load_script(HERE.parent / "ued_dcd25_minimax" / "summarise.py")  # its designer-diagnostics loader
DESIGNER = ["step", "batches_done", "unsolvable_rate", "mean_walls", "episodes", "extra_protagonist_episodes",
            "open_batches", "mean_regret"]


def load(path: Path = TAR) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(test: teacher, seed, step, mastered_pct; held-out means: teacher, seed, step, held_out_13,
    held_out_dcd7; designer: the regret teachers' diagnostics rows, with teacher and seed)."""
    test, held, _ = PLR25.load(path)
    return test, PLR25.held_out_means(held), CLAIM5.designer(path, ("paired", "clutr"), DESIGNER)


def scheduled(frame: pd.DataFrame, every: int) -> pd.DataFrame:
    """The rows of evaluations on the run's schedule (step 256, the untrained network, and every
    ``every`` steps, taken at the next rollout boundary); a run's extra evaluation when it was
    interrupted is left out, so every point holds all the seeds that reached it."""
    return frame[(frame["step"] < every) | (frame["step"] % every <= 5_000)]


def table(test: pd.DataFrame, means: pd.DataFrame) -> pd.DataFrame:
    """Every scheduled evaluation step (the runs' extra evaluation at interruption is left out),
    with every teacher that reached it on all its seeds; P against PAIRED (CLUTR's claim) and
    against DR (dcd's baseline), one block of rows per baseline."""
    rows = []
    for frame, column, every in ((test, "mastered_pct", 500_000), (means, "held_out_13", 1_000_000),
                                 (means, "held_out_dcd7", 1_000_000)):
        for step in sorted(scheduled(frame, every)["step"].unique()):
            if step < every:
                continue  # the untrained network, the same for every teacher of a seed
            at = frame[frame["step"] == step]
            names = {t: n for t, n in NAMES.items() if (at["teacher"] == t).sum() == 3}
            for baseline in ("paired", "random"):
                if baseline not in names:
                    continue
                for row in seed_comparison(at, column, names, baseline, key=(int(step),), p_column="p_above_baseline"):
                    rows.append({"step": int(step), "baseline": NAMES[baseline], **row})
    return pd.DataFrame(rows)


def floor(test: pd.DataFrame, means: pd.DataFrame) -> pd.DataFrame:
    """Per seed, each teacher's test score at 0.5M and 1M and held-out score at 1M: identical
    across teachers when every student's greedy policy still sits in the same untrained mode."""
    t = test[test["step"].isin([500_480, 1_000_704])].pivot_table(index=["step", "seed"], columns="teacher",
                                                                   values="mastered_pct")
    h = means[means["step"] == 1_000_448].pivot_table(index=["step", "seed"], columns="teacher", values="held_out_13")
    return pd.concat([t.assign(metric="test % mastered"), h.assign(metric="held-out 13 % solved")])


def main() -> pd.DataFrame:
    test, means, designer = load()
    result = table(test, means)
    result.to_csv(HERE / "table.csv", index=False)
    pd.set_option("display.width", 220)
    print(result.drop(columns=["iqm", "iqm_lo", "iqm_hi"]).round(3).to_string(index=False))
    print("\nfloor check (per seed, every teacher):")
    print(floor(test, means).round(1).to_string())
    print("\neach designer's last diagnostics row per seed:")
    print(designer.groupby(["teacher", "seed"]).tail(1).round(3).to_string(index=False))
    PLR25.plot_curves(scheduled(test, 500_000), scheduled(means, 1_000_000), NAMES, "15x15 maze, recurrent PPO, 256 envs x 64 steps: DR vs PAIRED vs CLUTR "
                      "(mean, 95% normal interval)", HERE / "curves.png", marker="o")
    return result


if __name__ == "__main__":
    main()
