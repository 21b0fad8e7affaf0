"""GoalGAN (Florensa et al. 2018), as TeachMyAgent runs it.

A generator ``G(z)`` proposes tasks ("goals"); a discriminator ``D`` learns which goals
are of *intermediate difficulty* for the current student, and ``G`` is trained to fool it,
so the generated goals follow the student's frontier. Every fact below is TeachMyAgent's
(``teachers/algos/goal_gan.py`` and the rllab-curriculum GAN it wraps,
``teachers/utils/gan/{gan,generator}.py``; docs/references.md#goalgan), at the settings of
its benchmark scripts (noise 0.1, 100 goals per update, ``p_old`` 0.1, 2 rollouts,
pretraining on):

1. **Sample.** When the current goal has no rollouts left: with probability ``p_old`` (and
   a non-empty buffer) replay an old goal, *once*, with Gaussian noise of std ``noise_std``
   (a fraction of each range), clipped to the space; a replayed goal is not labelled.
   Otherwise ``G(z)`` plus the same noise, clipped, with ``z ~ N(0, I_d)`` (the noise input
   has the task space's dimension); a generated goal is proposed ``n_rollouts`` times in a
   row and awaits its outcomes (a goal generated twice awaits twice).
2. **Label.** Once a generated goal has ``n_rollouts`` outcomes, its success rate ``s``
   labels it good (``r_min <= s <= r_max``) or not. Success is defined by expert knowledge
   (the env's flag, or return above a threshold). Goals with ``s > r_max`` (mastered) join
   the buffer of old goals, unless one already there is within ``success_distance_threshold
   x |range|`` (Euclidean, task units): replaying them guards against forgetting. Episodes
   of goals that await nothing (replays, foreign tasks) are ignored.
3. **Train.** Every ``update_size`` labelled goals, if at least one is good, 250 steps of
   the least-squares GAN with labels; else the round is skipped (its goals are dropped).
   Each step takes the next ``batch_size`` = 64 labelled goals in order (cycling; all of
   them when there are at most 64) and 64 generated goals ``G(z)``; one RMSprop step of D
   on the mean over the 64 + 64 rows, then one of G on the same ``z``::

       L_D = mean_rows[ (D(g) - (2y - 1))^2 ]     (generated rows: y = 0, target -1)
       L_G = mean_z[ (D(G(z)) - 1)^2 ]

   Florensa et al. write G's target as ``c = 0``; the code TMA runs (rllab-curriculum's
   ``lsgan``) uses 1, and so do we.
4. **Pretrain.** Before the first task, 500 such steps on 1000 goals all labelled good,
   drawn from the easy-task Gaussian of EK when given (TMA's high EK), else from TMA's
   random subspace: a Gaussian whose mean is uniform in the space, std 10% of each range.
   Samples are clipped to the space.

Networks (TMA's ``FCGAN``): G is ``d -> 256 -> 256 -> d``, ReLU, tanh output; D is
``d -> 128 -> 128 -> 1``, leaky ReLU of slope 0.1, linear output; Glorot-uniform weights,
zero biases; both trained by TensorFlow 1's RMSProp (lr 1e-3, decay 0.9, epsilon 1e-10
under the square root, mean-square accumulator starting at 1: :class:`TF1RMSprop`).
TMA's GAN works in the task space rescaled so that the space is ``[-0.5, 0.5]^d`` (centre
0, ``state_range`` half the range, goals divided by twice it), so tanh's ``[-1, 1]`` spans
twice the space: a goal is ``G(z) + 0.5`` in the unit cube, before noise and clipping.

Where we differ, on purpose: the networks run in torch on CPU, seeded from the teacher's
seed (TMA: TF1 graph, global numpy seed); goals awaiting outcomes are capped at
``max_pending`` and the old-goal buffer at ``max_old_goals`` (oldest dropped; TMA keeps all:
a memory bound for runs of millions of episodes); goals are keyed by their unit-cube
coordinates rounded to 9 digits (TMA: the float32 bytes of the task).

Batches (issue 18: at 1024 envs a vector step needs many tasks). Each sampling decision's
random numbers are one row of ``2 + d + noise_dim`` standard normals from the numpy
generator: the replay coin and the replayed goal's index (as uniforms ``Phi(x)``, exactly
uniform), the sampling (or replay) noise, and ``z``; the torch generator serves only
training. ``sample_batch(n)`` draws the rows of the decisions it needs in chunks and runs the
generator once per chunk, so it hands out the goals of ``n`` calls of ``sample()`` (the same
random numbers; ``G(z)`` of a batch equals ``G(z)`` row by row up to float32 rounding, which
a matrix product may order differently for different batch sizes). ``update_batch``
converts the batch's tasks at once and then labels and trains episode by episode, as
``update`` does.

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
from functools import partial
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
from scipy.special import ndtr
from torch import nn

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher
from teachers.expert import TMA_INITIAL_STD, ExpertKnowledge, Gaussian
from teachers.refit import LaggedUpdate
from teachers.torch_utils import build_networks, load_training_state, mlp, seeded_generator, training_state

#: LSGAN targets of TMA's code: a good goal 1, any other goal and every generated goal -1
#: (``2y - 1``), and G's target for D(G(z)) 1 (Florensa et al. write a = -1, b = 1, c = 0)
LSGAN_GOOD, LSGAN_BAD, LSGAN_G_TARGET = 1.0, -1.0, 1.0
LEAKY_SLOPE = 0.1  # TMA's discriminator: max(0.1 x, x)


class TF1RMSprop(torch.optim.Optimizer):
    """TensorFlow 1's ``tf.train.RMSPropOptimizer`` (no momentum, not centred), which TMA's
    GAN uses: ``ms <- decay ms + (1 - decay) g^2``, ``w <- w - lr g / sqrt(ms + eps)``, with
    ``ms`` starting at 1 (TF1's slot initialiser), decay 0.9 and eps 1e-10 inside the square
    root. torch's RMSprop differs in all three (ms from 0, alpha 0.99, eps 1e-8 outside)."""

    def __init__(self, params: Any, lr: float = 1e-3, decay: float = 0.9, eps: float = 1e-10) -> None:
        super().__init__(params, {"lr": lr, "decay": decay, "eps": eps})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # noqa: ARG002 (no closure: one loss per step)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "ms" not in state:
                    state["ms"] = torch.ones_like(p)
                ms = state["ms"]
                ms.mul_(group["decay"]).addcmul_(p.grad, p.grad, value=1.0 - group["decay"])
                p.addcdiv_(p.grad, (ms + group["eps"]).sqrt(), value=-group["lr"])


def batch_feed(n: int, batch_size: int) -> Iterator[np.ndarray]:
    """Row indices of TMA's ``batch_feed_array``: all ``n`` rows each time when
    ``n <= batch_size``, else consecutive blocks of ``batch_size`` rows, wrapping around."""
    if n <= batch_size:
        while True:
            yield np.arange(n)
    start = 0
    while True:
        yield np.arange(start, start + batch_size) % n
        start = (start + batch_size) % n


def glorot_zero(module: nn.Module) -> nn.Module:
    """TMA's initialisation (``xavier_initializer`` kernels, ``tf.layers.dense``'s zero biases)."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return module


class LSGAN:
    """G and D with their optimisers and the torch generator of the training noise:
    everything a training round (step 3) changes, and the last round's diagnostics.

    Args:
        config: ``d``, ``noise_dim``, ``generator_hidden``, ``discriminator_hidden``, ``lr``,
            ``batch_size``.
        seed: seed of the initial weights (``seed``) and of the noise (``seed + 1``); ``None``
            for a copy that is about to load a state (its weights are left unset and torch's
            global generator is not touched, so a copy can be built in a thread).
    """

    def __init__(self, config: Mapping[str, Any], seed: int | None) -> None:
        self.config = dict(config)
        d, noise_dim = int(config["d"]), int(config["noise_dim"])
        self.noise_dim = noise_dim
        self.batch_size = int(config["batch_size"])

        def build() -> tuple[nn.Module, nn.Module]:
            generator = mlp([noise_dim, *config["generator_hidden"], d], out_activation=nn.Tanh)
            discriminator = mlp([d, *config["discriminator_hidden"], 1],
                                activation=partial(nn.LeakyReLU, LEAKY_SLOPE))  # type: ignore[arg-type]
            return glorot_zero(generator), glorot_zero(discriminator)

        self.generator, self.discriminator = build_networks(seed, build)
        self.g_opt = TF1RMSprop(self.generator.parameters(), lr=config["lr"])
        self.d_opt = TF1RMSprop(self.discriminator.parameters(), lr=config["lr"])
        self.gen = seeded_generator(0 if seed is None else seed + 1)
        self.last_losses = [float("nan"), float("nan")]
        self.last_fake_mean = [float("nan")] * d

    def train(self, goals: torch.Tensor, y: torch.Tensor, iterations: int) -> None:
        """``iterations`` steps of TMA's ``FCGAN.train``: the next block of labelled goals
        and ``batch_size`` generated ones, one D step on their stacked rows, one G step on
        the same ``z``. ``goals`` are in TMA's GAN space (unit cube minus 0.5)."""
        feed = batch_feed(goals.shape[0], self.batch_size)
        for it in range(iterations):
            idx = torch.as_tensor(next(feed))
            g, target = goals[idx], 2.0 * y[idx] - 1.0
            z = torch.randn(self.batch_size, self.noise_dim, generator=self.gen)
            fake = self.generator(z)
            rows = self.discriminator(torch.cat([g, fake.detach()])).squeeze(-1)
            targets = torch.cat([target, torch.full((self.batch_size,), LSGAN_BAD)])
            d_loss = ((rows - targets) ** 2).mean()
            self.d_opt.zero_grad()
            d_loss.backward()
            self.d_opt.step()
            g_loss = ((self.discriminator(fake).squeeze(-1) - LSGAN_G_TARGET) ** 2).mean()
            self.g_opt.zero_grad()
            g_loss.backward()
            self.g_opt.step()
            if it == iterations - 1:  # diagnostics of the last step only
                self.last_losses = [float(d_loss.detach()), float(g_loss.detach())]
                self.last_fake_mean = (fake.detach().double().mean(0) + 0.5).tolist()

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
    gan.train(inputs["goals"], inputs["y"], int(inputs["iterations"]))
    return gan.state()


class GoalGAN(Teacher):
    """Goal generative adversarial network.

    Args:
        task_space: the space to propose tasks from.
        seed: seed of the teacher's numpy and torch generators and of the initial weights.
        expert: expert knowledge: ``success`` is required (``"env"`` or a return threshold;
            TMA: return > 230 on stump tracks); ``initial`` (easy-task Gaussian) is used for
            pretraining when given (std defaults to 10% of range, TMA's high EK), else TMA's
            random subspace.
        noise_std: std of the noise added to generated and replayed goals, fraction of
            range. Default 0.1 (TMA's benchmark ``--state_noise_level 0.1``).
        update_size: labelled goals between GAN updates. Default 100 (TMA).
        n_gan_iterations: GAN steps per update. Default 250 (TMA).
        p_old: probability of replaying an old goal. Default 0.1 (TMA's benchmark).
        n_rollouts: episodes per generated goal before labelling. Default 2 (TMA).
        r_min, r_max: success-rate bounds of "intermediate difficulty". Defaults 0.25, 0.75 (TMA).
        success_distance_threshold: a mastered goal joins the old-goal buffer only farther
            than this fraction of the range's diagonal from every goal in it. Default 0.01 (TMA).
        generator_hidden: hidden layers of G. Default (256, 256) (TMA).
        discriminator_hidden: hidden layers of D. Default (128, 128) (TMA).
        noise_dim: size of ``z``; default None: the task space's dimension (TMA).
        lr: learning rate of G's and D's RMSprop. Default 1e-3 (TMA).
        batch_size: labelled and generated goals per GAN step. Default 64 (TMA).
        pretrain_samples: easy goals for pretraining (0: none). Default 1000 (TMA).
        pretrain_iterations: GAN steps of pretraining. Default 500 (TMA).
        max_old_goals: old-goal buffer size (oldest dropped; ours, TMA keeps all). Default 10_000.
        max_pending: generated goals awaiting their rollouts (oldest dropped; ours). Default 1000.
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
        success_distance_threshold: float = 0.01,
        generator_hidden: Sequence[int] = (256, 256),
        discriminator_hidden: Sequence[int] = (128, 128),
        noise_dim: int | None = None,
        lr: float = 1e-3,
        batch_size: int = 64,
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
        noise_dim = task_space.ndim if noise_dim is None else noise_dim
        for key, value, ok in (
            ("noise_std", noise_std, noise_std >= 0),
            ("update_size", update_size, int(update_size) >= 1),
            ("n_gan_iterations", n_gan_iterations, int(n_gan_iterations) >= 0),
            ("p_old", p_old, 0 <= p_old <= 1),
            ("n_rollouts", n_rollouts, int(n_rollouts) >= 1),
            ("r_min", r_min, 0 <= r_min <= r_max <= 1),
            ("success_distance_threshold", success_distance_threshold, success_distance_threshold >= 0),
            ("noise_dim", noise_dim, int(noise_dim) >= 1),
            ("lr", lr, lr > 0),
            ("batch_size", batch_size, int(batch_size) >= 1),
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
        self.span = np.asarray(task_space.high - task_space.low, dtype=np.float64)
        self.old_goal_distance = float(success_distance_threshold) * float(np.linalg.norm(self.span))
        self.noise_dim = int(noise_dim)
        self.max_pending = int(max_pending)
        self.gan = LSGAN({"d": task_space.ndim, "noise_dim": self.noise_dim, "generator_hidden": list(generator_hidden),
                          "discriminator_hidden": list(discriminator_hidden), "lr": float(lr),
                          "batch_size": int(batch_size)}, seed=self.seed)
        self.trainer = LaggedUpdate("goal_gan", train_lag, train_worker, "train")

        self.old_goals: deque[list[float]] = deque(maxlen=int(max_old_goals))
        self.pending: dict[tuple[float, ...], list[list[bool]]] = {}
        self.batch_goals: list[list[float]] = []
        self.batch_labels: list[int] = []  # 1 good, 0 too easy, -1 too hard (for diagnostics)
        self.current: list[float] | None = None
        self.repeats_left = 0
        self.n_gan_updates = 0
        self.n_skipped_rounds = 0
        self.n_replayed = 0
        self.last_rates = [float("nan")] * 3
        self.label_counts = [0, 0, 0]  # good, easy, hard
        self.pretrain_source = "none"
        if int(pretrain_samples) > 0:
            self._pretrain(int(pretrain_samples), int(pretrain_iterations))

    # -- sampling -----------------------------------------------------------------------
    def _sample(self) -> Task:
        return self._sample_batch(1)[0]

    def _sample_batch(self, n: int) -> list[Task]:
        """``n`` tasks: the current goal while it has rollouts left, then new decisions, a
        generated goal ``n_rollouts`` times, a replayed one once (module doc: the same goals
        as ``n`` single samples)."""
        goals: list[list[float]] = []
        if self.current is not None and self.repeats_left > 0:
            take = min(self.repeats_left, n)
            goals += [self.current] * take
            self.repeats_left -= take
        while len(goals) < n:  # each decision fills 1..n_rollouts slots: a chunk never overshoots
            for goal, generated in self._new_goals(-(-(n - len(goals)) // self.n_rollouts)):
                if not generated:
                    goals.append(goal)
                    continue
                self._await(goal)
                take = min(self.n_rollouts, n - len(goals))
                goals += [goal] * take
                self.current, self.repeats_left = goal, self.n_rollouts - take
        return self.task_space.from_unit_batch(np.asarray(goals, dtype=np.float64))

    def _new_goals(self, m: int) -> list[tuple[list[float], bool]]:
        """``m`` sampling decisions: an old goal plus noise with probability ``p_old`` (when
        the buffer has one), else ``G(z)`` plus noise; clipped, and snapped to the tasks they
        become (discrete dimensions), so that an episode's task finds its goal."""
        d = self.task_space.ndim
        draws = self.rng.standard_normal((m, 2 + d + self.noise_dim))
        coins, picks = ndtr(draws[:, 0]), ndtr(draws[:, 1])
        replay = (coins <= self.p_old) if self.old_goals else np.zeros(m, dtype=bool)
        goals = np.empty((m, d))
        for row in np.flatnonzero(replay).tolist():
            goals[row] = self.old_goals[min(int(picks[row] * len(self.old_goals)), len(self.old_goals) - 1)]
        fresh = np.flatnonzero(~replay)
        if fresh.size:
            goals[fresh] = self._generate(torch.as_tensor(draws[fresh, 2 + d:], dtype=torch.float32))
        goals = np.clip(goals + self.noise_std * draws[:, 2:2 + d], 0.0, 1.0)
        goals = self.task_space.to_unit_batch(self.task_space.from_unit_batch(goals))
        self.n_replayed += int(replay.sum())
        return [(g, not r) for g, r in zip(goals.tolist(), replay.tolist())]

    def _generate(self, z: torch.Tensor) -> np.ndarray:
        """Generator outputs in the unit cube (before the sampling noise) for noise ``z``:
        TMA's GAN space is the unit cube minus 0.5."""
        with torch.no_grad():
            return self.gan.generator(z).double().numpy() + 0.5

    # -- learning -----------------------------------------------------------------------
    @staticmethod
    def _key(u: np.ndarray | Sequence[float]) -> tuple[float, ...]:
        return tuple(np.round(np.asarray(u, dtype=np.float64), 9).tolist())

    def _await(self, goal: Sequence[float]) -> None:
        """A generated goal now awaits ``n_rollouts`` outcomes (a second list if the same goal
        already awaits, as TMA's nested lists)."""
        self.pending.setdefault(self._key(goal), []).append([])
        while len(self.pending) > self.max_pending:
            self.pending.pop(next(iter(self.pending)))

    def _update(self, episode: Episode) -> None:
        self._label(episode, self.task_space.to_unit_batch([episode.task])[0])

    def _update_batch(self, episodes: Sequence[Episode]) -> None:
        for episode, u in zip(episodes, self.task_space.to_unit_batch([e.task for e in episodes])):
            self._label(episode, u)

    def _label(self, episode: Episode, u: np.ndarray) -> None:
        """Record one outcome of an awaited goal; label the goal once it has ``n_rollouts``;
        train every ``update_size`` labels."""
        key = self._key(u)
        awaiting = self.pending.get(key)
        if awaiting is None:  # a replayed or foreign goal: TMA ignores its outcome
            return
        outcomes = awaiting[0]
        outcomes.append(bool(self.expert.is_success(episode.episode_return, episode.success)))
        if len(outcomes) < self.n_rollouts:
            return
        del awaiting[0]
        if not awaiting:
            del self.pending[key]
        rate = float(np.mean(outcomes))
        label = 1 if self.r_min <= rate <= self.r_max else (0 if rate > self.r_max else -1)
        self.batch_goals.append(u.tolist())
        self.batch_labels.append(label)
        self.label_counts[(1, 0, -1).index(label)] += 1
        if label == 0:
            self._remember(u)
        if len(self.batch_goals) >= self.update_size:
            labels = np.asarray(self.batch_labels)
            self.last_rates = [float(np.mean(labels == v)) for v in (1, 0, -1)]
            if np.any(labels == 1):
                goals = torch.as_tensor(self.batch_goals, dtype=torch.float32) - 0.5
                self._train_round(goals, torch.as_tensor(labels == 1, dtype=torch.float32))
            else:  # TMA: "No positive samples ... skipping GoalGAN training"
                self.n_skipped_rounds += 1
            self.batch_goals, self.batch_labels = [], []

    def _remember(self, u: np.ndarray) -> None:
        """A mastered goal joins the old goals unless one is within the distance threshold."""
        if self.old_goals and self.old_goal_distance > 0:
            gaps = (np.asarray(self.old_goals, dtype=np.float64) - u) * self.span
            if np.sqrt((gaps ** 2).sum(1)).min() <= self.old_goal_distance:
                return
        self.old_goals.append(u.tolist())

    def _train_round(self, goals: torch.Tensor, y: torch.Tensor) -> None:
        """Step 3's GAN update: now (``train_lag=0``), or started off the loop from the
        networks installed now, after installing the previous round's result (``train_lag=1``)."""
        if self.trainer.lag == 0:
            self.gan.train(goals, y, self.n_gan_iterations)
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
        """Step 4: ``n`` goals of the easy Gaussian (EK's, else TMA's random subspace), all good."""
        initial = self.expert.initial
        d = self.task_space.ndim
        if initial is not None:
            self.pretrain_source = "expert.initial"
            easy = Gaussian(initial.mean, initial.std if initial.std is not None else np.full(d, TMA_INITIAL_STD))
        else:
            self.pretrain_source = "random_subspace"
            easy = Gaussian(self.rng.uniform(0.0, 1.0, size=d), np.full(d, TMA_INITIAL_STD))
        goals = torch.as_tensor(easy.sample(self.rng, n), dtype=torch.float32) - 0.5
        self.gan.train(goals, torch.ones(n), iterations)

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
            "pending": [[list(k), [list(o) for o in v]] for k, v in self.pending.items()],
            "batch_goals": [list(g) for g in self.batch_goals],
            "batch_labels": list(self.batch_labels),
            "current": None if self.current is None else list(self.current),
            "repeats_left": self.repeats_left,
            "n_gan_updates": self.n_gan_updates,
            "n_skipped_rounds": self.n_skipped_rounds,
            "n_replayed": self.n_replayed,
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
        self.pending = {tuple(float(x) for x in k): [[bool(b) for b in o] for o in v] for k, v in state["pending"]}
        self.batch_goals = [[float(x) for x in g] for g in state["batch_goals"]]
        self.batch_labels = [int(v) for v in state["batch_labels"]]
        self.current = None if state["current"] is None else [float(x) for x in state["current"]]
        self.repeats_left = int(state["repeats_left"])
        self.n_gan_updates = int(state["n_gan_updates"])
        self.n_skipped_rounds = int(state["n_skipped_rounds"])
        self.n_replayed = int(state["n_replayed"])
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
            "gan_rounds_skipped": self.n_skipped_rounds,
            "replayed": self.n_replayed,
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
        for i, name in enumerate(self.task_space.names):
            out[f"generated_mean.{name}"] = float(self.task_space.low[i] + self.gan.last_fake_mean[i] * self.span[i])
        return out
