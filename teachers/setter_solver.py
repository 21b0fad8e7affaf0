"""Setter-Solver (Racanière et al. 2020), with TeachMyAgent's settings.

A *setter* proposes tasks for the student (the *solver*) given a desired feasibility
``f in (0, 1)``: the chance that the solver succeeds. A *judge* learns to predict that
chance. The setter is a conditional RealNVP flow ``x = S(z, f)``, ``z ~ N(0, I)``, so it
has an exact density ``p_S(x | f)`` and three losses (docs/references.md#setter-solver; the paper's names):

- **validity**: goals the solver achieved should be likely under the setter,
  ``L_val = E_{g achieved, f ~ U(0,1)}[ -log p_S(g + eps | f) ]``, ``eps ~ N(0, loss_noise)``;
- **feasibility**: the judge should rate a goal set for ``f`` as feasible with chance ``f``,
  ``L_feas = E_{z, f}[ (J(S(z, f)) - logit f)^2 ]`` (``J`` outputs a logit);
- **coverage**: the setter should spread its goals,
  ``L_cov = E_{z, f}[ log p_S(S(z, f) | f) ]`` (minimising it maximises entropy).

The judge is trained with cross-entropy on (goal, success). Every ``update_period``
episodes both networks take ``n_train_steps`` gradient steps on minibatches of a FIFO
buffer of recent episodes. Tasks are sampled with ``f ~ U(0, 1)``;
:meth:`SetterSolver.sample_with_feasibility` asks for a chosen ``f``.

The flow works in ``[-1, 1]^d`` (the unit cube rescaled; samples are clipped into it), on
CPU, seeded from the teacher's seed; the noise of training comes from the teacher's own
torch generator, that of sampling from its numpy generator.

Batches (issue 18: at 1024 envs a vector step needs many tasks). Each task's random
numbers are one row of ``1 + d`` standard normals from the numpy generator: the desired
feasibility ``f = Phi(x_0)`` (exactly uniform) and ``z``. ``sample_batch(n)`` draws the
``n`` rows at once and runs the setter once on them, so it hands out the tasks of ``n``
calls of ``sample()`` (the same random numbers; the flow of a batch equals the flow row by
row up to float32 rounding, which a matrix product may order differently for different
batch sizes). ``update_batch`` converts the batch's tasks at once and then follows the
per-episode rule, a training round every ``update_period`` episodes, as ``update`` does.

Training off the loop (``train_lag``, issue 18). A round is ``n_train_steps`` = 50 steps of
judge and setter (~0.2 s on one CPU core) every 50 episodes; at 1024 envs that is a round
every few vector steps, so training in step with the episodes, as published, costs more
than the envs themselves. ``train_lag=1`` (:mod:`teachers.refit`) trains each round in a
worker on a copy of setter, judge, their optimisers and the torch generator
(:class:`SetterAndJudge`, rebuilt from its state by :func:`train_round`) on the buffer as it
was at the boundary, and installs the result one round later: the tasks of the round after
a boundary come from the setter of one round earlier than in Racanière et al. (2020), one
round of staleness; the weights installed are those the published schedule has one round
earlier on the same buffer. ``train_lag=0`` (default) is the paper's schedule.
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

F_EPS = 0.01  # desired feasibilities are kept in [F_EPS, 1 - F_EPS] so that logit(f) is finite


class ConditionalCoupling(nn.Module):
    """One affine coupling layer: the dimensions where ``mask`` is 0 are scaled and shifted
    by functions of the other dimensions and of ``f`` (for d = 1, of ``f`` alone)."""

    def __init__(self, mask: torch.Tensor, hidden: int) -> None:
        super().__init__()
        d = mask.shape[0]
        self.register_buffer("mask", mask)
        self.net = mlp([d + 1, hidden, hidden, 2 * d])
        last = self.net[-1]
        nn.init.zeros_(last.weight)  # start as the identity map (standard RealNVP practice)
        nn.init.zeros_(last.bias)

    def _scale_shift(self, x_fixed: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.net(torch.cat([x_fixed, f], dim=-1)).chunk(2, dim=-1)
        free = 1.0 - self.mask
        return torch.tanh(s) * free, t * free

    def forward(self, x: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z-side -> x-side, and log|det| of this map."""
        s, t = self._scale_shift(x * self.mask, f)
        return x * torch.exp(s) + t, s.sum(-1)

    def inverse(self, y: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x-side -> z-side, and log|det| of the inverse map."""
        s, t = self._scale_shift(y * self.mask, f)
        return (y - t) * torch.exp(-s), -s.sum(-1)


class ConditionalRealNVP(nn.Module):
    """``x = S(z, f)``: a stack of conditional couplings with alternating masks."""

    def __init__(self, dim: int, n_layers: int, hidden: int) -> None:
        super().__init__()
        masks = []
        for k in range(n_layers):
            if dim == 1:
                masks.append(torch.zeros(1))
            else:
                masks.append(torch.tensor([float((i + k) % 2) for i in range(dim)]))
        self.layers = nn.ModuleList(ConditionalCoupling(m, hidden) for m in masks)
        self.dim = dim

    def forward(self, z: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Samples and their log-density ``log p_S(x | f)``."""
        logp = _std_normal_logpdf(z)
        x = z
        for layer in self.layers:
            x, logdet = layer(x, f)
            logp = logp - logdet
        return x, logp

    def log_prob(self, x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        logdet_total = torch.zeros(x.shape[0])
        for layer in reversed(self.layers):
            x, logdet = layer.inverse(x, f)
            logdet_total = logdet_total + logdet
        return _std_normal_logpdf(x) + logdet_total


def _std_normal_logpdf(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)


class SetterAndJudge:
    """The setter and the judge with their Adam optimisers and the torch generator of the
    training noise: everything a training round changes, and the last round's diagnostics.

    Args:
        config: ``d``, ``n_coupling_layers``, ``setter_hidden``, ``judge_hidden``, ``lr``,
            ``loss_noise``, ``weights`` (validity, feasibility, coverage), ``n_train_steps``,
            ``batch_size``.
        seed: seed of the initial weights (``seed``) and of the noise (``seed + 1``); ``None``
            for a copy that is about to load a state (its weights are left unset and torch's
            global generator is not touched, so a copy can be built in a thread).
    """

    def __init__(self, config: Mapping[str, Any], seed: int | None) -> None:
        self.config = dict(config)
        d = int(config["d"])

        def build() -> tuple[nn.Module, nn.Module]:
            return (ConditionalRealNVP(d, int(config["n_coupling_layers"]), int(config["setter_hidden"])),
                    mlp([d, *config["judge_hidden"], 1]))

        self.setter, self.judge = build_networks(seed, build)
        self.setter_opt = torch.optim.Adam(self.setter.parameters(), lr=config["lr"])
        self.judge_opt = torch.optim.Adam(self.judge.parameters(), lr=config["lr"])
        self.gen = seeded_generator(0 if seed is None else seed + 1)
        self.last = {"judge_loss": float("nan"), "validity_loss": float("nan"), "feasibility_loss": float("nan"),
                     "coverage_loss": float("nan"), "judge_accuracy": float("nan"), "feasibility_gap": float("nan")}

    def train(self, goals: torch.Tensor, wins: torch.Tensor) -> None:
        """``n_train_steps`` steps of judge and setter on (goal, success) pairs (goals in ``[-1, 1]^d``)."""
        n_train_steps, batch_size = int(self.config["n_train_steps"]), int(self.config["batch_size"])
        loss_noise = float(self.config["loss_noise"])
        achieved = goals[wins > 0.5]
        n, d = goals.shape
        w_val, w_feas, w_cov = self.config["weights"]
        for step in range(n_train_steps):
            # judge: cross-entropy on (goal, success)
            idx = torch.randint(n, (min(batch_size, n),), generator=self.gen)
            logits = self.judge(goals[idx]).squeeze(-1)
            judge_loss = nn.functional.binary_cross_entropy_with_logits(logits, wins[idx])
            self.judge_opt.zero_grad()
            judge_loss.backward()
            self.judge_opt.step()

            # setter: validity + feasibility + coverage
            b = batch_size
            f = F_EPS + (1 - 2 * F_EPS) * torch.rand(b, 1, generator=self.gen)
            z = torch.randn(b, d, generator=self.gen)
            x, logp = self.setter(z, f)
            coverage = logp.mean()
            feasibility = ((self.judge(x).squeeze(-1) - torch.logit(f.squeeze(-1))) ** 2).mean()
            loss = w_feas * feasibility + w_cov * coverage
            validity = torch.tensor(float("nan"))
            if achieved.shape[0] > 0:
                jdx = torch.randint(achieved.shape[0], (b,), generator=self.gen)
                noisy = achieved[jdx] + 2.0 * loss_noise * torch.randn(b, d, generator=self.gen)
                f_val = F_EPS + (1 - 2 * F_EPS) * torch.rand(b, 1, generator=self.gen)
                validity = -self.setter.log_prob(noisy, f_val).mean()
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
                    "judge_accuracy": float(((logits > 0).float() == wins[idx]).float().mean()),
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
    nets.train(inputs["goals"], inputs["wins"])
    return nets.state()


class SetterSolver(Teacher):
    """Setter-Solver with a judge.

    Args:
        task_space: the space to propose tasks from.
        seed: seed of the teacher's torch generator and of the initial weights.
        expert: expert knowledge: ``success`` is required (``"env"`` or a return threshold).
        update_period: episodes between training rounds. Default 50 (TMA).
        judge_hidden: hidden layers of the judge MLP. Default (64, 64, 64) (TMA).
        setter_hidden: hidden units of each coupling network. Default 64 (TMA).
        n_coupling_layers: coupling layers of the flow. Default 4 (ours).
        loss_noise: std of the noise added to achieved goals in the validity loss,
            fraction of range. Default 0.1 (TMA).
        validity_weight, feasibility_weight, coverage_weight: weights of the setter's
            losses. Defaults 1.0 (ours: equal weights).
        n_train_steps: gradient steps per training round. Default 50 (ours).
        batch_size: minibatch size. Default 128 (ours).
        lr: Adam learning rate of setter and judge. Default 1e-3 (ours).
        buffer_size: recent episodes kept for training. Default 2000 (ours).
        train_lag: 0 (default: Racanière et al.'s schedule, each round trained when its
            episodes end) or 1 (each round trained off the training loop and installed one
            round late, so sampling uses the setter one round stale; module doc,
            :mod:`teachers.refit`).
        train_worker: where a lag-1 round is trained: ``"process"`` (default), ``"thread"``
            or ``"inline"`` (:mod:`teachers.refit`).
    """

    name = "setter_solver"

    def __init__(
        self,
        task_space: TaskSpace,
        seed: int = 0,
        expert: Mapping[str, Any] | ExpertKnowledge | None = None,
        update_period: int = 50,
        judge_hidden: tuple[int, ...] | list[int] = (64, 64, 64),
        setter_hidden: int = 64,
        n_coupling_layers: int = 4,
        loss_noise: float = 0.1,
        validity_weight: float = 1.0,
        feasibility_weight: float = 1.0,
        coverage_weight: float = 1.0,
        n_train_steps: int = 50,
        batch_size: int = 128,
        lr: float = 1e-3,
        buffer_size: int = 2000,
        train_lag: int = 0,
        train_worker: str = "process",
    ) -> None:
        super().__init__(task_space, seed)
        self.expert = ExpertKnowledge.from_config(expert, task_space)
        self.expert.need(self.name, "success")
        for key, value, ok in (
            ("update_period", update_period, int(update_period) >= 1),
            ("n_coupling_layers", n_coupling_layers, int(n_coupling_layers) >= 1),
            ("loss_noise", loss_noise, loss_noise >= 0),
            ("n_train_steps", n_train_steps, int(n_train_steps) >= 0),
            ("batch_size", batch_size, int(batch_size) >= 1),
            ("lr", lr, lr > 0),
            ("buffer_size", buffer_size, int(buffer_size) >= 1),
        ):
            if not ok:
                raise TeachBenchError(f"teacher.{key}", f"invalid value {value!r}")
        self.update_period = int(update_period)
        self.nets = SetterAndJudge({"d": task_space.ndim, "n_coupling_layers": int(n_coupling_layers),
                                    "setter_hidden": int(setter_hidden), "judge_hidden": list(judge_hidden),
                                    "lr": float(lr), "loss_noise": float(loss_noise),
                                    "weights": [float(validity_weight), float(feasibility_weight),
                                                float(coverage_weight)],
                                    "n_train_steps": int(n_train_steps), "batch_size": int(batch_size)}, seed=self.seed)
        self.trainer = LaggedUpdate("setter_solver", train_lag, train_worker, "train")
        self.buffer: deque[tuple[list[float], bool]] = deque(maxlen=int(buffer_size))
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
        """The setter's tasks ``S(z_k, f_k)`` (``f`` kept in ``[F_EPS, 1 - F_EPS]``)."""
        f = torch.as_tensor(np.clip(feasibility, F_EPS, 1 - F_EPS), dtype=torch.float32).reshape(-1, 1)
        with torch.no_grad():
            x, _ = self.nets.setter(torch.as_tensor(z, dtype=torch.float32), f)
        return self.task_space.from_unit_batch((x.double().numpy() + 1.0) / 2.0)

    def predicted_feasibility(self, task: Mapping[str, Any]) -> float:
        """The judge's estimate of the student's chance of success on ``task``."""
        x = torch.as_tensor(self.task_space.to_unit(task) * 2.0 - 1.0, dtype=torch.float32)
        with torch.no_grad():
            return float(torch.sigmoid(self.nets.judge(x.unsqueeze(0)))[0, 0])

    # -- learning -----------------------------------------------------------------------
    def _update(self, episode: Episode) -> None:
        self._record(episode, self.task_space.to_unit_batch([episode.task])[0].tolist())

    def _update_batch(self, episodes: Sequence[Episode]) -> None:
        for episode, goal in zip(episodes, self.task_space.to_unit_batch([e.task for e in episodes]).tolist()):
            self._record(episode, goal)

    def _record(self, episode: Episode, goal: list[float]) -> None:
        """Keep one (goal, success); train every ``update_period`` episodes."""
        success = self.expert.is_success(episode.episode_return, episode.success)
        self.buffer.append((goal, bool(success)))
        self.since_update += 1
        if self.since_update >= self.update_period:
            self.since_update = 0
            goals = torch.as_tensor([g for g, _ in self.buffer], dtype=torch.float32) * 2.0 - 1.0
            wins = torch.as_tensor([s for _, s in self.buffer], dtype=torch.float32)
            self._train_round(goals, wins)

    def _train_round(self, goals: torch.Tensor, wins: torch.Tensor) -> None:
        """A training round on the buffer: now (``train_lag=0``), or started off the loop
        from the networks installed now, after installing the previous round's result
        (``train_lag=1``)."""
        if self.trainer.lag == 0:
            self.nets.train(goals, wins)
            self.n_rounds += 1
            return
        self._install(self.trainer.collect())
        self.trainer.submit({"config": self.nets.config, "nets": self.nets.state(), "goals": goals, "wins": wins})

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
            "buffer_goals": [list(g) for g, _ in self.buffer],
            "buffer_success": [bool(s) for _, s in self.buffer],
            "since_update": self.since_update,
            "n_rounds": self.n_rounds,
            "last": nets["last"],
        }
        if self.trainer.lag == 1:  # the round in flight, as its buffer (it starts from the networks above)
            pending = self.trainer.pending
            state["train_pending"] = None if pending is None else {"goals": pending["goals"].clone(),
                                                                   "wins": pending["wins"].clone()}
        return state

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.nets.load(state)
        self.buffer = deque(
            (([float(x) for x in g], bool(s)) for g, s in zip(state["buffer_goals"], state["buffer_success"])),
            maxlen=self.buffer.maxlen,
        )
        self.since_update = int(state["since_update"])
        self.n_rounds = int(state["n_rounds"])
        pending = state.get("train_pending")
        self.trainer.restore(None)  # drop what was in flight for the state we leave
        if pending is not None:  # the checkpoint's round in flight: again (lag 1), or now (lag 0)
            self._train_round(pending["goals"], pending["wins"])

    def _diagnostics(self) -> dict[str, Any]:
        wins = [s for _, s in self.buffer]
        return {
            "rounds": self.n_rounds,
            "buffer_success_rate": float(np.mean(wins)) if wins else float("nan"),
            **self.nets.last,
        }
