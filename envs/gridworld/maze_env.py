"""The maze gridworld as a single gymnasium env (a MiniGrid ``MiniGridEnv``).

Subclassing MiniGrid keeps its dynamics, rendering (``render_mode="rgb_array"``), its
wrappers (with ``obs_mode="minigrid"``) and conventions; what TeachBench adds is where
the maze comes from and a cheap MLP-ready observation:

- ``reset(options={"task": {...}})``: a parameter vector (see
  :func:`~envs.gridworld.generate.maze_task_space`), made into a solvable level from a
  seed drawn from the env's RNG (or ``options["level_seed"]``);
- ``reset(options={"level": "<level string>"})`` or ``{"task": {"level": ...}}``: an
  explicit level (PLR/ACCEL replay, PAIRED designs, held-out mazes); unsolvable levels are
  accepted and flagged in ``info["level_stats"]["solvable"]``;
- no option: the current task again (a new layout) or the current level again.

Defaults follow the UED maze (docs/references.md#ued-mazes): 5×5 egocentric partial view, actions
left / right / forward, reward ``1 − 0.9·t/max_steps`` on reaching the goal, 250 steps.
MiniGrid's own ``reset`` ignores ``options``; ours reads them before delegating.
The view sees through walls (MiniGrid's ``see_through_walls=True``, as the UED maze
does) so that the NumPy observation and the batched VecEnv can match it cell for cell.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence, SupportsFloat

import numpy as np
from gymnasium import spaces
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Goal, Wall
from minigrid.minigrid_env import MiniGridEnv

from envs.base import TaskEnvMixin
from envs.errors import TeachBenchError
from envs.gridworld.generate import (GENERATORS, blocks_task_space, generate_blocks_level, generate_level,
                                     maze_task_space, next_level, parse_options, spread_tasks)
from envs.gridworld.held_out import HELD_OUT_SETS, held_out_set
from envs.gridworld.level import Level
from envs.gridworld.observe import code_canvas, flat_view_offsets, full_obs, obs_size, partial_from_cells, static_planes
from envs.task_space import Task

VIEWS = ("partial", "full")
OBS_MODES = ("flat", "minigrid")
N_ACTIONS = 3  # left, right, forward: MiniGrid's first three actions
LITERATURE_MAX_SIZE = 21
"""Side of the largest literature test maze (LargeCorridor, PerfectMazeMedium)."""


def _mission() -> str:
    return "get to the green goal square"


class MazeEnv(MiniGridEnv, TaskEnvMixin):
    """Maze navigation to a goal, parameterized by a task or set by an explicit level.

    Args:
        max_size: largest maze side (border included), default 15 (the UED maze). Upper
            bound of the ``size`` task dimension and the canvas of the full view.
        min_size: smallest ``size`` a teacher may ask for, default 5.
        max_density: upper bound of ``wall_density``, default 0.5.
        view: ``"partial"`` (egocentric, default) or ``"full"`` (whole maze).
        view_size: side of the partial view, default 5 (UED maze; MiniGrid's own default is 7).
        max_steps: episode length before truncation, default 250 (UED maze).
        obs_mode: ``"flat"`` (default: float32 ``Box`` for SB3's MlpPolicy, see
            :mod:`envs.gridworld.observe`) or ``"minigrid"`` (MiniGrid's native dict with
            image/direction/mission, for MiniGrid's observation wrappers).
        n_test_tasks: size of the test set, default 50; ``test_seed``: its seed.
        render_mode: as MiniGrid (``"rgb_array"`` or ``"human"``).
        generator: how a parameter task becomes a level: ``"teachbench"`` (default: the
            ``size``/``wall_density``/``min_goal_distance`` space, always solvable,
            :func:`~envs.gridworld.generate.generate_level`) or ``"dcd"`` (dcd's domain
            randomization on a ``max_size`` maze: ``n_blocks`` uniformly random wall
            placements, then the goal, then the agent, as a uniformly random level-designer
            adversary makes them; unsolvable levels allowed;
            :func:`~envs.gridworld.generate.generate_blocks_level`).
        blocks: ``[low, high]`` of the ``n_blocks`` task dimension of the ``"dcd"``
            generator (dcd's "25 blocks" env: ``[25, 25]``; its 0-60 variant: ``[0, 59]``;
            ACCEL's empty start: ``[0, 0]``). Default ``[0, 59]``.
        held_out_set: ``"literature"`` (default: the UED papers' test mazes,
            :mod:`envs.gridworld.literature_mazes`), ``"teachbench"`` (our own, in
            :mod:`envs.gridworld.held_out`) or ``"none"``.
        held_out_files: text files (or directories of ``*.txt``) of extra held-out mazes
            drawn in ASCII (:func:`envs.gridworld.held_out.load_ascii_mazes`).
        max_level_size: largest side of an explicit level (replays, held-out mazes). The
            partial view does not depend on the maze's size, so by default it plays
            levels up to 21x21 (the literature's LargeCorridor and PerfectMazeMedium)
            whatever ``max_size``; the full view's canvas is ``max_size``, its limit.
    """

    def __init__(
        self,
        max_size: int = 15,
        min_size: int = 5,
        max_density: float = 0.5,
        view: str = "partial",
        view_size: int = 5,
        max_steps: int = 250,
        obs_mode: str = "flat",
        n_test_tasks: int = 50,
        test_seed: int = 20240,
        render_mode: str | None = None,
        generator: str = "teachbench",
        blocks: Sequence[int] = (0, 59),
        held_out_set: str = "literature",
        held_out_files: Sequence[str] = (),
        max_level_size: int | None = None,
    ) -> None:
        if view not in VIEWS:
            raise TeachBenchError("view", f"unknown view {view!r}", VIEWS)
        if obs_mode not in OBS_MODES:
            raise TeachBenchError("obs_mode", f"unknown obs_mode {obs_mode!r}", OBS_MODES)
        if not (isinstance(view_size, int) and view_size >= 3 and view_size % 2 == 1):
            raise TeachBenchError("view_size", f"must be an odd int >= 3, got {view_size!r}")
        if not (isinstance(max_steps, int) and max_steps >= 1):
            raise TeachBenchError("max_steps", f"must be an int >= 1, got {max_steps!r}")
        if n_test_tasks < 1:
            raise TeachBenchError("n_test_tasks", f"must be >= 1, got {n_test_tasks}")
        if generator not in GENERATORS:
            raise TeachBenchError("generator", f"unknown generator {generator!r}", GENERATORS)
        if held_out_set not in HELD_OUT_SETS:
            raise TeachBenchError("held_out_set", f"unknown held-out set {held_out_set!r}", HELD_OUT_SETS)
        if isinstance(held_out_files, str):
            held_out_files = [held_out_files]
        level_limit = max(int(max_size), LITERATURE_MAX_SIZE) if view == "partial" else int(max_size)
        if max_level_size is not None:
            if not (isinstance(max_level_size, int) and max_level_size >= max_size):
                raise TeachBenchError("max_level_size", f"must be an int >= max_size ({max_size}), got {max_level_size!r}")
            if view == "full" and max_level_size != max_size:
                raise TeachBenchError("max_level_size", "the full view's canvas is max_size: it cannot show larger levels")
            level_limit = int(max_level_size)
        if generator == "dcd":
            self.task_space = blocks_task_space(blocks, max_size)
        else:
            self.task_space = maze_task_space(min_size, max_size, max_density)
        super().__init__(
            mission_space=MissionSpace(mission_func=_mission),
            grid_size=max_size,
            max_steps=max_steps,
            see_through_walls=True,
            agent_view_size=view_size,
            render_mode=render_mode,
        )
        self.max_size = int(max_size)
        self.max_level_size = level_limit
        self.generator = generator
        self.held_out_set = held_out_set
        self.held_out_files = [str(f) for f in held_out_files]
        self.view = view
        self.view_size = view_size
        self.obs_mode = obs_mode
        self.n_test_tasks = int(n_test_tasks)
        self.test_seed = int(test_seed)
        self.action_space = spaces.Discrete(N_ACTIONS)
        if obs_mode == "flat":
            n = obs_size(view, view_size, self.max_size)
            self.observation_space = spaces.Box(0.0, 1.0, shape=(n,), dtype=np.float32)
        self._pad = view_size
        self._canvas = self.max_level_size + 2 * view_size
        self._view_index = flat_view_offsets(view_size, self._canvas)
        self._task: Task | None = None  # parameter task being played (None when a level is)
        self._fixed_level: Level | None = None  # explicit level being replayed
        self.level: Level | None = None
        self._task_report: dict[str, Any] = {}
        self._codes: np.ndarray | None = None  # the level's code_canvas
        self._static: np.ndarray | None = None  # full view: its static_planes

    @property
    def image_layout(self) -> tuple[int, int, int] | None:
        """``(channels, height, width)`` of the planes that open the flat observation (the
        partial view's wall and goal planes, or the full view's wall, goal and agent
        planes); ``student.policy: cnn`` reads it (``students/features.py``)."""
        if self.obs_mode != "flat":
            return None
        if self.view == "partial":
            return (2, self.view_size, self.view_size)
        return (3, self.max_size, self.max_size)

    # -- TeachBench contract ------------------------------------------------------------
    def default_task(self) -> Task:
        """A 15x15 maze (or ``max_size``) with ≈ the UED domain-randomization wall count
        (the ``"dcd"`` generator: the fewest blocks of its range)."""
        space = self.task_space
        if self.generator == "dcd":
            return space.validate({"n_blocks": int(space["n_blocks"].low)})
        return space.validate(
            {
                "size": int(min(15, space["size"].high)),
                "wall_density": min(0.15, space["wall_density"].high),
                "min_goal_distance": 0.0,
            }
        )

    def test_tasks(self) -> list[Task]:
        """``n_test_tasks`` fixed tasks spanning the space (seeded Latin hypercube)."""
        return spread_tasks(self.task_space, self.n_test_tasks, self.test_seed)

    def held_out(self) -> dict[str, str]:
        """The held-out set's mazes that this env can play (side <= ``max_level_size``):
        name -> level string (a procedural maze's first variant; the evaluation plays all
        of them, :meth:`held_out_variants`)."""
        return {name: strings[0] for name, strings in self.held_out_variants().items()}

    def held_out_variants(self) -> dict[str, list[str]]:
        """Name -> the level strings of its variants: one for a fixed layout, several for
        the literature's procedural mazes (played one variant per evaluation episode)."""
        out: dict[str, list[str]] = {}
        for name, variants in held_out_set(self.held_out_set, self.held_out_files).items():
            strings = [lvl.to_string() for lvl in variants if lvl.size <= self.max_level_size]
            if strings:
                out[name] = strings
        return out

    def held_out_protocol(self) -> dict[str, Any]:
        """How the held-out mazes are evaluated unless the config says otherwise: as dcd's
        ``eval.py`` does, stochastic policy, solved rate = share of episodes with a
        positive return; 10 episodes per maze (docs/references.md). dcd's ``eval.py``
        defaults to 100 episodes, which its published result tables used (rates such as
        0.43): ``eval.held_out_episodes=100`` reproduces that."""
        return {"episodes": 10, "deterministic": False}

    def level_for(self, options: Mapping[str, Any] | None) -> tuple[Level, Task | None, Level | None]:
        """The level the next episode plays, and the task / fixed level it came from."""
        parsed = parse_options(self.task_space, options, self.max_level_size)
        return next_level(
            parsed, self._task, self._fixed_level, self.default_task,
            lambda: int(self.np_random.integers(2**31 - 1)),
            options.get("level_seed") if options else None,
            generate=self.make_level,
        )

    def make_level(self, task: Task, seed: int) -> Level:
        """The level of a validated parameter task for ``seed`` (this env's generator)."""
        if self.generator == "dcd":
            return generate_blocks_level(task, seed, self.max_size)
        return generate_level(task, seed)

    # -- gymnasium / MiniGrid -----------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        # Seed first so that the level seed drawn below follows the reset seed.
        super(MiniGridEnv, self).reset(seed=seed)
        level, task, fixed = self.level_for(options)
        self.level, self._task, self._fixed_level = level, task, fixed
        self._task_report = dict(task) if task is not None else {"level": level.to_string()}
        self.width = self.height = level.size
        self._codes = code_canvas(level, self.max_level_size, self._pad)
        self._static = static_planes(self._codes, self._pad, self.max_size) if self.view == "full" else None
        obs, _ = super().reset(seed=None)
        return obs, self._info(final=True)

    def _gen_grid(self, width: int, height: int) -> None:
        level = self.level
        assert level is not None
        self.grid = Grid(level.size, level.size)
        walls = level.wall_grid
        for x, y in zip(*np.nonzero(walls)):
            self.grid.set(int(x), int(y), Wall())
        self.put_obj(Goal(), *level.goal)
        self.agent_pos = level.start
        self.agent_dir = level.start_dir
        self.mission = _mission()

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        try:
            a = int(action)
        except (TypeError, ValueError):
            raise TeachBenchError("action", f"{action!r} is not an action", range(N_ACTIONS)) from None
        if not 0 <= a < N_ACTIONS or np.ndim(action) > 1:
            raise TeachBenchError("action", f"{action!r} is not an action", range(N_ACTIONS))
        obs, reward, terminated, truncated, _ = super().step(a)
        info = self._info(final=terminated or truncated)
        if terminated or truncated:
            info["success"] = bool(terminated)
        return obs, float(reward), bool(terminated), bool(truncated), info

    def _info(self, final: bool) -> dict[str, Any]:
        info: dict[str, Any] = {"task": dict(self._task_report)}  # fresh: callers keep infos
        if final and self.level is not None:
            info["level"] = info["level_id"] = self.level.to_string()
            info["level_stats"] = self.level.stats()
        return info

    def gen_obs(self) -> Any:
        if self.obs_mode == "minigrid":
            return super().gen_obs()
        assert self._codes is not None
        x, y, d = int(self.agent_pos[0]), int(self.agent_pos[1]), int(self.agent_dir)
        if self.view == "partial":
            centre = (x + self._pad) * self._canvas + y + self._pad
            return partial_from_cells(self._codes.reshape(-1)[centre + self._view_index[d]], d, self.view_size)
        assert self._static is not None
        return full_obs(self._static, self.max_size, (x, y), d)
