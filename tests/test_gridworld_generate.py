"""Level generation from a parameter task: the fast bitset version against a plain-array
reference, cell for cell.

``generate_level`` runs on every reset of every batched env, so it does its BFS on Python
int bitsets and builds levels without re-checking them. Speed must never change a level:
the reference below is the straightforward NumPy version (the one the committed results
were made with); both must draw the same numbers from the seed in the same order and
return the same level, distances and statistics.
"""

from __future__ import annotations

import numpy as np
import pytest

from envs.gridworld.bitgrid import at_least, bfs_within, cells_of, depth_of, free_mask
from envs.gridworld.generate import generate_level, maze_task_space, open_largest_region, required_distance
from envs.gridworld.level import Level, bfs_distances


def reference_level(task: dict, seed: int) -> Level:
    """The plain-array generator: same draws, a cell-by-cell BFS, a fully checked Level."""
    rng = np.random.default_rng(seed)
    size = int(task["size"])
    n = size - 2
    n_cells = n * n
    n_walls = min(int(round(float(task["wall_density"]) * n_cells)), n_cells - 2)
    walls = np.zeros((size, size), dtype=bool)
    walls[0, :] = walls[-1, :] = walls[:, 0] = walls[:, -1] = True
    chosen = rng.choice(n_cells, size=n_walls, replace=False) if n_walls > 0 else np.empty(0, dtype=np.int64)
    walls[chosen % n + 1, chosen // n + 1] = True
    start, dist, free = None, None, n_cells - n_walls
    for _ in range(3):
        xs, ys = np.nonzero(~walls)
        k = int(rng.integers(xs.size))
        cand = (int(xs[k]), int(ys[k]))
        cdist = bfs_distances(walls, cand)
        if 2 * int((cdist >= 0).sum()) > free and free >= 2:
            start, dist = cand, cdist
            break
    if start is None:  # the knock-down fallback is shared: only the search changed
        xs, ys = np.nonzero(open_largest_region(walls, rng))
        k = int(rng.integers(xs.size))
        start = (int(xs[k]), int(ys[k]))
        dist = bfs_distances(walls, start)
    need = required_distance(size, float(task["min_goal_distance"]))
    for _ in range(2):
        if dist.max() >= need:
            break
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
    wx, wy = np.nonzero(walls[1:-1, 1:-1])
    return Level(size, ((wy + 1) * size + (wx + 1)).tolist(), start, direction, goal, seed=int(seed))


def random_tasks(n: int, seed: int):
    """Tasks over the widest space (sizes 4..15, densities up to 0.9, so the knock-down and
    double-sweep branches run too), with the corners over-represented."""
    space = maze_task_space(4, 15, 0.9)
    rng = np.random.default_rng(seed)
    for i in range(n):
        task = space.from_unit(rng.uniform(size=3))
        if i % 5 == 0:
            task["wall_density"] = float(rng.choice([0.0, 0.6, 0.9]))
        if i % 7 == 0:
            task["min_goal_distance"] = float(rng.choice([0.0, 1.0]))
        yield task, int(rng.integers(2**31 - 1))


def test_fast_generator_matches_the_reference_level_for_level() -> None:
    for task, seed in random_tasks(1500, seed=3):
        fast, ref = generate_level(task, seed), reference_level(task, seed)
        assert fast == ref, (task, seed)
        assert fast.to_string() == ref.to_string()
        assert fast.stats() == ref.stats()
        assert fast.wall_grid.tolist() == ref.wall_grid.tolist()
        assert np.array_equal(fast.distances(), ref.distances())
        assert fast.solvable


def test_generated_levels_pass_the_checking_constructor() -> None:
    """``Level.unchecked`` is only for valid parts: rebuilding each generated level through
    the checking constructor must give an equal level with the same cached facts."""
    for task, seed in random_tasks(300, seed=4):
        level = generate_level(task, seed)
        checked = Level(level.size, level.walls, level.start, level.start_dir, level.goal)
        assert checked == level and hash(checked) == hash(level)
        assert list(level.walls) == sorted(level.walls) and all(type(w) is int for w in level.walls)
        assert checked.shortest_path == level.shortest_path > 0
        assert checked.wall_grid.tolist() == level.wall_grid.tolist()


@pytest.mark.parametrize(
    "task, seed, text, path",
    [
        ({"size": 15, "wall_density": 0.15, "min_goal_distance": 0.5}, 0, "m1:15:8,11,1:11,2:ohAAIAEEAAAgEQCZDACIFAECAGAIAA", 12),
        ({"size": 7, "wall_density": 0.6, "min_goal_distance": 1.0}, 42, "m1:7:1,2,2:1,5:0t70AA", 3),
        ({"size": 11, "wall_density": 0.9, "min_goal_distance": 0.2}, 7, "m1:11:3,7,0:2,7:t_7__-3__n_f_4A", 1),
    ],
)
def test_generated_levels_are_pinned(task: dict, seed: int, text: str, path: int) -> None:
    """The same (task, seed) gives the same maze across versions: runs stay reproducible."""
    level = generate_level(task, seed)
    assert level.to_string() == text
    assert level.shortest_path == path


def test_bitset_bfs_matches_cell_bfs_on_random_walls() -> None:
    rng = np.random.default_rng(5)
    for _ in range(300):
        size = int(rng.integers(4, 20))
        walls = rng.uniform(size=(size, size)) < rng.uniform(0.0, 0.7)
        walls[0, :] = walls[-1, :] = walls[:, 0] = walls[:, -1] = True
        free = np.flatnonzero(~walls)
        if free.size == 0:
            continue
        source = int(rng.choice(free))
        dist = bfs_distances(walls, divmod(source, size))
        within = bfs_within(free_mask(walls), source, size)
        assert len(within) - 1 == dist.max()
        flat = dist.reshape(-1)
        for d in range(len(within)):
            assert cells_of(within[d], size * size).tolist() == np.flatnonzero((flat >= 0) & (flat <= d)).tolist()
        for d in range(1, len(within) + 1):
            assert cells_of(at_least(within, d), size * size).tolist() == np.flatnonzero(flat >= d).tolist()
        for cell in rng.integers(size * size, size=10):
            assert depth_of(within, int(cell)) == flat[cell]
