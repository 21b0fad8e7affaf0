"""Covar-GMM against facts of TeachMyAgent's ``CovarGMM`` and its benchmark settings
(docs/references.md#covar-gmm), each worked out by hand from the reference:

- an episode's time is ``(len(tasks) mod fit_rate) / fit_rate``, stamped on arrival;
- a refit every ``fit_rate`` episodes (the first after ``nb_bootstrap = fit_rate``) on the
  last ``fit_rate`` ``[task, time, reward]`` rows;
- ``potential_ks = np.arange(min_k, max_k)`` with the benchmark's ``--min_k 2 --max_k 15``;
- a component's LP is ``max(0, cov[-2, -1])`` (time row, reward column); a component is
  chosen proportionally to LP, uniformly when all LPs are 0;
- the task is the draw without its last two coordinates, clipped to the box;
- ``--random_percentage 10``: 10 % uniform tasks once fitted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from envs.task_space import TaskSpace
from teachers.base import Episode
from teachers.covar_gmm import CovarGMM
from teachers.gmm_fit import GMM, n_parameters

SPACE = TaskSpace.box(["height", "spacing"], [0.0, 0.0], [3.0, 6.0])
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "teacher" / "covar_gmm.yaml"


def play(t: CovarGMM, task, r: float) -> None:
    t.update(Episode(task=task, episode_return=r, length=1))


def four_components(time_reward_covs, other=0.0) -> GMM:
    """Components on the cube's corners with tiny spread, a hand-set time–reward covariance
    and a large task–reward covariance ``other`` (which TMA's rule must ignore)."""
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    k = len(time_reward_covs)
    means = np.column_stack([corners[:k], np.full(k, 0.5), np.full(k, 10.0)])
    cov = np.stack([np.diag([1e-4, 1e-4, 0.1, 100.0]) for _ in range(k)])
    for c, tr in zip(cov, time_reward_covs):
        c[2, 3] = c[3, 2] = tr
        c[0, 3] = c[3, 0] = other  # correlation other / 0.1: positive definite for |other| < 0.1
    return GMM(np.full(k, 1.0 / k), means, cov)


def corner_counts(t: CovarGMM, n: int) -> np.ndarray:
    xs = np.array([SPACE.to_unit(t.sample()) for _ in range(n)])
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    near = np.argmin(((xs[:, None, :] - corners[None]) ** 2).sum(-1), axis=1)
    return np.bincount(near, minlength=4) / n


def test_the_config_is_tma_benchmark_line():
    """TMA's benchmark: ``--fit_rate 150 --random_percentage 10 --min_k 2 --max_k 15``, raw
    rewards (no ``--scale_reward``). ``np.arange(2, 15)`` is 2..14: 13 mixture sizes."""
    params = yaml.safe_load(CONFIG.read_text())["params"]
    t = CovarGMM(SPACE, **params)
    assert t.fit_rate == 150 and t.random_task_ratio == 0.10 and t.reward_bounds is None
    assert t.refitter.ks == list(range(2, 15)) and len(t.refitter.ks) == 13


def test_time_is_the_position_in_the_batch_over_fit_rate():
    """TMA: ``all_times = np.arange(0, 1, 1/fit_rate)``; episode j gets ``all_times[j % fit_rate]``.
    With fit_rate 10, the 14 episodes j = 0..13 get 0.0..0.9, 0.0..0.3; at the refit of
    episode 20 the rows are one batch with times 0.0, 0.1, ..., 0.9 (never 1.0)."""
    t = CovarGMM(SPACE, fit_rate=10)
    for j in range(14):
        play(t, {"height": 0.3 * (j % 10), "spacing": 3.0}, float(j))
    pts = t.fit_points()
    np.testing.assert_allclose(pts[:, 2], [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.0, 0.1, 0.2, 0.3])
    np.testing.assert_allclose(pts[:, 3], np.arange(4, 14))  # raw reward, last column
    for j in range(14, 20):
        play(t, {"height": 1.0, "spacing": 3.0}, float(j))
    pts = t.fit_points()
    np.testing.assert_allclose(pts[:, 2], np.arange(10) / 10)
    np.testing.assert_allclose(pts[:, 3], np.arange(10, 20))


def test_refits_at_multiples_of_fit_rate_on_the_last_batch_only():
    """``len(tasks) >= nb_bootstrap`` (= fit_rate) and ``len(tasks) % fit_rate == 0``:
    fits after episodes 12, 24, 36 for fit_rate 12; never in between."""
    t = CovarGMM(SPACE, seed=0, fit_rate=12, min_k=2, max_k=3)
    rng = np.random.default_rng(0)
    fits = []
    for j in range(1, 37):
        play(t, t.sample(), float(rng.random()))
        fits.append(t.n_fits)
        assert t.fit_points().shape == (min(j, 12), 4)  # [2 task dims, time, reward]
    assert [j + 1 for j in range(36) if fits[j] != (fits[j - 1] if j else 0)] == [12, 24, 36]


def test_lp_is_the_positive_time_reward_covariance_only():
    """Time–reward covariances (-0.02, 0.01, 0.03, 0.0) give LP (0, 0.01, 0.03, 0), so the
    component probabilities are (0, 1/4, 3/4, 0); a larger task–reward covariance (0.05)
    does not count."""
    t = CovarGMM(SPACE, seed=0, random_task_ratio=0.0)
    t.gmm = four_components([-0.02, 0.01, 0.03, 0.0], other=0.05)
    np.testing.assert_allclose(t.learning_progress(), [0.0, 0.01, 0.03, 0.0])
    np.testing.assert_allclose(t.component_probabilities(), [0.0, 0.25, 0.75, 0.0])
    np.testing.assert_allclose(corner_counts(t, 4000), [0.0, 0.25, 0.75, 0.0], atol=0.025)


def test_all_non_positive_lp_picks_a_component_uniformly():
    """``proportional_choice``: ``np.sum(v) == 0`` -> ``randint(len(v))``."""
    t = CovarGMM(SPACE, seed=1, random_task_ratio=0.0)
    t.gmm = four_components([-0.05, -0.01, 0.0, -0.03])
    np.testing.assert_allclose(t.component_probabilities(), [0.25] * 4)
    np.testing.assert_allclose(corner_counts(t, 4000), [0.25] * 4, atol=0.025)


def test_a_draw_drops_time_and_reward_and_is_clipped_to_the_box():
    """``multivariate_normal(mean, cov)[:-2]`` then ``np.clip(task, mins, maxs)``: a single
    component centred outside the box at (1.5, -0.5) in cube units (time 0.5, reward 10)
    gives the corner (height 3, spacing 0) every time."""
    t = CovarGMM(SPACE, seed=2, random_task_ratio=0.0)
    cov = np.diag([1e-6, 1e-6, 0.1, 0.1])[None]
    t.gmm = GMM(np.ones(1), np.array([[1.5, -0.5, 0.5, 10.0]]), cov)
    for _ in range(20):
        assert t.sample() == {"height": 3.0, "spacing": 0.0}


def test_ten_percent_of_tasks_are_uniform_once_fitted():
    """``random_state.random() < random_task_ratio`` (0.10) -> uniform over the box. With every
    mixture draw on corner (0, 0), the uniform share is the share of tasks off that corner
    times P(a uniform task is off the 0.05-square at the corner) = 0.9975."""
    params = yaml.safe_load(CONFIG.read_text())["params"]
    t = CovarGMM(SPACE, seed=3, **params)
    t.gmm = four_components([0.05])
    xs = np.array([SPACE.to_unit(t.sample()) for _ in range(6000)])
    off = np.mean(np.abs(xs).max(axis=1) > 0.05)  # mixture draws: std 0.01, clipped at 0
    assert abs(off - 0.10) < 0.015


def test_aic_counts_the_parameters_of_a_full_covariance_mixture():
    """sklearn's AIC = -2 log L + 2 p, with p = k d(d+1)/2 + k d + (k - 1). For a 2-D task the
    points have d = 4: k = 2 gives 2*10 + 2*4 + 1 = 29, k = 14 gives 140 + 56 + 13 = 209."""
    assert n_parameters(2, 4) == 29
    assert n_parameters(14, 4) == 209


def test_teachdeeprl_reward_scaling():
    """teachDeepRL's controller: ``np.interp(r, (-150, 350), (0, 1))``, which clips: returns
    -200, -150, 100, 350, 400 reach the teacher as 0, 0, 0.5, 1, 1."""
    t = CovarGMM(SPACE, fit_rate=250, max_k=10, random_task_ratio=0.2, reward_bounds=[-150, 350])
    for r in (-200.0, -150.0, 100.0, 350.0, 400.0):
        play(t, {"height": 1.0, "spacing": 3.0}, r)
    np.testing.assert_allclose(t.fit_points()[:, 3], [0.0, 0.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(t.fit_points()[:, 2], np.arange(5) / 250)
    assert t.refitter.ks == list(range(2, 11))  # np.arange(2, 11, 1)
