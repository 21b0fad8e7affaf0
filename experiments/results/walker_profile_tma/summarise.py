"""Claim 2's challenge profile (issue #20): TeachMyAgent's ratio of ALP-GMM's mean % mastered to
Random's, on two of its five stump-track challenges, read from the runs this folder keeps.

TeachMyAgent (Romac et al. 2021) trains each teacher on each challenge for 20M steps with 16 seeds
and scores every run on the same 100-task test grid (stump height [0, 3] x spacing [0, 6]),
whatever the training range. Its profile for ALP-GMM without expert knowledge is about 2.4 on
the mostly-unfeasible task space (heights [0, 9]) and about 2.4 on the mostly-trivial one
(heights [-3, 3]), significant on both (docs/references.md#teachmyagent).

Ours: ``experiment=tma_unfeasible`` and ``experiment=tma_trivial`` at claim 2's budget (2.5M
steps, 1/8 of TMA's), PPO with TMA's shared 400-300 network (``student=ppo_tma``; TMA's own
profile is for SAC), 100 envs x 200-step rollouts, the test grid played at the start and at the
end with 5 episodes per task, seeds 0-7 (``pu_runs.tar.gz``: unfeasible, ``pt_runs.tar.gz``:
trivial). ALP-GMM is the corl2019 preset, as in claim 2 (TMA ran the tma2021 preset). The
command is ``benchmarks/device_profile_call.sh``; each run's ``config.yaml`` sits in the tarball.

What this script prints, per challenge:

- each teacher's finished runs: per-seed final % mastered, mean +- sd, IQM with its bootstrap
  interval, and the mean % at the first evaluation (step 100: the untrained student);
- ALP-GMM against Random: P(ALP-GMM seed > Random seed) with its interval (the leaderboard's
  statistic), the ratio of means with a 95% interval from resampling each teacher's seeds with
  replacement, Welch's t-test p as TMA's notebook uses it (``experiments/reporting/profile.py``),
  and the same on the seeds both teachers finished (paired by seed number);
- per stump height of the test grid, each teacher's share of final test episodes mastered.

    python experiments/results/walker_profile_tma/summarise.py    # writes stats.txt and profile.png here
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from experiments.reporting.analysis import load_evaluations, load_runs
from experiments.reporting.leaderboard import BOOTSTRAP_REPS, improvement_interval, iqm_interval, keyed_rng
from experiments.reporting.profile import CHALLENGES, plot_tma_profile, tma_profile
from experiments.reporting.results_scripts import unpacked

HERE = Path(__file__).resolve().parent
TARBALLS = {"unfeasible": HERE / "pu_runs.tar.gz", "trivial": HERE / "pt_runs.tar.gz"}
TEACHERS = ("random", "alp_gmm")
FINAL = 2_500_000
REPS = BOOTSTRAP_REPS
# TeachMyAgent's profile for ALP-GMM without expert knowledge (mean % mastered / Random's), 20M steps x 16 seeds
TMA_RATIO = {"unfeasible": 2.4, "trivial": 2.4}


def load(tarball: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs table (one row per run, finished or not) and every test-set evaluation row."""
    with unpacked(tarball) as tmp:
        runs = load_runs(tmp)
        evals = load_evaluations(runs)
    return runs, evals[evals["split"] == "test"]


def finals(runs: pd.DataFrame) -> dict[str, dict[int, float]]:
    """teacher -> seed -> final % mastered, for the runs that finished the 2.5M steps."""
    done = runs[(runs["state"] == "finished") & (runs["steps"] == FINAL)]
    return {t: {int(r.seed): float(r.final_mastered) for r in done[done["teacher"] == t].itertuples()}
            for t in TEACHERS}


def ratio_interval(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    """mean(x) / mean(y), with a 95% interval from resampling each set's seeds independently."""
    bx = x[rng.integers(0, len(x), (REPS, len(x)))].mean(axis=1)
    by = y[rng.integers(0, len(y), (REPS, len(y)))].mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = np.where(by > 0, bx / np.where(by > 0, by, 1.0), np.inf)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(x.mean() / y.mean()), float(lo), float(hi)


def comparison(alp: np.ndarray, rnd: np.ndarray, key: str) -> str:
    p, plo, phi, _ = improvement_interval({"walker": alp}, {"walker": rnd}, keyed_rng(0, "profile p", key), REPS)
    r, rlo, rhi = ratio_interval(alp, rnd, keyed_rng(0, "profile ratio", key))
    return f"ratio {r:.2f} [{rlo:.2f}, {rhi:.2f}]  P(alp_gmm > random) {p:.2f} [{plo:.2f}, {phi:.2f}]"


def challenge_lines(challenge: str, runs: pd.DataFrame, evals: pd.DataFrame) -> list[str]:
    scores = finals(runs)
    first = evals[evals["step"] == evals["step"].min()]
    lines = [f"== {challenge} (experiment=tma_{challenge}, {FINAL} steps; TMA's ALP-GMM ratio ~{TMA_RATIO[challenge]}, "
             "20M steps x 16 seeds, SAC) =="]
    for teacher in TEACHERS:
        by_seed = scores[teacher]
        v = np.array(list(by_seed.values()))
        point, lo, hi = iqm_interval({"walker": v}, keyed_rng(0, "profile iqm", challenge, teacher), REPS)
        unfinished = runs[(runs["teacher"] == teacher) & (runs["state"] != "finished")]
        start = first[first["teacher"] == teacher]["mastered"].mean() * 100
        lines.append(f"{teacher:8s} {len(v)} seeds ({', '.join(map(str, by_seed))}): mean {v.mean():5.1f} sd "
                     f"{v.std(ddof=1):4.1f}  IQM {point:5.1f} [{lo:.1f}, {hi:.1f}]  per seed "
                     + " ".join(f"{x:.1f}" for x in v) + f"  | at step {int(first['step'].min())}: {start:.1f}%"
                     + (f"  | {len(unfinished)} runs not finished" if len(unfinished) else ""))
    alp, rnd = (np.array(list(scores[t].values())) for t in ("alp_gmm", "random"))
    lines.append(f"all finished seeds: {comparison(alp, rnd, challenge)}")
    shared = sorted(set(scores["alp_gmm"]) & set(scores["random"]))
    a = np.array([scores["alp_gmm"][s] for s in shared])
    b = np.array([scores["random"][s] for s in shared])
    lines.append(f"seeds {', '.join(map(str, shared))} of both: {comparison(a, b, challenge + ' shared')}"
                 f"  (ALP-GMM ahead on {int((a > b).sum())} of {len(shared)} seeds)")
    final = evals[evals["step"] == FINAL]
    final = final.assign(height=final["task.stump_height"].round(2))
    shares = final.groupby(["teacher", "seed", "height"])["mastered"].mean().groupby(["teacher", "height"]).mean()
    lines.append("share of final test episodes mastered per stump height (mean over seeds): "
                 + "  ".join(f"{h:.2f}: " + "/".join(f"{shares.get((t, h), np.nan):.2f}" for t in TEACHERS)
                             for h in sorted(final["height"].unique()))
                 + "  (random/alp_gmm)")
    return lines


def main(write: bool = True) -> list[str]:
    lines: list[str] = []
    every = []
    for challenge, tarball in TARBALLS.items():
        runs, evals = load(tarball)
        lines += challenge_lines(challenge, runs, evals)
        every.append(runs)
    profile = tma_profile(pd.concat(every, ignore_index=True))
    lines.append("TMA's profile cells (experiments/reporting/profile.py; Welch's t-test as in TMA's notebook):")
    for r in profile[profile["teacher"] == "alp_gmm"].itertuples():
        lines.append(f"  {r.challenge:10s} alp_gmm {r.mean:5.1f} ({r.seeds} seeds) / random {r.baseline_mean:5.1f} "
                     f"({r.baseline_seeds} seeds) = {r.ratio:.2f}  Welch p {r.welch_p:.2g}  significant {r.significant}")
    if write:
        (HERE / "stats.txt").write_text("\n".join(lines) + "\n")
        import matplotlib

        matplotlib.use("Agg")
        fig = plot_tma_profile(profile, levels=("no",))
        ax = fig.axes[0]  # TMA's published ALP-GMM cells beside ours, on the two axes we ran
        angles = np.linspace(0.0, 2 * np.pi, len(CHALLENGES), endpoint=False)
        ax.plot([angles[CHALLENGES.index(c)] for c in TMA_RATIO], list(TMA_RATIO.values()), "kx", markersize=8,
                label="TMA's ALP-GMM (SAC, 20M steps)")
        for old in list(fig.legends):
            old.remove()
        fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=8)
        fig.suptitle("ALP-GMM / Random: PPO with TMA's network, 2.5M steps\n(the other 3 challenges were not run)",
                     fontsize=9)
        fig.subplots_adjust(top=0.80, bottom=0.14)
        fig.savefig(HERE / "profile.png", dpi=110)
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
