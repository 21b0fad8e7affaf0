"""Several processes sharing a GMM refit (``fit_workers``, teachers/refit.py): the same mixtures
as one process, bit for bit.

The fact this rests on is arithmetic, not a reference's: a part of the numpy fit gives, for its
``k``, exactly the numbers the whole batch gives (the same generator draws, the same padding),
so the lowest-AIC fit over the parts is the whole fit's. A part that meets a singular covariance
hands the whole fit back to the calling process, whose per-``k`` fallback is then the serial one."""

from __future__ import annotations

import numpy as np
import pytest

from envs.errors import TeachBenchError
from envs.task_space import TaskSpace
from experiments.rundir import config_id
from teachers.base import Episode
from teachers.covar_gmm import CovarGMM
from teachers.gmm_fit import GMM, PartFailed, _fit_numpy, advance_like_fit, fit_best_gmm, fit_part, part_rows
from teachers.refit import Refitter, _Pool, fit_job


def _same(a: GMM | None, b: GMM | None) -> bool:
    if a is None or b is None:
        return a is b
    return (np.array_equal(a.weights, b.weights) and np.array_equal(a.means, b.means)
            and np.array_equal(a.covariances, b.covariances) and a.aic == b.aic)


@pytest.mark.parametrize("case", range(8))
def test_the_parts_of_a_fit_are_the_whole_fits_bit_for_bit(case):
    rng = np.random.default_rng(case)
    n, d = int(rng.integers(20, 200)), int(rng.integers(3, 7))
    x = rng.random((n, d))
    if case % 2:
        x = np.round(x * 4) / 4  # few distinct values, as discrete task parameters make
    ks = list(range(2, 15))
    whole = _fit_numpy(x, [k for k in ks if k <= n], np.random.default_rng(100 + case), 1e-6, 1e-3, 100)
    for parts in (2, 3):
        got: list[GMM | None] = [None] * len(whole)
        for p in range(parts):
            for i, g in zip(part_rows(len(whole), p, parts), fit_part(x, ks, np.random.default_rng(100 + case), p, parts)):
                got[i] = g
        assert all(_same(a, b) for a, b in zip(whole, got))


def _inputs(points: np.ndarray, seed: int, reg_covar: float = 1e-6) -> dict:
    return {"points": points, "ks": list(range(2, 15)), "seed": seed, "backend": "numpy", "reg_covar": reg_covar}


def test_a_pool_of_processes_returns_what_one_fit_returns():
    pool = _Pool(3, "teacher.fit_worker")
    try:
        for seed in range(3):
            inputs = _inputs(np.random.default_rng(seed).random((150, 4)), seed)
            pool.submit(inputs)
            assert pool.result() == fit_job(inputs)
    finally:
        pool.close()


def test_fewer_usable_k_than_workers_leaves_the_other_workers_idle():
    """3 points fit only k = 2, 3 (k <= points): two of four workers get a part; 1 point, none."""
    pool = _Pool(4, "teacher.fit_worker")
    try:
        for n in (1, 3, 5):
            inputs = _inputs(np.random.default_rng(n).random((n, 3)), 1)
            pool.submit(inputs)
            assert len(pool.sent) == max(0, min(4, n - 1)) and pool.result() == fit_job(inputs)
    finally:
        pool.close()


def test_a_part_with_a_singular_covariance_falls_back_to_the_whole_fit():
    """Binary points without covariance regularisation: components of identical points have a
    zero covariance, so the batch raises and the serial fit goes k by k."""
    points = np.random.default_rng(0).integers(0, 2, size=(40, 3)).astype(float)
    with pytest.raises(PartFailed):
        fit_part(points, range(2, 15), np.random.default_rng(0), 0, 2, reg_covar=0.0)
    inputs = _inputs(points, 0, reg_covar=0.0)
    pool = _Pool(2, "teacher.fit_worker")
    try:
        pool.submit(inputs)
        assert pool.result() == fit_job(inputs)
    finally:
        pool.close()


def test_advance_like_fit_moves_a_generator_as_a_fit_does():
    for n, points in ((150, np.random.default_rng(0).random((150, 4))), (3, np.random.default_rng(1).random((3, 2))),
                      (1, np.random.default_rng(2).random((1, 2))), (10, np.full((10, 2), np.nan))):
        fitted, advanced = np.random.default_rng(7), np.random.default_rng(7)
        fit_best_gmm(points, range(2, 15), fitted)
        advance_like_fit(advanced, points, range(2, 15))
        assert fitted.bit_generator.state == advanced.bit_generator.state, n


def test_a_lag_0_shared_refit_with_a_singular_covariance_is_the_serial_fit_and_draws():
    points = np.random.default_rng(0).integers(0, 2, size=(40, 3)).astype(float)
    with pytest.raises(PartFailed):  # the parts fail from this generator state: the fallback is what runs
        fit_part(points, range(2, 15), np.random.default_rng(5), 0, 2, reg_covar=0.0)
    serial = Refitter(range(2, 15), "numpy", 0.0)
    shared = Refitter(range(2, 15), "numpy", 0.0, fit_workers=2)
    try:
        a_rng, b_rng = np.random.default_rng(5), np.random.default_rng(5)
        a, b = serial.at_boundary(points, a_rng), shared.at_boundary(points, b_rng)
        assert _same(a, b) and a_rng.bit_generator.state == b_rng.bit_generator.state
    finally:
        shared.close()


def _play(teacher: CovarGMM, episodes: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    installed = []
    for i in range(episodes):
        task = teacher.sample()
        reward = float(task["a"] + rng.normal(0, 0.1))
        teacher.update(Episode(task=task, episode_return=reward, length=10))
        installed.append(None if teacher.gmm is None else teacher.gmm.to_state())
    return installed


@pytest.mark.parametrize("lag", [0, 1])
def test_covar_gmm_with_two_fit_workers_installs_the_same_mixtures_and_tasks(lag):
    """At lag 1 the parts start from the drawn seed; at lag 0 from a copy of the teacher's own
    generator, which must then be where one process's fit leaves it (the tasks drawn after
    the refits show it)."""
    space = TaskSpace.box(["a", "b"], [0.0, 0.0], [1.0, 1.0])
    one = CovarGMM(space, seed=3, fit_rate=30, max_k=8, fit_lag=lag)
    two = CovarGMM(space, seed=3, fit_rate=30, max_k=8, fit_lag=lag, fit_workers=2)
    try:
        a, b = _play(one, 160, 0), _play(two, 160, 0)
        assert a == b and sum(x is not None for x in a) > 0 and one.n_fits == two.n_fits == 5 - lag
        assert [one.sample() for _ in range(20)] == [two.sample() for _ in range(20)]
        assert one.rng.bit_generator.state == two.rng.bit_generator.state
    finally:
        one.refitter.close()
        two.refitter.close()


@pytest.mark.parametrize("kwargs", [dict(fit_workers=0), dict(fit_workers=2.5),
                                    dict(fit_workers=2, fit_lag=1, fit_worker="thread"),
                                    dict(fit_workers=2, gmm_backend="sklearn")])
def test_fit_workers_outside_a_numpy_refit_in_processes_is_an_error_naming_the_key(kwargs):
    with pytest.raises(TeachBenchError, match="fit_workers"):
        CovarGMM(TaskSpace.box(["a"], [0.0], [1.0]), **kwargs)


def test_fit_workers_is_not_part_of_a_runs_identity():
    cfg = {"env": {"name": "gridworld"}, "teacher": {"name": "covar_gmm", "params": {"fit_lag": 1}}, "seed": 0}
    shared = {**cfg, "teacher": {"name": "covar_gmm", "params": {"fit_lag": 1, "fit_workers": 4}}}
    assert config_id(cfg) == config_id(shared)
