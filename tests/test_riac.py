"""RIAC against REFERENCES §2: region tree, half-window ALP, split rule, three sampling modes."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from envs.errors import TeachBenchError
from envs.task_space import TaskSpace
from envs.toy.student import SimulatedStudent
from teachers.base import Episode
from teachers.registry import make_teacher
from teachers.riac import RIAC, Region, _masked_alp, region_alp

SPACE = TaskSpace.box(["a", "b"], [0.0, 0.0], [10.0, 1.0])


def play(t, task, r):
    t.update(Episode(task=task, episode_return=r, length=1))


def test_region_alp_is_abs_difference_of_half_means():
    assert region_alp([1.0]) == 0.0
    assert region_alp([0.0, 0.0, 1.0, 1.0]) == 1.0
    assert region_alp([4.0, 2.0, 1.0, 1.0, 1.0]) == pytest.approx(abs(3.0 - 1.0))  # older half = first 2
    rewards = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0])
    masks = np.array([[1, 0, 1, 1, 0, 1, 1], [0, 1, 0, 0, 1, 0, 0], [1, 0, 0, 0, 0, 0, 0]], dtype=bool)
    expected = [region_alp(rewards[m]) for m in masks]
    np.testing.assert_allclose(_masked_alp(rewards, masks), expected)


def test_defaults_are_the_tma_settings():
    t = make_teacher("riac", SPACE)
    assert (t.max_region_size, t.n_split_attempts, t.min_region_extent) == (150, 75, 0.1)
    assert (t.p_alp, t.p_random, t.perturb_std) == (0.7, 0.2, 0.1)
    with pytest.raises(TeachBenchError, match="teacher.p_alp"):
        RIAC(SPACE, p_alp=0.9, p_random=0.2)


def test_split_separates_regions_with_different_progress():
    t = RIAC(SPACE, seed=0, max_region_size=150)
    rng = np.random.default_rng(0)
    for i in range(151):
        u = rng.random(2)
        # reward grows with time only where a < 3 (unit 0.3)
        play(t, SPACE.from_unit(u), i / 150 if u[0] < 0.3 else 0.0)
    assert len(t.regions) == 2 and t.n_splits == 1
    r1, r2 = t.regions
    assert sum(len(r.rewards) for r in t.regions) == 151
    cut_dim = int(np.flatnonzero(r1.high < 1.0)[0])
    assert cut_dim == 0 and r1.high[0] == pytest.approx(0.3, abs=0.1)
    # both children keep at least 10% of the range, tile the parent, and own their points
    for r in t.regions:
        assert (r.high - r.low).min() >= 0.1 - 1e-9
        assert all(r.contains(p) for p in r.tasks)
    assert r1.alp() > r2.alp()


def test_unsplittable_region_forgets_its_oldest_point():
    t = RIAC(SPACE, seed=0, max_region_size=20, min_region_extent=0.49)
    for i in range(25):
        play(t, {"a": 5.0, "b": 0.5}, float(i))  # identical tasks: no split leaves two non-empty children
    assert len(t.regions) == 1 and t.regions[0].rewards == [float(i) for i in range(5, 25)]


def test_sampling_modes_follow_the_published_mix():
    t = RIAC(SPACE, seed=1)
    low = Region(np.array([0.0, 0.0]), np.array([0.2, 1.0]), [np.array([0.1, 0.5])] * 4, [0.0, 0.0, 1.0, 1.0])
    high = Region(np.array([0.2, 0.0]), np.array([1.0, 1.0]), [np.array([0.9, 0.9])] * 4, [0.5] * 4)
    t.regions = [low, high]
    t._reindex()
    np.testing.assert_allclose(t.region_probabilities(), [1.0, 0.0])
    xs = np.array([SPACE.to_unit(t.sample()) for _ in range(5000)])
    inside_low = (xs[:, 0] <= 0.2).mean()
    # 70% ALP region (all in `low`) + 20% uniform * 0.2 + 10% perturbed lowest-reward task
    # of `low` (at 0.1 with std 0.1: P(x <= 0.2) ~ 0.84)
    assert inside_low == pytest.approx(0.7 + 0.2 * 0.2 + 0.1 * 0.84, abs=0.03)


def test_state_round_trip_gives_identical_samples():
    student = SimulatedStudent()
    space = student.task_space()
    a = RIAC(space, seed=3, max_region_size=30)
    for _ in range(300):
        task = a.sample()
        play(a, task, student.practise(space.to_unit(task))[0])
    assert a.diagnostics()["n_regions"] > 3
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = RIAC(space, seed=0, max_region_size=30)
    b.load_state_dict(torch.load(buf, weights_only=True))
    sa, sb = [], []
    for t, out in ((a, sa), (b, sb)):
        for i in range(100):
            task = t.sample()
            out.append(task)
            play(t, task, 0.01 * i)
    assert sa == sb and a.diagnostics() == b.diagnostics()
