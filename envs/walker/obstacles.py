"""Obstacle course: the POET / UED walker setting (REFERENCES.md §5).

Task = 8 parameters: ground roughness [0, 10]; pit gap low/high [0, 10]; stump height
low/high [0, 5]; stair height low/high [0, 5]; stair steps [1, 9] (all sizes in terrain
steps). An obstacle is absent when its "high" value is below a threshold (pit 0.8,
stump 0.2, stair 0.2); a low above its high is read as the swapped range. Zero-shot levels:
flat (v3), hardcore-like, and single-challenge stairs / pit gap / stumps / roughness.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Dim, Task, TaskSpace
from envs.walker.bodies import BodySpec
from envs.walker.stumps import MASTERY_RETURN
from envs.walker.terrain import Layout, ObstacleParams, obstacle_course
from envs.walker.walker_env import ParamWalker, ezpickle

OBSTACLE_SPACE = TaskSpace((
    Dim("ground_roughness", 0.0, 10.0, doc="ground roughness (1 = BipedalWalker-v3)"),
    Dim("pit_gap_low", 0.0, 10.0, doc="pit width range low, terrain steps"),
    Dim("pit_gap_high", 0.0, 10.0, doc="pit width range high; no pits below the threshold (0.8)"),
    Dim("stump_height_low", 0.0, 5.0, doc="stump height range low, terrain steps"),
    Dim("stump_height_high", 0.0, 5.0, doc="stump height range high; no stumps below the threshold (0.2)"),
    Dim("stair_height_low", 0.0, 5.0, doc="stair height range low, terrain steps"),
    Dim("stair_height_high", 0.0, 5.0, doc="stair height range high; no stairs below the threshold (0.2)"),
    Dim("stair_steps", 1, 9, kind="discrete", doc="stairs per staircase"),
))

# Named zero-shot levels (values ours, shaped after the UED walker's test levels).
_NONE = {"pit_gap_low": 0.0, "pit_gap_high": 0.0, "stump_height_low": 0.0, "stump_height_high": 0.0,
         "stair_height_low": 0.0, "stair_height_high": 0.0, "stair_steps": 1}
HELD_OUT: dict[str, Task] = {
    "flat": {**_NONE, "ground_roughness": 1.0},
    "hardcore": {"ground_roughness": 1.0, "pit_gap_low": 2.0, "pit_gap_high": 3.0, "stump_height_low": 1.0,
                 "stump_height_high": 2.0, "stair_height_low": 1.0, "stair_height_high": 1.0, "stair_steps": 4},
    "stairs": {**_NONE, "ground_roughness": 1.0, "stair_height_low": 1.0, "stair_height_high": 2.0, "stair_steps": 5},
    "pit_gap": {**_NONE, "ground_roughness": 1.0, "pit_gap_low": 3.0, "pit_gap_high": 5.0},
    "stumps": {**_NONE, "ground_roughness": 1.0, "stump_height_low": 1.5, "stump_height_high": 2.5},
    "roughness": {**_NONE, "ground_roughness": 5.0},
}


class WalkerObstaclesEnv(ParamWalker):
    """POET-style obstacle course on gymnasium's walker.

    Args:
        body: embodiment (:data:`envs.walker.bodies.BODIES`). Default ``default``
            (``old_classic_bipedal``, dcd's biped).
        thresholds: "high" values below which (pit, stump, stair) obstacles are absent.
            Default (0.8, 0.2, 0.2) (REFERENCES.md §5).
        test_size: size of the seeded uniform test set. Default 100 (as TMA's stump grid).
        test_seed: its seed. Default 0.
        render_mode: ``None`` or ``"rgb_array"``.
    """

    def __init__(self, body: str | BodySpec = "default", thresholds: Sequence[float] = (0.8, 0.2, 0.2),
                 test_size: int = 100, test_seed: int = 0, render_mode: str | None = None) -> None:
        super().__init__(body=body, render_mode=render_mode)
        ezpickle(self, body=body, thresholds=thresholds, test_size=test_size, test_seed=test_seed,
                 render_mode=render_mode)
        try:
            pit, stump, stair = (float(t) for t in thresholds)
        except (TypeError, ValueError):
            raise TeachBenchError("env.kwargs.thresholds", f"expected 3 numbers (pit, stump, stair), got {thresholds!r}") from None
        if isinstance(test_size, bool) or not isinstance(test_size, int) or test_size < 1:
            raise TeachBenchError("env.kwargs.test_size", f"must be a positive integer, got {test_size!r}")
        self.thresholds = (pit, stump, stair)
        self.test_size = test_size
        self.test_seed = int(test_seed)
        self.task_space = OBSTACLE_SPACE

    def params(self, task: Task) -> ObstacleParams:
        """The terrain parameters a task means (absent obstacles as ``None``)."""
        pit_t, stump_t, stair_t = self.thresholds

        def rng_of(lo: str, hi: str, threshold: float) -> tuple[float, float] | None:
            a, b = float(task[lo]), float(task[hi])
            return None if b < threshold else (min(a, b), max(a, b))

        return ObstacleParams(
            roughness=float(task["ground_roughness"]),
            pit_gap=rng_of("pit_gap_low", "pit_gap_high", pit_t),
            stump_height=rng_of("stump_height_low", "stump_height_high", stump_t),
            stair_height=rng_of("stair_height_low", "stair_height_high", stair_t),
            stair_steps=int(task["stair_steps"]),
        )

    def make_layout(self, task: Task, rng: np.random.Generator) -> Layout:
        return obstacle_course(rng, self.params(task))

    def default_task(self) -> Task:
        """Flat ground, no obstacles (works before any teacher)."""
        return {**_NONE, "ground_roughness": 0.0}

    def test_tasks(self) -> list[Task]:
        """``test_size`` tasks drawn uniformly with the fixed ``test_seed``."""
        rng = np.random.default_rng(self.test_seed)
        return [self.task_space.sample(rng) for _ in range(self.test_size)]

    def is_mastered(self, episode_return: float, success: bool) -> bool:
        return bool(episode_return > MASTERY_RETURN)

    def held_out(self) -> dict[str, Task]:
        return {name: dict(task) for name, task in HELD_OUT.items()}
