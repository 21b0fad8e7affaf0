"""Hexagon tracks: the ALP-GMM paper's 12-D walker setting, as TeachMyAgent ships it
(docs/references.md#hexagon).

A hexagon track is a flat track whose obstacles are six-vertex polygons. Every obstacle
starts from one base hexagon (in terrain steps, relative to the obstacle's anchor on the
ground)::

    (-0.5, 0)  (-0.5, 0.25)  (-0.25, 0.5)  (0.25, 0.5)  (0.5, 0.25)  (0.5, 0)

and moves each vertex by an offset drawn per obstacle from ``N(task pair, 0.1)`` (terrain
steps). The task is the 12-D vector of those offset means, ``(dx, dy)`` of the six vertices
in order, each in [0, 4] (our names ``v0_dx, v0_dy, ..., v5_dy``). The first and the last
vertex keep their y on the ground: their ``dy`` is drawn but never used, so ``v0_dy`` and
``v5_dy`` are two irrelevant dimensions (the paper's point: a teacher must find out which
dimensions matter). Box2D builds the convex hull of the six vertices, so a concave draw is
filled in; :func:`hexagon_track` stores that hull, the shape the walker meets.

Placement (TMA's generator with no spacing task, i.e. the hexagon setting): the first
obstacle's anchor is the end of the start pad; after an obstacle the generator moves 1 world
unit, then a flat stretch of ``obstacle_spacing = 8`` world units, so anchors are 9 world
units apart: 10 obstacles on the 200-step track, 9 of them before the finish line.

Test sets (shipped as data, value for value, in ``envs/walker/data``): TeachMyAgent's
400-task hexagon test set (``test_set="tma"``, the default) and the 50-task set of the
ALP-GMM paper's code teachDeepRL (``test_set="alpgmm"``). Mastered = return > 230 (TMA).
The published hexagon experiments use the quadrupedal walker (teachDeepRL's ``quadru`` =
TMA's ``old_big_quadru``), our default body here.

Where we differ from TMA, and why:

- Offsets come from the reset Generator (``env.reset(seed=...)``). TMA draws them from
  NumPy's global RNG, which the env's seed does not set, so a TMA hexagon track cannot be
  replayed; ours can (determinism is a contract of every TeachBench env). Offsets are
  ``mean + std * z`` with one standard-normal draw per vertex coordinate, so tasks played
  with the same seed share ``z`` (common random numbers, as our stump tracks).
- A task outside [0, 4]^12 is an error naming the dimension; TMA silently clips it
  (``np.interp`` onto [0, 4]).
- The ground ends at the track's 200 steps; TMA's last flat stretch runs 6 world units past
  it, behind the finish line, where no episode goes.
- A draw whose hull is degenerate (all six vertices on one line: probability zero with a
  positive std, reachable with ``offset_std=0``) builds no obstacle; Box2D would stop TMA's
  run with an assertion.
- TMA's hexagon bodies carry no user data, which TMA's contact listener reads, so TMA's own
  contact handling breaks on hexagons. We follow teachDeepRL, where the published hexagon
  runs were made: a head contact with a hexagon ends the episode with -100 (as on every
  other obstacle) and a lower leg touching one reports ground contact.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Dim, Task, TaskSpace
from envs.walker.bodies import BodySpec
from envs.walker.terrain import HEIGHT, LENGTH, STARTPAD, STEP, Layout
from envs.walker.walker_env import ParamWalker, ezpickle

BASE_HEXAGON: tuple[tuple[float, float], ...] = (
    (-0.5, 0.0), (-0.5, 0.25), (-0.25, 0.5), (0.25, 0.5), (0.5, 0.25), (0.5, 0.0))  # TMA, terrain steps
N_VERTICES = len(BASE_HEXAGON)
NAMES: tuple[str, ...] = tuple(f"v{i}_{axis}" for i in range(N_VERTICES) for axis in ("dx", "dy"))
OFFSET_RANGE = (0.0, 4.0)      # TMA: poly_shape bounds [0, 4] on each of the 12 dimensions
OFFSET_STD = 0.1               # TMA: each obstacle's offsets ~ N(task, 0.1)
OBSTACLE_SPACING = 8.0         # TMA's spacing (world units) when the task does not set one
ADVANCE = 1.0                  # TMA moves x by 1 world unit after placing a hexagon
MASTERY_RETURN = 230.0         # TMA: a test task is mastered when the return exceeds 230
WELD = 0.5 * 0.005             # Box2D merges hull points closer than half its linear slop
MIN_AREA = 1e-6                # smaller hulls are degenerate (Box2D asserts on them)
DATA = Path(__file__).resolve().parent / "data"
TEST_SETS = {"tma": "hexagon_test_set_tma.csv", "alpgmm": "hexagon_test_set_alpgmm.csv"}


def convex_hull(points: np.ndarray) -> np.ndarray | None:
    """The convex hull of 2-D points, counter-clockwise (Andrew's monotone chain), with
    points closer than Box2D's weld distance merged; ``None`` when it has no area."""
    pts = sorted({(float(x), float(y)) for x, y in points})

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def half(seq: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for p in seq:
            while len(out) >= 2 and cross(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out

    if len(pts) < 3:
        return None
    hull = half(pts)[:-1] + half(pts[::-1])[:-1]
    kept: list[tuple[float, float]] = []
    for p in hull:
        if all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 > WELD**2 for q in kept):
            kept.append(p)
    if len(kept) < 3:
        return None
    arr = np.asarray(kept, dtype=np.float64)
    x, y = arr[:, 0], arr[:, 1]
    area = 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    return arr if area > MIN_AREA else None


def anchors(spacing: float = OBSTACLE_SPACING, startpad: int = STARTPAD) -> np.ndarray:
    """Anchor x of every obstacle (world units): from the end of the start pad, every
    ``ADVANCE + max(0.01, spacing)`` while the anchor is before the track's end (TMA)."""
    start, end = startpad * STEP, LENGTH * STEP
    period = ADVANCE + max(0.01, float(spacing))
    return start + period * np.arange(int(np.ceil((end - start) / period)))


def hexagon_polygons(rng: np.random.Generator, offsets: Sequence[float], *, std: float = OFFSET_STD,
                     spacing: float = OBSTACLE_SPACING, startpad: int = STARTPAD,
                     ground: float = HEIGHT) -> list[np.ndarray]:
    """TMA's six vertices of every obstacle (world units, TMA's vertex order), before Box2D
    takes their hull. ``offsets`` is the 12-D task (terrain steps): vertex ``i`` of an
    obstacle anchored at ``x`` is ``(x + (base_x + dx) STEP, ground + (base_y + dy) STEP)``
    with ``(dx, dy) ~ N((offsets[2i], offsets[2i+1]), std)``; vertices 0 and 5 stay at
    ``ground``."""
    mean = np.asarray(offsets, dtype=np.float64).reshape(N_VERTICES, 2)
    base = np.asarray(BASE_HEXAGON, dtype=np.float64)
    on_ground = np.zeros(N_VERTICES, dtype=bool)
    on_ground[[0, -1]] = True
    polys = []
    for x in anchors(spacing, startpad):
        z = rng.standard_normal((N_VERTICES, 2))  # drawn at std 0 too: one stream for every task
        d = mean + float(std) * z
        poly = np.empty((N_VERTICES, 2))
        poly[:, 0] = x + (base[:, 0] + d[:, 0]) * STEP
        poly[:, 1] = np.where(on_ground, ground, ground + (base[:, 1] + d[:, 1]) * STEP)
        polys.append(poly)
    return polys


def hexagon_track(rng: np.random.Generator, offsets: Sequence[float], *, std: float = OFFSET_STD,
                  spacing: float = OBSTACLE_SPACING, startpad: int = STARTPAD) -> Layout:
    """A flat hexagon track: the ground line and the convex hull of every obstacle."""
    polys = hexagon_polygons(rng, offsets, std=std, spacing=spacing, startpad=startpad)
    blocks = [h for h in (convex_hull(p) for p in polys) if h is not None]
    points = np.array([(0.0, HEIGHT), (LENGTH * STEP, HEIGHT)])
    return Layout(points, blocks)


@functools.lru_cache(maxsize=None)
def _read_test_set(name: str) -> tuple[tuple[float, ...], ...]:
    with open(DATA / TEST_SETS[name]) as f:
        lines = [line for line in f if not line.startswith("#")]
    header = lines[0].strip().split(",")
    if tuple(header) != NAMES:
        raise ValueError(f"{TEST_SETS[name]}: columns {header}, expected {list(NAMES)}")
    return tuple(tuple(float(v) for v in line.split(",")) for line in lines[1:] if line.strip())


def load_test_set(name: str = "tma") -> list[Task]:
    """A shipped hexagon test set as tasks: ``tma`` (400, TeachMyAgent) or ``alpgmm`` (50,
    teachDeepRL), in the reference's order."""
    if name not in TEST_SETS:
        raise TeachBenchError("env.kwargs.test_set", f"unknown hexagon test set {name!r}", list(TEST_SETS))
    return [dict(zip(NAMES, row)) for row in _read_test_set(name)]


class WalkerHexagonEnv(ParamWalker):
    """Hexagon tracks on gymnasium's walker (the module docstring gives TMA's rules).

    Args:
        body: embodiment (:data:`envs.walker.bodies.BODIES`). Default ``old_big_quadru``
            (the published hexagon experiments' quadruped).
        offset_std: per-obstacle spread of the vertex offsets, terrain steps. Default 0.1
            (TMA); 0 places every obstacle exactly at its task's shape.
        obstacle_spacing: flat stretch after each obstacle, world units. Default 8 (TMA).
        test_set: ``tma`` (400 tasks, TeachMyAgent) or ``alpgmm`` (50, teachDeepRL).
            Default ``tma``.
        render_mode: ``None`` or ``"rgb_array"``.
    """

    def __init__(self, body: str | BodySpec = "old_big_quadru", offset_std: float = OFFSET_STD,
                 obstacle_spacing: float = OBSTACLE_SPACING, test_set: str = "tma",
                 render_mode: str | None = None) -> None:
        super().__init__(body=body, render_mode=render_mode)
        ezpickle(self, body=body, offset_std=offset_std, obstacle_spacing=obstacle_spacing, test_set=test_set,
                 render_mode=render_mode)
        for key, value in (("offset_std", offset_std), ("obstacle_spacing", obstacle_spacing)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise TeachBenchError(f"env.kwargs.{key}", f"must be a finite non-negative number, got {value!r}")
        self.offset_std = float(offset_std)
        self.obstacle_spacing = float(obstacle_spacing)
        self._test = load_test_set(test_set)
        self.test_set = test_set
        lo, hi = OFFSET_RANGE
        unused = {1, 11}  # v0_dy, v5_dy: the first and last vertex stay on the ground
        self.task_space = TaskSpace(tuple(
            Dim(name, lo, hi, doc=f"mean {name[-2:]} offset of hexagon vertex {name[1]}, terrain steps "
                                  f"(TMA poly_shape[{k}]{'; never used' if k in unused else ''})")
            for k, name in enumerate(NAMES)))

    def make_layout(self, task: Task, rng: np.random.Generator) -> Layout:
        return hexagon_track(rng, [task[n] for n in NAMES], std=self.offset_std, spacing=self.obstacle_spacing,
                             startpad=self.body.startpad)

    def default_task(self) -> Task:
        """Zero offsets: the base hexagon, half a terrain step tall (TMA's easy-task mean)."""
        return {n: 0.0 for n in NAMES}

    def test_tasks(self) -> list[Task]:
        """The shipped test set (``test_set``): TMA's 400 tasks by default."""
        return [dict(t) for t in self._test]

    def is_mastered(self, episode_return: float, success: bool) -> bool:
        return bool(episode_return > MASTERY_RETURN)

    def held_out(self) -> dict[str, Any]:
        """Named hexagon shapes for zero-shot checks (ours)."""
        zero = self.default_task()
        tall = {**zero, **{f"v{i}_dy": 2.0 for i in (1, 2, 3, 4)}}
        long = {**zero, "v3_dx": 2.0, "v4_dx": 2.0, "v5_dx": 2.0}
        return {
            "base": zero,
            "tall": tall,
            "long": long,
            "centre": {n: 2.0 for n in NAMES},
            "largest": {n: 4.0 for n in NAMES},
        }
