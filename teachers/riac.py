"""RIAC (Baranes & Oudeyer 2009; a baseline of the ALP-GMM paper and TeachMyAgent).

The task space is split recursively into a tree of regions; each region keeps the rewards
of the tasks played inside it and its absolute learning progress (ALP). This module follows
the released TeachMyAgent code (TMA, ``TeachMyAgent/teachers/algos/riac.py``), whose
settings docs/references.md#riac lists; it reproduces TMA's sampling behaviour, released quirks
included (marked *TMA quirk* below), because the published numbers came from that code.

1. Tasks live in the TaskSpace's unit cube. A region is a box and the ``(task, reward)``
   pairs played inside it, oldest first. A new pair is added to **every** region whose
   (closed) box holds the task, from the root down to the leaf: parents keep collecting
   points after they split. A region keeps at most ``max_region_size + 1`` pairs, dropping
   the oldest (TMA's bounded deques), except a region that has once discarded (step 4):
   *TMA quirk*, rebuilding its deques drops their bound, so from then on that region keeps
   every pair it receives (its ALP still reads only the newest window).
2. Region ALP, recomputed for the regions that just received a pair: over the newest
   ``w = min(n, max_region_size)`` rewards, ``|mean(older part) − mean(newer half)|``
   where the newer half is the newest ``⌊w/2⌋`` rewards and the older part the rest of
   the window (so for odd ``w`` the older part has one more reward); 0 for ``n <= 2``.
3. When a **leaf** holds more than ``max_region_size`` (150) pairs, try
   ``n_split_attempts`` (75) random splits. Each attempt draws a dimension and a threshold
   uniform over the region, redrawn until both children hold at least
   ``min_region_size`` pairs (default ``max_region_size / 20``; the lower child holds the
   tasks ``<=`` the threshold); it is *valid* if both children span at least
   ``min_region_extent`` (10%) of the range on every dimension. Of the valid attempts the
   one maximising ``|ALP₁ − ALP₂|`` wins (ties: the latest). *TMA quirk*: the released
   score multiplies this by ``len(child₁) · len(child₂)`` where each child is the
   two-item list ``[rewards, tasks]``, i.e. by the constant 4, not by the children's
   populations. *TMA quirk*: the two new leaves start with the ALPs of the **last**
   attempt, not of the winning one, and keep them until they next receive a pair.
4. If no attempt is valid, the leaf discards its oldest ``⌊max_region_size ·
   discard_ratio⌋`` (37) pairs (at least one here, so that a tiny region always makes
   room; TMA would then fail its own assertion).
5. Sampling, among **all** regions (parents included; ``sampling_in_leaves_only`` restricts
   it to leaves, TMA's option, off by default as in TMA): with probability
   ``1 − p_alp − p_random`` (0.1) the lowest-reward task of a region (chosen ∝ ALP) is
   perturbed by N(0, ``perturb_std`` = 0.1) and clipped into that region (1e-5 inside
   its faces; units below); with ``p_random`` (0.2) a uniform task; else (``p_alp``,
   0.7) a region ∝ ALP (uniform over regions if every ALP is 0) and a uniform task
   inside it. A region's lowest reward is its oldest one on ties (``argmin``).

Deviations from the released code. Two change nothing where TMA terminates: the threshold
draw conditioned on the children's populations is sampled exactly (a dimension with
probability ∝ the share of its extent where both children are populated enough, then a
uniform threshold there) instead of by rejection, and where no threshold can populate both
children (e.g. every pair on the same task) the round counts as invalid (step 4) where
TMA's rejection loop never ends. As in TMA, a task played exactly on a threshold joins
both children (closed boxes); TMA would assert if that filled two leaves at once, here both
are handled. Units: TMA perturbs and clips in the env's own parameter units (std 0.1,
margin 1e-5 on every dimension; on stump tracks [0, 3] × [0, 6] the std is 1/30 and 1/60 of
the ranges). ``perturb_std`` as a mapping ``{dimension: std}`` is that rule, and the
``tma_*`` experiments (stump challenges, Parkour, hexagon tracks) give it in
``configs/per_teacher/``; a plain number (the default, 0.1) is a std in unit-cube
coordinates, the same on the simulated student's unit square and meaningful on envs whose
units differ in scale (the gridworld's integer size, the web forms' rates), which TMA never
ran. Every other rule works in the unit cube with no difference: the 10 % minimum extent
is a share of each range in TMA too, and the ALP does not see the task's units. Returns
are raw, as in TMA's benchmark (no ``--scale_reward``).

Settings. The defaults are TMA's benchmark (``run_utils/teacher_args_handler.py``: 150
pairs, 75 attempts, extent ratio 0.1; the class's own defaults, 200 / 50 / 1/6, are not
what it ran). teachDeepRL's RIAC, the ALP-GMM paper's, is the same algorithm with the
constructor defaults 200 pairs, 50 attempts and extent ratio 1/15; its toy-env comparison
ran those, and our simulated-student track runs TMA's settings instead (one RIAC per
track, the benchmark's). Audited against the reference in ``tests/test_riac_reference.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher

# TMA clips a perturbed task this far inside its region's faces, so that it does not fall
# on a face shared by two regions.
CLIP_MARGIN = 1e-5


@dataclass
class Region:
    """A node of the region tree: a box of the unit cube and the (task, reward) pairs
    played in it, oldest first.

    ``alp`` is the cached ALP the sampler reads: the reference recomputes it only when the
    region receives a pair, so a new leaf carries the value it was created with until then.
    ``dim``: the dimension its parent was cut on (-1 for the root).
    ``capped``: whether the region drops pairs beyond ``max_region_size + 1`` (False once
    it has discarded, TMA's unbounded rebuilt deques).
    """

    low: np.ndarray
    high: np.ndarray
    tasks: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    parent: int = -1
    dim: int = -1
    alp: float = 0.0
    capped: bool = True
    children: list[int] = field(default_factory=list)

    def contains(self, u: np.ndarray) -> bool:
        """Closed-box membership, as the reference's ``Box.contains``."""
        return bool(np.all(u >= self.low) and np.all(u <= self.high))

    @property
    def is_leaf(self) -> bool:
        return not self.children

    @cached_property
    def cut(self) -> tuple[float, float]:
        """``(low, high)`` on the dimension its parent was cut on, as Python floats: inside the
        parent only that dimension can exclude a point (:meth:`RIAC.path`'s hot test)."""
        return float(self.low[self.dim]), float(self.high[self.dim])


def region_alp(rewards: list[float] | np.ndarray, window: int | None = None) -> float:
    """TMA's region ALP: over the newest ``w = min(n, window)`` rewards,
    ``|mean(all but the newest ⌊w/2⌋) − mean(newest ⌊w/2⌋)|``; 0 for ``n <= 2``."""
    n = len(rewards)
    if n <= 2:
        return 0.0
    w = n if window is None else min(n, int(window))
    half = w // 2
    # slice first: a region may keep every pair; a region's rewards are already Python floats
    # (the per-element float() of an array's values is .tolist()), summed left to right as before
    r = rewards[n - w :]
    r = r.tolist() if isinstance(r, np.ndarray) else r
    return abs(sum(r[: w - half]) / (w - half) - sum(r[w - half :]) / half)


def _masked_alp(rewards: np.ndarray, masks: np.ndarray, window: int | None = None) -> np.ndarray:
    """:func:`region_alp` of ``rewards[mask]`` (order kept) for each row of ``masks``,
    vectorised over the split attempts."""
    m = masks.astype(np.float64)
    count = m.sum(1)
    w = count if window is None else np.minimum(count, float(window))
    half = w // 2
    position = np.cumsum(m, axis=1) - 1.0  # index of each selected reward within its subset
    newer = masks & (position >= (count - half)[:, None])
    older = masks & (position >= (count - w)[:, None]) & ~newer
    n_old, n_new = older.sum(1), newer.sum(1)
    mean_old = (older * rewards).sum(1) / np.maximum(n_old, 1)
    mean_new = (newer * rewards).sum(1) / np.maximum(n_new, 1)
    return np.where(count > 2, np.abs(mean_old - mean_new), 0.0)


class RIAC(Teacher):
    """Robust Intelligent Adaptive Curiosity: a region tree sampled by absolute LP, as
    released in TeachMyAgent (module docstring for the steps and the reference's quirks).

    Args:
        task_space: the space to propose tasks from.
        seed: seed of the teacher's generator.
        max_region_size: pairs a leaf holds before it tries to split, and the ALP window
            (150, TMA).
        n_split_attempts: random splits tried per split (75, TMA).
        min_region_extent: minimum child extent on every dimension, as a fraction of the
            range (0.1, TMA's ``min_dims_range_ratio``).
        p_alp, p_random: probabilities of the ALP-region mode (0.7) and of a uniform task
            (0.2); the rest (0.1) perturbs a region's lowest-reward task.
        perturb_std: std of that perturbation: a number is in unit-cube coordinates (0.1,
            clip margin ``CLIP_MARGIN``); a mapping ``{dimension: std}`` is in the env's own
            units, as is the margin (TMA's rule: 0.1 and 1e-5 per dimension, which the
            ``tma_*`` experiments give in ``configs/per_teacher/``).
        min_region_size: pairs each child must hold for a split threshold to be drawn;
            None: ``max_region_size / 20`` (TMA's default, 7.5, i.e. 8 pairs).
        discard_ratio: share of ``max_region_size`` a leaf forgets (oldest first) when no
            split is valid (1/4, TMA).
        sampling_in_leaves_only: sample among leaves only (TMA's option; False in TMA).
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
        perturb_std: float | Mapping[str, float] = 0.1,
        min_region_size: float | None = None,
        discard_ratio: float = 0.25,
        sampling_in_leaves_only: bool = False,
    ) -> None:
        super().__init__(task_space, seed)
        self.max_region_size = int(max_region_size)
        self.n_split_attempts = int(n_split_attempts)
        self.min_region_extent = float(min_region_extent)
        self.p_alp, self.p_random = float(p_alp), float(p_random)
        self.perturb_std = perturb_std if isinstance(perturb_std, Mapping) else float(perturb_std)
        self._std, self._margin = self._unit_perturbation(task_space, perturb_std)
        self.min_region_size = self.max_region_size / 20 if min_region_size is None else float(min_region_size)
        self.discard_ratio = float(discard_ratio)
        self.sampling_in_leaves_only = bool(sampling_in_leaves_only)
        if self.max_region_size < 2:
            raise TeachBenchError("teacher.max_region_size", f"must be >= 2, got {max_region_size}")
        if self.n_split_attempts < 1:
            raise TeachBenchError("teacher.n_split_attempts", f"must be >= 1, got {n_split_attempts}")
        if not 0.0 <= self.min_region_extent < 0.5:
            raise TeachBenchError("teacher.min_region_extent", f"must be in [0, 0.5), got {min_region_extent}")
        if not 0.0 <= self.min_region_size:
            raise TeachBenchError("teacher.min_region_size", f"must be >= 0, got {min_region_size}")
        if not 0.0 <= self.discard_ratio <= 1.0:
            raise TeachBenchError("teacher.discard_ratio", f"must be in [0, 1], got {discard_ratio}")
        if self.p_alp < 0 or self.p_random < 0 or self.p_alp + self.p_random > 1.0:
            raise TeachBenchError("teacher.p_alp", f"need p_alp, p_random >= 0 and sum <= 1, got {p_alp}, {p_random}")
        d = task_space.ndim
        self.regions: list[Region] = [Region(np.zeros(d), np.ones(d))]
        self.n_splits = 0
        self.n_discards = 0
        self._reindex()

    @staticmethod
    def _unit_perturbation(task_space: TaskSpace,
                           perturb_std: float | Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """The perturbation's std and clip margin per dimension in the unit cube: a number is
        a std in unit-cube coordinates with the margin ``CLIP_MARGIN`` there; a mapping
        ``{dimension: std}`` is in the env's own units, and so is the margin (TMA's rule)."""
        d = task_space.ndim
        if isinstance(perturb_std, Mapping):
            names = list(task_space.names)
            if set(perturb_std) != set(names):
                raise TeachBenchError("teacher.perturb_std", "a mapping needs one std (env units) per task "
                                      f"dimension, got {sorted(perturb_std)}", names)
            span = np.asarray(task_space.high, dtype=np.float64) - np.asarray(task_space.low, dtype=np.float64)
            if not np.all(span > 0):
                raise TeachBenchError("teacher.perturb_std", "env-unit stds need every dimension to have a range")
            std = np.array([float(perturb_std[n]) for n in names]) / span
            if not np.all(np.isfinite(std) & (std >= 0)):
                raise TeachBenchError("teacher.perturb_std", f"every std must be >= 0, got {dict(perturb_std)}")
            return std, CLIP_MARGIN / span
        if not (math.isfinite(float(perturb_std)) and float(perturb_std) >= 0):
            raise TeachBenchError("teacher.perturb_std", f"must be >= 0, got {perturb_std}")
        return np.full(d, float(perturb_std)), np.full(d, CLIP_MARGIN)

    def _reindex(self) -> None:
        """Cache which regions are sampled and their ALPs as an array (the set changes only
        on a split; :meth:`_update` refreshes the ALPs it recomputes)."""
        self._sampled = np.array([i for i, r in enumerate(self.regions)
                                  if r.is_leaf or not self.sampling_in_leaves_only], dtype=np.int64)
        self._position = {int(i): k for k, i in enumerate(self._sampled)}
        self._alps = np.array([self.regions[i].alp for i in self._sampled], dtype=np.float64)

    # -- tree maintenance ------------------------------------------------------------------
    def path(self, u: np.ndarray) -> list[int]:
        """Every region whose closed box holds ``u``, root first (the reference's recursive
        insertion: a task on a threshold lies in both children)."""
        regions = self.regions
        if not regions[0].contains(u):
            return []
        x = u.tolist()  # the same float64 values, compared as Python floats
        out, stack = [], [0]
        while stack:
            i = stack.pop()
            out.append(i)
            for c in reversed(regions[i].children):
                child = regions[c]  # inside the parent, so only the cut dimension can exclude u
                low, high = child.cut
                if low <= x[child.dim] <= high:
                    stack.append(c)
        return out

    def leaf_index(self, u: np.ndarray) -> int:
        """The (first) leaf holding ``u``."""
        return next(i for i in self.path(u) if self.regions[i].is_leaf)

    def _update(self, episode: Episode) -> None:
        self._insert(self.task_space.to_unit(episode.task), float(episode.episode_return))

    def _update_batch(self, episodes: Sequence[Episode]) -> None:
        """:meth:`_update` for a batch (the bridge's one call per vector step at 1024 envs): the
        tasks go to the unit cube in one array op, then each pair is inserted in order, so the
        tree is exactly the one the same episodes leave one at a time (tested)."""
        units = self.task_space.to_unit_batch([e.task for e in episodes])  # tasks validated on entry
        for u, e in zip(units, episodes):
            self._insert(u, float(e.episode_return))

    def _insert(self, u: np.ndarray, r: float) -> None:
        """One (unit task, reward) pair into every region holding it; splits and ALPs as the
        reference updates them."""
        cap = self.max_region_size + 1
        touched = self.path(u)
        full = []
        for i in touched:
            reg = self.regions[i]
            reg.tasks.append(u)
            reg.rewards.append(r)
            if reg.capped and len(reg.rewards) > cap:  # a bounded deque drops its oldest pair
                del reg.tasks[: len(reg.tasks) - cap], reg.rewards[: len(reg.rewards) - cap]
            if reg.is_leaf and len(reg.rewards) > self.max_region_size:
                full.append(i)
        n_before = len(self.regions)
        for i in full:
            self._split_or_discard(i)
        # as in the reference, only the regions that received the pair are recomputed; new
        # leaves keep the ALPs they were created with
        for i in touched:
            self.regions[i].alp = region_alp(self.regions[i].rewards, self.max_region_size)
        if len(self.regions) != n_before:
            self._reindex()
        else:
            for i in touched:
                k = self._position.get(i)
                if k is not None:
                    self._alps[k] = self.regions[i].alp

    def _split_or_discard(self, i: int) -> None:
        reg = self.regions[i]
        split = self.best_split(reg)
        if split is None:
            k = max(1, int(self.max_region_size * self.discard_ratio))
            del reg.tasks[:k], reg.rewards[:k]
            reg.capped = False  # TMA rebuilds the deques without their bound
            self.n_discards += 1
            return
        children, dim = split[:2], split[2]
        for child in children:
            child.parent, child.dim = i, dim
            reg.children.append(len(self.regions))
            self.regions.append(child)
        self.n_splits += 1

    def _threshold_ranges(self, reg: Region, tasks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per dimension, the interval ``[start, start + length)`` of thresholds that leave
        both children at least ``min_region_size`` pairs (children: ``x <= t`` / ``x > t``)."""
        n = len(tasks)
        m = math.ceil(self.min_region_size)
        if m <= 0:
            return reg.low.copy(), reg.high - reg.low
        if 2 * m > n:
            return reg.low.copy(), np.zeros_like(reg.low)
        s = np.sort(tasks, axis=0)
        # count(x <= t) >= m  <=>  t >= x_(m);  count(x > t) >= m  <=>  t < x_(n-m+1)
        start = np.maximum(s[m - 1], reg.low)
        end = np.minimum(s[n - m], reg.high)
        return start, np.maximum(end - start, 0.0)

    def best_split(self, reg: Region) -> tuple[Region, Region, int] | None:
        """The reference's split of a full leaf (the two children and the cut dimension),
        or None if no attempt is valid.

        Each attempt is a threshold drawn uniformly over the region conditioned on both
        children holding ``min_region_size`` pairs (sampled exactly: a dimension ∝ the
        share of its extent where that holds, then a uniform threshold there); it is
        valid if both children span ``min_region_extent`` on every dimension. Quality
        ``|ALP₁ − ALP₂|`` (TMA's constant factor 4 dropped), ties to the latest attempt;
        the children start with the ALPs of the last attempt (module docstring, step 3).
        """
        tasks = np.asarray(reg.tasks)
        rewards = np.asarray(reg.rewards, dtype=np.float64)
        extent = reg.high - reg.low
        start, length = self._threshold_ranges(reg, tasks)
        weight = np.where(extent > 0, length / np.where(extent > 0, extent, 1.0), 0.0)
        if not weight.sum() > 0.0:
            return None  # no threshold populates both children: TMA's rejection loop never ends
        n_att = self.n_split_attempts
        dims = self.rng.choice(len(weight), size=n_att, p=weight / weight.sum())
        cuts = start[dims] + self.rng.random(n_att) * length[dims]
        left = tasks[:, dims].T <= cuts[:, None]  # (attempts, n): the lower child owns its upper face
        alp1 = _masked_alp(rewards, left, self.max_region_size)
        alp2 = _masked_alp(rewards, ~left, self.max_region_size)
        ratio = self.min_region_extent
        valid = ((cuts - reg.low[dims] >= ratio) & (reg.high[dims] - cuts >= ratio)
                 & bool(np.all(extent >= ratio)))
        if not valid.any():
            return None
        quality = np.where(valid, np.abs(alp1 - alp2), -np.inf)
        a = int(n_att - 1 - np.argmax(quality[::-1]))  # the latest of the best
        dim, cut, mask = int(dims[a]), float(cuts[a]), left[a]
        hi1, lo2 = reg.high.copy(), reg.low.copy()
        hi1[dim] = lo2[dim] = cut
        c1 = Region(reg.low.copy(), hi1, [t for t, k in zip(reg.tasks, mask) if k],
                    [r for r, k in zip(reg.rewards, mask) if k], alp=float(alp1[-1]))
        c2 = Region(lo2, reg.high.copy(), [t for t, k in zip(reg.tasks, mask) if not k],
                    [r for r, k in zip(reg.rewards, mask) if not k], alp=float(alp2[-1]))
        return c1, c2, dim

    # -- sampling --------------------------------------------------------------------------
    def region_probabilities(self) -> np.ndarray:
        """Probability of each sampled region (``sampled_regions``' order): ∝ ALP, uniform
        if all are 0."""
        alps = self._alps
        total = alps.sum()
        if not total > 0.0:
            return np.full(len(alps), 1.0 / len(alps))
        return alps / total

    @property
    def sampled_regions(self) -> list[int]:
        """Indices into ``regions`` of the regions the sampler chooses among."""
        return [int(i) for i in self._sampled]

    def _pick_region(self) -> Region:
        cdf = np.cumsum(self.region_probabilities())
        k = min(int(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right")), len(cdf) - 1)
        return self.regions[int(self._sampled[k])]

    def _sample(self) -> Task:
        mode = self.rng.random()
        p_perturb = 1.0 - self.p_alp - self.p_random
        if mode < p_perturb:
            reg = self._pick_region()
            if not reg.rewards:  # only before the first update (TMA: the first sample)
                return self.task_space.sample(self.rng)
            worst = reg.tasks[int(np.argmin(reg.rewards))]
            u = self.rng.normal(worst, self._std)
            lo, hi = reg.low + self._margin, reg.high - self._margin
            mid = (reg.low + reg.high) / 2
            lo, hi = np.where(lo <= hi, lo, mid), np.where(lo <= hi, hi, mid)
            return self.task_space.from_unit(np.clip(np.clip(u, lo, hi), 0.0, 1.0))
        if mode < p_perturb + self.p_random:
            return self.task_space.sample(self.rng)
        reg = self._pick_region()
        return self.task_space.from_unit(self.rng.uniform(reg.low, reg.high))

    def _sample_batch(self, n: int) -> list[Task]:
        """``n`` draws of :meth:`_sample` at once (issue 18: a 1024-env step hands out
        several tasks, and one draw cost tens of µs of NumPy calls). Each task is drawn as
        in :meth:`_sample` (the mode, then a region ∝ ALP, then the task), but the random
        stream is consumed a mode, a region and a draw at a time for the whole batch, so
        the tasks differ from ``n`` calls of :meth:`_sample` while their distribution is
        the same (tested)."""
        p_perturb = 1.0 - self.p_alp - self.p_random
        mode = self.rng.random(n)
        perturb = mode < p_perturb
        uniform = ~perturb & (mode < p_perturb + self.p_random)
        in_region = ~uniform  # perturb or ALP mode: both pick a region first
        cdf = np.cumsum(self.region_probabilities())
        picks = np.minimum(np.searchsorted(cdf, self.rng.random(int(in_region.sum())) * cdf[-1], side="right"),
                           len(cdf) - 1)
        region = np.full(n, -1, dtype=np.int64)
        region[in_region] = self._sampled[picks]
        out: list[Task | None] = [None] * n
        for i, task in zip(np.flatnonzero(uniform), self.task_space.sample_batch(self.rng, int(uniform.sum()))):
            out[i] = task
        alp_rows = np.flatnonzero(in_region & ~perturb)
        if alp_rows.size:
            low = np.array([self.regions[r].low for r in region[alp_rows]])
            high = np.array([self.regions[r].high for r in region[alp_rows]])
            for i, task in zip(alp_rows, self.task_space.from_unit_batch(self.rng.uniform(low, high))):
                out[i] = task
        rows = [int(i) for i in np.flatnonzero(perturb)]
        empty = [i for i in rows if not self.regions[region[i]].rewards]  # only before the first update
        for i, task in zip(empty, self.task_space.sample_batch(self.rng, len(empty))):
            out[i] = task
        rows = [i for i in rows if self.regions[region[i]].rewards]
        if rows:
            regs = [self.regions[region[i]] for i in rows]
            worst = np.array([reg.tasks[int(np.argmin(reg.rewards))] for reg in regs])
            u = self.rng.normal(worst, self._std)
            low = np.array([reg.low for reg in regs])
            high = np.array([reg.high for reg in regs])
            lo, hi = low + self._margin, high - self._margin
            mid = (low + high) / 2
            lo, hi = np.where(lo <= hi, lo, mid), np.where(lo <= hi, hi, mid)
            for i, task in zip(rows, self.task_space.from_unit_batch(np.clip(np.clip(u, lo, hi), 0.0, 1.0))):
                out[i] = task
        return out  # type: ignore[return-value]

    # -- checkpointing and logging ---------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "nodes": [
                {"low": r.low.tolist(), "high": r.high.tolist(), "tasks": [t.tolist() for t in r.tasks],
                 "rewards": list(r.rewards), "parent": r.parent, "dim": r.dim, "alp": r.alp, "capped": r.capped}
                for r in self.regions
            ],
            "n_splits": self.n_splits,
            "n_discards": self.n_discards,
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        if "nodes" not in state:
            raise TeachBenchError("teacher.state", "checkpoint of the former leaf-only RIAC, which samples "
                                  "differently: restart the run")
        self.regions = [
            Region(np.asarray(r["low"], dtype=np.float64), np.asarray(r["high"], dtype=np.float64),
                   [np.asarray(t, dtype=np.float64) for t in r["tasks"]], [float(v) for v in r["rewards"]],
                   parent=int(r["parent"]), dim=int(r["dim"]), alp=float(r["alp"]), capped=bool(r["capped"]))
            for r in state["nodes"]
        ]
        for i, r in enumerate(self.regions):  # nodes are stored in creation order
            if r.parent >= 0:
                self.regions[r.parent].children.append(i)
        self.n_splits = int(state["n_splits"])
        self.n_discards = int(state["n_discards"])
        self._reindex()

    def _diagnostics(self) -> dict[str, Any]:
        alps = self._alps
        return {"n_regions": len(self._sampled), "n_leaves": sum(r.is_leaf for r in self.regions),
                "n_splits": self.n_splits, "n_discards": self.n_discards, "mean_alp": float(np.mean(alps)),
                "max_alp": float(np.max(alps))}
