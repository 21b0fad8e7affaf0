"""Browser replay: the same episodes in headless Chromium give the same page states,
submitted values and rewards as the simulator.

Needs Debian's /usr/bin/chromium (``apt-get install -y chromium``; .ci/run installs it) and
the playwright Python package; never ``playwright install``. Skips with the reason otherwise.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from envs.webform import Element, Form, WebFormEnv, make_task_space
from envs.webform import vocabulary as voc
from envs.webform.dom import encode
from envs.webform.oracle import noisy_oracle_action
from envs.webform.replay import CHROMIUM, chromium_available

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason=f"{CHROMIUM} is absent: apt-get install -y chromium"),
]


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    from envs.webform.replay import BrowserReplay

    with BrowserReplay() as replay:
        yield replay


def sim_episode(env: WebFormEnv, form: Form | None, task: dict | None, seed: int, noise: float,
                rng: np.random.Generator, actions: list[int] | None = None):
    """Play one episode in the simulator; return the form, actions and per-step states."""
    env.reset(seed=seed, options={"form": form} if form is not None else {"task": task})
    states, played, done = [], [], False
    while not done:
        a = actions[len(played)] if actions else noisy_oracle_action(env.state, rng, noise)
        _, reward, done, _, info = env.step(a)
        played.append(a)
        errors = {e.name: env.state.errors[p][i] for p, page in enumerate(env.form.pages)
                  for i, e in enumerate(page) if e.holds_value}
        states.append((info["invalid_action"], env.state.current_values(), errors, env.state.page,
                       env.state.submitted, reward))
    return env.form, played, states, info


def assert_same(env: WebFormEnv, browser, form: Form, actions: list[int], states: list) -> None:
    from envs.webform.replay import rewards_from_browser

    result = browser.replay(form, actions)
    assert result.instruction_values == list(form.values)
    assert result.pwned is None
    assert len(result.steps) == len(states)
    rewards = rewards_from_browser(form, result, shaping=env.shaping, success_reward=env.success_reward,
                                   failure_reward=env.failure_reward, timeout_reward=env.timeout_reward,
                                   max_steps=env.max_steps)
    for t, (sim, web) in enumerate(zip(states, result.steps)):
        context = f"step {t} action {actions[t]} of {form.instruction_text()!r}"
        assert web.invalid == sim[0], context
        assert web.values == sim[1], context
        assert web.errors == sim[2], context
        assert web.page == sim[3], context
        assert web.submitted == sim[4], context
        assert rewards[t] == pytest.approx(sim[5], abs=1e-9), context
    assert result.submitted == states[-1][4]


def replay_many(browser, n_forms: int, seed: int) -> tuple[int, int]:
    """Corners and uniform draws of the TaskSpace with a noisy expert; returns
    (episodes, successes)."""
    env = WebFormEnv(shaping=0.5)
    space = make_task_space()
    rng = np.random.default_rng(seed)
    corners = [space.from_array(np.where(bits, space.high, space.low))
               for bits in itertools.product((0, 1), repeat=space.ndim)]
    rng.shuffle(corners)
    successes = 0
    for k in range(n_forms):
        task = corners[k] if k < n_forms // 3 else space.sample(rng)
        noise = (0.0, 0.15, 0.5)[k % 3]
        form, actions, states, info = sim_episode(env, None, task, seed * 1000 + k, noise, rng)
        assert_same(env, browser, form, actions, states)
        successes += info["success"]
    assert not browser.blocked_requests
    return n_forms, successes


def test_replay_matches_simulator_on_30_forms(browser):
    n, successes = replay_many(browser, 30, seed=1)
    assert 0 < successes < n  # both outcomes were compared


@pytest.mark.slow
def test_replay_matches_simulator_on_300_forms(browser):
    n, successes = replay_many(browser, 300, seed=2)
    assert 0 < successes < n


def hostile_forms() -> list[Form]:
    """Forms of <= 6 fields whose values, prefilled values and options are hostile strings."""
    hostile = list(voc.HOSTILE_TEXT)
    options = ("a<b>", "x&amp;y", 'q"uote', "Café & Bar", "🙂")
    forms = []
    for start in range(0, len(hostile), 4):
        chunk = hostile[start:start + 4]
        elements = [Element(kind="text", label=f"Comment {k}", name=f"tb-{k + 1}", field=k, rank=k,
                            initial=v if k == 1 else "") for k, v in enumerate(chunk)]
        n = len(chunk)
        elements.append(Element(kind="select", label="Pick", name=f"tb-{n + 1}", field=n, rank=n, options=options))
        elements.append(Element(kind="radio", label="Choose", name=f"tb-{n + 2}", field=n + 1, rank=n + 1,
                                options=options, initial=options[2]))
        elements.append(Element(kind="submit", label="Submit <&>", name=f"tb-{n + 3}"))
        forms.append(Form(pages=(tuple(elements),), keys=tuple(f"Comment {k}" for k in range(n)) + ("Pick", "Choose"),
                          values=tuple(chunk) + (options[start // 4 % 5], options[4]),
                          task=WebFormEnv().default_task()))
    return forms


def test_hostile_values_render_type_and_submit_unchanged(browser):
    """HTML specials, scripts, unicode and emoji: typed into text fields, prefilled, and as
    options; the browser submits exactly the simulator's strings, runs no injected code
    and requests nothing."""
    env = WebFormEnv(shaping=1.0)
    rng = np.random.default_rng(0)
    for form in hostile_forms():
        form, actions, states, info = sim_episode(env, form, None, 0, 0.0, rng)
        assert info["success"], form.instruction_text()
        assert_same(env, browser, form, actions, states)
        # a wrong hostile value typed over the prefilled one, then submitted
        wrong = [encode(1, "type", 0), encode(len(form.pages[0]) - 1, "click")]
        form, actions, states, info = sim_episode(env, form, None, 0, 0.0, rng, actions=wrong)
        assert not info["success"] and states[-1][4]["tb-2"] == form.values[0]
        assert_same(env, browser, form, actions, states)
    assert not browser.blocked_requests
