"""Terrain layouts for the walker: pure geometry from a task and a numpy Generator.

A :class:`Layout` is a ground polyline plus solid blocks (stumps). It is computed without
Box2D, so that tests can compare terrains bit for bit and the env only turns it into
static fixtures. Heights and widths that a task sets are in gymnasium's *terrain steps*
(``TERRAIN_STEP = 14/30`` world units), as in TeachMyAgent's stump tracks and in the
POET/UED walker (docs/references.md#stump-tracks); the one exception is TMA's stump *spacing*, which
TMA and teachDeepRL measure in world units, and so do we.

Track shape follows gymnasium's walker: ``TERRAIN_LENGTH = 200`` steps, a flat
``TERRAIN_STARTPAD = 20``-step start pad, the finish line ``TERRAIN_GRASS = 10`` steps
before the end. :func:`stump_track` is TeachMyAgent's stump generator;
:func:`obstacle_course` is dcd's obstacle generator (its state machine, one draw stream
from the level's terrain seed).

The stump track splits its randomness into independent streams (ground, obstacle sizes)
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
# Rough stump-track ground is kept within [Y_MIN, Y_MAX] so that it stays in the rendered
# viewport (our choice; TMA has no clamp; its benchmark uses flat ground). dcd's obstacle
# course is not clamped, as dcd's.
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
    """TeachMyAgent's / teachDeepRL's stump track (docs/references.md#stump-tracks), in their units.

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


STAIR_HEIGHT_EPS = 1e-2  # dcd: stairs lower than this are not built
# Box2D cannot build a flat polygon: dcd retries such a stump with another seed, we floor its
# height at 0.01 steps (same terrain otherwise).
STUMP_FLOOR = 1e-2


@dataclass(frozen=True)
class ObstacleParams:
    """Resolved obstacle-course parameters (``None`` = obstacle absent), in terrain steps."""

    roughness: float = 0.0
    pit_gap: tuple[float, float] | None = None
    stump_height: tuple[float, float] | None = None
    stair_height: tuple[float, float] | None = None
    stair_steps: int = 1


def obstacle_course(rng: np.random.Generator, p: ObstacleParams) -> Layout:
    """dcd's obstacle course (facebookresearch/dcd ``BipedalWalkerCustom._generate_terrain``,
    docs/references.md#poet-walker), one terrain step per grid index, with dcd's state machine:

    - grass: ``v = 0.8 v + 0.01 sign(H - y)``, plus ``U(-1, 1) / SCALE`` after the start
      pad, and ``y += roughness * v`` (dcd scales the whole velocity: roughness 0 is flat,
      1 is gymnasium's ground); the start pad is 20 steps, then 5..9 steps between obstacles;
    - an obstacle, chosen uniformly among the present ones in dcd's order (stump, stairs,
      pit), then as many flat steps as the grass counter says;
    - pit: ``gap = 1 + U(low, high)`` steps between the left sides of two 1-step walls,
      4 steps deep (so the opening between the walls is ``U(low, high)`` steps);
    - stump: 1 step wide (dcd draws ``randint(1, 2)``), ``U(low, high)`` steps tall, on the
      ground (``randint(0, 1)`` float);
    - stairs: ``randint(n)`` stairs, i.e. 0 .. n-1 (dcd passes ``[n]`` to ``randint``), each
      4 steps wide (``randint(4, 5)``) and ``U(low, high)`` steps up or down (coin flip); a
      height below 0.01 builds none.

    Draws come from ``rng`` (a level's terrain seed), so a level replays exactly.
    """
    kinds = [k for k, r in (("stump", p.stump_height), ("stairs", p.stair_height), ("pit", p.pit_gap))
             if r is not None]
    hardcore = bool(kinds)
    state, oneshot, counter = "grass", False, STARTPAD
    y, velocity = HEIGHT, 0.0
    xs: list[float] = []
    ys: list[float] = []
    blocks: list[np.ndarray] = []
    original_y, pit_diff = y, 0.0
    stair_h, stair_slope, stair_w, stair_n = 0.0, 1, 4, 0
    for i in range(LENGTH):
        x = i * STEP
        xs.append(x)
        if state == "grass" and not oneshot:
            velocity = 0.8 * velocity + 0.01 * float(np.sign(HEIGHT - y))
            if i > STARTPAD:
                velocity += float(rng.uniform(-1.0, 1.0)) / gw.SCALE
            y += p.roughness * velocity
        elif state == "pit" and oneshot:
            gap = 1.0 + float(rng.uniform(*p.pit_gap))  # type: ignore[misc]
            counter = int(math.ceil(gap))
            pit_diff = counter - gap
            wall = np.array([(x, y), (x + STEP, y), (x + STEP, y - 4 * STEP), (x, y - 4 * STEP)])
            blocks += [wall, wall + np.array([STEP * gap, 0.0])]
            counter += 2
            original_y = y
        elif state == "pit":
            y = original_y
            if counter > 1:
                y -= 4 * STEP
            if counter == 1:
                xs[-1] -= pit_diff * STEP
                pit_diff = 0.0
        elif state == "stump" and oneshot:
            h = max(STUMP_FLOOR, float(rng.uniform(*p.stump_height)))  # type: ignore[misc]
            blocks.append(np.array([(x, y), (x + STEP, y), (x + STEP, y + h * STEP), (x, y + h * STEP)]))
        elif state == "stairs" and oneshot:
            stair_h = float(rng.uniform(*p.stair_height))  # type: ignore[misc]
            stair_slope = 1 if rng.random() > 0.5 else -1
            stair_n = int(rng.integers(int(p.stair_steps)))  # dcd: randint(n) = 0 .. n-1
            original_y = y
            if stair_h > STAIR_HEIGHT_EPS:
                for k in range(stair_n):
                    x0, x1 = x + k * stair_w * STEP, x + (k + 1) * stair_w * STEP
                    top = y + k * stair_h * stair_slope * STEP
                    bottom = top - stair_h * STEP
                    blocks.append(np.array([(x0, top), (x1, top), (x1, bottom), (x0, bottom)]))
                counter = stair_n * stair_w + 1
        elif state == "stairs":
            n = (stair_n * stair_w - counter) // stair_w
            y = original_y + n * stair_h * stair_slope * STEP - (stair_h if stair_slope == -1 else 0.0) * STEP
        oneshot = False
        ys.append(y)
        counter -= 1
        if counter == 0:
            counter = int(rng.integers(GRASS // 2, GRASS))
            if state == "grass" and hardcore:
                state = kinds[int(rng.integers(len(kinds)))]
            else:
                state = "grass"
            oneshot = True
    return Layout(_clean(list(zip(xs, ys))), blocks)
