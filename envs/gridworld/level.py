"""The maze level: one value object shared by every way of making a maze.

A parameter vector (ACL teachers), an explicit level string (PLR/ACCEL replay) and the
PAIRED designer all end in the same :class:`Level`, so a level played by the single
MiniGrid env, by the batched VecEnv or stored in a replay buffer is the same thing and
compares equal.

Coordinates follow MiniGrid: ``(x, y)`` = (column, row), directions
0 = right (+x), 1 = down (+y), 2 = left, 3 = up. The outer ring of cells is always wall;
only the ``(size-2)^2`` interior cells are free to design.

Levels are frozen; the ACCEL edits at the bottom of this module are pure functions that
return a new level: dcd's maze editor (:func:`dcd_edit`: random cells set to wall / empty /
goal) and our earlier one (:func:`mutate`: add/remove a wall, move the agent or the goal).
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.gridworld.bitgrid import bfs_within, depth_of, free_mask

MIN_SIZE = 4
"""Smallest maze side, border included: a 2x2 interior still holds a start and a goal."""
MAX_SIZE = 64
"""Largest side a level string may declare (keeps a hostile string from allocating GBs)."""
DIR_TO_VEC: tuple[tuple[int, int], ...] = ((1, 0), (0, 1), (-1, 0), (0, -1))
STRING_PREFIX = "m1"
ASCII_DIRS = {">": 0, "v": 1, "<": 2, "^": 3}


@dataclass(frozen=True)
class Level:
    """A maze layout.

    ``walls`` holds the *interior* wall cells as sorted flat indices ``y * size + x``
    (the border is implicit), which is hashable, compact and the "sorted wall sequence"
    that CLUTR's VAE reads (docs/references.md#clutr). ``seed`` records where a generated level
    came from; it is provenance only and does not take part in equality.

    Invalid layouts (start or goal outside the interior or on a wall, start == goal,
    bad direction, side out of range) raise :class:`TeachBenchError`; an unsolvable
    layout is accepted (the UED papers allow it) and flagged by :attr:`solvable`.
    """

    size: int
    walls: tuple[int, ...]
    start: tuple[int, int]
    start_dir: int
    goal: tuple[int, int]
    seed: int | None = field(default=None, compare=False)
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        size = _as_int(self.size, "level.size")
        if not MIN_SIZE <= size <= MAX_SIZE:
            raise TeachBenchError("level.size", f"{size} is outside [{MIN_SIZE}, {MAX_SIZE}]")
        object.__setattr__(self, "size", size)
        try:
            arr = np.unique(np.asarray(self.walls).reshape(-1))
        except (TypeError, ValueError):
            raise TeachBenchError("level.walls", "expected a sequence of cell indices") from None
        if arr.size and arr.dtype.kind not in "iu":
            if arr.dtype.kind != "f" or not np.all(arr == np.round(arr)):
                raise TeachBenchError("level.walls", f"wall indices must be integers, got {arr[:5].tolist()}")
        arr = arr.astype(np.int64)
        xs, ys = arr % size, arr // size
        outside = (xs < 1) | (xs > size - 2) | (ys < 1) | (ys > size - 2)
        if outside.any():
            w = int(arr[np.argmax(outside)])
            raise TeachBenchError("level.walls", f"wall index {w} is not an interior cell of a {size}x{size} maze")
        walls = tuple(arr.tolist())
        object.__setattr__(self, "walls", walls)
        start, goal, direction = _check_places(size, walls, self.start, self.goal, self.start_dir)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "goal", goal)
        object.__setattr__(self, "start_dir", direction)

    @classmethod
    def unchecked(
        cls, size: int, walls: tuple[int, ...], start: tuple[int, int], start_dir: int,
        goal: tuple[int, int], seed: int | None = None,
    ) -> "Level":
        """A level from already-valid parts: ``walls`` a sorted tuple of interior ``int``
        cells, start and goal distinct free interior cells, ``start_dir`` in 0..3.

        For makers that are valid by construction (``generate.generate_level`` runs on
        every reset of every batched env, and these checks would cost more than the whole
        generation); anything else goes through the checking constructor."""
        level = object.__new__(cls)
        for name, value in (("size", size), ("walls", walls), ("start", start), ("start_dir", start_dir),
                            ("goal", goal), ("seed", seed), ("_cache", {})):
            object.__setattr__(level, name, value)
        return level

    # -- arrays -------------------------------------------------------------------------
    @property
    def wall_grid(self) -> np.ndarray:
        """Bool array ``[x, y]`` of shape ``(size, size)``, border included (read-only)."""
        grid = self._cache.get("grid")
        if grid is None:
            grid = np.zeros((self.size, self.size), dtype=bool)
            grid[0, :] = grid[-1, :] = grid[:, 0] = grid[:, -1] = True
            w = np.asarray(self.walls, dtype=np.int64)
            grid[w % self.size, w // self.size] = True
            grid.setflags(write=False)
            self._cache["grid"] = grid
        return grid

    @property
    def n_interior(self) -> int:
        return (self.size - 2) ** 2

    # -- solvability --------------------------------------------------------------------
    def distances(self) -> np.ndarray:
        """BFS step counts ``[x, y]`` from the start over free cells (−1 = unreachable).
        Moves are the four neighbours: turning is free in this metric."""
        dist = self._cache.get("dist")
        if dist is None:
            dist = bfs_distances(self.wall_grid, self.start)
            dist.setflags(write=False)
            self._cache["dist"] = dist
        return dist

    @property
    def shortest_path(self) -> int:
        """Moves from start to goal on the shortest path, −1 if the goal is unreachable."""
        path = self._cache.get("shortest_path")
        if path is None:
            # distances()[goal] on bitsets (envs/gridworld/bitgrid.py, cells x * size + y, the
            # border is wall): a parsed or edited level's statistics cost one BFS on its first
            # reset, ~5x cheaper than the cell-at-a-time BFS of distances()
            (sx, sy), (gx, gy) = self.start, self.goal
            within = bfs_within(free_mask(self.wall_grid), sx * self.size + sy, self.size)
            path = self._cache["shortest_path"] = depth_of(within, gx * self.size + gy)
        return path

    @property
    def solvable(self) -> bool:
        return self.shortest_path > 0

    def stats(self) -> dict[str, Any]:
        """Level statistics logged with every episode (and read by UED teachers)."""
        stats = self._cache.get("stats")
        if stats is None:
            stats = self._cache["stats"] = {
                "size": self.size,
                "n_walls": len(self.walls),
                "wall_density": len(self.walls) / self.n_interior,
                "solvable": self.solvable,
                "shortest_path": self.shortest_path,
            }
        return dict(stats)

    # -- strings ------------------------------------------------------------------------
    def to_string(self) -> str:
        """A short, URL-safe string: ``m1:<size>:<sx>,<sy>,<dir>:<gx>,<gy>:<walls>`` where
        ``<walls>`` is the interior bitmask (row-major), packed and base64url-encoded
        (30 characters for a 15x15 maze)."""
        text = self._cache.get("string")
        if text is None:
            text = self._cache["string"] = self._encode()
        return text

    def _encode(self) -> str:
        n = self.size - 2
        bits = np.zeros(n * n, dtype=np.uint8)
        w = np.asarray(self.walls, dtype=np.int64)
        bits[(w // self.size - 1) * n + (w % self.size - 1)] = 1
        packed = base64.urlsafe_b64encode(np.packbits(bits).tobytes()).decode("ascii").rstrip("=")
        sx, sy = self.start
        gx, gy = self.goal
        return f"{STRING_PREFIX}:{self.size}:{sx},{sy},{self.start_dir}:{gx},{gy}:{packed}"

    @classmethod
    def from_string(cls, text: str, seed: int | None = None) -> "Level":
        """Parse :meth:`to_string`'s format; anything malformed raises TeachBenchError."""
        if not isinstance(text, str):
            raise TeachBenchError("level", f"expected a level string, got {type(text).__name__}")
        parts = text.strip().split(":")
        if len(parts) != 5 or parts[0] != STRING_PREFIX:
            raise TeachBenchError("level", f"malformed level string {text[:80]!r} (expected '{STRING_PREFIX}:size:sx,sy,dir:gx,gy:walls')")
        size = _parse_int(parts[1], "level.size")
        if not MIN_SIZE <= size <= MAX_SIZE:
            raise TeachBenchError("level.size", f"{size} is outside [{MIN_SIZE}, {MAX_SIZE}]")
        start = [_parse_int(v, "level.start") for v in parts[2].split(",")]
        goal = [_parse_int(v, "level.goal") for v in parts[3].split(",")]
        if len(start) != 3:
            raise TeachBenchError("level.start", f"expected 'x,y,dir', got {parts[2]!r}")
        if len(goal) != 2:
            raise TeachBenchError("level.goal", f"expected 'x,y', got {parts[3]!r}")
        n = size - 2
        try:
            raw = base64.urlsafe_b64decode(parts[4] + "=" * (-len(parts[4]) % 4))
        except (ValueError, TypeError):
            raise TeachBenchError("level.walls", f"not base64url: {parts[4][:40]!r}") from None
        if len(raw) != (n * n + 7) // 8:
            raise TeachBenchError("level.walls", f"expected {(n * n + 7) // 8} bytes for size {size}, got {len(raw)}")
        bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))
        if bits[n * n :].any():
            raise TeachBenchError("level.walls", "padding bits are set")
        # Interior cells c = (y-1)*n + (x-1) ascending, as cells y*size + x (still ascending,
        # distinct, interior): the walls the checking constructor would keep, so only the
        # start, goal and direction are left to check (with the constructor's own checks).
        cells = np.flatnonzero(bits[: n * n])
        walls = tuple(((cells // n + 1) * size + cells % n + 1).tolist())
        places = _check_places(size, walls, (start[0], start[1]), (goal[0], goal[1]), start[2])
        return cls.unchecked(size, walls, places[0], places[2], places[1], seed=seed)

    def to_ascii(self) -> list[str]:
        """Rows of ``#`` wall, ``.`` free, ``G`` goal and ``> v < ^`` the start facing."""
        arrows = {v: k for k, v in ASCII_DIRS.items()}
        grid = self.wall_grid
        rows = []
        for y in range(self.size):
            row = []
            for x in range(self.size):
                if (x, y) == self.start:
                    row.append(arrows[self.start_dir])
                elif (x, y) == self.goal:
                    row.append("G")
                else:
                    row.append("#" if grid[x, y] else ".")
            rows.append("".join(row))
        return rows

    @classmethod
    def from_ascii(cls, rows: Sequence[str] | str, seed: int | None = None) -> "Level":
        """Inverse of :meth:`to_ascii` (a square picture, border included; the border
        characters must be ``#``). Handy for hand-made held-out mazes.

        ``#`` wall, ``.`` free, ``G`` goal, the start as ``> v < ^`` (its direction) or
        ``A`` (facing right, direction 0: how dcd places the agent of its test mazes)."""
        if isinstance(rows, str):
            rows = [r for r in rows.strip().splitlines() if r.strip()]
        rows = [r.strip() for r in rows]
        size = len(rows)
        if any(len(r) != size for r in rows):
            raise TeachBenchError("level", f"ascii maze must be square, got {len(rows)} rows of lengths "
                                  f"{sorted({len(r) for r in rows})}")
        walls, start, direction, goal = [], None, 0, None
        for y, row in enumerate(rows):
            for x, ch in enumerate(row):
                border = not _interior(x, y, size)
                if border and ch != "#":
                    raise TeachBenchError("level", f"border cell {(x, y)} must be '#', got {ch!r}")
                if ch == "#" and not border:
                    walls.append(y * size + x)
                elif ch == "G":
                    if goal is not None:
                        raise TeachBenchError("level.goal", "more than one goal 'G'")
                    goal = (x, y)
                elif ch in ASCII_DIRS or ch == "A":
                    if start is not None:
                        raise TeachBenchError("level.start", "more than one start")
                    start, direction = (x, y), ASCII_DIRS.get(ch, 0)
                elif ch not in "#.":
                    raise TeachBenchError("level", f"unknown character {ch!r} at {(x, y)}", ["#", ".", "G", "A", *ASCII_DIRS])
        if start is None:
            raise TeachBenchError("level.start", "no start ('A', '>', 'v', '<' or '^')")
        if goal is None:
            raise TeachBenchError("level.goal", "no goal 'G'")
        return cls(size, tuple(walls), start, direction, goal, seed=seed)


LEVEL_CACHE_SIZE = 8192
"""Levels :data:`LEVELS` keeps: twice PLR's and ACCEL's default replay buffer (4000 maze
levels, docs/references.md#plr) plus room for ACCEL's queued children: ~1.3 KB a 15x15
level with its grid, string and statistics, ~11 MB per process at most (measured)."""


class LevelCache:
    """Parsed levels by their string, the least recently used dropped beyond ``capacity``.

    PLR, PLR⊥ and ACCEL hand a level out as its string (``{"level": ...}``, the form a
    teacher may hold without importing the env) every time they replay it, and the env
    used to parse and check the string, and rebuild the level's wall grid, BFS and
    statistics, on every hand-out: ~80 µs of Python per replay, about half of these
    teachers' cost at 1024 envs (issue 18). A :class:`Level` is frozen and everything
    it memoises is a function of its layout, so one parsed level can serve every
    hand-out of its string: same level, same observations, same statistics.

    A string is cached only once it parsed, so a bad string raises
    :class:`TeachBenchError` every time it is queued. Levels come back with ``seed=None``,
    as :meth:`Level.from_string` makes them (the seed is provenance only). ``capacity=0``
    caches nothing (every string parsed, as before the cache).
    """

    def __init__(self, capacity: int = LEVEL_CACHE_SIZE) -> None:
        self._levels: OrderedDict[str, Level] = OrderedDict()
        self.capacity = 0
        self.hits = self.misses = 0
        self.resize(capacity)

    def __len__(self) -> int:
        return len(self._levels)

    def resize(self, capacity: int) -> None:
        """Keep at most ``capacity`` levels from now on (the most recently used ones)."""
        if not isinstance(capacity, (int, np.integer)) or isinstance(capacity, bool) or capacity < 0:
            raise TeachBenchError("level_cache", f"capacity must be an int >= 0, got {capacity!r}")
        self.capacity = int(capacity)
        while len(self._levels) > self.capacity:
            self._levels.popitem(last=False)

    def clear(self) -> None:
        self._levels.clear()
        self.hits = self.misses = 0

    def parse(self, text: str) -> Level:
        """``Level.from_string(text)``, parsed once per string while it stays cached."""
        level = self._levels.get(text) if isinstance(text, str) else None
        if level is not None:
            self._levels.move_to_end(text)
            self.hits += 1
            return level
        level = Level.from_string(text)  # raises on a bad string: nothing is cached
        self.misses += 1
        self._keep(text, level)
        return level

    def remember(self, level: Level) -> str:
        """Cache a level made (and checked) elsewhere under its string, which is returned:
        ACCEL's edits make each child as a Level and hand it out as its string."""
        if level.seed is not None:  # as from_string would give it back
            twin = object.__new__(Level)
            for name in ("size", "walls", "start", "start_dir", "goal", "_cache"):
                object.__setattr__(twin, name, getattr(level, name))
            object.__setattr__(twin, "seed", None)
            level = twin
        text = level.to_string()
        self._keep(text, level)
        return text

    def _keep(self, text: str, level: Level) -> None:
        if self.capacity:
            self._levels[text] = level
            self._levels.move_to_end(text)
            if len(self._levels) > self.capacity:
                self._levels.popitem(last=False)


LEVELS = LevelCache()
"""The process's parsed levels: every env of the process (the single env's replicas in a
``DummyVecEnv``, the batched env) reads level strings through it (:func:`as_level`)."""


def as_level(value: "Level | str") -> Level:
    """A level from a :class:`Level` or its string (the form ``reset(options=...)`` takes);
    strings are parsed once while :data:`LEVELS` keeps them."""
    if isinstance(value, Level):
        return value
    return LEVELS.parse(value)


def bfs_distances(walls: np.ndarray, source: tuple[int, int]) -> np.ndarray:
    """Breadth-first step counts ``[x, y]`` from ``source`` over cells where ``walls`` is
    False (4-neighbourhood); −1 where unreachable.

    Runs on flat Python lists over a wall-padded copy (no bounds checks, no NumPy
    scalar indexing): level generation calls it on every reset of every batched env."""
    w, h = walls.shape
    stride = h + 2
    padded = np.ones((w + 2, stride), dtype=bool)
    padded[1:-1, 1:-1] = walls
    free = (~padded).ravel().tolist()
    dist = [-1] * len(free)
    src = (source[0] + 1) * stride + source[1] + 1
    dist[src] = 0
    frontier = [src]
    steps = (stride, -stride, 1, -1)
    d = 0
    while frontier:
        d += 1
        nxt = []
        for cell in frontier:
            for o in steps:
                n = cell + o
                if free[n] and dist[n] < 0:
                    dist[n] = d
                    nxt.append(n)
        frontier = nxt
    return np.array(dist, dtype=np.int32).reshape(w + 2, stride)[1:-1, 1:-1].copy()


def components(walls: np.ndarray) -> np.ndarray:
    """Labels ``[x, y]`` of the 4-connected open regions (−1 on walls), in scan order."""
    w, h = walls.shape
    stride = h + 2
    padded = np.ones((w + 2, stride), dtype=bool)
    padded[1:-1, 1:-1] = walls
    free = (~padded).ravel().tolist()
    label = [-1] * len(free)
    steps = (stride, -stride, 1, -1)
    current = 0
    for start, is_free in enumerate(free):
        if not is_free or label[start] >= 0:
            continue
        label[start] = current
        stack = [start]
        while stack:
            cell = stack.pop()
            for o in steps:
                n = cell + o
                if free[n] and label[n] < 0:
                    label[n] = current
                    stack.append(n)
        current += 1
    return np.array(label, dtype=np.int32).reshape(w + 2, stride)[1:-1, 1:-1].copy()


# -- ACCEL edits (pure functions) -------------------------------------------------------
def free_cells(level: Level, exclude_agent_goal: bool = True) -> np.ndarray:
    """Flat indices of interior cells without a wall (and, by default, not start/goal)."""
    size = level.size
    interior = np.zeros((size, size), dtype=bool)
    interior[1:-1, 1:-1] = True
    mask = interior & ~level.wall_grid
    if exclude_agent_goal:
        mask[level.start] = False
        mask[level.goal] = False
    xs, ys = np.nonzero(mask)
    return np.sort(ys * size + xs)


def add_wall(level: Level, rng: np.random.Generator) -> Level:
    """A wall on a uniformly chosen free cell (not start or goal); unchanged if none."""
    cells = free_cells(level)
    if cells.size == 0:
        return level
    w = int(rng.choice(cells))
    return Level(level.size, level.walls + (w,), level.start, level.start_dir, level.goal, seed=level.seed)


def remove_wall(level: Level, rng: np.random.Generator) -> Level:
    """Remove a uniformly chosen interior wall; unchanged if there is none."""
    if not level.walls:
        return level
    w = level.walls[int(rng.integers(len(level.walls)))]
    walls = tuple(v for v in level.walls if v != w)
    return Level(level.size, walls, level.start, level.start_dir, level.goal, seed=level.seed)


def move_start(level: Level, rng: np.random.Generator) -> Level:
    """The start moved to a uniformly chosen free cell, with a new random direction."""
    cells = free_cells(level)
    if cells.size == 0:
        return level
    c = int(rng.choice(cells))
    return Level(level.size, level.walls, (c % level.size, c // level.size), int(rng.integers(4)), level.goal, seed=level.seed)


def move_goal(level: Level, rng: np.random.Generator) -> Level:
    """The goal moved to a uniformly chosen free cell."""
    cells = free_cells(level)
    if cells.size == 0:
        return level
    c = int(rng.choice(cells))
    return Level(level.size, level.walls, level.start, level.start_dir, (c % level.size, c // level.size), seed=level.seed)


EDITS: dict[str, Callable[[Level, np.random.Generator], Level]] = {
    "add_wall": add_wall,
    "remove_wall": remove_wall,
    "move_start": move_start,
    "move_goal": move_goal,
}


def mutate(level: Level, rng: np.random.Generator, n_edits: int = 3, edits: Sequence[str] | None = None) -> Level:
    """ACCEL's mutation: ``n_edits`` edits, each drawn uniformly from ``edits`` (all four
    by default; docs/references.md#accel gives 3–5 edits as the reference range)."""
    names = list(edits) if edits is not None else list(EDITS)
    for name in names:
        if name not in EDITS:
            raise TeachBenchError("edits", f"unknown edit {name!r}", EDITS)
    if n_edits < 0:
        raise TeachBenchError("n_edits", f"must be >= 0, got {n_edits}")
    for _ in range(n_edits):
        level = EDITS[names[int(rng.integers(len(names)))]](level, rng)
    return level


DCD_EDIT_ACTIONS = ("wall", "empty", "goal")
"""The entities of dcd's ACCEL maze editor (its ``walls_none_goal`` action set, the one of
the ACCEL maze env ``GoalLastEmptyAdversarialEnv-Edit``); dcd also has an ``agent`` one."""


def dcd_edit(level: Level, rng: np.random.Generator, n_edits: int = 5,
             actions: Sequence[str] = DCD_EDIT_ACTIONS) -> Level:
    """ACCEL's maze editor as dcd writes it (``AdversarialEnv.mutate_level``).

    ``n_edits`` interior cells are drawn uniformly *with replacement* and duplicates
    merged (so a child may differ by fewer cells). Each cell is cleared (its wall, goal or
    agent removed) and given a uniformly drawn entity: ``wall``, ``empty``, ``goal`` (the
    goal moves there) or ``agent`` (the start moves there, facing right as dcd places
    it). Afterwards a removed goal, then a removed agent, is put back on a uniform free
    cell (neither wall nor the other one). Walls may cut the goal off: unsolvable
    children are kept, as in dcd. Free cells are tracked as dcd tracks them: a cell
    keeps its pre-edit status unless an edit sets it.
    """
    for a in actions:
        if a not in ("wall", "empty", "goal", "agent"):
            raise TeachBenchError("edit_actions", f"unknown editor entity {a!r}", ["wall", "empty", "goal", "agent"])
    if int(n_edits) < 0:
        raise TeachBenchError("n_edits", f"must be >= 0, got {n_edits}")
    size = level.size
    n = size - 2
    wall = np.zeros((n, n), dtype=bool)  # [y, x] of the interior, as dcd's masks
    for w in level.walls:
        wall[w // size - 1, w % size - 1] = True
    start: tuple[int, int] | None = level.start
    goal: tuple[int, int] | None = level.goal
    direction = level.start_dir
    free = ~wall
    free[start[1] - 1, start[0] - 1] = False
    free[goal[1] - 1, goal[0] - 1] = False
    locs = np.unique(rng.integers(0, n * n, int(n_edits)))
    kinds = rng.integers(0, len(actions), locs.size)
    for loc, kind in zip(locs.tolist(), kinds.tolist()):
        x, y = loc % n + 1, loc // n + 1
        wall[y - 1, x - 1] = False  # clear the cell
        if goal == (x, y):
            goal = None
        elif start == (x, y):
            start = None
        what = actions[kind]
        if what == "wall":
            wall[y - 1, x - 1] = True
            free[y - 1, x - 1] = False
        elif what == "empty":
            free[y - 1, x - 1] = True
        elif what == "agent":
            if start is not None:
                free[start[1] - 1, start[0] - 1] = True
            start, direction = (x, y), 0
            free[y - 1, x - 1] = False
        else:  # goal
            if goal is not None:
                free[goal[1] - 1, goal[0] - 1] = True
            goal = (x, y)
            free[y - 1, x - 1] = False
    if goal is None:
        goal = _draw_free(free, wall, start, rng)
    if start is None:
        start, direction = _draw_free(free, wall, goal, rng), 0
    ys, xs = np.nonzero(wall)
    walls = tuple(sorted(((ys + 1) * size + xs + 1).tolist()))
    return Level(size, walls, start, direction, goal, seed=level.seed)


def _draw_free(free: np.ndarray, wall: np.ndarray, other: tuple[int, int] | None,
               rng: np.random.Generator) -> tuple[int, int]:
    """A uniform cell of the ``[y, x]`` interior mask (marked taken), as bordered (x, y).
    A maze walled solid (dcd would fail here) gives up a uniform wall cell instead."""
    cells = np.flatnonzero(free)
    if cells.size == 0:
        cells = np.flatnonzero(wall)
        if other is not None:
            cells = cells[cells != (other[1] - 1) * free.shape[1] + other[0] - 1]
    c = int(cells[int(rng.integers(cells.size))])
    n = free.shape[1]
    free.flat[c] = False
    wall.flat[c] = False
    return (c % n + 1, c // n + 1)


EDIT_OPERATORS = ("dcd", "teachbench")
"""``dcd``: :func:`dcd_edit`; ``teachbench``: :func:`mutate` (add/remove a wall, move start/goal)."""


# -- helpers ----------------------------------------------------------------------------
def _interior(x: int, y: int, size: int) -> bool:
    return 1 <= x <= size - 2 and 1 <= y <= size - 2


def _check_places(size: int, walls: tuple[int, ...], start: Any, goal: Any,
                  start_dir: Any) -> tuple[tuple[int, int], tuple[int, int], int]:
    """``(start, goal, start_dir)`` as ints, checked against a ``size`` maze with these
    interior ``walls``: start and goal distinct free interior cells, a direction 0..3."""
    start = _as_cell(start, "level.start")
    goal = _as_cell(goal, "level.goal")
    for key, (x, y) in (("level.start", start), ("level.goal", goal)):
        if not _interior(x, y, size):
            raise TeachBenchError(key, f"{(x, y)} is outside the interior [1, {size - 2}]^2")
        if y * size + x in walls:
            raise TeachBenchError(key, f"{(x, y)} is on a wall")
    if start == goal:
        raise TeachBenchError("level.goal", f"goal {goal} is on the start cell")
    direction = _as_int(start_dir, "level.start_dir")
    if not 0 <= direction <= 3:
        raise TeachBenchError("level.start_dir", f"{direction} is not a direction", range(4))
    return start, goal, direction


def _as_int(value: Any, key: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TeachBenchError(key, f"{value!r} is not an integer")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise TeachBenchError(key, f"{value!r} is not an integer")


def _as_cell(value: Any, key: str) -> tuple[int, int]:
    try:
        x, y = value
    except (TypeError, ValueError):
        raise TeachBenchError(key, f"expected (x, y), got {value!r}") from None
    return _as_int(x, key), _as_int(y, key)


def _parse_int(text: str, key: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise TeachBenchError(key, f"{text!r} is not an integer") from None
