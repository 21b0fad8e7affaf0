"""Covar-GMM against docs/references.md#covar-gmm: [task, time, reward] points, LP = positive time–reward covariance."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from envs.errors import TeachBenchError
from envs.task_space import TaskSpace
from envs.toy.student import SimulatedStudent
from teachers.base import Episode
from teachers.covar_gmm import CovarGMM
from teachers.gmm_fit import GMM
from teachers.registry import make_teacher

SPACE = TaskSpace.box(["a", "b"], [0.0, 0.0], [4.0, 1.0])


def play(t, task, r):
    t.update(Episode(task=task, episode_return=r, length=1))


def test_defaults_are_the_tma_settings_and_bad_values_name_the_key():
    t = make_teacher("covar_gmm", SPACE)
    assert (t.fit_rate, t.min_k, t.max_k, t.random_task_ratio) == (150, 2, 14, 0.1)
    with pytest.raises(TeachBenchError, match="teacher.min_k"):
        CovarGMM(SPACE, min_k=5, max_k=3)


def test_fit_points_are_task_relative_time_and_reward_of_the_window():
    t = CovarGMM(SPACE, fit_rate=10)
    for i in range(14):
        play(t, {"a": 0.4 * (i % 10), "b": 0.5}, float(i))
    pts = t.fit_points()  # window = last 10 episodes (4..13)
    assert pts.shape == (10, 4)
    np.testing.assert_allclose(pts[:, 2], [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.0, 0.1, 0.2, 0.3])  # (j mod 10) / 10
    np.testing.assert_allclose(pts[:, 3], np.arange(4, 14))
    np.testing.assert_allclose(pts[:, 0], [0.1 * (i % 10) for i in range(4, 14)])
    assert t.n_fits == 1 and t.gmm is not None  # refit after 10 episodes only


def test_learning_progress_is_positive_time_reward_covariance_and_drives_sampling():
    t = CovarGMM(SPACE, seed=0, random_task_ratio=0.0)
    cov = np.stack([np.eye(4) * 1e-6] * 3)
    cov[0, 2, 3] = cov[0, 3, 2] = -0.02  # regressing: LP 0
    cov[1, 2, 3] = cov[1, 3, 2] = 0.01
    cov[2, 2, 3] = cov[2, 3, 2] = 0.03
    for c in cov:
        c[2, 2] = c[3, 3] = 0.1
    means = np.array([[0.1, 0.1, 0.5, 0.2], [0.5, 0.5, 0.5, 0.2], [0.9, 0.9, 0.5, 0.2]])
    t.gmm = GMM(np.full(3, 1 / 3), means, cov)
    np.testing.assert_allclose(t.learning_progress(), [0.0, 0.01, 0.03])
    xs = np.array([SPACE.to_unit(t.sample()) for _ in range(4000)])
    near = np.argmin(((xs[:, None, :] - means[None, :, :2]) ** 2).sum(-1), axis=1)
    np.testing.assert_allclose(np.bincount(near, minlength=3) / 4000, [0.0, 0.25, 0.75], atol=0.025)


def test_finds_the_region_where_reward_grows_with_time():
    """Reward grows over time only for tasks with a < 1 (unit < 0.25): Covar-GMM should
    concentrate its non-random samples there."""
    t = CovarGMM(SPACE, seed=1, fit_rate=150, random_task_ratio=0.0)
    rng = np.random.default_rng(0)
    for i in range(600):
        task = t.sample()
        learning = task["a"] < 1.0
        play(t, task, (i / 600.0 if learning else 0.3) + 0.01 * rng.standard_normal())
    xs = np.array([t.sample()["a"] for _ in range(1000)])
    assert np.mean(xs < 1.0) > 0.6  # uniform would give 0.25


def test_state_round_trip_gives_identical_samples():
    student = SimulatedStudent()
    space = student.task_space()
    a = CovarGMM(space, seed=3, fit_rate=50)
    for _ in range(120):
        task = a.sample()
        play(a, task, student.practise(space.to_unit(task))[0])
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = CovarGMM(space, seed=0, fit_rate=50)
    b.load_state_dict(torch.load(buf, weights_only=True))
    sa, sb = [], []
    for t, out in ((a, sa), (b, sb)):
        for i in range(80):
            task = t.sample()
            out.append(task)
            play(t, task, 0.01 * i)
    assert sa == sb and a.diagnostics() == b.diagnostics()
    assert a.diagnostics()["n_components"] >= 2
