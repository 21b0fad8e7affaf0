"""The regret designer's update on the walker (issue #20): PAIRED-param with the REINFORCE
generator (the leaderboard's walker row) against dcd's bipedal adversary update
(``teacher.params.update=ppo``, lr 3e-4: 8 epochs x 4 minibatches per batch of regrets, a value
head), read from ``runs.tar.gz`` here, with Random's runs from ``../walker_baseline_tma/``.

Protocol: ``experiment=baseline_walker`` (TMA's stump tracks, default biped, TMA's 400-300 PPO,
2.5M steps, TMA's 100-task test grid with 5 episodes per task), seeds 0-4. The two PAIRED-param
sets ran side by side in the same device calls (session 24), so the only difference between them
is the generator's update; the REINFORCE set is the leaderboard's row (``name=baseline``), the
PPO set is named ``designer_ppo``. Why: on the walker the REINFORCE generator takes ~40-50 steps
in 2.5M env steps (one per 32 regrets), and CLUTR-param's walker row showed a generator that
never moved (``../walker_baseline_tma/``); on the gridworld the PPO update moved the designer
~2x further per batch (``../designer_update_gridworld/``).

The statistics are the gridworld script's (one copy: its ``section`` and ``task_means``): final
% mastered per seed, mean +- sd, IQM and P(> Random) with their intervals, P(PPO > REINFORCE),
the generator's updates and per-dimension entropy, and where the levels went over the last
fifth of each run's steps (stump height and spacing scaled to [0, 1]; Random's walker runs kept
no episode tables, and a uniform draw has 0.5 in each dimension by construction). Beyond the
gridworld's: the stump height of the played levels in each fifth of every run, per seed. The
walker runs keep their whole episode tables (~2,000 episodes a run), so nothing was cut.

    python experiments/results/designer_update_walker/summarise.py      # writes stats.txt here
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from envs.registry import make_env
from experiments.reporting.analysis import sampling_summary
from experiments.reporting.results_scripts import load_script

HERE = Path(__file__).resolve().parent
RANDOM_RUNS = HERE.parent / "walker_baseline_tma" / "runs.tar.gz"
GRID = load_script(HERE.parent / "designer_update_gridworld" / "summarise.py")


def walker_space():
    """The task space of ``env=walker_stumps`` as the runs built it (TMA's ranges)."""
    return make_env("walker_stumps").unwrapped.task_space


def load() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, episodes): both PAIRED-param sets and Random, every finished run, with the
    leaderboard's ``baseline`` runs named ``designer_reinforce`` as the gridworld script expects."""
    ours, episodes = GRID.load(HERE / "runs.tar.gz")
    rnd, _ = GRID.load(RANDOM_RUNS)
    runs = pd.concat([ours, rnd[rnd["teacher"] == "random"]], ignore_index=True)
    runs = runs[runs["state"] == "finished"].copy()
    for frame in (runs, episodes):
        frame.loc[frame["experiment"] == "baseline", "experiment"] = "designer_reinforce"
    return runs, episodes


def trajectory_lines(episodes: pd.DataFrame) -> list[str]:
    """Per designer and seed, the mean stump height (scaled to [0, 1]) of the levels played in
    each fifth of the run's steps: whether and when the designer moved."""
    dim = walker_space()["stump_height"]
    phases = GRID.PHASES
    summary = sampling_summary(episodes, phases=phases, by=("experiment", "seed"))
    lines = ["stump height of the levels played, per fifth of the steps (scaled to [0, 1]; uniform 0.50), per seed:"]
    for experiment in ("designer_reinforce", "designer_ppo"):
        for seed, rows in summary[summary["experiment"] == experiment].groupby("seed"):
            rows = rows.sort_values("phase")
            scaled = (rows["stump_height_mean"] - dim.low) / (dim.high - dim.low)
            lines.append(f"  {GRID.label('paired_param', experiment):25s} seed {seed}  "
                         + " ".join(f"{v:.2f}" for v in scaled))
    return lines


def main(write: bool = True) -> list[str]:
    runs, episodes = load()
    space = walker_space()
    means = GRID.task_means(episodes, space)
    lines = GRID.section(runs, means, "", ("paired_param",), space, env="walker") + trajectory_lines(episodes)
    if write:
        (HERE / "stats.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
