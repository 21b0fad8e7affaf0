"""ADR: what it samples as a synthetic student succeeds or fails at its boundaries."""

from __future__ import annotations

import io
from collections import deque

import numpy as np
import pytest
import torch

from envs.errors import TeachBenchError
from envs.task_space import TaskSpace
from teachers.adr import ADR
from teachers.base import Episode
from teachers.registry import make_teacher

SPACE = TaskSpace.box(["height", "spacing"], [0.0, 0.0], [3.0, 6.0])
EK = {"reward_thresholds": [0.0, 180.0], "initial": {"mean": {"height": 0.3, "spacing": 0.6}}}


def play(teacher, student, n, lookahead=4):
    """Play ``n`` episodes with a vector-env-like look-ahead: each episode is reported
    ``lookahead`` samples after it was proposed."""
    queue: deque = deque()
    for i in range(n):
        queue.append(teacher.sample())
        if len(queue) > lookahead:
            task = queue.popleft()
            teacher.update(Episode(task=task, episode_return=student(task), length=10, episode_id=i))


def test_starts_as_the_expert_point():
    teacher = ADR(SPACE, seed=0, expert=EK)
    tasks = [teacher.sample() for _ in range(20)]
    assert all(t == pytest.approx({"height": 0.3, "spacing": 0.6}) for t in tasks)


def test_expands_when_returns_exceed_threshold():
    teacher = ADR(SPACE, seed=1, expert=EK)
    play(teacher, lambda task: 200.0, 2000)
    d = teacher.diagnostics()
    # every bound expanded to the edges of the space
    assert d["bound.height.low"] == pytest.approx(0.0) and d["bound.spacing.low"] == pytest.approx(0.0)
    assert d["bound.height.high"] == pytest.approx(3.0) and d["bound.spacing.high"] == pytest.approx(6.0)
    tasks = np.array([SPACE.to_unit(teacher.sample()) for _ in range(500)])
    assert tasks.min(0).max() < 0.05 and tasks.max(0).min() > 0.95  # samples cover the space


def test_settles_at_the_students_competence_edge():
    """Success iff height < 1.65: the upper height bound must stop near 1.65 (it expands
    past, fails, contracts) while spacing (irrelevant) expands to its edge."""
    teacher = ADR(SPACE, seed=2, expert=EK)
    play(teacher, lambda task: 200.0 if task["height"] < 1.65 else -100.0, 4000)
    d = teacher.diagnostics()
    assert 1.4 <= d["bound.height.high"] <= 1.9
    assert d["bound.spacing.high"] == pytest.approx(6.0)
    assert d["contractions"] > 0 and d["expansions"] > 0
    heights = np.array([teacher.sample()["height"] for _ in range(500)])
    assert heights.max() <= d["bound.height.high"] + 1e-9


def test_contracts_below_threshold():
    ek = {"reward_thresholds": [0.0, 180.0], "initial": {"mean": {"height": 1.5, "spacing": 3.0}}}
    teacher = ADR(SPACE, seed=3, expert=ek)
    teacher.lower[:] = 0.2
    teacher.upper[:] = 0.8
    play(teacher, lambda task: -50.0, 1500)
    d = teacher.diagnostics()
    assert d["contractions"] > 0 and d["expansions"] == 0
    widths = teacher.upper - teacher.lower
    assert np.all(widths < 0.2) and np.all(widths >= 0)


def test_between_thresholds_nothing_moves():
    teacher = ADR(SPACE, seed=4, expert=EK)
    play(teacher, lambda task: 90.0, 500)
    assert teacher.diagnostics()["volume"] == 0.0
    assert teacher.n_expand == teacher.n_contract == 0


def test_nan_returns_are_dropped():
    teacher = ADR(SPACE, seed=5, expert=EK)
    play(teacher, lambda task: float("nan"), 300)
    assert teacher.n_dropped == 300 - 4 and teacher.n_expand == 0
    assert all(len(q) == 0 for pair in teacher.queues for q in pair)
    assert SPACE.contains(teacher.sample())


def test_state_round_trip_gives_identical_samples():
    student = lambda task: 200.0 if task["height"] < 2.0 else -100.0  # noqa: E731
    teacher = ADR(SPACE, seed=6, expert=EK)
    play(teacher, student, 700)
    buf = io.BytesIO()
    torch.save(teacher.state_dict(), buf)
    buf.seek(0)
    clone = ADR(SPACE, seed=999, expert=EK)
    clone.load_state_dict(torch.load(buf, weights_only=True))
    play(teacher, student, 300)
    play(clone, student, 300)
    assert [teacher.sample() for _ in range(50)] == [clone.sample() for _ in range(50)]
    assert teacher.diagnostics() == clone.diagnostics()


def test_same_seed_same_tasks():
    a, b = ADR(SPACE, seed=7, expert=EK), ADR(SPACE, seed=7, expert=EK)
    play(a, lambda t: 200.0, 400)
    play(b, lambda t: 200.0, 400)
    assert [a.sample() for _ in range(20)] == [b.sample() for _ in range(20)]


def test_expert_knowledge_is_required_and_validated():
    with pytest.raises(TeachBenchError, match="expert.initial"):
        ADR(SPACE, seed=0, expert={"reward_thresholds": [0, 180]})
    with pytest.raises(TeachBenchError, match="expert.reward_thresholds"):
        ADR(SPACE, seed=0, expert={"initial": EK["initial"]})
    with pytest.raises(TeachBenchError, match="expert.initial"):
        ADR(SPACE, seed=0)
    with pytest.raises(TeachBenchError, match="expert.reward_threshold"):  # misnamed key
        ADR(SPACE, seed=0, expert={**EK, "reward_threshold": [0, 180]})
    with pytest.raises(TeachBenchError, match="expert.initial.mean.spacing"):
        ADR(SPACE, seed=0, expert={**EK, "initial": {"mean": {"height": 0.0}}})
    with pytest.raises(TeachBenchError, match="expert.initial.mean.height"):
        ADR(SPACE, seed=0, expert={**EK, "initial": {"mean": {"height": 9.0, "spacing": 1.0}}})
    with pytest.raises(TeachBenchError, match="teacher.boundary_prob"):
        ADR(SPACE, seed=0, expert=EK, boundary_prob=1.5)


@pytest.mark.parametrize("ndim", [1, 12])
def test_one_and_high_dimensional_spaces(ndim):
    names = [f"x{i}" for i in range(ndim)]
    space = TaskSpace.box(names, [0.0] * ndim, [1.0] * ndim)
    ek = {"reward_thresholds": [0.0, 1.0], "initial": {"mean": {n: 0.0 for n in names}}}
    teacher = make_teacher("adr", space, seed=0, expert=ek, queue_len=5)
    # success iff every coordinate < 0.5
    play(teacher, lambda task: 2.0 if max(task.values()) < 0.5 else -1.0, 200 * ndim + 400)
    tasks = np.array([space.to_unit(teacher.sample()) for _ in range(300)])
    assert tasks.max() > 0.2  # expanded
    assert 0.3 <= teacher.upper.max() <= 0.8  # but held near the edge of competence


@pytest.mark.parametrize("name", ["adr", "spdl", "goal_gan", "setter_solver"])
def test_teacher_configs_build_with_env_expert_knowledge(name):
    """configs/teacher/<name>.yaml takes its EK from the env config's `expert:` block and
    stops with a clear error naming the missing key when the env gives none."""
    from pathlib import Path

    from omegaconf import OmegaConf

    cfg_teacher = OmegaConf.load(Path(__file__).parents[1] / "configs" / "teacher" / f"{name}.yaml")
    ek = {"success": 1.0, "reward_thresholds": [0.0, 180.0],
          "initial": {"mean": {"height": 0.0, "spacing": 6.0}, "std": {"height": 0.3, "spacing": 0.6}},
          "target": {"mean": {"height": 1.5, "spacing": 3.0}, "std": {"height": 1.5, "spacing": 3.0}}}
    fast = {"pretrain_samples": 0} if name == "goal_gan" else {}
    for env, ok in (({"expert": ek}, True), ({}, False)):
        cfg = OmegaConf.create({"env": env, "teacher": cfg_teacher})
        params = {**OmegaConf.to_container(cfg.teacher.params, resolve=True), **fast}
        assert cfg.teacher.name == name
        if ok:
            assert SPACE.contains(make_teacher(name, SPACE, seed=0, **params).sample())
        else:
            with pytest.raises(TeachBenchError, match="expert"):
                make_teacher(name, SPACE, seed=0, **params)
