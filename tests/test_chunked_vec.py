"""``students/chunked_vec.py``: several envs per worker process behave exactly as SB3's
``DummyVecEnv`` of the same thunks (observations, rewards, dones, infos with terminal
observations, reset seeds), and per-env calls with global indices reach the right env
(the curriculum bridge's task queue)."""

from __future__ import annotations

import numpy as np

import envs  # noqa: F401
from students.chunked_vec import ChunkedSubprocVecEnv
from stable_baselines3.common.vec_env import DummyVecEnv
from students.vec import env_factory

KWARGS = {"max_size": 7, "max_steps": 9}


def _same(a, b) -> bool:
    """Equal, but for Monitor's wall-clock ``episode["t"]``."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a if k != "t")
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def test_steps_equal_a_dummy_vec_env_of_the_same_thunks():
    fns = [env_factory("gridworld", KWARGS, seed=i) for i in range(5)]  # 5 envs in chunks of 2, 2, 1
    chunked, dummy = ChunkedSubprocVecEnv(fns, envs_per_worker=2, start_method="fork"), DummyVecEnv(fns)
    try:
        assert chunked.chunks == [[0, 1], [2, 3], [4]]
        space = dummy.get_attr("task_space", indices=[0])[0]
        rng = np.random.default_rng(0)
        for i in range(5):  # queue a task for each env, through global indices
            task = space.sample(rng)
            chunked.env_method("set_next_task", task, indices=[i])
            dummy.env_method("set_next_task", task, indices=[i])
        for vec in (chunked, dummy):
            vec.seed(3)
        np.testing.assert_array_equal(chunked.reset(), dummy.reset())
        assert _same(chunked.reset_infos, dummy.reset_infos)
        finished = 0
        for _ in range(40):
            actions = rng.integers(3, size=5)
            a, b = chunked.step(actions), dummy.step(actions)
            for x, y in zip(a[:3], b[:3]):
                np.testing.assert_array_equal(x, y)
            assert len(a[3]) == 5 and all(_same(p, q) for p, q in zip(a[3], b[3]))
            finished += int(b[2].sum())
        assert finished >= 5  # auto-resets with terminal observations were compared
        assert chunked.get_attr("current_task", indices=[4, 0]) == dummy.get_attr("current_task", indices=[4, 0])
        assert chunked.env_method("pending_tasks", indices=[3, 1]) == dummy.env_method("pending_tasks", indices=[3, 1])
        assert chunked.env_is_wrapped(type(dummy.envs[0])) == [True] * 5
    finally:
        chunked.close()
        dummy.close()
