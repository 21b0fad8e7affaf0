"""PPO's rollout loop without SB3's per-env Python at 1024+ envs (issue 18).

SB3's ``OnPolicyAlgorithm.collect_rollouts`` does three things per vector step that cost
O(n_envs) Python or one device round trip per env (``benchmarks/profile_sb3_loop.py``
times them):

1. ``for idx, done in enumerate(dones)`` over every env, to find the episodes cut by a
   time limit;
2. for each of those, a separate ``predict_values`` on one terminal observation whose
   result is added to a NumPy reward at once (on CUDA: a host-to-device copy, a forward
   pass and a device-to-host wait per env; with the maze's 250-step limit and 1024 envs,
   about four per vector step);
3. ``_update_info_buffer`` walks every env's info dict for ``"episode"`` keys.

:class:`FastRolloutPPO` is SB3's PPO with the same loop, except that (1) looks at the
finished envs only, (2) still evaluates each time-limit terminal observation on its own
(the same one-row forward SB3 runs, so the same float rounding) but brings the values to
the host in one copy at the end of the step, and (3) passes only the finished envs' infos
(Monitor and the batched maze put ``"episode"`` only there). Everything else, the
callbacks' locals included, is SB3's (2.x) code path. So the rollout buffer, the episode
buffer and hence every update are *bit for bit* SB3's (``tests/test_fast_rollout.py``
trains two rollouts both ways and compares the buffers and the learned weights exactly).

:class:`BatchedBootstrapPPO` goes one step further and evaluates all of a step's
terminal observations in one forward pass. A matrix product over k rows may sum in
another order than k one-row products (the BLAS kernel depends on the row count), so its
bootstrapped rewards equal SB3's only up to float rounding (~1e-7), and the runs drift
apart at that level, as a run moved from CPU to CUDA does.

Runs choose with ``student.fast_rollout`` (:func:`rollout_class`): ``auto`` (the
default) is :class:`FastRolloutPPO` for PPO on the batched VecEnv, where the per-env
Python is the cost, and SB3's loop elsewhere; ``true``, ``false`` and ``batched`` force
one. Neither changes what a run computes beyond that rounding, so the setting is not part
of the run's config id (``experiments/rundir.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from envs.errors import TeachBenchError

# ``student.fast_rollout`` values (configs/student/ppo.yaml)
FAST_ROLLOUT_CHOICES = ("auto", True, False, "batched")


class FastRolloutPPO(PPO):
    """SB3 PPO whose ``collect_rollouts`` skips the per-env Python (module docstring);
    the same rollout buffer as SB3's, bit for bit."""

    batch_bootstrap = False  # a class attribute: nothing is added to the saved model

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
                bootstrap = self._terminal_values([infos[i]["terminal_observation"] for i in cut])
                for k, i in enumerate(cut):  # SB3's float32 addition, one env at a time
                    rewards[i] += bootstrap[k]
            rollout_buffer.add(self._last_obs, actions, rewards,  # type: ignore[arg-type]
                               self._last_episode_starts, values, log_probs)
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
        with th.no_grad():
            values = self.policy.predict_values(obs_as_tensor(new_obs, self.device))  # type: ignore[arg-type]
        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _terminal_values(self, observations: list[Any]) -> np.ndarray:
        """``gamma * V(terminal observation)`` per cut episode, as float32 on the host.

        Each row goes through SB3's own ``obs_to_tensor`` and a one-row ``predict_values``
        (the tensors SB3 builds, so the same kernels and rounding); only the copy back to
        the host is shared. ``gamma * v`` is one float32 product per element either way."""
        with th.no_grad():
            if self.batch_bootstrap:
                v = self.policy.predict_values(self.policy.obs_to_tensor(_stack_obs(observations))[0])
            else:
                v = th.cat([self.policy.predict_values(self.policy.obs_to_tensor(o)[0]) for o in observations])
            return (self.gamma * v).cpu().numpy().reshape(-1)


class BatchedBootstrapPPO(FastRolloutPPO):
    """:class:`FastRolloutPPO` with the time-limit bootstrap in one forward pass per step:
    the same buffer but for the bootstrapped rewards, equal to float rounding."""

    batch_bootstrap = True


def _stack_obs(observations: list) -> np.ndarray | dict[str, np.ndarray]:
    """Terminal observations of several envs as one batch (Box or Dict observations)."""
    if isinstance(observations[0], dict):
        return {k: np.stack([o[k] for o in observations]) for k in observations[0]}
    return np.stack(observations)


def rollout_class(setting: Any, algo: str, vec_kind: str) -> type[PPO] | None:
    """The class whose loop a run's student collects with: ``student.fast_rollout``
    (``auto``, ``true``, ``false`` or ``batched``) for ``algo`` on a ``vec_kind`` VecEnv;
    None = SB3's own. Only SB3's plain PPO has the faster loops; asking another algorithm
    for one is an error, ``auto`` leaves it alone."""
    if isinstance(setting, str) and setting.lower() in ("true", "false"):  # a command-line override
        setting = setting.lower() == "true"
    if not any(setting is c or (isinstance(c, str) and setting == c) for c in FAST_ROLLOUT_CHOICES):
        raise TeachBenchError("student.fast_rollout", f"unknown value {setting!r}",
                              [str(c).lower() for c in FAST_ROLLOUT_CHOICES])
    if setting == "auto":
        return FastRolloutPPO if algo == "ppo" and vec_kind == "batched" else None
    if setting is False:
        return None
    if algo != "ppo":
        raise TeachBenchError("student.fast_rollout", f"the fast rollout loop is SB3 PPO's; student {algo!r} has "
                              "its own (use false or auto)", ["auto", "false"])
    return BatchedBootstrapPPO if setting == "batched" else FastRolloutPPO


def with_fast_rollouts(model: PPO, cls: type[FastRolloutPPO] = FastRolloutPPO) -> PPO:
    """``model`` (SB3 PPO built by ``students.build.make_student``) with ``cls``'s loop:
    the classes only override ``collect_rollouts``, so the built object's state is
    untouched and a checkpoint loads as plain PPO."""
    if type(model) is not PPO:
        raise TypeError(f"with_fast_rollouts takes SB3's PPO, got {type(model).__name__}")
    model.__class__ = cls
    return model
