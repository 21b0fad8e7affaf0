"""Setter-Solver (Racanière et al. 2020), as TeachMyAgent implements it.

A *setter* proposes tasks for the student (the *solver*) given a desired feasibility
``f in (0, 1)``: the chance that the solver succeeds. A *judge* learns to predict that
chance. The setter is a conditional RealNVP flow ``x = S(z, f)``, ``z ~ N(0, I)``, so it
has an exact density ``p_S(x | f)`` (docs/references.md#setter-solver).

What TMA computes, and so what this module computes (``SetterSolver`` of TMA with its
benchmark line ``--ss_update_frequency 50 --setter_loss_noise_ub 0.1 --setter_hidden_size 64``):

- **Setter** (TMA's ``FlatRnvp``): 3 blocks of 3 affine couplings, the second half of the
  coordinates given the first, the first given the second, the even given the odd (for
  ``d = 2`` the last two both change coordinate 0). Each coupling has a scale network and
  a shift network, each a highway network (``Linear -> tanh``, 3 gated highway blocks of
  width 64, ``Linear``) of the fixed coordinates and ``f``; the scale is ``0.01 +
  softplus(s)`` with TMA's slowly decaying softplus. A sigmoid maps the result into the
  unit cube, which is rescaled to the task box. For a 2-D task space that is 9 couplings,
  18 networks of 25,217 parameters: 453,906. Untrained (Sonnet's initialisation, no
  zero-initialised last layer), each coupling scales by ~0.3, so the first tasks lie close
  together near the cube's centre and ``f`` means little until training spreads them.
- **Judge**: an MLP with ReLUs, goal (unit cube) -> logit of success. TMA passes hidden
  sizes 64-64-64 but builds ``MLP(sizes[1:])`` over ``sizes + [1]``, so its judge has two
  hidden layers of 64: that is what we build.
- **Sampling**: ``f ~ U(0, 1)`` (TMA: ``U(1e-8, 1)``), ``z ~ N(0, I)``, task ``S(z, f)``; the
  pair ``(task, f)`` is remembered until the task's episode ends.
- **Success**: the expert knowledge's success definition (the env's flag or a return
  threshold), 0/1.
- **Training** every ``update_period`` = 50 episodes, on (goal, ``f`` it was set for,
  success): first the judge (sigmoid cross-entropy), then the setter on the sum, all
  weights 1, of
    - **validity** ``mean over achieved goals of -log p_S(clip(g + u, 1e-4, 1 - 1e-4) | f_g)``,
      ``u ~ U(0, 0.1)`` per coordinate (one-sided, as TMA draws it);
    - **feasibility** ``mean (J(S(z_g, f_g)) - logit f_g)^2``;
    - **coverage** ``mean log p_S(S(z_g, f_g) | f_g)``,
  where ``z_g = S^-1(g, f_g)`` are the goals' latents under the current setter, held fixed
  (TMA feeds them back as the sampling latents), and ``log p`` is TMA's: the log-density
  without its constant ``-d/2 log(2 pi)``. Adam for both networks.

Where we differ from TMA, and why:

- **Training schedule** (ours by default, TMA's on request): TMA takes *one* Adam step
  (lr 3e-4) per round on the round's 50 episodes and then empties its buffer; we take
  ``n_train_steps = 50`` steps (lr 1e-3) on minibatches of 128 from the last 2000 episodes,
  because one step per 50 episodes barely moves the networks at the budgets we run (a few
  million env steps: tens to hundreds of gradient steps in all). ``n_train_steps=1, batch_size=None, lr=3e-4,
  buffer_size=50`` is TMA's schedule exactly (every round then sees exactly its own episodes).
- float32 on CPU (TMA: float64); goals whose latents are inferred are clamped into
  ``[1e-6, 1 - 1e-6]`` so that the logit stays finite in float32, and ``f`` into
  ``[1e-8, 1 - 1e-7]``. Initial weights are Sonnet's default (normal of std
  ``1/sqrt(fan_in)`` truncated at two std, zero biases), drawn from the teacher's seed.
- A task this teacher did not set (one handed in from outside, or one whose ``f`` was
  dropped from the pending map) enters the buffer with a fresh ``f ~ U(0, 1)``, drawn when
  its round trains; TMA raises.
- The scale and shift networks of a coupling are computed side by side as one batched
  matrix product per layer (:class:`HighwayPair`): the same two networks, faster on CPU.
  A round of our schedule costs ~2 s on one CPU core at ``d = 2`` (TMA's setter has 453,906
  parameters), so ``train_lag=1`` matters at many envs.
- For ``d = 1`` the coupling that would change no coordinate is left out (TMA builds it with
  an empty output).

The flow's noise of training comes from the teacher's own torch generator, that of
sampling from its numpy generator.

Batches (issue 18: at 1024 envs a vector step needs many tasks). Each task's random
numbers are one row of ``1 + d`` standard normals from the numpy generator: the desired
feasibility ``f = Phi(x_0)`` (exactly uniform) and ``z``. ``sample_batch(n)`` draws the
``n`` rows at once and runs the setter once on them, so it hands out the tasks of ``n``
calls of ``sample()`` (the same random numbers; the flow of a batch equals the flow row by
row up to float32 rounding, which a matrix product may order differently for different
batch sizes). ``update_batch`` converts the batch's tasks at once and then follows the
per-episode rule, a training round every ``update_period`` episodes, as ``update`` does.

Training off the loop (``train_lag``, issue 18). A round of ``n_train_steps`` = 50 steps of
judge and setter every 50 episodes is, at 1024 envs, a round every few vector steps, so
training in step with the episodes, as published, costs more than the envs themselves.
``train_lag=1`` (:mod:`teachers.refit`) trains each round in a worker on a copy of setter,
judge, their optimisers and the torch generator (:class:`SetterAndJudge`, rebuilt from its
state by :func:`train_round`) on the buffer as it was at the boundary, and installs the
result one round later: the tasks of the round after a boundary come from the setter of
one round earlier than in Racanière et al. (2020), one round of staleness; the weights
installed are those the published schedule has one round earlier on the same buffer.
``train_lag=0`` (default) is the paper's schedule.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from scipy.special import ndtr
from torch import nn

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher
from teachers.expert import ExpertKnowledge
from teachers.refit import LaggedUpdate
from teachers.torch_utils import build_networks, load_training_state, mlp, seeded_generator, training_state

F_LOW, F_HIGH = 1e-8, 1.0 - 1e-7  # TMA draws f ~ U(1e-8, 1); the top keeps logit(f) finite in float32
GOAL_EPS = 1e-4  # TMA clips noisy achieved goals into [1e-4, 1 - 1e-4] before the flow's logit
INFER_EPS = 1e-6  # ours: goals are clamped into [1e-6, 1 - 1e-6] before their latents are inferred (float32 logit)
MIN_SCALE = 1e-2  # TMA's _MIN_SCALE: a coupling's scale is MIN_SCALE + softplus(s)


def sonnet_init(layer: nn.Linear) -> None:
    """Sonnet's default for a linear layer (TMA's networks): weights from a normal of std
    ``1/sqrt(fan_in)`` truncated at two std, biases zero."""
    std = 1.0 / math.sqrt(layer.in_features)
    nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
    nn.init.zeros_(layer.bias)


def slow_softplus(x: torch.Tensor) -> torch.Tensor:
    """TMA's "nice softplus" for the coupling scales: ``x (atan(x)/pi + 1/2) + 1/pi``, ~x at
    +inf and ``1/(3 pi x^2)`` at -inf (it decays much slower than ``log(1 + e^x)``), after a
    soft clip of ``x`` to +-1e6; below -30 the asymptote is used (the formula cancels badly)."""
    c = 1e6 / (math.pi / 2)
    x = c * torch.atan(x / c)
    y = x * (torch.atan(x) / math.pi + 0.5) + 1.0 / math.pi
    return torch.where(x < -30.0, 1.0 / (3.0 * math.pi * x.square()), y)


def log_sigmoid_slope(x: torch.Tensor) -> torch.Tensor:
    """``log sigma'(x) = log sigma(x) + log sigma(-x)``, the log-Jacobian of the output sigmoid."""
    return -nn.functional.softplus(-x) - nn.functional.softplus(x)


class HighwayPair(nn.Module):
    """A coupling's scale and shift networks, TMA's two ``Highway`` networks of the same input:
    each ``Linear -> tanh``, ``n_blocks`` highway blocks ``y + (tanh(a) - y) * sigmoid(g)``
    with ``(a, g) = Linear(y)``, then ``Linear`` to the output. The two are computed side by
    side as one batched matrix product per layer (index 0: scale, 1: shift); each has its own
    weights, so the pair holds exactly the parameters of two networks."""

    def __init__(self, n_in: int, n_out: int, hidden: int, n_blocks: int) -> None:
        super().__init__()

        def linear(fan_in: int, fan_out: int, *lead: int) -> tuple[nn.Parameter, nn.Parameter]:
            w = torch.empty(*lead, 2, fan_in, fan_out)
            std = 1.0 / math.sqrt(fan_in)  # Sonnet's default: truncated normal, zero bias
            nn.init.trunc_normal_(w, std=std, a=-2 * std, b=2 * std)
            return nn.Parameter(w), nn.Parameter(torch.zeros(*lead, 2, 1, fan_out))

        self.w_in, self.b_in = linear(n_in, hidden)
        self.w_blocks, self.b_blocks = linear(hidden, 2 * hidden, n_blocks)
        self.w_out, self.b_out = linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.tanh(torch.baddbmm(self.b_in, x.expand(2, *x.shape), self.w_in))
        for k in range(self.w_blocks.shape[0]):
            a, g = torch.baddbmm(self.b_blocks[k], y, self.w_blocks[k]).chunk(2, dim=-1)
            y = y + (torch.tanh(a) - y) * torch.sigmoid(g)
        s, t = torch.baddbmm(self.b_out, y, self.w_out)
        return s, t


class ConditionalCoupling(nn.Module):
    """One affine coupling: the dimensions ``free`` become ``z * scale + t``, where ``scale =
    MIN_SCALE + slow_softplus(s)`` and ``s``, ``t`` are the two networks of a
    :class:`HighwayPair` of the dimensions ``cond`` and of the desired feasibility ``f``."""

    def __init__(self, dim: int, cond: slice, free: slice, hidden: int, highway_blocks: int) -> None:
        super().__init__()
        idx = list(range(dim))
        self.cond, self.free = cond, free
        self.nets = HighwayPair(len(idx[cond]) + 1, len(idx[free]), hidden, highway_blocks)

    def _scale_shift(self, z: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.nets(torch.cat([z[:, self.cond], f], dim=-1))
        return MIN_SCALE + slow_softplus(s), t

    def forward(self, z: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent side -> goal side, and ``sum log scale`` (log|det| of this map)."""
        scale, t = self._scale_shift(z, f)
        out = z.clone()
        out[:, self.free] = z[:, self.free] * scale + t
        return out, torch.log(scale).sum(-1)

    def inverse(self, x: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Goal side -> latent side, and ``sum log scale`` (minus log|det| of this map)."""
        scale, t = self._scale_shift(x, f)  # the cond dimensions are unchanged by the map
        out = x.clone()
        out[:, self.free] = (x[:, self.free] - t) / scale
        return out, torch.log(scale).sum(-1)


class ConditionalRealNVP(nn.Module):
    """The setter ``x = sigmoid(S(z, f))``, TMA's ``FlatRnvp``: ``n_blocks`` blocks of three
    couplings (the second half given the first, the first given the second, the even
    dimensions given the odd ones), then a sigmoid into the unit cube. A coupling that
    would change no dimension (the second of a block when ``d = 1``) is left out.

    ``log_p`` is TMA's: the log-density up to the constant ``-d/2 log(2 pi)`` (which no loss
    gradient sees; add it for a normalised density).
    """

    def __init__(self, dim: int, hidden: int, n_blocks: int = 3, highway_blocks: int = 3) -> None:
        super().__init__()
        n1 = dim // 2
        splits = ((slice(0, n1), slice(n1, dim)), (slice(n1, dim), slice(0, n1)),
                  (slice(1, None, 2), slice(0, None, 2)))
        self.layers = nn.ModuleList(
            ConditionalCoupling(dim, cond, free, hidden, highway_blocks)
            for _ in range(n_blocks) for cond, free in splits if len(range(dim)[free]) > 0
        )
        self.dim = dim

    def forward(self, z: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Goals in ``(0, 1)^d`` for latents ``z ~ N(0, I)``, and their ``log_p``."""
        logp = -0.5 * z.square().sum(-1)
        for layer in self.layers:
            z, log_scale = layer(z, f)
            logp = logp - log_scale
        return torch.sigmoid(z), logp - log_sigmoid_slope(z).sum(-1)

    def inverse(self, x: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The latents of goals ``x`` in ``(0, 1)^d``, and the goals' ``log_p``."""
        z = torch.logit(x)
        logp = -log_sigmoid_slope(z).sum(-1)
        for layer in reversed(self.layers):
            z, log_scale = layer.inverse(z, f)
            logp = logp - log_scale
        return z, logp - 0.5 * z.square().sum(-1)

    def log_prob(self, x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return self.inverse(x, f)[1]


def judge_network(dim: int, hidden: Sequence[int]) -> nn.Sequential:
    """The judge: an MLP with ReLUs from a goal in the unit cube to the logit of success."""
    net = mlp([dim, *hidden, 1])
    for layer in net:
        if isinstance(layer, nn.Linear):
            sonnet_init(layer)
    return net


class SetterAndJudge:
    """The setter and the judge with their Adam optimisers and the torch generator of the
    training noise: everything a training round changes, and the last round's diagnostics.

    Args:
        config: ``d``, ``n_blocks``, ``highway_blocks``, ``setter_hidden``, ``judge_hidden``,
            ``lr``, ``loss_noise``, ``weights`` (validity, feasibility, coverage),
            ``n_train_steps``, ``batch_size`` (``None``: the whole buffer at every step).
        seed: seed of the initial weights (``seed``) and of the noise (``seed + 1``); ``None``
            for a copy that is about to load a state (its weights are left unset and torch's
            global generator is not touched, so a copy can be built in a thread).
    """

    def __init__(self, config: Mapping[str, Any], seed: int | None) -> None:
        self.config = dict(config)
        d = int(config["d"])

        def build() -> tuple[nn.Module, nn.Module]:
            return (ConditionalRealNVP(d, int(config["setter_hidden"]), int(config["n_blocks"]),
                                       int(config["highway_blocks"])),
                    judge_network(d, config["judge_hidden"]))

        self.setter, self.judge = build_networks(seed, build)
        self.setter_opt = torch.optim.Adam(self.setter.parameters(), lr=config["lr"])
        self.judge_opt = torch.optim.Adam(self.judge.parameters(), lr=config["lr"])
        self.gen = seeded_generator(0 if seed is None else seed + 1)
        self.last = {"judge_loss": float("nan"), "validity_loss": float("nan"), "feasibility_loss": float("nan"),
                     "coverage_loss": float("nan"), "judge_accuracy": float("nan"), "feasibility_gap": float("nan")}

    def losses(self, goals: torch.Tensor, fs: torch.Tensor, wins: torch.Tensor,
               noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """TMA's three setter losses on a batch of goals (unit cube), the feasibilities they
        were set for and their successes; ``noise`` (one row per achieved goal) is added to
        the achieved goals. Returns (validity, feasibility, coverage, the goals' re-sampled
        ``x``); validity is NaN without an achieved goal (TMA's mean over none)."""
        with torch.no_grad():  # the goals' latents under the current setter, held fixed
            latent = self.setter.inverse(goals.clamp(INFER_EPS, 1 - INFER_EPS), fs)[0]
        x, logp = self.setter(latent, fs)
        coverage = logp.mean()
        feasibility = (self.judge(x) - torch.logit(fs.double()).float()).square().mean()
        achieved = wins > 0.5
        validity = torch.tensor(float("nan"))
        if bool(achieved.any()):
            noisy = (goals[achieved] + noise).clamp(GOAL_EPS, 1 - GOAL_EPS)
            validity = -self.setter.log_prob(noisy, fs[achieved]).mean()
        return validity, feasibility, coverage, x

    def train(self, goals: torch.Tensor, fs: torch.Tensor, wins: torch.Tensor) -> None:
        """``n_train_steps`` steps of judge then setter on (goal, desired feasibility, success)
        triples (goals in the unit cube, ``fs`` of shape ``(n, 1)``, NaN where unknown)."""
        unknown = torch.isnan(fs)  # tasks this teacher did not set: a fresh f ~ U(0, 1)
        if bool(unknown.any()):
            fs = torch.where(unknown, F_LOW + (F_HIGH - F_LOW) * torch.rand(fs.shape, generator=self.gen), fs)
        n_train_steps = int(self.config["n_train_steps"])
        batch_size = self.config["batch_size"]
        loss_noise = float(self.config["loss_noise"])
        n, d = goals.shape
        w_val, w_feas, w_cov = self.config["weights"]
        for step in range(n_train_steps):
            if batch_size is None:
                idx = torch.arange(n)
            else:
                idx = torch.randint(n, (int(batch_size),), generator=self.gen)
            g, f, w = goals[idx], fs[idx], wins[idx]
            # judge: cross-entropy on (goal, success)
            logits = self.judge(g).squeeze(-1)
            judge_loss = nn.functional.binary_cross_entropy_with_logits(logits, w)
            self.judge_opt.zero_grad()
            judge_loss.backward()
            self.judge_opt.step()

            # setter: validity + feasibility + coverage (TMA: noise ~ U(0, loss_noise) per coordinate)
            noise = loss_noise * torch.rand(int((w > 0.5).sum()), d, generator=self.gen)
            validity, feasibility, coverage, x = self.losses(g, f, w, noise)
            loss = w_feas * feasibility + w_cov * coverage
            if not bool(torch.isnan(validity)):
                loss = loss + w_val * validity
            self.setter_opt.zero_grad()
            loss.backward()
            self.setter_opt.step()

            if step < n_train_steps - 1:
                continue
            with torch.no_grad():  # diagnostics of the last step only
                self.last = {
                    "judge_loss": float(judge_loss),
                    "validity_loss": float(validity),
                    "feasibility_loss": float(feasibility),
                    "coverage_loss": float(coverage),
                    "judge_accuracy": float(((logits > 0).float() == w).float().mean()),
                    "feasibility_gap": float((torch.sigmoid(self.judge(x).squeeze(-1)) - f.squeeze(-1)).abs().mean()),
                }

    def _parts(self) -> tuple[dict[str, nn.Module], dict[str, torch.optim.Optimizer]]:
        return {"setter": self.setter, "judge": self.judge}, {"setter_opt": self.setter_opt, "judge_opt": self.judge_opt}

    def state(self) -> dict[str, Any]:
        return {**training_state(*self._parts(), self.gen), "last": dict(self.last)}

    def load(self, state: Mapping[str, Any]) -> None:
        load_training_state(state, *self._parts(), self.gen)
        self.last = {k: float(v) for k, v in state["last"].items()}


def train_round(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A training round on a copy of setter and judge: the lag-1 update
    (:mod:`teachers.refit`). Returns the copy's state after the round."""
    nets = SetterAndJudge(inputs["config"], seed=None)
    nets.load(inputs["nets"])
    nets.train(inputs["goals"], inputs["fs"], inputs["wins"])
    return nets.state()


class SetterSolver(Teacher):
    """Setter-Solver with a judge.

    Args:
        task_space: the space to propose tasks from.
        seed: seed of the teacher's torch generator and of the initial weights.
        expert: expert knowledge: ``success`` is required (``"env"`` or a return threshold).
        update_period: episodes between training rounds. Default 50 (TMA's benchmark).
        judge_hidden: hidden layers of the judge MLP. Default (64, 64): what TMA builds (it
            passes 64-64-64 but its judge drops the first size; module doc).
        setter_hidden: width of the setter's highway networks. Default 64 (TMA's benchmark).
        n_blocks: blocks of three couplings in the setter. Default 3 (TMA).
        highway_blocks: highway blocks in each coupling network. Default 3 (TMA).
        loss_noise: upper bound of the uniform noise added to achieved goals in the
            validity loss, in units of each task range. Default 0.1 (TMA's benchmark).
        validity_weight, feasibility_weight, coverage_weight: weights of the setter's
            losses. Defaults 1.0 (TMA).
        n_train_steps: gradient steps per training round. Default 50 (ours; TMA: 1).
        batch_size: minibatch size, or ``None`` for the whole buffer at every step.
            Default 128 (ours; TMA: the whole round).
        lr: Adam learning rate of setter and judge. Default 1e-3 (ours; TMA: 3e-4).
        buffer_size: recent episodes kept for training. Default 2000 (ours; TMA: the
            round's ``update_period`` episodes).
        train_lag: 0 (default: Racanière et al.'s schedule, each round trained when its
            episodes end) or 1 (each round trained off the training loop and installed one
            round late, so sampling uses the setter one round stale; module doc,
            :mod:`teachers.refit`).
        train_worker: where a lag-1 round is trained: ``"process"`` (default), ``"thread"``
            or ``"inline"`` (:mod:`teachers.refit`).
        max_pending: sampled tasks whose desired feasibility is kept until their episode
            ends (oldest dropped). Default 4096 (ours).
    """

    name = "setter_solver"

    def __init__(
        self,
        task_space: TaskSpace,
        seed: int = 0,
        expert: Mapping[str, Any] | ExpertKnowledge | None = None,
        update_period: int = 50,
        judge_hidden: tuple[int, ...] | list[int] = (64, 64),
        setter_hidden: int = 64,
        n_blocks: int = 3,
        highway_blocks: int = 3,
        loss_noise: float = 0.1,
        validity_weight: float = 1.0,
        feasibility_weight: float = 1.0,
        coverage_weight: float = 1.0,
        n_train_steps: int = 50,
        batch_size: int | None = 128,
        lr: float = 1e-3,
        buffer_size: int = 2000,
        train_lag: int = 0,
        train_worker: str = "process",
        max_pending: int = 4096,
    ) -> None:
        super().__init__(task_space, seed)
        self.expert = ExpertKnowledge.from_config(expert, task_space)
        self.expert.need(self.name, "success")
        for key, value, ok in (
            ("update_period", update_period, int(update_period) >= 1),
            ("n_blocks", n_blocks, int(n_blocks) >= 1),
            ("highway_blocks", highway_blocks, int(highway_blocks) >= 0),
            ("loss_noise", loss_noise, loss_noise >= 0),
            ("n_train_steps", n_train_steps, int(n_train_steps) >= 0),
            ("batch_size", batch_size, batch_size is None or int(batch_size) >= 1),
            ("lr", lr, lr > 0),
            ("buffer_size", buffer_size, int(buffer_size) >= 1),
            ("max_pending", max_pending, int(max_pending) >= 1),
        ):
            if not ok:
                raise TeachBenchError(f"teacher.{key}", f"invalid value {value!r}")
        self.update_period = int(update_period)
        self.nets = SetterAndJudge({"d": task_space.ndim, "n_blocks": int(n_blocks),
                                    "highway_blocks": int(highway_blocks),
                                    "setter_hidden": int(setter_hidden), "judge_hidden": list(judge_hidden),
                                    "lr": float(lr), "loss_noise": float(loss_noise),
                                    "weights": [float(validity_weight), float(feasibility_weight),
                                                float(coverage_weight)],
                                    "n_train_steps": int(n_train_steps),
                                    "batch_size": None if batch_size is None else int(batch_size)}, seed=self.seed)
        self.trainer = LaggedUpdate("setter_solver", train_lag, train_worker, "train")
        self.buffer: deque[tuple[list[float], float, bool]] = deque(maxlen=int(buffer_size))
        self.max_pending = int(max_pending)
        self.pending: dict[tuple[float, ...], float] = {}  # sampled task (unit cube) -> its desired feasibility
        self.since_update = 0
        self.n_rounds = 0

    # -- sampling -----------------------------------------------------------------------
    def _sample(self) -> Task:
        return self._sample_batch(1)[0]

    def _sample_batch(self, n: int) -> list[Task]:
        """``n`` tasks, each for its own ``f ~ U(0, 1)`` (module doc: the same tasks as ``n``
        single samples)."""
        draws = self.rng.standard_normal((n, 1 + self.task_space.ndim))
        return self._set(ndtr(draws[:, 0]), draws[:, 1:])

    def sample_with_feasibility(self, feasibility: float) -> Task:
        """A task set for a chosen desired feasibility (the paper's conditioning input)."""
        if not 0.0 <= feasibility <= 1.0:
            raise TeachBenchError("feasibility", f"must be in [0, 1], got {feasibility}")
        self.n_sampled += 1
        z = self.rng.standard_normal((1, self.task_space.ndim))
        return self.task_space.validate(self._set(np.array([feasibility]), z)[0])

    def _set(self, feasibility: np.ndarray, z: np.ndarray) -> list[Task]:
        """The setter's tasks ``S(z_k, f_k)`` (``f`` kept in ``[F_LOW, F_HIGH]``); each task
        remembers its ``f`` until its episode ends (TMA's pending goal)."""
        f = np.clip(feasibility, F_LOW, F_HIGH)
        with torch.no_grad():
            x, _ = self.nets.setter(torch.as_tensor(z, dtype=torch.float32),
                                    torch.as_tensor(f, dtype=torch.float32).reshape(-1, 1))
        tasks = self.task_space.from_unit_batch(x.double().numpy())
        for u, fk in zip(self.task_space.to_unit_batch(tasks), f):
            self.pending[_key(u)] = float(fk)
        while len(self.pending) > self.max_pending:
            self.pending.pop(next(iter(self.pending)))
        return tasks

    def predicted_feasibility(self, task: Mapping[str, Any]) -> float:
        """The judge's estimate of the student's chance of success on ``task``."""
        x = torch.as_tensor(self.task_space.to_unit(task), dtype=torch.float32)
        with torch.no_grad():
            return float(torch.sigmoid(self.nets.judge(x.unsqueeze(0)))[0, 0])

    # -- learning -----------------------------------------------------------------------
    def _update(self, episode: Episode) -> None:
        self._record(episode, self.task_space.to_unit_batch([episode.task])[0])

    def _update_batch(self, episodes: Sequence[Episode]) -> None:
        for episode, goal in zip(episodes, self.task_space.to_unit_batch([e.task for e in episodes])):
            self._record(episode, goal)

    def _record(self, episode: Episode, goal: np.ndarray) -> None:
        """Keep one (goal, desired feasibility, success); train every ``update_period`` episodes.
        A task this teacher did not set (or whose ``f`` was dropped) gets ``f = NaN``, which a
        training round replaces with a fresh ``f ~ U(0, 1)``."""
        success = self.expert.is_success(episode.episode_return, episode.success)
        f = self.pending.pop(_key(goal), float("nan"))
        self.buffer.append((goal.tolist(), f, bool(success)))
        self.since_update += 1
        if self.since_update >= self.update_period:
            self.since_update = 0
            goals = torch.as_tensor([g for g, _, _ in self.buffer], dtype=torch.float32)
            fs = torch.as_tensor([[f] for _, f, _ in self.buffer], dtype=torch.float32)
            wins = torch.as_tensor([s for _, _, s in self.buffer], dtype=torch.float32)
            self._train_round(goals, fs, wins)

    def _train_round(self, goals: torch.Tensor, fs: torch.Tensor, wins: torch.Tensor) -> None:
        """A training round on the buffer: now (``train_lag=0``), or started off the loop
        from the networks installed now, after installing the previous round's result
        (``train_lag=1``)."""
        if self.trainer.lag == 0:
            self.nets.train(goals, fs, wins)
            self.n_rounds += 1
            return
        self._install(self.trainer.collect())
        self.trainer.submit({"config": self.nets.config, "nets": self.nets.state(), "goals": goals, "fs": fs,
                             "wins": wins})

    def _install(self, result: Any) -> None:
        """Install a lag-1 round's networks (nothing before the first round's result)."""
        if isinstance(result, Mapping):
            self.nets.load(result)
            self.n_rounds += 1

    # -- state --------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        nets = self.nets.state()
        state = {
            "setter": nets["setter"],
            "judge": nets["judge"],
            "setter_opt": nets["setter_opt"],
            "judge_opt": nets["judge_opt"],
            "torch_rng": nets["torch_rng"],
            "buffer_goals": [list(g) for g, _, _ in self.buffer],
            "buffer_feasibility": [float(f) for _, f, _ in self.buffer],
            "buffer_success": [bool(s) for _, _, s in self.buffer],
            "pending": [[list(k), v] for k, v in self.pending.items()],
            "since_update": self.since_update,
            "n_rounds": self.n_rounds,
            "last": nets["last"],
        }
        if self.trainer.lag == 1:  # the round in flight, as its buffer (it starts from the networks above)
            pending = self.trainer.pending
            state["train_pending"] = None if pending is None else {"goals": pending["goals"].clone(),
                                                                   "fs": pending["fs"].clone(),
                                                                   "wins": pending["wins"].clone()}
        return state

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.nets.load(state)
        self.buffer = deque(
            (([float(x) for x in g], float(f), bool(s))
             for g, f, s in zip(state["buffer_goals"], state["buffer_feasibility"], state["buffer_success"])),
            maxlen=self.buffer.maxlen,
        )
        self.pending = {tuple(float(x) for x in k): float(v) for k, v in state["pending"]}
        self.since_update = int(state["since_update"])
        self.n_rounds = int(state["n_rounds"])
        pending = state.get("train_pending")
        self.trainer.restore(None)  # drop what was in flight for the state we leave
        if pending is not None:  # the checkpoint's round in flight: again (lag 1), or now (lag 0)
            self._train_round(pending["goals"], pending["fs"], pending["wins"])

    def _diagnostics(self) -> dict[str, Any]:
        wins = [s for _, _, s in self.buffer]
        return {
            "rounds": self.n_rounds,
            "buffer_success_rate": float(np.mean(wins)) if wins else float("nan"),
            **self.nets.last,
        }


def _key(u: np.ndarray) -> tuple[float, ...]:
    """A task's key in the pending map: its unit-cube coordinates to 9 decimals."""
    return tuple(np.round(np.asarray(u, dtype=np.float64), 9).tolist())
