"""The literature's held-out mazes: the zero-shot test set of the UED maze papers.

PAIRED, PLR⊥, ACCEL and their JAX re-implementations test maze students on the same
hand-designed layouts (docs/references.md, "Regret-based UED"). Their layouts are data;
we carry them over so that our solved rates can be set beside the papers'.

Sources (layouts and generation rules; no code copied):

- facebookresearch/dcd, ``envs/multigrid/maze.py`` (Apache-2.0, Google Research header):
  the 13x13 interior bit maps, starts and goals of ``Maze`` (dcd's default ``MazeEnv``
  layout, JaxUED's ``StandardMaze``), ``Maze2`` (``HorizontalMazeEnv``, JaxUED's
  ``StandardMaze2``), ``Maze3`` (JaxUED's ``StandardMaze3``), ``Labyrinth``,
  ``Labyrinth2``, ``SixteenRooms``, ``SixteenRoomsFewerDoors`` (JaxUED's
  ``SixteenRooms2``), ``SmallCorridor`` (15x15) and ``LargeCorridor`` (21x21).
  dcd places every agent of these mazes facing right (``place_agent_at_pos`` sets
  direction 0), written ``A`` below.
- DramaCow/jaxued, ``src/jaxued/environments/maze/level.py`` (Apache-2.0): the ASCII
  prefabs, borderless 13x13; ``LabyrinthFlipped`` exists only there (its agent faces
  left, ``<``). Where both sources hold a maze, they agree cell for cell
  (``tests/test_literature_mazes.py`` checks it).
- facebookresearch/dcd, ``envs/multigrid/fourrooms.py``, ``crossing.py`` and
  ``mst_maze.py`` (CC BY-NC 4.0 repository): the *generation rules* of ``FourRooms``
  (MiniGrid's 19x19 four rooms: one random door per wall segment, random agent cell and
  direction, random goal), ``SimpleCrossing`` (MiniGrid ``SimpleCrossingS11N5``, the
  variant dcd's result tables evaluate: 11x11, five of the eight wall "rivers", one
  opening per river along a random monotone path, agent at (1, 1) facing right, goal at
  (9, 9)) and ``PerfectMazeMedium`` (21x21: Kruskal's algorithm over a 10x10 lattice of
  cells with the edges in random order; agent and goal in two distinct random corners).

Procedural mazes. dcd draws a fresh layout on every evaluation episode (the corridors
draw only their goal: ``SmallCorridor`` one of 2 rows x 5 columns, ``LargeCorridor`` one
of 2 x 8). We keep that as a list of *variants* per maze, played in order, episode ``k``
on variant ``k mod n`` (:func:`students.evaluate.evaluate_held_out`):

- the corridors: every goal the rule allows (10 and 16 variants), in a seeded shuffled
  order, so that any prefix is a uniform draw without replacement (10 episodes of
  ``SmallCorridor`` play each goal once);
- ``FourRooms``, ``SimpleCrossing``, ``PerfectMazeMedium``: 100 layouts drawn by the rule
  from NumPy seeds ``0..99`` (our RNG, not dcd's: the same distribution, not dcd's
  exact draws).

Differences from dcd's evaluation, on purpose: episodes last the env's ``max_steps``
(250, the training length, as in JaxUED) where dcd uses ``2·size²`` for the bit-map mazes,
100 for FourRooms and ``4·size²`` for the crossings; the reward is the training reward; and
the view sees through walls everywhere (dcd's MiniGrid ``SimpleCrossing`` does not). A
maze's solved rate (episodes that reach the goal) is dcd's "return > 0".
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from envs.gridworld.level import Level

# -- fixed layouts (interior 13x13 inside a 15x15 border unless stated) ------------------
MAZE = """
###############
#.....#A...#..#
#.###.####.##.#
#.#...........#
#.########.####
#........#....#
#######.#####.#
#....#..#.....#
#.##...##.#####
#..#.#..#...#.#
##.#.##.###.#.#
##.#..#...#...#
##.##.###.###.#
#...#..G#.#...#
###############
"""

MAZE2 = """
###############
#...#.#....#..#
#.#.#.####...##
#.#........#..#
#.########.####
#...#..#.#.#.G#
###.#.##.#.#..#
#A#.#....#.##.#
#.#.##.###..#.#
#.#..#..###.#.#
#.##.##.#.#.#.#
#.#...#.#.#.#.#
#.#.#.#.#.#.#.#
#...#...#.....#
###############
"""

MAZE3 = """
###############
#...A#.#......#
#.####.#.####.#
#.#....#.#....#
#...####.#.#.##
###.#....#.#..#
#...#.##.#.##.#
#.#.#.#..#..#G#
#.#.#.#.###.###
#.#...#.#.#...#
#.###.#.#.###.#
#.#...#.#...#.#
#.#.###.#.#.#.#
#.#...#...#...#
###############
"""

LABYRINTH = """
###############
#.............#
#.###########.#
#.#.........#.#
#.#.#######.#.#
#.#.#.....#.#.#
#.#.#.###.#.#.#
#.#.#.#G#.#.#.#
#.#.#.#.#.#.#.#
#.#...#...#.#.#
#.#########.#.#
#.....#.....#.#
#####.#.#####.#
#A....#.......#
###############
"""

LABYRINTH2 = """
###############
#A#...........#
#.#.#########.#
#.#.#.......#.#
#.#.#.#####.#.#
#.#.#.#...#.#.#
#...#.#.#.#.#.#
#####.#G#.#.#.#
#...#.###.#.#.#
#.#.#.....#.#.#
#.#.#######.#.#
#.#.........#.#
#.###########.#
#.............#
###############
"""

LABYRINTH_FLIPPED = """
###############
#.............#
#.###########.#
#.#.........#.#
#.#.#######.#.#
#.#.#.....#.#.#
#.#.#.###.#.#.#
#.#.#.#G#.#.#.#
#.#.#.#.#.#.#.#
#.#.#...#...#.#
#.#.#########.#
#.#.....#.....#
#.#####.#.#####
#.......#....<#
###############
"""

SIXTEEN_ROOMS = """
###############
#...#..#..#...#
#.A.......#...#
#...#..#......#
##.###.##.###.#
#...#.........#
#......#..#...#
###.#.##.###.##
#...#.....#...#
#...#..#......#
#.####.##.#.###
#...#..#..#...#
#......#....G.#
#...#.....#...#
###############
"""

SIXTEEN_ROOMS_FEWER_DOORS = """
###############
#...#.....#...#
#.A....#..#...#
#...#..#..#...#
#####.##.###.##
#...#..#......#
#......#..#...#
##.#####.######
#...#..#..#...#
#...#.........#
###.##.##.#####
#...#..#..#...#
#......#....G.#
#...#..#..#...#
###############
"""

# Corridors: the goal is drawn per episode (dcd: np.random.choice over rows x columns).
SMALL_CORRIDOR = """
###############
#.............#
#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#
#A###########.#
#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#
#.............#
###############
"""
SMALL_CORRIDOR_GOALS = ((3, 5, 7, 9, 11), (6, 8))  # (columns, rows)

LARGE_CORRIDOR = """
#####################
#...................#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#A#################.#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#.#.#.#.#.#.#.#.#.#.#
#...................#
#####################
"""
LARGE_CORRIDOR_GOALS = ((3, 5, 7, 9, 11, 13, 15, 17), (9, 11))

N_PROCEDURAL = 100
"""Layouts kept per procedurally generated maze (seeds 0..99)."""
VARIANT_ORDER_SEED = 2021
"""Seed of the shuffled order of the corridors' goal variants."""


def _from_picture(picture: str) -> Level:
    return Level.from_ascii(picture)


def _corridor(picture: str, goals: tuple[tuple[int, ...], tuple[int, ...]]) -> list[Level]:
    """Every goal the corridor's rule allows, in a seeded shuffled order."""
    cols, rows = goals
    lines = picture.strip().splitlines()
    first = lines[rows[0]]
    lines[rows[0]] = first[: cols[0]] + "G" + first[cols[0] + 1:]  # any allowed goal, replaced below
    base = _from_picture("\n".join(lines))
    variants = [Level(base.size, base.walls, base.start, base.start_dir, (x, y)) for y in rows for x in cols]
    order = np.random.default_rng(VARIANT_ORDER_SEED).permutation(len(variants))
    return [variants[int(i)] for i in order]


# -- procedural rules ---------------------------------------------------------------------
def _grid_level(walls: np.ndarray, start: tuple[int, int], direction: int, goal: tuple[int, int]) -> Level:
    """A Level from a full ``[y, x]`` wall array (border included)."""
    size = walls.shape[0]
    cells = tuple(int(y * size + x) for y in range(1, size - 1) for x in range(1, size - 1) if walls[y, x])
    return Level(size, cells, start, direction, goal)


def four_rooms(rng: np.random.Generator, size: int = 19) -> Level:
    """MiniGrid's FourRooms as dcd's copy builds it: walls through the middle row and
    column, one door at a random cell of each of the four wall segments (drawn in
    MiniGrid's order), the agent on a random free cell with a random direction, then the
    goal on another random free cell."""
    walls = np.zeros((size, size), dtype=bool)
    walls[0, :] = walls[-1, :] = walls[:, 0] = walls[:, -1] = True
    room = size // 2
    for j in range(2):
        for i in range(2):
            x_left, y_top = i * room, j * room
            x_right, y_bottom = x_left + room, y_top + room
            if i + 1 < 2:
                walls[y_top:y_top + room, x_right] = True
                walls[int(rng.integers(y_top + 1, y_bottom)), x_right] = False
            if j + 1 < 2:
                walls[y_bottom, x_left:x_left + room] = True
                walls[y_bottom, int(rng.integers(x_left + 1, x_right))] = False
    free = [(x, y) for y in range(size) for x in range(size) if not walls[y, x]]
    a = int(rng.integers(len(free)))
    start = free[a]
    direction = int(rng.integers(4))
    rest = free[:a] + free[a + 1:]
    goal = rest[int(rng.integers(len(rest)))]
    return _grid_level(walls, start, direction, goal)


def simple_crossing(rng: np.random.Generator, size: int = 11, num_crossings: int = 5) -> Level:
    """MiniGrid's SimpleCrossing (wall obstacles): ``num_crossings`` of the vertical and
    horizontal wall lines at even coordinates, each opened once along a random monotone
    path of rooms from the top-left to the bottom-right corner."""
    walls = np.zeros((size, size), dtype=bool)
    walls[0, :] = walls[-1, :] = walls[:, 0] = walls[:, -1] = True
    rivers = [("v", i) for i in range(2, size - 2, 2)] + [("h", j) for j in range(2, size - 2, 2)]
    order = rng.permutation(len(rivers))
    chosen = [rivers[int(k)] for k in order[:num_crossings]]
    rivers_v = sorted(p for d, p in chosen if d == "v")  # x of vertical wall lines
    rivers_h = sorted(p for d, p in chosen if d == "h")  # y of horizontal wall lines
    for y in rivers_h:
        walls[y, 1:size - 1] = True
    for x in rivers_v:
        walls[1:size - 1, x] = True
    path = ["h"] * len(rivers_v) + ["v"] * len(rivers_h)
    path = [path[int(k)] for k in rng.permutation(len(path))]
    limits_v = [0] + rivers_v + [size - 1]
    limits_h = [0] + rivers_h + [size - 1]
    room_i = room_j = 0
    for step in path:
        if step == "h":  # cross the next vertical line
            x = limits_v[room_i + 1]
            y = int(rng.integers(limits_h[room_j] + 1, limits_h[room_j + 1]))
            room_i += 1
        else:  # cross the next horizontal line
            x = int(rng.integers(limits_v[room_i] + 1, limits_v[room_i + 1]))
            y = limits_h[room_j + 1]
            room_j += 1
        walls[y, x] = False
    return _grid_level(walls, (1, 1), 0, (size - 2, size - 2))


def perfect_maze(rng: np.random.Generator, size: int = 21) -> Level:
    """A perfect maze by Kruskal's algorithm: cells at the even interior coordinates, the
    lattice edges in random order, an edge's wall removed when it joins two components;
    the agent (facing right) and the goal in two distinct random corners."""
    n = size - 2
    if n % 2 != 1:
        raise ValueError(f"perfect_maze needs an odd interior, got size {size}")
    k = n // 2 + 1  # cells per side
    interior = np.ones((n, n), dtype=bool)
    interior[::2, ::2] = False
    parent = list(range(k * k))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    edges = [((r, c), (r, c + 1)) for r in range(k) for c in range(k - 1)]
    edges += [((r, c), (r + 1, c)) for r in range(k - 1) for c in range(k)]
    for e in rng.permutation(len(edges)):
        (r1, c1), (r2, c2) = edges[int(e)]
        a, b = find(r1 * k + c1), find(r2 * k + c2)
        if a != b:
            interior[r1 + r2, c1 + c2] = False  # the wall between the two cells
            parent[a] = b
    walls = np.ones((size, size), dtype=bool)
    walls[1:-1, 1:-1] = interior
    corners = [(1, 1), (size - 2, 1), (1, size - 2), (size - 2, size - 2)]
    a, g = rng.choice(4, size=2, replace=False)
    return _grid_level(walls, corners[int(a)], 0, corners[int(g)])


def _procedural(rule: Callable[[np.random.Generator], Level], n: int) -> list[Level]:
    return [rule(np.random.default_rng(seed)) for seed in range(n)]


# -- the set ------------------------------------------------------------------------------
LITERATURE: dict[str, Callable[[], list[Level]]] = {
    "SixteenRooms": lambda: [_from_picture(SIXTEEN_ROOMS)],
    "SixteenRooms2": lambda: [_from_picture(SIXTEEN_ROOMS_FEWER_DOORS)],
    "Labyrinth": lambda: [_from_picture(LABYRINTH)],
    "Labyrinth2": lambda: [_from_picture(LABYRINTH2)],
    "LabyrinthFlipped": lambda: [_from_picture(LABYRINTH_FLIPPED)],
    "Maze": lambda: [_from_picture(MAZE)],
    "Maze2": lambda: [_from_picture(MAZE2)],
    "Maze3": lambda: [_from_picture(MAZE3)],
    "SmallCorridor": lambda: _corridor(SMALL_CORRIDOR, SMALL_CORRIDOR_GOALS),
    "LargeCorridor": lambda: _corridor(LARGE_CORRIDOR, LARGE_CORRIDOR_GOALS),
    "FourRooms": lambda: _procedural(four_rooms, N_PROCEDURAL),
    "SimpleCrossing": lambda: _procedural(simple_crossing, N_PROCEDURAL),
    "PerfectMazeMedium": lambda: _procedural(perfect_maze, N_PROCEDURAL),
}
"""Name -> its variants (one for a fixed layout). Names follow JaxUED where it has the
maze (``SixteenRooms2``), dcd otherwise; aliases: :data:`ALIASES`."""

ALIASES = {
    "SixteenRoomsFewerDoors": "SixteenRooms2",
    "StandardMaze": "Maze",
    "StandardMaze2": "Maze2",
    "StandardMaze3": "Maze3",
    "SimpleCrossingS11N5": "SimpleCrossing",
}


def literature_levels() -> dict[str, list[Level]]:
    """Every literature maze, built now: name -> its variants."""
    return {name: make() for name, make in LITERATURE.items()}


# -- the published numbers to set ours beside ------------------------------------------------
DCD_PUBLISHED_SOLVED: dict[str, dict[str, float]] = {
    # facebookresearch/dcd, results/minigrid_ood/*.csv: per maze, the mean over seeds of the
    # solved rate (each seed: 100 stochastic episodes). "60 blocks": ACCEL paper, 20k
    # student updates, 5 seeds (ACCEL from empty rooms); "25 blocks": PLR⊥ paper, 250M
    # steps, 10 seeds. Keys are our maze names.
    "accel_60_blocks": {
        "SixteenRooms": 1.0, "SixteenRooms2": 0.934, "Labyrinth": 0.74, "Labyrinth2": 0.846, "Maze": 0.78,
        "Maze2": 0.998, "Maze3": 0.84, "SimpleCrossing": 0.79, "FourRooms": 0.684, "SmallCorridor": 0.998,
        "LargeCorridor": 0.986, "PerfectMazeMedium": 0.9,
    },
    "plr_robust_60_blocks": {
        "SixteenRooms": 0.952, "SixteenRooms2": 0.488, "Labyrinth": 0.55, "Labyrinth2": 0.664, "Maze": 0.542,
        "Maze2": 0.742, "Maze3": 0.754, "SimpleCrossing": 0.868, "FourRooms": 0.64, "SmallCorridor": 0.894,
        "LargeCorridor": 0.792, "PerfectMazeMedium": 0.618,
    },
    "dr_60_blocks": {
        "SixteenRooms": 0.872, "SixteenRooms2": 0.534, "Labyrinth": 0.452, "Labyrinth2": 0.54, "Maze": 0.434,
        "Maze2": 0.486, "Maze3": 0.694, "SimpleCrossing": 0.566, "FourRooms": 0.774, "SmallCorridor": 1.0,
        "LargeCorridor": 0.644, "PerfectMazeMedium": 0.448,
    },
    "plr_robust_25_blocks": {
        "SixteenRooms": 0.834, "Labyrinth": 0.538, "Labyrinth2": 0.59, "Maze": 0.592, "Maze2": 0.383,
        "SimpleCrossing": 0.941, "SmallCorridor": 0.859,
    },
    "plr_25_blocks": {
        "SixteenRooms": 0.958, "Labyrinth": 0.343, "Labyrinth2": 0.372, "Maze": 0.281, "Maze2": 0.407,
        "SimpleCrossing": 0.956, "SmallCorridor": 0.818,
    },
    "dr_25_blocks": {
        "SixteenRooms": 0.903, "Labyrinth": 0.183, "Labyrinth2": 0.204, "Maze": 0.036, "Maze2": 0.046,
        "SimpleCrossing": 0.798, "SmallCorridor": 0.824,
    },
    "paired_25_blocks": {
        "SixteenRooms": 0.671, "Labyrinth": 0.303, "Labyrinth2": 0.247, "Maze": 0.004, "Maze2": 0.101,
        "SimpleCrossing": 0.329, "SmallCorridor": 0.654,
    },
}
"""dcd's published per-maze solved rates (seed means), to set a run's ``held_out_solved`` beside."""
