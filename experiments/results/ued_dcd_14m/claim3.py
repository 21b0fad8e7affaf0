"""Claim 3 (dcd's maze: PLR⊥ above DR on the literature's held-out mazes): table and plot.

Reads the run directories of ``claim3_runs.tar.gz`` (extracted next to this file, or a
folder given as the first argument): the 10 interrupted runs of
``experiment=ued_maze_dcd`` (DR = ``random`` and PLR⊥ = ``plr_robust``, seeds 0-4), their
training evaluations on the 50-maze test set (every 2M steps) and the held-out
evaluation of each run's latest checkpoint made afterwards with

    teachbench-eval RUN_DIR levels=held_out episodes=100 checkpoint=latest

(dcd's protocol as in its published tables: the stochastic policy, 100 episodes on each of
the literature's 13 mazes, a maze solved when the episode reaches the goal). It prints and
writes ``claim3_table.csv`` (per teacher: mean ± sd, IQM with its stratified-bootstrap 95%
interval, and P(PLR⊥ seed > DR seed) with its interval, computed as the leaderboard does)
and ``claim3_curves.png``.

    tar xzf claim3_runs.tar.gz -C /tmp/claim3 && python claim3.py /tmp/claim3
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from experiments.reporting.analysis import (learning_curves, load_evaluations, load_runs,  # noqa: E402
                                            load_teacher_diagnostics, mastery_curves, plot_learning_curves,
                                            with_gradient_updates)
from experiments.reporting.leaderboard import seed_comparison  # noqa: E402

HERE = Path(__file__).parent
NAMES = {"random": "DR", "plr_robust": "PLR⊥"}


def held_out(runs: pd.DataFrame, episodes: int = 100) -> pd.DataFrame:
    """Per run: the held-out solved rate (%) of its newest ``episodes``-episode evaluation,
    the checkpoint it played and the per-maze rates."""
    rows = []
    for _, r in runs.iterrows():
        found = []
        for meta_path in sorted(Path(r["path"]).glob("evaluations/*/meta.json")):
            meta = json.loads(meta_path.read_text())
            if meta["levels"] == "held_out" and meta["protocol"]["held_out"]["episodes"] == episodes:
                found.append((meta_path.parent, meta))
        if not found:
            continue
        folder, meta = found[-1]
        rec = pd.read_parquet(folder / "records.parquet")
        per_maze = rec.groupby("name", sort=False)["success"].mean()
        rows.append({"teacher": r["teacher"], "seed": int(r["seed"]), "held_out_pct": 100.0 * per_maze.mean(),
                     "checkpoint": meta["policy_source"], **{f"maze.{k}": 100.0 * v for k, v in per_maze.items()}})
    return pd.DataFrame(rows)


def _rollout_size(run: Path) -> int:
    """Transitions per PPO rollout of a run: its config's env.n_envs x student.params.n_steps."""
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    return int(cfg["env"]["n_envs"]) * int(cfg["student"]["params"]["n_steps"])


def main(root: Path) -> None:
    runs = load_runs(root)
    curves = mastery_curves(load_evaluations(runs, states=None))
    diag = load_teacher_diagnostics(runs, states=None)
    common = curves.groupby("run")["step"].max().min()  # the last evaluation every run reached
    at = curves[curves["step"] == common].copy()
    updates = (diag[diag["train_env_steps"] <= common].sort_values("step").groupby("run").tail(1)
               .set_index("run")[["gradient_updates", "train_trained_transitions"]])
    at = at.join(updates, on="run")
    # DR trains on every rollout (the random teacher logs no update counts): one PPO update of
    # n_epochs per rollout of n_envs x n_steps transitions, SB3's schedule
    sizes = {_rollout_size(Path(path)) for path in runs["path"]}
    assert len(sizes) == 1, f"runs with different rollout sizes: {sizes}"
    rollout = sizes.pop()
    dr = at["gradient_updates"].isna()
    at.loc[dr, "gradient_updates"] = at.loc[dr, "step"] // rollout
    at.loc[dr, "train_trained_transitions"] = at.loc[dr, "gradient_updates"] * rollout
    held = held_out(runs)
    # each interval keyed by what it estimates (seed_comparison): the test set at its step, the
    # held-out mazes at each run's latest checkpoint
    table = pd.DataFrame(seed_comparison(at, "mastered_pct", NAMES, "random", key=(int(common),),
                                         p_column="p_above_dr")
                         + seed_comparison(held, "held_out_pct", NAMES, "random", key=("latest checkpoint",),
                                           p_column="p_above_dr"))
    table.to_csv(HERE / "claim3_table.csv", index=False)
    pd.set_option("display.width", 200)
    print(f"test set at step {common:,} (every run's last evaluation):")
    print(at[["teacher", "seed", "mastered_pct", "gradient_updates", "train_trained_transitions"]]
          .sort_values(["teacher", "seed"]).to_string(index=False))
    print("\nheld-out (literature mazes, 100 stochastic episodes each, latest checkpoint):")
    print(held[["teacher", "seed", "held_out_pct", "checkpoint"]].sort_values(["teacher", "seed"]).to_string(index=False))
    maze_cols = [c for c in held.columns if c.startswith("maze.")]
    print("\nper maze, mean over seeds (%):")
    print(held.groupby("teacher")[maze_cols].mean().T.round(1).to_string())
    print()
    print(table.round(3).to_string(index=False))

    bands = learning_curves(curves, by=("env", "student", "teacher"))
    axes = plot_learning_curves(bands)
    fig = np.atleast_1d(axes)[0].figure
    fig.suptitle("dcd's 0-60-block maze, recurrent PPO, 5 seeds: % of the 50-maze test set mastered", y=1.06)
    fig.savefig(HERE / "claim3_curves.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    # the same curves per student gradient update (dcd plots its UED curves that way): PLR⊥'s
    # counts from its diagnostics, DR's from its rollouts (one update per rollout)
    per_update = with_gradient_updates(curves, diag)
    dr = per_update["gradient_updates"].isna()
    per_update.loc[dr, "gradient_updates"] = per_update.loc[dr, "step"] // rollout
    bands = learning_curves(per_update, by=("env", "student", "teacher"), x="gradient_updates")
    fig = plot_learning_curves(bands, xlabel="student PPO updates (5 epochs each)")
    fig.suptitle("The same runs per gradient update", y=1.06)
    fig.savefig(HERE / "claim3_curves_per_update.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
