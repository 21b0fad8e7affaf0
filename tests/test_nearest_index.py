"""ALP-GMM's nearest-neighbour index after issue 18 (a small tree over the tail): it gives
the answers of the one-tree index it replaced, on data full of exact ties (a discrete
dimension, tasks clipped to a bound), so ALP-GMM keeps the same samples and state for a
seed; and the tail it scans by brute force stays short however long the history grows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

import teachers.alp_gmm as alp_module
from envs.task_space import Dim, TaskSpace
from teachers.base import Episode
from teachers.nearest import NearestIndex


class OneTreeIndex:
    """The index as it was before issue 18: one cKDTree over a prefix, rebuilt when the
    tail exceeds max(min_tail, fraction x prefix) after an add, and the whole tail scanned;
    on a tie between the tree and the tail the tree wins, in the tail the first point."""

    def __init__(self, dim: int, min_tail: int = 256, rebuild_fraction: float = 0.05) -> None:
        self.dim, self.min_tail, self.rebuild_fraction = dim, min_tail, rebuild_fraction
        self.data = np.empty((0, dim))
        self.tree, self.n_tree = None, 0

    def __len__(self) -> int:
        return self.data.shape[0]

    def add(self, p: np.ndarray) -> None:
        self.data = np.vstack([self.data, np.asarray(p, dtype=np.float64).reshape(1, self.dim)])
        if len(self) - self.n_tree > max(self.min_tail, self.rebuild_fraction * self.n_tree):
            self.tree, self.n_tree = cKDTree(self.data.copy()), len(self)

    def add_batch(self, points: np.ndarray) -> None:
        for p in np.asarray(points, dtype=np.float64).reshape(-1, self.dim):
            self.add(p)

    def nearest_batch(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(q, dtype=np.float64).reshape(-1, self.dim)
        m = q.shape[0]
        best_i, best_d2 = np.full(m, -1), np.full(m, np.inf)
        if self.tree is not None:
            dist, idx = self.tree.query(q, k=1)
            best_i, best_d2 = np.asarray(idx), np.asarray(dist) ** 2
        if len(self) > self.n_tree:
            d2 = ((q[:, None, :] - self.data[None, self.n_tree:, :]) ** 2).sum(-1)
            j = d2.argmin(1)
            dj = d2[np.arange(m), j]
            better = dj < best_d2
            best_i, best_d2 = np.where(better, self.n_tree + j, best_i), np.where(better, dj, best_d2)
        for r in np.flatnonzero((best_d2 == 0.0) & (best_i < self.n_tree)):
            best_i[r] = min(self.tree.query_ball_point(q[r], r=0.0))
        return best_i, np.sqrt(best_d2)

    def nearest(self, p: np.ndarray) -> tuple[int, float]:
        i, d = self.nearest_batch(p)
        return int(i[0]), float(d[0])

    @property
    def points(self) -> np.ndarray:
        return self.data

    def nearest_then_add(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The definition: ``nearest(row); add(row)`` row by row (-1, inf while empty)."""
        out = []
        for p in np.asarray(points, dtype=np.float64).reshape(-1, self.dim):
            out.append(self.nearest(p) if len(self) else (-1, np.inf))
            self.add(p)
        return np.array([i for i, _ in out], dtype=np.int64), np.array([d for _, d in out])


def tied_points(rng: np.random.Generator, n: int) -> np.ndarray:
    """3-D points with many exact ties: a coordinate on a grid of 11 values, one clipped to
    [0, 1] from a wider draw (a third of the points sit on a bound), one continuous."""
    return np.column_stack([rng.integers(0, 11, n) / 10, np.clip(rng.normal(0.5, 0.6, n), 0, 1), rng.random(n)])


@pytest.mark.parametrize("min_tail,fraction", [(256, 0.05), (8, 0.3)])
def test_answers_equal_the_one_tree_index_on_tied_data(min_tail, fraction):
    rng = np.random.default_rng(0)
    ours, before = NearestIndex(3, min_tail, fraction), OneTreeIndex(3, min_tail, fraction)
    pts = tied_points(rng, 6000)
    k = 0
    while k < len(pts):
        size = int(rng.integers(1, 40))
        batch = pts[k:k + size]
        queries = np.vstack([tied_points(rng, 5), pts[rng.integers(0, k + 1, 3)]])  # some exact duplicates
        if k:
            i_ours, d_ours = ours.nearest_batch(queries)
            i_before, d_before = before.nearest_batch(queries)
            np.testing.assert_array_equal(i_ours, i_before)
            np.testing.assert_array_equal(d_ours, d_before)
            assert ours.nearest(queries[0]) == before.nearest(queries[0])
        if size % 2:
            ours.add_batch(batch)
        else:
            for p in batch:
                ours.add(p)
        before.add_batch(batch)
        k += size
    assert ours._n_tree == before.n_tree  # the large tree covers the same prefix


def test_the_scanned_tail_stays_short_as_the_history_grows():
    rng = np.random.default_rng(1)
    index = NearestIndex(3)
    for _ in range(40):
        index.add_batch(rng.random((2500, 3)))
        scanned = len(index) - max(index._n_small, index._n_tree)
        assert scanned < index.min_tail  # the rest of the tail is in the small tree
    assert len(index) - index._n_tree > index.min_tail  # at 100k points the tail itself is long
    assert index._small is not None


def test_alp_gmm_keeps_its_samples_and_state_for_a_seed(monkeypatch):
    """The same ALP-GMM run (batched path, refits in the loop) with the new index and with
    the one-tree index: identical tasks handed out and identical final state."""
    space = TaskSpace([Dim("size", 5, 15, "discrete"), Dim("density", 0.0, 0.5), Dim("distance", 0.0, 1.0)])

    def run() -> tuple[list, dict]:
        teacher = alp_module.ALPGMM(space, seed=5, fit_rate=60, max_k=4, reward_bounds=[0, 1], fit_lag=1,
                                    fit_worker="inline")
        rng = np.random.default_rng(1)
        handed = []
        for step in range(500):
            tasks = teacher.sample_batch(int(rng.integers(0, 12)))
            handed.extend(tasks)
            teacher.update_batch([Episode(task=dict(t), episode_return=float(rng.random() < 0.3) * float(rng.random()),
                                          length=10, episode_id=100 * step + i) for i, t in enumerate(tasks)])
        return handed, teacher.state_dict()

    monkeypatch.setattr(alp_module, "NearestIndex", lambda d: NearestIndex(d, min_tail=16, rebuild_fraction=0.25))
    ours = run()
    monkeypatch.setattr(alp_module, "NearestIndex", lambda d: OneTreeIndex(d, min_tail=16, rebuild_fraction=0.25))
    before = run()
    assert ours[0] == before[0]
    a, b = ours[1], before[1]
    assert a["rng"] == b["rng"] and a["counters"] == b["counters"]
    assert a["algo"]["rewards"] == b["algo"]["rewards"] and a["algo"]["window"] == b["algo"]["window"]
    assert a["algo"]["gmm"] == b["algo"]["gmm"] and a["algo"]["history"] == b["algo"]["history"]
