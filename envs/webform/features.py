"""The observation: fixed-size element, element x instruction, option and global features.

docs/references.md#webform-prototype: on a prototype, a plain MLP policy learned nothing without an
element x instruction-field match feature. So besides per-element features (kind,
filled, error, required), the observation holds, for every element ``i`` of the current
page and every instruction field ``j``:

- ``key_exact``: the element's label equals key ``j`` (synonyms break it);
- ``key_overlap``: word Jaccard overlap of label and key (partial for some synonyms);
- ``order_match``: the element is the ``j``-th value-holding element of the form (the
  visual-order cue, broken by instruction shuffling and interleaved distractor inputs);
- ``value_now``: the element currently holds value ``j`` (dynamic: progress is visible);
- ``value_option``: value ``j`` is one of the element's options (or yes/no for a checkbox);
- ``kind_compat``: the element can take value ``j`` (a number field cannot take "Paris");

and for every option ``k``: present, selected, equal to value ``j``. All features are in
``[0, 1]``. Static parts are computed once per page at reset, and the dynamic parts are
patched per step for the one element that changed, which keeps a step cheap (issue 6's
goal: at least 10,000 simulator steps per second on one core).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from envs.webform import vocabulary as voc
from envs.webform.dom import FormState, js_number_ok, typed_value
from envs.webform.form import (BASE_CAPS, ELEMENT_KINDS, MAX_ELEMENTS, MAX_FIELDS, MAX_OPTIONS, MAX_PAGES, Caps,
                               Element, month_of)

E, J, K = MAX_ELEMENTS, MAX_FIELDS, MAX_OPTIONS
F_EL = 1 + len(ELEMENT_KINDS) + 5  # present, kind one-hot, filled, error, required, holds_value, rank
F_MATCH = 6
F_OPT = 2 + J
F_INS = 6
F_GLOBAL = 7


@lru_cache(maxsize=None)
def _sizes(caps: Caps) -> tuple[tuple[str, tuple[int, ...]], ...]:
    e = caps.max_elements
    return (("elements", (e, 1 + len(caps.kinds) + 5)), ("match", (e, J, F_MATCH)), ("options", (e, K, F_OPT)),
            ("instruction", (J, F_INS)), ("globals", (F_GLOBAL,)))


@lru_cache(maxsize=None)
def obs_size(caps: Caps = BASE_CAPS) -> int:
    """Length of the flat observation for ``caps`` (``OBS_SIZE`` for the default caps)."""
    return int(sum(np.prod(s) for _, s in _sizes(caps)))


_SIZES = _sizes(BASE_CAPS)
OBS_SIZE = obs_size(BASE_CAPS)
_FILLED, _ERROR = 1 + len(ELEMENT_KINDS), 2 + len(ELEMENT_KINDS)
_VALUE_NOW = 3
_TOKEN = re.compile(r"[a-z0-9]+")


def layout(caps: Caps = BASE_CAPS) -> dict[str, tuple[slice, tuple[int, ...]]]:
    """Where each named block lives in the flat observation vector."""
    return dict(_layout(caps))


@lru_cache(maxsize=None)
def _layout(caps: Caps) -> dict[str, tuple[slice, tuple[int, ...]]]:
    out, start = {}, 0
    for name, shape in _sizes(caps):
        size = int(np.prod(shape))
        out[name] = (slice(start, start + size), shape)
        start += size
    return out


_LAYOUT = layout()


def views(vec: np.ndarray, caps: Caps = BASE_CAPS) -> dict[str, np.ndarray]:
    """Named, shaped, writable views into a flat observation."""
    lay = _LAYOUT if caps is BASE_CAPS else _layout(caps)
    return {name: vec[sl].reshape(shape) for name, (sl, shape) in lay.items()}


def _tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


def _compatible(e: Element, value: str) -> bool:
    kind = e.kind
    if kind == "text":
        return True
    if kind == "number":
        return js_number_ok(value)
    if kind == "date":
        return typed_value("date", value) not in (None, "")
    if kind in ("select", "radio"):
        return value in e.options
    if kind == "checkbox":
        return value in (voc.YES, voc.NO)
    if kind in ("password", "textarea", "summary"):
        return True
    if kind == "autocomplete":
        return value != ""  # its items are not on the page before typing
    if kind == "datepicker":
        return month_of(value) >= 0
    return False


def _filled(e: Element, value: str) -> float:
    return float(value == voc.YES) if e.kind == "checkbox" else float(value != "")


@lru_cache(maxsize=None)
def _kind_columns(caps: Caps) -> dict[str, int]:
    """Column of each kind's one-hot in an element row."""
    return {k: 1 + idx for idx, k in enumerate(caps.kinds)}


@dataclass
class _Page:
    vec: np.ndarray
    v: dict[str, np.ndarray]


class Encoder:
    """Builds and incrementally updates the observation of one :class:`FormState`.

    With the widget caps, results-page rows get the match features of their label and
    value (as a field would), and the items of an open suggestion list or calendar are
    written after the page's elements (:meth:`refresh_overlay`): kind, and in
    ``value_option`` whether clicking the item puts instruction value ``j`` into its widget
    (a suggestion or a day cell), or moves the calendar towards value ``j``'s month
    (Prev / Next), all read off what the page and the instruction show.
    """

    def __init__(self, state: FormState, caps: Caps = BASE_CAPS) -> None:
        self.state = state
        self.caps = caps
        kinds = caps.kinds
        self._filled, self._error = 1 + len(kinds), 2 + len(kinds)
        self._kind = _kind_columns(caps)
        self._max_pages = MAX_PAGES + int(caps.widgets)  # the widget caps add a results page
        form = state.form
        n_value = sum(1 for _ in form.value_elements())
        key_tokens = [_tokens(k) for k in form.keys]
        self.pages: list[_Page] = []
        self._overlay_rows = 0  # overlay rows written on the current page
        ins = np.zeros((J, F_INS), dtype=np.float32)
        for j, value in enumerate(form.values):
            ins[j] = (1.0, js_number_ok(value), _compatible(Element("date", ""), value),
                      value in (voc.YES, voc.NO), not (js_number_ok(value) or value in (voc.YES, voc.NO)), j / J)
        n = form.n_fields
        keys_lower = [k.lower() for k in form.keys]
        f_el = 1 + len(kinds) + 5
        for p, page in enumerate(form.pages):
            vec = np.zeros(obs_size(caps), dtype=np.float32)
            v = views(vec, caps)
            v["instruction"][:] = ins
            elements, match, options = v["elements"], v["match"], v["options"]
            for i, e in enumerate(page):
                row = [0.0] * f_el
                row[0] = 1.0
                row[self._kind[e.kind]] = 1.0
                row[self._error + 1] = float(e.required)
                row[self._error + 2] = float(e.holds_value)
                row[self._error + 3] = e.rank / max(1, n_value) if e.holds_value else 0.0
                elements[i] = row
                if not (e.holds_value or e.kind == "summary"):
                    continue
                label_lower = e.label.lower()
                label_tokens = _tokens(e.label)
                rows = []
                for j in range(n):
                    value = form.values[j]
                    union = label_tokens | key_tokens[j]
                    rows.append((
                        float(label_lower == keys_lower[j]),
                        len(label_tokens & key_tokens[j]) / len(union) if union else 0.0,
                        float(e.rank == j),
                        0.0,
                        float(value in e.options or (e.kind == "checkbox" and value in (voc.YES, voc.NO))),
                        float(_compatible(e, value)),
                    ))
                match[i, :n] = rows
                if not e.holds_value:  # a results-page row: only its label's match (and its value, below)
                    match[i, :n, 2] = 0.0
                    match[i, :n, 5] = 0.0
                if e.options:
                    eq = [[1.0, 0.0, *(float(o == value) for value in form.values)] for o in e.options]
                    options[i, : len(e.options), : 2 + n] = eq
            self.pages.append(_Page(vec, v))
            for i in range(len(page)):
                self.refresh_element(p, i)
        self._n_pages = len(form.pages)

    def refresh_element(self, p: int, i: int) -> None:
        """Patch the dynamic features of element ``i`` of page ``p`` after its value changed."""
        e = self.state.form.pages[p][i]
        if not (e.holds_value or e.kind == "summary"):
            return
        value = self.state.values[p][i]
        v = self.pages[p].v
        v["elements"][i, self._filled] = _filled(e, value)
        for j, target in enumerate(self.state.form.values):
            v["match"][i, j, _VALUE_NOW] = float(value == target)
        for k, option in enumerate(e.options):
            v["options"][i, k, 1] = float(option == value)

    def refresh_page(self, p: int) -> None:
        """Patch every element of page ``p`` (the results page, when it is shown)."""
        for i in range(len(self.state.form.pages[p])):
            self.refresh_element(p, i)

    def refresh_overlay(self, p: int) -> None:
        """Rewrite the overlay rows of page ``p`` (after it opened, changed or closed)."""
        v = self.pages[p].v
        base = len(self.state.form.pages[p])
        end = base + self._overlay_rows
        v["elements"][base:end] = 0.0
        v["match"][base:end] = 0.0
        self._overlay_rows = len(self.state.overlay) if self.state.page == p else 0
        values = self.state.form.values
        months = [month_of(value) for value in values]
        shown = self.state.shown_month
        elements, match = v["elements"], v["match"]
        for k, item in enumerate(self.state.overlay if self.state.page == p else ()):
            i = base + k
            elements[i, 0] = 1.0
            elements[i, self._kind[item.kind]] = 1.0
            if item.kind == "suggestion":
                hits = [item.label == value for value in values]
            elif item.kind == "day":  # the day cell's date, MM/DD/YYYY, is value j
                hits = [months[j] == shown and int(value[3:5]) == int(item.label) for j, value in enumerate(values)]
            elif item.kind == "prev_month":
                hits = [0 <= m < shown for m in months]
            else:
                hits = [m > shown for m in months]
            match[i, :len(values), 4] = hits

    def refresh_errors(self, p: int) -> None:
        self.pages[p].v["elements"][: len(self.state.errors[p]), self._error] = self.state.errors[p]

    def observation(self, steps_left: float, last_invalid: bool, last_failed: bool) -> np.ndarray:
        page = self.pages[self.state.page]
        g = page.v["globals"]
        p = self.state.page
        g[:] = (p / max(1, self._max_pages - 1), float(p == self._n_pages - 1), steps_left, float(last_invalid),
                float(last_failed), self.state.form.n_fields / J, self._n_pages / self._max_pages)
        return page.vec.copy()
