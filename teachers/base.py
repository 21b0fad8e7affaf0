"""The Teacher contract and the Episode record.

A teacher proposes tasks (points of an env's :class:`~envs.task_space.TaskSpace`) and
learns from the outcome of each finished episode. It is seeded through a
``numpy.random.Generator``, never reads the wall clock, and can be checkpointed.

Subclasses implement :meth:`Teacher._sample` and :meth:`Teacher._update`; the public
:meth:`Teacher.sample` / :meth:`Teacher.update` wrap them with the checks every teacher
needs (tasks inside the space, non-finite returns dropped with a warning), so that no
algorithm module repeats them.

Batched API: with 1024+ envs a vector step finishes many episodes at once, and per-call
Python overhead of the teacher becomes the bottleneck of the whole loop. The bridge
therefore calls :meth:`Teacher.sample_batch` and :meth:`Teacher.update_batch` once per
vector step. Their defaults loop over the per-episode methods, so every teacher supports
them; teachers with a vectorised path override ``_sample_batch`` / ``_update_batch``. The
contract (tested for every teacher in ``tests/test_teacher_batch.py``): a batched sample is
deterministic for a seed and drawn from the same distribution as repeated ``sample()``;
``update_batch(episodes)`` leaves the same state as the same episodes given one by one.

State: :meth:`state_dict` returns plain Python containers, numbers, strings and
``torch.Tensor`` s only, so checkpoints load with ``torch.load(weights_only=True)`` and
never unpickle arbitrary objects.
"""

from __future__ import annotations

import copy
import logging
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace

log = logging.getLogger(__name__)


@dataclass
class Episode:
    """One finished episode, as a teacher sees it.

    ``task`` is the task actually played (from ``info["task"]``), ``episode_return`` the
    undiscounted return, ``success`` the env's success flag. ``regret`` (PVL / MaxMC) and
    ``value`` (the student's V(s0)) are filled only when a teacher asks for them.
    """

    task: Task
    episode_return: float
    length: int
    success: bool = False
    global_step: int = 0
    env_index: int = 0
    episode_id: int = 0
    regret: float | None = None
    value: float | None = None
    level_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """A flat row for the episodes table: the scalar fields in declaration order, then
        ``task.<dim>`` and ``extra.<key>`` columns. The row owns its values (containers are
        deep-copied, as ``dataclasses.asdict`` would), but scalars are taken as they are:
        ``asdict``'s recursive copy cost 14-18 us per episode, ~2 us now, paid by every run on
        top of the bridge's own per-episode cost (issue 18; ``benchmarks/bench_episode_record.py``)."""
        row = {name: _owned(getattr(self, name)) for name in _RECORD_FIELDS}
        for k, v in self.task.items():
            row[f"task.{k}"] = _owned(v)
        for k, v in self.extra.items():
            row[f"extra.{k}"] = _owned(v)
        return row


_RECORD_FIELDS = tuple(f.name for f in fields(Episode) if f.name not in ("task", "extra"))
_ATOMS = (str, int, float, bool, type(None), np.generic)


def _owned(value: Any) -> Any:
    """``value`` itself when immutable, else a deep copy (what ``asdict`` does to every value)."""
    return value if isinstance(value, _ATOMS) else copy.deepcopy(value)


class Teacher(ABC):
    """Base class of every teacher.

    Args:
        task_space: the space to propose tasks from.
        seed: seed of the teacher's own ``numpy.random.Generator``.

    Class attributes:
        name: the registry name (``teacher.name`` in configs).
        needs: what the runner must provide beyond returns, e.g. ``{"regret"}`` (per-episode
            regret estimates), ``{"value"}`` (student's V(s0)), ``{"antagonist"}``.
    """

    name: ClassVar[str] = "base"
    needs: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, task_space: TaskSpace, seed: int = 0) -> None:
        self.task_space = task_space
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.n_sampled = 0
        self.n_updates = 0
        self.n_dropped = 0

    # -- public API ---------------------------------------------------------------------
    def sample(self) -> Task:
        """The next task to play: a point inside the task space, or an explicit level
        ``{"level": ...}`` (level-based teachers), which the env itself validates."""
        task = self._sample()
        self.n_sampled += 1
        return dict(task) if "level" in task else self.task_space.validate(task)

    def sample_batch(self, n: int) -> list[Task]:
        """``n`` tasks at once (one call per vector step of the bridge); see the module doc."""
        if type(self)._sample_batch is Teacher._sample_batch:  # no vectorised path: exactly sample()
            return [self.sample() for _ in range(int(n))]
        tasks = self._sample_batch(int(n))
        self.n_sampled += len(tasks)
        return [dict(t) if "level" in t else self.task_space.validate(t) for t in tasks]

    def update_batch(self, episodes: Sequence[Episode]) -> None:
        """Learn from several finished episodes, in order: the same state as calling
        :meth:`update` on each. Non-finite returns are dropped with a warning."""
        if type(self)._update_batch is Teacher._update_batch:  # no vectorised path: exactly update()
            for episode in episodes:
                self.update(episode)
            return
        kept = [episode for episode in episodes if self._accept(episode)]
        if kept:
            self._update_batch(kept)
            self.n_updates += len(kept)

    def update(self, episode: Episode) -> None:
        """Learn from one finished episode. Non-finite returns are dropped with a warning
        (the teacher keeps sampling valid tasks); a task outside the space is an error."""
        if self._accept(episode):
            self._update(episode)
            self.n_updates += 1

    def _accept(self, episode: Episode) -> bool:
        """False (counted, warned) for a non-finite return; validates a parameter task."""
        if not math.isfinite(float(episode.episode_return)):
            self.n_dropped += 1
            log.warning("%s: dropped episode %d with non-finite return %r", self.name, episode.episode_id,
                        episode.episode_return)
            return False
        if "level" not in episode.task:
            episode.task = self.task_space.validate(episode.task)
        return True

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where the teacher stopped."""
        return {
            "name": self.name,
            "rng": self.rng.bit_generator.state,
            "counters": [self.n_sampled, self.n_updates, self.n_dropped],
            "algo": self._state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("name") != self.name:
            raise TeachBenchError("teacher.name", f"checkpoint is for teacher {state.get('name')!r}, not {self.name!r}")
        self.rng.bit_generator.state = state["rng"]
        self.n_sampled, self.n_updates, self.n_dropped = (int(v) for v in state["counters"])
        self._load_state(state["algo"])

    def diagnostics(self) -> dict[str, Any]:
        """Scalars worth logging over time (the runner adds the step)."""
        return {"sampled": self.n_sampled, "updates": self.n_updates, "dropped": self.n_dropped, **self._diagnostics()}

    # -- for subclasses -----------------------------------------------------------------
    @abstractmethod
    def _sample(self) -> Task: ...

    @abstractmethod
    def _update(self, episode: Episode) -> None: ...

    def _sample_batch(self, n: int) -> list[Task]:
        """Vectorised sampling (override); by default :meth:`sample_batch` repeats :meth:`sample`."""
        raise NotImplementedError

    def _update_batch(self, episodes: Sequence[Episode]) -> None:
        """Vectorised update over already-checked episodes (override); by default
        :meth:`update_batch` repeats :meth:`update`."""
        raise NotImplementedError

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        pass

    def _diagnostics(self) -> dict[str, Any]:
        return {}
