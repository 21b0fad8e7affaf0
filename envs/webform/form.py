"""Forms as data, and the generator that builds one from a TaskSpace point.

A :class:`Form` is everything needed to simulate, render and replay one episode: pages of
elements (instructed fields, distractors, a "Next" or "Submit" button), the instruction
(key-value pairs in instruction order, keys possibly synonyms), initial values and
validation rules. It is plain, immutable data: the simulator (``dom.py``) keeps the
mutable state, the renderer (``html.py``) turns the same object into HTML.

The TaskSpace dimensions are the levers named in issue 6 and REFERENCES.md section 6:
number of fields, mix of field kinds, distractors, pages, instruction order and label
synonyms, validation rules, and QWeb's "most fields already correct" (``prefilled``).
The space's lower corner is a one-text-field form, the easiest non-trivial task.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
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
VALUE_KINDS = ("text", "number", "date", "select", "radio", "checkbox")  # elements that hold a submitted value


def make_task_space() -> TaskSpace:
    """The webform TaskSpace (a new immutable object per call)."""
    return TaskSpace((
        Dim("n_fields", 1, MAX_FIELDS, "discrete", doc="instructed fields"),
        Dim("kind_mix", 0.0, 1.0, doc="probability that a field is not a text input"),
        Dim("n_distractors", 0, MAX_DISTRACTORS, "discrete", doc="links, buttons and irrelevant inputs"),
        Dim("n_pages", 1, MAX_PAGES, "discrete", doc="pages joined by a Next button (at most n_fields)"),
        Dim("order_shuffle", 0.0, 1.0, doc="probability that the instruction lists keys out of page order"),
        Dim("synonym_rate", 0.0, 1.0, doc="probability that a key is a synonym of the label"),
        Dim("validation_rate", 0.0, 1.0, doc="probability that a field is required / has a format rule"),
        Dim("prefilled", 0.0, 1.0, doc="fraction of fields that already hold the instructed value"),
    ))


@dataclass(frozen=True)
class Element:
    """One interactive element. ``name`` is its DOM id and submitted key (``""`` for links
    and buttons). ``field`` is the instruction index it answers, or -1 (distractor/nav)."""

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

    @property
    def holds_value(self) -> bool:
        return self.kind in VALUE_KINDS


@dataclass(frozen=True)
class Form:
    """A generated form: pages of elements and the instruction."""

    pages: tuple[tuple[Element, ...], ...]
    keys: tuple[str, ...]  # instruction keys, instruction order
    values: tuple[str, ...]  # instructed values, instruction order
    task: Mapping[str, object] = field(default_factory=dict)

    @property
    def n_fields(self) -> int:
        return len(self.keys)

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


def _date(rng: np.random.Generator) -> str:
    day = _dt.date(1950, 1, 1) + _dt.timedelta(days=int(rng.integers(0, 80 * 365)))
    return day.isoformat()


def _pick(rng: np.random.Generator, items: tuple | list) -> object:
    return items[int(rng.integers(len(items)))]


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

    # -- concepts and values ------------------------------------------------------------
    used: set[str] = set()
    fields: list[tuple[voc.Concept, str, tuple[str, ...]]] = []
    for _ in range(n):
        kind = "text"
        if rng.random() < float(task["kind_mix"]):
            kind = str(_pick(rng, voc.NON_TEXT_KINDS))
        pool = [c for c in voc.concepts_of_kind(kind) if c.label not in used]
        if not pool:
            pool = [c for c in voc.concepts_of_kind("text") if c.label not in used]
        concept = pool[int(rng.integers(len(pool)))]
        used.add(concept.label)
        taken = {v for _, v, _ in fields}
        options: tuple[str, ...] = ()
        if concept.kind == "text":
            value = str(_pick(rng, [v for v in concept.values if v not in taken] or concept.values))
        elif concept.kind == "number":
            value = str(int(rng.integers(concept.low, concept.high + 1)))
        elif concept.kind == "date":
            value = _date(rng)
        elif concept.kind == "checkbox":
            value = voc.YES if rng.random() < 0.5 else voc.NO
        else:
            k = int(rng.integers(3, min(MAX_OPTIONS, len(concept.values)) + 1))
            chosen = rng.choice(len(concept.values), size=k, replace=False)
            options = tuple(concept.values[int(i)] for i in sorted(chosen))
            value = str(_pick(rng, options))
        fields.append((concept, value, options))

    # -- instruction: order and phrasing --------------------------------------------------
    order = list(range(n))
    if n > 1 and rng.random() < float(task["order_shuffle"]):
        order = [int(i) for i in rng.permutation(n)]
    keys, values = [], []
    field_of_concept = {}
    for j, f in enumerate(order):
        concept, value, _ = fields[f]
        key = concept.label
        if rng.random() < float(task["synonym_rate"]):
            key = str(_pick(rng, concept.synonyms))
        keys.append(key)
        values.append(value)
        field_of_concept[f] = j

    # -- elements -------------------------------------------------------------------------
    n_prefilled = int(np.floor(float(task["prefilled"]) * n + 1e-9))
    prefilled = set(int(i) for i in rng.choice(n, size=n_prefilled, replace=False)) if n_prefilled else set()
    elements: list[Element] = []
    for f, (concept, value, options) in enumerate(fields):
        validate = rng.random() < float(task["validation_rate"])
        initial = value if f in prefilled else ""
        if concept.kind == "checkbox":
            # An unfilled checkbox starts in the wrong state, so each one needs a click.
            initial = value if f in prefilled else (voc.NO if value == voc.YES else voc.YES)
        elements.append(Element(
            kind=concept.kind, label=concept.label, field=field_of_concept[f], options=options, initial=initial,
            required=validate and concept.kind != "checkbox",
            pattern=concept.pattern if validate else "",
            low=float(concept.low) if validate and concept.kind == "number" else None,
            high=float(concept.high) if validate and concept.kind == "number" else None,
        ))

    # Split fields over pages (each page >= 1 field), then scatter distractors.
    cuts = sorted(int(c) for c in rng.choice(np.arange(1, n), size=n_pages - 1, replace=False)) if n_pages > 1 else []
    bounds = [0, *cuts, n]
    pages: list[list[Element]] = [elements[bounds[p]:bounds[p + 1]] for p in range(n_pages)]
    dis_labels = {k: list(v) for k, v in (
        ("text", voc.DISTRACTOR_INPUT_LABELS), ("checkbox", voc.DISTRACTOR_CHECKBOX_LABELS),
        ("link", voc.DISTRACTOR_LINK_LABELS), ("button", voc.DISTRACTOR_BUTTON_LABELS))}
    for _ in range(n_dis):
        kind = str(_pick(rng, voc.DISTRACTOR_KINDS))
        labels = dis_labels[kind]
        label = labels.pop(int(rng.integers(len(labels)))) if labels else f"Extra {kind}"
        initial = ""
        if kind == "checkbox":
            initial = voc.YES if rng.random() < 0.5 else voc.NO
        page = pages[int(rng.integers(n_pages))]
        page.insert(int(rng.integers(len(page) + 1)), Element(kind=kind, label=label, initial=initial))
    for p, page in enumerate(pages):
        page.append(Element(kind="submit" if p == n_pages - 1 else "next", label="Submit" if p == n_pages - 1 else "Next"))

    # Names (DOM ids) and visual ranks, in document order.
    final: list[tuple[Element, ...]] = []
    rank = 0
    counter = 0
    for page in pages:
        out = []
        for e in page:
            counter += 1
            name = f"tb-{counter}"
            if e.holds_value:
                e = _replace(e, name=name, rank=rank)
                rank += 1
            else:
                e = _replace(e, name=name)
            out.append(e)
        final.append(tuple(out))
    return Form(pages=tuple(final), keys=tuple(keys), values=tuple(values), task=dict(task))


def _replace(e: Element, **changes: object) -> Element:
    from dataclasses import replace

    return replace(e, **changes)


def check_form(form: Form) -> None:
    """Raise :class:`TeachBenchError` if a form breaks an invariant the env relies on."""
    if not 1 <= form.n_fields <= MAX_FIELDS:
        raise TeachBenchError("form.n_fields", f"{form.n_fields} outside [1, {MAX_FIELDS}]")
    seen = sorted(e.field for e in form.value_elements() if e.field >= 0)
    if seen != list(range(form.n_fields)):
        raise TeachBenchError("form.fields", f"fields {seen} do not answer each instruction key once")
    for p, page in enumerate(form.pages):
        if len(page) > MAX_ELEMENTS:
            raise TeachBenchError("form.pages", f"page {p} has {len(page)} elements > {MAX_ELEMENTS}")
        if page[-1].kind != ("submit" if p == len(form.pages) - 1 else "next"):
            raise TeachBenchError("form.pages", f"page {p} does not end with its navigation button")
        for e in page:
            if len(e.options) > MAX_OPTIONS:
                raise TeachBenchError("form.options", f"{e.name} has {len(e.options)} options > {MAX_OPTIONS}")
