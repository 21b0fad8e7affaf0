"""Browser replay of the widgets and flows (``WebFormEnv(widgets=True)``): headless
Chromium acting on the rendered page gives the simulator's values, errors, page,
submission, leaving link and rewards after every action, on hand-worked episodes that
use each widget and on generated forms played by a noisy expert. The strong check of
tests/test_webform_browser.py (``replay.check_episode``: invalid actions acted out, live-DOM
no-op snapshots, the form read back, the observation recomputed from the DOM) runs on
widget episodes too: scripted ones and its mostly-random episode mix.

Marked and skipped as tests/test_webform_browser.py is: needs Debian's /usr/bin/chromium
and the playwright Python package.
"""

from __future__ import annotations

import numpy as np
import pytest

from envs.webform import Element, Form, WebFormEnv, make_task_space
from envs.webform.dom import encode
from envs.webform.form import WIDGET_CAPS
from envs.webform.oracle import noisy_oracle_action
from envs.webform.replay import CHROMIUM, chromium_available

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason=f"{CHROMIUM} is absent: apt-get install -y chromium"),
]

CALENDAR = (2016 * 12 + 3, 2016 * 12 + 5, 2016 * 12 + 7)  # April..August 2016, opening on June
COUNTRIES = ("Malawi", "Malaysia", "Mali", "Malta", "Mexico", "Nepal")


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    from envs.webform.replay import BrowserReplay

    with BrowserReplay() as replay:
        yield replay


def play(env: WebFormEnv, actions=None, rng=None, noise: float = 0.0) -> tuple[list[int], list[tuple], dict]:
    """One simulator episode (``actions``, else the noisy expert); per step: invalid reason,
    values, errors, page, submission, leaving link, reward."""
    played, states, done, info = [], [], False, {}
    while not done:
        a = actions[len(played)] if actions is not None else noisy_oracle_action(env.state, rng, noise)
        _, reward, done, _, info = env.step(a)
        played.append(a)
        errors = {e.name: env.state.errors[p][i] for p, page in enumerate(env.form.pages)
                  for i, e in enumerate(page) if e.holds_value}
        states.append((info["invalid_action"], env.state.current_values(), errors, env.state.page,
                       env.state.submitted, env.state.left or None, reward))
        if actions is not None and len(played) == len(actions):
            break
    return played, states, info


def assert_browser_agrees(browser, env: WebFormEnv, actions: list[int], states: list[tuple]) -> None:
    from envs.webform.replay import rewards_from_browser

    form = env.form
    result = browser.replay(form, actions)
    assert len(result.steps) == len(states)
    rewards = rewards_from_browser(form, result, shaping=env.shaping, success_reward=env.success_reward,
                                   failure_reward=env.failure_reward, timeout_reward=env.timeout_reward,
                                   max_steps=env.max_steps)
    for t, (sim, web) in enumerate(zip(states, result.steps)):
        context = f"step {t} action {actions[t]} of {form.instruction_text()!r}"
        assert (web.invalid, web.values, web.errors, web.page, web.submitted, web.left) == sim[:6], context
        assert rewards[t] == pytest.approx(sim[6], abs=1e-9), context
    assert result.pwned is None and not browser.blocked_requests


def one_page(*elements: Element, values: tuple[str, ...], review: bool = False) -> Form:
    page = (*elements, Element("submit", "Submit", "tb-90"))
    pages = [page]
    if review:
        rows = tuple(Element("summary", e.label, f"tb-{70 + k}", field=e.field, ref=e.name)
                     for k, e in enumerate(e for e in page if e.holds_value))
        pages.append((*rows, Element("back", "Back", "tb-91"), Element("confirm", "Confirm", "tb-92")))
    space = make_task_space(WIDGET_CAPS)
    n = sum(e.field >= 0 for e in elements)
    return Form(pages=tuple(pages), keys=tuple(f"Key {j}" for j in range(n)), values=values,
                task={**space.from_array(space.low), "n_fields": n})


def test_each_widget_acts_out_the_same_in_chromium(browser):
    """Scripted episodes: an autocomplete (prefix, suggestions, a click, an outside click
    closing the list, a prefix matching nothing), a date picker (typing refused, Prev to
    the first month and once more, Next, a day), a textarea with newlines and a password
    with HTML specials, then Submit; a review flow with Back and Confirm; a leaving link."""
    env = WebFormEnv(widgets=True, shaping=1.0, steps_per_field=4.0)  # room for the detours below
    f = one_page(Element("autocomplete", "Destination", "tb-1", field=0, source=COUNTRIES),
                 Element("datepicker", "Appointment date", "tb-2", field=1, calendar=CALENDAR),
                 Element("textarea", "Notes", "tb-3", field=2, required=True),
                 Element("password", "Password", "tb-4", field=3),
                 Element("checkbox", "Gift", "tb-5", initial="no"),
                 values=("Malta", "04/14/2016", "<b>Fragile</b> & heavy\nUse the lift", "p@ss<w>rd"))
    n = len(f.pages[0])
    script = [encode(0, "type", 0), encode(n + 3, "click"),  # "Ma", click "Malta"
              encode(0, "type", 1), encode(4, "click"),  # "04" opens nothing; the checkbox
              encode(0, "type", 0), encode(4, "click"),  # the list is closed by the click outside
              encode(n, "click"),  # no list: no element there
              encode(0, "type", 0), encode(n + 3, "click"),
              encode(1, "type", 1), encode(5, "click"),  # typing into the date picker is refused; Submit: Notes required
              encode(1, "click"), encode(n, "click"), encode(n, "click"), encode(n, "click"),  # June -> April, then disabled
              encode(n + 1, "click"), encode(n, "click"), encode(1, "click"), encode(n + 1 + 14, "click"),
              encode(2, "type", 2), encode(3, "type", 3), encode(5, "click")]
    env.reset(options={"form": f})
    actions, states, info = play(env, script)
    assert info["success"] and env.state.values[0][:4] == list(f.values)
    assert_browser_agrees(browser, env, actions, states)

    review = one_page(Element("text", "City", "tb-1", field=0), Element("password", "PIN", "tb-2", field=1),
                      values=("Paris", "1234"), review=True)
    script = [encode(0, "type", 0), encode(1, "type", 0), encode(2, "click"),  # wrong PIN, to the results page
              encode(2, "click"), encode(1, "type", 1), encode(2, "click"), encode(3, "click")]  # Back, fix, Confirm
    env.reset(options={"form": review})
    actions, states, info = play(env, script)
    assert info["success"] and states[2][3] == 1 and states[3][3] == 0
    assert_browser_agrees(browser, env, actions, states)

    leave = one_page(Element("text", "City", "tb-1", field=0), Element("exit", "Log out", "tb-2"), values=("Paris",))
    env.reset(options={"form": leave})
    actions, states, info = play(env, [encode(0, "type", 0), encode(1, "click")])
    assert info["left"] and [s[6] for s in states] == pytest.approx([1.0, env.failure_reward])
    assert_browser_agrees(browser, env, actions, states)


def test_generated_widget_forms_replay_the_same(browser):
    """Generated forms with widgets, leaving links and review flows, played by the expert
    with 0%, 30% and 60% random actions: both outcomes compared."""
    env = WebFormEnv(widgets=True, shaping=0.5)
    space = env.task_space
    rng = np.random.default_rng(5)
    outcomes = set()
    for k in range(12):
        task = {**space.sample(rng), "n_distractors": int(rng.integers(0, 12)), "widget_rate": 1.0,
                "review_rate": float(k % 2), "leave_rate": 0.5}
        env.reset(seed=k, options={"task": task})
        actions, states, info = play(env, rng=rng, noise=(0.0, 0.3, 0.6)[k % 3])
        assert_browser_agrees(browser, env, actions, states)
        outcomes.add(info["success"])
    assert outcomes == {True, False}


def test_a_hundred_element_page_replays_the_same(browser):
    """The largest pages: 8 fields (widgets among them), 57 distractors (leaving links
    among them), Submit, and an open calendar's 33 items after them."""
    env = WebFormEnv(widgets=True, shaping=0.5)
    task = {**env.held_out()["hundred_elements"], "widget_rate": 1.0, "leave_rate": 0.3}
    rng = np.random.default_rng(11)
    for seed in range(40):
        env.reset(seed=seed, options={"task": task})
        if any(e.kind == "datepicker" for e in env.form.pages[0]):
            break
    assert len(env.form.pages[0]) == 8 + 57 + 1
    actions, states, info = play(env, rng=rng, noise=0.1)
    assert_browser_agrees(browser, env, actions, states)


@pytest.mark.slow
def test_100_generated_widget_forms_replay_the_same(browser):
    env = WebFormEnv(widgets=True, shaping=0.5)
    space = env.task_space
    rng = np.random.default_rng(6)
    for k in range(100):
        env.reset(seed=k, options={"task": space.sample(rng)})
        actions, states, info = play(env, rng=rng, noise=(0.0, 0.3, 0.6)[k % 3])
        assert_browser_agrees(browser, env, actions, states)


# -- the strong check (replay.check_episode) on the widgets ------------------------------------
def ranked_form() -> Form:
    """An autocomplete, a radio group and a date picker, ranked as generated forms are (the
    strong check compares the form read back from the page, ranks included)."""
    elements = (Element("autocomplete", "Destination", "tb-1", field=0, rank=0, source=COUNTRIES),
                Element("radio", "Plan", "tb-2", field=1, rank=1, options=("Free", "Pro")),
                Element("datepicker", "Appointment date", "tb-3", field=2, rank=2, calendar=CALENDAR),
                Element("submit", "Submit", "tb-4"))
    space = make_task_space(WIDGET_CAPS)
    return Form(pages=(elements,), keys=("Destination", "Plan", "Appointment date"),
                values=("Malta", "Pro", "06/03/2016"), task={**space.from_array(space.low), "n_fields": 3})


# A list opened, then a click on the radio group (not clickable: a legend) closes it; the
# calendar the same way; the episode still ends in a successful submit.
OUTSIDE_CLICKS = (encode(0, "type", 0), encode(1, "click"), encode(4 + 3, "click"),
                  encode(0, "type", 0), encode(4 + 3, "click"),
                  encode(2, "click"), encode(1, "click"), encode(4 + 4, "click"),
                  encode(2, "click"), encode(4 + 4, "click"), encode(1, "choose", 1), encode(3, "click"))


def test_the_strong_check_agrees_on_an_invalid_click_outside_an_open_list(browser):
    """The simulator bug the strong check found: an invalid click outside an open list or
    calendar closes it in the page (a mousedown), so it must in the simulator; every check
    agrees at every step, and the click stays ``not_clickable``."""
    from envs.webform.replay import check_episode, play_simulator

    env = WebFormEnv(widgets=True, shaping=0.5, obs_mode="tokens", steps_per_field=5.0)
    sim = play_simulator(env, "script", np.random.default_rng(0), form=ranked_form(), actions=OUTSIDE_CLICKS)
    web = browser.replay(sim.form, list(OUTSIDE_CLICKS), caps=env.caps)
    assert [s.invalid for s in web.steps][:3] == ["", "not_clickable", "no_element"]
    assert web.steps[0].overlay and not web.steps[1].overlay and web.steps[1].overlay_dom_changed
    assert sim.info["success"] and web.submitted == sim.form.expected()
    assert check_episode(env, sim, web, obs_mode="tokens") == []


def test_the_overlay_check_sees_a_list_that_ignores_outside_mousedowns(browser, monkeypatch):
    """A page-side bug: the list closes on focus, input and change but not on a mousedown
    outside it. The legend click does not move focus, so the list stays open in the page:
    the overlay, observation and invalid checks say so."""
    from envs.webform import replay
    from envs.webform.replay import check_episode, play_simulator

    render = replay.render_html
    monkeypatch.setattr(replay, "render_html", lambda form: render(form).replace(
        '["mousedown", "focusin", "input", "change"]', '["focusin", "input", "change"]'))
    env = WebFormEnv(widgets=True, shaping=0.5, steps_per_field=5.0)
    sim = play_simulator(env, "script", np.random.default_rng(0), form=ranked_form(), actions=OUTSIDE_CLICKS)
    web = browser.replay(sim.form, list(OUTSIDE_CLICKS), caps=env.caps)
    checks = {m.check for m in check_episode(env, sim, web)}
    assert {"overlay", "observation", "invalid"} <= checks


def strong_mix(browser, n: int, seed: int, max_distractors: int) -> tuple[set, int, set]:
    """``n`` episodes of the strong check's mix (mostly not the expert: random actions,
    masked and not, early submits, wrong values) on generated widget forms with leaving
    links and review flows; asserts that every check agrees at every step. Returns the
    invalid reasons met, the steps with an open list or calendar, and how episodes ended."""
    from envs.webform.replay import check_episode, play_simulator

    env = WebFormEnv(widgets=True, shaping=0.5, obs_mode="tokens")
    space = env.task_space
    rng = np.random.default_rng(seed)
    kinds = ("unmasked_random", "masked_random", "early_submit", "wrong_values", "noisy_expert", "unmasked_random")
    reasons, opened, ends = set(), 0, set()
    for k in range(n):
        task = {**space.sample(rng), "widget_rate": 0.6 + 0.4 * float(rng.random()),
                "n_distractors": int(rng.integers(0, max_distractors + 1)), "leave_rate": 0.3,
                "review_rate": float(k % 2)}
        kind = kinds[k % len(kinds)]
        sim = play_simulator(env, kind, rng, task=space.validate(task), seed=k)
        web = browser.replay(sim.form, [s.action for s in sim.steps], caps=env.caps)
        found = check_episode(env, sim, web, obs_mode="tokens")
        assert found == [], (kind, k, found[:5])
        reasons |= {s.invalid for s in web.steps if s.invalid}
        opened += sum(bool(s.overlay) for s in web.steps)
        ends.add("left" if web.steps[-1].left else "submitted" if web.submitted else "open")
    assert not browser.blocked_requests
    return reasons, opened, ends


def test_the_strong_check_agrees_on_a_widget_episode_mix(browser):
    """12 episodes of the mix: every check agrees at every step."""
    reasons, opened, ends = strong_mix(browser, 12, seed=7, max_distractors=9)
    assert opened >= 5 and {"not_clickable", "not_typeable", "not_choosable"} <= reasons
    assert {"left", "submitted"} <= ends


@pytest.mark.slow
def test_the_strong_check_agrees_on_100_widget_episodes(browser):
    reasons, opened, ends = strong_mix(browser, 100, seed=8, max_distractors=57)
    print(f"\nreasons {sorted(reasons)}; steps with an open list or calendar {opened}; ends {sorted(ends)}")
    assert {"not_clickable", "not_typeable", "not_choosable", "no_value", "no_element"} <= reasons
    assert {"left", "submitted"} <= ends


def test_the_strong_check_agrees_on_the_review_flow_and_a_leaving_link(browser):
    """A review flow whose results page shows an empty row (an optional textarea left
    empty): typing into that row and clicking it are acted out (``not_typeable``,
    ``not_clickable``: an empty ``<output>`` is still a box the pointer reaches), then Back,
    the textarea filled, Submit, Confirm; and a leaving link ending the episode. Every check
    agrees at every step."""
    from envs.webform.replay import check_episode, play_simulator

    space = make_task_space(WIDGET_CAPS)
    fields = (Element("password", "PIN", "tb-1", field=0, rank=0, required=True),
              Element("textarea", "Notes", "tb-2", field=1, rank=1),
              Element("exit", "Log out", "tb-3"), Element("submit", "Review", "tb-4"))
    results = (Element("summary", "PIN", "tb-5", field=0, ref="tb-1"),
               Element("summary", "Notes", "tb-6", field=1, ref="tb-2"),
               Element("back", "Back", "tb-7"), Element("confirm", "Confirm", "tb-8"))
    form = Form(pages=(fields, results), keys=("PIN", "Notes"), values=("p@ss<w>rd", "Back gate\nBeware of the dog"),
                task={**space.from_array(space.low), "n_fields": 2})
    env = WebFormEnv(widgets=True, shaping=0.5, obs_mode="tokens", steps_per_field=5.0)
    review = (encode(3, "click"), encode(0, "type", 0), encode(3, "click"),  # required PIN; to the results
              encode(1, "type", 1), encode(1, "click"), encode(2, "click"),  # the empty row; Back
              encode(1, "type", 1), encode(3, "click"), encode(3, "click"))  # Notes; Submit; Confirm
    leave = (encode(0, "type", 0), encode(2, "click"))
    for actions, end in ((review, "submitted"), (leave, "left")):
        sim = play_simulator(env, "script", np.random.default_rng(0), form=form, actions=actions)
        web = browser.replay(form, list(actions), caps=env.caps)
        assert check_episode(env, sim, web, obs_mode="tokens") == []
        if end == "submitted":
            assert [s.invalid for s in web.steps][3:5] == ["not_typeable", "not_clickable"]
            assert web.steps[2].page == 1 and web.steps[2].rows == {"tb-5": "p@ss<w>rd", "tb-6": ""}
            assert sim.info["success"] and web.submitted == form.expected()
        else:
            # shaping 0.5 x one of two fields right, then the abandoned form's failure reward
            assert web.steps[-1].left == "tb-3" and [s.reward for s in sim.steps] == pytest.approx([0.25, -1.0])
