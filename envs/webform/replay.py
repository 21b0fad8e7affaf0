"""Replay an episode's actions in a real headless Chromium and read back what it did.

The replay is an independent second implementation of the action semantics: it finds the
``i``-th interactive element of the *visible* page in the rendered DOM, reads instruction
value ``j`` from the page's own text (so escaping is exercised end to end), and acts with
Playwright's ordinary input methods (``click``, ``fill``, ``select_option``, ``check``).
After every action it reads the page's values, errors, visible page and ``window.__submitted``.
Tests compare these with the simulator's, step by step, and the rewards recomputed from the
browser's states with the rewards the env paid.

Browsers stay out of training loops (issue 6). Playwright drives Debian's
``/usr/bin/chromium`` (``playwright install`` downloads a browser and fails here), with
the no-network flags of ``CHROMIUM_FLAGS`` below, and every request is aborted by a route: the page
is loaded with ``set_content`` and needs nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from envs.errors import TeachBenchError
from envs.webform import vocabulary as voc
from envs.webform.dom import CHOOSABLE, CLICKABLE, TYPEABLE, decode, field_error, typed_text  # noqa: F401
from envs.webform.form import Form
from envs.webform.html import render_html

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
_READ_STATE = "() => ({values: __tb.values(), errors: __tb.errors(), page: __tb.page(), " \
              "submitted: window.__submitted || null, left: window.__left || null, " \
              "pwned: window.__pwned === undefined ? null : String(window.__pwned)})"


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
    left: str | None = None  # id of the leaving link clicked (widgets)


@dataclass
class ReplayResult:
    steps: list[BrowserStep] = field(default_factory=list)
    initial_values: dict[str, str] = field(default_factory=dict)
    instruction_values: list[str] = field(default_factory=list)
    pwned: str | None = None

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
        elif step.left:
            r += failure_reward
        elif t >= max_steps:
            r += timeout_reward
        rewards.append(r)
    return rewards


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

    def replay(self, form: Form, actions: Iterable[int], max_steps: int | None = None) -> ReplayResult:
        """Load ``form`` in a fresh page and play ``actions`` until the form is submitted
        (or ``max_steps`` actions, or the actions run out)."""
        from playwright.sync_api import Error as PlaywrightError

        if self._context is None:
            raise TeachBenchError("replay", "use BrowserReplay as a context manager (with ...)")
        page = self._context.new_page()
        page.set_default_timeout(self.timeout_ms)
        try:
            page.set_content(render_html(form), wait_until="load")
            result = ReplayResult()
            first = page.evaluate(_READ_STATE)
            result.initial_values = first["values"]
            result.instruction_values = page.eval_on_selector_all(
                "#tb-instruction li .tb-value", "els => els.map(e => e.textContent)")
            for t, action in enumerate(actions):
                if max_steps is not None and t >= max_steps:
                    break
                invalid = self._act(page, int(action), PlaywrightError)
                state = page.evaluate(_READ_STATE)
                result.pwned = result.pwned or state["pwned"]
                result.steps.append(BrowserStep(invalid, state["values"], state["errors"], state["page"],
                                                state["submitted"], state["left"]))
                if state["submitted"] is not None or state["left"]:
                    break
            return result
        finally:
            page.close()

    def _act(self, page: Any, action: int, error_type: type[Exception]) -> str:
        """Do one action; return ``""`` or why it was a no-op (the simulator's reasons)."""
        if not 0 <= action:
            return "out_of_range"
        i, op, arg = decode(action)
        visible = page.evaluate("() => __tb.page()")
        elements = page.locator(f'.tb-page[data-page="{visible}"] [data-tb-el]')
        if i >= elements.count():
            return "no_element"
        el = elements.nth(i)
        kind = el.get_attribute("data-kind")
        if op == "click":
            if kind not in CLICKABLE:
                return "not_clickable"
            el.click()
            return ""
        if op == "type":
            values = page.locator(f'#tb-instruction li[data-j="{arg}"] .tb-value')
            if values.count() == 0:
                return "no_value"
            if kind not in TYPEABLE:
                return "not_typeable"
            text = values.text_content() or ""
            try:
                el.fill(typed_text(kind, text))
            except error_type as exc:
                if "Cannot type text into input[type=number]" in str(exc):
                    return "rejected"
                raise
            return ""
        if kind not in CHOOSABLE:
            return "not_choosable"
        if kind == "select":
            n = el.locator("option").count() - 1  # the first option is the "-- choose --" placeholder
            if arg >= n:
                return "no_option"
            el.select_option(index=arg + 1)
            return ""
        radios = el.locator("input[type=radio]")
        if arg >= radios.count():
            return "no_option"
        radios.nth(arg).check()
        return ""


def replay_episode(replay: BrowserReplay, form: Form, actions: Sequence[int]) -> ReplayResult:
    """Convenience wrapper used by tests and the benchmark."""
    return replay.replay(form, actions)


__all__ = ["BrowserReplay", "BrowserStep", "CHROMIUM", "CHROMIUM_FLAGS", "ReplayResult", "chromium_available",
           "potential_from_values", "rewards_from_browser", "voc"]
