"""The PAIRED designer: an MDP in which an adversary builds a maze one cell at a time.

docs/references.md#paired (PAIRED's maze generator): on a 15×15 grid with border the adversary
picks among the 13×13 = 169 interior cells — first the goal, then the agent's start, then
up to 50 walls; a wall on an occupied cell does nothing. Its observation is the full grid,
the time step and a 50-D random noise vector (so that a deterministic policy can still
produce diverse levels). The episode ends after ``2 + n_walls`` placements and reports
the finished :class:`~envs.gridworld.level.Level` in ``info["level"]`` (a level string
the maze env plays through ``reset(options={"level": ...})``). The env's reward is 0:
PAIRED's regret reward is computed by the teacher from the students' returns. Nothing
checks that the goal is reachable: as in PAIRED, a design may be unsolvable (an
adversary maximising regret learns to avoid those, since both students score 0 there).

``goal_last=True`` is dcd's ``choose_goal_last`` (docs/references.md#dcd; its "25 blocks"
env ``GoalLastFewerBlocksAdversarial`` = 25 walls, goal and agent last): the ``n_walls``
wall placements come first (a wall on a wall does nothing), then the goal (clearing a wall
on its cell), then the agent (clearing a wall on its cell). This is the order in which
dcd's domain randomization places a level too
(:func:`envs.gridworld.generate.generate_blocks_level`: the same designer driven by
uniformly random placements), so the same placements mean the same level in both.

The same placements always give the same level (:func:`design_level`), which is what a
teacher needs to replay or score a design.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import gymnasium as gym
from gymnasium import spaces

from envs.errors import TeachBenchError
from envs.gridworld.level import MIN_SIZE, Level

OBS_MODES = ("flat", "dict")


def design_level(size: int, actions: Sequence[int], start_dir: int = 0, seed: int | None = None,
                 goal_last: bool = False) -> Level:
    """The level made by designer placements ``actions`` (interior cell indices, row-major
    over the ``(size-2)²`` interior).

    Goal first (``goal_last=False``, PAIRED's order): goal, start, then walls; a start placed
    on the goal moves to the next interior cell in row-major order (wrapping); a wall on an
    occupied cell is skipped.

    Goal last (dcd's ``choose_goal_last``): walls, then the goal (the second-to-last
    placement), then the start (the last). A repeated wall counts once; the goal and the
    start each clear a wall on their cell. A start placed on the goal moves to the next
    free cell (no wall, not the goal) after the goal in row-major order, wrapping; where
    dcd puts it on a uniformly random free cell, a design here stays a pure function of its
    placements. If walls fill every other cell (only on mazes far smaller than dcd's, whose
    25 walls leave 142 of 169 cells free), the start takes the cell after the goal and
    clears its wall."""
    n = size - 2
    if len(actions) < 2:
        raise TeachBenchError("actions", "a design needs at least the goal and the start placement")
    cells = [_cell(a, n) for a in actions]
    if goal_last:
        return _goal_last_level(size, cells, start_dir, seed)
    goal = cells[0]
    start = cells[1]
    if start == goal:
        start = _after(goal, n, 1)
    walls = set()
    for x, y in cells[2:]:
        if (x, y) != goal and (x, y) != start:
            walls.add(y * size + x)
    return Level(size, tuple(walls), start, start_dir, goal, seed=seed)


def _goal_last_level(size: int, cells: list[tuple[int, int]], start_dir: int, seed: int | None) -> Level:
    n = size - 2
    walls = {y * size + x for x, y in cells[:-2]}
    goal, start = cells[-2], cells[-1]
    walls.discard(goal[1] * size + goal[0])
    if start == goal:
        start = _after(goal, n, 1)
        for k in range(1, n * n):
            cell = _after(goal, n, k)
            if cell[1] * size + cell[0] not in walls:
                start = cell
                break
    walls.discard(start[1] * size + start[0])
    return Level(size, tuple(walls), start, start_dir, goal, seed=seed)


def _after(cell: tuple[int, int], n: int, k: int) -> tuple[int, int]:
    """The interior cell ``k`` places after ``cell`` in row-major order, wrapping."""
    i = ((cell[1] - 1) * n + (cell[0] - 1) + k) % (n * n)
    return i % n + 1, i // n + 1


def _cell(action: Any, n: int) -> tuple[int, int]:
    try:
        a = int(action)
    except (TypeError, ValueError):
        raise TeachBenchError("action", f"{action!r} is not a cell index") from None
    if not 0 <= a < n * n:
        raise TeachBenchError("action", f"{a} is outside [0, {n * n - 1}]")
    return a % n + 1, a // n + 1


class MazeDesignerEnv(gym.Env):
    """PAIRED's maze generator MDP (registered as ``TeachBench/GridworldDesigner-v0``).

    Args:
        size: maze side with border, default 15 (PAIRED's maze; 169 interior cells).
        n_walls: wall placements, default 50 (PAIRED's budget; dcd's "25 blocks": 25).
        noise_dim: size of the random noise vector, default 50 (PAIRED).
        obs_mode: ``"flat"`` (default; one float32 Box for MlpPolicy: wall, goal and start
            planes over the ``size²`` grid indexed ``[x, y]``, then the time step as
            ``t / (n_walls + 2)``, then the noise) or ``"dict"`` (``image`` of shape
            ``(3, size, size)``, ``time_step`` as the raw placement count ``0..n_walls+2``
            as dcd observes it, ``noise``: for MultiInputPolicy; the PAIRED adversary of
            :mod:`students.paired_adversary` reads this mode).
        goal_last: default False (PAIRED's order: goal, start, walls); True is dcd's
            ``choose_goal_last`` (walls, goal, start), the order of its 25-block PAIRED
            runs. Either way a design has ``n_walls + 2`` placements and the time step
            counts them.

    Where we differ from dcd's ``AdversarialEnv``: its image is MiniGrid's object/colour/
    state encoding, ours three binary planes (wall, goal, start) carrying the same
    information; when the agent is placed on the goal dcd drops it on a uniformly random
    free cell, we on the next free cell in row-major order (:func:`design_level`), so
    that a design is a pure function of its placements.
    """

    metadata = {"render_modes": []}

    def __init__(self, size: int = 15, n_walls: int = 50, noise_dim: int = 50, obs_mode: str = "flat",
                 goal_last: bool = False) -> None:
        if not (isinstance(size, int) and size >= MIN_SIZE):
            raise TeachBenchError("size", f"must be an int >= {MIN_SIZE}, got {size!r}")
        if not (isinstance(n_walls, int) and n_walls >= 0):
            raise TeachBenchError("n_walls", f"must be an int >= 0, got {n_walls!r}")
        if not (isinstance(noise_dim, int) and noise_dim >= 0):
            raise TeachBenchError("noise_dim", f"must be an int >= 0, got {noise_dim!r}")
        if obs_mode not in OBS_MODES:
            raise TeachBenchError("obs_mode", f"unknown obs_mode {obs_mode!r}", OBS_MODES)
        if not isinstance(goal_last, (bool, np.bool_)):
            raise TeachBenchError("goal_last", f"must be true or false, got {goal_last!r}", [True, False])
        self.size, self.n_walls, self.noise_dim, self.obs_mode = size, n_walls, noise_dim, obs_mode
        self.goal_last = bool(goal_last)
        self.n_cells = (size - 2) ** 2
        self.horizon = n_walls + 2
        self.action_space = spaces.Discrete(self.n_cells)
        grid = spaces.Box(0.0, 1.0, shape=(3, size, size), dtype=np.float32)
        if obs_mode == "flat":
            self.observation_space = spaces.Box(0.0, 1.0, shape=(3 * size * size + 1 + noise_dim,), dtype=np.float32)
        else:
            self.observation_space = spaces.Dict(
                {
                    "image": grid,
                    "time_step": spaces.Box(0.0, float(self.horizon), shape=(1,), dtype=np.float32),
                    "noise": spaces.Box(0.0, 1.0, shape=(noise_dim,), dtype=np.float32),
                }
            )
        self._actions: list[int] = []
        self._planes = np.zeros((3, size, size), dtype=np.float32)
        self._start_dir = 0
        self._level_seed: int | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self._actions = []
        self._planes[:] = 0.0
        self._planes[0, 0, :] = self._planes[0, -1, :] = self._planes[0, :, 0] = self._planes[0, :, -1] = 1.0
        self._start_dir = int(self.np_random.integers(4))
        self._level_seed = int(self.np_random.integers(2**31 - 1))
        return self._obs(), {"time_step": 0}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if len(self._actions) >= self.horizon:
            raise TeachBenchError("step", "the design is finished: call reset()")
        x, y = _cell(action, self.size - 2)
        t = len(self._actions)
        self._actions.append(int(action))
        goal_at, start_at = (self.n_walls, self.n_walls + 1) if self.goal_last else (0, 1)
        if t == goal_at:
            self._planes[:, x, y] = 0.0  # goal last: the goal clears a wall on its cell
            self._planes[1, x, y] = 1.0
        elif t == start_at:
            level = self.level()
            self._planes[0][level.start] = 0.0  # goal last: the start clears a wall on its cell
            self._planes[2][level.start] = 1.0
        elif self._planes[:, x, y].sum() == 0:
            self._planes[0, x, y] = 1.0
        done = len(self._actions) >= self.horizon
        info: dict[str, Any] = {"time_step": len(self._actions)}
        if done:
            level = self.level()
            text = level.to_string()
            info.update({"level": text, "task": {"level": text}, "level_stats": level.stats()})
        return self._obs(), 0.0, done, False, info

    def finish(self, actions: Sequence[int]) -> tuple[np.ndarray, Level]:
        """Play a whole design at once: what :meth:`step` would give for ``actions`` (all
        ``n_walls + 2`` placements), for a caller that computed the observations itself
        (the batched designer, :mod:`students.paired_adversary`). Draws the same noise from
        this env's generator as the ``len(actions)`` steps do and returns it (one row per
        observation after a placement) with the finished level; the env is then done
        (call :meth:`reset`), as after its last step."""
        if self._actions or len(actions) != self.horizon:
            raise TeachBenchError("actions", f"finish() takes a whole design ({self.horizon} placements) from a "
                                  f"fresh reset, got {len(actions)} after {len(self._actions)}")
        for action in actions:
            _cell(action, self.size - 2)
        # one draw of all rows: the same stream as one draw per observation (row-major)
        noise = self.np_random.uniform(0.0, 1.0, size=(self.horizon, self.noise_dim)).astype(np.float32)
        self._actions = [int(a) for a in actions]
        return noise, self.level()

    def level(self) -> Level:
        """The level designed so far (needs the goal and the start placed: with
        ``goal_last``, that is the whole design)."""
        placed = len(self._actions) if not self.goal_last else len(self._actions) - self.n_walls
        if placed < 2:
            raise TeachBenchError("level", "place the goal and the start first")
        return design_level(self.size, self._actions, self._start_dir, seed=self._level_seed, goal_last=self.goal_last)

    def _obs(self) -> Any:
        noise = self.np_random.uniform(0.0, 1.0, size=self.noise_dim).astype(np.float32)
        if self.obs_mode == "dict":
            count = np.array([len(self._actions)], dtype=np.float32)
            return {"image": self._planes.copy(), "time_step": count, "noise": noise}
        t = np.array([len(self._actions) / self.horizon], dtype=np.float32)
        return np.concatenate([self._planes.ravel(), t, noise])
