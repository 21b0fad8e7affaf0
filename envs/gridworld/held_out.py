"""Named mazes for zero-shot evaluation: the held-out sets and user-supplied ASCII mazes.

Two sets (``MazeEnv(held_out_set=...)``):

- ``literature`` (default): the UED papers' test mazes (:mod:`envs.gridworld.literature_mazes`),
  so that solved rates sit beside the published ones;
- ``teachbench``: our own designs, described below.

Either set may be extended, or replaced (``held_out_set: none``), by mazes drawn as
ASCII art in text files (``MazeEnv(held_out_files=[...])``, :func:`load_ascii_mazes`):
no code needed.

Our own designs (the ``teachbench`` set).

The UED papers test maze students on a fixed set of hand-designed layouts (rooms,
corridors, labyrinths, perfect mazes: docs/references.md#ued-mazes). These are ours, in the same
families, all inside the 15×15 default canvas and all solvable (tested):

- rooms: ``four_rooms``, ``nine_rooms``;
- corridors: ``corridor_short`` (9×9 switchback), ``corridor_long`` (15×15 switchback),
  ``hallway`` (a straight hall with dead-end alcoves);
- labyrinths: ``rings`` (concentric rings, gaps on alternating sides, goal in the
  centre), ``crossing`` (wall lines with one gap each);
- perfect mazes: ``perfect_7``, ``perfect_11``, ``perfect_15`` (one path between any two
  cells), carved by a depth-first backtracker driven by a fixed tiny LCG so that the
  layouts never change with the NumPy version;
- ``open_field``: no walls, start and goal in opposite corners (a sanity level).

Each is built fresh on every call (levels are immutable, but nothing is module state).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from envs.errors import TeachBenchError
from envs.gridworld.level import DIR_TO_VEC, Level, bfs_distances

HELD_OUT_SETS = ("literature", "teachbench", "none")


def _box(size: int) -> list[list[str]]:
    return [["#" if x in (0, size - 1) or y in (0, size - 1) else "." for x in range(size)] for y in range(size)]


def _level(rows: list[list[str]], start: tuple[int, int], direction: int, goal: tuple[int, int]) -> Level:
    size = len(rows)
    walls = tuple(y * size + x for y in range(1, size - 1) for x in range(1, size - 1) if rows[y][x] == "#")
    return Level(size, walls, start, direction, goal)


def four_rooms() -> Level:
    g = _box(15)
    for i in range(1, 14):
        g[7][i] = "#"  # horizontal divider
        g[i][7] = "#"  # vertical divider
    for x, y in ((7, 3), (7, 11), (3, 7), (11, 7)):
        g[y][x] = "."  # one door per divider half
    return _level(g, (1, 1), 0, (13, 13))


def nine_rooms() -> Level:
    g = _box(15)
    for i in range(1, 14):
        for c in (5, 9):
            g[c][i] = "#"
            g[i][c] = "#"
    doors = [(5, 3), (9, 2), (5, 7), (9, 12), (5, 11), (9, 7), (3, 5), (7, 5), (12, 5), (2, 9), (7, 9), (11, 9)]
    for x, y in doors:
        g[y][x] = "."
    return _level(g, (2, 2), 1, (12, 12))


def _switchback(size: int) -> Level:
    g = _box(size)
    for k, y in enumerate(range(2, size - 2, 2)):
        xs = range(1, size - 2) if k % 2 == 0 else range(2, size - 1)
        for x in xs:
            g[y][x] = "#"
    last = size - 2
    goal_x = size - 2 if ((size - 3) // 2) % 2 == 0 else 1
    return _level(g, (1, 1), 0, (goal_x, last))


def corridor_short() -> Level:
    return _switchback(9)


def corridor_long() -> Level:
    return _switchback(15)


def hallway() -> Level:
    g = _box(15)
    for y in range(1, 14):
        for x in range(1, 14):
            if y != 7:
                g[y][x] = "#"
    for x in (3, 6, 9, 12):  # alcoves, alternately above and below the hall
        for y in ((4, 5, 6) if x % 2 else (8, 9, 10)):
            g[y][x] = "."
    return _level(g, (1, 7), 0, (13, 7))


def rings() -> Level:
    g = _box(15)
    gaps = {2: (12, 7), 4: (4, 7), 6: (7, 6)}
    for o, gap in gaps.items():
        lo, hi = o, 14 - o
        for i in range(lo, hi + 1):
            for x, y in ((i, lo), (i, hi), (lo, i), (hi, i)):
                g[y][x] = "#"
        g[gap[1]][gap[0]] = "."
    return _level(g, (1, 1), 0, (7, 7))


def crossing() -> Level:
    g = _box(15)
    lines = {3: 11, 6: 2, 9: 12, 12: 5}  # x of a vertical wall -> y of its gap
    for x, gap in lines.items():
        for y in range(1, 14):
            if y != gap:
                g[y][x] = "#"
    g[7][4] = "#"  # half-blocks that make the agent weave, not dead-ends
    g[4][10] = g[5][10] = "#"
    return _level(g, (1, 13), 3, (13, 1))


def open_field() -> Level:
    return _level(_box(15), (1, 1), 0, (13, 13))


def _lcg(seed: int) -> Callable[[int], int]:
    """``draw(n)`` -> int in [0, n): a 32-bit LCG (Numerical Recipes constants)."""
    state = [seed & 0xFFFFFFFF]

    def draw(n: int) -> int:
        state[0] = (1664525 * state[0] + 1013904223) & 0xFFFFFFFF
        return (state[0] >> 8) % n

    return draw


def perfect(size: int, seed: int) -> Level:
    """A perfect maze on the odd cells of an odd-sized grid: depth-first backtracking
    from (1, 1); the goal is the cell farthest from the start."""
    draw = _lcg(seed)
    g = [["#"] * size for _ in range(size)]
    g[1][1] = "."
    stack = [(1, 1)]
    while stack:
        x, y = stack[-1]
        options = [(dx, dy) for dx, dy in DIR_TO_VEC if 1 <= x + 2 * dx <= size - 2 and 1 <= y + 2 * dy <= size - 2 and g[y + 2 * dy][x + 2 * dx] == "#"]
        if not options:
            stack.pop()
            continue
        dx, dy = options[draw(len(options))]
        g[y + dy][x + dx] = "."
        g[y + 2 * dy][x + 2 * dx] = "."
        stack.append((x + 2 * dx, y + 2 * dy))
    level = _level(g, (1, 1), 0, (size - 2, size - 2))
    dist = bfs_distances(level.wall_grid, level.start)
    best = max(((int(dist[x, y]), (x, y)) for x in range(size) for y in range(size) if dist[x, y] > 0))
    return Level(size, level.walls, (1, 1), 0, best[1])


HELD_OUT: dict[str, Callable[[], Level]] = {
    "four_rooms": four_rooms,
    "nine_rooms": nine_rooms,
    "corridor_short": corridor_short,
    "corridor_long": corridor_long,
    "hallway": hallway,
    "rings": rings,
    "crossing": crossing,
    "perfect_7": lambda: perfect(7, 7),
    "perfect_11": lambda: perfect(11, 11),
    "perfect_15": lambda: perfect(15, 15),
    "open_field": open_field,
}


def held_out_levels() -> dict[str, Level]:
    """Every named held-out maze, built now."""
    return {name: make() for name, make in HELD_OUT.items()}


def load_ascii_mazes(paths: Sequence[str | Path]) -> dict[str, list[Level]]:
    """Mazes drawn in text files: name -> its variants.

    A file holds one or more pictures in :meth:`Level.from_ascii`'s alphabet (``#`` wall,
    ``.`` free, ``G`` goal, ``A`` or ``> v < ^`` the start), border included. A line
    ``[Name]`` opens a maze; pictures before any header are named after the file's stem.
    Blank lines separate pictures; several pictures under one name are that maze's
    variants (played in turn by the evaluation, like the literature's procedural mazes).
    Lines starting with ``;`` are comments. A directory stands for its ``*.txt`` files.
    """
    out: dict[str, list[Level]] = {}
    files: list[Path] = []
    for raw in paths:
        path = Path(str(raw)).expanduser()
        if path.is_dir():
            files.extend(sorted(path.glob("*.txt")))
        elif path.is_file():
            files.append(path)
        else:
            raise TeachBenchError("held_out_files", f"no such file or directory: {str(raw)!r}")
    for path in files:
        name = path.stem
        rows: list[str] = []

        def flush() -> None:
            if rows:
                try:
                    level = Level.from_ascii(rows)
                except TeachBenchError as exc:
                    raise TeachBenchError("held_out_files", f"{path}: maze {name!r}: {exc}") from None
                out.setdefault(name, []).append(level)
                rows.clear()

        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text.startswith(";"):
                continue
            if text.startswith("[") and text.endswith("]"):
                flush()
                name = text[1:-1].strip()
                if not name:
                    raise TeachBenchError("held_out_files", f"{path}: empty maze name '[]'")
                continue
            if not text:
                flush()
                continue
            rows.append(text)
        flush()
    return out


def held_out_set(which: str = "literature", files: Sequence[str | Path] = ()) -> dict[str, list[Level]]:
    """The named held-out mazes of a set plus those of ``files``: name -> variants.
    A file's maze of the same name as a set's replaces it."""
    if which not in HELD_OUT_SETS:
        raise TeachBenchError("held_out_set", f"unknown held-out set {which!r}", HELD_OUT_SETS)
    if which == "literature":
        from envs.gridworld.literature_mazes import literature_levels

        out = literature_levels()
    elif which == "teachbench":
        out = {name: [lvl] for name, lvl in held_out_levels().items()}
    else:
        out = {}
    out.update(load_ascii_mazes(files))
    return out
