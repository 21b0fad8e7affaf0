"""ALP-GMM (Portelas et al., CoRL 2019): sample tasks where absolute learning progress is high.

The algorithm, step by step as in docs/references.md#alp-gmm (the numbers are the steps there):

1. Tasks live in a box; we work in the TaskSpace's normalised cube ``[0, 1]^d``
   (``to_unit`` / ``from_unit``), so one set of hyperparameters serves every env.
2. After each episode (task ``p``, reward ``r``): if more than ``nn_min_history`` (5)
   earlier episodes exist, find the single nearest earlier task (Euclidean, k=1, whole
   history) and its reward ``r_old``; ``ALP = |r − r_old|``, else 0. Add ``(p, r)``.
3. Append ``[p, ALP]`` to the GMM dataset.
4. Bootstrap: until the first fit (the first ``fit_rate`` tasks) sampling is uniform.
5. Every ``fit_rate`` episodes fit full-covariance GMMs for ``k`` in ``min_k..max_k`` on the
   last ``fit_rate`` points and keep the lowest AIC (:mod:`teachers.gmm_fit`; a failing
   ``k`` is skipped; if all fail the previous mixture stays).
6. Sample: with probability ``random_task_ratio`` (or before any fit) uniform; otherwise a
   component with probability proportional to its mean ALP (uniform if all are zero), a
   draw from its Gaussian, the ALP coordinate dropped, clipped into the cube.

Presets (docs/references.md#alp-gmm table):

- ``corl2019`` (paper / teachDeepRL): fit_rate 250, k 2–10, 20% random, rewards clipped and
  scaled to [0, 1] from ``reward_bounds`` (−150, 350) — the walker's range.
- ``tma2021`` (TeachMyAgent benchmark): fit_rate 150, k 2–9, 5% random, raw rewards.

Batched (for 1024+ envs): ``update_batch`` computes the nearest-neighbour ALP of a whole
batch with one tree query plus the pairwise distances inside the batch (an episode's
nearest earlier task may be an earlier episode of the same batch; the batch is cut where
the index would rebuild its tree: :meth:`NearestIndex.nearest_then_add`), then refits at
every boundary the batch crosses, so it leaves exactly the state of the same episodes given
one by one, exact distance ties included. ``sample_batch`` draws from the same mixture in one vectorised call. ``fit_lag=1``
(:mod:`teachers.refit`) moves the EM fits off the training loop, one fit period late.

Deferred ALP (for 1024+ envs, where a vector step finishes ~5 episodes and the fixed cost
of one nearest-neighbour query per step was ALP-GMM's largest per-step cost): the ALP of
finished episodes is needed only by the refit (step 5), so ``update_batch`` only queues
them, and the queue goes through the batched step 2/3 above when it reaches a refit
boundary, :data:`PENDING_MAX` episodes, or anything reads the teacher's state
(``history``, ``rewards``, ``window``, ``last_alp``, diagnostics, checkpoints). Sampling
reads only the mixture and the generator, and both change only at refit boundaries, where
the queue has just been emptied; so every sample, fit and state is the one the episodes
given one at a time produce (``tests/test_alp_gmm_batch_exact.py``).

Default: ``corl2019``. With raw rewards the ALP coordinate's scale is the env's reward
scale (hundreds on the walker) while tasks live in [0, 1], so the ALP axis dominates the
mixture; normalised rewards keep both axes comparable (docs/references.md#alp-gmm). Which mode
produced a result is recorded in :meth:`diagnostics` (``reward_mode``). Envs whose returns
are not on the walker's scale should pass their own ``reward_bounds`` (the toy track passes
``[0, 1]``).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Mapping, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher
from teachers.gmm_fit import BACKENDS, GMM, proportional, sample_tasks_by_progress
from teachers.nearest import NearestIndex
from teachers.refit import NOT_YET, Refitter

PRESETS: dict[str, dict[str, Any]] = {
    "corl2019": {"fit_rate": 250, "min_k": 2, "max_k": 10, "random_task_ratio": 0.2, "reward_bounds": (-150.0, 350.0)},
    "tma2021": {"fit_rate": 150, "min_k": 2, "max_k": 9, "random_task_ratio": 0.05, "reward_bounds": None},
}

_FROM_PRESET = "preset"

# Most finished episodes queued before their ALP is computed (module docstring: deferred
# ALP): one nearest-neighbour pass per ~13 vector steps of 1024 mazes instead of one per
# step, with the batch's pairwise distances (PENDING_MAX^2 of them) still cheap.
PENDING_MAX = 64


class ALPGMM(Teacher):
    """Absolute-learning-progress Gaussian mixture teacher.

    Args:
        task_space: the space to propose tasks from.
        seed: seed of the teacher's generator (sampling and GMM initialisation).
        preset: ``"corl2019"`` (default) or ``"tma2021"``; sets the four values below
            unless they are given explicitly.
        fit_rate: episodes between refits and size of the fitting window (250 / 150).
        min_k, max_k: range of mixture sizes tried at each refit (2–10 / 2–9).
        random_task_ratio: probability of a uniform task after the bootstrap (0.2 / 0.05).
        reward_bounds: ``[low, high]``: rewards are clipped to it and scaled to [0, 1]
            before computing ALP; ``None``: raw rewards; ``"preset"``: the preset's value
            ((−150, 350) for corl2019, raw for tma2021).
        nn_min_history: ALP is 0 until more than this many earlier episodes exist (5).
        gmm_backend: ``"numpy"`` (default, vectorised EM over all k) or ``"sklearn"``.
        reg_covar: added to covariance diagonals (sklearn's default 1e-6).
        fit_lag: 0 (default: the papers' schedule) or 1 (fits installed one period late,
            computed in a worker process; see :mod:`teachers.refit`).
        fit_worker: ``"process"`` (default) or ``"inline"``, where a lag-1 fit runs.
        fit_workers: processes sharing each lag-1 refit (:mod:`teachers.refit`; the same mixtures).
    """

    name = "alp_gmm"

    def __init__(
        self,
        task_space: TaskSpace,
        seed: int = 0,
        preset: str = "corl2019",
        fit_rate: int | None = None,
        min_k: int | None = None,
        max_k: int | None = None,
        random_task_ratio: float | None = None,
        reward_bounds: Sequence[float] | str | None = _FROM_PRESET,
        nn_min_history: int = 5,
        gmm_backend: str = "numpy",
        reg_covar: float = 1e-6,
        fit_lag: int = 0,
        fit_worker: str = "process",
        fit_workers: int = 1,
    ) -> None:
        super().__init__(task_space, seed)
        if preset not in PRESETS:
            raise TeachBenchError("teacher.preset", f"unknown ALP-GMM preset {preset!r}", PRESETS)
        p = PRESETS[preset]
        self.preset = preset
        self.fit_rate = int(p["fit_rate"] if fit_rate is None else fit_rate)
        self.min_k = int(p["min_k"] if min_k is None else min_k)
        self.max_k = int(p["max_k"] if max_k is None else max_k)
        self.random_task_ratio = float(p["random_task_ratio"] if random_task_ratio is None else random_task_ratio)
        if isinstance(reward_bounds, str):
            if reward_bounds != _FROM_PRESET:
                raise TeachBenchError("teacher.reward_bounds", f"expected [low, high], null or 'preset', got {reward_bounds!r}")
            reward_bounds = p["reward_bounds"]
        self.reward_bounds = _check_bounds(reward_bounds)
        self.nn_min_history = int(nn_min_history)
        if gmm_backend not in BACKENDS:
            raise TeachBenchError("teacher.gmm_backend", f"unknown backend {gmm_backend!r}", BACKENDS)
        self.gmm_backend = gmm_backend
        self.reg_covar = float(reg_covar)
        if self.fit_rate < 2:
            raise TeachBenchError("teacher.fit_rate", f"must be >= 2, got {self.fit_rate}")
        if not 1 <= self.min_k <= self.max_k:
            raise TeachBenchError("teacher.min_k", f"need 1 <= min_k <= max_k, got {self.min_k}..{self.max_k}")
        if not 0.0 <= self.random_task_ratio <= 1.0:
            raise TeachBenchError("teacher.random_task_ratio", f"must be in [0, 1], got {self.random_task_ratio}")

        d = task_space.ndim
        self._history = NearestIndex(d)  # every task played, unit cube
        self._rewards: list[float] = []  # reward of each history task (after normalisation)
        self._window: deque[np.ndarray] = deque(maxlen=self.fit_rate)  # last [p, ALP] points
        self._last_alp = 0.0
        # finished episodes (validated task, return) whose ALP is not computed yet
        self._pending: list[tuple[Task, float]] = []
        self.refitter = Refitter(range(self.min_k, self.max_k + 1), self.gmm_backend, self.reg_covar,
                                 fit_lag=fit_lag, fit_worker=fit_worker, fit_workers=fit_workers)
        self.gmm: GMM | None = None
        self.n_fits = 0
        self.n_failed_fits = 0

    # -- the state, with the queued episodes' ALP computed first (deferred ALP) --------------
    @property
    def history(self) -> NearestIndex:
        self._flush()
        return self._history

    @history.setter
    def history(self, index: NearestIndex) -> None:
        self._flush()
        self._history = index

    @property
    def rewards(self) -> list[float]:
        self._flush()
        return self._rewards

    @property
    def window(self) -> deque[np.ndarray]:
        self._flush()
        return self._window

    @property
    def last_alp(self) -> float:
        self._flush()
        return self._last_alp

    # -- step 2/3: ALP of each finished episode ------------------------------------------
    def normalise_reward(self, reward: float) -> float:
        """The reward the teacher works with (clipped and scaled, or raw)."""
        if self.reward_bounds is None:
            return float(reward)
        lo, hi = self.reward_bounds
        return float((np.clip(reward, lo, hi) - lo) / (hi - lo))

    def _update(self, episode: Episode) -> None:
        self._flush()
        p = self.task_space.to_unit(episode.task)
        r = self.normalise_reward(episode.episode_return)
        alp = 0.0
        if len(self._history) > self.nn_min_history:
            j, _ = self._history.nearest(p)
            alp = abs(r - self._rewards[j])
        self._history.add(p)
        self._rewards.append(r)
        self._window.append(np.append(p, alp))
        self._last_alp = alp
        # step 5: refit every fit_rate episodes on the window of the last fit_rate points
        if len(self._rewards) % self.fit_rate == 0:
            self.refit()

    def _update_batch(self, episodes: Sequence[Episode]) -> None:
        """Queue the episodes (deferred ALP, module docstring); compute the queue's ALP now
        if it reaches a refit boundary or :data:`PENDING_MAX` episodes."""
        done = len(self._rewards)
        self._pending.extend((e.task, e.episode_return) for e in episodes)
        if (done + len(self._pending)) // self.fit_rate > done // self.fit_rate or len(self._pending) >= PENDING_MAX:
            self._flush()

    def _flush(self) -> None:
        """Steps 2/3 for the queued episodes, equal to :meth:`_update` episode by episode
        (ties included: :meth:`NearestIndex.nearest_then_add` answers as the one-by-one
        queries would), with the refits at the boundaries they cross."""
        if not self._pending:
            return
        tasks, returns = zip(*self._pending)
        self._pending = []
        p = self.task_space.to_unit_batch(tasks)
        r = self._normalise_rewards(list(returns))
        n0, m = len(self._history), len(returns)
        j, _ = self._history.nearest_then_add(p)
        eligible = n0 + np.arange(m) > self.nn_min_history  # more than nn_min_history earlier tasks
        alp = np.zeros(m)
        if eligible.any():
            old = [self._rewards[k] if k < n0 else float(r[k - n0]) for k in j[eligible].tolist()]
            alp[eligible] = np.abs(r[eligible] - np.array(old, dtype=np.float64))
        self._rewards.extend(r.tolist())
        rows = np.concatenate([p, alp[:, None]], axis=1)  # [p, ALP] per episode, one array op
        for i in range(m):
            self._window.append(rows[i])
            if (n0 + i + 1) % self.fit_rate == 0:
                self.refit()
        self._last_alp = float(alp[-1])

    def _normalise_rewards(self, returns: list[float]) -> np.ndarray:
        """:meth:`normalise_reward` of each return, in one array op when they are all Python
        floats (the same float64 arithmetic; other numeric types go one by one, as they do
        through :meth:`_update`)."""
        if self.reward_bounds is not None and all(type(x) is float for x in returns):
            lo, hi = self.reward_bounds
            return (np.clip(np.array(returns, dtype=np.float64), lo, hi) - lo) / (hi - lo)
        return np.array([self.normalise_reward(x) for x in returns], dtype=np.float64)

    def refit(self) -> None:
        """Fit k = min_k..max_k on the window, keep the lowest AIC; keep the old fit on failure."""
        gmm = self.refitter.at_boundary(np.asarray(self.window), self.rng)  # self.window: the queue computed first
        if gmm is NOT_YET:
            return
        self.n_fits += 1
        if gmm is None:
            self.n_failed_fits += 1
            return
        self.gmm = gmm

    # -- steps 4/6: sampling --------------------------------------------------------------
    def component_probabilities(self) -> np.ndarray:
        """Probability of each component: proportional to its mean ALP, uniform if all zero."""
        assert self.gmm is not None
        return proportional(self.gmm.means[:, -1])

    def _sample(self) -> Task:
        if self.gmm is None or self.rng.random() < self.random_task_ratio:
            return self.task_space.sample(self.rng)
        x = self.gmm.sample_by_progress(self.gmm.means[:, -1], self.rng, self.task_space.ndim)
        return self.task_space.from_unit(np.clip(x, 0.0, 1.0))

    def _sample_batch(self, n: int) -> list[Task]:
        progress = None if self.gmm is None else self.gmm.means[:, -1]
        return sample_tasks_by_progress(self.task_space, self.gmm, progress, self.rng, n, self.random_task_ratio)

    # -- checkpointing and logging ---------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "history": self.history.points.tolist(),
            "rewards": list(self.rewards),
            "window": [w.tolist() for w in self.window],
            "gmm": None if self.gmm is None else self.gmm.to_state(),
            "n_fits": self.n_fits,
            "n_failed_fits": self.n_failed_fits,
            "last_alp": self.last_alp,
            "refit": self.refitter.state_dict(),
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self._pending = []  # a checkpoint holds no queue (state_dict empties it)
        self._history = NearestIndex(self.task_space.ndim)
        for p in state["history"]:
            self._history.add(np.asarray(p, dtype=np.float64))
        self._rewards = [float(r) for r in state["rewards"]]
        self._window = deque((np.asarray(w, dtype=np.float64) for w in state["window"]), maxlen=self.fit_rate)
        self.gmm = None if state["gmm"] is None else GMM.from_state(state["gmm"])
        self.n_fits = int(state["n_fits"])
        self.n_failed_fits = int(state["n_failed_fits"])
        self._last_alp = float(state["last_alp"])
        self.refitter.load_state_dict(state.get("refit"))

    @property
    def reward_mode(self) -> str:
        if self.reward_bounds is None:
            return "raw"
        return f"normalised[{self.reward_bounds[0]:g},{self.reward_bounds[1]:g}]"

    def _diagnostics(self) -> dict[str, Any]:
        window_alp = float(np.mean([w[-1] for w in self.window])) if self.window else 0.0
        out: dict[str, Any] = {
            "preset": self.preset,
            "reward_mode": self.reward_mode,
            "history": len(self.rewards),
            "mean_alp": window_alp,
            "n_fits": self.n_fits,
            "n_failed_fits": self.n_failed_fits,
            "n_components": 0 if self.gmm is None else self.gmm.k,
            "max_component_alp": 0.0,
            "aic": float("nan"),
        }
        if self.gmm is not None:
            out["max_component_alp"] = float(self.gmm.means[:, -1].max())
            out["aic"] = float(self.gmm.aic)
        return out


def _check_bounds(bounds: Sequence[float] | None) -> tuple[float, float] | None:
    if bounds is None:
        return None
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise TeachBenchError("teacher.reward_bounds", f"expected [low, high], got {bounds!r}") from None
    if not lo < hi:
        raise TeachBenchError("teacher.reward_bounds", f"need low < high, got [{lo}, {hi}]")
    return lo, hi
