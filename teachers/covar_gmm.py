"""Covar-GMM (Moulin-Frier et al. 2014; a baseline of the ALP-GMM paper and TeachMyAgent).

Learning progress is read from a mixture fitted on ``[task, time, reward]``: a component
whose reward grows with time inside the window is a region where the student improves.
Steps, as TeachMyAgent's ``CovarGMM`` computes them with its benchmark settings
(docs/references.md#covar-gmm):

1. After each episode store ``(task, reward)`` and stamp the episode with its *relative
   time in its batch*: ``(index mod fit_rate) / fit_rate``, so a batch's times are
   ``0, 1/fit_rate, ..., (fit_rate - 1)/fit_rate``.
2. Bootstrap: the first ``fit_rate`` tasks are uniform (or, at expert knowledge "high",
   drawn from the easy-task Gaussian: :class:`teachers.protocol.ExpertBootstrap`).
3. Every ``fit_rate`` episodes, on the last ``fit_rate`` points
   ``[task, time, reward]`` fit full-covariance GMMs for ``k`` in ``min_k..max_k``
   (TMA's ``--min_k 2 --max_k 15``, an exclusive range: 2..14) and keep the lowest AIC
   (:mod:`teachers.gmm_fit`). Only the last batch enters a fit; older episodes are not kept.
4. A component's learning progress is its time–reward covariance, kept only where positive
   (``max(0, cov[time, reward])``; TMA's ``absolute_lp`` variant, ``|cov|``, is off in its
   benchmark and not offered here).
5. Sample: with probability ``random_task_ratio`` (10 %, or before any fit) uniform;
   otherwise a component with probability proportional to its LP (uniform over components
   if all are zero), a draw from its Gaussian, time and reward coordinates dropped,
   clipped into the box.

Where we differ from TMA, and why:

- Task coordinates are the TaskSpace's unit cube, TMA's are the task's own units. The
  map is affine per axis, so the model and the time–reward covariance that drives
  sampling are the same in exact EM; what differs is the k-means initialisation and
  ``reg_covar``, which act on Euclidean distances and so on the axes' scales. The unit
  cube keeps every task axis on the scale of the time axis, as for ALP-GMM.
- The mixture fit is the shared, guarded one of :mod:`teachers.gmm_fit` (numpy EM by
  default, sklearn on request; a ``k`` whose fit fails is skipped and, if all fail, the
  previous mixture is kept, where TMA's sklearn call would raise). TMA seeds every fit with
  the teacher's seed; ours draw from the teacher's generator.
- Rewards: raw by default, as TMA's benchmark runs (no ``--scale_reward``);
  ``reward_bounds`` clips and scales to [0, 1], TMA's ``scale_reward``.

The ALP-GMM paper's version (teachDeepRL's ``CovarGMM``) is the same algorithm with other
settings: fit every 250 episodes, ``k`` 2..10, 20 % uniform tasks, rewards clipped and
scaled from (-150, 350) to [0, 1]: ``fit_rate=250, max_k=10, random_task_ratio=0.2,
reward_bounds=[-150, 350]``.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Mapping, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher
from teachers.gmm_fit import BACKENDS, GMM, proportional, sample_tasks_by_progress
from teachers.refit import NOT_YET, Refitter


class CovarGMM(Teacher):
    """Time–reward covariance GMM teacher.

    Args:
        task_space: the space to propose tasks from.
        seed: seed of the teacher's generator.
        fit_rate: episodes between refits and window size (150, TMA).
        min_k, max_k: mixture sizes tried at each refit (2–14, TMA).
        random_task_ratio: probability of a uniform task after the bootstrap (0.1, TMA).
        reward_bounds: ``[low, high]`` to clip and scale rewards to [0, 1], or ``None`` for
            raw rewards (default ``None``, as in TMA).
        gmm_backend: ``"numpy"`` (default) or ``"sklearn"``.
        reg_covar: added to covariance diagonals (1e-6).
        fit_lag, fit_worker: the refit schedule (:mod:`teachers.refit`; default 0, as TMA).
        fit_workers: processes sharing each lag-1 refit (:mod:`teachers.refit`; the same mixtures).
    """

    name = "covar_gmm"

    def __init__(
        self,
        task_space: TaskSpace,
        seed: int = 0,
        fit_rate: int = 150,
        min_k: int = 2,
        max_k: int = 14,
        random_task_ratio: float = 0.1,
        reward_bounds: Sequence[float] | None = None,
        gmm_backend: str = "numpy",
        reg_covar: float = 1e-6,
        fit_lag: int = 0,
        fit_worker: str = "process",
        fit_workers: int = 1,
    ) -> None:
        super().__init__(task_space, seed)
        self.fit_rate = int(fit_rate)
        self.min_k, self.max_k = int(min_k), int(max_k)
        self.random_task_ratio = float(random_task_ratio)
        if self.fit_rate < 2:
            raise TeachBenchError("teacher.fit_rate", f"must be >= 2, got {self.fit_rate}")
        if not 1 <= self.min_k <= self.max_k:
            raise TeachBenchError("teacher.min_k", f"need 1 <= min_k <= max_k, got {self.min_k}..{self.max_k}")
        if not 0.0 <= self.random_task_ratio <= 1.0:
            raise TeachBenchError("teacher.random_task_ratio", f"must be in [0, 1], got {self.random_task_ratio}")
        if gmm_backend not in BACKENDS:
            raise TeachBenchError("teacher.gmm_backend", f"unknown backend {gmm_backend!r}", BACKENDS)
        if reward_bounds is not None:
            lo, hi = (float(b) for b in reward_bounds)
            if not lo < hi:
                raise TeachBenchError("teacher.reward_bounds", f"need low < high, got [{lo}, {hi}]")
            reward_bounds = (lo, hi)
        self.reward_bounds = reward_bounds
        self.gmm_backend = gmm_backend
        self.reg_covar = float(reg_covar)
        self.window: deque[np.ndarray] = deque(maxlen=self.fit_rate)  # [task, reward]
        self.n_episodes = 0
        self.refitter = Refitter(range(self.min_k, self.max_k + 1), gmm_backend, self.reg_covar,
                                 fit_lag=fit_lag, fit_worker=fit_worker, fit_workers=fit_workers)
        self.gmm: GMM | None = None
        self.n_fits = 0
        self.n_failed_fits = 0

    def _update(self, episode: Episode) -> None:
        r = float(episode.episode_return)
        if self.reward_bounds is not None:
            lo, hi = self.reward_bounds
            r = float((np.clip(r, lo, hi) - lo) / (hi - lo))
        self.window.append(np.append(self.task_space.to_unit(episode.task), r))
        self.n_episodes += 1
        if self.n_episodes % self.fit_rate == 0:
            self.refit()

    def _update_batch(self, episodes: Sequence[Episode]) -> None:
        """:meth:`_update` for a batch (the bridge's one call per vector step at 1024 envs):
        the same rows, built with one array op, and the refits at the boundaries crossed."""
        p = self.task_space.to_unit_batch([e.task for e in episodes])  # tasks validated on entry
        r = np.array([float(e.episode_return) for e in episodes], dtype=np.float64)
        if self.reward_bounds is not None:
            lo, hi = self.reward_bounds
            r = (np.clip(r, lo, hi) - lo) / (hi - lo)
        rows = np.concatenate([p, r[:, None]], axis=1)
        for row in rows:
            self.window.append(row)
            self.n_episodes += 1
            if self.n_episodes % self.fit_rate == 0:
                self.refit()

    def fit_points(self) -> np.ndarray:
        """``[task, relative time, reward]`` for the window.

        An episode's time is its position in its batch of ``fit_rate`` episodes over
        ``fit_rate``, as TMA stamps it on arrival: ``(index mod fit_rate) / fit_rate``. At a
        refit the window is exactly one batch, so its times are ``0, 1/fit_rate, ...,
        (fit_rate - 1)/fit_rate``.
        """
        data = np.asarray(self.window)
        n = data.shape[0]
        index = np.arange(self.n_episodes - n, self.n_episodes)
        time = (index % self.fit_rate) / self.fit_rate
        return np.column_stack([data[:, :-1], time, data[:, -1]])

    def refit(self) -> None:
        gmm = self.refitter.at_boundary(self.fit_points(), self.rng)
        if gmm is NOT_YET:
            return
        self.n_fits += 1
        if gmm is None:
            self.n_failed_fits += 1
            return
        self.gmm = gmm

    def learning_progress(self) -> np.ndarray:
        """Per component: its time–reward covariance where positive, else 0."""
        assert self.gmm is not None
        return np.clip(self.gmm.covariances[:, -2, -1], 0.0, None)

    def component_probabilities(self) -> np.ndarray:
        return proportional(self.learning_progress())

    def _sample(self) -> Task:
        if self.gmm is None or self.rng.random() < self.random_task_ratio:
            return self.task_space.sample(self.rng)
        x = self.gmm.sample_by_progress(self.learning_progress(), self.rng, self.task_space.ndim)
        return self.task_space.from_unit(np.clip(x, 0.0, 1.0))

    def _sample_batch(self, n: int) -> list[Task]:
        progress = None if self.gmm is None else self.learning_progress()
        return sample_tasks_by_progress(self.task_space, self.gmm, progress, self.rng, n, self.random_task_ratio)

    def _state(self) -> dict[str, Any]:
        return {
            "window": [w.tolist() for w in self.window],
            "n_episodes": self.n_episodes,
            "gmm": None if self.gmm is None else self.gmm.to_state(),
            "n_fits": self.n_fits,
            "n_failed_fits": self.n_failed_fits,
            "refit": self.refitter.state_dict(),
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.window = deque((np.asarray(w, dtype=np.float64) for w in state["window"]), maxlen=self.fit_rate)
        self.n_episodes = int(state["n_episodes"])
        self.gmm = None if state["gmm"] is None else GMM.from_state(state["gmm"])
        self.n_fits = int(state["n_fits"])
        self.n_failed_fits = int(state["n_failed_fits"])
        self.refitter.load_state_dict(state.get("refit"))

    def _diagnostics(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "reward_mode": "raw" if self.reward_bounds is None else "normalised",
            "n_fits": self.n_fits,
            "n_failed_fits": self.n_failed_fits,
            "n_components": 0 if self.gmm is None else self.gmm.k,
            "max_component_lp": 0.0,
            "mean_lp": 0.0,
        }
        if self.gmm is not None:
            lp = self.learning_progress()
            out["max_component_lp"] = float(lp.max())
            out["mean_lp"] = float(lp.mean())
        return out
