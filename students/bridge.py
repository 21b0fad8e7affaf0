"""The curriculum bridge between a teacher and SB3's vectorized envs.

Two halves:

- :class:`CurriculumWrapper` sits inside every sub-env (inside the worker process for a
  ``SubprocVecEnv``). It holds a FIFO of tasks that the teacher has already chosen for
  it. SB3 resets a finished sub-env inside ``step``; the wrapper then starts the next
  queued task at once, so auto-reset never waits on the teacher (a one-task look-ahead).
- :class:`Curriculum` lives in the main process with the teacher. After every vector
  step it turns each finished episode into an :class:`~teachers.base.Episode` (the task
  from ``info["task"]``, the one actually played), gives it to the teacher, and sends that
  sub-env one new task. :class:`CurriculumCallback` drives it from SB3's callback loop.
  With a teacher in a worker process (:mod:`students.teacher_worker`, ``teacher_process:
  true``) the new tasks arrive one vector step later and the look-ahead is one task longer.

Env-side failures (a non-finite reward) raise :class:`~envs.errors.TeachBenchError`
naming the task, instead of silently poisoning the student.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, unwrap_vec_normalize

from envs.errors import TeachBenchError
from envs.task_space import Task
from students.teacher_worker import TeacherProcess
from teachers.base import Episode, Teacher

EpisodeSink = Callable[[Episode], None]


def reset_options(task: Task | None) -> dict[str, Any] | None:
    """``reset`` options for a task: level-based tasks travel as ``{"level": ...}``."""
    if task is None:
        return None
    if "level" in task:
        return {"level": task["level"]}
    return {"task": task}


class CurriculumWrapper(gym.Wrapper):
    """Queue of upcoming tasks for one sub-env; reports the task played in ``info``."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._queue: deque[Task] = deque()
        self.current_task: Task | None = None

    # called through VecEnv.env_method from the main process
    def set_next_task(self, task: Task) -> None:
        self._queue.append(task)

    def pending_tasks(self) -> list[Task]:
        """The task being played (first) and the queued ones: what a checkpoint must keep."""
        head = [self.current_task] if self.current_task is not None else []
        return head + list(self._queue)

    def clear_tasks(self) -> None:
        self._queue.clear()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if not options or ("task" not in options and "level" not in options):
            task = self._queue.popleft() if self._queue else None
            merged = dict(options or {})
            merged.update(reset_options(task) or {})
            options = merged or None
        obs, info = self.env.reset(seed=seed, options=options)
        self.current_task = info.get("task")
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if not math.isfinite(float(reward)):
            raise TeachBenchError("reward", f"the env returned a non-finite reward {reward!r} on task {self.current_task}")
        if "task" not in info:
            info["task"] = self.current_task
        return obs, reward, terminated, truncated, info


class Curriculum:
    """Main-process half of the bridge: teacher <-> sub-env task queues.

    Args:
        teacher: the teacher choosing tasks.
        vec_env: the student's VecEnv (its sub-envs wrapped in :class:`CurriculumWrapper`,
            or a batched VecEnv implementing ``env_method("set_next_task", ...)``).
        sinks: callables receiving every finished Episode (tables, wandb).
        lookahead: tasks queued per sub-env beyond the one it plays (one more with a
            :class:`~students.teacher_worker.TeacherProcess`, whose tasks arrive a step late).
    """

    def __init__(self, teacher: Teacher, vec_env: VecEnv, sinks: Sequence[EpisodeSink] = (),
                 lookahead: int = 1) -> None:
        self.teacher = teacher
        self.vec_env = vec_env
        self.sinks = list(sinks)
        self.lookahead = int(lookahead)
        # a teacher in a worker process: this step's request goes out, last step's tasks come in
        self._worker = teacher if isinstance(teacher, TeacherProcess) else None
        self._awaiting: np.ndarray | None = None  # the sub-envs owed the tasks in flight
        if self._worker is not None:
            self.lookahead += 1  # no sub-env may reset before its task arrives (module doc there)
            self._worker.on_flush = self.receive
        self.next_episode_id = 0
        self.episode_hooks: list[Callable[[Episode, int, dict[str, Any]], None]] = []
        # Regret-based teachers score episodes only at rollout end (after GAE): they set this
        # and call :meth:`deliver` themselves.
        self.defer_updates = False
        # Per sub-env, the hand-out tokens of its tasks in play order (head = the episode
        # being played): teachers with ``handout_token`` (PLR, ACCEL) label each hand-out
        # when they make it; the finished episode carries its token in extra["handout"].
        self._token_of = getattr(teacher, "handout_token", None)
        self.handouts: list[deque[Any]] = [deque() for _ in range(vec_env.num_envs)]

    def _hand_out(self, i: int, task: Task, fresh: bool = True) -> None:
        self.vec_env.env_method("set_next_task", task, indices=[i])
        self.handouts[i].append(self._token_of() if fresh and callable(self._token_of) else None)

    def current_handout(self, i: int) -> Any:
        """The hand-out token of the episode sub-env ``i`` is playing (None if unknown)."""
        return self.handouts[i][0] if self.handouts[i] else None

    def prime(self, pending: Sequence[Sequence[Task]] | None = None) -> None:
        """Fill every sub-env's queue before the first reset: the task it starts with plus
        the look-ahead. ``pending`` (from a checkpoint) replays tasks already handed out."""
        n = self.vec_env.num_envs
        self.vec_env.env_method("clear_tasks")
        for i in range(n):
            self.handouts[i].clear()
            tasks = list(pending[i]) if pending is not None and i < len(pending) else []
            for task in tasks:  # handed out before a checkpoint: no token
                self._hand_out(i, task, fresh=False)
            for _ in range(len(tasks), 1 + self.lookahead):
                self._hand_out(i, self.teacher.sample())

    def pending(self) -> list[list[Task]]:
        self.receive()
        return self.vec_env.env_method("pending_tasks")

    def receive(self) -> None:
        """Queue the tasks a worker-process teacher drew for the last step's finished
        episodes (nothing without one, or with nothing in flight)."""
        if self._awaiting is None:
            return
        indices, self._awaiting = self._awaiting, None
        self._give(indices, self._worker.collect(), [None] * len(indices))  # type: ignore[union-attr]

    def hand_out(self, indices: Sequence[int]) -> None:
        """One new task for each sub-env in ``indices``: one teacher call for all of them,
        and one call into a batched VecEnv (``set_next_tasks``) instead of one
        ``env_method`` per finished episode. Teachers that label hand-outs
        (``handout_token``, read right after each ``sample``) are asked one task at a time,
        and their tasks then go to a batched VecEnv in one call too (issue 18: PLR and
        ACCEL hand out several levels per vector step at 1024 envs)."""
        if not len(indices):
            return
        tokens: list[Any]
        if callable(self._token_of):
            tasks, tokens = [], []
            for _ in indices:
                tasks.append(self.teacher.sample())
                tokens.append(self._token_of())
        else:
            batch = getattr(self.teacher, "sample_batch", None)  # duck-typed teachers: one by one
            tasks = batch(len(indices)) if batch is not None else [self.teacher.sample() for _ in indices]
            tokens = [None] * len(indices)
        self._give(indices, tasks, tokens)

    def _give(self, indices: Sequence[int], tasks: Sequence[Task], tokens: Sequence[Any]) -> None:
        """Queue ``tasks[j]`` (hand-out token ``tokens[j]``) for sub-env ``indices[j]``."""
        if hasattr(self.vec_env, "set_next_tasks"):
            self.vec_env.set_next_tasks(tasks, [int(i) for i in indices])
            for i, token in zip(indices, tokens):
                self.handouts[int(i)].append(token)
            return
        for i, task, token in zip(indices, tasks, tokens):
            self.vec_env.env_method("set_next_task", task, indices=[int(i)])
            self.handouts[int(i)].append(token)

    def on_step(self, dones: np.ndarray, infos: Sequence[dict[str, Any]], global_step: int) -> list[Episode]:
        """Report every finished episode and refill the queues of the sub-envs that finished."""
        finished = []
        done_idx = np.flatnonzero(dones)
        for i in done_idx:
            info = infos[i]
            stats = info.get("episode")
            if stats is None or info.get("task") is None:
                raise TeachBenchError("env", "a finished episode's info lacks 'episode' (Monitor) or 'task'")
            token = self.handouts[i].popleft() if self.handouts[i] else None
            episode = Episode(
                task=dict(info["task"]),
                episode_return=float(stats["r"]),
                length=int(stats["l"]),
                success=bool(info.get("success", False)),
                global_step=int(global_step),
                env_index=int(i),
                episode_id=self.next_episode_id,
                level_id=info.get("level_id"),
            )
            if token is not None:
                episode.extra["handout"] = token
            self.next_episode_id += 1
            for hook in self.episode_hooks:
                hook(episode, int(i), info)
            finished.append(episode)
        if self._worker is not None:
            if self.defer_updates:
                raise TeachBenchError("teacher_process", "a teacher that scores episodes at rollout end cannot "
                                      "run in a worker process")
            self.receive()  # the previous step's tasks, then this step's request (sample, then update)
            if len(done_idx):
                self._worker.submit(len(done_idx), finished)
                self._awaiting = done_idx
                for episode in finished:
                    for sink in self.sinks:
                        sink(episode)
            return finished
        self.hand_out(done_idx)
        if finished and not self.defer_updates:
            self.deliver(finished)
        return finished

    def deliver(self, episodes: Sequence[Episode]) -> None:
        if hasattr(self.teacher, "update_batch"):
            self.teacher.update_batch(episodes)
        else:
            for episode in episodes:
                self.teacher.update(episode)
        for episode in episodes:
            for sink in self.sinks:
                sink(episode)

    def state_dict(self) -> dict[str, Any]:
        return {"next_episode_id": self.next_episode_id, "pending": self.pending()}


class CurriculumCallback(BaseCallback):
    """SB3 callback driving :class:`Curriculum` and optional periodic work.

    ``periodic`` callables get the model's ``num_timesteps`` after every step and decide
    themselves whether it is time to act (evaluation, diagnostics, checkpoints); checkpoint
    hooks that need a consistent model run in ``on_rollout_start`` (``at_rollout_start``).
    """

    def __init__(self, curriculum: Curriculum, periodic: Sequence[Callable[[int], None]] = (),
                 at_rollout_start: Sequence[Callable[[int], None]] = (),
                 at_rollout_end: Sequence[Callable[[BaseCallback], None]] = ()) -> None:
        super().__init__()
        self.curriculum = curriculum
        self.periodic = list(periodic)
        self.at_rollout_start = list(at_rollout_start)
        self.at_rollout_end = list(at_rollout_end)

    #: set by the runner for teachers that need V(s0) (students.values.InitialValueTracker)
    value_tracker: Any = None
    _step_values: Any = None  # the student's values at the latest step (see _on_rollout_end)
    _normalizer: Any = None  # the training env's VecNormalize, if any (read at training start)

    def _on_training_start(self) -> None:
        if self.value_tracker is not None:
            self.value_tracker.start(self.model._last_obs)
            # found once per learn() call, not per step: the wrapper chain does not change during one
            self._normalizer = unwrap_vec_normalize(self.training_env)

    def _rollout_values(self) -> Any:
        """The student's own values of this step's observations (on-policy students), or None."""
        values = self.locals.get("values")
        return values if isinstance(values, torch.Tensor) and values.shape[0] == len(self.locals["dones"]) else None

    def _on_step(self) -> bool:
        values = None
        if self.value_tracker is not None:  # the raw rewards, before the episodes go out
            values = self._step_values = self._rollout_values()
            if values is not None:  # V(s0) of the episodes reset at the previous step (students/values.py)
                self.value_tracker.take(values)
            normalizer = self._normalizer
            rewards = normalizer.get_original_reward() if normalizer is not None else self.locals["rewards"]
            self.value_tracker.before_episodes(rewards, self.locals["dones"])
        self.curriculum.on_step(self.locals["dones"], self.locals["infos"], self.num_timesteps)
        if self.value_tracker is not None:
            self.value_tracker.after_step(self.locals["new_obs"], self.locals["dones"], defer=values is not None)
        for fn in self.periodic:
            fn(self.num_timesteps)
        return True

    def _on_rollout_start(self) -> None:
        for fn in self.at_rollout_start:
            fn(self.num_timesteps)

    def _on_rollout_end(self) -> None:
        tracker = self.value_tracker
        if tracker is not None and tracker.pending.any():
            values = self.locals.get("values")
            if isinstance(values, torch.Tensor) and values is not self._step_values:
                tracker.take(values)  # SB3's bootstrap values of the last observations, before the update
            else:  # the loop did not publish its bootstrap (sb3-contrib's MaskablePPO, RecurrentPPO): the tracker's own pass
                pending = tracker.pending.copy()
                tracker.pending[:] = False
                tracker.after_step(self.locals["new_obs"], pending)
        for fn in self.at_rollout_end:
            fn(self)
