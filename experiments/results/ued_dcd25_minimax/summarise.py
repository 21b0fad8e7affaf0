"""DR vs dcd's minimax adversary on dcd's 25-block maze, at dcd's rollout shape: table and curves.

Reads ``runs_slim.tar.gz`` (the 10 run directories without checkpoints or episode tables):
``experiment=ued_maze_paired_dcd25 teacher=random,minimax seed=0,1,2,3,4``, cut by the
session's device time at 2.0-2.4M steps. Each run evaluated itself during training:
- the 50-level test set every 0.5M steps (greedy, one episode a level; % mastered);
- the literature's 13 held-out mazes every 1M steps, 100 stochastic episodes a maze (dcd's
  protocol); dcd's 25-block table averages 7 of them.

The loaders are claim 3c's (``../ued_dcd25_plr/summarise.py``: same run layout, same
held-out sets), so both folders read runs the same way. This prints, and writes
``table.csv`` (per metric and step: mean ± sd, IQM with its 95% interval and P(a minimax
seed beats a DR seed) with its interval, the leaderboard's statistics) and ``curves.png``,
and prints the minimax designer's diagnostics (updates, unsolvable-level rate, walls).

    python experiments/results/ued_dcd25_minimax/summarise.py
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.reporting.leaderboard import seed_comparison
from experiments.reporting.results_scripts import load_script

HERE = Path(__file__).resolve().parent
NAMES = {"random": "DR", "minimax": "minimax"}
DESIGNER = ["step", "adversary_updates", "unsolvable_rate", "mean_walls", "mean_adversary_return"]


PLR25 = load_script(HERE.parent / "ued_dcd25_plr" / "summarise.py")  # claim 3c's loaders and plot


def load(path: Path = HERE / "runs_slim.tar.gz") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(test: teacher, seed, step, mastered_pct; held-out means: teacher, seed, step,
    held_out_13, held_out_dcd7)."""
    test, held, _ = PLR25.load(path)
    return test, PLR25.held_out_means(held)


def designer(path: Path = HERE / "runs_slim.tar.gz", teachers: tuple[str, ...] = ("minimax",),
             columns: list[str] = DESIGNER) -> pd.DataFrame:
    """A level designer's logged diagnostics (``columns``), every row of every run of
    ``teachers``, with the run's teacher and seed (claim 4's folder reads PAIRED and CLUTR with it)."""
    rows = []
    with tarfile.open(path) as tar:
        runs = sorted({m.name.rsplit("/", 1)[0] for m in tar.getmembers() if m.name.endswith("/status.json")})
        for run in runs:
            teacher, seed = re.search(r"__(\w+?)__recurrent_ppo__s(\d+)__", run).groups()  # type: ignore[union-attr]
            if teacher in teachers:
                rows.append(PLR25._tables(tar, run, "teacher")[columns].assign(teacher=teacher, seed=int(seed)))
    return pd.concat(rows, ignore_index=True).sort_values(["teacher", "seed", "step"])


def random_designs(n: int = 5000, seed: int = 0) -> tuple[float, float]:
    """(unsolvable share, mean walls) of ``n`` designs whose 27 placements are uniform: what an
    untrained designer makes, and DR's level distribution."""
    from envs.gridworld.designer import design_level

    rng = np.random.default_rng(seed)
    levels = [design_level(15, rng.integers(0, 13 * 13, 27).tolist(), goal_last=True) for _ in range(n)]
    return float(np.mean([not lv.solvable for lv in levels])), float(np.mean([len(lv.walls) for lv in levels]))


def table(test: pd.DataFrame, means: pd.DataFrame) -> pd.DataFrame:
    """Every evaluation step both teachers reached, on the test set and the held-out mazes.
    Each row's intervals are seeded by its step, metric and teacher (``seed_comparison``), so
    a later evaluation step or another metric leaves the earlier rows as they were."""
    rows = []
    for frame, column in ((test, "mastered_pct"), (means, "held_out_dcd7"), (means, "held_out_13")):
        for step in sorted(frame["step"].unique()):
            at = frame[frame["step"] == step]
            if step == 32 or set(at["teacher"]) != set(NAMES):
                continue  # step 32 is the untrained network, the same for both teachers
            for row in seed_comparison(at, column, NAMES, "random", key=(int(step),), p_column="p_above_dr"):
                rows.append({"step": int(step), **row})
    return pd.DataFrame(rows)


def main() -> pd.DataFrame:
    test, means = load()
    result = table(test, means)
    result.to_csv(HERE / "table.csv", index=False)
    pd.set_option("display.width", 220)
    print(result.drop(columns=["iqm", "iqm_lo", "iqm_hi"]).round(3).to_string(index=False))
    held_dr = means[(means["teacher"] == "random") & (means["step"] == 2000032)]
    print(f"DR alone at 2M, held-out: dcd's 7 {held_dr['held_out_dcd7'].mean():.1f} ± "
          f"{held_dr['held_out_dcd7'].std():.1f}, all 13 {held_dr['held_out_13'].mean():.1f} ± "
          f"{held_dr['held_out_13'].std():.1f} ({len(held_dr)} seeds)")
    unsolvable, walls = random_designs(200_000)
    print(f"200,000 uniformly random designs (DR's levels): {100 * unsolvable:.3f}% unsolvable, {walls:.2f} walls")
    print()
    d = designer()
    print("minimax designer, every 0.5M steps (mean over seeds):")
    d["bin"] = (d["step"] // 500_000) * 500_000
    print(d.groupby("bin")[DESIGNER[1:]].mean().round(3).to_string())
    print()
    print("last log per seed:")
    print(d.groupby("seed").tail(1)[["seed", *DESIGNER]].round(3).to_string(index=False))

    PLR25.plot_curves(test, means, NAMES, "dcd's 25-block maze at dcd's shape, recurrent PPO: DR vs minimax "
                      "(mean, 95% normal interval)", HERE / "curves.png", marker="o")
    return result


if __name__ == "__main__":
    main()
