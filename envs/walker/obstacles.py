"""Obstacle course: the POET / UED walker of facebookresearch/dcd (docs/references.md#poet-walker).

Task = 8 parameters: ground roughness [0, 10]; pit gap low/high [0, 10]; stump height
low/high [0, 5]; stair height low/high [0, 5]; stair steps [1, 9] (sizes in terrain steps).
As dcd: each low/high pair is sorted first, then an obstacle is absent when its (sorted)
high value is below a threshold (pit 0.8, stump 0.2, stair 0.2); the terrain follows dcd's
generator (:func:`envs.walker.terrain.obstacle_course`: pits ``1 + gap``, ``0 .. n-1`` stairs,
roughness scaling the ground's velocity).

Levels (:mod:`envs.walker.levels`). Every episode plays an exact level, the 8 parameters
plus a terrain seed, reported as ``info["level_id"]``: a reset with ``{"task": ...}`` draws the
seed from the env's RNG, a reset with ``{"level": "walker:...:<seed>"}`` rebuilds that exact
terrain (PLR and ACCEL replays). ACCEL edits levels with dcd's operator
(:func:`envs.walker.levels.edit_level`, installed by ``students.regret.attach_teacher_needs``).
``base="easy"`` makes the task space dcd's easy base distribution of new levels (ACCEL's
``BipedalWalker-Adversarial-Easy-v0``); levels and tests still live in the full space.

Held-out set (dcd's ``eval.py`` walker list): gymnasium's real ``BipedalWalker-v3`` and
``BipedalWalkerHardcore-v3`` (gymnasium's terrain generator on this env, so with the
student's body and observation) and dcd's ``Med-Stairs``, ``Med-PitGap``, ``Med-StumpHeight``,
``Med-Roughness`` test levels; :data:`DCD_TEST_LEVELS` lists all of dcd's named levels.
Test set: 100 tasks drawn uniformly over the full space with a fixed seed (ours).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from gymnasium.envs.box2d import bipedal_walker as gw

from envs.errors import TeachBenchError
from envs.task_space import Dim, Task, TaskSpace
from envs.walker.bodies import BodySpec
from envs.walker.levels import EASY, FULL, NAMES, SEED_HIGH, WalkerLevel, gymnasium_level
from envs.walker.stumps import MASTERY_RETURN
from envs.walker.terrain import FINISH_X, Layout, ObstacleParams, obstacle_course
from envs.walker.walker_env import ParamWalker, ezpickle

_DOCS = ("ground roughness (dcd: scales the ground's velocity; 1 = BipedalWalker-v3)",
         "pit gap range low, terrain steps", "pit gap range high; no pits below 0.8 (after sorting)",
         "stump height range low, terrain steps", "stump height range high; no stumps below 0.2",
         "stair height range low, terrain steps", "stair height range high; no stairs below 0.2",
         "stairs per staircase: dcd builds randint(n) = 0 .. n-1")


def _space(ranges: Sequence[tuple[float, float]]) -> TaskSpace:
    return TaskSpace(tuple(Dim(n, lo, hi, kind="discrete" if n == "stair_steps" else "continuous", doc=d)
                           for n, (lo, hi), d in zip(NAMES, ranges, _DOCS)))


OBSTACLE_SPACE = _space(FULL)
EASY_SPACE = _space(EASY)

_NONE = {"ground_roughness": 0.0, "pit_gap_low": 0.0, "pit_gap_high": 0.0, "stump_height_low": 0.0,
         "stump_height_high": 0.0, "stair_height_low": 0.0, "stair_height_high": 0.0, "stair_steps": 1}
# dcd's named test levels (envs/bipedalwalker/walker_test_envs.py), as our 8 parameters.
DCD_TEST_LEVELS: dict[str, Task] = {
    "Default": dict(_NONE),
    "Med-Roughness": {**_NONE, "ground_roughness": 5.0},
    "High-Roughness": {**_NONE, "ground_roughness": 9.0},
    "Med-StumpHeight": {**_NONE, "stump_height_low": 2.0, "stump_height_high": 2.0},
    "High-StumpHeight": {**_NONE, "stump_height_low": 5.0, "stump_height_high": 5.0},
    "Med-Stairs": {**_NONE, "stair_height_low": 2.0, "stair_height_high": 2.0, "stair_steps": 5},
    "High-Stairs": {**_NONE, "stair_height_low": 5.0, "stair_height_high": 5.0, "stair_steps": 9},
    "Med-PitGap": {**_NONE, "pit_gap_low": 5.0, "pit_gap_high": 5.0},
    "Wide-PitGap": {**_NONE, "pit_gap_low": 10.0, "pit_gap_high": 10.0},
    "Insane": {"ground_roughness": 9.0, "pit_gap_low": 10.0, "pit_gap_high": 10.0, "stump_height_low": 5.0,
               "stump_height_high": 5.0, "stair_height_low": 5.0, "stair_height_high": 5.0, "stair_steps": 9},
}
# dcd's eval.py walker set: gymnasium's two walkers and the four "Med" levels.
HELD_OUT: dict[str, Any] = {
    "BipedalWalker-v3": "gymnasium:BipedalWalker-v3",
    "BipedalWalkerHardcore-v3": "gymnasium:BipedalWalkerHardcore-v3",
    **{name: DCD_TEST_LEVELS[name] for name in ("Med-Stairs", "Med-PitGap", "Med-StumpHeight", "Med-Roughness")},
}
BASES = {"full": OBSTACLE_SPACE, "easy": EASY_SPACE}


class WalkerObstaclesEnv(ParamWalker):
    """dcd's obstacle course on gymnasium's walker, with exact replayable levels.

    Args:
        body: embodiment (:data:`envs.walker.bodies.BODIES`). Default ``default``
            (``old_classic_bipedal``, dcd's biped).
        thresholds: sorted "high" values below which (pit, stump, stair) obstacles are
            absent. Default (0.8, 0.2, 0.2) (dcd).
        base: task space the teacher draws new levels from: ``full`` (default) or ``easy``
            (dcd's ACCEL base distribution).
        test_size: size of the seeded uniform test set. Default 100 (as TMA's stump grid).
        test_seed: its seed. Default 0.
        render_mode: ``None`` or ``"rgb_array"``.
    """

    def __init__(self, body: str | BodySpec = "default", thresholds: Sequence[float] = (0.8, 0.2, 0.2),
                 base: str = "full", test_size: int = 100, test_seed: int = 0, render_mode: str | None = None) -> None:
        super().__init__(body=body, render_mode=render_mode)
        ezpickle(self, body=body, thresholds=thresholds, base=base, test_size=test_size, test_seed=test_seed,
                 render_mode=render_mode)
        try:
            pit, stump, stair = (float(t) for t in thresholds)
        except (TypeError, ValueError):
            raise TeachBenchError("env.kwargs.thresholds", f"expected 3 numbers (pit, stump, stair), got {thresholds!r}") from None
        if isinstance(test_size, bool) or not isinstance(test_size, int) or test_size < 1:
            raise TeachBenchError("env.kwargs.test_size", f"must be a positive integer, got {test_size!r}")
        if base not in BASES:
            raise TeachBenchError("env.kwargs.base", f"unknown base distribution {base!r}", BASES)
        self.thresholds = (pit, stump, stair)
        self.test_size = test_size
        self.test_seed = int(test_seed)
        self.base = base
        self.task_space = BASES[base]
        self.level: WalkerLevel | None = None
        self._gym_level: tuple[bool, int | None] | None = None
        self._task_report: dict[str, Any] = {}
        self._level_text: str | None = None  # the level string of a level reset (None: a task reset)
        self._level_id = ""

    def params(self, task: Mapping[str, Any]) -> ObstacleParams:
        """The terrain parameters a task means, as dcd: each pair sorted, then an obstacle
        is absent (``None``) when its high value is below the threshold."""
        pit_t, stump_t, stair_t = self.thresholds

        def rng_of(lo: str, hi: str, threshold: float) -> tuple[float, float] | None:
            a, b = sorted((float(task[lo]), float(task[hi])))
            return None if b < threshold else (a, b)

        return ObstacleParams(
            roughness=float(task["ground_roughness"]),
            pit_gap=rng_of("pit_gap_low", "pit_gap_high", pit_t),
            stump_height=rng_of("stump_height_low", "stump_height_high", stump_t),
            stair_height=rng_of("stair_height_low", "stair_height_high", stair_t),
            stair_steps=int(round(float(task["stair_steps"]))),
        )

    def make_layout(self, task: Task, rng: np.random.Generator) -> Layout:
        """The layout of ``task`` on a terrain drawn from ``rng`` (tests and tools)."""
        return obstacle_course(rng, self.params(task))

    # -- levels -------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset onto ``options["level"]`` (an exact walker level, or a gymnasium walker),
        else onto ``options["task"]`` with a terrain seed from the env's RNG, else the current
        level's parameters with a new seed, else the default task."""
        text = None
        if options:
            text = options.get("level")
            task_opt = options.get("task")
            if text is None and isinstance(task_opt, Mapping) and "level" in task_opt:
                text = task_opt["level"]
        if text is not None:
            text = str(text)
            self._gym_level = gymnasium_level(text)
            if self._gym_level is None:
                self.level = WalkerLevel.from_string(text)
            self._task_report = {"level": text}
            self._level_text = text
            rest = {k: v for k, v in options.items() if k not in ("level", "task")} if options else {}
            if self._gym_level is not None and self._gym_level[1] is not None:
                seed = self._gym_level[1]  # gymnasium's reset(seed=...) exactly
            return super().reset(seed=seed, options={**rest, "task": None} if rest else None)
        self._gym_level = None
        self._level_text = None
        return super().reset(seed=seed, options=options)

    def resolve_task(self, options: Mapping[str, Any] | None, current: Task | None) -> Task:
        """Tasks are validated against the full space (levels and tests live there, even
        when new levels come from the easy base)."""
        if options and options.get("task") is not None:
            return OBSTACLE_SPACE.validate(options["task"])
        if self._level_text is not None and self.level is not None and self._gym_level is None:
            return self.level.task()
        return current if current is not None else self.default_task()

    def _build_terrain(self, task: Task) -> None:
        if self._level_text is not None and self._gym_level is not None:
            gw.BipedalWalker._generate_terrain(self, self._gym_level[0])  # gymnasium's own terrain
            self.layout = None
            self.finish_x = FINISH_X
            return
        if self._level_text is None:
            self.level = WalkerLevel.from_task(task, int(self.np_random.integers(SEED_HIGH)))
            self._task_report = dict(task)
        assert self.level is not None
        self._level_id = self.level.to_string()
        rng = np.random.default_rng(self.level.seed)
        layout = obstacle_course(rng, self.params(self.level.task()))
        self._apply_layout(layout)

    def _info_extra(self) -> dict[str, Any]:
        level_id = self._level_text if self._level_text is not None else self._level_id
        return {"task": dict(self._task_report), "level_id": level_id}

    def default_task(self) -> Task:
        """Flat ground, no obstacles (works before any teacher)."""
        return dict(_NONE)

    def test_tasks(self) -> list[Task]:
        """``test_size`` tasks drawn uniformly over the full space with the fixed ``test_seed``."""
        rng = np.random.default_rng(self.test_seed)
        return [OBSTACLE_SPACE.sample(rng) for _ in range(self.test_size)]

    def is_mastered(self, episode_return: float, success: bool) -> bool:
        return bool(episode_return > MASTERY_RETURN)  # dcd: solved = return > 230

    def held_out(self) -> dict[str, Any]:
        """dcd's walker evaluation set: gymnasium's two walkers (level strings) and dcd's
        four "Med" test levels (tasks)."""
        return {name: (dict(v) if isinstance(v, Mapping) else v) for name, v in HELD_OUT.items()}
