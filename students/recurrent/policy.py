"""The recurrent actor-critic: features → one shared LSTM → actor and critic heads.

With the UED maze features (:class:`UEDMazeFeatures`) this is the maze student of dcd
(``models/multigrid_models.py``, ``MultigridNetwork``; facts in ``docs/references.md``):

- a 3×3 convolution with 16 filters, valid padding, over the egocentric view, flattened,
  then ReLU (5×5 view → 16·3·3 = 144 features);
- the direction one-hot through a 5-unit linear layer (no activation);
- both concatenated (149) into an LSTM of 256 units, shared by actor and critic (both
  losses' gradients reach it, as in dcd);
- actor and critic heads: dcd's ``actor_fc_layers=(32, 32)`` builds ONE 256→32 tanh layer
  (its helper makes ``len(sizes) − 1`` layers), then the output layer; we build that
  network (``net_arch = {"pi": [32], "vf": [32]}``).
- initialisation as dcd: conv Xavier-uniform, LSTM and head weights orthogonal (heads
  with gain √2, the policy output 0.01, the value output 1), biases 0; the direction layer
  keeps PyTorch's default.

Where we differ: our gridworld's view has 2 planes (wall, goal; ``image_layout``) where
dcd's MiniGrid encoding has 3 channels (object, colour, state), so the conv has
2·16·9 + 16 = 304 parameters instead of 448; everything after it is identical. The
sb3-contrib ``RecurrentActorCriticPolicy`` differs in that its shared LSTM passes only
the actor's gradient (the critic reads a detached copy) and by default it uses two LSTMs.

Hidden states travel as one tensor ``(2, n_envs, H)``: ``[0]`` = h, ``[1]`` = c.
:meth:`RecurrentActorCritic.predict` keeps sb3-contrib's numpy format (a ``(h, c)`` tuple
of ``(1, n_envs, H)`` arrays) so evaluation code drives both the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.distributions import (
    CategoricalDistribution,
    DiagGaussianDistribution,
    Distribution,
    make_proba_distribution,
)
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, FlattenExtractor
from stable_baselines3.common.type_aliases import Schedule
from torch import nn
from torch.distributions import Categorical

from envs.errors import TeachBenchError
from students.recurrent.lstm import ResetPlan, lstm_over_rollout

DCD_NET_ARCH = {"pi": [32], "vf": [32]}
"""The heads dcd builds for ``actor_fc_layers = value_fc_layers = (32, 32)``."""


class UEDMazeFeatures(BaseFeaturesExtractor):
    """dcd's maze embedding over a flat observation whose first ``C·H·W`` values are the
    view planes (``image_layout``) and whose remaining values (the direction one-hot)
    go through a ``scalar_fc``-unit linear layer.

    Args:
        image_layout: ``(channels, height, width)`` of the planes (the env's ``image_layout``).
        conv_filters: 16 (dcd). kernel_size: 3 (dcd, valid padding). scalar_fc: 5 (dcd).
    """

    def __init__(self, observation_space: spaces.Box, image_layout: tuple[int, int, int], conv_filters: int = 16,
                 kernel_size: int = 3, scalar_fc: int = 5) -> None:
        c, h, w = (int(v) for v in image_layout)
        n_obs = int(observation_space.shape[0])
        if min(c, h, w) < 1 or h < kernel_size or w < kernel_size or c * h * w > n_obs:
            raise TeachBenchError("student.policy", f"image layout {image_layout} does not fit a {n_obs}-value "
                                  f"observation with a {kernel_size}x{kernel_size} convolution")
        n_conv = conv_filters * (h - kernel_size + 1) * (w - kernel_size + 1)
        n_extra = n_obs - c * h * w
        super().__init__(observation_space, n_conv + (scalar_fc if n_extra else 0))
        self.layout = (c, h, w)
        self.n_image = c * h * w
        self.conv = nn.Conv2d(c, conv_filters, kernel_size)  # padding 0 = TF "valid"
        nn.init.xavier_uniform_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.scalar = nn.Linear(n_extra, scalar_fc) if n_extra else None

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        image = observations[:, : self.n_image].reshape(-1, *self.layout)
        out = torch.relu(self.conv(image).flatten(1))
        if self.scalar is None:
            return out
        return torch.cat([out, self.scalar(observations[:, self.n_image :])], dim=1)


def sample_categorical(probs: torch.Tensor) -> torch.Tensor:
    """One action per row of ``probs`` ``(N, K)``, drawn exactly as ``torch.multinomial(probs,
    1, True)`` draws it (its one-sample path: ``argmax(p / q)`` with ``q ~ Exp(1)`` from the
    default generator, the Gumbel-max trick), without the two checks that path reads back
    from the device first (finite, non-negative probabilities; a non-zero row sum).
    ``tests/test_recurrent_rollout_exact.py`` holds it to the same draws bit for bit."""
    q = torch.empty_like(probs).exponential_(1.0)
    return torch.argmax(probs / q, dim=-1)


def _mlp(sizes: list[int], input_dim: int, activation: type[nn.Module]) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for size in sizes:
        linear = nn.Linear(input_dim, size)
        nn.init.orthogonal_(linear.weight, gain=np.sqrt(2))
        nn.init.zeros_(linear.bias)
        layers += [linear, activation()]
        input_dim = size
    return nn.Sequential(*layers), input_dim


class RecurrentActorCritic(BasePolicy):
    """Features extractor → ``nn.LSTM(features_dim, lstm_hidden_size)`` → actor/critic MLPs.

    Args:
        net_arch: ``{"pi": [...], "vf": [...]}`` hidden sizes of the heads; default dcd's.
        activation_fn: of the heads, default ``nn.Tanh`` (dcd).
        lstm_hidden_size: 256 (dcd).
        features_extractor_class / _kwargs: default ``FlattenExtractor`` (the student build
            passes :class:`UEDMazeFeatures` on envs with an ``image_layout``).
        optimizer_class / optimizer_kwargs: default Adam with ``eps=1e-5`` (dcd's, and what
            SB3's and sb3-contrib's actor-critic policies default to), unless given.
    """

    recurrent = True

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, lr_schedule: Schedule,
                 net_arch: dict[str, list[int]] | None = None, activation_fn: type[nn.Module] = nn.Tanh,
                 lstm_hidden_size: int = 256, features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
                 features_extractor_kwargs: dict[str, Any] | None = None, normalize_images: bool = False,
                 optimizer_class: type[torch.optim.Optimizer] = torch.optim.Adam,
                 optimizer_kwargs: dict[str, Any] | None = None) -> None:
        optimizer_kwargs = dict(optimizer_kwargs or {})
        if optimizer_class is torch.optim.Adam:
            optimizer_kwargs.setdefault("eps", 1e-5)
        super().__init__(observation_space, action_space, features_extractor_class, features_extractor_kwargs,
                         normalize_images=normalize_images, optimizer_class=optimizer_class,
                         optimizer_kwargs=optimizer_kwargs)
        arch = dict(DCD_NET_ARCH if net_arch is None else net_arch)
        if set(arch) != {"pi", "vf"}:
            raise TeachBenchError("student.params.policy_kwargs.net_arch",
                                  f"expected keys pi and vf, got {sorted(arch)}")
        self.net_arch = arch
        self.activation_fn = activation_fn
        self.lstm_hidden_size = int(lstm_hidden_size)
        self.features_extractor = self.make_features_extractor()
        self.lstm = nn.LSTM(self.features_extractor.features_dim, self.lstm_hidden_size)
        for name, param in self.lstm.named_parameters():
            nn.init.zeros_(param) if "bias" in name else nn.init.orthogonal_(param)
        self.pi_net, pi_dim = _mlp(arch["pi"], self.lstm_hidden_size, activation_fn)
        self.vf_net, vf_dim = _mlp(arch["vf"], self.lstm_hidden_size, activation_fn)
        self.action_dist = make_proba_distribution(action_space)
        if isinstance(self.action_dist, DiagGaussianDistribution):
            self.action_net, self.log_std = self.action_dist.proba_distribution_net(latent_dim=pi_dim)
        else:
            self.action_net = self.action_dist.proba_distribution_net(latent_dim=pi_dim)
        self.value_net = nn.Linear(vf_dim, 1)
        nn.init.orthogonal_(self.action_net.weight, gain=0.01)
        nn.init.zeros_(self.action_net.bias)
        nn.init.orthogonal_(self.value_net.weight, gain=1.0)
        nn.init.zeros_(self.value_net.bias)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(net_arch=self.net_arch, activation_fn=self.activation_fn, lstm_hidden_size=self.lstm_hidden_size,
                    features_extractor_class=self.features_extractor_class,
                    features_extractor_kwargs=self.features_extractor_kwargs)
        return data

    # -- pieces ---------------------------------------------------------------------------
    def initial_state(self, n: int) -> torch.Tensor:
        """Zero ``(2, n, H)`` states (h, c)."""
        return torch.zeros((2, n, self.lstm_hidden_size), device=self.device)

    def _distribution(self, latent_pi: torch.Tensor, check_args: bool = True) -> Distribution:
        """The action distribution; ``check_args=False`` builds a categorical one without
        torch's argument checks (:meth:`forward` says why)."""
        out = self.action_net(latent_pi)
        if isinstance(self.action_dist, DiagGaussianDistribution):
            return self.action_dist.proba_distribution(out, self.log_std)
        if not check_args and isinstance(self.action_dist, CategoricalDistribution):
            self.action_dist.distribution = Categorical(logits=out, validate_args=False)
            return self.action_dist
        return self.action_dist.proba_distribution(action_logits=out)

    def _one_step(self, obs: torch.Tensor, state: torch.Tensor | None,
                  episode_starts: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """LSTM output ``(N, H)`` and next state for one step of ``N`` envs."""
        features = self.extract_features(obs, self.features_extractor)
        n = features.shape[0]
        if state is None:
            state = self.initial_state(n)
        if episode_starts is not None:
            state = state * (1.0 - episode_starts.float()).view(1, n, 1)
        out, (h, c) = self.lstm(features.unsqueeze(0), (state[0:1].contiguous(), state[1:2].contiguous()))
        return out[0], torch.cat([h, c], 0)

    # -- acting ---------------------------------------------------------------------------
    def forward(self, obs: torch.Tensor, state: torch.Tensor | None = None, episode_starts: torch.Tensor | None = None,
                deterministic: bool = False,
                check_args: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Actions, values ``(N, 1)``, log-probabilities and the next state of one step.

        ``check_args=False`` (the rollout loop): a categorical distribution skips torch's
        argument checks of the logits and of the sampled actions, and samples with
        :func:`sample_categorical` instead of ``torch.multinomial`` (the same draw without
        its two checks). Each check reads a boolean back from the device, so on CUDA they
        were four of a step's host round trips. None changes a value; the rollout loop
        checks the log-probabilities on the host instead (non-finite logits make them NaN)."""
        latent, next_state = self._one_step(obs, state, episode_starts)
        dist = self._distribution(self.pi_net(latent), check_args=check_args)
        if not check_args and not deterministic and isinstance(self.action_dist, CategoricalDistribution):
            actions = sample_categorical(dist.distribution.probs)
        else:
            actions = dist.get_actions(deterministic=deterministic)
        values = self.value_net(self.vf_net(latent))
        return actions, values, dist.log_prob(actions), next_state

    def predict_values(self, obs: torch.Tensor, state: torch.Tensor | None = None,
                       episode_starts: torch.Tensor | None = None) -> torch.Tensor:
        """V of one step; without a state, from the zero state (an episode's first step)."""
        latent, _ = self._one_step(obs, state, episode_starts)
        return self.value_net(self.vf_net(latent))

    def _predict(self, observation: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        latent, _ = self._one_step(observation, None, None)
        return self._distribution(self.pi_net(latent)).get_actions(deterministic=deterministic)

    def predict(self, observation: np.ndarray | dict[str, np.ndarray], state: tuple[np.ndarray, ...] | None = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """One step for ``N`` envs carrying ``state`` (sb3-contrib's ``(h, c)`` format);
        ``episode_start[i]`` resets env ``i``'s state first. ``state=None``: zero states."""
        self.set_training_mode(False)
        obs, vectorized = self.obs_to_tensor(observation)
        with torch.no_grad():
            n = obs.shape[0]
            st = None if state is None else torch.as_tensor(np.concatenate([state[0], state[1]], 0),
                                                           dtype=torch.float32, device=self.device)
            starts = None if episode_start is None else torch.as_tensor(np.asarray(episode_start, dtype=np.float32),
                                                                        device=self.device).view(n)
            latent, next_state = self._one_step(obs, st, starts)
            actions = self._distribution(self.pi_net(latent)).get_actions(deterministic=deterministic)
        actions_np = actions.cpu().numpy().reshape((-1, *self.action_space.shape))
        if isinstance(self.action_space, spaces.Box):
            actions_np = np.clip(actions_np, self.action_space.low, self.action_space.high)
        if not vectorized:
            actions_np = actions_np.squeeze(axis=0)
        ns = next_state.cpu().numpy()
        return actions_np, (ns[0:1], ns[1:2])

    # -- training -------------------------------------------------------------------------
    def evaluate_sequences(self, obs: torch.Tensor, actions: torch.Tensor, state: torch.Tensor,
                           plan: ResetPlan) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values, log-probabilities of ``actions`` and entropies, each ``(T, B)``, of
        ``B`` whole sequences of ``T`` steps (``obs`` ``(T, B, *obs_shape)``) started from
        the stored states ``state`` ``(2, B, H)`` with resets where ``plan`` says."""
        t, b = plan.steps, plan.columns
        features = self.extract_features(obs.reshape(t * b, *obs.shape[2:]), self.features_extractor)
        latent = lstm_over_rollout(self.lstm, features.view(t, b, -1), state, plan).reshape(t * b, -1)
        dist = self._distribution(self.pi_net(latent))
        values = self.value_net(self.vf_net(latent))
        flat_actions = actions.reshape(t * b, *actions.shape[2:])
        return values.view(t, b), dist.log_prob(flat_actions).view(t, b), dist.entropy().view(t, b)
