"""The baseline leaderboard stays reproducible: every env x teacher its presets sweep
composes into a valid run config, and every row of the committed table (when there is
one) still composes from its command into the config it was produced with."""

from __future__ import annotations

import shlex
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from experiments.running.config_checks import validate_config

ROOT = Path(__file__).resolve().parents[1]
BOARD = ROOT / "leaderboard"
TEACHERS = sorted(p.stem for p in (ROOT / "configs" / "teacher").glob("*.yaml"))
ENVS = [e for e in ("gridworld", "webform") if (ROOT / "configs" / "env" / f"{e}.yaml").exists()]


def test_baseline_sweeps_every_teacher_config_with_five_seeds():
    for preset in ("baseline", "baseline_walker"):
        cfg = OmegaConf.load(ROOT / "configs" / "experiment" / f"{preset}.yaml")
        params = cfg.hydra.sweeper.params
        assert params.teacher == "glob(*)" and params.seed == "range(0,5)"
        assert cfg.name == "baseline"
    assert "random" in TEACHERS and len(TEACHERS) >= 2


@pytest.mark.parametrize("teacher", TEACHERS)
def test_every_baseline_row_config_composes_and_validates(compose, teacher):
    rows = [("baseline", env) for env in ENVS]
    if (ROOT / "configs" / "env" / "walker_stumps.yaml").exists():
        rows.append(("baseline_walker", None))
    assert rows
    for preset, env in rows:
        overrides = [f"experiment={preset}", f"teacher={teacher}", "seed=4"] + ([f"env={env}"] if env else [])
        cfg = compose(*overrides)
        validate_config(cfg)  # names exist, budgets are positive integers, ...
        # each env's default student: MaskablePPO on the web forms (configs/env/webform.yaml), PPO elsewhere
        assert cfg.teacher.name and cfg.name == "baseline"
        assert cfg.student.algo == ("maskable_ppo" if env == "webform" else "ppo")
        if preset == "baseline_walker":
            assert cfg.env.name.startswith("walker") and cfg.budget.steps == 100_000 and cfg.env.n_envs == 1
        else:
            assert cfg.env.name == env and cfg.budget.steps == 100_000


@pytest.mark.skipif(not (BOARD / "leaderboard.csv").exists(), reason="no committed baseline table yet")
def test_committed_rows_still_compose_and_build(tmp_path):
    """Every committed row's command names a saved config that today's code still accepts:
    it validates, its teacher builds with its saved parameters on the env's task space, and
    its student parameters are all SB3 parameters (a renamed key fails here, not in a rerun)."""
    import envs  # noqa: F401  (registers the envs)
    from envs.registry import make_env
    from students.build import student_params
    from teachers.registry import make_teacher

    table = pd.read_csv(BOARD / "leaderboard.csv")
    assert (table["seeds"] + table["failed"] + table["unfinished"] >= 5).all()
    for _, row in table.iterrows():
        args = shlex.split(row["command"])
        if row["student"] == "sim":  # simulated-student track rows come from teachbench-track
            assert args[0] == "teachbench-track" and f"only=[{row['teacher']}]" in args
            continue
        assert args[:2] == ["teachbench", "-cd"] and args[3] == "-cn"
        saved = ROOT / args[2] / f"{args[4]}.yaml"
        assert saved.is_file(), f"{row['command']}: {saved} is missing"
        cfg = OmegaConf.load(saved)
        validate_config(cfg)
        assert (cfg.env.label, cfg.teacher.name, cfg.student.algo) == (row["env"], row["teacher"], row["student"])
        assert cfg.budget.steps == int(row["budget_steps"])
        env = make_env(cfg.env.name, **OmegaConf.to_container(cfg.env.kwargs, resolve=True))
        params = OmegaConf.to_container(cfg.teacher.params, resolve=True) if cfg.teacher.get("params") else {}
        make_teacher(cfg.teacher.name, env.unwrapped.task_space, seed=0, **params)
        env.close()
        env_students = OmegaConf.to_container(cfg.env.students, resolve=True) if cfg.env.get("students") else {}
        student_params(cfg.student.algo, OmegaConf.to_container(cfg.student.params, resolve=True), env_students)
