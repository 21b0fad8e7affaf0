"""The walker's baseline protocol with TeachMyAgent's PPO network, read back
(experiments/results/walker_baseline_tma/): Random, ALP-GMM and Covar-GMM x 5 seeds.

The runs must have TMA's PPO settings *and* its network (facts of TMA's code, tests/_tma_walker.py);
P(Covar-GMM > Random) is worked out by hand from the per-seed finals; the README quotes what the
folder's script computes; the packed-throughput row is the first call's steps over its span."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from _tma_walker import (assert_tmas_network, assert_tmas_ppo_settings_on_the_default_biped, tar_members,
                         tar_summaries)
from experiments.reporting.results_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "experiments" / "results" / "walker_baseline_tma"
TEACHERS = ("random", "alp_gmm", "covar_gmm")


def _members(suffix: str) -> list[bytes]:
    return tar_members(HERE / "runs.tar.gz", suffix)


@pytest.fixture(scope="module")
def summaries() -> list[dict]:
    return tar_summaries(HERE / "runs.tar.gz")


def test_the_runs_have_tmas_ppo_and_its_network_at_the_baseline_protocol():
    configs = [yaml.safe_load(data) for data in _members("/config.yaml")]
    assert sorted((c["teacher"]["name"], c["seed"]) for c in configs) == sorted((t, s) for t in TEACHERS for s in range(5))
    for c in configs:
        assert_tmas_ppo_settings_on_the_default_biped(c)
        assert_tmas_network(c)
        assert (c["name"], c["budget"]["steps"], c["eval"]["episodes_per_task"]) == ("baseline", 2_500_000, 5)


def test_every_run_finished_trained_and_its_teacher_refit(summaries):
    assert len(summaries) == 15 and {s["state"] for s in summaries} == {"finished"}
    # 2.5M steps / 20k-transition rollouts = 125 rollouts x 5 epochs = 625 updates
    assert {s["gradient_updates"] for s in summaries} == {625}
    for s in summaries:
        if s["teacher"] != "random":
            d = s["teacher_diagnostics"]
            assert d["n_fits"] >= 5 and d["n_failed_fits"] == 0 and d["updates"] == s["episodes"] > 1_500


def test_covar_gmm_beats_random_worked_out_by_hand(summaries):
    finals = {t: [round(s["final_mastered"], 1) for s in sorted(summaries, key=lambda s: s["seed"]) if s["teacher"] == t]
              for t in TEACHERS}
    covar, rnd = finals["covar_gmm"], finals["random"]
    assert covar == [38.6, 42.0, 36.6, 25.4, 39.2] and rnd == [37.8, 20.4, 25.4, 24.6, 36.6]
    # 38.6, 42.0, 39.2 beat all 5 (15); 36.6 beats 3 and ties 36.6 (3.5); 25.4 beats 2 and ties 25.4 (2.5)
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in covar for b in rnd)
    assert wins == 21 and wins / 25 == 0.84
    assert load_script(HERE / "summarise.py").finals(HERE / "runs.tar.gz") == finals


def test_stats_txt_is_what_the_script_computes_and_the_readme_quotes_it():
    committed = (HERE / "stats.txt").read_text().splitlines()
    assert load_script(HERE / "summarise.py").main(write=False) == committed
    readme = (HERE / "README.md").read_text()
    assert "P(> random) 0.84 [0.54, 1.00]" in committed[1] and "| 0.84 [0.54, 1.00] | 1.26 (1.31) |" in readme
    assert "P(> random) 0.72 [0.36, 1.00]" in committed[2] and "| 0.72 [0.36, 1.00] | 1.20 (1.56) |" in readme
    assert "difference +6.7 [+0.8, +11.1]" in committed[8] and "+6.7 [+0.8, +11.1]" in readme
    assert committed[9].endswith("P(TMA network > 64-64) 0.68 [0.45, 0.88]") and "| 0.68 [0.45, 0.88] |" in readme


def test_the_packed_rate_is_the_first_calls_steps_over_its_span(tmp_path):
    script = load_script(ROOT / "experiments" / "results" / "scale_2026-11-30" / "session18" / "walker_packed15_tma.py")
    steps = script.run_steps()
    # the 15 runs of the first wave: 10 logged their interrupted step, 5 lost the line and count their checkpoint
    assert sorted(steps) == sorted(f"walker_stumps__{t}__ppo__s{s}__{cid}" for t, cid in
                                   (("random", "82f7728b"), ("alp_gmm", "51496a0a"), ("covar_gmm", "a4426f0b")) for s in range(5))
    assert steps["walker_stumps__random__ppo__s0__82f7728b"] == 2_500_000
    assert steps["walker_stumps__alp_gmm__ppo__s2__51496a0a"] == 2_000_000  # from the checkpoint listing
    row = script.main(tmp_path)
    committed = (script.HERE / "walker_packed15_tma.csv").read_text()
    assert (tmp_path / "walker_packed15_tma.csv").read_text() == committed
    assert float(next(csv.DictReader(committed.splitlines()))["env_steps_per_s"]) == row["env_steps_per_s"] > 57_000
    assert row["student"] == "ppo_tma/shared_400_300"


def test_no_episode_is_mastered_from_stump_height_2_33_and_the_readme_quotes_the_height_table():
    """A fact of the runs' own evaluation tables, counted from every test episode at 2.5M: TMA's
    grid's three tallest rows (2.33, 2.67, 3.0) are never mastered, and the README's height table
    is the script's."""
    script = load_script(HERE / "summarise.py")
    shares = script.mastery_by_height(HERE / "runs.tar.gz")
    assert len(shares) == 3 * 5 * 10  # teachers x seeds x heights
    assert (shares[shares["height"] >= 2.33]["share"] == 0).all()
    lines = script.height_lines(shares)
    assert lines == (HERE / "stats.txt").read_text().splitlines()[-len(lines):]
    readme = (HERE / "README.md").read_text()
    row = next(x for x in lines if "height 1.00" in x)
    assert "random 0.31 [0.15, 0.47]" in row and "covar_gmm 0.56 [0.41, 0.71]" in row
    assert "| 1.00 | 0.31 [0.15, 0.47] | 0.47 [0.26, 0.66] | 0.56 [0.41, 0.71] |" in readme
