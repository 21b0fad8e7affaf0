"""The rollout buffer of :class:`~students.recurrent.ppo.SequencePPO`: SB3's
``RolloutBuffer`` (so everything that reads a PPO buffer — PVL/MaxMC in
``students/regret.py``, PLR⊥'s mask in ``students/robust.py`` — reads this one the same
way: ``pos``, ``values``, ``advantages``, ``returns``, ``episode_starts`` of shape
``(n_steps, n_envs)``) plus the hidden state every env column started the rollout with.

Training never flattens it: :meth:`SequenceRolloutBuffer.sequence_batches` moves the
whole rollout to the device once and yields minibatches of ENV COLUMNS × all ``n_steps``
(whole sequences), each with its columns' initial states and a
:class:`~students.recurrent.lstm.ResetPlan` built from the episode starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer

from students.recurrent.lstm import ResetPlan


@dataclass
class SequenceBatch:
    """``B`` env columns of a rollout, all tensors ``(T, B, ...)`` on the device."""

    columns: np.ndarray
    observations: torch.Tensor
    actions: torch.Tensor
    old_values: torch.Tensor
    old_log_prob: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    initial_state: torch.Tensor  # (2, B, H)
    plan: ResetPlan
    weights: torch.Tensor | None  # (T, B) float 0/1 per transition (PLR⊥), None = all


class SequenceRolloutBuffer(RolloutBuffer):
    """SB3's rollout buffer plus ``initial_state`` ``(2, n_envs, H)`` (h, c) of each env's
    sequence; the state is stored before masking (the first step's ``episode_starts``
    zeroes it where an episode starts with the rollout)."""

    def __init__(self, buffer_size: int, observation_space: spaces.Space, action_space: spaces.Space,
                 state_shape: tuple[int, int, int], device: torch.device | str = "auto", gae_lambda: float = 1.0,
                 gamma: float = 0.99, n_envs: int = 1) -> None:
        self.state_shape = tuple(int(v) for v in state_shape)
        super().__init__(buffer_size, observation_space, action_space, device, gae_lambda=gae_lambda, gamma=gamma,
                         n_envs=n_envs)

    def reset(self) -> None:
        super().reset()
        self.initial_state = torch.zeros(self.state_shape, device=self.device)
        self._on_device: dict[str, torch.Tensor] | None = None

    def get(self, batch_size: int | None = None):  # type: ignore[override]
        raise TypeError("SequenceRolloutBuffer yields whole sequences: use sequence_batches(), not get()")

    def _device_arrays(self) -> dict[str, torch.Tensor]:
        if self._on_device is None:
            dev = self.device
            actions = torch.as_tensor(self.actions, device=dev)
            if isinstance(self.action_space, spaces.Discrete):
                actions = actions.long().view(self.buffer_size, self.n_envs)
            self._on_device = {
                "observations": torch.as_tensor(self.observations, device=dev),
                "actions": actions,
                "values": torch.as_tensor(self.values, device=dev),
                "log_probs": torch.as_tensor(self.log_probs, device=dev),
                "advantages": torch.as_tensor(self.advantages, device=dev),
                "returns": torch.as_tensor(self.returns, device=dev),
            }
        return self._on_device

    def sequence_batches(self, envs_per_batch: int | None, mask: np.ndarray | None = None,
                         generator: torch.Generator | None = None, lstm_mode: str = "auto") -> Iterator[SequenceBatch]:
        """Minibatches of ``envs_per_batch`` env columns (all when ``None``) in a random
        order, each with a :class:`ResetPlan` in ``lstm_mode``. With ``mask`` (``(n_steps,
        n_envs)`` bool: the transitions that may be trained on), columns holding no such
        transition are left out and every batch carries the mask as per-transition weights."""
        assert self.full, "the rollout is not complete"
        arrays = self._device_arrays()
        columns = np.arange(self.n_envs)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            columns = columns[mask.any(axis=0)]
        order = columns[torch.randperm(columns.size, generator=generator).numpy()]
        size = order.size if envs_per_batch is None else int(envs_per_batch)
        for lo in range(0, order.size, size):
            cols = np.sort(order[lo:lo + size])
            idx = torch.as_tensor(cols, device=self.device)
            weights = None
            if mask is not None:
                weights = torch.as_tensor(mask[:, cols].astype(np.float32), device=self.device)
            yield SequenceBatch(
                columns=cols,
                observations=arrays["observations"].index_select(1, idx),
                actions=arrays["actions"].index_select(1, idx),
                old_values=arrays["values"].index_select(1, idx),
                old_log_prob=arrays["log_probs"].index_select(1, idx),
                advantages=arrays["advantages"].index_select(1, idx),
                returns=arrays["returns"].index_select(1, idx),
                initial_state=self.initial_state.index_select(1, idx),
                plan=ResetPlan.from_starts(self.episode_starts[:, cols], self.device, lstm_mode),
                weights=weights,
            )
