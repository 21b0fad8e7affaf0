"""``obs_mode="miniwob"``: MiniWoB++'s observation keys and element list, its "liu18"
actions acted out as a browser would, and append typing (MiniWoB++'s key events)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from envs.errors import TeachBenchError
from envs.webform import Element, Form, WebFormEnv, make_task_space
from envs.webform.dom import encode
from envs.webform.miniwob import N_MINIWOB_ACTIONS, N_NODES, SLOTS, TAGS
from envs.webform.oracle import oracle_action
from envs.webform.tokens import T, token_id


def form(*elements: Element, keys=("City",), values=("Paris",)) -> Form:
    return Form(pages=(tuple(elements),), keys=keys, values=values,
                task={**WebFormEnv().default_task(), "n_fields": len(keys)})


def liu18(slot: int, field: int | None = None) -> int:
    """MiniWoB++'s CLICK_ELEMENT (field None) or FOCUS_ELEMENT_AND_TYPE_FIELD on a slot."""
    return 1 + slot * SLOTS + (0 if field is None else 1 + field)


def test_miniwob_env_passes_checkers_and_has_miniwobs_keys():
    env = WebFormEnv(obs_mode="miniwob", typing="append")
    check_env(env, skip_render_check=True)
    sb3_check_env(WebFormEnv(obs_mode="miniwob"))
    assert env.action_space.n == N_MINIWOB_ACTIONS == 1 + N_NODES * SLOTS
    # MiniWoB++'s observation: utterance, fields, and per element ref, parent, tag, text,
    # value, position (left, top, width, height) and four flags
    assert set(env.observation_space.spaces) == {"utterance", "fields", "ref", "parent", "tag", "text", "value",
                                                 "position", "flags"}
    with pytest.raises(TeachBenchError) as err:
        WebFormEnv(typing="keys")
    assert err.value.key == "env.kwargs.typing"


def test_element_list_follows_miniwobs_dom_info():
    env = WebFormEnv(obs_mode="miniwob")
    f = form(Element("text", "City", "tb-1", field=0),
             Element("select", "Size", "tb-2", field=1, options=("S", "M", "L")),
             Element("checkbox", "Gift wrap", "tb-3", initial="no"),
             Element("radio", "Meal", "tb-4", options=("Vegan", "Halal")),
             Element("link", "Help", "tb-5"), Element("submit", "Submit", "tb-6"),
             keys=("City", "Size"), values=("Paris", "M"))
    obs, _ = env.reset(options={"form": f})
    dom = env.view.dom_elements()
    assert [d["tag"] for d in dom] == ["DIV", "DIV", "LABEL", "INPUT_text", "DIV", "LABEL", "SELECT",
                                       "DIV", "INPUT_checkbox", "LABEL", "DIV", "SPAN", "INPUT_radio", "LABEL",
                                       "INPUT_radio", "LABEL", "DIV", "A", "DIV", "BUTTON"]
    # refs are positive, unique and start at 1 (the root, parent 0); no <option> is listed
    assert [d["ref"] for d in dom] == list(range(1, len(dom) + 1)) and dom[0]["parent"] == 0
    assert dom[1]["parent"] == 1 and dom[2]["parent"] == dom[3]["parent"] == 2  # a row holds label and input
    assert [d["is_leaf"] for d in dom[:4]] == [False, False, True, True]
    assert [d["text"] for d in dom if d["tag"] == "LABEL"] == ["City", "Size", "Gift wrap", "Vegan", "Halal"]
    # a checkbox / radio reports its checked state as its value
    assert dom[8]["value"] == "false" and dom[12]["value"] == dom[14]["value"] == "false"
    assert obs["tag"][:len(dom)].tolist() == [TAGS.index(d["tag"]) for d in dom]
    assert obs["text"].reshape(N_NODES, T)[2, 0] == token_id("city")
    assert obs["fields"].reshape(-1, 2, T)[1, 1, 0] == token_id("m")
    assert "City: Paris" in env.view.utterance

    # clicking a checkbox's label toggles it (label activation); a link changes nothing
    _, _, _, _, info = env.step(liu18(9))
    assert env.view.dom_elements()[8]["value"] == "true" and not info["invalid_action"]
    before = [list(r) for r in env.state.values]
    env.step(liu18(17))
    env.step(liu18(16))  # a row
    assert env.state.values == before
    # a radio option's label selects it
    env.step(liu18(15))
    assert env.view.dom_elements()[14]["value"] == "true"
    # focus-and-type into the select: type-ahead picks the option starting with "M"
    obs, *_ = env.step(liu18(6, field=1))
    assert env.state.values[0][1] == "M" and env.view.dom_elements()[6]["value"] == "M"
    flags = obs["flags"].reshape(N_NODES, 4)
    assert flags[6, 0] == 1 and flags[:, 0].sum() == 1  # focused
    assert flags[6, 1] == flags[9, 1] == flags[17, 1] == 1 and flags[3, 1] == 0  # tampered
    # typing into a label or a button is masked (the keys reach no field)
    mask = env.action_masks()
    assert mask[0] and mask[liu18(3, 0)] and not mask[liu18(2, 0)] and not mask[liu18(19, 0)]
    assert not mask[liu18(3, 2)]  # no third field in the instruction
    _, _, done, _, info = env.step(liu18(3, field=0))
    env.step(liu18(19))
    assert env.state.submitted is not None


def test_append_typing_concatenates_as_key_events_do():
    f = form(Element("text", "City", "tb-1", field=0), Element("number", "Age", "tb-2", field=1),
             Element("submit", "Submit", "tb-3"), keys=("City", "Age"), values=("Paris", "25"))
    for typing, city, age in (("replace", "Paris", "25"), ("append", "ParisParis", "2525")):
        env = WebFormEnv(obs_mode="miniwob", typing=typing)
        env.reset(options={"form": f})
        for _ in range(2):
            env.step(liu18(3, field=0))
            env.step(liu18(6, field=1))
        assert env.state.values[0][:2] == [city, age]
        assert env.view.dom_elements()[3]["value"] == city
    # the same semantics apply to the other observation modes' type actions
    env = WebFormEnv(typing="append")
    env.reset(options={"form": f})
    env.step(encode(0, "type", 0))
    env.step(encode(0, "type", 0))
    _, reward, done, _, info = env.step(encode(2, "click"))
    assert env.state.values[0][0] == "ParisParis" and done and not info["success"]


def test_the_expert_solves_every_corner_through_liu18_actions():
    """Every TaskSpace corner is solvable with MiniWoB++'s click / focus-and-type actions,
    with both typing modes (the expert types only into fields that are not yet right)."""
    space = make_task_space()
    for typing in ("replace", "append"):
        env = WebFormEnv(obs_mode="miniwob", typing=typing)
        for k, bits in enumerate(itertools.product((0, 1), repeat=space.ndim)):
            task = space.from_array(np.where(bits, space.high, space.low))
            env.reset(seed=k, options={"task": task})
            done, info = False, {}
            while not done:
                action = env.view.from_simulator(oracle_action(env.state))
                assert env.action_masks()[action]
                _, _, done, _, info = env.step(action)
            assert info["success"], (typing, task)


def test_adapter_sees_our_pages_as_the_simulator_does():
    """Converting the simulator's own element list the way the adapter converts MiniWoB++'s
    gives the simulator's observation and mask (text fields: the adapter cannot know which
    values a number input refuses), and MiniWoB++'s tag spellings map onto ours."""
    from envs.webform.miniwob import tag_id
    from envs.webform.miniwob_adapter import convert

    env = WebFormEnv(obs_mode="miniwob")
    task = {**env.default_task(), "n_fields": 3, "n_distractors": 4, "order_shuffle": 1.0}
    for k in range(10):
        obs, _ = env.reset(seed=k, options={"task": task})
        raw = {"utterance": env.view.utterance, "fields": tuple(zip(env.form.keys, env.form.values)),
               "dom_elements": [{**d, "left": np.array([d["left"]], dtype=np.float32),
                                 "top": np.array([d["top"]], dtype=np.float32),
                                 "width": np.array([d["width"]], dtype=np.float32),
                                 "height": np.array([d["height"]], dtype=np.float32),
                                 "tag": d["tag"].lower(),
                                 "flags": np.array([d["focused"], d["tampered"], d["targeted"], d["is_leaf"]],
                                                   dtype=np.int8)} for d in env.view.dom_elements()]}
        ours, mask, refs = convert(raw)
        assert all(np.array_equal(ours[key], obs[key]) for key in obs)
        assert np.array_equal(mask, env.action_masks())
        assert refs == [d["ref"] for d in env.view.dom_elements()]
    assert tag_id("input_password") == tag_id("INPUT_text") and tag_id("t") == TAGS.index("SPAN")
    assert tag_id("p") == tag_id("body") == TAGS.index("DIV") and tag_id("input_checkbox") == TAGS.index("INPUT_checkbox")


def test_set_policy_builds_on_the_miniwob_view_and_scores_miniwobs_actions():
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from students.build import make_student
    from students.webform_features import MiniWobSetExtractor

    vec = DummyVecEnv([lambda: WebFormEnv(obs_mode="miniwob", typing="append", shaping=1.0)])
    model = make_student("maskable_ppo", vec, policy="webform_set", params={"n_steps": 32, "batch_size": 32})
    assert isinstance(model.policy.features_extractor, MiniWobSetExtractor)
    model.learn(64)
    env = WebFormEnv(obs_mode="miniwob")
    obs, _ = env.reset(seed=1, options={"task": {**env.default_task(), "n_fields": 2}})
    batch = {k: torch.as_tensor(v[None]) for k, v in obs.items()}
    with torch.no_grad():
        dist = model.policy.get_distribution(model.policy.obs_to_tensor(obs)[0], action_masks=env.action_masks()[None])
        logits = model.policy.features_extractor(batch)[0, :N_MINIWOB_ACTIONS]
    assert logits.shape == (N_MINIWOB_ACTIONS,) and torch.isfinite(logits).all()
    probs = dist.distribution.probs[0].numpy()
    assert probs[~env.action_masks()].max() == 0.0 and abs(probs.sum() - 1) < 1e-5
