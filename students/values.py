"""The student's value estimate of each episode's first state, V(s0), for teachers that
ask for it (``needs = {"value"}``: SPDL uses it as the expected performance of a task),
and each episode's discounted return (``extra["discounted_return"]``, the student's gamma,
raw rewards: TeachMyAgent's SPDL weighs its target pull by their mean).

V(s0): a student with a state-value function (PPO) gives ``predict_values``; SAC, whose
critics are Q functions, gives its soft state value ``min_i Q_i(s0, a) - ent_coef *
log pi(a | s0)`` at one action ``a ~ pi(s0)`` drawn from a forked torch generator (the
run's random stream is untouched). TeachMyAgent's SAC had a V network trained to that
same target (docs/references.md#spdl).

SB3 auto-resets a finished sub-env inside ``step``, so the observation it returns for
that sub-env (``new_obs``) is the first state of its *next* episode: the tracker
evaluates V there and hands it to that episode when it finishes. Observations are the
ones the policy sees (already normalised under ``VecNormalize``).

On-policy students (PPO, RecurrentPPO, A2C) compute that very value themselves: the rollout's
next forward pass gives ``values`` for the observation after the reset (SB3's ``collect_rollouts``
locals), and at a rollout's end SB3's bootstrap ``predict_values`` on ``new_obs``, before the
update. So for them the bridge *defers* V(s0): :meth:`InitialValueTracker.after_step` only marks
the sub-envs that were reset, and :meth:`InitialValueTracker.take` copies their values from the
student's own forward pass at the next step (or at the rollout's end). This drops the extra
forward pass per vector step, a device round trip on CUDA (issue #18: SPDL's bridge). The values
are the same network on the same observations; only the batch they are computed in differs, so
they agree to float rounding (``tests/test_values.py``). Where a loop does not publish its
bootstrap before ``on_rollout_end`` (sb3-contrib's MaskablePPO and RecurrentPPO), the sub-envs
reset at a rollout's last step get the tracker's own pass. Off-policy students (SAC) have no
such values and keep the tracker's own pass at every step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.utils import obs_as_tensor

from teachers.base import Episode


def _index_obs(obs: Any, idx: np.ndarray) -> Any:
    if isinstance(obs, dict):
        return {k: v[idx] for k, v in obs.items()}
    return obs[idx]


def _soft_q(model: BaseAlgorithm) -> bool:
    """SAC-like: an actor with log-probabilities and Q critics."""
    policy = model.policy
    return hasattr(policy, "actor") and hasattr(policy.actor, "action_log_prob") and hasattr(policy, "critic")


def supports_initial_value(model: BaseAlgorithm) -> bool:
    """Whether :class:`InitialValueTracker` can estimate V(s0) for this student."""
    return hasattr(model.policy, "predict_values") or _soft_q(model)


class InitialValueTracker:
    """Fills ``Episode.value`` with V(s0) of each finished episode (actor-critic students)
    and ``Episode.extra["discounted_return"]`` with its discounted return."""

    def __init__(self, model: BaseAlgorithm, n_envs: int) -> None:
        if not supports_initial_value(model):
            raise TypeError(f"{type(model).__name__} has no state-value function")
        self.model = model
        self.values = np.full(n_envs, np.nan, dtype=np.float64)
        self.gamma = float(getattr(model, "gamma", 0.99))
        self.discounted = np.zeros(n_envs, dtype=np.float64)  # of the episodes in progress
        self.weight = np.ones(n_envs, dtype=np.float64)  # gamma ** steps so far
        self.finished = np.full(n_envs, np.nan, dtype=np.float64)  # of each env's last finished episode
        self.pending = np.zeros(n_envs, dtype=bool)  # reset sub-envs whose V(s0) comes from the next forward pass

    def _predict(self, obs: Any) -> np.ndarray:
        with torch.no_grad():
            tensor = obs_as_tensor(obs, self.model.device)
            if hasattr(self.model.policy, "predict_values"):
                return self.model.policy.predict_values(tensor).cpu().numpy().reshape(-1)
            return self._soft_value(tensor)

    def _soft_value(self, tensor: Any) -> np.ndarray:
        """SAC's soft V(s) = min_i Q_i(s, a) - ent_coef * log pi(a | s), a ~ pi(s)."""
        model, policy = self.model, self.model.policy
        devices = [model.device] if model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            actions, log_prob = policy.actor.action_log_prob(tensor)
        q = torch.min(torch.cat(policy.critic(tensor, actions), dim=1), dim=1).values
        log_ent = getattr(model, "log_ent_coef", None)
        ent = torch.exp(log_ent.detach()) if log_ent is not None else model.ent_coef_tensor
        return (q - ent * log_prob.reshape(-1)).cpu().numpy().reshape(-1).astype(np.float64)

    def before_episodes(self, rewards: np.ndarray, dones: np.ndarray) -> None:
        """Add a step's raw rewards to the discounted returns; close the finished ones
        (called before the finished episodes are handed out, so :meth:`hook` sees them)."""
        self.discounted += self.weight * np.asarray(rewards, dtype=np.float64).reshape(-1)
        self.weight *= self.gamma
        done = np.flatnonzero(dones)
        self.finished[done] = self.discounted[done]
        self.discounted[done] = 0.0
        self.weight[done] = 1.0

    def start(self, first_obs: Any) -> None:
        """Values of the first states of the episodes in progress when training starts."""
        self.values[:] = self._predict(first_obs)
        self.pending[:] = False

    def hook(self, episode: Episode, env_index: int, info: dict[str, Any]) -> None:
        value = self.values[env_index]
        episode.value = None if np.isnan(value) else float(value)
        disc = self.finished[env_index]
        if not np.isnan(disc):
            episode.extra["discounted_return"] = float(disc)
            self.finished[env_index] = np.nan

    def after_step(self, new_obs: Any, dones: np.ndarray, defer: bool = False) -> None:
        """V(s0) of the episodes that start after this step: predicted now, or with ``defer``
        left to :meth:`take` (the student's own forward pass on these observations)."""
        done = np.flatnonzero(dones)
        if not done.size:
            return
        if defer:
            self.values[done] = np.nan  # never the previous episode's value, should take() not come
            self.pending[done] = True
        else:
            self.values[done] = self._predict(_index_obs(new_obs, done))

    def take(self, values: Any) -> None:
        """Fill the pending V(s0) from the student's values of the current observations (one
        per sub-env: the rollout's forward pass, or SB3's bootstrap at the rollout's end)."""
        if not self.pending.any():
            return
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().numpy()
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        self.values[self.pending] = values[self.pending]
        self.pending[:] = False
