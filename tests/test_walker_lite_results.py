"""The walker's lite tier, read back (experiments/results/lite_tier/walker_lite_2m.tar.gz, session 25):
``experiment=lite_walker`` (2M steps x 3 seeds) of ten teachers, set against the baseline rows
(experiments/results/walker_baseline_tma/runs.tar.gz, 2.5M x 5 seeds).

The runs must be the baseline protocol at a smaller budget: TMA's PPO settings and network (facts of TMA's
code, tests/_tma_walker.py), its 100-task test grid with 5 episodes a task. The rank agreement is counted by
hand from the two tiers' orders (the discordant pairs are listed below), and the committed leaderboard's
lite.csv must carry the same figure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from scipy.stats import kendalltau

from _tma_walker import assert_tmas_network, assert_tmas_ppo_settings_on_the_default_biped, tar_members, tar_summaries

ROOT = Path(__file__).resolve().parents[1]
LITE = ROOT / "experiments" / "results" / "lite_tier" / "walker_lite_2m.tar.gz"
BASELINE = ROOT / "experiments" / "results" / "walker_baseline_tma" / "runs.tar.gz"
TEACHERS = {"random", "alp_gmm", "covar_gmm", "riac", "adr", "goal_gan", "spdl", "plr", "plr_robust", "accel"}


def _means(summaries: list[dict]) -> pd.Series:
    df = pd.DataFrame([(s["teacher"], s["final_mastered"]) for s in summaries], columns=["teacher", "m"])
    return df.groupby("teacher")["m"].mean()


def test_the_lite_runs_are_the_baseline_protocol_at_2m_steps_and_3_seeds():
    configs = [yaml.safe_load(data) for data in tar_members(LITE, "/config.yaml")]
    assert sorted((c["teacher"]["name"], c["seed"]) for c in configs) == sorted((t, s) for t in TEACHERS for s in range(3))
    for c in configs:
        assert c["name"] == "lite" and c["env"]["label"] == "walker_stumps"
        assert_tmas_ppo_settings_on_the_default_biped(c)
        assert_tmas_network(c)
        assert (c["budget"]["steps"], c["eval"]["episodes_per_task"]) == (2_000_000, 5)


def test_every_lite_run_finished_and_trained():
    summaries = tar_summaries(LITE)
    assert len(summaries) == 30 and {s["state"] for s in summaries} == {"finished"}
    assert {s["steps"] for s in summaries} == {2_000_000} and {s["test_tasks"] for s in summaries} == {100}
    for s in summaries:
        # 100 rollouts of 20k transitions x 5 epochs; PLR-robust and ACCEL take no step on new levels' rollouts
        if s["teacher"] in ("plr_robust", "accel"):
            assert 400 <= s["gradient_updates"] < 500
        else:
            assert s["gradient_updates"] == 500


def test_kendall_tau_is_29_over_45_as_counted_by_hand():
    lite = _means(tar_summaries(LITE))
    long = _means([s for s in tar_summaries(BASELINE) if s["teacher"] in TEACHERS])
    assert set(lite.index) == set(long.index) == TEACHERS
    # lite:  covar_gmm > plr > alp_gmm > random > plr_robust > accel > riac > adr > spdl > goal_gan
    # long:  covar_gmm > alp_gmm > riac > random > plr_robust > plr > accel > adr > goal_gan > spdl
    # discordant pairs: plr with alp_gmm, riac, random, plr_robust (4); riac with random, plr_robust, accel (3);
    # spdl with goal_gan (1): 8 of 45, so tau = (37 - 8) / 45 = 29/45
    assert list(lite.sort_values(ascending=False).index[:3]) == ["covar_gmm", "plr", "alp_gmm"]
    discordant = sum((lite[a] - lite[b]) * (long[a] - long[b]) < 0 for a in TEACHERS for b in TEACHERS if a < b)
    assert discordant == 8
    assert kendalltau(lite[sorted(TEACHERS)], long[sorted(TEACHERS)]).statistic == pytest.approx(29 / 45)
    board = pd.read_csv(ROOT / "leaderboard" / "lite.csv").set_index("env").loc["walker_stumps"]
    assert board["teachers"] == 10 and board["kendall_tau"] == pytest.approx(29 / 45)
    assert (board["lite_budget"], board["long_budget"], board["lite_seeds"], board["long_seeds"]) == (2_000_000, 2_500_000, 3, 5)
