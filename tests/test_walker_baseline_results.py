"""The walker's baseline rows, read back (experiments/results/walker_baseline/): six teachers at
claim 2's training protocol with 5 evaluation episodes per test task.

The runs must use TeachMyAgent's PPO, test grid and SPDL schedule (facts of TMA's code and paper,
not our defaults); P(ADR > Random) is worked out by hand from the per-seed finals and must be the
committed leaderboard row's; the README's numbers are what the folder's script computes."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from _tma_walker import (assert_sb3s_default_network, assert_tmas_ppo_settings_on_the_default_biped, tar_members,
                         tar_summaries)
from experiments.reporting.results_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "experiments" / "results" / "walker_baseline"
TEACHERS = ("random", "alp_gmm", "covar_gmm", "riac", "adr", "spdl")


def _members(suffix: str) -> list[bytes]:
    return tar_members(HERE / "runs.tar.gz", suffix)


@pytest.fixture(scope="module")
def summaries() -> list[dict]:
    return tar_summaries(HERE / "runs.tar.gz")


def _finals(summaries: list[dict], teacher: str) -> list[float]:
    return [round(s["final_mastered"], 1) for s in sorted(summaries, key=lambda s: s["seed"]) if s["teacher"] == teacher]


def test_the_runs_used_teachmyagents_ppo_test_grid_and_spdl_schedule():
    configs = [yaml.safe_load(data) for data in _members("/config.yaml")]
    assert sorted((c["teacher"]["name"], c["seed"]) for c in configs) == sorted((t, s) for t in TEACHERS for s in range(5))
    for c in configs:
        assert_tmas_ppo_settings_on_the_default_biped(c)
        assert_sb3s_default_network(c)  # not TMA's shared 400-300 network: the README says so
        # the baseline protocol: 2.5M steps, 5 episodes per test task, evaluated at 0 and the end only
        assert (c["name"], c["budget"]["steps"], c["eval"]["episodes_per_task"]) == ("baseline", 2_500_000, 5)
        assert c["eval"]["every"] > c["budget"]["steps"]
    spdl = next(c["teacher"]["params"] for c in configs if c["teacher"]["name"] == "spdl")
    # TMA's SPDL: offset 200k steps, an update every 50k, alpha offset 10, zeta 0.25, max KL 0.1
    assert (spdl["offset"], spdl["update_period"], spdl["alpha_offset"], spdl["zeta"], spdl["max_kl"]) == \
        (200_000, 50_000, 10, 0.25, 0.1)


def test_every_run_finished_trained_and_its_teacher_acted(summaries):
    assert len(summaries) == 30 and {s["state"] for s in summaries} == {"finished"}
    # 2.5M steps / 20k-transition rollouts = 125 rollouts, x 5 epochs of one pass each = 625 updates
    assert {s["gradient_updates"] for s in summaries} == {625}
    for s in summaries:
        if s["teacher"] != "random":
            assert s["teacher_diagnostics"]["updates"] == s["episodes"] > 1_500
    # SPDL's 47-48 iterations: (2.5M - 200k offset) / 50k = 46 boundaries, plus the first at the offset
    assert {s["teacher_diagnostics"]["iterations"] for s in summaries if s["teacher"] == "spdl"} <= {47, 48}


def test_the_evaluations_are_tmas_grid_with_five_episodes_a_task(tmp_path):
    from experiments.reporting.analysis import load_evaluations, load_runs

    with tarfile.open(HERE / "runs.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data", members=[m for m in tar.getmembers() if "__adr__ppo__s0__" in m.name])
    evals = load_evaluations(load_runs(tmp_path))
    test = evals[evals["split"] == "test"]
    assert sorted(test["step"].unique()) == [100, 2_500_000]
    # TMA's test set: a 10 x 10 grid over stump height [0, 3] x spacing [0, 6]
    assert np.allclose(np.sort(test["task.stump_height"].unique()), np.linspace(0, 3, 10))
    assert np.allclose(np.sort(test["task.stump_spacing"].unique()), np.linspace(0, 6, 10))
    assert set(test.groupby(["step", "task_index"]).size()) == {5}


def test_adr_is_below_random_worked_out_by_hand(summaries):
    adr, rnd = _finals(summaries, "adr"), _finals(summaries, "random")
    assert adr == [14.8, 19.6, 16.8, 16.6, 10.4]
    assert rnd == [27.4, 15.8, 27.6, 31.0, 25.6]
    # pairs an ADR seed wins: 14.8 none; 19.6 > 15.8 (1); 16.8 > 15.8 (1); 16.6 > 15.8 (1); 10.4 none -> 3 of 25
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in adr for b in rnd)
    assert wins == 3 and wins / 25 == 0.12
    # these rows left the leaderboard in session 19 (TMA's network: tests/test_walker_baseline_tma_results.py)
    board = pd.read_csv(ROOT / "leaderboard" / "runs.csv")
    assert not set(board["config_id"]) & {s["config_id"] for s in summaries}


def test_one_episode_scores_are_read_per_episode():
    """episode k of every task alone: two tasks, 5 episodes each; task 0 mastered in episodes 0-2,
    task 1 in episode 4 only -> 50 %, 50 %, 50 %, 0 %, 50 %."""
    script = load_script(HERE / "summarise.py")
    rows = [{"split": "test", "step": script.FINAL, "run": "r", "teacher": "t", "seed": 0, "task_index": task,
             "mastered": mastered} for task, outcomes in ((0, [1, 1, 1, 0, 0]), (1, [0, 0, 0, 0, 1]))
            for mastered in outcomes]
    table = script.single_episode_scores(pd.DataFrame(rows))
    assert table.loc[("t", 0)].tolist() == [50.0, 50.0, 50.0, 0.0, 50.0]


def test_the_readme_quotes_stats_txt():
    lines = (HERE / "stats.txt").read_text().splitlines()
    readme = (HERE / "README.md").read_text()
    assert "0.60 [0.20, 0.87]" in lines[8] and "| 6, with SPDL | 0.60 [0.20, 0.87] |" in readme
    assert "0.74 [0.32, 0.95]" in lines[10] and "| 5 | 0.74 [0.32, 0.95] |" in readme
    assert "range of the 5 single-episode scores median 5.0 points" in lines[11] and "**5.0 points**" in readme
    assert "median 16.0% of the 100 tasks" in lines[12] and "**16 %**" in readme
    lite = [line for line in lines if line.startswith("lite out of sample")]
    assert [line.split("tau ")[1] for line in lite] == ["-0.32 (p 0.448)", "0.11 (p 0.801)", "0.60 (p 0.233)"]
    assert "| 2M × 3 seeds | 0.60 (0.23) | 0.73 (0.056) |" in readme


@pytest.mark.slow
def test_stats_txt_is_what_the_script_computes():
    committed = (HERE / "stats.txt").read_text().splitlines()  # read before main() rewrites it
    assert load_script(HERE / "summarise.py").main() == committed


def test_the_pooled_analysis_reads_both_sets_of_runs():
    """The pooled lines take every 2.5M run of both sets: 5 + 11 seeds of ALP-GMM and Random,
    5 + 5 of Covar-GMM, RIAC and ADR (the README's table), and the pooled ADR-vs-Random
    probability matches a count by hand over all 10 x 16 pairs."""
    script = load_script(HERE / "summarise.py")
    finals = script.finals_by_protocol([HERE / "runs.tar.gz", *script.ONE_EPISODE_TARBALLS])
    sizes = {t: sorted(len(v) for v in by.values()) for t, by in finals.items()}
    assert sizes == {"alp_gmm": [5, 11], "random": [5, 11], "covar_gmm": [5, 5], "riac": [5, 5], "adr": [5, 5],
                     "goal_gan": [5], "spdl": [5]}
    adr, rnd = sum(finals["adr"].values(), []), sum(finals["random"].values(), [])
    by_hand = np.mean([[1.0 if a > b else 0.5 if a == b else 0.0 for b in rnd] for a in adr])
    line = next(x for x in script.pooled_lines(finals) if x.startswith("pooled adr"))
    assert f"one pool {by_hand:.2f} [" in line and "one pool 0.12 [0.01, 0.26]" in line
    assert line in (HERE / "stats.txt").read_text().splitlines()


def test_the_packed_walker_rate_is_the_lost_calls_steps_over_its_span(tmp_path):
    """#18's 15-run walker figure: the 15 "interrupted at step" lines of the lost call's log
    (every run of GoalGAN, Setter-Solver and PLR x 5 seeds), summed, over the log's span; the
    committed CSV row is what the script writes."""
    import csv

    script = load_script(ROOT / "experiments" / "results" / "scale_2026-11-30" / "session17" / "walker_packed15.py")
    log = (HERE / "device_call4_lost.log").read_text()
    steps = [int(m.group(1)) for m in script.INTERRUPTED.finditer(log)]
    assert len(steps) == 15 and all(800_000 < s < 1_700_000 for s in steps)
    for teacher in ("goal_gan", "setter_solver", "plr"):
        assert sum(f"walker_stumps__{teacher}__ppo__s" in line for line in log.splitlines() if "interrupted at" in line) == 5
    committed = (script.HERE / "walker_packed15.csv").read_text()
    row = script.main(tmp_path)
    assert (tmp_path / "walker_packed15.csv").read_text() == committed
    seconds = load_script(script.HERE.parent / "session16" / "walker_packed16.py").span_seconds(HERE / "device_call4_lost.log")
    assert row["runs"] == 15 and row["env_steps_per_s"] == round(sum(steps) / seconds, 1)
    assert float(next(csv.DictReader(committed.splitlines()))["env_steps_per_s"]) == row["env_steps_per_s"] > 73_000
