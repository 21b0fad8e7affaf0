"""A policy and value function sharing one MLP trunk: TeachMyAgent's PPO network.

TMA's PPO (OpenAI baselines' ``ppo2`` with ``network=custom_mlp``, ``hidden_sizes=400/300``,
``value_network=shared``; ``docs/references.md``) computes one 400-300 tanh trunk and puts
both heads on it: a linear Gaussian mean (state-independent log-std) and a linear value.
SB3 >= 1.8 no longer shares hidden layers through ``net_arch``; the same network is an
``ActorCriticPolicy`` whose *features extractor* is that trunk (shared by default for
on-policy algorithms) with an empty ``net_arch``, so both heads sit right on it.
SB3's orthogonal init (gain sqrt(2) for the trunk, 0.01 for the action head, 1 for the
value head) is baselines' ``fc`` init for these layers. ``student.policy: shared_mlp``
selects it; ``policy_kwargs.net_arch`` gives the trunk's sizes (default 400-300).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from envs.errors import TeachBenchError

SHARED_MLP = "shared_mlp"
"""The ``student.policy`` value that asks for :class:`SharedMLP`."""
TMA_TRUNK = (400, 300)


class SharedMLP(BaseFeaturesExtractor):
    """A tanh MLP trunk over a flat Box observation, shared by the policy and value heads."""

    def __init__(self, observation_space: spaces.Box, hidden: Sequence[int] = TMA_TRUNK) -> None:
        sizes = [int(h) for h in hidden]
        if not sizes or min(sizes) < 1:
            raise TeachBenchError("student.params.policy_kwargs.net_arch", f"need positive layer sizes, got {list(hidden)}")
        super().__init__(observation_space, sizes[-1])
        layers: list[nn.Module] = [nn.Flatten()]
        n_in = int(spaces.flatdim(observation_space))
        for n_out in sizes:
            layers += [nn.Linear(n_in, n_out), nn.Tanh()]
            n_in = n_out
        self.trunk = nn.Sequential(*layers)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.trunk(observations)


def shared_mlp_policy_kwargs(observation_space: spaces.Space, policy_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """``policy_kwargs`` for an on-policy ``MlpPolicy`` with a :class:`SharedMLP` trunk;
    ``net_arch`` (a list of sizes) becomes the trunk and the heads get no layers of their own."""
    if not isinstance(observation_space, spaces.Box):
        raise TeachBenchError("student.policy", "policy 'shared_mlp' needs a Box observation")
    merged = dict(policy_kwargs or {})
    hidden = merged.pop("net_arch", None) or list(TMA_TRUNK)
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence) or not all(
            isinstance(h, int) and not isinstance(h, bool) for h in hidden):
        raise TeachBenchError("student.params.policy_kwargs.net_arch",
                              f"policy 'shared_mlp' takes the trunk as a list of sizes, got {hidden!r}")
    merged["features_extractor_class"] = SharedMLP
    merged["features_extractor_kwargs"] = {"hidden": [int(h) for h in hidden]}
    merged["net_arch"] = []
    merged["share_features_extractor"] = True
    return merged
