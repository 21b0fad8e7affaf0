"""ADR: automatic domain randomization (OpenAI et al. 2019), with TeachMyAgent's settings.

The teacher keeps a box ``[lower_i, upper_i]`` per task dimension (normalised unit cube),
which starts as a single point, the easy task given as expert knowledge. Each task is:

1. with probability ``boundary_prob``: *boundary sampling* -- one dimension ``i`` and one
   side (lower or upper) are drawn uniformly; dimension ``i`` is set to that bound and the
   other dimensions are uniform inside the box. The episode's return is appended to that
   bound's queue;
2. otherwise uniform inside the current box.

When a bound's queue holds ``queue_len`` returns, their mean is compared with the reward
thresholds ``(t_low, t_high)`` from EK: mean >= ``t_high`` *expands* the box at that bound
by ``step_size`` (outward, clipped to the cube), mean <= ``t_low`` *contracts* it (inward,
never past the opposite bound); the queue is then emptied (docs/references.md#adr).

Vector envs return episodes out of order and a step ahead, so boundary probes are kept in
a small pending queue keyed by the task, and an episode is credited to the oldest pending
probe that produced that exact task (an interior task equal to a probe's task is the same
measurement, so crediting it is harmless).

Batches (issue 18: 1024 envs finish several episodes per vector step). Each task's random
numbers are one row of ``d + 3`` uniforms from the teacher's generator (``d`` for the point
inside the box, then the boundary coin, the dimension and the side), so
``sample_batch(n)`` draws one ``(n, d + 3)`` block and gives exactly the tasks of ``n``
calls of ``sample()``. The pending probes are indexed by task, so crediting an episode is a
dictionary look-up instead of a scan of the queue; ``update_batch`` converts the batch's
tasks at once and credits them in order, leaving the state of one-by-one updates.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Mapping, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher
from teachers.expert import ExpertKnowledge

SIDES = ("low", "high")


class ADR(Teacher):
    """Automatic domain randomization.

    Args:
        task_space: the space to propose tasks from.
        seed: seed of the teacher's generator.
        expert: expert knowledge (required): ``initial.mean`` (the start point) and
            ``reward_thresholds`` ``[t_low, t_high]`` (TMA: ``[0, 180]`` on stump tracks).
        boundary_prob: probability of boundary sampling. Default 0.7 (TMA, docs/references.md#adr;
            OpenAI's ``p_b`` 0.5 in the Rubik's cube paper).
        queue_len: returns per bound before a decision. Default 10 (TMA).
        step_size: how far a bound moves per decision, as a fraction of the dimension's
            range (we work in the unit cube). Default 0.1 (TMA's step 0.1).
        max_pending: most boundary probes awaiting their episode (oldest forgotten first),
            so that tasks whose episode never returns cannot grow memory. Default 1000 (ours).
    """

    name = "adr"

    def __init__(
        self,
        task_space: TaskSpace,
        seed: int = 0,
        expert: Mapping[str, Any] | ExpertKnowledge | None = None,
        boundary_prob: float = 0.7,
        queue_len: int = 10,
        step_size: float = 0.1,
        max_pending: int = 1000,
    ) -> None:
        super().__init__(task_space, seed)
        self.expert = ExpertKnowledge.from_config(expert, task_space)
        self.expert.need(self.name, "initial", "reward_thresholds")
        if not 0.0 <= boundary_prob <= 1.0:
            raise TeachBenchError("teacher.boundary_prob", f"must be in [0, 1], got {boundary_prob}")
        if int(queue_len) < 1:
            raise TeachBenchError("teacher.queue_len", f"must be >= 1, got {queue_len}")
        if not 0.0 < step_size <= 1.0:
            raise TeachBenchError("teacher.step_size", f"must be in (0, 1], got {step_size}")
        self.boundary_prob = float(boundary_prob)
        self.queue_len = int(queue_len)
        self.step_size = float(step_size)
        self.max_pending = int(max_pending)
        self.t_low, self.t_high = self.expert.reward_thresholds  # type: ignore[misc]
        start = self.expert.initial.mean  # type: ignore[union-attr]
        d = task_space.ndim
        self.lower = start.copy()
        self.upper = start.copy()
        # queues[i][0] for the lower bound of dim i, queues[i][1] for its upper bound
        self.queues: list[list[deque[float]]] = [[deque(), deque()] for _ in range(d)]
        # boundary probes awaiting their episode, oldest first: probe id -> (task key, dim, side),
        # and per task key the ids of its probes, oldest first
        self._probes: dict[int, tuple[tuple[float, ...], int, int]] = {}
        self._by_key: dict[tuple[float, ...], deque[int]] = {}
        self._next_probe = 0
        self.n_expand = 0
        self.n_contract = 0

    # -- sampling -----------------------------------------------------------------------
    def _sample(self) -> Task:
        return self._sample_batch(1)[0]

    def _sample_batch(self, n: int) -> list[Task]:
        """``n`` tasks; row ``k`` of the uniforms is task ``k``'s (module doc), so a batch is
        the same tasks, and leaves the same probes, as ``n`` single samples."""
        d = self.task_space.ndim
        draws = self.rng.random((n, d + 3))
        u = self.lower + (self.upper - self.lower) * draws[:, :d]  # uniform inside the box
        rows = np.flatnonzero(draws[:, d] < self.boundary_prob)  # boundary sampling
        dims = np.minimum((draws[rows, d + 1] * d).astype(np.int64), d - 1)
        sides = (draws[rows, d + 2] >= 0.5).astype(np.int64)
        u[rows, dims] = np.where(sides == 0, self.lower[dims], self.upper[dims])
        tasks = self.task_space.from_unit_batch(u)
        if rows.size:
            keys = self._keys([tasks[k] for k in rows.tolist()])
            for key, dim, side in zip(keys, dims.tolist(), sides.tolist()):
                self._add_probe(key, dim, side)
        return tasks

    def _keys(self, tasks: Sequence[Task]) -> list[tuple[float, ...]]:
        """The probe key of each task: its unit point rounded to 9 decimals."""
        return [tuple(row) for row in np.round(self.task_space.to_unit_batch(tasks), 9).tolist()]

    def _add_probe(self, key: tuple[float, ...], dim: int, side: int) -> None:
        probe = self._next_probe
        self._next_probe += 1
        self._probes[probe] = (key, dim, side)
        self._by_key.setdefault(key, deque()).append(probe)
        if len(self._probes) > self.max_pending:  # forget the oldest probe
            oldest = next(iter(self._probes))
            self._forget(oldest, self._probes.pop(oldest)[0])

    def _forget(self, probe: int, key: tuple[float, ...]) -> None:
        ids = self._by_key[key]
        ids.remove(probe)
        if not ids:
            del self._by_key[key]

    @property
    def pending(self) -> list[tuple[tuple[float, ...], int, int]]:
        """The boundary probes awaiting their episode, oldest first: (task key, dim, side)."""
        return list(self._probes.values())

    # -- learning -----------------------------------------------------------------------
    def _update(self, episode: Episode) -> None:
        self._credit(self._keys([episode.task])[0], float(episode.episode_return))

    def _update_batch(self, episodes: Sequence[Episode]) -> None:
        for key, episode in zip(self._keys([e.task for e in episodes]), episodes):
            self._credit(key, float(episode.episode_return))

    def _credit(self, key: tuple[float, ...], episode_return: float) -> None:
        """Give a return to the oldest pending probe of this task (none: an interior task)."""
        ids = self._by_key.get(key)
        if not ids:
            return  # an interior task: ADR learns only from boundary probes
        probe = ids.popleft()
        if not ids:
            del self._by_key[key]
        _, dim, side = self._probes.pop(probe)
        queue = self.queues[dim][side]
        queue.append(episode_return)
        if len(queue) < self.queue_len:
            return
        mean = float(np.mean(queue))
        queue.clear()
        if mean >= self.t_high:
            self._move(dim, side, outward=True)
        elif mean <= self.t_low:
            self._move(dim, side, outward=False)

    def _move(self, dim: int, side: int, outward: bool) -> None:
        step = self.step_size if outward else -self.step_size
        if side == 0:
            self.lower[dim] = float(np.clip(self.lower[dim] - step, 0.0, self.upper[dim]))
        else:
            self.upper[dim] = float(np.clip(self.upper[dim] + step, self.lower[dim], 1.0))
        if outward:
            self.n_expand += 1
        else:
            self.n_contract += 1
        # probes of the old bound no longer test the current boundary
        for probe, (key, probe_dim, probe_side) in list(self._probes.items()):
            if (probe_dim, probe_side) == (dim, side):
                del self._probes[probe]
                self._forget(probe, key)

    # -- state --------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
            "queues": [[list(q) for q in pair] for pair in self.queues],
            "pending": [[list(k), dim, side] for k, dim, side in self.pending],
            "moves": [self.n_expand, self.n_contract],
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.lower = np.asarray(state["lower"], dtype=np.float64)
        self.upper = np.asarray(state["upper"], dtype=np.float64)
        self.queues = [[deque(float(x) for x in q) for q in pair] for pair in state["queues"]]
        self._probes, self._by_key, self._next_probe = {}, {}, 0
        for k, dim, side in state["pending"]:
            self._add_probe(tuple(float(x) for x in k), int(dim), int(side))
        self.n_expand, self.n_contract = (int(v) for v in state["moves"])

    def _diagnostics(self) -> dict[str, Any]:
        span = self.task_space.high - self.task_space.low
        out: dict[str, Any] = {
            "expansions": self.n_expand,
            "contractions": self.n_contract,
            "volume": float(np.prod(self.upper - self.lower)),
            "pending_probes": len(self.pending),
        }
        for i, name in enumerate(self.task_space.names):
            out[f"bound.{name}.low"] = float(self.task_space.low[i] + self.lower[i] * span[i])
            out[f"bound.{name}.high"] = float(self.task_space.low[i] + self.upper[i] * span[i])
        return out
