"""PAIRED: an adversary designs levels and is rewarded with the regret between two students.

Protagonist Antagonist Induced Regret Environment Design (Dennis et al. 2020; facts from
facebookresearch/dcd, docs/references.md):

1. The adversary designs a batch of levels. On the maze (:class:`PAIRED`, ``teacher=paired``)
   it is a recurrent PPO policy acting in the designer MDP
   (:class:`envs.gridworld.designer.MazeDesignerEnv`): goal, agent, then up to 50 walls cell
   by cell, observing the grid, the time step and a 50-D noise vector; with ``goal_last``
   (dcd's ``choose_goal_last``, its "25 blocks" runs: ``n_walls`` 25) the walls come first
   and the goal and agent last. Nothing forces a design to be solvable. The policy lives in :mod:`students.paired_adversary` (teachers
   never import SB3); the runner hands it over through ``needs = {"adversary"}``.
2. The protagonist (the run's student) and the antagonist (a second student with the same
   settings, :class:`students.robust.Antagonist`) each play every level of the batch for
   ``episodes_per_level`` episodes. dcd plays a level for a whole rollout (256 steps) and
   counts the episodes that finish in it -- one when the student times out (250-step
   limit), about 256/L when it solves the level in L steps; the episode cut at the
   rollout's end is not counted. Here a fixed count (2 by default, so that max and mean
   differ; 1 in ``experiment=ued_maze_paired_dcd``).
3. The regret of a level is

       regret = max(antagonist returns) − mean(protagonist returns), clipped at 0

   (dcd ``adversarial_runner``: ``max(adversary_agent max_return − agent mean_return, 0)``).
   It is the adversary's reward at the last step of the design; once every level of a
   batch has its regret the adversary takes a PPO update on the batch.

The same bookkeeping (hand each level out ``episodes_per_level`` times to both students,
collect the returns, compute the regret, credit a batch) serves CLUTR
(:mod:`teachers.clutr`), whose generator chooses latent vectors instead of cells:
:class:`LevelRegretTeacher` holds it. With the protagonist alone and minus its best
return as the reward it is dcd's minimax adversary (:class:`Minimax`, ``teacher=minimax``).

Where we differ from dcd, and why: our students take tasks one episode at a time, so
designing, playing and learning are not in lock-step. While a batch's regrets are
outstanding the next batch is designed (at most ``max_pending`` batches open); past that,
the protagonist replays levels of the oldest open batch and the antagonist is given the
levels it still owes, so every batch completes.

Update rate. dcd takes one adversary update per iteration: N levels (one per process),
N x T protagonist steps (its step budget counts the protagonist only, as ours does), so
one update per 8192 steps at its 32 processes x 256 steps. Here a batch completes per
``batch_size`` x ``episodes_per_level`` x L protagonist steps (L: mean episode length)
provided enough batches may be open that no sub-env replays (``n_extra_protagonist`` stays
0); with fewer, the rate is bound by how long a level waits in the sub-envs' queues.
``max_pending: auto`` (the configs' default) opens that many, worked out at run set-up
from the sub-env count (:func:`open_batches_needed`): 2 at the gridworld's 8 sub-envs
(the value every run had before ``auto``), 17 at 256 sub-envs with 32 levels and 2
episodes. A fixed 2 at 256 sub-envs starved them: 84-86% of the protagonist's episodes
replayed open levels and the adversary took ~40 updates in 3M steps. Batch 32, 1 episode
and up to 8 open batches at 32 envs x 256 steps (``experiment=ued_maze_paired_dcd``) give
dcd's rate while episodes time out, and a faster one once they do not. The cost: batches
are designed several updates before they are credited (2-4 at 32 sub-envs and one
episode, 8-11 at 256 and two: the stand-in of tests/test_paired_dcd_rate.py), so the
adversary's PPO update is off-policy (clipped ratio) where dcd's is on-policy.

Placement order. The default follows the original PAIRED order (goal, agent, 50 walls);
``goal_last: true`` with ``n_walls: 25`` is dcd's 25-block PAIRED config
(``GoalLastFewerBlocksAdversarial``: 25 walls, then goal and agent, 27 placements),
``experiment=ued_maze_paired_dcd25``. One difference remains in the designer: an agent
placed on the goal goes to the next free cell, where dcd draws a random free cell
(:func:`envs.gridworld.designer.design_level`).

:class:`PAIREDParam` (``teacher=paired_param``) is the one-step parametric variant for
parameter-vector envs (walker, toy): a Gaussian policy over the normalised TaskSpace, trained on the same regret
by REINFORCE (default) or by dcd's walker adversary's PPO update (``update: ppo``). dcd's
walker adversary sets its 8 parameters in 8 sequential steps; ours acts in one step (the
class docstring lists the differences).
"""

from __future__ import annotations

import math
import sys

from collections import OrderedDict, deque
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher
from teachers.plr import level_key, replay_task, task_key
from teachers.torch_utils import (build_seeded, load_optimizer, mlp, module_state, plain, regret_ppo_update,
                                  regret_reinforce_step)


MIN_OPEN_BATCHES = 2  # the next batch is designed while one waits for its regrets (and small runs' value)


def open_batches_needed(n_envs: int, levels_per_batch: int, episodes_per_level: int, lookahead: int = 1) -> int:
    """``max_pending: auto``: open batches enough that no protagonist sub-env replays a level.

    Each of the ``n_envs`` sub-envs queues ``1 + lookahead`` levels (``slots`` in all) and
    a level stays open until both students have played it ``episodes_per_level`` times.
    The first levels complete only once both students have played through their primed
    queues: ``1 + lookahead`` episodes per sub-env, during which the protagonist is handed
    ``slots + (1 + lookahead) * n_envs = 2 * slots`` levels, so ``2 * slots`` hand-outs
    (plus one batch, for a batch partly handed out) are open at the peak; afterwards fewer
    (``slots + n_envs``). This holds while both students finish about as many episodes per
    rollout (episodes of similar length); a protagonist much faster than the antagonist
    outruns any fixed number, and its replays are counted in ``extra_protagonist_episodes``.
    Never below :data:`MIN_OPEN_BATCHES`: at the gridworld's 8 sub-envs (32 levels, 2
    episodes) this is 2, the value every run had before ``auto``.
    """
    slots = int(n_envs) * (1 + int(lookahead))
    per_batch = int(levels_per_batch) * int(episodes_per_level)
    if slots < 1 or per_batch < 1:
        raise TeachBenchError("max_pending", f"needs n_envs >= 1 and a batch of >= 1 level and episode, got "
                              f"n_envs={n_envs}, levels_per_batch={levels_per_batch}, "
                              f"episodes_per_level={episodes_per_level}")
    return max(MIN_OPEN_BATCHES, 2 * slots // per_batch + 1)


class LevelRegretTeacher(Teacher):
    """Batches of explicit levels, each played by both students, scored by regret.

    Subclasses make a batch (:meth:`_new_batch` -> batch id, level strings, and each level's
    statistics ``{"solvable", "n_walls", ...}`` as the env computes them) and learn from its
    regrets (:meth:`_batch_done`). Tasks are ``{"level": <level string>}``; the teacher
    never parses a level itself (teachers know the TaskSpace only).

    Args:
        episodes_per_level: episodes each student plays on every level (default 2).
        max_pending: batches open at once while regrets are outstanding (default 2; the
            configs say ``auto``, which the runner turns into :func:`open_batches_needed`
            for the run's sub-env count before the run's identity is computed).
    """

    needs: ClassVar[frozenset[str]] = frozenset({"antagonist"})
    #: the students whose ``episodes_per_level`` episodes a level waits for before it is
    #: scored: the protagonist (``"prot"``) and, for a regret, the antagonist (``"ant"``)
    scored_sides: ClassVar[tuple[str, ...]] = ("prot", "ant")
    #: what the designer's reward is called in the diagnostics (``mean_<score_name>``)
    score_name: ClassVar[str] = "regret"

    def __init__(self, task_space: TaskSpace, seed: int = 0, episodes_per_level: int = 2, max_pending: int = 2) -> None:
        super().__init__(task_space, seed)
        if int(episodes_per_level) < 1:
            raise TeachBenchError("episodes_per_level", f"must be >= 1, got {episodes_per_level}")
        if max_pending == "auto":
            raise TeachBenchError("max_pending", "'auto' depends on the run's sub-env count: the runner resolves it "
                                  "(experiments.running.config_checks.resolve_auto_params); outside a run pass "
                                  "teachers.paired.open_batches_needed(n_envs, batch_size, episodes_per_level)")
        if int(max_pending) < 1:
            raise TeachBenchError("max_pending", f"must be >= 1, got {max_pending}")
        self.episodes_per_level = int(episodes_per_level)
        self.max_pending = int(max_pending)
        self._handout: deque[str] = deque()
        self._records: dict[str, dict[str, Any]] = {}
        self._batches: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self.recent_regret: deque[float] = deque(maxlen=1000)
        self.recent_unsolvable: deque[float] = deque(maxlen=1000)
        self.recent_walls: deque[float] = deque(maxlen=1000)
        self.n_batches_done = 0
        self.n_extra_protagonist = 0

    # -- for subclasses -----------------------------------------------------------------
    def levels_per_batch(self) -> int:
        """Levels in one designed batch (the designer's batch size)."""
        raise NotImplementedError

    def _new_batch(self) -> tuple[int, list[str], list[dict[str, Any]]]:
        raise NotImplementedError

    def _batch_done(self, batch: int, regrets: list[float]) -> None:
        raise NotImplementedError

    def _level_score(self, record: Mapping[str, Any]) -> float:
        """The designer's reward for one level from its students' returns (``record["prot"]``,
        ``record["ant"]``): PAIRED's regret; :class:`Minimax` overrides it."""
        return level_regret(record["prot"], record["ant"])

    # -- levels in, regrets out -----------------------------------------------------------
    def _open_batch(self) -> None:
        batch, levels, stats = self._new_batch()
        self._batches[batch] = {"levels": list(levels), "regret": [None] * len(levels)}
        for i, (text, stat) in enumerate(zip(levels, stats, strict=True)):
            record = self._records.setdefault(text, {"slots": [], "prot": [], "ant": [], "ant_given": 0})
            record["slots"].append([batch, i])
            self.recent_unsolvable.append(0.0 if stat["solvable"] else 1.0)
            self.recent_walls.append(float(stat["n_walls"]))
        for _ in range(self.episodes_per_level):  # round after round: the batch spreads over the sub-envs
            self._handout.extend(levels)

    def _sample(self) -> Task:
        if not self._handout and len(self._batches) < self.max_pending:
            self._open_batch()
        if self._handout:
            return {"level": self._handout.popleft()}
        # every open batch is handed out: replay a level of the oldest batch that still lacks
        # episodes (protagonist first), so that the batch completes
        self.n_extra_protagonist += 1
        return {"level": self._owed_level(side="prot")}

    def _owed_level(self, side: str) -> str:
        oldest = next(iter(self._batches.values()))
        open_levels = [t for t, r in zip(oldest["levels"], oldest["regret"]) if r is None and t in self._records]
        owed = [t for t in open_levels if len(self._records[t][side]) < self.episodes_per_level]
        pool = owed or open_levels or oldest["levels"]
        return pool[int(self.rng.integers(len(pool)))]

    def _update(self, episode: Episode) -> None:
        record = self._records.get(level_key(episode))
        if record is None:
            return  # not a level of an open batch (e.g. a task replayed after a resume)
        record["prot"].append(float(episode.episode_return))
        self._try_complete(level_key(episode), episode)

    # -- antagonist side ----------------------------------------------------------------
    def antagonist_view(self) -> "AntagonistView":
        return AntagonistView(self)

    def owed_antagonist_episodes(self) -> int:
        """Antagonist hand-outs still due on the open levels (``episodes_per_level`` each)."""
        return sum(max(0, self.episodes_per_level - r["ant_given"]) for r in self._records.values())

    def available(self) -> int:
        """Levels the antagonist can be given now: any number while a batch is open (its
        levels are due to both students; once each is handed out ``episodes_per_level``
        times, extra episodes replay open levels), none before the first batch."""
        return sys.maxsize if self._batches else 0

    def next_antagonist_task(self) -> Task:
        for entry in self._batches.values():  # oldest batch first, each level episodes_per_level times
            for text, regret in zip(entry["levels"], entry["regret"]):
                record = self._records.get(text)
                if regret is None and record is not None and record["ant_given"] < self.episodes_per_level:
                    record["ant_given"] += 1
                    return {"level": text}
        if self._batches:  # every level handed out: an extra episode on a level still open
            return {"level": self._owed_level(side="ant")}
        return self.task_space.sample(self.rng)

    def record_antagonist(self, episode: Episode) -> None:
        key = level_key(episode)
        record = self._records.get(key)
        if record is None:
            return
        record["ant"].append(float(episode.episode_return))
        self._try_complete(key, episode)

    def _try_complete(self, key: str, episode: Episode) -> None:
        record = self._records[key]
        if any(len(record[side]) < self.episodes_per_level for side in self.scored_sides):
            return
        regret = self._level_score(record)
        del self._records[key]
        if not math.isfinite(regret):
            self.n_dropped += 1
            regret = 0.0
        if self.score_name == "regret":
            episode.regret = regret
        else:  # not a regret (minimax): kept apart from the regret column of the episodes table
            episode.extra[self.score_name] = regret
        self.recent_regret.append(regret)
        for batch, i in record["slots"]:
            entry = self._batches.get(batch)
            if entry is None:
                continue
            entry["regret"][i] = regret
            if all(r is not None for r in entry["regret"]):
                del self._batches[batch]
                self.n_batches_done += 1
                self._batch_done(batch, [float(r) for r in entry["regret"]])

    def starvation_warning(self, n_envs: int, lookahead: int = 1) -> str | None:
        """A warning when the protagonist's sub-envs must replay old levels: their queues hold
        ``n_envs * (1 + lookahead)`` tasks, more than the ``max_pending * batch *
        episodes_per_level`` fresh hand-outs that can exist at once (dcd never replays: each
        process plays the level designed for it). None when the open batches can fill them;
        even then a level stays open until the antagonist has played it, so about twice the
        queue slots are needed for no replay at all (:func:`open_batches_needed`, what
        ``max_pending: auto`` opens). Only a ``max_pending`` set by hand can trigger it."""
        slots = int(n_envs) * (1 + int(lookahead))
        per_batch = self.levels_per_batch() * self.episodes_per_level
        if self.max_pending * per_batch >= slots:
            return None
        enough = open_batches_needed(n_envs, self.levels_per_batch(), self.episodes_per_level, lookahead)
        return (f"teacher {self.name!r}: {n_envs} sub-envs queue {slots} levels, but max_pending={self.max_pending} "
                f"open batches x {self.levels_per_batch()} levels x {self.episodes_per_level} episodes = "
                f"{self.max_pending * per_batch} fresh hand-outs exist: most protagonist episodes will replay old "
                f"levels and the designer will learn slowly. Set ued.max_pending=auto (the default; "
                f"ued.max_pending >= {enough} here) or fewer env.n_envs.")

    # -- checkpoints and diagnostics ----------------------------------------------------
    def _state(self) -> dict[str, Any]:
        # Batches in flight are not kept: their levels may be replayed after a resume but earn
        # no credit (the adversary's rollouts of them are not checkpointed either).
        return {"recent_regret": list(self.recent_regret), "recent_unsolvable": list(self.recent_unsolvable),
                "recent_walls": list(self.recent_walls), "counts": [self.n_batches_done, self.n_extra_protagonist]}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self._handout.clear()
        self._records.clear()
        self._batches.clear()
        for name in ("recent_regret", "recent_unsolvable", "recent_walls"):
            getattr(self, name).clear()
            getattr(self, name).extend(float(v) for v in state[name])
        self.n_batches_done, self.n_extra_protagonist = (int(v) for v in state["counts"])

    def _diagnostics(self) -> dict[str, Any]:
        def mean(values: deque[float]) -> float:
            recent = list(values)[-200:]
            return float(np.mean(recent)) if recent else float("nan")

        out = {f"mean_{self.score_name}": mean(self.recent_regret), "unsolvable_rate": mean(self.recent_unsolvable),
               "mean_walls": mean(self.recent_walls), "batches_done": self.n_batches_done,
               "open_batches": len(self._batches), "extra_protagonist_episodes": self.n_extra_protagonist}
        if "ant" in self.scored_sides:
            out["antagonist_owed"] = self.owed_antagonist_episodes()
        return out


def level_regret(protagonist_returns: Sequence[float], antagonist_returns: Sequence[float]) -> float:
    """PAIRED's regret of one level: best antagonist return − mean protagonist return, ≥ 0."""
    prot = np.asarray(protagonist_returns, dtype=np.float64)
    ant = np.asarray(antagonist_returns, dtype=np.float64)
    if prot.size == 0 or ant.size == 0:
        raise TeachBenchError("regret", "needs at least one return of each student")
    return max(0.0, float(ant.max() - prot.mean()))


def minimax_return(protagonist_returns: Sequence[float]) -> float:
    """The minimax adversary's reward for one level: minus the protagonist's best return.

    dcd (``adversarial_runner._compute_env_return``, ``ued_algo == 'minimax'``):
    ``-agent_info['max_return']``, the protagonist's best return over the episodes that
    finished on the level, neither averaged nor clipped. A level with no finished episode
    has ``max_return`` 0 there (``_get_rollout_return_stats`` starts every process at
    ``torch.zeros`` and fills it only ``if len(returns) > 0``), so its reward is 0 (dcd's
    ``-0.0``), as here. Our levels are scored once the protagonist has finished
    ``episodes_per_level`` episodes on them, so the empty case arises only when this is
    called directly; at dcd's maze settings (250-step episodes, 256-step rollouts) it
    cannot arise there either.
    """
    prot = np.asarray(protagonist_returns, dtype=np.float64).reshape(-1)
    return -float(prot.max()) if prot.size else 0.0


class PAIRED(LevelRegretTeacher):
    """PAIRED on the maze: a recurrent PPO adversary designs levels cell by cell.

    Args (defaults: dcd's PAIRED maze settings, docs/references.md):
        size: maze side with border (default: the env's largest ``size``; 15 on ``gridworld``).
            The dcd generator's task space (``n_blocks``, ``env=gridworld_dcd25``) does not
            hold the maze's side: there it must be given (the 25-block preset passes the
            env's ``max_size`` through ``ued.design_size``).
        n_walls: wall placements per design (50; dcd's 25 blocks: 25); noise_dim: noise vector size (50).
        goal_last: place the walls first and the goal and agent last (False: PAIRED's order;
            True: dcd's ``choose_goal_last``, its 25-block runs).
        batch_size: designs per adversary update = designer envs (32, dcd's num_processes).
        episodes_per_level: episodes each student plays on each level (2).
        max_pending: batches open at once (2; the config's ``auto``: see :func:`open_batches_needed`).
        lr (1e-4), n_epochs (5), gamma (0.995), gae_lambda (0.95), ent_coef (0.0),
        clip_range (0.2), max_grad_norm (0.5): the adversary's PPO.
        conv_filters (128), time_embed (10), lstm_hidden (256), head_hidden (32): its network.
        adversary_lstm_update: ``"stepwise"`` (sb3-contrib's update, the default) or
            ``"sequence"`` (one LSTM call per design in the adversary's PPO update: the same
            recurrence up to float rounding; one update 55.8 -> 11.8 s on one CPU thread,
            experiments/results/recurrent_ued_profile; on an H200 163 -> 96 ms, but there the
            update is ~22% of a PAIRED iteration and the iteration was not measurably faster,
            1,130 vs 1,132 ms: experiments/results/scale_2026-11-30/session9;
            :class:`students.paired_adversary.SequenceLstmPolicy`).
        adversary_device: torch device of the adversary (``"auto"``: CUDA when present, as
            SB3 resolves it; ``null``: the student's device). Its network is large (the conv
            feeds ~21k features into the LSTM on a 15×15 maze), so it runs on a GPU when one
            is there even where the student stays on the CPU.
        adversary_recurrent: the adversary's LSTM (``None``, the default: the algorithm's
            own, :attr:`recurrent_adversary`: PAIRED's is recurrent as in dcd's
            ``mg_25b_paired.json``, ``recurrent_adversary_env`` true). Not in
            ``configs/teacher/paired.yaml``, so PAIRED's config ids are as before.
    """

    name: ClassVar[str] = "paired"
    needs: ClassVar[frozenset[str]] = frozenset({"antagonist", "adversary"})
    #: dcd's ``recurrent_adversary_env`` for this algorithm (``adversary_recurrent: null``)
    recurrent_adversary: ClassVar[bool] = True
    #: the teacher to suggest on a parameter-vector env (None: there is none)
    param_variant: ClassVar[str | None] = "paired_param"

    def __init__(self, task_space: TaskSpace, seed: int = 0, size: int | None = None, n_walls: int = 50,
                 noise_dim: int = 50, batch_size: int = 32, episodes_per_level: int = 2, max_pending: int = 2,
                 lr: float = 1e-4, n_epochs: int = 5, gamma: float = 0.995, gae_lambda: float = 0.95,
                 ent_coef: float = 0.0, clip_range: float = 0.2, max_grad_norm: float = 0.5, conv_filters: int = 128,
                 time_embed: int = 10, lstm_hidden: int = 256, head_hidden: int = 32,
                 adversary_device: str | None = "auto", goal_last: bool = False,
                 adversary_lstm_update: str = "stepwise", adversary_recurrent: bool | None = None) -> None:
        super().__init__(task_space, seed, episodes_per_level, max_pending)
        if not isinstance(goal_last, (bool, np.bool_)):
            raise TeachBenchError("goal_last", f"must be true or false, got {goal_last!r}", [True, False])
        if adversary_lstm_update not in ("stepwise", "sequence"):
            raise TeachBenchError("adversary_lstm_update", f"unknown value {adversary_lstm_update!r}",
                                  ["stepwise", "sequence"])
        if adversary_recurrent is None:
            adversary_recurrent = self.recurrent_adversary
        if not isinstance(adversary_recurrent, (bool, np.bool_)):
            raise TeachBenchError("adversary_recurrent", f"must be true, false or null, got {adversary_recurrent!r}",
                                  [True, False, None])
        if not adversary_recurrent and adversary_lstm_update != "stepwise":
            raise TeachBenchError("adversary_lstm_update", f"{adversary_lstm_update!r} runs the adversary's LSTM; "
                                  "with adversary_recurrent false there is none: leave it at 'stepwise'", ["stepwise"])
        self.size = maze_size(task_space, size, self.name, self.param_variant)
        self.adversary_config: dict[str, Any] = {
            "size": self.size, "n_walls": int(n_walls), "noise_dim": int(noise_dim), "batch_size": int(batch_size),
            "lr": float(lr), "n_epochs": int(n_epochs), "gamma": float(gamma), "gae_lambda": float(gae_lambda),
            "ent_coef": float(ent_coef), "clip_range": float(clip_range), "max_grad_norm": float(max_grad_norm),
            "conv_filters": int(conv_filters), "time_embed": int(time_embed), "lstm_hidden": int(lstm_hidden),
            "head_hidden": int(head_hidden), "max_pending": self.max_pending + 1, "seed": self.seed + 2,
            "device": adversary_device, "goal_last": bool(goal_last), "lstm_update": str(adversary_lstm_update),
            "recurrent": bool(adversary_recurrent),
        }
        self.adversary: Any = None
        self._adversary_state: Mapping[str, Any] | None = None

    def attach_adversary(self, adversary: Any) -> None:
        """The runner's hand-over (``needs``: ``"adversary"``): an object with ``design()``
        -> (batch id, level strings, level stats) and ``learn(batch id, regrets)``."""
        self.adversary = adversary
        if self._adversary_state is not None:
            adversary.load_state_dict(self._adversary_state)
            self._adversary_state = None

    def levels_per_batch(self) -> int:
        return int(self.adversary_config["batch_size"])

    def _new_batch(self) -> tuple[int, list[str], list[dict[str, Any]]]:
        if self.adversary is None:
            raise TeachBenchError("teacher.needs", "PAIRED has no adversary: the runner attaches it "
                                  "(students.regret.attach_teacher_needs)", ["adversary"])
        return self.adversary.design()

    def _batch_done(self, batch: int, regrets: list[float]) -> None:
        self.adversary.learn(batch, regrets)

    def _state(self) -> dict[str, Any]:
        state = super()._state()
        if self.adversary is not None:
            state["adversary"] = self.adversary.state_dict()
        elif self._adversary_state is not None:
            state["adversary"] = self._adversary_state
        return state

    def _load_state(self, state: Mapping[str, Any]) -> None:
        super()._load_state(state)
        adversary = state.get("adversary")
        if adversary is not None and self.adversary is not None:
            self.adversary.load_state_dict(adversary)
        else:
            self._adversary_state = adversary

    def _diagnostics(self) -> dict[str, Any]:
        extra = self.adversary.diagnostics() if self.adversary is not None else {}
        return {**super()._diagnostics(), **extra}


class Minimax(PAIRED):
    """The minimax adversary (``teacher=minimax``): PAIRED's designer rewarded with minus the
    protagonist's best return, with no antagonist.

    dcd's ``ued_algo == 'minimax'`` (``envs/runners/adversarial_runner.py``; the PAIRED
    paper's minimax baseline, docs/references.md#minimax-adversary): the adversary's return
    for a level is ``-agent_info['max_return']`` (:func:`minimax_return`), so it learns to
    design levels the protagonist cannot solve -- unsolvable ones included, which is the
    failure PAIRED's regret was introduced to avoid. dcd trains the adversary for it
    (``is_training_env``) but plays and trains the antagonist only for the PAIRED family
    (``run()``: ``if self.is_paired``), so here nothing but the protagonist plays: ``needs``
    holds ``"adversary"`` and not ``"antagonist"``, no second student is built, and a
    level is scored once the protagonist has played it ``episodes_per_level`` times. That
    halves the students' work per protagonist step against PAIRED.

    Everything else is PAIRED's (the designer, the batching, the adversary's PPO update and
    their parameters, and the differences from dcd listed in this module's docstring),
    with one default of its own: dcd's 25-block minimax config (``mg_25b_minimax.json``)
    sets ``recurrent_adversary_env`` false where ``mg_25b_paired.json`` sets it true, so
    ``adversary_recurrent: null`` gives a designer without the LSTM (input layers straight
    into the 32-unit heads; ``lstm_hidden`` is then unused); ``true`` gives PAIRED's.
    ``max_pending: auto`` is worked out for two students (:func:`open_batches_needed`) and
    kept here. With one student the docstring's derivation would give fewer (a level is
    open only until the protagonist has played it: the ``slots`` queued hand-outs, 17
    batches at 256 sub-envs, 32 levels and one episode, against 33), but only while
    episodes are of similar length; once the student solves some levels in a few steps and
    times out on others, a level queued behind a 250-step episode stays open while the
    other sub-envs go through many levels. On the device (256 sub-envs x 64 steps,
    ``experiments/results/ued_dcd25_minimax_256``) the open batches stayed at 19-24 to 2M
    steps and reached the cap of 33 from ~3M, with 5-7.5% of the protagonist's episodes
    replays by 4M steps (``extra_protagonist_episodes``): fewer open batches would replay more.
    Diagnostics name the designer's reward ``mean_adversary_return`` (not a regret), and the
    episode that completes a level carries it (episodes table: ``extra.adversary_return``).
    """

    name: ClassVar[str] = "minimax"
    needs: ClassVar[frozenset[str]] = frozenset({"adversary"})
    scored_sides: ClassVar[tuple[str, ...]] = ("prot",)
    score_name: ClassVar[str] = "adversary_return"
    recurrent_adversary: ClassVar[bool] = False  # dcd mg_25b_minimax.json: recurrent_adversary_env false
    param_variant: ClassVar[str | None] = None

    def _level_score(self, record: Mapping[str, Any]) -> float:
        return minimax_return(record["prot"])


def maze_size(task_space: TaskSpace, size: int | None, teacher: str, param_variant: str | None = "") -> int:
    """The maze side a level teacher designs for: ``size``, else the env's largest ``size``.

    On the dcd generator's task space (``{n_blocks}``: every level is on the env's
    ``max_size`` maze, which the space does not hold) ``size`` must be given. On a
    parameter-vector space the error names ``param_variant`` (default ``<teacher>_param``;
    None: the teacher has no such variant)."""
    if list(task_space.names) == ["n_blocks"]:
        if size is None:
            raise TeachBenchError("size", f"{teacher!r} on the dcd generator's task space (n_blocks) needs the maze "
                                  "side: set teacher.params.size (or ued.design_size) to the env's "
                                  "kwargs.max_size (15 for dcd's maze)")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or int(size) < 4:
            raise TeachBenchError("size", f"must be an int >= 4 (a 2x2 interior), got {size!r}")
        return int(size)
    if "size" not in task_space.names or "wall_density" not in task_space.names:
        variant = teacher + "_param" if param_variant == "" else param_variant
        if variant is None:
            raise TeachBenchError("teacher.name", f"{teacher!r} designs maze levels (the gridworld env) and has no "
                                  "parameter-vector variant")
        raise TeachBenchError("teacher.name", f"{teacher!r} designs maze levels (the gridworld env); "
                              f"for parameter-vector envs use {variant!r}", [variant])
    side = int(task_space["size"].high) if size is None else int(size)
    if not int(task_space["size"].low) <= side <= int(task_space["size"].high):
        raise TeachBenchError("size", f"must be in [{int(task_space['size'].low)}, {int(task_space['size'].high)}], got {side}")
    return side


class OneStepGenerator(nn.Module):
    """Noise -> diagonal Gaussian over the action vector (mean from an MLP, free log-std)."""

    def __init__(self, noise_dim: int, action_dim: int, hidden: int, init_log_std: float) -> None:
        super().__init__()
        self.mean = mlp([noise_dim, hidden, hidden, action_dim], activation=nn.Tanh)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(init_log_std)))

    def distribution(self, z: torch.Tensor) -> torch.distributions.Normal:
        return torch.distributions.Normal(self.mean(z), self.log_std.clamp(-5.0, 2.0).exp())


class PAIREDParam(Teacher):
    """PAIRED's one-step parametric variant (``paired_param``) over a TaskSpace.

    Args:
        noise_dim: generator noise input (reference maze adversary: 50).
        hidden: generator MLP width (default 64).
        lr: Adam learning rate of the generator (default 1e-3; small one-step problem).
        batch_size: regrets per generator update (default 32).
        ent_coef: entropy bonus (default 0.01, as the reference students).
        baseline_decay: EMA decay of the regret baseline (default 0.9).
        init_log_std: initial log-std of the Gaussian (default 0: std 1 before the squash).
        max_open: levels kept while waiting for the antagonist (oldest dropped, 4096).
        update: how the generator learns from a batch of regrets. ``"reinforce"`` (default;
            every row made so far): one REINFORCE step per batch, advantage = regret − a
            moving-average baseline. ``"ppo"``: dcd's walker adversary update
            (:func:`~teachers.torch_utils.regret_ppo_update`: ``ppo_epochs`` 8 ×
            ``ppo_minibatches`` 4 clipped-surrogate steps per batch with a value head,
            ``clip_range`` 0.2, ``vf_coef`` 0.5, ``max_grad_norm`` 0.5; regrets scaled by
            their running standard deviation). dcd's bipedal PAIRED config pairs it with
            lr 3e-4 and ``adv_entropy_coef`` 0.01.

    How this differs from dcd's walker adversary (``envs/bipedalwalker/adversarial.py``):
    dcd's designs a level in 8 sequential steps, one parameter per step (a 1-D action in
    [−1, 1] mapped onto that parameter's range), seeing the parameters set so far, the step
    index and a 10-D random vector; ours sets every dimension of the TaskSpace at once from
    a noise vector (TMA's stump space has 2 parameters, not dcd's 8). And dcd's adversary
    takes a PPO update per cycle (16 levels, 8 epochs × 4 minibatches: 32 gradient steps),
    where the default here takes one REINFORCE step per 32 regrets: on the walker at 2.5M
    steps that is 40–52 steps, after which the generator's spread had not moved from its
    start (experiments/results/walker_baseline_tma/). ``update="ppo"`` gives dcd's number
    of gradient steps per batch.
    """

    name: ClassVar[str] = "paired_param"
    needs: ClassVar[frozenset[str]] = frozenset({"antagonist"})

    def __init__(self, task_space: TaskSpace, seed: int = 0, noise_dim: int = 50, hidden: int = 64,
                 lr: float = 1e-3, batch_size: int = 32, ent_coef: float = 0.01, baseline_decay: float = 0.9,
                 init_log_std: float = 0.0, max_open: int = 4096, update: str = "reinforce", ppo_epochs: int = 8,
                 ppo_minibatches: int = 4, clip_range: float = 0.2, vf_coef: float = 0.5,
                 max_grad_norm: float = 0.5) -> None:
        super().__init__(task_space, seed)
        if update not in ("reinforce", "ppo"):
            raise TeachBenchError("update", f"unknown generator update {update!r}", ["reinforce", "ppo"])
        if int(ppo_epochs) < 1 or int(ppo_minibatches) < 1:
            raise TeachBenchError("ppo_epochs" if int(ppo_epochs) < 1 else "ppo_minibatches",
                                  f"must be >= 1, got {ppo_epochs if int(ppo_epochs) < 1 else ppo_minibatches}")
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
        self.update_rule = update
        self.ppo = {"n_epochs": int(ppo_epochs), "n_minibatches": int(ppo_minibatches), "clip_range": float(clip_range),
                    "vf_coef": float(vf_coef), "ent_coef": self.ent_coef, "max_grad_norm": float(max_grad_norm)}
        params = list(self.generator.parameters())
        self.critic: nn.Module | None = None
        if update == "ppo":  # its own seed stream: the generator's weights are those of the REINFORCE variant
            self.critic = build_seeded(self.seed + 1, lambda: mlp([self.noise_dim, int(hidden), int(hidden), 1], activation=nn.Tanh))
            params += list(self.critic.parameters())
        self.optimizer = torch.optim.Adam(params, lr=float(lr))
        self.regret_stats = [0, 0.0, 0.0]  # count, mean, M2 of every regret (Welford): the PPO update's scale
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

    def available(self) -> int:
        """Levels the protagonist finished that the antagonist has not been given yet."""
        return len(self._antagonist_queue)

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
        if self.critic is not None:
            for x in r.tolist():  # Welford: the running variance of every regret so far
                n, mean, m2 = self.regret_stats
                n += 1
                delta = x - mean
                mean += delta / n
                self.regret_stats = [n, mean, m2 + delta * (x - mean)]
            n, _, m2 = self.regret_stats
            scale = math.sqrt(m2 / n + 1e-8)
            stats = regret_ppo_update(self.generator, self.critic, self.optimizer, z, a, r / scale, self.rng, **self.ppo)
            loss = None if stats is None else stats["policy_loss"]
        else:
            loss = regret_reinforce_step(self.generator, self.optimizer, z, a, r, self.baseline, self.ent_coef)
        if loss is None:
            self.n_dropped += 1
            return
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * float(r.mean())
        self.n_generator_updates += 1
        self.last_loss = loss

    # -- checkpoints and diagnostics ----------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "generator": module_state(self.generator), "optimizer": plain(self.optimizer.state_dict()),
            "baseline": self.baseline, "generated": {k: [list(map(list, p)) for p in v] for k, v in self._generated.items()},
            "open": [[k, v] for k, v in self._open.items()],
            "antagonist_queue": [dict(t) for t in self._antagonist_queue],
            "recent_levels": [dict(t) for t in self._recent_levels],
            "batch": [[b[0], b[1], b[2]] for b in self._batch], "recent_regret": list(self.recent_regret),
            "counts": [self.n_generator_updates], "last_loss": self.last_loss,
            **({"critic": module_state(self.critic), "regret_stats": list(self.regret_stats)} if self.critic is not None else {}),
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
        self.last_loss = float(state.get("last_loss", float("nan")))  # not kept before 2026-12-03: the summary said null
        if self.critic is not None:
            self.critic.load_state_dict(state["critic"])
            n, mean, m2 = state["regret_stats"]
            self.regret_stats = [int(n), float(mean), float(m2)]

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

    def __init__(self, parent: Any) -> None:
        super().__init__(parent.task_space, parent.seed + 1)
        self.parent = parent

    def sample(self) -> Task:
        task = self._sample()
        self.n_sampled += 1
        return dict(task) if "level" in task else self.task_space.validate(task)

    def available(self) -> int:
        """Tasks the antagonist can be given now (the parent teacher decides)."""
        return self.parent.available()

    def _sample(self) -> Task:
        return self.parent.next_antagonist_task()

    def _update(self, episode: Episode) -> None:
        self.parent.record_antagonist(episode)
