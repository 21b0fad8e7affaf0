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

Widgets (``widgets=True``, issue 19) follow the same rule, with the browser behaviour of the
page's own script (``html.py``) and of jQuery UI, which MiniWoB++'s use-autocomplete and
choose-date tasks use:

- a password input and a textarea are typed into like a text input (a textarea keeps
  newlines);
- a type action into an autocomplete enters the first :data:`AUTOCOMPLETE_PREFIX`
  characters of the value (a user starting to type), which opens the suggestion list: the
  source items that start with the typed text (case-insensitive); clicking a suggestion
  fills the input with it and closes the list;
- a date picker is a read-only input (typing into it is refused, as Playwright refuses to
  fill a read-only input); a click opens its calendar on the month of its value, or on its
  opening month; Prev / Next move one month within its range (no-ops at the ends, as
  jQuery UI's disabled links); clicking a day fills ``MM/DD/YYYY`` and closes it;
- an open suggestion list or calendar (the *overlay*) is listed after the page's own
  elements, as jQuery UI appends it after the page content; any valid action on another
  element closes it first (jQuery UI closes on an outside mousedown or blur), then acts.
  A click on an element that is not clickable is still a mousedown outside the list: it
  closes it too, and stays an invalid action that changes nothing else (the browser
  replay found this: the page closed the list where the simulator had kept it open);
- a leaving link (``exit``) ends the episode (navigating away);
- in a review flow, Submit validates the last page and shows the results page (one row per
  submitted element with its value), Back shows the previous page (values kept, no
  validation), and Confirm submits.

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
from envs.webform.form import (AUTOCOMPLETE_PREFIX, BASE_CAPS, MAX_ELEMENTS, MAX_FIELDS, MAX_OPTIONS, Caps, Element,
                                Form, date_text, days_in, month_of, suggestions)

SLOTS = 1 + MAX_FIELDS + MAX_OPTIONS
N_ACTIONS = MAX_ELEMENTS * SLOTS

CLICKABLE = frozenset({"checkbox", "link", "button", "next", "submit",
                       "exit", "back", "confirm", "datepicker", "suggestion", "prev_month", "next_month", "day"})
TYPEABLE = frozenset({"text", "number", "date", "password", "textarea", "autocomplete"})
CHOOSABLE = frozenset({"select", "radio"})


def n_actions(caps: Caps = BASE_CAPS) -> int:
    """Size of the flat action space for ``caps`` (``N_ACTIONS`` for the default caps)."""
    return caps.max_elements * SLOTS

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


def typed_text(kind: str, value: str) -> str:
    """The text a type action enters: the value, or its first :data:`AUTOCOMPLETE_PREFIX`
    characters (code points) for an autocomplete."""
    return value[:AUTOCOMPLETE_PREFIX] if kind == "autocomplete" else value


def typed_value(kind: str, value: str) -> str | None:
    """The field's value after Playwright's ``fill(value)``; ``None`` when refused."""
    if kind in ("text", "password", "autocomplete"):
        # Playwright's fill inserts the text as typing would: in a one-line input, Chromium
        # drops trailing line breaks and turns the others into spaces (measured on
        # Debian's Chromium; a textarea value typed into a text input reads "a b").
        return value.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").replace("\n", " ")
    if kind == "textarea":
        return value.replace("\r\n", "\n").replace("\r", "\n")
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
    overlay_changed: bool = False  # a suggestion list or calendar opened, changed or closed
    left: bool = False  # a leaving link was clicked: the episode is over


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

    def __init__(self, form: Form, append: bool = False, caps: Caps = BASE_CAPS) -> None:
        self.form = form
        self.append = bool(append)
        self.caps = caps
        self._n_actions = caps.max_elements * SLOTS
        self.page = 0
        self.left = ""  # name of the leaving link clicked, if any
        self.overlay: tuple[Element, ...] = ()  # the open suggestion list / calendar items
        self.overlay_owner = -1  # index (current page) of the widget that opened it
        self.shown_month = -1  # an open calendar's month
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
                if not e.holds_value:  # results-page rows carry their field's index too
                    continue
                if e.field >= 0:
                    self._field_pos[e.field] = (p, i)
                else:
                    self._distractor_pos.append((p, i))

    # -- reading ---------------------------------------------------------------------------
    @property
    def elements(self) -> tuple[Element, ...]:
        """The current page's elements, then the open overlay's items."""
        page = self.form.pages[self.page]
        return page + self.overlay if self.overlay else page

    @property
    def over(self) -> bool:
        """Whether the episode's page interaction is over (submitted or left)."""
        return self.submitted is not None or bool(self.left)

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
        if self.left:
            return "left"
        if not 0 <= i < len(page) + len(self.overlay):
            return "no_element"
        e = page[i] if i < len(page) else self.overlay[i - len(page)]
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
        if not 0 <= int(action) < self._n_actions:
            out.invalid = "out_of_range"
            return out
        reason = self.valid(i, op, arg)
        if reason:
            out.invalid = reason
            if reason == "not_clickable" and self.overlay and i != self.overlay_owner:
                self._close(out)  # the pointer still went down outside the open list / calendar
            return out
        p = self.page
        page = self.form.pages[p]
        if i >= len(page):
            self._overlay_click(self.overlay[i - len(page)], out)
            return out
        e = page[i]
        row = self.values[p]
        if self.overlay and not (e.kind == "datepicker" and i == self.overlay_owner and op == "click"):
            self._close(out)  # an outside mousedown / focus closes it (clicking its own input does not)
        if op == "type":
            text = self.form.values[arg]
            if e.kind == "autocomplete":
                text = text[:AUTOCOMPLETE_PREFIX]  # typed_text, inlined (hot path)
            if self.append and e.kind in ("text", "number", "password", "textarea", "autocomplete"):
                text = row[i] + text
            new = typed_value(e.kind, text)
            if new is not None and new != row[i]:
                row[i] = new
                out.changed = i
            if e.kind == "autocomplete":
                self._open_suggestions(i, row[i], out)
        elif op == "choose":
            new = e.options[arg]
            if new != row[i]:
                row[i] = new
                out.changed = i
        elif e.kind == "checkbox":
            row[i] = voc.NO if row[i] == voc.YES else voc.YES
            out.changed = i
        elif e.kind in ("next", "submit"):
            errs = [field_error(el, row[k]) if el.holds_value else False for k, el in enumerate(page)]
            self.errors[p] = errs
            if any(errs):
                out.validation_failed = True
            elif e.kind == "next" or self.form.review:
                self.page += 1
                out.page_changed = True
                if e.kind == "submit":  # the results page shows what would be submitted
                    current = self.current_values()
                    results = self.form.pages[self.page]
                    self.values[self.page] = [current[r.ref] if r.kind == "summary" else "" for r in results]
            else:
                self.submitted = self.current_values()
                out.submitted = True
        elif e.kind == "datepicker":
            if not self.overlay:
                first, opening, last = e.calendar
                month = month_of(row[i])
                self._show_month(i, min(max(month, first), last) if month >= 0 else opening, out)
        elif e.kind == "exit":
            self.left = e.name
            out.left = True
        elif e.kind == "back":
            self.page -= 1
            out.page_changed = True
        elif e.kind == "confirm":
            self.submitted = self.current_values()
            out.submitted = True
        return out

    # -- the overlay (an open suggestion list or calendar) ----------------------------------
    def _close(self, out: StepOutcome) -> None:
        if self.overlay:
            self.overlay, self.overlay_owner, self.shown_month = (), -1, -1
            out.overlay_changed = True

    def _open_suggestions(self, i: int, typed: str, out: StepOutcome) -> None:
        e = self.form.pages[self.page][i]
        items = suggestions(e.source, typed)
        self.overlay = tuple(Element(kind="suggestion", label=item, field=e.field) for item in items)
        self.overlay_owner = i if items else -1
        out.overlay_changed = out.overlay_changed or bool(items)

    def _show_month(self, i: int, month: int, out: StepOutcome) -> None:
        e = self.form.pages[self.page][i]
        first, _, last = e.calendar
        self.shown_month = month
        self.overlay_owner = i
        self.overlay = (Element(kind="prev_month", label="Prev", field=e.field, calendar=(month,)),
                        Element(kind="next_month", label="Next", field=e.field, calendar=(month,)),
                        *(Element(kind="day", label=str(d), field=e.field, calendar=(month,))
                          for d in range(1, days_in(month) + 1)))
        out.overlay_changed = True

    def _overlay_click(self, item: Element, out: StepOutcome) -> None:
        owner = self.overlay_owner
        row = self.values[self.page]
        if item.kind in ("prev_month", "next_month"):
            first, _, last = self.form.pages[self.page][owner].calendar
            month = self.shown_month + (1 if item.kind == "next_month" else -1)
            if first <= month <= last:
                self._show_month(owner, month, out)
            return
        new = item.label if item.kind == "suggestion" else date_text(self.shown_month, int(item.label))
        if new != row[owner]:
            row[owner] = new
            out.changed = owner
        self._close(out)

    def valid_mask(self) -> np.ndarray:
        """Boolean mask over all ``N_ACTIONS`` actions of the current page (the same
        answers as :meth:`valid`, built per element for speed; a test checks they agree),
        overlay items included."""
        mask = np.zeros((self.caps.max_elements, SLOTS), dtype=bool)
        if self.over:
            return mask.reshape(-1)
        n = self._n_fields
        for i, e in enumerate(self.elements):
            if e.kind in CLICKABLE:
                mask[i, 0] = True
            elif e.kind == "number":
                mask[i, 1:1 + n] = self._number_ok
            elif e.kind in TYPEABLE:
                mask[i, 1:1 + n] = True
            elif e.kind in CHOOSABLE:
                mask[i, 1 + MAX_FIELDS:1 + MAX_FIELDS + len(e.options)] = True
        return mask.reshape(-1)
