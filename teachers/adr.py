"""ADR: automatic domain randomization (OpenAI et al. 2019), as TeachMyAgent runs it.

The teacher keeps a box ``[lower_i, upper_i]`` per task dimension (normalised unit cube),
which starts as a single point, the easy task given as expert knowledge (TMA's
``initial_dist`` mean). Each task is drawn uniformly inside the current box; then, with
probability ``boundary_prob``, one dimension ``i`` is drawn uniformly and pinned to one of
its two bounds, each with probability 1/2 (TMA draws the side 50/50 even when one bound
already sits on the edge of the space); a dimension whose two bounds both sit on the edges
is not pinned (that draw is a plain uniform task).

Which bounds an episode tests (TMA's ``episodic_update``): **every** ``(dimension, side)``
whose bound equals the task's coordinate, not only the pinned one. While a dimension's
bounds coincide (at the start, the box is a point) every task sits on both its bounds, so
every episode goes into both queues of every such dimension: the first decisions come
after ``queue_len`` episodes, not after ``queue_len`` boundary draws.

When a bound's queue holds ``queue_len`` returns, their mean is compared with the reward
thresholds ``(t_low, t_high)`` from EK, in the env's own return units (TMA's benchmark
does not scale rewards): mean >= ``t_high`` *expands* the box at that bound by
``step_size`` (outward, clipped to the space), else mean <= ``t_low`` *contracts* it
(inward, never past the opposite bound); the queue is then emptied whatever the mean. The
bounds are visited dimension by dimension, lower before upper (a contraction of the lower
bound limits the upper one's in the same episode, as in TMA). docs/references.md#adr.

Step size. TMA's ``step_size`` (0.1) is in the env's own task units, the same for every
dimension: on stump tracks [0, 3] x [0, 6] a bound moves by 1/30 of the height range and
1/60 of the spacing range. ``step_size`` here is either a mapping ``{dimension: step}`` in
the env's units (TMA's rule; ``configs/experiment/tma_*.yaml`` give 0.1 per dimension) or a
number, a fraction of every dimension's range (ours, for envs whose units differ in scale,
e.g. the gridworld's size and wall density; 0.1 by default).

Vector envs return episodes out of order and a step ahead, so the tested bounds of each
task wait in a pending record keyed by the task, and an episode is credited to the oldest
pending record of that exact task (an interior task equal to a recorded one is the same
measurement). A bound that moves voids the pending tests of that bound: TMA compares the
task with the bound in force when the episode ends, which the old task no longer equals.

Batches (issue 18: 1024 envs finish several episodes per vector step). Each task's random
numbers are one row of ``d + 3`` uniforms from the teacher's generator (``d`` for the point
inside the box, then the boundary coin, the dimension and the side), so
``sample_batch(n)`` draws one ``(n, d + 3)`` block and gives exactly the tasks of ``n``
calls of ``sample()``. The pending records are indexed by task, so crediting an episode is
a dictionary look-up; ``update_batch`` converts the batch's tasks at once and credits them
in order, leaving the state of one-by-one updates.
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

Key = tuple[float, ...]
Bound = tuple[int, int]  # (dimension, side): side 0 the lower bound, 1 the upper


class ADR(Teacher):
    """Automatic domain randomization.

    Args:
        task_space: the space to propose tasks from.
        seed: seed of the teacher's generator.
        expert: expert knowledge (required): ``initial.mean`` (the start point) and
            ``reward_thresholds`` ``[t_low, t_high]`` (TMA: ``[0, 180]`` on stump tracks).
        boundary_prob: probability of pinning one dimension to a bound. Default 0.7 (TMA's
            benchmark, docs/references.md#adr; OpenAI's ``p_b`` 0.5 in the Rubik's cube paper).
        queue_len: returns per bound before a decision. Default 10 (TMA).
        step_size: how far a bound moves per decision: a mapping ``{dimension: step}`` in the
            env's units (TMA: 0.1 for every dimension), or a number, a fraction of each
            dimension's range (ours; module doc). Default 0.1.
        max_pending: most tasks awaiting their episode (oldest forgotten first), so that tasks
            whose episode never returns cannot grow memory. Default 100_000 (ours: while the
            box is a point every task is a test, one per env in flight).
    """

    name = "adr"

    def __init__(
        self,
        task_space: TaskSpace,
        seed: int = 0,
        expert: Mapping[str, Any] | ExpertKnowledge | None = None,
        boundary_prob: float = 0.7,
        queue_len: int = 10,
        step_size: float | Mapping[str, float] = 0.1,
        max_pending: int = 100_000,
    ) -> None:
        super().__init__(task_space, seed)
        self.expert = ExpertKnowledge.from_config(expert, task_space)
        self.expert.need(self.name, "initial", "reward_thresholds")
        if not 0.0 <= boundary_prob <= 1.0:
            raise TeachBenchError("teacher.boundary_prob", f"must be in [0, 1], got {boundary_prob}")
        if int(queue_len) < 1:
            raise TeachBenchError("teacher.queue_len", f"must be >= 1, got {queue_len}")
        if int(max_pending) < 1:
            raise TeachBenchError("teacher.max_pending", f"must be >= 1, got {max_pending}")
        self.boundary_prob = float(boundary_prob)
        self.queue_len = int(queue_len)
        self.steps = self._unit_steps(task_space, step_size)  # per dimension, in the unit cube
        self.max_pending = int(max_pending)
        self.t_low, self.t_high = self.expert.reward_thresholds  # type: ignore[misc]
        start = self.expert.initial.mean  # type: ignore[union-attr]
        d = task_space.ndim
        self.lower = start.copy()
        self.upper = start.copy()
        # queues[i][0] for the lower bound of dim i, queues[i][1] for its upper bound
        self.queues: list[list[deque[float]]] = [[deque(), deque()] for _ in range(d)]
        # tasks awaiting their episode, oldest first: record id -> (task key, tested bounds),
        # and per task key the ids of its records, oldest first
        self._probes: dict[int, tuple[Key, list[Bound]]] = {}
        self._by_key: dict[Key, deque[int]] = {}
        self._next_probe = 0
        self.n_expand = 0
        self.n_contract = 0

    @staticmethod
    def _unit_steps(task_space: TaskSpace, step_size: float | Mapping[str, float]) -> np.ndarray:
        """The step of each dimension in the unit cube (module doc: env units or a fraction)."""
        span = np.asarray(task_space.high, dtype=np.float64) - np.asarray(task_space.low, dtype=np.float64)
        if isinstance(step_size, Mapping):
            names = list(task_space.names)
            if set(step_size) != set(names):
                raise TeachBenchError("teacher.step_size", "a mapping needs one step (env units) per task "
                                      f"dimension, got {sorted(step_size)}", names)
            steps = np.array([float(step_size[n]) for n in names]) / span
            if not np.all(np.isfinite(steps) & (steps > 0)):
                raise TeachBenchError("teacher.step_size", f"every step must be > 0, got {dict(step_size)}")
            return steps
        if not 0.0 < float(step_size) <= 1.0:
            raise TeachBenchError("teacher.step_size", f"a fraction of the range must be in (0, 1], got {step_size}")
        return np.full(task_space.ndim, float(step_size))

    # -- sampling -----------------------------------------------------------------------
    def _sample(self) -> Task:
        return self._sample_batch(1)[0]

    def _sample_batch(self, n: int) -> list[Task]:
        """``n`` tasks; row ``k`` of the uniforms is task ``k``'s (module doc), so a batch is
        the same tasks, and leaves the same pending tests, as ``n`` single samples."""
        d = self.task_space.ndim
        draws = self.rng.random((n, d + 3))
        u = self.lower + (self.upper - self.lower) * draws[:, :d]  # uniform inside the box
        dims = np.minimum((draws[:, d + 1] * d).astype(np.int64), d - 1)
        sides = (draws[:, d + 2] >= 0.5).astype(np.int64)
        capped = (self.lower <= 0.0) & (self.upper >= 1.0)  # both bounds on the space's edges
        rows = np.flatnonzero((draws[:, d] < self.boundary_prob) & ~capped[dims])  # boundary sampling
        dims, sides = dims[rows], sides[rows]
        u[rows, dims] = np.where(sides == 0, self.lower[dims], self.upper[dims])
        tasks = self.task_space.from_unit_batch(u)
        # every (dimension, side) whose bound the task sits on is tested (TMA's equality test)
        on_low, on_high = u == self.lower, u == self.upper
        tested = np.flatnonzero(on_low.any(axis=1) | on_high.any(axis=1))
        if tested.size:
            keys = self._keys([tasks[k] for k in tested.tolist()])
            for key, k in zip(keys, tested.tolist()):
                bounds = [(i, s) for i in range(d) for s, hit in ((0, on_low[k, i]), (1, on_high[k, i])) if hit]
                self._add_probe(key, bounds)
        return tasks

    def _keys(self, tasks: Sequence[Task]) -> list[Key]:
        """The record key of each task: its unit point rounded to 9 decimals."""
        return [tuple(row) for row in np.round(self.task_space.to_unit_batch(tasks), 9).tolist()]

    def _add_probe(self, key: Key, bounds: list[Bound]) -> None:
        probe = self._next_probe
        self._next_probe += 1
        self._probes[probe] = (key, bounds)
        self._by_key.setdefault(key, deque()).append(probe)
        if len(self._probes) > self.max_pending:  # forget the oldest record
            oldest = next(iter(self._probes))
            self._forget(oldest, self._probes.pop(oldest)[0])

    def _forget(self, probe: int, key: Key) -> None:
        ids = self._by_key[key]
        ids.remove(probe)
        if not ids:
            del self._by_key[key]

    @property
    def pending(self) -> list[tuple[Key, int, int]]:
        """The bound tests awaiting their episode, oldest task first: (task key, dim, side)."""
        return [(key, dim, side) for key, bounds in self._probes.values() for dim, side in bounds]

    # -- learning -----------------------------------------------------------------------
    def _update(self, episode: Episode) -> None:
        self._credit(self._keys([episode.task])[0], float(episode.episode_return))

    def _update_batch(self, episodes: Sequence[Episode]) -> None:
        for key, episode in zip(self._keys([e.task for e in episodes]), episodes):
            self._credit(key, float(episode.episode_return))

    def _credit(self, key: Key, episode_return: float) -> None:
        """Give a return to every bound the oldest pending record of this task tests
        (none: an interior task, from which ADR learns nothing)."""
        ids = self._by_key.get(key)
        if not ids:
            return
        probe = ids.popleft()
        if not ids:
            del self._by_key[key]
        _, bounds = self._probes.pop(probe)
        for dim, side in bounds:  # dimension by dimension, lower before upper (TMA's order)
            queue = self.queues[dim][side]
            queue.append(episode_return)
            if len(queue) < self.queue_len:
                continue
            mean = float(np.mean(queue))
            queue.clear()
            if mean >= self.t_high:
                self._move(dim, side, outward=True)
            elif mean <= self.t_low:
                self._move(dim, side, outward=False)

    def _move(self, dim: int, side: int, outward: bool) -> None:
        """Move one bound by its step (a decision; clipping may leave the bound where it is)."""
        step = self.steps[dim] if outward else -self.steps[dim]
        bounds_of_side = self.lower if side == 0 else self.upper
        old = float(bounds_of_side[dim])
        if side == 0:
            self.lower[dim] = float(np.clip(self.lower[dim] - step, 0.0, self.upper[dim]))
        else:
            self.upper[dim] = float(np.clip(self.upper[dim] + step, self.lower[dim], 1.0))
        if outward:
            self.n_expand += 1
        else:
            self.n_contract += 1
        if float(bounds_of_side[dim]) == old:
            return  # clipped in place: pending tasks still sit on this bound
        # pending tasks on the old bound no longer sit on the current one (module doc)
        for probe, (key, bounds) in list(self._probes.items()):
            if (dim, side) in bounds:
                bounds.remove((dim, side))
                if not bounds:
                    del self._probes[probe]
                    self._forget(probe, key)

    # -- state --------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
            "queues": [[list(q) for q in pair] for pair in self.queues],
            "pending": [[list(key), [list(b) for b in bounds]] for key, bounds in self._probes.values()],
            "moves": [self.n_expand, self.n_contract],
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.lower = np.asarray(state["lower"], dtype=np.float64)
        self.upper = np.asarray(state["upper"], dtype=np.float64)
        self.queues = [[deque(float(x) for x in q) for q in pair] for pair in state["queues"]]
        self._probes, self._by_key, self._next_probe = {}, {}, 0
        for entry in state["pending"]:
            if len(entry) == 3:  # checkpoints before the TMA audit: [key, dim, side], one bound per task
                key, bounds = entry[0], [[entry[1], entry[2]]]
            else:
                key, bounds = entry
            self._add_probe(tuple(float(x) for x in key), [(int(i), int(s)) for i, s in bounds])
        self.n_expand, self.n_contract = (int(v) for v in state["moves"])

    def _diagnostics(self) -> dict[str, Any]:
        span = self.task_space.high - self.task_space.low
        out: dict[str, Any] = {
            "expansions": self.n_expand,
            "contractions": self.n_contract,
            "volume": float(np.prod(self.upper - self.lower)),
            "pending_probes": len(self._probes),
        }
        for i, name in enumerate(self.task_space.names):
            out[f"bound.{name}.low"] = float(self.task_space.low[i] + self.lower[i] * span[i])
            out[f"bound.{name}.high"] = float(self.task_space.low[i] + self.upper[i] * span[i])
        return out
