"""Env fuzzing: many random and corner tasks per registered env, played with random actions.

For every env in ``envs.registry.ENV_IDS`` and every fuzz task (the TaskSpace's corners,
each dimension at its bounds and just inside them, the env's test set and held-out
tasks/levels, then uniform draws up to the count), one episode of random actions must:
reset without error, report the task it plays in ``info["task"]``, give finite
observations inside the observation space and finite rewards, report ``info["success"]``
as a bool on its last step, and end within its step limit.

The designer env (PAIRED's maze generator) has no TaskSpace: it is fuzzed with random
designs, and every level it reports is then played by the maze env.

Default suite: ``N_DEFAULT`` tasks per env with short step limits (the walker's 2000-step
limit lowered so its episodes stay cheap); ``-m slow``: ``N_SLOW`` per env with the
envs' own limits (the walker's lowered less).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Iterator

import gymnasium as gym
import numpy as np
import pytest

from envs.registry import ENV_IDS, make_env
from envs.task_space import Dim, Task, TaskSpace

N_DEFAULT = 300
N_SLOW = 3000
MAX_CORNERS = 64
HARD_CAP = 100_000  # no env here has a limit near this: reaching it means "never ends"

# Step limits for the default suite (cost only; the slow variant keeps the envs' own).
FAST_KWARGS: dict[str, dict[str, Any]] = {
    "gridworld": {"max_steps": 60},
    "walker_stumps": {"max_episode_steps": 60},
    "walker_obstacles": {"max_episode_steps": 60},
    "walker_hexagon": {"max_episode_steps": 60},
    "parkour": {"max_episode_steps": 60},
}
SLOW_KWARGS: dict[str, dict[str, Any]] = {
    "walker_stumps": {"max_episode_steps": 300},
    "walker_obstacles": {"max_episode_steps": 300},
    "walker_hexagon": {"max_episode_steps": 300},
    "parkour": {"max_episode_steps": 300},
}


def edge_values(dim: Dim) -> list[Any]:
    """A dimension's bounds, the floats just inside them, and its middle."""
    if dim.kind == "categorical":
        return list(dim.choices)
    if dim.kind == "discrete":
        return sorted({int(math.ceil(dim.low)), int(math.floor(dim.high))})
    inside = [float(np.nextafter(dim.low, dim.high)), float(np.nextafter(dim.high, dim.low))]
    return [dim.low, dim.high, *inside, 0.5 * (dim.low + dim.high)]


def fuzz_tasks(space: TaskSpace, extra: list[Any], n: int, seed: int) -> list[Any]:
    """Corner and edge tasks, ``extra`` (test set, held-out), then uniform draws up to ``n``."""
    rng = np.random.default_rng(seed)
    d = space.ndim
    if 2**d <= MAX_CORNERS:
        corners = [np.array(c, dtype=float) for c in itertools.product((0.0, 1.0), repeat=d)]
    else:
        corners = [rng.integers(0, 2, size=d).astype(float) for _ in range(MAX_CORNERS)]
    tasks: list[Any] = [space.from_unit(c) for c in corners]
    middle = space.from_unit(np.full(d, 0.5))
    for dim in space.dims:
        tasks += [{**middle, dim.name: v} for v in edge_values(dim)]
    tasks += extra
    while len(tasks) < n:
        tasks.append(space.sample(rng))
    return tasks


def leaves(obs: Any) -> Iterator[np.ndarray]:
    if isinstance(obs, dict):
        for v in obs.values():
            yield from leaves(v)
    else:
        yield np.asarray(obs)


def step_limit(env: gym.Env) -> int:
    """The episode's step limit: TimeLimit's, else the env's own ``max_steps``/``horizon``."""
    limits = []
    if env.spec is not None and env.spec.max_episode_steps:
        limits.append(int(env.spec.max_episode_steps))
    for attr in ("max_steps", "horizon"):
        value = getattr(env.unwrapped, attr, None)
        if isinstance(value, (int, np.integer)) and value > 0:
            limits.append(int(value))
    return min(limits) if limits else 1


# Known bug (see test_walker_hull_angle_stays_in_observation_space): the walker's hull
# angle (observation 0) is bounded by +-pi in its Box but is not wrapped, so a walker
# that flips over reports e.g. 3.18. Until it is fixed, that one entry is exempt here;
# every other entry of every env must lie inside its space.
UNBOUNDED_ENTRIES: dict[str, tuple[int, ...]] = {"walker_stumps": (0,), "walker_obstacles": (0,), "walker_hexagon": (0,)}


def check_obs(env: gym.Env, obs: Any, where: str) -> None:
    for leaf in leaves(obs):
        assert np.all(np.isfinite(leaf)), f"{where}: non-finite observation"
    name = next((n for n, i in ENV_IDS.items() if env.spec is not None and env.spec.id == i), "")
    exempt = UNBOUNDED_ENTRIES.get(name, ())
    if exempt:
        obs = np.array(obs, copy=True)
        space = env.observation_space
        obs[list(exempt)] = np.clip(obs[list(exempt)], space.low[list(exempt)], space.high[list(exempt)])
    assert env.observation_space.contains(obs), f"{where}: observation outside the observation space"


def play_episode(env: gym.Env, options: dict[str, Any] | None, seed: int, expect_task: Any) -> dict[str, Any]:
    """One random-action episode with every check of the module docstring; returns its last info."""
    where = f"{env.spec.id if env.spec else env} seed={seed} options={options}"
    obs, info = env.reset(seed=seed, options=options)
    check_obs(env, obs, where)
    if expect_task is not None:
        assert info.get("task") == expect_task, f"{where}: info['task'] = {info.get('task')}"
    env.action_space.seed(seed)
    limit = step_limit(env)  # read after reset: some envs size their limit from the task
    for t in range(1, HARD_CAP + 1):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        check_obs(env, obs, where)
        assert math.isfinite(float(reward)), f"{where}: reward {reward} at step {t}"
        if expect_task is not None:
            assert info.get("task") == expect_task, f"{where}: info['task'] changed to {info.get('task')}"
        if terminated or truncated:
            break
    assert t <= limit, f"{where}: episode lasted {t} steps, limit {limit}"
    assert terminated or truncated, f"{where}: no end after {HARD_CAP} steps"
    return info


def task_envs() -> list[str]:
    return [n for n in sorted(ENV_IDS) if hasattr(make_env(n).unwrapped, "task_space")]


def designer_envs() -> list[str]:
    return [n for n in sorted(ENV_IDS) if not hasattr(make_env(n).unwrapped, "task_space")]


def fuzz_task_env(name: str, n: int, kwargs: dict[str, Any]) -> int:
    env = make_env(name, **kwargs)
    u = env.unwrapped
    space: TaskSpace = u.task_space
    extra = list(u.test_tasks()) + list(u.held_out().values())
    tasks = fuzz_tasks(space, extra, n, seed=len(name))
    for i, task in enumerate(tasks):
        if isinstance(task, str) or (isinstance(task, dict) and "level" in task):
            level = task if isinstance(task, str) else task["level"]
            info = play_episode(env, {"level": level}, seed=i, expect_task=None)
        else:
            info = play_episode(env, {"task": task}, seed=i, expect_task=space.validate(task))
        assert isinstance(info.get("success"), (bool, np.bool_)), f"{name}: last info lacks a bool 'success': {info}"
    env.close()
    return len(tasks)


def fuzz_designer_env(name: str, n: int, maze_kwargs: dict[str, Any]) -> int:
    env = make_env(name)
    maze = make_env("gridworld", **maze_kwargs)
    for i in range(n):
        info = play_episode(env, None, seed=i, expect_task=None)
        level = info["level"]
        assert info["task"] == {"level": level}
        play_episode(maze, {"level": level}, seed=i, expect_task=None)
    env.close()
    maze.close()
    return n


@pytest.mark.parametrize("name", task_envs())
def test_fuzz_tasks(name):
    assert fuzz_task_env(name, N_DEFAULT, FAST_KWARGS.get(name, {})) >= N_DEFAULT


@pytest.mark.parametrize("name", designer_envs())
def test_fuzz_designs(name):
    assert fuzz_designer_env(name, N_DEFAULT, FAST_KWARGS["gridworld"]) == N_DEFAULT


@pytest.mark.slow
@pytest.mark.parametrize("name", task_envs())
def test_fuzz_tasks_thousands(name):
    assert fuzz_task_env(name, N_SLOW, SLOW_KWARGS.get(name, {})) >= N_SLOW


@pytest.mark.slow
@pytest.mark.parametrize("name", designer_envs())
def test_fuzz_designs_thousands(name):
    assert fuzz_designer_env(name, N_SLOW, {}) == N_SLOW


def test_walker_hull_angle_stays_in_observation_space():
    env = make_env("walker_stumps", max_episode_steps=300)
    task = {"stump_height": 1.1804227948847386, "stump_spacing": 5.811088691281002}
    obs, _ = env.reset(seed=1014, options={"task": task})
    env.action_space.seed(1014)
    for _ in range(300):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs), f"hull angle {obs[0]}"
        if terminated or truncated:
            break


def test_every_registered_env_is_fuzzed():
    assert sorted(task_envs() + designer_envs()) == sorted(ENV_IDS)


def test_fuzz_walker_levels_and_bodies():
    """Walker parts beyond the registered defaults: chains of dcd edits from the easy base,
    replayed as exact levels (``{"level": ...}``, the task reported back as the level), and
    random tasks for every published body."""
    from envs.walker.bodies import BODIES
    from envs.walker.levels import WalkerLevel, edit

    env = make_env("walker_obstacles", max_episode_steps=60)
    rng = np.random.default_rng(0)
    level = WalkerLevel.from_task(env.unwrapped.task_space.sample(rng), 1)
    for i in range(20):
        level = edit(level, rng, 3)
        text = level.to_string()
        info = play_episode(env, {"level": text}, seed=i, expect_task={"level": text})
        assert info["level_id"] == text
    for body in BODIES:
        for name in ("walker_stumps", "walker_obstacles"):
            env = make_env(name, body=body, max_episode_steps=60)
            space = env.unwrapped.task_space
            for i in range(3):
                task = space.sample(rng)
                play_episode(env, {"task": task}, seed=i, expect_task=space.validate(task))
