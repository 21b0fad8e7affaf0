"""TaskSpace: the named, bounded parameters a teacher may set on an environment.

Teachers never see an env's internals; they see a TaskSpace. A *task* is a plain
``dict`` mapping dimension names to values (floats for continuous dimensions, ints for
discrete ones, strings for categorical ones), so it can be logged to Parquet, put in a
config, and sent to a subprocess without pickling anything exotic.

Teachers work in the normalised view ``[0, 1]^d`` (:meth:`TaskSpace.to_unit` /
:meth:`TaskSpace.from_unit`): GMMs, GANs and generators then need no per-env scaling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from envs.errors import TeachBenchError

Task = dict[str, Any]

KINDS = ("continuous", "discrete", "categorical")


@dataclass(frozen=True)
class Dim:
    """One task dimension.

    ``continuous``: a float in ``[low, high]``; ``discrete``: an int in ``[low, high]``;
    ``categorical``: one of ``choices`` (``low``/``high`` are then 0 and ``len-1``).
    """

    name: str
    low: float = 0.0
    high: float = 1.0
    kind: str = "continuous"
    choices: tuple[Any, ...] = ()
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TeachBenchError(f"task_space.{self.name}.kind", f"unknown kind {self.kind!r}", KINDS)
        if self.kind == "categorical":
            if len(self.choices) < 1:
                raise TeachBenchError(f"task_space.{self.name}.choices", "a categorical dimension needs choices")
            object.__setattr__(self, "low", 0.0)
            object.__setattr__(self, "high", float(len(self.choices) - 1))
        if self.kind == "discrete" and (float(self.low) != int(self.low) or float(self.high) != int(self.high)):
            raise TeachBenchError(f"task_space.{self.name}", f"a discrete dimension needs integer bounds, got "
                                  f"[{self.low}, {self.high}]")
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise TeachBenchError(
                f"task_space.{self.name}", f"bounds must be finite with low <= high, got [{self.low}, {self.high}]"
            )

    # -- scalar conversions -------------------------------------------------------------
    def to_number(self, value: Any) -> float:
        """The value as a float on the dimension's own scale (category -> its index)."""
        if self.kind == "categorical":
            if value in self.choices:
                return float(self.choices.index(value))
            raise TeachBenchError(f"task.{self.name}", f"{value!r} is not a valid choice", self.choices)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TeachBenchError(f"task.{self.name}", f"{value!r} is not a number") from None
        return number

    def from_number(self, number: float) -> Any:
        """Inverse of :meth:`to_number`, rounding discrete and categorical values."""
        if self.kind == "continuous":
            return float(number)
        index = round(float(number))  # half to even, as int(np.rint(number)), and far cheaper
        if self.kind == "discrete":
            return index
        return self.choices[int(np.clip(index, 0, len(self.choices) - 1))]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "low": self.low, "high": self.high, "kind": self.kind}
        if self.choices:
            out["choices"] = list(self.choices)
        if self.doc:
            out["doc"] = self.doc
        return out


@dataclass(frozen=True)
class TaskSpace:
    """An ordered set of named :class:`Dim` s."""

    dims: tuple[Dim, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", tuple(self.dims))
        names = [d.name for d in self.dims]
        if len(set(names)) != len(names):
            raise TeachBenchError("task_space", f"duplicate dimension names in {names}")
        object.__setattr__(self, "_name_set", frozenset(names))  # validate()'s fast key check
        # bounds as arrays, built once: the batched teacher path converts a few tasks per
        # vector step, and rebuilding these from the dims cost more than the conversion
        low = np.array([d.low for d in self.dims], dtype=np.float64)
        high = np.array([d.high for d in self.dims], dtype=np.float64)
        for name, value in (("_low", low), ("_high", high), ("_span", high - low)):
            value.flags.writeable = False
            object.__setattr__(self, name, value)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def box(cls, names: Sequence[str], low: Sequence[float], high: Sequence[float]) -> "TaskSpace":
        """A purely continuous space, the common case for ACL teachers."""
        return cls(tuple(Dim(n, float(lo), float(hi)) for n, lo, hi in zip(names, low, high, strict=True)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TaskSpace":
        dims = []
        for d in data["dims"]:
            dims.append(
                Dim(
                    name=d["name"],
                    low=float(d.get("low", 0.0)),
                    high=float(d.get("high", 1.0)),
                    kind=d.get("kind", "continuous"),
                    choices=tuple(d.get("choices", ())),
                    doc=d.get("doc", ""),
                )
            )
        return cls(tuple(dims))

    def to_dict(self) -> dict[str, Any]:
        return {"dims": [d.to_dict() for d in self.dims]}

    # -- shape --------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dims]

    @property
    def ndim(self) -> int:
        return len(self.dims)

    @property
    def low(self) -> np.ndarray:
        return self._low.copy()

    @property
    def high(self) -> np.ndarray:
        return self._high.copy()

    def __getitem__(self, name: str) -> Dim:
        for d in self.dims:
            if d.name == name:
                return d
        raise TeachBenchError("task", f"unknown dimension {name!r}", self.names)

    # -- tasks <-> arrays ---------------------------------------------------------------
    def to_array(self, task: Mapping[str, Any]) -> np.ndarray:
        """The task as a float vector on each dimension's own scale (validated)."""
        task = self.validate(task)
        return np.array([d.to_number(task[d.name]) for d in self.dims], dtype=np.float64)

    def from_array(self, x: Iterable[float], clip: bool = True) -> Task:
        """A task from a vector on the dimensions' own scale (clipped to bounds by default)."""
        x = np.asarray(list(x) if not isinstance(x, np.ndarray) else x, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.ndim:
            raise TeachBenchError("task", f"expected {self.ndim} values, got {x.shape[0]}")
        if clip:
            x = np.clip(np.nan_to_num(x, nan=0.0), self._low, self._high)
        return {d.name: d.from_number(v) for d, v in zip(self.dims, x)}

    def to_unit(self, task: Mapping[str, Any]) -> np.ndarray:
        """The normalised view in ``[0, 1]^d`` that teachers work in."""
        x = self.to_array(task)
        span = self._span
        safe = np.where(span > 0, span, 1.0)
        return np.where(span > 0, (x - self._low) / safe, 0.0)

    def from_unit(self, u: Iterable[float]) -> Task:
        """A task from a point of ``[0, 1]^d`` (clipped into the cube first)."""
        u = np.clip(np.nan_to_num(np.asarray(u, dtype=np.float64).reshape(-1), nan=0.5), 0.0, 1.0)
        if u.shape[0] != self.ndim:
            raise TeachBenchError("task", f"expected {self.ndim} unit values, got {u.shape[0]}")
        return self.from_array(self._low + u * self._span)

    def to_unit_batch(self, tasks: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """:meth:`to_unit` of already validated tasks, as an ``(n, d)`` array (no re-validation:
        the batched teacher path validates each task once, on entry)."""
        x = np.array([[d.to_number(t[d.name]) for d in self.dims] for t in tasks], dtype=np.float64).reshape(-1, self.ndim)
        span = self._span
        safe = np.where(span > 0, span, 1.0)
        return np.where(span > 0, (x - self._low) / safe, 0.0)

    def from_unit_batch(self, u: np.ndarray) -> list[Task]:
        """Tasks from the rows of an ``(n, d)`` array of unit points (each clipped into the
        cube): :meth:`from_unit` row by row, with the array work done once for the batch."""
        u = np.asarray(u, dtype=np.float64)
        u = np.clip(np.where(np.isnan(u), 0.5, u), 0.0, 1.0)  # as nan_to_num(nan=0.5): ±inf clip to 1 / 0 alike
        if u.ndim != 2 or u.shape[1] != self.ndim:
            raise TeachBenchError("task", f"expected an (n, {self.ndim}) array of unit values, got shape {u.shape}")
        x = np.clip(self._low + u * self._span, self._low, self._high)
        # from_number per value, skipped where it is the identity (a continuous value from tolist())
        convert = [(d.name, None if d.kind == "continuous" else d.from_number) for d in self.dims]
        return [{name: v if f is None else f(v) for (name, f), v in zip(convert, row)} for row in x.tolist()]

    # -- sampling and checking ----------------------------------------------------------
    def sample_batch(self, rng: np.random.Generator, n: int) -> list[Task]:
        """``n`` uniform tasks (the distribution of :meth:`sample`, drawn a dimension at a
        time for the whole batch, so the random stream differs from ``n`` calls)."""
        if n == 0:  # draws nothing, as the size-0 draws below would
            return []
        cols = []
        for d in self.dims:
            if d.kind == "continuous":
                cols.append(rng.uniform(d.low, d.high, size=n))
            elif d.kind == "discrete":
                cols.append(rng.integers(int(math.ceil(d.low)), int(math.floor(d.high)) + 1, size=n))
            else:
                cols.append(rng.integers(len(d.choices), size=n))
        columns = []
        for d, col in zip(self.dims, cols):
            if d.kind == "continuous":
                columns.append([float(v) for v in col.tolist()])
            elif d.kind == "discrete":
                columns.append([int(v) for v in col.tolist()])
            else:
                columns.append([d.choices[int(v)] for v in col.tolist()])
        names = [d.name for d in self.dims]
        return [dict(zip(names, row)) for row in zip(*columns)]

    def sample(self, rng: np.random.Generator) -> Task:
        """A uniform task: uniform per dimension (each integer / category equally likely)."""
        task: Task = {}
        for d in self.dims:
            if d.kind == "continuous":
                task[d.name] = float(rng.uniform(d.low, d.high))
            elif d.kind == "discrete":
                task[d.name] = int(rng.integers(int(math.ceil(d.low)), int(math.floor(d.high)) + 1))
            else:
                task[d.name] = d.choices[int(rng.integers(len(d.choices)))]
        return task

    def validate(self, task: Mapping[str, Any] | Sequence[float] | np.ndarray) -> Task:
        """Return the task as a clean dict, or raise :class:`TeachBenchError` naming the
        offending dimension and its bounds. Accepts a mapping or a sequence in dim order."""
        if type(task) is not dict and not isinstance(task, Mapping):  # dict: skip the slow ABC check
            values = list(np.asarray(task, dtype=object).reshape(-1))
            if len(values) != self.ndim:
                raise TeachBenchError("task", f"expected {self.ndim} values {self.names}, got {len(values)}")
            task = dict(zip(self.names, values))
        if task.keys() != self._name_set:  # the usual case: one set comparison
            extra = set(task) - set(self.names)
            if extra:
                raise TeachBenchError(f"task.{sorted(extra)[0]}", "unknown task dimension", self.names)
            missing = [n for n in self.names if n not in task]
            if missing:
                raise TeachBenchError(f"task.{missing[0]}", "missing task dimension", self.names)
        clean: Task = {}
        for d in self.dims:
            value = task[d.name]
            vt = type(value)
            if (vt is float and d.kind == "continuous") or (vt is int and d.kind == "discrete"):
                # the usual case (a teacher's own output): the same checks without the
                # conversions, which would return the value itself
                if not (d.low <= value <= d.high):  # NaN fails here too; inf is outside finite bounds
                    if vt is float and not math.isfinite(value):
                        raise TeachBenchError(f"task.{d.name}", f"{value!r} is not finite")
                    raise TeachBenchError(f"task.{d.name}", f"{value!r} is outside [{d.low}, {d.high}]")
                clean[d.name] = value
                continue
            number = d.to_number(value)
            if not math.isfinite(number):
                raise TeachBenchError(f"task.{d.name}", f"{value!r} is not finite")
            if d.kind != "categorical" and not (d.low <= number <= d.high):
                raise TeachBenchError(f"task.{d.name}", f"{value!r} is outside [{d.low}, {d.high}]")
            if d.kind == "discrete" and number != int(number):
                raise TeachBenchError(f"task.{d.name}", f"{value!r} is not an integer")
            clean[d.name] = d.from_number(number)
        return clean

    def contains(self, task: Mapping[str, Any] | Sequence[float]) -> bool:
        try:
            self.validate(task)
        except TeachBenchError:
            return False
        return True

    def clip(self, task: Mapping[str, Any]) -> Task:
        """Project a task with all dimensions present onto the space (NaN -> low)."""
        x = []
        for d in self.dims:
            if d.name not in task:
                raise TeachBenchError(f"task.{d.name}", "missing task dimension", self.names)
            x.append(d.to_number(task[d.name]) if d.kind == "categorical" else float(task[d.name]))
        return self.from_array(np.nan_to_num(np.array(x, dtype=np.float64), nan=-np.inf, posinf=np.inf))

    def grid(self, points_per_dim: int | Sequence[int]) -> list[Task]:
        """A regular grid of tasks (cell centres excluded: bounds included), e.g. TMA's 10x10 test set."""
        counts = [points_per_dim] * self.ndim if isinstance(points_per_dim, int) else list(points_per_dim)
        axes = [np.linspace(d.low, d.high, n) for d, n in zip(self.dims, counts)]
        mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, self.ndim)
        return [self.from_array(row) for row in mesh]
