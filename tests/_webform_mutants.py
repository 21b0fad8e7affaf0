"""Planted simulator bugs for the browser check's mutation test (tests/test_webform_browser.py).

Each mutant is a context manager that patches one plausible bug into the simulator
(``envs/webform/dom.py``, the env's change reporting or its observation encoder) and
undoes it on exit. The browser check must catch every one: an episode of the mix whose
replay disagrees with the mutated simulator. What each mutant models:

- ``range_low_excluded``: the number range rule is off by one (``low < x`` instead of
  ``low <= x``), so the minimum itself fails validation;
- ``pattern_ignored``: format rules (``pattern``) are never checked;
- ``typed_into_wrong_field``: typed text lands in the field that answers the typed
  instruction key instead of the element the action named;
- ``invalid_click_clears_field``: clicking a text, number or date input (``not_clickable``,
  a no-op) clears it;
- ``submit_ignores_required``: "Submit" accepts empty fields (required is checked by
  "Next" only), so a form with an empty required field submits;
- ``checkbox_click_always_checks``: clicking a checked checkbox leaves it checked;
- ``mask_allows_rejected_numbers``: the action mask offers typing any value into a number
  input, though the browser refuses non-numbers (state and reasons still agree: only the
  mask check can see it);
- ``stale_error_feature``: the observation's error feature is set by a failed validation
  but never cleared (the state agrees: only the observation check can see it);
- ``choose_change_unreported``: choosing an option changes the value but the step does
  not report which element changed, so the observation keeps the old option (only the
  observation check can see it).
"""

from __future__ import annotations

import contextlib
import re
from typing import Callable, Iterator
from unittest import mock

import numpy as np

from envs.webform import dom
from envs.webform import vocabulary as voc
from envs.webform.dom import TYPEABLE, FormState, decode, encode
from envs.webform.features import _ERROR, Encoder
from envs.webform.form import MAX_ELEMENTS, Element

_field_error = dom.field_error
_step = FormState.step
_valid_mask = FormState.valid_mask


def _patch_step(new: Callable) -> contextlib.AbstractContextManager:
    return mock.patch.object(FormState, "step", new)


@contextlib.contextmanager
def range_low_excluded() -> Iterator[None]:
    def field_error(e: Element, value: str) -> bool:
        if value != "" and e.low is not None and e.high is not None:
            try:
                number = float(value)
            except ValueError:
                return True
            if number == e.low:  # low <= x became low < x
                return True
        return _field_error(e, value)

    with mock.patch.object(dom, "field_error", field_error):
        yield


@contextlib.contextmanager
def pattern_ignored() -> Iterator[None]:
    def field_error(e: Element, value: str) -> bool:
        if e.pattern and value != "" and re.fullmatch(e.pattern, value) is None:
            return False if e.low is None else _field_error(e, value)
        return _field_error(e, value)

    with mock.patch.object(dom, "field_error", field_error):
        yield


@contextlib.contextmanager
def typed_into_wrong_field() -> Iterator[None]:
    def step(self: FormState, action: int) -> dom.StepOutcome:
        i, op, arg = decode(action)
        if 0 <= action < dom.N_ACTIONS and op == "type" and self.valid(i, op, arg) == "" and arg < self.form.n_fields:
            p, k = self._field_pos[arg]
            if p == self.page and k != i and self.valid(k, op, arg) == "":
                action = encode(k, "type", arg)
        return _step(self, action)

    with _patch_step(step):
        yield


@contextlib.contextmanager
def invalid_click_clears_field() -> Iterator[None]:
    def step(self: FormState, action: int) -> dom.StepOutcome:
        out = _step(self, action)
        i, op, _ = decode(action)
        if out.invalid == "not_clickable" and self.elements[i].kind in TYPEABLE:
            self.values[self.page][i] = ""
        return out

    with _patch_step(step):
        yield


@contextlib.contextmanager
def submit_ignores_required() -> Iterator[None]:
    def lenient(e: Element, value: str) -> bool:
        return False if value == "" else _field_error(e, value)

    def step(self: FormState, action: int) -> dom.StepOutcome:
        i, op, _ = decode(action)
        on_submit = (0 <= action < dom.N_ACTIONS and op == "click" and i < len(self.elements)
                     and self.elements[i].kind == "submit")
        with mock.patch.object(dom, "field_error", lenient if on_submit else dom.field_error):
            return _step(self, action)

    with _patch_step(step):
        yield


@contextlib.contextmanager
def checkbox_click_always_checks() -> Iterator[None]:
    def step(self: FormState, action: int) -> dom.StepOutcome:
        i, op, _ = decode(action)
        checked = (0 <= action < dom.N_ACTIONS and i < len(self.elements) and self.elements[i].kind == "checkbox"
                   and self.values[self.page][i] == voc.YES)
        out = _step(self, action)
        if checked and out.invalid == "" and op == "click":
            self.values[self.page][i] = voc.YES
        return out

    with _patch_step(step):
        yield


@contextlib.contextmanager
def mask_allows_rejected_numbers() -> Iterator[None]:
    def valid_mask(self: FormState) -> np.ndarray:
        mask = _valid_mask(self).reshape(MAX_ELEMENTS, dom.SLOTS)
        if self.submitted is None:
            for i, e in enumerate(self.elements):
                if e.kind == "number":
                    mask[i, 1:1 + self.form.n_fields] = True
        return mask.reshape(-1)

    with mock.patch.object(FormState, "valid_mask", valid_mask):
        yield


@contextlib.contextmanager
def stale_error_feature() -> Iterator[None]:
    def refresh_errors(self: Encoder, p: int) -> None:
        rows = self.pages[p].v["elements"]
        n = len(self.state.errors[p])
        rows[:n, _ERROR] = np.maximum(rows[:n, _ERROR], self.state.errors[p])

    with mock.patch.object(Encoder, "refresh_errors", refresh_errors):
        yield


@contextlib.contextmanager
def choose_change_unreported() -> Iterator[None]:
    def step(self: FormState, action: int) -> dom.StepOutcome:
        out = _step(self, action)
        if decode(action)[1] == "choose":
            out.changed = -1
        return out

    with _patch_step(step):
        yield


MUTANTS: dict[str, Callable[[], contextlib.AbstractContextManager]] = {
    "range_low_excluded": range_low_excluded,
    "pattern_ignored": pattern_ignored,
    "typed_into_wrong_field": typed_into_wrong_field,
    "invalid_click_clears_field": invalid_click_clears_field,
    "submit_ignores_required": submit_ignores_required,
    "checkbox_click_always_checks": checkbox_click_always_checks,
    "mask_allows_rejected_numbers": mask_allows_rejected_numbers,
    "stale_error_feature": stale_error_feature,
    "choose_change_unreported": choose_change_unreported,
}
