"""From a parameter vector to a level: the ACL teachers' way of making a maze.

A task ``{"size", "wall_density", "min_goal_distance"}`` plus an integer seed gives
exactly one :class:`~envs.gridworld.level.Level`, so a run is reproducible and the
single env and the batched VecEnv make the same maze from the same (task, seed).

Every generated level is solvable: the start is drawn from the largest open region
(walls are knocked down, seeded, until it has at least two cells) and the goal is drawn
among cells BFS-reachable from the start at least the asked distance away. When no cell
is that far from the drawn start, the start moves to a farthest cell (a double sweep),
and failing that the goal goes to a farthest cell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np

from envs.errors import TeachBenchError
from envs.gridworld.bitgrid import at_least, bfs_within, cells_of, depth_of, free_mask
from envs.gridworld.level import DIR_TO_VEC, MIN_SIZE, Level, as_level, components
from envs.task_space import Dim, Task, TaskSpace

MIN_TASK_SIZE = 5
"""Smallest size a teacher may ask for (3x3 interior): smaller mazes leave no room for
walls or distance."""


def maze_task_space(min_size: int = MIN_TASK_SIZE, max_size: int = 15, max_density: float = 0.5) -> TaskSpace:
    """The gridworld's TaskSpace.

    - ``size``: side of the square maze, border included (15 is the UED papers' maze,
      docs/references.md#ued-mazes);
    - ``wall_density``: fraction of interior cells that are walls (dcd's domain
      randomization uses 25 walls in 169 cells ≈ 0.15; 0.5 is already very cluttered);
    - ``min_goal_distance``: the least BFS distance from start to goal, as a fraction of
      the interior's Manhattan diameter ``2·(size−3)``; where the maze has no cell that
      far, the goal goes to one of the farthest reachable cells.
    """
    if not MIN_SIZE <= min_size <= max_size:
        raise TeachBenchError("min_size", f"need {MIN_SIZE} <= min_size <= max_size, got {min_size}, {max_size}")
    if not 0.0 <= max_density <= 0.9:
        raise TeachBenchError("max_density", f"must be in [0, 0.9], got {max_density}")
    return TaskSpace(
        (
            Dim("size", min_size, max_size, "discrete", doc="maze side, border included"),
            Dim("wall_density", 0.0, max_density, doc="fraction of interior cells that are walls"),
            Dim("min_goal_distance", 0.0, 1.0, doc="least start-goal BFS distance / (2*(size-3))"),
        )
    )


GENERATORS = ("teachbench", "dcd")


def blocks_task_space(blocks: Any = (0, 59), max_size: int = 15) -> TaskSpace:
    """The TaskSpace of the ``"dcd"`` generator: ``n_blocks``, the random wall placements on
    a ``max_size`` maze (dcd's domain randomization, :func:`generate_blocks_level`)."""
    try:
        low, high = (int(v) for v in blocks)
    except (TypeError, ValueError):
        raise TeachBenchError("blocks", f"expected [low, high], got {blocks!r}") from None
    cells = (int(max_size) - 2) ** 2
    if not 0 <= low <= high <= cells:
        raise TeachBenchError("blocks", f"need 0 <= low <= high <= {cells} (interior cells), got [{low}, {high}]")
    return TaskSpace((Dim("n_blocks", low, high, "discrete", doc="random wall placements (unsolvable allowed)"),))


def generate_blocks_level(task: Mapping[str, Any], seed: int, size: int = 15) -> Level:
    """dcd's domain randomization of the maze: its level-designer env driven by a uniformly
    random adversary (dcd's default, ``use_reset_random_dr=False``), goal chosen last.

    ``n_blocks`` wall placements on uniform interior cells (a placement on a wall does
    nothing, so duplicates are lost), then the goal on a uniform cell (clearing a wall
    there), then the agent on a uniform cell (clearing a wall there; on the goal's cell
    it goes to a uniform empty cell instead), facing a uniform direction. Nothing makes the
    level solvable: dcd keeps unsolvable levels. With 25 placements a 15x15 maze gets
    about 23 walls.

    dcd's named envs: "25 blocks" (``GoalLastFewerBlocksAdversarial``) = 25 placements; the
    "0-60 blocks" env draws the count as ``int(60 * loc / 169)`` from the adversary's first
    cell (0..59; our teacher draws ``n_blocks`` itself, e.g. uniformly); ACCEL's empty
    start (``GoalLastEmptyAdversarialEnv``) = 0. (dcd's other DR path, ``reset_random``,
    places ``int(n / 2)`` walls on free cells; its published maze runs did not use it.)"""
    rng = np.random.default_rng(seed)
    n = size - 2
    cells = n * n
    wall = np.zeros(cells, dtype=bool)
    k = int(task["n_blocks"])
    if k > 0:
        wall[rng.integers(0, cells, k)] = True
    goal = int(rng.integers(cells))
    wall[goal] = False
    agent = int(rng.integers(cells))
    wall[agent] = False
    if agent == goal:
        empty = np.flatnonzero(~wall)
        empty = empty[empty != goal]
        agent = int(empty[int(rng.integers(empty.size))])
    direction = int(rng.integers(4))
    walls = tuple(int((c // n + 1) * size + c % n + 1) for c in np.flatnonzero(wall).tolist())
    return Level(size, walls, (agent % n + 1, agent // n + 1), direction, (goal % n + 1, goal // n + 1), seed=int(seed))


def required_distance(size: int, min_goal_distance: float) -> int:
    """The least BFS distance a task asks for (at least 1)."""
    return max(1, int(math.ceil(min_goal_distance * 2 * (size - 3) - 1e-9)))


def generate_level(task: Mapping[str, Any], seed: int) -> Level:
    """The level of a (validated) task for ``seed``. Deterministic and always solvable.

    Runs on every reset of every batched env, so the BFS works on bitsets
    (:mod:`envs.gridworld.bitgrid`) and the level skips the checks a hand-made level
    needs; the draws (and so every level) are those of the plain-array version, which
    ``tests/test_gridworld_generate.py`` keeps as the reference."""
    rng = np.random.default_rng(seed)
    size = int(task["size"])
    n = size - 2
    n_cells = n * n
    n_all = size * size
    n_walls = min(int(round(float(task["wall_density"]) * n_cells)), n_cells - 2)
    walls = _border(size)
    chosen = rng.choice(n_cells, size=n_walls, replace=False) if n_walls > 0 else np.empty(0, dtype=np.int64)
    walls[chosen % n + 1, chosen // n + 1] = True

    free_bits = free_mask(walls)
    free = n_cells - n_walls
    start, within = -1, None
    open_cells = np.flatnonzero(~walls)
    for _ in range(3):
        # Rejection sampling: a uniform free cell whose region holds most free cells is a
        # uniform cell of the largest region; its BFS is reused below. Usually one try.
        cand = int(open_cells[int(rng.integers(open_cells.size))])
        cand_within = bfs_within(free_bits, cand, size)
        if 2 * cand_within[-1].bit_count() > free and free >= 2:
            start, within = cand, cand_within
            break
    if within is None:
        region_cells = np.flatnonzero(open_largest_region(walls, rng))
        start = int(region_cells[int(rng.integers(region_cells.size))])
        free_bits = free_mask(walls)
        within = bfs_within(free_bits, start, size)
    need = required_distance(size, float(task["min_goal_distance"]))
    for _ in range(2):
        if len(within) - 1 >= need:
            break
        # Double sweep: restart from one of the farthest cells, which lies near an end of
        # the region's longest shortest path (exact on open rectangles).
        farthest = cells_of(at_least(within, len(within) - 1), n_all)
        start = int(farthest[int(rng.integers(farthest.size))])
        within = bfs_within(free_bits, start, size)
    far = at_least(within, need)
    if not far and len(within) > 1:
        far = at_least(within, len(within) - 1)  # no cell that far: one of the farthest
    goal_cells = cells_of(far, n_all)
    goal = int(goal_cells[int(rng.integers(goal_cells.size))])
    direction = int(rng.integers(4))
    # interior walls c = (y-1)*n + (x-1) ascending, as cells y*size + x (still ascending)
    flat = tuple((c // n + 1) * size + c % n + 1 for c in np.flatnonzero(walls[1:-1, 1:-1].T).tolist())
    level = Level.unchecked(size, flat, divmod(start, size), direction, divmod(goal, size), seed=int(seed))
    walls.setflags(write=False)
    level._cache["grid"] = walls
    level._cache["shortest_path"] = depth_of(within, goal)
    return level


def parse_task(space: TaskSpace, raw: Any, max_size: int) -> Task | Level:
    """A validated parameter task, or the :class:`Level` of a level task
    (``{"level": "<string>"}``, a level string or a Level). Raises TeachBenchError."""
    if isinstance(raw, Mapping) and "level" in raw:
        raw = raw["level"]
    if isinstance(raw, (str, Level)):
        level = as_level(raw)
        if level.size > max_size:
            raise TeachBenchError("level.size", f"{level.size} exceeds the largest level this env plays ({max_size}: max_level_size)")
        return level
    return space.validate(raw)


def parse_options(space: TaskSpace, options: Mapping[str, Any] | None, max_size: int) -> Task | Level | None:
    """What ``reset(options=...)`` asks to play: ``options["level"]`` or ``options["task"]``
    parsed by :func:`parse_task`, or None. Shared by the single and the batched env."""
    if not options:
        return None
    raw = options.get("level")
    if raw is None:
        raw = options.get("task")
    return parse_task(space, raw, max_size) if raw is not None else None


def next_level(
    parsed: Task | Level | None, current_task: Task | None, current_level: Level | None,
    default_task: Callable[[], Task], draw_seed: Callable[[], int], level_seed: int | None = None,
    generate: Callable[[Task, int], Level] | None = None,
) -> tuple[Level, Task | None, Level | None]:
    """What the next episode plays: ``(level, parameter task or None, fixed level or None)``.

    A new parameter task makes a fresh layout; a level is replayed as is; with nothing
    new, the current task makes a fresh layout (or the current fixed level replays).
    The single env and the batched VecEnv both go through here, so they agree."""
    if isinstance(parsed, Level):
        return parsed, None, parsed
    task = parsed
    if task is None:
        if current_level is not None:
            return current_level, None, current_level
        task = current_task if current_task is not None else default_task()
    seed = draw_seed() if level_seed is None else int(level_seed)
    return (generate or generate_level)(task, seed), task, None


def spread_tasks(space: TaskSpace, n: int, seed: int) -> list[Task]:
    """``n`` tasks that cover the space: a seeded Latin hypercube in the unit cube, so
    each dimension is stratified into ``n`` bins (the test set spans every size and
    density, not just where a uniform draw happens to land)."""
    rng = np.random.default_rng(seed)
    unit = np.empty((n, space.ndim))
    for d in range(space.ndim):
        unit[:, d] = (rng.permutation(n) + rng.uniform(size=n)) / n
    return [space.from_unit(u) for u in unit]


def _border(size: int) -> np.ndarray:
    """A fresh ``(size, size)`` wall array holding only the border, copied from a cache:
    the four slice assignments cost ~2.5 µs, about 5% of a generation (every reset)."""
    template = _BORDERS.get(size)
    if template is None:
        template = np.zeros((size, size), dtype=bool)
        template[0, :] = template[-1, :] = template[:, 0] = template[:, -1] = True
        _BORDERS[size] = template
    return template.copy()


_BORDERS: dict[int, np.ndarray] = {}


def open_largest_region(walls: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The mask of the largest open region of ``walls``, after knocking down seeded random
    walls (in place; next to the region, or anywhere if it is empty) until it holds at least
    two cells: the generator's fallback when rejection sampling finds no start."""
    region = _largest_region(walls)
    while region.sum() < 2:
        border = _neighbours(region) & walls
        border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = False
        if not border.any():
            border = walls.copy()
            border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = False
        xs, ys = np.nonzero(border)
        k = int(rng.integers(xs.size))
        walls[xs[k], ys[k]] = False
        region = _largest_region(walls)
    return region


def _largest_region(walls: np.ndarray) -> np.ndarray:
    """Bool mask of the largest 4-connected open region (first in scan order wins ties)."""
    labels = components(walls)
    counts = np.bincount(labels[labels >= 0].ravel())
    if counts.size == 0:
        return np.zeros(walls.shape, dtype=bool)
    return labels == int(np.argmax(counts))


def _neighbours(mask: np.ndarray) -> np.ndarray:
    out = np.zeros_like(mask)
    for dx, dy in DIR_TO_VEC:
        shifted = np.roll(mask, (dx, dy), axis=(0, 1))
        out |= shifted
    return out & ~mask
