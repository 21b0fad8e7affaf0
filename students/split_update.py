"""PPO whose update runs on another device, or with more threads, than its rollouts (issue 18; opt-in).

Profile of walker PPO with TMA's 400-300 shared trunk (``benchmarks/profile_walker_ppo.py``):
once the envs step in shared memory, the update (5 epochs x 20 minibatches of 1,000 over
a 20k rollout) takes most of an iteration on one CPU thread, while the rollout's forward
passes are on 16-64 observations at a time, where a GPU only adds a device round trip
per step. The two phases never run at the same time (PPO's next rollout needs the
updated policy), so each can have the hardware it is fastest on:

- ``update_device`` (e.g. ``cuda``): before ``train()`` the policy's parameters and the
  optimizer's moment estimates move to that device, the rollout buffer hands out its
  minibatches there, and afterwards everything moves back; the rollouts stay on the
  model's own device (the CPU). One copy of the weights (a few MB) each way per update.
  Adam's step counters stay on the CPU, where torch keeps them for non-capturable Adam.
- ``update_threads``: torch's intra-op threads during ``train()`` only (the env workers
  are idle then, so their cores are free); the rollout keeps one thread.
- Resident minibatches: SB3's rollout buffer copies each minibatch from NumPy to the
  device (six host-to-device copies per minibatch, 100 minibatches per walker update).
  With ``update_device`` set, the whole flattened rollout is copied there once per
  update and each minibatch is gathered on the device with the very indices SB3's
  permutation gives, so the minibatches hold the same numbers. On the 16-core H200 machine the
  walker's CUDA update was 44% of an iteration with per-minibatch copies
  (``experiments/results/walker_levers_2026-11-30``).
- Sync-free update loop (``update_loop="fast"``, the default of a split update, so of
  every run that sets ``update_device`` or ``update_threads``):
  :meth:`SplitUpdatePPO._train_fast` is SB3's ``PPO.train()`` written out again, with the
  same losses in the same order, but without a host round trip per minibatch. SB3 reads
  the policy loss, value loss, entropy loss and clip fraction with ``.item()`` and the
  approximate KL with ``.cpu().numpy()`` on every minibatch, and torch's argument checks
  of the Gaussian it builds (``Normal``'s ``validate_args``) read three more booleans
  back: on CUDA each read waits for the GPU, so at 1,000-transition minibatches the
  update was bound by these waits and kernel launches (~5.5 ms per minibatch on an
  H200). Here those values stay on the device, one stacked row per minibatch, and are
  read back once after the loop; the logger gets the same keys with the same values and
  NumPy types (``np.mean`` over float64 copies of the float32 losses, over float32 KLs
  of the last epoch). The KL is read per minibatch only where ``target_kl`` is set, as
  SB3's early stop needs it before the step. The argument checks are off during the
  update (they never change a value); in their place the update raises ``ValueError``
  after the loop if a minibatch's log-probabilities were not finite, which covers what
  the checks catch (a NaN mean or action, a zero or NaN standard deviation). SB3 raises
  before that minibatch's step, this loop after the update's last: a run fails either way. The
  minibatch permutation is uploaded once per epoch instead of once per minibatch.
  ``update_loop="sb3"`` keeps SB3's own loop (for comparing the two in benchmarks).
  CUDA graphs were left out: capturing Adam needs ``capturable=True``, which keeps its
  step counters on the device and works out the bias correction there in another way
  than SB3's Adam does, and the last minibatch of an epoch can be shorter than the rest.

The algorithm is SB3's PPO unchanged: the same minibatches (NumPy's permutation), the
same losses, one policy for a whole rollout. Only float rounding can differ, as it does
between any two devices or thread counts; ``tests/test_split_update.py`` checks that both
loops give SB3's weights, Adam moments and logged values bit for bit on one CPU thread
(with and without ``target_kl``, ``clip_range_vf`` and advantage normalisation, and a
short last minibatch), and to rounding on CUDA. Checkpoints are written between updates, when
every tensor is back on the rollout device.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.type_aliases import RolloutBufferSamples
from stable_baselines3.common.utils import explained_variance
from torch.nn import functional as F

from envs.errors import TeachBenchError

UPDATE_LOOPS = ("fast", "sb3")


class SplitUpdatePPO(PPO):
    """SB3 PPO whose ``train()`` runs on :attr:`update_device` with :attr:`update_threads`,
    through the sync-free loop (:attr:`update_loop` ``"fast"``) or SB3's own (``"sb3"``)."""

    update_device: th.device | None = None
    update_threads: int | None = None
    update_loop: str = "fast"

    def train(self) -> None:
        rollout_device = self.device
        target = self.update_device if self.update_device is not None else rollout_device
        threads = th.get_num_threads()
        if self.update_threads:
            th.set_num_threads(int(self.update_threads))
        try:
            if target != rollout_device:
                self._move_to(target)
            resident = self.update_device is not None and type(self.rollout_buffer) is RolloutBuffer
            if self.update_loop == "fast":
                self._train_fast(_ResidentSamples(self.rollout_buffer, target) if resident else None)
            else:
                if resident:
                    samples = _ResidentSamples(self.rollout_buffer, target)
                    self.rollout_buffer._get_samples = samples  # type: ignore[method-assign]
                super().train()
        finally:
            self.rollout_buffer.__dict__.pop("_get_samples", None)  # SB3's own method again
            if target != rollout_device:
                self._move_to(rollout_device)
            if self.update_threads:
                th.set_num_threads(threads)

    def _train_fast(self, resident: _ResidentSamples | None) -> None:
        """SB3's ``PPO.train()`` (stable-baselines3 2.x) step for step, with its per-minibatch
        values kept on the device and read back once (see the module docstring)."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)  # type: ignore[operator]
        clip_range_vf = (self.clip_range_vf(self._current_progress_remaining)  # type: ignore[operator]
                         if self.clip_range_vf is not None else None)
        discrete = isinstance(self.action_space, spaces.Discrete)
        rows: list[th.Tensor] = []  # per minibatch: policy loss, value loss, entropy loss, clip fraction, sum log-prob
        kls: list[th.Tensor] = []  # the approximate KL of each minibatch of the last epoch run (as SB3 logs it)
        loss: th.Tensor | None = None
        continue_training = True
        checks = th.distributions.Distribution._validate_args  # noqa: SLF001 - restored below
        th.distributions.Distribution.set_default_validate_args(False)
        try:
            for epoch in range(self.n_epochs):
                kls = []
                for rollout_data in self._minibatches(resident):
                    actions = rollout_data.actions.long().flatten() if discrete else rollout_data.actions
                    values, log_prob, entropy = self.policy.evaluate_actions(rollout_data.observations, actions)
                    values = values.flatten()
                    advantages = rollout_data.advantages
                    if self.normalize_advantage and len(advantages) > 1:  # SB3's guard: no std of one value
                        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
                    ratio = th.exp(log_prob - rollout_data.old_log_prob)
                    policy_loss_1 = advantages * ratio
                    policy_loss_2 = advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)
                    policy_loss = -th.min(policy_loss_1, policy_loss_2).mean()
                    clip_fraction = th.mean((th.abs(ratio - 1) > clip_range).float())
                    if clip_range_vf is None:
                        values_pred = values
                    else:
                        values_pred = rollout_data.old_values + th.clamp(
                            values - rollout_data.old_values, -clip_range_vf, clip_range_vf)
                    value_loss = F.mse_loss(rollout_data.returns, values_pred)
                    entropy_loss = -th.mean(-log_prob) if entropy is None else -th.mean(entropy)
                    loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
                    with th.no_grad():
                        log_ratio = log_prob - rollout_data.old_log_prob
                        approx_kl = th.mean((th.exp(log_ratio) - 1) - log_ratio)
                        rows.append(th.stack([policy_loss, value_loss, entropy_loss, clip_fraction, log_prob.sum()]))
                    kls.append(approx_kl)
                    if self.target_kl is not None:
                        approx_kl_div = approx_kl.cpu().numpy()  # SB3's value and type: a float32 array
                        if approx_kl_div > 1.5 * self.target_kl:
                            continue_training = False
                            if self.verbose >= 1:
                                print(f"Early stopping at step {epoch} due to reaching max kl: {approx_kl_div:.2f}")
                            break
                    self.policy.optimizer.zero_grad()
                    loss.backward()
                    th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                    self.policy.optimizer.step()
                self._n_updates += 1
                if not continue_training:
                    break
        finally:
            th.distributions.Distribution.set_default_validate_args(checks)
        assert loss is not None  # a full rollout buffer has at least one minibatch
        host = th.cat([th.stack(rows).flatten(), th.stack(kls), loss.detach().reshape(1)]).cpu().numpy()  # the one read
        stats = host[:5 * len(rows)].reshape(len(rows), 5)
        if not np.isfinite(stats[:, 4]).all():
            raise ValueError("PPO update: a minibatch's action log-probabilities were not finite (a NaN mean or "
                             "action, or a zero standard deviation), where SB3's loop stops on torch's argument check")
        # SB3 appends Python floats (the float32 values, exactly) and takes np.mean of the lists
        pg_losses, value_losses, entropy_losses, clip_fractions = (stats[:, i].astype(np.float64) for i in range(4))
        approx_kl_divs = host[5 * len(rows):-1]  # float32, as SB3's list of float32 arrays
        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())
        self.logger.record("train/entropy_loss", np.mean(entropy_losses))
        self.logger.record("train/policy_gradient_loss", np.mean(pg_losses))
        self.logger.record("train/value_loss", np.mean(value_losses))
        self.logger.record("train/approx_kl", np.mean(approx_kl_divs))
        self.logger.record("train/clip_fraction", np.mean(clip_fractions))
        self.logger.record("train/loss", float(host[-1]))
        self.logger.record("train/explained_variance", explained_var)
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)
        if self.clip_range_vf is not None:
            self.logger.record("train/clip_range_vf", clip_range_vf)

    def _minibatches(self, resident: _ResidentSamples | None) -> Iterator[RolloutBufferSamples]:
        """One epoch's minibatches, as SB3's ``RolloutBuffer.get(batch_size)`` hands them out:
        one NumPy permutation, the buffer flattened before the first epoch, slices of
        ``batch_size`` (the last one shorter where the rollout is not a multiple). With a
        resident copy the permutation goes to the device once and is sliced there."""
        if resident is None:
            yield from self.rollout_buffer.get(self.batch_size)
            return
        buffer = self.rollout_buffer
        assert buffer.full, ""
        n = buffer.buffer_size * buffer.n_envs
        indices = np.random.permutation(n)
        if not buffer.generator_ready:
            for name in _ResidentSamples.FIELDS:
                buffer.__dict__[name] = buffer.swap_and_flatten(buffer.__dict__[name])
            buffer.generator_ready = True
        order = th.as_tensor(indices).to(resident.device)
        for start in range(0, n, self.batch_size):
            yield resident.take(order[start:start + self.batch_size])

    def _move_to(self, device: th.device) -> None:
        """Policy, optimizer moments and rollout-buffer output on ``device``; the Parameter
        objects stay the same (``Module.to`` moves their data), so the optimizer keeps them."""
        self.policy.to(device)
        for state in self.policy.optimizer.state.values():
            for key, value in state.items():
                if th.is_tensor(value) and key != "step":
                    state[key] = value.to(device)
        self.device = device
        self.rollout_buffer.device = device


class _ResidentSamples:
    """The buffer's ``_get_samples`` for one update: the flattened rollout copied to ``device``
    on the first minibatch (SB3's ``get`` has flattened it by then), then indexed there.
    Same fields, dtypes and order as ``RolloutBuffer._get_samples`` (actions cast to float32).
    Only for SB3's plain ``RolloutBuffer``; other buffers (dict observations) keep their copies."""

    FIELDS = ("observations", "actions", "values", "log_probs", "advantages", "returns")

    def __init__(self, buffer: RolloutBuffer, device: th.device) -> None:
        self.buffer, self.device = buffer, device
        self.tensors: tuple[th.Tensor, ...] | None = None

    def __call__(self, batch_inds: np.ndarray, env: object = None) -> RolloutBufferSamples:
        return self.take(th.as_tensor(batch_inds).to(self.device))

    def take(self, index: th.Tensor) -> RolloutBufferSamples:
        """The minibatch of these flat indices (already on :attr:`device`)."""
        if self.tensors is None:
            b = self.buffer
            arrays = (b.observations, b.actions.astype(np.float32, copy=False), b.values.reshape(-1),
                      b.log_probs.reshape(-1), b.advantages.reshape(-1), b.returns.reshape(-1))
            self.tensors = tuple(th.as_tensor(a).to(self.device) for a in arrays)
        return RolloutBufferSamples(*(t[index] for t in self.tensors))


def with_split_update(model: PPO, device: str | None = None, threads: int | None = None,
                      loop: str = "fast") -> PPO:
    """``model`` (SB3's PPO from ``students.build.make_student``) updating on ``device``
    with ``threads`` torch threads (None: as the rollout), through ``loop`` (``fast``: the
    sync-free loop; ``sb3``: SB3's own). Only ``train`` is overridden, so the built
    object's state is untouched."""
    if type(model) not in (PPO, SplitUpdatePPO):
        raise TeachBenchError("student.update_device", f"a split update is for SB3's PPO, got {type(model).__name__}",
                              ["ppo"])
    if threads is not None and int(threads) < 1:
        raise TeachBenchError("student.update_threads", f"must be >= 1, got {threads}")
    if loop not in UPDATE_LOOPS:
        raise TeachBenchError("update_loop", f"unknown update loop {loop!r}", list(UPDATE_LOOPS))
    target = th.device(device) if device is not None else None
    if target is not None and target.type == "cuda" and not th.cuda.is_available():
        raise TeachBenchError("student.update_device", "CUDA is not available on this machine", ["cpu"])
    model.__class__ = SplitUpdatePPO
    model.update_device = target  # type: ignore[attr-defined]
    model.update_threads = int(threads) if threads is not None else None  # type: ignore[attr-defined]
    model.update_loop = loop  # type: ignore[attr-defined]
    return model
