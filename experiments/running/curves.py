"""Summaries of a mastery curve shared by real runs and the simulated-student track
(light: numpy only, so the track never imports SB3)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def area_under_curve(steps: Sequence[float], values: Sequence[float], budget: float) -> float:
    """Area under the mastery curve over ``[0, budget]`` divided by the budget (a mean %).
    The curve starts at the first evaluation's value and holds its last value to the
    budget; steps beyond the budget are clipped."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    if len(steps) == 0 or budget <= 0:
        return float("nan")
    order = np.argsort(steps)
    x = np.clip(steps[order], 0, budget)
    y = values[order]
    x = np.concatenate([[0.0], x, [budget]])
    y = np.concatenate([[y[0]], y, [y[-1]]])
    return float(np.trapezoid(y, x) / budget)
