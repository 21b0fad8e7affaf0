"""``TeachBench/WebForm-v0``: fill a generated form from a key-value instruction.

The env draws a new form from its TaskSpace point at every reset (the point fixes the
*distribution* of forms; the env's seeded generator draws the form), plays actions in the
pure-Python DOM model (``dom.py``), and observes fixed-size features (``features.py``).

Rewards (docs/references.md#webform-prototype, lessons from a prototype):

- ``success_reward`` when the submitted form holds exactly the instructed values,
  ``failure_reward`` for a submitted wrong form;
- the step limit costs ``timeout_reward``, which defaults to ``failure_reward``: with a
  free timeout and a costly wrong submit, PPO learned never to submit (0% everywhere);
- optional potential-based shaping: ``shaping`` times the change in the fraction of
  fields holding their instructed value (distractor inputs changed count against it),
  the per-field shaping that let PPO learn 2-field forms on the prototype.

The step limit ends an episode with ``terminated=True`` (not ``truncated``) because the
observation shows the steps left and the timeout penalty is part of the task: bootstrapping
past it would hide the cost the lesson above says must be there.

Widgets and flows (``widgets=True``; ``form.py`` lists them, ``dom.py`` says what each does):
the task space gets ``widget_rate``, ``leave_rate`` and ``review_rate``, pages hold up to
100 elements, and the observation and action spaces grow to that size (``Caps``). Reward
semantics of the new flows:

- a leaving link ends the episode at once with ``failure_reward`` (like a wrong submit: the
  form was abandoned), ``info["left"] = True``, ``success`` False, ``submitted`` None;
- in a review flow, Submit (valid) shows the results page and pays nothing; Back pays
  nothing (values are kept, so the shaping potential does not move); Confirm is the
  submission: ``success_reward`` or ``failure_reward`` on the values it submits, which
  are the values the results page shows;
- the step limit is ``steps_per_field * form.min_actions() + 2``: ``min_actions`` counts one
  action per field and per page (``n_fields + n_pages`` for every default form, so the
  default limit is unchanged), two for an autocomplete (type, click a suggestion), and
  two plus the months to move for a date picker; the results page counts as a page.

``info`` holds ``task`` (every step), ``success`` (last step), ``action_mask`` (valid
actions of the current page, for masking algorithms; ``action_masks()`` gives the same to
sb3-contrib's MaskablePPO), ``invalid_action`` ("" or why the action was a no-op),
``validation_failed``, ``submitted`` (the submitted values, last step), ``timeout`` and
``left`` (last step).

Exact forms: ``reset(options={"form": form})`` plays a given :class:`~envs.webform.form.Form`;
``reset(options={"level": "webform:..."})`` plays the form a level string names
(``envs/webform/levels.py``; what teachers hand out through the curriculum bridge). A level
reset reports ``info["task"] = {"level": ...}`` and ``info["level_id"]``, so the teacher and a
checkpoint's pending tasks know the exact form.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.base import TaskEnvMixin
from envs.errors import TeachBenchError
from envs.task_space import Task
from envs.webform.dom import FormState, StepOutcome, n_actions
from envs.webform.features import Encoder, obs_size
from envs.webform.miniwob import MiniWobView, n_miniwob_actions
from envs.webform.miniwob import observation_space as miniwob_observation_space
from envs.webform.tokens import VOCAB, TokenEncoder, token_obs_size
from envs.webform.form import (BASE_CAPS, MAX_DISTRACTORS, MAX_FIELDS, MAX_PAGES, WIDGET_CAPS, Form, check_form,
                               generate_form, make_task_space)


OBS_MODES = ("flat", "tokens", "miniwob")
TYPING = ("replace", "append")


class WebFormEnv(TaskEnvMixin, gym.Env):
    """Form filling from an instruction.

    Args:
        shaping: weight of the potential-based per-field reward; default 0.0 (sparse, as
            the issue asks; the prototype needed ~1.0 to learn 2-field forms, docs/references.md).
        success_reward: reward of a correct submit; default 1.0.
        failure_reward: reward of a wrong submit; default -1.0 (the prototype's penalty).
        timeout_reward: reward when the step limit is hit; default ``None`` = ``failure_reward``
            (docs/references.md: a cheaper timeout teaches PPO never to submit).
        steps_per_field: step limit = ``steps_per_field * (n_fields + n_pages) + 2``;
            default 2.0 (twice the minimal number of actions, plus slack).
        test_set_size / test_seed: size and seed of the fixed test set; defaults 40 / 2024.
        obs_mode: ``"flat"`` (default; the match features of ``features.py``, what the
            committed leaderboard rows were trained on) or ``"tokens"`` (the same followed by
            hashed token ids of every label, key, value and option, ``tokens.py``: the
            observation from which shuffled synonym forms are learnable) or ``"miniwob"``
            (MiniWoB++'s utterance + element list and its "liu18" click / focus-and-type
            actions, ``miniwob.py``; the action space becomes ``Discrete(N_MINIWOB_ACTIONS)``).
        typing: ``"replace"`` (default; Playwright's ``fill``, what the browser replay checks)
            or ``"append"`` (MiniWoB++'s key events: typed text lands after the current
            value, ``dom.FormState``).
        widgets: ``False`` (default: the 8-dimension task space and the spaces of the
            committed leaderboard rows) or ``True``: password, textarea, autocomplete and
            date-picker fields, leaving links and the review flow, on pages of up to 100
            elements (``configs/env/webform_widgets.yaml``).
    """

    metadata = {"render_modes": ["html"], "render_fps": 1}

    def __init__(self, shaping: float = 0.0, success_reward: float = 1.0, failure_reward: float = -1.0,
                 timeout_reward: float | None = None, steps_per_field: float = 2.0, test_set_size: int = 40,
                 test_seed: int = 2024, render_mode: str | None = None, obs_mode: str = "flat",
                 typing: str = "replace", widgets: bool = False) -> None:
        for key, value in (("shaping", shaping), ("steps_per_field", steps_per_field)):
            if not np.isfinite(value) or value < 0:
                raise TeachBenchError(f"env.kwargs.{key}", f"must be a finite number >= 0, got {value!r}")
        if steps_per_field < 1:
            raise TeachBenchError("env.kwargs.steps_per_field", f"must be >= 1, got {steps_per_field!r}")
        if render_mode not in (None, "html"):
            raise TeachBenchError("env.kwargs.render_mode", f"unknown render mode {render_mode!r}", ["html"])
        if obs_mode not in OBS_MODES:
            raise TeachBenchError("env.kwargs.obs_mode", f"unknown observation mode {obs_mode!r}", list(OBS_MODES))
        if typing not in TYPING:
            raise TeachBenchError("env.kwargs.typing", f"unknown typing {typing!r}", list(TYPING))
        if test_set_size < 1:
            raise TeachBenchError("env.kwargs.test_set_size", f"must be >= 1, got {test_set_size!r}")
        if not isinstance(widgets, (bool, np.bool_)):
            raise TeachBenchError("env.kwargs.widgets", f"must be true or false, got {widgets!r}", [True, False])
        self.caps = WIDGET_CAPS if widgets else BASE_CAPS
        self.task_space = make_task_space(self.caps)
        self.shaping = float(shaping)
        self.success_reward = float(success_reward)
        self.failure_reward = float(failure_reward)
        self.timeout_reward = float(failure_reward if timeout_reward is None else timeout_reward)
        self.steps_per_field = float(steps_per_field)
        self.test_set_size = int(test_set_size)
        self.test_seed = int(test_seed)
        self.render_mode = render_mode
        self.obs_mode = obs_mode
        self.typing = typing
        caps = self.caps
        self.action_space = spaces.Discrete(n_miniwob_actions(caps) if obs_mode == "miniwob" else n_actions(caps))
        if obs_mode == "miniwob":
            self.observation_space = miniwob_observation_space(caps)
        elif obs_mode == "tokens":
            high = np.ones(token_obs_size(caps), dtype=np.float32)
            high[obs_size(caps):] = VOCAB - 1
            self.observation_space = spaces.Box(np.zeros_like(high), high, dtype=np.float32)
        else:
            self.observation_space = spaces.Box(0.0, 1.0, shape=(obs_size(caps),), dtype=np.float32)
        self._task: Task | None = None
        self._level: str | None = None  # the level string of a level reset (envs/webform/levels.py)
        self.form: Form | None = None
        self.state: FormState | None = None
        self._encoder: Encoder | TokenEncoder | None = None
        self.view: MiniWobView | None = None
        self._masks: list[np.ndarray] = []
        self._steps = 0
        self._max_steps = 1
        self._potential = 0.0

    # -- gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._level = None
        if options and options.get("level") is not None:  # an exact form by name (envs/webform/levels.py)
            from envs.webform.levels import form_from_level

            self._level = str(options["level"])
            options = {**options, "form": form_from_level(self._level)}
        if options and options.get("form") is not None:
            form = options["form"]
            if not isinstance(form, Form):
                raise TeachBenchError("options.form", f"expected a Form, got {type(form).__name__}")
            self._task = self.task_space.validate(form.task)
        else:
            self._task = self.resolve_task(options, self._task)
            form = generate_form(self._task, self.np_random, self.task_space)
        if self.caps is not BASE_CAPS:
            check_form(form, self.caps)
        elif options and options.get("form") is not None:
            kinds = {e.kind for page in form.pages for e in page}
            if not kinds <= set(self.caps.kinds):
                raise TeachBenchError("options.form", f"kinds {sorted(kinds - set(self.caps.kinds))} need "
                                      "WebFormEnv(widgets=True)", list(self.caps.kinds))
        self.form = form
        self.state = FormState(form, append=self.typing == "append", caps=self.caps)
        caps = self.caps
        self._encoder = TokenEncoder(self.state, caps) if self.obs_mode == "tokens" else Encoder(self.state, caps)
        self._masks = []
        for p in range(len(form.pages)):
            self.state.page = p
            self._masks.append(self.state.valid_mask())
        self.state.page = 0
        self.view = MiniWobView(self.state, caps) if self.obs_mode == "miniwob" else None
        self._steps = 0
        self._max_steps = int(self.steps_per_field * form.min_actions()) + 2
        self._potential = self.state.potential()
        obs = self._observe(1.0, False, False)
        return obs, {"task": self._reported_task(), "action_mask": self.action_masks(), **self._level_info()}

    def step(self, action: Any):
        if self.state is None or self._encoder is None:
            raise TeachBenchError("env", "call reset() before step()")
        state = self.state
        if state.submitted is not None or state.left:
            raise TeachBenchError("env", "the episode is over: call reset()")
        page_before = state.page
        action = int(np.asarray(action).reshape(())) if not isinstance(action, (int, np.integer)) else int(action)
        if self.view is not None:  # a "liu18" action: what it amounts to in the simulator
            inner, invalid = self.view.translate(action)
            out = state.step(inner) if inner is not None else StepOutcome(invalid=invalid)
            if out.page_changed:
                self.view.page_changed()
            if out.overlay_changed:
                self.view.overlay_changed()
        else:
            out = state.step(action)
        self._steps += 1
        if out.changed >= 0:
            self._encoder.refresh_element(page_before, out.changed)
        if out.validation_failed or out.page_changed or out.submitted:
            self._encoder.refresh_errors(page_before)
        if out.overlay_changed:
            self._encoder.refresh_overlay(page_before)
        if out.page_changed and state.form.review and state.page == len(state.form.pages) - 1:
            self._encoder.refresh_page(state.page)  # the results page shows the values submitted
        reward = 0.0
        if self.shaping:
            potential = state.potential()
            reward += self.shaping * (potential - self._potential)
            self._potential = potential
        terminated = False
        info: dict[str, Any] = {"task": self._reported_task(), "invalid_action": out.invalid,
                                "validation_failed": out.validation_failed, **self._level_info()}
        if out.submitted:
            terminated = True
            success = state.success()
            reward += self.success_reward if success else self.failure_reward
            info.update(success=success, submitted=dict(state.submitted), timeout=False, left=False)
        elif out.left:
            terminated = True
            reward += self.failure_reward
            info.update(success=False, submitted=None, timeout=False, left=True)
        elif self._steps >= self._max_steps:
            terminated = True
            reward += self.timeout_reward
            info.update(success=False, submitted=None, timeout=True, left=False)
        info["action_mask"] = self.action_masks()
        steps_left = 1.0 - self._steps / self._max_steps
        obs = self._observe(steps_left, bool(out.invalid), out.validation_failed)
        return obs, float(reward), terminated, False, info

    def _reported_task(self) -> dict[str, Any]:
        """``info["task"]``: the TaskSpace point, or ``{"level": ...}`` for a level reset, so
        that a checkpoint's pending task replays the exact form (as the walker's levels do)."""
        return {"level": self._level} if self._level is not None else dict(self._task)

    def _level_info(self) -> dict[str, str]:
        return {"level_id": self._level} if self._level is not None else {}

    def _observe(self, steps_left: float, last_invalid: bool, last_failed: bool):
        if self.view is not None:
            return self.view.observation()
        return self._encoder.observation(steps_left, last_invalid, last_failed)

    def action_masks(self) -> np.ndarray:
        """Valid actions of the current page (sb3-contrib MaskablePPO's hook)."""
        if self.state is None:
            return np.ones(self.action_space.n, dtype=bool)
        if self.view is not None:
            return self.view.action_mask().copy()
        state = self.state
        if state.overlay and not (state.submitted is not None or state.left):
            return state.valid_mask()  # an open suggestion list / calendar adds clickable items
        return self._masks[self.state.page].copy()

    def render(self) -> str | None:
        if self.render_mode != "html" or self.form is None:
            return None
        from envs.webform.html import render_html

        return render_html(self.form)

    # -- TeachBench contract ----------------------------------------------------------------
    @property
    def max_steps(self) -> int:
        return self._max_steps

    def test_tasks(self) -> list[Task]:
        """A fixed seeded test set: the single-field corners, a field-count sweep, and
        uniform draws (same list for every instance with the same ``test_seed``)."""
        rng = np.random.default_rng(self.test_seed)
        base = self.task_space.from_array(self.task_space.low)
        tasks: list[Task] = []
        for n in (1, 2, 3, 5, MAX_FIELDS):
            for d in (0, self.caps.max_distractors // 2 if self.caps.widgets else MAX_DISTRACTORS // 2):
                tasks.append({**base, "n_fields": n, "n_distractors": d})
        if self.caps.widgets:  # each flow on its own, then all of them
            for extra in ({"widget_rate": 1.0}, {"leave_rate": 1.0, "n_distractors": 6}, {"review_rate": 1.0},
                          {"widget_rate": 1.0, "leave_rate": 1.0, "review_rate": 1.0, "n_distractors": 6}):
                tasks.append({**base, "n_fields": 3, **extra})
        while len(tasks) < self.test_set_size:
            tasks.append(self.task_space.sample(rng))
        return [self.task_space.validate(t) for t in tasks[: self.test_set_size]]

    def is_mastered(self, episode_return: float, success: bool) -> bool:
        return bool(success)

    def held_out(self) -> dict[str, Task]:
        """Zero-shot forms at corners that uniform sampling rarely produces together."""
        top = self.task_space.from_array(self.task_space.high)
        half = {**top, "prefilled": 0.0, "n_distractors": MAX_DISTRACTORS}
        if self.caps.widgets:
            half.update(widget_rate=0.0, leave_rate=0.0, review_rate=0.0)
        held = {
            "long_multipage": {**half, "n_distractors": 0, "order_shuffle": 0.0, "synonym_rate": 0.0, "validation_rate": 0.0},
            "many_distractors_short": {**half, "n_fields": 2, "n_pages": 1, "n_distractors": MAX_DISTRACTORS,
                                       "order_shuffle": 0.0, "synonym_rate": 0.0, "validation_rate": 0.0},
            "everything_hard": half,
            "all_synonyms_shuffled": {**half, "n_fields": 4, "n_pages": 1, "n_distractors": 2, "kind_mix": 0.0},
            "strict_validation": {**half, "n_fields": 4, "n_pages": MAX_PAGES, "n_distractors": 2,
                                  "kind_mix": 1.0, "synonym_rate": 0.0, "order_shuffle": 0.0},
        }
        if self.caps.widgets:
            held["all_widgets_reviewed"] = {**half, "widget_rate": 1.0, "leave_rate": 1.0, "review_rate": 1.0,
                                            "n_fields": 6, "n_distractors": 20}
            held["hundred_elements"] = {**half, "n_pages": 1, "n_distractors": self.caps.max_distractors,
                                        "widget_rate": 0.5, "leave_rate": 0.5}
        return held
