"""Evaluation of a student on a fixed list of tasks (the env's test set, held-out levels).

Tasks are spread over a small ``DummyVecEnv`` of evaluation envs (separate from the
training envs, so evaluation never disturbs the curriculum) and played with the
deterministic policy; observations are normalised with the training ``VecNormalize``
statistics when the student uses them. Each task gets ``episodes_per_task`` episodes, in
order, and each record says whether the env's mastery rule holds. Recurrent students
(sb3-contrib's ``RecurrentPPO``, ``recurrent_ppo``) carry their hidden state from step to
step, reset per sub-env when its episode ends; ``deterministic=False`` samples the policy.

Held-out levels (:func:`evaluate_held_out`) follow dcd's zero-shot protocol instead:
several episodes per named maze, stochastic policy, solved rate per maze.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from envs.errors import TeachBenchError
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
        obs = vec.reset()
        with _seeded_sampling(model, seed, deterministic):
            results = _play(model, vec, obs, assigned, deterministic, normalizer)
        ordered = [results[(k, j)] for k in range(n_envs) for j in range(len(assigned[k]))]
        return sorted(ordered, key=lambda r: r.task_index)
    finally:
        vec.close()


@contextmanager
def _seeded_sampling(model: BaseAlgorithm, seed: int, deterministic: bool) -> Iterator[None]:
    """A stochastic evaluation samples its actions from torch's generator seeded with
    ``seed``, inside a fork of the global state: the same seed plays the same episodes
    wherever the evaluation happens (at a run's end or later from ``teachbench-eval``), and
    training's own random stream is left where it was. Greedy play draws nothing."""
    if deterministic:
        yield
        return
    device = torch.device(getattr(model, "device", "cpu"))
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        if cuda:
            torch.cuda.manual_seed(seed)  # the model's device only, the one fork_rng restores
        yield


def _play(model: BaseAlgorithm, vec: DummyVecEnv, obs: Any, assigned: list[list[tuple[int, Task]]],
          deterministic: bool, normalizer: VecNormalize | None) -> dict[tuple[int, int], EvalRecord]:
    """Step ``vec`` until every sub-env has played its assigned episodes."""
    n_envs = len(assigned)
    unwrapped = vec.envs[0].unwrapped
    done_count = [0] * n_envs
    results: dict[tuple[int, int], EvalRecord] = {}
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
    return results


@dataclass
class HeldOutResult:
    """Per held-out maze: solved rate (share of episodes with ``success``) and the records."""

    solved: dict[str, float]
    records: list[tuple[str, EvalRecord]]


def held_out_levels(env: Any) -> dict[str, Any]:
    """The env's named held-out levels as the run evaluates them: every variant of a
    procedural maze where the env lists them (``held_out_variants``), else ``held_out()``."""
    variants = getattr(env, "held_out_variants", None)
    return dict(variants() if callable(variants) else env.held_out())


def held_out_protocol(env: Any, episodes: int | None = None, deterministic: bool | None = None) -> dict[str, Any]:
    """Episodes per held-out level and greedy or not: ``episodes`` / ``deterministic`` where
    given (the config's ``eval.held_out_*`` or a command line's), else the env's
    ``held_out_protocol()`` (the maze: dcd's 10 stochastic episodes), else one greedy episode.
    One function for the run's final evaluation and ``teachbench-eval``, so the two agree."""
    base: dict[str, Any] = {"episodes": 1, "deterministic": True}
    own = getattr(env, "held_out_protocol", None)
    if callable(own):
        base.update(own())
    for key, value in (("episodes", episodes), ("deterministic", deterministic)):
        if value is not None:
            base[key] = value
    return base


def held_out_jobs(held_out: Mapping[str, Any], episodes: int) -> list[tuple[str, Task]]:
    """The ``(name, task)`` of every held-out episode: ``episodes`` per name, episode ``k``
    on variant ``k mod n`` when the entry is a list of variants (procedural mazes)."""
    if int(episodes) < 1:
        raise TeachBenchError("eval.held_out_episodes", f"must be >= 1, got {episodes}")
    jobs = []
    for name, entry in held_out.items():
        variants = list(entry) if isinstance(entry, (list, tuple)) else [entry]
        if not variants:
            continue
        for k in range(int(episodes)):
            v = variants[k % len(variants)]
            jobs.append((name, dict(v) if isinstance(v, Mapping) else {"level": v}))
    return jobs


def evaluate_held_out(model: BaseAlgorithm, env_name: str, held_out: Mapping[str, Any],
                      env_kwargs: dict[str, Any] | None = None, episodes: int = 10, deterministic: bool = False,
                      n_envs: int = 8, normalizer: VecNormalize | None = None, seed: int = 12345) -> HeldOutResult:
    """Zero-shot evaluation as dcd's ``eval.py`` does it: ``episodes`` episodes per named
    maze with the (by default stochastic) policy; a maze's solved rate is the share of
    its episodes that reached the goal (dcd: return > 0, the same event for the maze's
    reward). Entries may be a task, a level string or a list of variants."""
    jobs = held_out_jobs(held_out, episodes)
    records = evaluate(model, env_name, [t for _, t in jobs], env_kwargs, 1, n_envs, deterministic=deterministic,
                       normalizer=normalizer, seed=seed)
    named = [(jobs[r.task_index][0], r) for r in records]
    solved: dict[str, float] = {}
    for name in dict.fromkeys(n for n, _ in jobs):
        mine = [r.success for n, r in named if n == name]
        solved[name] = float(np.mean(mine)) if mine else float("nan")
    return HeldOutResult(solved, named)
