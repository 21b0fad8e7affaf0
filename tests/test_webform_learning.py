"""Real MaskablePPO runs on web forms (the env's default student). Slow: minutes on one core.

- Flat observation, MLP: easy forms are learned, with and without distractors, and success
  falls as fields grow (the difficulty gradient a teacher needs).
- Tokens observation, set policy: 2-field forms with shuffled synonym keys, which the flat
  observation provably cannot solve beyond a ceiling (a form and its reversed-instruction
  twin look the same, so any policy solves at most one of them), are learned beyond it.

    OMP_NUM_THREADS=1 .venv/bin/python tests/test_webform_learning.py 60000   # the measured run
    OMP_NUM_THREADS=1 .venv/bin/python tests/test_webform_learning.py 60000 ppo  # plain PPO, for contrast
    OMP_NUM_THREADS=1 .venv/bin/python tests/test_webform_learning.py 60000 maskable_ppo tokens  # set policy
    OMP_NUM_THREADS=1 .venv/bin/python tests/test_webform_learning.py synonyms 30000 tokens  # or flat
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest

from envs.webform import Form, WebFormEnv, generate_form, make_task_space
from envs.webform.dom import FormState
from envs.webform.features import Encoder

TRAIN_FIELDS = (1, 2, 3)
TRAIN_DISTRACTORS = (0, 2, 4)
EVAL_GRID = ((1, 0), (1, 4), (2, 0), (2, 4), (3, 0), (3, 4))


class _UniformLevels(WebFormEnv):
    """Samples its own task at every reset (uniform over a few levels): a random teacher
    without the runner, so this test needs only SB3."""

    def __init__(self, seed: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self._levels = np.random.default_rng(seed)

    def reset(self, *, seed=None, options=None):
        task = {**self.default_task(), "n_fields": int(self._levels.choice(TRAIN_FIELDS)),
                "n_distractors": int(self._levels.choice(TRAIN_DISTRACTORS))}
        return super().reset(seed=seed, options={"task": task})


def train_and_eval(steps: int, seed: int = 0, episodes: int = 100, algo: str = "maskable_ppo",
                   obs_mode: str = "flat") -> dict[tuple[int, int], float]:
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from students.build import make_student

    torch.set_num_threads(1)
    vec = DummyVecEnv([lambda i=i: _UniformLevels(seed * 100 + i, shaping=1.0, obs_mode=obs_mode) for i in range(4)])
    vec.seed(seed)
    # the env configs' defaults (configs/env/webform_flat.yaml: MLP; webform.yaml: set policy)
    params = {"n_steps": 128, "batch_size": 256, "n_epochs": 10, "gamma": 0.95, "gae_lambda": 0.95, "ent_coef": 0.01,
              "learning_rate": 0.0003}
    params.update({"policy": "webform_set"} if obs_mode == "tokens" else {"policy_kwargs": {"net_arch": [128, 128]}})
    model = make_student(algo, vec, env_defaults={algo: params}, seed=seed)
    model.learn(steps)
    env = WebFormEnv(shaping=1.0, obs_mode=obs_mode)
    out = {}
    for n, d in EVAL_GRID:
        task = {**env.default_task(), "n_fields": n, "n_distractors": d}
        wins = 0
        for k in range(episodes):
            obs, _ = env.reset(seed=10_000 + k, options={"task": task})
            done = False
            while not done:
                if algo == "maskable_ppo":
                    action, _ = model.predict(obs, deterministic=True, action_masks=env.action_masks())
                else:
                    action, _ = model.predict(obs, deterministic=True)
                obs, _, done, _, info = env.step(action)
            wins += info["success"]
        out[(n, d)] = wins / episodes
    return out


@pytest.mark.slow
def test_maskable_ppo_learns_one_field_with_distractors_and_difficulty_rises():
    success = train_and_eval(60_000)
    # measured (seed 0, 6e4 steps): 1.00 / 1.00 / 1.00 / 0.49 / 1.00 / 0.11 on the grid below, where plain PPO
    # scored 0.00 with 4 distractors: with masks, distractors alone stop being a steep lever
    assert success[(1, 0)] >= 0.9 and success[(1, 4)] >= 0.9
    assert np.mean([success[(3, d)] for d in (0, 4)]) < np.mean([success[(1, d)] for d in (0, 4)])


@pytest.mark.slow
def test_set_policy_on_tokens_learns_the_grid_including_distractors():
    success = train_and_eval(60_000, obs_mode="tokens")
    # measured (seed 0, 6e4 steps, ~125 s of one core): 0.99 / 0.99 / 0.99 / 0.99 / 1.00 / 0.99 on the
    # grid, where the flat observation's MLP scored 1.00 / 1.00 / 1.00 / 0.49 / 1.00 / 0.11
    assert min(success.values()) >= 0.85


# 2 text fields, every key a synonym, instruction order uniformly shuffled.
SYN2 = dict(n_fields=2, kind_mix=0.0, n_distractors=0, n_pages=1, order_shuffle=1.0, synonym_rate=1.0,
            validation_rate=0.0, prefilled=0.0)


def twin(form: Form) -> Form:
    """The same page with the instruction order reversed (2 fields): exactly as likely under
    SYN2 (uniform order, synonyms drawn independently per key)."""
    pages = tuple(tuple(dataclasses.replace(e, field=1 - e.field) if e.field >= 0 else e for e in page)
                  for page in form.pages)
    return dataclasses.replace(form, pages=pages, keys=form.keys[::-1], values=form.values[::-1])


def flat_twin_identical(form: Form) -> bool:
    """Whether the flat observation of ``form`` equals its twin's. Then every later
    observation is equal too under the same actions (two text fields: typing value j into
    element i sets the same features in both), so a policy's success on the pair sums to
    at most 1."""
    a, b = (Encoder(FormState(f)).observation(1.0, False, False) for f in (form, twin(form)))
    return bool(np.array_equal(a, b))


def flat_ceiling(n: int = 4000, seed: int = 0) -> tuple[float, float]:
    """(share of SYN2 forms identical to their twin in the flat observation, the resulting
    upper bound on any flat-observation policy's success: 1 - share / 2)."""
    rng, space = np.random.default_rng(seed), make_task_space()
    share = float(np.mean([flat_twin_identical(generate_form(SYN2, rng, space)) for _ in range(n)]))
    return share, 1.0 - share / 2


class _Fixed(WebFormEnv):
    def reset(self, *, seed=None, options=None):
        return super().reset(seed=seed, options={"task": SYN2})


def train_synonyms(steps: int, obs_mode: str = "tokens", seed: int = 0, episodes: int = 300) -> tuple[float, float]:
    """MaskablePPO with the env config's defaults (set policy on tokens, MLP 128-128 on
    flat) trained on SYN2; returns (success on fresh SYN2 forms, success on those of them
    whose flat observation equals their twin's)."""
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from students.build import make_student

    torch.set_num_threads(1)
    vec = DummyVecEnv([lambda: _Fixed(obs_mode=obs_mode, shaping=1.0) for _ in range(4)])
    vec.seed(seed)
    params = {"n_steps": 128, "batch_size": 256, "n_epochs": 10, "gamma": 0.95, "gae_lambda": 0.95, "ent_coef": 0.01,
              "learning_rate": 0.0003}
    defaults = {"maskable_ppo": {**params, "policy": "webform_set"} if obs_mode == "tokens"
                else {**params, "policy_kwargs": {"net_arch": [128, 128]}}}
    model = make_student("maskable_ppo", vec, env_defaults=defaults, seed=seed)
    model.learn(steps)
    env = WebFormEnv(obs_mode=obs_mode, shaping=1.0)
    wins, hard = [], []
    for k in range(episodes):
        obs, _ = env.reset(seed=20_000 + k, options={"task": SYN2})
        ambiguous = flat_twin_identical(env.form)
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=True, action_masks=env.action_masks())
            obs, _, done, _, info = env.step(action)
        wins.append(info["success"])
        if ambiguous:
            hard.append(info["success"])
    return float(np.mean(wins)), float(np.mean(hard))


@pytest.mark.slow
def test_tokens_and_set_policy_beat_the_flat_ceiling_on_shuffled_synonyms():
    share, ceiling = flat_ceiling()
    assert 0.2 < share < 0.6  # measured 0.35: a third of SYN2 forms are twins in the flat view
    success, on_twins = train_synonyms(30_000)
    # measured (seed 0, 3e4 steps, ~45 s of one core): 0.997 on 300 fresh SYN2 forms, 1.000 on
    # the twins among them; the flat observation with the MLP, same run: 0.793 and 0.509.
    assert success > ceiling + 0.05 and on_twins > 0.75  # any flat policy: <= ceiling, and <= 0.5 on twins


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "synonyms":
        share, ceiling = flat_ceiling()
        success, on_twins = train_synonyms(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "tokens")
        print(f"flat twins {share:.3f}, flat ceiling {ceiling:.3f}; success {success:.3f}, on twins {on_twins:.3f}")
        sys.exit()
    result = train_and_eval(int(sys.argv[1]) if len(sys.argv) > 1 else 60_000,
                            algo=sys.argv[2] if len(sys.argv) > 2 else "maskable_ppo",
                            obs_mode=sys.argv[3] if len(sys.argv) > 3 else "flat")
    for (n, d), rate in result.items():
        print(f"fields={n} distractors={d}: success {rate:.2f}")
