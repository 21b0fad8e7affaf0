"""``students/shm_vec.py``: the shared-memory VecEnv behaves exactly as SB3's ``DummyVecEnv`` of
the same thunks (observations, float32 rewards, dones, infos with terminal observations
and ``TimeLimit.truncated``, reset infos, seeds), per-env calls with global indices reach
the right env, and the bridge's batched hand-out (``set_next_tasks``, sent without a
reply) queues each task on its env before the next step."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

import envs  # noqa: F401
from envs.errors import TeachBenchError
from students.bridge import Curriculum
from students.shm_vec import SharedMemoryVecEnv
from students.vec import env_factory, make_vec_env
from teachers.registry import make_teacher

GRID = {"max_size": 7, "max_steps": 9}


def _same(a, b) -> bool:
    """Equal, but for Monitor's wall-clock ``episode["t"]``."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a if k != "t")
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return type(a) is type(b) and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def _compare(shm, dummy, steps, actions) -> int:
    """Step both with the same actions; everything must be equal. Returns episodes finished."""
    finished = 0
    for t in range(steps):
        a, b = shm.step(actions(t)), dummy.step(actions(t))
        for x, y in zip(a[:3], b[:3]):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x, y)
        assert len(a[3]) == shm.num_envs and all(_same(p, q) for p, q in zip(a[3], b[3]))
        assert all(_same(p, q) for p, q in zip(shm.reset_infos, dummy.reset_infos))
        finished += int(b[2].sum())
    return finished


def test_gridworld_steps_equal_a_dummy_vec_env_of_the_same_thunks():
    fns = [env_factory("gridworld", GRID, seed=i) for i in range(5)]  # 5 envs in chunks of 2, 2, 1
    shm, dummy = SharedMemoryVecEnv(fns, envs_per_worker=2, start_method="fork"), DummyVecEnv(fns)
    try:
        assert shm.chunks == [[0, 1], [2, 3], [4]]
        space = dummy.get_attr("task_space", indices=[0])[0]
        rng = np.random.default_rng(0)
        tasks = [space.sample(rng) for _ in range(5)]
        shm.set_next_tasks(tasks[::-1], [4, 3, 2, 1, 0])  # batched, no reply: queued before the reset
        for i in range(5):
            dummy.env_method("set_next_task", tasks[i], indices=[i])
        for vec in (shm, dummy):
            vec.seed(3)
        np.testing.assert_array_equal(shm.reset(), dummy.reset())
        assert all(_same(p, q) for p, q in zip(shm.reset_infos, dummy.reset_infos))
        assert [info["task"] for info in shm.reset_infos] == tasks
        moves = rng.integers(3, size=(40, 5))
        assert _compare(shm, dummy, 40, lambda t: moves[t]) >= 5  # auto-resets were compared
        assert shm.get_attr("current_task", indices=[4, 0]) == dummy.get_attr("current_task", indices=[4, 0])
        assert shm.env_method("pending_tasks", indices=[3, 1]) == dummy.env_method("pending_tasks", indices=[3, 1])
        assert shm.env_is_wrapped(type(dummy.envs[0])) == [True] * 5
        shm.set_attr("marker", 7, indices=[2])
        assert shm.get_attr("marker", indices=[2]) == [7]
    finally:
        shm.close()
        dummy.close()


def test_walker_with_the_bridge_equals_a_dummy_vec_env():
    """Box actions (float32), 2000-step time limit and falls, VecNormalize on top, and the
    curriculum bridge handing out tasks on both: the same transitions and episodes."""
    fns = [env_factory("walker_stumps", {}, seed=i) for i in range(3)]
    shm = VecNormalize(SharedMemoryVecEnv(fns, envs_per_worker=2, start_method="fork"))
    dummy = VecNormalize(DummyVecEnv(fns))
    try:
        space = dummy.get_attr("task_space", indices=[0])[0]
        curricula = [Curriculum(make_teacher("random", space, seed=0), vec) for vec in (shm, dummy)]
        for vec, curriculum in zip((shm, dummy), curricula):
            curriculum.prime()
            vec.seed(5)
        np.testing.assert_array_equal(shm.reset(), dummy.reset())
        rng = np.random.default_rng(1)
        episodes = [[], []]
        for _ in range(300):
            actions = rng.uniform(-1, 1, size=(3, 4)).astype(np.float32)
            a, b = shm.step(actions), dummy.step(actions)
            for x, y in zip(a[:3], b[:3]):
                np.testing.assert_array_equal(x, y)
            assert all(_same(p, q) for p, q in zip(a[3], b[3]))
            for k, (out, curriculum) in enumerate(zip((a, b), curricula)):
                episodes[k] += curriculum.on_step(out[2], out[3], 0)
        assert len(episodes[0]) >= 2
        assert [(e.task, e.episode_return, e.length, e.env_index) for e in episodes[0]] == \
            [(e.task, e.episode_return, e.length, e.env_index) for e in episodes[1]]
        assert curricula[0].pending() == curricula[1].pending()
    finally:
        shm.close()
        dummy.close()


def test_make_vec_env_builds_it_and_a_failed_call_is_raised_in_the_main_process():
    """A failed call is raised where it was made; the workers live on and their pipes stay
    in step (SB3's ``has_attr`` is a ``get_attr`` that may fail on every worker)."""
    vec = make_vec_env("gridworld", GRID, n_envs=3, kind="shm", envs_per_worker=2, seed=0)
    try:
        assert isinstance(vec, SharedMemoryVecEnv) and vec.chunks == [[0, 1], [2]]
        with pytest.raises(AttributeError, match="no_such_method"):
            vec.env_method("no_such_method", indices=[2])
        assert not vec.has_attr("no_such_attribute") and vec.has_attr("task_space")
        with pytest.raises(RuntimeError, match="needs reset"):  # Monitor refuses, on both workers
            vec.env_method("step", 0, indices=[0, 2])
        vec.reset()
        obs, rewards, dones, infos = vec.step(np.zeros(3, dtype=np.int64))
        assert obs.shape == (3, 54) and len(infos) == 3
        assert vec.get_attr("current_task", indices=[0, 1, 2]) == [info["task"] for info in infos]
    finally:
        vec.close()
    with pytest.raises(TeachBenchError, match="envs_per_worker"):
        SharedMemoryVecEnv([env_factory("gridworld", GRID)], envs_per_worker=0)


TINY = ["env=gridworld_small", "budget.steps=512", "eval.every=512", "checkpoint.every=512",
        "env.kwargs.max_steps=30", "+env.kwargs.n_test_tasks=2", "eval.held_out=false", "log.progress_bar=false"]


def test_a_run_with_the_shm_vec_env_and_a_split_update(compose):
    """``env.vec_env=shm +env.envs_per_worker=2`` and ``update_threads`` reach the run; the
    update's placement and the grouping of envs into processes are not part of the run's
    identity (as ``device``), the VecEnv kind is."""
    from experiments.running.run import RunPlan, _build_student, run, run_dir_for
    from students.split_update import SplitUpdatePPO
    from experiments.running.config_checks import validate_config

    cfg = compose(*TINY, "env.vec_env=shm", "+env.envs_per_worker=2", "env.n_envs=4", "update_threads=1",
                  "update_device=cpu")
    summary = run(cfg)
    assert summary["steps"] >= 512 and summary["state"] == "finished"
    plan = RunPlan.from_config(cfg)
    assert (plan.vec_env, plan.envs_per_worker, plan.update_device, plan.update_threads) == ("shm", 2, "cpu", 1)
    vec = make_vec_env(plan.env_name, plan.env_kwargs, plan.n_envs, plan.vec_env, envs_per_worker=plan.envs_per_worker)
    try:
        model = _build_student(plan, vec)
        assert isinstance(model, SplitUpdatePPO) and model.update_threads == 1
    finally:
        vec.close()
    plain = compose(*TINY, "env.vec_env=shm", "+env.envs_per_worker=2", "env.n_envs=4")
    assert run_dir_for(cfg).path == run_dir_for(plain).path
    one = compose(*TINY, "env.vec_env=shm", "+env.envs_per_worker=1", "env.n_envs=4")  # grouping: not identity
    assert run_dir_for(one).path == run_dir_for(plain).path
    assert run_dir_for(compose(*TINY, "env.n_envs=4")).path != run_dir_for(plain).path
    with pytest.raises(TeachBenchError, match="env.envs_per_worker"):
        validate_config(compose(*TINY, "+env.envs_per_worker=2"))
    with pytest.raises(TeachBenchError, match="update_threads"):
        validate_config(compose(*TINY, "update_threads=0"))
    with pytest.raises(TeachBenchError, match="update_device"):
        validate_config(compose(*TINY, "student=a2c", "update_device=cpu"))
