"""A scripted expert: the next action that makes progress on the current page.

Used to prove that every generated form is solvable (tests), to drive long, varied
episodes for the browser replay and the benchmark, and as a reference for the student's
success rate. It reads the simulator's hidden state (which element answers which key), so
it is not an agent baseline.

Widgets: an autocomplete is typed into (its prefix), then the instructed suggestion is
clicked (typed again when the list lacks it); a date picker is opened, moved with Prev /
Next to the instructed month, and the day is clicked. Leaving links are never clicked. In a
review flow the expert goes Back while an earlier page holds a wrong field, and on the
results page confirms only when every row shows the expected value (else goes Back).
"""

from __future__ import annotations

import numpy as np

from envs.webform import vocabulary as voc
from envs.webform.dom import FormState, encode, n_actions
from envs.webform.form import month_of


def _wrong(state: FormState, p: int, i: int) -> bool:
    """Whether element ``i`` of page ``p`` holds a value other than the expected one and
    the expert can fix it (a changed distractor text input cannot be cleared)."""
    e = state.form.pages[p][i]
    if not e.holds_value:
        return False
    target = state.form.values[e.field] if e.field >= 0 else e.initial
    return state.values[p][i] != target and (e.field >= 0 or e.kind == "checkbox")


def _overlay_action(state: FormState, target: str) -> int | None:
    """The click inside the open overlay that moves its widget towards ``target``."""
    base = len(state.form.pages[state.page])
    items = state.overlay
    if items[0].kind == "suggestion":
        for k, item in enumerate(items):
            if item.label == target:
                return encode(base + k, "click")
        return None
    month = month_of(target)
    if month < state.shown_month:
        return encode(base, "click")  # Prev
    if month > state.shown_month:
        return encode(base + 1, "click")  # Next
    return encode(base + 1 + int(target[3:5]), "click")  # day d is item 2 + d - 1


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
        if state.overlay and state.overlay_owner == i:
            action = _overlay_action(state, target)
            if action is not None:
                return action
        if e.kind in ("select", "radio"):
            return encode(i, "choose", e.options.index(target))
        if e.kind == "datepicker":
            return encode(i, "click")
        return encode(i, "type", e.field)
    if len(page) > 1 and page[-2].kind == "back" and any(_wrong(state, p, i) for p in range(state.page)
                                         for i in range(len(form.pages[p]))):
        return encode(len(page) - 2, "click")
    return encode(len(page) - 1, "click")


def noisy_oracle_action(state: FormState, rng: np.random.Generator, noise: float) -> int:
    """The oracle's action, or with probability ``noise`` a uniformly random action
    (often invalid: exercises no-ops, wrong values, validation failures)."""
    if rng.random() < noise:
        return int(rng.integers(n_actions(state.caps)))
    return oracle_action(state)


__all__ = ["noisy_oracle_action", "oracle_action", "voc"]
