"""Recurrent PPO trained on whole rollouts: ``student=recurrent_ppo``.

PPO (clip) with SB3's loss and knobs, as SB3's ``PPO`` computes it per minibatch
(advantages normalised per minibatch, optional value clipping ``clip_range_vf``, MSE value
loss, ``loss = pg + ent_coef·entropy_loss + vf_coef·value_loss``, gradient-norm
clipping, ``target_kl`` early stop), with a recurrent policy
(:class:`~students.recurrent.policy.RecurrentActorCritic`). What differs from
sb3-contrib's ``RecurrentPPO`` is how the update runs the LSTM: sb3-contrib cuts every
env's rollout into per-episode chunks, pads them and loops over time whenever a chunk
holds a reset; here a minibatch is a set of env COLUMNS × all ``n_steps`` (dcd's
``recurrent_generator``), every column starts from the hidden state it had when the
rollout began, and the LSTM runs all columns at once with the state zeroed at each
episode start (:mod:`students.recurrent.lstm`): one packed ``nn.LSTM`` call on CUDA
(cuDNN), one call per slice between resets on the CPU, a single call when no column
resets. The
losses are the same on the same data (tested against sb3-contrib on a fixed batch).

- ``batch_size`` counts transitions, as in SB3: a minibatch holds
  ``batch_size // n_steps`` env columns, so ``batch_size`` must be a multiple of
  ``n_steps``; ``None`` = all columns in one minibatch (dcd's ``num_mini_batch: 1``).
- The hidden state of every env after the last step (``_last_hidden``) is part of a
  checkpoint (saved with the weights, loaded without unpickling). A resumed ``learn``
  resets the envs (SB3 does), so the state is masked by the episode starts then.
- PLR⊥ (``students/robust.py``) sets :attr:`SequencePPO.transition_mask` before
  :meth:`train`: the update then weighs every transition by the mask (0 = a new level's
  step, only scored), still running the LSTM over the whole sequence; columns with no
  replayed transition are not trained on.
- ``lstm_mode`` (``auto`` | ``packed`` | ``stepwise`` | ``split``): how a minibatch with
  resets runs the LSTM (:mod:`students.recurrent.lstm`); ``auto`` = packed on CUDA, split
  on the CPU. All compute the same values and gradients.
- Timeouts (``TimeLimit.truncated``) bootstrap with ``γ·V(terminal observation)`` from the
  hidden state reached at that step (one batched call for all truncated envs).
- Host<->device traffic per rollout step on CUDA: one copy in (observations and episode
  starts together), one copy out (actions, values and log-probabilities together), and no
  argument checks in the acting distribution or the sampler
  (:func:`~students.recurrent.policy.sample_categorical`); each copy or check is a wait for
  the device: 2 per step now, 9 before (``fuse_step_copies``: on the CPU the copies stay
  apart, where packing them costs more than it saves). The log-probabilities are checked
  on the host instead. The numbers are the same as before the
  change, bit for bit, either way (``tests/test_recurrent_rollout_exact.py``;
  ``benchmarks/profile_recurrent_ued.py`` times a rollout's phases).
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import FloatSchedule, explained_variance, obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from envs.errors import TeachBenchError
from students.recurrent.buffer import SequenceBatch, SequenceRolloutBuffer
from students.recurrent.lstm import MODES
from students.recurrent.policy import RecurrentActorCritic

SelfSequencePPO = TypeVar("SelfSequencePPO", bound="SequencePPO")


class SequencePPO(OnPolicyAlgorithm):
    """Recurrent PPO over whole rollout sequences. Arguments as SB3's ``PPO``
    (``use_sde`` is not supported); ``batch_size`` must be a multiple of ``n_steps``;
    ``lstm_mode`` as above."""

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpLstmPolicy": RecurrentActorCritic}
    #: One copy in and one copy out per rollout step (:meth:`_step_inputs`, :meth:`_step_outputs`);
    #: ``None``: off the CPU only. On CUDA each copy waits for the device; on the CPU there is
    #: no wait to save, and packing cost 16-29 ms more per 32 x 256-step rollout (4-8% of it;
    #: experiments/results/recurrent_ued_profile).
    fuse_step_copies: bool | None = None

    def __init__(self, policy: str | type[RecurrentActorCritic], env: GymEnv | str,
                 learning_rate: float | Schedule = 3e-4, n_steps: int = 128, batch_size: int | None = None,
                 n_epochs: int = 10, gamma: float = 0.99, gae_lambda: float = 0.95,
                 clip_range: float | Schedule = 0.2, clip_range_vf: float | Schedule | None = None,
                 normalize_advantage: bool = True, ent_coef: float = 0.0, vf_coef: float = 0.5,
                 max_grad_norm: float = 0.5, target_kl: float | None = None, stats_window_size: int = 100,
                 tensorboard_log: str | None = None, policy_kwargs: dict[str, Any] | None = None, verbose: int = 0,
                 seed: int | None = None, device: torch.device | str = "auto", lstm_mode: str = "auto",
                 _init_setup_model: bool = True) -> None:
        super().__init__(policy, env, learning_rate=learning_rate, n_steps=n_steps, gamma=gamma,
                         gae_lambda=gae_lambda, ent_coef=ent_coef, vf_coef=vf_coef, max_grad_norm=max_grad_norm,
                         use_sde=False, sde_sample_freq=-1, stats_window_size=stats_window_size,
                         tensorboard_log=tensorboard_log, policy_kwargs=policy_kwargs, verbose=verbose, seed=seed,
                         device=device, _init_setup_model=False,
                         supported_action_spaces=(spaces.Box, spaces.Discrete, spaces.MultiDiscrete,
                                                  spaces.MultiBinary))
        if batch_size is not None and (int(batch_size) < n_steps or int(batch_size) % n_steps):
            raise TeachBenchError("student.params.batch_size", f"{batch_size} is not a multiple of n_steps={n_steps}: "
                                  "a minibatch is whole sequences of n_steps steps (or null: the whole rollout)")
        if lstm_mode not in MODES:
            raise TeachBenchError("student.params.lstm_mode", f"unknown mode {lstm_mode!r}", MODES)
        self.lstm_mode = lstm_mode
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.clip_range = clip_range
        self.clip_range_vf = clip_range_vf
        self.normalize_advantage = normalize_advantage
        self.target_kl = target_kl
        self.transition_mask: np.ndarray | None = None
        if _init_setup_model:
            self._setup_model()

    # -- setup & checkpoints --------------------------------------------------------------
    def _setup_model(self) -> None:
        if not isinstance(self.observation_space, spaces.Box):
            raise TeachBenchError("student.algo", "recurrent_ppo needs a Box observation (flat or image), got "
                                  f"{type(self.observation_space).__name__}", ["ppo", "maskable_ppo"])
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(self.observation_space, self.action_space, self.lr_schedule,
                                        **self.policy_kwargs).to(self.device)
        if not isinstance(self.policy, RecurrentActorCritic):
            raise TeachBenchError("student.policy", "SequencePPO needs a RecurrentActorCritic policy")
        hidden = self.policy.lstm_hidden_size
        self.rollout_buffer = SequenceRolloutBuffer(self.n_steps, self.observation_space, self.action_space,
                                                    (2, self.n_envs, hidden), self.device, gae_lambda=self.gae_lambda,
                                                    gamma=self.gamma, n_envs=self.n_envs)
        self._last_hidden = torch.zeros((2, self.n_envs, hidden), device=self.device)
        self.clip_range = FloatSchedule(self.clip_range)
        if self.clip_range_vf is not None:
            if isinstance(self.clip_range_vf, (float, int)) and self.clip_range_vf <= 0:
                raise TeachBenchError("student.params.clip_range_vf", "must be positive, or null for no clipping")
            self.clip_range_vf = FloatSchedule(self.clip_range_vf)
        self.transition_mask = None

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], ["_last_hidden"]

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "transition_mask"]

    @property
    def envs_per_batch(self) -> int | None:
        return None if self.batch_size is None else max(1, int(self.batch_size) // self.n_steps)

    # -- rollouts -------------------------------------------------------------------------
    def collect_rollouts(self, env: VecEnv, callback: BaseCallback, rollout_buffer: RolloutBuffer,
                         n_rollout_steps: int) -> bool:
        assert isinstance(rollout_buffer, SequenceRolloutBuffer)
        assert self._last_obs is not None, "No previous observation was provided"
        self.policy.set_training_mode(False)
        n_steps = 0
        rollout_buffer.reset()
        rollout_buffer.initial_state = self._last_hidden.clone()
        callback.on_rollout_start()
        hidden = self._last_hidden
        discrete = isinstance(self.action_space, spaces.Discrete)
        fuse = self.device.type != "cpu" if self.fuse_step_copies is None else bool(self.fuse_step_copies)
        while n_steps < n_rollout_steps:
            with torch.no_grad():
                if fuse:
                    obs_tensor, starts = self._step_inputs(self._last_obs, self._last_episode_starts)
                else:
                    obs_tensor = obs_as_tensor(self._last_obs, self.device)
                    starts = torch.as_tensor(self._last_episode_starts, dtype=torch.float32, device=self.device)
                actions, values, log_probs, hidden = self.policy(obs_tensor, hidden, starts, check_args=False)
            if fuse:
                actions, values, log_probs = self._step_outputs(actions, values, log_probs)
            else:
                actions = actions.cpu().numpy()
            if log_probs.device.type == "cpu" and not bool(torch.isfinite(log_probs).all()):
                raise ValueError("recurrent_ppo rollout: an action's log-probability is not finite (non-finite "
                                 "logits: the policy's weights hold NaN or inf)")
            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
                clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high)
            new_obs, rewards, dones, infos = env.step(clipped_actions)
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                return False
            self._update_info_buffer(infos, dones)
            n_steps += 1
            if discrete:
                actions = actions.reshape(-1, 1)
            truncated = [i for i in np.flatnonzero(dones) if infos[i].get("terminal_observation") is not None
                         and infos[i].get("TimeLimit.truncated", False)]
            if truncated:
                terminal = np.stack([infos[i]["terminal_observation"] for i in truncated])
                with torch.no_grad():
                    idx = torch.as_tensor(truncated, device=self.device)
                    v = self.policy.predict_values(obs_as_tensor(terminal, self.device), hidden.index_select(1, idx))
                rewards = rewards.astype(np.float32, copy=True)
                rewards[truncated] += self.gamma * v.cpu().numpy().reshape(-1)
            rollout_buffer.add(self._last_obs, actions, rewards, self._last_episode_starts, values, log_probs)
            self._last_obs = new_obs
            self._last_episode_starts = dones
            self._last_hidden = hidden
        with torch.no_grad():
            starts = torch.as_tensor(dones, dtype=torch.float32, device=self.device)
            values = self.policy.predict_values(obs_as_tensor(new_obs, self.device), hidden, starts)
        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _step_inputs(self, obs: Any, starts: np.ndarray) -> tuple[Any, torch.Tensor]:
        """The step's observations and episode starts (float) on the device, in ONE
        host-to-device copy for a float32 array observation (each copy from pageable
        memory waits for the device on CUDA): both go into one flat float32 buffer whose
        first part is the observation, so the tensor the policy reads is contiguous and
        holds the same numbers as ``obs_as_tensor``."""
        if not (isinstance(obs, np.ndarray) and obs.dtype == np.float32):
            return (obs_as_tensor(obs, self.device),
                    torch.as_tensor(starts, dtype=torch.float32, device=self.device))
        flat = np.concatenate([obs.reshape(-1), np.asarray(starts, dtype=np.float32).reshape(-1)])
        both = torch.as_tensor(flat, device=self.device)
        return both[: obs.size].view(obs.shape), both[obs.size:]

    def _step_outputs(self, actions: torch.Tensor, values: torch.Tensor,
                      log_probs: torch.Tensor) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        """Actions (NumPy), values and log-probabilities (CPU tensors) of one step in ONE
        device-to-host copy (one wait on CUDA where SB3's buffer ``add`` makes two more).
        Values and log-probabilities are float32 as computed; integer actions go through
        float32, exact below 2**24 (larger action ids, or other dtypes, are copied apart)."""
        exact = actions.dtype == torch.float32 or (actions.dtype == torch.int64 and self._int_actions_exact)
        if values.dtype != torch.float32 or log_probs.dtype != torch.float32 or not exact:
            return actions.cpu().numpy(), values, log_probs
        n = values.shape[0]
        host = torch.cat([values.reshape(-1), log_probs.reshape(-1), actions.reshape(-1).to(torch.float32)]).cpu()
        action_dtype = np.float32 if actions.dtype == torch.float32 else np.int64
        return (host[2 * n:].numpy().astype(action_dtype).reshape(actions.shape),
                host[:n].view(values.shape), host[n:2 * n].view(log_probs.shape))

    @property
    def _int_actions_exact(self) -> bool:
        """Every integer action of the space is a float32 exactly (|a| < 2**24)."""
        space = self.action_space
        if isinstance(space, spaces.Discrete):
            return int(space.start) + int(space.n) <= 2**24 and int(space.start) >= -(2**24)
        if isinstance(space, spaces.MultiDiscrete):
            return bool(np.all(np.asarray(space.nvec) + np.asarray(getattr(space, "start", 0)) <= 2**24))
        return isinstance(space, spaces.MultiBinary)

    # -- update ---------------------------------------------------------------------------
    def minibatch_losses(self, batch: SequenceBatch, clip_range: float,
                         clip_range_vf: float | None) -> dict[str, torch.Tensor]:
        """PPO's losses on one minibatch of whole sequences (means over its transitions,
        weighted by ``batch.weights`` when PLR⊥ masks some out)."""
        values, log_prob, entropy = self.policy.evaluate_sequences(batch.observations, batch.actions,
                                                                   batch.initial_state, batch.plan)
        w = batch.weights

        def mean(x: torch.Tensor) -> torch.Tensor:
            return x.mean() if w is None else (x * w).sum() / w.sum()

        advantages = batch.advantages
        if self.normalize_advantage and advantages.numel() > 1:
            if w is None:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
            else:
                n = w.sum()
                mu = (advantages * w).sum() / n
                std = torch.sqrt(((advantages - mu) ** 2 * w).sum() / torch.clamp(n - 1, min=1.0))
                advantages = (advantages - mu) / (std + 1e-8)
        ratio = torch.exp(log_prob - batch.old_log_prob)
        clipped = torch.clamp(ratio, 1 - clip_range, 1 + clip_range)
        policy_loss = -mean(torch.min(advantages * ratio, advantages * clipped))
        if clip_range_vf is None:
            values_pred = values
        else:
            values_pred = batch.old_values + torch.clamp(values - batch.old_values, -clip_range_vf, clip_range_vf)
        value_loss = mean((batch.returns - values_pred) ** 2)
        entropy_loss = -mean(entropy)
        loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
        with torch.no_grad():
            log_ratio = log_prob - batch.old_log_prob
            approx_kl = mean((torch.exp(log_ratio) - 1) - log_ratio)
            clip_fraction = mean((torch.abs(ratio - 1) > clip_range).float())
        return {"loss": loss, "policy_gradient_loss": policy_loss, "value_loss": value_loss,
                "entropy_loss": entropy_loss, "approx_kl": approx_kl, "clip_fraction": clip_fraction}

    def train(self) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = float(self.clip_range(self._current_progress_remaining))
        progress = self._current_progress_remaining
        clip_range_vf = None if self.clip_range_vf is None else float(self.clip_range_vf(progress))
        logs: dict[str, list[torch.Tensor]] = {}
        continue_training = True
        epoch = 0
        for epoch in range(self.n_epochs):
            for batch in self.rollout_buffer.sequence_batches(self.envs_per_batch, self.transition_mask,
                                                              lstm_mode=self.lstm_mode):
                out = self.minibatch_losses(batch, clip_range, clip_range_vf)
                for key, value in out.items():
                    logs.setdefault(key, []).append(value.detach())
                if self.target_kl is not None and float(out["approx_kl"]) > 1.5 * self.target_kl:
                    continue_training = False
                    if self.verbose >= 1:
                        print(f"Early stopping at step {epoch} due to reaching max kl: {float(out['approx_kl']):.2f}")
                    break
                self.policy.optimizer.zero_grad()
                out["loss"].backward()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()
            self._n_updates += 1
            if not continue_training:
                break
        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())
        for key in ("entropy_loss", "policy_gradient_loss", "value_loss", "approx_kl", "clip_fraction"):
            if logs.get(key):
                self.logger.record(f"train/{key}", float(torch.stack(logs[key]).mean()))
        if logs.get("loss"):
            self.logger.record("train/loss", float(logs["loss"][-1]))
        self.logger.record("train/explained_variance", explained_var)
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", torch.exp(self.policy.log_std).mean().item())
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)
        if clip_range_vf is not None:
            self.logger.record("train/clip_range_vf", clip_range_vf)

    def learn(self: SelfSequencePPO, total_timesteps: int, callback: MaybeCallback = None, log_interval: int = 1,
              tb_log_name: str = "SequencePPO", reset_num_timesteps: bool = True,
              progress_bar: bool = False) -> SelfSequencePPO:
        return super().learn(total_timesteps=total_timesteps, callback=callback, log_interval=log_interval,
                             tb_log_name=tb_log_name, reset_num_timesteps=reset_num_timesteps,
                             progress_bar=progress_bar)
