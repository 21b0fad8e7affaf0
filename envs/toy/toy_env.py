"""``TeachBench/Toy-v0``: the simulated student as a one-step gymnasium env.

The env *is* the student: each episode is one practice of the task given to ``reset``;
its only step returns the reward the teacher sees (competence/100 of the practised cell
after the update) and ends the episode. Any action is accepted (the action space is a
single choice), so a gymnasium user or an SB3 agent can drive it, but the teacher track
uses :class:`~envs.toy.student.SimulatedStudent` directly to avoid gymnasium overhead.

Observation: the task in ``[0, 1]^D`` (what a student would be told about its task).
A seeded ``reset`` starts a fresh student (the env's state *is* the student), so two
seeded resets replay identically. Note that every episode trains the simulated student, test episodes included; the track
reads the test score with :meth:`SimulatedStudent.score`, which does not train.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from envs.base import TaskEnvMixin
from envs.task_space import Task
from envs.toy.student import SimulatedStudent


class ToyEnv(TaskEnvMixin, gym.Env):
    """One-step env over a :class:`SimulatedStudent`; keyword arguments are the student's."""

    metadata = {"render_modes": []}

    def __init__(self, **student_kwargs: Any) -> None:
        self._kwargs = dict(student_kwargs)
        self.student = SimulatedStudent(**student_kwargs)
        self.task_space = self.student.task_space()
        d = self.task_space.ndim
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(d,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(1)
        self._task: Task | None = None
        self._done = True

    def _obs(self) -> np.ndarray:
        return self.task_space.to_unit(self._task).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            # a seeded reset starts a fresh student: the env's whole state is the student
            self.student = SimulatedStudent(**{**self._kwargs, "seed": seed})
        self._task = self.resolve_task(options, self._task)
        self._done = False
        return self._obs(), {"task": dict(self._task)}

    def step(self, action: Any):
        if self._done or self._task is None:
            raise gym.error.ResetNeeded("ToyEnv: call reset() before step()")
        reward, success = self.student.practise(self.task_space.to_unit(self._task))
        self._done = True
        info = {"task": dict(self._task), "success": bool(success), "score": self.student.score()}
        return self._obs(), float(reward), True, False, info

    def test_tasks(self) -> list[Task]:
        return [self.task_space.from_unit(u) for u in self.student.test_tasks()]

    def is_mastered(self, episode_return: float, success: bool) -> bool:
        return bool(success)
