"""The lite tier's evidence: rank correlation across teachers between lite and long runs
(experiments/reporting/lite.py), on run directories whose numbers are set by hand, and
the lite presets compose into valid configs with their budgets and seeds."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from experiments.reporting.lite import main, rank_agreement
from experiments.reporting.runs import collect_runs
from experiments.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]


def run(root, experiment: str, env: str, teacher: str, seed: int, final: float, budget: int, student: str = "ppo"):
    rd = RunDir.for_run(root, experiment, env, teacher, student, seed)
    rd.create()
    OmegaConf.save(OmegaConf.create({"name": experiment, "env": {"name": env, "label": env}, "teacher": {"name": teacher},
                                     "student": {"algo": student}, "seed": seed, "budget": {"steps": budget}}),
                   rd.config_path)
    rd.write_summary({"state": "finished", "env": env, "teacher": teacher, "student": student, "seed": seed,
                      "experiment": experiment, "steps": budget, "budget_steps": budget, "final_mastered": final,
                      "auc_mastered": final, "held_out_solved": {}})
    rd.set_status("finished", step=budget)


@pytest.fixture
def runs(tmp_path):
    # gridworld: long means a 50, b 40, c 30, d 20; lite means a 20, b 10, c 15, d 5
    # (seeds average: lite a = (18 + 22) / 2). Lite order a > c > b > d vs long a > b > c > d:
    # 6 pairs, 1 discordant (b, c) -> Kendall tau = (5 - 1) / 6 = 2/3;
    # ranks lite (4, 2, 3, 1) vs long (4, 3, 2, 1): sum d^2 = 2 -> Spearman 1 - 6*2/(4*15) = 0.8
    long = {"a": 50, "b": 40, "c": 30, "d": 20}
    lite = {"a": (18, 22), "b": (10, 10), "c": (15, 15), "d": (5, 5)}
    for t, v in long.items():
        for seed in range(3):
            run(tmp_path, "baseline", "gridworld", t, seed, v, 300_000)
    for t, (v0, v1) in lite.items():
        run(tmp_path, "lite", "gridworld", t, 0, v0, 75_000)
        run(tmp_path, "lite", "gridworld", t, 1, v1, 75_000)
    run(tmp_path, "lite", "gridworld", "e", 0, 99, 75_000)  # no long runs: not compared
    # webform: every teacher at 0 in the lite tier -> no ranking, NaN
    for t in ("a", "b", "c"):
        run(tmp_path, "baseline", "webform", t, 0, {"a": 3, "b": 2, "c": 1}[t], 200_000)
        run(tmp_path, "lite", "webform", t, 0, 0.0, 50_000)
    return collect_runs(tmp_path)


def test_kendall_and_spearman_by_hand(runs):
    table = rank_agreement(runs).set_index("env")
    grid = table.loc["gridworld"]
    assert grid["teachers"] == 4
    assert grid["kendall_tau"] == pytest.approx(2 / 3)
    assert grid["spearman_rho"] == pytest.approx(0.8)
    assert grid["same_top"] is True or grid["same_top"] == True  # noqa: E712 (numpy bool)
    assert grid["lite_budget"] == "75000" and grid["long_budget"] == "300000"
    assert grid["lite_seeds"] == "2" and grid["long_seeds"] == "3"
    assert grid["lite_order"].startswith("a 20.0 > c 15.0 > b 10.0 > d 5.0")


def test_all_ties_give_no_correlation(runs):
    web = rank_agreement(runs).set_index("env").loc["webform"]
    assert web["teachers"] == 3 and math.isnan(web["kendall_tau"]) and math.isnan(web["spearman_rho"])


def test_cli_writes_the_table(runs, tmp_path, capsys):
    out = tmp_path / "lite.csv"
    root = Path(runs["path"].iloc[0]).parents[1]
    assert main([str(root), "--out", str(out)]) == 0
    assert out.is_file() and "gridworld" in capsys.readouterr().out


@pytest.mark.parametrize("env", ["gridworld", "webform", "walker"])
def test_lite_presets_are_a_fraction_of_the_baseline(compose, env):
    """Each lite preset runs every teacher on the same env and student as the baseline
    preset, at a smaller budget and with fewer (>= 3) seeds, and names its runs "lite"."""
    from experiments.running.config_checks import validate_config

    lite = compose(f"experiment=lite_{env}", "teacher=random", "seed=0")
    base = compose(f"experiment=baseline_{env}", "teacher=random", "seed=0")
    validate_config(lite)
    assert lite.name == "lite" and base.name == "baseline"
    assert lite.env.label == base.env.label
    # the same student, network included (the walker's baseline took TMA's shared 400-300 network in
    # session 17; a lite tier on another network would rank another student's teachers)
    assert OmegaConf.to_container(lite.student, resolve=True) == OmegaConf.to_container(base.student, resolve=True)
    assert lite.budget.steps < base.budget.steps
    assert lite.eval.episodes_per_task == base.eval.episodes_per_task >= 5
    preset = OmegaConf.load(ROOT / "configs" / "experiment" / f"lite_{env}.yaml")
    seeds = preset.hydra.sweeper.params.seed
    base_preset = OmegaConf.load(ROOT / "configs" / "experiment" / f"baseline_{env}.yaml")
    assert preset.hydra.sweeper.params.teacher == base_preset.hydra.sweeper.params.teacher  # the same teachers
    assert seeds.startswith("range(0,")
    assert 3 <= int(seeds[len("range(0,"):-1]) < 5
