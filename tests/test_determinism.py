"""Same config and seed => same result, on CPU (issue 10, "Determinism").

- Teachers: two teachers of every registered kind, same seed, same feedback, sample the
  same task sequence (GMM fits, GAN/flow/VAE training and region splits included).
- Envs: every registered env, same task and reset seed, same actions => the same
  observations, rewards, infos and (gridworld) level strings; the designer env makes the
  same level from the same seed.
- Evaluation: ``students.evaluate.evaluate`` of one seeded PPO policy on each env's test
  tasks gives identical records twice.
- Runs: two complete runs (Hydra config -> run directory) with the same config and seed
  write identical episode, evaluation and teacher tables and the same summary (wall time
  aside). Random and ALP-GMM in the default suite, every other teacher with ``-m slow``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from stable_baselines3 import PPO

from envs.registry import ENV_IDS, make_env
from experiments.running.run import run, run_dir_for
from students.evaluate import evaluate
from students.vec import make_vec_env
from test_fuzz_envs import designer_envs, task_envs
from test_fuzz_teachers import TEACHER_PARAMS, build, episode_for
from test_resume import SPACE, TEACHER_ARGS, feed

EVAL_KWARGS = {"walker_stumps": {"max_episode_steps": 120}, "walker_obstacles": {"max_episode_steps": 120},
               "walker_hexagon": {"max_episode_steps": 120},
               "parkour": {"max_episode_steps": 120},
               "gridworld": {"max_steps": 40}}


# -- teachers -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TEACHER_PARAMS)
def test_teacher_samples_are_reproducible(name):
    runs = []
    for _ in range(2):
        teacher = build(name, SPACE, seed=7)
        tasks = feed(teacher, 80, np.random.default_rng(3))
        tasks += [teacher.sample() for _ in range(20)]
        runs.append(tasks)
    assert runs[0] == runs[1]


def test_random_teacher_depends_on_seed():
    """Guards the test above against a teacher that ignores its seed."""
    a = [build("random", SPACE, seed=1).sample() for _ in range(1)]
    b = [build("random", SPACE, seed=2).sample() for _ in range(1)]
    assert a != b


# -- envs -------------------------------------------------------------------------------------
def _trace(name: str, task, seed: int, steps: int = 80) -> list:
    env = make_env(name, **EVAL_KWARGS.get(name, {}))
    options = {"task": task} if task is not None else None
    obs, info = env.reset(seed=seed, options=options)
    env.action_space.seed(seed)
    out = [(np.asarray(obs).tolist() if not isinstance(obs, dict) else {k: np.asarray(v).tolist() for k, v in obs.items()},
            repr(sorted((k, repr(v)) for k, v in info.items())))]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        out.append((np.asarray(obs).tolist() if not isinstance(obs, dict) else {k: np.asarray(v).tolist() for k, v in obs.items()},
                    float(reward), terminated, truncated, repr(sorted((k, repr(v)) for k, v in info.items()))))
        if terminated or truncated:
            obs, info = env.reset()
            out.append(("reset", repr(sorted((k, repr(v)) for k, v in info.items()))))
    env.close()
    return out


@pytest.mark.parametrize("name", task_envs())
def test_env_episodes_are_reproducible(name):
    space = make_env(name).unwrapped.task_space
    for k, task in enumerate([space.sample(np.random.default_rng(s)) for s in range(4)]):
        assert _trace(name, task, seed=k) == _trace(name, task, seed=k)


@pytest.mark.parametrize("name", designer_envs())
def test_designs_are_reproducible(name):
    assert _trace(name, None, seed=5, steps=120) == _trace(name, None, seed=5, steps=120)


def test_gridworld_levels_are_reproducible():
    env = make_env("gridworld")
    space = env.unwrapped.task_space
    tasks = [space.sample(np.random.default_rng(s)) for s in range(20)]
    levels = []
    for _ in range(2):
        levels.append([env.reset(seed=i, options={"task": t})[1]["level"] for i, t in enumerate(tasks)])
    assert levels[0] == levels[1] and len(set(levels[0])) > 15


# -- evaluation -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", task_envs())
def test_evaluation_is_reproducible(name):
    kwargs = EVAL_KWARGS.get(name, {})
    vec = make_vec_env(name, kwargs, n_envs=1, seed=0)
    model = PPO("MlpPolicy", vec, seed=0, n_steps=64, batch_size=64, device="cpu")
    tasks = list(make_env(name).unwrapped.test_tasks())[:6]
    first = evaluate(model, name, tasks, kwargs, episodes_per_task=2, n_envs=3, seed=11)
    second = evaluate(model, name, tasks, kwargs, episodes_per_task=2, n_envs=3, seed=11)
    vec.close()
    assert [vars(r) for r in first] == [vars(r) for r in second]
    assert len(first) == 2 * len(tasks)


# -- whole runs -----------------------------------------------------------------------------
FAST = ["budget.steps=3072", "eval.every=1024", "checkpoint.every=1024", "env.kwargs.max_steps=40",
        "+env.kwargs.n_test_tasks=6", "eval.held_out=true", "log.diagnostics_every=512"]


def _run_params() -> list:
    out = []
    for p in TEACHER_PARAMS:
        name = p if isinstance(p, str) else p.values[0]
        marks = list(p.marks) if not isinstance(p, str) else []
        if name not in ("random", "alp_gmm"):
            marks.append(pytest.mark.slow)
        out.append(pytest.param(name, marks=marks))
    return out


@pytest.mark.parametrize("name", _run_params())
def test_same_config_and_seed_give_identical_runs(name, compose):
    dirs, summaries = [], []
    for copy in ("a", "b"):
        cfg = compose(f"name=det_{copy}", f"teacher={name}", "seed=4", *FAST, *TEACHER_ARGS.get(name, []))
        summaries.append(run(cfg))
        dirs.append(run_dir_for(cfg))
    for table in ("episodes", "eval", "teacher"):
        a, b = dirs[0].read(table), dirs[1].read(table)
        assert not a.empty
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=f"{name} {table}")
    volatile = {"wall_time_s", "setup_time_s", "experiment"}
    assert {k: v for k, v in summaries[0].items() if k not in volatile} == \
           {k: v for k, v in summaries[1].items() if k not in volatile}
