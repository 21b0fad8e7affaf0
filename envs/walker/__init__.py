"""The parameterized Box2D walker family, built on gymnasium's BipedalWalker.

- :class:`WalkerStumpsEnv` (``TeachBench/WalkerStumps-v0``): TMA / ALP-GMM stump tracks.
- :class:`WalkerObstaclesEnv` (``TeachBench/WalkerObstacles-v0``): POET / UED obstacle course.
- :class:`WalkerHexagonEnv` (``TeachBench/WalkerHexagon-v0``): ALP-GMM / TMA 12-D hexagon tracks.

Each takes ``body=`` (TMA's ``old_classic_bipedal`` = ``default``, ``small_bipedal``,
``spider``, ``millipede``, ``old_big_quadru`` and teachDeepRL's ``short``; see
:mod:`envs.walker.bodies`) and ``render_mode="rgb_array"``; :mod:`envs.walker.video` writes a
gif/mp4 of a policy on a task.
"""

from envs.walker.bodies import BODIES, BodySpec
from envs.walker.hexagon import WalkerHexagonEnv
from envs.walker.obstacles import WalkerObstaclesEnv
from envs.walker.stumps import WalkerStumpsEnv

__all__ = ["BODIES", "BodySpec", "WalkerHexagonEnv", "WalkerObstaclesEnv", "WalkerStumpsEnv"]
