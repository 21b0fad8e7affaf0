"""ACCEL: PLR⊥ plus mutation of replayed levels.

After each batch (one PPO rollout), the levels replayed in that batch are the candidate
parents, chosen as ``base_levels`` says (dcd's option of the same name):

- ``"batch"``: every replayed level of the batch, one child each;
- ``"easy"`` (dcd's ACCEL maze config): the ``n_easy = 4`` replayed levels with the
  *lowest* ``mean return − clip(mean |GAE|, −1, 1)`` (dcd: ``argsort(...)[:4]``; with
  fewer than 4 levels, dcd's ``argmax`` of the same quantity), tiled to the batch: each
  gets ``n // 4`` children, ``n`` being the number of replayed levels (dcd: one per env);
- ``"top"``: the ``n_parents`` highest-scoring levels *across the whole batch* (an
  argsort of the flattened score vector; the reference code once sorted an unflattened
  array and edited only the first level, docs/references.md#accel).

The children are queued and played next, as new levels: scored by the student without a
gradient step (PLR⊥) and inserted into the buffer by score. Each child's hand-out is
labelled "child" (:meth:`PLR.handout_token`), so it is never trained on, even when its
level string equals a level being replayed.

Edits:
- level tasks (``{"level": ...}``, the gridworld): the env's edit operator, ``n_edits``
  per child: ``edit_operator="dcd"`` (default) is dcd's maze editor (``n_edits`` random
  cells with replacement, each set to wall / empty / goal; dcd's mazes use 5), ``"teachbench"``
  our add/remove-a-wall / move-start-or-goal edits. Teachers may not import env packages,
  so the runner injects the operator as :attr:`ACCEL.level_editor`
  (:func:`students.regret.attach_teacher_needs` does it for the gridworld);
- parameter vectors: ``param_edits`` times, one normalised parameter moves by
  ``±param_step`` (at least one integer step on a discrete dimension), clipped to the box.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode
from teachers.plr import RobustPLR, level_key, replay_task

LevelEditor = Callable[[str, np.random.Generator, int, str], str]
BASE_LEVELS = ("batch", "easy", "top")


class ACCEL(RobustPLR):
    """Adversarially Compounding Complexity by Editing Levels.

    Args (beyond :class:`~teachers.plr.PLR`'s; defaults from the reference configs,
    docs/references.md#accel):
        replay_prob: 0.8 (ACCEL uses 0.8–0.9).
        n_edits: edits per child of a level task; ``None`` (default) = dcd's setting for the
            env, chosen by its level editor (5 cells on mazes, 3 parameters on the walker).
        edit_operator: ``"dcd"`` (default) or ``"teachbench"``, the level editor's operator.
        base_levels: ``"top"`` (default; with ``n_parents=None`` every replayed episode's
            level), ``"batch"`` or ``"easy"`` (see the module doc).
        n_easy: parents of ``"easy"``, default 4 (dcd).
        new_levels: a partial task fixed on every *new* level (the rest drawn uniformly):
            ``{"n_blocks": 0}`` on the ``"dcd"`` maze is dcd's ACCEL start, empty rooms
            with a random agent and goal (``GoalLastEmptyAdversarialEnv-Edit``); None
            (default) draws new levels from the whole TaskSpace.
        param_edits: parameters moved per child of a parameter task, default 1.
        param_step: size of a move in the normalised ``[0,1]`` view, default 0.05.
        n_parents: parents of ``"top"``, the highest-scoring replayed levels of the batch;
            ``None`` (default) edits every replayed level of the batch.
        max_pending: children waiting to be played, oldest dropped beyond it (default 1024).
    """

    name: ClassVar[str] = "accel"
    needs: ClassVar[frozenset[str]] = frozenset({"regret", "robust", "level_editor"})

    def __init__(self, task_space: TaskSpace, seed: int = 0, buffer_size: int = 4000, replay_prob: float = 0.8,
                 temperature: float = 0.3, staleness_coef: float = 0.3, min_fill: float = 0.5, score: str = "pvl",
                 prioritization: str = "rank", score_alpha: float = 1.0, n_edits: int | None = None, param_edits: int = 1,
                 param_step: float = 0.05, n_parents: int | None = None, max_pending: int = 1024,
                 replay_schedule: str = "fixed", edit_operator: str = "dcd", base_levels: str = "top",
                 n_easy: int = 4, new_levels: Mapping[str, Any] | None = None) -> None:
        super().__init__(task_space, seed, buffer_size, replay_prob, temperature, staleness_coef, min_fill, score,
                         prioritization, score_alpha, replay_schedule)
        if base_levels not in BASE_LEVELS:
            raise TeachBenchError("base_levels", f"unknown base_levels {base_levels!r}", BASE_LEVELS)
        if edit_operator not in ("dcd", "teachbench"):
            raise TeachBenchError("edit_operator", f"unknown edit operator {edit_operator!r}", ["dcd", "teachbench"])
        if int(n_easy) < 1:
            raise TeachBenchError("n_easy", f"must be >= 1, got {n_easy}")
        if n_edits is not None and int(n_edits) < 1:
            raise TeachBenchError("n_edits", f"must be >= 1 (or null: the env's dcd setting), got {n_edits}")
        if int(param_edits) < 1:
            raise TeachBenchError("param_edits", f"must be >= 1, got {param_edits}")
        if not 0.0 < param_step <= 1.0:
            raise TeachBenchError("param_step", f"must be in (0, 1], got {param_step}")
        if n_parents is not None and int(n_parents) < 1:
            raise TeachBenchError("n_parents", f"must be >= 1 or null, got {n_parents}")
        self.n_edits = None if n_edits is None else int(n_edits)
        self.param_edits = int(param_edits)
        self.param_step = float(param_step)
        self.n_parents = None if n_parents is None else int(n_parents)
        self.edit_operator = edit_operator
        self.base_levels = base_levels
        self.n_easy = int(n_easy)
        self.new_levels = dict(new_levels) if new_levels else {}
        if self.new_levels:
            unknown = set(self.new_levels) - set(task_space.names)
            if unknown:
                raise TeachBenchError("new_levels", f"not dimensions of this TaskSpace: {sorted(unknown)}", task_space.names)
            task_space.validate({**task_space.sample(np.random.default_rng(0)), **self.new_levels})
        self.level_editor: LevelEditor | None = None
        self._children: deque[Task] = deque(maxlen=int(max_pending))
        self._batch_keys: list[str] = []
        self._batch_scores: list[float] = []
        self._batch_tasks: list[Task] = []
        self._batch_stats: list[tuple[float, float, int]] = []  # (return, mean |GAE|, steps) per replayed episode
        self.n_children_made = 0
        self.n_children_played = 0

    # -- sampling: queued children first (played without gradient), then PLR -------------
    def _sample(self) -> Task:
        if self._children:
            self.buffer.tick()
            self.n_children_played += 1
            self.n_new += 1
            self._last_kind = "child"
            return self._children.popleft()
        return super()._sample()

    def _new_level(self) -> Task:
        task = super()._new_level()
        if self.new_levels:
            task = self.task_space.validate({**task, **self.new_levels})
        return task

    # -- learning -----------------------------------------------------------------------
    def _score_level(self, episode: Episode, score: float, replayed: bool) -> None:
        super()._score_level(episode, score, replayed)
        if replayed:
            self._batch_keys.append(level_key(episode))
            self._batch_scores.append(score)
            self._batch_tasks.append(replay_task(episode))
            abs_gae = episode.extra.get("mean_abs_gae", 0.0)
            steps = int(episode.extra.get("regret_steps", episode.length) or 1)
            self._batch_stats.append((float(episode.episode_return), float(abs_gae), steps))

    def on_rollout_end(self) -> None:
        """End of a batch: edit the chosen replayed levels of the batch (called by the
        student side after the batch's episodes were delivered)."""
        if self._batch_tasks:
            for parent in self.parents():
                self._children.append(self.mutate(parent))
                self.n_children_made += 1
        self._batch_keys, self._batch_scores, self._batch_tasks, self._batch_stats = [], [], [], []

    def parents(self) -> list[Task]:
        """The parents of this batch's children, as ``base_levels`` picks them."""
        if self.base_levels == "top":
            return select_parents(np.asarray(self._batch_scores), self._batch_tasks, self.n_parents)
        # one entry per distinct replayed level, in order of first appearance
        levels: dict[str, list[int]] = {}
        for j, key in enumerate(self._batch_keys):
            levels.setdefault(key, []).append(j)
        firsts = [self._batch_tasks[idx[0]] for idx in levels.values()]
        if self.base_levels == "batch":
            return firsts
        easiness = []
        for idx in levels.values():
            returns = [self._batch_stats[j][0] for j in idx]
            steps = np.array([self._batch_stats[j][2] for j in idx], dtype=np.float64)
            abs_gae = np.array([self._batch_stats[j][1] for j in idx]) @ steps / steps.sum()
            easiness.append(float(np.mean(returns)) - float(np.clip(abs_gae, -1.0, 1.0)))
        return select_easy(np.asarray(easiness), firsts, self.n_easy)

    def mutate(self, task: Mapping[str, Any]) -> Task:
        """One child of a level or parameter task."""
        if "level" in task:
            if self.level_editor is None:
                raise TeachBenchError("teacher.level_editor", "ACCEL got a level task but no level editor: "
                                      "students.regret.attach_teacher_needs installs the env's edit operators")
            return {"level": self.level_editor(str(task["level"]), self.rng, self.n_edits, self.edit_operator)}
        u = self.task_space.to_unit(task)
        for _ in range(self.param_edits):
            d = int(self.rng.integers(self.task_space.ndim))
            dim = self.task_space.dims[d]
            step = self.param_step
            if dim.kind != "continuous" and dim.high > dim.low:
                step = max(step, 1.0 / (dim.high - dim.low))  # at least one integer step
            u[d] = np.clip(u[d] + step * (1.0 if self.rng.random() < 0.5 else -1.0), 0.0, 1.0)
        return self.task_space.from_unit(u)

    # -- checkpoints and diagnostics ----------------------------------------------------
    def _state(self) -> dict[str, Any]:
        state = super()._state()
        state["accel"] = {
            "children": [dict(t) for t in self._children],
            "batch": [list(self._batch_keys), list(self._batch_scores), [dict(t) for t in self._batch_tasks]],
            "batch_stats": [list(map(float, st[:2])) + [int(st[2])] for st in self._batch_stats],
            "counts": [self.n_children_made, self.n_children_played],
        }
        return state

    def _load_state(self, state: Mapping[str, Any]) -> None:
        super()._load_state(state)
        acc = state["accel"]
        self._children.clear()
        self._children.extend(dict(t) for t in acc["children"])
        keys, scores, tasks = acc["batch"]
        self._batch_keys, self._batch_scores, self._batch_tasks = list(keys), [float(s) for s in scores], [dict(t) for t in tasks]
        self._batch_stats = [(float(r), float(g), int(n)) for r, g, n in acc.get("batch_stats", [])]
        self.n_children_made, self.n_children_played = (int(v) for v in acc["counts"])

    def _diagnostics(self) -> dict[str, Any]:
        return {**super()._diagnostics(), "children_made": self.n_children_made,
                "children_played": self.n_children_played, "children_pending": len(self._children)}


def select_parents(scores: np.ndarray, tasks: list[Task], n_parents: int | None) -> list[Task]:
    """The ``n_parents`` highest-scoring tasks of a batch, whatever the batch's shape:
    scores are flattened before the argsort (row-major, matching ``tasks``)."""
    flat = np.asarray(scores, dtype=np.float64).reshape(-1)
    if flat.size != len(tasks):
        raise TeachBenchError("scores", f"{flat.size} scores for {len(tasks)} levels")
    order = np.argsort(-flat, kind="stable")
    if n_parents is not None:
        order = order[:n_parents]
    return [tasks[int(i)] for i in order]


def select_easy(easiness: np.ndarray, tasks: list[Task], n_easy: int = 4) -> list[Task]:
    """dcd's "easy" parents: the ``n_easy`` levels with the lowest ``easiness`` (mean
    return − clipped mean |GAE|), each repeated ``len(tasks) // n_easy`` times; with fewer
    levels than ``n_easy``, the one with the highest easiness repeated ``len(tasks)`` times
    (dcd's branch for fewer than 4 envs)."""
    e = np.asarray(easiness, dtype=np.float64).reshape(-1)
    if e.size != len(tasks):
        raise TeachBenchError("easiness", f"{e.size} values for {len(tasks)} levels")
    if not tasks:
        return []
    if len(tasks) >= n_easy:
        chosen = np.argsort(e, kind="stable")[:n_easy]
        return [tasks[int(i)] for i in chosen] * (len(tasks) // n_easy)
    return [tasks[int(np.argmax(e))]] * len(tasks)
