"""GoalGAN (Florensa et al. 2018), with TeachMyAgent's settings.

A generator ``G(z)`` proposes tasks ("goals"); a discriminator ``D`` learns which goals
are of *intermediate difficulty* for the current student, and ``G`` is trained to fool it,
so the generated goals follow the student's frontier:

1. **Sample.** With probability ``p_old`` replay a goal from the buffer of goals that were
   once of intermediate difficulty (against forgetting); otherwise ``G(z) + noise`` with
   ``z ~ N(0, I)`` and Gaussian noise of std ``noise_std`` (a fraction of each
   dimension's range). Each goal is proposed ``n_rollouts`` times in a row.
2. **Label.** Once a goal has ``n_rollouts`` outcomes, its success rate ``s`` labels it
   good (``r_min <= s <= r_max``) or not (too easy / too hard); success is defined by
   expert knowledge (the env's flag, or return above a threshold).
3. **Train.** Every ``update_size`` labelled goals, ``n_gan_iterations`` steps of the
   least-squares GAN with labels (``a=-1, b=1, c=0``)::

       L_D = E_goals[ y (D(g) - b)^2 + (1 - y) (D(g) - a)^2 ] + E_z[ (D(G(z)) - a)^2 ]
       L_G = E_z[ (D(G(z)) - c)^2 ]

4. **Pretrain.** Before the first task, ``G`` and ``D`` are trained on ``pretrain_samples``
   easy goals all labelled good: drawn from the easy-task Gaussian of EK when given
   (TMA's high EK), else uniform over the space (no easy region known).

Networks work in ``[-1, 1]^d`` (the unit cube rescaled), on CPU, seeded from the teacher's
seed; all noise comes from the teacher's own numpy and torch generators.

Batches (issue 18: at 1024 envs a vector step needs many tasks). Each new goal's random
numbers are one row of ``2 + d + noise_dim`` standard normals from the numpy generator: the
replay coin and the replayed goal's index (as uniforms ``Phi(x)``, exactly uniform), the
sampling noise, and ``z``; the torch generator serves only training. ``sample_batch(n)``
draws the rows of all the goals it starts at once and runs the generator once on them, so
it hands out the goals of ``n`` calls of ``sample()`` (the same random numbers; ``G(z)``
of a batch equals ``G(z)`` row by row up to float32 rounding, which a matrix product may
order differently for different batch sizes). ``update_batch`` converts the batch's tasks
at once and then labels and trains episode by episode, as ``update`` does.

Training off the loop (``train_lag``, issue 18). A round of step 3 is 250 GAN steps,
~0.3-0.6 s on one CPU core; at 1024 envs a round of 100 goals (200 episodes) comes every
few vector steps, so training in step with the episodes, as published, costs more than the
envs themselves. ``train_lag=1`` (:mod:`teachers.refit`) trains each round in a worker on
a copy of G, D, their optimisers and the torch generator (:class:`LSGAN`, rebuilt from its
state by :func:`train_round`) and installs the result one round later: the goals of the
round after a boundary come from the G of one round earlier than in Florensa et al. (2018),
one round of staleness; the weights installed are those the published schedule has one
round earlier on the same labelled goals. ``train_lag=0`` (default) is the paper's schedule.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from scipy.special import ndtr
from torch import nn

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher
from teachers.expert import ExpertKnowledge, Gaussian
from teachers.refit import LaggedUpdate
from teachers.torch_utils import build_networks, load_training_state, mlp, seeded_generator, training_state

LSGAN_A, LSGAN_B, LSGAN_C = -1.0, 1.0, 0.0  # fake / real-good label, and G's target (Florensa et al.)


class LSGAN:
    """G and D with their RMSprop optimisers and the torch generator of the training noise:
    everything a training round (step 3) changes, and the last round's diagnostics.

    Args:
        config: ``d``, ``noise_dim``, ``generator_hidden``, ``discriminator_hidden``, ``lr``.
        seed: seed of the initial weights (``seed``) and of the noise (``seed + 1``); ``None``
            for a copy that is about to load a state (its weights are left unset and torch's
            global generator is not touched, so a copy can be built in a thread).
    """

    def __init__(self, config: Mapping[str, Any], seed: int | None) -> None:
        self.config = dict(config)
        d, noise_dim = int(config["d"]), int(config["noise_dim"])
        self.noise_dim = noise_dim

        def build() -> tuple[nn.Module, nn.Module]:
            return (mlp([noise_dim, *config["generator_hidden"], d]), mlp([d, *config["discriminator_hidden"], 1]))

        self.generator, self.discriminator = build_networks(seed, build)
        self.g_opt = torch.optim.RMSprop(self.generator.parameters(), lr=config["lr"])
        self.d_opt = torch.optim.RMSprop(self.discriminator.parameters(), lr=config["lr"])
        self.gen = seeded_generator(0 if seed is None else seed + 1)
        self.last_losses = [float("nan"), float("nan")]
        self.last_fake_mean = [float("nan")] * d

    def train(self, goals: torch.Tensor, y: torch.Tensor, iterations: int, batch_size: int | None) -> None:
        """Least-squares GAN steps (one D step, one G step each) on labelled goals."""
        n = goals.shape[0]
        for it in range(iterations):
            if batch_size is not None and batch_size < n:
                idx = torch.randint(n, (batch_size,), generator=self.gen)
                g, yb = goals[idx], y[idx]
            else:
                g, yb = goals, y
            z = torch.randn(g.shape[0], self.noise_dim, generator=self.gen)
            fake = self.generator(z)
            d_real = self.discriminator(g).squeeze(-1)
            d_fake = self.discriminator(fake.detach()).squeeze(-1)
            d_loss = (yb * (d_real - LSGAN_B) ** 2 + (1 - yb) * (d_real - LSGAN_A) ** 2).mean() \
                + ((d_fake - LSGAN_A) ** 2).mean()
            self.d_opt.zero_grad()
            d_loss.backward()
            self.d_opt.step()
            g_loss = ((self.discriminator(fake).squeeze(-1) - LSGAN_C) ** 2).mean()
            self.g_opt.zero_grad()
            g_loss.backward()
            self.g_opt.step()
            if it == iterations - 1:  # diagnostics of the last step only
                self.last_losses = [float(d_loss.detach()), float(g_loss.detach())]
                self.last_fake_mean = ((fake.detach().double().mean(0) + 1.0) / 2.0).tolist()

    def _parts(self) -> tuple[dict[str, nn.Module], dict[str, torch.optim.Optimizer]]:
        return ({"generator": self.generator, "discriminator": self.discriminator},
                {"g_opt": self.g_opt, "d_opt": self.d_opt})

    def state(self) -> dict[str, Any]:
        return {**training_state(*self._parts(), self.gen), "last_losses": list(self.last_losses),
                "last_fake_mean": list(self.last_fake_mean)}

    def load(self, state: Mapping[str, Any]) -> None:
        load_training_state(state, *self._parts(), self.gen)
        self.last_losses = [float(v) for v in state["last_losses"]]
        self.last_fake_mean = [float(v) for v in state["last_fake_mean"]]


def train_round(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A training round (step 3) on a copy of the networks: the lag-1 update
    (:mod:`teachers.refit`). Returns the copy's state after the round."""
    gan = LSGAN(inputs["config"], seed=None)
    gan.load(inputs["gan"])
    gan.train(inputs["goals"], inputs["y"], int(inputs["iterations"]), batch_size=None)
    return gan.state()


class GoalGAN(Teacher):
    """Goal generative adversarial network.

    Args:
        task_space: the space to propose tasks from.
        seed: seed of the teacher's numpy and torch generators and of the initial weights.
        expert: expert knowledge: ``success`` is required (``"env"`` or a return threshold;
            TMA: return > 230 on stump tracks); ``initial`` (easy-task Gaussian) is used for
            pretraining when given (std defaults to 10% of range, TMA's high EK).
        noise_std: std of the noise added to generated goals, fraction of range. Default 0.1 (TMA).
        update_size: labelled goals between GAN updates. Default 100 (TMA).
        n_gan_iterations: GAN steps per update. Default 250 (TMA).
        p_old: probability of replaying an old goal. Default 0.1 (TMA).
        n_rollouts: episodes per goal before labelling. Default 2 (TMA).
        r_min, r_max: success-rate bounds of "intermediate difficulty". Defaults 0.25, 0.75 (TMA).
        generator_hidden: hidden layers of G. Default (256, 256) (TMA).
        discriminator_hidden: hidden layers of D. Default (128, 128) (TMA).
        noise_dim: size of ``z``. Default 4 (ours: small, as in the goal-GAN literature).
        lr: RMSprop learning rate of G and D. Default 1e-3 (ours).
        batch_size: minibatch for pretraining (updates use all ``update_size`` goals).
            Default 128 (ours).
        pretrain_samples: easy goals for pretraining. Default 1000 (TMA).
        pretrain_iterations: GAN steps of pretraining. Default 500 (ours).
        max_old_goals: replay buffer size (oldest dropped). Default 10_000 (ours).
        max_pending: goals awaiting their rollouts (oldest dropped). Default 1000 (ours).
        train_lag: 0 (default: Florensa et al.'s schedule, each round trained when its goals
            are labelled) or 1 (each round trained off the training loop and installed one
            round late, so sampling uses G one round stale; module doc, :mod:`teachers.refit`).
        train_worker: where a lag-1 round is trained: ``"process"`` (default), ``"thread"``
            or ``"inline"`` (:mod:`teachers.refit`).
    """

    name = "goal_gan"

    def __init__(
        self,
        task_space: TaskSpace,
        seed: int = 0,
        expert: Mapping[str, Any] | ExpertKnowledge | None = None,
        noise_std: float = 0.1,
        update_size: int = 100,
        n_gan_iterations: int = 250,
        p_old: float = 0.1,
        n_rollouts: int = 2,
        r_min: float = 0.25,
        r_max: float = 0.75,
        generator_hidden: Sequence[int] = (256, 256),
        discriminator_hidden: Sequence[int] = (128, 128),
        noise_dim: int = 4,
        lr: float = 1e-3,
        batch_size: int = 128,
        pretrain_samples: int = 1000,
        pretrain_iterations: int = 500,
        max_old_goals: int = 10_000,
        max_pending: int = 1000,
        train_lag: int = 0,
        train_worker: str = "process",
    ) -> None:
        super().__init__(task_space, seed)
        self.expert = ExpertKnowledge.from_config(expert, task_space)
        self.expert.need(self.name, "success")
        for key, value, ok in (
            ("noise_std", noise_std, noise_std >= 0),
            ("update_size", update_size, int(update_size) >= 1),
            ("n_gan_iterations", n_gan_iterations, int(n_gan_iterations) >= 0),
            ("p_old", p_old, 0 <= p_old <= 1),
            ("n_rollouts", n_rollouts, int(n_rollouts) >= 1),
            ("r_min", r_min, 0 <= r_min <= r_max <= 1),
            ("noise_dim", noise_dim, int(noise_dim) >= 1),
            ("lr", lr, lr > 0),
            ("pretrain_samples", pretrain_samples, int(pretrain_samples) >= 0),
        ):
            if not ok:
                raise TeachBenchError(f"teacher.{key}", f"invalid value {value!r}")
        self.noise_std = float(noise_std)
        self.update_size = int(update_size)
        self.n_gan_iterations = int(n_gan_iterations)
        self.p_old = float(p_old)
        self.n_rollouts = int(n_rollouts)
        self.r_min, self.r_max = float(r_min), float(r_max)
        self.noise_dim = int(noise_dim)
        self.batch_size = int(batch_size)
        self.max_pending = int(max_pending)
        self.gan = LSGAN({"d": task_space.ndim, "noise_dim": self.noise_dim, "generator_hidden": list(generator_hidden),
                          "discriminator_hidden": list(discriminator_hidden), "lr": float(lr)}, seed=self.seed)
        self.trainer = LaggedUpdate("goal_gan", train_lag, train_worker, "train")

        self.old_goals: deque[list[float]] = deque(maxlen=int(max_old_goals))
        self.pending: dict[tuple[float, ...], list[bool]] = {}
        self.batch_goals: list[list[float]] = []
        self.batch_labels: list[int] = []  # 1 good, 0 too easy, -1 too hard (for diagnostics)
        self.current: list[float] | None = None
        self.repeats_left = 0
        self.n_gan_updates = 0
        self.last_rates = [float("nan")] * 3
        self.label_counts = [0, 0, 0]  # good, easy, hard
        self.pretrain_source = "none"
        if int(pretrain_samples) > 0:
            self._pretrain(int(pretrain_samples), int(pretrain_iterations))

    # -- sampling -----------------------------------------------------------------------
    def _sample(self) -> Task:
        return self._sample_batch(1)[0]

    def _sample_batch(self, n: int) -> list[Task]:
        """``n`` tasks: the current goal while it has rollouts left, then new goals, each
        ``n_rollouts`` times (module doc: the same goals as ``n`` single samples)."""
        goals: list[list[float]] = []
        if self.current is not None and self.repeats_left > 0:
            take = min(self.repeats_left, n)
            goals += [self.current] * take
            self.repeats_left -= take
        missing = n - len(goals)
        if missing > 0:
            for goal in self._new_goals(-(-missing // self.n_rollouts)):
                take = min(self.n_rollouts, n - len(goals))
                goals += [goal] * take
                self.current, self.repeats_left = goal, self.n_rollouts - take
        return self.task_space.from_unit_batch(np.asarray(goals, dtype=np.float64))

    def _new_goals(self, m: int) -> list[list[float]]:
        """``m`` new goals: an old goal with probability ``p_old``, else ``G(z)`` + noise."""
        d = self.task_space.ndim
        draws = self.rng.standard_normal((m, 2 + d + self.noise_dim))
        coins, picks = ndtr(draws[:, 0]), ndtr(draws[:, 1])
        replay = (coins < self.p_old) if self.old_goals else np.zeros(m, dtype=bool)
        goals = np.empty((m, d))
        for row in np.flatnonzero(replay).tolist():
            goals[row] = self.old_goals[min(int(picks[row] * len(self.old_goals)), len(self.old_goals) - 1)]
        fresh = np.flatnonzero(~replay)
        if fresh.size:
            z = torch.as_tensor(draws[fresh, 2 + d:], dtype=torch.float32)
            goals[fresh] = self._generate(z) + self.noise_std * draws[fresh, 2:2 + d]
        return np.clip(goals, 0.0, 1.0).tolist()

    def _generate(self, z: torch.Tensor) -> np.ndarray:
        """Generator outputs in the unit cube (before the sampling noise) for noise ``z``."""
        with torch.no_grad():
            return (self.gan.generator(z).double().numpy() + 1.0) / 2.0

    # -- learning -----------------------------------------------------------------------
    def _update(self, episode: Episode) -> None:
        self._label(episode, self.task_space.to_unit_batch([episode.task])[0])

    def _update_batch(self, episodes: Sequence[Episode]) -> None:
        for episode, u in zip(episodes, self.task_space.to_unit_batch([e.task for e in episodes])):
            self._label(episode, u)

    def _label(self, episode: Episode, u: np.ndarray) -> None:
        """Record one outcome of a goal; label the goal once it has ``n_rollouts``; train
        every ``update_size`` labels."""
        success = self.expert.is_success(episode.episode_return, episode.success)
        key = tuple(np.round(u, 9).tolist())
        outcomes = self.pending.setdefault(key, [])
        outcomes.append(bool(success))
        while len(self.pending) > self.max_pending:
            self.pending.pop(next(iter(self.pending)))
        if len(outcomes) < self.n_rollouts:
            return
        del self.pending[key]
        rate = float(np.mean(outcomes))
        label = 1 if self.r_min <= rate <= self.r_max else (0 if rate > self.r_max else -1)
        self.batch_goals.append(u.tolist())
        self.batch_labels.append(label)
        self.label_counts[(1, 0, -1).index(label)] += 1
        if label == 1:
            self.old_goals.append(u.tolist())
        if len(self.batch_goals) >= self.update_size:
            labels = np.asarray(self.batch_labels)
            self.last_rates = [float(np.mean(labels == v)) for v in (1, 0, -1)]
            goals = torch.as_tensor(self.batch_goals, dtype=torch.float32) * 2.0 - 1.0
            y = torch.as_tensor(labels == 1, dtype=torch.float32)
            self._train_round(goals, y)
            self.batch_goals, self.batch_labels = [], []

    def _train_round(self, goals: torch.Tensor, y: torch.Tensor) -> None:
        """Step 3's GAN update: now (``train_lag=0``), or started off the loop from the
        networks installed now, after installing the previous round's result (``train_lag=1``)."""
        if self.trainer.lag == 0:
            self.gan.train(goals, y, self.n_gan_iterations, batch_size=None)
            self.n_gan_updates += 1
            return
        self._install(self.trainer.collect())
        self.trainer.submit({"config": self.gan.config, "gan": self.gan.state(), "goals": goals, "y": y,
                             "iterations": self.n_gan_iterations})

    def _install(self, result: Any) -> None:
        """Install a lag-1 round's networks (nothing before the first round's result)."""
        if isinstance(result, Mapping):
            self.gan.load(result)
            self.n_gan_updates += 1

    def _pretrain(self, n: int, iterations: int) -> None:
        initial = self.expert.initial
        if initial is not None:
            easy = Gaussian(initial.mean, initial.std if initial.std is not None else np.full_like(initial.mean, 0.1))
            self.pretrain_source = "expert.initial"
            goals = easy.sample(self.rng, n)
        else:
            self.pretrain_source = "uniform"
            goals = self.rng.uniform(0.0, 1.0, size=(n, self.task_space.ndim))
        goals_t = torch.as_tensor(goals, dtype=torch.float32) * 2.0 - 1.0
        self.gan.train(goals_t, torch.ones(n), iterations, batch_size=self.batch_size)

    # -- state --------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        gan = self.gan.state()
        state = {
            "generator": gan["generator"],
            "discriminator": gan["discriminator"],
            "g_opt": gan["g_opt"],
            "d_opt": gan["d_opt"],
            "torch_rng": gan["torch_rng"],
            "old_goals": [list(g) for g in self.old_goals],
            "pending": [[list(k), list(v)] for k, v in self.pending.items()],
            "batch_goals": [list(g) for g in self.batch_goals],
            "batch_labels": list(self.batch_labels),
            "current": None if self.current is None else list(self.current),
            "repeats_left": self.repeats_left,
            "n_gan_updates": self.n_gan_updates,
            "last_rates": list(self.last_rates),
            "label_counts": list(self.label_counts),
            "last_losses": gan["last_losses"],
            "last_fake_mean": gan["last_fake_mean"],
            "pretrain_source": self.pretrain_source,
        }
        if self.trainer.lag == 1:  # the round in flight, as its labelled goals (it starts from the networks above)
            pending = self.trainer.pending
            state["train_pending"] = None if pending is None else {"goals": pending["goals"].clone(),
                                                                   "y": pending["y"].clone()}
        return state

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.gan.load(state)
        self.old_goals = deque(([float(x) for x in g] for g in state["old_goals"]), maxlen=self.old_goals.maxlen)
        self.pending = {tuple(float(x) for x in k): [bool(b) for b in v] for k, v in state["pending"]}
        self.batch_goals = [[float(x) for x in g] for g in state["batch_goals"]]
        self.batch_labels = [int(v) for v in state["batch_labels"]]
        self.current = None if state["current"] is None else [float(x) for x in state["current"]]
        self.repeats_left = int(state["repeats_left"])
        self.n_gan_updates = int(state["n_gan_updates"])
        self.last_rates = [float(v) for v in state["last_rates"]]
        self.label_counts = [int(v) for v in state["label_counts"]]
        self.pretrain_source = str(state["pretrain_source"])
        pending = state.get("train_pending")
        self.trainer.restore(None)  # drop what was in flight for the state we leave
        if pending is not None:  # the checkpoint's round in flight: again (lag 1), or now (lag 0)
            self._train_round(pending["goals"], pending["y"])

    def _diagnostics(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "gan_updates": self.n_gan_updates,
            "rate_good": self.last_rates[0],
            "rate_too_easy": self.last_rates[1],
            "rate_too_hard": self.last_rates[2],
            "labelled_good": self.label_counts[0],
            "labelled_too_easy": self.label_counts[1],
            "labelled_too_hard": self.label_counts[2],
            "d_loss": self.gan.last_losses[0],
            "g_loss": self.gan.last_losses[1],
            "old_goals": len(self.old_goals),
            "pretrain_source": self.pretrain_source,
        }
        span = self.task_space.high - self.task_space.low
        for i, name in enumerate(self.task_space.names):
            out[f"generated_mean.{name}"] = float(self.task_space.low[i] + self.gan.last_fake_mean[i] * span[i])
        return out
