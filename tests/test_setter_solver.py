"""Setter-Solver: the judge learns the student's chance of success and the setter's tasks
follow the desired feasibility it is given."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from envs.errors import TeachBenchError
from envs.task_space import TaskSpace
from teachers.base import Episode
from teachers.registry import make_teacher
from teachers.setter_solver import ConditionalRealNVP, SetterAndJudge, SetterSolver

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
    """The flow inverts its samples and, with the constant ``-d/2 log(2 pi)`` that TMA's
    ``log_p`` leaves out, its density on the unit cube integrates to one (1-D and 3-D)."""
    torch.manual_seed(0)  # test-local: random coupling weights
    for d in (1, 3):
        flow = ConditionalRealNVP(d, hidden=16, n_blocks=2)
        f = torch.full((4000, 1), 0.3)
        x, logp = flow(torch.randn(4000, d), f)
        inside = ((x > 1e-4) & (x < 1 - 1e-4)).all(-1)  # float32 logit is exact away from the edges
        assert torch.allclose(flow.log_prob(x[inside], f[inside]), logp[inside], atol=2e-3)
    flow = ConditionalRealNVP(1, hidden=16, n_blocks=2)
    grid = torch.linspace(0, 1, 20001, dtype=torch.float64)[1:-1].unsqueeze(-1)
    with torch.no_grad():
        density = torch.exp(flow.double().log_prob(grid, torch.full((19999, 1), 0.7, dtype=torch.float64))
                            - 0.5 * math.log(2 * math.pi))
    assert float(torch.trapezoid(density.squeeze(-1), grid.squeeze(-1))) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
def test_setter_follows_desired_feasibility():
    """TMA's setter starts as a near point mass (nine couplings of scale ~0.33), so f means
    little at first; after 40 rounds of our schedule (narrow networks for speed) the tasks
    set for f = 0.9 are solved clearly more often than those set for f = 0.1."""
    rng = np.random.default_rng(0)
    teacher = SetterSolver(SPACE, seed=0, expert=EK, setter_hidden=16, batch_size=64)
    untrained = [realised_success(teacher, f) for f in (0.1, 0.9)]
    assert abs(untrained[1] - untrained[0]) < 0.15  # before training f means nothing
    play(teacher, 2000, rng)  # 40 training rounds
    low, high = (realised_success(teacher, f) for f in (0.1, 0.9))
    assert high - low > 0.2
    # the judge's estimate tracks the student's real chance of success
    assert teacher.predicted_feasibility({"a": 0.3, "b": 0.0}) > 0.7  # u = 0.1: always succeeds
    assert teacher.predicted_feasibility({"a": 2.7, "b": 0.0}) < 0.3  # u = 0.9: never
    d = teacher.diagnostics()
    assert d["rounds"] == 40 and d["judge_accuracy"] > 0.7
    for key in ("validity_loss", "feasibility_loss", "coverage_loss", "judge_loss"):
        assert np.isfinite(d[key])


def test_validity_pulls_toward_achieved_goals():
    """Only validity on: achieved goals around (0.2, 0.5) (any f), so the setter's tasks must
    move there from the untrained flow's spot near the centre, and the validity loss must fall."""
    nets = SetterAndJudge({"d": 2, "n_blocks": 2, "highway_blocks": 1, "setter_hidden": 16, "judge_hidden": [16],
                           "lr": 1e-3, "loss_noise": 0.1, "weights": [1.0, 0.0, 0.0], "n_train_steps": 50,
                           "batch_size": 64}, seed=0)
    gen = torch.Generator().manual_seed(0)
    goals = torch.tensor([[0.2, 0.5]]) + 0.05 * torch.randn(200, 2, generator=gen)
    fs, wins = torch.rand(200, 1, generator=gen), torch.ones(200)

    def mean_task() -> np.ndarray:
        with torch.no_grad():
            return nets.setter(torch.randn(2000, 2, generator=gen), torch.rand(2000, 1, generator=gen))[0].mean(0).numpy()

    before = mean_task()
    losses = []
    for _ in range(8):
        nets.train(goals, fs, wins)
        losses.append(nets.last["validity_loss"])
    after = mean_task()
    assert before[0] > 0.4 and after[0] < 0.3, (before, after)
    assert losses[-1] < losses[0] - 50


def test_success_threshold_from_expert_knowledge():
    teacher = SetterSolver(SPACE, seed=2, expert={"success": 100.0}, update_period=4, n_train_steps=1)
    for ret in (150.0, 100.0, 50.0, 101.0):
        teacher.update(Episode(task=teacher.sample(), episode_return=ret, length=1, success=False))
    assert [s for _, _, s in teacher.buffer] == [True, False, False, True]
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
