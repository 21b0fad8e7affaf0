"""A teacher that needs V(s0) and keeps every episode it is given: the student side of the
value need tested without SPDL (tests/test_values.py, tests/test_values_discounted.py)."""

from __future__ import annotations

import numpy as np

from teachers.base import Episode, Teacher


class NeedsValue(Teacher):
    """Proposes uniform tasks, or with ``corner=True`` the space's easiest corner (smallest
    values, where a random walk reaches the goal)."""

    name = "needs_value"
    needs = frozenset({"value"})

    def __init__(self, task_space, seed=0, corner: bool = False):
        super().__init__(task_space, seed)
        self.corner = corner
        self.got: list[Episode] = []

    def _sample(self):
        if self.corner:
            return self.task_space.from_unit(np.zeros(self.task_space.ndim))
        return self.task_space.sample(self.rng)

    def _update(self, episode):
        self.got.append(episode)
