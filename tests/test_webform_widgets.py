"""The web-form widgets and flows of issue 19 (``WebFormEnv(widgets=True)``): password,
textarea, autocomplete and date-picker fields, leaving links, the review flow (Back and a
results page) and 100-element pages; each on a hand-worked case, then the expert on
generated forms, the env checkers, the HTML page, and the default env left as it was.
Browser agreement: tests/test_webform_widgets_browser.py."""

from __future__ import annotations

import itertools
from html.parser import HTMLParser

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from envs.errors import TeachBenchError
from envs.webform import Element, Form, WebFormEnv, generate_form, make_task_space
from envs.webform.dom import N_ACTIONS, SLOTS, FormState, decode, encode, n_actions
from envs.webform.features import OBS_SIZE, layout
from envs.webform.form import WIDGET_CAPS, check_form
from envs.webform.html import render_html
from envs.webform.miniwob import N_MINIWOB_ACTIONS, N_NODES, TAGS
from envs.webform.oracle import noisy_oracle_action, oracle_action
from envs.webform.tokens import TOKEN_OBS_SIZE, T, token_ids, token_layout

# June 2016 as year * 12 + month - 1, and a date picker ranging April..August 2016
JUNE_2016 = 2016 * 12 + 5
CALENDAR = (JUNE_2016 - 2, JUNE_2016, JUNE_2016 + 2)
COUNTRIES = ("Malawi", "Malaysia", "Mali", "Malta", "Mexico", "Nepal")


def widget_form(*fields: Element, values: tuple[str, ...], review: bool = False, extra: tuple[Element, ...] = ()) -> Form:
    """One page holding ``fields`` (field j answers key j), ``extra`` elements, Submit; a
    results page (rows, Back, Confirm) when ``review``."""
    page = (*fields, *extra, Element("submit", "Submit", "tb-90"))
    pages = [page]
    if review:
        rows = tuple(Element("summary", e.label, f"tb-{70 + k}", field=e.field, ref=e.name)
                     for k, e in enumerate(e for e in page if e.holds_value))
        pages.append((*rows, Element("back", "Back", "tb-91"), Element("confirm", "Confirm", "tb-92")))
    space = make_task_space(WIDGET_CAPS)
    return Form(pages=tuple(pages), keys=tuple(e.label for e in fields), values=values,
                task={**space.from_array(space.low), "n_fields": len(fields)})


def widget_env(**kwargs) -> WebFormEnv:
    return WebFormEnv(widgets=True, **kwargs)


# -- the default env is untouched ---------------------------------------------------------
def test_default_env_keeps_its_spaces_and_forms():
    """Worked out from the layout: 20 element slots x (1 click + 8 values + 5 options) = 280
    actions; flat features 20 x 16 + 20 x 8 x 6 + 20 x 5 x 10 + 8 x 6 + 7 = 2335; tokens add
    20 x 6 x (2 + 5) + 2 x 8 x 6 = 936; the MiniWoB++ list 1 + 8 x 12 + 10 x 3 + 2 = 129 nodes."""
    env = WebFormEnv()
    assert env.action_space.n == N_ACTIONS == 280 and OBS_SIZE == 2335 and TOKEN_OBS_SIZE == 2335 + 936
    assert env.observation_space.shape == (2335,) and N_NODES == 129 and N_MINIWOB_ACTIONS == 1 + 129 * 9
    assert env.task_space.names == ["n_fields", "kind_mix", "n_distractors", "n_pages", "order_shuffle",
                                    "synonym_rate", "validation_rate", "prefilled"]
    base, wide = make_task_space(), make_task_space(WIDGET_CAPS)
    assert wide.names[:8] == base.names and wide["n_distractors"].high == 57
    rng = np.random.default_rng(0)
    for k in range(100):  # the widget space at zero widgets draws the very same form
        task = base.sample(rng)
        a = generate_form(task, np.random.default_rng(k), base)
        b = generate_form({**task, "widget_rate": 0.0, "leave_rate": 0.0, "review_rate": 0.0},
                          np.random.default_rng(k), wide)
        assert (a.pages, a.keys, a.values) == (b.pages, b.keys, b.values)
    with pytest.raises(TeachBenchError) as err:
        WebFormEnv(widgets="yes")
    assert err.value.key == "env.kwargs.widgets"
    password = widget_form(Element("password", "PIN", "tb-1", field=0), values=("1234",))
    with pytest.raises(TeachBenchError) as err:  # a widget form needs the widget caps
        WebFormEnv().reset(options={"form": Form(password.pages, password.keys, password.values,
                                                 WebFormEnv().default_task())})
    assert err.value.key == "options.form" and "password" in str(err.value)


def test_widget_env_passes_the_checkers_in_every_observation_mode():
    for obs_mode in ("flat", "tokens", "miniwob"):
        env = widget_env(obs_mode=obs_mode, shaping=1.0)
        check_env(env, skip_render_check=True)
        sb3_check_env(widget_env(obs_mode=obs_mode))
    env = widget_env()
    assert env.action_space.n == n_actions(WIDGET_CAPS) == 100 * SLOTS
    assert env.observation_space.shape == (100 * (1 + 22 + 5) + 100 * 8 * 6 + 100 * 5 * 10 + 8 * 6 + 7,)


# -- each widget on a hand-worked case -----------------------------------------------------
def test_password_is_typed_masked_on_the_page_and_clear_in_miniwobs_view():
    f = widget_form(Element("password", "Password", "tb-1", field=0), values=("p@ss<w>rd",))
    env = widget_env(obs_mode="miniwob")
    env.reset(options={"form": f})
    env.step(env.view.from_simulator(encode(0, "type", 0)))
    assert env.state.values[0][0] == "p@ss<w>rd"
    dom = env.view.dom_elements()
    control = next(d for d in dom if d["tag"] == "INPUT_password")
    assert control["value"] == "p@ss<w>rd"  # MiniWoB++'s getDOMInfo reports element.value
    assert TAGS[int(env.view.observation()["tag"][dom.index(control)])] == "INPUT_text"
    page = render_html(f)
    assert '<input type="password"' in page and "p@ss&lt;w&gt;rd" in page  # instruction, escaped


def test_textarea_keeps_newlines_a_text_input_makes_them_spaces():
    value = "Leave at the door\nRing twice"
    f = widget_form(Element("textarea", "Notes", "tb-1", field=0), Element("text", "City", "tb-2", field=1),
                    values=(value, "Paris"))
    state = FormState(f)
    state.step(encode(0, "type", 0))
    state.step(encode(1, "type", 0))
    assert state.values[0][0] == value and state.values[0][1] == "Leave at the door Ring twice"
    assert "<textarea" in render_html(f)


def test_autocomplete_prefix_shows_suggestions_and_a_click_fills():
    """use-autocomplete's matcher (items starting with the typed text, any case): "Ma" of
    "Malta" shows Malawi, Malaysia, Mali, Malta, in source order, after the page's elements."""
    f = widget_form(Element("autocomplete", "Destination", "tb-1", field=0, source=COUNTRIES),
                    Element("checkbox", "Gift", "tb-2", field=1, initial="no"), values=("Malta", "yes"))
    env = widget_env(obs_mode="tokens")
    env.reset(options={"form": f})
    n = len(f.pages[0])
    assert env.action_masks()[encode(n, "click")] == 0
    obs, *_ = env.step(encode(0, "type", 0))
    assert env.state.values[0][0] == "Ma"
    assert [e.label for e in env.state.overlay] == ["Malawi", "Malaysia", "Mali", "Malta"]
    assert [e.kind for e in env.state.elements[n:]] == ["suggestion"] * 4
    mask = env.action_masks()
    assert mask[encode(n + 3, "click")] and not mask[encode(n + 4, "click")]
    labels = obs[token_layout(WIDGET_CAPS)["label_tokens"][0]].reshape(100, T)
    assert labels[n + 3, 0] == token_ids("Malta")[0]
    flat = obs[layout(WIDGET_CAPS)["match"][0]].reshape(100, 8, 6)
    assert flat[n + 3, 0, 4] == 1 and flat[n + 2, 0, 4] == 0  # "clicking it puts value 0 in"
    _, _, _, _, info = env.step(encode(n + 3, "click"))
    assert env.state.values[0][0] == "Malta" and env.state.overlay == () and not info["invalid_action"]
    assert env.step(encode(n, "click"))[4]["invalid_action"] == "no_element"  # the list is gone
    # another element's action closes the list before it acts; a prefix with no item opens none
    env.step(encode(0, "type", 0))
    env.step(encode(1, "click"))
    assert env.state.overlay == () and env.state.values[0][1] == "yes" and env.state.values[0][0] == "Ma"
    env.step(encode(0, "type", 1))  # "ye": no country starts with it
    assert env.state.values[0][0] == "ye" and env.state.overlay == ()
    assert 'data-kind="autocomplete"' in render_html(f) and "Malaysia" in render_html(f)


def test_an_invalid_click_outside_an_open_list_closes_it():
    """A click on an element that is not clickable is still a mousedown: outside an open
    suggestion list or calendar it closes it (jQuery UI's outside mousedown; found by the
    browser check), and stays invalid, changing nothing else. On the list's own input it
    does not (no mousedown outside)."""
    f = widget_form(Element("autocomplete", "Destination", "tb-1", field=0, source=COUNTRIES),
                    Element("text", "City", "tb-2", field=1),
                    Element("datepicker", "Appointment date", "tb-3", field=2, calendar=CALENDAR),
                    values=("Malta", "Paris", "06/03/2016"))
    env = widget_env()
    env.reset(options={"form": f})
    env.step(encode(0, "type", 0))
    values = [list(row) for row in env.state.values]
    _, _, _, _, info = env.step(encode(0, "click"))  # its own input: the list stays
    assert info["invalid_action"] == "not_clickable" and len(env.state.overlay) == 4
    obs, _, _, _, info = env.step(encode(1, "click"))  # a text input, outside the list
    assert info["invalid_action"] == "not_clickable" and env.state.overlay == ()
    assert env.state.values == values and env.action_masks()[encode(len(f.pages[0]), "click")] == 0
    assert obs[layout(WIDGET_CAPS)["elements"][0]].reshape(100, -1)[len(f.pages[0]), 0] == 0  # the row is gone
    env.step(encode(2, "click"))  # the calendar
    assert env.step(encode(1, "click"))[4]["invalid_action"] == "not_clickable" and env.state.overlay == ()


def test_date_picker_calendar_moves_by_month_and_a_day_click_fills():
    """April 14, 2016 with a calendar opening on June 2016: open (June: Prev, Next, 30 days),
    Prev twice (April: 30 days), click day 14: four actions, MM/DD/YYYY as jQuery UI writes."""
    f = widget_form(Element("datepicker", "Appointment date", "tb-1", field=0, calendar=CALENDAR),
                    values=("04/14/2016",))
    assert f.min_actions() == 2 + 2 + 1  # open + day, two months back, Submit
    env = widget_env()
    env.reset(options={"form": f})
    n = len(f.pages[0])
    assert env.step(encode(0, "type", 0))[4]["invalid_action"] == "not_typeable"  # read-only
    env.step(encode(0, "click"))
    assert env.state.shown_month == JUNE_2016 and len(env.state.overlay) == 2 + 30
    assert [e.kind for e in env.state.overlay[:3]] == ["prev_month", "next_month", "day"]
    env.step(encode(0, "click"))  # clicking its own input keeps it open on the same month
    assert env.state.shown_month == JUNE_2016
    env.step(encode(n, "click"))
    env.step(encode(n, "click"))
    assert env.state.shown_month == JUNE_2016 - 2 and len(env.state.overlay) == 2 + 30
    env.step(encode(n, "click"))  # Prev at the first month: disabled
    assert env.state.shown_month == JUNE_2016 - 2
    env.step(encode(n + 1, "click"))  # Next: May has 31 days
    assert len(env.state.overlay) == 2 + 31
    env.step(encode(n, "click"))
    _, _, _, _, info = env.step(encode(n + 1 + 14, "click"))
    assert env.state.values[0][0] == "04/14/2016" and env.state.overlay == ()
    env.step(encode(0, "click"))  # reopens on its value's month
    assert env.state.shown_month == JUNE_2016 - 2
    _, reward, done, _, info = env.step(encode(n - 1, "click"))  # Submit closes the calendar, submits
    assert done and info["success"] and reward == env.success_reward
    page = render_html(f)
    assert 'data-kind="datepicker"' in page and "readonly" in page and f'data-opening="{JUNE_2016}"' in page


def test_leaving_link_ends_the_episode_as_a_failure():
    f = widget_form(Element("text", "City", "tb-1", field=0), values=("Paris",),
                    extra=(Element("exit", "Log out", "tb-5"), Element("link", "Help", "tb-6")))
    env = widget_env(shaping=1.0)
    env.reset(options={"form": f})
    _, r1, done, _, _ = env.step(encode(0, "type", 0))
    _, r2, done2, _, info2 = env.step(encode(2, "click"))  # a plain link: nothing happens
    assert r1 == pytest.approx(1.0) and not done and not done2 and r2 == 0.0
    _, reward, done, _, info = env.step(encode(1, "click"))
    assert done and info["left"] and not info["success"] and info["submitted"] is None
    assert reward == pytest.approx(env.failure_reward) and not info["timeout"]
    with pytest.raises(TeachBenchError):
        env.step(0)
    assert 'data-kind="exit"' in render_html(f)


def test_review_flow_back_keeps_values_and_confirm_submits():
    """Reward semantics: Submit shows the results page and pays nothing, Back pays nothing
    (values kept), Confirm pays the success / failure reward of the values it submits."""
    f = widget_form(Element("text", "City", "tb-1", field=0), Element("password", "PIN", "tb-2", field=1),
                    values=("Paris", "1234"), review=True)
    check_form(f, WIDGET_CAPS)
    assert f.review and f.min_actions() == 2 + 2
    env = widget_env(shaping=1.0)
    env.reset(options={"form": f})
    env.step(encode(0, "type", 0))
    env.step(encode(1, "type", 0))  # a wrong PIN: "Paris"
    _, reward, done, _, _ = env.step(encode(2, "click"))
    assert env.state.page == 1 and not done and reward == 0.0
    assert env.state.values[1][:2] == ["Paris", "Paris"]  # the results rows show what would be submitted
    assert env.step(encode(0, "click"))[4]["invalid_action"] == "not_clickable"  # a row
    assert oracle_action(env.state) == encode(2, "click")  # the expert sees the wrong row: Back
    _, reward, done, _, _ = env.step(encode(2, "click"))
    assert env.state.page == 0 and env.state.values[0][:2] == ["Paris", "Paris"] and reward == 0.0
    env.step(encode(1, "type", 1))
    env.step(encode(2, "click"))
    assert env.state.values[1][:2] == ["Paris", "1234"]
    _, reward, done, _, info = env.step(encode(3, "click"))  # Confirm
    assert done and info["success"] and info["submitted"] == {"tb-1": "Paris", "tb-2": "1234"}
    assert reward == pytest.approx(env.success_reward)
    # confirming a wrong form fails
    env.reset(options={"form": f})
    env.step(encode(0, "type", 0))
    env.step(encode(2, "click"))
    _, reward, done, _, info = env.step(encode(3, "click"))
    assert done and not info["success"] and reward == pytest.approx(env.failure_reward)
    page = render_html(f)
    assert "data-review" in page and 'data-kind="confirm"' in page and 'data-ref="tb-2"' in page


# -- generated forms ----------------------------------------------------------------------
def test_expert_solves_generated_forms_with_every_widget():
    """Fuzz over seeds and the widget space: every form is valid and the expert solves it
    within the step limit (leaving links present and never clicked), in the flat and the
    MiniWoB++ action spaces; every widget and flow appears."""
    space = make_task_space(WIDGET_CAPS)
    rng = np.random.default_rng(0)
    env, seen = widget_env(), set()
    for k in range(150):
        task = {**space.sample(rng), "n_distractors": int(rng.integers(0, 58))}
        if k % 3 == 0:
            task.update(widget_rate=1.0, leave_rate=1.0, review_rate=1.0)
        _, info = env.reset(seed=k, options={"task": task})
        check_form(env.form, WIDGET_CAPS)
        seen |= {e.kind for page in env.form.pages for e in page}
        done, steps = False, 0
        while not done:
            action = oracle_action(env.state)
            assert info["action_mask"][action], (k, decode(action))
            obs, _, done, _, info = env.step(action)
            assert env.observation_space.contains(obs)
            seen |= {e.kind for e in env.state.overlay}
            steps += 1
        assert info["success"] and not info["timeout"], (k, env.form.instruction_text())
        assert steps <= env.max_steps
    assert {"password", "textarea", "autocomplete", "datepicker", "exit", "back", "confirm", "summary", "suggestion",
            "day", "prev_month", "next_month"} <= seen
    mw = widget_env(obs_mode="miniwob", typing="append")
    for k in range(30):
        task = {**space.sample(rng), "widget_rate": 1.0, "review_rate": float(k % 2), "leave_rate": 1.0}
        mw.reset(seed=k, options={"task": task})
        done = False
        while not done:
            action = mw.view.from_simulator(oracle_action(mw.state))
            assert mw.action_masks()[action]
            _, _, done, _, info = mw.step(action)
        assert info["success"], (k, mw.form.instruction_text())


def test_hundred_element_pages_fit_the_spaces_and_the_mask_matches_the_simulator():
    env = widget_env(obs_mode="tokens")
    task = env.held_out()["hundred_elements"]
    sizes = []
    for k in range(6):
        obs, info = env.reset(seed=k, options={"task": task})
        sizes.append(max(len(page) for page in env.form.pages))
        rng = np.random.default_rng(k)
        done = False
        while not done:  # noisy expert: opens widgets, clicks around
            action = noisy_oracle_action(env.state, rng, 0.3)
            mask = env.action_masks()
            for a in range(0, n_actions(WIDGET_CAPS), 7):
                assert mask[a] == (env.state.valid(*decode(a)) == ""), a
            obs, _, done, _, info = env.step(action)
            assert env.observation_space.contains(obs)
            assert len(env.state.elements) <= 100
    assert max(sizes) >= 60  # 8 fields, 57 distractors and Submit on one page


def test_every_corner_of_the_widget_space_is_solvable():
    space = make_task_space(WIDGET_CAPS)
    env = widget_env()
    for k, bits in enumerate(itertools.product((0, 1), repeat=space.ndim)):
        if k % 4:  # 2^11 corners: every fourth keeps the test fast
            continue
        task = space.from_array(np.where(bits, space.high, space.low))
        env.reset(seed=k, options={"task": task})
        done = False
        while not done:
            _, _, done, _, info = env.step(oracle_action(env.state))
        assert info["success"], task


def test_test_set_and_held_out_reach_the_widgets():
    env = widget_env()
    tasks = env.test_tasks()
    assert any(t["widget_rate"] == 1.0 for t in tasks) and any(t["review_rate"] == 1.0 for t in tasks)
    assert WebFormEnv().test_tasks() == WebFormEnv().test_tasks() and len(WebFormEnv().held_out()) == 5
    for name, task in env.held_out().items():
        env.reset(seed=1, options={"task": task})
        done = False
        while not done:
            _, _, done, _, info = env.step(oracle_action(env.state))
        assert info["success"], name


class _Kinds(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.kinds: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-tb-el" in a:
            self.kinds.append(a.get("data-kind") or "")


def test_html_lists_the_simulators_elements_in_order():
    """The page's ``[data-tb-el]`` elements are the simulator's elements, page by page (the
    replay acts on the i-th of them)."""
    space = make_task_space(WIDGET_CAPS)
    rng = np.random.default_rng(3)
    for k in range(20):
        task = {**space.sample(rng), "widget_rate": 1.0, "review_rate": 1.0, "leave_rate": 1.0}
        form = generate_form(task, rng, space)
        parser = _Kinds()
        parser.feed(render_html(form))
        assert parser.kinds == [e.kind for page in form.pages for e in page]


def test_the_set_policy_builds_on_the_widget_observations():
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from students.build import make_student

    for obs_mode in ("tokens", "miniwob"):
        vec = DummyVecEnv([lambda: widget_env(obs_mode=obs_mode, shaping=1.0)])
        model = make_student("maskable_ppo", vec, policy="webform_set", params={"n_steps": 16, "batch_size": 16})
        env = widget_env(obs_mode=obs_mode)
        obs, _ = env.reset(seed=2, options={"task": {**env.default_task(), "n_fields": 3, "widget_rate": 1.0}})
        obs_t = model.policy.obs_to_tensor(obs)[0]
        with torch.no_grad():
            dist = model.policy.get_distribution(obs_t, action_masks=env.action_masks()[None])
        probs = dist.distribution.probs[0].numpy()
        assert probs.shape == (env.action_space.n,) and probs[~env.action_masks()].max() == 0.0
