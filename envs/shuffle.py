"""Interval shuffling of a task space: TeachMyAgent's "rugged difficulty" challenge.

TeachMyAgent (Romac et al. 2021; ``docs/references.md``) tests whether a teacher copes with
a difficulty landscape that is not smooth: each dimension of the task box is cut into
``n_intervals`` equal intervals (4 in the benchmark) and the intervals are permuted with a
seeded generator. The teacher proposes tasks in the *teacher space*; each coordinate is
moved, by the linear map between its interval and that interval's image, to the *env
space*, where it is played. Neighbouring tasks for the teacher are then, at every cut, far
apart for the student.

The facts carried over from TMA's ``DimensionsShuffler`` (facts, not code):

- cut points ``low + j * (high - low) / n`` for ``j = 0..n``; intervals are closed and a
  coordinate on an interior cut belongs to the *lower* interval (the first one that holds it);
- the permutation: one ``numpy.random.RandomState(seed)``, whose ``shuffle`` reorders the
  list of intervals of dimension 0, then of dimension 1, ... (so the same seed and the same
  number of dimensions give TMA's permutation exactly);
- the map inside an interval is the increasing affine map onto its image (``np.interp``);
- the benchmark passes the *run's* seed (``TeacherController(seed=args.seed)``); 21 is only
  the class default. Our presets follow the benchmark: ``rugged.seed: ${seed}``.

Boundaries. With closed intervals and the lower-interval rule, interval ``j >= 1`` maps
onto its image minus the image's start, interval 0 onto its whole image. So ``to_env`` is
one-to-one except for one pair per dimension: the lower bound (mapped to the start of
interval 0's image) and the top of the interval whose image ends there (when interval 0 is
not moved to the bottom). TMA's inverse (used only for the expert means) takes the first
image interval holding a value, which also sends some cut points back to the wrong side;
TMA's controller never inverted a played task: it remembered the task it had proposed.
:meth:`IntervalShuffler.to_teacher` reads a point as lying in the image ``to_env`` gives
it (interval 0's closed, the others open at their start), so it inverts ``to_env``
everywhere except at that one pair, where it returns the lower bound; it falls back to
TMA's first-match rule for points no task maps to. :class:`teachers.protocol.ShuffledTeacher`
remembers proposed tasks as TMA did. TMA returns float32; we keep float64.

This module only maps numbers; :class:`teachers.protocol.ShuffledTeacher` puts it between a
teacher and the env, and :class:`envs.toy.student.SimulatedStudent` uses the same
permutation for the toy's rugged variant.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace

TMA_INTERVALS = 4       # TMA's benchmark: 4 intervals per dimension
TMA_DEFAULT_SEED = 21   # DimensionsShuffler's default (the benchmark passes the run seed instead)


class IntervalShuffler:
    """Piecewise-affine bijection of a box that permutes each dimension's intervals.

    Args:
        lows, highs: the box (one bound per dimension, ``low < high``).
        n_intervals: intervals per dimension (TMA: 4).
        seed: seed of the permutation (``numpy.random.RandomState``, as TMA).

    Attributes:
        order: ``order[d][j]`` is the position of the image of interval ``j`` of dimension
            ``d`` (interval ``j`` is moved onto interval ``order[d][j]``).
    """

    def __init__(self, lows: Sequence[float], highs: Sequence[float], n_intervals: int = TMA_INTERVALS,
                 seed: int = TMA_DEFAULT_SEED) -> None:
        self.lows = np.asarray(lows, dtype=np.float64).reshape(-1)
        self.highs = np.asarray(highs, dtype=np.float64).reshape(-1)
        if self.lows.shape != self.highs.shape:
            raise TeachBenchError("rugged", f"{self.lows.size} lower bounds for {self.highs.size} upper bounds")
        if isinstance(n_intervals, bool) or int(n_intervals) != n_intervals or int(n_intervals) < 1:
            raise TeachBenchError("rugged.intervals", f"must be an integer >= 1, got {n_intervals!r}")
        bad = ~(np.isfinite(self.lows) & np.isfinite(self.highs) & (self.lows < self.highs))
        if bad.any():
            d = int(np.argmax(bad))
            raise TeachBenchError("rugged", f"dimension {d} needs finite bounds with low < high, got "
                                  f"[{self.lows[d]}, {self.highs[d]}]")
        self.n_intervals = int(n_intervals)
        self.seed = int(seed)
        n = self.n_intervals
        size = (self.highs - self.lows) / n
        # cuts[d][j] = low + j * size, computed once so that both maps use the very same floats
        self.cuts = [[lo + j * s for j in range(n + 1)] for lo, s in zip(self.lows, size)]
        rs = np.random.RandomState(self.seed)
        self.order: list[list[int]] = []
        for _ in range(self.lows.size):
            slots = list(range(n))
            rs.shuffle(slots)  # TMA shuffles the list of intervals; shuffling their indices is the same draw
            self.order.append([int(k) for k in slots])

    @property
    def ndim(self) -> int:
        return int(self.lows.size)

    # -- the maps ------------------------------------------------------------------------
    def to_env(self, x: Sequence[float]) -> np.ndarray:
        """Teacher space -> env space (TMA's ``interpolate_task``)."""
        x = self._check(x, "teacher")
        out = np.empty_like(x)
        for d, v in enumerate(x):
            cuts = self.cuts[d]
            j = self._interval(cuts, v)
            k = self.order[d][j]
            out[d] = np.interp(v, (cuts[j], cuts[j + 1]), (cuts[k], cuts[k + 1]))
        return out

    def to_teacher(self, y: Sequence[float]) -> np.ndarray:
        """Env space -> teacher space: the inverse of :meth:`to_env` (see the module
        docstring for the one boundary pair per dimension that shares an image)."""
        y = self._check(y, "env")
        out = np.empty_like(y)
        for d, v in enumerate(y):
            cuts, order = self.cuts[d], self.order[d]
            # images as to_env makes them: interval 0's closed, the others open at their start
            j = next((j for j, k in enumerate(order)
                      if cuts[k] < v <= cuts[k + 1] or (j == 0 and v == cuts[k])), None)
            if j is None:  # a point no task maps to: TMA's first-match rule
                j = next(j for j, k in enumerate(order) if cuts[k] <= v <= cuts[k + 1])
            k = order[j]
            out[d] = np.interp(v, (cuts[k], cuts[k + 1]), (cuts[j], cuts[j + 1]))
        return out

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _interval(cuts: Sequence[float], v: float) -> int:
        for j in range(len(cuts) - 1):
            if cuts[j] <= v <= cuts[j + 1]:
                return j
        raise AssertionError("unreachable: value checked inside the box")

    def _check(self, x: Sequence[float], side: str) -> np.ndarray:
        arr = np.asarray(x, dtype=np.float64).reshape(-1)
        if arr.size != self.ndim:
            raise TeachBenchError("rugged", f"expected a {self.ndim}-D {side}-space point, got {arr.size} values")
        outside = ~((arr >= self.lows) & (arr <= self.highs))
        if outside.any():
            d = int(np.argmax(outside))
            raise TeachBenchError("rugged", f"{side}-space value {arr[d]} of dimension {d} lies outside "
                                  f"[{self.lows[d]}, {self.highs[d]}]")
        return arr


class TaskShuffler:
    """:class:`IntervalShuffler` over the continuous dimensions of a :class:`TaskSpace`,
    mapping task dicts. Discrete and categorical dimensions are refused: permuting their
    intervals would not give a valid task, and no TMA env has them."""

    def __init__(self, task_space: TaskSpace, n_intervals: int = TMA_INTERVALS, seed: int = TMA_DEFAULT_SEED) -> None:
        for dim in task_space.dims:
            if dim.kind != "continuous":
                raise TeachBenchError("rugged", f"task dimension {dim.name!r} is {dim.kind}: the interval shuffler "
                                      "needs continuous dimensions", [d.name for d in task_space.dims
                                                                      if d.kind == "continuous"])
        self.task_space = task_space
        self.shuffler = IntervalShuffler(task_space.low, task_space.high, n_intervals, seed)

    def to_env(self, task: Task) -> Task:
        return self._map(task, self.shuffler.to_env)

    def to_teacher(self, task: Task) -> Task:
        return self._map(task, self.shuffler.to_teacher)

    def _map(self, task: Task, fn) -> Task:
        task = self.task_space.validate(task)
        values = fn([task[name] for name in self.task_space.names])
        return self.task_space.validate({name: float(v) for name, v in zip(self.task_space.names, values)})
