"""Setter-Solver: the judge learns the student's chance of success and the setter's tasks
follow the desired feasibility it is given."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from envs.errors import TeachBenchError
from envs.task_space import TaskSpace
from teachers.base import Episode
from teachers.registry import make_teacher
from teachers.setter_solver import ConditionalRealNVP, SetterSolver

SPACE = TaskSpace.box(["a", "b"], [0.0, -1.0], [3.0, 1.0])
EK = {"success": "env"}


def success_prob(u: np.ndarray) -> float:
    """Synthetic student: succeeds when the first unit coordinate is small (< 0.3 always,
    > 0.6 never, linear in between); the second coordinate is irrelevant."""
    return float(np.clip((0.6 - u[0]) / 0.3, 0.0, 1.0))


def play(teacher, n, rng, space=SPACE):
    for i in range(n):
        task = teacher.sample()
        ok = bool(rng.random() < success_prob(space.to_unit(task)))
        teacher.update(Episode(task=task, episode_return=float(ok), length=1, success=ok, episode_id=i))


def realised_success(teacher, f, n=300):
    return float(np.mean([success_prob(SPACE.to_unit(teacher.sample_with_feasibility(f))) for _ in range(n)]))


def test_flow_density_is_exact():
    """The flow's log-density integrates to one and inverts its samples (1-D and 3-D)."""
    torch.manual_seed(0)  # test-local: random coupling weights
    for d in (1, 3):
        flow = ConditionalRealNVP(d, n_layers=3, hidden=16)
        for p in flow.parameters():  # leave the identity start: random couplings
            torch.nn.init.normal_(p, std=0.3)
        f = torch.full((4000, 1), 0.3)
        x, logp = flow(torch.randn(4000, d), f)
        assert torch.allclose(flow.log_prob(x, f), logp, atol=1e-4)
    flow = ConditionalRealNVP(1, n_layers=3, hidden=16)
    for p in flow.parameters():
        torch.nn.init.normal_(p, std=0.3)
    grid = torch.linspace(-12, 12, 20001).unsqueeze(-1)
    with torch.no_grad():
        density = torch.exp(flow.log_prob(grid, torch.full((20001, 1), 0.7)))
    assert float(torch.trapezoid(density.squeeze(-1), grid.squeeze(-1))) == pytest.approx(1.0, abs=1e-3)


def test_setter_follows_desired_feasibility():
    rng = np.random.default_rng(0)
    teacher = SetterSolver(SPACE, seed=0, expert=EK)
    untrained = [realised_success(teacher, f) for f in (0.1, 0.9)]
    assert abs(untrained[1] - untrained[0]) < 0.15  # before training f means nothing
    play(teacher, 600, rng)  # 12 training rounds
    low, mid, high = (realised_success(teacher, f) for f in (0.1, 0.5, 0.9))
    assert low < mid < high and high - low > 0.3
    # the judge's estimate tracks the student's real chance of success
    assert teacher.predicted_feasibility({"a": 0.3, "b": 0.0}) > 0.8  # u = 0.1: always succeeds
    assert teacher.predicted_feasibility({"a": 2.7, "b": 0.0}) < 0.2  # u = 0.9: never
    d = teacher.diagnostics()
    assert d["rounds"] == 12 and d["judge_accuracy"] > 0.7
    for key in ("validity_loss", "feasibility_loss", "coverage_loss", "judge_loss"):
        assert np.isfinite(d[key])


def test_validity_pulls_toward_achieved_goals():
    """Only validity (and coverage) on: achieved goals are all at small ``a``, so the setter's
    tasks must move there from the untrained flow's spread."""
    rng = np.random.default_rng(1)
    teacher = SetterSolver(SPACE, seed=1, expert=EK, feasibility_weight=0.0, coverage_weight=0.0)
    before = np.mean([SPACE.to_unit(teacher.sample())[0] for _ in range(300)])
    play(teacher, 300, rng)
    after = np.mean([SPACE.to_unit(teacher.sample())[0] for _ in range(300)])
    assert before == pytest.approx(0.5, abs=0.05) and after < 0.4


def test_success_threshold_from_expert_knowledge():
    teacher = SetterSolver(SPACE, seed=2, expert={"success": 100.0}, update_period=4, n_train_steps=1)
    for ret in (150.0, 100.0, 50.0, 101.0):
        teacher.update(Episode(task=teacher.sample(), episode_return=ret, length=1, success=False))
    assert [s for _, s in teacher.buffer] == [True, False, False, True]
    assert teacher.diagnostics()["buffer_success_rate"] == 0.5


def test_nan_returns_are_dropped():
    teacher = SetterSolver(SPACE, seed=3, expert=EK)
    for _ in range(60):
        teacher.update(Episode(task=teacher.sample(), episode_return=float("nan"), length=1, success=True))
    assert teacher.n_dropped == 60 and len(teacher.buffer) == 0 and teacher.n_rounds == 0


def test_state_round_trip_gives_identical_samples():
    teacher = SetterSolver(SPACE, seed=4, expert=EK, n_train_steps=10)
    play(teacher, 130, np.random.default_rng(4))
    buf = io.BytesIO()
    torch.save(teacher.state_dict(), buf)
    buf.seek(0)
    clone = SetterSolver(SPACE, seed=40, expert=EK, n_train_steps=10)
    clone.load_state_dict(torch.load(buf, weights_only=True))
    play(teacher, 100, np.random.default_rng(5))  # crosses two training rounds
    play(clone, 100, np.random.default_rng(5))
    assert [teacher.sample() for _ in range(30)] == [clone.sample() for _ in range(30)]
    assert teacher.diagnostics() == clone.diagnostics()


def test_expert_knowledge_is_required_and_validated():
    with pytest.raises(TeachBenchError, match="expert.success"):
        SetterSolver(SPACE, seed=0)
    with pytest.raises(TeachBenchError, match="expert.succes"):
        SetterSolver(SPACE, seed=0, expert={"succes": "env"})
    with pytest.raises(TeachBenchError, match="feasibility"):
        SetterSolver(SPACE, seed=0, expert=EK).sample_with_feasibility(1.5)


@pytest.mark.parametrize("ndim", [1, 12])
def test_one_and_high_dimensional_spaces(ndim):
    names = [f"x{i}" for i in range(ndim)]
    space = TaskSpace.box(names, [0.0] * ndim, [5.0] * ndim)
    teacher = make_teacher("setter_solver", space, seed=0, expert=EK, n_train_steps=20)
    rng = np.random.default_rng(0)
    for i in range(200):
        task = teacher.sample()
        assert space.contains(task)
        ok = bool(rng.random() < success_prob(space.to_unit(task)))
        teacher.update(Episode(task=task, episode_return=0.0, length=1, success=ok))
    assert teacher.n_rounds == 4
    assert all(space.contains(teacher.sample_with_feasibility(f)) for f in (0.0, 0.5, 1.0))
