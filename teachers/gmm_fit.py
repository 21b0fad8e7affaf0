"""Shared GMM fitting for the GMM teachers (ALP-GMM, Covar-GMM).

Both teachers do the same thing every ``fit_rate`` episodes: fit a full-covariance
Gaussian mixture for each number of components ``k`` in a range on the last window of
points and keep the fit with the lowest AIC (docs/references.md#alp-gmm step 5, #covar-gmm). This module holds
that step once, with the guards the reference lacked (a failing fit for one ``k`` is
skipped, not fatal; if every ``k`` fails the caller keeps its previous mixture).

Two backends compute the same model:

- ``"sklearn"``: ``sklearn.mixture.GaussianMixture(covariance_type="full")`` per ``k``,
  run under ``threadpoolctl`` with one BLAS thread (docs/references.md#stack-measurements: multi-threaded BLAS
  made these tiny fits 15–50× slower and changed results across thread counts).
- ``"numpy"`` (default): the same EM (k-means initialisation, ``reg_covar`` added to the
  diagonal, stop when the mean log-likelihood changes by less than ``tol``, at most
  ``max_iter`` iterations, AIC with ``k·d(d+1)/2 + k·d + k − 1`` parameters), vectorised over
  all ``k`` at once. A refit then costs a few milliseconds instead of ~100 ms, which is what
  lets the simulated-student track run in seconds. Its fits are checked against sklearn's
  in ``tests/test_alp_gmm.py``.

The numpy backend can also fit a *part* of the ``k`` range (:func:`fit_part`: every
``parts``-th model, starting at ``part``) with exactly the numbers the whole range gives for
those ``k``: every model of the batch draws its k-means seeding from the generator as in the
whole fit (the draws of the other models are made and dropped), the padding to the largest
``k`` is the whole range's, and each model's arithmetic never mixes with another's. So
several processes can share one refit (``teachers/refit.py``, ``fit_workers``) and the
lowest-AIC fit is the one :func:`fit_best_gmm` returns, bit for bit
(``tests/test_fit_workers.py``). A part that meets a singular covariance reports it
(:class:`PartFailed`): the whole fit's fallback (each ``k`` on its own, in order, from the
same generator) depends on every model, so the caller then computes the whole fit.

The result, :class:`GMM`, stores plain arrays and converts to lists for ``state_dict`` (no
pickled sklearn objects in checkpoints).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace

BACKENDS = ("numpy", "sklearn")


@dataclass
class GMM:
    """A fitted full-covariance Gaussian mixture over ``D`` coordinates."""

    weights: np.ndarray  # (k,)
    means: np.ndarray  # (k, D)
    covariances: np.ndarray  # (k, D, D)
    aic: float = float("nan")

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.means = np.asarray(self.means, dtype=np.float64)
        self.covariances = np.asarray(self.covariances, dtype=np.float64)
        self._chol: np.ndarray | None = None
        self._cdf: tuple[bytes, np.ndarray] | None = None  # (progress, its component CDF), see _progress_cdf

    @property
    def k(self) -> int:
        return int(self.weights.shape[0])

    def sample_component(self, index: int, rng: np.random.Generator) -> np.ndarray:
        """One draw from component ``index`` (all ``D`` coordinates)."""
        if self._chol is None:
            self._chol = _safe_cholesky(self.covariances)
        z = rng.standard_normal(self.means.shape[1])
        return self.means[index] + self._chol[index] @ z

    def sample_by_progress(self, progress: np.ndarray, rng: np.random.Generator, n_task_dims: int) -> np.ndarray:
        """The sampling step shared by ALP-GMM and Covar-GMM: pick a component with
        probability proportional to its learning progress (uniform when all are zero),
        draw from it and keep the first ``n_task_dims`` coordinates (the task part)."""
        cdf = np.cumsum(proportional(progress))
        idx = min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")), self.k - 1)
        return self.sample_component(idx, rng)[:n_task_dims]

    def sample_batch_by_progress(self, progress: np.ndarray, rng: np.random.Generator, n: int,
                                 n_task_dims: int) -> np.ndarray:
        """``n`` draws of :meth:`sample_by_progress` at once, as an ``(n, n_task_dims)`` array."""
        if self._chol is None:
            self._chol = _safe_cholesky(self.covariances)
        cdf = self._progress_cdf(progress)
        idx = np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), self.k - 1)
        z = rng.standard_normal((n, self.means.shape[1]))
        x = self.means[idx] + np.einsum("nij,nj->ni", self._chol[idx], z)
        return x[:, :n_task_dims]

    def _progress_cdf(self, progress: np.ndarray) -> np.ndarray:
        """``cumsum(proportional(progress))``, kept while ``progress`` stays the same (a
        teacher passes the same values every vector step until its next fit)."""
        key = np.asarray(progress, dtype=np.float64).tobytes()
        if self._cdf is None or self._cdf[0] != key:
            self._cdf = (key, np.cumsum(proportional(progress)))
        return self._cdf[1]

    def to_state(self) -> dict[str, Any]:
        return {
            "weights": self.weights.tolist(),
            "means": self.means.tolist(),
            "covariances": self.covariances.tolist(),
            "aic": float(self.aic),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "GMM":
        return cls(state["weights"], state["means"], state["covariances"], float(state["aic"]))


def sample_tasks_by_progress(task_space: TaskSpace, gmm: GMM | None, progress: np.ndarray | None,
                             rng: np.random.Generator, n: int, random_task_ratio: float) -> list[Task]:
    """The batched sampling step of the GMM teachers: each task is uniform with probability
    ``random_task_ratio`` (every task before the first fit), else a draw of
    :meth:`GMM.sample_batch_by_progress`, clipped into the space."""
    if gmm is None:
        return task_space.sample_batch(rng, n)
    uniform = (rng.random(n) < random_task_ratio).tolist()
    k = sum(uniform)
    uniform_tasks = iter(task_space.sample_batch(rng, k))  # the draws in this order: uniform, then mixture
    x = gmm.sample_batch_by_progress(progress, rng, n - k, task_space.ndim)
    if not k:
        return task_space.from_unit_batch(x)
    mixture_tasks = iter(task_space.from_unit_batch(x))
    return [next(uniform_tasks) if u else next(mixture_tasks) for u in uniform]


def proportional(weights: np.ndarray) -> np.ndarray:
    """Non-negative weights normalised to probabilities; uniform when they are all zero."""
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    total = w.sum()
    if not total > 0.0:
        return np.full(w.shape[0], 1.0 / w.shape[0])
    return w / total


def _safe_cholesky(cov: np.ndarray) -> np.ndarray:
    """Cholesky factors of a stack of covariances; a non-PD one (should not happen after
    ``reg_covar``) falls back to the square root of its clipped eigen-decomposition."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        out = np.empty_like(cov)
        for i, c in enumerate(cov):
            w, v = np.linalg.eigh((c + c.T) / 2)
            out[i] = v * np.sqrt(np.clip(w, 0.0, None))
        return out


def n_parameters(k: int, d: int) -> int:
    """Free parameters of a full-covariance mixture (as sklearn counts them for AIC)."""
    return k * d * (d + 1) // 2 + k * d + k - 1


def fit_best_gmm(
    points: np.ndarray,
    ks: Sequence[int],
    rng: np.random.Generator,
    backend: str = "numpy",
    reg_covar: float = 1e-6,
    tol: float = 1e-3,
    max_iter: int = 100,
) -> GMM | None:
    """Fit one mixture per ``k`` in ``ks`` on ``points`` and return the lowest-AIC fit.

    ``k`` larger than the number of points is skipped; a fit that fails (singular
    covariance, floating-point error, non-finite likelihood) is skipped. Returns ``None``
    when no ``k`` produced a usable fit, so that the caller can keep its previous mixture.
    """
    x, ks = _usable(points, ks)
    if not ks:
        return None
    if backend == "numpy":
        fits = _fit_numpy(x, ks, rng, reg_covar, tol, max_iter)
    elif backend == "sklearn":
        fits = _fit_sklearn(x, ks, rng, reg_covar, tol, max_iter)
    else:
        raise TeachBenchError("teacher.gmm_backend", f"unknown backend {backend!r}", BACKENDS)
    return lowest_aic(fits)


def _usable(points: np.ndarray, ks: Sequence[int]) -> tuple[np.ndarray, list[int]]:
    """The points as a float64 matrix and the ``k`` that can be fitted on them (none when a
    point is not finite): ``k`` larger than the number of points is skipped."""
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2:
        raise TeachBenchError("gmm.points", f"expected a 2-D array, got shape {x.shape}")
    usable = [int(k) for k in ks if 1 <= int(k) <= x.shape[0]]
    return x, usable if np.all(np.isfinite(x)) else []


def lowest_aic(fits: Sequence[GMM | None]) -> GMM | None:
    """The usable fit (not None, finite AIC) with the lowest AIC, the first of equals in
    ``k`` order; None when there is none."""
    usable = [g for g in fits if g is not None and math.isfinite(g.aic)]
    return min(usable, key=lambda g: g.aic) if usable else None


class PartFailed(Exception):
    """A part of the numpy fit met a singular covariance (:func:`fit_part`)."""


def part_rows(n_ks: int, part: int, parts: int) -> np.ndarray:
    """The models (indices into the usable ``k``) of part ``part`` of ``parts``: every
    ``parts``-th, so that small and large ``k`` (cheap and costly) spread evenly."""
    return np.arange(part, n_ks, parts)


def fit_part(points: np.ndarray, ks: Sequence[int], rng: np.random.Generator, part: int, parts: int,
             reg_covar: float = 1e-6, tol: float = 1e-3, max_iter: int = 100) -> list[GMM | None]:
    """The numpy backend's fits of part ``part`` of ``parts`` of the usable ``k`` (module
    docstring): for those ``k``, bit for bit what :func:`_fit_numpy` gives over all of them
    with a generator in the same state. Raises :class:`PartFailed` on a singular covariance."""
    x, usable = _usable(points, ks)
    rows = part_rows(len(usable), part, parts)
    if not len(rows):
        return []
    return _fit_numpy(x, usable, rng, reg_covar, tol, max_iter, rows=rows)


# -- sklearn backend -----------------------------------------------------------------------
def _fit_sklearn(x: np.ndarray, ks: list[int], rng: np.random.Generator, reg_covar: float, tol: float,
                 max_iter: int) -> list[GMM | None]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    out: list[GMM | None] = []
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in ks:
            seed = int(rng.integers(2**31 - 1))
            try:
                with np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
                    gm = GaussianMixture(n_components=k, covariance_type="full", reg_covar=reg_covar, tol=tol,
                                         max_iter=max_iter, random_state=seed).fit(x)
                    aic = float(gm.aic(x))
            except (FloatingPointError, ValueError, np.linalg.LinAlgError):
                out.append(None)
                continue
            out.append(GMM(gm.weights_, gm.means_, gm.covariances_, aic))
    return out


# -- numpy backend: EM for every k at once ------------------------------------------------
_EPS10 = 10 * np.finfo(np.float64).eps


def _trials(ks: np.ndarray) -> np.ndarray:
    """Candidates tried per new k-means++ centre of each model: 2 + log(k), as sklearn's KMeans."""
    return 2 + np.log(ks).astype(int)


def _seeding_draws(rng: np.random.Generator, n: int, ks: np.ndarray) -> Iterator[np.ndarray]:
    """Every draw the numpy fit of ``ks`` on ``n`` points takes from its generator, in order: the
    first centre of each model, then the candidates' uniforms for each further centre. (EM
    draws nothing; the per-``k`` fallback after a singular covariance draws again.)"""
    yield rng.integers(n, size=len(ks))
    t_max = int(_trials(ks).max())
    for _ in range(1, int(ks.max())):
        yield rng.random((len(ks), t_max))


def advance_like_fit(rng: np.random.Generator, points: np.ndarray, ks: Sequence[int]) -> None:
    """Move ``rng`` on as :func:`fit_best_gmm` (numpy backend, no singular covariance) moves it
    on a fit of ``ks`` over ``points``: what the calling process does when the parts of its
    fit ran elsewhere from a copy of its generator (``teachers/refit.py``)."""
    x, usable = _usable(points, ks)
    if usable:
        for _ in _seeding_draws(rng, x.shape[0], np.asarray(usable)):
            pass


def _kmeans_labels(x: np.ndarray, ks: np.ndarray, rng: np.random.Generator, max_iter: int = 100,
                   rows: np.ndarray | None = None) -> np.ndarray:
    """Hard labels (M, n) from k-means (greedy k-means++ seeding, Lloyd iterations), one model per k.

    Padded centres (index ≥ k of a model) are at infinity so they never get a point.
    ``rows``: only those models (of all ``ks``), with the draws and padding of all of them.
    """
    n, d = x.shape
    m_all, kmax = len(ks), int(ks.max())
    trials_all = _trials(ks)  # (M,)
    t_max = int(trials_all.max())
    draws = _seeding_draws(rng, n, ks)
    rows = np.arange(m_all) if rows is None else rows
    ks, trials, m = ks[rows], trials_all[rows], len(rows)
    centres = np.full((m, kmax, d), np.inf)
    first = next(draws)[rows]
    centres[:, 0] = x[first]
    d2 = ((x[None, :, :] - centres[:, :1, :]) ** 2).sum(-1)  # (M, n)
    # greedy k-means++ (as sklearn's KMeans): 2 + log(k) candidates per new centre, keep
    # the one that lowers the potential most
    for j in range(1, kmax):
        cum = np.cumsum(d2, axis=1)  # (M, n)
        u = next(draws)[rows] * cum[:, -1:]
        cand = np.minimum((cum[:, None, :] < u[:, :, None]).sum(-1), n - 1)  # (M, T)
        cand_d2 = np.minimum(d2[:, None, :], ((x[None, None, :, :] - x[cand][:, :, None, :]) ** 2).sum(-1))
        potential = np.where(np.arange(t_max)[None, :] < trials[:, None], cand_d2.sum(-1), np.inf)
        best = potential.argmin(1)
        model = np.arange(m)
        active = ks > j
        centres[active, j] = x[cand[model, best]][active]
        d2 = np.where(active[:, None], cand_d2[model, best], d2)
    valid = np.arange(kmax)[None, :] < ks[:, None]  # (M, K)
    sq_x = (x**2).sum(1)
    labels = np.full((m, n), -1)
    active = np.ones(m, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        c = np.where(valid[idx, :, None], centres[idx], 0.0)
        dist = sq_x[None, :, None] - 2.0 * (x @ np.swapaxes(c, 1, 2)) + (c**2).sum(-1)[:, None, :]
        new_labels = np.where(valid[idx, None, :], dist, np.inf).argmin(-1)  # (A, n)
        done = (new_labels == labels[idx]).all(1)
        labels[idx] = new_labels
        active[idx[done]] = False
        if not active.any():
            break
        onehot = (new_labels[:, :, None] == np.arange(kmax)[None, None, :]).astype(np.float64)
        counts = onehot.sum(1)  # (A, K)
        sums = np.swapaxes(onehot, 1, 2) @ x
        moved = (counts > 0) & ~done[:, None]
        centres[idx] = np.where(moved[:, :, None], sums / np.maximum(counts, 1)[:, :, None], centres[idx])
    return labels


def _m_step(x: np.ndarray, resp: np.ndarray, valid: np.ndarray, reg_covar: float):
    n, d = x.shape
    nk = resp.sum(1) + _EPS10  # (M, K)
    resp_t = np.swapaxes(resp, 1, 2)  # (M, K, n)
    means = (resp_t @ x) / nk[:, :, None]
    diff = x[None, None, :, :] - means[:, :, None, :]  # (M, K, n, d)
    cov = (np.swapaxes(diff * resp_t[..., None], -1, -2) @ diff) / nk[:, :, None, None]
    cov = cov + reg_covar * np.eye(d)
    cov = np.where(valid[:, :, None, None], cov, np.eye(d))
    log_w = np.where(valid, np.log(np.where(valid, nk, 1.0) / n), -np.inf)
    return log_w, means, cov


def _e_step(x: np.ndarray, log_w: np.ndarray, means: np.ndarray, cov: np.ndarray):
    """Per-sample log-likelihood (M, n) and responsibilities (M, n, K)."""
    d = x.shape[1]
    chol = np.linalg.cholesky(cov)  # raises LinAlgError if not PD
    prec_chol = np.swapaxes(np.linalg.inv(chol), -1, -2)  # (M, K, d, d)
    log_det = np.log(np.diagonal(prec_chol, axis1=-2, axis2=-1)).sum(-1)  # (M, K)
    y = x @ prec_chol - means[:, :, None, :] @ prec_chol  # (M, K, n, d)
    log_prob = -0.5 * (d * np.log(2 * np.pi) + (y**2).sum(-1)) + log_det[:, :, None]  # (M, K, n)
    wlp = log_prob.transpose(0, 2, 1) + log_w[:, None, :]  # (M, n, K)
    top = wlp.max(-1, keepdims=True)
    lse = top[..., 0] + np.log(np.exp(wlp - top).sum(-1))
    return lse, np.exp(wlp - lse[..., None])


def _fit_numpy(x: np.ndarray, ks: list[int], rng: np.random.Generator, reg_covar: float, tol: float,
               max_iter: int, rows: np.ndarray | None = None) -> list[GMM | None]:
    """One fit per ``k`` (per ``k`` of ``rows`` only, :func:`fit_part`), in ``k`` order."""
    n, d = x.shape
    all_ks = np.asarray(ks)
    kmax = int(all_ks.max())  # the whole range's padding, also for a part
    k_arr = all_ks if rows is None else all_ks[rows]
    valid = np.arange(kmax)[None, :] < k_arr[:, None]
    try:
        with np.errstate(all="ignore"):
            labels = _kmeans_labels(x, all_ks, rng, rows=rows)
            resp = (labels[:, :, None] == np.arange(kmax)[None, None, :]).astype(np.float64)
            log_w, means, cov = _m_step(x, resp, valid, reg_covar)
            lower = np.full(len(k_arr), -np.inf)
            active = np.ones(len(k_arr), dtype=bool)
            for _ in range(max_iter):
                # Only models that have not converged take another EM step (each k stops
                # on its own criterion, as separate sklearn fits would).
                idx = np.flatnonzero(active)
                lse, new_resp = _e_step(x, log_w[idx], means[idx], cov[idx])
                new_lower = lse.mean(1)
                step = np.abs(new_lower - lower[idx])
                lower[idx] = new_lower
                log_w[idx], means[idx], cov[idx] = _m_step(x, new_resp, valid[idx], reg_covar)
                active[idx[step < tol]] = False
                if not active.any():
                    break
            lse, _ = _e_step(x, log_w, means, cov)
    except np.linalg.LinAlgError:
        if rows is not None:  # the fallback below depends on every model: the caller fits them all
            raise PartFailed from None
        # A singular covariance somewhere in the batch: fit each k on its own so only the
        # failing k is skipped.
        if len(ks) == 1:
            return [None]
        return [g for k in ks for g in _fit_numpy(x, [k], rng, reg_covar, tol, max_iter)]
    score = lse.mean(1)  # mean log-likelihood under the final parameters
    out: list[GMM | None] = []
    for i, k in enumerate(int(k) for k in k_arr):
        w = np.exp(log_w[i, :k])
        if not (np.isfinite(score[i]) and np.all(np.isfinite(means[i, :k])) and np.all(np.isfinite(cov[i, :k]))):
            out.append(None)
            continue
        aic = -2.0 * score[i] * n + 2.0 * n_parameters(k, d)
        out.append(GMM(w / w.sum(), means[i, :k], cov[i, :k], float(aic)))
    return out
