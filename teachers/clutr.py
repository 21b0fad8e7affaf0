"""CLUTR: PAIRED's regret generator acting in a frozen latent task space.

1. Pretrain a latent model on random tasks of the env (uniform TaskSpace samples, in the
   normalised ``[0,1]^d`` view): a small MLP VAE (default) or, as the ablation, PCA
   (:mod:`teachers.task_vae`). Freeze it. Its reconstruction error on held-out random
   tasks and the share of prior samples that decode inside the box are reported.
2. The generator (PAIRED's one-step Gaussian policy with a noise input) chooses a latent
   vector, clipped to ``[−latent_bound, latent_bound]`` (the paper: [−4, 4]); the frozen
   decoder maps it to a unit vector, which is *repaired* into a valid task (clipped to the
   box, discrete dimensions rounded). The valid-decode rate (no clipping needed) is logged.
3. Everything else (antagonist, regret, REINFORCE update) is :class:`~teachers.paired.PAIREDParam`.

The paper's maze VAE reads sorted wall sequences; here mazes are parameter tasks (their
TaskSpace), so the latent covers the parameter vector (REFERENCES.md §5).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.paired import PAIREDParam
from teachers.task_vae import latent_report, make_latent


class CLUTRParam(PAIREDParam):
    """CLUTR's parametric variant (``clutr_param``): PAIREDParam in a pretrained latent space.

    Args (beyond :class:`~teachers.paired.PAIREDParam`'s):
        latent: ``"vae"`` (default) or ``"pca"`` (ablation).
        latent_dim: latent size (default 4; REFERENCES.md: 4–16 for parameter vectors;
            PCA uses at most the task's dimension).
        latent_bound: generator actions are clipped to ``[−b, b]`` (default 4, the paper's).
        pretrain_tasks: random tasks to fit the latent on (default 2000; 500 more held out).
        vae_epochs: VAE pretraining epochs (default 60); vae_beta: its KL weight (0.05).
    """

    name: ClassVar[str] = "clutr_param"
    needs: ClassVar[frozenset[str]] = frozenset({"antagonist"})

    def __init__(self, task_space: TaskSpace, seed: int = 0, latent: str = "vae", latent_dim: int = 4,
                 latent_bound: float = 4.0, pretrain_tasks: int = 2000, vae_epochs: int = 60, vae_beta: float = 0.05, noise_dim: int = 50,
                 hidden: int = 64, lr: float = 1e-3, batch_size: int = 32, ent_coef: float = 0.01,
                 baseline_decay: float = 0.9, init_log_std: float = 0.0, max_open: int = 4096) -> None:
        if int(pretrain_tasks) < 10:
            raise TeachBenchError("pretrain_tasks", f"must be >= 10, got {pretrain_tasks}")
        if not latent_bound > 0:
            raise TeachBenchError("latent_bound", f"must be > 0, got {latent_bound}")
        extra = {"epochs": int(vae_epochs), "beta": float(vae_beta)} if latent == "vae" else {}
        self.latent = make_latent(latent, task_space.ndim, int(latent_dim), int(seed), **extra)
        self.latent_bound = float(latent_bound)
        data_rng = np.random.default_rng([int(seed), 1])
        x = np.array([task_space.to_unit(task_space.sample(data_rng)) for _ in range(int(pretrain_tasks) + 500)])
        self.latent.fit(x[:-500])
        self.pretrain_report = latent_report(self.latent, x[-500:], data_rng)
        self.n_decoded = 0
        self.n_valid = 0
        super().__init__(task_space, seed, noise_dim, hidden, lr, batch_size, ent_coef, baseline_decay, init_log_std,
                         max_open)

    def action_dim(self) -> int:
        return self.latent.latent_dim

    def decode(self, action: np.ndarray) -> Task:
        z = np.clip(np.asarray(action, dtype=np.float64), -self.latent_bound, self.latent_bound)
        u = self.latent.decode(z[None, :])[0]
        self.n_decoded += 1
        if np.all(np.isfinite(u)) and np.all((u >= 0.0) & (u <= 1.0)):
            self.n_valid += 1
        return self.task_space.from_unit(u)  # repair: clip into the box, round discrete dims

    def _state(self) -> dict[str, Any]:
        state = super()._state()
        state["clutr"] = {"latent": self.latent.state_dict(), "decoded": [self.n_decoded, self.n_valid]}
        return state

    def _load_state(self, state: Mapping[str, Any]) -> None:
        super()._load_state(state)
        self.latent.load_state_dict(state["clutr"]["latent"])
        self.n_decoded, self.n_valid = (int(v) for v in state["clutr"]["decoded"])

    def _diagnostics(self) -> dict[str, Any]:
        return {
            **super()._diagnostics(), "latent_recon_mse": self.pretrain_report["recon_mse"],
            "latent_prior_valid_rate": self.pretrain_report["prior_valid_rate"],
            "valid_decode_rate": self.n_valid / self.n_decoded if self.n_decoded else float("nan"),
        }
