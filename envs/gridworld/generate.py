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
from typing import Any, Mapping

import numpy as np

from envs.errors import TeachBenchError
from envs.gridworld.level import DIR_TO_VEC, MIN_SIZE, Level, bfs_distances
from envs.task_space import Dim, Task, TaskSpace

MIN_TASK_SIZE = 5
"""Smallest size a teacher may ask for (3x3 interior): smaller mazes leave no room for
walls or distance."""


def maze_task_space(min_size: int = MIN_TASK_SIZE, max_size: int = 15, max_density: float = 0.5) -> TaskSpace:
    """The gridworld's TaskSpace.

    - ``size``: side of the square maze, border included (15 is the UED papers' maze,
      REFERENCES.md §5);
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


def required_distance(size: int, min_goal_distance: float) -> int:
    """The least BFS distance a task asks for (at least 1)."""
    return max(1, int(math.ceil(min_goal_distance * 2 * (size - 3) - 1e-9)))


def generate_level(task: Mapping[str, Any], seed: int) -> Level:
    """The level of a (validated) task for ``seed``. Deterministic and always solvable."""
    rng = np.random.default_rng(seed)
    size = int(task["size"])
    n = size - 2
    n_cells = n * n
    n_walls = min(int(round(float(task["wall_density"]) * n_cells)), n_cells - 2)
    walls = np.zeros((size, size), dtype=bool)
    walls[0, :] = walls[-1, :] = walls[:, 0] = walls[:, -1] = True
    chosen = rng.choice(n_cells, size=n_walls, replace=False) if n_walls > 0 else np.empty(0, dtype=np.int64)
    walls[chosen % n + 1, chosen // n + 1] = True

    region = _largest_region(walls)
    while region.sum() < 2:
        # Knock down a wall next to the region (or any wall if the region is empty).
        border = _neighbours(region) & walls
        border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = False
        if not border.any():
            border = walls.copy()
            border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = False
        xs, ys = np.nonzero(border)
        k = int(rng.integers(xs.size))
        walls[xs[k], ys[k]] = False
        region = _largest_region(walls)

    xs, ys = np.nonzero(region)
    k = int(rng.integers(xs.size))
    start = (int(xs[k]), int(ys[k]))
    dist = bfs_distances(walls, start)
    need = required_distance(size, float(task["min_goal_distance"]))
    for _ in range(2):
        if dist.max() >= need:
            break
        # Double sweep: restart from one of the farthest cells, which lies near an end of
        # the region's longest shortest path (exact on open rectangles).
        fx, fy = np.nonzero(dist == dist.max())
        k = int(rng.integers(fx.size))
        start = (int(fx[k]), int(fy[k]))
        dist = bfs_distances(walls, start)
    far = dist >= need
    if not far.any():
        far = (dist == dist.max()) & (dist > 0)
    gx, gy = np.nonzero(far)
    k = int(rng.integers(gx.size))
    goal = (int(gx[k]), int(gy[k]))
    direction = int(rng.integers(4))
    interior_walls = np.nonzero(walls[1:-1, 1:-1])
    flat = tuple(int((y + 1) * size + (x + 1)) for x, y in zip(*interior_walls))
    return Level(size, flat, start, direction, goal, seed=int(seed))


def spread_tasks(space: TaskSpace, n: int, seed: int) -> list[Task]:
    """``n`` tasks that cover the space: a seeded Latin hypercube in the unit cube, so
    each dimension is stratified into ``n`` bins (the test set spans every size and
    density, not just where a uniform draw happens to land)."""
    rng = np.random.default_rng(seed)
    unit = np.empty((n, space.ndim))
    for d in range(space.ndim):
        unit[:, d] = (rng.permutation(n) + rng.uniform(size=n)) / n
    return [space.from_unit(u) for u in unit]


def _largest_region(walls: np.ndarray) -> np.ndarray:
    """Bool mask of the largest 4-connected open region (first found wins ties)."""
    labels = np.full(walls.shape, -1, dtype=np.int32)
    best, best_size = -1, 0
    label = 0
    for x, y in zip(*np.nonzero(~walls)):
        if labels[x, y] >= 0:
            continue
        dist = bfs_distances(walls, (int(x), int(y)))
        mask = dist >= 0
        labels[mask] = label
        count = int(mask.sum())
        if count > best_size:
            best, best_size = label, count
        label += 1
    return labels == best if best >= 0 else np.zeros(walls.shape, dtype=bool)


def _neighbours(mask: np.ndarray) -> np.ndarray:
    out = np.zeros_like(mask)
    for dx, dy in DIR_TO_VEC:
        shifted = np.roll(mask, (dx, dy), axis=(0, 1))
        out |= shifted
    return out & ~mask
