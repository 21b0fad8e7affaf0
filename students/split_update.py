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

The algorithm is SB3's PPO unchanged: the same minibatches (NumPy's permutation), the
same losses, one policy for a whole rollout. Only float rounding can differ, as it does
between any two devices or thread counts; ``tests/test_split_update.py`` checks that the
update equals SB3's on a fixed batch. Checkpoints are written between updates, when
every tensor is back on the rollout device.
"""

from __future__ import annotations

import numpy as np
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.type_aliases import RolloutBufferSamples

from envs.errors import TeachBenchError


class SplitUpdatePPO(PPO):
    """SB3 PPO whose ``train()`` runs on :attr:`update_device` with :attr:`update_threads`."""

    update_device: th.device | None = None
    update_threads: int | None = None

    def train(self) -> None:
        rollout_device = self.device
        target = self.update_device if self.update_device is not None else rollout_device
        threads = th.get_num_threads()
        if self.update_threads:
            th.set_num_threads(int(self.update_threads))
        try:
            if target != rollout_device:
                self._move_to(target)
            if self.update_device is not None and type(self.rollout_buffer) is RolloutBuffer:
                self.rollout_buffer._get_samples = _ResidentSamples(self.rollout_buffer, target)  # type: ignore[method-assign]
            super().train()
        finally:
            self.rollout_buffer.__dict__.pop("_get_samples", None)  # SB3's own method again
            if target != rollout_device:
                self._move_to(rollout_device)
            if self.update_threads:
                th.set_num_threads(threads)

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
        if self.tensors is None:
            b = self.buffer
            arrays = (b.observations, b.actions.astype(np.float32, copy=False), b.values.reshape(-1),
                      b.log_probs.reshape(-1), b.advantages.reshape(-1), b.returns.reshape(-1))
            self.tensors = tuple(th.as_tensor(a).to(self.device) for a in arrays)
        index = th.as_tensor(batch_inds).to(self.device)
        return RolloutBufferSamples(*(t[index] for t in self.tensors))


def with_split_update(model: PPO, device: str | None = None, threads: int | None = None) -> PPO:
    """``model`` (SB3's PPO from ``students.build.make_student``) updating on ``device``
    with ``threads`` torch threads (None: as the rollout). Only ``train`` is overridden,
    so the built object's state is untouched."""
    if type(model) not in (PPO, SplitUpdatePPO):
        raise TeachBenchError("student.update_device", f"a split update is for SB3's PPO, got {type(model).__name__}",
                              ["ppo"])
    if threads is not None and int(threads) < 1:
        raise TeachBenchError("student.update_threads", f"must be >= 1, got {threads}")
    target = th.device(device) if device is not None else None
    if target is not None and target.type == "cuda" and not th.cuda.is_available():
        raise TeachBenchError("student.update_device", "CUDA is not available on this machine", ["cpu"])
    model.__class__ = SplitUpdatePPO
    model.update_device = target  # type: ignore[attr-defined]
    model.update_threads = int(threads) if threads is not None else None  # type: ignore[attr-defined]
    return model
