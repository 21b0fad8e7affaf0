"""What the robust regret teachers need from an SB3 student.

- **PLR⊥ / ACCEL** take no gradient step on new levels, which are played only to be
  scored (docs/references.md#dcd). :class:`ReplayMask` labels every transition of the rollout
  with whether its episode replays a buffered level -- the label the teacher gave that
  episode's hand-out (a unique token per hand-out, kept by the bridge; never a match on the
  level string, which a new level or an ACCEL child can share with a replay) -- and :func:`install_robust_update` makes the model's ``train`` use only the
  labelled transitions: a rollout with no replayed transition gets no update at all. Env
  steps, gradient updates, skipped updates and trained transitions are counted apart.
  Our bridge chooses replay per episode (each sub-env keeps a one-task look-ahead), not
  per rollout as the reference code does, so the mask works per transition; an episode
  crossing a rollout boundary keeps its label. The recurrent student
  (``students/recurrent``) takes the mask as per-transition weights of its whole-sequence
  update: its LSTM still runs over every step, masked-out steps just carry no loss.
- **PAIRED / CLUTR** need an *antagonist*: a second SB3 student with the same class and
  hyperparameters (fresh weights, seed + 1) on a copy of the VecEnv (a batched VecEnv
  copies itself with ``clone``: it has no per-env gym spec), trained on the same levels
  (:class:`Antagonist`), one rollout after each protagonist rollout.
"""

from __future__ import annotations

import inspect
from typing import Any, Iterator

import gymnasium as gym
import numpy as np
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecNormalize

from envs.errors import TeachBenchError
from students.bridge import Curriculum, CurriculumCallback, CurriculumWrapper
from students.vec import normalized


class ReplayMask:
    """Which transitions of the current rollout belong to replayed levels.

    With a ``curriculum`` whose teacher labels its hand-outs (``is_replay_token``), an
    episode's label is its hand-out's (the token the bridge keeps per sub-env); otherwise
    the teacher is asked about the task string (``is_replay_task``).
    ``log`` keeps ``(env, token, masked transitions, transitions)`` per finished episode."""

    def __init__(self, teacher: Any, n_steps: int, n_envs: int, curriculum: Any = None) -> None:
        self.teacher = teacher
        self.curriculum = curriculum if callable(getattr(teacher, "is_replay_token", None)) else None
        self.mask = np.zeros((int(n_steps), int(n_envs)), dtype=bool)
        self.episode_flag = np.zeros(int(n_envs), dtype=bool)
        self.episode_start = np.ones(int(n_envs), dtype=bool)
        self.episode_token: list[Any] = [None] * int(n_envs)
        self.episode_counts = np.zeros((int(n_envs), 2), dtype=np.int64)
        self.log: list[tuple[int, Any, int, int]] = []
        self.keep_log = False

    def reset(self, _step: int | None = None) -> None:
        """Start of a rollout: no transition labelled yet (running episodes keep their flag).
        With hand-out tokens, each sub-env's label is read from the bridge's queue head,
        which between two steps is the episode being played."""
        self.mask[:] = False
        if self.curriculum is not None:
            for i in range(self.mask.shape[1]):
                self._label_from_token(i)

    def _label_from_token(self, i: int) -> None:
        token = self.curriculum.current_handout(i)
        self.episode_token[i] = token
        self.episode_flag[i] = bool(self.teacher.is_replay_token(token))
        self.episode_start[i] = False

    def on_step(self, pos: int, dones: np.ndarray, infos: Any) -> None:
        """Label step ``pos`` of every sub-env, then start the labels of the episodes that
        just finished. Array operations over the sub-envs and Python only per finished
        episode (issue 18: a loop over 1024 sub-envs per vector step cost PLR⊥ and ACCEL
        ~2 ms a step); ``tests/test_regret.py`` checks it against the per-env loop."""
        # Called after the bridge's on_step: a finished episode's token is already popped,
        # so the next episode's label is read at the done itself (a one-step episode
        # would otherwise take its successor's label).
        for i in np.flatnonzero(self.episode_start):  # task-string path only
            task = infos[i].get("task")
            self.episode_flag[i] = bool(task is not None and self.teacher.is_replay_task(task))
            self.episode_start[i] = False
        self.mask[pos] = self.episode_flag
        self.episode_counts[:, 0] += self.episode_flag
        self.episode_counts[:, 1] += 1
        for i in np.flatnonzero(dones):
            i = int(i)
            if self.keep_log:
                self.log.append((i, self.episode_token[i], int(self.episode_counts[i, 0]), int(self.episode_counts[i, 1])))
            self.episode_counts[i] = 0
            if self.curriculum is not None:
                self._label_from_token(i)
            else:
                self.episode_start[i] = True


def masked_batches(buffer: Any, mask: np.ndarray, batch_size: int | None,
                   rng: np.random.Generator) -> Iterator[Any]:
    """Minibatches of the rollout buffer restricted to ``mask`` (shape ``(n_steps, n_envs)``),
    in a random order; the buffer is flattened the way SB3's own ``get`` flattens it.

    A trailing remainder of a single transition joins the minibatch before it: sb3-contrib's
    MaskablePPO normalises advantages as ``(a - mean) / (std + 1e-8)`` without SB3's
    ``len > 1`` guard, and the std of one sample is NaN, which turned the whole policy NaN
    (ACCEL on the web forms, 2026-11-30). SB3's own buffers never leave a remainder (the
    rollout size is a multiple of the minibatch size); a replay mask can."""
    if not buffer.generator_ready:
        next(type(buffer).get(buffer, 1))  # SB3 flattens (env-major) on the first draw
    flat = np.asarray(mask, dtype=bool).swapaxes(0, 1).reshape(-1)  # flat index = env * n_steps + step
    idx = rng.permutation(np.flatnonzero(flat))
    size = len(idx) if batch_size is None else int(batch_size)
    starts = list(range(0, len(idx), size))
    if len(starts) > 1 and len(idx) - starts[-1] == 1:
        starts.pop()                       # the lone last transition goes with the batch before it
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else len(idx)
        yield buffer._get_samples(idx[start:stop])


def install_robust_update(model: Any, mask: ReplayMask, stats: dict[str, int], seed: int | None = None) -> None:
    """Make ``model.train`` learn only from replayed transitions (PLR⊥).

    The model's class is swapped for a subclass whose ``train`` consults ``mask``: nothing
    is added to the instance, so SB3's ``save`` stores exactly what it did before and a
    checkpoint loads as the plain algorithm."""
    base = type(model)
    if getattr(base, "_teachbench_robust", False):
        raise TeachBenchError("student", "the robust update is already installed on this model")
    for key in ("env_steps", "gradient_updates", "skipped_updates", "trained_transitions"):
        stats.setdefault(key, 0)
    rng = np.random.default_rng(int(model.seed or 0) + 7919 if seed is None else seed)

    def train(self: Any) -> None:
        m = mask.mask
        stats["env_steps"] += int(m.size)
        if m.sum() < 2:  # nothing replayed, or one transition: its normalised advantage is 0/0
            stats["skipped_updates"] += 1
            return None
        stats["gradient_updates"] += 1
        stats["trained_transitions"] += int(m.sum())
        if m.all():
            return base.train(self)
        if hasattr(self, "transition_mask"):  # recurrent_ppo: whole sequences, weighted per transition
            self.transition_mask = m
            try:
                return base.train(self)
            finally:
                self.transition_mask = None
        buffer = self.rollout_buffer
        buffer.get = lambda batch_size=None: masked_batches(buffer, m, batch_size, rng)
        try:
            return base.train(self)
        finally:
            del buffer.get

    model.__class__ = type(f"Robust{base.__name__}", (base,), {"train": train, "_teachbench_robust": True,
                                                               "__module__": __name__})


# -- the antagonist (PAIRED, CLUTR) ----------------------------------------------------------
def _sb3_class(model: Any) -> type:
    """The algorithm class itself (skipping a robust subclass made above)."""
    return next(cls for cls in type(model).__mro__ if "_teachbench_robust" not in cls.__dict__)


def clone_student(model: Any, vec_env: VecEnv, seed: int) -> Any:
    """A new, untrained student with ``model``'s class and constructor settings."""
    cls = _sb3_class(model)
    skip = {"self", "policy", "env", "seed", "verbose", "_init_setup_model", "tensorboard_log", "device"}
    kwargs = {}
    for name in inspect.signature(cls.__init__).parameters:
        if name not in skip and name in model.__dict__:
            kwargs[name] = model.__dict__[name]
    student = cls(model.policy_class, vec_env, seed=seed, device=model.device, verbose=0, **kwargs)
    student.set_logger(Logger(folder=None, output_formats=[]))  # no SB3-<time> folder per learn call
    return student


def _thunk(spec: Any):
    def make() -> gym.Env:
        from students.threads import pin_threads

        pin_threads(1)
        return Monitor(CurriculumWrapper(gym.make(spec.id, **dict(spec.kwargs or {}))))

    return make


def clone_vec_env(vec: VecEnv, seed: int) -> VecEnv:
    """A fresh VecEnv like ``vec`` (same env ids and kwargs, kind and normalisation)."""
    inner = vec.venv if isinstance(vec, VecNormalize) else vec
    out: VecEnv
    if callable(getattr(inner, "clone", None)):  # a batched VecEnv (no per-env gym spec) rebuilds itself
        out = inner.clone(seed)
    else:
        specs = inner.get_attr("spec")
        if any(s is None for s in specs):
            raise TeachBenchError("env.vec_env", f"cannot copy a {type(inner).__name__} for the antagonist: its "
                                  "sub-envs have no gym spec and it has no clone(seed)")
        thunks = [_thunk(s) for s in specs]
        out = SubprocVecEnv(thunks) if isinstance(inner, SubprocVecEnv) else DummyVecEnv(thunks)
    out.seed(seed)
    if isinstance(vec, VecNormalize):
        out = normalized(out, norm_obs=vec.norm_obs, norm_reward=vec.norm_reward)
    return out


class Antagonist:
    """PAIRED's second student: plays the protagonist's levels, one rollout per protagonist
    rollout, taking its tasks from ``view`` (the teacher's antagonist side)."""

    def __init__(self, protagonist: Any, view: Any, seed_offset: int = 1) -> None:
        seed = int(protagonist.seed or 0) + int(seed_offset)
        self.vec_env = clone_vec_env(protagonist.get_env(), seed)
        self.model = clone_student(protagonist, self.vec_env, seed)
        self.curriculum = Curriculum(view, self.vec_env)
        self.callback = CurriculumCallback(self.curriculum)
        self.steps_per_rollout = int(protagonist.n_steps) * int(protagonist.n_envs)
        self._primed = False
        self.skipped_rollouts = 0

    def play_rollout(self) -> None:
        """One antagonist rollout. The first waits until the protagonist has finished enough
        levels to fill every antagonist sub-env's queue, so that the antagonist only ever
        plays levels the protagonist played."""
        if not self._primed:
            needed = self.vec_env.num_envs * (1 + self.curriculum.lookahead)
            if self.curriculum.teacher.available() < needed:
                self.skipped_rollouts += 1
                return
            self.curriculum.prime()
            self._primed = True
        self.model.learn(total_timesteps=self.steps_per_rollout, callback=self.callback, reset_num_timesteps=False)

    def close(self) -> None:
        self.vec_env.close()
