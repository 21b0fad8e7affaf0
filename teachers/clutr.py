"""CLUTR: PAIRED's regret generator acting in the latent space of a frozen level VAE.

CLUTR (Azad et al. 2023; facts from clutr/clutr, docs/references.md#clutr) splits PAIRED's
adversary in two:

1. **Task manifold.** A recurrent VAE (:mod:`teachers.level_vae`) is pretrained on random
   levels, each written as ``sorted(walls) + [goal, agent]``, and frozen. Its 64-D latent
   lies in ``[−4, 4]``. The weights ship in ``teachers/weights`` (rebuilt from their seed by
   ``python -m teachers.clutr_pretrain`` when missing).
2. **Generator** (:class:`LatentGenerator`; clutr's ``singlestep_continuous`` teacher,
   ``models/multigrid_models.py:196-314``). It sees a 50-D noise vector drawn uniformly in
   ``[0, 1]`` (``envs/multigrid/adversarial.py:599-600``) and chooses the whole latent in
   one step from a Beta distribution per dimension (``α, β = 1 + softplus(·)`` of one linear
   layer of 10 features). clutr declares the action space ``[−4, 4]⁶⁴``
   (``adversarial.py:178``) but hands the Beta sample, in ``[0, 1]``, to the decoder
   unscaled (the network has no ``process_action``, ``algos/agent.py:33-37``): the latents
   it chooses lie in ``[0, 1]⁶⁴``, our default (``latent_range``; ``[-4, 4]`` spans the
   VAE's whole range). It is trained by PPO as a contextual bandit: each of the 32 levels of
   a batch (one per process, ``num_processes`` 32) is one step whose reward is its regret;
   lr 1e-4, 5 epochs of one minibatch, clip 0.2, value loss 0.5 (clipped), no entropy
   bonus, gradient norm 0.5 (``scripts/train_minigrid50_clutr.sh``, ``arguments.py``;
   :func:`latent_ppo_update`).
3. **Decode.** The frozen decoder turns the latent into words (greedy, at most
   ``n_walls + 2`` = 52); words that are not cells are dropped; the last two cells are the
   goal and the agent, the rest walls (``adversarial.py:663-668``). The level is built in
   clutr's goal-last order by the maze designer's rules (the runner's ``level_designer``,
   dcd's ``choose_goal_last``, ``adversarial.py:603-655``): walls first (a repeated wall
   counts once), the goal and then the agent each clear a wall on their cell. A decoded
   level may be unsolvable (as in PAIRED). The share of decodes that needed no repair is
   logged (``valid_decode_rate``).
4. Protagonist, antagonist and the regret (``max(antagonist max − protagonist mean, 0)``,
   ``envs/runners/adversarial_runner.py:663-665``) are
   :class:`~teachers.paired.LevelRegretTeacher`'s.

Where we differ from clutr, and why:

- The VAE is far smaller and trained far shorter (:mod:`teachers.level_vae`: 0.9 s per
  paper-sized iteration on this CPU, 1M iterations).
- The maze script (``scripts/train_minigrid50_clutr.sh``) asks for ``multistep_discrete``,
  which clutr does not implement (``util/make_agent.py:246-247`` raises; the env's branch
  reads an undefined ``latent_vector``, ``adversarial.py:733``); ``singlestep_continuous``,
  the teacher above, is the one that runs. Its env path rotates the decoded cells
  (``seq[2:] + seq[:2]``, ``adversarial.py:666``: "the VAE places agent and goal first"),
  which contradicts clutr's own training data (goal and agent last,
  ``gen_training_data.py:13-15``) and would make the two smallest walls the goal and the
  agent; we read the sequence in its training format (goal and agent last), as clutr's
  ``multistep_discrete`` path does (``adversarial.py:667-668``).
- An agent decoded onto the goal goes to the next free cell after it (the maze
  designer's rule, shared with PAIRED), where clutr draws a random free cell
  (``adversarial.py:638-641``): a level stays a function of its latent.
- Fewer than two cells (or a goal and an agent on one cell with nothing else): completed
  with random cells / moved as above. clutr raises (no cell: ``i`` is undefined,
  ``adversarial.py:710``) or loops forever (one distinct position: the loop re-adds the
  stale ``(x, y)``, ``adversarial.py:709-712``).
- Our students play each level ``episodes_per_level`` times rather than for a 256-step
  rollout, and batches are credited asynchronously (:mod:`teachers.paired`); the PPO
  update's ratio uses the log-probabilities stored when the batch was designed.

``latent: pca`` is the linear ablation on the same levels: PCA cannot read a sequence, so
it reads each training level as wall / goal / agent indicator vectors over the cells;
decoding thresholds the walls at 0.5 (keeping the ``n_walls`` strongest) and takes the
argmax cell for goal and agent.

:class:`CLUTRParam` (``teacher=clutr_param``) keeps the parametric variant for
parameter-vector envs: the latent of a small MLP VAE over the normalised TaskSpace.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.level_vae import LevelVAEConfig, load_or_pretrain, random_level_sequences
from teachers.paired import LevelRegretTeacher, PAIREDParam, maze_size
from teachers.task_vae import PCALatent, latent_report, make_latent
from teachers.torch_utils import build_seeded, load_optimizer, module_state, plain


class CLUTRParam(PAIREDParam):
    """CLUTR's parametric variant (``clutr_param``): PAIREDParam in a pretrained latent space.

    Args (beyond :class:`~teachers.paired.PAIREDParam`'s):
        latent: ``"vae"`` (default) or ``"pca"`` (ablation).
        latent_dim: latent size (default 4; docs/references.md#clutr: 4–16 for parameter vectors;
            PCA uses at most the task's dimension).
        latent_bound: generator actions are clipped to ``[−b, b]`` (default 4, the paper's).
        pretrain_tasks: random tasks to fit the latent on (default 2000; 500 more held out).
        vae_epochs: VAE pretraining epochs (default 60); vae_beta: its KL weight (0.05).
        update, ppo_epochs, ppo_minibatches, clip_range, vf_coef, max_grad_norm: the
            generator's update, as :class:`~teachers.paired.PAIREDParam`'s (``"reinforce"`` by
            default; ``"ppo"``: dcd's walker adversary update, 8 × 4 steps per batch).
    """

    name: ClassVar[str] = "clutr_param"
    needs: ClassVar[frozenset[str]] = frozenset({"antagonist"})

    def __init__(self, task_space: TaskSpace, seed: int = 0, latent: str = "vae", latent_dim: int = 4,
                 latent_bound: float = 4.0, pretrain_tasks: int = 2000, vae_epochs: int = 60, vae_beta: float = 0.05, noise_dim: int = 50,
                 hidden: int = 64, lr: float = 1e-3, batch_size: int = 32, ent_coef: float = 0.01,
                 baseline_decay: float = 0.9, init_log_std: float = 0.0, max_open: int = 4096,
                 update: str = "reinforce", ppo_epochs: int = 8, ppo_minibatches: int = 4, clip_range: float = 0.2,
                 vf_coef: float = 0.5, max_grad_norm: float = 0.5) -> None:
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
                         max_open, update, ppo_epochs, ppo_minibatches, clip_range, vf_coef, max_grad_norm)

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


class LatentGenerator(nn.Module):
    """clutr's one-step latent teacher (``MultigridNetworkTaskEmbedSingleStepContinuous``):
    the 50-D noise through one linear layer to 10 features (no activation), a linear critic,
    and a Beta distribution per latent dimension with ``α = 1 + softplus(A·h)`` and
    ``β = 1 + softplus(B·h)`` (``models/multigrid_models.py:223-245, 280-283``; ``scalar_fc``
    10 from ``util/make_agent.py:63``). Initialisation as there: the heads orthogonal with
    gain √2 (``init_relu_``), the critic orthogonal with gain 1, biases 0; the embedding
    keeps torch's default."""

    def __init__(self, noise_dim: int, latent_dim: int, embed: int = 10) -> None:
        super().__init__()
        self.embed = nn.Linear(noise_dim, embed)
        self.critic = nn.Linear(embed, 1)
        self.alpha = nn.Linear(embed, latent_dim)
        self.beta = nn.Linear(embed, latent_dim)
        for layer, gain in ((self.critic, 1.0), (self.alpha, math.sqrt(2.0)), (self.beta, math.sqrt(2.0))):
            nn.init.orthogonal_(layer.weight, gain=gain)
            nn.init.zeros_(layer.bias)

    def forward(self, noise: torch.Tensor) -> tuple[torch.distributions.Beta, torch.Tensor]:
        h = self.embed(noise)
        alpha = 1 + nn.functional.softplus(self.alpha(h))
        beta = 1 + nn.functional.softplus(self.beta(h))
        return torch.distributions.Beta(alpha, beta), self.critic(h)[..., 0]


def latent_ppo_update(generator: LatentGenerator, optimizer: torch.optim.Optimizer, noise: torch.Tensor,
                      actions: torch.Tensor, old_log_probs: torch.Tensor, old_values: torch.Tensor,
                      rewards: torch.Tensor, n_epochs: int = 5, clip_range: float = 0.2, vf_coef: float = 0.5,
                      ent_coef: float = 0.0, max_grad_norm: float = 0.5) -> dict[str, float] | None:
    """dcd's PPO update (``algos/ppo.py``) for a one-step episode, as clutr trains its teacher.

    One step, then done: the return is the reward (the regret) and the advantage
    ``reward − V_old``, normalised over the batch (``(A − mean)/(std + 1e-5)``). Then
    ``n_epochs`` passes over the whole batch (``adv_num_mini_batch`` 1): clipped surrogate,
    clipped value loss ``0.5·max((V − R)², (V_clip − R)²)`` with ``V_clip = V_old +
    clip(V − V_old, ±clip_range)``, loss ``vf_coef·value + policy − ent_coef·entropy``,
    gradient norm clipped to ``max_grad_norm``. Returns the mean losses, or None when a
    loss is not finite (then no step is taken)."""
    rewards = rewards.to(torch.float64)
    adv = rewards - old_values.to(torch.float64)
    adv = ((adv - adv.mean()) / (adv.std() + 1e-5) if adv.numel() > 1 else adv - adv.mean()).float()
    returns = rewards.float()
    totals = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0}
    for _ in range(int(n_epochs)):
        dist, values = generator(noise)
        log_probs = dist.log_prob(actions).sum(-1)
        ratio = torch.exp(log_probs - old_log_probs)
        policy_loss = -torch.min(ratio * adv, ratio.clamp(1 - clip_range, 1 + clip_range) * adv).mean()
        clipped = old_values + (values - old_values).clamp(-clip_range, clip_range)
        value_loss = 0.5 * torch.max((values - returns).pow(2), (clipped - returns).pow(2)).mean()
        entropy = dist.entropy().sum(-1).mean()
        loss = vf_coef * value_loss + policy_loss - ent_coef * entropy
        if not torch.isfinite(loss):
            return None
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(generator.parameters(), max_grad_norm)
        optimizer.step()
        totals["policy_loss"] += float(policy_loss.detach()) / n_epochs
        totals["value_loss"] += float(value_loss.detach()) / n_epochs
        totals["entropy"] += float(entropy.detach()) / n_epochs
    return totals


class CLUTR(LevelRegretTeacher):
    """CLUTR on the maze: a regret generator choosing latents of a frozen level VAE.

    Args:
        size: maze side with border (default: the env's largest ``size``).
        n_walls: longest wall sequence the VAE reads (50: clutr's ``MultiGrid-TaskEmbedAdversarial-v0``).
        latent: ``"vae"`` (default) or ``"pca"`` (ablation on the same levels).
        latent_dim: 64 (CLUTR); latent_bound: 4 (CLUTR's scaled tanh: the VAE's range).
        latent_range: the interval the generator's Beta sample in ``[0, 1]`` is mapped onto
            (default ``[0, 1]``: clutr passes the sample to the decoder unscaled; ``[-4, 4]``
            covers the VAE's whole range, as clutr's declared action space does).
        vae_embed (32), vae_enc_hidden (64), vae_dec_hidden (128), vae_dec_layers (1),
        vae_steps (24000), vae_batch (32), vae_lr (2e-3), vae_seed (0): the VAE (sizes and
        budget smaller than the paper's: see :mod:`teachers.level_vae`); weights_dir: where its weights
        live (``teachers/weights``).
        pca_levels: random levels the PCA ablation is fitted on (20 000).
        noise_dim (50), embed (10): the generator's uniform noise input and its one linear layer.
        batch_size (32, latents per update: clutr's ``num_processes``), lr (1e-4), n_epochs (5),
        clip_range (0.2), vf_coef (0.5), ent_coef (0.0), max_grad_norm (0.5): its PPO update
        (``scripts/train_minigrid50_clutr.sh``, ``arguments.py``).
        episodes_per_level (2), max_pending (2; the config's ``auto``): see
            :class:`~teachers.paired.LevelRegretTeacher`.
    """

    name: ClassVar[str] = "clutr"
    needs: ClassVar[frozenset[str]] = frozenset({"antagonist", "level_designer"})

    def __init__(self, task_space: TaskSpace, seed: int = 0, size: int | None = None, n_walls: int = 50,
                 latent: str = "vae", latent_dim: int = 64, latent_bound: float = 4.0,
                 latent_range: Sequence[float] = (0.0, 1.0), vae_embed: int = 32,
                 vae_enc_hidden: int = 64, vae_dec_hidden: int = 128, vae_dec_layers: int = 1,
                 vae_steps: int = 24000, vae_batch: int = 32, vae_lr: float = 2e-3, vae_seed: int = 0,
                 weights_dir: str | None = None, pca_levels: int = 20000,
                 noise_dim: int = 50, embed: int = 10, batch_size: int = 32, lr: float = 1e-4, n_epochs: int = 5,
                 clip_range: float = 0.2, vf_coef: float = 0.5, ent_coef: float = 0.0, max_grad_norm: float = 0.5,
                 episodes_per_level: int = 2, max_pending: int = 2) -> None:
        super().__init__(task_space, seed, episodes_per_level, max_pending)
        if latent not in ("vae", "pca"):
            raise TeachBenchError("latent", f"unknown latent {latent!r}", ["vae", "pca"])
        if not latent_bound > 0:
            raise TeachBenchError("latent_bound", f"must be > 0, got {latent_bound}")
        if int(batch_size) < 1:
            raise TeachBenchError("batch_size", f"must be >= 1, got {batch_size}")
        if int(n_epochs) < 1:
            raise TeachBenchError("n_epochs", f"must be >= 1, got {n_epochs}")
        low, high = (float(v) for v in latent_range)
        if not low < high:
            raise TeachBenchError("latent_range", f"must be [low, high] with low < high, got {list(latent_range)}")
        self.size = maze_size(task_space, size, self.name)
        self.latent_kind = latent
        self.latent_bound = float(latent_bound)
        self.latent_range = (low, high)
        self.vae_config = LevelVAEConfig(
            size=self.size, n_walls=int(n_walls), latent_dim=int(latent_dim), latent_bound=self.latent_bound,
            embed=int(vae_embed), enc_hidden=int(vae_enc_hidden), dec_hidden=int(vae_dec_hidden),
            dec_layers=int(vae_dec_layers), steps=int(vae_steps), batch=int(vae_batch), lr=float(vae_lr),
            seed=int(vae_seed))
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
        self.ppo = {"n_epochs": int(n_epochs), "clip_range": float(clip_range), "vf_coef": float(vf_coef),
                    "ent_coef": float(ent_coef), "max_grad_norm": float(max_grad_norm)}
        self.generator: LatentGenerator = build_seeded(
            self.seed, lambda: LatentGenerator(self.noise_dim, self.latent_dim, int(embed)))
        self.optimizer = torch.optim.Adam(self.generator.parameters(), lr=float(lr), eps=1e-5)  # dcd's eps
        # per open batch: (noise, Beta sample, its log-probability, the critic's value) per level
        self._latents: dict[int, list[tuple[list[float], list[float], float, float]]] = {}
        self.next_batch = 0
        self.n_generator_updates = 0
        self.n_decoded = 0
        self.n_valid = 0
        self.last_update: dict[str, float] = {}
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
        """Designer placements in clutr's order ``[*walls, goal, agent]`` (interior cell
        indices; the maze designer's ``goal_last`` order) from a latent, and whether the
        decode was valid as it stood (no repair needed).

        As clutr (``adversarial.py:663``): the decoded words that are not cells (pad, go)
        are dropped, the last two cells are the goal and the agent. Ours only: fewer than two
        cells are completed with random cells (clutr then raises, with no cell, or loops
        forever, with one distinct position: ``adversarial.py:709-712``)."""
        n = self.vae_config.n_cells
        z = np.clip(np.asarray(z, dtype=np.float64), -self.latent_bound, self.latent_bound)
        manifold = self._manifold()
        if self.latent_kind == "vae":
            tokens = manifold.decode(z[None, :])[0]
            cells = [int(t) for t in tokens if 0 <= t < n]
            valid = len(cells) == len(tokens)
        else:
            u = manifold.decode(z[None, :])[0]
            walls = [int(c) for c in np.flatnonzero(u[:n] > 0.5)]
            valid = len(walls) <= self.vae_config.max_len - 2
            walls = sorted(sorted(walls, key=lambda c: -u[c])[: self.vae_config.max_len - 2])  # the surest walls
            cells = walls + [int(u[n:2 * n].argmax()), int(u[2 * n:].argmax())]
        while len(cells) < 2:
            cells.append(int(self.rng.integers(n)))
            valid = False
        walls, goal, agent = cells[:-2], cells[-2], cells[-1]
        valid = valid and goal != agent and len(set(walls)) == len(walls) and not {goal, agent} & set(walls)
        return [*walls, goal, agent], valid

    # -- the generator ----------------------------------------------------------------------
    def levels_per_batch(self) -> int:
        return self.batch_size

    def latent_of(self, sample: np.ndarray) -> np.ndarray:
        """The latent a Beta sample in ``[0, 1]`` stands for (``latent_range``)."""
        low, high = self.latent_range
        return low + (high - low) * np.asarray(sample, dtype=np.float64)

    def _new_batch(self) -> tuple[int, list[str], list[dict[str, Any]]]:
        if self.level_designer is None:
            raise TeachBenchError("teacher.needs", "CLUTR has no level designer: the runner attaches it "
                                  "(students.regret.attach_teacher_needs)", ["level_designer"])
        batch = self.next_batch
        self.next_batch += 1
        levels, stats, record = [], [], []
        for _ in range(self.batch_size):
            noise = self.rng.uniform(size=self.noise_dim)  # clutr: np.random.uniform, [0, 1)
            with torch.no_grad():
                dist, value = self.generator(torch.as_tensor(noise, dtype=torch.float32))
                alpha = dist.concentration1.numpy().astype(np.float64)
                beta = dist.concentration0.numpy().astype(np.float64)
            # drawn from the teacher's own generator (seeded, checkpointed); a sample at 0 or 1
            # exactly would have log-probability -inf
            sample = np.clip(self.rng.beta(alpha, beta), 1e-6, 1 - 1e-6)
            with torch.no_grad():
                log_prob = float(dist.log_prob(torch.as_tensor(sample, dtype=torch.float32)).sum())
            placements, valid = self.decode_latent(self.latent_of(sample))
            text, stat = self.level_designer(self.size, placements, goal_last=True)
            self.n_decoded += 1
            self.n_valid += int(valid)
            levels.append(text)
            stats.append(stat)
            record.append((noise.tolist(), sample.tolist(), log_prob, float(value)))
        self._latents[batch] = record
        while len(self._latents) > self.max_pending + 1:
            self._latents.pop(min(self._latents))
        return batch, levels, stats

    def _batch_done(self, batch: int, regrets: list[float]) -> None:
        record = self._latents.pop(batch, None)
        if record is None:
            return
        noise = torch.as_tensor(np.array([r[0] for r in record]), dtype=torch.float32)
        sample = torch.as_tensor(np.array([r[1] for r in record]), dtype=torch.float32)
        old_log_probs = torch.as_tensor([r[2] for r in record], dtype=torch.float32)
        old_values = torch.as_tensor([r[3] for r in record], dtype=torch.float32)
        losses = latent_ppo_update(self.generator, self.optimizer, noise, sample, old_log_probs, old_values,
                                   torch.as_tensor(regrets, dtype=torch.float64), **self.ppo)
        if losses is None:
            self.n_dropped += 1
            return
        self.last_update = losses
        self.n_generator_updates += 1

    # -- checkpoints and diagnostics --------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "generator": module_state(self.generator),
                "optimizer": plain(self.optimizer.state_dict()),
                "clutr_counts": [self.next_batch, self.n_generator_updates, self.n_decoded, self.n_valid]}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        super()._load_state(state)
        self._latents.clear()
        self.generator.load_state_dict(state["generator"])
        load_optimizer(self.optimizer, state["optimizer"])
        counts = (int(v) for v in state["clutr_counts"])
        self.next_batch, self.n_generator_updates, self.n_decoded, self.n_valid = counts

    def _diagnostics(self) -> dict[str, Any]:
        return {**super()._diagnostics(), "generator_updates": self.n_generator_updates,
                **{f"generator_{k}": v for k, v in self.last_update.items()},
                "valid_decode_rate": self.n_valid / self.n_decoded if self.n_decoded else float("nan"),
                **{f"latent_{k}": float(v) for k, v in self.pretrain_report.items()}}
