"""Replay an episode's actions in a real headless Chromium and check the simulator against it.

The replay is an independent second implementation of the action semantics. For every
action it finds the ``i``-th interactive element of the *visible* page in the rendered DOM,
reads instruction value ``j`` from the page's own text (so escaping is exercised end to
end), and acts with Playwright's ordinary input methods: a real ``click``, ``fill``,
``select_option`` or ``check``. Invalid actions are acted out too, and the reason an
action is a no-op comes from the page and the driver, never from the simulator's tables:

- click: every element is really clicked (a radio group on its legend: a click on one of
  its radios is a choose action). Only elements with HTML *activation behaviour*
  (``<button>``, ``<a href>``, checkbox and radio inputs) make it a valid action;
  any other click is ``not_clickable``;
- type: ``fill`` is attempted on every element; the driver refusing a non-text control
  gives ``not_typeable`` and refusing a non-number for ``input[type=number]`` gives
  ``rejected``; a value index the page's instruction does not list is ``no_value``;
- choose: ``select_option`` on a ``<select>``, ``check`` on the ``k``-th radio of a
  group; the driver refusing any other element gives ``not_choosable``, an option that
  does not exist (the driver waits :data:`PROBE_MS` for it) ``no_option``;
- an element index past the visible page (``no_element``) or an action outside the
  action space (``out_of_range``) names nothing on the page: there is nothing to act on.

Widgets (``WebFormEnv(widgets=True)``) are read and acted on the same way. The elements of
the visible page are its own, then the items of an open suggestion list or calendar (they
are built inside the page, after its elements). A click is also valid on an element the
page's script listens to for clicks (a date picker's read-only input, a suggestion, a
calendar's Prev / Next / day links), read from the live page with the DevTools protocol's
``DOMDebugger.getEventListeners``; a type action on a read-only input is left to the driver,
which waits :data:`PROBE_MS` for it to become editable (``not_typeable``); a type action
into an autocomplete enters what a user starts with, ``dom.typed_text`` (its first two
characters). A leaving link is followed by ``window.__left``, which ends the replay as a
submission does. The form read back from the page includes each widget's attributes (an
autocomplete's items, a date picker's months, a results-page row's field), and the
observation recomputed from the DOM includes the open list or calendar (its items, the
month its title shows) and the results page's rows.

Before and after every action the replay reads the live DOM (every control's value,
checkedness and selection, the page markup, the URL and ``window.__submitted``), so a test
can assert that each invalid action changed nothing, but for one thing a real pointer does:
a click on an element that is not clickable still closes an open suggestion list or
calendar (a mousedown outside it); whether it closed is compared with the simulator. It
counts the browser's ``invalid`` events, which are the browser's own verdict that
constraint validation failed (``html.py``: validation is HTML constraint validation, not a
copy of the Python rules).
It reads the form itself back from the DOM (:func:`read_form`), and
:func:`observations_from_browser` recomputes the policy's observation from that form and
the live values, errors and page, from scratch after every step, to compare with the
observation the env's incremental encoder produced.

:func:`check_episode` runs every comparison and names the check that failed, which the
mutation test (``tests/test_webform_browser.py``) uses to show that planted simulator bugs
are caught. :func:`play_simulator` plays the episode mix of that test: masked-random,
unmasked-random (mostly invalid actions), early-submit, noisy-expert and validation-probe
episodes.

Browsers stay out of training loops (issue 6). Playwright drives Debian's
``/usr/bin/chromium`` (``playwright install`` downloads a browser and fails here), with
the no-network flags of ``CHROMIUM_FLAGS`` below, and every request is aborted by a route: the page
is loaded with ``set_content`` and needs nothing else.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.webform import vocabulary as voc
from envs.webform.dom import FormState, decode, n_actions, typed_text
from envs.webform.features import Encoder, layout, obs_size
from envs.webform.form import BASE_CAPS, WIDGET_CAPS, Caps, Element, Form
from envs.webform.html import render_html

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
PROBE_MS = 150.0  # how long the driver looks for an option that is not there (no_option)

# Installed once per page by the replay (not by the page's own script): counts the
# browser's constraint-validation failures.
_COUNT_INVALID = ("() => { window.__tbInvalid = 0; document.addEventListener('invalid', "
                  "() => { window.__tbInvalid += 1; }, true); }")

# Everything the replay reads after an action, straight from the DOM.
_READ_STATE = r"""() => {
  const form = document.getElementById('tb-form');
  const pages = Array.from(form.querySelectorAll('.tb-page'));
  const values = {}, errors = {};
  form.querySelectorAll('[data-tb-value]').forEach((el) => {
    let v;
    if (el.tagName === 'FIELDSET') {
      const c = el.querySelector('input[type=radio]:checked');
      v = c ? c.value : '';
    } else if (el.type === 'checkbox') {
      v = el.checked ? 'yes' : 'no';
    } else {
      v = el.value;
    }
    values[el.id] = v;
    errors[el.id] = el.getAttribute('data-error') === '1';
  });
  const rows = {};
  form.querySelectorAll('output[data-tb-el]').forEach((el) => { rows[el.id] = el.textContent; });
  const page = pages.findIndex((p) => !p.hidden);
  const overlay = page < 0 ? [] : Array.from(pages[page].querySelectorAll('.tb-overlay [data-tb-el]')).map(
    (el) => [el.getAttribute('data-kind'), el.textContent]);
  const title = page < 0 ? null : pages[page].querySelector('.tb-overlay .tb-calendar > span');
  const controls = Array.from(document.querySelectorAll('input, select, textarea')).map(
    (c) => [c.id || c.name, c.value, c.checked, c.tagName === 'SELECT' ? c.selectedIndex : null]);
  const body = document.body.cloneNode(true);  // the page but an open list / calendar
  body.querySelectorAll('.tb-overlay').forEach((box) => { box.textContent = ''; });
  return {values, errors, page, rows, overlay, month: title ? title.textContent : null,
          submitted: window.__submitted || null, left: window.__left || null,
          pwned: window.__pwned === undefined ? null : String(window.__pwned),
          invalid_events: window.__tbInvalid,
          dom: JSON.stringify([controls, body.innerHTML, location.href, window.__submitted || null,
                               window.__left || null]),
          overlay_dom: Array.from(form.querySelectorAll('.tb-overlay')).map((box) => box.innerHTML).join('')};
}"""

# The form as the page shows it: what a policy looking at the page could know.
_READ_FORM = r"""() => {
  const text = (node) => {
    if (!node) { return ''; }
    const copy = node.cloneNode(true);
    copy.querySelectorAll('.tb-req').forEach((s) => s.remove());
    return copy.textContent;
  };
  const pages = Array.from(document.querySelectorAll('#tb-form .tb-page')).map((pg) =>
    Array.from(pg.querySelectorAll('[data-tb-el]')).map((el) => {
      const radios = Array.from(el.querySelectorAll('input[type=radio]'));
      const out = {tag: el.tagName, type: el.getAttribute('type') || '', kind: el.getAttribute('data-kind'),
                   id: el.id, holds: el.hasAttribute('data-tb-value'), options: [], initial: '',
                   required: false, pattern: el.getAttribute('pattern') || '',
                   min: el.getAttribute('min'), max: el.getAttribute('max'), readonly: !!el.readOnly,
                   source: JSON.parse(el.getAttribute('data-source') || '[]'),
                   calendar: ['data-first', 'data-opening', 'data-last'].filter((a) => el.hasAttribute(a)).map(
                     (a) => Number(el.getAttribute(a))),
                   ref: el.getAttribute('data-ref') || ''};
      if (el.tagName === 'FIELDSET') {
        out.label = text(el.querySelector('legend'));
        out.options = radios.map((r) => r.value);
        const c = radios.find((r) => r.defaultChecked);
        out.initial = c ? c.value : '';
        out.required = radios.some((r) => r.required);
      } else if (el.tagName === 'SELECT') {
        out.label = text(document.querySelector('label[for="' + CSS.escape(el.id) + '"]'));
        out.options = Array.from(el.options).slice(1).map((o) => o.value);
        const o = Array.from(el.options).find((o) => o.defaultSelected);
        out.initial = o ? o.value : '';
        out.required = el.required;
      } else if (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') {
        out.label = text(document.querySelector('label[for="' + CSS.escape(el.id) + '"]'));
        out.initial = el.type === 'checkbox' ? (el.defaultChecked ? 'yes' : 'no') : el.defaultValue;
        out.required = el.required;
      } else if (el.tagName === 'OUTPUT') {
        out.label = text(el.parentElement.querySelector('.tb-summary'));
      } else {
        out.label = el.textContent;
      }
      return out;
    }));
  const items = Array.from(document.querySelectorAll('#tb-instruction li'));
  return {pages,
          keys: items.map((li) => li.querySelector('.tb-key').textContent),
          values: items.map((li) => li.querySelector('.tb-value').textContent)};
}"""

# What the replay needs to know about element i of the visible page and instruction value j
# (one round trip). ``activates``: HTML elements with activation behaviour among those a
# form holds (a click on anything else does nothing by the HTML standard).
_ELEMENT = r"""([i, j]) => {
  const els = document.querySelectorAll('#tb-form .tb-page:not([hidden]) [data-tb-el]');
  const item = document.querySelector('#tb-instruction li[data-j="' + j + '"] .tb-value');
  const el = els[i];
  if (!el) { return {n: els.length}; }
  const activates = el.tagName === 'BUTTON' || (el.tagName === 'A' && el.hasAttribute('href')) ||
    (el.tagName === 'INPUT' && ['checkbox', 'radio', 'submit', 'button', 'reset', 'image'].includes(el.type));
  return {n: els.length, tag: el.tagName, activates, value: item ? item.textContent : null,
          kind: el.getAttribute('data-kind'), readonly: !!el.readOnly,
          radios: el.querySelectorAll('input[type=radio]').length,
          options: el.tagName === 'SELECT' ? el.options.length - 1 : 0};
}"""
# The kinds each tag / input type can be rendered as (html.py): "next", "button", "back"
# and "confirm" are all <button type=button>, "link" and "exit" both <a href>, told apart by
# the page's data-kind. A text input is an autocomplete when it carries its items
# (data-source) and a date picker when it is read-only.
_TAG_KINDS = {("INPUT", "text"): ("text",), ("INPUT", "text", "source"): ("autocomplete",),
              ("INPUT", "text", "readonly"): ("datepicker",), ("INPUT", "number"): ("number",),
              ("INPUT", "date"): ("date",), ("INPUT", "password"): ("password",), ("TEXTAREA",): ("textarea",),
              ("INPUT", "checkbox"): ("checkbox",), ("SELECT",): ("select",), ("FIELDSET",): ("radio",),
              ("A",): ("link", "exit"), ("OUTPUT",): ("summary",), ("BUTTON", "submit"): ("submit",),
              ("BUTTON", "button"): ("button", "next", "back", "confirm")}
# Playwright's refusals to fill a control that takes no text.
_NOT_FILLABLE = ("Element is not an <input>", "cannot be filled", "does not have a role allowing")
_NUMBER_REFUSED = "Cannot type text into input[type=number]"


def chromium_available(path: str = CHROMIUM) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


@dataclass
class BrowserStep:
    """The page after one action."""

    invalid: str
    values: dict[str, str]
    errors: dict[str, bool]
    page: int
    submitted: dict[str, str] | None
    validation_failed: bool = False  # the browser fired "invalid" events during the action
    dom_changed: bool = False  # anything in the live DOM but an open list / calendar differs from before
    overlay_dom_changed: bool = False  # a suggestion list or calendar opened, changed or closed
    left: str | None = None  # id of the leaving link clicked (widgets)
    rows: dict[str, str] = field(default_factory=dict)  # results-page rows: id -> text shown
    overlay: list[tuple[str, str]] = field(default_factory=list)  # open list / calendar: (kind, text)
    month: str | None = None  # an open calendar's title ("June 2016")


@dataclass
class ReplayResult:
    steps: list[BrowserStep] = field(default_factory=list)
    initial_values: dict[str, str] = field(default_factory=dict)
    initial_errors: dict[str, bool] = field(default_factory=dict)
    instruction_values: list[str] = field(default_factory=list)
    dom_form: Form | None = None  # the form read back from the page (element fields unknown: -1)
    tag_mismatches: list[str] = field(default_factory=list)  # data-kind that disagrees with the tag
    pwned: str | None = None
    caps: Caps = BASE_CAPS  # the sizes the actions were decoded for
    initial_rows: dict[str, str] = field(default_factory=dict)

    @property
    def submitted(self) -> dict[str, str] | None:
        return self.steps[-1].submitted if self.steps else None


def potential_from_values(form: Form, values: dict[str, str]) -> float:
    """The shaping potential of ``dom.FormState.potential``, from a browser's values."""
    good = bad = 0
    for e in form.value_elements():
        if e.field >= 0:
            good += values[e.name] == form.values[e.field]
        else:
            bad += values[e.name] != e.initial
    return (good - bad) / form.n_fields


def rewards_from_browser(form: Form, result: ReplayResult, *, shaping: float, success_reward: float,
                         failure_reward: float, timeout_reward: float, max_steps: int) -> list[float]:
    """The rewards the env's reward rule gives to the browser's trajectory."""
    rewards = []
    potential = potential_from_values(form, result.initial_values)
    for t, step in enumerate(result.steps, start=1):
        r = 0.0
        if shaping:
            new = potential_from_values(form, step.values)
            r += shaping * (new - potential)
            potential = new
        if step.submitted is not None:
            r += success_reward if step.submitted == form.expected() else failure_reward
        elif step.left:  # a leaving link: the form was abandoned
            r += failure_reward
        elif t >= max_steps:
            r += timeout_reward
        rewards.append(r)
    return rewards


def _form_from_dom(raw: dict[str, Any], task: dict) -> tuple[Form, list[str]]:
    mismatches: list[str] = []
    pages, rank = [], 0
    for p, items in enumerate(raw["pages"]):
        out = []
        for item in items:
            key: tuple[str, ...] = (item["tag"], item["type"]) if item["tag"] in ("INPUT", "BUTTON") else (item["tag"],)
            if key == ("INPUT", "text") and (item["readonly"] or item["source"]):
                key += ("readonly",) if item["readonly"] else ("source",)
            expected = _TAG_KINDS.get(key)
            kind = item["kind"]
            if expected is not None and kind not in expected:
                mismatches.append(f"page {p} {item['id']}: data-kind {kind!r} on <{' '.join(key).lower()}>")
            low = float(item["min"]) if item["min"] is not None else None
            high = float(item["max"]) if item["max"] is not None else None
            e = Element(kind=kind, label=item["label"], name=item["id"], options=tuple(item["options"]),
                        initial=item["initial"], required=bool(item["required"]), pattern=item["pattern"],
                        low=low, high=high, rank=rank if item["holds"] else 0, source=tuple(item["source"]),
                        calendar=tuple(item["calendar"]), ref=item["ref"])
            rank += bool(item["holds"])
            out.append(e)
        pages.append(tuple(out))
    return Form(pages=tuple(pages), keys=tuple(raw["keys"]), values=tuple(raw["values"]), task=dict(task)), mismatches


class BrowserReplay:
    """A headless Chromium session (use as a context manager) that replays episodes.

    Args:
        executable_path: the Chromium binary; default Debian's ``/usr/bin/chromium``.
        timeout_ms: Playwright's per-action timeout; default 5000 (an action that waits
            longer means the page and the simulator disagree, so it should fail loudly).
    """

    def __init__(self, executable_path: str = CHROMIUM, timeout_ms: float = 5000.0) -> None:
        if not chromium_available(executable_path):
            raise TeachBenchError("replay.executable_path", f"no Chromium executable at {executable_path!r}")
        self.executable_path = executable_path
        self.timeout_ms = float(timeout_ms)
        self._pw: Any = None
        self._browser: Any = None
        self._context: Any = None
        self.blocked_requests: list[str] = []

    def __enter__(self) -> "BrowserReplay":
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=self.executable_path, args=list(CHROMIUM_FLAGS),
                                                 headless=True)
        self._context = self._browser.new_context(java_script_enabled=True, service_workers="block")
        self._context.route("**/*", self._block)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._context is not None:
            self._context.close()
        if self._browser is not None:
            self._browser.close()
        if self._pw is not None:
            self._pw.stop()
        self._pw = self._browser = self._context = None

    def _block(self, route: Any) -> None:
        self.blocked_requests.append(route.request.url)
        route.abort()

    def replay(self, form: Form, actions: Iterable[int], max_steps: int | None = None,
               caps: Caps | None = None) -> ReplayResult:
        """Load ``form`` in a fresh page and play ``actions`` until the form is submitted or
        a leaving link is followed (or ``max_steps`` actions, or the actions run out).
        ``caps``: the env's sizes the actions were decoded for; by default the widget caps
        for a form of the widget task space (or with widget kinds), else the default's."""
        if self._context is None:
            raise TeachBenchError("replay", "use BrowserReplay as a context manager (with ...)")
        if caps is None:
            kinds = {e.kind for pg in form.pages for e in pg}
            caps = WIDGET_CAPS if "widget_rate" in form.task or not kinds <= set(BASE_CAPS.kinds) else BASE_CAPS
        page = self._context.new_page()
        page.set_default_timeout(self.timeout_ms)
        try:
            page.set_content(render_html(form), wait_until="load")
            page.evaluate(_COUNT_INVALID)
            cdp = self._context.new_cdp_session(page)
            result = ReplayResult(caps=caps)
            result.dom_form, result.tag_mismatches = _form_from_dom(page.evaluate(_READ_FORM), dict(form.task))
            before = page.evaluate(_READ_STATE)
            result.initial_values, result.initial_errors = before["values"], before["errors"]
            result.initial_rows = before["rows"]
            result.instruction_values = list(result.dom_form.values)
            for t, action in enumerate(actions):
                if max_steps is not None and t >= max_steps:
                    break
                invalid = self._act(page, cdp, int(action), n_actions(caps))
                state = page.evaluate(_READ_STATE)
                result.pwned = result.pwned or state["pwned"]
                result.steps.append(BrowserStep(
                    invalid, state["values"], state["errors"], state["page"], state["submitted"],
                    validation_failed=state["invalid_events"] > before["invalid_events"],
                    dom_changed=state["dom"] != before["dom"],
                    overlay_dom_changed=state["overlay_dom"] != before["overlay_dom"], left=state["left"],
                    rows=state["rows"],
                    overlay=[(k, text) for k, text in state["overlay"]], month=state["month"]))
                before = state
                if state["submitted"] is not None or state["left"]:
                    break
            return result
        finally:
            page.close()

    @staticmethod
    def _listens_for_clicks(cdp: Any, i: int) -> bool:
        """Whether the page's script listens for clicks on element ``i`` of the visible page
        itself (the DevTools protocol's view of its event listeners)."""
        handle = cdp.send("Runtime.evaluate", {
            "expression": f"document.querySelectorAll('#tb-form .tb-page:not([hidden]) [data-tb-el]')[{int(i)}]",
            "objectGroup": "tb-replay"})
        try:
            listeners = cdp.send("DOMDebugger.getEventListeners", {"objectId": handle["result"]["objectId"]})
            return any(x["type"] == "click" for x in listeners["listeners"])
        finally:
            cdp.send("Runtime.releaseObjectGroup", {"objectGroup": "tb-replay"})

    def _act(self, page: Any, cdp: Any, action: int, n_total: int) -> str:
        """Do one action in the page; return ``""`` or why it was a no-op."""
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        if not 0 <= action < n_total:
            return "out_of_range"
        i, op, arg = decode(action)
        info = page.evaluate(_ELEMENT, [i, arg])
        if i >= info["n"]:
            return "no_element"
        el = page.locator("#tb-form .tb-page:not([hidden]) [data-tb-el]").nth(i)
        if op == "click":
            # asked before the click, which may remove the element (a calendar's day)
            valid = info["activates"] or self._listens_for_clicks(cdp, i)
            (el.locator("legend") if info["tag"] == "FIELDSET" else el).click()
            return "" if valid else "not_clickable"
        if op == "type":
            if info["value"] is None:
                return "no_value"
            try:  # a read-only input never becomes editable: the driver gives up after PROBE_MS
                el.fill(typed_text(info["kind"], info["value"]), timeout=PROBE_MS if info["readonly"] else None)
            except PlaywrightTimeout:
                if info["readonly"]:
                    return "not_typeable"
                raise
            except PlaywrightError as exc:
                if _NUMBER_REFUSED in str(exc):
                    return "rejected"
                if any(s in str(exc) for s in _NOT_FILLABLE):
                    return "not_typeable"
                raise
            return ""
        # An option the page lacks is still asked of the driver, which waits PROBE_MS for it. Only
        # a <select> or a radio group has options to lack: any other element gets the full timeout,
        # so that the driver's own refusal (not a <select>) decides, not a 150 ms timer that a
        # loaded machine can let expire first (it once read 'no_option' where the page says 'not_choosable').
        has_options = bool(info["radios"]) or info["tag"] == "SELECT"
        timeout = PROBE_MS if has_options and arg >= (info["radios"] or info["options"]) else self.timeout_ms
        try:
            if info["radios"]:
                el.locator("input[type=radio]").nth(arg).check(timeout=timeout)
            else:
                el.select_option(index=arg + 1, timeout=timeout)  # option 0 is the "-- choose --" placeholder
        except PlaywrightTimeout:
            if timeout == PROBE_MS:
                return "no_option"
            raise
        except PlaywrightError as exc:
            if "Element is not a <select> element" in str(exc):
                return "not_choosable"
            raise
        return ""


def replay_episode(replay: BrowserReplay, form: Form, actions: Sequence[int]) -> ReplayResult:
    """Convenience wrapper used by tests and the benchmark."""
    return replay.replay(form, actions)


# -- the observation, recomputed from the live DOM --------------------------------------------


def _month_index(title: str | None) -> int:
    """``year * 12 + month - 1`` of a calendar title such as "June 2016"; -1 without one."""
    if not title:
        return -1
    name, year = title.rsplit(" ", 1)
    return int(year) * 12 + voc.MONTH_NAMES.index(name)


def _state_from_dom(dom_form: Form, values: dict[str, str], errors: dict[str, bool], page: int, caps: Caps,
                    rows: dict[str, str], overlay: Sequence[tuple[str, str]], month: str | None) -> FormState:
    state = FormState(dom_form, caps=caps)
    state.page = page
    state.values = [[values[e.name] if e.holds_value else rows.get(e.name, "") for e in pg] for pg in dom_form.pages]
    state.errors = [[bool(errors[e.name]) if e.holds_value else False for e in pg] for pg in dom_form.pages]
    state.overlay = tuple(Element(kind=kind, label=text) for kind, text in overlay)
    state.shown_month = _month_index(month)
    return state


def dom_observation(dom_form: Form, values: dict[str, str], errors: dict[str, bool], page: int, *,
                    steps_left: float, last_invalid: bool, last_failed: bool, obs_mode: str = "flat",
                    caps: Caps = BASE_CAPS, rows: dict[str, str] | None = None,
                    overlay: Sequence[tuple[str, str]] = (), month: str | None = None) -> np.ndarray:
    """The observation of ``obs_mode`` ("flat" or "tokens") built from scratch from the form
    read off the page and the page's live values, error marks and visible page (and, with
    widgets, the results page's rows and the open suggestion list or calendar: its items
    and the month its title shows).

    The encoder is the env's (``features.py`` / ``tokens.py``): what the observation *means*
    is defined there. What this checks is everything the env feeds it: the state the
    simulator tracks, the form it thinks is on the page, and the incremental per-step
    patches that keep a step cheap (this builds every feature afresh)."""
    from envs.webform.tokens import TokenEncoder

    state = _state_from_dom(dom_form, values, errors, page, caps, rows or {}, overlay, month)
    encoder = TokenEncoder(state, caps) if obs_mode == "tokens" else Encoder(state, caps)
    for p in range(len(dom_form.pages)):
        encoder.refresh_errors(p)
    if state.overlay:
        encoder.refresh_overlay(page)
    return encoder.observation(steps_left, last_invalid, last_failed)


def observations_from_browser(result: ReplayResult, max_steps: int, obs_mode: str = "flat") -> list[np.ndarray]:
    """The observation after reset and after every replayed step, from the live DOM."""
    assert result.dom_form is not None
    obs = [dom_observation(result.dom_form, result.initial_values, result.initial_errors, 0,
                           steps_left=1.0, last_invalid=False, last_failed=False, obs_mode=obs_mode,
                           caps=result.caps, rows=result.initial_rows)]
    for t, s in enumerate(result.steps, start=1):
        obs.append(dom_observation(result.dom_form, s.values, s.errors, s.page, steps_left=1.0 - t / max_steps,
                                   last_invalid=bool(s.invalid), last_failed=s.validation_failed, obs_mode=obs_mode,
                                   caps=result.caps, rows=s.rows, overlay=s.overlay, month=s.month))
    return obs


def observation_differences(sim: np.ndarray, web: np.ndarray, limit: int = 3, caps: Caps = BASE_CAPS) -> list[str]:
    """Named feature positions where two observations differ (block, element/field/option
    indices, feature), at most ``limit``."""
    from envs.webform.tokens import token_layout

    blocks = {**layout(caps), **(token_layout(caps) if sim.size > obs_size(caps) else {})}
    diff = np.flatnonzero(~np.isclose(sim, web, atol=1e-6))
    out = []
    for flat in diff[:limit]:
        for name, (sl, shape) in blocks.items():
            if sl.start <= flat < sl.stop:
                where = np.unravel_index(flat - sl.start, shape)
                out.append(f"{name}{tuple(int(w) for w in where)}: sim {sim[flat]:g} browser {web[flat]:g}")
                break
    return out


# -- the simulator side: episodes of the mix ---------------------------------------------------


@dataclass
class SimStep:
    """The simulator after one action (what the browser step is compared with)."""

    action: int
    invalid: str
    values: dict[str, str]
    errors: dict[str, bool]
    page: int
    submitted: dict[str, str] | None
    validation_failed: bool
    reward: float
    left: str | None
    overlay: list[tuple[str, str]]  # the open suggestion list / calendar: (kind, text) of each item
    month: int  # the open calendar's month (year * 12 + month - 1), else -1
    mask_before: np.ndarray  # the action mask the action was chosen under
    obs: np.ndarray


@dataclass
class SimEpisode:
    kind: str
    form: Form
    steps: list[SimStep]
    first_obs: np.ndarray
    info: dict[str, Any]
    max_steps: int


def _masked_random(env: Any, rng: np.random.Generator, mask: np.ndarray, t: int) -> int:
    valid = np.flatnonzero(mask)
    return int(rng.choice(valid)) if valid.size else 0


def _unmasked_random(env: Any, rng: np.random.Generator, mask: np.ndarray, t: int) -> int:
    """A click, a type or a choose (one third each) with a uniform argument on a uniform
    element of the page, sometimes one past it or outside the space: mostly invalid
    actions of every kind (not_clickable, not_typeable, rejected, no_value, not_choosable,
    no_option, no_element, out_of_range)."""
    from envs.webform.dom import encode
    from envs.webform.form import MAX_FIELDS, MAX_OPTIONS

    u = rng.random()
    if u < 0.03:
        n_total = int(env.action_space.n)
        return int(rng.choice([-1, n_total, n_total + 7]))
    n = len(env.state.elements)
    i = int(rng.integers(n + 1)) if u < 0.1 else int(rng.integers(n))
    op = ("click", "type", "choose")[int(rng.integers(3))]
    arg = int(rng.integers(MAX_FIELDS if op == "type" else MAX_OPTIONS)) if op != "click" else 0
    return encode(i, op, arg)


def _oracle(noise: float) -> Callable[[Any, np.random.Generator, np.ndarray, int], int]:
    from envs.webform.oracle import noisy_oracle_action

    def policy(env: Any, rng: np.random.Generator, mask: np.ndarray, t: int) -> int:
        if rng.random() < noise:
            return _masked_random(env, rng, mask, t) if rng.random() < 0.5 else _unmasked_random(env, rng, mask, t)
        return noisy_oracle_action(env.state, rng, 0.0)

    return policy


def _early_submit(env: Any, rng: np.random.Generator, mask: np.ndarray, t: int) -> int:
    """The expert, but each step with probability 0.4 it presses the page's Next / Submit
    at once: validation fails on empty required or still-wrong fields, then it goes on."""
    from envs.webform.dom import encode
    from envs.webform.oracle import oracle_action

    if rng.random() < 0.4:
        return encode(len(env.state.elements) - 1, "click")
    return oracle_action(env.state)


def _wrong_values(env: Any, rng: np.random.Generator, mask: np.ndarray, t: int) -> int:
    """Types a valid-but-wrong instruction value into a field (breaking patterns and ranges)
    or chooses a wrong option, then presses Next / Submit; otherwise the expert."""
    from envs.webform.dom import encode
    from envs.webform.oracle import oracle_action

    u = rng.random()
    if u < 0.35:
        return _masked_random(env, rng, mask, t)
    if u < 0.55:
        return encode(len(env.state.elements) - 1, "click")
    return oracle_action(env.state)


POLICIES: dict[str, Callable[[Any, np.random.Generator, np.ndarray, int], int]] = {
    "masked_random": _masked_random,
    "unmasked_random": _unmasked_random,
    "early_submit": _early_submit,
    "wrong_values": _wrong_values,
    "noisy_expert": _oracle(0.3),
    "expert": _oracle(0.0),
}


def _sim_state(env: Any) -> tuple[dict[str, str], dict[str, bool]]:
    errors = {e.name: env.state.errors[p][i] for p, page in enumerate(env.form.pages)
              for i, e in enumerate(page) if e.holds_value}
    return env.state.current_values(), errors


def play_simulator(env: Any, kind: str, rng: np.random.Generator, *, form: Form | None = None,
                   task: dict | None = None, seed: int = 0,
                   actions: Sequence[int] | None = None) -> SimEpisode:
    """One episode of ``kind`` (a key of :data:`POLICIES`, or explicit ``actions``) in the
    simulator, recording what the browser step will be compared with."""
    if kind not in POLICIES and actions is None:
        raise TeachBenchError("replay.kind", f"unknown episode kind {kind!r}", sorted(POLICIES))
    obs, info = env.reset(seed=seed, options={"form": form} if form is not None else {"task": task})
    first = np.asarray(obs).copy()
    steps: list[SimStep] = []
    done = False
    while not done:
        mask = env.action_masks()
        t = len(steps)
        a = int(actions[t]) if actions is not None else POLICIES[kind](env, rng, mask, t)
        obs, reward, done, _, info = env.step(a)
        values, errors = _sim_state(env)
        steps.append(SimStep(a, info["invalid_action"], values, errors, env.state.page,
                             dict(env.state.submitted) if env.state.submitted is not None else None,
                             bool(info["validation_failed"]), float(reward), env.state.left or None,
                             [(e.kind, e.label) for e in env.state.overlay], env.state.shown_month, mask,
                             np.asarray(obs).copy()))
        if actions is not None and len(steps) >= len(actions):
            break
    return SimEpisode(kind, env.form, steps, first, info, env.max_steps)


# -- the comparison ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """One disagreement between simulator and browser: which check, at which step."""

    check: str
    step: int  # -1: before the first action
    detail: str


CHECKS = ("form", "invalid", "mask", "noop", "values", "errors", "page", "overlay", "validation", "submitted",
          "left", "observation", "reward", "length")


def check_episode(env: Any, sim: SimEpisode, web: ReplayResult, obs_mode: str = "flat") -> list[Mismatch]:
    """Every disagreement between a simulator episode and its browser replay (empty: agree).

    Checks (names in :data:`CHECKS`): the form read back from the page equals the
    simulator's (``form``, element fields aside: the page does not say which key a field
    answers); per step, the no-op reason (``invalid``); the action's mask entry against the
    browser's verdict (``mask``: masked actions the page accepts, unmasked ones it refuses);
    an invalid action left the live DOM unchanged (``noop``; it may only close an open list
    or calendar); values, error marks, visible page, the open suggestion list or calendar
    (``overlay``: its items and the calendar's month), whether constraint validation
    failed, the submitted values and the leaving link followed (``left``); the observation
    recomputed from the DOM (``observation``); the reward the env's rule gives the browser's
    trajectory (``reward``); and the same number of steps (``length``). The action space is
    the env's (``env.action_space``), so a widget env's 100-element actions are in range."""
    out: list[Mismatch] = []
    assert web.dom_form is not None
    for m in web.tag_mismatches:
        out.append(Mismatch("form", -1, m))
    sim_form = [[dataclasses.replace(e, field=-1) for e in page] for page in sim.form.pages]
    dom_form = [list(page) for page in web.dom_form.pages]
    if sim_form != dom_form or (web.dom_form.keys, web.dom_form.values) != (sim.form.keys, sim.form.values):
        out.append(Mismatch("form", -1, "the page's form differs from the simulator's"))
    if web.pwned is not None:
        out.append(Mismatch("form", -1, f"injected code ran: {web.pwned}"))
    if len(web.steps) != len(sim.steps):
        out.append(Mismatch("length", len(web.steps), f"browser {len(web.steps)} steps, simulator {len(sim.steps)}"))
    web_obs = observations_from_browser(web, sim.max_steps, obs_mode)
    caps = web.caps
    n_total = int(env.action_space.n)
    for diff in observation_differences(sim.first_obs, web_obs[0], caps=caps):
        out.append(Mismatch("observation", -1, diff))
    rewards = rewards_from_browser(sim.form, web, shaping=env.shaping, success_reward=env.success_reward,
                                   failure_reward=env.failure_reward, timeout_reward=env.timeout_reward,
                                   max_steps=sim.max_steps)
    for t, (s, w) in enumerate(zip(sim.steps, web.steps)):
        if s.invalid != w.invalid:
            out.append(Mismatch("invalid", t, f"action {s.action}: simulator {s.invalid!r} browser {w.invalid!r}"))
        if 0 <= s.action < n_total and bool(s.mask_before[s.action]) != (w.invalid == ""):
            out.append(Mismatch("mask", t, f"action {s.action}: mask {bool(s.mask_before[s.action])}, "
                                           f"browser {w.invalid or 'valid'}"))
        if w.invalid and (w.dom_changed or (w.overlay_dom_changed and w.overlay)):
            out.append(Mismatch("noop", t, f"invalid action {s.action} ({w.invalid}) changed the page"))
        for name, a, b in (("values", s.values, w.values), ("errors", s.errors, w.errors), ("page", s.page, w.page),
                           ("overlay", (s.overlay, s.month), (w.overlay, _month_index(w.month))),
                           ("validation", s.validation_failed, w.validation_failed),
                           ("submitted", s.submitted, w.submitted), ("left", s.left, w.left)):
            if a != b:
                out.append(Mismatch(name, t, f"action {s.action}: simulator {a!r} browser {b!r}"))
        for diff in observation_differences(s.obs, web_obs[t + 1], caps=caps):
            out.append(Mismatch("observation", t, diff))
        if abs(rewards[t] - s.reward) > 1e-9:
            out.append(Mismatch("reward", t, f"simulator {s.reward:g} browser {rewards[t]:g}"))
    return out


__all__ = ["BrowserReplay", "BrowserStep", "CHECKS", "CHROMIUM", "CHROMIUM_FLAGS", "Mismatch", "POLICIES",
           "PROBE_MS", "ReplayResult", "SimEpisode", "SimStep", "check_episode", "chromium_available",
           "dom_observation", "observation_differences", "observations_from_browser", "play_simulator",
           "potential_from_values", "rewards_from_browser", "voc"]
