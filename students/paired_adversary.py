"""PAIRED's adversary: a (recurrent) PPO policy that designs mazes cell by cell.

The adversary acts in the designer MDP (:class:`envs.gridworld.designer.MazeDesignerEnv`,
``obs_mode="dict"``): goal, start, then up to ``n_walls`` walls (or, with ``goal_last``,
dcd's ``choose_goal_last``: the walls first, the goal and the start last), observing the
grid, the time step and a 50-D noise vector. Its only reward is the regret of the finished level,
given at the design's last step (dcd's ``replace_final_return``); it is trained with PPO
on a batch of designs, one per designer env (dcd: 32 envs, 5 epochs, one minibatch,
lr 1e-4, γ 0.995, λ 0.95, no entropy bonus, gradient norm 0.5).

Network (dcd ``MultigridNetwork`` built for ``adversary_env``, docs/references.md):
a 3×3 convolution with 128 filters (valid padding, ReLU) over the grid, the time step
one-hot through a 10-unit linear layer, the noise vector appended as is, an LSTM of 256
units shared by actor and critic, then one 32-unit tanh layer per head (dcd's
``actor_fc_layers=(32, 32)`` builds a single hidden layer of 32). Here it is sb3-contrib's
:class:`~sb3_contrib.RecurrentPPO` with :class:`DesignerFeatures` as features extractor,
``shared_lstm=True`` and ``net_arch=dict(pi=[32], vf=[32])``; its PPO update can run the
LSTM once per design (``lstm_update="sequence"``, :class:`SequenceLstmPolicy`).

Without the LSTM (``recurrent=False``: dcd's ``recurrent_adversary_env`` false, its
25-block minimax config ``mg_25b_minimax.json``) dcd's ``MultigridNetwork`` feeds the same
input layers straight into the two 32-unit heads; here that is SB3's :class:`~stable_baselines3.PPO`
with the same features extractor (shared by actor and critic) and heads.

Teachers never import SB3 (the layers), so the PAIRED teacher receives this object through
the runner's ``needs`` (``"adversary"``, wired by :func:`students.regret.attach_teacher_needs`)
and sees only :meth:`PairedAdversary.design` and :meth:`PairedAdversary.learn`.

Where we differ from dcd, and why: dcd designs, plays and trains in lock-step, so a batch
of designs is always trained by the policy that made it. Our students take their tasks
one episode at a time from the teacher, so the teacher may ask for the next batch before
the last one's regrets are in; each batch's rollout buffer is kept until its regrets
arrive, and PPO's ratio against the stored log-probabilities accounts for the policy
having moved in between (at most ``max_pending`` batches are kept).
"""

from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.ppo_recurrent.policies import MultiInputLstmPolicy
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import DummyVecEnv
from torch import nn

from envs.errors import TeachBenchError
from envs.gridworld.designer import MazeDesignerEnv


class DesignerFeatures(BaseFeaturesExtractor):
    """dcd's adversary input layers: conv(grid) ‖ linear(one-hot time step) ‖ noise."""

    def __init__(self, observation_space: spaces.Dict, conv_filters: int = 128, time_embed: int = 10) -> None:
        image = observation_space["image"]
        channels, height, width = image.shape
        self.horizon = int(observation_space["time_step"].high[0])
        noise_dim = int(observation_space["noise"].shape[0])
        out = int(conv_filters) * (height - 2) * (width - 2) + int(time_embed) + noise_dim
        super().__init__(observation_space, features_dim=out)
        self.conv = nn.Sequential(nn.Conv2d(channels, int(conv_filters), kernel_size=3), nn.Flatten(), nn.ReLU())
        self.time = nn.Linear(self.horizon + 1, int(time_embed))

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        t = obs["time_step"].reshape(-1).round().long().clamp(0, self.horizon)
        one_hot = nn.functional.one_hot(t, self.horizon + 1).float()
        return torch.cat([self.conv(obs["image"].float()), self.time(one_hot), obs["noise"].float()], dim=-1)


class _CollectLevels(BaseCallback):
    """Reads the finished designs out of the designer envs' infos during a rollout."""

    def __init__(self, n_envs: int) -> None:
        super().__init__()
        self.levels: list[str | None] = [None] * n_envs
        self.stats: list[dict[str, Any]] = [{} for _ in range(n_envs)]

    def _on_step(self) -> bool:
        for i, done in enumerate(self.locals["dones"]):
            if done:
                self.levels[i] = self.locals["infos"][i]["level"]
                self.stats[i] = dict(self.locals["infos"][i]["level_stats"])
        return True


LSTM_UPDATES = ("stepwise", "sequence")


class SequenceLstmPolicy(MultiInputLstmPolicy):
    """sb3-contrib's LSTM policy with one ``nn.LSTM`` call per sequence whose only episode
    start is its first step (``lstm_update="sequence"``).

    sb3-contrib runs its LSTM one time step at a time whenever a sequence holds an episode
    start anywhere, so that it can zero the states there. Every sequence of the adversary's
    buffer is one whole design, which starts at its first step and nowhere else, so every
    update took that slow path: 27 (or 52) single-step calls forward and backward over the
    ~21.7k features of the maze, about 90% of a PAIRED iteration on one CPU thread
    (``experiments/results/recurrent_ued_profile``). Zeroing the states where the first step
    starts an episode and then running the whole sequence in one call is the same
    recurrence. It is not bit-identical: the LSTM kernel then computes all steps' input
    products in one matrix product, which sums in another order (weight gradients differed
    by up to ~3e-5 on the CPU), as a change of device does. Sequences with an episode start
    after their first step keep sb3-contrib's loop."""

    @staticmethod
    def _process_sequence(features: torch.Tensor, lstm_states: tuple[torch.Tensor, torch.Tensor],
                          episode_starts: torch.Tensor, lstm: nn.LSTM) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        n_seq = lstm_states[0].shape[1]
        starts = episode_starts.reshape((n_seq, -1)).swapaxes(0, 1)  # (time, sequence)
        if starts.shape[0] > 1 and not bool(torch.all(starts[1:] == 0.0)):
            return RecurrentActorCriticPolicy._process_sequence(features, lstm_states, episode_starts, lstm)
        keep = (1.0 - starts[0]).view(1, n_seq, 1)
        sequence = features.reshape((n_seq, -1, lstm.input_size)).swapaxes(0, 1)
        output, states = lstm(sequence, (keep * lstm_states[0], keep * lstm_states[1]))
        return torch.flatten(output.transpose(0, 1), start_dim=0, end_dim=1), states


def _place(planes: torch.Tensor, rows: torch.Tensor, action: torch.Tensor, t: int, n: int, n_walls: int,
           goal_last: bool, goal: torch.Tensor) -> torch.Tensor:
    """Placement ``t`` of every design on the device: :meth:`MazeDesignerEnv.step`'s rule on
    the ``(batch, 3, size, size)`` planes (wall, goal, start; indexed ``[x, y]``).
    Returns the goal's cell index (set at the goal's placement, else ``goal``)."""
    goal_at, start_at = (n_walls, n_walls + 1) if goal_last else (0, 1)
    cell = action
    if t == start_at:  # only goal first (PAIRED's order) observes it: a start on the goal moves one cell on
        cell = torch.where(action == goal, (goal + 1) % (n * n), action)
    x, y = cell % n + 1, cell // n + 1
    if t == goal_at:
        planes[rows, :, x, y] = 0.0
        planes[rows, 1, x, y] = 1.0
        return action
    if t == start_at:
        planes[rows, 0, x, y] = 0.0
        planes[rows, 2, x, y] = 1.0
        return goal
    free = planes[rows, :, x, y].sum(dim=1) == 0
    planes[rows, 0, x, y] = torch.where(free, torch.ones_like(free, dtype=planes.dtype), planes[rows, 0, x, y])
    return goal


def _snapshot(buffer: Any) -> Any:
    """A copy of a rollout buffer that the next design cannot touch: its arrays (and dicts
    of arrays) copied, everything else shared (spaces, device). ``copy.deepcopy`` did the
    same through ~15k Python calls per batch."""
    out = copy.copy(buffer)
    for key, value in vars(buffer).items():
        if isinstance(value, np.ndarray):
            setattr(out, key, value.copy())
        elif isinstance(value, dict) and value and all(isinstance(v, np.ndarray) for v in value.values()):
            setattr(out, key, {k: v.copy() for k, v in value.items()})
    return out


class PairedAdversary:
    """A RecurrentPPO (or, ``recurrent=False``, PPO) designer producing ``batch_size``
    levels per :meth:`design` call.

    Args (defaults: dcd's PAIRED maze settings, docs/references.md):
        size: maze side with border (15); n_walls: wall placements (50);
        noise_dim: noise vector size (50); batch_size: designs per batch = designer envs (32).
        goal_last: place the goal and the start after the walls (False; dcd's 25-block
            PAIRED: True), :class:`~envs.gridworld.designer.MazeDesignerEnv`.
        lr (1e-4), n_epochs (5), gamma (0.995), gae_lambda (0.95), ent_coef (0.0),
        clip_range (0.2), max_grad_norm (0.5): PPO settings; one minibatch per epoch.
        conv_filters (128), time_embed (10), lstm_hidden (256), head_hidden (32): network.
        max_pending: designed batches kept while their regrets are outstanding (4).
        seed: seeds the policy and the designer envs; device: torch device.
        lstm_update: ``"stepwise"`` (sb3-contrib's loop over time steps in the PPO update;
            the default, bit-identical to every earlier run) or ``"sequence"`` (one LSTM call
            per design, :class:`SequenceLstmPolicy`: the same recurrence, float rounding apart).
        recurrent: the LSTM between the input layers and the heads (True: dcd's PAIRED,
            ``recurrent_adversary_env`` true; False: dcd's 25-block minimax, no LSTM, so
            ``lstm_hidden`` is unused and ``lstm_update`` must stay ``"stepwise"``).
        fast_loop: for the non-recurrent designer, design with :meth:`_design_fast` and
            update with :meth:`_train_fast` (True, the default) instead of SB3's
            ``collect_rollouts`` and ``PPO.train`` (False): the same levels, log-probabilities,
            rollout buffer and updated weights, bit for bit on the CPU
            (tests/test_paired_adversary_fast.py), with one copy to the device and one read
            back per design where SB3 waits for the device ~8 times per placement, and two
            copies per update where it waits ~15 times per epoch
            (experiments/results/scale_2026-11-30/session11/minimax_designer_speed.txt). The
            recurrent designer (PAIRED's) always takes SB3's path.
    """

    def __init__(self, size: int = 15, n_walls: int = 50, noise_dim: int = 50, batch_size: int = 32,
                 lr: float = 1e-4, n_epochs: int = 5, gamma: float = 0.995, gae_lambda: float = 0.95,
                 ent_coef: float = 0.0, clip_range: float = 0.2, max_grad_norm: float = 0.5,
                 conv_filters: int = 128, time_embed: int = 10, lstm_hidden: int = 256, head_hidden: int = 32,
                 max_pending: int = 4, seed: int = 0, device: Any = "cpu", goal_last: bool = False,
                 lstm_update: str = "stepwise", recurrent: bool = True, fast_loop: bool = True) -> None:
        if int(batch_size) < 1:
            raise TeachBenchError("adversary.batch_size", f"must be >= 1, got {batch_size}")
        if int(max_pending) < 1:
            raise TeachBenchError("adversary.max_pending", f"must be >= 1, got {max_pending}")
        if lstm_update not in LSTM_UPDATES:
            raise TeachBenchError("adversary_lstm_update", f"unknown value {lstm_update!r}", LSTM_UPDATES)
        if not isinstance(recurrent, (bool, np.bool_)):
            raise TeachBenchError("adversary_recurrent", f"must be true or false, got {recurrent!r}", [True, False])
        if not recurrent and lstm_update != "stepwise":
            raise TeachBenchError("adversary_lstm_update", f"{lstm_update!r} runs the adversary's LSTM, and a "
                                  "non-recurrent adversary has none: leave it at 'stepwise'", ["stepwise"])
        self.recurrent = bool(recurrent)
        # the batched design loop and the sync-free PPO update (non-recurrent designer only)
        self.fast_loop = bool(fast_loop) and not self.recurrent
        self.size, self.n_walls, self.goal_last = int(size), int(n_walls), bool(goal_last)
        self.batch_size = int(batch_size)
        self.max_pending = int(max_pending)
        self.horizon = int(n_walls) + 2
        self.vec_env = DummyVecEnv([
            (lambda: MazeDesignerEnv(size=int(size), n_walls=int(n_walls), noise_dim=int(noise_dim), obs_mode="dict",
                                     goal_last=bool(goal_last)))
            for _ in range(self.batch_size)
        ])
        self.vec_env.seed(int(seed))
        policy_kwargs: dict[str, Any] = {
            "features_extractor_class": DesignerFeatures,
            "features_extractor_kwargs": {"conv_filters": int(conv_filters), "time_embed": int(time_embed)},
            "net_arch": {"pi": [int(head_hidden)], "vf": [int(head_hidden)]}, "activation_fn": nn.Tanh,
        }
        # one minibatch per epoch: the whole batch of designs (dcd: adv_num_mini_batch 1)
        ppo = {"n_steps": self.horizon, "batch_size": self.horizon * self.batch_size, "n_epochs": int(n_epochs),
               "learning_rate": float(lr), "gamma": float(gamma), "gae_lambda": float(gae_lambda),
               "ent_coef": float(ent_coef), "clip_range": float(clip_range), "max_grad_norm": float(max_grad_norm),
               "seed": int(seed), "device": device, "verbose": 0}
        self.model: Any
        if self.recurrent:
            policy_kwargs.update({"lstm_hidden_size": int(lstm_hidden), "n_lstm_layers": 1, "shared_lstm": True,
                                  "enable_critic_lstm": False})
            self.model = RecurrentPPO(SequenceLstmPolicy if lstm_update == "sequence" else "MultiInputLstmPolicy",
                                      self.vec_env, policy_kwargs=policy_kwargs, **ppo)
        else:
            self.model = PPO("MultiInputPolicy", self.vec_env, policy_kwargs=policy_kwargs, **ppo)
        self.model.set_logger(Logger(folder=None, output_formats=[]))
        self.model._setup_learn(total_timesteps=1, callback=None, reset_num_timesteps=True)
        self._pending: dict[int, Any] = {}
        self.next_batch = 0
        self.n_updates = 0
        self.dropped_batches = 0
        self.last_mean_regret = float("nan")

    # -- the two calls the teacher makes -------------------------------------------------
    def design(self) -> tuple[int, list[str], list[dict[str, Any]]]:
        """Design one batch: every designer env plays one whole design episode with the
        current policy. Returns the batch id, its level strings (one per env) and their
        statistics (``Level.stats``: solvable, n_walls, shortest_path, ...)."""
        if self.fast_loop:
            levels, stats = self._design_fast()
        else:
            callback = _CollectLevels(self.batch_size)
            callback.init_callback(self.model)
            self.model.collect_rollouts(self.vec_env, callback, self.model.rollout_buffer, n_rollout_steps=self.horizon)
            levels, stats = callback.levels, callback.stats
        if any(level is None for level in levels):  # cannot happen: every env ends at step `horizon`
            raise TeachBenchError("adversary", "a designer env did not finish its design within the rollout")
        batch = self.next_batch
        self.next_batch += 1
        self._pending[batch] = _snapshot(self.model.rollout_buffer)
        while len(self._pending) > self.max_pending:  # the oldest batch's regrets never came: forget it
            self._pending.pop(min(self._pending))
            self.dropped_batches += 1
        return batch, [str(level) for level in levels], stats

    def _design_fast(self) -> tuple[list[str | None], list[dict[str, Any]]]:
        """SB3's ``collect_rollouts`` for one design per env, with the placements on the device.

        SB3 steps the designer envs after every forward pass, so each of the ``horizon``
        placements waits for the device (``actions.cpu()``) and then for 32 Python env steps.
        Here the maze planes the policy observes are updated on the device
        (:func:`_place`, the env's own rule) and the noise each observation carries is drawn
        beforehand from each env's generator (and its state put back). The forward passes
        are the same calls on the same inputs in the same order, so they draw the same
        actions from torch's generator; the value of the state after the last placement,
        which SB3 computes for a bootstrap that :meth:`learn` replaces, is not computed.
        The buffer stores the planes the policy saw, read back with the actions in one copy;
        the envs then finish their designs in one call each
        (:meth:`MazeDesignerEnv.finish`: the same level and noise as stepping them)."""
        model, policy, envs = self.model, self.model.policy, self.vec_env.envs
        horizon, n, device = self.horizon, self.batch_size, model.device
        policy.set_training_mode(False)
        buffer = model.rollout_buffer
        buffer.reset()
        first = model._last_obs
        noise = np.empty((horizon, n, first["noise"].shape[-1]), dtype=np.float32)
        noise[0] = first["noise"]
        for i, env in enumerate(envs):  # the noise each observation of the design will carry
            rng = env.unwrapped.np_random
            state = rng.bit_generator.state
            noise[1:, i] = rng.uniform(0.0, 1.0, size=(horizon - 1, noise.shape[-1])).astype(np.float32)
            rng.bit_generator.state = state  # MazeDesignerEnv.finish draws it again
        image = first["image"].astype(np.float32, copy=False)
        inputs = torch.as_tensor(np.concatenate([image.reshape(-1), noise.reshape(-1)]), device=device)  # one copy
        planes = inputs[:image.size].reshape(image.shape).clone()
        noise_t = inputs[image.size:].reshape(noise.shape)
        actions, values, log_probs, seen = [], [], [], []
        goal = torch.zeros(n, dtype=torch.long, device=device)
        rows = torch.arange(n, device=device)
        checks = torch.distributions.Distribution._validate_args  # noqa: SLF001 - restored below
        torch.distributions.Distribution.set_default_validate_args(False)  # its checks wait for the device
        try:
            with torch.no_grad():
                for t in range(horizon):
                    seen.append(planes.clone())
                    obs = {"image": seen[-1], "time_step": torch.full((n, 1), float(t), device=device),
                           "noise": noise_t[t]}
                    action, value, log_prob = policy(obs)
                    actions.append(action)
                    values.append(value.flatten())
                    log_probs.append(log_prob)
                    if t + 1 < horizon:  # the last placement's observation is never acted on
                        goal = _place(planes, rows, action.reshape(-1), t, self.size - 2, self.n_walls,
                                      self.goal_last, goal)
                # the one read back (cell indices < 2**24 are exact in float32)
                small = torch.stack([torch.stack(actions).float(), torch.stack(values), torch.stack(log_probs)])
                out = torch.cat([small.reshape(-1), torch.stack(seen).reshape(-1)]).cpu().numpy()
        finally:
            torch.distributions.Distribution.set_default_validate_args(checks)
        placed = out[:horizon * n].astype(np.int64).reshape(horizon, n)
        buffer.values[:] = out[horizon * n:2 * horizon * n].reshape(horizon, n)
        buffer.log_probs[:] = out[2 * horizon * n:3 * horizon * n].reshape(horizon, n)
        buffer.observations["image"][:] = out[3 * horizon * n:].reshape(buffer.observations["image"].shape)
        buffer.observations["time_step"][:] = np.arange(horizon, dtype=np.float32).reshape(horizon, 1, 1)
        buffer.observations["noise"][:] = noise
        levels: list[str | None] = [None] * n
        stats: list[dict[str, Any]] = [{} for _ in range(n)]
        next_obs: list[dict[str, np.ndarray]] = []
        for i, env in enumerate(envs):
            drawn, level = env.unwrapped.finish(placed[:, i])
            if not np.array_equal(drawn[:-1], noise[1:, i]):  # cannot happen: the same generator state
                raise TeachBenchError("adversary", "a designer env drew other noise than the design saw")
            levels[i], stats[i] = level.to_string(), level.stats()
            next_obs.append(env.reset()[0])  # as DummyVecEnv resets a finished env
        buffer.actions[:] = placed.reshape(horizon, n, 1)
        buffer.episode_starts[0] = model._last_episode_starts
        buffer.pos, buffer.full = horizon, True
        model._last_obs = {key: np.stack([o[key] for o in next_obs]) for key in first}
        model._last_episode_starts = np.ones(n, dtype=bool)
        model.num_timesteps += horizon * n
        return levels, stats

    def learn(self, batch: int, regrets: Sequence[float]) -> bool:
        """One PPO update on batch ``batch`` with reward ``regrets[i]`` at the last step of
        design ``i`` (zero elsewhere). Returns False when the batch is no longer kept."""
        buffer = self._pending.pop(int(batch), None)
        if buffer is None:
            return False
        r = np.asarray(regrets, dtype=np.float32).reshape(-1)
        if r.shape != (self.batch_size,) or not np.all(np.isfinite(r)):
            raise TeachBenchError("adversary.regrets", f"expected {self.batch_size} finite regrets, got {r.tolist()}")
        buffer.rewards[:] = 0.0
        buffer.rewards[-1] = r
        # every design ends at the buffer's last step: nothing to bootstrap
        buffer.compute_returns_and_advantage(last_values=torch.zeros(self.batch_size), dones=np.ones(self.batch_size))
        self.model.rollout_buffer = buffer
        if self.fast_loop:
            self._train_fast()
        else:
            self.model.train()
        self.n_updates += 1
        self.last_mean_regret = float(r.mean())
        return True

    def _train_fast(self) -> None:
        """SB3's ``PPO.train`` (clipped surrogate, value MSE, entropy, gradient clipping; the
        same operations on the same minibatches in the same order, so the same weights)
        without its logging, whose ``.item()`` calls wait for the device several times per
        epoch, and with the buffer copied to the device once. Only the settings the designer
        uses: no value clipping, no target KL."""
        model, policy = self.model, self.model.policy
        if model.clip_range_vf is not None or model.target_kl is not None:
            raise TeachBenchError("adversary", "the fast update covers no value clipping and no target KL")
        policy.set_training_mode(True)
        model._update_learning_rate(policy.optimizer)
        clip_range = model.clip_range(model._current_progress_remaining)
        buffer = model.rollout_buffer
        total = buffer.buffer_size * buffer.n_envs
        size = model.batch_size or total
        # SB3's DictRolloutBuffer.get draws one permutation per epoch and copies each minibatch
        # to the device (a wait per array); here the same permutations, drawn up front (nothing
        # else draws in between), and the buffer go over in one copy each, then are indexed there
        perms = torch.as_tensor(np.stack([np.random.permutation(total) for _ in range(model.n_epochs)]),
                                device=model.device)
        keys = list(buffer.observations)
        parts = [buffer.swap_and_flatten(buffer.observations[k]).reshape(total, -1) for k in keys]
        parts += [buffer.swap_and_flatten(getattr(buffer, name)).reshape(total, 1)
                  for name in ("actions", "log_probs", "advantages", "returns")]
        widths = np.cumsum([0] + [part.shape[1] for part in parts])
        packed = torch.as_tensor(np.concatenate([part.astype(np.float32, copy=False) for part in parts], axis=1),
                                 device=model.device)
        shapes = {k: buffer.observations[k].shape[2:] for k in keys}
        checks = torch.distributions.Distribution._validate_args  # noqa: SLF001 - restored below
        torch.distributions.Distribution.set_default_validate_args(False)  # its checks wait for the device
        try:
            self._epochs(policy, packed, perms, widths, keys, shapes, total, size, clip_range)
        finally:
            torch.distributions.Distribution.set_default_validate_args(checks)

    def _epochs(self, policy: Any, packed: torch.Tensor, perms: torch.Tensor, widths: np.ndarray, keys: list[str],
                shapes: Mapping[str, tuple[int, ...]], total: int, size: int, clip_range: float) -> None:
        """The epochs of :meth:`_train_fast` (SB3's loop body)."""
        model = self.model
        for epoch in range(model.n_epochs):
            for start in range(0, total, size):
                rows = packed[perms[epoch, start:start + size]]
                cols = [rows[:, widths[j]:widths[j + 1]] for j in range(len(widths) - 1)]
                observations = {k: cols[j].reshape(-1, *shapes[k]).contiguous() for j, k in enumerate(keys)}
                actions, old_log_prob, advantages, returns = (c.flatten().contiguous() for c in cols[len(keys):])
                values, log_prob, entropy = policy.evaluate_actions(observations, actions.long())
                values = values.flatten()
                if model.normalize_advantage and len(advantages) > 1:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
                ratio = torch.exp(log_prob - old_log_prob)
                policy_loss = -torch.min(advantages * ratio,
                                         advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range)).mean()
                value_loss = nn.functional.mse_loss(returns, values)
                entropy_loss = -torch.mean(-log_prob) if entropy is None else -torch.mean(entropy)
                loss = policy_loss + model.ent_coef * entropy_loss + model.vf_coef * value_loss
                policy.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(policy.parameters(), model.max_grad_norm)
                policy.optimizer.step()
            model._n_updates += 1

    # -- checkpoints and diagnostics ------------------------------------------------------
    def parameters_vector(self) -> torch.Tensor:
        """All policy parameters as one vector (tests check that learning moves them)."""
        return torch.cat([p.detach().reshape(-1).cpu() for p in self.model.policy.parameters()])

    def state_dict(self) -> dict[str, Any]:
        """Policy and optimizer weights (plain tensors; batches in flight are not kept)."""
        from teachers.torch_utils import plain

        return {"policy": {k: v.detach().cpu().clone() for k, v in self.model.policy.state_dict().items()},
                "optimizer": plain(self.model.policy.optimizer.state_dict()),
                "counts": [self.next_batch, self.n_updates, self.dropped_batches]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        from teachers.torch_utils import load_optimizer

        self.model.policy.load_state_dict(state["policy"])
        load_optimizer(self.model.policy.optimizer, state["optimizer"])
        self.next_batch, self.n_updates, self.dropped_batches = (int(v) for v in state["counts"])
        self._pending.clear()

    def diagnostics(self) -> dict[str, Any]:
        return {"adversary_updates": self.n_updates, "adversary_dropped_batches": self.dropped_batches,
                "adversary_pending_batches": len(self._pending), "adversary_last_mean_regret": self.last_mean_regret}

    def close(self) -> None:
        self.vec_env.close()
