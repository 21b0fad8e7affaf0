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

Replay labels. Whether an episode replays a buffered level is decided when its task is
handed out, not guessed later from the level string (a new level or an ACCEL child may
equal a level being replayed elsewhere). Every hand-out gets a unique token
(:meth:`PLR.handout_token`, read by the curriculum bridge right after ``sample``); the
bridge attaches the token to the finished episode (``episode.extra["handout"]``) and
PLR⊥'s mask asks :meth:`PLR.is_replay_token` at the episode's first step. Episodes
without a token (tasks re-queued from a checkpoint) fall back to matching the level
string against the replays handed out.

Replay schedule (``replay_schedule``): ``"fixed"`` replays with probability ``replay_prob``
once the buffer is ``min_fill`` full; ``"proportionate"`` (dcd's default) with probability
``min(fill, replay_prob)`` once ``fill >= min_fill``, so replay grows with the buffer.

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
REPLAY_SCHEDULES = ("fixed", "proportionate")


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
        replay_schedule: ``"fixed"`` (default) or ``"proportionate"`` (dcd's default:
            P(replay) = ``min(fill, replay_prob)`` once ``fill >= min_fill``).
    """

    name: ClassVar[str] = "plr"
    needs: ClassVar[frozenset[str]] = frozenset({"regret"})
    robust: ClassVar[bool] = False

    def __init__(self, task_space: TaskSpace, seed: int = 0, buffer_size: int = 4000, replay_prob: float = 0.5,
                 temperature: float = 0.3, staleness_coef: float = 0.3, min_fill: float = 0.5, score: str = "pvl",
                 prioritization: str = "rank", score_alpha: float = 1.0, replay_schedule: str = "fixed") -> None:
        super().__init__(task_space, seed)
        if replay_schedule not in REPLAY_SCHEDULES:
            raise TeachBenchError("replay_schedule", f"unknown replay schedule {replay_schedule!r}", REPLAY_SCHEDULES)
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
        self.replay_schedule = replay_schedule
        self._next_token = 0
        self._last_kind = "new"  # what the latest sample() handed out: replay | new | child
        self._handouts: dict[int, str] = {}  # token -> kind, handed out and not yet reported
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

    def current_replay_prob(self) -> float:
        """P(replay) of the next hand-out under the replay schedule (0 before warm-up)."""
        if not self.replay_ready():
            return 0.0
        if self.replay_schedule == "proportionate":
            return min(self.buffer.fill, self.replay_prob)
        return self.replay_prob

    def _sample(self) -> Task:
        self.buffer.tick()
        if self.replay_ready() and self.rng.random() < self.current_replay_prob():
            return self._replay()
        return self._new_level()

    def _replay(self) -> Task:
        i = self.buffer.sample(self.rng)
        task = dict(self.buffer.tasks[i])
        self._outstanding[task_key(task)] += 1
        self.n_replayed += 1
        self._last_kind = "replay"
        return task

    def _new_level(self) -> Task:
        self.n_new += 1
        self._last_kind = "new"
        return self.task_space.sample(self.rng)

    def handout_token(self) -> int:
        """A unique token for the task the latest ``sample()`` returned, remembering whether
        it was a replay (the bridge calls this right after every ``sample``)."""
        token = self._next_token
        self._next_token += 1
        self._handouts[token] = self._last_kind
        return token

    def is_replay_token(self, token: int | None) -> bool:
        """Whether the hand-out of ``token`` replays a buffered level (PLR⊥'s training mask)."""
        return token is not None and self._handouts.get(int(token)) == "replay"

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
        self.recent_regret.append(score)  # the latest 1000 (in place: no copy of the list per episode)
        if len(self.recent_regret) > 1000:
            del self.recent_regret[:-1000]
        token = episode.extra.get("handout")
        key = None  # the task's key, needed only to match or settle a replay (a JSON dump)
        if token is not None and int(token) in self._handouts:
            kind = self._handouts.pop(int(token))
            replayed = kind == "replay"
        else:  # no token (re-queued from a checkpoint): match the level string
            kind = None
            key = task_key(episode.task)
            replayed = self._outstanding.get(key, 0) > 0
        if replayed and key is None:
            key = task_key(episode.task)
        if replayed and self._outstanding.get(key, 0) > 0:
            self._outstanding[key] -= 1
            if self._outstanding[key] <= 0:
                del self._outstanding[key]
        episode.extra["replay"] = replayed
        if kind is not None:
            episode.extra["handout_kind"] = kind
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
            # only the token counter: open hand-outs are re-queued on resume without a token
            # (see _load_state), so a checkpoint of them would restore nothing
            "handouts": {"next": self._next_token},
        }

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.buffer.load_state_dict(state["buffer"])
        self._outstanding = Counter({str(k): int(v) for k, v in state["outstanding"].items()})
        self.n_replayed, self.n_new = (int(v) for v in state["counts"])
        self.recent_regret = [float(v) for v in state["recent_regret"]]
        # Tokens continue from the checkpoint's counter. Its open hand-outs are the tasks
        # re-queued on resume, which the bridge re-issues without a token (they fall back to
        # the level-string match, and PLR⊥ does not train on them): nothing will claim them.
        self._next_token = int(state.get("handouts", {"next": 0})["next"])
        self._handouts = {}
        self.training_stats.clear()
        self.training_stats.update({str(k): int(v) for k, v in state.get("training_stats", {}).items()})

    def _diagnostics(self) -> dict[str, Any]:
        total = self.n_replayed + self.n_new
        recent = self.recent_regret[-200:]
        return {
            "replay_fraction": self.n_replayed / total if total else 0.0,
            "replayed": self.n_replayed, "new_levels": self.n_new,
            "mean_regret": float(np.mean(recent)) if recent else float("nan"),
            "replay_ready": self.replay_ready(), "replay_prob_now": self.current_replay_prob(),
            "buffer_replaced": self.buffer.n_replaced, "buffer_rejected": self.buffer.n_rejected,
            **self.buffer.score_summary(),
            **{f"train_{k}": v for k, v in self.training_stats.items()},
            # dcd reports PLR⊥/ACCEL against student gradient updates: the same basis by name
            **({"gradient_updates": self.training_stats["gradient_updates"]}
               if "gradient_updates" in self.training_stats else {}),
        }


class RobustPLR(PLR):
    """PLR⊥: as :class:`PLR`, but the student takes gradient steps only on replayed levels
    (new levels are only scored). Same constructor arguments."""

    name: ClassVar[str] = "plr_robust"
    needs: ClassVar[frozenset[str]] = frozenset({"regret", "robust"})
    robust: ClassVar[bool] = True
