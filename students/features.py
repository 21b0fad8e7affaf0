"""Convolutional students for envs whose flat observation holds an image.

SB3's ``CnnPolicy`` expects an image observation space of at least 36×36 pixels; the maze
gridworld's observation is a flat vector holding small planes (the 5×5 egocentric view's
wall and goal planes, or the full view's wall/goal/agent planes) followed by a direction
one-hot, as MiniGrid users feed to a small CNN. An env that has such a layout says so with
``image_layout = (channels, height, width)``: the first ``C·H·W`` entries are those planes
in C-order, the rest are extra features. ``student.policy: cnn`` then builds SB3's
``MlpPolicy`` with :class:`FlatImageCNN` as its features extractor.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

from envs.errors import TeachBenchError

CNN = "cnn"
"""The ``student.policy`` value that asks for :class:`FlatImageCNN`."""


class FlatImageCNN(BaseFeaturesExtractor):
    """MiniGrid-style CNN over the image part of a flat observation, extras concatenated.

    Three 2×2 convolutions (16, 32, 64 channels, ReLU; the rl-starter-files MiniGrid
    model without its max-pool, which a 5×5 view is too small for), flattened, joined with
    the extra features and projected to ``features_dim`` (ReLU)."""

    def __init__(self, observation_space: spaces.Box, image_layout: tuple[int, int, int], features_dim: int = 128) -> None:
        super().__init__(observation_space, features_dim)
        c, h, w = (int(v) for v in image_layout)
        n_obs = int(observation_space.shape[0])
        if min(c, h, w) < 1 or h < 4 or w < 4 or c * h * w > n_obs:
            raise TeachBenchError("student.policy", f"image layout {image_layout} does not fit a {n_obs}-value observation")
        self.layout = (c, h, w)
        self.n_image = c * h * w
        self.convs = nn.Sequential(
            nn.Conv2d(c, 16, 2), nn.ReLU(),
            nn.Conv2d(16, 32, 2), nn.ReLU(),
            nn.Conv2d(32, 64, 2), nn.ReLU(),
            nn.Flatten(),
        )
        n_conv = 64 * (h - 3) * (w - 3)
        self.head = nn.Sequential(nn.Linear(n_conv + n_obs - self.n_image, features_dim), nn.ReLU())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        image = observations[:, : self.n_image].reshape(-1, *self.layout)
        extra = observations[:, self.n_image :]
        return self.head(torch.cat([self.convs(image), extra], dim=1))


def cnn_policy_kwargs(vec_env: VecEnv, policy_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """``policy_kwargs`` that make an ``MlpPolicy`` use :class:`FlatImageCNN` on this env's
    ``image_layout``; a clear error for envs without one."""
    try:
        layout = vec_env.get_attr("image_layout", indices=[0])[0]
    except AttributeError:
        layout = None
    if layout is None:
        raise TeachBenchError("student.policy", "policy 'cnn' needs an env with an image_layout (the gridworld has one)",
                              ["MlpPolicy", "MultiInputPolicy"])
    if not isinstance(vec_env.observation_space, spaces.Box) or len(vec_env.observation_space.shape) != 1:
        raise TeachBenchError("student.policy", "policy 'cnn' needs a flat Box observation")
    merged = dict(policy_kwargs or {})
    extractor_kwargs = dict(merged.get("features_extractor_kwargs") or {})
    extractor_kwargs["image_layout"] = tuple(layout)
    merged["features_extractor_class"] = FlatImageCNN
    merged["features_extractor_kwargs"] = extractor_kwargs
    return merged
