"""The level buffer of Prioritized Level Replay and its replay distribution.

PLR, PLR⊥ and ACCEL keep a bounded set of levels seen so far, each with a regret score
(PVL or MaxMC) and the episode count at which it was last sampled. Replay samples from

    P_replay = (1 − ρ) · P_S + ρ · P_C                                   (docs/references.md#plr)

- ``P_S`` prioritises by score. With *rank* prioritisation ``h(S_i) = (1/rank_i)^(1/β)``,
  rank 1 being the *highest* score, so it is defined for any real scores (MaxMC can be
  negative). The temperature β enters as a power, never as a divisor, and ranks start at
  1, never 0 (both were bugs in the reference code, docs/references.md#plr).
  *Power* prioritisation ``h(S_i) = max(S_i, 0)^(1/β)`` is offered for non-negative scores
  (PVL); negative scores are clamped at zero, so its normaliser is never negative, and an
  all-zero vector falls back to uniform.
- ``P_C`` prioritises by staleness ``c − C_i`` (episodes since level i was last sampled);
  all-fresh buffers fall back to uniform, so the mixture always sums to one.

A full buffer admits a new level only by replacing the level with the lowest replay
support, and only when the new score is at least as high as that level's score.

The math lives in small pure functions (:func:`rank_weights`, :func:`power_weights`,
:func:`staleness_weights`, :func:`replay_distribution`) that the tests check against
hand-computed values; :class:`LevelBuffer` is the bookkeeping around them.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task

PRIORITIZATIONS = ("rank", "power")


def rank_weights(scores: np.ndarray, temperature: float) -> np.ndarray:
    """``P_S`` with rank prioritisation: ``(1/rank)^(1/β)`` normalised, rank 1 = highest.

    Ties are broken by position (earlier level ranks higher), so the result is
    deterministic. Works for negative scores: only the order matters."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.size == 0:
        return scores.copy()
    _check_temperature(temperature)
    order = np.argsort(-scores, kind="stable")  # indices from highest to lowest score
    ranks = np.empty(scores.size, dtype=np.float64)
    ranks[order] = np.arange(1, scores.size + 1, dtype=np.float64)
    h = (1.0 / ranks) ** (1.0 / temperature)
    return h / h.sum()


def power_weights(scores: np.ndarray, temperature: float) -> np.ndarray:
    """``P_S`` with power prioritisation: ``max(S, 0)^(1/β)`` normalised (uniform if all 0)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.size == 0:
        return scores.copy()
    _check_temperature(temperature)
    h = np.clip(scores, 0.0, None) ** (1.0 / temperature)
    total = h.sum()
    if not np.isfinite(total) or total <= 0.0:
        return np.full(scores.size, 1.0 / scores.size)
    return h / total


def staleness_weights(last_sampled: np.ndarray, clock: int) -> np.ndarray:
    """``P_C ∝ c − C_i`` (episodes since each level was last sampled); uniform if all zero."""
    last = np.asarray(last_sampled, dtype=np.float64).reshape(-1)
    if last.size == 0:
        return last.copy()
    stale = np.clip(float(clock) - last, 0.0, None)
    total = stale.sum()
    if total <= 0.0:
        return np.full(last.size, 1.0 / last.size)
    return stale / total


def replay_distribution(scores: np.ndarray, last_sampled: np.ndarray, clock: int, temperature: float,
                        staleness_coef: float, prioritization: str = "rank") -> np.ndarray:
    """``P = (1 − ρ)·P_S + ρ·P_C``: non-negative and summing to one for any scores."""
    if not 0.0 <= staleness_coef <= 1.0:
        raise TeachBenchError("staleness_coef", f"must be in [0, 1], got {staleness_coef}")
    if prioritization == "rank":
        p_s = rank_weights(scores, temperature)
    elif prioritization == "power":
        p_s = power_weights(scores, temperature)
    else:
        raise TeachBenchError("prioritization", f"unknown prioritization {prioritization!r}", PRIORITIZATIONS)
    p_c = staleness_weights(last_sampled, clock)
    return (1.0 - staleness_coef) * p_s + staleness_coef * p_c


def _check_temperature(temperature: float) -> None:
    if not (isinstance(temperature, (int, float)) and temperature > 0 and np.isfinite(temperature)):
        raise TeachBenchError("temperature", f"must be a finite number > 0, got {temperature!r}")


class LevelBuffer:
    """Bounded store of levels with regret scores, staleness and replay sampling.

    Args:
        capacity: most levels kept (reference default 4000 for mazes, 1000 for the walker).
        temperature: β of the score prioritisation (reference 0.1–0.3; default 0.3).
        staleness_coef: ρ of the staleness mixing (reference 0.3–0.5; default 0.3).
        prioritization: ``"rank"`` (default; safe for negative MaxMC scores) or ``"power"``.
        score_alpha: a replayed level's score becomes ``(1−α)·old + α·new``; 1.0 (default)
            keeps the latest estimate, as the reference PLR does.

    Levels are identified by a string ``key`` (a level string or a canonical task key) and
    carry the task that replays them. ``clock`` counts sampled episodes (the ``c`` of P_C).
    """

    def __init__(self, capacity: int = 4000, temperature: float = 0.3, staleness_coef: float = 0.3,
                 prioritization: str = "rank", score_alpha: float = 1.0) -> None:
        if int(capacity) < 1:
            raise TeachBenchError("buffer_size", f"must be >= 1, got {capacity}")
        _check_temperature(temperature)
        if not 0.0 <= staleness_coef <= 1.0:
            raise TeachBenchError("staleness_coef", f"must be in [0, 1], got {staleness_coef}")
        if prioritization not in PRIORITIZATIONS:
            raise TeachBenchError("prioritization", f"unknown prioritization {prioritization!r}", PRIORITIZATIONS)
        if not 0.0 < score_alpha <= 1.0:
            raise TeachBenchError("score_alpha", f"must be in (0, 1], got {score_alpha}")
        self.capacity = int(capacity)
        self.temperature = float(temperature)
        self.staleness_coef = float(staleness_coef)
        self.prioritization = prioritization
        self.score_alpha = float(score_alpha)
        self.clock = 0
        self.keys: list[str] = []
        self.tasks: list[Task] = []
        self.scores = np.zeros(0, dtype=np.float64)
        self.last_sampled = np.zeros(0, dtype=np.float64)
        self.max_returns = np.zeros(0, dtype=np.float64)
        self._index: dict[str, int] = {}
        # P_S of the current scores (see distribution); scores change only through this
        # class's methods, each of which bumps the version
        self._version = 0
        self._p_s: np.ndarray | None = None
        self._p_s_version = -1
        # rank of each level (1 = highest score, ties by position), kept up to date as scores
        # change (see _set_score); None = recompute by sorting
        self._ranks: np.ndarray | None = np.zeros(0, dtype=np.float64)
        # (1/rank)^(1/β) for ranks 1..capacity, computed as rank_weights computes each entry
        self._h_of_rank: tuple[float, np.ndarray] | None = None
        self.n_inserted = 0
        self.n_replaced = 0
        self.n_rejected = 0

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def fill(self) -> float:
        return len(self) / self.capacity

    def index_of(self, key: str) -> int | None:
        return self._index.get(key)

    def distribution(self) -> np.ndarray:
        """``P = (1 − ρ)·P_S + ρ·P_C`` of :func:`replay_distribution`, with ``P_S`` kept
        between score changes: the rank weights sort the whole buffer (O(B log B), 4000
        levels for the mazes), and with 1024 envs PLR draws several replays per vector
        step while the scores change only when an episode is scored (issue 18). The sum
        is computed exactly as :func:`replay_distribution` computes it."""
        if self._p_s is None or self._p_s_version != self._version:
            if self.prioritization == "rank":
                # rank_weights(self.scores, β) from the kept ranks: the same entries, summed
                # in the same (index) order, without sorting the buffer
                if self._h_of_rank is None or self._h_of_rank[0] != self.temperature:
                    ranks = np.arange(1, self.capacity + 1, dtype=np.float64)
                    self._h_of_rank = (self.temperature, (1.0 / ranks) ** (1.0 / self.temperature))
                h = self._h_of_rank[1][self.ranks().astype(np.int64) - 1]
                self._p_s = h / h.sum()
            else:
                self._p_s = power_weights(self.scores, self.temperature)
            self._p_s_version = self._version
        p_c = staleness_weights(self.last_sampled, self.clock)
        return (1.0 - self.staleness_coef) * self._p_s + self.staleness_coef * p_c

    def _scores_changed(self) -> None:
        self._version += 1

    def ranks(self) -> np.ndarray:
        """Each level's rank as :func:`rank_weights` orders them (1 = highest score, ties
        broken by position)."""
        if self._ranks is None:
            order = np.argsort(-self.scores, kind="stable")
            self._ranks = np.empty(self.scores.size, dtype=np.float64)
            self._ranks[order] = np.arange(1, self.scores.size + 1, dtype=np.float64)
        return self._ranks

    def _set_score(self, index: int, score: float) -> None:
        """``scores[index] = score``, moving the kept ranks instead of sorting again (issue
        18: with 1024 envs several scores change per vector step and a sort of 4000 levels
        per change dominated PLR's cost). Level ``i`` is ahead of ``j`` when
        ``s_i > s_j``, or ``s_i == s_j`` and ``i < j``; every other level whose order
        against ``index`` flips moves one rank; ``index`` gets 1 + the levels ahead of it."""
        old = float(self.scores[index])
        self.scores[index] = score
        self._scores_changed()
        others = self.scores
        if self._ranks is None or not (math.isfinite(old) and bool(np.all(np.isfinite(others)))):
            self._ranks = None  # NaN / inf orders: sort again
            return
        position = np.arange(others.size)
        ahead_before = (old > others) | ((old == others) & (index < position))
        ahead_now = (score > others) | ((score == others) & (index < position))
        ahead_before[index] = ahead_now[index] = False
        self._ranks += ahead_now.astype(np.float64) - ahead_before
        self._ranks[index] = 1 + np.count_nonzero(others > score) + np.count_nonzero((others == score) & (position < index))

    def _append_score(self, score: float) -> None:
        """A new level at the end (it is behind every level with an equal score)."""
        if self._ranks is not None and math.isfinite(score) and bool(np.all(np.isfinite(self.scores))):
            self._ranks += score > self.scores
            self._ranks = np.append(self._ranks, 1 + np.count_nonzero(self.scores >= score))
        else:
            self._ranks = None
        self.scores = np.append(self.scores, score)
        self._scores_changed()

    def tick(self) -> None:
        """One more episode was sampled (new or replayed): every level grows staler."""
        self.clock += 1

    def sample(self, rng: np.random.Generator) -> int:
        """Index of a level drawn from the replay distribution; marks it freshly sampled."""
        if len(self) == 0:
            raise TeachBenchError("level_buffer", "cannot replay from an empty buffer")
        # rng.choice(len(self), p=p) without its checks of p (a distribution by construction,
        # and the checks were half of a replay's cost with 4000 levels, issue 18): the same
        # inverse-CDF draw from one uniform, so the same index and the same generator state
        cdf = self.distribution().cumsum()
        cdf /= cdf[-1]
        i = int(cdf.searchsorted(rng.random(), side="right"))
        self.last_sampled[i] = self.clock
        return i

    def update_score(self, index: int, score: float, episode_return: float | None = None) -> None:
        a = self.score_alpha
        self._set_score(index, (1.0 - a) * self.scores[index] + a * float(score))
        if episode_return is not None:
            self.max_returns[index] = max(self.max_returns[index], float(episode_return))

    def insert(self, key: str, task: Task, score: float, episode_return: float = float("-inf")) -> int | None:
        """Add a level (or update it if present). Full: replace the lowest-support level if
        ``score`` is at least its score; else reject. Returns the index, or None if rejected."""
        score = float(score)
        existing = self._index.get(key)
        if existing is not None:
            self.update_score(existing, score, episode_return)
            return existing
        if len(self) < self.capacity:
            self.keys.append(key)
            self.tasks.append(dict(task))
            self._append_score(score)
            self.last_sampled = np.append(self.last_sampled, float(self.clock))
            self.max_returns = np.append(self.max_returns, float(episode_return))
            self._index[key] = len(self.keys) - 1
            self.n_inserted += 1
            return len(self.keys) - 1
        victim = int(np.argmin(self.distribution()))
        if score < self.scores[victim]:
            self.n_rejected += 1
            return None
        del self._index[self.keys[victim]]
        self.keys[victim] = key
        self.tasks[victim] = dict(task)
        self._set_score(victim, score)
        self.last_sampled[victim] = float(self.clock)
        self.max_returns[victim] = float(episode_return)
        self._index[key] = victim
        self.n_inserted += 1
        self.n_replaced += 1
        return victim

    def score_summary(self) -> dict[str, float]:
        """A histogram summary of the buffer's scores (for the teacher diagnostics table)."""
        if len(self) == 0:
            return {"buffer_size": 0, "buffer_fill": 0.0}
        q = np.quantile(self.scores, [0.0, 0.25, 0.5, 0.75, 1.0])
        return {
            "buffer_size": len(self), "buffer_fill": self.fill, "score_mean": float(self.scores.mean()),
            "score_min": float(q[0]), "score_p25": float(q[1]), "score_median": float(q[2]),
            "score_p75": float(q[3]), "score_max": float(q[4]),
            "staleness_mean": float(np.mean(self.clock - self.last_sampled)),
        }

    # -- checkpoints (python containers only) -------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "clock": self.clock, "keys": list(self.keys), "tasks": [dict(t) for t in self.tasks],
            "scores": self.scores.tolist(), "last_sampled": self.last_sampled.tolist(),
            "max_returns": [float(v) for v in self.max_returns],
            "counters": [self.n_inserted, self.n_replaced, self.n_rejected],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.clock = int(state["clock"])
        self.keys = [str(k) for k in state["keys"]]
        self.tasks = [dict(t) for t in state["tasks"]]
        self.scores = np.asarray(state["scores"], dtype=np.float64)
        self._ranks = None
        self._scores_changed()
        self.last_sampled = np.asarray(state["last_sampled"], dtype=np.float64)
        self.max_returns = np.asarray(state["max_returns"], dtype=np.float64)
        self._index = {k: i for i, k in enumerate(self.keys)}
        self.n_inserted, self.n_replaced, self.n_rejected = (int(v) for v in state["counters"])
