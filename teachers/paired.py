"""PAIRED: a generator of tasks trained on the regret between two students.

The generator is a one-step policy over the normalised TaskSpace: it reads a noise vector
``z`` (50-D as in the reference maze adversary) and outputs a diagonal Gaussian over
``a ∈ R^d``; the task is ``from_unit(sigmoid(a))`` (the reference walker generator acts in
``[−1, 1]^8``; a squash to the unit box is the same idea). Every generated task is played
once by the protagonist (the student of the run) and, on the very same level, by the
antagonist (a second SB3 student with the same settings, :class:`students.robust.Antagonist`).
The generator's reward is the regret (docs/references.md#paired)

    regret = max(antagonist returns) − mean(protagonist returns), clipped at 0,

and it learns by REINFORCE with a moving-average baseline and an entropy bonus on the
one-step MDP (``batch_size`` regrets per update).

Same level: on the gridworld a parameter task makes a random layout, so the antagonist
replays the protagonist's exact level (``{"level": level_id}``); on parameter-vector envs
it plays the same task.
"""

from __future__ import annotations

import math

from collections import OrderedDict, deque
from typing import Any, ClassVar, Mapping

import numpy as np
import torch
from torch import nn

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher
from teachers.plr import level_key, replay_task, task_key
from teachers.torch_utils import build_seeded, load_optimizer, mlp, module_state, plain


class OneStepGenerator(nn.Module):
    """Noise -> diagonal Gaussian over the action vector (mean from an MLP, free log-std)."""

    def __init__(self, noise_dim: int, action_dim: int, hidden: int, init_log_std: float) -> None:
        super().__init__()
        self.mean = mlp([noise_dim, hidden, hidden, action_dim], activation=nn.Tanh)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(init_log_std)))

    def distribution(self, z: torch.Tensor) -> torch.distributions.Normal:
        return torch.distributions.Normal(self.mean(z), self.log_std.clamp(-5.0, 2.0).exp())


class PAIRED(Teacher):
    """Protagonist Antagonist Induced Regret Environment Design over a TaskSpace.

    Args:
        noise_dim: generator noise input (reference maze adversary: 50).
        hidden: generator MLP width (default 64).
        lr: Adam learning rate of the generator (default 1e-3; small one-step problem).
        batch_size: regrets per generator update (default 32).
        ent_coef: entropy bonus (default 0.01, as the reference students).
        baseline_decay: EMA decay of the regret baseline (default 0.9).
        init_log_std: initial log-std of the Gaussian (default 0: std 1 before the squash).
        max_open: levels kept while waiting for the antagonist (oldest dropped, 4096).
    """

    name: ClassVar[str] = "paired"
    needs: ClassVar[frozenset[str]] = frozenset({"antagonist"})

    def __init__(self, task_space: TaskSpace, seed: int = 0, noise_dim: int = 50, hidden: int = 64,
                 lr: float = 1e-3, batch_size: int = 32, ent_coef: float = 0.01, baseline_decay: float = 0.9,
                 init_log_std: float = 0.0, max_open: int = 4096) -> None:
        super().__init__(task_space, seed)
        if int(noise_dim) < 1:
            raise TeachBenchError("noise_dim", f"must be >= 1, got {noise_dim}")
        if int(batch_size) < 1:
            raise TeachBenchError("batch_size", f"must be >= 1, got {batch_size}")
        if not lr > 0:
            raise TeachBenchError("lr", f"must be > 0, got {lr}")
        self.noise_dim = int(noise_dim)
        self.batch_size = int(batch_size)
        self.ent_coef = float(ent_coef)
        self.baseline_decay = float(baseline_decay)
        self.max_open = int(max_open)
        dim = self.action_dim()
        self.generator: OneStepGenerator = build_seeded(
            self.seed, lambda: OneStepGenerator(self.noise_dim, dim, int(hidden), init_log_std))
        self.optimizer = torch.optim.Adam(self.generator.parameters(), lr=float(lr))
        self.baseline = 0.0
        self._generated: dict[str, list[tuple[list[float], list[float]]]] = {}
        self._open: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._antagonist_queue: deque[Task] = deque(maxlen=self.max_open)
        self._recent_levels: deque[Task] = deque(maxlen=64)
        self._batch: list[tuple[list[float], list[float], float]] = []
        self.recent_regret: deque[float] = deque(maxlen=1000)
        self.n_generator_updates = 0
        self.last_loss = float("nan")

    # -- the generator ------------------------------------------------------------------
    def action_dim(self) -> int:
        return self.task_space.ndim

    def decode(self, action: np.ndarray) -> Task:
        """A task from a generator action (PAIRED: squash into the unit box)."""
        return self.task_space.from_unit(1.0 / (1.0 + np.exp(-np.asarray(action, dtype=np.float64))))

    def _sample(self) -> Task:
        z = self.rng.standard_normal(self.noise_dim)
        with torch.no_grad():
            dist = self.generator.distribution(torch.as_tensor(z, dtype=torch.float32))
            mean, std = dist.mean.numpy().astype(np.float64), dist.stddev.numpy().astype(np.float64)
        action = mean + std * self.rng.standard_normal(mean.shape)
        task = self.task_space.validate(self.decode(action))
        self._generated.setdefault(task_key(task), []).append((z.tolist(), action.tolist()))
        if len(self._generated) > self.max_open:
            self._generated.pop(next(iter(self._generated)))
        return task

    def entropy(self) -> float:
        """Mean per-dimension entropy of the generator's Gaussian (nats)."""
        with torch.no_grad():
            log_std = self.generator.log_std.clamp(-5.0, 2.0)
            return float((0.5 + 0.5 * np.log(2 * np.pi) + log_std).mean())

    # -- protagonist side ---------------------------------------------------------------
    def _update(self, episode: Episode) -> None:
        pending = self._generated.get(task_key(episode.task))
        if not pending:
            return  # not a generated task (e.g. a checkpoint's replayed queue): nothing to credit
        z, action = pending.pop(0)
        if not pending:
            del self._generated[task_key(episode.task)]
        key = level_key(episode)
        record = self._open.setdefault(key, {"z": z, "a": action, "prot": [], "ant": []})
        record["prot"].append(float(episode.episode_return))
        self._open.move_to_end(key)
        if len(self._open) > self.max_open:
            self._open.popitem(last=False)
        task = replay_task(episode)
        self._antagonist_queue.append(task)
        self._recent_levels.append(task)

    # -- antagonist side ----------------------------------------------------------------
    def antagonist_view(self) -> "AntagonistView":
        """The teacher the antagonist's curriculum talks to."""
        return AntagonistView(self)

    def next_antagonist_task(self) -> Task:
        if self._antagonist_queue:
            return self._antagonist_queue.popleft()
        if self._recent_levels:  # the protagonist is behind: replay a recent level
            return dict(self._recent_levels[int(self.rng.integers(len(self._recent_levels)))])
        return self.task_space.sample(self.rng)

    def record_antagonist(self, episode: Episode) -> None:
        """An antagonist episode: completes its level's regret and feeds the generator."""
        key = level_key(episode)
        record = self._open.get(key)
        if record is None or not record["prot"]:
            return
        record["ant"].append(float(episode.episode_return))
        regret = max(0.0, float(np.float64(max(record["ant"])) - np.mean(np.asarray(record["prot"], dtype=np.float64))))
        if not math.isfinite(regret):  # returns so large that their difference overflows: unusable
            self.n_dropped += 1
            return
        del self._open[key]
        episode.regret = regret
        self.recent_regret.append(regret)
        self._batch.append((record["z"], record["a"], regret))
        if len(self._batch) >= self.batch_size:
            self._train_generator()

    def _train_generator(self) -> None:
        z = torch.as_tensor(np.array([b[0] for b in self._batch]), dtype=torch.float32)
        a = torch.as_tensor(np.array([b[1] for b in self._batch]), dtype=torch.float32)
        # regrets in float64: returns on a huge scale overflow float32 before normalisation
        r = torch.as_tensor([b[2] for b in self._batch], dtype=torch.float64)
        self._batch = []
        adv = r - self.baseline
        adv = (adv / (adv.std() + 1e-8) if adv.numel() > 1 else adv).float()
        dist = self.generator.distribution(z)
        log_prob = dist.log_prob(a).sum(-1)
        loss = -(adv.detach() * log_prob).mean() - self.ent_coef * dist.entropy().sum(-1).mean()
        self.optimizer.zero_grad()
        if not torch.isfinite(loss):  # never step on a non-finite loss: the generator would turn NaN
            self.n_dropped += 1
            return
        loss.backward()
        nn.utils.clip_grad_norm_(self.generator.parameters(), 1.0)
        self.optimizer.step()
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * float(r.mean())
        self.n_generator_updates += 1
        self.last_loss = float(loss.detach())

    # -- checkpoints and diagnostics ----------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "generator": module_state(self.generator), "optimizer": plain(self.optimizer.state_dict()),
            "baseline": self.baseline, "generated": {k: [list(map(list, p)) for p in v] for k, v in self._generated.items()},
            "open": [[k, v] for k, v in self._open.items()],
            "antagonist_queue": [dict(t) for t in self._antagonist_queue],
            "recent_levels": [dict(t) for t in self._recent_levels],
            "batch": [[b[0], b[1], b[2]] for b in self._batch], "recent_regret": list(self.recent_regret),
            "counts": [self.n_generator_updates],
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        load_optimizer(self.optimizer, state["optimizer"])
        self.baseline = float(state["baseline"])
        self._generated = {k: [(list(p[0]), list(p[1])) for p in v] for k, v in state["generated"].items()}
        self._open = OrderedDict((k, dict(v)) for k, v in state["open"])
        self._antagonist_queue.clear()
        self._antagonist_queue.extend(dict(t) for t in state["antagonist_queue"])
        self._recent_levels.clear()
        self._recent_levels.extend(dict(t) for t in state["recent_levels"])
        self._batch = [(list(b[0]), list(b[1]), float(b[2])) for b in state["batch"]]
        self.recent_regret.clear()
        self.recent_regret.extend(float(v) for v in state["recent_regret"])
        (self.n_generator_updates,) = (int(v) for v in state["counts"])

    def _diagnostics(self) -> dict[str, Any]:
        recent = list(self.recent_regret)[-200:]
        return {
            "generator_entropy": self.entropy(), "generator_updates": self.n_generator_updates,
            "generator_loss": self.last_loss, "regret_baseline": self.baseline,
            "mean_regret": float(np.mean(recent)) if recent else float("nan"),
            "open_levels": len(self._open), "antagonist_queue": len(self._antagonist_queue),
        }


class AntagonistView(Teacher):
    """The antagonist's side of a PAIRED teacher: hands out the protagonist's levels and
    reports the antagonist's returns back. Holds no state of its own."""

    name: ClassVar[str] = "paired_antagonist"

    def __init__(self, parent: PAIRED) -> None:
        super().__init__(parent.task_space, parent.seed + 1)
        self.parent = parent

    def sample(self) -> Task:
        task = self._sample()
        self.n_sampled += 1
        return dict(task) if "level" in task else self.task_space.validate(task)

    def available(self) -> int:
        """Levels the protagonist finished that the antagonist has not been given yet."""
        return len(self.parent._antagonist_queue)

    def _sample(self) -> Task:
        return self.parent.next_antagonist_task()

    def _update(self, episode: Episode) -> None:
        self.parent.record_antagonist(episode)
