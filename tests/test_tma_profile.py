"""TeachMyAgent's profile chart (experiments/reporting/profile.py) from run directories.

The expected numbers are worked out by hand from TMA's definition (its released
``Results_analysis.ipynb``, ``generate_profile_chart``): ratio = mean over seeds of the
teacher's final % mastered / the same mean of Random; Random's no-expert-knowledge runs
stand in for the low and high levels; "significant" = higher mean and Welch p < 0.05."""

from __future__ import annotations

import math

import pytest
from omegaconf import OmegaConf

from experiments.reporting.profile import plot_tma_profile, tma_profile
from experiments.reporting.runs import collect_runs
from experiments.rundir import RunDir


def tma_run(root, challenge: str, ek: str, teacher: str, seed: int, final: float, env: str = "walker_stumps"):
    experiment = f"tma_{challenge}_ek-{ek}"
    rd = RunDir.for_run(root, experiment, env, teacher, "sac", seed)
    rd.create()
    OmegaConf.save(OmegaConf.create({"name": experiment, "env": {"name": "walker_stumps", "label": env},
                                     "teacher": {"name": teacher}, "student": {"algo": "sac"}, "seed": seed,
                                     "budget": {"steps": 1000}, "expert_knowledge": ek}), rd.config_path)
    rd.write_summary({"state": "finished", "env": env, "teacher": teacher, "student": "sac", "seed": seed,
                      "experiment": experiment, "steps": 1000, "budget_steps": 1000, "final_mastered": final,
                      "auc_mastered": final, "held_out_solved": {}})
    rd.set_status("finished", step=1000)


@pytest.fixture
def profile(tmp_path):
    # rugged, no EK: Random 10, 12, 14 (mean 12); ALP-GMM 30, 32, 34 (mean 32) -> 32/12 = 2.667
    for seed, (r, a) in enumerate([(10, 30), (12, 32), (14, 34)]):
        tma_run(tmp_path, "rugged", "no", "random", seed, r)
        tma_run(tmp_path, "rugged", "no", "alp_gmm", seed, a)
        # SPDL below Random: 6, 6, 6 -> 0.5, not significant (lower mean)
        tma_run(tmp_path, "rugged", "no", "spdl", seed, 6)
        # low EK: no Random run there; ADR 12, 12, 12 over the no-EK Random (12) -> 1.0
        tma_run(tmp_path, "rugged", "low", "adr", seed, 12)
    # variety pools bodies: ALP-GMM spider 20, 20 and small biped 40, 40 -> mean 30;
    # Random spider 10, 10 and small biped 20, 20 -> mean 15: ratio 2.0
    for seed in range(2):
        for body, (r, a) in {"spider": (10, 20), "small_bipedal": (20, 40)}.items():
            tma_run(tmp_path, "variety", "no", "random", seed, r, env=f"walker_stumps_{body}")
            tma_run(tmp_path, "variety", "no", "alp_gmm", seed, a, env=f"walker_stumps_{body}")
    # unfeasible: Random masters nothing -> ALP-GMM's ratio is inf, Covar-GMM's (also 0) NaN
    for seed in range(2):
        tma_run(tmp_path, "unfeasible", "no", "random", seed, 0)
        tma_run(tmp_path, "unfeasible", "no", "alp_gmm", seed, 5)
        tma_run(tmp_path, "unfeasible", "no", "covar_gmm", seed, 0)
    # a run in another folder, left out below (the chart reads what it is given)
    tma_run(tmp_path / "x", "rugged", "no", "alp_gmm", 9, 99)
    runs = collect_runs(tmp_path)
    assert len(runs) == 3 * 4 + 8 + 6 + 1
    runs = runs[~runs["path"].str.contains("/x/")]
    return tma_profile(runs).set_index(["ek", "challenge", "teacher"])


def test_ratio_to_random_by_hand(profile):
    alp = profile.loc[("no", "rugged", "alp_gmm")]
    assert alp["mean"] == 32 and alp["baseline_mean"] == 12 and alp["ratio"] == pytest.approx(32 / 12)
    # Welch's t by hand: variances 4 and 4, 3 seeds each: t = 20 / sqrt(4/3 + 4/3) = 12.247
    assert alp["welch_t"] == pytest.approx(20 / math.sqrt(8 / 3)) and alp["welch_p"] < 0.05 and alp["significant"]
    spdl = profile.loc[("no", "rugged", "spdl")]
    assert spdl["ratio"] == pytest.approx(0.5) and not spdl["significant"]
    assert profile.loc[("no", "rugged", "random"), "ratio"] == 1.0


def test_random_without_expert_knowledge_stands_in_for_other_levels(profile):
    adr = profile.loc[("low", "rugged", "adr")]
    assert adr["baseline_ek"] == "no" and adr["baseline_mean"] == 12 and adr["ratio"] == pytest.approx(1.0)
    assert profile.loc[("low", "rugged", "random"), "baseline_ek"] == "no"


def test_variety_pools_bodies_and_zero_baselines_are_not_numbers(profile):
    assert profile.loc[("no", "variety", "alp_gmm"), "ratio"] == pytest.approx(30 / 15)
    assert profile.loc[("no", "variety", "alp_gmm"), "seeds"] == 4
    assert math.isinf(profile.loc[("no", "unfeasible", "alp_gmm"), "ratio"])
    assert math.isnan(profile.loc[("no", "unfeasible", "covar_gmm"), "ratio"])
    assert math.isnan(profile.loc[("no", "unfeasible", "random"), "ratio"])


def test_chart_draws_one_radar_per_expert_knowledge_level(profile):
    import matplotlib

    matplotlib.use("Agg")
    fig = plot_tma_profile(profile.reset_index())
    polar = [ax for ax in fig.axes if ax.name == "polar"]
    assert [ax.get_title().split("\n")[0] for ax in polar] == ["no expert knowledge", "low expert knowledge"]
    # unfeasible: ALP-GMM (inf), Covar-GMM and Random itself (0/0) are not drawn
    assert "3 cells with Random at 0 left out" in polar[0].get_title()
    assert len(polar[0].get_xticklabels()) == 5  # TMA's five challenges


def test_no_tma_runs_gives_an_empty_profile(tmp_path):
    assert tma_profile(collect_runs(tmp_path)).empty
