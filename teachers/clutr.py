"""CLUTR: PAIRED's regret generator acting in the latent space of a frozen level VAE.

CLUTR (Azad et al. 2023; facts from clutr/clutr, docs/references.md) splits PAIRED's
adversary in two:

1. **Task manifold.** A recurrent VAE (:mod:`teachers.level_vae`) is pretrained on random
   levels, each written as ``sorted(walls) + [goal, agent]``, and frozen. Its 64-D latent
   lies in ``[−4, 4]``. The weights ship in ``teachers/weights`` (rebuilt from their seed by
   ``python -m teachers.clutr_pretrain`` when missing).
2. **Generator.** A policy chooses a latent vector in one step (clutr's
   ``singlestep_continuous``): here PAIRED's one-step Gaussian generator with a 50-D noise
   input, clipped to ``[−4, 4]``, trained by REINFORCE on the regret.
3. **Decode and repair.** The frozen decoder turns the latent into a token sequence
   (greedy). The last two tokens are the goal and the agent, the rest are walls; the
   level is built by the maze designer's rules (the runner's ``level_designer``): a wall
   on the goal or agent does nothing, an agent on the goal moves to the next free cell,
   duplicate walls merge, a sequence shorter than two tokens is completed with random
   cells (as clutr's env does), one longer than ``n_walls + 2`` keeps its first walls. A decoded level may be unsolvable (as in PAIRED). The
   share of decodes that needed no repair is logged (``valid_decode_rate``).
4. Protagonist, antagonist and the regret are :class:`~teachers.paired.LevelRegretTeacher`'s.

``latent: pca`` is the linear ablation on the same levels: PCA cannot read a sequence, so
it reads each training level as wall / goal / agent indicator vectors over the cells;
decoding thresholds the walls at 0.5 (keeping the ``n_walls`` strongest) and takes the
argmax cell for goal and agent.

:class:`CLUTRParam` (``teacher=clutr_param``) keeps the parametric variant for
parameter-vector envs: the latent of a small MLP VAE over the normalised TaskSpace.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np
import torch
from torch import nn

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.level_vae import LevelVAEConfig, load_or_pretrain, random_level_sequences
from teachers.paired import LevelRegretTeacher, OneStepGenerator, PAIREDParam, maze_size
from teachers.task_vae import PCALatent, latent_report, make_latent
from teachers.torch_utils import build_seeded, load_optimizer, module_state, plain, regret_reinforce_step


class CLUTRParam(PAIREDParam):
    """CLUTR's parametric variant (``clutr_param``): PAIREDParam in a pretrained latent space.

    Args (beyond :class:`~teachers.paired.PAIREDParam`'s):
        latent: ``"vae"`` (default) or ``"pca"`` (ablation).
        latent_dim: latent size (default 4; docs/references.md#clutr: 4–16 for parameter vectors;
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


class CLUTR(LevelRegretTeacher):
    """CLUTR on the maze: a regret generator choosing latents of a frozen level VAE.

    Args:
        size: maze side with border (default: the env's largest ``size``).
        n_walls: longest wall sequence the VAE reads (50, as PAIRED's designer).
        latent: ``"vae"`` (default) or ``"pca"`` (ablation on the same levels).
        latent_dim: 64 (CLUTR); latent_bound: 4 (CLUTR's scaled tanh).
        vae_embed (32), vae_enc_hidden (64), vae_dec_hidden (128), vae_dec_layers (1), vae_steps (3000),
        vae_batch (64), vae_seed (0): the VAE (sizes smaller than the paper's: see
        :mod:`teachers.level_vae`); weights_dir: where its weights live (``teachers/weights``).
        pca_levels: random levels the PCA ablation is fitted on (20 000).
        noise_dim (50), hidden (64), lr (1e-3), batch_size (32, latents per update),
        ent_coef (0.01), baseline_decay (0.9), init_log_std (0): the one-step generator.
        episodes_per_level (2), max_pending (2; the config's ``auto``): see :class:`~teachers.paired.LevelRegretTeacher`.
    """

    name: ClassVar[str] = "clutr"
    needs: ClassVar[frozenset[str]] = frozenset({"antagonist", "level_designer"})

    def __init__(self, task_space: TaskSpace, seed: int = 0, size: int | None = None, n_walls: int = 50,
                 latent: str = "vae", latent_dim: int = 64, latent_bound: float = 4.0, vae_embed: int = 32,
                 vae_enc_hidden: int = 64, vae_dec_hidden: int = 128, vae_dec_layers: int = 1, vae_steps: int = 3000,
                 vae_batch: int = 64,
                 vae_seed: int = 0, weights_dir: str | None = None, pca_levels: int = 20000, noise_dim: int = 50,
                 hidden: int = 64, lr: float = 1e-3, batch_size: int = 32, ent_coef: float = 0.01,
                 baseline_decay: float = 0.9, init_log_std: float = 0.0, episodes_per_level: int = 2,
                 max_pending: int = 2) -> None:
        super().__init__(task_space, seed, episodes_per_level, max_pending)
        if latent not in ("vae", "pca"):
            raise TeachBenchError("latent", f"unknown latent {latent!r}", ["vae", "pca"])
        if not latent_bound > 0:
            raise TeachBenchError("latent_bound", f"must be > 0, got {latent_bound}")
        if int(batch_size) < 1:
            raise TeachBenchError("batch_size", f"must be >= 1, got {batch_size}")
        self.size = maze_size(task_space, size, self.name)
        self.latent_kind = latent
        self.latent_bound = float(latent_bound)
        self.vae_config = LevelVAEConfig(
            size=self.size, n_walls=int(n_walls), latent_dim=int(latent_dim), latent_bound=self.latent_bound,
            embed=int(vae_embed), enc_hidden=int(vae_enc_hidden), dec_hidden=int(vae_dec_hidden),
            dec_layers=int(vae_dec_layers), steps=int(vae_steps), batch=int(vae_batch), seed=int(vae_seed))
        self.weights_dir = weights_dir
        self.pca_levels = int(pca_levels)
        if self.pca_levels < 10:
            raise TeachBenchError("pca_levels", f"must be >= 10, got {pca_levels}")
        # the frozen manifold is loaded (or rebuilt) on first use, so that building the teacher
        # (config checks, sweeps) never pretrains anything
        self._vae: Any = None
        self._pca: PCALatent | None = None
        self._report: dict[str, Any] | None = None
        self.latent_dim = self.vae_config.latent_dim if latent == "vae" else min(self.vae_config.latent_dim,
                                                                                 3 * self.vae_config.n_cells)
        self.noise_dim = int(noise_dim)
        self.batch_size = int(batch_size)
        self.ent_coef = float(ent_coef)
        self.baseline_decay = float(baseline_decay)
        self.generator: OneStepGenerator = build_seeded(
            self.seed, lambda: OneStepGenerator(self.noise_dim, self.latent_dim, int(hidden), init_log_std))
        self.optimizer = torch.optim.Adam(self.generator.parameters(), lr=float(lr))
        self.baseline = 0.0
        self._latents: dict[int, list[tuple[list[float], list[float]]]] = {}
        self.next_batch = 0
        self.n_generator_updates = 0
        self.n_decoded = 0
        self.n_valid = 0
        self.level_designer: Any = None

    # -- the frozen task manifold ---------------------------------------------------------
    def _manifold(self) -> Any:
        if self._report is None:
            if self.latent_kind == "vae":
                self._vae, self._report = load_or_pretrain(self.vae_config, self.weights_dir)
            else:
                self._pca, self._report = self._fit_pca(self.pca_levels)
        return self._vae if self.latent_kind == "vae" else self._pca

    @property
    def pretrain_report(self) -> dict[str, Any]:
        """The frozen latent's held-out reconstruction figures (from its pretraining)."""
        self._manifold()
        assert self._report is not None
        return self._report

    def _cells_vector(self, seq: list[int]) -> np.ndarray:
        n = self.vae_config.n_cells
        x = np.zeros(3 * n)
        for t in seq[:-2]:
            x[t - 1] = 1.0
        x[n + seq[-2] - 1] = 1.0
        x[2 * n + seq[-1] - 1] = 1.0
        return x

    def _fit_pca(self, n_levels: int) -> tuple[PCALatent, dict[str, Any]]:
        rng = np.random.default_rng([self.vae_config.seed, 1])
        seqs = random_level_sequences(n_levels + 512, self.vae_config, rng)
        x = np.array([self._cells_vector(s) for s in seqs])
        pca = PCALatent(x.shape[1], latent_dim=self.vae_config.latent_dim)
        pca.fit(x[:-512])
        held = x[-512:]
        recon = pca.decode(pca.encode(held))
        n = self.vae_config.n_cells
        walls_right = float(((recon[:, :n] > 0.5) == (held[:, :n] > 0.5)).mean())
        goal_right = float((recon[:, n:2 * n].argmax(1) == held[:, n:2 * n].argmax(1)).mean())
        empty_right = float((held[:, :n] < 0.5).mean())  # what "no walls anywhere" scores
        return pca, {"heldout_wall_cell_accuracy": walls_right, "heldout_wall_cell_accuracy_all_empty": empty_right,
                     "heldout_goal_accuracy": goal_right, "chance_goal_accuracy": 1.0 / n}

    def decode_latent(self, z: np.ndarray) -> tuple[list[int], bool]:
        """Designer placements ``[goal, agent, *walls]`` (interior cell indices) from a latent,
        and whether the decode was valid as it stood (no repair needed)."""
        n = self.vae_config.n_cells
        z = np.clip(np.asarray(z, dtype=np.float64), -self.latent_bound, self.latent_bound)
        manifold = self._manifold()
        if self.latent_kind == "vae":
            tokens = manifold.decode(z[None, :])[0]
            cells = [t - 1 for t in tokens if 1 <= t <= n]
            valid = len(cells) == len(tokens)
        else:
            u = manifold.decode(z[None, :])[0]
            walls = [int(c) for c in np.flatnonzero(u[:n] > 0.5)]
            valid = len(walls) <= self.vae_config.max_len - 2
            walls = sorted(sorted(walls, key=lambda c: -u[c])[: self.vae_config.max_len - 2])  # the surest walls
            cells = walls + [int(u[n:2 * n].argmax()), int(u[2 * n:].argmax())]
        if len(cells) > self.vae_config.max_len:  # too long: the first walls, then goal and agent
            cells = cells[: self.vae_config.max_len - 2] + cells[-2:]
            valid = False
        while len(cells) < 2:  # clutr: too short a sequence is completed with random cells
            cells.append(int(self.rng.integers(n)))
            valid = False
        walls, goal, agent = cells[:-2], cells[-2], cells[-1]
        valid = valid and goal != agent and len(set(walls)) == len(walls) and not {goal, agent} & set(walls)
        return [goal, agent, *walls], valid

    # -- the generator ----------------------------------------------------------------------
    def levels_per_batch(self) -> int:
        return self.batch_size

    def _new_batch(self) -> tuple[int, list[str], list[dict[str, Any]]]:
        if self.level_designer is None:
            raise TeachBenchError("teacher.needs", "CLUTR has no level designer: the runner attaches it "
                                  "(students.regret.attach_teacher_needs)", ["level_designer"])
        batch = self.next_batch
        self.next_batch += 1
        levels, stats, record = [], [], []
        for _ in range(self.batch_size):
            noise = self.rng.standard_normal(self.noise_dim)
            with torch.no_grad():
                dist = self.generator.distribution(torch.as_tensor(noise, dtype=torch.float32))
                mean, std = dist.mean.numpy().astype(np.float64), dist.stddev.numpy().astype(np.float64)
            action = mean + std * self.rng.standard_normal(mean.shape)
            placements, valid = self.decode_latent(action)
            text, stat = self.level_designer(self.size, placements)
            self.n_decoded += 1
            self.n_valid += int(valid)
            levels.append(text)
            stats.append(stat)
            record.append((noise.tolist(), action.tolist()))
        self._latents[batch] = record
        while len(self._latents) > self.max_pending + 1:
            self._latents.pop(min(self._latents))
        return batch, levels, stats

    def _batch_done(self, batch: int, regrets: list[float]) -> None:
        record = self._latents.pop(batch, None)
        if record is None:
            return
        noise = torch.as_tensor(np.array([r[0] for r in record]), dtype=torch.float32)
        action = torch.as_tensor(np.array([r[1] for r in record]), dtype=torch.float32)
        r = torch.as_tensor(regrets, dtype=torch.float64)
        if regret_reinforce_step(self.generator, self.optimizer, noise, action, r, self.baseline, self.ent_coef) is None:
            self.n_dropped += 1
            return
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * float(r.mean())
        self.n_generator_updates += 1

    # -- checkpoints and diagnostics --------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "generator": module_state(self.generator),
                "optimizer": plain(self.optimizer.state_dict()), "baseline": self.baseline,
                "clutr_counts": [self.next_batch, self.n_generator_updates, self.n_decoded, self.n_valid]}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        super()._load_state(state)
        self._latents.clear()
        self.generator.load_state_dict(state["generator"])
        load_optimizer(self.optimizer, state["optimizer"])
        self.baseline = float(state["baseline"])
        self.next_batch, self.n_generator_updates, self.n_decoded, self.n_valid = (int(v) for v in state["clutr_counts"])

    def _diagnostics(self) -> dict[str, Any]:
        return {**super()._diagnostics(), "generator_updates": self.n_generator_updates,
                "regret_baseline": self.baseline,
                "valid_decode_rate": self.n_valid / self.n_decoded if self.n_decoded else float("nan"),
                **{f"latent_{k}": float(v) for k, v in self.pretrain_report.items()}}
