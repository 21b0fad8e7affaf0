"""The walker's baseline rows (``configs/experiment/baseline_walker.yaml``): six teachers at
2.5M steps with 5 evaluation episodes per test task (issue #20), read from ``runs.tar.gz``.

Writes ``stats.txt``:

- each teacher's % of TMA's test grid mastered at 2.5M (per seed, mean ± sd);
- Kendall's tau-b of the means against TeachMyAgent's Table 1 (Parkour, biped column, SAC,
  20M steps), with the seed-bootstrap interval of ``../walker_stumps_teachers/teachers.py``
  (one function for both folders), for the six teachers and for the five that the flagged
  one-episode section also has;
- the same tau against that section's means (``walker_stumps_alpgmm_vs_random``: other runs of
  the same training protocol, one episode per task): does an independent set of runs order the
  teachers the same way?
- both sets of runs pooled (an analysis chosen after seeing both, so exploratory): P(> Random)
  with the two protocols as strata, as the leaderboard treats envs, and as one pool of seeds;
- the walker's lite tier out of sample: the one-episode runs' seeds 0-2 at 1M, 1.5M and 2M
  against these runs' means at 2.5M (independent runs, no seed shared), Kendall's tau-b over
  the teachers both have;
- what one evaluation episode per task costs: for each final evaluation, the % mastered that
  each of the 5 episodes alone would have given (episode k of every task), and the spread of
  those five numbers for one and the same policy. That spread is the noise a one-episode
  protocol (TMA's) adds to every seed's score.

    python experiments/results/walker_baseline/summarise.py          # extracts runs.tar.gz to a temp folder
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from experiments.reporting.analysis import load_evaluations, load_runs, mastery_curves
from experiments.reporting.leaderboard import improvement_interval, keyed_rng
from experiments.reporting.results_scripts import load_script

HERE = Path(__file__).resolve().parent
TEACHERS_SCRIPT = HERE.parent / "walker_stumps_teachers" / "teachers.py"
FINAL = 2_500_000
EPISODES = 5
# TeachMyAgent (Romac et al. 2021), Table 1, Parkour, default biped: mean % mastered after 20M steps (SAC)
TMA_PARKOUR_BIPED = {"alp_gmm": 42.7, "covar_gmm": 35.7, "riac": 31.2, "spdl": 30.6, "setter_solver": 28.8,
                     "random": 27.3, "goal_gan": 25.4, "adr": 14.7}
# the flagged section's runs (one episode per task): claim 2's ALP-GMM and Random, and four more teachers
ONE_EPISODE_TARBALLS = [HERE.parent / "walker_stumps_teachers" / "runs.tar.gz"] + [
    HERE.parent / "walker_stumps_alpgmm_vs_random" / name
    for name in ("claim2_2.5M_runs.tar.gz", "claim2_2.5M_s5-7_runs.tar.gz", "claim2_2.5M_s8-10_runs.tar.gz")]
POOL_REPS = 50_000
# the flagged section's means at 2.5M (one episode per task; ../walker_stumps_teachers/stats.txt, 5-11 seeds)
ONE_EPISODE_SECTION = {"alp_gmm": 30.1, "covar_gmm": 29.2, "riac": 25.2, "random": 25.2, "goal_gan": 20.6, "adr": 18.4}


def extract(tarball: Path, into: Path) -> Path:
    with tarfile.open(tarball) as tar:
        tar.extractall(into, filter="data")
    return into


def finals_by_protocol(tarballs: list[Path]) -> dict[str, dict[str, list[float]]]:
    """teacher -> experiment (the protocol: ``baseline`` or the one-episode section) -> the
    final % mastered of every run at 2.5M steps in ``tarballs``."""
    finals: dict[str, dict[str, list[float]]] = {}
    for tarball in tarballs:
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                if member.name.endswith("/summary.json"):
                    s = json.load(io.BytesIO(tar.extractfile(member).read()))  # type: ignore[union-attr]
                    if s["state"] == "finished" and s["steps"] == FINAL:
                        finals.setdefault(s["teacher"], {}).setdefault(s["experiment"], []).append(s["final_mastered"])
    return finals


def pooled_lines(finals: dict[str, dict[str, list[float]]]) -> list[str]:
    """P(> Random) of each teacher over both sets of runs: the protocols as strata (the
    leaderboard's across-env statistic), and all seeds as one pool."""
    lines = []
    for teacher in sorted(finals, key=lambda t: -np.mean(sum(finals[t].values(), []))):
        if teacher == "random":
            continue
        by, rnd = finals[teacher], finals["random"]
        p, lo, hi, n = improvement_interval(by, rnd, keyed_rng(0, "walker pooled strata", teacher), POOL_REPS)
        q, qlo, qhi, _ = improvement_interval({"all": sum(by.values(), [])}, {"all": sum(rnd.values(), [])},
                                              keyed_rng(0, "walker pooled one", teacher), POOL_REPS)
        seeds = "+".join(str(len(by[e])) for e in sorted(by))
        lines.append(f"pooled {teacher:10s} seeds {seeds:>5s} (random {'+'.join(str(len(rnd[e])) for e in sorted(rnd))}) "
                     f"mean {np.mean(sum(by.values(), [])):5.1f}  P(> random) protocols as strata ({n}) "
                     f"{p:.2f} [{lo:.2f}, {hi:.2f}]  one pool {q:.2f} [{qlo:.2f}, {qhi:.2f}]")
    return lines


def lite_lines(lite_curves: pd.DataFrame, final: pd.DataFrame) -> list[str]:
    """Seeds 0-2 of the one-episode runs at each evaluation from 1M on, ranked against the
    means of this folder's runs at 2.5M."""
    long = final.groupby("teacher")["mastered_pct"].mean()
    lines = []
    for step in sorted(s for s in lite_curves["step"].unique() if 1_000_000 <= s < FINAL):
        lite = lite_curves[(lite_curves["step"] == step) & (lite_curves["seed"] < 3)].groupby("teacher")["mastered_pct"].mean()
        common = [t for t in long.index if t in lite.index]
        result = kendalltau(lite[common], long[common])
        lines.append(f"lite out of sample: one-episode seeds 0-2 at {step} vs this set at {FINAL} ({len(common)} teachers): "
                     f"tau {result.statistic:.2f} (p {result.pvalue:.3f})")
    return lines


def single_episode_scores(evals: pd.DataFrame) -> pd.DataFrame:
    """Per final evaluation of a run: the % of test tasks mastered by episode k alone
    (k = 0..4, the k-th episode each task played), one column per k."""
    final = evals[(evals["split"] == "test") & (evals["step"] == FINAL)].copy()
    final["episode"] = final.groupby(["run", "task_index"]).cumcount()
    table = final.pivot_table(index=["teacher", "seed"], columns="episode", values="mastered", aggfunc="mean") * 100
    return table


def main(tarball: Path = HERE / "runs.tar.gz") -> list[str]:
    teachers = load_script(TEACHERS_SCRIPT)
    with tempfile.TemporaryDirectory() as tmp:
        root = extract(tarball, Path(tmp))
        runs = load_runs(root)
        evals = load_evaluations(runs)
    done = runs[runs["state"] == "finished"]
    curves = mastery_curves(evals)
    final = curves[curves["step"] == FINAL]
    means = final.groupby("teacher")["mastered_pct"].mean().sort_values(ascending=False)
    lines = [f"{len(done)} finished runs; seeds per teacher " + ", ".join(f"{t} {n}" for t, n in done.groupby("teacher").size().items())
             + f"; gradient updates {sorted(set(done['gradient_updates']))}",
             f"evaluation episodes per test task at {FINAL}: "
             + str(sorted(set(evals[(evals['split'] == 'test') & (evals['step'] == FINAL)].groupby(['run', 'task_index']).size())))]
    for teacher, mean in means.items():
        seeds = final[final["teacher"] == teacher].sort_values("seed")["mastered_pct"]
        lines.append(f"{teacher:10s} mean {mean:5.1f} sd {seeds.std(ddof=1):4.1f}  per seed " + " ".join(f"{v:.1f}" for v in seeds))
    rng = np.random.default_rng(0)
    present = {t: v for t, v in TMA_PARKOUR_BIPED.items() if t in means.index}
    point, lo, hi = teachers.bootstrap_tau(final, present, rng)
    lines.append(f"Kendall tau-b vs TMA Table 1 Parkour biped ({len(present)} teachers: {', '.join(present)}): "
                 f"{point:.2f} [{lo:.2f}, {hi:.2f}]")
    common = {t: v for t, v in present.items() if t in ONE_EPISODE_SECTION}
    point, lo, hi = teachers.bootstrap_tau(final, common, rng)
    lines.append(f"Kendall tau-b vs TMA Table 1 Parkour biped ({len(common)} teachers, without SPDL): {point:.2f} [{lo:.2f}, {hi:.2f}]")
    other = {t: v for t, v in ONE_EPISODE_SECTION.items() if t in means.index}
    point, lo, hi = teachers.bootstrap_tau(final, other, rng)
    lines.append(f"Kendall tau-b vs the one-episode section's means ({len(other)} teachers): {point:.2f} [{lo:.2f}, {hi:.2f}]")
    single = single_episode_scores(evals)
    spread = single.max(axis=1) - single.min(axis=1)
    sd = single.std(axis=1, ddof=1)
    lines.append(f"one episode per task instead of {EPISODES}, the same final policy ({len(single)} runs): "
                 f"range of the 5 single-episode scores median {spread.median():.1f} points (min {spread.min():.1f}, "
                 f"max {spread.max():.1f}); their sd median {sd.median():.1f} points; "
                 f"seed sd of the 5-episode scores per teacher median {final.groupby('teacher')['mastered_pct'].std().median():.1f}")
    final_tasks = evals[(evals["split"] == "test") & (evals["step"] == FINAL)]
    per_task = final_tasks.groupby(["run", "task_index"])["mastered"].mean()
    mixed = ((per_task > 0) & (per_task < 1)).groupby(level="run").mean() * 100
    lines.append(f"test tasks mastered in some but not all of the {EPISODES} episodes: median {mixed.median():.1f}% of the "
                 f"100 tasks per run (min {mixed.min():.1f}, max {mixed.max():.1f})")
    lines += pooled_lines(finals_by_protocol([tarball, *ONE_EPISODE_TARBALLS]))
    with tempfile.TemporaryDirectory() as tmp:
        for one in ONE_EPISODE_TARBALLS:
            extract(one, Path(tmp))
        lite_curves = mastery_curves(load_evaluations(load_runs(Path(tmp))))
    lines += lite_lines(lite_curves, final)
    (HERE / "stats.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
