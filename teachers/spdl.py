"""SPDL: self-paced deep RL (Klink et al. 2020), as TeachMyAgent runs it.

Tasks are drawn from a Gaussian ``p_nu = N(mu, Sigma)`` (full covariance, a log-Cholesky
parameterisation) clipped into the task space, which starts at the *initial* (easy)
Gaussian from expert knowledge and is moved toward the *target* Gaussian ``mu_target`` as
the student gets better (docs/references.md#spdl).

Schedule (TMA's ``step_update``): an update falls on every multiple of ``update_period``
env steps from ``offset`` on (TMA's benchmark: 200k, 250k, 300k, ...). It uses the
contexts ``c_k`` of the episodes since the last update (the newest ``max_contexts``, 1000
as TMA's buffer; before the first update, those since the start), their values ``V(c_k)``
(the student's critic at ``s0``) and their discounted returns::

    max_nu   1/K sum_k  p_nu(c_k) / p_old(c_k) * V(c_k)  -  alpha * KL(p_nu || mu_target)
    s.t.     KL(p_old || p_nu) <= max_kl    (the trust region of one natural-gradient step)

TMA counts updates from 1 and sets ``alpha = 0`` while the count is below ``alpha_offset``
(10: updates 1 to 9 have no pull, the 10th has); afterwards
``alpha = min(zeta * max(P, 0) / max(KL(p_old || mu_target), 1e-10), 1e5)`` with ``P`` the
mean discounted return of the episodes since the last update (TMA's benchmark passes
``--use_avg_performance``; without it ``P`` is the mean ``V(c_k)``), so the pull is a fixed
fraction ``zeta`` of the performance.

Where we differ from TMA's code, and why:

- The optimiser (``optimizer``). The default is TMA's: one natural-gradient step,
  conjugate gradient (10 iterations, damping 1e-2) on the Fisher matrix of
  ``KL(p_old || p_nu)`` in TMA's parameters (env units), scaled so that its quadratic model
  of that KL equals ``max_kl``, then up to 10 halvings until ``KL <= 1.5 max_kl`` or the
  objective did not fall (:meth:`SPDL._natural_gradient_step`; on a 2-D stump-track case it
  gives TMA's own ``cg_step`` result to 1e-6). ``"slsqp"`` instead solves the constrained
  problem, the paper's formulation, to its optimum with SciPy's SLSQP under
  ``KL(p_nu || p_old) <= max_kl`` exactly (the paper's direction): it may move less than
  the full trust region, never more than ``max_kl``.
- Values. TMA evaluates its critic on the buffered first states at update time; the runner
  here gives each episode ``V(s0)`` from the critic when the episode starts
  (``students/values.py``), up to one period older. With SAC, TMA's student had a V
  network; SB3's SAC has Q critics only, so the runner gives its soft value
  ``min Q(s0, a) - ent_coef log pi(a | s0)`` at one sampled action, the target TMA's V
  network was trained to.
- Timing. Our teacher sees episode ends, not steps, so a scheduled update happens at the
  end of the episode that crosses its step, and that episode is in it.
- ``min_contexts`` (10): TMA updates from one context.
- ``std_lower_bound``: a floor on each marginal std, in the unit cube; TMA floors the
  Cholesky diagonal in env units, and only while ``KL(p || target)`` exceeds a threshold.
  TMA's benchmark used neither.
- Everything lives in the normalised unit cube (TMA: the env's units). The Gaussians, the
  importance ratios and every KL are invariant under that affine map, so the problem is
  the same; the natural-gradient step, whose damping is not invariant, is taken in TMA's
  env-unit parameters. TMA computes in float32, we in float64.

Both optimisers work on the mean and a log-Cholesky factor of the covariance, with
analytic gradients in NumPy
(:func:`logpdf_np` / :func:`logpdf_grad`, :func:`kl_and_grad`; ``tests/test_teacher_overhead.py``
checks them against torch's autograd of :func:`gaussian_logpdf` / :func:`gaussian_kl`);
if SLSQP's answer breaks the KL bound it is pulled back toward the old distribution
until it holds. (The gradients were torch's autograd until issue 18: an update over a
period's ~2,000 contexts took ~150 ms, ~15% of a 50k-step period at 1024 GPU envs; the
closed forms give the same optimisation ~10x faster.)

Batches: ``sample_batch(n)`` draws the ``(n, d)`` normals of ``n`` single samples in one
call and maps them with the same per-row arithmetic, so a batch gives exactly the tasks of
``n`` calls of ``sample()``; ``update_batch`` converts the batch's tasks at once and then
follows the per-episode rule episode by episode (a period boundary inside a batch updates
there), leaving the state of one-by-one updates.

Value estimates: the runner fills ``Episode.value`` and ``Episode.extra["discounted_return"]``
(the student's gamma, raw rewards) because this teacher declares ``needs = {"value"}``.
Without a value (a student with neither a state-value function nor Q critics), the
episode's discounted return stands in (else the plain return); diagnostics count which
source was used.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from scipy.optimize import minimize

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher
from teachers.expert import ExpertKnowledge

VALUE_SOURCES = ("value", "discounted_return", "return")
OPTIMIZERS = ("natural_gradient", "slsqp")


def gaussian_kl(mu0: torch.Tensor, chol0: torch.Tensor, mu1: torch.Tensor, chol1: torch.Tensor) -> torch.Tensor:
    """KL(N(mu0, L0 L0^T) || N(mu1, L1 L1^T)), from lower Cholesky factors (positive
    diagonals), so that no factorisation can fail inside the optimiser."""
    d = mu0.shape[0]
    a = torch.linalg.solve_triangular(chol1, chol0, upper=False)  # L1^-1 L0
    trace = (a**2).sum()
    z = torch.linalg.solve_triangular(chol1, (mu1 - mu0).unsqueeze(-1), upper=False)
    maha = (z**2).sum()
    logdet = 2.0 * (torch.log(chol1.diagonal()).sum() - torch.log(chol0.diagonal()).sum())
    return 0.5 * (trace + maha - d + logdet)


def gaussian_logpdf(x: torch.Tensor, mu: torch.Tensor, chol: torch.Tensor) -> torch.Tensor:
    """log N(x; mu, L L^T) for a batch ``x`` of shape (n, d)."""
    d = mu.shape[0]
    z = torch.linalg.solve_triangular(chol, (x - mu).T, upper=False)
    return -0.5 * (z**2).sum(0) - torch.log(chol.diagonal()).sum() - 0.5 * d * math.log(2 * math.pi)


def cholesky(cov: np.ndarray) -> torch.Tensor:
    return torch.linalg.cholesky(torch.as_tensor(cov, dtype=torch.float64))


# -- the same two functions in NumPy, with their gradients (the optimiser's hot path) -----
def tril_inverse(chol: np.ndarray) -> np.ndarray:
    """``L^-1`` of a lower-triangular ``L`` (d x d: the tasks' few dimensions)."""
    return np.tril(np.linalg.inv(chol))  # LAPACK on d x d: far less call overhead than a triangular solve


def kl_and_grad(mu0: np.ndarray, chol0: np.ndarray, mu1: np.ndarray, inv1: np.ndarray
                ) -> tuple[float, np.ndarray, np.ndarray]:
    """KL(N(mu0, L0 L0^T) || N(mu1, L1 L1^T)) and its gradients in ``mu0`` and ``L0``
    (lower triangle), given ``inv1 = L1^-1``: with ``A = L1^-1 L0`` and
    ``m = L1^-1 (mu1 - mu0)``, ``KL = (|A|^2 + |m|^2 - d) / 2 + log|L1| - log|L0|``,
    ``dKL/dmu0 = -L1^-T m`` and ``dKL/dL0 = L1^-T A - diag(1 / diag L0)``."""
    d = mu0.shape[0]
    a = inv1 @ chol0
    m = inv1 @ (mu1 - mu0)
    diag0 = np.diagonal(chol0)
    kl = 0.5 * (np.sum(a * a) + m @ m - d) - np.sum(np.log(np.diagonal(inv1))) - np.sum(np.log(diag0))
    grad_chol = np.tril(inv1.T @ a)
    grad_chol[np.diag_indices(d)] -= 1.0 / diag0
    return float(kl), -(inv1.T @ m), grad_chol


def logpdf_np(x: np.ndarray, mu: np.ndarray, chol: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``log N(x_k; mu, L L^T)`` of the rows of ``x``, with ``z = L^-1 (x - mu)^T`` (d, n)
    and ``L^-1`` for :func:`logpdf_grad`."""
    inv = tril_inverse(chol)
    z = inv @ (x - mu).T
    logp = -0.5 * np.einsum("ij,ij->j", z, z) + np.sum(np.log(np.diagonal(inv))) - 0.5 * mu.shape[0] * math.log(2 * math.pi)
    return logp, z, inv


def logpdf_grad(z: np.ndarray, inv: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of ``sum_k weights_k log N(x_k; mu, L L^T)`` in ``mu`` and ``L`` (lower
    triangle), from :func:`logpdf_np`'s ``z`` and ``L^-1``: with ``b_k = L^-T z_k``,
    ``dlogN_k/dmu = b_k`` and ``dlogN_k/dL = b_k z_k^T - diag(1 / diag L)``."""
    b = inv.T @ z
    grad_chol = np.tril((b * weights) @ z.T)
    grad_chol[np.diag_indices(inv.shape[0])] -= np.sum(weights) * np.diagonal(inv)  # 1 / diag L = diag L^-1
    return b @ weights, grad_chol


class SPDL(Teacher):
    """Self-paced deep RL.

    Args:
        task_space: the space to propose tasks from.
        seed: seed of the teacher's generator.
        expert: expert knowledge (required): ``initial`` and ``target`` Gaussians, each
            with ``mean`` and ``std``.
        offset: env steps before the first update. Default 200_000 (TMA's benchmark).
        update_period: env steps between updates; the updates fall on the multiples of it
            from ``offset`` on (TMA: ``step >= offset and step % period == 0``). Default
            50_000 (TMA's benchmark).
        alpha_offset: the target pull starts at this update (TMA counts updates from 1 and
            sets ``alpha = 0`` while the count is below it: updates 1..9 have none, the 10th
            has). Default 10 (TMA's benchmark).
        zeta: the target pull as a fraction of the expected performance. Default 0.25 (TMA's benchmark).
        max_kl: trust region per update. Default 0.1 (TMA's benchmark).
        use_avg_performance: the performance in alpha is the mean discounted return of the
            episodes since the last update (TMA's benchmark passes ``--use_avg_performance``);
            ``False``: the mean value ``V(c_k)`` of the contexts (TMA's code default).
            Default ``True``.
        max_contexts: most contexts kept for an update, the newest (TMA's
            ``max_context_buffer_size``). Default 1000.
        optimizer: ``"natural_gradient"``: TMA's one conjugate-gradient step
            (:meth:`_natural_gradient_step`); ``"slsqp"``: the constrained problem solved
            to its optimum (module doc). Default ``"natural_gradient"`` (TMA).
        std_lower_bound: optional floor on each dimension's std (unit-cube scale), applied
            after an update. Default ``None`` (TMA's benchmark used none).
        min_contexts: fewest contexts to attempt an update; fewer wait for the next one.
            Default 10 (ours: TMA updates from one; an importance-weighted estimate from
            fewer than 10 is noise).
    """

    name = "spdl"
    needs = frozenset({"value"})

    def __init__(
        self,
        task_space: TaskSpace,
        seed: int = 0,
        expert: Mapping[str, Any] | ExpertKnowledge | None = None,
        offset: int = 200_000,
        update_period: int = 50_000,
        alpha_offset: int = 10,
        zeta: float = 0.25,
        max_kl: float = 0.1,
        use_avg_performance: bool = True,
        max_contexts: int = 1000,
        optimizer: str = "natural_gradient",
        std_lower_bound: float | None = None,
        min_contexts: int = 10,
    ) -> None:
        super().__init__(task_space, seed)
        self.expert = ExpertKnowledge.from_config(expert, task_space)
        self.expert.need(self.name, "initial", "initial.std", "target", "target.std")
        if int(update_period) < 1:
            raise TeachBenchError("teacher.update_period", f"must be >= 1, got {update_period}")
        if int(offset) < 0:
            raise TeachBenchError("teacher.offset", f"must be >= 0, got {offset}")
        if not max_kl > 0:
            raise TeachBenchError("teacher.max_kl", f"must be > 0, got {max_kl}")
        if zeta < 0:
            raise TeachBenchError("teacher.zeta", f"must be >= 0, got {zeta}")
        if optimizer not in OPTIMIZERS:
            raise TeachBenchError("teacher.optimizer", f"unknown optimizer {optimizer!r}", list(OPTIMIZERS))
        if int(max_contexts) < 1:
            raise TeachBenchError("teacher.max_contexts", f"must be >= 1, got {max_contexts}")
        self.offset = int(offset)
        self.update_period = int(update_period)
        self.alpha_offset = int(alpha_offset)
        self.zeta = float(zeta)
        self.max_kl = float(max_kl)
        self.use_avg_performance = bool(use_avg_performance)
        self.max_contexts = int(max_contexts)
        self.optimizer = str(optimizer)
        self.std_lower_bound = None if std_lower_bound is None else float(std_lower_bound)
        self.min_contexts = int(min_contexts)

        init, target = self.expert.initial, self.expert.target
        self.mu = init.mean.copy()  # type: ignore[union-attr]
        self.cov = np.diag(init.std**2)  # type: ignore[union-attr,operator]
        self._chol: np.ndarray | None = None  # the Cholesky factor of _chol_of (_cov_cholesky)
        self._chol_of: np.ndarray | None = None
        self.target_mu = target.mean.copy()  # type: ignore[union-attr]
        self.target_cov = np.diag(target.std**2)  # type: ignore[union-attr,operator]

        # since the last update (TMA's buffers, emptied only when an update happens)
        self.contexts: list[list[float]] = []  # unit-cube tasks, the newest max_contexts
        self.values: list[float] = []  # their V(c_k)
        self.performances: list[float] = []  # every episode's discounted return (alpha)
        self.steps = 0  # env steps seen (max of global_step and summed lengths)
        self.next_update = self._first_update()
        self.n_iterations = 0
        self.alpha = 0.0
        self.last_kl_step = 0.0
        self.last_mean_value = float("nan")
        self.last_performance = float("nan")
        self.source_counts = [0, 0, 0]

    def _first_update(self) -> int:
        """The first multiple of ``update_period`` at or after ``offset`` (TMA counts steps
        from 1, so never step 0)."""
        return max(-(-self.offset // self.update_period), 1) * self.update_period

    # -- sampling -----------------------------------------------------------------------
    def _sample(self) -> Task:
        return self._sample_batch(1)[0]

    def _sample_batch(self, n: int) -> list[Task]:
        """``mu + L z`` per row, ``z ~ N(0, I)``, clipped into the cube (module doc: the same
        tasks as ``n`` single samples)."""
        d = self.task_space.ndim
        chol = self._cov_cholesky()
        z = self.rng.standard_normal((n, d))
        u = np.repeat(self.mu[None, :], n, axis=0)
        for j in range(d):  # column by column: every row is summed in the same order at any n
            u += z[:, j:j + 1] * chol[:, j]
        return self.task_space.from_unit_batch(np.clip(u, 0.0, 1.0))

    def _cov_cholesky(self) -> np.ndarray:
        """The Cholesky factor of ``self.cov``, computed once per distribution: ``cov`` is only
        ever rebound (by an update or a checkpoint load), never changed in place, so the factor
        of the object sampled last is reused until it is replaced (one factorisation per update
        instead of one per vector step)."""
        if self._chol is None or self._chol_of is not self.cov:
            self._chol, self._chol_of = np.linalg.cholesky(self.cov), self.cov
        return self._chol

    # -- learning -----------------------------------------------------------------------
    def _update(self, episode: Episode) -> None:
        self._record(episode, self.task_space.to_unit_batch([episode.task])[0].tolist())

    def _update_batch(self, episodes: Sequence[Episode]) -> None:
        for episode, context in zip(episodes, self.task_space.to_unit_batch([e.task for e in episodes]).tolist()):
            self._record(episode, context)

    def _record(self, episode: Episode, context: list[float]) -> None:
        """Keep one episode's context, value and performance; at a scheduled step, update."""
        value, source = self._value(episode)
        if value is None:
            return
        self.source_counts[source] += 1
        self.steps = max(int(episode.global_step), self.steps + int(episode.length))
        self.contexts.append(context)
        self.values.append(value)
        if len(self.values) > self.max_contexts:  # TMA's buffer keeps the newest
            del self.contexts[0], self.values[0]
        self.performances.append(self._performance(episode))
        if self.steps < self.next_update:
            return
        # the next scheduled step after this one (an episode spanning several gives one update)
        self.next_update = (self.steps // self.update_period + 1) * self.update_period
        if len(self.values) >= self.min_contexts:
            self._step_distribution(np.asarray(self.contexts), np.asarray(self.values),
                                    float(np.mean(self.performances)))
            self.contexts, self.values, self.performances = [], [], []

    @staticmethod
    def _performance(episode: Episode) -> float:
        """TMA's per-episode performance for alpha: the discounted return (the student
        records it in ``extra``), else the return."""
        disc = episode.extra.get("discounted_return")
        if disc is not None and math.isfinite(float(disc)):
            return float(disc)
        return float(episode.episode_return)

    def _value(self, episode: Episode) -> tuple[float | None, int]:
        if episode.value is not None:
            v, source = float(episode.value), 0
        elif episode.extra.get("discounted_return") is not None:
            v, source = float(episode.extra["discounted_return"]), 1
        else:
            v, source = float(episode.episode_return), 2
        if not math.isfinite(v):
            self.n_dropped += 1
            return None, source
        return v, source

    def _step_distribution(self, contexts: np.ndarray, values: np.ndarray, performance: float = math.nan) -> None:
        """One SPDL update: the constrained optimisation of the module docstring;
        ``performance``: the mean discounted return since the last update (alpha's)."""
        d = self.task_space.ndim
        mu_old, mu_t = np.asarray(self.mu, dtype=np.float64), np.asarray(self.target_mu, dtype=np.float64)
        chol_old, chol_t = np.linalg.cholesky(self.cov), np.linalg.cholesky(self.target_cov)
        inv_old, inv_t = tril_inverse(chol_old), tril_inverse(chol_t)
        c = np.asarray(contexts, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        k = v.shape[0]
        logp_old = logpdf_np(c, mu_old, chol_old)[0]

        mean_value = float(v.mean())
        self.last_mean_value = mean_value
        self.last_performance = performance
        if self.n_iterations + 1 < self.alpha_offset:  # TMA counts this update as n_iterations + 1
            alpha = 0.0
        else:
            perf = performance if self.use_avg_performance and math.isfinite(performance) else mean_value
            kl_target = kl_and_grad(mu_old, chol_old, mu_t, inv_t)[0]  # KL(p_old || target)
            alpha = min(self.zeta * max(perf, 0.0) / max(kl_target, 1e-10), 1e5)
        self.alpha = alpha

        rows, cols = np.tril_indices(d)
        on_diag = rows == cols
        diag = np.arange(d)

        def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """x = [mu, lower-triangular entries with the diagonal as logs]."""
            chol = np.zeros((d, d))
            chol[rows, cols] = x[d:]
            chol[diag, diag] = np.exp(np.clip(x[d:][on_diag], -30.0, 10.0))
            return x[:d], chol

        def pack_grad(x: np.ndarray, grad_mu: np.ndarray, grad_chol: np.ndarray) -> np.ndarray:
            """The gradient in x from those in mu and L (chain rule through exp and the clip)."""
            logs = x[d:]
            inside = (logs >= -30.0) & (logs <= 10.0)
            scale = np.where(on_diag, np.exp(np.clip(logs, -30.0, 10.0)) * inside, 1.0)
            return np.concatenate([grad_mu, grad_chol[rows, cols] * scale])

        flat_old = chol_old[rows, cols]
        x0 = np.concatenate([mu_old, flat_old])
        x0[d:][on_diag] = np.log(flat_old[on_diag])

        def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
            """-1/K sum_k p_nu(c_k) / p_old(c_k) V(c_k) + alpha KL(p_nu || target), and its gradient."""
            with np.errstate(all="ignore"):
                mu, chol = unpack(x)
                logp, z, inv = logpdf_np(c, mu, chol)
                weights = np.exp(logp - logp_old) * v / k
                g_mu, g_chol = logpdf_grad(z, inv, weights)
                loss = -np.sum(weights)
                grad_mu, grad_chol = -g_mu, -g_chol
                if alpha:
                    kl, k_mu, k_chol = kl_and_grad(mu, chol, mu_t, inv_t)
                    loss, grad_mu, grad_chol = loss + alpha * kl, grad_mu + alpha * k_mu, grad_chol + alpha * k_chol
                grad = pack_grad(x, grad_mu, grad_chol)
            if not (np.isfinite(loss) and np.all(np.isfinite(grad))):
                return 1e10, np.zeros_like(x)
            return float(loss), grad

        def trust(x: np.ndarray) -> float:
            with np.errstate(all="ignore"):
                mu, chol = unpack(x)
                value = self.max_kl - kl_and_grad(mu, chol, mu_old, inv_old)[0]
            return value if math.isfinite(value) else -1e10

        def trust_jac(x: np.ndarray) -> np.ndarray:
            with np.errstate(all="ignore"):
                mu, chol = unpack(x)
                _, k_mu, k_chol = kl_and_grad(mu, chol, mu_old, inv_old)
                grad = -pack_grad(x, k_mu, k_chol)
            return grad if np.all(np.isfinite(grad)) else np.zeros_like(x)

        if self.optimizer == "natural_gradient":
            candidate = self._natural_gradient_step(x0, objective, unpack, mu_old, chol_old)
            mu_new, chol_new = unpack(candidate)
            self.last_kl_step = kl_and_grad(mu_old, chol_old, mu_new, tril_inverse(chol_new))[0]  # KL(old || new)
        else:
            try:
                result = minimize(objective, x0, jac=True, method="SLSQP",
                                  constraints=[{"type": "ineq", "fun": trust, "jac": trust_jac}],
                                  options={"maxiter": 100, "ftol": 1e-8})
                x = result.x if np.all(np.isfinite(result.x)) else x0
            except (ValueError, RuntimeError, FloatingPointError, np.linalg.LinAlgError):
                x = x0
            # SLSQP may end a hair outside the trust region: bisect for the largest step
            # toward its answer that keeps KL(p_new || p_old) <= max_kl (KL is 0 at x0)
            candidate = x
            if trust(x) < 0.0:
                lo, hi = 0.0, 1.0
                for _ in range(50):
                    mid = 0.5 * (lo + hi)
                    if trust(x0 + mid * (x - x0)) >= 0.0:
                        lo = mid
                    else:
                        hi = mid
                candidate = x0 + lo * (x - x0)
            mu_new, chol_new = unpack(candidate)
            self.last_kl_step = kl_and_grad(mu_new, chol_new, mu_old, inv_old)[0]  # KL(new || old)
        self.mu = mu_new.copy()
        self.cov = chol_new @ chol_new.T
        if self.std_lower_bound is not None:
            std = np.sqrt(np.diag(self.cov))
            scale = np.maximum(std, self.std_lower_bound) / std
            self.cov = self.cov * np.outer(scale, scale)
        self.n_iterations += 1

    def _natural_gradient_step(self, x0: np.ndarray, objective: Any, unpack: Any,
                               mu_old: np.ndarray, chol_old: np.ndarray) -> np.ndarray:
        """TMA's ``cg_step``: one natural-gradient step of the objective, in TMA's parameters.

        TMA's parameters are the mean and log-Cholesky factor in the env's units; ours are
        the same in the unit cube, an affine map ``theta_env = J theta + c`` with ``J``
        diagonal (the range for a mean or an off-diagonal entry of its row, 1 for a log
        diagonal), so gradients divide by ``J`` and the Fisher matrix by ``J J^T``. TMA's
        Fisher-vector products are the Hessian of ``KL(p_old || p)`` at ``p_old``; here the
        same matrix comes whole from torch's autograd (a Gaussian's KL has the same Hessian
        in both directions there). Then TMA's conjugate gradient (10 iterations, damping
        ``1e-2``, residual tolerance ``1e-10``), the step scaled so that
        ``1/2 s^T (F + 1e-2 I) s = max_kl``, and up to 10 halvings until
        ``KL(p_old || p_new) <= 1.5 max_kl`` or the objective did not fall; none: no move.
        A gradient of norm below ``1e-10`` skips the step (TMA: "skipping gradient step")."""
        d = mu_old.shape[0]
        rows, cols = np.tril_indices(d)
        span = np.asarray(self.task_space.high, dtype=np.float64) - np.asarray(self.task_space.low, dtype=np.float64)
        jac = np.concatenate([span, np.where(rows == cols, 1.0, span[rows])])
        loss0, grad0 = objective(x0)
        with np.errstate(all="ignore"):  # degenerate feedback (huge values) must not warn
            g = -grad0 / jac  # ascent direction of the objective, in TMA's parameters
            if not np.all(np.isfinite(g)) or not np.isfinite(g @ g) or np.linalg.norm(g) < 1e-10:
                return x0
        t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        mu_o, chol_o = t(mu_old), t(chol_old)
        diag_idx = torch.as_tensor(np.flatnonzero(rows == cols))

        def kl_from_old(x: torch.Tensor) -> torch.Tensor:
            chol = torch.zeros((d, d), dtype=torch.float64)
            entries = x[d:].clone()
            entries[diag_idx] = torch.exp(entries[diag_idx])
            chol = chol.index_put((torch.as_tensor(rows), torch.as_tensor(cols)), entries)
            return gaussian_kl(x[:d], chol, mu_o, chol_o)

        fisher = torch.autograd.functional.hessian(kl_from_old, t(x0)).numpy() / np.outer(jac, jac)
        damped = fisher + 1e-2 * np.eye(fisher.shape[0])
        # conjugate gradient on (F + 1e-2 I) s = g, as TMA's _conjugate_gradient
        p, r, step = g.copy(), g.copy(), np.zeros_like(g)
        with np.errstate(all="ignore"):
            r2 = r @ r
            for _ in range(10):
                z = damped @ p
                v = r2 / (p @ z)
                step += v * p
                r -= v * z
                r2_new = r @ r
                p = r + (r2_new / r2) * p
                r2 = r2_new
                if r2 < 1e-10:
                    break
            full = step / np.sqrt(0.5 * step @ (damped @ step) / self.max_kl)
        if not np.all(np.isfinite(full)):
            return x0
        scale = 1.0
        for _ in range(10):  # TMA's line search
            x = x0 + scale * full / jac
            loss, _ = objective(x)  # minus TMA's objective (1e10 where it is not finite)
            mu_new, chol_new = unpack(x)
            with np.errstate(all="ignore"):
                kl = kl_and_grad(mu_old, chol_old, mu_new, tril_inverse(chol_new))[0]
            improved = loss < 1e10 and loss <= loss0  # TMA: new objective - old >= 0
            if (math.isfinite(kl) and kl <= 1.5 * self.max_kl) or improved:
                return x
            scale *= 0.5
        return x0

    # -- state --------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "mu": self.mu.tolist(),
            "cov": self.cov.tolist(),
            "contexts": [list(c) for c in self.contexts],
            "values": list(self.values),
            "performances": list(self.performances),
            "steps": [self.steps, self.next_update, self.n_iterations],
            "schedule": "multiples",
            "alpha": self.alpha,
            "last_kl_step": self.last_kl_step,
            "last_mean_value": self.last_mean_value,
            "last_performance": self.last_performance,
            "source_counts": list(self.source_counts),
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.mu = np.asarray(state["mu"], dtype=np.float64)
        self.cov = np.asarray(state["cov"], dtype=np.float64)
        self.contexts = [[float(x) for x in c] for c in state["contexts"]]
        self.values = [float(v) for v in state["values"]]
        self.steps, self.next_update, self.n_iterations = (int(v) for v in state["steps"])
        if state.get("schedule") != "multiples":  # a checkpoint before the TMA audit: [steps, period start, n]
            self.next_update = max(self._first_update(), (self.steps // self.update_period + 1) * self.update_period)
        self.performances = [float(v) for v in state.get("performances", [])]
        self.alpha = float(state["alpha"])
        self.last_kl_step = float(state["last_kl_step"])
        self.last_mean_value = float(state["last_mean_value"])
        self.last_performance = float(state.get("last_performance", math.nan))
        self.source_counts = [int(v) for v in state["source_counts"]]

    def kl_to_target(self) -> float:
        t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        return float(gaussian_kl(t(self.mu), cholesky(self.cov), t(self.target_mu), cholesky(self.target_cov)))

    def _diagnostics(self) -> dict[str, Any]:
        span = self.task_space.high - self.task_space.low
        std = np.sqrt(np.diag(self.cov))
        out: dict[str, Any] = {
            "iterations": self.n_iterations,
            "alpha": self.alpha,
            "kl_to_target": self.kl_to_target(),
            "kl_last_step": self.last_kl_step,
            "mean_value": self.last_mean_value,
            "mean_performance": self.last_performance,
            "env_steps": self.steps,
        }
        for i, name in enumerate(self.task_space.names):
            out[f"mean.{name}"] = float(self.task_space.low[i] + self.mu[i] * span[i])
            out[f"std.{name}"] = float(std[i] * span[i])
        for name, count in zip(VALUE_SOURCES, self.source_counts):
            out[f"value_source.{name}"] = count
        return out
