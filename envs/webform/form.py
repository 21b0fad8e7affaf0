"""Forms as data, and the generator that builds one from a TaskSpace point.

A :class:`Form` is everything needed to simulate, render and replay one episode: pages of
elements (instructed fields, distractors, a "Next" or "Submit" button), the instruction
(key-value pairs in instruction order, keys possibly synonyms), initial values and
validation rules. It is plain, immutable data: the simulator (``dom.py``) keeps the
mutable state, the renderer (``html.py``) turns the same object into HTML.

The TaskSpace dimensions are the levers named in issue 6 and docs/references.md#qweb / #webform-prototype:
number of fields, mix of field kinds, distractors, pages, instruction order and label
synonyms, validation rules, and QWeb's "most fields already correct" (``prefilled``).
The space's lower corner is a one-text-field form, the easiest non-trivial task.

``widgets=True`` (the env's keyword, :data:`WIDGET_CAPS`) extends the space with the widgets
and flows of issue 19 and raises the page size to 100 elements; the default space, its
forms and the observation / action spaces sized by :data:`BASE_CAPS` are unchanged:

- ``widget_rate``: probability that a field is a widget instead: a password input, a
  textarea, an autocomplete or a date picker (uniformly; see :data:`WIDGET_KINDS`);
- ``leave_rate``: probability that a distractor link leaves the page (kind ``exit``):
  clicking it ends the episode as a failure;
- ``review_rate``: probability of a review flow: pages after the first get a Back button,
  and Submit leads to a results page that lists the entered values, with Back (to the
  last form page, values kept) and Confirm (the actual submission, which ends the episode);
- ``n_distractors`` goes up to :data:`WIDGET_CAPS` ``.max_distractors`` (57): a page of 8
  fields, 57 distractors, Back and Submit holds 67 elements, plus at most 33 of an open
  calendar = 100.

The widget draws come after every draw of the default generator from the same stream, so
a widget-space task whose three new dimensions are 0 gives exactly the default form.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from dataclasses import field as dc_field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Dim, Task, TaskSpace
from envs.webform import vocabulary as voc

MAX_FIELDS = 8
MAX_DISTRACTORS = 10
MAX_PAGES = 3
MAX_OPTIONS = 5  # options shown per select / radio group (the action space's K)
# Per page: every field + every distractor + the Next/Submit button (single-page corner).
MAX_ELEMENTS = MAX_FIELDS + MAX_DISTRACTORS + 2

NAV_KINDS = ("next", "submit")
ELEMENT_KINDS: tuple[str, ...] = ("text", "number", "date", "select", "radio", "checkbox", "link", "button", "next", "submit")
# Widget-space kinds: value-holding widgets, a leaving link, the review flow's buttons and
# result rows, and the overlay items an open autocomplete / calendar adds to the page.
WIDGET_KINDS: tuple[str, ...] = voc.WIDGET_KINDS
OVERLAY_KINDS: tuple[str, ...] = ("suggestion", "prev_month", "next_month", "day")
WIDGET_ELEMENT_KINDS: tuple[str, ...] = (*WIDGET_KINDS, "exit", "back", "confirm", "summary", *OVERLAY_KINDS)
# elements that hold a submitted value
VALUE_KINDS = ("text", "number", "date", "select", "radio", "checkbox", *WIDGET_KINDS)

AUTOCOMPLETE_PREFIX = 2  # characters a type action enters into an autocomplete (use-autocomplete's shortest hint)
MAX_SUGGESTIONS = 8  # suggestions shown at most (ours; jQuery UI shows every match)
CALENDAR_SPAN = 2  # a date picker's range: its opening month +- this many months
MAX_OVERLAY = 2 + 31  # Prev, Next and the days of one month
WIDGET_MAX_ELEMENTS = 100


@dataclass(frozen=True)
class Caps:
    """The sizes the observation and action spaces are built for: element slots per page,
    the element kinds of the one-hot, and the largest ``n_distractors``."""

    name: str
    max_elements: int
    max_distractors: int
    kinds: tuple[str, ...]
    widgets: bool


BASE_CAPS = Caps("base", MAX_ELEMENTS, MAX_DISTRACTORS, ELEMENT_KINDS, False)
WIDGET_CAPS = Caps("widgets", WIDGET_MAX_ELEMENTS, WIDGET_MAX_ELEMENTS - MAX_FIELDS - 2 - MAX_OVERLAY,
                   ELEMENT_KINDS + WIDGET_ELEMENT_KINDS, True)


def make_task_space(caps: Caps = BASE_CAPS) -> TaskSpace:
    """The webform TaskSpace (a new immutable object per call); ``WIDGET_CAPS`` adds the
    widget dimensions after the eight base ones."""
    widgets = (
        Dim("widget_rate", 0.0, 1.0,
            doc="probability that a field is a password, textarea, autocomplete or date picker"),
        Dim("leave_rate", 0.0, 1.0, doc="probability that a distractor link leaves the page (a failure)"),
        Dim("review_rate", 0.0, 1.0, doc="probability of Back buttons and a results page to confirm"),
    ) if caps.widgets else ()
    return TaskSpace((
        Dim("n_fields", 1, MAX_FIELDS, "discrete", doc="instructed fields"),
        Dim("kind_mix", 0.0, 1.0, doc="probability that a field is not a text input"),
        Dim("n_distractors", 0, caps.max_distractors, "discrete", doc="links, buttons and irrelevant inputs"),
        Dim("n_pages", 1, MAX_PAGES, "discrete", doc="pages joined by a Next button (at most n_fields)"),
        Dim("order_shuffle", 0.0, 1.0, doc="probability that the instruction lists keys out of page order"),
        Dim("synonym_rate", 0.0, 1.0, doc="probability that a key is a synonym of the label"),
        Dim("validation_rate", 0.0, 1.0, doc="probability that a field is required / has a format rule"),
        Dim("prefilled", 0.0, 1.0, doc="fraction of fields that already hold the instructed value"),
        *widgets,
    ))


@dataclass(frozen=True)
class Element:
    """One interactive element. ``name`` is its DOM id (and, for value-holding elements,
    its key in the submitted values). ``field`` is the instruction index it answers, or -1
    (distractor or navigation button)."""

    kind: str
    label: str
    name: str = ""
    field: int = -1
    options: tuple[str, ...] = ()
    initial: str = ""
    required: bool = False
    pattern: str = ""
    low: float | None = None
    high: float | None = None
    rank: int = 0  # position among all value-holding elements of the form (visual order)
    source: tuple[str, ...] = ()  # an autocomplete's items (not shown until typed into)
    calendar: tuple[int, ...] = ()  # a date picker's (first, opening, last) month as year * 12 + month - 1
    ref: str = ""  # a results-page row: the name of the element whose value it shows

    holds_value: bool = dc_field(init=False, default=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "holds_value", self.kind in VALUE_KINDS)


@dataclass(frozen=True)
class Form:
    """A generated form: pages of elements and the instruction."""

    pages: tuple[tuple[Element, ...], ...]
    keys: tuple[str, ...]  # instruction keys, instruction order
    values: tuple[str, ...]  # instructed values, instruction order
    task: Mapping[str, object] = dc_field(default_factory=dict)

    @property
    def n_fields(self) -> int:
        return len(self.keys)

    @property
    def review(self) -> bool:
        """Whether the last page is a results page (Submit shows it, Confirm submits)."""
        return self.pages[-1][-1].kind == "confirm"

    def min_actions(self) -> int:
        """Actions an expert needs at most: one per field (two for an autocomplete: type,
        click a suggestion; a date picker: open, move to the month, click the day) and one
        per page (Next / Submit / Confirm). For default forms: ``n_fields + n_pages``."""
        n = len(self.pages)
        for e in self.value_elements():
            if e.field < 0:
                continue
            if e.kind == "autocomplete":
                n += 2
            elif e.kind == "datepicker":
                n += 2 + abs(month_of(self.values[e.field]) - e.calendar[1])
            else:
                n += 1
        return n

    def value_elements(self) -> list[Element]:
        """Every element that is submitted, in document order."""
        return [e for page in self.pages for e in page if e.holds_value]

    def expected(self) -> dict[str, str]:
        """The submitted values that count as success: instructed values for fields,
        initial values for distractor inputs ("exactly the instructed values")."""
        out = {}
        for e in self.value_elements():
            out[e.name] = self.values[e.field] if e.field >= 0 else e.initial
        return out

    def instruction_text(self) -> str:
        pairs = ", ".join(f"{k}: {v}" for k, v in zip(self.keys, self.values))
        return f"Fill in the form with {pairs}, then submit."


def month_of(value: str) -> int:
    """``year * 12 + month - 1`` of a date picker's ``MM/DD/YYYY`` value (jQuery UI's default
    ``mm/dd/yy`` format, as MiniWoB++'s choose-date); -1 if it is not one."""
    if len(value) != 10 or value[2] != "/" or value[5] != "/":
        return -1
    try:
        return int(value[6:]) * 12 + int(value[:2]) - 1
    except ValueError:
        return -1


def date_text(month: int, day: int) -> str:
    """The ``MM/DD/YYYY`` text of ``day`` in ``month`` (``year * 12 + month - 1``)."""
    return f"{month % 12 + 1:02d}/{day:02d}/{month // 12:04d}"


def days_in(month: int) -> int:
    year, m = divmod(month, 12)
    nxt = _dt.date(year + (m == 11), (m + 1) % 12 + 1, 1)
    return (nxt - _dt.date(year, m + 1, 1)).days


def suggestions(source: tuple[str, ...], typed: str) -> tuple[str, ...]:
    """The suggestions an autocomplete shows for ``typed``: its items that start with it,
    case-insensitively (use-autocomplete's matcher ``new RegExp('^' + term, 'i')``), in source
    order, at most :data:`MAX_SUGGESTIONS`; none for an empty text (jQuery UI's minLength 1)."""
    if not typed:
        return ()
    t = typed.lower()
    return tuple(item for item in source if item.lower().startswith(t))[:MAX_SUGGESTIONS]


class _Draws:
    """Uniform numbers drawn from the env's Generator in one batch.

    A form needs a few dozen random choices; one ``Generator.random(n)`` call is far cheaper
    than dozens of scalar calls (form generation is part of every reset, and the issue asks
    for >= 10,000 steps/s). Still fully determined by the Generator's state.
    """

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        self._u = rng.random(n).tolist()
        self._rng = rng
        self._i = 0

    def random(self) -> float:
        if self._i >= len(self._u):
            self._u = self._rng.random(64).tolist()
            self._i = 0
        self._i += 1
        return self._u[self._i - 1]

    def below(self, n: int) -> int:
        """An integer in ``[0, n)``."""
        return min(int(self.random() * n), n - 1)

    def pick(self, items: tuple | list) -> object:
        return items[self.below(len(items))]

    def sample(self, n: int, k: int) -> list[int]:
        """``k`` distinct integers of ``[0, n)`` in random order (partial Fisher-Yates)."""
        pool = list(range(n))
        for a in range(k):
            b = a + self.below(n - a)
            pool[a], pool[b] = pool[b], pool[a]
        return pool[:k]


_BY_KIND: Mapping[str, tuple[voc.Concept, ...]] = MappingProxyType(
    {kind: voc.concepts_of_kind(kind) for kind in voc.FIELD_KINDS})
_DAY0 = _dt.date(1950, 1, 1).toordinal()
_DISTRACTOR_LABELS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "text": voc.DISTRACTOR_INPUT_LABELS, "checkbox": voc.DISTRACTOR_CHECKBOX_LABELS,
    "link": voc.DISTRACTOR_LINK_LABELS, "button": voc.DISTRACTOR_BUTTON_LABELS})


def generate_form(task: Task, rng: np.random.Generator, space: TaskSpace | None = None) -> Form:
    """A random form for ``task`` (validated against the webform TaskSpace).

    Every corner of the space gives a valid form: pages are capped at the number of
    fields (each page holds at least one field), concepts are drawn without replacement
    per kind with a fallback to text when a kind runs out, and values are distinct.
    """
    space = space or make_task_space()
    task = space.validate(task)
    n = int(task["n_fields"])
    n_pages = max(1, min(int(task["n_pages"]), n))
    n_dis = int(task["n_distractors"])
    draw = _Draws(rng, 8 * n + 3 * n_dis + 8)

    # -- concepts and values ------------------------------------------------------------
    used: set[str] = set()
    taken: set[str] = set()
    fields: list[tuple[voc.Concept, str, tuple[str, ...]]] = []
    for _ in range(n):
        kind = "text"
        if draw.random() < float(task["kind_mix"]):
            kind = str(draw.pick(voc.NON_TEXT_KINDS))
        pool = [c for c in _BY_KIND[kind] if c.label not in used]
        if not pool:
            pool = [c for c in _BY_KIND["text"] if c.label not in used]
        concept = pool[draw.below(len(pool))]
        used.add(concept.label)
        options: tuple[str, ...] = ()
        if concept.kind == "text":
            value = str(draw.pick([v for v in concept.values if v not in taken] or concept.values))
        elif concept.kind == "number":
            value = str(concept.low + draw.below(concept.high - concept.low + 1))
        elif concept.kind == "date":
            value = _dt.date.fromordinal(_DAY0 + draw.below(80 * 365)).isoformat()
        elif concept.kind == "checkbox":
            value = voc.YES if draw.random() < 0.5 else voc.NO
        else:
            k = 3 + draw.below(min(MAX_OPTIONS, len(concept.values)) - 2)
            options = tuple(concept.values[i] for i in sorted(draw.sample(len(concept.values), k)))
            value = str(draw.pick(options))
        taken.add(value)
        fields.append((concept, value, options))

    # -- instruction: order and phrasing --------------------------------------------------
    order = list(range(n))
    if n > 1 and draw.random() < float(task["order_shuffle"]):
        order = draw.sample(n, n)
    keys, values = [], []
    instruction_index = [0] * n
    for j, f in enumerate(order):
        concept, value, _ = fields[f]
        key = concept.label
        if draw.random() < float(task["synonym_rate"]):
            key = str(draw.pick(concept.synonyms))
        keys.append(key)
        values.append(value)
        instruction_index[f] = j

    # -- element specs (kwargs of Element, named at the end) ----------------------------
    n_prefilled = int(np.floor(float(task["prefilled"]) * n + 1e-9))
    prefilled = set(draw.sample(n, n_prefilled))
    specs: list[dict] = []
    for f, (concept, value, options) in enumerate(fields):
        validate = draw.random() < float(task["validation_rate"])
        initial = value if f in prefilled else ""
        if concept.kind == "checkbox":
            # An unfilled checkbox starts in the wrong state, so each one needs a click.
            initial = value if f in prefilled else (voc.NO if value == voc.YES else voc.YES)
        number_rule = validate and concept.kind == "number"
        specs.append(dict(
            kind=concept.kind, label=concept.label, field=instruction_index[f], options=options, initial=initial,
            required=validate and concept.kind != "checkbox", pattern=concept.pattern if validate else "",
            low=float(concept.low) if number_rule else None, high=float(concept.high) if number_rule else None,
        ))

    # Split fields over pages (each page >= 1 field), then scatter distractors.
    cuts = sorted(1 + c for c in draw.sample(n - 1, n_pages - 1))
    bounds = [0, *cuts, n]
    pages: list[list[dict]] = [specs[bounds[p]:bounds[p + 1]] for p in range(n_pages)]
    remaining = {kind: list(labels) for kind, labels in _DISTRACTOR_LABELS.items()}
    for _ in range(n_dis):
        kind = str(draw.pick(voc.DISTRACTOR_KINDS))
        labels = remaining[kind]
        label = labels.pop(draw.below(len(labels))) if labels else f"Extra {kind}"
        initial = (voc.YES if draw.random() < 0.5 else voc.NO) if kind == "checkbox" else ""
        page = pages[draw.below(n_pages)]
        page.insert(draw.below(len(page) + 1), dict(kind=kind, label=label, initial=initial))
    last = n_pages - 1
    for p, page in enumerate(pages):
        label = str(draw.pick(voc.SUBMIT_LABELS if p == last else voc.NEXT_LABELS))
        page.append(dict(kind="submit" if p == last else "next", label=label))
    review = False
    if "widget_rate" in task:  # every draw below comes after the default generator's
        review = _add_widgets(task, draw, specs, pages, keys, values, instruction_index, prefilled, taken)

    # Names (DOM ids) and visual ranks, in document order.
    final: list[tuple[Element, ...]] = []
    rank = counter = 0
    for page in pages:
        out = []
        for spec in page:
            counter += 1
            if spec["kind"] in VALUE_KINDS:
                out.append(Element(name=f"tb-{counter}", rank=rank, **spec))
                rank += 1
            else:
                out.append(Element(name=f"tb-{counter}", **spec))
        final.append(tuple(out))
    if review:  # the results page: one row per submitted element, then Back and Confirm
        rows = []
        for e in (e for page in final for e in page if e.holds_value):
            counter += 1
            rows.append(Element(kind="summary", label=e.label, name=f"tb-{counter}", field=e.field, ref=e.name))
        rows.append(Element(kind="back", label=str(draw.pick(voc.BACK_LABELS)), name=f"tb-{counter + 1}"))
        rows.append(Element(kind="confirm", label=str(draw.pick(voc.CONFIRM_LABELS)), name=f"tb-{counter + 2}"))
        final.append(tuple(rows))
    return Form(pages=tuple(final), keys=tuple(keys), values=tuple(values), task=dict(task))


_WIDGET_BY_KIND: Mapping[str, tuple[voc.Concept, ...]] = MappingProxyType(
    {kind: tuple(c for c in voc.WIDGET_CONCEPTS if c.kind == kind) for kind in voc.WIDGET_KINDS})
_CALENDAR_YEAR = 2016  # MiniWoB++'s choose-date draws its dates in 2016


def _add_widgets(task: Task, draw: _Draws, specs: list[dict], pages: list[list[dict]], keys: list[str],
                 values: list[str], instruction_index: list[int], prefilled: set[int], taken: set[str]) -> bool:
    """Turn fields into widgets, links into leaving links, and draw the review flow (in
    place); returns whether the form gets a results page. Draws a fixed number of numbers
    per field and per link, whatever the rates, so the stream does not depend on them."""
    used: set[str] = set()
    for f, spec in enumerate(specs):
        make = draw.random() < float(task["widget_rate"])
        kind = str(draw.pick(voc.WIDGET_KINDS))
        pick, synonym, which, month, day = draw.random(), draw.random(), draw.below(3), draw.below(8), draw.random()
        if not make:
            continue
        pool = [c for c in _WIDGET_BY_KIND[kind] if c.label not in used]
        pool = pool or [c for c in voc.WIDGET_CONCEPTS if c.label not in used]  # 8 concepts: never empty
        concept = pool[min(int(pick * len(pool)), len(pool) - 1)]
        used.add(concept.label)
        kind = concept.kind
        calendar: tuple[int, ...] = ()
        source: tuple[str, ...] = ()
        if kind == "datepicker":
            opening = _CALENDAR_YEAR * 12 + 2 + month  # March..October: the range stays in 2016
            calendar = (opening - CALENDAR_SPAN, opening, opening + CALENDAR_SPAN)
            m = opening - CALENDAR_SPAN + min(int(day * (2 * CALENDAR_SPAN + 1)), 2 * CALENDAR_SPAN)
            value = date_text(m, 1 + min(int(pick * days_in(m)), days_in(m) - 1))
        else:
            choices = [v for v in concept.values if v not in taken] or list(concept.values)
            value = choices[min(int(day * len(choices)), len(choices) - 1)]
            source = concept.values if kind == "autocomplete" else ()
        taken.add(value)
        j = instruction_index[f]
        key = concept.label
        if synonym < float(task["synonym_rate"]):
            key = concept.synonyms[which]
        keys[j], values[j] = key, value
        spec.update(kind=kind, label=concept.label, options=(), initial=value if f in prefilled else "",
                    pattern="", low=None, high=None, source=source, calendar=calendar,
                    # a date picker's input is read-only, and HTML's constraint validation skips
                    # read-only inputs: it is never required (choose-date validates nothing either)
                    required=kind != "datepicker" and bool(spec["required"] or spec["pattern"]))
    exits = list(voc.EXIT_LINK_LABELS)
    for page in pages:
        for spec in page:
            if spec["kind"] != "link":
                continue
            leave, label = draw.random() < float(task["leave_rate"]), draw.below(len(voc.EXIT_LINK_LABELS))
            if leave:
                spec.update(kind="exit", label=exits.pop(label % len(exits)) if exits else "Leave")
    if not draw.random() < float(task["review_rate"]):
        return False
    for p, page in enumerate(pages):
        if p:
            page.insert(len(page) - 1, dict(kind="back", label=str(draw.pick(voc.BACK_LABELS))))
    pages[-1][-1]["label"] = str(draw.pick(voc.REVIEW_LABELS))
    return True


def check_form(form: Form, caps: Caps = BASE_CAPS) -> None:
    """Raise :class:`TeachBenchError` if a form breaks an invariant the env relies on."""
    if not 1 <= form.n_fields <= MAX_FIELDS:
        raise TeachBenchError("form.n_fields", f"{form.n_fields} outside [1, {MAX_FIELDS}]")
    seen = sorted(e.field for e in form.value_elements() if e.field >= 0)
    if seen != list(range(form.n_fields)):
        raise TeachBenchError("form.fields", f"fields {seen} do not answer each instruction key once")
    n_form_pages = len(form.pages) - form.review
    for p, page in enumerate(form.pages):
        overlay = MAX_OVERLAY if any(e.kind == "datepicker" for e in page) else (
            MAX_SUGGESTIONS if any(e.kind == "autocomplete" for e in page) else 0)
        if len(page) + overlay > caps.max_elements:
            raise TeachBenchError("form.pages", f"page {p} has {len(page)} elements (+{overlay} of an open widget) "
                                  f"> {caps.max_elements}")
        nav = "confirm" if p == n_form_pages else "submit" if p == n_form_pages - 1 else "next"
        if page[-1].kind != nav:
            raise TeachBenchError("form.pages", f"page {p} does not end with its navigation button")
        if any(e.kind not in caps.kinds for e in page):
            raise TeachBenchError("form.kinds", f"page {p} has a kind outside {caps.name} caps")
        for e in page:
            if len(e.options) > MAX_OPTIONS:
                raise TeachBenchError("form.options", f"{e.name} has {len(e.options)} options > {MAX_OPTIONS}")
