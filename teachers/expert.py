"""Expert knowledge (EK): what a teacher is told about an env beyond its TaskSpace.

TeachMyAgent grades teachers by how much EK they need (docs/references.md#expert-knowledge):

- **no** EK: only the box (Random, ALP-GMM, Covar-GMM, RIAC);
- **low** EK: reward thresholds and a success definition (ADR's thresholds, GoalGAN's and
  Setter-Solver's "success");
- **high** EK: also an easy-task Gaussian (ADR's start point, SPDL's initial distribution,
  GoalGAN's pretraining samples) and a target distribution (SPDL).

A released implementation silently dropped SPDL's EK because a config key was misnamed,
so SPDL ran with defaults and nobody noticed. Here EK is one validated record: every key
is checked against the list below, every task dimension against the TaskSpace, and a
teacher that needs a piece of EK asks for it by name through :meth:`ExpertKnowledge.need`,
which raises :class:`~envs.errors.TeachBenchError` naming the missing key.

The config form (``configs/env/<env>.yaml`` under ``expert:``; teacher configs interpolate
it), in the env's own units::

    expert:
      success: 230.0                  # return > 230 is a success; or "env" for info["success"]
      reward_thresholds: [0.0, 180.0] # ADR: mean return <= low contracts, >= high expands
      initial:                        # easy-task Gaussian (its mean is ADR's start point)
        mean: {stump_height: 0.0, spacing: 6.0}
        std: {stump_height: 0.3, spacing: 0.6}
      target:                         # the distribution we want the student to master
        mean: {stump_height: 1.5, spacing: 3.0}
        std: {stump_height: 1.5, spacing: 3.0}

Means and stds are stored in the normalised unit cube that teachers work in
(``TaskSpace.to_unit``); a std is divided by its dimension's range.

**Levels** (``expert_knowledge: no | low | high`` in a run config): :func:`for_level` gives
each teacher exactly what TeachMyAgent's benchmark gives it at that level (read from TMA's
``teacher_args_handler.py``; the table is :data:`TMA_LEVELS`), and refuses what TMA refuses:

=============  ==================  =================================  ===================================
teacher        no                  low                                high
=============  ==================  =================================  ===================================
random, riac   nothing             nothing                            nothing
alp_gmm,       nothing (uniform    nothing                            bootstrap from ``initial``
covar_gmm      bootstrap)                                             (the first ``fit_rate`` tasks)
adr            **refused**         thresholds; start = a uniformly    thresholds; start = ``initial.mean``
                                   random point of the box
spdl           initial = random    same as ``no``                     ``initial``; ``target`` (the env's,
               point, std 10% of                                      else N(centre, range/4): TMA's
               range; target =                                        stump env gives none)
               N(centre, range/4)
goal_gan       **refused**         ``success``; pretraining on 1000   ``success``; pretraining on 1000
                                   samples of TMA's random Gaussian   samples of ``initial``
setter_solver  **refused**         ``success``                        ``success``
=============  ==================  =================================  ===================================

GoalGAN pretrains at ``low`` too: TMA's benchmark scripts pass ``--use_pretrained_samples``
at every level, and without ``initial_dist`` TMA draws the pretraining Gaussian as it draws
ADR's start (a uniformly random mean, std 10% of each range).
TMA's released SPDL received its ``high`` knowledge only under the level name ``maximal``,
which the benchmark never passes, so it ran with the bounds-derived defaults at every level.
At ``high`` the table gives SPDL what TMA's handler gives it under ``original``/``maximal``:
``initial_dist`` and ``target_dist``. Teachers TMA does not
have (PLR, ACCEL, PAIRED, CLUTR) take no expert knowledge and run at every level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from envs.errors import TeachBenchError
from envs.task_space import TaskSpace

EK_KEYS = ("success", "reward_thresholds", "initial", "target")
GAUSSIAN_KEYS = ("mean", "std")


@dataclass(frozen=True)
class Gaussian:
    """A diagonal Gaussian over tasks, in the unit cube (``mean`` in [0,1]^d, ``std`` > 0)."""

    mean: np.ndarray
    std: np.ndarray | None

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` points of the unit cube (clipped), drawn from this Gaussian."""
        if self.std is None:
            return np.tile(self.mean, (n, 1))
        return np.clip(rng.normal(self.mean, self.std, size=(n, self.mean.shape[0])), 0.0, 1.0)


@dataclass(frozen=True)
class ExpertKnowledge:
    """A validated EK record (see the module docstring for the keys).

    ``success``: ``None`` (unknown), ``"env"`` (use the env's success flag) or a float
    (return threshold: ``return > success`` counts as a success).
    """

    success: str | float | None = None
    reward_thresholds: tuple[float, float] | None = None
    initial: Gaussian | None = None
    target: Gaussian | None = None

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: Mapping[str, Any] | "ExpertKnowledge" | None, task_space: TaskSpace) -> "ExpertKnowledge":
        """Validate a config mapping (``None`` = no EK). Unknown keys are an error: a
        misnamed key must never be silently ignored."""
        if config is None:
            return cls()
        if isinstance(config, ExpertKnowledge):
            return config
        if not isinstance(config, Mapping):
            raise TeachBenchError("expert", f"expected a mapping of expert knowledge, got {type(config).__name__}")
        for key in config:
            if key not in EK_KEYS:
                raise TeachBenchError(f"expert.{key}", "unknown expert-knowledge key", EK_KEYS)
        return cls(
            success=_success(config.get("success")),
            reward_thresholds=_thresholds(config.get("reward_thresholds")),
            initial=_gaussian("initial", config.get("initial"), task_space),
            target=_gaussian("target", config.get("target"), task_space),
        )

    # -- use ----------------------------------------------------------------------------
    def need(self, teacher: str, *keys: str) -> None:
        """Raise a clear error if any of ``keys`` (``"initial.std"`` for a sub-key) is missing."""
        for key in keys:
            top, _, sub = key.partition(".")
            value = getattr(self, top)
            if value is None or (sub and getattr(value, sub) is None):
                raise TeachBenchError(
                    f"expert.{key}",
                    f"teacher {teacher!r} cannot run without this expert knowledge "
                    f"(give it under params.expert, e.g. from the env config's `expert:`)",
                    EK_KEYS,
                )

    def is_success(self, episode_return: float, env_success: bool) -> bool:
        """The success definition: the env's flag, or return above the threshold."""
        if self.success is None:
            raise TeachBenchError("expert.success", "no success definition given")
        if self.success == "env":
            return bool(env_success)
        return float(episode_return) > float(self.success)

    def to_dict(self) -> dict[str, Any]:
        """A plain summary (unit-cube values) for logs and diagnostics."""
        out: dict[str, Any] = {"success": self.success}
        if self.reward_thresholds is not None:
            out["reward_thresholds"] = list(self.reward_thresholds)
        for name in ("initial", "target"):
            g = getattr(self, name)
            if g is not None:
                out[name] = {"mean": g.mean.tolist(), "std": None if g.std is None else g.std.tolist()}
        return out


# -- validators -----------------------------------------------------------------------
def _success(value: Any) -> str | float | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value != "env":
            raise TeachBenchError("expert.success", f"{value!r} is neither 'env' nor a return threshold", ["env", "<float>"])
        return value
    if isinstance(value, bool):
        raise TeachBenchError("expert.success", "use 'env' for the env's success flag, or a return threshold")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TeachBenchError("expert.success", f"{value!r} is neither 'env' nor a number") from None
    if not math.isfinite(number):
        raise TeachBenchError("expert.success", f"{value!r} is not finite")
    return number


def _thresholds(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TeachBenchError("expert.reward_thresholds", f"expected [low, high], got {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise TeachBenchError("expert.reward_thresholds", f"need finite low < high, got [{low}, {high}]")
    return (low, high)


def _gaussian(name: str, value: Any, space: TaskSpace) -> Gaussian | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TeachBenchError(f"expert.{name}", "expected {mean: {dim: value}, std: {dim: value}}")
    for key in value:
        if key not in GAUSSIAN_KEYS:
            raise TeachBenchError(f"expert.{name}.{key}", "unknown key", GAUSSIAN_KEYS)
    if value.get("mean") is None:
        raise TeachBenchError(f"expert.{name}.mean", "missing (one value per task dimension)", space.names)
    mean_map = _per_dim(f"expert.{name}.mean", value["mean"], space)
    try:
        mean = space.to_unit(mean_map)
    except TeachBenchError as err:
        raise TeachBenchError(f"expert.{name}.mean.{err.key.split('.')[-1]}", str(err)) from None
    std = None
    if value.get("std") is not None:
        std_map = _per_dim(f"expert.{name}.std", value["std"], space)
        span = space.high - space.low
        raw = []
        for d, s in zip(space.dims, span):
            v = std_map[d.name]
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise TeachBenchError(f"expert.{name}.std.{d.name}", f"{v!r} is not a number") from None
            if not (math.isfinite(v) and v > 0):
                raise TeachBenchError(f"expert.{name}.std.{d.name}", f"must be finite and > 0, got {v}")
            raw.append(v / s if s > 0 else 1.0)
        std = np.asarray(raw, dtype=np.float64)
    return Gaussian(mean=np.asarray(mean, dtype=np.float64), std=std)


def _per_dim(key: str, value: Any, space: TaskSpace) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TeachBenchError(key, f"expected a mapping over the task dimensions, got {value!r}", space.names)
    for name in value:
        if name not in space.names:
            raise TeachBenchError(f"{key}.{name}", "unknown task dimension", space.names)
    for name in space.names:
        if name not in value:
            raise TeachBenchError(f"{key}.{name}", "missing task dimension", space.names)
    return dict(value)


# -- TeachMyAgent's expert-knowledge levels -------------------------------------------------
LEVELS = ("no", "low", "high")

# What each teacher receives at each level (None: TMA refuses to run it). Names:
# the EK keys (from the env's `expert:` block, required when listed), "initial:random"
# (TMA's default when no initial distribution is given: a uniformly random mean, std 10% of
# each range), "target:box" (TMA's default target: mean at the centre, std range/4) and
# "target:env_or_box" (the env's target if it has one, else target:box).
TMA_LEVELS: dict[str, dict[str, tuple[str, ...] | None]] = {
    "random": {"no": (), "low": (), "high": ()},
    "riac": {"no": (), "low": (), "high": ()},
    "alp_gmm": {"no": (), "low": (), "high": ("initial",)},
    "covar_gmm": {"no": (), "low": (), "high": ("initial",)},
    "adr": {"no": None, "low": ("reward_thresholds", "initial:random"), "high": ("reward_thresholds", "initial")},
    "spdl": {"no": ("initial:random", "target:box"), "low": ("initial:random", "target:box"),
             "high": ("initial", "target:env_or_box")},
    "goal_gan": {"no": None, "low": ("success", "initial:random"), "high": ("success", "initial")},
    "setter_solver": {"no": None, "low": ("success",), "high": ("success",)},
}
# Why TMA refuses a teacher at `no` (its own error messages, paraphrased).
_REFUSALS = {
    "adr": "ADR cannot run without expert knowledge: it needs at least reward thresholds",
    "goal_gan": "GoalGAN cannot run without expert knowledge: it needs at least a success definition",
    "setter_solver": "Setter-Solver cannot run without expert knowledge: it needs at least a success definition",
}
TMA_INITIAL_STD = 0.1   # std of TMA's easy / random-subspace Gaussians, as a fraction of each range
TMA_TARGET_STD = 0.25   # std of TMA's default target Gaussian, as a fraction of each range


def parse_level(level: Any) -> str | None:
    """``no`` / ``low`` / ``high``, or None (no level: the teacher config's ``expert`` as given).
    YAML 1.1 reads an unquoted ``no`` as ``false``; that is taken as ``no``."""
    if level is None:
        return None
    if level is False:
        return "no"
    if not isinstance(level, str) or level not in LEVELS:
        raise TeachBenchError("expert_knowledge", f"unknown expert-knowledge level {level!r}", LEVELS)
    return level


def level_grants(teacher: str, level: str) -> tuple[str, ...]:
    """What ``teacher`` receives at ``level`` (see :data:`TMA_LEVELS`); raises where TMA refuses."""
    level = parse_level(level)  # type: ignore[assignment]
    if teacher not in TMA_LEVELS:
        return ()
    grants = TMA_LEVELS[teacher][level]  # type: ignore[index]
    if grants is None:
        raise TeachBenchError("expert_knowledge", f"{_REFUSALS[teacher]} (TeachMyAgent refuses {teacher!r} at "
                              f"level {level!r})", [lv for lv in LEVELS if TMA_LEVELS[teacher][lv] is not None])
    return grants


def for_level(teacher: str, level: str, expert: Mapping[str, Any] | ExpertKnowledge | None, task_space: TaskSpace,
              seed: int = 0) -> ExpertKnowledge:
    """The expert knowledge ``teacher`` gets at ``level``, built from the env's ``expert``
    block (validated in full first: an unknown key is an error at every level). A granted
    key the env does not provide is an error naming it. ``seed`` draws TMA's random start."""
    given = ExpertKnowledge.from_config(expert, task_space)
    grants = level_grants(teacher, level)
    d = task_space.ndim
    fields: dict[str, Any] = {}
    for grant in grants:
        if grant in EK_KEYS:
            given.need(f"{teacher} at expert_knowledge={level}", grant)
            fields[grant] = getattr(given, grant)
        elif grant == "initial:random":
            # TMA: mean ~ U(box) from the teacher's generator, std 10% of each range
            mean = np.random.default_rng(seed).uniform(0.0, 1.0, size=d)
            fields["initial"] = Gaussian(mean=mean, std=np.full(d, TMA_INITIAL_STD))
        elif grant in ("target:box", "target:env_or_box"):
            if grant == "target:env_or_box" and given.target is not None:
                fields["target"] = given.target
            else:
                fields["target"] = Gaussian(mean=np.full(d, 0.5), std=np.full(d, TMA_TARGET_STD))
    return ExpertKnowledge(**fields)
