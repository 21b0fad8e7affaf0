"""DR vs PLR on dcd's 25-block maze (claim 3b's sibling, dcd's ``mg_25b_plr``): the table and curves.

Reads ``runs_slim.tar.gz`` (the 10 run directories without checkpoints or episode tables):
``experiment=ued_maze_dcd25 teacher=random,plr seed=0,1,2,3,4`` cut by the device's time
limit at 23.8-24.5M steps. Each run evaluated itself during training:
- the 50-level test set every 2M steps (greedy, one episode a level; % mastered);
- the literature's 13 held-out mazes every 5M steps, 100 stochastic episodes a maze (dcd's
  published protocol; % solved, the mean over mazes). dcd's 25-block table averages 7 of
  them (:data:`DCD25_MAZES`), so both means are given.

It prints, and writes ``table.csv`` (per metric and teacher: mean ± sd, IQM with its
stratified-bootstrap 95% interval, and P(a PLR seed beats a DR seed) with its interval, the
leaderboard's statistics), ``held_out_by_step.csv`` and ``curves.png``.

    python experiments/results/ued_dcd25_plr/summarise.py
"""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from experiments.reporting.leaderboard import seed_comparison  # noqa: E402

HERE = Path(__file__).resolve().parent
NAMES = {"random": "DR", "plr": "PLR"}
# dcd's 25-block held-out set (results/minigrid_ood/mg_25_blocks-*.csv, reference_dcd/):
# MiniGrid's SimpleCrossingS11N5 is our SimpleCrossing
DCD25_MAZES = ("SixteenRooms", "Labyrinth", "Labyrinth2", "Maze", "Maze2", "SmallCorridor", "SimpleCrossing")


def _tables(tar: tarfile.TarFile, run: str, kind: str) -> pd.DataFrame:
    parts = [m for m in tar.getmembers() if m.name.startswith(run + f"/{kind}/") and m.name.endswith(".parquet")]
    frames = [pd.read_parquet(io.BytesIO(tar.extractfile(m).read())) for m in parts]  # type: ignore[union-attr]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load(path: Path = HERE / "runs_slim.tar.gz") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(test: teacher, seed, step, mastered_pct; held_out: teacher, seed, step, maze, solved_pct;
    diagnostics: each PLR run's last teacher row)."""
    test, held, diag = [], [], []
    with tarfile.open(path) as tar:
        runs = sorted({m.name.rsplit("/", 1)[0] for m in tar.getmembers() if m.name.endswith("/status.json")})
        for run in runs:
            teacher, seed = re.search(r"__(\w+?)__recurrent_ppo__s(\d+)__", run).groups()  # type: ignore[union-attr]
            ev = _tables(tar, run, "eval")
            t = ev[ev["split"] == "test"].groupby("step")["mastered"].mean().mul(100).rename("mastered_pct")
            test.append(t.reset_index().assign(teacher=teacher, seed=int(seed)))
            h = ev[ev["split"] == "held_out"].groupby(["step", "name"])["success"].mean().mul(100)
            held.append(h.rename("solved_pct").reset_index().rename(columns={"name": "maze"})
                        .assign(teacher=teacher, seed=int(seed)))
            d = _tables(tar, run, "teacher")
            if "replay_fraction" in d:
                diag.append(d.sort_values("step").iloc[-1:].assign(teacher=teacher, seed=int(seed)))
    diagnostics = pd.concat(diag, ignore_index=True) if diag else pd.DataFrame()  # no replay teacher: none
    return pd.concat(test, ignore_index=True), pd.concat(held, ignore_index=True), diagnostics


def held_out_means(held: pd.DataFrame) -> pd.DataFrame:
    """Per run and held-out step: the mean solved rate over all 13 mazes and over dcd's 7."""
    all13 = held.groupby(["teacher", "seed", "step"])["solved_pct"].mean().rename("held_out_13")
    dcd7 = (held[held["maze"].isin(DCD25_MAZES)].groupby(["teacher", "seed", "step"])["solved_pct"].mean()
            .rename("held_out_dcd7"))
    return pd.concat([all13, dcd7], axis=1).reset_index()


def compare(values: pd.DataFrame, column: str, step: int) -> list[dict]:
    """Mean ± sd and IQM [95% CI] per teacher, and P(PLR > DR) [95% CI], on ``column`` at
    evaluation ``step`` (the intervals' key with the metric: see ``seed_comparison``)."""
    return seed_comparison(values, column, NAMES, "random", key=(int(step),), p_column="p_above_dr")


def plot_curves(test: pd.DataFrame, means: pd.DataFrame, names: dict[str, str], title: str, path: Path,
                marker: str | None = None) -> None:
    """Test-set mastery and dcd's 7 held-out mazes against env steps, per teacher: the mean over
    seeds with a 95% normal interval (1.96 sd / sqrt(seeds)). Claim 5's folder draws its plot
    with this too."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for teacher, name in names.items():
        for ax, frame, col, label in ((axes[0], test, "mastered_pct", "% of the 50 test levels mastered"),
                                      (axes[1], means, "held_out_dcd7", "% solved, dcd's 7 held-out mazes")):
            g = frame[frame["teacher"] == teacher].groupby("step")[col]
            m, s, n = g.mean(), g.std(), g.count()
            half = 1.96 * s / np.sqrt(n)
            ax.plot(m.index / 1e6, m.values, marker=marker, label=f"{name} ({int(n.max())} seeds)")
            ax.fill_between(m.index / 1e6, (m - half).values, (m + half).values, alpha=0.2)
            ax.set_xlabel("env steps (millions)")
            ax.set_ylabel(label)
    axes[0].legend()
    fig.suptitle(title)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main() -> pd.DataFrame:
    test, held, diag = load()
    means = held_out_means(held)
    test_at = int(test.groupby(["teacher", "seed"])["step"].max().min())  # the last test eval every run reached
    held_at = int(means.groupby(["teacher", "seed"])["step"].max().min())
    rows = (compare(test[test["step"] == test_at], "mastered_pct", test_at)
            + compare(means[means["step"] == held_at], "held_out_13", held_at)
            + compare(means[means["step"] == held_at], "held_out_dcd7", held_at))
    table = pd.DataFrame(rows)
    table.insert(1, "step", [test_at] * 2 + [held_at] * 4)
    table.to_csv(HERE / "table.csv", index=False)
    by_step = means.groupby(["teacher", "step"])[["held_out_13", "held_out_dcd7"]].agg(["mean", "std"]).round(2)
    by_step.to_csv(HERE / "held_out_by_step.csv")
    pd.set_option("display.width", 220)
    print(table.round(3).to_string(index=False))
    print()
    print(by_step.to_string())
    print()
    per_maze = held[held["step"] == held_at].groupby(["maze", "teacher"])["solved_pct"].mean().unstack().round(1)
    print(f"per maze at {held_at:,} steps, mean over seeds (%):")
    print(per_maze.to_string())
    print()
    print("PLR's replay at its last log:")
    print(diag[["seed", "step", "replay_fraction", "buffer_fill", "buffer_replaced", "score_mean"]].to_string(index=False))

    plot_curves(test, means, NAMES, "dcd's 25-block maze, recurrent PPO: DR vs PLR (mean, 95% normal interval over seeds)",
                HERE / "curves.png")
    return table


if __name__ == "__main__":
    main()
