"""What every parameterized TeachBench env adds to the gymnasium contract.

A plain gymnasium user sees an ordinary env. A TeachBench runner additionally reads,
from ``env.unwrapped``:

- ``task_space``: the :class:`~envs.task_space.TaskSpace` a teacher samples from;
- ``reset(options={"task": task})`` (or ``{"level": ...}`` for envs with explicit levels)
  and ``info["task"]`` reporting the task actually played, on every step and reset;
- ``test_tasks()``: a fixed, seeded list of tasks (the benchmark's test set);
- ``is_mastered(episode_return, success)``: the env's mastery rule for one test episode;
- ``held_out()``: named zero-shot tasks or levels (may be empty).

A reset without a task plays ``default_task()`` so that the env works before any
teacher exists (a TeachMyAgent complaint).
"""

from __future__ import annotations

from typing import Any, Mapping

from envs.task_space import Task, TaskSpace


class TaskEnvMixin:
    """Mixin for gymnasium envs that take their task through ``reset(options=...)``."""

    task_space: TaskSpace

    def default_task(self) -> Task:
        """The task played when ``reset`` gets none: by default the space's lower corner."""
        return self.task_space.from_array(self.task_space.low)

    def resolve_task(self, options: Mapping[str, Any] | None, current: Task | None) -> Task:
        """The task to play next: ``options["task"]`` (validated), else the current one,
        else :meth:`default_task`."""
        if options and options.get("task") is not None:
            return self.task_space.validate(options["task"])
        return current if current is not None else self.default_task()

    def test_tasks(self) -> list[Task]:
        raise NotImplementedError

    def is_mastered(self, episode_return: float, success: bool) -> bool:
        return bool(success)

    def held_out(self) -> dict[str, Any]:
        return {}
