"""The literature's held-out mazes against their published layouts.

Facts of the references, not of our code: each maze's size, wall count and shortest path
are computed here from the raw published data -- dcd's 0/1 bit maps with their start and
goal (facebookresearch/dcd, envs/multigrid/maze.py, Apache-2.0) and JaxUED's ASCII
prefabs (DramaCow/jaxued, src/jaxued/environments/maze/level.py, Apache-2.0) -- by a BFS
written in this file, independently of envs.gridworld.level.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import pytest

from envs.errors import TeachBenchError
from envs.gridworld.batched import BatchedMazeVecEnv
from envs.gridworld.held_out import held_out_set, load_ascii_mazes
from envs.gridworld.level import Level
from envs.gridworld.literature_mazes import ALIASES, LITERATURE, literature_levels
from envs.gridworld.maze_env import MazeEnv

# -- raw published data ------------------------------------------------------------------
# dcd: name -> (start (col, row), goal (col, row) or None, 0/1 rows of the interior bit map).
# "Maze" is dcd's MazeEnv default layout (start (7, 1), goal (7, 13)).
DCD = {
    "Maze2": (
        (1, 7), (13, 5),
        "0001010000100",
        "0101011110001",
        "0100000000100",
        "0111111110111",
        "0001001010100",
        "1101011010100",
        "0101000010110",
        "0101101110010",
        "0100100111010",
        "0110110101010",
        "0100010101010",
        "0101010101010",
        "0001000100000",
    ),
    "Maze3": (
        (4, 1), (13, 7),
        "0000101000000",
        "0111101011110",
        "0100001010000",
        "0001111010101",
        "1101000010100",
        "0001011010110",
        "0101010010010",
        "0101010111011",
        "0100010101000",
        "0111010101110",
        "0100010100010",
        "0101110101010",
        "0100010001000",
    ),
    "SmallCorridor": (
        (1, 7), None,
        "0000000000000",
        "0101010101010",
        "0101010101010",
        "0101010101010",
        "0101010101010",
        "0101010101010",
        "0111111111110",
        "0101010101010",
        "0101010101010",
        "0101010101010",
        "0101010101010",
        "0101010101010",
        "0000000000000",
    ),
    "LargeCorridor": (
        (1, 10), None,
        "0000000000000000000",
        "0101010101010101010",
        "0101010101010101010",
        "0101010101010101010",
        "0101010101010101010",
        "0101010101010101010",
        "0101010101010101010",
        "0101010101010101010",
        "0101010101010101010",
        "0111111111111111110",
        "0101010101010101010",
        "0101010101010101010",
        "0101010101010101010",
        "0101010101010101010",
        "0101010101010101010",
        "0101010101010101010",
        "0101010101010101010",
        "0101010101010101010",
        "0000000000000000000",
    ),
    "Labyrinth": (
        (1, 13), (7, 7),
        "0000000000000",
        "0111111111110",
        "0100000000010",
        "0101111111010",
        "0101000001010",
        "0101011101010",
        "0101010101010",
        "0101010101010",
        "0100010001010",
        "0111111111010",
        "0000010000010",
        "1111010111110",
        "0000010000000",
    ),
    "Labyrinth2": (
        (1, 1), (7, 7),
        "0100000000000",
        "0101111111110",
        "0101000000010",
        "0101011111010",
        "0101010001010",
        "0001010101010",
        "1111010101010",
        "0001011101010",
        "0101000001010",
        "0101111111010",
        "0100000000010",
        "0111111111110",
        "0000000000000",
    ),
    "SixteenRooms": (
        (2, 2), (12, 12),
        "0001001001000",
        "0000000001000",
        "0001001000000",
        "1011101101110",
        "0001000000000",
        "0000001001000",
        "1101011011101",
        "0001000001000",
        "0001001000000",
        "0111101101011",
        "0001001001000",
        "0000001000000",
        "0001000001000",
    ),
    "SixteenRoomsFewerDoors": (
        (2, 2), (12, 12),
        "0001000001000",
        "0000001001000",
        "0001001001000",
        "1111011011101",
        "0001001000000",
        "0000001001000",
        "1011111011111",
        "0001001001000",
        "0001000000000",
        "1101101101111",
        "0001001001000",
        "0000001000000",
        "0001001001000",
    ),
}
DCD["Maze"] = (
    (7, 1), (7, 13),
    "0000010000100",
    "0111011110110",
    "0100000000000",
    "0111111110111",
    "0000000010000",
    "1111110111110",
    "0000100100000",
    "0110001101111",
    "0010100100010",
    "1010110111010",
    "1010010001000",
    "1011011101110",
    "0001000101000",
)
DCD_CORRIDOR_GOALS = {"SmallCorridor": ([3, 5, 7, 9, 11], [6, 8]), "LargeCorridor": ([3, 5, 7, 9, 11, 13, 15, 17], [9, 11])}

# JaxUED: borderless 13x13 ASCII ('#' wall, '>' '<' the agent and its direction, 'G' goal).
SixteenRooms = """
...#..#..#...
.>.......#...
...#..#......
#.###.##.###.
...#.........
......#..#...
##.#.##.###.#
...#.....#...
...#..#......
.####.##.#.##
...#..#..#...
......#....G.
...#.....#...
"""

SixteenRooms2 = """
...#.....#...
.>....#..#...
...#..#..#...
####.##.###.#
...#..#......
......#..#...
#.#####.#####
...#..#..#...
...#.........
##.##.##.####
...#..#..#...
......#....G.
...#..#..#...
"""

Labyrinth = """
.............
.###########.
.#.........#.
.#.#######.#.
.#.#.....#.#.
.#.#.###.#.#.
.#.#.#G#.#.#.
.#.#.#.#.#.#.
.#...#...#.#.
.#########.#.
.....#.....#.
####.#.#####.
>....#.......
"""

LabyrinthFlipped = """
.............
.###########.
.#.........#.
.#.#######.#.
.#.#.....#.#.
.#.#.###.#.#.
.#.#.#G#.#.#.
.#.#.#.#.#.#.
.#.#...#...#.
.#.#########.
.#.....#.....
.#####.#.####
.......#....<
"""

Labyrinth2 = """
>#...........
.#.#########.
.#.#.......#.
.#.#.#####.#.
.#.#.#...#.#.
...#.#.#.#.#.
####.#G#.#.#.
...#.###.#.#.
.#.#.....#.#.
.#.#######.#.
.#.........#.
.###########.
.............
"""

StandardMaze = """
.....#>...#..
.###.####.##.
.#...........
.########.###
........#....
######.#####.
....#..#.....
.##...##.####
..#.#..#...#.
#.#.##.###.#.
#.#..#...#...
#.##.###.###.
...#..G#.#...
"""

StandardMaze2 = """
...#.#....#..
.#.#.####...#
.#........#..
.########.###
...#..#.#.#.G
##.#.##.#.#..
>#.#....#.##.
.#.##.###..#.
.#..#..###.#.
.##.##.#.#.#.
.#...#.#.#.#.
.#.#.#.#.#.#.
...#...#.....
"""

StandardMaze3 = """
...>#.#......
.####.#.####.
.#....#.#....
...####.#.#.#
##.#....#.#..
...#.##.#.##.
.#.#.#..#..#G
.#.#.#.###.##
.#...#.#.#...
.###.#.#.###.
.#...#.#...#.
.#.###.#.#.#.
.#...#...#...
"""

JAXUED = {"SixteenRooms": SixteenRooms, "SixteenRooms2": SixteenRooms2, "Labyrinth": Labyrinth,
          "LabyrinthFlipped": LabyrinthFlipped, "Labyrinth2": Labyrinth2, "StandardMaze": StandardMaze,
          "StandardMaze2": StandardMaze2, "StandardMaze3": StandardMaze3}

DCD_NAME = {"SixteenRooms2": "SixteenRoomsFewerDoors"}
JAXUED_NAME = {"Maze": "StandardMaze", "Maze2": "StandardMaze2", "Maze3": "StandardMaze3"}


# -- an independent reading of the raw data ------------------------------------------------
def bfs(free: list[list[bool]], start: tuple[int, int], goal: tuple[int, int]) -> int:
    """Moves from start to goal over free[row][col] (4-neighbourhood), -1 if unreachable."""
    h, w = len(free), len(free[0])
    dist = {start: 0}
    queue = deque([start])
    while queue:
        x, y = queue.popleft()
        if (x, y) == goal:
            return dist[(x, y)]
        for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if 0 <= nx < w and 0 <= ny < h and free[ny][nx] and (nx, ny) not in dist:
                dist[(nx, ny)] = dist[(x, y)] + 1
                queue.append((nx, ny))
    return -1


def dcd_facts(name: str, goal: tuple[int, int] | None = None) -> tuple[int, int, int, tuple[int, int], tuple[int, int]]:
    """(side with border, interior walls, shortest path, start, goal) of a dcd bit map;
    dcd adds 1 to bit-map indices for the border, and its start/goal are already in
    bordered coordinates."""
    start, published_goal, *rows = DCD[name]
    goal = goal or published_goal
    n = len(rows)
    free = [[True] * (n + 2) for _ in range(n + 2)]
    for i in range(n + 2):
        free[0][i] = free[n + 1][i] = free[i][0] = free[i][n + 1] = False
    for r, row in enumerate(rows):
        for c, bit in enumerate(row):
            free[r + 1][c + 1] = bit == "0"
    walls = sum(row.count("1") for row in rows)
    return n + 2, walls, bfs(free, tuple(start), tuple(goal)), tuple(start), tuple(goal)


def jaxued_facts(name: str) -> tuple[int, int, int, tuple[int, int], tuple[int, int], int]:
    """(side with our border, walls, shortest path, start, goal in bordered coordinates,
    direction) of a borderless JaxUED prefab (outside the 13x13 is wall)."""
    rows = JAXUED[name].strip().split("\n")
    free = [[ch != "#" for ch in row] for row in rows]
    start = goal = None
    direction = -1
    for y, row in enumerate(rows):
        for x, ch in enumerate(row):
            if ch == "G":
                goal = (x, y)
            elif ch in "><v^":
                start, direction = (x, y), ">v<^".index(ch)
    walls = sum(row.count("#") for row in rows)
    assert start is not None and goal is not None
    return len(rows) + 2, walls, bfs(free, start, goal), (start[0] + 1, start[1] + 1), (goal[0] + 1, goal[1] + 1), direction


# -- the tests -------------------------------------------------------------------------------
def test_the_set_holds_the_literature_mazes() -> None:
    assert set(LITERATURE) == {"SixteenRooms", "SixteenRooms2", "Labyrinth", "Labyrinth2", "LabyrinthFlipped", "Maze",
                               "Maze2", "Maze3", "SmallCorridor", "LargeCorridor", "FourRooms", "SimpleCrossing",
                               "PerfectMazeMedium"}
    assert set(ALIASES.values()) <= set(LITERATURE)


@pytest.mark.parametrize("name", ["SixteenRooms", "SixteenRooms2", "Labyrinth", "Labyrinth2", "Maze", "Maze2", "Maze3"])
def test_fixed_mazes_match_dcd_bit_maps(name: str) -> None:
    size, walls, path, start, goal = dcd_facts(DCD_NAME.get(name, name))
    (level,) = literature_levels()[name]
    assert (level.size, len(level.walls), level.start, level.goal) == (size, walls, start, goal)
    assert level.shortest_path == path > 0
    assert level.start_dir == 0  # dcd's place_agent_at_pos: direction 0


@pytest.mark.parametrize("name", ["SixteenRooms", "SixteenRooms2", "Labyrinth", "LabyrinthFlipped", "Labyrinth2",
                                  "Maze", "Maze2", "Maze3"])
def test_fixed_mazes_match_jaxued_prefabs(name: str) -> None:
    size, walls, path, start, goal, direction = jaxued_facts(JAXUED_NAME.get(name, name))
    (level,) = literature_levels()[name]
    assert (level.size, len(level.walls), level.start, level.goal, level.start_dir) == (size, walls, start, goal, direction)
    assert level.shortest_path == path > 0


def test_the_two_sources_agree_cell_for_cell() -> None:
    for ours, jax in (("SixteenRooms", "SixteenRooms"), ("SixteenRoomsFewerDoors", "SixteenRooms2"),
                      ("Labyrinth", "Labyrinth"), ("Labyrinth2", "Labyrinth2"), ("Maze", "StandardMaze"),
                      ("Maze2", "StandardMaze2"), ("Maze3", "StandardMaze3")):
        bits = ["".join("1" if ch == "#" else "0" for ch in row) for row in JAXUED[jax].strip().split("\n")]
        assert bits == list(DCD[ours][2:]), ours
    # the published path lengths in dcd's docstrings are upper bounds ("a short but
    # non-optimal path is 118 moves" for the labyrinths; "completed in 16 moves" counts
    # differently); the BFS lengths are what the test pins.
    assert dcd_facts("Labyrinth")[2] <= 118 and dcd_facts("Labyrinth2")[2] <= 118


@pytest.mark.parametrize("name", ["SmallCorridor", "LargeCorridor"])
def test_corridors_hold_every_goal_dcd_draws(name: str) -> None:
    cols, rows = DCD_CORRIDOR_GOALS[name]
    variants = literature_levels()[name]
    assert sorted(v.goal for v in variants) == sorted((c, r) for c in cols for r in rows)
    for v in variants:
        size, walls, path, start, goal = dcd_facts(name, v.goal)
        assert (v.size, len(v.walls), v.start, v.start_dir) == (size, walls, start, 0)
        assert v.shortest_path == path > 0
    assert variants[0].size == (15 if name == "SmallCorridor" else 21)


def test_four_rooms_follows_minigrids_rule() -> None:
    variants = literature_levels()["FourRooms"]
    assert len(variants) == 100 and len({v.to_string() for v in variants}) > 90
    for v in variants:
        g = v.wall_grid  # [x, y]
        assert v.size == 19
        # the cross through row and column 9 minus one door per wall segment: 17 + 17 - 1 - 4
        assert len(v.walls) == 29
        assert not g[9, 1:9].all() and not g[9, 10:18].all() and not g[1:9, 9].all() and not g[10:18, 9].all()
        assert g[9, 9]  # the centre is never a door
        assert v.solvable  # four rooms joined by four doors: every free cell is reachable
    assert len({v.start_dir for v in variants}) == 4


def test_simple_crossing_is_s11n5() -> None:
    for v in literature_levels()["SimpleCrossing"]:
        g = v.wall_grid
        assert v.size == 11 and v.start == (1, 1) and v.goal == (9, 9) and v.start_dir == 0
        vertical = [x for x in range(2, 9, 2) if g[x, 1:10].sum() == 8]  # a wall line with one opening
        horizontal = [y for y in range(2, 9, 2) if g[1:10, y].sum() == 8]
        assert len(vertical) + len(horizontal) == 5  # num_crossings of the 8 candidate lines
        # nothing else: 9 cells per line, crossings counted once, one opening per line
        assert len(v.walls) == 9 * 5 - len(vertical) * len(horizontal) - 5
        # the openings lie on a path of rooms from the top-left to the bottom-right room
        assert v.shortest_path >= 16


def test_perfect_maze_medium_is_a_spanning_tree_between_corners() -> None:
    corners = {(1, 1), (19, 1), (1, 19), (19, 19)}
    variants = literature_levels()["PerfectMazeMedium"]
    for v in variants:
        free = ~v.wall_grid
        assert v.size == 21 and v.start in corners and v.goal in corners and v.start != v.goal
        assert int(free.sum()) == 100 + 99  # 10x10 cells and the 99 edges of a spanning tree
        edges = int((free[1:, :] & free[:-1, :]).sum() + (free[:, 1:] & free[:, :-1]).sum())
        assert edges == int(free.sum()) - 1  # a tree: one path between any two cells
        assert v.solvable
    assert len({v.to_string() for v in variants}) == 100


def test_env_plays_levels_larger_than_max_size_in_the_same_observation() -> None:
    env = MazeEnv()  # max_size 15: the partial view plays the 21x21 mazes too
    variants = env.held_out_variants()
    assert set(variants) == set(LITERATURE)
    assert env.held_out() == {k: v[0] for k, v in variants.items()}
    text = variants["LargeCorridor"][0]
    obs, _ = env.reset(options={"level": text})
    vec = BatchedMazeVecEnv(1, seed=0)
    vec.env_method("set_next_task", {"level": text}, indices=[0])
    vobs = vec.reset()
    assert obs.shape == env.observation_space.shape and np.array_equal(obs, vobs[0])
    rng = np.random.default_rng(0)
    for _ in range(60):
        a = int(rng.integers(3))
        obs, *_ = env.step(a)
        vobs, *_ = vec.step(np.array([a]))
        assert np.array_equal(obs, vobs[0])
    # the full view cannot show a maze beyond its canvas: those are left out there
    assert "LargeCorridor" not in MazeEnv(view="full").held_out()
    with pytest.raises(TeachBenchError, match="max_level_size"):
        MazeEnv(view="full", max_level_size=21)


def test_users_add_mazes_as_ascii_art(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text(
        "; a comment\n#####\n#A..#\n#.#.#\n#..G#\n#####\n\n[Hall]\n#######\n#>...G#\n#######\n".replace(
            "#######\n#>...G#\n#######", "#######\n#>...G#\n#.....#\n#.....#\n#.....#\n#.....#\n#######"))
    (tmp_path / "Hall.txt").write_text("[Hall]\n#######\n#.....#\n#.....#\n#<...G#\n#.....#\n#.....#\n#######\n")
    mazes = load_ascii_mazes([tmp_path])
    assert set(mazes) == {"mine", "Hall"} and len(mazes["Hall"]) == 2  # two variants of one name
    assert mazes["mine"][0].shortest_path == 4 and mazes["mine"][0].start_dir == 0
    env = MazeEnv(held_out_set="none", held_out_files=[str(tmp_path / "mine.txt")])
    assert set(env.held_out()) == {"mine", "Hall"}
    assert set(held_out_set("literature", [tmp_path / "mine.txt"])) == set(LITERATURE) | {"mine", "Hall"}
    (tmp_path / "bad.txt").write_text("#####\n#A.x#\n#####\n")
    with pytest.raises(TeachBenchError, match="held_out_files"):
        load_ascii_mazes([tmp_path / "bad.txt"])
    with pytest.raises(TeachBenchError, match="held_out_files"):
        load_ascii_mazes([tmp_path / "missing.txt"])
    with pytest.raises(TeachBenchError, match="held_out_set"):
        MazeEnv(held_out_set="papers")


def test_held_out_evaluation_follows_dcds_protocol() -> None:
    """10 episodes per maze (variants in turn), stochastic policy, solved rate per maze."""
    from stable_baselines3 import PPO

    from students.evaluate import evaluate_held_out, held_out_jobs

    env = MazeEnv()
    assert env.held_out_protocol() == {"episodes": 10, "deterministic": False}
    held = {k: v for k, v in env.held_out_variants().items() if k in ("SmallCorridor", "Maze")}
    jobs = held_out_jobs(held, 10)
    corridor = [t["level"] for n, t in jobs if n == "SmallCorridor"]
    assert len(corridor) == 10 and len(set(corridor)) == 10  # each of the 10 goals once
    assert [t["level"] for n, t in jobs if n == "Maze"] == [held["Maze"][0]] * 10
    model = PPO("MlpPolicy", BatchedMazeVecEnv(2, seed=0), n_steps=16, batch_size=32, seed=0)
    result = evaluate_held_out(model, "gridworld", held, {"max_steps": 40}, episodes=3, deterministic=False, n_envs=4)
    assert set(result.solved) == {"SmallCorridor", "Maze"} and len(result.records) == 6
    for name in result.solved:
        mine = [r.success for n, r in result.records if n == name]
        assert result.solved[name] == pytest.approx(np.mean(mine))
    with pytest.raises(TeachBenchError, match="held_out_episodes"):
        held_out_jobs(held, 0)


def test_published_rates_average_to_the_papers_figures() -> None:
    """dcd's per-maze CSV means average to the papers' headline numbers (docs/references.md:
    ACCEL 0.875, PLR⊥ 0.71, DR 0.62 over 12 mazes at 60 blocks; PLR⊥ 0.68, PLR 0.59, DR 0.43,
    PAIRED 0.33 over 7 at 25 blocks)."""
    from envs.gridworld.literature_mazes import DCD_PUBLISHED_SOLVED as P

    assert set(P["accel_60_blocks"]) == set(LITERATURE) - {"LabyrinthFlipped"}  # dcd's 12
    assert np.mean(list(P["accel_60_blocks"].values())) == pytest.approx(0.875, abs=0.001)
    assert np.mean(list(P["plr_robust_25_blocks"].values())) == pytest.approx(0.68, abs=0.005)
    assert np.mean(list(P["dr_25_blocks"].values())) == pytest.approx(0.43, abs=0.005)
    assert np.mean(list(P["plr_25_blocks"].values())) == pytest.approx(0.59, abs=0.005)
    assert np.mean(list(P["paired_25_blocks"].values())) == pytest.approx(0.33, abs=0.005)
    assert np.mean(list(P["plr_robust_60_blocks"].values())) == pytest.approx(0.71, abs=0.005)
    assert np.mean(list(P["dr_60_blocks"].values())) == pytest.approx(0.62, abs=0.005)
    for table in P.values():
        assert set(table) <= set(LITERATURE)
