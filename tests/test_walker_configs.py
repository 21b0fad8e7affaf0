"""The walker's Hydra configs: env defaults are valid SB3 arguments and the ALP-GMM-vs-random
preset composes to the intended sweep."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from envs.registry import ENV_IDS, make_env
from students.build import student_params

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["walker_stumps", "walker_obstacles"])
def test_env_config_names_a_registered_env_with_valid_student_defaults(name):
    cfg = OmegaConf.load(CONFIGS / "env" / f"{name}.yaml")
    assert cfg.name == name and cfg.name in ENV_IDS
    assert cfg.vec_env == "subproc" and cfg.normalize is True and cfg.n_envs == 16
    students = OmegaConf.to_container(cfg.students, resolve=True)
    ppo = student_params("ppo", {}, students)
    assert ppo["n_steps"] * cfg.n_envs == 20000 and ppo["n_epochs"] == 5 and ppo["learning_rate"] == 3e-4
    assert (ppo["n_steps"] * cfg.n_envs) % ppo["batch_size"] == 0
    sac = student_params("sac", {}, students)
    assert sac["policy_kwargs"]["net_arch"] == [400, 300] and sac["ent_coef"] == 0.005 and sac["batch_size"] == 1000
    env = make_env(name, **OmegaConf.to_container(cfg.kwargs, resolve=True))
    assert env.unwrapped.task_space.ndim >= 2 and len(env.unwrapped.test_tasks()) == 100


def test_obstacles_easy_config_is_dcds_accel_setting():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["env=walker_obstacles_easy", "teacher=accel"])
    assert cfg.env.name == "walker_obstacles" and cfg.env.label == "walker_obstacles_easy"
    env = make_env(cfg.env.name, **OmegaConf.to_container(cfg.env.kwargs, resolve=True))
    space = env.unwrapped.task_space
    assert space["pit_gap_high"].low == space["pit_gap_high"].high == 0.8  # dcd PARAM_RANGES_EASY
    assert len(env.unwrapped.test_tasks()) == 100


def test_alpgmm_vs_random_preset_composes_to_the_sweep():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=walker_stumps_alpgmm_vs_random"],
                      return_hydra_config=True)
    assert cfg.env.name == "walker_stumps" and cfg.student.algo == "ppo"
    assert cfg.budget.steps >= 1_000_000 and cfg.eval.every < cfg.budget.steps
    params = cfg.hydra.sweeper.params
    assert set(params.teacher.split(",")) == {"random", "alp_gmm"}
    assert len(params.seed.split(",")) >= 2
    assert str(cfg.hydra.mode).endswith("MULTIRUN")
    first = (CONFIGS / "experiment" / "walker_stumps_alpgmm_vs_random.yaml").read_text().splitlines()[0]
    assert first == "# @package _global_"
