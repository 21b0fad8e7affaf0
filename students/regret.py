"""Per-episode regret estimates from SB3's PPO rollout buffer, and the one hook that gives
regret-based teachers what they ask for.

Estimates (docs/references.md#regret-estimates), over an episode of ``T`` steps with GAE advantages ``Â_t``
and values ``V(s_t)`` as stored in the rollout buffer:

- PVL   = (1/T) Σ_t max(Â_t, 0)                  (positive value loss)
- MaxMC = (1/T) Σ_t (R_max(level) − V(s_t))      (R_max: best undiscounted return ever
  seen on that level, this episode included; may be negative)

They are computed at rollout end, after SB3 has run GAE (``on_rollout_end`` follows
``compute_returns_and_advantage``). An episode that started in an earlier rollout carries
its partial sums over (its earlier steps' advantages were final when that rollout ended:
GAE bootstraps from the value of the rollout's last state), so every step of every
episode is counted exactly once and ``T`` equals the episode length.

:func:`attach_teacher_needs` is the runner's single hook: from ``teacher.needs`` it defers
teacher updates to rollout end and fills ``Episode.regret`` (``"regret"``), masks the PPO
update to replayed levels (``"robust"``, :mod:`students.robust`), installs the env's level
edit operators (``"level_editor"``), the web-form teachers the form tools (``"form_tools"``),
builds and trains the antagonist (``"antagonist"``),
builds PAIRED's recurrent PPO adversary (``"adversary"``, :mod:`students.paired_adversary`)
and gives level generators the maze designer's placement rules (``"level_designer"``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from envs.errors import TeachBenchError
from teachers.base import Episode, Teacher
from teachers.plr import level_key

SCORE_FUNCTIONS = ("pvl", "maxmc")


def positive_value_loss(advantages: np.ndarray) -> float:
    """PVL of one whole episode from its GAE advantages."""
    adv = np.asarray(advantages, dtype=np.float64).reshape(-1)
    return float(np.clip(adv, 0.0, None).mean()) if adv.size else float("nan")


def max_mc(max_return: float, values: np.ndarray) -> float:
    """MaxMC of one whole episode from its value predictions and the level's best return."""
    val = np.asarray(values, dtype=np.float64).reshape(-1)
    return float(max_return - val.mean()) if val.size else float("nan")


class RegretTracker:
    """Per-episode PVL and MaxMC from consecutive PPO rollouts of ``n_envs`` sub-envs.

    Call :meth:`episode_finished` when an episode ends at rollout position ``pos`` (the
    index its last transition gets in the buffer) and :meth:`rollout_end` with the
    buffer's ``advantages`` and ``values`` (shape ``(n_steps, n_envs)``) after GAE.

    Args:
        n_envs: sub-envs of the VecEnv.
        max_levels: best returns remembered for MaxMC (least recently seen forgotten first;
            default 100_000).
    """

    def __init__(self, n_envs: int, max_levels: int = 100_000) -> None:
        self.n_envs = int(n_envs)
        self.max_levels = int(max_levels)
        self.seg_start = np.zeros(self.n_envs, dtype=np.int64)
        self.carry_pos_adv = np.zeros(self.n_envs)
        self.carry_abs_adv = np.zeros(self.n_envs)
        self.carry_values = np.zeros(self.n_envs)
        self.carry_steps = np.zeros(self.n_envs, dtype=np.int64)
        self.finished: list[tuple[Episode, int, int, int]] = []
        self.best_return: OrderedDict[str, float] = OrderedDict()

    def episode_finished(self, episode: Episode, env_index: int, pos: int) -> None:
        self.finished.append((episode, int(env_index), int(self.seg_start[env_index]), int(pos)))
        self.seg_start[env_index] = pos + 1

    def rollout_end(self, advantages: np.ndarray, values: np.ndarray) -> list[Episode]:
        """Fill ``extra["pvl"]``, ``extra["maxmc"]`` of the episodes finished in this rollout
        and carry the partial sums of the episodes still running.

        The sums are taken per episode segment, as before issue 18, but in one batched
        reduction per segment length instead of three NumPy calls per finished episode and
        per running sub-env (at 1024 envs and 64 steps, ~4,000 calls per rollout): each
        sub-env's steps are copied to one contiguous row, and a segment's sum is a row
        reduction over its own steps, the same pairwise summation NumPy does for the slice,
        so every score is bit for bit what the per-episode loop gave
        (``tests/test_regret.py`` compares them). What is left per episode is the MaxMC
        bookkeeping of the best return per level, in order."""
        adv = np.asarray(advantages, dtype=np.float64).reshape(-1, self.n_envs)
        val = np.asarray(values, dtype=np.float64).reshape(-1, self.n_envs)
        n_steps = adv.shape[0]
        # (3, n_envs, n_steps), env-major: max(Â, 0), |Â| and V of each sub-env's steps in a row
        parts = np.stack([np.clip(adv, 0.0, None).T, np.abs(adv).T, val.T])
        done = []
        if self.finished:
            env = np.fromiter((f[1] for f in self.finished), dtype=np.int64, count=len(self.finished))
            start = np.fromiter((f[2] for f in self.finished), dtype=np.int64, count=len(self.finished))
            stop = np.fromiter((f[3] + 1 for f in self.finished), dtype=np.int64, count=len(self.finished))
            sums = _segment_sums(parts, env, start, stop)
            # an env's first episode of the rollout takes its carried sums; the carry is then
            # spent, so later episodes of that env add 0.0 (as the per-episode loop did)
            first = start == 0
            carry = np.zeros((4, env.size))
            carry[0, first] = self.carry_pos_adv[env[first]]
            carry[1, first] = self.carry_abs_adv[env[first]]
            carry[2, first] = self.carry_values[env[first]]
            carry[3, first] = self.carry_steps[env[first]]
            steps = carry[3].astype(np.int64) + (stop - start)
            pos_sum, abs_sum, value_sum = carry[0] + sums[0], carry[1] + sums[1], carry[2] + sums[2]
            self.carry_pos_adv[env] = self.carry_abs_adv[env] = self.carry_values[env] = 0.0
            self.carry_steps[env] = 0
            pvl, mean_abs, mean_value = pos_sum / steps, abs_sum / steps, value_sum / steps
            for k, (episode, _i, _start, _end) in enumerate(self.finished):
                key = level_key(episode)
                best = max(self.best_return.pop(key, -np.inf), float(episode.episode_return))
                self.best_return[key] = best
                if len(self.best_return) > self.max_levels:
                    self.best_return.popitem(last=False)
                episode.extra["pvl"] = float(pvl[k])
                episode.extra["maxmc"] = float(best - mean_value[k])
                episode.extra["regret_steps"] = int(steps[k])
                episode.extra["mean_abs_gae"] = float(mean_abs[k])  # dcd's value loss |G - V| (ACCEL "easy")
                done.append(episode)
        running = np.flatnonzero(self.seg_start < n_steps)
        if running.size:
            sums = _segment_sums(parts, running, self.seg_start[running], np.full(running.size, n_steps))
            self.carry_pos_adv[running] += sums[0]
            self.carry_abs_adv[running] += sums[1]
            self.carry_values[running] += sums[2]
            self.carry_steps[running] += n_steps - self.seg_start[running]
        self.seg_start[:] = 0
        self.finished = []
        return done


def _segment_sums(parts: np.ndarray, env: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """``parts[:, env[k], start[k]:stop[k]].sum(-1)`` for every k, shape ``(len(parts), k)``:
    the segments of one length are gathered into a C-contiguous ``(parts, m, length)`` block
    and reduced along its rows (NumPy's pairwise sum of each row, as for a slice)."""
    n_parts, _, n_steps = parts.shape
    flat = parts.reshape(n_parts, -1)
    first = env * n_steps + start
    out = np.empty((n_parts, env.size))
    lengths = stop - start
    for length in np.unique(lengths):
        sel = np.flatnonzero(lengths == length)
        out[:, sel] = flat[:, first[sel, None] + np.arange(length)].sum(axis=-1)
    return out


#: dcd's edits per ACCEL child when the teacher leaves ``n_edits`` unset: 5 maze cells
#: (its maze configs), 3 walker parameters (its bipedal config).
DCD_MAZE_EDITS, DCD_WALKER_EDITS = 5, 3


def gridworld_level_editor(level: str, rng: np.random.Generator, n_edits: int | None = None,
                           operator: str = "dcd") -> str:
    """ACCEL's edit for gridworld level strings: dcd's maze editor (``"dcd"``: random
    cells set to wall / empty / goal) or our add/remove/move edits (``"teachbench"``)."""
    from envs.gridworld.level import EDIT_OPERATORS, LEVELS, as_level, dcd_edit, mutate

    if operator not in EDIT_OPERATORS:
        raise TeachBenchError("edit_operator", f"unknown edit operator {operator!r}", EDIT_OPERATORS)
    edit = dcd_edit if operator == "dcd" else mutate
    n = DCD_MAZE_EDITS if n_edits is None else n_edits
    # the parent was just replayed (parsed already); the child is handed out as its string
    # next, so the env's level cache keeps the child this edit made (envs/gridworld/level.py)
    return LEVELS.remember(edit(as_level(level), rng, n_edits=n))


def level_editor(level: str, rng: np.random.Generator, n_edits: int | None = None, operator: str = "dcd") -> str:
    """ACCEL's edit for any level string, by its env: walker levels (``walker:...``) get
    dcd's walker edit operator (``operator`` does not apply: dcd has one for the walker),
    the others the gridworld's edits chosen by ``operator``. A maze level never imports the
    walker package (it needs Box2D, which a maze-only install, such as the GPU machine's, lacks)."""
    from envs.gridworld.level import STRING_PREFIX

    if level.startswith(STRING_PREFIX + ":"):
        return gridworld_level_editor(level, rng, n_edits, operator)
    from envs.walker.levels import PREFIX, edit_level

    if level.startswith(PREFIX):
        return edit_level(level, rng, DCD_WALKER_EDITS if n_edits is None else n_edits)
    return gridworld_level_editor(level, rng, n_edits, operator)


def gridworld_level_designer(size: int, placements: Sequence[int],
                             goal_last: bool = False) -> tuple[str, dict[str, Any]]:
    """A level string and its statistics from maze-designer placements (interior cell
    indices: goal, start, then walls; with ``goal_last`` walls, then goal and start, as
    CLUTR decodes them; :func:`envs.gridworld.designer.design_level`)."""
    from envs.gridworld.designer import design_level

    level = design_level(int(size), [int(p) for p in placements], goal_last=bool(goal_last))
    return level.to_string(), level.stats()


@dataclass
class Attachment:
    """What :func:`attach_teacher_needs` installed (tests and diagnostics read it)."""

    needs: frozenset[str]
    tracker: RegretTracker | None = None
    mask: Any = None
    antagonist: Any = None
    adversary: Any = None
    stats: dict[str, int] = field(default_factory=dict)


def attach_teacher_needs(teacher: Teacher, model: Any, curriculum: Any, callback: Any) -> Attachment:
    """Give ``teacher`` what its ``needs`` ask for; a no-op for teachers that need nothing.

    Call once, after the model, the :class:`~students.bridge.Curriculum` and the
    :class:`~students.bridge.CurriculumCallback` are built and before ``model.learn``.
    """
    needs = frozenset(getattr(teacher, "needs", frozenset()))
    known = {"regret", "robust", "level_editor", "antagonist", "value", "adversary", "level_designer",
             "form_tools"}  # "value": students.values
    unknown = needs - known
    if unknown:
        raise TeachBenchError("teacher.needs", f"the runner cannot provide {sorted(unknown)}", sorted(known))
    att = Attachment(needs=needs)
    stats = getattr(teacher, "training_stats", None)
    att.stats = stats if isinstance(stats, dict) else {}
    if not needs:
        return att
    if ("regret" in needs or "robust" in needs) and getattr(model, "rollout_buffer", None) is None:
        raise TeachBenchError("student.algo", f"teacher {teacher.name!r} needs regret estimates from an on-policy "
                              "rollout buffer (PPO or A2C)", ["ppo", "a2c"])
    _check_units(teacher, model)
    if "regret" in needs:
        att.tracker = _attach_regret(teacher, model, curriculum, callback)
    if "robust" in needs:
        from students.robust import ReplayMask, install_robust_update

        att.mask = ReplayMask(teacher, model.n_steps, model.n_envs, curriculum)
        callback.at_rollout_start.append(att.mask.reset)
        callback.periodic.append(lambda _step: att.mask.on_step(model.rollout_buffer.pos, callback.locals["dones"],
                                                                callback.locals["infos"]))
        install_robust_update(model, att.mask, att.stats)
    if "level_editor" in needs:
        teacher.level_editor = level_editor  # type: ignore[attr-defined]
    if "level_designer" in needs:
        teacher.level_designer = gridworld_level_designer  # type: ignore[attr-defined]
    if "form_tools" in needs:  # the web-form teachers' exact forms (envs/webform/levels.py)
        from envs.webform.levels import FormTools

        teacher.form_tools = FormTools()  # type: ignore[attr-defined]
    if "adversary" in needs:
        from students.paired_adversary import PairedAdversary

        config = dict(teacher.adversary_config)  # type: ignore[attr-defined]
        if config.get("device") is None:
            config["device"] = model.device
        att.adversary = PairedAdversary(**config)
        teacher.attach_adversary(att.adversary)  # type: ignore[attr-defined]
    if "antagonist" in needs:
        from students.robust import Antagonist

        att.antagonist = Antagonist(model, teacher.antagonist_view())  # type: ignore[attr-defined]
        callback.at_rollout_end.append(lambda _cb: att.antagonist.play_rollout())
    return att


def _check_units(teacher: Teacher, model: Any) -> None:
    """MaxMC subtracts the value from the best *raw* return: with reward normalisation the
    value is trained on normalised rewards, so the difference mixes units. Refused."""
    if getattr(teacher, "score_function", None) != "maxmc":
        return
    from stable_baselines3.common.vec_env import VecNormalize

    env = model.get_env() if hasattr(model, "get_env") else None
    while env is not None:
        if isinstance(env, VecNormalize) and env.norm_reward:
            raise TeachBenchError("env.normalize", "MaxMC (teacher score: maxmc) compares the best raw return with a "
                                  "value trained on normalised rewards: use score: pvl, or normalize: false")
        env = getattr(env, "venv", None)


def _attach_regret(teacher: Teacher, model: Any, curriculum: Any, callback: Any) -> RegretTracker:
    score = getattr(teacher, "score_function", "pvl")
    if score not in SCORE_FUNCTIONS:
        raise TeachBenchError("teacher.score", f"unknown score {score!r}", SCORE_FUNCTIONS)
    tracker = RegretTracker(model.n_envs)
    curriculum.defer_updates = True

    def on_episode(episode: Episode, env_index: int, _info: dict[str, Any]) -> None:
        tracker.episode_finished(episode, env_index, model.rollout_buffer.pos)

    stats = getattr(teacher, "training_stats", None)

    def on_rollout_end(_cb: Any) -> None:
        buf = model.rollout_buffer
        episodes = tracker.rollout_end(buf.advantages, buf.values)
        for ep in episodes:
            ep.regret = ep.extra[score]
            if isinstance(stats, dict) and "gradient_updates" in stats:
                # the student's updates before this rollout's own (dcd's student_grad_updates basis)
                ep.extra["gradient_updates"] = int(stats["gradient_updates"])
        _deliver(curriculum, teacher, episodes)

    curriculum.episode_hooks.append(on_episode)
    callback.at_rollout_end.insert(0, on_rollout_end)  # before the antagonist or other hooks
    return tracker


def _deliver(curriculum: Any, teacher: Teacher, episodes: Sequence[Episode]) -> None:
    curriculum.deliver(sorted(episodes, key=lambda e: e.episode_id))
    end = getattr(teacher, "on_rollout_end", None)
    if callable(end):
        end()


def replay_budget_warning(teacher: Teacher, budget_steps: int, episode_steps: int | None) -> str | None:
    """A warning when a level-replay teacher would likely never replay within the budget:
    it needs ``min_fill · buffer_size`` new levels first, and early in training most
    episodes last the env's full ``episode_steps``. None when fine or not a replay teacher."""
    buffer = getattr(teacher, "buffer", None)
    min_fill = getattr(teacher, "min_fill", None)
    if buffer is None or min_fill is None or not episode_steps:
        return None
    needed = int(np.ceil(float(min_fill) * int(buffer.capacity)))
    episodes = int(budget_steps) // int(episode_steps)
    if needed <= episodes:
        return None
    return (f"teacher {teacher.name!r} replays only after {needed} new levels (min_fill {min_fill} x buffer_size "
            f"{buffer.capacity}), but a {budget_steps}-step budget holds about {episodes} episodes of "
            f"{episode_steps} steps: it may never replay. Scale ued.buffer_size to the budget "
            f"(e.g. buffer_size <= {max(1, int(episodes / max(float(min_fill), 1e-9) / 4))}).")
