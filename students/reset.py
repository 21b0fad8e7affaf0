"""The forgetting student: re-initialise an SB3 student every N environment steps.

TeachMyAgent's third stump-track challenge ("a student that can forget", ``docs/references.md``)
resets the student every ``reset_frequency = 7,000,000`` steps of a 20M-step run, i.e. at 7M
and 14M. What TMA's reset does, read from its two students:

- SAC (spinup, TF1): at step ``t % reset_frequency == 0`` every network variable and the
  Adam slots are re-initialised (``global_variables_initializer``), the target network is
  copied from the fresh main one, and the replay buffer is emptied (``ptr = size = 0``).
  The step counter goes on: the 10k random-action warm-up is not repeated, and the
  teacher is left untouched.
- PPO (baselines, TF1): after the update whose 20k-step sample ends on a multiple of
  ``reset_frequency``, every variable is re-initialised. The observation/return
  normalisation (numpy, outside the graph) is kept.

:class:`StudentReset` does the same for any SB3 algorithm: at the first rollout start at or
after each multiple of ``every`` (for on-policy algorithms, right after the update of the
rollout that crossed it, as TMA's PPO; for off-policy ones at most ``train_freq`` steps
after it), it rebuilds the policy and its optimisers with the algorithm's own
``_setup_model`` (new random weights: the torch generator is *not* re-seeded, so the fresh
weights differ from the first ones, as TF's initializer drew new ones), empties the
replay buffer if there is one, and keeps ``num_timesteps``, the env and its
``VecNormalize`` statistics. Place it before any callback that checkpoints at rollout
start, so a checkpoint taken at that boundary holds the reset student.
"""

from __future__ import annotations

import logging
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList

from envs.errors import TeachBenchError

log = logging.getLogger(__name__)

TMA_RESET_EVERY = 7_000_000  # TMA's --reset_frequency for the forgetting challenge


def reset_student(model: BaseAlgorithm) -> None:
    """Re-initialise ``model``'s networks and optimisers and empty its replay buffer, in place."""
    buffer = getattr(model, "replay_buffer", None)
    if buffer is not None:
        buffer.reset()  # pos = 0, full = False: an empty buffer (TMA: ptr = size = 0)
    # the rollout being collected holds on to the buffer object: keep it (it is refilled anyway)
    rollout = getattr(model, "rollout_buffer", None)
    seed = model.seed
    model.seed = None  # _setup_model would otherwise re-seed torch, numpy and the envs
    try:
        model._setup_model()
    finally:
        model.seed = seed
        if rollout is not None:
            model.rollout_buffer = rollout


class StudentReset(BaseCallback):
    """Calls :func:`reset_student` at the first rollout start at or after every multiple of
    ``every`` environment steps (``model.num_timesteps``); ``resets`` counts them."""

    def __init__(self, every: int, verbose: int = 0) -> None:
        super().__init__(verbose)
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise TeachBenchError("student_reset_every", f"must be a positive number of steps, got {every!r}")
        self.every = int(every)
        self.resets = 0
        self.reset_steps: list[int] = []
        self._next = self.every

    def _init_callback(self) -> None:
        # a resumed run continues from its own step count: the next reset is the next multiple
        self._next = (self.model.num_timesteps // self.every + 1) * self.every

    def _on_rollout_start(self) -> None:
        steps = int(self.model.num_timesteps)
        if steps >= self._next:
            reset_student(self.model)
            self.resets += 1
            self.reset_steps.append(steps)
            self._next = (steps // self.every + 1) * self.every
            log.info("forgetting student: reset at step %d (every %d)", steps, self.every)

    def _on_step(self) -> bool:
        return True


def with_student_reset(callback: BaseCallback, every: Any) -> BaseCallback:
    """``callback`` alone when ``every`` is None, else a reset every ``every`` steps that runs
    before it (so checkpoints at that rollout start hold the reset student)."""
    if every is None:
        return callback
    return CallbackList([StudentReset(every), callback])
