"""The student's value estimate of each episode's first state, V(s0), for teachers that
ask for it (``needs = {"value"}``: SPDL uses it as the expected performance of a task).

SB3 auto-resets a finished sub-env inside ``step``, so the observation it returns for
that sub-env (``new_obs``) is the first state of its *next* episode: the tracker
evaluates V there and hands it to that episode when it finishes. Observations are the
ones the policy sees (already normalised under ``VecNormalize``).
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


class InitialValueTracker:
    """Fills ``Episode.value`` with V(s0) of each finished episode (actor-critic students)."""

    def __init__(self, model: BaseAlgorithm, n_envs: int) -> None:
        if not hasattr(model.policy, "predict_values"):
            raise TypeError(f"{type(model).__name__} has no state-value function")
        self.model = model
        self.values = np.full(n_envs, np.nan, dtype=np.float64)

    def _predict(self, obs: Any) -> np.ndarray:
        with torch.no_grad():
            tensor = obs_as_tensor(obs, self.model.device)
            return self.model.policy.predict_values(tensor).cpu().numpy().reshape(-1)

    def start(self, first_obs: Any) -> None:
        """Values of the first states of the episodes in progress when training starts."""
        self.values[:] = self._predict(first_obs)

    def hook(self, episode: Episode, env_index: int, info: dict[str, Any]) -> None:
        value = self.values[env_index]
        episode.value = None if np.isnan(value) else float(value)

    def after_step(self, new_obs: Any, dones: np.ndarray) -> None:
        done = np.flatnonzero(dones)
        if done.size:
            self.values[done] = self._predict(_index_obs(new_obs, done))
