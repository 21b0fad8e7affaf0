"""RIAC (Baranes & Oudeyer 2009; a baseline of the ALP-GMM paper and TeachMyAgent).

The task space is split recursively into regions; each region tracks the rewards of the
tasks played in it and its absolute learning progress. Steps (REFERENCES §2, TMA settings):

1. Tasks in the TaskSpace's unit cube; a region is a box holding the ``(task, reward)``
   pairs played inside it, oldest first.
2. Region ALP = ``|mean(older half of its rewards) − mean(newer half)|``.
3. When a region holds more than ``max_region_size`` (150) points, try
   ``n_split_attempts`` (75) random splits (a random dimension, a random threshold leaving
   each child at least ``min_region_extent`` (10%) of the range on that dimension, both
   children non-empty) and keep the one maximising ``|n₁ · n₂| · |ALP₁ − ALP₂|`` (children
   that differ most in progress, weighted by how many points each holds). If no split is
   valid the region forgets its oldest point instead.
4. Sampling: with probability ``p_alp`` (0.7) a region ∝ ALP (uniform over regions if all
   are zero) and a uniform task inside it; with ``p_random`` (0.2) a uniform task; else
   (0.1) the lowest-reward task of a region (chosen ∝ ALP), perturbed by N(0, ``perturb_std``
   = 0.1 of the range) and clipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher


@dataclass
class Region:
    """A box of the unit cube and the (task, reward) pairs played in it, oldest first."""

    low: np.ndarray
    high: np.ndarray
    tasks: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)

    def contains(self, u: np.ndarray) -> bool:
        return bool(np.all(u >= self.low) and np.all(u <= self.high))

    def alp(self) -> float:
        return region_alp(self.rewards)


def region_alp(rewards: list[float] | np.ndarray) -> float:
    """|mean of the older half − mean of the newer half| (0 for fewer than 2 points)."""
    n = len(rewards)
    if n < 2:
        return 0.0
    half = n // 2
    r = np.asarray(rewards, dtype=np.float64)
    return float(abs(r[:half].mean() - r[half:].mean()))


def _masked_alp(rewards: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """:func:`region_alp` of ``rewards[mask]`` (order kept) for each row of ``masks``."""
    m = masks.astype(np.float64)
    count = m.sum(1)
    position = np.cumsum(m, axis=1) - 1.0  # index of each selected reward within its subset
    older = (position < (count // 2)[:, None]) & masks
    newer = masks & ~older
    n_old, n_new = older.sum(1), newer.sum(1)
    mean_old = (older * rewards).sum(1) / np.maximum(n_old, 1)
    mean_new = (newer * rewards).sum(1) / np.maximum(n_new, 1)
    return np.where(count >= 2, np.abs(mean_old - mean_new), 0.0)


class RIAC(Teacher):
    """Robust Intelligent Adaptive Curiosity: a region tree sampled by absolute LP.

    Args:
        task_space: the space to propose tasks from.
        seed: seed of the teacher's generator.
        max_region_size: points a region holds before it splits (150, TMA).
        n_split_attempts: random splits tried per split (75, TMA).
        min_region_extent: minimum child extent on the split dimension, as a fraction of
            the range (0.1, TMA).
        p_alp, p_random: probabilities of the ALP-region mode (0.7) and of a uniform task
            (0.2); the rest (0.1) perturbs a region's lowest-reward task.
        perturb_std: std of that perturbation in unit-cube coordinates (0.1, TMA).
    """

    name = "riac"

    def __init__(
        self,
        task_space: TaskSpace,
        seed: int = 0,
        max_region_size: int = 150,
        n_split_attempts: int = 75,
        min_region_extent: float = 0.1,
        p_alp: float = 0.7,
        p_random: float = 0.2,
        perturb_std: float = 0.1,
    ) -> None:
        super().__init__(task_space, seed)
        self.max_region_size = int(max_region_size)
        self.n_split_attempts = int(n_split_attempts)
        self.min_region_extent = float(min_region_extent)
        self.p_alp, self.p_random = float(p_alp), float(p_random)
        self.perturb_std = float(perturb_std)
        if self.max_region_size < 2:
            raise TeachBenchError("teacher.max_region_size", f"must be >= 2, got {max_region_size}")
        if not 0.0 <= self.min_region_extent < 0.5:
            raise TeachBenchError("teacher.min_region_extent", f"must be in [0, 0.5), got {min_region_extent}")
        if self.p_alp < 0 or self.p_random < 0 or self.p_alp + self.p_random > 1.0:
            raise TeachBenchError("teacher.p_alp", f"need p_alp, p_random >= 0 and sum <= 1, got {p_alp}, {p_random}")
        d = task_space.ndim
        self.regions: list[Region] = [Region(np.zeros(d), np.ones(d))]
        self.n_splits = 0
        self._reindex()

    def _reindex(self) -> None:
        """Cache region bounds and ALPs as arrays (regions change only on update/split)."""
        self._lows = np.array([r.low for r in self.regions])
        self._highs = np.array([r.high for r in self.regions])
        self._alps = np.array([r.alp() for r in self.regions])

    # -- tree maintenance ------------------------------------------------------------------
    def region_index(self, u: np.ndarray) -> int:
        """The leaf holding ``u`` (the leaves tile the cube)."""
        inside = np.all((u >= self._lows) & (u <= self._highs), axis=1)
        return int(inside.argmax())

    def _update(self, episode: Episode) -> None:
        u = self.task_space.to_unit(episode.task)
        i = self.region_index(u)
        reg = self.regions[i]
        reg.tasks.append(u)
        reg.rewards.append(float(episode.episode_return))
        if len(reg.rewards) > self.max_region_size:
            children = self.best_split(reg)
            if children is None:
                reg.tasks.pop(0)
                reg.rewards.pop(0)
            else:
                self.regions[i : i + 1] = list(children)
                self.n_splits += 1
                self._reindex()
                return
        self._alps[i] = reg.alp()

    def best_split(self, reg: Region) -> tuple[Region, Region] | None:
        """The best of ``n_split_attempts`` random valid splits, or None.

        The attempts are drawn and scored together (vectorised); an attempt on a dimension
        too narrow to leave both children ``min_region_extent`` is invalid, as is one that
        leaves a child empty.
        """
        tasks = np.asarray(reg.tasks)
        rewards = np.asarray(reg.rewards)
        n_att = self.n_split_attempts
        dims = self.rng.integers(len(reg.low), size=n_att)
        lo = reg.low[dims] + self.min_region_extent
        hi = reg.high[dims] - self.min_region_extent
        cuts = lo + self.rng.random(n_att) * (hi - lo)
        left = tasks[:, dims].T < cuts[:, None]  # (attempts, n)
        n1 = left.sum(1)
        n2 = len(rewards) - n1
        valid = (hi > lo) & (n1 > 0) & (n2 > 0)
        if not valid.any():
            return None
        quality = np.where(valid, n1 * n2 * np.abs(_masked_alp(rewards, left) - _masked_alp(rewards, ~left)), -np.inf)
        a = int(quality.argmax())
        dim, cut, left = int(dims[a]), float(cuts[a]), left[a]
        hi1, lo2 = reg.high.copy(), reg.low.copy()
        lo2[dim] = cut
        # the upper child owns the cut (left = strictly below), so the leaves tile the cube
        hi1[dim] = np.nextafter(cut, -np.inf)
        c1 = Region(reg.low.copy(), hi1, [t for t, m in zip(reg.tasks, left) if m],
                    [r for r, m in zip(reg.rewards, left) if m])
        c2 = Region(lo2, reg.high.copy(), [t for t, m in zip(reg.tasks, left) if not m],
                    [r for r, m in zip(reg.rewards, left) if not m])
        return c1, c2

    # -- sampling --------------------------------------------------------------------------
    def region_probabilities(self) -> np.ndarray:
        alps = self._alps
        total = alps.sum()
        if not total > 0.0:
            return np.full(len(self.regions), 1.0 / len(self.regions))
        return alps / total

    def _pick_region(self) -> Region:
        cdf = np.cumsum(self.region_probabilities())
        i = min(int(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right")), len(self.regions) - 1)
        return self.regions[i]

    def _sample(self) -> Task:
        mode = self.rng.random()
        if mode < self.p_alp:
            reg = self._pick_region()
            return self.task_space.from_unit(self.rng.uniform(reg.low, reg.high))
        if mode < self.p_alp + self.p_random:
            return self.task_space.sample(self.rng)
        reg = self._pick_region()
        if not reg.rewards:
            return self.task_space.sample(self.rng)
        worst = reg.tasks[int(np.argmin(reg.rewards))]
        u = worst + self.rng.normal(0.0, self.perturb_std, size=worst.shape)
        return self.task_space.from_unit(np.clip(u, 0.0, 1.0))

    # -- checkpointing and logging ---------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "regions": [
                {"low": r.low.tolist(), "high": r.high.tolist(), "tasks": [t.tolist() for t in r.tasks],
                 "rewards": list(r.rewards)}
                for r in self.regions
            ],
            "n_splits": self.n_splits,
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.regions = [
            Region(np.asarray(r["low"], dtype=np.float64), np.asarray(r["high"], dtype=np.float64),
                   [np.asarray(t, dtype=np.float64) for t in r["tasks"]], [float(v) for v in r["rewards"]])
            for r in state["regions"]
        ]
        self.n_splits = int(state["n_splits"])
        self._reindex()

    def _diagnostics(self) -> dict[str, Any]:
        alps = self._alps
        return {"n_regions": len(self.regions), "n_splits": self.n_splits, "mean_alp": float(np.mean(alps)),
                "max_alp": float(np.max(alps))}
