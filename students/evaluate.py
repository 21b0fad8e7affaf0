"""Evaluation of a student on a fixed list of tasks (the env's test set, held-out levels).

Tasks are spread over a small ``DummyVecEnv`` of evaluation envs (separate from the
training envs, so evaluation never disturbs the curriculum) and played with the
deterministic policy; observations are normalised with the training ``VecNormalize``
statistics when the student uses them. Each task gets ``episodes_per_task`` episodes, in
order, and each record says whether the env's mastery rule holds. Recurrent students
(sb3-contrib's ``RecurrentPPO``, ``recurrent_ppo``) carry their hidden state from step to
step, reset per sub-env when its episode ends; ``deterministic=False`` samples the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from envs.task_space import Task
from students.vec import env_factory


@dataclass
class EvalRecord:
    task_index: int
    task: Task
    episode_return: float
    length: int
    success: bool
    mastered: bool


def evaluate(model: BaseAlgorithm, env_name: str, tasks: Sequence[Task], env_kwargs: dict[str, Any] | None = None,
             episodes_per_task: int = 1, n_envs: int = 8, deterministic: bool = True,
             normalizer: VecNormalize | None = None, seed: int = 12345) -> list[EvalRecord]:
    """Play every task ``episodes_per_task`` times; returns one record per episode, in task order."""
    jobs = [(i, t) for i, t in enumerate(tasks) for _ in range(episodes_per_task)]
    if not jobs:
        return []
    n_envs = max(1, min(n_envs, len(jobs)))
    vec = DummyVecEnv([env_factory(env_name, env_kwargs, seed + i) for i in range(n_envs)])
    vec.seed(seed)
    try:
        # Sub-env k plays jobs k, k + n, k + 2n, ... from its queue, then idles.
        assigned = [jobs[k::n_envs] for k in range(n_envs)]
        for k, mine in enumerate(assigned):
            for _, task in mine:
                vec.env_method("set_next_task", task, indices=[k])
        unwrapped = vec.envs[0].unwrapped
        done_count = [0] * n_envs
        results: dict[tuple[int, int], EvalRecord] = {}
        obs = vec.reset()
        masked = isinstance(model, MaskablePPO)
        # Hidden state of recurrent policies (None for the others, which ignore it); every
        # sub-env starts an episode now, and again after each done.
        state: Any = None
        starts = np.ones(n_envs, dtype=bool)
        while any(done_count[k] < len(assigned[k]) for k in range(n_envs)):
            model_obs = normalizer.normalize_obs(obs) if normalizer is not None else obs
            if masked:
                actions, state = model.predict(model_obs, state=state, episode_start=starts,
                                               deterministic=deterministic, action_masks=get_action_masks(vec))
            else:
                actions, state = model.predict(model_obs, state=state, episode_start=starts,
                                               deterministic=deterministic)
            obs, _, dones, infos = vec.step(actions)
            starts = np.asarray(dones, dtype=bool)
            for k in np.flatnonzero(dones):
                j = done_count[k]
                if j >= len(assigned[k]):
                    continue
                task_index, _ = assigned[k][j]
                info = infos[k]
                ret = float(info["episode"]["r"])
                success = bool(info.get("success", False))
                results[(k, j)] = EvalRecord(task_index, dict(info["task"]), ret, int(info["episode"]["l"]), success,
                                             bool(unwrapped.is_mastered(ret, success)))
                done_count[k] += 1
        ordered = [results[(k, j)] for k in range(n_envs) for j in range(len(assigned[k]))]
        return sorted(ordered, key=lambda r: r.task_index)
    finally:
        vec.close()
