"""Claim 2's challenge profile, read back (experiments/results/walker_profile_tma/): Random vs
ALP-GMM on TeachMyAgent's mostly-unfeasible and mostly-trivial stump tracks at 2.5M steps.

The runs must be TMA's challenges (facts of TMA's benchmark script: training heights [0, 9] and
[-3, 3], the old classic biped, and the same 10 x 10 test grid over height [0, 3] x spacing [0, 6]
whatever the training range); every finished run must have trained and its teacher updated; the
seed-paired comparisons are worked out by hand from the per-seed finals; the folder's stats.txt and
reproductions.md quote what its script computes from the raw files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from _tma_walker import assert_tmas_network, tar_members, tar_summaries
from envs.walker.stumps import HEIGHT_RANGES
from experiments.reporting.results_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "experiments" / "results" / "walker_profile_tma"
TARBALLS = {"unfeasible": HERE / "pu_runs.tar.gz", "trivial": HERE / "pt_runs.tar.gz"}


@pytest.fixture(scope="module")
def script():
    return load_script(HERE / "summarise.py")


@pytest.mark.parametrize("challenge, heights", [("unfeasible", (0.0, 9.0)), ("trivial", (-3.0, 3.0))])
def test_the_runs_are_tmas_challenge_with_tmas_ppo(challenge, heights):
    configs = [yaml.safe_load(data) for data in tar_members(TARBALLS[challenge], "/config.yaml")]
    assert sorted((c["teacher"]["name"], c["seed"]) for c in configs) == sorted(
        [("random", s) for s in range(8)] + [("alp_gmm", s) for s in range(4)])
    for c in configs:
        assert c["name"] == f"tma_{challenge}_ek-no" and c["expert_knowledge"] == "no"
        kwargs = c["env"]["kwargs"]
        assert kwargs["body"] == "old_classic_bipedal"  # TMA's challenges run its classic biped
        assert HEIGHT_RANGES[kwargs["height_range"]] == heights  # TMA's --max_stump_h 9 / the [-3, 3] range
        ppo = c["env"]["students"]["ppo"]
        assert c["env"]["n_envs"] * ppo["n_steps"] == 20_000 and (ppo["n_epochs"], ppo["batch_size"]) == (5, 1000)
        assert_tmas_network(c)
        assert (c["budget"]["steps"], c["eval"]["episodes_per_task"]) == (2_500_000, 5)


@pytest.mark.parametrize("challenge", ["unfeasible", "trivial"])
def test_the_test_set_is_tmas_grid_whatever_the_training_range(challenge):
    """TMA scores every challenge on the default range's 100 tasks, 10 heights in [0, 3] x 10
    spacings in [0, 6]; here each played 5 times at the first and the last evaluation."""
    for data in tar_members(TARBALLS[challenge], "/eval/part-000001.parquet")[:2]:
        ev = pd.read_parquet(io.BytesIO(data))
        test = ev[ev["split"] == "test"]
        for _, at in test.groupby("step"):
            assert len(at) == 500 and at["task_index"].nunique() == 100
            assert np.allclose(np.sort(at["task.stump_height"].unique()), np.linspace(0, 3, 10))
            assert np.allclose(np.sort(at["task.stump_spacing"].unique()), np.linspace(0, 6, 10))


@pytest.mark.parametrize("challenge", ["unfeasible", "trivial"])
def test_every_finished_run_trained_and_its_teacher_updated(challenge):
    summaries = tar_summaries(TARBALLS[challenge])
    done = [s for s in summaries if s["state"] == "finished"]
    assert sorted((s["teacher"], s["seed"]) for s in done) == sorted(
        [("random", s) for s in range(8)] + [("alp_gmm", s) for s in range(4)])
    # 2.5M steps / 20k-transition rollouts = 125 rollouts x 5 epochs
    assert {s["gradient_updates"] for s in done} == {625}
    for s in done:
        if s["teacher"] == "alp_gmm":
            d = s["teacher_diagnostics"]
            assert d["n_fits"] >= 5 and d["n_failed_fits"] == 0 and d["updates"] == s["episodes"] > 1_500


def test_the_paired_seeds_worked_out_by_hand(script):
    """Seeds 0-3 of both teachers: ALP-GMM ahead on all four unfeasible seeds, behind on all four
    trivial ones; the ratios of means are (38.2+29.8+30.2+17.0)/(15.0+19.6+2.2+8.0) = 115.2/44.8
    and (8.2+21.8+22.4+16.6)/(28.0+28.6+24.6+19.8) = 69.0/101.0."""
    unfeasible = script.finals(script.load(TARBALLS["unfeasible"])[0])
    trivial = script.finals(script.load(TARBALLS["trivial"])[0])
    r = lambda d, t: [round(d[t][s], 1) for s in range(4)]  # noqa: E731
    assert r(unfeasible, "alp_gmm") == [38.2, 29.8, 30.2, 17.0] and r(unfeasible, "random") == [15.0, 19.6, 2.2, 8.0]
    assert r(trivial, "alp_gmm") == [8.2, 21.8, 22.4, 16.6] and r(trivial, "random") == [28.0, 28.6, 24.6, 19.8]
    assert round(115.2 / 44.8, 2) == 2.57 and round(69.0 / 101.0, 2) == 0.68
    lines = script.main(write=False)
    assert any(line.startswith("seeds 0, 1, 2, 3 of both: ratio 2.57") for line in lines)
    assert any(line.startswith("seeds 0, 1, 2, 3 of both: ratio 0.68") for line in lines)


def test_the_final_score_is_the_share_of_the_last_evaluation_mastered(script):
    """summary.json's final % mastered equals the raw evaluation table's share of the 500 final
    test episodes mastered (two files written apart, read apart)."""
    runs, evals = script.load(TARBALLS["unfeasible"])
    done = runs[runs["state"] == "finished"]
    final = evals[evals["step"] == 2_500_000].groupby(["teacher", "seed"])["mastered"].mean() * 100
    for r in done.itertuples():
        assert final[(r.teacher, r.seed)] == pytest.approx(r.final_mastered, abs=1e-6)


def test_stats_and_the_reproduction_entry_quote_the_script(script):
    lines = script.main(write=False)
    assert (HERE / "stats.txt").read_text().splitlines() == lines
    entry = (ROOT / "experiments" / "results" / "reproductions.md").read_text()
    for needle in ("ratio 3.31 [1.94, 7.45]", "ratio 0.75 [0.48, 1.06]"):
        assert any(needle in line for line in lines)
    assert "3.31 [1.94, 7.45]" in entry and "0.75 [0.48, 1.06]" in entry
