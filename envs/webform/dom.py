"""The pure-Python DOM model: what each action does to a form, as a browser would.

This module is the simulator's ground truth and the contract the browser replay checks.
Its rules copy what Chromium and Playwright do, not what would be convenient:

- typing a value into ``<input type=number>`` that JavaScript's ``Number()`` cannot parse
  is refused (Playwright's ``fill`` throws "Cannot type text into input[type=number]"), so
  it is an invalid action that changes nothing;
- typing a non-date into ``<input type=date>`` is accepted and *clears* the field (the
  browser sanitises the value to ``""``);
- "Next" and "Submit" validate the fields of the current page (required, format, range)
  and stay on the page, marking errors, when a rule fails.

Actions are flat indices ``i * SLOTS + r`` over (element ``i`` of the current page,
``r``): ``r = 0`` click, ``r = 1..J`` type instruction value ``j = r - 1``, ``r = J+1..J+K``
choose option ``k = r - J - 1``. An action on a missing element, a missing value or option,
or a kind that does not support it is a no-op reported by :class:`StepOutcome` (never an
exception).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

import numpy as np

from envs.webform import vocabulary as voc
from envs.webform.form import MAX_ELEMENTS, MAX_FIELDS, MAX_OPTIONS, Element, Form

SLOTS = 1 + MAX_FIELDS + MAX_OPTIONS
N_ACTIONS = MAX_ELEMENTS * SLOTS

CLICKABLE = frozenset({"checkbox", "link", "button", "next", "submit"})
TYPEABLE = frozenset({"text", "number", "date"})
CHOOSABLE = frozenset({"select", "radio"})

# Strings JavaScript's Number() parses (after trim), restricted to ASCII digits.
_JS_NUMBER = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?|Infinity)"
    r"|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|"
)
# HTML's "valid floating-point number": what an <input type=number> keeps as its value.
_HTML_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def decode(action: int) -> tuple[int, str, int]:
    """``(element index, op, argument)`` with op in ``click``, ``type``, ``choose``."""
    i, r = divmod(int(action), SLOTS)
    if r == 0:
        return i, "click", 0
    if r <= MAX_FIELDS:
        return i, "type", r - 1
    return i, "choose", r - 1 - MAX_FIELDS


def encode(i: int, op: str, arg: int = 0) -> int:
    """Inverse of :func:`decode`."""
    if op == "click":
        return i * SLOTS
    if op == "type":
        return i * SLOTS + 1 + arg
    if op == "choose":
        return i * SLOTS + 1 + MAX_FIELDS + arg
    raise ValueError(op)


def js_number_ok(text: str) -> bool:
    """Whether ``Number(text.trim())`` is not NaN (for the strings our pools contain)."""
    return _JS_NUMBER.fullmatch(text.strip()) is not None


def typed_value(kind: str, value: str) -> str | None:
    """The field's value after Playwright's ``fill(value)``; ``None`` when refused."""
    if kind == "text":
        return value.replace("\r", "").replace("\n", "")
    if kind == "number":
        t = value.strip()
        if not js_number_ok(t):
            return None
        return t if _HTML_FLOAT.fullmatch(t) else ""
    if kind == "date":
        t = value.strip()
        if _DATE.fullmatch(t):
            try:
                _dt.date.fromisoformat(t)
                return t
            except ValueError:
                return ""
        return ""
    return None


def field_error(e: Element, value: str) -> bool:
    """The validation rule of one element (mirrored by the page's JavaScript)."""
    if e.required and value == "":
        return True
    if value == "":
        return False
    if e.pattern and re.fullmatch(e.pattern, value) is None:
        return True
    if e.low is not None and e.high is not None:
        try:
            number = float(value)
        except ValueError:
            return True
        return not (e.low <= number <= e.high)
    return False


@dataclass
class StepOutcome:
    """What one action did."""

    invalid: str = ""  # "" when valid, else the reason ("no_element", "not_typeable", ...)
    changed: int = -1  # index (current page) of the element whose value changed, or -1
    page_changed: bool = False
    validation_failed: bool = False
    submitted: bool = False


class FormState:
    """The mutable state of one form: current values, page, errors, submission.

    ``append=True`` gives typing MiniWoB++'s semantics: it sends one key event per
    character to the focused field, so the text lands after what the field already holds
    (fixing a wrong value would need select-all and delete, which its "liu18" actions lack).
    Text and number inputs then hold ``old + value`` (a number input keeps it when the
    result is still a number, as Chromium does for digit keys); a date input keeps the fill
    semantics, because Chromium's date input takes key events segment by segment
    (month, day, year), not as appended text. ``append=False`` (default) is Playwright's
    ``fill``, which replaces the value (what the browser replay checks).
    """

    def __init__(self, form: Form, append: bool = False) -> None:
        self.form = form
        self.append = bool(append)
        self.page = 0
        # values[p][i] for every element (links/buttons hold "")
        self.values: list[list[str]] = [[e.initial for e in page] for page in form.pages]
        self.errors: list[list[bool]] = [[False] * len(page) for page in form.pages]
        self.submitted: dict[str, str] | None = None
        self._n_fields = form.n_fields
        self._number_ok = [js_number_ok(v) for v in form.values]
        # field index -> (page, i); distractor inputs -> (page, i)
        self._field_pos: list[tuple[int, int]] = [(0, 0)] * form.n_fields
        self._distractor_pos: list[tuple[int, int]] = []
        for p, page in enumerate(form.pages):
            for i, e in enumerate(page):
                if e.field >= 0:
                    self._field_pos[e.field] = (p, i)
                elif e.holds_value:
                    self._distractor_pos.append((p, i))

    # -- reading ---------------------------------------------------------------------------
    @property
    def elements(self) -> tuple[Element, ...]:
        return self.form.pages[self.page]

    def current_values(self) -> dict[str, str]:
        """Every submitted element's current value by DOM id (what the browser reports)."""
        return {e.name: self.values[p][i] for p, page in enumerate(self.form.pages)
                for i, e in enumerate(page) if e.holds_value}

    def potential(self) -> float:
        """Fields holding their instructed value, minus distractor inputs changed, over
        the number of fields: the potential of the optional shaped reward."""
        good = sum(1 for j, (p, i) in enumerate(self._field_pos) if self.values[p][i] == self.form.values[j])
        bad = sum(1 for p, i in self._distractor_pos if self.values[p][i] != self.form.pages[p][i].initial)
        return (good - bad) / self._n_fields

    def success(self) -> bool:
        """Whether the submitted form holds exactly the instructed values."""
        return self.submitted is not None and self.submitted == self.form.expected()

    # -- acting ----------------------------------------------------------------------------
    def valid(self, i: int, op: str, arg: int) -> str:
        """``""`` if the action is valid on the current page, else why not."""
        page = self.form.pages[self.page]
        if self.submitted is not None:
            return "submitted"
        if not 0 <= i < len(page):
            return "no_element"
        e = page[i]
        if op == "click":
            return "" if e.kind in CLICKABLE else "not_clickable"
        if op == "type":
            if arg >= self._n_fields:
                return "no_value"
            if e.kind not in TYPEABLE:
                return "not_typeable"
            if e.kind == "number" and not self._number_ok[arg]:
                return "rejected"
            return ""
        if op == "choose":
            if e.kind not in CHOOSABLE:
                return "not_choosable"
            return "" if arg < len(e.options) else "no_option"
        return "unknown_op"

    def step(self, action: int) -> StepOutcome:
        i, op, arg = decode(action)
        out = StepOutcome()
        if not 0 <= int(action) < N_ACTIONS:
            out.invalid = "out_of_range"
            return out
        reason = self.valid(i, op, arg)
        if reason:
            out.invalid = reason
            return out
        p = self.page
        e = self.form.pages[p][i]
        row = self.values[p]
        if op == "type":
            text = self.form.values[arg]
            if self.append and e.kind in ("text", "number"):
                text = row[i] + text
            new = typed_value(e.kind, text)
            if new is not None and new != row[i]:
                row[i] = new
                out.changed = i
        elif op == "choose":
            new = e.options[arg]
            if new != row[i]:
                row[i] = new
                out.changed = i
        elif e.kind == "checkbox":
            row[i] = voc.NO if row[i] == voc.YES else voc.YES
            out.changed = i
        elif e.kind in ("next", "submit"):
            errs = [field_error(el, row[k]) if el.holds_value else False for k, el in enumerate(self.form.pages[p])]
            self.errors[p] = errs
            if any(errs):
                out.validation_failed = True
            elif e.kind == "next":
                self.page += 1
                out.page_changed = True
            else:
                self.submitted = self.current_values()
                out.submitted = True
        return out

    def valid_mask(self) -> np.ndarray:
        """Boolean mask over all ``N_ACTIONS`` actions of the current page (the same
        answers as :meth:`valid`, built per element for speed; a test checks they agree)."""
        mask = np.zeros((MAX_ELEMENTS, SLOTS), dtype=bool)
        if self.submitted is not None:
            return mask.reshape(-1)
        n = self._n_fields
        for i, e in enumerate(self.form.pages[self.page]):
            if e.kind in CLICKABLE:
                mask[i, 0] = True
            elif e.kind == "number":
                mask[i, 1:1 + n] = self._number_ok
            elif e.kind in TYPEABLE:
                mask[i, 1:1 + n] = True
            elif e.kind in CHOOSABLE:
                mask[i, 1 + MAX_FIELDS:1 + MAX_FIELDS + len(e.options)] = True
        return mask.reshape(-1)
