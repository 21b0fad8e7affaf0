"""MiniWoB++'s view of a form: an utterance, a DOM element list, and its "liu18" actions.

``obs_mode="miniwob"`` shows the policy a form the way MiniWoB++ (Farama-Foundation
miniwob-plusplus; docs/references.md) shows its tasks, so that a policy trained here can be
played on MiniWoB++'s own pages by an adapter that only converts its observation dict:

- ``utterance``: the instruction sentence (:meth:`Form.instruction_text`), and ``fields``:
  its key-value pairs (MiniWoB++ extracts them from the utterance per task);
- ``dom_elements``: one entry per visible element in document order with MiniWoB++'s keys
  ``ref`` (a positive id, stable within an episode, new elements get the next one),
  ``parent`` (0 for the root), ``tag`` (upper-case tag, ``INPUT_<type>`` for inputs),
  ``text`` (text of leaf elements), ``value`` (an input's value; ``"true"``/``"false"``,
  its ``checked``, for checkboxes and radios), ``left/top/width/height`` and the flags
  ``focused``, ``tampered`` (interacted with in this episode), ``targeted`` (a recorded
  demonstration's target: always 0 here) and ``is_leaf``.

  Each of our elements becomes what its HTML would show: a ``LABEL`` and an ``INPUT_*`` or
  ``SELECT`` for a field; a ``SPAN`` group label, then an ``INPUT_radio`` and a ``LABEL``
  per option for a radio group; an ``INPUT_checkbox`` and its ``LABEL``; an ``A`` or a
  ``BUTTON`` for links, buttons, Next and Submit; each in a row ``DIV``, all under one
  root ``DIV`` (MiniWoB++'s ``#area``). As in
  MiniWoB++, the ``<option>`` elements of a closed ``<select>`` are not listed (its
  ``getDOMInfo`` drops elements of zero size). One deliberate difference: we report a
  ``SELECT``'s selected option as its ``value``, which MiniWoB++ does not report at all (it
  reads ``value`` from ``<input>`` and ``<textarea>`` only), so that selects stay learnable.
  Positions come from a fixed row layout on MiniWoB++'s 160 x 210 page, not from a browser.

- Actions, MiniWoB++'s "liu18" preset (Liu et al. 2018): ``NONE``, ``CLICK_ELEMENT(e)`` and
  ``FOCUS_ELEMENT_AND_TYPE_FIELD(e, j)``, flattened as ``0`` = none and
  ``1 + n * (1 + J) + r`` for element-list slot ``n``: ``r = 0`` click, ``r = 1 + j`` focus
  it and type field ``j``. A click does what ``element.click(); element.focus()`` does in
  Chromium (MiniWoB++'s ``core.elementClick``): a checkbox or its label toggles, a radio or
  its label selects that option, a field's label focuses its field, Next/Submit act, links
  and other buttons change nothing. Typing sends key events to the focused element: into a
  text/number/date input (appended with ``typing="append"``, see ``dom.FormState``), or a
  focused ``SELECT``'s type-ahead, which selects the first option whose text starts with
  the typed text (case-insensitive); anywhere else it changes nothing.

Widgets (``widgets=True``) appear as MiniWoB++ shows them: a password input as
``INPUT_password`` whose ``value`` is the typed text in clear (MiniWoB++'s ``getDOMInfo``
reads ``element.value`` of every input, so enter-password's observation shows the password
although the page masks it), a ``TEXTAREA``, an autocomplete and a date picker as
``INPUT_text`` (as in use-autocomplete and choose-date); an open suggestion list as jQuery
UI's ``UL`` with one ``LI`` per suggestion; an open calendar as a ``DIV`` holding ``A``
"Prev" and "Next", a ``SPAN`` title ("March 2016") and an ``A`` per day; a leaving link as
an ``A`` whose click acts; results-page rows as a ``LABEL`` and a ``SPAN`` holding the value.
Overlay elements are new DOM elements each time they open, so they get new refs. Tags
outside :data:`TAGS` (``INPUT_password``, ``TEXTAREA``, ``UL``, ``LI``) count as MiniWoB++'s
do (:func:`tag_id`): the tag vocabulary, hence the default observation space, is unchanged.

The observation is a ``Dict`` of fixed-size ``Box``es (token ids as in ``tokens.py``) for
SB3, and :meth:`MiniWobView.dom_elements` gives the same list as MiniWoB++-style dicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from envs.webform import vocabulary as voc
from envs.webform.dom import CHOOSABLE, TYPEABLE, FormState, decode, encode, js_number_ok
from envs.webform.form import BASE_CAPS, MAX_FIELDS, MAX_OPTIONS, MAX_OVERLAY, Caps, Element
from envs.webform.tokens import VOCAB, T, token_ids

TAGS: tuple[str, ...] = ("", "DIV", "SPAN", "LABEL", "INPUT_text", "INPUT_number", "INPUT_date", "SELECT",
                         "INPUT_radio", "INPUT_checkbox", "A", "BUTTON")
_INPUT_TAG = {"text": "INPUT_text", "number": "INPUT_number", "date": "INPUT_date", "select": "SELECT",
              "password": "INPUT_password", "textarea": "TEXTAREA", "autocomplete": "INPUT_text",
              "datepicker": "INPUT_text"}


def n_nodes(caps: Caps = BASE_CAPS) -> int:
    """Element-list slots: the root, then per element its row and at most a radio group
    (group label + 2 per option); distractors take 3, the navigation button 2; the widget
    caps add a Back button (2) and an open calendar (its box, Prev, Next, title, 31 days)."""
    n = 1 + MAX_FIELDS * (2 + 2 * MAX_OPTIONS) + caps.max_distractors * 3 + 2
    return n + 2 + 2 + MAX_OVERLAY if caps.widgets else n


def n_miniwob_actions(caps: Caps = BASE_CAPS) -> int:
    return 1 + n_nodes(caps) * SLOTS


N_NODES = n_nodes(BASE_CAPS)
UTTERANCE_TOKENS = 64
SLOTS = 1 + MAX_FIELDS
N_MINIWOB_ACTIONS = 1 + N_NODES * SLOTS
WIDTH, HEIGHT = 160.0, 210.0  # MiniWoB++'s task area
MAX_REF = 4096


@dataclass(frozen=True)
class Node:
    """One entry of the element list. ``element`` is the index of our element on the page
    it belongs to (-1 for the root), ``role`` what a click on it does, ``option`` the radio
    option it stands for."""

    ref: int
    parent: int
    tag: str
    text: str
    element: int
    role: str  # root | row | label | control | group | option | option_label | link | summary | box | overlay | title
    option: int = -1
    left: float = 0.0
    top: float = 0.0
    width: float = 0.0
    height: float = 0.0


def _page_nodes(page: tuple[Element, ...], first_ref: int) -> list[Node]:
    """The element list of one page, refs from ``first_ref`` (the root DIV is ref 1). Each
    element sits in its own row ``DIV`` (MiniWoB++'s pages wrap a label and its input in
    a ``<p>`` or ``<div>``), below MiniWoB++'s 50-pixel instruction bar."""
    nodes: list[Node] = []
    ref = first_ref
    top = 52.0

    def add(tag: str, text: str, i: int, role: str, left: float, width: float, height: float = 16.0,
            option: int = -1, parent: int = 1) -> int:
        nonlocal ref
        nodes.append(Node(ref, parent, tag, text, i, role, option, left, top, width, height))
        ref += 1
        return ref - 1

    for i, e in enumerate(page):
        row = add("DIV", "", i, "row", 0.0, WIDTH, 18.0)
        if e.kind in _INPUT_TAG:
            add("LABEL", e.label, i, "label", 2.0, 60.0, parent=row)
            add(_INPUT_TAG[e.kind], "", i, "control", 64.0, 90.0, 18.0, parent=row)
            top += 22.0
        elif e.kind == "radio":
            group = add("SPAN", e.label, i, "group", 2.0, 156.0, parent=row)
            top += 18.0
            for k, option in enumerate(e.options):
                add("INPUT_radio", "", i, "option", 6.0, 13.0, 13.0, option=k, parent=group)
                add("LABEL", option, i, "option_label", 22.0, 100.0, option=k, parent=group)
                top += 16.0
        elif e.kind == "checkbox":
            add("INPUT_checkbox", "", i, "control", 2.0, 13.0, 13.0, parent=row)
            add("LABEL", e.label, i, "label", 18.0, 120.0, parent=row)
            top += 18.0
        elif e.kind == "link":
            add("A", e.label, i, "link", 2.0, 80.0, parent=row)
            top += 18.0
        elif e.kind == "exit":  # a link that navigates: its click acts
            add("A", e.label, i, "control", 2.0, 80.0, parent=row)
            top += 18.0
        elif e.kind == "summary":
            add("LABEL", e.label, i, "label", 2.0, 60.0, parent=row)
            add("SPAN", "", i, "summary", 64.0, 90.0, parent=row)
            top += 18.0
        else:  # button, next, submit, back, confirm
            add("BUTTON", e.label, i, "control", 2.0, 60.0, 22.0, parent=row)
            top += 26.0
    return nodes


def _overlay_nodes(state: FormState, first_ref: int, top: float) -> list[Node]:
    """The open suggestion list or calendar of ``state`` (jQuery UI's markup), refs from
    ``first_ref``; ``element`` is the item's flat index (after the page's elements)."""
    base = len(state.form.pages[state.page])
    nodes = [Node(first_ref, 1, "UL" if state.overlay[0].kind == "suggestion" else "DIV", "", -1, "box", -1,
                  2.0, top, 120.0, 16.0 * len(state.overlay))]
    ref = first_ref + 1
    for k, item in enumerate(state.overlay):
        if item.kind == "suggestion":
            tag, text, left, width = "LI", item.label, 4.0, 116.0
        else:  # Prev at the left, Next at the right, days in rows of seven
            tag, text, width = "A", item.label, 20.0
            left = {"prev_month": 4.0, "next_month": 136.0}.get(item.kind)
            if left is None:
                left = 4.0 + 22.0 * ((int(item.label) - 1) % 7)
        nodes.append(Node(ref, first_ref, tag, text, base + k, "overlay", -1, left, top, width, 16.0))
        ref += 1
        if item.kind == "next_month":  # jQuery UI's title follows Prev and Next
            month = state.shown_month
            title = f"{voc.MONTH_NAMES[month % 12]} {month // 12}"
            nodes.append(Node(ref, first_ref, "SPAN", title, -1, "title", -1, 30.0, top, 100.0, 16.0))
            ref += 1
        if item.kind in ("suggestion", "next_month") or (item.kind == "day" and int(item.label) % 7 == 0):
            top += 16.0
    return nodes


class MiniWobView:
    """The MiniWoB++-shaped observation of one :class:`FormState` and the translation of
    "liu18" actions into simulator actions."""

    def __init__(self, state: FormState, caps: Caps = BASE_CAPS) -> None:
        self.state = state
        self.caps = caps
        self.n_nodes = n_nodes(caps)
        form = state.form
        self.pages: list[list[Node]] = []
        ref = 2
        for page in form.pages:
            nodes = _page_nodes(page, ref)
            ref += len(nodes)
            self.pages.append(nodes)
        self._next_ref = ref
        self.overlay: list[Node] = []  # nodes of the open suggestion list / calendar
        self.root = Node(1, 0, "DIV", "", -1, "root", -1, 0.0, 0.0, WIDTH, HEIGHT)
        self.focused = 0  # ref of the focused element (0: none)
        self.tampered: set[int] = set()
        self.utterance = form.instruction_text()
        self._utterance_ids = token_ids_long(self.utterance, UTTERANCE_TOKENS)
        self._number_ok = [js_number_ok(v) for v in form.values]
        self.masks = [self._mask(p) for p in range(len(form.pages))]
        self._static: list[dict[str, np.ndarray] | None] = [None] * len(form.pages)
        self._dynamic = [any(e.kind == "summary" for e in page) for page in form.pages]

    # -- the element list ------------------------------------------------------------------
    def nodes(self) -> list[Node]:
        return [self.root, *self.pages[self.state.page], *self.overlay]

    def text(self, node: Node) -> str:
        if node.role == "summary":  # a results-page row shows the value
            return self.state.values[self.state.page][node.element]
        return node.text

    def value(self, node: Node) -> str:
        if node.role not in ("control", "option") or node.tag in ("BUTTON", "A"):
            return ""
        current = self.state.values[self.state.page][node.element]
        if node.tag == "INPUT_checkbox":
            return "true" if current == "yes" else "false"
        if node.tag == "INPUT_radio":
            e = self.state.form.pages[self.state.page][node.element]
            return "true" if current == e.options[node.option] else "false"
        return current

    def dom_elements(self) -> list[dict]:
        """The current page as MiniWoB++-style element dicts."""
        out = []
        for node in self.nodes():
            out.append({"ref": node.ref, "parent": node.parent, "tag": node.tag, "text": self.text(node),
                        "value": self.value(node), "left": node.left, "top": node.top, "width": node.width,
                        "height": node.height, "focused": node.ref == self.focused,
                        "tampered": node.ref in self.tampered, "targeted": False,
                        "is_leaf": node.role not in ("root", "row", "group")})
        return out

    # -- actions ---------------------------------------------------------------------------
    def _typeable(self, node: Node, page: tuple[Element, ...]) -> bool:
        """Key events reach a field: a typeable input (not the read-only date picker) or a select."""
        return node.role == "control" and 0 <= node.element < len(page) and (
            page[node.element].kind in TYPEABLE or page[node.element].kind == "select")

    def _mask(self, p: int, nodes: list[Node] | None = None) -> np.ndarray:
        mask = np.zeros((self.n_nodes, SLOTS), dtype=bool)
        page = self.state.form.pages[p]
        n = self.state.form.n_fields
        for slot, node in enumerate(nodes or [self.root, *self.pages[p]]):
            mask[slot, 0] = True  # a browser can click anything listed
            if self._typeable(node, page):
                e = page[node.element]
                mask[slot, 1:1 + n] = self._number_ok if e.kind == "number" else True
        return np.concatenate(([True], mask.reshape(-1)))

    def action_mask(self) -> np.ndarray:
        if self.overlay:
            return self._mask(self.state.page, self.nodes())
        return self.masks[self.state.page]

    def translate(self, action: int) -> tuple[int | None, str]:
        """The simulator action a "liu18" action amounts to (``None``: it changes no value)
        and ``""`` or why the action was invalid. Updates focus and the tampered flags."""
        if action == 0:
            return None, ""
        if not 0 < action < 1 + self.n_nodes * SLOTS:
            return None, "out_of_range"
        slot, r = divmod(action - 1, SLOTS)
        nodes = self.nodes()
        if slot >= len(nodes):
            return None, "no_element"
        node = nodes[slot]
        page = self.state.form.pages[self.state.page]
        typeable = self._typeable(node, page)
        if r > 0 and (not typeable or r - 1 >= self.state.form.n_fields):
            return None, "not_typeable" if not typeable else "no_value"
        self.tampered.add(node.ref)
        if node.role == "overlay":  # a suggestion, Prev / Next or a day: its click acts
            self.focused = node.ref
            return encode(node.element, "click"), ""
        e = page[node.element] if 0 <= node.element < len(page) else None
        # element.click(); element.focus(): a label passes the click (and focus) to its control
        control = self._control(node)
        self.focused = control.ref if control is not None else 0
        if r == 0:
            if e is None or node.role in ("row", "group", "link"):
                return None, ""
            if e.kind == "checkbox":
                return encode(node.element, "click"), ""
            if e.kind == "radio" and node.option >= 0:
                return encode(node.element, "choose", node.option), ""
            if e.kind in ("button", "next", "submit", "exit", "back", "confirm", "datepicker"):
                return encode(node.element, "click"), ""
            return None, ""  # a field's label or input: focus only
        j = r - 1
        if e.kind in CHOOSABLE:  # a focused <select>: type-ahead
            typed = self.state.form.values[j].lower()
            for k, option in enumerate(e.options):
                if typed and option.lower().startswith(typed):
                    return encode(node.element, "choose", k), ""
            return None, ""
        return encode(node.element, "type", j), ""

    def from_simulator(self, action: int) -> int:
        """The "liu18" action that does what simulator action ``action`` does on the current
        page (click -> click the control, type -> focus and type into it, choose -> click
        the radio option, or type the field holding that option into the select)."""
        i, op, arg = decode(action)
        slots = {(node.element, node.role, node.option): s for s, node in enumerate(self.nodes())}
        if op == "click":
            if i >= len(self.state.form.pages[self.state.page]):
                return 1 + slots[(i, "overlay", -1)] * SLOTS
            return 1 + slots[(i, "control", -1)] * SLOTS
        if op == "type":
            return 1 + slots[(i, "control", -1)] * SLOTS + 1 + arg
        e = self.state.form.pages[self.state.page][i]
        if e.kind == "radio":
            return 1 + slots[(i, "option", arg)] * SLOTS
        j = self.state.form.values.index(e.options[arg])
        return 1 + slots[(i, "control", -1)] * SLOTS + 1 + j

    def _control(self, node: Node) -> Node | None:
        if node.role in ("control", "option"):
            return node
        if node.role == "label":
            for other in self.pages[self.state.page]:
                if other.element == node.element and other.role == "control":
                    return other
        if node.role == "option_label":
            for other in self.pages[self.state.page]:
                if other.element == node.element and other.role == "option" and other.option == node.option:
                    return other
        if node.role == "link":
            return node
        return None

    def page_changed(self) -> None:
        self.focused = 0

    def overlay_changed(self) -> None:
        """Rebuild the overlay's nodes (new DOM elements: new refs) after it opened,
        changed or closed."""
        state = self.state
        if not state.overlay:
            if self.focused in {node.ref for node in self.overlay}:
                self.focused = 0
            self.overlay = []
            return
        nodes = self.pages[state.page]
        top = max((node.top + node.height for node in nodes), default=52.0) + 4.0
        self.overlay = _overlay_nodes(state, self._next_ref, top)
        self._next_ref += len(self.overlay)

    # -- the observation -------------------------------------------------------------------
    def observation(self) -> dict[str, np.ndarray]:
        """:func:`encode_observation` of :meth:`dom_elements`, built from a per-page cache
        of the static parts with only values and the focused / tampered flags redone (a
        test checks it equals encoding the element dicts)."""
        p = self.state.page
        form = self.state.form
        if self.overlay or self._dynamic[p]:  # widgets: encode the element dicts themselves
            return encode_observation(self.dom_elements(), self._utterance_ids, list(zip(form.keys, form.values)),
                                      self.n_nodes)
        if self._static[p] is None:
            self._static[p] = encode_observation(self.dom_elements(), self._utterance_ids,
                                                 list(zip(form.keys, form.values)), self.n_nodes)
        static = self._static[p]
        obs = {key: arr.copy() for key, arr in static.items()}
        value = obs["value"].reshape(self.n_nodes, T)
        flags = obs["flags"].reshape(self.n_nodes, 4)
        flags[:, :2] = 0.0
        for s, node in enumerate(self.nodes()):
            if node.role in ("control", "option"):
                ids = token_ids(self.value(node))
                value[s] = 0.0
                value[s, :len(ids)] = ids
            flags[s, 0] = node.ref == self.focused
            flags[s, 1] = node.ref in self.tampered
        return obs


def tag_id(tag: str) -> int:
    """Index in :data:`TAGS` of a MiniWoB++ tag (any case). Text-like inputs MiniWoB++ has
    and our forms lack (password, email, tel, search, url, textarea) count as text inputs,
    its text pseudo-elements (``t``) as ``SPAN``, other containers (P, FORM, BODY, UL, LI...) as DIV."""
    t = tag.upper()
    if t.startswith("INPUT_"):
        t = "INPUT_" + t[6:].lower()
        if t in TAGS:
            return TAGS.index(t)
        return TAGS.index("INPUT_text") if t[6:] in ("password", "email", "tel", "search", "url") else TAGS.index("DIV")
    if t == "TEXTAREA":
        return TAGS.index("INPUT_text")
    if t == "T":
        return TAGS.index("SPAN")
    return TAGS.index(t) if t in TAGS and t else TAGS.index("DIV")


def _scalar(x) -> float:
    return float(np.asarray(x, dtype=np.float64).reshape(-1)[0])


def encode_observation(dom: list[dict], utterance_ids: np.ndarray, fields: list[tuple[str, str]],
                       n: int = N_NODES) -> dict[str, np.ndarray]:
    """The ``Dict`` observation of an element list (ours or MiniWoB++'s own dicts, whose
    positions are 1-element arrays and flags a 4-vector) and the instruction fields; the
    first ``n`` (:data:`N_NODES`) elements are kept."""
    ref = np.zeros(n, dtype=np.float32)
    parent = np.zeros(n, dtype=np.float32)
    tag = np.zeros(n, dtype=np.float32)
    text = np.zeros((n, T), dtype=np.float32)
    value = np.zeros((n, T), dtype=np.float32)
    position = np.zeros((n, 4), dtype=np.float32)
    flags = np.zeros((n, 4), dtype=np.float32)
    for s, d in enumerate(dom[:n]):
        ref[s], parent[s], tag[s] = min(int(d["ref"]), MAX_REF), min(int(d["parent"]), MAX_REF), tag_id(d["tag"])
        ids = token_ids(str(d.get("text") or ""))
        text[s, :len(ids)] = ids
        ids = token_ids(str(d.get("value") or ""))
        value[s, :len(ids)] = ids
        position[s] = (_scalar(d["left"]) / WIDTH, _scalar(d["top"]) / HEIGHT, _scalar(d["width"]) / WIDTH,
                       _scalar(d["height"]) / HEIGHT)
        if "flags" in d:
            flags[s] = np.asarray(d["flags"], dtype=np.float32).reshape(4)
        else:
            flags[s] = (d["focused"], d["tampered"], d["targeted"], d["is_leaf"])
    np.clip(position, 0.0, 8.0, out=position)
    out_fields = np.zeros((MAX_FIELDS, 2, T), dtype=np.float32)
    for j, (k, v) in enumerate(fields[:MAX_FIELDS]):
        ids = token_ids(k)
        out_fields[j, 0, :len(ids)] = ids
        ids = token_ids(v)
        out_fields[j, 1, :len(ids)] = ids
    return {"utterance": utterance_ids.copy(), "fields": out_fields.reshape(-1), "ref": ref, "parent": parent,
            "tag": tag, "text": text.reshape(-1), "value": value.reshape(-1), "position": position.reshape(-1),
            "flags": flags.reshape(-1)}


def token_ids_long(text: str, n: int) -> np.ndarray:
    """Token ids of a long text (the utterance), padded or cut to ``n``."""
    from envs.webform.tokens import token_id, words

    ids = [token_id(w) for w in words(text)[:n]]
    out = np.zeros(n, dtype=np.float32)
    out[:len(ids)] = ids
    return out


def observation_space(caps: Caps = BASE_CAPS) -> spaces.Dict:
    """The ``Dict`` of ``Box``es :meth:`MiniWobView.observation` fills. Per-element blocks
    are flat, row-major: ``text`` is ``(N_NODES, T)``, ``position`` and ``flags`` are
    ``(N_NODES, 4)``, ``fields`` is ``(MAX_FIELDS, 2, T)`` (key, value) (SB3 takes 2-D and
    3-D boxes for images)."""
    n_n = n_nodes(caps)

    def ids(*shape: int) -> spaces.Box:
        return spaces.Box(0.0, float(VOCAB - 1), shape=(int(np.prod(shape)),), dtype=np.float32)

    def box(high: float, *shape: int) -> spaces.Box:
        return spaces.Box(0.0, high, shape=(int(np.prod(shape)),), dtype=np.float32)

    return spaces.Dict({
        "utterance": ids(UTTERANCE_TOKENS),
        "fields": ids(MAX_FIELDS, 2, T),
        "ref": spaces.Box(0.0, float(MAX_REF), shape=(n_n,), dtype=np.float32),
        "parent": spaces.Box(0.0, float(MAX_REF), shape=(n_n,), dtype=np.float32),
        "tag": spaces.Box(0.0, float(len(TAGS) - 1), shape=(n_n,), dtype=np.float32),
        "text": ids(n_n, T),
        "value": ids(n_n, T),
        "position": box(8.0, n_n, 4),  # left, top, width, height in page widths / heights
        "flags": box(1.0, n_n, 4),  # focused, tampered, targeted, is_leaf
    })
