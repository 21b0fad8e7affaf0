"""Property-based fuzzing of what a user types: config overrides and task values.

Every outcome must be a clean success or the project's clear error
(:class:`~envs.errors.TeachBenchError`, naming a key) — or, for override syntax and
unknown config keys, Hydra's own error, which names the override. Never an unrelated
traceback (TypeError, KeyError, AttributeError, ...).

- Overrides: random keys (the real config's keys and unknown names, with ``+``/``++``
  prefixes) and values (wrong types, negative numbers, NaN/inf, garbage strings, lists,
  null) are composed with Hydra and checked with ``validate_config``; a config that passes
  must then also build what ``run()`` builds before training (env, teacher, student
  parameters) or fail with TeachBenchError.
- Tasks: random task values and shapes go to every env's ``reset(options={"task": ...})``
  and the gridworld's ``{"level": ...}``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hydra.errors import HydraException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from envs.errors import TeachBenchError
from envs.registry import make_env
from experiments.running.config_checks import identity_config, resolve_auto_params, validate_config
from test_fuzz_envs import task_envs

HYDRA_ERRORS = (HydraException, OmegaConfBaseException)
CONFIG_KEYS = [
    "seed", "name", "resume", "device", "torch_threads", "budget.steps", "eval.every", "eval.episodes_per_task",
    "eval.n_envs", "eval.held_out", "checkpoint.every", "log.flush_every", "log.diagnostics_every",
    "log.progress_bar", "env.name", "env.n_envs", "env.vec_env", "env.normalize", "env.kwargs.max_steps",
    "env.kwargs.max_size", "env.kwargs.view", "teacher.name", "teacher.params.fit_rate", "teacher.params.preset",
    "teacher.params.reward_bounds", "teacher.params.random_task_ratio", "teacher.params.min_k",
    "student.algo", "student.policy", "student.params.n_steps", "student.params.learning_rate",
    "logger.kind", "runs_dir",
]
UNKNOWN_KEYS = ["budget.stepz", "colour", "teacher.params.colour", "env.kwargs.colour", "student.params.n_stepz"]
GROUPS = ["env", "teacher", "student", "logger"]

GARBAGE = st.sampled_from([
    "", "nan", "inf", "-inf", "None", "null", "true", "[1,2", "{a:", "'", '"', "${oc.env:HOME}", "${nowhere}",
    "../../etc/passwd", "a/b", ".hidden", "\\x00", "💥", "1e309", "-0", "0x10", "1_000", "  ", "a b", "[]", "{}",
])
NUMBERS = st.one_of(st.integers(-10**12, 10**12), st.sampled_from([0, -1, 1, 2**63, -(2**63)]),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr))
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12)
VALUES = st.one_of(NUMBERS.map(str), GARBAGE, WORDS, st.sampled_from(["true", "false", "null", "[1,2,3]", "[a]",
                                                                      "{x: 1}", "[-150,350]", "[1]", "[3,1]"]))


@st.composite
def overrides(draw: st.DrawFn) -> list[str]:
    out = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["value", "value", "value", "unknown", "group"]))
        if kind == "group":
            out.append(f"{draw(st.sampled_from(GROUPS))}={draw(st.one_of(WORDS, st.sampled_from(['random', 'alp_gmm', 'ppo', 'sac', 'gridworld', 'walker_stumps', 'webform', 'wandb'])))}")
            continue
        key = draw(st.sampled_from(CONFIG_KEYS if kind == "value" else UNKNOWN_KEYS))
        prefix = draw(st.sampled_from(["", "", "+", "++"]))
        out.append(f"{prefix}{key}={draw(VALUES)}")
    return out


def _raised_by_hydra(exc: BaseException) -> bool:
    """Hydra raises a few plain ValueErrors of its own (``env=0``: "Config group override
    must be a string or a list"); its CLI prints them as one line like its other errors."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last is not None and "/hydra/" in last


def _compose_or_none(compose, args: list[str]):
    """The composed config, or None when Hydra itself refused the overrides."""
    try:
        return compose(*args)
    except HYDRA_ERRORS:
        return None
    except ValueError as exc:
        if _raised_by_hydra(exc):
            return None
        raise


def _build_what_run_builds(cfg) -> None:
    """What run() constructs before the first training step (cheap parts only), after the
    same resolution of ``auto`` teacher parameters (PAIRED/CLUTR's ``max_pending``)."""
    from students.build import student_params
    from teachers.registry import make_teacher

    resolve_auto_params(cfg)
    env_kwargs = OmegaConf.to_container(cfg.env.kwargs, resolve=True) if cfg.env.get("kwargs") else {}
    env = make_env(cfg.env.name, **env_kwargs)
    space = env.unwrapped.task_space if hasattr(env.unwrapped, "task_space") else None
    env.close()
    if space is not None:
        params = OmegaConf.to_container(cfg.teacher.params, resolve=True) if cfg.teacher.get("params") else {}
        make_teacher(cfg.teacher.name, space, seed=int(cfg.seed), **params)
    env_students = OmegaConf.to_container(cfg.env.students, resolve=True) if cfg.env.get("students") else {}
    student = OmegaConf.to_container(cfg.student.params, resolve=True) if cfg.student.get("params") else {}
    student_params(cfg.student.algo, student, env_students)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow,
                                                                                     HealthCheck.function_scoped_fixture])
@given(args=overrides())
def test_random_overrides_give_success_or_clear_error(compose, args):
    cfg = _compose_or_none(compose, args)  # Hydra's own errors name the override
    if cfg is None:
        return
    try:
        validate_config(cfg)
        identity_config(cfg)
    except TeachBenchError as err:
        assert err.key and str(err).startswith(err.key)
        return
    except HYDRA_ERRORS:
        return  # e.g. an interpolation that cannot resolve: OmegaConf names the key


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow,
                                                                                     HealthCheck.function_scoped_fixture])
@given(args=overrides())
def test_validated_configs_build_or_fail_clearly(compose, args):
    cfg = _compose_or_none(compose, args)
    if cfg is None:
        return
    try:
        validate_config(cfg)
    except (TeachBenchError, *HYDRA_ERRORS):
        return
    try:
        _build_what_run_builds(cfg)
    except TeachBenchError:
        pass
    except HYDRA_ERRORS:
        pass


def test_what_run_builds_resolves_auto_params_first(compose):
    """PAIRED's default ``max_pending: auto`` becomes a number before anything is built, as in
    run(): 2 for the gridworld's 8 envs (2 * 8 * (1 + 1 look-ahead) // 32 + 1 = 2)."""
    cfg = compose("env=gridworld", "teacher=paired")
    assert cfg.teacher.params.max_pending == "auto"
    _build_what_run_builds(cfg)
    assert cfg.teacher.params.max_pending == 2


def test_unknown_env_kwarg_is_a_clear_error(compose):
    cfg = compose("+env.kwargs.colour=3")
    for check in (validate_config, _build_what_run_builds):  # validate_config builds the env too (config_checks)
        with pytest.raises(TeachBenchError) as err:
            check(cfg)
        assert err.value.key == "env.kwargs.colour"


def test_wrong_typed_env_kwarg_is_a_clear_error(compose):
    cfg = compose("env.kwargs.max_size=abc")
    for check in (validate_config, _build_what_run_builds):
        with pytest.raises(TeachBenchError, match="env.kwargs"):
            check(cfg)


# -- tasks thrown at reset -------------------------------------------------------------------
ANY_VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20), st.booleans(), st.none(),
    st.text(max_size=8), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from(["1", "0.5", "nan", "", "c0"]),
)


@st.composite
def hostile_tasks(draw: st.DrawFn, names: list[str], good: dict[str, Any]) -> Any:
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "extra", "missing", "sequence", "scalar", "level"]))
    if kind == "mutate":
        task = dict(good)
        for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True)):
            task[name] = draw(ANY_VALUE)
        return task
    if kind == "extra":
        return {**good, draw(st.text(max_size=6)): draw(ANY_VALUE)}
    if kind == "missing":
        task = dict(good)
        task.pop(draw(st.sampled_from(names)))
        return task
    if kind == "sequence":
        return draw(st.lists(ANY_VALUE, max_size=len(names) + 1))
    if kind == "level":
        return {"level": draw(st.one_of(st.text(max_size=40), ANY_VALUE,
                                        st.sampled_from(["m1:9:6,1,3:1,7:EKAEAAwAAA", "m1:99:0:1,1:2,2:", "m1::::"])))}
    return draw(ANY_VALUE)


@pytest.mark.parametrize("name", task_envs())
def test_reset_with_hostile_tasks_succeeds_or_raises_clearly(name):
    env = make_env(name)
    space = env.unwrapped.task_space
    good = space.sample(np.random.default_rng(0))

    @settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(task=hostile_tasks(space.names, good))
    def case(task):
        for key in ("task", "level") if name.startswith("gridworld") else ("task",):
            try:
                obs, info = env.reset(seed=0, options={key: task})
            except TeachBenchError as err:
                assert err.key
                continue
            # accepted: it must have been a valid task (or level), played as reported
            leaves = obs.values() if isinstance(obs, dict) else [obs]
            assert all(np.all(np.isfinite(np.asarray(v))) for v in leaves)
            if key == "task" and isinstance(task, dict) and "level" not in task:
                assert info["task"] == space.validate(task)

    case()
    env.close()
