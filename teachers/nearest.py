"""Nearest neighbour over a history that grows by one point per episode.

ALP-GMM compares every new task with its single nearest earlier task over the *whole*
history (docs/references.md#alp-gmm step 2), so the query set grows with every episode: a brute-force
scan costs O(n) per episode and O(n²) per run, and the reference rebuilt a KD-tree on
every update. Here the history lives in a growing array; a ``scipy.spatial.cKDTree`` covers
a prefix of it and is rebuilt only when the un-indexed tail reaches a fixed fraction of the
indexed part (geometric rebuilds: O(n log n) total build work), and the tail is searched
exactly as a brute-force scan of it would (``benchmarks/bench_teachers.py`` measures the
index against brute force).

The tail grows with the history (5% of it: 5,000 points at 100k episodes, a long
1024-env run), so scanning it became ALP-GMM's largest per-step cost at GPU scale
(issue 18). It is now covered by a second, small tree, rebuilt every ``min_tail`` points,
plus a scan of the < ``min_tail`` newest points; a ball query around the small tree's
answer recovers every point at the same distance, so the tail's answer is the scan's:
the first point of minimal (NumPy-computed) squared distance. The large tree's
partition and rebuild points are those of adding the points one at a time, so every
answer is the same as before the small tree existed.

Ties: exact duplicates resolve to the earliest copy, as a brute-force ``argmin`` over the
history in order would. Exact ties between *distinct* points are not rare: a discrete
dimension or a task clipped to a bound puts several points at exactly the same distance
(a 3-way tie turned up within 5,000 gridworld tasks). Inside the large tree cKDTree
picks one of them, and on a tie between the tree and the tail the tree's point wins.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree


class NearestIndex:
    """Exact Euclidean 1-nearest-neighbour over an append-only point set.

    Args:
        dim: dimension of the points.
        min_tail: the large tree is not rebuilt while the tail holds at most this many
            points (default 256: below that a scan is cheaper than a tree query's
            overhead); the small tree over the tail is rebuilt every ``min_tail`` points.
        rebuild_fraction: rebuild the large tree once the tail exceeds this fraction of the
            indexed points (default 0.05; geometric growth keeps the number of rebuilds
            logarithmic once n > min_tail / rebuild_fraction).
    """

    def __init__(self, dim: int, min_tail: int = 256, rebuild_fraction: float = 0.05) -> None:
        self.dim = int(dim)
        self.min_tail = int(min_tail)
        self.rebuild_fraction = float(rebuild_fraction)
        self._data = np.empty((64, self.dim), dtype=np.float64)
        self._n = 0
        self._tree: cKDTree | None = None  # points [0, _n_tree)
        self._n_tree = 0
        self._small: cKDTree | None = None  # points [_n_tree, _n_small) of the tail
        self._n_small = 0
        self.n_rebuilds = 0  # of the large tree

    def __len__(self) -> int:
        return self._n

    @property
    def points(self) -> np.ndarray:
        """A read-only view of the points in insertion order."""
        view = self._data[: self._n]
        view.flags.writeable = False
        return view

    def add(self, point: np.ndarray) -> None:
        self.add_batch(np.asarray(point, dtype=np.float64).reshape(1, self.dim))

    def add_batch(self, points: np.ndarray) -> None:
        """Append the rows of ``points`` in order: the same index as ``add`` row by row."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, self.dim)
        need = self._n + pts.shape[0]
        if need > self._data.shape[0]:
            grown = np.empty((max(need, 2 * self._data.shape[0]), self.dim), dtype=np.float64)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : need] = pts
        self._n = need
        # The large tree is rebuilt at each point where adding one at a time would have
        # rebuilt it: the first n with n - n_tree > max(min_tail, fraction * n_tree).
        while True:
            at = self._n_tree + math.floor(max(self.min_tail, self.rebuild_fraction * self._n_tree)) + 1
            if at > self._n:
                break
            self._tree = cKDTree(self._data[:at].copy())
            self._n_tree = self._n_small = at
            self._small = None
            self.n_rebuilds += 1
        if self._n - max(self._n_small, self._n_tree) >= self.min_tail:
            self._small = cKDTree(self._data[self._n_tree : self._n].copy())
            self._n_small = self._n

    def _tail_nearest(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row of ``q``: the tail point a scan of the whole tail picks (the first of
        minimal squared distance, computed with NumPy) and that squared distance."""
        m = q.shape[0]
        start = self._n_tree
        if self._small is not None and self._n_small > self._n_tree:
            dist, idx = self._small.query(q, k=2)
            # every point within the answer's distance (plus rounding slack): the scan's
            # pick is among them, whatever distance cKDTree computed for each
            radius = dist[:, 0] * (1.0 + 1e-9) + 1e-300
            # a second-nearest point clearly outside that radius (the common case) leaves the
            # nearest one as the only candidate: no ball query needed for that row (the floor
            # keeps squared distances that underflow to 0 on the ball-query path)
            alone = dist[:, 1] > np.maximum(radius * (1.0 + 1e-6), 1e-150)
            best_i = idx[:, 0].astype(np.int64) + self._n_tree
            best_d2 = ((self._data[best_i] - q) ** 2).sum(1)
            if not alone.all():
                for r in np.flatnonzero(~alone).tolist():
                    found = self._small.query_ball_point(q[r], r=radius[r])
                    cand = np.array(sorted(found) or [int(idx[r, 0])], dtype=np.int64) + self._n_tree
                    d2 = ((self._data[cand] - q[r]) ** 2).sum(1)
                    j = int(d2.argmin())
                    best_i[r], best_d2[r] = cand[j], d2[j]
            start = self._n_small
        else:
            best_i, best_d2 = np.full(m, -1, dtype=np.int64), np.full(m, np.inf)
        if self._n > start:
            tail = self._data[start : self._n]
            d2 = ((q[:, None, :] - tail[None, :, :]) ** 2).sum(-1)  # (m, newest points)
            j = d2.argmin(1)
            dj = d2.min(1)
            better = dj < best_d2  # on equal distances the earlier (small-tree) point stays
            best_i = np.where(better, start + j, best_i)
            best_d2 = np.where(better, dj, best_d2)
        return best_i, best_d2

    def nearest_batch(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`nearest` for each row of ``points`` (one query per part for the batch)."""
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
            j, dj = self._tail_nearest(q)
            better = dj < best_d2
            best_i = np.where(better, j, best_i)
            best_d2 = np.where(better, dj, best_d2)
        for r in np.flatnonzero((best_d2 == 0.0) & (best_i < self._n_tree)):
            # Exact duplicates (repeated discrete tasks): cKDTree may return any copy.
            best_i[r] = min(int(t) for t in self._tree.query_ball_point(q[r], r=0.0))  # type: ignore[union-attr]
        return best_i, np.sqrt(best_d2)

    def nearest_then_add(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each row in order: :meth:`nearest` among the stored points *and the earlier
        rows* (index -1, distance inf while the index is empty), then the row is added:
        exactly the answers of ``nearest(row); add(row)`` row by row, ties included.

        Why it is exact: between two rebuilds of the large tree its answer is fixed, and the
        tail's answer is the first point of minimal squared distance over everything after
        the tree (stored tail, then earlier rows), whatever part the small tree covers. So
        the batch is cut where adding would rebuild the large tree, and in each piece one
        tree query, one tail query and the rows' pairwise distances give every answer,
        combined with :meth:`nearest`'s rules (strictly closer tail beats the tree; exact
        duplicates in the tree resolve to the earliest copy)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, self.dim)
        m = pts.shape[0]
        parts_i, parts_d2 = [], []
        s = 0
        while s < m:
            at = self._n_tree + math.floor(max(self.min_tail, self.rebuild_fraction * self._n_tree)) + 1
            e = min(m, s + at - self._n)  # adding row e-1 is what would rebuild the large tree
            q = pts[s:e]
            k = e - s
            # tail: stored tail first (earlier), then the piece's own earlier rows
            if self._n > self._n_tree:
                best_i, best_d2 = self._tail_nearest(q)
            else:
                best_i, best_d2 = np.full(k, -1, dtype=np.int64), np.full(k, np.inf)
            if k > 1:
                d2_in = ((q[:, None, :] - q[None, :, :]) ** 2).sum(-1)
                d2_in[_not_before(k)] = np.inf  # only rows before this one
                j = d2_in.argmin(1)
                dj = d2_in.min(1)
                better = dj < best_d2  # on equal distances the stored (earlier) point stays
                best_i = np.where(better, self._n + j, best_i)
                best_d2 = np.where(better, dj, best_d2)
            if self._tree is not None:
                dist, idx = self._tree.query(q, k=1)
                tree_d2 = np.asarray(dist, dtype=np.float64) ** 2
                better = best_d2 < tree_d2  # the tail wins only when strictly closer
                best_i = np.where(better, best_i, np.asarray(idx, dtype=np.int64))
                best_d2 = np.where(better, best_d2, tree_d2)
                if not best_d2.all():  # some distance is 0: an exact duplicate
                    for r in np.flatnonzero((best_d2 == 0.0) & (best_i < self._n_tree)).tolist():
                        best_i[r] = min(int(t) for t in self._tree.query_ball_point(q[r], r=0.0))
            parts_i.append(best_i)
            parts_d2.append(best_d2)
            self.add_batch(q)
            s = e
        if len(parts_i) != 1:
            if not parts_i:
                return np.empty(0, dtype=np.int64), np.empty(0)
            return np.concatenate(parts_i), np.sqrt(np.concatenate(parts_d2))
        return parts_i[0], np.sqrt(parts_d2[0])

    def nearest(self, point: np.ndarray) -> tuple[int, float]:
        """Index and distance of the nearest stored point (earliest on exact duplicates)."""
        if self._n == 0:
            raise IndexError("nearest() on an empty NearestIndex")
        q = np.asarray(point, dtype=np.float64).reshape(self.dim)
        best_i, best_d2 = -1, np.inf
        if self._tree is not None:
            dist, idx = self._tree.query(q, k=1)
            best_i, best_d2 = int(idx), float(dist) ** 2
        if self._n > self._n_tree:
            if self._small is None and self._n - self._n_tree <= 64:  # short tail: a plain scan
                d2 = ((self._data[self._n_tree : self._n] - q) ** 2).sum(1)
                j, dj = self._n_tree + int(d2.argmin()), float(d2.min())
            else:
                jj, dd = self._tail_nearest(q.reshape(1, self.dim))
                j, dj = int(jj[0]), float(dd[0])
            if dj < best_d2:
                best_i, best_d2 = j, dj
        if best_d2 == 0.0 and best_i < self._n_tree:
            best_i = min(int(t) for t in self._tree.query_ball_point(q, r=0.0))  # type: ignore[union-attr]
        return best_i, float(np.sqrt(best_d2))


_NOT_BEFORE: dict[int, np.ndarray] = {}


def _not_before(k: int) -> np.ndarray:
    """``mask[i, j]`` is True where row ``j`` does not come before row ``i`` (``j >= i``)."""
    mask = _NOT_BEFORE.get(k)
    if mask is None:
        mask = np.arange(k)[:, None] <= np.arange(k)
        mask.flags.writeable = False
        if k <= 256:
            _NOT_BEFORE[k] = mask
    return mask
