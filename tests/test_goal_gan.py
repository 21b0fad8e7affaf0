"""GoalGAN: labels goals by the student's success rate and its generator follows the
goals of intermediate difficulty."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from envs.errors import TeachBenchError
from envs.task_space import TaskSpace
from teachers.base import Episode
from teachers.goal_gan import GoalGAN
from teachers.registry import make_teacher

SPACE = TaskSpace.box(["a", "b"], [0.0, 0.0], [2.0, 1.0])
EK = {"success": "env", "initial": {"mean": {"a": 0.1, "b": 0.05}, "std": {"a": 0.1, "b": 0.05}}}
SMALL = dict(pretrain_iterations=150, n_gan_iterations=150)  # fewer steps than TMA's, same algorithm


def success_prob(u: np.ndarray) -> float:
    """A synthetic student: masters the unit-cube disc of radius 0.3 around the origin,
    fails beyond 0.6, in between its success probability falls linearly."""
    return float(np.clip((0.6 - np.hypot(*u[:2])) / 0.3, 0.0, 1.0))


def play(teacher, n, rng, space=SPACE):
    for i in range(n):
        task = teacher.sample()
        ok = bool(rng.random() < success_prob(space.to_unit(task)))
        teacher.update(Episode(task=task, episode_return=float(ok), length=1, success=ok, episode_id=i))


def band_fraction(teacher, n=500):
    """Fraction of generator outputs whose success probability is in [0.25, 0.75]."""
    g = teacher._generate(torch.randn(n, teacher.noise_dim, generator=torch.Generator().manual_seed(0)))
    r = np.hypot(g[:, 0], g[:, 1])
    return float(np.mean((r >= 0.375) & (r <= 0.525))), float(r.mean())


def test_labels_goals_by_success_rate():
    """Only goals the teacher generated are labelled (TMA ignores other episodes); the
    mastered goal (rate > r_max) joins the old goals (TMA's success buffer), not the good one."""
    teacher = GoalGAN(SPACE, seed=0, expert={"success": 230.0}, update_size=3, pretrain_samples=0,
                      n_gan_iterations=1, p_old=0.0)
    teacher.update(Episode(task={"a": 0.3, "b": 0.3}, episode_return=300.0, length=1))  # not generated: ignored
    returns = [(300.0, 250.0), (300.0, 100.0), (0.0, 230.0)]  # easy, intermediate, hard (230 is not > 230)
    goals = []
    for rets in returns:
        for r in rets:
            task = teacher.sample()
            teacher.update(Episode(task=task, episode_return=r, length=1))
        goals.append(task)
    d = teacher.diagnostics()
    assert (d["rate_good"], d["rate_too_easy"], d["rate_too_hard"]) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert d["gan_updates"] == 1
    assert list(teacher.old_goals) == [pytest.approx(SPACE.to_unit(goals[0]).tolist())]  # only the mastered goal


def test_each_goal_is_proposed_n_rollouts_times():
    teacher = GoalGAN(SPACE, seed=1, expert=EK, n_rollouts=2, pretrain_iterations=10)
    tasks = [teacher.sample() for _ in range(20)]
    assert all(tasks[i] == tasks[i + 1] for i in range(0, 20, 2))
    assert sum(tasks[i] != tasks[i + 2] for i in range(0, 18, 2)) >= 5  # then a new goal (noise: rarely equal at a corner)


def test_pretraining_puts_goals_in_the_easy_region():
    teacher = GoalGAN(SPACE, seed=2, expert=EK, **SMALL)
    assert teacher.diagnostics()["pretrain_source"] == "expert.initial"
    u = np.array([SPACE.to_unit(teacher.sample()) for _ in range(400)])
    assert np.hypot(u[:, 0], u[:, 1]).mean() < 0.3
    # without an easy region: TMA's random subspace, a Gaussian of std 10% of each range
    # around a uniformly random point (the teacher's first numpy draw)
    subspace = GoalGAN(SPACE, seed=2, expert={"success": "env"}, **SMALL)
    assert subspace.diagnostics()["pretrain_source"] == "random_subspace"
    centre = np.random.default_rng(2).uniform(0.0, 1.0, size=2)
    u = np.array([SPACE.to_unit(subspace.sample()) for _ in range(400)])
    assert np.abs(u.mean(0) - centre).max() < 0.1 and u.std(0).max() < 0.25


def test_generator_moves_to_intermediate_difficulty():
    rng = np.random.default_rng(0)
    teacher = GoalGAN(SPACE, seed=3, expert=EK)  # TMA's settings: 500 pretraining steps, 250 per update
    before, r_before = band_fraction(teacher)
    play(teacher, 1200, rng)  # ~570 labelled goals (replays are not labelled): 5 rounds
    after, r_after = band_fraction(teacher)
    d = teacher.diagnostics()
    assert d["gan_updates"] + d["gan_rounds_skipped"] == 5 and d["gan_updates"] >= 4 and d["labelled_good"] > 40
    assert before < 0.1 and after > 0.5
    assert r_after > r_before + 0.2  # generated goals moved out of the mastered disc
    # what the teacher actually samples is of intermediate difficulty far more often than uniform
    u = np.array([SPACE.to_unit(teacher.sample()) for _ in range(400)])
    probs = np.array([success_prob(x) for x in u])
    assert np.mean((probs > 0.0) & (probs < 1.0)) > 0.5


def test_old_goals_are_replayed():
    """TMA: a replayed goal is an old (mastered) goal plus the sampling noise, proposed once
    and never labelled."""
    rng = np.random.default_rng(4)
    teacher = GoalGAN(SPACE, seed=4, expert=EK, p_old=1.0, **SMALL)
    play(teacher, 400, rng)
    old = {tuple(np.round(g, 9)) for g in teacher.old_goals}
    assert old
    labelled = sum(teacher.label_counts)
    teacher.noise_std = 0.0  # the replayed goals exactly
    for i in range(40):
        task = teacher.sample()
        assert tuple(np.round(SPACE.to_unit(task), 9)) in old and teacher.repeats_left == 0
        teacher.update(Episode(task=task, episode_return=1.0, length=1, success=True, episode_id=i))
    assert sum(teacher.label_counts) == labelled


def test_nan_returns_are_dropped():
    teacher = GoalGAN(SPACE, seed=5, expert={"success": 0.5}, pretrain_iterations=10)
    for _ in range(20):
        teacher.update(Episode(task=teacher.sample(), episode_return=float("nan"), length=1))
    assert teacher.n_dropped == 20 and not teacher.batch_goals
    assert teacher.pending and all(o == [] for lists in teacher.pending.values() for o in lists)  # still awaiting


def test_state_round_trip_gives_identical_samples():
    rng = np.random.default_rng(6)
    teacher = GoalGAN(SPACE, seed=6, expert=EK, update_size=50, **SMALL)
    play(teacher, 230, rng)  # mid-batch, mid-goal
    buf = io.BytesIO()
    torch.save(teacher.state_dict(), buf)
    buf.seek(0)
    clone = GoalGAN(SPACE, seed=60, expert=EK, update_size=50, **{**SMALL, "pretrain_samples": 0})
    clone.load_state_dict(torch.load(buf, weights_only=True))
    play(teacher, 150, np.random.default_rng(7))  # crosses GAN updates
    play(clone, 150, np.random.default_rng(7))
    assert [teacher.sample() for _ in range(30)] == [clone.sample() for _ in range(30)]
    assert teacher.diagnostics() == clone.diagnostics()


def test_same_seed_same_tasks():
    a = GoalGAN(SPACE, seed=8, expert=EK, pretrain_iterations=20)
    b = GoalGAN(SPACE, seed=8, expert=EK, pretrain_iterations=20)
    assert [a.sample() for _ in range(20)] == [b.sample() for _ in range(20)]


def test_expert_knowledge_is_required_and_validated():
    with pytest.raises(TeachBenchError, match="expert.success"):
        GoalGAN(SPACE, seed=0)
    with pytest.raises(TeachBenchError, match="expert.success"):
        GoalGAN(SPACE, seed=0, expert={"initial": EK["initial"]})
    with pytest.raises(TeachBenchError, match="expert.success_threshold"):
        GoalGAN(SPACE, seed=0, expert={"success_threshold": 230})
    with pytest.raises(TeachBenchError, match="expert.success"):
        GoalGAN(SPACE, seed=0, expert={"success": "always"})
    with pytest.raises(TeachBenchError, match="teacher.r_min"):
        GoalGAN(SPACE, seed=0, expert=EK, r_min=0.9, r_max=0.5)


@pytest.mark.parametrize("ndim", [1, 10])
def test_one_and_high_dimensional_spaces(ndim):
    names = [f"x{i}" for i in range(ndim)]
    space = TaskSpace.box(names, [-1.0] * ndim, [1.0] * ndim)
    teacher = make_teacher("goal_gan", space, seed=0, expert={"success": "env"}, update_size=20,
                           pretrain_iterations=20, n_gan_iterations=20)
    rng = np.random.default_rng(0)
    for i in range(200):
        task = teacher.sample()
        assert space.contains(task)
        u = space.to_unit(task)
        ok = bool(rng.random() < np.clip((0.8 - u[0]) / 0.4, 0, 1))
        teacher.update(Episode(task=task, episode_return=0.0, length=1, success=ok))
    rounds = sum(teacher.label_counts) // 20  # replays and unfinished goals are not labelled
    assert rounds >= 4 and teacher.n_gan_updates + teacher.n_skipped_rounds == rounds
