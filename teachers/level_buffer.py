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
_BLOCK = 64  # levels per block of LevelBuffer's replay draw (see LevelBuffer._draw_index)


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

    Cost (issue 18: with 1024 envs PLR scores and draws several levels per vector step,
    over 4000 levels). The per-level arrays are allocated once at ``capacity`` and
    ``scores`` / ``last_sampled`` / ``max_returns`` are views of their filled part, so an
    insert copies nothing. The rank order is kept as a sorted list of levels: a score
    change moves one level within it (two binary searches and a shift of the levels between
    its old and new place) instead of comparing it with every level. ``(1 − ρ)·P_S`` is kept
    between score changes. A replay draw and a replacement then cost a handful of passes
    over the buffer into preallocated work arrays: every probability is computed with the
    same floating-point operations, in the same order, as :func:`replay_distribution`, so
    the draws are the same, bit for bit (tests/test_level_buffer_cache.py).
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
        self._index: dict[str, int] = {}
        self._allocate(self.capacity)
        self.n_inserted = 0
        self.n_replaced = 0
        self.n_rejected = 0

    def _allocate(self, size: int) -> None:
        """Storage for ``size`` levels, empty: per-level arrays, the rank order, work arrays."""
        self._n = 0
        self._scores = np.zeros(size, dtype=np.float64)
        self._last = np.zeros(size, dtype=np.float64)
        self._max_returns = np.zeros(size, dtype=np.float64)
        # The rank order: _order[p] is the level at 0-based rank p (highest score first,
        # ties by index, as rank_weights' stable argsort), _neg_sorted[p] minus its score
        # (ascending, for searchsorted), _rank0[i] the 0-based rank of level i. Valid while
        # _sorted_ok; non-finite scores (_n_nonfinite > 0) fall back to a sort.
        self._order = np.zeros(size, dtype=np.int64)
        self._neg_sorted = np.zeros(size, dtype=np.float64)
        self._rank0 = np.zeros(size, dtype=np.int64)
        self._sorted_ok = True
        self._n_nonfinite = 0
        # (1 − ρ)·P_S of the current scores, recomputed only after a score change
        self._version = 0
        self._scaled_p_s: np.ndarray | None = None
        self._p_s_version: tuple[Any, ...] | None = None  # (version, β, ρ, prioritization) it was computed for
        # (1/rank)^(1/β) for ranks 1..size, computed as rank_weights computes each entry
        self._h_of_rank: tuple[float, np.ndarray] | None = None
        self._work_c = np.zeros(size, dtype=np.float64)  # ρ·P_C
        self._work_p = np.zeros(size, dtype=np.float64)  # P
        self._block_starts = np.arange(0, size, _BLOCK)
        self._work_cdf = np.zeros(size, dtype=np.float64)

    # -- the per-level arrays: views of the filled part of the storage ---------------------
    @property
    def scores(self) -> np.ndarray:
        return self._scores[:self._n]

    @scores.setter
    def scores(self, values: np.ndarray) -> None:
        self._load_arrays(values, self.last_sampled.copy(), self.max_returns.copy())

    @property
    def last_sampled(self) -> np.ndarray:
        return self._last[:self._n]

    @last_sampled.setter
    def last_sampled(self, values: np.ndarray) -> None:
        self._load_arrays(self.scores.copy(), values, self.max_returns.copy())

    @property
    def max_returns(self) -> np.ndarray:
        return self._max_returns[:self._n]

    @max_returns.setter
    def max_returns(self, values: np.ndarray) -> None:
        self._load_arrays(self.scores.copy(), self.last_sampled.copy(), values)

    def _load_arrays(self, scores: Any, last_sampled: Any, max_returns: Any) -> None:
        """Replace the per-level arrays (a checkpoint); the rank order is sorted again."""
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        last = np.asarray(last_sampled, dtype=np.float64).reshape(-1)
        best = np.asarray(max_returns, dtype=np.float64).reshape(-1)
        self._allocate(max(self.capacity, scores.size))
        n = self._n = scores.size
        self._scores[:n], self._last[:n], self._max_returns[:n] = scores, last, best
        self._n_nonfinite = int(np.count_nonzero(~np.isfinite(scores)))
        self._sorted_ok = False

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def fill(self) -> float:
        return len(self) / self.capacity

    def index_of(self, key: str) -> int | None:
        return self._index.get(key)

    # -- the replay distribution ----------------------------------------------------------
    def distribution(self) -> np.ndarray:
        """``P = (1 − ρ)·P_S + ρ·P_C`` of :func:`replay_distribution` (a new array)."""
        return self._distribution().copy()

    def _distribution(self) -> np.ndarray:
        """P in a work array (valid until the next call): ``(1 − ρ)·P_S`` as kept, plus
        ``ρ·P_C`` computed as :func:`staleness_weights` and :func:`replay_distribution`
        compute it, operation by operation."""
        n = self._n
        scaled_p_s = self._scaled_p_s_now()
        mixed = self._work_c[:n]
        if n:
            np.subtract(float(self.clock), self._last[:n], out=mixed)
            np.maximum(mixed, 0.0, out=mixed)  # np.clip(·, 0, None): the same values, NaN kept
            total = mixed.sum()
            if total <= 0.0:
                mixed.fill(1.0 / n)
            else:
                np.divide(mixed, total, out=mixed)
            np.multiply(mixed, self.staleness_coef, out=mixed)
        return np.add(scaled_p_s, mixed, out=self._work_p[:n])

    def _scaled_p_s_now(self) -> np.ndarray:
        """``(1 − ρ)·P_S``, recomputed only after a score change (or a change of β, ρ or the
        prioritisation): the rank weights from the kept ranks, the same entries summed in
        the same (index) order as rank_weights."""
        key = (self._version, self.temperature, self.staleness_coef, self.prioritization)
        if self._scaled_p_s is None or self._p_s_version != key:
            if self.prioritization == "rank":
                if self._h_of_rank is None or self._h_of_rank[0] != self.temperature:
                    ranks = np.arange(1, self._scores.size + 1, dtype=np.float64)
                    self._h_of_rank = (self.temperature, (1.0 / ranks) ** (1.0 / self.temperature))
                h = self._h_of_rank[1][self._ranks0()]
                p_s = h / h.sum() if h.size else h
            else:
                p_s = power_weights(self.scores, self.temperature)
            self._scaled_p_s = (1.0 - self.staleness_coef) * p_s
            self._p_s_version = key
        return self._scaled_p_s

    def _scores_changed(self) -> None:
        self._version += 1

    # -- the rank order -------------------------------------------------------------------
    def ranks(self) -> np.ndarray:
        """Each level's rank as :func:`rank_weights` orders them (1 = highest score, ties
        broken by position)."""
        return (self._ranks0() + 1).astype(np.float64)

    def _ranks0(self) -> np.ndarray:
        n = self._n
        if not self._sorted_ok:
            order = np.argsort(-self._scores[:n], kind="stable")
            self._order[:n] = order
            self._neg_sorted[:n] = -self._scores[order]
            self._rank0[order] = np.arange(n)
            self._sorted_ok = True
        return self._rank0[:n]

    def _keeps_order(self, *changed: float) -> bool:
        """Whether the kept order can be moved incrementally (every score finite)."""
        return self._sorted_ok and self._n_nonfinite == 0 and all(math.isfinite(v) for v in changed)

    def _set_score(self, index: int, score: float) -> None:
        """``scores[index] = score``, moving level ``index`` within the rank order: level
        ``i`` is ahead of ``j`` when ``s_i > s_j``, or ``s_i == s_j`` and ``i < j``; the new
        place is the number of other levels ahead of it, and the levels between its old and
        new place move one rank."""
        old = float(self._scores[index])
        self._scores[index] = score
        self._n_nonfinite += (not math.isfinite(score)) - (not math.isfinite(old))
        if not self._keeps_order(old, score):
            self._sorted_ok = False
            self._scores_changed()
            return
        score = float(self._scores[index])
        n, order, neg, rank0 = self._n, self._order, self._neg_sorted, self._rank0
        p = int(rank0[index])
        lo = int(neg[:n].searchsorted(-score, side="left"))
        hi = int(neg[:n].searchsorted(-score, side="right"))
        # other levels with a higher score, then the tied ones with a lower index (the tie
        # group is sorted by index; level `index` itself is not below itself)
        q = lo - (old > score) + int(order[lo:hi].searchsorted(index, side="left"))
        if q != p or self.prioritization != "rank":  # rank weights depend on the ranks only
            self._scores_changed()
        if q < p:
            order[q + 1:p + 1] = order[q:p]
            neg[q + 1:p + 1] = neg[q:p]
            rank0[order[q + 1:p + 1]] += 1
        elif q > p:
            order[p:q] = order[p + 1:q + 1]
            neg[p:q] = neg[p + 1:q + 1]
            rank0[order[p:q]] -= 1
        order[q] = index
        neg[q] = -score
        rank0[index] = q

    def _append(self, score: float, last_sampled: float, max_return: float) -> None:
        """A new level at the end (it is behind every level with an equal score)."""
        n = self._n  # < capacity <= the storage's size (insert appends only below capacity)
        self._scores[n], self._last[n], self._max_returns[n] = score, last_sampled, max_return
        self._n = n + 1
        self._scores_changed()
        self._n_nonfinite += not math.isfinite(score)
        if not self._keeps_order(score):
            self._sorted_ok = False
            return
        order, neg, rank0 = self._order, self._neg_sorted, self._rank0
        q = int(neg[:n].searchsorted(-score, side="right"))
        order[q + 1:n + 1] = order[q:n]
        neg[q + 1:n + 1] = neg[q:n]
        rank0[order[q + 1:n + 1]] += 1
        order[q], neg[q], rank0[n] = n, -score, q

    # -- sampling and updates -------------------------------------------------------------
    def tick(self) -> None:
        """One more episode was sampled (new or replayed): every level grows staler."""
        self.clock += 1

    def sample(self, rng: np.random.Generator) -> int:
        """Index of a level drawn from the replay distribution; marks it freshly sampled.

        ``rng.choice(len(self), p=P)`` without its checks of P (a distribution by
        construction; the checks were half of a replay's cost at 4000 levels, issue 18):
        the same inverse-CDF draw from one uniform, so the same index and the same
        generator state (:meth:`_draw_index`)."""
        if len(self) == 0:
            raise TeachBenchError("level_buffer", "cannot replay from an empty buffer")
        self._distribution()  # P into the work array
        i = self._draw_index(rng.random())
        self._last[i] = self.clock
        return i

    def _draw_index(self, u: float) -> int:
        """``searchsorted(cumsum(P) / cumsum(P)[-1], u, side="right")``, numpy's choice,
        for the P of the latest :meth:`_distribution` (in the work array ``_work_p``).

        The running sum is sequential (16 µs over 4000 levels, the largest cost of a
        draw), so the index is first located from block sums: 64-level blocks summed at
        once, then the one block holding ``u``. Those sums differ from numpy's running sum
        by rounding only, at most ``(n + 64)·2⁻⁵³`` of the total here (sums of
        non-negative terms), so when ``u`` lies farther than 16 times that from the
        prefix sums on either side of the index found, numpy's division and search give
        that same index; otherwise (about once in 10¹⁰ draws, or P not finite) the draw is
        numpy's exactly: the running sum, divided by its last entry, searched."""
        n = self._n
        p = self._work_p[:n]
        if n > 2 * _BLOCK:
            i = self._draw_by_blocks(n, u)
            if i is not None:
                return i
        cdf = np.cumsum(p, out=self._work_cdf[:n])
        cdf /= cdf[-1]
        return int(cdf.searchsorted(u, side="right"))

    def _draw_by_blocks(self, n: int, u: float) -> int | None:
        """The index of :meth:`_draw_index` from block sums of P (in ``_work_p``), or None
        when rounding could decide it (then the caller computes numpy's running sum)."""
        p = self._work_p[:n]
        ends = np.add.reduceat(p, self._block_starts[:-(-n // _BLOCK)]).cumsum()  # P up to each block's end
        total = float(ends[-1])
        if not (math.isfinite(total) and total > 0.0):
            return None
        target = u * total
        block = int(ends.searchsorted(target, side="right"))
        if block >= ends.size:
            return None
        before = float(ends[block - 1]) if block else 0.0
        start = block * _BLOCK
        prefix = p[start:start + _BLOCK].cumsum()
        j = int(prefix.searchsorted(target - before, side="right"))
        if j >= prefix.size:
            return None
        i = start + j
        margin = 16.0 * (n + _BLOCK) * 2.0 ** -53
        if (before + float(prefix[j])) / total <= u + margin:
            return None
        if i and (before + (float(prefix[j - 1]) if j else 0.0)) / total >= u - margin:
            return None
        return i

    def update_score(self, index: int, score: float, episode_return: float | None = None) -> None:
        a = self.score_alpha
        self._set_score(index, (1.0 - a) * self._scores[index] + a * float(score))
        if episode_return is not None:
            self._max_returns[index] = max(self._max_returns[index], float(episode_return))

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
            self._append(score, float(self.clock), float(episode_return))
            self._index[key] = len(self.keys) - 1
            self.n_inserted += 1
            return len(self.keys) - 1
        victim = int(np.argmin(self._distribution()))
        if score < self._scores[victim]:
            self.n_rejected += 1
            return None
        del self._index[self.keys[victim]]
        self.keys[victim] = key
        self.tasks[victim] = dict(task)
        self._set_score(victim, score)
        self._last[victim] = float(self.clock)
        self._max_returns[victim] = float(episode_return)
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
        self._load_arrays(state["scores"], state["last_sampled"], state["max_returns"])
        self._index = {k: i for i, k in enumerate(self.keys)}
        self.n_inserted, self.n_replaced, self.n_rejected = (int(v) for v in state["counters"])
