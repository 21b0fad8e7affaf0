"""Random: uniform over the TaskSpace (domain randomization, the baseline of every table)."""

from __future__ import annotations

from teachers.base import Episode, Teacher
from envs.task_space import Task


class RandomTeacher(Teacher):
    """Uniform task sampling; ignores feedback. TeachMyAgent's and the UED papers' baseline."""

    name = "random"

    def _sample(self) -> Task:
        return self.task_space.sample(self.rng)

    def _sample_batch(self, n: int) -> list[Task]:
        return self.task_space.sample_batch(self.rng, n)

    def _update(self, episode: Episode) -> None:
        pass

    def _update_batch(self, episodes) -> None:
        pass
