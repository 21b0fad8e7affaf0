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
        [("random", s) for s in range(8)] + [("alp_gmm", s) for s in range(8)])
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
        [("random", s) for s in range(8)] + [("alp_gmm", s) for s in range(8)])
    # 2.5M steps / 20k-transition rollouts = 125 rollouts x 5 epochs
    assert {s["gradient_updates"] for s in done} == {625}
    for s in done:
        if s["teacher"] == "alp_gmm":
            d = s["teacher_diagnostics"]
            assert d["n_fits"] >= 5 and d["n_failed_fits"] == 0 and d["updates"] == s["episodes"] > 1_500


def test_the_paired_seeds_worked_out_by_hand(script):
    """Seeds 0-7 of both teachers: ALP-GMM ahead on all eight unfeasible seeds and on one trivial
    seed (5: 25.0 vs 11.2); the ratios of means are 234.2 / 69.6 and 151.2 / 183.4, and on the
    unfeasible space ALP-GMM's 17.0 loses only to Random's 19.6, so P(ALP-GMM > Random) = 63/64."""
    unfeasible = script.finals(script.load(TARBALLS["unfeasible"])[0])
    trivial = script.finals(script.load(TARBALLS["trivial"])[0])
    r = lambda d, t: [round(d[t][s], 1) for s in range(8)]  # noqa: E731
    assert r(unfeasible, "alp_gmm") == [38.2, 29.8, 30.2, 17.0, 32.4, 32.2, 30.6, 23.8]
    assert r(unfeasible, "random") == [15.0, 19.6, 2.2, 8.0, 0.0, 11.6, 12.8, 0.4]
    assert r(trivial, "alp_gmm") == [8.2, 21.8, 22.4, 16.6, 15.0, 25.0, 29.6, 12.6]
    assert r(trivial, "random") == [28.0, 28.6, 24.6, 19.8, 25.6, 11.2, 29.8, 15.8]
    assert round(234.2 / 69.6, 2) == 3.36 and round(151.2 / 183.4, 2) == 0.82 and round(63 / 64, 2) == 0.98
    wins = sum(a > b for a in r(unfeasible, "alp_gmm") for b in r(unfeasible, "random"))
    assert wins == 63
    lines = script.main(write=False)
    assert any(line.startswith("seeds 0, 1, 2, 3, 4, 5, 6, 7 of both: ratio 3.36") and "ahead on 8 of 8" in line
               for line in lines)
    assert any(line.startswith("seeds 0, 1, 2, 3, 4, 5, 6, 7 of both: ratio 0.82") and "ahead on 1 of 8" in line
               for line in lines)
    assert any(line.startswith("all finished seeds: ratio 3.36") and "P(alp_gmm > random) 0.98" in line
               for line in lines)


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
    for needle in ("ratio 3.36 [2.12, 7.38]", "ratio 0.82 [0.60, 1.12]"):
        assert any(needle in line for line in lines)
    assert "3.36 [2.12, 7.38]" in entry and "0.82 [0.60, 1.12]" in entry
    readme = (HERE / "README.md").read_text()
    assert "| 3.36 [2.12, 7.38] | 0.98 [0.91, 1.00] |" in readme and "| 0.82 [0.60, 1.12] | 0.33 [0.08, 0.62] |" in readme
