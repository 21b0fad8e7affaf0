"""SPDL: the Gaussian moves toward the target only as the student's values allow, one
trust region at a time, on an env-step schedule."""

from __future__ import annotations

import io
from collections import deque

import numpy as np
import pytest
import torch

from envs.errors import TeachBenchError
from envs.task_space import TaskSpace
from teachers.base import Episode
from teachers.registry import make_teacher
from teachers.spdl import SPDL, cholesky, gaussian_kl

SPACE = TaskSpace.box(["height", "spacing"], [0.0, 0.0], [3.0, 6.0])
EK = {
    "initial": {"mean": {"height": 0.3, "spacing": 5.4}, "std": {"height": 0.15, "spacing": 0.3}},
    "target": {"mean": {"height": 2.4, "spacing": 1.2}, "std": {"height": 0.6, "spacing": 1.2}},
}
FAST = dict(offset=2_000, update_period=1_000, alpha_offset=2)  # 10-step episodes: 100 per update


def play(teacher, value_fn, n, length=10, lookahead=4, use_value=True):
    """Episodes of ``length`` env steps; the student's V(s0) is ``value_fn(task)``."""
    queue: deque = deque()
    step = 0
    for i in range(n):
        queue.append(teacher.sample())
        step += length
        if len(queue) > lookahead:
            task = queue.popleft()
            v = value_fn(task)
            teacher.update(Episode(task=task, episode_return=v, length=length,
                                   global_step=step, episode_id=i, value=v if use_value else None))


def test_starts_at_the_initial_gaussian():
    teacher = SPDL(SPACE, seed=0, expert=EK)
    tasks = np.array([SPACE.to_array(teacher.sample()) for _ in range(2000)])
    assert tasks.mean(0) == pytest.approx([0.3, 5.4], abs=0.03)
    assert tasks.std(0) == pytest.approx([0.15, 0.3], rel=0.1)


def kl_step(teacher, mu_old, cov_old):
    """The KL the optimiser bounds: KL(old || new) for TMA's natural-gradient step (accepted
    up to 1.5 max_kl by its line search), KL(new || old) for SLSQP (at most max_kl)."""
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    new, old = (t(teacher.mu), cholesky(teacher.cov)), (t(mu_old), cholesky(cov_old))
    if teacher.optimizer == "slsqp":
        return float(gaussian_kl(*new, *old))
    return float(gaussian_kl(*old, *new))


def bound(teacher):
    return (1.0 if teacher.optimizer == "slsqp" else 1.5) * teacher.max_kl + 1e-6


@pytest.mark.parametrize("optimizer", ["natural_gradient", "slsqp"])
def test_follows_high_values_toward_target_within_max_kl(optimizer):
    """The student's values rise toward the target (harder tasks are already worth more):
    with TMA's defaults the mean walks there, never faster than the trust region allows."""
    teacher = SPDL(SPACE, seed=1, expert=EK, optimizer=optimizer, **FAST)
    kl_start = teacher.kl_to_target()
    steps = []
    for _ in range(40):
        mu_old, cov_old, it = teacher.mu.copy(), teacher.cov.copy(), teacher.n_iterations
        play(teacher, lambda task: task["height"] / 3 + (6 - task["spacing"]) / 6, 100)
        if teacher.n_iterations > it:
            steps.append(kl_step(teacher, mu_old, cov_old))
    assert teacher.n_iterations >= 20
    assert max(steps) <= bound(teacher)  # the trust region holds at every update
    assert teacher.kl_to_target() < 0.6 * kl_start
    d = teacher.diagnostics()
    assert d["mean.height"] > 0.8 and d["mean.spacing"] < 4.6
    tasks = np.array([SPACE.to_array(teacher.sample()) for _ in range(500)])
    assert tasks[:, 0].mean() > 0.8


def test_target_pull_reaches_the_target_when_values_are_flat():
    """Values equal everywhere: only the alpha * KL(p || target) term has a direction. With a
    strong pull (zeta 1) the distribution must end on the target, in max_kl-sized steps."""
    teacher = SPDL(SPACE, seed=1, expert=EK, zeta=1.0, **FAST)
    steps = []
    for _ in range(70):
        mu_old, cov_old, it = teacher.mu.copy(), teacher.cov.copy(), teacher.n_iterations
        play(teacher, lambda task: 1.0, 100)
        if teacher.n_iterations > it:
            steps.append(kl_step(teacher, mu_old, cov_old))
    assert max(steps) <= bound(teacher)
    assert teacher.kl_to_target() < 0.1
    d = teacher.diagnostics()
    assert d["mean.height"] == pytest.approx(2.4, abs=0.15) and d["std.height"] == pytest.approx(0.6, abs=0.1)


def test_stays_put_when_values_are_zero():
    teacher = SPDL(SPACE, seed=2, expert=EK, **FAST)
    play(teacher, lambda task: 0.0, 2000)
    assert teacher.n_iterations >= 10
    assert teacher.alpha == 0.0
    assert teacher.diagnostics()["mean.height"] == pytest.approx(0.3, abs=0.05)


def test_before_offset_and_alpha_offset_it_only_follows_value():
    """Values high only at small heights: with no target pull (alpha offset not reached)
    the distribution must not drift toward the (high) target height."""
    teacher = SPDL(SPACE, seed=3, expert=EK, offset=2_000, update_period=1_000, alpha_offset=1000)
    play(teacher, lambda task: 1.0 if task["height"] < 0.3 else 0.0, 2000)
    assert teacher.n_iterations > 5 and teacher.alpha == 0.0
    assert teacher.diagnostics()["mean.height"] < 0.3


def test_schedule_is_in_env_steps():
    teacher = SPDL(SPACE, seed=4, expert=EK, offset=5_000, update_period=1_000)
    play(teacher, lambda task: 1.0, 400, length=10)  # ~4,000 steps: before the offset
    assert teacher.n_iterations == 0
    play(teacher, lambda task: 1.0, 400, length=10)  # global steps restart: counts from its own sum
    assert teacher.n_iterations >= 1


def test_value_fallback_is_reported():
    teacher = SPDL(SPACE, seed=5, expert=EK, **FAST)
    play(teacher, lambda task: 1.0, 50, use_value=False)
    d = teacher.diagnostics()
    assert d["value_source.return"] == 46 and d["value_source.value"] == 0
    teacher.update(Episode(task=teacher.sample(), episode_return=0.0, length=5,
                           extra={"discounted_return": 0.5}))
    assert teacher.diagnostics()["value_source.discounted_return"] == 1


def test_nan_returns_are_dropped():
    teacher = SPDL(SPACE, seed=6, expert=EK, **FAST)
    for i in range(50):
        teacher.update(Episode(task=teacher.sample(), episode_return=float("nan"), length=10, global_step=10 * i))
    assert teacher.n_dropped == 50 and teacher.values == []
    teacher.update(Episode(task=teacher.sample(), episode_return=0.0, length=10, value=float("inf")))
    assert teacher.values == []


def test_state_round_trip_gives_identical_samples():
    teacher = SPDL(SPACE, seed=7, expert=EK, **FAST)
    play(teacher, lambda task: 1.0, 450)
    buf = io.BytesIO()
    torch.save(teacher.state_dict(), buf)
    buf.seek(0)
    clone = SPDL(SPACE, seed=0, expert=EK, **FAST)
    clone.load_state_dict(torch.load(buf, weights_only=True))
    # continue both with the same (deterministic) episodes: updates included
    for t in (teacher, clone):
        for i in range(300):
            task = t.sample()
            t.update(Episode(task=task, episode_return=0.0, length=10, global_step=5000 + 10 * i, value=1.0))
    assert [teacher.sample() for _ in range(30)] == [clone.sample() for _ in range(30)]
    assert teacher.diagnostics() == clone.diagnostics()


def test_expert_knowledge_is_required_and_validated():
    with pytest.raises(TeachBenchError, match="expert.initial"):
        SPDL(SPACE, seed=0)
    with pytest.raises(TeachBenchError, match="expert.target"):
        SPDL(SPACE, seed=0, expert={"initial": EK["initial"]})
    with pytest.raises(TeachBenchError, match="expert.target.std"):
        SPDL(SPACE, seed=0, expert={"initial": EK["initial"], "target": {"mean": EK["target"]["mean"]}})
    with pytest.raises(TeachBenchError, match="expert.target_distribution"):  # the released-code bug
        SPDL(SPACE, seed=0, expert={"initial": EK["initial"], "target_distribution": EK["target"]})
    with pytest.raises(TeachBenchError, match="expert.initial.std.height"):
        SPDL(SPACE, seed=0, expert={**EK, "initial": {"mean": EK["initial"]["mean"],
                                                    "std": {"height": 0.0, "spacing": 1.0}}})
    with pytest.raises(TeachBenchError, match="teacher.max_kl"):
        SPDL(SPACE, seed=0, expert=EK, max_kl=0.0)


@pytest.mark.parametrize("ndim", [1, 6])
def test_one_and_high_dimensional_spaces(ndim):
    """Values are 1 on the target's side of the initial mean: the mean must move that way."""
    names = [f"x{i}" for i in range(ndim)]
    space = TaskSpace.box(names, [0.0] * ndim, [1.0] * ndim)
    ek = {"initial": {"mean": {n: 0.1 for n in names}, "std": {n: 0.05 for n in names}},
          "target": {"mean": {n: 0.7 for n in names}, "std": {n: 0.2 for n in names}}}
    teacher = make_teacher("spdl", space, seed=0, expert=ek, **FAST)
    for _ in range(10):
        mu_old, cov_old = teacher.mu.copy(), teacher.cov.copy()
        play(teacher, lambda task: float(sum(task.values()) / ndim > 0.1), 100)
        assert kl_step(teacher, mu_old, cov_old) <= bound(teacher)
    assert teacher.n_iterations >= 7
    u = np.array([space.to_unit(teacher.sample()) for _ in range(300)])
    assert np.all((u >= 0) & (u <= 1))
    # the importance-weighted estimate moves slowly in high dimensions (96 contexts per
    # update), but the direction must be right: the initial mean is 0.1 (sample s.e. ~0.001)
    assert u.mean() > 0.105


def test_the_cached_cholesky_factor_follows_every_new_distribution():
    """The sampler reuses the factor of ``cov`` until ``cov`` is replaced (an update, a checkpoint
    load): batches drawn after either equal those of a teacher that factorises afresh."""
    a = SPDL(SPACE, seed=4, expert=EK, **FAST)
    a.sample_batch(8)  # caches the initial factor
    initial = a.cov.copy()
    play(a, lambda task: 1.0 - task["height"] / 3.0, 700)  # several updates move cov
    assert a.n_iterations > 0 and not np.allclose(a.cov, initial)
    state = a.state_dict()
    b = SPDL(SPACE, seed=99, expert=EK, **FAST)
    b.load_state_dict(state)  # a fresh teacher: factorises the loaded cov on its first draw
    assert a.sample_batch(16) == b.sample_batch(16)
    other = SPDL(SPACE, seed=5, expert=EK, **FAST)
    a.load_state_dict(other.state_dict())  # back to the initial distribution: the cached factor must go
    assert a.sample_batch(16) == other.sample_batch(16)
