"""Building the student's VecEnv: each sub-env is ``Monitor(CurriculumWrapper(env))``.

``batched`` where the env has a NumPy implementation stepping all copies at once
(gridworld). ``DummyVecEnv`` for cheap envs (gridworld, forms: a subprocess round trip costs more than
the step, and 2 subprocess workers were slower than 1 env on 2 cores), ``SubprocVecEnv``
where a step is costly (Box2D walker on many cores), ``shm`` (``students/shm_vec.py``:
``envs_per_worker`` envs per process, arrays in shared memory; opt-in, measured by
``benchmarks/bench_walker_subproc.py``). ``VecNormalize`` for the walker.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any, Callable

import gymnasium as gym
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecNormalize

from envs.errors import TeachBenchError
from envs.registry import batched_vec_env, make_env
from students.bridge import CurriculumWrapper
from students.shm_vec import SharedMemoryVecEnv

VEC_KINDS = ("dummy", "subproc", "batched", "shm")
NORMALIZE = (True, False, "reward")  # env.normalize: observations and rewards, neither, or rewards alone


def env_factory(name: str, kwargs: dict[str, Any] | None = None, seed: int | None = None) -> Callable[[], gym.Env]:
    """A picklable thunk building one wrapped sub-env (for SubprocVecEnv workers)."""
    kwargs = dict(kwargs or {})

    def _make() -> gym.Env:
        from students.threads import pin_threads

        pin_threads(1)
        env = Monitor(CurriculumWrapper(make_env(name, **kwargs)))
        if seed is not None:
            env.action_space.seed(seed)
        return env

    return _make


def _start_method() -> str | None:
    """SB3's default (forkserver) unless we run inside a joblib/loky worker (Hydra's joblib
    launcher): there the parent's start method is 'loky', which forkserver and spawn
    children cannot resolve, so fork the workers instead."""
    current = mp.get_start_method(allow_none=True)
    return "fork" if current not in (None, "fork", "spawn", "forkserver") else None


def make_vec_env(name: str, kwargs: dict[str, Any] | None = None, n_envs: int = 1, kind: str = "dummy",
                 seed: int = 0, normalize: bool | str = False, envs_per_worker: int = 1) -> VecEnv:
    """The training VecEnv; sub-env ``i`` is seeded ``seed + i``. ``envs_per_worker``: envs
    per worker process of the ``shm`` kind (the other kinds take 1). ``normalize``: SB3's
    VecNormalize of observations and rewards (``True``, TeachMyAgent's PPO), of rewards alone
    (``"reward"``: dcd's ``VecNormalize(ob=False, ret=normalize_returns)``), or none (``False``)."""
    if n_envs < 1:
        raise TeachBenchError("env.n_envs", f"must be >= 1, got {n_envs}")
    if kind not in VEC_KINDS:
        raise TeachBenchError("env.vec_env", f"unknown VecEnv kind {kind!r}", VEC_KINDS)
    if envs_per_worker != 1 and kind != "shm":
        raise TeachBenchError("env.envs_per_worker", f"only the shm VecEnv takes several envs per worker, "
                              f"got {envs_per_worker} with vec_env={kind}", ["1"])
    vec: VecEnv
    if kind == "batched":
        # one object steps all sub-envs; it implements the bridge's task-queue methods itself
        vec = batched_vec_env(name, n_envs, seed, **(kwargs or {}))
    else:
        thunks = [env_factory(name, kwargs, seed + i) for i in range(n_envs)]
        if kind == "dummy":
            vec = DummyVecEnv(thunks)
        elif kind == "shm":
            vec = SharedMemoryVecEnv(thunks, envs_per_worker=envs_per_worker, start_method=_start_method())
        else:
            vec = SubprocVecEnv(thunks, start_method=_start_method())
    vec.seed(seed)
    if normalize not in NORMALIZE:
        raise TeachBenchError("env.normalize", f"got {normalize!r}", ["true", "false", "reward"])
    if normalize:
        vec = normalized(vec, norm_obs=normalize is True)
    return vec


def normalized(vec: VecEnv, norm_obs: bool, norm_reward: bool = True) -> VecNormalize:
    """SB3's VecNormalize around ``vec``. Without observation normalisation SB3 keeps no
    observation statistics; an unused identity takes their place, so that checkpoints and the
    saved normaliser read alike in both modes."""
    out = VecNormalize(vec, norm_obs=norm_obs, norm_reward=norm_reward)
    if not out.norm_obs:
        out.obs_rms = RunningMeanStd(shape=out.observation_space.shape)
    return out
