"""The web-form env without a browser: contract, generator corners, action semantics,
rewards, masks, escaping. Browser replay lives in test_webform_browser.py."""

from __future__ import annotations

import itertools
from html.parser import HTMLParser

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs.errors import TeachBenchError
from envs.webform import Element, Form, WebFormEnv, generate_form, make_task_space
from envs.webform import vocabulary as voc
from envs.webform.dom import N_ACTIONS, SLOTS, FormState, decode, encode
from envs.webform.features import layout
from envs.webform.form import MAX_ELEMENTS, check_form
from envs.webform.html import render_html
from envs.webform.oracle import oracle_action


def corner_tasks() -> list[dict]:
    space = make_task_space()
    return [space.from_array(np.where(bits, space.high, space.low)) for bits in itertools.product((0, 1), repeat=space.ndim)]


def play(env: WebFormEnv, policy) -> tuple[float, dict, int]:
    total, steps, done, info = 0.0, 0, False, {}
    while not done:
        _, reward, done, truncated, info = env.step(policy(env))
        assert not truncated
        total += reward
        steps += 1
    return total, info, steps


def simple_form(**overrides) -> Form:
    fields = dict(kind="text", label="City", name="tb-1", field=0, rank=0)
    fields.update(overrides)
    return Form(pages=((Element(**fields), Element(kind="submit", label="Submit", name="tb-2")),),
                keys=("City",), values=(overrides.pop("value", "Paris"),), task=WebFormEnv().default_task())


def test_registered_and_passes_env_checkers():
    env = gym.make(envs.gym_id("webform"))
    assert isinstance(env.unwrapped, WebFormEnv)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(WebFormEnv(shaping=1.0))


def test_every_corner_gives_a_valid_solvable_form():
    """All 2^8 corners of the TaskSpace: a valid form that the scripted expert solves
    within the step limit, with the success reward and info['success']."""
    env = WebFormEnv()
    for k, task in enumerate(corner_tasks()):
        _, info = env.reset(seed=k, options={"task": task})
        assert info["task"] == task
        check_form(env.form)
        assert len(env.form.pages) == min(task["n_pages"], task["n_fields"])
        total, info, steps = play(env, lambda e: oracle_action(e.state))
        assert info["success"] and not info["timeout"], (task, env.form.instruction_text())
        assert steps <= env.max_steps
        assert total == pytest.approx(env.success_reward)


def test_task_levers_shape_the_form():
    space = make_task_space()
    rng = np.random.default_rng(3)
    low = space.from_array(space.low)
    for _ in range(20):
        form = generate_form(low, rng, space)
        assert form.n_fields == 1 and len(form.pages) == 1 and len(form.pages[0]) == 2
        assert form.pages[0][0].kind == "text" and form.keys[0] == form.pages[0][0].label
    hard = {**low, "n_fields": 8, "n_distractors": 10, "n_pages": 3, "kind_mix": 1.0, "synonym_rate": 1.0,
            "validation_rate": 1.0, "prefilled": 0.5}
    kinds = set()
    for _ in range(20):
        form = generate_form(hard, rng, space)
        elements = [e for page in form.pages for e in page]
        assert len(form.pages) == 3 and sum(e.field >= 0 for e in elements) == 8
        assert sum(e.field < 0 and e.kind not in ("next", "submit") for e in elements) == 10
        labels = {e.field: e.label for e in elements if e.field >= 0}
        assert all(form.keys[j] != labels[j] for j in range(8))  # every key is a synonym
        assert sum(e.initial == form.values[e.field] for e in elements if e.field >= 0) == 4
        assert all(e.required or e.kind == "checkbox" for e in elements if e.field >= 0)
        kinds |= {e.kind for e in elements if e.field >= 0}
    assert kinds == set(voc.NON_TEXT_KINDS)  # kind_mix=1: no text field


def test_seeded_generation_is_deterministic():
    space = make_task_space()
    task = space.sample(np.random.default_rng(0))
    assert generate_form(task, np.random.default_rng(5), space) == generate_form(task, np.random.default_rng(5), space)
    a, b = WebFormEnv(), WebFormEnv()
    a.reset(seed=11, options={"task": task})
    b.reset(seed=11, options={"task": task})
    assert a.form == b.form


def test_bad_tasks_and_kwargs_raise_naming_the_key():
    env = WebFormEnv()
    with pytest.raises(TeachBenchError, match="task.n_fields"):
        env.reset(options={"task": {**env.default_task(), "n_fields": 0}})
    with pytest.raises(TeachBenchError, match="task.kind_mix"):
        env.reset(options={"task": {**env.default_task(), "kind_mix": 1.5}})
    with pytest.raises(TeachBenchError, match="env.kwargs.shaping"):
        WebFormEnv(shaping=float("nan"))
    with pytest.raises(TeachBenchError, match="env.kwargs.steps_per_field"):
        WebFormEnv(steps_per_field=0.5)


def test_actions_on_missing_elements_are_flagged_no_ops():
    env = WebFormEnv()
    n_el = 2
    for action in (encode(n_el, "click"), encode(MAX_ELEMENTS - 1, "type", 0), encode(0, "type", 5),
                   encode(0, "choose", 0), encode(0, "click"), N_ACTIONS + 7, -3):
        obs, _ = env.reset(seed=0)
        assert len(env.form.pages[0]) == n_el
        values = env.state.current_values()
        new_obs, reward, done, _, info = env.step(action)
        assert info["invalid_action"] and not done and reward == 0.0
        assert env.state.current_values() == values
        sl, _ = layout()["elements"]
        assert np.array_equal(new_obs[sl], obs[sl])
    assert env.step(encode(n_el - 1, "click"))[4]["invalid_action"] == ""


def test_mask_matches_the_simulator_validity():
    env = WebFormEnv()
    rng = np.random.default_rng(1)
    for k in range(40):
        _, info = env.reset(seed=k, options={"task": env.task_space.sample(rng)})
        mask = info["action_mask"]
        assert np.array_equal(mask, env.action_masks())
        for a in range(N_ACTIONS):
            i, op, arg = decode(a)
            assert mask[a] == (env.state.valid(i, op, arg) == ""), (a, i, op, arg)
        assert mask.any()


def test_timeout_costs_as_much_as_a_wrong_submit():
    env = WebFormEnv()
    env.reset(seed=0)
    total, info, steps = play(env, lambda e: encode(MAX_ELEMENTS - 1, "click"))
    assert info["timeout"] and not info["success"] and steps == env.max_steps
    assert total == pytest.approx(env.failure_reward) and env.failure_reward < 0
    env.reset(seed=0)
    total, info, steps = play(env, lambda e: encode(1, "click"))  # submit an empty form
    assert steps == 1 and not info["success"] and not info["timeout"]
    assert total == pytest.approx(env.failure_reward)
    assert info["submitted"] == {env.form.pages[0][0].name: ""}


def test_shaping_is_potential_based_per_field():
    env = WebFormEnv(shaping=1.0)
    task = {**env.default_task(), "n_fields": 4, "kind_mix": 0.0}
    env.reset(seed=4, options={"task": task})
    rewards = []
    done = False
    while not done:
        _, r, done, _, info = env.step(oracle_action(env.state))
        rewards.append(r)
    assert info["success"]
    assert rewards[:4] == pytest.approx([0.25] * 4)
    assert sum(rewards) == pytest.approx(1.0 + env.success_reward)
    # undoing progress is paid back: a checkbox toggled twice nets zero
    env.reset(seed=0, options={"task": {**task, "kind_mix": 1.0, "n_fields": 8}})
    for p, page in enumerate(env.form.pages):
        if p != env.state.page:
            continue
        boxes = [i for i, e in enumerate(page) if e.kind == "checkbox"]
        if boxes:
            r1 = env.step(encode(boxes[0], "click"))[1]
            r2 = env.step(encode(boxes[0], "click"))[1]
            assert r1 != 0 and r1 + r2 == pytest.approx(0.0)


def test_browser_semantics_of_number_and_date_inputs():
    form = Form(
        pages=((Element(kind="number", label="Age", name="tb-1", field=0, rank=0),
                Element(kind="date", label="Start date", name="tb-2", field=1, rank=1, initial="2020-01-02"),
                Element(kind="text", label="City", name="tb-3", field=2, rank=2),
                Element(kind="submit", label="Submit", name="tb-4")),),
        keys=("Age", "Start date", "City"), values=("42", "2021-05-06", "Paris"), task=WebFormEnv().default_task())
    state = FormState(form)
    out = state.step(encode(0, "type", 2))  # "Paris" into a number input: Playwright refuses
    assert out.invalid == "rejected" and state.values[0][0] == ""
    assert state.step(encode(0, "type", 1)).invalid == "rejected"  # a date is not a number
    state.step(encode(0, "type", 0))
    assert state.values[0][0] == "42"
    out = state.step(encode(1, "type", 2))  # a non-date into a date input clears it
    assert out.invalid == "" and state.values[0][1] == ""
    state.step(encode(1, "type", 1))
    assert state.values[0][1] == "2021-05-06"
    state.step(encode(2, "type", 0))  # any value fits a text input
    assert state.values[0][2] == "42"


def test_validation_blocks_next_and_submit():
    env = WebFormEnv()
    task = {**env.default_task(), "n_fields": 3, "n_pages": 2, "validation_rate": 1.0, "kind_mix": 0.0}
    env.reset(seed=2, options={"task": task})
    page = env.form.pages[0]
    assert any(e.required for e in page)
    _, _, done, _, info = env.step(encode(len(page) - 1, "click"))
    assert info["validation_failed"] and not done and env.state.page == 0
    assert any(env.state.errors[0])
    sl, shape = layout()["elements"]
    assert env._encoder.observation(1.0, False, True)[sl].reshape(shape)[:, 12].any()  # error feature
    total, info, _ = play(env, lambda e: oracle_action(e.state))
    assert info["success"]


def test_test_set_is_fixed_and_held_out_is_valid():
    a, b = WebFormEnv(), WebFormEnv()
    tasks = a.test_tasks()
    assert tasks == b.test_tasks() and len(tasks) == a.test_set_size
    assert all(a.task_space.contains(t) for t in tasks)
    assert {t["n_fields"] for t in tasks} >= {1, 2, 3, 5, 8}
    assert a.is_mastered(-1.0, True) and not a.is_mastered(5.0, False)
    held = a.held_out()
    assert {"long_multipage", "many_distractors_short"} <= set(held)
    for k, (name, task) in enumerate(held.items()):
        a.reset(seed=k, options={"task": task})
        assert play(a, lambda e: oracle_action(e.state))[1]["success"], name
    assert held["long_multipage"]["n_pages"] == 3 and held["many_distractors_short"]["n_distractors"] == 10


class _Texts(HTMLParser):
    """Collects the text of the instruction values and the attributes of controls."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[str] = []
        self.attrs: dict[str, dict[str, str | None]] = {}
        self._in_value = False
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        if a.get("class") == "tb-value":
            self._in_value = True
            self.values.append("")
        if "id" in a:
            self.attrs[a["id"]] = a

    def handle_endtag(self, tag):
        if tag == "span":
            self._in_value = False

    def handle_data(self, data):
        if self._in_value:
            self.values[-1] += data


def test_html_escapes_hostile_values():
    hostile = voc.HOSTILE_TEXT
    form = Form(
        pages=(tuple(Element(kind="text", label=f"Comment {k} <b>&", name=f"tb-{k + 1}", field=k, rank=k,
                             initial=v if k % 2 else "") for k, v in enumerate(hostile[:7]))
               + (Element(kind="submit", label="Submit", name="tb-99"),),),
        keys=tuple(f"Comment {k} <b>&" for k in range(7)), values=tuple(hostile[:7]), task={})
    page = render_html(form)
    parser = _Texts()
    parser.feed(page)
    assert parser.values == list(hostile[:7])
    assert parser.tags.count("script") == 1 and "img" not in parser.tags and "svg" not in parser.tags
    for k in range(1, 7, 2):
        assert parser.attrs[f"tb-{k + 1}"]["value"] == hostile[k]
    assert "</script><img" not in page


def test_random_agent_does_not_crash_across_the_space():
    env = WebFormEnv(shaping=0.5)
    rng = np.random.default_rng(7)
    for k in range(60):
        obs, _ = env.reset(seed=k, options={"task": env.task_space.sample(rng)})
        done = False
        while not done:
            obs, r, done, _, info = env.step(int(rng.integers(-2, N_ACTIONS + 2)))
            assert env.observation_space.contains(obs) and np.isfinite(r)
        assert "success" in info and info["task"] == env._task


def test_slots_layout():
    assert SLOTS * MAX_ELEMENTS == N_ACTIONS
    for a in range(N_ACTIONS):
        assert encode(*decode(a)) == a


def test_webform_runs_default_to_the_masked_student(compose):
    """``env=webform`` picks sb3-contrib's MaskablePPO (configs/env/webform.yaml), also under
    the baseline preset; the command line still chooses any student; other envs keep PPO."""
    assert compose("env=webform").student.algo == "maskable_ppo"
    assert compose("env=webform", "experiment=baseline").student.algo == "maskable_ppo"
    assert compose("env=webform", "student=ppo").student.algo == "ppo"
    assert compose("experiment=baseline", "env=webform", "student=a2c").student.algo == "a2c"
    assert compose("env=gridworld").student.algo == "ppo"
    cfg = compose("env=webform")
    # the env config's MaskablePPO defaults are what the run will merge
    assert cfg.env.students.maskable_ppo.gamma == 0.95
