"""Benchmark env names -> gymnasium ids.

Configs name envs by short benchmark names (``gridworld``, ``walker_stumps``, ...); this
table maps them to registered gymnasium ids so that an unknown name gets a clear error
listing what exists, before any training starts.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from envs.errors import TeachBenchError, unknown_name

# name -> gymnasium id. Each env package registers its ids in envs/_register.py.
ENV_IDS: dict[str, str] = {}
# name -> "module:Class" of a batched SB3 VecEnv stepping many copies at once
# (``vec_env: batched`` in an env config); built as ``Class(n_envs, seed=..., **kwargs)``.
BATCHED: dict[str, str] = {}


def register_benchmark_env(name: str, gym_id: str, entry_point: str, **kwargs: Any) -> None:
    """Register a gymnasium id (once) and its benchmark name."""
    if gym_id not in gym.registry:
        gym.register(id=gym_id, entry_point=entry_point, **kwargs)
    ENV_IDS[name] = gym_id


def batched_vec_env(name: str, n_envs: int, seed: int, **kwargs: Any) -> Any:
    """The batched VecEnv of a benchmark env, or a clear error when it has none."""
    import importlib

    try:
        target = BATCHED[name]
    except KeyError:
        raise unknown_name("env.vec_env", f"batched ({name} has no batched implementation)", ["dummy", "subproc"]) from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(n_envs, seed=seed, **kwargs)


def gym_id(name: str) -> str:
    """The gymnasium id of a benchmark env name, or a clear error."""
    try:
        return ENV_IDS[name]
    except KeyError:
        raise unknown_name("env.name", name, ENV_IDS) from None


# Keyword arguments that gym.make itself takes (not the env constructor).
MAKE_KWARGS = ("render_mode", "max_episode_steps", "disable_env_checker", "autoreset")


def _constructor_params(env_id: str) -> list[str] | None:
    """The keyword arguments the env's constructor accepts (None: it takes any)."""
    import importlib
    import inspect

    entry = gym.registry[env_id].entry_point
    if not isinstance(entry, str):
        return None
    module, attr = entry.split(":")
    params = inspect.signature(getattr(importlib.import_module(module), attr)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return [k for k in params if k != "self"]


def make_env(name: str, **kwargs: Any) -> gym.Env:
    """``gym.make`` by benchmark name. An unknown keyword or a value the constructor cannot
    use is a :class:`TeachBenchError` naming ``env.kwargs.<key>``, not a TypeError."""
    env_id = gym_id(name)
    accepted = _constructor_params(env_id)
    if accepted is not None:
        for key in kwargs:
            if key not in accepted and key not in MAKE_KWARGS:
                raise TeachBenchError(f"env.kwargs.{key}", f"not a parameter of env {name!r}", accepted)
    try:
        return gym.make(env_id, **kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, TeachBenchError):
            raise
        raise TeachBenchError("env.kwargs", f"env {name!r} cannot be built with {kwargs}: {type(exc).__name__}: {exc}") from None
