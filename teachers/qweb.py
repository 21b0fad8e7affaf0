"""QWeb's two guided-RL teachers for form filling (Gur et al. 2019, docs/references.md#qweb).

QWeb trains a DQN to follow key-value instructions on web pages whose instructions are too
long for random exploration ever to reach the goal. It guides learning in two ways, and
each is a teacher here.

1. **Curriculum over sub-instructions, by warm-starting episodes** (:class:`QWebCurriculum`).
   Before the agent acts, each element of the page is visited independently with
   probability ``p`` and set right by an oracle, so the agent starts close to the goal and
   only has to complete the rest of the (unchanged) instruction. ``p`` starts high ("most
   fields already correct") and is decayed towards zero during training.

   On our forms the oracle's work is the TaskSpace's ``prefilled`` dimension (the env
   already has it; this teacher adds no dimension): a form with ``n`` fields starts with
   ``floor(prefilled * n)`` randomly chosen fields holding their instructed value. The
   teacher draws the number of warm-started fields as QWeb's independent visits give it,
   ``k ~ Binomial(n, p)``, and hands out ``prefilled = k / n``; the env picks which ``k``
   fields, uniformly, so each field is set with probability ``p`` independently, exactly
   as in the paper. The rest of the task (fields, distractors, pages, phrasing) is drawn
   uniformly: QWeb keeps the original goal distribution.

2. **Meta-training with generated instructions** (:class:`QWebInstructor`). Without
   demonstrations, QWeb's meta-trainer makes its own tasks: a rule-based random policy
   acts on the page until it reaches some state, that state becomes the goal, and an
   instructor network (INET) writes the instruction for it. The navigator then trains on
   these instruction-goal pairs, which are reachable by construction and short.

   Ours: for each hand-out the teacher draws a task uniformly, the env's form tools build
   the form, change each value-holding element with probability ``visit_prob`` to a random
   value of its kind (the random policy), and write the instruction from that goal state
   (``envs/webform/levels.py:instruct_form``). Where we differ: QWeb's INET is a learned
   network that has to discover which DOM attribute names a field; our forms carry each
   field's label and its concept's synonyms, so the instruction is written by rule and
   there is nothing for an instructor to learn. QWeb also rewards the navigator densely
   by its distance to the goal state; our env's potential-based shaping (the share of
   fields right, configs/env/webform.yaml) plays that role for every teacher. The
   instructor does not learn from the navigator's outcomes (neither does QWeb's); it
   only logs them.

QWeb's second curriculum (simulated sub-goals: training on a random subset of the
instruction) is not implemented: on our forms it would be the instructor's forms restricted
to a generated form's own fields.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher


WEB_DIMS = ("n_fields", "prefilled")  # dimensions every web-form TaskSpace has (envs/webform/form.py)


def require_web_space(task_space: TaskSpace, name: str) -> None:
    """Teachers that write whole web forms refuse any other env's TaskSpace at once (their
    forms would reach an env that cannot play them)."""
    missing = [d for d in WEB_DIMS if d not in task_space.names]
    if missing:
        raise TeachBenchError("teacher.name", f"{name} writes web forms: it needs the web-form env's TaskSpace "
                              f"(env=webform); this one lacks {missing}", task_space.names)


def warm_start_probability(step: int, p_start: float, p_end: float, decay_steps: int) -> float:
    """QWeb's ``p`` after ``step`` env steps: linear from ``p_start`` to ``p_end`` over
    ``decay_steps``, then constant (the linear shape is ours, see :class:`QWebCurriculum`)."""
    if decay_steps <= 0:
        return float(p_end)
    frac = min(1.0, max(0.0, step / decay_steps))
    return float(p_start + (p_end - p_start) * frac)


class QWebCurriculum(Teacher):
    """Warm-start curriculum: each field starts correct with a probability that decays.

    Args:
        task_space: the web-form TaskSpace (needs the ``prefilled`` dimension).
        seed: the teacher's RNG seed.
        p_start: probability that a field starts correct, at step 0. Default 0.9 (ours:
            "most fields already correct"; the paper gives no number we could check).
        p_end: its final value. Default 0.0 (the paper decays it towards none).
        decay_steps: env steps over which ``p`` goes linearly from ``p_start`` to
            ``p_end``. Default 100,000 (ours: the baseline budget of this repo).
        dim: the TaskSpace dimension holding the share of fields already correct.
            Default ``"prefilled"``.
        fields_dim: the dimension holding the number of fields (for the binomial draw).
            Default ``"n_fields"``; without it the share is ``p`` itself.
    """

    name: ClassVar[str] = "qweb_curriculum"

    def __init__(self, task_space: TaskSpace, seed: int = 0, p_start: float = 0.9, p_end: float = 0.0,
                 decay_steps: int = 100_000, dim: str = "prefilled", fields_dim: str | None = "n_fields") -> None:
        super().__init__(task_space, seed)
        if dim not in task_space.names:
            raise TeachBenchError("teacher.dim", f"the TaskSpace has no dimension {dim!r} (QWeb's warm start needs "
                                  "the share of fields already correct)", task_space.names)
        for key, value in (("p_start", p_start), ("p_end", p_end)):
            if not 0.0 <= float(value) <= 1.0:
                raise TeachBenchError(f"teacher.{key}", f"must be in [0, 1], got {value}")
        if int(decay_steps) < 0:
            raise TeachBenchError("teacher.decay_steps", f"must be >= 0, got {decay_steps}")
        self.p_start, self.p_end, self.decay_steps = float(p_start), float(p_end), int(decay_steps)
        self.dim = dim
        self.fields_dim = fields_dim if fields_dim in task_space.names else None
        self.steps_seen = 0  # env steps of the latest finished episode (the schedule's clock)
        self.recent: list[tuple[float, bool]] = []  # (share handed out, success) of recent episodes

    def p(self) -> float:
        """The warm-start probability now."""
        return warm_start_probability(self.steps_seen, self.p_start, self.p_end, self.decay_steps)

    def _sample(self) -> Task:
        task = self.task_space.sample(self.rng)
        p = self.p()
        if self.fields_dim is None:
            task[self.dim] = p
        else:
            n = max(1, int(task[self.fields_dim]))
            task[self.dim] = int(self.rng.binomial(n, p)) / n  # each field visited with probability p
        return task

    def _update(self, episode: Episode) -> None:
        self.steps_seen = max(self.steps_seen, int(episode.global_step))
        if "level" not in episode.task:
            self.recent = (self.recent + [(float(episode.task[self.dim]), bool(episode.success))])[-200:]

    def _state(self) -> dict[str, Any]:
        return {"steps_seen": self.steps_seen, "recent": [[s, bool(ok)] for s, ok in self.recent]}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.steps_seen = int(state["steps_seen"])
        self.recent = [(float(s), bool(ok)) for s, ok in state["recent"]]

    def _diagnostics(self) -> dict[str, Any]:
        shares = [s for s, _ in self.recent]
        return {"warm_start_p": self.p(), "steps_seen": self.steps_seen,
                "mean_prefilled": float(np.mean(shares)) if shares else float("nan"),
                "recent_success": float(np.mean([ok for _, ok in self.recent])) if self.recent else float("nan")}


class QWebInstructor(Teacher):
    """Meta-trainer analog: forms whose instruction is written for a random goal state.

    Args:
        task_space: the web-form TaskSpace (the forms' layouts are drawn uniformly from it).
        seed: the teacher's RNG seed.
        visit_prob: probability that the random policy changes a value-holding element.
            Default 0.5 (ours; QWeb's rule-based policy is random, its rate unpublished).
        generated_fraction: share of hand-outs that are generated instruction-goal pairs;
            the rest are ordinary forms of a uniform task. Default 1.0 (QWeb's
            meta-training trains on generated pairs).

    The env's form tools (``needs = {"form_tools"}``) are installed by the runner
    (``students.regret.attach_teacher_needs``).
    """

    name: ClassVar[str] = "qweb_instructor"
    needs: ClassVar[frozenset[str]] = frozenset({"form_tools"})

    def __init__(self, task_space: TaskSpace, seed: int = 0, visit_prob: float = 0.5,
                 generated_fraction: float = 1.0) -> None:
        super().__init__(task_space, seed)
        require_web_space(task_space, self.name)
        if not 0.0 <= float(visit_prob) <= 1.0:
            raise TeachBenchError("teacher.visit_prob", f"must be in [0, 1], got {visit_prob}")
        if not 0.0 <= float(generated_fraction) <= 1.0:
            raise TeachBenchError("teacher.generated_fraction", f"must be in [0, 1], got {generated_fraction}")
        self.visit_prob = float(visit_prob)
        self.generated_fraction = float(generated_fraction)
        self.form_tools: Any = None  # envs.webform.levels.FormTools, installed by the runner
        self.n_generated = 0
        self.recent: list[tuple[int, bool]] = []  # (instructed fields, success) of generated pairs

    def _tools(self) -> Any:
        if self.form_tools is None:
            raise TeachBenchError("teacher.form_tools", f"{self.name} writes web forms and needs the env's form tools: "
                                  "students.regret.attach_teacher_needs installs them (env=webform)")
        return self.form_tools

    def _sample(self) -> Task:
        tools = self._tools()
        task = self.task_space.sample(self.rng)
        if self.rng.random() >= self.generated_fraction:
            return task
        self.n_generated += 1
        return {"level": tools.instruct(task, self.rng, self.visit_prob)}

    def _update(self, episode: Episode) -> None:
        if "level" in episode.task:
            n = int(self._tools().describe(str(episode.task["level"]))["n_fields"])
            self.recent = (self.recent + [(n, bool(episode.success))])[-200:]

    def _state(self) -> dict[str, Any]:
        return {"n_generated": self.n_generated, "recent": [[n, bool(ok)] for n, ok in self.recent]}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        self.n_generated = int(state["n_generated"])
        self.recent = [(int(n), bool(ok)) for n, ok in state["recent"]]

    def _diagnostics(self) -> dict[str, Any]:
        return {"generated": self.n_generated,
                "mean_instructed_fields": float(np.mean([n for n, _ in self.recent])) if self.recent else float("nan"),
                "recent_success": float(np.mean([ok for _, ok in self.recent])) if self.recent else float("nan")}
