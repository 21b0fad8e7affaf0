"""The ``tokens`` observation and the set policy: text reaches the policy, synonym forms that
the flat observation cannot tell apart become distinguishable, and the policy's weights
are shared across element slots (permuting slots permutes its action scores)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import DummyVecEnv

from envs.errors import TeachBenchError
from envs.webform import Element, Form, WebFormEnv
from envs.webform.dom import SLOTS, FormState, encode
from envs.webform.features import OBS_SIZE, Encoder, layout
from envs.webform.form import MAX_ELEMENTS
from envs.webform.tokens import KNOWN_WORDS, TOKEN_OBS_SIZE, token_id, token_ids, token_layout, words

SYN2 = dict(n_fields=2, kind_mix=0.0, n_distractors=0, n_pages=1, order_shuffle=1.0, synonym_rate=1.0,
            validation_rate=0.0, prefilled=0.0)


def names_form(keys: tuple[str, str], values: tuple[str, str], fields: tuple[int, int]) -> Form:
    """First name / Last name text inputs; the instruction names them by ``keys``."""
    return Form(pages=((Element("text", "First name", "tb-1", field=fields[0], rank=0),
                        Element("text", "Last name", "tb-2", field=fields[1], rank=1),
                        Element("submit", "Submit", "tb-3")),),
                keys=keys, values=values, task={**WebFormEnv().default_task(), "n_fields": 2})


def test_tokens_env_passes_checkers_and_keeps_the_flat_part():
    env = WebFormEnv(obs_mode="tokens")
    check_env(env, skip_render_check=True)
    sb3_check_env(WebFormEnv(obs_mode="tokens", shaping=1.0))
    flat = WebFormEnv()
    rng = np.random.default_rng(0)
    for k in range(20):
        task = env.task_space.sample(rng)
        a, _ = env.reset(seed=k, options={"task": task})
        b, _ = flat.reset(seed=k, options={"task": task})
        assert a.shape == (TOKEN_OBS_SIZE,) and np.array_equal(a[:OBS_SIZE], b)
        for _ in range(6):
            action = int(rng.choice(np.flatnonzero(env.action_masks())))
            a, *_, done, _, _ = env.step(action)
            b, *_ = flat.step(action)
            assert np.array_equal(a[:OBS_SIZE], b) and env.observation_space.contains(a)
            if done:
                break
    with pytest.raises(TeachBenchError) as err:
        WebFormEnv(obs_mode="pixels")
    assert err.value.key == "env.kwargs.obs_mode"


def test_token_blocks_hold_the_words_and_follow_typing():
    env = WebFormEnv(obs_mode="tokens")
    form = names_form(("Forename", "Surname"), ("Alice", "Smith"), (0, 1))
    obs, _ = env.reset(options={"form": form})
    tl = token_layout()
    block = {name: obs[sl].reshape(shape) for name, (sl, shape) in tl.items()}
    assert list(block["label_tokens"][0][:2]) == [token_id("first"), token_id("name")]
    assert list(block["key_tokens"][1][:1]) == [token_id("surname")] and not block["key_tokens"][1][1:].any()
    assert not block["value_tokens"][:2].any()  # empty inputs
    obs, *_ = env.step(encode(1, "type", 1))  # "Smith" into Last name
    assert obs[tl["value_tokens"][0]].reshape(tl["value_tokens"][1])[1][0] == token_id("smith")
    # Every word of the vocabulary has its own id (no two of our words share an embedding);
    # unknown words land in the hashed buckets above them.
    ids = [token_id(w) for w in KNOWN_WORDS]
    assert len(set(ids)) == len(KNOWN_WORDS) and min(ids) == 1 and {"yes", "no", "submit"} <= set(KNOWN_WORDS)
    assert token_id("zzyzx-unknown") > len(KNOWN_WORDS) and token_ids("Given name") == (token_id("given"), token_id("name"))
    assert words("Zoë Ångström") == ["zoë", "ångström"]


def test_flat_observation_cannot_tell_shuffled_synonym_twins_apart_tokens_can():
    """The 2-field ceiling of the flat observation: a form and its twin (same page,
    instruction order reversed) look identical when the keys share no word with the labels,
    and then any policy solves at most one of the two (typing value 0 into element 0 is
    right in one and wrong in the other). The tokens observation differs."""
    a = names_form(("Forename", "Surname"), ("Alice", "Smith"), (0, 1))
    b = names_form(("Surname", "Forename"), ("Smith", "Alice"), (1, 0))
    flat = [Encoder(FormState(f)).observation(1.0, False, False) for f in (a, b)]
    assert np.array_equal(*flat)
    env = WebFormEnv(obs_mode="tokens")
    tokens = [env.reset(options={"form": f})[0] for f in (a, b)]
    assert not np.array_equal(*tokens)


def _permute_elements(obs: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """``obs`` with element slots reordered: slot ``s`` of the result is slot ``perm[s]``."""
    out = obs.copy()
    blocks = {**layout(), **token_layout()}
    for name in ("elements", "match", "options", "label_tokens", "value_tokens", "option_tokens"):
        sl, shape = blocks[name]
        out[sl] = obs[sl].reshape(shape)[perm].reshape(-1)
    return out


def test_set_policy_shares_weights_across_element_slots():
    from students.webform_features import WebFormSetExtractor

    torch.manual_seed(0)
    env = WebFormEnv(obs_mode="tokens")
    ext = WebFormSetExtractor(env.observation_space)
    obs, _ = env.reset(seed=3, options={"task": {**SYN2, "n_distractors": 3, "kind_mix": 0.6}})
    n = len(env.state.elements)
    perm = np.arange(MAX_ELEMENTS)
    perm[:n] = np.random.default_rng(1).permutation(n)
    with torch.no_grad():
        out = ext(torch.as_tensor(obs[None]))
        out_p = ext(torch.as_tensor(_permute_elements(obs, perm)[None]))
    logits = out[0, :MAX_ELEMENTS * SLOTS].reshape(MAX_ELEMENTS, SLOTS)
    logits_p = out_p[0, :MAX_ELEMENTS * SLOTS].reshape(MAX_ELEMENTS, SLOTS)
    assert torch.allclose(logits_p, logits[perm], atol=1e-5)  # equivariant action scores
    assert torch.allclose(out_p[0, MAX_ELEMENTS * SLOTS:], out[0, MAX_ELEMENTS * SLOTS:], atol=1e-5)  # invariant value


def test_build_picks_the_set_policy_from_the_env_defaults():
    from sb3_contrib import MaskablePPO

    from students.build import make_student
    from students.webform_features import WebFormSetPolicy, WebFormSetPPOPolicy

    vec = DummyVecEnv([lambda: WebFormEnv(obs_mode="tokens", shaping=1.0)])
    defaults = {"maskable_ppo": {"policy": "webform_set", "n_steps": 32, "batch_size": 32,
                                 "policy_kwargs": {"net_arch": [128, 128]}},
                "ppo": {"policy": "webform_set", "n_steps": 32, "batch_size": 32}}
    model = make_student("maskable_ppo", vec, env_defaults=defaults)
    assert isinstance(model, MaskablePPO) and isinstance(model.policy, WebFormSetPolicy)
    model.learn(64)  # a rollout and an update go through
    assert isinstance(make_student("ppo", vec, env_defaults=defaults).policy, WebFormSetPPOPolicy)
    with pytest.raises(TeachBenchError):  # DQN has no actor-critic for it
        make_student("dqn", vec, policy="webform_set")
    flat = DummyVecEnv([lambda: WebFormEnv()])
    with pytest.raises(TeachBenchError) as err:
        make_student("maskable_ppo", flat, policy="webform_set")
    assert "tokens" in str(err.value)


def test_webform_config_uses_tokens_and_the_set_policy(compose):
    cfg = compose("env=webform")
    assert cfg.env.kwargs.obs_mode == "tokens" and cfg.student.algo == "maskable_ppo"
    assert cfg.env.students.maskable_ppo.policy == "webform_set"
    assert compose("env=webform_flat").env.kwargs.obs_mode == "flat"

