"""A scripted expert: the next action that makes progress on the current page.

Used to prove that every generated form is solvable (tests), to drive long, varied
episodes for the browser replay and the benchmark, and as a reference for the student's
success rate. It reads the simulator's hidden state (which element answers which key), so
it is not an agent baseline.
"""

from __future__ import annotations

import numpy as np

from envs.webform import vocabulary as voc
from envs.webform.dom import N_ACTIONS, FormState, encode


def oracle_action(state: FormState) -> int:
    """Fix the first wrong element of the current page, else press Next / Submit."""
    form = state.form
    page = form.pages[state.page]
    row = state.values[state.page]
    for i, e in enumerate(page):
        if not e.holds_value:
            continue
        target = form.values[e.field] if e.field >= 0 else e.initial
        if row[i] == target:
            continue
        if e.kind == "checkbox":
            return encode(i, "click")
        if e.field < 0:
            continue  # a changed distractor text input cannot be cleared: live with it
        if e.kind in ("select", "radio"):
            return encode(i, "choose", e.options.index(target))
        return encode(i, "type", e.field)
    return encode(len(page) - 1, "click")


def noisy_oracle_action(state: FormState, rng: np.random.Generator, noise: float) -> int:
    """The oracle's action, or with probability ``noise`` a uniformly random action
    (often invalid: exercises no-ops, wrong values, validation failures)."""
    if rng.random() < noise:
        return int(rng.integers(N_ACTIONS))
    return oracle_action(state)


__all__ = ["noisy_oracle_action", "oracle_action", "voc"]
