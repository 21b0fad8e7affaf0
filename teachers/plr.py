"""Prioritized Level Replay (PLR) and robust PLR (PLR⊥).

Each time a sub-env needs a task, PLR either *replays* a level from its buffer (with
probability ``replay_prob``, once the buffer holds ``min_fill · buffer_size`` levels)
drawn from ``P = (1−ρ)·P_S + ρ·P_C`` (:mod:`teachers.level_buffer`), or plays a *new*
level drawn uniformly from the TaskSpace (domain randomization). Every finished episode
brings a regret score (PVL or MaxMC, computed by :mod:`students.regret` from the PPO
rollout after GAE): a replayed level's score is refreshed, a new level is inserted.

PLR⊥ differs only on the student side: it takes no gradient step on transitions of new
levels (they are played only to be scored). The teacher says so through ``needs``
(``"robust"``); :func:`students.regret.attach_teacher_needs` masks the PPO update and
counts env steps and gradient updates separately (docs/references.md#plr-robust).

Levels. A level is identified by a string key: the env's ``level_id`` when it reports one
(the gridworld's level string; replayed as ``{"level": id}``), else a canonical key of the
task dict (parameter-vector envs; replayed as the same task).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, ClassVar, Mapping

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher
from teachers.level_buffer import LevelBuffer

SCORES = ("pvl", "maxmc")


def task_key(task: Mapping[str, Any]) -> str:
    """A stable id for a task: the level string of a level task, else canonical JSON."""
    if "level" in task:
        return str(task["level"])
    return "task:" + json.dumps({k: task[k] for k in sorted(task)}, sort_keys=True, default=repr)


def level_key(episode: Episode) -> str:
    """The id of the level an episode played (the env's ``level_id`` when it has one)."""
    return str(episode.level_id) if episode.level_id is not None else task_key(episode.task)


def replay_task(episode: Episode) -> Task:
    """The task that replays exactly the level an episode played."""
    if episode.level_id is not None:
        return {"level": str(episode.level_id)}
    return dict(episode.task)


class PLR(Teacher):
    """Prioritized Level Replay over any TaskSpace.

    Args:
        task_space: where new levels come from (uniform, i.e. domain randomization).
        seed: the teacher's RNG seed.
        buffer_size: levels kept (reference 4000 for mazes, 1000 for the walker).
        replay_prob: probability of replaying once warm (reference PLR 0.5).
        temperature: rank temperature β (reference 0.1–0.3; default 0.3).
        staleness_coef: ρ (reference 0.3–0.5; default 0.3).
        min_fill: fraction of ``buffer_size`` that must be filled before any replay
            (reference 0.5).
        score: ``"pvl"`` (dense rewards) or ``"maxmc"`` (sparse success rewards), which of
            the student's regret estimates ranks levels (docs/references.md#regret-estimates).
        prioritization: ``"rank"`` (default; required for MaxMC, which can be negative) or
            ``"power"``.
        score_alpha: EMA weight of a replayed level's new score (1.0 = replace).
    """

    name: ClassVar[str] = "plr"
    needs: ClassVar[frozenset[str]] = frozenset({"regret"})
    robust: ClassVar[bool] = False

    def __init__(self, task_space: TaskSpace, seed: int = 0, buffer_size: int = 4000, replay_prob: float = 0.5,
                 temperature: float = 0.3, staleness_coef: float = 0.3, min_fill: float = 0.5, score: str = "pvl",
                 prioritization: str = "rank", score_alpha: float = 1.0) -> None:
        super().__init__(task_space, seed)
        if not 0.0 <= replay_prob <= 1.0:
            raise TeachBenchError("replay_prob", f"must be in [0, 1], got {replay_prob}")
        if not 0.0 <= min_fill <= 1.0:
            raise TeachBenchError("min_fill", f"must be in [0, 1], got {min_fill}")
        if score not in SCORES:
            raise TeachBenchError("score", f"unknown score {score!r}", SCORES)
        if score == "maxmc" and prioritization != "rank":
            raise TeachBenchError("prioritization", "MaxMC scores can be negative: use rank prioritization", ["rank"])
        self.buffer = LevelBuffer(buffer_size, temperature, staleness_coef, prioritization, score_alpha)
        self.replay_prob = float(replay_prob)
        self.min_fill = float(min_fill)
        self.score_function = score
        self._outstanding: Counter[str] = Counter()  # replayed tasks handed out, not yet reported
        self.n_replayed = 0
        self.n_new = 0
        self.recent_regret: list[float] = []
        # Filled by students.regret.attach_teacher_needs: env steps vs gradient updates.
        self.training_stats: dict[str, int] = {}

    # -- sampling -----------------------------------------------------------------------
    def replay_ready(self) -> bool:
        """Warm-up: replay only once the buffer holds ``min_fill · buffer_size`` levels."""
        return len(self.buffer) > 0 and len(self.buffer) >= self.min_fill * self.buffer.capacity

    def _sample(self) -> Task:
        self.buffer.tick()
        if self.replay_ready() and self.rng.random() < self.replay_prob:
            return self._replay()
        return self._new_level()

    def _replay(self) -> Task:
        i = self.buffer.sample(self.rng)
        task = dict(self.buffer.tasks[i])
        self._outstanding[task_key(task)] += 1
        self.n_replayed += 1
        return task

    def _new_level(self) -> Task:
        self.n_new += 1
        return self.task_space.sample(self.rng)

    def is_replay_task(self, task: Mapping[str, Any]) -> bool:
        """Whether a task being played was handed out as a replay (students.robust asks
        this at the first step of each episode to decide whether it may be trained on)."""
        return self._outstanding.get(task_key(task), 0) > 0

    # -- learning -----------------------------------------------------------------------
    def _update(self, episode: Episode) -> None:
        if episode.regret is None:
            raise TeachBenchError("episode.regret", f"teacher {self.name!r} needs per-episode regret estimates: "
                                  "call students.regret.attach_teacher_needs after building the curriculum")
        score = float(episode.regret)
        self.recent_regret = (self.recent_regret + [score])[-1000:]
        key = task_key(episode.task)
        replayed = self._outstanding.get(key, 0) > 0
        if replayed:
            self._outstanding[key] -= 1
            if self._outstanding[key] <= 0:
                del self._outstanding[key]
        episode.extra["replay"] = replayed
        self._score_level(episode, score, replayed)

    def _score_level(self, episode: Episode, score: float, replayed: bool) -> None:
        key = level_key(episode)
        i = self.buffer.index_of(key)
        if i is not None:
            self.buffer.update_score(i, score, episode.episode_return)
        else:  # a new level, or a replayed one that was evicted meanwhile
            self.buffer.insert(key, replay_task(episode), score, episode.episode_return)

    # -- checkpoints and diagnostics ----------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "buffer": self.buffer.state_dict(),
            "outstanding": dict(self._outstanding),
            "counts": [self.n_replayed, self.n_new],
            "recent_regret": list(self.recent_regret),
            "training_stats": dict(self.training_stats),
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.buffer.load_state_dict(state["buffer"])
        self._outstanding = Counter({str(k): int(v) for k, v in state["outstanding"].items()})
        self.n_replayed, self.n_new = (int(v) for v in state["counts"])
        self.recent_regret = [float(v) for v in state["recent_regret"]]
        self.training_stats.clear()
        self.training_stats.update({str(k): int(v) for k, v in state.get("training_stats", {}).items()})

    def _diagnostics(self) -> dict[str, Any]:
        total = self.n_replayed + self.n_new
        recent = self.recent_regret[-200:]
        return {
            "replay_fraction": self.n_replayed / total if total else 0.0,
            "replayed": self.n_replayed, "new_levels": self.n_new,
            "mean_regret": float(np.mean(recent)) if recent else float("nan"),
            "replay_ready": self.replay_ready(),
            "buffer_replaced": self.buffer.n_replaced, "buffer_rejected": self.buffer.n_rejected,
            **self.buffer.score_summary(),
            **{f"train_{k}": v for k, v in self.training_stats.items()},
        }


class RobustPLR(PLR):
    """PLR⊥: as :class:`PLR`, but the student takes gradient steps only on replayed levels
    (new levels are only scored). Same constructor arguments."""

    name: ClassVar[str] = "plr_robust"
    needs: ClassVar[frozenset[str]] = frozenset({"regret", "robust"})
    robust: ClassVar[bool] = True
