"""Terrain layouts for the walker: pure geometry from a task and a numpy Generator.

A :class:`Layout` is a ground polyline plus solid blocks (stumps). It is computed without
Box2D, so that tests can compare terrains bit for bit and the env only turns it into
static fixtures. Heights and widths that a task sets are in gymnasium's *terrain steps*
(``TERRAIN_STEP = 14/30`` world units), as in TeachMyAgent's stump tracks and in the
POET/UED walker (REFERENCES.md §3, §5); the one exception is TMA's stump *spacing*, which
TMA and teachDeepRL measure in world units, and so do we.

Track shape follows gymnasium's walker: ``TERRAIN_LENGTH = 200`` steps, a flat
``TERRAIN_STARTPAD = 20``-step start pad, the finish line ``TERRAIN_GRASS = 10`` steps
before the end, grass between obstacles of 5..9 steps, and gymnasium's damped
random-walk ground (``velocity = 0.8 v + 0.01 sign(H - y) + roughness * U(-1, 1) / SCALE``;
roughness 1 is BipedalWalker-v3's ground).

Randomness is split into independent streams (ground, obstacle choice, obstacle sizes)
spawned from the reset Generator: tasks that differ in one parameter then share the rest of
their terrain (common random numbers), which keeps a teacher's landscape smooth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from gymnasium.envs.box2d import bipedal_walker as gw

STEP = gw.TERRAIN_STEP
LENGTH = gw.TERRAIN_LENGTH
HEIGHT = gw.TERRAIN_HEIGHT
GRASS = gw.TERRAIN_GRASS
STARTPAD = gw.TERRAIN_STARTPAD
FINISH_X = (LENGTH - GRASS) * STEP  # gymnasium ends the episode when the hull passes this x
# Rugged ground is kept within [Y_MIN, Y_MAX] so that it stays in the rendered viewport
# and pits keep their floor above y = 0 (our choice; upstream has no clamp).
Y_MIN = 5 * STEP
Y_MAX = HEIGHT + 12 * STEP
SINK = 0.1 * STEP  # stumps reach this far into the (flat) ground under them: no seam at ground level
MIN_EDGE = 1e-3  # edges shorter than this are merged away (Box2D dislikes degenerate edges)


@dataclass
class Layout:
    """Ground polyline ``points`` (x non-decreasing; vertical edges allowed) and convex
    ``blocks`` (stump boxes), in world units."""

    points: np.ndarray
    blocks: list[np.ndarray] = field(default_factory=list)
    finish_x: float = FINISH_X

    def same_as(self, other: "Layout") -> bool:
        """Bit-for-bit equality (used by the determinism tests)."""
        return (
            self.points.shape == other.points.shape
            and bool(np.array_equal(self.points, other.points))
            and len(self.blocks) == len(other.blocks)
            and all(np.array_equal(a, b) for a, b in zip(self.blocks, other.blocks))
        )


class _Builder:
    """Walks along the track left to right, appending ground points and blocks."""

    def __init__(self, ground_rng: np.random.Generator, roughness: float) -> None:
        self.rng = ground_rng
        self.roughness = float(roughness)
        self.points: list[tuple[float, float]] = []
        self.blocks: list[np.ndarray] = []
        self.i = 0          # next grid index (x = i * STEP)
        self.y = HEIGHT
        self.v = 0.0

    @property
    def x(self) -> float:
        return self.i * STEP

    def grass(self, n: int) -> None:
        """``n`` grid steps of gymnasium-style ground (flat on the start pad)."""
        for _ in range(n):
            if self.i >= LENGTH:
                return
            self.v = 0.8 * self.v + 0.01 * float(np.sign(HEIGHT - self.y))
            noise = float(self.rng.uniform(-1.0, 1.0))  # drawn even at roughness 0: same stream for every task
            if self.i > STARTPAD:
                self.v += self.roughness * noise / gw.SCALE
            y = self.y + self.v
            if y < Y_MIN or y > Y_MAX:
                y = min(max(y, Y_MIN), Y_MAX)
                self.v = 0.0
            self.y = y
            self.points.append((self.x, self.y))
            self.i += 1

    def flat_to(self, i_end: int) -> None:
        """Flat ground at the current height up to grid index ``i_end``."""
        self.i = min(i_end, LENGTH - 1)
        self.points.append((self.x, self.y))
        self.i += 1
        self.v = 0.0

    def stump(self, height: float, width: float) -> None:
        """A box ``width`` steps wide, ``height`` steps above the (flat) ground under it."""
        x0, x1 = self.x, self.x + width * STEP
        self.points.append((x0, self.y))
        self.blocks.append(np.array([(x0, self.y - SINK), (x1, self.y - SINK),
                                     (x1, self.y + height * STEP), (x0, self.y + height * STEP)]))
        self.points.append((x1, self.y))
        self.i = int(math.ceil(self.i + width - 1e-9))
        self.flat_to(self.i)

    def pit(self, gap: float, depth: float) -> None:
        """A vertical-walled pit ``gap`` steps wide and ``depth`` steps deep."""
        x0, y = self.x, self.y
        x1 = x0 + gap * STEP
        self.points += [(x0, y), (x0, y - depth * STEP), (x1, y - depth * STEP), (x1, y)]
        self.i = int(math.ceil(self.i + gap - 1e-9))
        self.flat_to(self.i)

    def stairs(self, height: float, count: int, width: int, direction: int) -> None:
        """``count`` stairs, each ``width`` steps long and ``height`` steps up (or down)."""
        for _ in range(count):
            self.points.append((self.x, self.y))
            self.y += direction * height * STEP
            self.points.append((self.x, self.y))
            self.i += width
        self.flat_to(self.i)

    def layout(self) -> Layout:
        return Layout(_clean(self.points), self.blocks)


def _clean(points: list[tuple[float, float]]) -> np.ndarray:
    """Drop near-duplicate points and interior points of horizontal runs (fewer edges,
    same ground)."""
    out: list[tuple[float, float]] = []
    for p in points:
        if out and abs(p[0] - out[-1][0]) < MIN_EDGE and abs(p[1] - out[-1][1]) < MIN_EDGE:
            continue
        if len(out) >= 2 and out[-2][1] == out[-1][1] == p[1] and out[-2][0] < out[-1][0] < p[0]:
            out[-1] = p
            continue
        out.append(p)
    return np.asarray(out, dtype=np.float64)


def _streams(rng: np.random.Generator) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    ground, choice, sizes = rng.spawn(3)
    return ground, choice, sizes


def stump_track(rng: np.random.Generator, height_mean: float, height_std: float, spacing: float, *,
                stump_width: float = 1.0, height_floor: float = 0.05, roughness: float = 0.0,
                startpad: int = STARTPAD) -> Layout:
    """TeachMyAgent's / teachDeepRL's stump track (REFERENCES.md §3), in their units.

    The first stump stands at the end of the ``startpad``-step start pad; then, until the
    track's end (``LENGTH`` steps), one stump ``stump_width`` terrain steps wide followed by
    a gap of ``max(0.01, spacing)`` **world units** (TMA and teachDeepRL add
    ``obstacle_spacing`` to an x measured in world units, and floor it at 0.01). Each stump
    is ``max(height_floor, N(height_mean, height_std))`` terrain steps tall. Ground between
    stumps follows TMA's grass rule, one ground point per gap: ``v = 0.8 v + 0.01
    sign(H - y) + U(-roughness, roughness) / SCALE``; with ``roughness = 0`` (the benchmark)
    the ground is flat.

    So the k-th stump's left side is at ``startpad * STEP + k * (stump_width * STEP +
    spacing)``: 13 stumps start before the finish line at spacing 6, 23 at 3, 55 at 1.
    Stumps sink ``SINK`` into the ground under them (ours: no seam at ground level).
    """
    ground, _, sizes = _streams(rng)
    gap = max(0.01, float(spacing))
    width = float(stump_width) * STEP
    x, y, v = startpad * STEP, HEIGHT, 0.0
    points: list[tuple[float, float]] = [(0.0, y), (x, y)]
    blocks: list[np.ndarray] = []
    end = LENGTH * STEP
    while x < end:
        draw = float(sizes.normal(height_mean, height_std)) if height_std > 0 else float(height_mean)
        top = y + max(height_floor, draw) * STEP
        blocks.append(np.array([(x, y - SINK), (x + width, y - SINK), (x + width, top), (x, top)]))
        x += width
        if x >= end:
            break
        v = 0.8 * v + 0.01 * float(np.sign(HEIGHT - y))
        noise = float(ground.uniform(-1.0, 1.0))  # drawn at roughness 0 too: one stream for every task
        v += roughness * noise / gw.SCALE
        y = min(max(y + v, Y_MIN), Y_MAX)
        points.append((x, y))
        x += gap
        points.append((min(x, end), y))
    if points[-1][0] < end:
        points.append((end, y))
    return Layout(_clean(points), blocks)


@dataclass(frozen=True)
class ObstacleParams:
    """Resolved obstacle-course parameters (``None`` = obstacle absent), in terrain steps."""

    roughness: float = 0.0
    pit_gap: tuple[float, float] | None = None
    stump_height: tuple[float, float] | None = None
    stair_height: tuple[float, float] | None = None
    stair_steps: int = 1


def obstacle_course(rng: np.random.Generator, p: ObstacleParams, *, stump_width: float = 1.0,
                    stair_width: int = 4, pit_depth: float = 4.0, min_gap: float = 0.25,
                    stump_floor: float = 0.05) -> Layout:
    """POET-style obstacle course: grass of 5..9 steps, then one of the present obstacles
    chosen uniformly, until the finish line. Sizes are uniform in each [low, high] range.

    Stairs (``stair_width`` = 4 steps per stair and pits 4 steps deep as in gymnasium's
    hardcore walker) go up or down at random, but turn the other way when the staircase
    would leave the rendered height band.
    """
    ground, choice, sizes = _streams(rng)
    b = _Builder(ground, p.roughness)
    b.grass(STARTPAD + 1)
    kinds = [k for k, r in (("pit", p.pit_gap), ("stump", p.stump_height), ("stairs", p.stair_height)) if r is not None]
    end = LENGTH - GRASS
    while b.i < end:
        b.grass(int(choice.integers(GRASS // 2, GRASS)))
        if not kinds or b.i >= end:
            continue
        kind = kinds[int(choice.integers(len(kinds)))]
        if kind == "pit":
            lo, hi = p.pit_gap  # type: ignore[misc]
            gap = max(min_gap, float(sizes.uniform(lo, hi)))
            if b.i + math.ceil(gap) + 1 > end:
                continue
            b.pit(gap, pit_depth)
        elif kind == "stump":
            lo, hi = p.stump_height  # type: ignore[misc]
            h = max(stump_floor, float(sizes.uniform(lo, hi)))
            if b.i + math.ceil(stump_width) + 1 > end:
                continue
            b.stump(h, stump_width)
        else:
            lo, hi = p.stair_height  # type: ignore[misc]
            h = float(sizes.uniform(lo, hi))
            direction = 1 if choice.random() > 0.5 else -1
            count = int(p.stair_steps)
            if b.i + count * stair_width + 1 > end:
                continue
            top = b.y + direction * count * h * STEP
            if not (Y_MIN <= top <= Y_MAX):
                other = b.y - direction * count * h * STEP
                if abs(_outside(other)) < abs(_outside(top)):
                    direction = -direction
            b.stairs(h, count, stair_width, direction)
    b.grass(LENGTH - b.i)
    return b.layout()


def _outside(y: float) -> float:
    """How far ``y`` lies outside ``[Y_MIN, Y_MAX]`` (0 inside)."""
    return min(0.0, y - Y_MIN) + max(0.0, y - Y_MAX)
