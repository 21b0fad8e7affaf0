"""Exact web forms as level strings, and the form edits the web teachers use.

A generated form is drawn from a TaskSpace point by the env's own generator, so two
resets with the same task play different forms. Teachers that hand out *whole forms*
(docs/references.md#webrl: tasks made from the ones the student failed;
docs/references.md#qweb: instructions written for random goal states) need a form they
can name, store in a checkpoint and hand out again. A level string is that name:
``"webform:"`` followed by the form as compact JSON (every constructor field of every
:class:`~envs.webform.form.Element`, the instruction and the describing task), so

- it travels through the curriculum bridge as ``{"level": ...}`` and the env plays it with
  ``reset(options={"level": ...})``, exactly as ``reset(options={"form": form})`` would
  (a :class:`~envs.webform.form.Form` object cannot go through a checkpoint, which stores
  plain containers only);
- it is generic over the element fields, so new widget fields serialise without edits here.

Teachers may not import env packages, so :class:`FormTools` (generate, edit, instruct,
describe) is handed to the teachers that declare ``needs = {"form_tools"}`` by
``students.regret.attach_teacher_needs``, as ACCEL gets the maze editor.

Edits (:func:`mutate_form`), the analog of WebRL's "new tasks from failed ones" on forms:
``add_field``, ``remove_field``, ``rename_field`` (the page shows another name of the
field's concept), ``swap_synonym`` (the instruction names a field by another of its
names), ``add_distractor`` and ``reorder`` (the instruction lists the fields in another
order). Each keeps every invariant :func:`~envs.webform.form.check_form` checks.

Instructions for random goal states (:func:`instruct_form`), the analog of QWeb's
meta-trainer: a random policy changes each value-holding element of a generated form with
probability ``visit_prob`` (a random value of the element's kind), and the instruction is
written from that goal state: the changed elements become the instructed fields (key =
label, or a synonym at the task's ``synonym_rate``), every other input must keep its value.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from envs.webform import vocabulary as voc
from envs.webform.dom import field_error
from envs.webform.form import (MAX_DISTRACTORS, MAX_ELEMENTS, MAX_FIELDS, NAV_KINDS, Element, Form, check_form,
                               generate_form, make_task_space)

PREFIX = "webform:"
EDIT_OPS: tuple[str, ...] = ("add_field", "remove_field", "rename_field", "swap_synonym", "add_distractor", "reorder")

_FIELDS = tuple(f for f in dataclasses.fields(Element) if f.init)
_DEFAULTS = {f.name: f.default for f in _FIELDS}
_SPACE = make_task_space()
# every name of a concept (label and synonyms) -> the concept
_CONCEPT_OF: dict[str, voc.Concept] = {}
for _c in voc.CONCEPTS:
    for _name in (_c.label, *_c.synonyms):
        _CONCEPT_OF.setdefault(_name, _c)
_TEXT_VALUES = tuple(v for c in voc.CONCEPTS if c.kind == "text" for v in c.values)
_DAY0 = _dt.date(1950, 1, 1).toordinal()
_DISTRACTOR_LABELS: Mapping[str, tuple[str, ...]] = {
    "text": voc.DISTRACTOR_INPUT_LABELS, "checkbox": voc.DISTRACTOR_CHECKBOX_LABELS,
    "link": voc.DISTRACTOR_LINK_LABELS, "button": voc.DISTRACTOR_BUTTON_LABELS}


# -- level strings ----------------------------------------------------------------------------
def form_to_level(form: Form) -> str:
    """The level string of ``form`` (fields at their defaults are left out)."""
    pages = []
    for page in form.pages:
        out = []
        for e in page:
            d = {}
            for f in _FIELDS:
                value = getattr(e, f.name)
                if value != _DEFAULTS[f.name]:
                    d[f.name] = list(value) if isinstance(value, tuple) else value
            out.append(d)
        pages.append(out)
    body = {"pages": pages, "keys": list(form.keys), "values": list(form.values), "task": dict(form.task)}
    return PREFIX + json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def form_from_level(level: str) -> Form:
    """The form a level string names; a malformed or invalid one is a TeachBenchError."""
    if not isinstance(level, str) or not level.startswith(PREFIX):
        raise TeachBenchError("options.level", f"a web-form level starts with {PREFIX!r}, got {str(level)[:40]!r}")
    try:
        body = json.loads(level[len(PREFIX):])
        pages = tuple(
            tuple(Element(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}) for d in page)
            for page in body["pages"])
        form = Form(pages=pages, keys=tuple(body["keys"]), values=tuple(body["values"]), task=dict(body["task"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise TeachBenchError("options.level", f"not a web-form level: {exc}") from None
    check_form(form)
    return form


# -- describing a form by a point of the TaskSpace ---------------------------------------------
def describe(form: Form, space: TaskSpace | None = None) -> Task:
    """The TaskSpace point that describes an edited or instructed form: its counts and the
    realised shares of the levers (non-text fields, synonym keys, validated fields,
    prefilled fields; ``order_shuffle`` 1.0 when the instruction is out of page order).
    Distractors beyond the dimension's bound are counted at the bound. Dimensions we do
    not compute keep the form's own task values."""
    space = space or _SPACE
    fields = sorted((e for e in form.value_elements() if e.field >= 0), key=lambda e: e.field)
    n = len(fields)
    distractors = sum(1 for page in form.pages for e in page if e.field < 0 and e.kind not in NAV_KINDS)
    ranks = [e.rank for e in fields]
    computed = {
        "n_fields": n,
        "n_distractors": min(distractors, MAX_DISTRACTORS),
        "n_pages": len(form.pages),
        "kind_mix": sum(e.kind != "text" for e in fields) / n,
        "order_shuffle": 0.0 if ranks == sorted(ranks) else 1.0,
        "synonym_rate": sum(form.keys[e.field] != e.label for e in fields) / n,
        "validation_rate": sum(bool(e.required or e.pattern or e.low is not None) for e in fields) / n,
        "prefilled": sum(e.initial == form.values[e.field] for e in fields) / n,
    }
    base = {k: v for k, v in dict(form.task).items() if k in space.names}
    if set(base) != set(space.names):
        base = {**space.from_array(space.low), **base}
    return space.validate({**base, **{k: v for k, v in computed.items() if k in space.names}})


def _rebuild(pages: Sequence[Sequence[Element]], keys: Sequence[str], values: Sequence[str], task: Mapping[str, Any]) -> Form:
    """A form from edited parts: ranks recomputed in document order, task re-described."""
    final, rank = [], 0
    for page in pages:
        out = []
        for e in page:
            if e.holds_value:
                e = dataclasses.replace(e, rank=rank)
                rank += 1
            out.append(e)
        final.append(tuple(out))
    form = Form(pages=tuple(final), keys=tuple(keys), values=tuple(values), task=dict(task))
    form = dataclasses.replace(form, task=describe(form))
    check_form(form)
    return form


def _fresh_name(pages: Sequence[Sequence[Element]]) -> str:
    numbers = [int(e.name[3:]) for page in pages for e in page if e.name.startswith("tb-") and e.name[3:].isdigit()]
    return f"tb-{max(numbers, default=0) + 1}"


def _names_of(label: str) -> tuple[str, ...]:
    concept = _CONCEPT_OF.get(label)
    return (concept.label, *concept.synonyms) if concept is not None else ()


# -- WebRL-style edits ----------------------------------------------------------------------
def _add_field(form: Form, rng: np.random.Generator) -> Form | None:
    pages = [list(p) for p in form.pages]
    roomy = [p for p, page in enumerate(pages) if len(page) < MAX_ELEMENTS]
    if form.n_fields >= MAX_FIELDS or not roomy:
        return None
    used = {e.label for page in pages for e in page} | {k for k in form.keys}
    task = dict(form.task)
    donor_task = {**_SPACE.from_array(_SPACE.low), **{k: task[k] for k in ("kind_mix", "synonym_rate", "validation_rate")
                                                      if k in task}}
    for _ in range(20):  # a donor field whose concept and value the form does not use yet
        donor = generate_form(donor_task, rng, _SPACE)
        element = next(e for e in donor.value_elements() if e.field == 0)
        if element.label not in used and donor.values[0] not in form.values:
            break
    else:
        return None
    j = int(rng.integers(form.n_fields + 1))  # its place in the instruction
    keys = [*form.keys[:j], donor.keys[0], *form.keys[j:]]
    values = [*form.values[:j], donor.values[0], *form.values[j:]]
    shifted = [[dataclasses.replace(e, field=e.field + 1) if e.field >= j else e for e in page] for page in pages]
    p = roomy[int(rng.integers(len(roomy)))]
    at = int(rng.integers(len(shifted[p])))  # before the page's navigation button
    shifted[p].insert(at, dataclasses.replace(element, field=j, name=_fresh_name(pages)))
    return _rebuild(shifted, keys, values, task)


def _remove_field(form: Form, rng: np.random.Generator) -> Form | None:
    if form.n_fields <= 1:
        return None
    j = int(rng.integers(form.n_fields))
    pages = [[dataclasses.replace(e, field=e.field - 1) if e.field > j else e for e in page if e.field != j]
             for page in form.pages]
    return _rebuild(pages, [k for i, k in enumerate(form.keys) if i != j],
                    [v for i, v in enumerate(form.values) if i != j], form.task)


def _rename_field(form: Form, rng: np.random.Generator) -> Form | None:
    spots = [(p, i) for p, page in enumerate(form.pages) for i, e in enumerate(page)
             if e.field >= 0 and len(_names_of(e.label)) > 1]
    if not spots:
        return None
    p, i = spots[int(rng.integers(len(spots)))]
    e = form.pages[p][i]
    others = [n for n in _names_of(e.label) if n != e.label]
    pages = [list(page) for page in form.pages]
    pages[p][i] = dataclasses.replace(e, label=others[int(rng.integers(len(others)))])
    return _rebuild(pages, form.keys, form.values, form.task)


def _swap_synonym(form: Form, rng: np.random.Generator) -> Form | None:
    choices = [j for j, k in enumerate(form.keys) if len(_names_of(k)) > 1]
    if not choices:
        return None
    j = choices[int(rng.integers(len(choices)))]
    others = [n for n in _names_of(form.keys[j]) if n != form.keys[j]]
    keys = list(form.keys)
    keys[j] = others[int(rng.integers(len(others)))]
    return _rebuild(form.pages, keys, form.values, form.task)


def _add_distractor(form: Form, rng: np.random.Generator) -> Form | None:
    pages = [list(p) for p in form.pages]
    roomy = [p for p, page in enumerate(pages) if len(page) < MAX_ELEMENTS]
    n_dis = sum(1 for page in pages for e in page if e.field < 0 and e.kind not in NAV_KINDS)
    if n_dis >= MAX_DISTRACTORS or not roomy:
        return None
    kind = voc.DISTRACTOR_KINDS[int(rng.integers(len(voc.DISTRACTOR_KINDS)))]
    used = {e.label for page in pages for e in page}
    labels = [label for label in _DISTRACTOR_LABELS[kind] if label not in used]
    label = labels[int(rng.integers(len(labels)))] if labels else f"Extra {kind}"
    initial = (voc.YES if rng.random() < 0.5 else voc.NO) if kind == "checkbox" else ""
    p = roomy[int(rng.integers(len(roomy)))]
    pages[p].insert(int(rng.integers(len(pages[p]))), Element(kind=kind, label=label, name=_fresh_name(pages),
                                                              initial=initial))
    return _rebuild(pages, form.keys, form.values, form.task)


def _reorder(form: Form, rng: np.random.Generator) -> Form | None:
    n = form.n_fields
    if n < 2:
        return None
    order = rng.permutation(n)
    while np.array_equal(order, np.arange(n)):
        order = rng.permutation(n)
    new_index = {int(old): new for new, old in enumerate(order)}  # instruction position old -> new
    pages = [[dataclasses.replace(e, field=new_index[e.field]) if e.field >= 0 else e for e in page] for page in form.pages]
    return _rebuild(pages, [form.keys[int(o)] for o in order], [form.values[int(o)] for o in order], form.task)


_EDITS: dict[str, Callable[[Form, np.random.Generator], Form | None]] = {
    "add_field": _add_field, "remove_field": _remove_field, "rename_field": _rename_field,
    "swap_synonym": _swap_synonym, "add_distractor": _add_distractor, "reorder": _reorder}


def mutate_form(form: Form, rng: np.random.Generator, n_edits: int = 1, ops: Sequence[str] = EDIT_OPS) -> Form:
    """``form`` after ``n_edits`` edits, each drawn uniformly from the ``ops`` that apply
    (an op that cannot apply, e.g. removing the only field, is skipped for another)."""
    unknown = [op for op in ops if op not in _EDITS]
    if unknown or not ops:
        raise TeachBenchError("edit_ops", f"unknown edit ops {unknown}" if unknown else "no edit ops", EDIT_OPS)
    for _ in range(int(n_edits)):
        for op in rng.permutation(np.array(list(ops), dtype=object)):
            child = _EDITS[str(op)](form, rng)
            if child is not None:
                form = child
                break
    return form


# -- QWeb meta-trainer analog: instructions written for random goal states -------------------
def _random_value(e: Element, current: str, rng: np.random.Generator) -> str | None:
    """A random value of ``e``'s kind that differs from ``current`` (None: none exists)."""
    concept = _CONCEPT_OF.get(e.label)
    if e.kind == "checkbox":
        return voc.NO if current == voc.YES else voc.YES
    if e.kind in ("select", "radio"):
        pool = [o for o in e.options if o != current]
    elif e.kind == "number" and concept is not None:
        pool = [str(v) for v in range(concept.low, concept.high + 1) if str(v) != current]
    elif e.kind == "date":
        pool = [_dt.date.fromordinal(_DAY0 + int(rng.integers(80 * 365))).isoformat()]
        pool = [v for v in pool if v != current]
    elif e.kind == "text":
        pool = [v for v in (concept.values if concept is not None else _TEXT_VALUES) if v != current]
    else:
        return None
    return pool[int(rng.integers(len(pool)))] if pool else None


def instruct_form(task: Task, rng: np.random.Generator, visit_prob: float = 0.5) -> Form:
    """A form generated for ``task`` and an instruction written for a random goal state.

    The random policy visits every value-holding element in page order and, with
    probability ``visit_prob``, gives it a random new value. Elements with a validation
    rule that their start value breaks are always visited (a goal the page refuses to
    submit would be unreachable); at most ``MAX_FIELDS`` elements are instructed and at
    least one. The visited elements are the instruction, in page order or shuffled at the
    task's ``order_shuffle``, each keyed by its label or, at the task's ``synonym_rate``,
    by a synonym of its concept; every other input must keep its start value.
    """
    if not 0.0 <= float(visit_prob) <= 1.0:
        raise TeachBenchError("visit_prob", f"must be in [0, 1], got {visit_prob}")
    task = _SPACE.validate(task)
    form = generate_form(task, rng, _SPACE)
    spots = [(p, i) for p, page in enumerate(form.pages) for i, e in enumerate(page) if e.holds_value]
    forced = [s for s in spots if field_error(form.pages[s[0]][s[1]], form.pages[s[0]][s[1]].initial)]
    visited = [s for s in spots if s not in forced and rng.random() < float(visit_prob)]
    rng.shuffle(visited)
    chosen = set(forced + visited[: max(0, MAX_FIELDS - len(forced))])
    goal: dict[tuple[int, int], str] = {}
    for s in spots:  # page order
        if s in chosen:
            e = form.pages[s[0]][s[1]]
            value = _random_value(e, e.initial, rng)
            if value is not None:
                goal[s] = value
    if not goal:  # at least one instructed element
        for k in rng.permutation(len(spots)):
            s = spots[int(k)]
            value = _random_value(form.pages[s[0]][s[1]], form.pages[s[0]][s[1]].initial, rng)
            if value is not None:
                goal[s] = value
                break
    order = list(goal)  # page order
    if len(order) > 1 and rng.random() < float(task["order_shuffle"]):
        order = [order[int(k)] for k in rng.permutation(len(order))]
    keys, values, index = [], [], {}
    for j, s in enumerate(order):
        e = form.pages[s[0]][s[1]]
        names = _names_of(e.label)
        key = e.label
        if len(names) > 1 and rng.random() < float(task["synonym_rate"]):
            synonyms = [n for n in names if n != e.label]
            key = synonyms[int(rng.integers(len(synonyms)))]
        keys.append(key)
        values.append(goal[s])
        index[s] = j
    pages = [[dataclasses.replace(e, field=index.get((p, i), -1)) for i, e in enumerate(page)]
             for p, page in enumerate(form.pages)]
    return _rebuild(pages, keys, values, task)


# -- what the teachers get -------------------------------------------------------------------
class FormTools:
    """The web-form operations a teacher may call, on level strings and TaskSpace points
    (installed as ``teacher.form_tools`` by ``students.regret.attach_teacher_needs``)."""

    prefix = PREFIX

    def generate(self, task: Task, rng: np.random.Generator) -> str:
        """The level of a form generated for ``task`` (as the env's reset would draw one)."""
        return form_to_level(generate_form(_SPACE.validate(task), rng, _SPACE))

    def mutate(self, level: str, rng: np.random.Generator, n_edits: int = 1, ops: Sequence[str] = EDIT_OPS) -> str:
        return form_to_level(mutate_form(form_from_level(level), rng, n_edits, ops))

    def instruct(self, task: Task, rng: np.random.Generator, visit_prob: float = 0.5) -> str:
        return form_to_level(instruct_form(task, rng, visit_prob))

    def describe(self, level: str) -> Task:
        """The TaskSpace point stored with the level (what the env reports as its task)."""
        return _SPACE.validate(form_from_level(level).task)
