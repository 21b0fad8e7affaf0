"""The walker's baseline protocol with TeachMyAgent's own PPO network (issue #20), read from
``runs.tar.gz``: Random, ALP-GMM, Covar-GMM, RIAC, ADR, SPDL, GoalGAN, Setter-Solver, PLR, PLR⊥,
ACCEL, CLUTR-param and PAIRED-param x seeds 0-4 of ``experiment=baseline_walker`` as it stands since session 17
(``student=ppo_tma``: one 400-300 tanh trunk shared by the policy and value heads), run on the
16-core H200 (Random, ALP-GMM and Covar-GMM in session 18, RIAC, ADR and SPDL in session 19,
GoalGAN, Setter-Solver and PLR in session 22, PLR⊥, ACCEL and CLUTR-param in session 23, PAIRED-param in
session 24).

``../walker_baseline/`` holds the same protocol (2.5M steps, 100 x 200-step rollouts, 5
evaluation episodes per test task, the same seeds and teacher settings) with SB3's default
network (separate 64-64 actor and critic), for the first six teachers. The only difference between
the two sets is the student's network, so the second half of ``stats.txt`` is a network ablation
over those six:

- each teacher's final % of TMA's 100-task test grid mastered: per seed, mean +- sd, IQM with
  its bootstrap interval, P(> Random) with its interval (the leaderboard's statistics:
  ``experiments.reporting.leaderboard``);
- each teacher's ratio of its mean to Random's, TMA's measure, beside Table 1's (Parkour, biped,
  SAC, 20M steps: e.g. ALP-GMM 42.7 / 27.3 = 1.56, ADR 14.7 / 27.3 = 0.54; PLR is not in TMA), and
  Kendall's tau-b of the means against Table 1 (the eight teachers both have, and the six of
  sessions 18-19 for continuity) with the seed-bootstrap interval of
  ``../walker_stumps_teachers/teachers.py`` (Table 1's numbers and that function are read from
  ``../walker_baseline/summarise.py``, one copy each);
- per teacher, TMA's network against SB3's: the difference of means with a seed-bootstrap
  interval and P(a TMA-network seed > a 64-64 seed). The two sets' seeds are not paired (the
  networks draw different initial weights from the same seed), so the comparison is unpaired;
- where on the test grid the teachers differ: per stump height (TMA's grid has 10 heights in
  [0, 3] x 10 spacings in [0, 6]), the share of that row's 10 tasks x 5 episodes mastered, mean
  over seeds with a seed-bootstrap interval, and ``mastery_by_height.png``;
- what the regret teachers did, since their rows mean little without it: PLR⊥ and ACCEL train only
  on replayed levels (dcd's robust update), so the share of the 2.5M transitions that carried a
  gradient; CLUTR-param's and PAIRED-param's generators, their REINFORCE steps and how far their Gaussians' spread moved
  from its start (per-dimension entropy, 0.5 ln(2 pi e) = 1.4189 nats at log-std 0).

    python experiments/results/walker_baseline_tma/summarise.py          # writes stats.txt here
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.reporting.analysis import line_style, load_evaluations, load_runs
from experiments.reporting.leaderboard import BOOTSTRAP_REPS, improvement_interval, iqm_interval, keyed_rng
from experiments.reporting.results_scripts import load_script, unpacked

HERE = Path(__file__).resolve().parent
SB3_NETWORK_RUNS = HERE.parent / "walker_baseline" / "runs.tar.gz"
FINAL = 2_500_000
ROLLOUT = 100 * 200  # baseline_walker's rollout: 100 envs x 200 steps, so FINAL // ROLLOUT = 125 rollouts
REPS = BOOTSTRAP_REPS  # the leaderboard's (rliable's default)
TEACHERS = ("random", "alp_gmm", "covar_gmm", "riac", "adr", "spdl", "goal_gan", "setter_solver", "plr",
            "plr_robust", "accel", "clutr_param", "paired_param")
FIRST_SIX = TEACHERS[:6]  # sessions 18-19's set, the one with 64-64 runs in ../walker_baseline/
SB3_NETWORK = load_script(HERE.parent / "walker_baseline" / "summarise.py")
# TeachMyAgent (Romac et al. 2021), Table 1, Parkour, default biped, SAC, 20M steps: mean % mastered
TMA_PARKOUR_BIPED = {t: v for t, v in SB3_NETWORK.TMA_PARKOUR_BIPED.items() if t in TEACHERS}


def finals(tarball: Path, teachers: tuple[str, ...] = TEACHERS) -> dict[str, list[float]]:
    """teacher -> final % mastered of each finished 2.5M run in ``tarball``, in seed order."""
    out: dict[str, list[tuple[int, float]]] = {}
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            if member.name.endswith("/summary.json"):
                s = json.load(io.BytesIO(tar.extractfile(member).read()))  # type: ignore[union-attr]
                if s["state"] == "finished" and s["steps"] == FINAL and s["teacher"] in teachers:
                    out.setdefault(s["teacher"], []).append((s["seed"], round(s["final_mastered"], 1)))
    return {t: [v for _, v in sorted(out[t])] for t in teachers if t in out}


def diagnostics(tarball: Path) -> dict[str, list[dict]]:
    """teacher -> each finished run's summary (seed order), for the regret teachers' diagnostics."""
    out: dict[str, list[dict]] = {}
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            if member.name.endswith("/summary.json"):
                s = json.load(io.BytesIO(tar.extractfile(member).read()))  # type: ignore[union-attr]
                if s["state"] == "finished" and s["steps"] == FINAL:
                    out.setdefault(s["teacher"], []).append(s)
    return {t: sorted(v, key=lambda s: s["seed"]) for t, v in out.items()}


INITIAL_ENTROPY = 0.5 * (1.0 + np.log(2 * np.pi))  # a unit Gaussian's entropy per dimension (log-std 0)


def regret_teacher_lines(runs: dict[str, list[dict]]) -> list[str]:
    """PLR⊥/ACCEL: share of the transitions trained on and of hand-outs replayed; CLUTR-param and
    PAIRED-param: generator steps and the per-dimension entropy beside its starting value."""
    lines = ["regret teachers (per seed):"]
    for teacher in ("plr_robust", "accel"):
        d = [s["teacher_diagnostics"] for s in runs.get(teacher, [])]
        if d:
            lines.append(f"  {teacher:11s} transitions trained on "
                         + " ".join(f"{x['train_trained_transitions'] / x['train_env_steps']:.2f}" for x in d)
                         + "  rollouts updated " + " ".join(f"{x['train_gradient_updates']}" for x in d)
                         + f" of {FINAL // ROLLOUT}  hand-outs replayed " + " ".join(f"{x['replay_fraction']:.2f}" for x in d))
    d = [s["teacher_diagnostics"] for s in runs.get("clutr_param", [])]
    if d:
        lines.append("  clutr_param generator steps " + " ".join(str(x["generator_updates"]) for x in d)
                     + "  entropy per dimension " + " ".join(f"{x['generator_entropy']:.4f}" for x in d)
                     + f" (start {INITIAL_ENTROPY:.4f})  valid decodes " + " ".join(f"{x['valid_decode_rate']:.3f}" for x in d))
    d = [s["teacher_diagnostics"] for s in runs.get("paired_param", [])]
    if d:
        lines.append("  paired_param generator steps " + " ".join(str(x["generator_updates"]) for x in d)
                     + "  entropy per dimension " + " ".join(f"{x['generator_entropy']:.4f}" for x in d)
                     + f" (start {INITIAL_ENTROPY:.4f})")
    return lines


def network_effect(tma: list[float], sb3: list[float], rng: np.random.Generator) -> tuple[float, float, float]:
    """Mean(TMA network) - mean(SB3 network), with a 95% interval from resampling each set's
    seeds with replacement, independently."""
    a, b = np.asarray(tma), np.asarray(sb3)
    boot = (a[rng.integers(0, len(a), (REPS, len(a)))].mean(axis=1)
            - b[rng.integers(0, len(b), (REPS, len(b)))].mean(axis=1))
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(a.mean() - b.mean()), float(lo), float(hi)


def mastery_by_height(tarball: Path) -> pd.DataFrame:
    """teacher x seed x stump height -> share of the final evaluation's test episodes mastered
    at that height (10 spacings x 5 episodes each)."""
    with unpacked(tarball) as tmp:
        evals = load_evaluations(load_runs(tmp))
    final = evals[(evals["split"] == "test") & (evals["step"] == FINAL)]
    final = final.assign(height=final["task.stump_height"].round(2))
    return final.groupby(["teacher", "seed", "height"])["mastered"].mean().rename("share").reset_index()


def height_lines(shares: pd.DataFrame) -> list[str]:
    """Per stump height, each teacher's mean share mastered over seeds [seed-bootstrap 95%]."""
    lines = ["share of test episodes mastered per stump height (10 spacings x 5 episodes; mean over seeds [95% CI]):"]
    for height, at in shares.groupby("height"):
        cells = []
        for teacher in TEACHERS:
            v = at[at["teacher"] == teacher]["share"].to_numpy()
            rng = keyed_rng(0, "walker tma height", teacher, height)
            boot = v[rng.integers(0, len(v), (REPS, len(v)))].mean(axis=1)
            lo, hi = np.percentile(boot, [2.5, 97.5])
            cells.append(f"{teacher} {v.mean():.2f} [{lo:.2f}, {hi:.2f}]")
        lines.append(f"  height {height:4.2f}: " + "  ".join(cells))
    return lines


def plot_by_height(shares: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for k, teacher in enumerate(TEACHERS):  # one colour per teacher: matplotlib's default cycle repeats after ten
        per = shares[shares["teacher"] == teacher].groupby("height")["share"]
        mean, lo, hi = per.mean(), per.min(), per.max()
        style = line_style(k)
        ax.plot(mean.index, mean.to_numpy(), marker="o", label=teacher, **style)
        ax.fill_between(mean.index, lo.to_numpy(), hi.to_numpy(), alpha=0.08, color=style["color"])
    ax.set_xlabel("stump height (TMA's test grid)")
    ax.set_ylabel("share of test episodes mastered")
    ax.set_title("walker, TMA's PPO network, 2.5M steps: mean over 5 seeds (band: min-max)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(tarball: Path = HERE / "runs.tar.gz", write: bool = True) -> list[str]:
    ours, sb3 = finals(tarball), finals(SB3_NETWORK_RUNS)
    lines = [f"TMA's 400-300 shared network, baseline_walker, {FINAL} steps: "
             + ", ".join(f"{t} {len(v)} seeds" for t, v in ours.items())]
    for teacher in sorted(ours, key=lambda t: -np.mean(ours[t])):
        v = ours[teacher]
        point, lo, hi = iqm_interval({"walker": v}, keyed_rng(0, "walker tma iqm", teacher), REPS)
        line = (f"{teacher:10s} mean {np.mean(v):5.1f} sd {np.std(v, ddof=1):4.1f}  IQM {point:5.1f} [{lo:.1f}, {hi:.1f}]"
                f"  per seed " + " ".join(f"{x:.1f}" for x in v))
        if teacher != "random":
            p, plo, phi, _ = improvement_interval({"walker": v}, {"walker": ours["random"]},
                                                  keyed_rng(0, "walker tma p", teacher), REPS)
            ratio = np.mean(v) / np.mean(ours["random"])
            published = (f"{TMA_PARKOUR_BIPED[teacher] / TMA_PARKOUR_BIPED['random']:.2f}"
                         if teacher in TMA_PARKOUR_BIPED else "not in Table 1")
            line += f"  P(> random) {p:.2f} [{plo:.2f}, {phi:.2f}]  ratio to random {ratio:.2f} (TMA {published})"
        lines.append(line)
    order = sorted(ours, key=lambda t: -np.mean(ours[t]))
    published = sorted(TMA_PARKOUR_BIPED, key=lambda t: -TMA_PARKOUR_BIPED[t])
    lines.append(f"order of means: {' > '.join(order)}; TMA Table 1: {' > '.join(published)}")
    tau = load_script(SB3_NETWORK.TEACHERS_SCRIPT).bootstrap_tau
    final = pd.DataFrame([(t, x) for t, v in ours.items() for x in v], columns=["teacher", "mastered_pct"])
    point, lo, hi = tau(final, TMA_PARKOUR_BIPED, np.random.default_rng(0))
    lines.append(f"Kendall tau-b vs TMA Table 1 Parkour biped ({len(TMA_PARKOUR_BIPED)} teachers): {point:.2f} [{lo:.2f}, {hi:.2f}]")
    six = {t: v for t, v in TMA_PARKOUR_BIPED.items() if t in FIRST_SIX}
    point, lo, hi = tau(final[final["teacher"].isin(FIRST_SIX)], six, np.random.default_rng(0))  # as before session 22
    lines.append(f"Kendall tau-b vs TMA Table 1, sessions 18-19's {len(six)} teachers: {point:.2f} [{lo:.2f}, {hi:.2f}]")
    sb3_means = {t: float(np.mean(v)) for t, v in sb3.items() if t in ours}
    point, lo, hi = tau(final[final["teacher"].isin(sb3_means)], sb3_means, np.random.default_rng(1))
    lines.append(f"Kendall tau-b vs the 64-64 network's means ({len(sb3_means)} teachers): {point:.2f} [{lo:.2f}, {hi:.2f}]")
    lines.append("network ablation: the same protocol and seeds with SB3's 64-64 network (../walker_baseline/runs.tar.gz)")
    for teacher in FIRST_SIX:
        diff, lo, hi = network_effect(ours[teacher], sb3[teacher], keyed_rng(0, "walker network diff", teacher))
        p, plo, phi, _ = improvement_interval({"walker": ours[teacher]}, {"walker": sb3[teacher]},
                                              keyed_rng(0, "walker network p", teacher), REPS)
        lines.append(f"{teacher:10s} TMA network {np.mean(ours[teacher]):5.1f} vs 64-64 {np.mean(sb3[teacher]):5.1f}: "
                     f"difference {diff:+.1f} [{lo:+.1f}, {hi:+.1f}]  P(TMA network seed > 64-64 seed) {p:.2f} [{plo:.2f}, {phi:.2f}]")
    both = {t: ours[t] for t in FIRST_SIX}
    all_tma, all_sb3 = sum(both.values(), []), sum((sb3[t] for t in both), [])
    p, plo, phi, n = improvement_interval(both, {t: sb3[t] for t in both}, keyed_rng(0, "walker network strata"), REPS)
    lines.append(f"all {len(both)} teachers ({len(all_tma)} vs {len(all_sb3)} runs), teachers as strata: mean "
                 f"{np.mean(all_tma):.1f} vs {np.mean(all_sb3):.1f}, P(TMA network > 64-64) {p:.2f} [{plo:.2f}, {phi:.2f}]")
    lines += regret_teacher_lines(diagnostics(tarball))
    shares = mastery_by_height(tarball)
    lines += height_lines(shares)
    if write:
        (HERE / "stats.txt").write_text("\n".join(lines) + "\n")
        plot_by_height(shares, HERE / "mastery_by_height.png")
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
