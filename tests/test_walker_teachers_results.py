"""The six-teacher walker runs, read back (experiments/results/walker_stumps_teachers/): claim 2b
(the ordering of teachers on TeachMyAgent's stump tracks) and the walker's lite tier.

The runs must use TeachMyAgent's PPO and test protocol (facts of TMA's code and paper, not our
defaults); P(ADR > Random) is worked out by hand from the per-seed finals; the order is compared
with TMA's Table 1 (Parkour, biped); and the README's lite-tier numbers are recomputed from the
runs' own evaluations by the folder's script."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import kendalltau

from _tma_walker import assert_sb3s_default_network, assert_tmas_ppo_settings_on_the_default_biped
from experiments.reporting.results_scripts import load_script

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"
HERE = RESULTS / "walker_stumps_teachers"
CLAIM2 = RESULTS / "walker_stumps_alpgmm_vs_random"
CLAIM2_TARBALLS = ("claim2_2.5M_runs.tar.gz", "claim2_2.5M_s5-7_runs.tar.gz", "claim2_2.5M_s8-10_runs.tar.gz")
NEW = ("riac", "covar_gmm", "goal_gan", "adr")


def _members(tarball: Path, suffix: str) -> list[tuple[str, bytes]]:
    with tarfile.open(tarball) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()  # type: ignore[union-attr]
                if m.name.endswith(suffix)]


@pytest.fixture(scope="module")
def summaries() -> list[dict]:
    found = []
    for tarball in [HERE / "runs.tar.gz", *(CLAIM2 / t for t in CLAIM2_TARBALLS)]:
        found += [json.load(io.BytesIO(data)) for _, data in _members(tarball, "/summary.json")]
    return found


def _finals(summaries: list[dict], teacher: str) -> list[float]:
    return [round(s["final_mastered"], 1) for s in sorted(summaries, key=lambda s: s["seed"]) if s["teacher"] == teacher]


def test_the_new_runs_used_teachmyagents_ppo_and_test_protocol():
    configs = [yaml.safe_load(data) for _, data in _members(HERE / "runs.tar.gz", "/config.yaml")]
    assert sorted((c["teacher"]["name"], c["seed"]) for c in configs) == sorted((t, s) for t in NEW for s in range(5))
    for c in configs:
        assert_tmas_ppo_settings_on_the_default_biped(c)
        assert_sb3s_default_network(c)  # not TMA's shared 400-300 network: the README says so
        # TMA's test protocol: the test grid every 500k steps, one episode per task
        assert (c["budget"]["steps"], c["eval"]["every"], c["eval"]["episodes_per_task"]) == (2_500_000, 500_000, 1)
        assert c["name"] == "walker_stumps_alpgmm_vs_random"  # claim 2's preset, as its ALP-GMM and Random runs
    expert = {c["teacher"]["name"]: c["teacher"]["params"].get("expert") for c in configs}
    # TMA's expert knowledge on the stump tracks: ADR's thresholds 0 / 180, mastered = return > 230,
    # and the easy task (no stumps, the widest spacing)
    assert expert["adr"]["reward_thresholds"] == [0.0, 180.0]
    assert expert["adr"]["initial"]["mean"] == {"stump_height": 0.0, "stump_spacing": 6.0}
    assert expert["goal_gan"]["success"] == 230.0


def test_every_run_finished_and_trained(summaries):
    assert len(summaries) == 42
    assert {s["state"] for s in summaries} == {"finished"}
    # 2.5M steps / 20k-transition rollouts = 125 rollouts, x 5 epochs of one pass each = 625 updates
    assert {s["gradient_updates"] for s in summaries} == {625}
    assert {s["teacher"]: sum(1 for x in summaries if x["teacher"] == s["teacher"]) for s in summaries} == \
        {"alp_gmm": 11, "random": 11, "riac": 5, "covar_gmm": 5, "goal_gan": 5, "adr": 5}


def test_adr_is_below_random_worked_out_by_hand(summaries):
    adr, rnd = _finals(summaries, "adr"), _finals(summaries, "random")
    assert adr == [17.0, 20.0, 17.0, 15.0, 23.0]
    assert rnd == [18.0, 23.0, 26.0, 32.0, 31.0, 22.0, 34.0, 19.0, 32.0, 21.0, 19.0]
    # pairs an ADR seed wins (ties half): 17 none; 20 > 18, 19, 19 (3); 17 none; 15 none;
    # 23 > 18, 22, 19, 21, 19 (5) and ties 23 (0.5) -> 8.5 of 55
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in adr for b in rnd)
    assert wins == 8.5 and round(wins / 55, 2) == 0.15
    board = (HERE / "six_teachers_leaderboard.md").read_text()
    assert "| walker_stumps | ppo | adr | 5 | 18.4 ± 3.1 |" in board and "| 0.15 [0.00, 0.41] | below |" in board


def test_the_means_follow_tmas_parkour_biped_order(summaries):
    means = {t: float(np.mean(_finals(summaries, t))) for t in ("alp_gmm", "covar_gmm", "riac", "random", "goal_gan", "adr")}
    # TMA Table 1, Parkour, biped: ALP-GMM 42.7, Covar-GMM 35.7, RIAC 31.2, Random 27.3, GoalGAN 25.4, ADR 14.7
    tma = {"alp_gmm": 42.7, "covar_gmm": 35.7, "riac": 31.2, "random": 27.3, "goal_gan": 25.4, "adr": 14.7}
    assert kendalltau([means[t] for t in tma], list(tma.values())).statistic == pytest.approx(1.0)
    # RIAC's place above Random is 0.02 points: 126 / 5 against 277 / 11
    assert means["riac"] == pytest.approx(126 / 5) and means["random"] == pytest.approx(277 / 11)
    assert 0 < means["riac"] - means["random"] < 0.03


@pytest.fixture(scope="module")
def script():
    return load_script(HERE / "teachers.py")


@pytest.fixture(scope="module")
def curves(tmp_path_factory):
    """Every evaluation of the 42 runs, from the committed tarballs, as teachers.py reads them."""
    from experiments.reporting.analysis import load_evaluations, load_runs, mastery_curves

    root = tmp_path_factory.mktemp("walk6")
    for tarball in [HERE / "runs.tar.gz", *(CLAIM2 / t for t in CLAIM2_TARBALLS)]:
        with tarfile.open(tarball) as tar:
            tar.extractall(root, filter="data")
    return mastery_curves(load_evaluations(load_runs(root)))


def test_the_readme_quotes_what_the_script_computes(script, curves):
    lines = script.lite_lines(curves)
    stats = (HERE / "stats.txt").read_text().splitlines()
    assert all(line in stats for line in lines)
    by_step = {int(line.split()[0]): line.split() for line in lines[3:]}
    # seeds 0-2 against the other seeds at 2.5M: the README's lite-tier table
    assert [by_step[s][3] for s in (1_000_100, 1_500_100, 2_000_100)] == ["-0.41", "0.14", "0.73"]
    readme = (HERE / "README.md").read_text()
    assert "| 2M | 1.00 (0.003) | 0.73 (0.056) | yes (ALP-GMM) |" in readme


@pytest.mark.slow
def test_the_tau_intervals_are_what_the_script_computes(script, curves):
    final = curves[curves["step"] == script.FINAL]
    rng = np.random.default_rng(0)  # main()'s stream, in main()'s order
    corl = script.bootstrap_tau(final, script.CORL2019, rng)
    tma = script.bootstrap_tau(final, script.TMA_PARKOUR_BIPED, rng)
    five = script.bootstrap_tau(final[final["seed"] < 5], script.TMA_PARKOUR_BIPED, rng)
    stats = (HERE / "stats.txt").read_text()
    assert f"(6 teachers): {tma[0]:.2f} [{tma[1]:.2f}, {tma[2]:.2f}]" == "(6 teachers): 1.00 [0.60, 1.00]"  # the README's
    assert "(6 teachers): 1.00 [0.60, 1.00]" in stats
    assert f"(4 teachers): {corl[0]:.2f} [{corl[1]:.2f}, {corl[2]:.2f}]" in stats
    assert f"seeds 0-4 only: {five[0]:.2f} [{five[1]:.2f}, {five[2]:.2f}]" in stats


def test_the_vectorised_tau_b_is_scipys_on_ties_and_a_hand_worked_case():
    """The bootstrap's tau-b (one numpy pass over all rows) against ``scipy.stats.kendalltau``,
    the reference, on random rows with many ties, and on a case worked out by hand."""
    tau_b_rows = load_script(HERE / "teachers.py").tau_b_rows
    y = np.array([42.7, 35.7, 31.2, 27.3, 25.4, 14.7])
    x = np.random.default_rng(3).integers(0, 4, size=(300, 6)).astype(float)
    ours = tau_b_rows(x, y)
    theirs = np.array([kendalltau(row, y).statistic for row in x])
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    assert np.allclose(ours[~np.isnan(ours)], theirs[~np.isnan(theirs)], rtol=0, atol=1e-12)
    # by hand: x = (3, 1, 2, 2, 0, 0) vs a strictly decreasing y. Of the 15 pairs, (3,4) and (5,6)
    # are tied in x; concordant (x falls as y falls): 1-2 1-3 1-4 1-5 1-6 2-5 2-6 3-5 3-6 4-5 4-6
    # = 11, discordant: 2-3 2-4 = 2, so tau-b = (11 - 2) / sqrt(13 x 15)
    assert tau_b_rows(np.array([[3.0, 1.0, 2.0, 2.0, 0.0, 0.0]]), y)[0] == pytest.approx(9 / np.sqrt(13 * 15))
    assert np.isnan(tau_b_rows(np.ones((1, 6)), y)[0])
