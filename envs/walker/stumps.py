"""Stump tracks: the ALP-GMM / TeachMyAgent walker setting (docs/references.md#stump-tracks).

Task ``{stump_height, stump_spacing}`` (optionally ``stump_height_std``): stumps whose height
is drawn per stump from ``N(stump_height, std)`` (floored at 0.05) in terrain steps,
``stump_spacing`` **world units** apart (TMA's and teachDeepRL's unit), the first one at the
end of the start pad (:func:`envs.walker.terrain.stump_track`). Published ranges: height
mean in [0, 3], spacing in [0, 6] (harder when smaller); TMA's challenge variants widen the
height range to [0, 9] ("mostly unfeasible") or [-3, 3] ("mostly trivial": negative means
give floor-height stumps).

Test set: TMA's, whatever the training range: the 10 x 10 grid over height [0, 3] x spacing
[0, 6] (``np.linspace(0, 3, 10) x np.linspace(0, 6, 10)``, bounds included: the 100 points of
TMA's ``parametric_stumps_test_set``, the set every TMA stump challenge is tested on);
mastered = return > 230. ``test_range`` sets another grid.
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
TEST_RANGE: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 3.0), (0.0, 6.0))  # TMA: (height, spacing)
TEST_GRID = 10  # TMA: int(100 ** (1/2)) points per dimension


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
        body: embodiment (:data:`envs.walker.bodies.BODIES`). Default ``default``
            (``old_classic_bipedal``).
        height_range: stump-height-mean range: ``default`` [0, 3], ``unfeasible`` [0, 9],
            ``trivial`` [-3, 3] (TMA challenges), or ``[low, high]``. Default ``default``.
        spacing_range: spacing range in world units (TMA's unit). Default [0, 6] (TMA).
        stump_height_std: per-stump height spread when it is not a task dimension. Default
            0.1 (TMA).
        vary_spread: add ``stump_height_std`` as a third task dimension over ``spread_range``.
            Default False (the published 2-D space).
        spread_range: range of that dimension. Default [0, 1] (ours).
        stump_width: stump width in terrain steps. Default 1 (ours; gymnasium's hardcore
            stumps are 1-2 steps).
        roughness: TMA's ground roughness (``U(-r, r) / SCALE`` added to the ground's
            velocity once per gap). Default 0: flat ground, as in TMA's stump benchmark.
        test_range: ``[[h_low, h_high], [s_low, s_high]]`` of the 10 x 10 test grid. Default
            TMA's [[0, 3], [0, 6]] for every ``height_range`` (TMA tests all five stump
            challenges on this grid); it must lie inside the task space.
        render_mode: ``None`` or ``"rgb_array"``.
    """

    def __init__(self, body: str | BodySpec = "default", height_range: str | Sequence[float] = "default",
                 spacing_range: Sequence[float] = (0.0, 6.0), stump_height_std: float = 0.1,
                 vary_spread: bool = False, spread_range: Sequence[float] = (0.0, 1.0), stump_width: float = 1.0,
                 roughness: float = 0.0, test_range: Sequence[Sequence[float]] = TEST_RANGE,
                 render_mode: str | None = None) -> None:
        super().__init__(body=body, render_mode=render_mode)
        ezpickle(self, body=body, height_range=height_range, spacing_range=spacing_range,
                 stump_height_std=stump_height_std, vary_spread=vary_spread, spread_range=spread_range,
                 stump_width=stump_width, roughness=roughness, test_range=test_range, render_mode=render_mode)
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
            Dim("stump_spacing", s_lo, s_hi, doc="gap between stumps, world units (TMA: [0, 6])"),
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
        try:
            (th_lo, th_hi), (ts_lo, ts_hi) = test_range
        except (TypeError, ValueError):
            raise TeachBenchError("env.kwargs.test_range",
                                  f"expected [[h_low, h_high], [s_low, s_high]], got {test_range!r}") from None
        th = _range("env.kwargs.test_range", (th_lo, th_hi))
        ts = _range("env.kwargs.test_range", (ts_lo, ts_hi))
        if not (h_lo <= th[0] and th[1] <= h_hi and s_lo <= ts[0] and ts[1] <= s_hi):
            raise TeachBenchError("env.kwargs.test_range", f"the test grid {[list(th), list(ts)]} must lie inside the "
                                  f"task space {[[h_lo, h_hi], [s_lo, s_hi]]}")
        self.test_range = (th, ts)

    def make_layout(self, task: Task, rng: np.random.Generator) -> Layout:
        std = task.get("stump_height_std", self.stump_height_std)
        return stump_track(rng, task["stump_height"], std, task["stump_spacing"], stump_width=self.stump_width,
                           roughness=self.roughness, startpad=self.body.startpad)

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
        """TMA's test set: the 10 x 10 grid over ``test_range`` (default height [0, 3] x
        spacing [0, 6], for every challenge), bounds included: 100 tasks. TMA lists the
        same 100 points in another order; the order does not change any score."""
        (h_lo, h_hi), (s_lo, s_hi) = self.test_range
        return [self._clip_task(float(a), float(b)) for a in np.linspace(h_lo, h_hi, TEST_GRID)
                for b in np.linspace(s_lo, s_hi, TEST_GRID)]

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
