"""The regret designer's update on the gridworld (issue #20): PAIRED-param and CLUTR-param with
the REINFORCE generator (the leaderboard's rows) against dcd's walker adversary PPO update
(``teacher.params.update=ppo``, lr 3e-4), read from ``runs.tar.gz``.

Both sets and Random are rerun here with the same code, on the same 2-core machine, at the
gridworld baseline protocol (``experiment=baseline_gridworld``: 300k steps, 5 evaluation
episodes per test task, seeds 0-4), so that the only difference between a teacher's two rows
is the generator's update. For each teacher config (a name and its update):

- final % of the 50 test tasks mastered: per seed, mean +- sd, IQM with its bootstrap
  interval, P(> Random) with its interval (the leaderboard's statistics), and P(PPO > REINFORCE)
  for each teacher;
- whether the designer acted: generator updates, the generator's per-dimension entropy (a
  unit Gaussian's is 0.5 ln(2 pi e) = 1.4189), and where its levels went: the mean of each task
  dimension (scaled to [0, 1] on the env's TaskSpace) over the last fifth of each run's steps
  (the protagonist's episodes), beside Random's, with a seed-bootstrap interval.

    python experiments/results/designer_update_gridworld/summarise.py     # writes stats.txt here
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from envs.gridworld.generate import maze_task_space
from envs.task_space import TaskSpace
from experiments.reporting.analysis import load_episodes, load_runs, sampling_summary
from experiments.reporting.leaderboard import BOOTSTRAP_REPS, improvement_interval, iqm_interval, keyed_rng
from experiments.reporting.results_scripts import unpacked

HERE = Path(__file__).resolve().parent
UNIT_GAUSSIAN_ENTROPY = 0.5 * (1.0 + np.log(2 * np.pi))
PHASES = 5  # the levels' place is read in the last fifth of each run's steps


def label(teacher: str, experiment: str) -> str:
    """``random`` (``random_1m``), or ``<teacher>/<update>`` (``.../<update>_1m``)."""
    if teacher == "random":
        return "random" + ("_1m" if experiment.endswith("_1m") else "")
    return f"{teacher}/{experiment.removeprefix('designer_')}"


def load(tarball: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, episodes) of every finished run in the tarball."""
    with unpacked(tarball) as tmp:
        runs = load_runs(tmp)
        episodes = load_episodes(runs)
        runs["teacher_diagnostics"] = [json.loads((Path(p) / "summary.json").read_text()).get("teacher_diagnostics", {})
                                       if state == "finished" else {} for p, state in zip(runs["path"], runs["state"])]
    return runs, episodes


def task_means(episodes: pd.DataFrame, space: TaskSpace | None = None) -> pd.DataFrame:
    """Per run: the mean of each task dimension over the last fifth of its steps
    (:func:`~experiments.reporting.analysis.sampling_summary`'s last of 5 phases), scaled to
    [0, 1] on the env's TaskSpace (``space``, the maze's by default; a linear map, so the mean
    of the scaled tasks). The tarball's episode tables hold only that fifth, and only the
    columns read here."""
    space = space if space is not None else maze_task_space()
    summary = sampling_summary(episodes, phases=PHASES, by=("teacher", "experiment", "seed"))
    late = summary[summary["phase"] == PHASES - 1]
    out = pd.DataFrame({"row": [label(t, e) for t, e in zip(late["teacher"], late["experiment"])],
                        "seed": late["seed"].to_numpy()})
    for dim in space.dims:
        out[dim.name] = ((late[f"{dim.name}_mean"] - dim.low) / (dim.high - dim.low)).to_numpy()
    return out


def section(runs: pd.DataFrame, means: pd.DataFrame, suffix: str, teachers: tuple[str, ...],
            space: TaskSpace | None = None, env: str = "gridworld") -> list[str]:
    """The statistics of one budget's set: runs named ``designer_<update><suffix>`` (and Random's
    ``designer_reinforce<suffix>``) on ``env``, whose TaskSpace is ``space`` (the maze's by
    default). A row without episode tables (Random's walker runs) is said to be uniform: 0.5 in
    every scaled dimension, by construction."""
    space = space if space is not None else maze_task_space()
    rows = [("random", f"designer_reinforce{suffix}")] + [(t, f"designer_{u}{suffix}") for t in teachers
                                                           for u in ("reinforce", "ppo")]
    finals = {label(t, e): runs[(runs["teacher"] == t) & (runs["experiment"] == e)].sort_values("seed")["final_mastered"]
              .round(1).tolist() for t, e in rows}
    budget = int(runs[runs["experiment"] == rows[0][1]]["budget_steps"].iloc[0])
    rnd = label(*rows[0])
    lines = [f"{env} baseline protocol ({budget // 1000}k steps, 5 episodes per test task), final % of the test set mastered:"]
    for row, v in finals.items():
        point, lo, hi = iqm_interval({env: v}, keyed_rng(0, "designer iqm", row), BOOTSTRAP_REPS)
        line = (f"{row:25s} seeds {len(v)}  mean {np.mean(v):5.1f} sd {np.std(v, ddof=1):4.1f}  IQM {point:5.1f} "
                f"[{lo:.1f}, {hi:.1f}]  per seed " + " ".join(f"{x:.1f}" for x in v))
        if row != rnd:
            p, plo, phi, _ = improvement_interval({"g": v}, {"g": finals[rnd]}, keyed_rng(0, "designer p", row),
                                                  BOOTSTRAP_REPS)
            line += f"  P(> random) {p:.2f} [{plo:.2f}, {phi:.2f}]"
        lines.append(line)
    for teacher in teachers:
        p, plo, phi, _ = improvement_interval({"g": finals[f"{teacher}/ppo{suffix}"]},
                                              {"g": finals[f"{teacher}/reinforce{suffix}"]},
                                              keyed_rng(0, "designer ppo vs reinforce", teacher + suffix), BOOTSTRAP_REPS)
        lines.append(f"{teacher}{suffix}: P(PPO seed > REINFORCE seed) {p:.2f} [{plo:.2f}, {phi:.2f}]")
    lines.append(f"the designer (per seed): generator updates, per-dimension entropy (start {UNIT_GAUSSIAN_ENTROPY:.4f})")
    for teacher, experiment in rows[1:]:
        sub = runs[(runs["teacher"] == teacher) & (runs["experiment"] == experiment)].sort_values("seed")
        diag = sub["teacher_diagnostics"].tolist()
        lines.append(f"  {label(teacher, experiment):25s} updates " + " ".join(str(d["generator_updates"]) for d in diag)
                     + "  entropy " + " ".join(f"{d['generator_entropy']:.4f}" for d in diag))
    lines.append("where the levels went: mean task dimension in [0, 1] over the last fifth of steps, mean over seeds "
                 "[95% seed bootstrap]")
    for row in finals:
        at = means[means["row"] == row]
        if at.empty:
            lines.append(f"  {row:25s} no episode tables: uniform over the space, 0.50 in every dimension by construction")
            continue
        cells = []
        for dim in space.names:
            v = at[dim].to_numpy()
            boot = v[keyed_rng(0, "designer dim", row, dim).integers(0, len(v), (BOOTSTRAP_REPS, len(v)))].mean(axis=1)
            lo, hi = np.percentile(boot, [2.5, 97.5])
            cells.append(f"{dim} {v.mean():.2f} [{lo:.2f}, {hi:.2f}]")
        lines.append(f"  {row:25s} " + "  ".join(cells))
    return lines


def main(tarball: Path = HERE / "runs.tar.gz", write: bool = True) -> list[str]:
    runs, episodes = load(tarball)
    runs = runs[runs["state"] == "finished"]
    means = task_means(episodes)
    lines = section(runs, means, "", ("paired_param", "clutr_param"))
    if (runs["experiment"] == "designer_ppo_1m").any():  # the budget extension: 1M steps
        at_1m = runs[runs["experiment"] == "designer_ppo_1m"]["teacher"]
        lines += section(runs, means, "_1m", tuple(t for t in ("paired_param", "clutr_param") if (at_1m == t).any()))
    if write:
        (HERE / "stats.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
