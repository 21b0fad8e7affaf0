"""ACCEL: PLR⊥ plus mutation of replayed levels.

After each batch (one PPO rollout), the replayed levels scored in that batch are the
candidate parents. The ``n_parents`` highest-scoring ones *across the whole batch* (an
argsort of the flattened score vector; the reference code once sorted an unflattened
array and edited only the first level, docs/references.md#accel) are each edited a few times. The
children are queued and played next, as new levels: scored by the student without a
gradient step (PLR⊥) and inserted into the buffer by score.

Edits:
- level tasks (``{"level": ...}``, the gridworld): the env's own edit operators (add or
  remove a wall, move the start or the goal), ``n_edits`` of them. Teachers may not import
  env packages, so the runner injects them as :attr:`ACCEL.level_editor`
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

LevelEditor = Callable[[str, np.random.Generator, int], str]


class ACCEL(RobustPLR):
    """Adversarially Compounding Complexity by Editing Levels.

    Args (beyond :class:`~teachers.plr.PLR`'s; defaults from the reference configs,
    docs/references.md#accel):
        replay_prob: 0.8 (ACCEL uses 0.8–0.9).
        n_edits: edits per child of a level task, default 3 (reference 3–5).
        param_edits: parameters moved per child of a parameter task, default 1.
        param_step: size of a move in the normalised ``[0,1]`` view, default 0.05.
        n_parents: parents per batch, the highest-scoring replayed levels of the batch;
            ``None`` (default) edits every replayed level of the batch.
        max_pending: children waiting to be played, oldest dropped beyond it (default 1024).
    """

    name: ClassVar[str] = "accel"
    needs: ClassVar[frozenset[str]] = frozenset({"regret", "robust", "level_editor"})

    def __init__(self, task_space: TaskSpace, seed: int = 0, buffer_size: int = 4000, replay_prob: float = 0.8,
                 temperature: float = 0.3, staleness_coef: float = 0.3, min_fill: float = 0.5, score: str = "pvl",
                 prioritization: str = "rank", score_alpha: float = 1.0, n_edits: int = 3, param_edits: int = 1,
                 param_step: float = 0.05, n_parents: int | None = None, max_pending: int = 1024) -> None:
        super().__init__(task_space, seed, buffer_size, replay_prob, temperature, staleness_coef, min_fill, score,
                         prioritization, score_alpha)
        if int(n_edits) < 1:
            raise TeachBenchError("n_edits", f"must be >= 1, got {n_edits}")
        if int(param_edits) < 1:
            raise TeachBenchError("param_edits", f"must be >= 1, got {param_edits}")
        if not 0.0 < param_step <= 1.0:
            raise TeachBenchError("param_step", f"must be in (0, 1], got {param_step}")
        if n_parents is not None and int(n_parents) < 1:
            raise TeachBenchError("n_parents", f"must be >= 1 or null, got {n_parents}")
        self.n_edits = int(n_edits)
        self.param_edits = int(param_edits)
        self.param_step = float(param_step)
        self.n_parents = None if n_parents is None else int(n_parents)
        self.level_editor: LevelEditor | None = None
        self._children: deque[Task] = deque(maxlen=int(max_pending))
        self._batch_keys: list[str] = []
        self._batch_scores: list[float] = []
        self._batch_tasks: list[Task] = []
        self.n_children_made = 0
        self.n_children_played = 0

    # -- sampling: queued children first (played without gradient), then PLR -------------
    def _sample(self) -> Task:
        if self._children:
            self.buffer.tick()
            self.n_children_played += 1
            self.n_new += 1
            return self._children.popleft()
        return super()._sample()

    # -- learning -----------------------------------------------------------------------
    def _score_level(self, episode: Episode, score: float, replayed: bool) -> None:
        super()._score_level(episode, score, replayed)
        if replayed:
            self._batch_keys.append(level_key(episode))
            self._batch_scores.append(score)
            self._batch_tasks.append(replay_task(episode))

    def on_rollout_end(self) -> None:
        """End of a batch: edit the best replayed levels of the whole batch (called by the
        student side after the batch's episodes were delivered)."""
        tasks = self._batch_tasks
        if tasks:
            for parent in select_parents(np.asarray(self._batch_scores), tasks, self.n_parents):
                self._children.append(self.mutate(parent))
                self.n_children_made += 1
        self._batch_keys, self._batch_scores, self._batch_tasks = [], [], []

    def mutate(self, task: Mapping[str, Any]) -> Task:
        """One child of a level or parameter task."""
        if "level" in task:
            if self.level_editor is None:
                raise TeachBenchError("teacher.level_editor", "ACCEL got a level task but no level editor: "
                                      "students.regret.attach_teacher_needs installs the env's edit operators")
            return {"level": self.level_editor(str(task["level"]), self.rng, self.n_edits)}
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
