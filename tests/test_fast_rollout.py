"""``students/fast_rollout.py``: PPO's rollout with the time-limit bootstrap batched fills
the same rollout buffer as SB3's loop (exactly, but for the bootstrapped rewards, equal up
to float rounding of a batched forward pass), and records the same finished episodes."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3.common.callbacks import BaseCallback

import envs  # noqa: F401
from students.build import make_student
from students.fast_rollout import FastRolloutPPO, with_fast_rollouts
from students.vec import make_vec_env


class Seen(BaseCallback):
    """Counts the steps whose infos hold time-limit cuts (so the test knows it tested them)."""

    def __init__(self) -> None:
        super().__init__()
        self.cuts = 0
        self.finished = 0

    def _on_step(self) -> bool:
        for i in np.flatnonzero(self.locals["dones"]):
            self.finished += 1
            self.cuts += bool(self.locals["infos"][i].get("TimeLimit.truncated"))
        return True


def rollout(fast: bool):
    vec = make_vec_env("gridworld", {"max_size": 7, "max_steps": 6}, 16, "batched", seed=0)
    model = make_student("ppo", vec, params={"n_steps": 24, "batch_size": 96, "n_epochs": 1}, seed=0)
    if fast:
        model = with_fast_rollouts(model)
    seen = Seen()
    model.learn(16 * 24, callback=seen)  # one rollout and one update
    buf = model.rollout_buffer
    return buf, list(model.ep_info_buffer), seen, model


def test_the_rollout_buffer_equals_sb3s():
    base, base_eps, seen, _ = rollout(False)
    fast, fast_eps, _, model = rollout(True)
    assert isinstance(model, FastRolloutPPO)
    assert seen.cuts > 20 and seen.finished > seen.cuts  # many time-limit cuts, and goals reached too
    for name in ("observations", "actions", "episode_starts", "values", "log_probs"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(base, name), err_msg=name)
    np.testing.assert_allclose(fast.rewards, base.rewards, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(fast.returns, base.returns, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(base.rewards, np.round(base.rewards, 1))  # bootstrapped values are in there
    assert [(e["r"], e["l"]) for e in fast_eps] == [(e["r"], e["l"]) for e in base_eps]


def test_only_sb3s_ppo_is_converted():
    vec = make_vec_env("gridworld", {"max_size": 7, "max_steps": 6}, 2, "batched", seed=0)
    model = make_student("recurrent_ppo", vec, params={"n_steps": 8, "batch_size": 16}, seed=0)
    with pytest.raises(TypeError):
        with_fast_rollouts(model)
