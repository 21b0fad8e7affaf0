"""Nearest neighbour over a history that grows by one point per episode.

ALP-GMM compares every new task with its single nearest earlier task over the *whole*
history (docs/references.md#alp-gmm step 2), so the query set grows with every episode: a brute-force
scan costs O(n) per episode and O(n²) per run, and the reference rebuilt a KD-tree on
every update. Here the history lives in a growing array; a ``scipy.spatial.cKDTree`` covers
a prefix of it and is rebuilt only when the un-indexed tail reaches a fixed fraction of the
indexed part (geometric rebuilds: O(n log n) total build work), and the short tail is
scanned by brute force. ``benchmarks/bench_teachers.py`` measures it against brute force.

Exact duplicates resolve to the earliest copy, as a brute-force ``argmin`` over the
history in order would (other exact ties between distinct points are measure-zero).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


class NearestIndex:
    """Exact Euclidean 1-nearest-neighbour over an append-only point set.

    Args:
        dim: dimension of the points.
        min_tail: the tail is scanned by brute force until it holds this many points
            (default 256: below that a scan is cheaper than a tree query's overhead).
        rebuild_fraction: rebuild the tree once the tail exceeds this fraction of the
            indexed points (default 0.05; geometric growth keeps the number of rebuilds
            logarithmic once n > min_tail / rebuild_fraction).
    """

    def __init__(self, dim: int, min_tail: int = 256, rebuild_fraction: float = 0.05) -> None:
        self.dim = int(dim)
        self.min_tail = int(min_tail)
        self.rebuild_fraction = float(rebuild_fraction)
        self._data = np.empty((64, self.dim), dtype=np.float64)
        self._n = 0
        self._tree: cKDTree | None = None
        self._n_tree = 0
        self.n_rebuilds = 0

    def __len__(self) -> int:
        return self._n

    @property
    def points(self) -> np.ndarray:
        """A read-only view of the points in insertion order."""
        view = self._data[: self._n]
        view.flags.writeable = False
        return view

    def add(self, point: np.ndarray) -> None:
        if self._n == self._data.shape[0]:
            grown = np.empty((2 * self._data.shape[0], self.dim), dtype=np.float64)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n] = point
        self._n += 1
        tail = self._n - self._n_tree
        if tail > max(self.min_tail, self.rebuild_fraction * self._n_tree):
            self._tree = cKDTree(self._data[: self._n].copy())
            self._n_tree = self._n
            self.n_rebuilds += 1

    def add_batch(self, points: np.ndarray) -> None:
        """Append the rows of ``points`` in order (the same index as ``add`` row by row)."""
        for p in np.asarray(points, dtype=np.float64).reshape(-1, self.dim):
            self.add(p)

    def nearest_batch(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`nearest` for each row of ``points`` (one tree query for the batch)."""
        q = np.asarray(points, dtype=np.float64).reshape(-1, self.dim)
        if self._n == 0:
            raise IndexError("nearest_batch() on an empty NearestIndex")
        m = q.shape[0]
        best_i = np.full(m, -1, dtype=np.int64)
        best_d2 = np.full(m, np.inf)
        if self._tree is not None:
            dist, idx = self._tree.query(q, k=1)
            best_i, best_d2 = np.asarray(idx, dtype=np.int64), np.asarray(dist, dtype=np.float64) ** 2
        if self._n > self._n_tree:
            tail = self._data[self._n_tree : self._n]
            d2 = ((q[:, None, :] - tail[None, :, :]) ** 2).sum(-1)  # (m, tail)
            j = d2.argmin(1)
            dj = d2[np.arange(m), j]
            better = dj < best_d2
            best_i = np.where(better, self._n_tree + j, best_i)
            best_d2 = np.where(better, dj, best_d2)
        for r in np.flatnonzero((best_d2 == 0.0) & (best_i < self._n_tree)):
            best_i[r] = min(int(t) for t in self._tree.query_ball_point(q[r], r=0.0))
        return best_i, np.sqrt(best_d2)

    def nearest(self, point: np.ndarray) -> tuple[int, float]:
        """Index and distance of the nearest stored point (earliest on ties)."""
        if self._n == 0:
            raise IndexError("nearest() on an empty NearestIndex")
        q = np.asarray(point, dtype=np.float64)
        best_i, best_d2 = -1, np.inf
        if self._tree is not None:
            dist, idx = self._tree.query(q, k=1)
            best_i, best_d2 = int(idx), float(dist) ** 2
        if self._n > self._n_tree:
            tail = self._data[self._n_tree : self._n]
            d2 = ((tail - q) ** 2).sum(1)
            j = int(d2.argmin())
            if d2[j] < best_d2:
                best_i, best_d2 = self._n_tree + j, float(d2[j])
        if best_d2 == 0.0 and best_i < self._n_tree:
            # Exact duplicates (repeated discrete tasks): cKDTree may return any copy.
            best_i = min(int(t) for t in self._tree.query_ball_point(q, r=0.0))
        return best_i, float(np.sqrt(best_d2))
