"""WebRL's self-evolving online curriculum on web forms (Qi et al. 2024, docs/references.md#webrl).

WebRL trains an LLM web agent in phases. In each phase the agent plays the phase's task
set; the instructions it *failed* become seeds from which new tasks are generated ("tasks
like these, of similar difficulty"), and the new tasks are filtered before they enter the
next phase's set: a critic trained on the agent's own outcomes estimates each new task's
success probability from its start state, and only tasks of intermediate difficulty are
kept (estimate between 0.05 and 0.75). A second filter drops infeasible tasks.

Facts taken from the reference code (THUDM/WebRL; tests/test_webrl_reference.py checks them):

- ``scripts/gen_task.py``: each generation round draws ``seed_tasks = 10`` failed tasks
  (all of them if fewer failed) without replacement, and there are ``generation_turns = 2``
  rounds; the two rounds draw independently, so a failed task may seed both.
- ``scripts/gen_task.py``: the critic filter keeps a task when ``0.05 <= estimate <= 0.75``,
  both ends included, for either of the critic's two heads; a head's estimate is the
  two-class softmax's probability of class 1.
- ``webrl/algorithms/webrl/trainer.py``: class 1 is success (the critic is trained by cross
  entropy on "the return is positive", and every step of a trajectory carries its outcome),
  so the estimate is P(success). A trajectory is a failure when the outcome reward model
  scores it below 0.5 (``scripts/process_data.py``).

This teacher, phase by phase:

1. **Play the phase's set.** Phase 0 plays forms generated from uniform TaskSpace points
   (WebRL's first phase plays the benchmark's training tasks). Later phases play the
   filtered tasks of the previous phase, and only those: the new set replaces the old.
   They are drawn from a level buffer with pure staleness sampling (a form's chance grows
   with the episodes since it was last played), so every form of the set comes round, as
   WebRL plays its whole set. With probability ``base_fraction``, and whenever the set is
   empty, a fresh uniform form is played instead.
2. **Collect failures.** Every form the student failed in this phase (``success`` false)
   is a seed candidate. Forms are exact: each one is handed out by its level string and
   the env reports it back (``info["level_id"]``).
3. **Generate** (after ``phase_episodes`` episodes): ``generation_turns`` rounds, each on
   ``min(seed_tasks, failures)`` distinct failed forms, each seed giving
   ``children_per_seed`` new forms by ``n_edits`` random edits (add / remove / rename a
   field, swap a synonym, add a distractor, reorder the instruction;
   ``envs/webform/levels.py``). Where WebRL prompts an LLM for new instructions of similar
   difficulty, we edit the form itself; the feasibility filter is not needed because every
   edit keeps the form valid and solvable (checked by the tests with the oracle).
4. **Filter by the critic.** Each new form's success probability is estimated and the
   form is kept when it lies in ``[success_low, success_high]``, ends included. Where we
   differ: WebRL's critic is the agent's own value model reading the instruction and the
   page; a teacher here sees no observation of an unplayed form, so our critic is a
   logistic regression, fitted at each phase end on the student's outcomes (success flags)
   of its last ``critic_window`` episodes, over the form's description (the TaskSpace
   point of counts and shares that ``describe`` gives, in the unit cube). With only one
   outcome class in the window, the estimate is that window's success rate for every form.

Where else we differ, and why (observable differences from the reference code):

- *One group of seeds.* WebRL groups the failed tasks by website and runs its rounds per
  website (2 rounds of up to 10 seeds for each site with failures); all our forms come
  from one site, so there is one group and 2 rounds per phase.
- *New tasks per round.* WebRL puts a round's seeds into one prompt and keeps whatever list
  the LLM writes, a number its code fixes neither per seed nor per round; we make
  ``children_per_seed`` edits of each seed, so a round with fewer than 10 failed forms
  yields proportionally fewer new forms. A new form equal to one already kept is kept once
  (the set is a set; WebRL's output file would list it twice).
- *The filters are applied.* The released ``gen_task.py`` defines the critic filter and
  the feasibility prompt, but its main only writes the generated tasks; we follow the
  paper, which filters every new task before the next phase.
- *One critic head.* WebRL's critic has two heads (independently initialised MLPs) and a
  task passes when either head's estimate is in the band. Ours is a convex fit: two heads
  fitted to the same outcomes would coincide, so it has one, and "either head" is that one.
- *The critic's data.* WebRL trains its critic each phase on that phase's trajectories
  (95% of them when no validation file is given,
  ``webrl/algorithms/offpolicy_train_loop.py``) plus, with replay, earlier phases'
  successful steps whose actor confidence lies in (0.5, 0.95], at most twice the phase's
  steps (``scripts/process_data.py``). Ours sees the last ``critic_window`` episodes,
  whichever phases they came from. WebRL's critic reads the instruction and the site's
  start page (the same page for every task of a site), so it tells tasks apart by their
  instruction; ours by the description of the form.
- *Phase length.* A WebRL phase is one interaction run over its set's task configurations
  (its README), so its length follows the set's size; ours lasts ``phase_episodes``
  episodes whatever the set's size, so a form may be played several times in a phase, and
  one failed in any of its plays is a seed, once. A phase that keeps no form leaves an
  empty set, and the next phase plays fresh uniform forms (a case WebRL's code does not
  cover).

Not reproduced: WebRL's outcome reward model (our env knows success exactly) and its
student-side measures (KL-constrained policy update, replay of past successes filtered
by the actor's confidence).

The env's form tools (``needs = {"form_tools"}``) are installed by the runner
(``students.regret.attach_teacher_needs``); the phase's set lives in the level buffer of
PLR and ACCEL (:class:`teachers.level_buffer.LevelBuffer`).
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher
from teachers.level_buffer import LevelBuffer
from teachers.qweb import require_web_space

WEBRL_SUCCESS_BAND = (0.05, 0.75)  # gen_task.py: filter_by_critic(threshold=[0.05, 0.75])
WEBRL_SEED_TASKS = 10  # gen_task.py: seed_num
WEBRL_GENERATION_TURNS = 2  # gen_task.py: generation_turns


def intermediate(estimates: Sequence[float], low: float = WEBRL_SUCCESS_BAND[0],
                 high: float = WEBRL_SUCCESS_BAND[1]) -> np.ndarray:
    """WebRL's filter: which estimated success probabilities lie in ``[low, high]``."""
    e = np.asarray(estimates, dtype=np.float64)
    return (e >= low) & (e <= high)


class SuccessCritic:
    """P(success) of a form from its description: logistic regression on the student's
    recent outcomes (a constant rate when they are all successes or all failures)."""

    def __init__(self) -> None:
        self.model: Any = None
        self.rate = 0.0

    def fit(self, x: np.ndarray, y: np.ndarray) -> "SuccessCritic":
        self.rate = float(np.mean(y)) if len(y) else 0.0
        self.model = None
        if len(y) and 0 < y.sum() < len(y):
            from sklearn.linear_model import LogisticRegression

            self.model = LogisticRegression(C=1.0, max_iter=200).fit(x, y.astype(int))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.model is None:
            return np.full(len(x), self.rate)
        return self.model.predict_proba(x)[:, 1]


class WebRL(Teacher):
    """Self-evolving curriculum: new forms from failed ones, kept at intermediate difficulty.

    Args (defaults: THUDM/WebRL's task generation, docs/references.md#webrl, unless "ours"):
        task_space: the web-form TaskSpace.
        seed: the teacher's RNG seed.
        phase_episodes: episodes per phase. Default 512 (ours: WebRL's phases are its
            training iterations; this is about 20k env steps of our forms).
        seed_tasks: failed forms per generation round. Default 10.
        generation_turns: generation rounds per phase. Default 2.
        children_per_seed: new forms per seed. Default 5 (ours; WebRL's LLM lists several
            tasks per prompt, a number its code does not fix).
        n_edits: edits per new form. Default 1 (ours: "similar difficulty").
        success_low / success_high: the critic's band of kept forms. Default 0.05 / 0.75.
        critic_window: recent episodes the critic is fitted on. Default 2048 (ours).
        buffer_size: most forms in a phase's set. Default 1000 (ours).
        base_fraction: probability of a fresh uniform form in later phases. Default 0.0.
    """

    name: ClassVar[str] = "webrl"
    needs: ClassVar[frozenset[str]] = frozenset({"form_tools"})

    def __init__(self, task_space: TaskSpace, seed: int = 0, phase_episodes: int = 512,
                 seed_tasks: int = WEBRL_SEED_TASKS, generation_turns: int = WEBRL_GENERATION_TURNS,
                 children_per_seed: int = 5, n_edits: int = 1, success_low: float = WEBRL_SUCCESS_BAND[0],
                 success_high: float = WEBRL_SUCCESS_BAND[1], critic_window: int = 2048, buffer_size: int = 1000,
                 base_fraction: float = 0.0) -> None:
        super().__init__(task_space, seed)
        require_web_space(task_space, self.name)
        for key, value in (("phase_episodes", phase_episodes), ("seed_tasks", seed_tasks),
                           ("generation_turns", generation_turns), ("children_per_seed", children_per_seed),
                           ("n_edits", n_edits), ("critic_window", critic_window), ("buffer_size", buffer_size)):
            if int(value) < 1:
                raise TeachBenchError(f"teacher.{key}", f"must be >= 1, got {value}")
        if not 0.0 <= float(success_low) <= float(success_high) <= 1.0:
            raise TeachBenchError("teacher.success_low", f"need 0 <= success_low <= success_high <= 1, got "
                                  f"{success_low}, {success_high}")
        if not 0.0 <= float(base_fraction) <= 1.0:
            raise TeachBenchError("teacher.base_fraction", f"must be in [0, 1], got {base_fraction}")
        self.phase_episodes, self.seed_tasks = int(phase_episodes), int(seed_tasks)
        self.generation_turns, self.children_per_seed = int(generation_turns), int(children_per_seed)
        self.n_edits, self.critic_window, self.buffer_size = int(n_edits), int(critic_window), int(buffer_size)
        self.success_low, self.success_high = float(success_low), float(success_high)
        self.base_fraction = float(base_fraction)
        self.form_tools: Any = None  # envs.webform.levels.FormTools, installed by the runner
        self.tasks = self._new_set()  # the phase's task set
        self.phase = 0
        self.phase_done = 0  # episodes finished in this phase
        self.failed: list[str] = []  # levels failed in this phase, first failure order, no repeats
        self._failed_set: set[str] = set()
        self.history: deque[tuple[list[float], bool]] = deque(maxlen=self.critic_window)
        self.n_base = self.n_set = 0
        self.last = {"failed": 0, "generated": 0, "kept": 0, "mean_estimate": float("nan")}

    def _new_set(self) -> LevelBuffer:
        # staleness only (rho = 1): the stalest form of the set is the likeliest next
        return LevelBuffer(self.buffer_size, temperature=1.0, staleness_coef=1.0)

    def _tools(self) -> Any:
        if self.form_tools is None:
            raise TeachBenchError("teacher.form_tools", f"{self.name} edits web forms and needs the env's form tools: "
                                  "students.regret.attach_teacher_needs installs them (env=webform)")
        return self.form_tools

    # -- 1. play the phase's set --------------------------------------------------------
    def _sample(self) -> Task:
        tools = self._tools()
        self.tasks.tick()
        if len(self.tasks) == 0 or self.rng.random() < self.base_fraction:
            self.n_base += 1
            return {"level": tools.generate(self.task_space.sample(self.rng), self.rng)}
        self.n_set += 1
        return dict(self.tasks.tasks[self.tasks.sample(self.rng)])

    # -- 2. collect failures; 3-4 at the phase's end --------------------------------------
    def _update(self, episode: Episode) -> None:
        level = episode.level_id if episode.level_id is not None else episode.task.get("level")
        if level is not None:
            description = self._tools().describe(str(level))
            if not episode.success and level not in self._failed_set:
                self._failed_set.add(str(level))
                self.failed.append(str(level))
        else:
            description = episode.task
        self.history.append((self.task_space.to_unit(description).tolist(), bool(episode.success)))
        self.phase_done += 1
        if self.phase_done >= self.phase_episodes:
            self.evolve()

    def critic(self) -> SuccessCritic:
        """The success critic fitted on the last ``critic_window`` outcomes."""
        x = np.array([u for u, _ in self.history], dtype=np.float64).reshape(len(self.history), -1)
        y = np.array([ok for _, ok in self.history], dtype=np.float64)
        return SuccessCritic().fit(x, y)

    def generate(self) -> list[str]:
        """Step 3: new forms from this phase's failures."""
        tools = self._tools()
        children = []
        for _ in range(self.generation_turns):
            k = min(self.seed_tasks, len(self.failed))
            for i in (self.rng.choice(len(self.failed), size=k, replace=False) if k else []):
                for _ in range(self.children_per_seed):
                    children.append(tools.mutate(self.failed[int(i)], self.rng, self.n_edits))
        return children

    def evolve(self) -> None:
        """End of a phase: generate from failures, filter by the critic, start the next set."""
        tools = self._tools()
        children = self.generate()
        kept: list[tuple[str, float]] = []
        estimates = np.zeros(0)
        if children:
            x = np.array([self.task_space.to_unit(tools.describe(c)) for c in children])
            estimates = self.critic().predict(x)
            keep = intermediate(estimates, self.success_low, self.success_high)
            kept = [(c, float(e)) for c, e, k in zip(children, estimates, keep) if k]
        self.tasks = self._new_set()
        for level, estimate in kept:
            self.tasks.insert(level, {"level": level}, estimate)
        self.last = {"failed": len(self.failed), "generated": len(children), "kept": len(kept),
                     "mean_estimate": float(np.mean(estimates)) if len(estimates) else float("nan")}
        self.phase += 1
        self.phase_done = 0
        self.failed, self._failed_set = [], set()

    # -- checkpoints and diagnostics ----------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {"tasks": self.tasks.state_dict(), "phase": [self.phase, self.phase_done],
                "failed": list(self.failed), "history": [[list(u), bool(ok)] for u, ok in self.history],
                "counts": [self.n_base, self.n_set], "last": dict(self.last)}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.tasks = self._new_set()
        self.tasks.load_state_dict(state["tasks"])
        self.phase, self.phase_done = (int(v) for v in state["phase"])
        self.failed = [str(v) for v in state["failed"]]
        self._failed_set = set(self.failed)
        self.history = deque(((list(map(float, u)), bool(ok)) for u, ok in state["history"]), maxlen=self.critic_window)
        self.n_base, self.n_set = (int(v) for v in state["counts"])
        self.last = {str(k): (float(v) if k == "mean_estimate" else int(v)) for k, v in state["last"].items()}

    def _diagnostics(self) -> dict[str, Any]:
        recent = [ok for _, ok in list(self.history)[-200:]]
        return {"phase": self.phase, "set_size": len(self.tasks), "failed_this_phase": len(self.failed),
                "base_handouts": self.n_base, "set_handouts": self.n_set,
                "last_failed": self.last["failed"], "last_generated": self.last["generated"],
                "last_kept": self.last["kept"], "last_mean_estimate": self.last["mean_estimate"],
                "recent_success": float(np.mean(recent)) if recent else float("nan")}
