"""Stump tracks: the ALP-GMM / TeachMyAgent walker setting (docs/references.md#stump-tracks).

Task ``{stump_height, stump_spacing}`` (optionally ``stump_height_std``): stumps whose height
is drawn per stump from ``N(stump_height, std)`` (floored at 0.05), ``stump_spacing`` terrain
steps apart. Published ranges: height mean in [0, 3], spacing in [0, 6] (harder when
smaller); TMA's challenge variants widen the height range to [0, 9] ("mostly unfeasible")
or [-3, 3] ("mostly trivial": negative means give floor-height stumps).
Test set: the 10 x 10 grid over the (height, spacing) box, 100 tasks; mastered = return > 230.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Dim, Task, TaskSpace
from envs.walker.bodies import BodySpec
from envs.walker.terrain import Layout, stump_track
from envs.walker.walker_env import ParamWalker, ezpickle

HEIGHT_RANGES: dict[str, tuple[float, float]] = {
    "default": (0.0, 3.0),      # TMA / ALP-GMM stump tracks
    "unfeasible": (0.0, 9.0),   # TMA "mostly unfeasible" challenge
    "trivial": (-3.0, 3.0),     # TMA "mostly trivial" challenge
}
MASTERY_RETURN = 230.0  # TMA: a test task is mastered when the episode return exceeds 230


def _range(key: str, value: str | Sequence[float], presets: dict[str, tuple[float, float]] | None = None) -> tuple[float, float]:
    if isinstance(value, str):
        if presets is None or value not in presets:
            raise TeachBenchError(key, f"unknown preset {value!r}", list(presets or {}))
        return presets[value]
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TeachBenchError(key, f"expected a preset name or [low, high], got {value!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo >= hi:
        raise TeachBenchError(key, f"expected finite low < high, got [{lo}, {hi}]")
    return lo, hi


class WalkerStumpsEnv(ParamWalker):
    """Stump tracks on gymnasium's walker.

    Args:
        body: embodiment (``default``, ``short``, ``long``, ``quadruped``). Default ``default``.
        height_range: stump-height-mean range: ``default`` [0, 3], ``unfeasible`` [0, 9],
            ``trivial`` [-3, 3] (TMA challenges), or ``[low, high]``. Default ``default``.
        spacing_range: spacing range in terrain steps. Default [0, 6] (TMA).
        stump_height_std: per-stump height spread when it is not a task dimension. Default
            0.1 (TMA).
        vary_spread: add ``stump_height_std`` as a third task dimension over ``spread_range``.
            Default False (the published 2-D space).
        spread_range: range of that dimension. Default [0, 1] (ours).
        stump_width: stump width in terrain steps. Default 1 (ours; gymnasium's hardcore
            stumps are 1-2 steps).
        roughness: ground roughness (1 = BipedalWalker-v3's ground). Default 0: flat ground,
            so that the stumps are the only difficulty, as in the stump-track papers.
        render_mode: ``None`` or ``"rgb_array"``.
    """

    def __init__(self, body: str | BodySpec = "default", height_range: str | Sequence[float] = "default",
                 spacing_range: Sequence[float] = (0.0, 6.0), stump_height_std: float = 0.1,
                 vary_spread: bool = False, spread_range: Sequence[float] = (0.0, 1.0), stump_width: float = 1.0,
                 roughness: float = 0.0, render_mode: str | None = None) -> None:
        super().__init__(body=body, render_mode=render_mode)
        ezpickle(self, body=body, height_range=height_range, spacing_range=spacing_range,
                 stump_height_std=stump_height_std, vary_spread=vary_spread, spread_range=spread_range,
                 stump_width=stump_width, roughness=roughness, render_mode=render_mode)
        h_lo, h_hi = _range("env.kwargs.height_range", height_range, HEIGHT_RANGES)
        s_lo, s_hi = _range("env.kwargs.spacing_range", spacing_range)
        if s_lo < 0:
            raise TeachBenchError("env.kwargs.spacing_range", f"spacing must be >= 0, got {s_lo}")
        for key, value in (("stump_height_std", stump_height_std), ("stump_width", stump_width),
                           ("roughness", roughness)):
            if not np.isfinite(value) or value < 0 or (key == "stump_width" and value <= 0):
                raise TeachBenchError(f"env.kwargs.{key}", f"must be a finite non-negative number, got {value!r}")
        dims = [
            Dim("stump_height", h_lo, h_hi, doc="mean stump height, terrain steps (TMA: [0, 3])"),
            Dim("stump_spacing", s_lo, s_hi, doc="gap between stumps, terrain steps (TMA: [0, 6])"),
        ]
        self.vary_spread = bool(vary_spread)
        if self.vary_spread:
            lo, hi = _range("env.kwargs.spread_range", spread_range)
            if lo < 0:
                raise TeachBenchError("env.kwargs.spread_range", f"spread must be >= 0, got {lo}")
            dims.append(Dim("stump_height_std", lo, hi, doc="per-stump height std, terrain steps"))
        self.task_space = TaskSpace(tuple(dims))
        self.stump_height_std = float(stump_height_std)
        self.stump_width = float(stump_width)
        self.roughness = float(roughness)

    def make_layout(self, task: Task, rng: np.random.Generator) -> Layout:
        std = task.get("stump_height_std", self.stump_height_std)
        return stump_track(rng, task["stump_height"], std, task["stump_spacing"], stump_width=self.stump_width,
                           roughness=self.roughness)

    def _clip_task(self, height: float, spacing: float) -> Task:
        """A task clipped into the space (spread at its default where it is a dimension)."""
        values: dict[str, Any] = {"stump_height": height, "stump_spacing": spacing}
        if self.vary_spread:
            values["stump_height_std"] = self.stump_height_std
        return self.task_space.clip(values)

    def default_task(self) -> Task:
        """The easiest task: lowest non-negative stumps, widest spacing (works before a teacher)."""
        return self._clip_task(0.0, self.task_space["stump_spacing"].high)

    def test_tasks(self) -> list[Task]:
        """TMA's test set: a 10 x 10 grid over (height, spacing), bounds included: 100 tasks."""
        h, s = self.task_space["stump_height"], self.task_space["stump_spacing"]
        return [self._clip_task(a, b) for a in np.linspace(h.low, h.high, 10) for b in np.linspace(s.low, s.high, 10)]

    def is_mastered(self, episode_return: float, success: bool) -> bool:
        return bool(episode_return > MASTERY_RETURN)

    def held_out(self) -> dict[str, Task]:
        """Named stump levels for zero-shot checks (ours): flat, sparse/dense low and high stumps."""
        return {
            "flat": self._clip_task(0.0, 6.0),
            "low_sparse": self._clip_task(1.0, 6.0),
            "low_dense": self._clip_task(1.0, 1.0),
            "high_sparse": self._clip_task(2.0, 6.0),
            "high_dense": self._clip_task(2.0, 1.0),
        }
