"""Env configs as the runner sees them (composed by Hydra, so `defaults:` inheritance such
as gridworld_small -> gridworld applies), for the benchmark scripts."""

from __future__ import annotations

import os
from typing import Any

from omegaconf import OmegaConf

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs")


def env_config(name: str) -> tuple[str, dict[str, Any], dict[str, Any], bool]:
    """(registered env name, gym.make kwargs, PPO defaults, VecNormalize) of ``configs/env/<name>``."""
    env = _compose([f"env={name}"]).env
    kwargs = OmegaConf.to_container(env.get("kwargs") or {}, resolve=True)
    ppo = OmegaConf.to_container((env.get("students") or {}).get("ppo") or {}, resolve=True)
    return str(env.name), kwargs, ppo, bool(env.get("normalize", False))


def teacher_config(name: str, env: str, overrides: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    """(registry name, constructor params) of ``configs/teacher/<name>`` composed with
    ``env=<env>``, as a run builds it: the env's ``expert:`` block and reward range reach
    the teachers that need them (ADR, SPDL, GoalGAN, Setter-Solver, ALP-GMM's scaling), and
    ``auto`` values are worked out for the env's sub-env count (PAIRED/CLUTR's ``max_pending``).
    ``overrides`` are further Hydra overrides (``experiment=ued_maze_paired_dcd25``: the
    preset's ``ued:`` block; ``env.n_envs=256``: the sub-env count ``auto`` is worked out for)."""
    from experiments.running.config_checks import resolve_auto_params

    cfg = _compose([f"env={env}", f"teacher={name}", *(overrides or [])])
    resolve_auto_params(cfg)
    teacher = cfg.teacher
    params = teacher.get("params")
    return str(teacher.name), (OmegaConf.to_container(params, resolve=True) if params is not None else {})


def _compose(overrides: list[str]) -> Any:
    """The run config composed by Hydra from ``configs/`` with these overrides."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=os.path.abspath(CONFIG_DIR), version_base="1.3"):
        return compose("config", overrides=overrides)
