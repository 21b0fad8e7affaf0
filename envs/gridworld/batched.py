"""N mazes stepped at once in NumPy, exposed as a Stable-Baselines3 ``VecEnv``.

Regret-based teachers are rollout-heavy (PLR scores every new level, PAIRED rolls out two
students), and a Python ``DummyVecEnv`` of MiniGrid envs spends its time in per-env Python.
Here one ``step`` is a handful of array operations over all N mazes; only finished
episodes touch Python (level generation, infos).

Semantics are those of :class:`~envs.gridworld.maze_env.MazeEnv` — the same level, the
same actions give the same observations, rewards, terminations and truncations (tested
step by step) — plus what SB3's ``DummyVecEnv`` + ``Monitor`` add: auto-reset with
``info["terminal_observation"]``, ``info["episode"] = {"r", "l", "t"}`` and
``info["TimeLimit.truncated"]`` on finished episodes.

Tasks per sub-env follow the curriculum bridge's protocol (``students/bridge.py``):
``env_method("set_next_task", task, indices=[i])`` appends to env ``i``'s FIFO queue, and
every reset of env ``i`` (auto-reset included) plays the head of its queue, or, with an
empty queue, its current task again (a fresh layout) or its current level again.
``pending_tasks`` / ``clear_tasks`` complete the protocol for checkpoints. Tasks are
validated when queued, so a bad task raises :class:`TeachBenchError` to the caller and
never inside ``step``. Level strings are read as the single env reads them, through the
process's level cache (:class:`~envs.gridworld.level.LevelCache`): a replayed level is
parsed and checked once, not at every hand-out. Seeds: sub-env ``i`` seeded ``s`` draws the same levels as
``MazeEnv.reset(seed=s)`` for the same task.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Iterable, Sequence

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

from envs.errors import TeachBenchError
from envs.gridworld.generate import next_level, parse_options, parse_task
from envs.gridworld.level import DIR_TO_VEC, Level
from envs.gridworld.maze_env import N_ACTIONS, MazeEnv
from envs.gridworld.observe import GOAL, WALL, code_canvas, flat_view_offsets, partial_from_cells, static_planes
from envs.task_space import Task

_DIRV = np.array(DIR_TO_VEC, dtype=np.int64)
_TURN = np.array([[(d - 1) % 4 for d in range(4)], [(d + 1) % 4 for d in range(4)], list(range(4))], dtype=np.int64)
"""``_TURN[action, dir]``: the direction after ``action`` (left, right, forward)."""
_PER_ENV_METHODS = ("set_next_task", "pending_tasks", "clear_tasks")


class BatchedMazeVecEnv(VecEnv):
    """``num_envs`` mazes as one SB3 VecEnv.

    Args:
        num_envs: number of mazes N.
        seed: sub-env ``i`` is seeded ``seed + i`` (``None``: fresh OS entropy).
        **env_kwargs: as :class:`MazeEnv` (``max_size``, ``min_size``, ``max_density``,
            ``view``, ``view_size``, ``max_steps``, ``n_test_tasks``, ``test_seed``);
            ``obs_mode`` must stay ``"flat"``.
    """

    def __init__(self, num_envs: int, seed: int | None = None, **env_kwargs: Any) -> None:
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise TeachBenchError("num_envs", f"must be an int >= 1, got {num_envs!r}")
        if env_kwargs.get("obs_mode", "flat") != "flat":
            raise TeachBenchError("obs_mode", "the batched env only has the flat observation", ["flat"])
        if env_kwargs.get("render_mode") is not None:
            raise TeachBenchError("render_mode", "render one level with MazeEnv instead")
        # A single env serves the shared, env-independent API (task_space, test_tasks,
        # held_out, is_mastered, default_task) and renders on demand.
        self.proto = MazeEnv(**env_kwargs)
        self.env_kwargs = dict(env_kwargs)
        super().__init__(int(num_envs), self.proto.observation_space, spaces.Discrete(N_ACTIONS))
        n = self.num_envs
        self.task_space = self.proto.task_space
        self.max_size = self.proto.max_size
        self.max_steps = self.proto.max_steps
        self.view = self.proto.view
        self.view_size = v = self.proto.view_size
        self.pad = v
        self.max_level_size = self.proto.max_level_size  # explicit levels (held-out) may exceed max_size
        self.canvas = c = self.max_level_size + 2 * v
        # Padded [x, y] cell codes (WALL | GOAL), flattened per env: a step reads the cell
        # ahead and the V*V view cells of all N mazes with one gather each.
        self._code = np.full((n, c * c), WALL, dtype=np.uint8)
        self._base = np.arange(n, dtype=np.int64) * c * c
        self._off_flat = flat_view_offsets(v, c)  # (4, V*V)
        self.pos = np.zeros((n, 2), dtype=np.int64)
        self.dir = np.zeros(n, dtype=np.int64)
        self.goal = np.zeros((n, 2), dtype=np.int64)
        self.t = np.zeros(n, dtype=np.int64)
        self.ep_return = np.zeros(n, dtype=np.float64)
        self.ep_start = np.zeros(n, dtype=np.float64)
        self._static = np.zeros((n, 2 * self.max_size**2), dtype=np.float32) if self.view == "full" else None
        self.levels: list[Level | None] = [None] * n
        self._tasks: list[Task | None] = [None] * n
        self._fixed: list[Level | None] = [None] * n
        self._reports: list[dict[str, Any]] = [{} for _ in range(n)]
        # The info of an unfinished step ({"task": ...}) is rebuilt only on reset and
        # shared between steps: building N dicts per step would cost more than the step.
        self._step_infos: list[dict[str, Any]] = [{} for _ in range(n)]
        self._queues: list[deque[Task | Level]] = [deque() for _ in range(n)]
        self._queued_raw: list[deque[Any]] = [deque() for _ in range(n)]
        self._rngs = self._make_rngs(seed)
        self._actions = np.zeros(n, dtype=np.int64)
        self._obs = np.zeros((n, self.observation_space.shape[0]), dtype=np.float32)
        self._started = False

    def clone(self, seed: int | None = None) -> "BatchedMazeVecEnv":
        """A fresh batched env with the same size and settings (PAIRED's antagonist)."""
        return BatchedMazeVecEnv(self.num_envs, seed=seed, **self.env_kwargs)

    # -- seeding --------------------------------------------------------------------------
    def _make_rngs(self, seed: int | None) -> list[np.random.Generator]:
        if seed is None:
            return [np.random.default_rng(s) for s in np.random.SeedSequence().spawn(self.num_envs)]
        return [np.random.default_rng(int(seed) + i) for i in range(self.num_envs)]

    # -- the bridge's task protocol -------------------------------------------------------
    def set_next_task(self, task: Any, indices: VecEnvIndices = None) -> None:
        """Queue ``task`` (a parameter dict, ``{"level": str}``, a level string or Level)
        for the next reset of each env in ``indices``. Validated now."""
        parsed = parse_task(self.task_space, task, self.max_level_size)
        for i in self._get_indices(indices):
            self._queues[i].append(parsed)
            self._queued_raw[i].append(self._report_of(parsed))

    def set_next_tasks(self, tasks: Sequence[Any], indices: Sequence[int]) -> None:
        """Queue ``tasks[j]`` for env ``indices[j]``: the bridge's one call per vector step."""
        if len(tasks) != len(indices):
            raise TeachBenchError("set_next_tasks", f"{len(tasks)} tasks for {len(indices)} envs")
        for task, i in zip(tasks, indices):
            parsed = parse_task(self.task_space, task, self.max_level_size)
            self._queues[int(i)].append(parsed)
            self._queued_raw[int(i)].append(self._report_of(parsed))

    def pending_tasks(self, indices: VecEnvIndices = None) -> list[list[Task]]:
        """Per env: the task being played (if any), then the queued ones."""
        out = []
        for i in self._get_indices(indices):
            head = [dict(self._reports[i])] if self._started and self._reports[i] else []
            out.append(head + [dict(t) for t in self._queued_raw[i]])
        return out

    def clear_tasks(self, indices: VecEnvIndices = None) -> None:
        for i in self._get_indices(indices):
            self._queues[i].clear()
            self._queued_raw[i].clear()

    @staticmethod
    def _report_of(parsed: Task | Level) -> dict[str, Any]:
        return {"level": parsed.to_string()} if isinstance(parsed, Level) else dict(parsed)

    # -- resets ---------------------------------------------------------------------------
    def _reset_env(self, i: int, options: dict[str, Any] | None = None) -> dict[str, Any]:
        parsed = parse_options(self.task_space, options, self.max_level_size)
        level_seed = options.get("level_seed") if options else None
        if parsed is None and self._queues[i]:
            parsed = self._queues[i].popleft()
            self._queued_raw[i].popleft()
        rng = self._rngs[i]
        level, task, fixed = next_level(
            parsed, self._tasks[i], self._fixed[i], self.proto.default_task,
            lambda: int(rng.integers(2**31 - 1)), level_seed, generate=self.proto.make_level,
        )
        self._load(i, level)
        self._tasks[i], self._fixed[i] = task, fixed
        self._reports[i] = dict(task) if task is not None else {"level": level.to_string()}
        self._step_infos[i] = {"task": self._reports[i]}
        return {"task": dict(self._reports[i]), "level": level.to_string(), "level_stats": level.stats()}

    def _load(self, i: int, level: Level) -> None:
        self.levels[i] = level
        c, p = self.canvas, self.pad
        self._code[i] = code_canvas(level, self.max_level_size, p).reshape(c * c)
        self.pos[i] = level.start
        self.dir[i] = level.start_dir
        self.goal[i] = level.goal
        self.t[i] = 0
        self.ep_return[i] = 0.0
        self.ep_start[i] = time.time()
        if self._static is not None:
            self._static[i] = static_planes(self._code[i].reshape(c, c), p, self.max_size)

    def reset(self) -> VecEnvObs:
        for i in range(self.num_envs):
            if self._seeds[i] is not None:
                self._rngs[i] = np.random.default_rng(self._seeds[i])
            self.reset_infos[i] = self._reset_env(i, self._options[i] or None)
        self._reset_seeds()
        self._reset_options()
        self._started = True
        self._observe(np.arange(self.num_envs))
        return self._obs.copy()

    def reset_one(self, i: int, task: Any = None, seed: int | None = None) -> np.ndarray:
        """Reset env ``i`` now (optionally on ``task`` and seed); returns its observation."""
        if seed is not None:
            self._rngs[i] = np.random.default_rng(seed)
        self.reset_infos[i] = self._reset_env(i, {"task": task} if task is not None else None)
        self._observe(np.array([i]))
        return self._obs[i].copy()

    # -- stepping -------------------------------------------------------------------------
    def step_async(self, actions: np.ndarray) -> None:
        a = np.asarray(actions)
        if a.size != self.num_envs:
            raise TeachBenchError("actions", f"expected {self.num_envs} actions, got shape {a.shape}")
        a = a.reshape(self.num_envs)
        if not np.issubdtype(a.dtype, np.integer):
            if not np.issubdtype(a.dtype, np.floating) or not np.all(a == np.round(a)):
                raise TeachBenchError("actions", f"actions must be integers, got dtype {a.dtype}")
        a = a.astype(np.int64)
        if a.min() < 0 or a.max() >= N_ACTIONS:
            raise TeachBenchError("actions", f"actions must be in [0, {N_ACTIONS - 1}]", range(N_ACTIONS))
        self._actions = a

    def step_wait(self) -> VecEnvStepReturn:
        if not self._started:
            raise TeachBenchError("step", "call reset() before step()")
        a = self._actions
        self.t += 1
        # MiniGrid: left = dir - 1, right = dir + 1, forward moves unless the cell ahead is
        # a wall; stepping onto the goal terminates with 1 - 0.9 * (t / max_steps).
        front = self.pos + _DIRV[self.dir]
        self.dir = _TURN[a, self.dir]
        c, p = self.canvas, self.pad
        ahead = self._code.reshape(-1)[self._base + (front[:, 0] + p) * c + front[:, 1] + p]
        move = (a == 2) & (ahead != WALL)
        np.copyto(self.pos, front, where=move[:, None])
        terminated = move & (ahead == GOAL)
        rewards = np.where(terminated, 1 - 0.9 * (self.t / self.max_steps), 0.0)
        truncated = self.t >= self.max_steps
        self.ep_return += rewards
        done = terminated | truncated
        self._observe(None)
        infos: list[dict[str, Any]] = list(self._step_infos)
        finished = np.flatnonzero(done)
        for i in finished:
            i = int(i)
            level = self.levels[i]
            text = level.to_string() if level is not None else None
            info = {
                "task": dict(self._reports[i]),
                "success": bool(terminated[i]),
                "level": text,
                "level_id": text,
                "level_stats": level.stats() if level is not None else None,
                "episode": {"r": round(float(self.ep_return[i]), 6), "l": int(self.t[i]),
                            "t": round(time.time() - self.ep_start[i], 6)},
                "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                "terminal_observation": self._obs[i].copy(),
            }
            infos[i] = info
            self.reset_infos[i] = self._reset_env(i)
        if finished.size:
            self._observe(finished)
        return self._obs.copy(), rewards.astype(np.float32), done, infos

    def _observe(self, idx: np.ndarray | None) -> None:
        """Write the observation of envs ``idx`` (all when None) into the buffer."""
        sel = slice(None) if idx is None else idx
        pos, d = self.pos[sel], self.dir[sel]
        k = pos.shape[0]
        if self.view == "partial":
            c, p = self.canvas, self.pad
            centre = self._base[sel] + (pos[:, 0] + p) * c + pos[:, 1] + p
            out = partial_from_cells(self._code.reshape(-1)[centre[:, None] + self._off_flat[d]], d, self.view_size)
        else:
            m = self.max_size
            m2 = m * m
            out = np.zeros((k, self._obs.shape[1]), dtype=np.float32)
            out[:, : 2 * m2] = self._static[sel]
            out[np.arange(k), 2 * m2 + pos[:, 0] * m + pos[:, 1]] = 1.0
            out[np.arange(k), 3 * m2 + d] = 1.0
        self._obs[sel] = out

    # -- VecEnv plumbing ------------------------------------------------------------------
    def close(self) -> None:
        self.proto.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        idx = self._get_indices(indices)
        if attr_name == "level":
            return [self.levels[i] for i in idx]
        if attr_name == "current_task":
            return [dict(self._reports[i]) if self._reports[i] else None for i in idx]
        value = getattr(self.proto, attr_name)
        return [value for _ in idx]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        raise TeachBenchError("set_attr", f"the batched maze has no per-env attribute {attr_name!r} to set")

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any) -> list[Any]:
        idx = list(self._get_indices(indices))
        if method_name in _PER_ENV_METHODS:
            method = getattr(self, method_name)
            if method_name == "pending_tasks":
                return method(idx)
            return [method(*method_args, indices=[i], **method_kwargs) for i in idx]
        if method_name == "reset":
            raise TeachBenchError("env_method", "use set_next_task (next episode) or reset_one (now)")
        method = getattr(self.proto, method_name)
        return [method(*method_args, **method_kwargs) for _ in idx]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """RGB frames through MiniGrid's renderer (for videos; not on the hot path)."""
        frames = []
        for i in range(self.num_envs):
            frames.append(self.render_env(i))
        return frames

    def render_env(self, i: int, tile_size: int = 16) -> np.ndarray:
        level = self.levels[i]
        if level is None:
            raise TeachBenchError("render", "call reset() first")
        proto = self.proto
        proto.reset(options={"level": level})
        proto.agent_pos = (int(self.pos[i, 0]), int(self.pos[i, 1]))
        proto.agent_dir = int(self.dir[i])
        return proto.get_frame(highlight=True, tile_size=tile_size)

    def _get_indices(self, indices: VecEnvIndices) -> Iterable[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, (int, np.integer)):
            return [int(indices)]
        return [int(i) for i in indices]
