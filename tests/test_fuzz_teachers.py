"""Every registered teacher under degenerate feedback keeps proposing valid tasks.

Issue 10 asks that a teacher survive what a real run throws at it: all-equal returns
(no learning progress anywhere), NaN/inf returns (a diverged student), one-point buffers
(every episode on the same task, so GMM fits see a singular cloud), task spaces of
dimension 1 and of dimension 50, and discrete/categorical dimensions. Non-finite returns
must be dropped (counted in ``n_dropped``) or rejected with TeachBenchError; whatever
happens, every later ``sample()`` is a task inside the space, diagnostics are finite or
None-able scalars, and the state still checkpoints through ``torch.load(weights_only=True)``.

Hyperparameters are shrunk (refits every few episodes, small mixtures) so that each
hypothesis example exercises the refit/split/update paths within a few dozen episodes:
with the paper defaults (250 episodes per fit) a fuzz case would never reach them.
Teachers listed in the registry whose module has not landed yet are skipped (and named
in the skip reason) rather than silently passed.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envs.errors import TeachBenchError
from envs.task_space import Dim, TaskSpace
from teachers.base import Episode, Teacher
from teachers.registry import TEACHERS, make_teacher, teacher_class

# Per teacher: constructor arguments that make the interesting code paths run within a
# few dozen episodes (values chosen for the fuzz, not for learning).
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "alp_gmm": {"fit_rate": 8, "min_k": 1, "max_k": 3, "nn_min_history": 2},
    "covar_gmm": {"fit_rate": 8, "min_k": 1, "max_k": 3},
    "riac": {"max_region_size": 6, "n_split_attempts": 10},
    "adr": {"queue_len": 2, "boundary_prob": 0.9, "step_size": 0.3},
    "spdl": {"offset": 0, "update_period": 70, "min_contexts": 3, "alpha_offset": 1},
}
# In 50 dimensions one SPDL update is an SLSQP over d + d(d+1)/2 = 1325 variables (seconds):
# fewer updates there keep the default suite short while still running the path.
HUGE_DIM_PARAMS: dict[str, dict[str, Any]] = {
    "spdl": {"update_period": 250},
    "goal_gan": {"update_size": 8, "n_gan_iterations": 3, "generator_hidden": [16], "discriminator_hidden": [16],
                 "batch_size": 8, "pretrain_samples": 16, "pretrain_iterations": 3},
    "setter_solver": {"update_period": 8, "judge_hidden": [16], "setter_hidden": 16, "n_blocks": 1,
                      "n_train_steps": 3, "batch_size": 8, "buffer_size": 64},
    "plr": {"buffer_size": 8, "min_fill": 0.25},
    "plr_robust": {"buffer_size": 8, "min_fill": 0.25},
    "accel": {"buffer_size": 8, "min_fill": 0.25},
    "paired_param": {"noise_dim": 4, "hidden": 8, "batch_size": 4},
    "clutr_param": {"latent_dim": 2, "pretrain_tasks": 20, "vae_epochs": 2, "noise_dim": 4, "hidden": 8, "batch_size": 4},
}


def landed(name: str) -> bool:
    module = TEACHERS[name].split(":")[0]
    return importlib.util.find_spec(module) is not None


# Teachers that design maze levels (not points of a TaskSpace) are fuzzed on the maze in
# their own tests (tests/test_paired_designer.py, tests/test_minimax.py, tests/test_clutr_levels.py).
LEVEL_TEACHERS = {"paired", "minimax", "clutr"}
# Teachers of web forms (they set the `prefilled` dimension or write whole forms with the
# env's form tools) are fuzzed on the web-form space in tests/test_web_teachers.py.
WEB_TEACHERS = {"qweb_curriculum", "qweb_instructor", "webrl"}
ALL_TEACHERS = sorted(set(TEACHERS) - LEVEL_TEACHERS - WEB_TEACHERS)
TEACHER_PARAMS = [
    pytest.param(n, marks=pytest.mark.skip(reason=f"teachers/{TEACHERS[n].split(':')[0].split('.')[-1]}.py not landed yet"))
    if not landed(n) else n
    for n in ALL_TEACHERS
]


def expert_for(space: TaskSpace) -> dict[str, Any]:
    """A complete expert-knowledge record for any task space (easy corner -> hard corner)."""
    span = space.high - space.low

    def gaussian(at: float, rel_std: float) -> dict[str, Any]:
        mean = space.from_unit(np.full(space.ndim, at))
        std = {d.name: float(rel_std * s) if s > 0 else 1.0 for d, s in zip(space.dims, span)}
        return {"mean": mean, "std": std}

    return {"success": 0.5, "reward_thresholds": [0.2, 0.8], "initial": gaussian(0.1, 0.2),
            "target": gaussian(0.9, 0.3)}


def build(name: str, space: TaskSpace, seed: int = 0, **overrides: Any) -> Teacher:
    accepted = inspect.signature(teacher_class(name).__init__).parameters
    fast = {**FAST_PARAMS.get(name, {}), **(HUGE_DIM_PARAMS.get(name, {}) if space.ndim > 10 else {})}
    params = {k: v for k, v in fast.items() if k in accepted}
    if "expert" in accepted:
        params["expert"] = expert_for(space)
    params.update(overrides)
    return make_teacher(name, space, seed=seed, **params)


def roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint gives back: torch.save then torch.load(weights_only=True)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def check_diagnostics(teacher: Teacher) -> None:
    for key, value in teacher.diagnostics().items():
        assert isinstance(key, str)
        if isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
            # a NaN diagnostic is allowed (e.g. "no fit yet"), an infinite one is a bug
            assert not math.isinf(float(value)), f"{teacher.name}: diagnostics[{key!r}] = {value}"


def valid(space: TaskSpace, task: dict[str, Any]) -> bool:
    """A point of the space, or a level task (``{"level": str}``) that level-based
    teachers (PLR, ACCEL) hand out for the env to validate."""
    if "level" in task:
        return set(task) == {"level"} and isinstance(task["level"], str)
    return space.contains(task)


def episode_for(teacher: Teacher, task: dict[str, Any], ret: float, i: int, length: int = 7) -> Episode:
    """An episode carrying what the teacher declares it needs (regret, value estimates);
    those estimates are as degenerate as the return itself."""
    ep = Episode(task=dict(task), episode_return=ret, length=length, success=ret > 0.5,
                 global_step=(i + 1) * length, episode_id=i)
    if "regret" in teacher.needs:
        ep.regret = ret
    if "value" in teacher.needs:
        ep.value = ret
    return ep


def play(teacher: Teacher, returns: list[float], same_task: bool) -> int:
    """Feed one episode per return (and one antagonist episode where the teacher has an
    antagonist side); every sampled task must be valid. Returns the non-finite count."""
    space = teacher.task_space
    fixed = teacher.sample()
    antagonist = teacher.antagonist_view() if hasattr(teacher, "antagonist_view") else None
    bad = 0
    for i, ret in enumerate(returns):
        task = teacher.sample()
        assert valid(space, task), f"{teacher.name} sampled {task} outside the space"
        played = fixed if same_task else task
        if not math.isfinite(ret):
            bad += 1
        try:
            teacher.update(episode_for(teacher, played, ret, i))
        except TeachBenchError as err:  # a clear rejection is allowed, nothing else
            assert not math.isfinite(ret), f"{teacher.name} rejected a finite return {ret}: {err}"
        if antagonist is not None:
            a_task = antagonist.sample()
            assert valid(space, a_task), f"{teacher.name} gave the antagonist {a_task}"
            antagonist.update(episode_for(antagonist, a_task, ret if i % 2 else 0.5, i))
    for _ in range(20):
        assert valid(space, teacher.sample())
    check_diagnostics(teacher)
    return bad


# -- strategies ---------------------------------------------------------------------------
finite = st.floats(-1e6, 1e6, allow_nan=False)
nasty = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e300, -1e300, 5e-324, 1.0])


@st.composite
def dims(draw: st.DrawFn, index: int) -> Dim:
    kind = draw(st.sampled_from(["continuous", "continuous", "discrete", "categorical"]))
    name = f"d{index}"
    if kind == "categorical":
        n = draw(st.integers(1, 5))
        return Dim(name, kind="categorical", choices=tuple(f"c{j}" for j in range(n)))
    if kind == "discrete":
        low = draw(st.integers(-5, 5))
        return Dim(name, low, low + draw(st.integers(0, 6)), "discrete")
    low = draw(st.floats(-1e3, 1e3))
    width = draw(st.sampled_from([0.0, 1e-9, 1.0, 1e3]))
    return Dim(name, low, low + width)


@st.composite
def spaces(draw: st.DrawFn) -> TaskSpace:
    n = draw(st.sampled_from([1, 1, 2, 3, 50]))
    if n == 50:  # the huge space: continuous unit boxes (its cost is the GMM, not the dims)
        return TaskSpace.box([f"x{i}" for i in range(n)], [0.0] * n, [1.0] * n)
    return TaskSpace(tuple(draw(dims(i)) for i in range(n)))


@st.composite
def feedback(draw: st.DrawFn) -> list[float]:
    n = draw(st.integers(1, 40))
    mode = draw(st.sampled_from(["equal", "nasty", "mixed", "finite"]))
    if mode == "equal":
        return [draw(finite)] * n
    if mode == "nasty":
        return draw(st.lists(nasty, min_size=n, max_size=n))
    if mode == "mixed":
        return draw(st.lists(st.one_of(finite, nasty), min_size=n, max_size=n))
    return draw(st.lists(finite, min_size=n, max_size=n))


# Examples per teacher: the neural teachers (GAN/flow/VAE generators) cost ~1 s to build.
EXAMPLES: dict[str, int] = {"goal_gan": 4, "setter_solver": 8, "clutr_param": 5, "paired_param": 15}


@pytest.mark.parametrize("name", TEACHER_PARAMS)
def test_teacher_survives_degenerate_feedback(name):
    @settings(max_examples=EXAMPLES.get(name, 25), deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(space=spaces(), returns=feedback(), same_task=st.booleans(), seed=st.integers(0, 2**16))
    def case(space, returns, same_task, seed):
        teacher = build(name, space, seed=seed)
        bad = play(teacher, returns, same_task)
        assert teacher.n_dropped == bad, f"{name}: {bad} non-finite returns fed, {teacher.n_dropped} dropped"
        # the state survives a checkpoint, and the restored teacher samples like the original
        twin = build(name, space, seed=seed + 1)
        twin.load_state_dict(roundtrip(teacher.state_dict()))
        assert [twin.sample() for _ in range(5)] == [teacher.sample() for _ in range(5)]

    case()


@pytest.mark.parametrize("name", ["paired_param", "clutr_param"])
def test_generator_survives_huge_finite_return(name):
    space = TaskSpace.box([f"x{i}" for i in range(50)], [0.0] * 50, [1.0] * 50)
    teacher = build(name, space, seed=0)
    play(teacher, [math.nan] * 7 + [0.0, 0.0, 0.0, -1e300], same_task=False)


@pytest.mark.parametrize("name", TEACHER_PARAMS)
def test_all_equal_returns_many_refits(name):
    """200 episodes of identical return on identical tasks: every GMM fit is singular,
    every region has zero ALP. The teacher must keep sampling inside the space."""
    space = TaskSpace.box(["a", "b"], [0.0, -1.0], [1.0, 1.0])
    teacher = build(name, space, seed=3)
    play(teacher, [0.0] * 200, same_task=True)
    assert teacher.n_updates == 200 and teacher.n_dropped == 0


@pytest.mark.parametrize("name", TEACHER_PARAMS)
def test_nan_and_inf_returns_are_dropped_and_counted(name):
    space = TaskSpace.box(["a"], [0.0], [1.0])
    teacher = build(name, space, seed=1)
    returns = [math.nan, math.inf, -math.inf] * 10 + [0.3] * 10
    play(teacher, returns, same_task=False)
    assert teacher.n_dropped == 30
    assert teacher.n_updates == 10


@pytest.mark.parametrize("name", TEACHER_PARAMS)
def test_huge_dimension_with_progress(name):
    """50 dimensions, returns that depend on the task (so ALP and covariances are non-zero)."""
    space = TaskSpace.box([f"x{i}" for i in range(50)], [0.0] * 50, [2.0] * 50)
    teacher = build(name, space, seed=5)
    rng = np.random.default_rng(0)
    for i in range(120):
        task = teacher.sample()
        assert valid(space, task)
        u = space.to_unit(task)
        ret = float(u[:3].sum() * (i / 120) + rng.normal(0, 0.01))
        teacher.update(episode_for(teacher, task, ret, i, length=5))
    assert all(valid(space, teacher.sample()) for _ in range(50))
    check_diagnostics(teacher)


@pytest.mark.parametrize("name", TEACHER_PARAMS)
def test_paper_defaults_one_point_buffer(name):
    """Paper-default hyperparameters (only expert knowledge given), a single episode."""
    space = TaskSpace((Dim("n", 1, 4, "discrete"), Dim("colour", kind="categorical", choices=("r", "g", "b")),
                       Dim("x", -1.0, 1.0)))
    accepted = inspect.signature(teacher_class(name).__init__).parameters
    params = {"expert": expert_for(space)} if "expert" in accepted else {}
    teacher = make_teacher(name, space, seed=0, **params)
    teacher.update(episode_for(teacher, teacher.sample(), 1.0, 0, length=1))
    assert all(valid(space, teacher.sample()) for _ in range(50))


def test_teacher_rejects_task_outside_space():
    """A task outside the space in feedback is the project's clear error, naming the dim."""
    space = TaskSpace.box(["a"], [0.0], [1.0])
    teacher = build("random", space)
    with pytest.raises(TeachBenchError) as err:
        teacher.update(Episode(task={"a": 7.0}, episode_return=0.0, length=1))
    assert err.value.key == "task.a"


def test_discrete_dim_with_fractional_bounds_is_refused():
    """A discrete dimension with bounds [0.5, 2.5] would round to values outside itself."""
    with pytest.raises(TeachBenchError) as err:
        TaskSpace((Dim("k", 0.5, 2.5, "discrete"),))
    assert err.value.key == "task_space.k"