"""PPO's rollout loop without SB3's per-env Python at 1024+ envs (issue 18; opt-in).

SB3's ``OnPolicyAlgorithm.collect_rollouts`` does three things per vector step that cost
O(n_envs) Python or one device round trip per env (``benchmarks/profile_sb3_loop.py``
times them):

1. ``for idx, done in enumerate(dones)`` over every env, to find the episodes cut by a
   time limit;
2. for each of those, a separate ``predict_values`` on one terminal observation (a
   host-to-device copy, a forward pass and a device-to-host wait per env; with the maze's
   250-step limit and 1024 envs, about four per vector step);
3. ``_update_info_buffer`` walks every env's info dict for ``"episode"`` keys.

:class:`FastRolloutPPO` is SB3's PPO with the same loop, except that (1) looks at the
finished envs only, (2) evaluates all the step's time-limit terminal observations in one
forward pass, and (3) passes only the finished envs' infos (Monitor and the batched maze
put ``"episode"`` only there). Everything else, the callbacks' locals included, is SB3's
(2.x) code path. The bootstrapped rewards are the same up to float rounding: a batched
forward may round differently from one-row forwards (``tests/test_fast_rollout.py``
compares a whole rollout with SB3's).

It is opt-in (``benchmarks/bench_packed.py --fast-rollout``) until device figures show
what it buys; the runner still builds SB3's PPO.
"""

from __future__ import annotations

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv


class FastRolloutPPO(PPO):
    """SB3 PPO whose ``collect_rollouts`` batches the time-limit bootstrap (module docstring)."""

    def collect_rollouts(self, env: VecEnv, callback: BaseCallback, rollout_buffer: RolloutBuffer,
                         n_rollout_steps: int) -> bool:
        assert self._last_obs is not None, "No previous observation was provided"
        self.policy.set_training_mode(False)
        n_steps = 0
        rollout_buffer.reset()
        if self.use_sde:
            self.policy.reset_noise(env.num_envs)
        callback.on_rollout_start()
        while n_steps < n_rollout_steps:
            if self.use_sde and self.sde_sample_freq > 0 and n_steps % self.sde_sample_freq == 0:
                self.policy.reset_noise(env.num_envs)
            with th.no_grad():
                obs_tensor = obs_as_tensor(self._last_obs, self.device)  # type: ignore[arg-type]
                actions, values, log_probs = self.policy(obs_tensor)
            actions = actions.cpu().numpy()
            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
                if self.policy.squash_output:
                    clipped_actions = self.policy.unscale_action(clipped_actions)
                else:
                    clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high)
            new_obs, rewards, dones, infos = env.step(clipped_actions)
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                return False
            finished = np.flatnonzero(dones)
            self._update_info_buffer([infos[i] for i in finished], np.ones(len(finished), dtype=bool))
            n_steps += 1
            if isinstance(self.action_space, spaces.Discrete):
                actions = actions.reshape(-1, 1)
            cut = [int(i) for i in finished if infos[i].get("terminal_observation") is not None
                   and infos[i].get("TimeLimit.truncated", False)]
            if cut:
                terminal = _stack_obs([infos[i]["terminal_observation"] for i in cut])
                with th.no_grad():
                    terminal_values = self.policy.predict_values(obs_as_tensor(terminal, self.device))
                bootstrap = (self.gamma * terminal_values).cpu().numpy().reshape(-1)
                for k, i in enumerate(cut):  # the same float32 additions as SB3's loop
                    rewards[i] += bootstrap[k]
            rollout_buffer.add(self._last_obs, actions, rewards, self._last_episode_starts, values,  # type: ignore[arg-type]
                               log_probs)
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
        with th.no_grad():
            values = self.policy.predict_values(obs_as_tensor(new_obs, self.device))  # type: ignore[arg-type]
        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True


def _stack_obs(observations: list) -> np.ndarray | dict[str, np.ndarray]:
    """Terminal observations of several envs as one batch (Box or Dict observations)."""
    if isinstance(observations[0], dict):
        return {k: np.stack([o[k] for o in observations]) for k in observations[0]}
    return np.stack(observations)


def with_fast_rollouts(model: PPO) -> PPO:
    """``model`` (SB3 PPO built by ``students.build.make_student``) with
    :class:`FastRolloutPPO`'s loop: the class only overrides ``collect_rollouts``, so the
    built object's state is untouched."""
    if type(model) is not PPO:
        raise TypeError(f"with_fast_rollouts takes SB3's PPO, got {type(model).__name__}")
    model.__class__ = FastRolloutPPO
    return model
