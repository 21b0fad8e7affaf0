"""SPDL: self-paced deep RL (Klink et al. 2020), with TeachMyAgent's settings.

Tasks are drawn from a Gaussian ``p_nu = N(mu, Sigma)`` over the normalised unit cube
(clipped into it), which starts at the *initial* (easy) Gaussian from expert knowledge
and is moved toward the *target* Gaussian ``mu_target`` as the student gets better.

Every ``update_period`` env steps, once ``offset`` steps have passed, the contexts ``c_k``
played in the last period and the student's values ``V(c_k)`` (its critic's estimate
``V(s0)`` of each episode's first state) give the new distribution::

    max_nu   1/K sum_k  p_nu(c_k) / p_old(c_k) * V(c_k)  -  alpha * KL(p_nu || mu_target)
    s.t.     KL(p_nu || p_old) <= max_kl

with ``alpha = 0`` for the first ``alpha_offset`` updates and afterwards
``alpha = zeta * mean_k V(c_k) / KL(p_old || mu_target)``, so the pull toward the target
is a fixed fraction ``zeta`` of the expected value (docs/references.md#spdl; the paper assumes
non-negative values, so a negative mean value gives ``alpha = 0``).

The problem is solved with SLSQP (SciPy, which scikit-learn already depends on) over the
mean and a log-Cholesky factor of the covariance, with torch gradients; if the solver's
answer breaks the KL bound it is pulled back toward the old distribution until it holds,
so the trust region is never violated.

Value estimates: the runner fills ``Episode.value`` because this teacher declares
``needs = {"value"}``. Without one, the episode's discounted return
(``episode.extra["discounted_return"]`` when the student records it, else the plain
return) stands in; diagnostics count which source was used.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch
from scipy.optimize import minimize

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher
from teachers.expert import ExpertKnowledge

VALUE_SOURCES = ("value", "discounted_return", "return")


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


class SPDL(Teacher):
    """Self-paced deep RL.

    Args:
        task_space: the space to propose tasks from.
        seed: seed of the teacher's generator.
        expert: expert knowledge (required): ``initial`` and ``target`` Gaussians, each
            with ``mean`` and ``std``.
        offset: env steps before the first update. Default 200_000 (TMA).
        update_period: env steps between updates. Default 50_000 (TMA).
        alpha_offset: updates with ``alpha = 0`` before the target pull starts. Default 10 (TMA).
        zeta: the target pull as a fraction of the expected value. Default 0.25 (TMA).
        max_kl: trust region ``KL(p_new || p_old)`` per update. Default 0.1 (TMA).
        std_lower_bound: optional floor on each dimension's std (unit-cube scale), applied
            after an update. Default ``None`` (TMA's setting used none).
        min_contexts: fewest episodes in a period to attempt an update. Default 10 (ours:
            an importance-weighted estimate from fewer is noise).
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
        self.offset = int(offset)
        self.update_period = int(update_period)
        self.alpha_offset = int(alpha_offset)
        self.zeta = float(zeta)
        self.max_kl = float(max_kl)
        self.std_lower_bound = None if std_lower_bound is None else float(std_lower_bound)
        self.min_contexts = int(min_contexts)

        init, target = self.expert.initial, self.expert.target
        self.mu = init.mean.copy()  # type: ignore[union-attr]
        self.cov = np.diag(init.std**2)  # type: ignore[union-attr,operator]
        self.target_mu = target.mean.copy()  # type: ignore[union-attr]
        self.target_cov = np.diag(target.std**2)  # type: ignore[union-attr,operator]

        self.contexts: list[list[float]] = []  # unit-cube tasks played in this period
        self.values: list[float] = []
        self.steps = 0  # env steps seen (max of global_step and summed lengths)
        self.period_start = 0
        self.n_iterations = 0
        self.alpha = 0.0
        self.last_kl_step = 0.0
        self.last_mean_value = float("nan")
        self.source_counts = [0, 0, 0]

    # -- sampling -----------------------------------------------------------------------
    def _sample(self) -> Task:
        chol = np.linalg.cholesky(self.cov)
        u = self.mu + chol @ self.rng.standard_normal(self.task_space.ndim)
        return self.task_space.from_unit(np.clip(u, 0.0, 1.0))

    # -- learning -----------------------------------------------------------------------
    def _update(self, episode: Episode) -> None:
        value, source = self._value(episode)
        if value is None:
            return
        self.source_counts[source] += 1
        self.steps = max(int(episode.global_step), self.steps + int(episode.length))
        self.contexts.append(self.task_space.to_unit(episode.task).tolist())
        self.values.append(value)
        if self.steps - self.period_start < self.update_period:
            return
        self.period_start = self.steps
        if self.steps >= self.offset and len(self.values) >= self.min_contexts:
            self._step_distribution(np.asarray(self.contexts), np.asarray(self.values))
        self.contexts, self.values = [], []

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

    def _step_distribution(self, contexts: np.ndarray, values: np.ndarray) -> None:
        """One SPDL update: the constrained optimisation of the module docstring."""
        d = self.task_space.ndim
        mu_old = torch.as_tensor(self.mu, dtype=torch.float64)
        chol_old = cholesky(self.cov)
        mu_t = torch.as_tensor(self.target_mu, dtype=torch.float64)
        chol_t = cholesky(self.target_cov)
        c = torch.as_tensor(contexts, dtype=torch.float64)
        v = torch.as_tensor(values, dtype=torch.float64)
        logp_old = gaussian_logpdf(c, mu_old, chol_old)

        mean_value = float(v.mean())
        self.last_mean_value = mean_value
        if self.n_iterations < self.alpha_offset:
            alpha = 0.0
        else:
            kl_target = float(gaussian_kl(mu_old, chol_old, mu_t, chol_t))
            alpha = self.zeta * max(mean_value, 0.0) / max(kl_target, 1e-8)
        self.alpha = alpha

        rows, cols = torch.tril_indices(d, d)
        on_diag = rows == cols

        def unpack(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """x = [mu, lower-triangular entries with the diagonal as logs]."""
            entries = torch.where(on_diag, torch.exp(torch.clamp(x[d:], -30.0, 10.0)), x[d:])
            chol = torch.zeros(d, d, dtype=torch.float64).index_put((rows, cols), entries)
            return x[:d], chol

        flat_old = chol_old[rows, cols]
        x0 = torch.cat([mu_old, torch.where(on_diag, torch.log(flat_old), flat_old)]).numpy()

        def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
            xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            mu, chol = unpack(xt)
            ratio = torch.exp(gaussian_logpdf(c, mu, chol) - logp_old)
            loss = -(ratio * v).mean() + alpha * gaussian_kl(mu, chol, mu_t, chol_t)
            loss.backward()
            grad = xt.grad.numpy().copy()
            if not (torch.isfinite(loss) and np.all(np.isfinite(grad))):
                return 1e10, np.zeros_like(x)
            return float(loss.detach()), grad

        def trust(x: np.ndarray) -> float:
            mu, chol = unpack(torch.as_tensor(x, dtype=torch.float64))
            value = self.max_kl - float(gaussian_kl(mu, chol, mu_old, chol_old))
            return value if math.isfinite(value) else -1e10

        def trust_jac(x: np.ndarray) -> np.ndarray:
            xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            mu, chol = unpack(xt)
            (-gaussian_kl(mu, chol, mu_old, chol_old)).backward()
            grad = xt.grad.numpy().copy()
            return grad if np.all(np.isfinite(grad)) else np.zeros_like(x)

        try:
            result = minimize(objective, x0, jac=True, method="SLSQP",
                              constraints=[{"type": "ineq", "fun": trust, "jac": trust_jac}],
                              options={"maxiter": 100, "ftol": 1e-8})
            x = result.x if np.all(np.isfinite(result.x)) else x0
        except (ValueError, RuntimeError, FloatingPointError):
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
        mu_new, chol_new = unpack(torch.as_tensor(candidate, dtype=torch.float64))
        self.last_kl_step = float(gaussian_kl(mu_new, chol_new, mu_old, chol_old))
        self.mu = mu_new.numpy().copy()
        self.cov = (chol_new @ chol_new.T).numpy().copy()
        if self.std_lower_bound is not None:
            std = np.sqrt(np.diag(self.cov))
            scale = np.maximum(std, self.std_lower_bound) / std
            self.cov = self.cov * np.outer(scale, scale)
        self.n_iterations += 1

    # -- state --------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "mu": self.mu.tolist(),
            "cov": self.cov.tolist(),
            "contexts": [list(c) for c in self.contexts],
            "values": list(self.values),
            "steps": [self.steps, self.period_start, self.n_iterations],
            "alpha": self.alpha,
            "last_kl_step": self.last_kl_step,
            "last_mean_value": self.last_mean_value,
            "source_counts": list(self.source_counts),
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.mu = np.asarray(state["mu"], dtype=np.float64)
        self.cov = np.asarray(state["cov"], dtype=np.float64)
        self.contexts = [[float(x) for x in c] for c in state["contexts"]]
        self.values = [float(v) for v in state["values"]]
        self.steps, self.period_start, self.n_iterations = (int(v) for v in state["steps"])
        self.alpha = float(state["alpha"])
        self.last_kl_step = float(state["last_kl_step"])
        self.last_mean_value = float(state["last_mean_value"])
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
            "env_steps": self.steps,
        }
        for i, name in enumerate(self.task_space.names):
            out[f"mean.{name}"] = float(self.task_space.low[i] + self.mu[i] * span[i])
            out[f"std.{name}"] = float(std[i] * span[i])
        for name, count in zip(VALUE_SOURCES, self.source_counts):
            out[f"value_source.{name}"] = count
        return out
