"""The curriculum bridge: every episode reaches the teacher with the task it really played,
with DummyVecEnv and SubprocVecEnv, and SB3 PPO trains through it."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from stable_baselines3 import PPO

from envs.errors import TeachBenchError
from envs.task_space import Task
from students.bridge import Curriculum, CurriculumCallback
from students.vec import make_vec_env
from teachers.base import Episode, Teacher


class RecordingTeacher(Teacher):
    """Uniform sampling that remembers every task it gave and every episode it got."""

    name = "recording"

    def __init__(self, task_space, seed=0):
        super().__init__(task_space, seed)
        self.issued: list[Task] = []
        self.received: list[Episode] = []

    def _sample(self) -> Task:
        task = self.task_space.sample(self.rng)
        self.issued.append(task)
        return task

    def _update(self, episode: Episode) -> None:
        self.received.append(episode)


def _run_bridge(kind: str, n_envs: int = 3, steps: int = 1500):
    vec = make_vec_env("gridworld", {"max_steps": 20}, n_envs=n_envs, kind=kind, seed=1)
    try:
        space = vec.get_attr("task_space", indices=[0])[0]
        teacher = RecordingTeacher(space, seed=3)
        handed: dict[int, list[Task]] = defaultdict(list)
        original = vec.env_method

        def spy(method, *args, indices=None, **kwargs):
            if method == "set_next_task":
                for i in indices if indices is not None else range(vec.num_envs):
                    handed[int(i)].append(args[0])
            return original(method, *args, indices=indices, **kwargs)

        vec.env_method = spy
        curriculum = Curriculum(teacher, vec)
        curriculum.prime()
        obs = vec.reset()
        rng = np.random.default_rng(0)
        for step in range(1, steps + 1):
            obs, _, dones, infos = vec.step(rng.integers(0, 3, size=n_envs))
            curriculum.on_step(dones, infos, step * n_envs)
        return teacher, handed, curriculum.pending()
    finally:
        vec.close()


@pytest.mark.parametrize("kind", ["dummy", "subproc"])
def test_every_episode_reported_against_the_task_it_played(kind):
    teacher, handed, pending = _run_bridge(kind)
    assert len(teacher.received) > 100
    per_env: dict[int, list[Task]] = defaultdict(list)
    for ep in teacher.received:
        per_env[ep.env_index].append(ep.task)
    for i, played in per_env.items():
        # FIFO: sub-env i played exactly the tasks it was handed, in order, none skipped.
        assert played == handed[i][: len(played)]
        # the one-task look-ahead: it always holds the task in play plus one queued
        assert len(handed[i]) == len(played) + 2
    ids = [ep.episode_id for ep in teacher.received]
    assert ids == list(range(len(ids)))
    assert len(teacher.issued) == sum(len(v) for v in handed.values())
    assert all(len(p) == 2 for p in pending)


def test_ppo_learns_through_the_bridge_with_subproc():
    vec = make_vec_env("gridworld", {"max_steps": 30}, n_envs=2, kind="subproc", seed=0)
    try:
        space = vec.get_attr("task_space", indices=[0])[0]
        teacher = RecordingTeacher(space, seed=0)
        curriculum = Curriculum(teacher, vec)
        curriculum.prime()
        model = PPO("MlpPolicy", vec, n_steps=256, batch_size=128, n_epochs=2, seed=0, device="cpu")
        model.learn(1024, callback=CurriculumCallback(curriculum))
        assert model.num_timesteps == 1024
        lengths = sum(ep.length for ep in teacher.received)
        assert 0 < lengths <= 1024
        assert all(space.contains(ep.task) for ep in teacher.received)
    finally:
        vec.close()


def test_non_finite_reward_is_a_clear_error():
    import gymnasium as gym

    from students.bridge import CurriculumWrapper

    class NaNReward(gym.Wrapper):
        def step(self, action):
            obs, _, term, trunc, info = self.env.step(action)
            return obs, float("nan"), term, trunc, info

    env = CurriculumWrapper(NaNReward(gym.make("TeachBench/Gridworld-v0")))
    env.reset(seed=0)
    with pytest.raises(TeachBenchError, match="reward: the env returned a non-finite reward nan on task"):
        env.step(0)


def test_token_teachers_hand_out_in_one_batched_call_with_each_tasks_own_token() -> None:
    """PLR labels every hand-out with a token read right after its ``sample``: on a batched
    VecEnv the bridge now queues a step's tasks with one ``set_next_tasks`` call (issue 18),
    and each sub-env still gets the task and token an identical teacher hands out one by one."""
    from teachers.registry import make_teacher

    vec = make_vec_env("gridworld", {}, 6, "batched", 0)
    try:
        space = vec.get_attr("task_space", indices=[0])[0]
        teacher, twin = (make_teacher("plr", space, seed=3, buffer_size=8, min_fill=0.0) for _ in range(2))
        curriculum = Curriculum(teacher, vec)
        curriculum.prime()
        calls = []
        real = vec.set_next_tasks
        vec.set_next_tasks = lambda tasks, idx: (calls.append(list(idx)), real(tasks, idx))[1]  # type: ignore[method-assign]
        vec.env_method = None  # type: ignore[assignment]  # the per-env path must not be taken
        for i in range(6):  # the twin replays prime's hand-outs (task, then its token)
            for _ in range(1 + curriculum.lookahead):
                twin.sample()
                twin.handout_token()
        curriculum.hand_out(np.array([4, 1, 5]))
        assert calls == [[4, 1, 5]]
        for i in (4, 1, 5):
            want = twin.sample()
            token = twin.handout_token()
            assert vec.pending_tasks([i])[0][-1] == space.validate(want)
            assert curriculum.handouts[i][-1] == token
            assert len(curriculum.handouts[i]) == 2 + curriculum.lookahead
    finally:
        vec.close()
