"""The batched teacher API (``sample_batch`` / ``update_batch``) keeps the per-episode contract.

For every registered teacher: a batched sample is deterministic for a seed; the same
episodes given through ``update_batch`` (in uneven batches) leave exactly the state that
``update`` one by one leaves. For the teachers with a vectorised sampler (random, ALP-GMM,
Covar-GMM, RIAC) the batch draws come from the same distribution as repeated ``sample()``
(two-sample Kolmogorov–Smirnov per dimension). ALP-GMM's in-batch nearest neighbour is
checked on a case worked out by hand from the paper's rule (ALP = |r − r_nearest earlier|).
The lag-1 refit schedule (:mod:`teachers.refit`) gives the same fits in a worker process
as inline, and survives a checkpoint taken while a fit is in flight.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
from scipy.stats import ks_2samp

from envs.task_space import Dim, TaskSpace
from teachers.alp_gmm import ALPGMM
from teachers.base import Episode, Teacher
from teachers.registry import teacher_class
from tests.test_fuzz_teachers import HUGE_DIM_PARAMS, TEACHER_PARAMS, episode_for, roundtrip
from tests.test_fuzz_teachers import build as fuzz_build

SPACE = TaskSpace([Dim("a", 0.0, 3.0), Dim("b", 0.0, 6.0), Dim("n", 1, 9, kind="discrete")])


def build(name: str, space: TaskSpace, seed: int = 0, **overrides: Any) -> Teacher:
    """The fuzz suite's fast settings, plus its small networks for the neural teachers."""
    accepted = inspect.signature(teacher_class(name).__init__).parameters
    small = {k: v for k, v in HUGE_DIM_PARAMS.get(name, {}).items() if k in accepted and name in SMALL_NETS}
    return fuzz_build(name, space, seed=seed, **{**small, **overrides})


SMALL_NETS = ("goal_gan", "setter_solver", "clutr", "paired")


def _equal(x: Any, y: Any) -> bool:
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(_equal(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return isinstance(y, (list, tuple)) and len(x) == len(y) and all(_equal(a, b) for a, b in zip(x, y))
    if hasattr(x, "shape") or hasattr(y, "shape"):
        return np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)
    if isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y):
        return True
    return x == y


def _episodes(teacher: Teacher, n: int, seed: int) -> list[Episode]:
    """``n`` episodes on tasks the teacher itself proposes, with rewards that depend on
    the task (so that learning progress is not zero everywhere)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        task = teacher.sample()
        u = SPACE.to_unit(task) if "level" not in task else np.full(3, 0.5)
        out.append(episode_for(teacher, task, float(u.sum() * (1 + i / n) + 0.1 * rng.standard_normal()), i))
    return out


@pytest.mark.parametrize("name", TEACHER_PARAMS)
def test_update_batch_leaves_the_state_of_one_by_one(name):
    source = build(name, SPACE, seed=3)
    episodes = _episodes(source, 90, seed=1)
    one, batched = build(name, SPACE, seed=5), build(name, SPACE, seed=5)
    for ep in episodes:
        one.update(Episode(**{**ep.__dict__, "task": dict(ep.task)}))
    sizes = [1, 7, 13, 2, 31, 36]
    start = 0
    for size in sizes:
        batched.update_batch([Episode(**{**ep.__dict__, "task": dict(ep.task)}) for ep in episodes[start:start + size]])
        start += size
    assert start == len(episodes)
    assert _equal(roundtrip(one.state_dict()), roundtrip(batched.state_dict()))


@pytest.mark.parametrize("name", TEACHER_PARAMS)
def test_sample_batch_is_deterministic_and_valid(name):
    draws = []
    for _ in range(2):
        teacher = build(name, SPACE, seed=11)
        teacher.update_batch(_episodes(build(name, SPACE, seed=2), 40, seed=0))
        draws.append([teacher.sample_batch(k) for k in (1, 5, 17)])
    assert draws[0] == draws[1]
    for batch, k in zip(draws[0], (1, 5, 17)):
        assert len(batch) == k
        for task in batch:
            assert "level" in task or SPACE.contains(task)


@pytest.mark.parametrize("name", ["random", "alp_gmm", "covar_gmm", "riac"])
def test_vectorised_sampling_matches_the_per_episode_distribution(name):
    teacher = build(name, SPACE, seed=0)
    teacher.update_batch(_episodes(build(name, SPACE, seed=1), 64, seed=0))
    if name in ("alp_gmm", "covar_gmm"):
        assert teacher.gmm is not None  # the mixture branch is what is being compared
    if name == "riac":
        assert teacher.n_splits >= 1  # several regions with different ALPs are what is being compared
    state = teacher.state_dict()
    single, batched = build(name, SPACE, seed=0), build(name, SPACE, seed=0)
    single.load_state_dict(state)
    batched.load_state_dict(state)
    batched.rng = np.random.default_rng(12345)  # independent draws, same distribution
    a = np.array([SPACE.to_array(single.sample()) for _ in range(3000)])
    b = np.array([SPACE.to_array(t) for _ in range(30) for t in batched.sample_batch(100)])
    for j, dim in enumerate(SPACE.dims):
        p = ks_2samp(a[:, j], b[:, j]).pvalue
        assert p > 1e-3, f"{name}: dimension {dim.name} differs between sample() and sample_batch() (KS p={p:.2g})"


def test_alp_nearest_neighbour_inside_one_batch_worked_case():
    """ALP = |r − r of the nearest earlier task| (teachDeepRL's rule), also when the nearest
    earlier task is in the same batch. Tasks on one axis, no history threshold:
    e0 at 0.10 (r=0) has no earlier task: ALP 0; e1 at 0.90 (r=1): nearest earlier is e0,
    ALP 1; e2 at 0.12 (r=0.5): nearest earlier is e0 (0.02 away), ALP 0.5; e3 at 0.85
    (r=0.25): nearest earlier is e1 (0.05 away), ALP 0.75."""
    space = TaskSpace([Dim("x", 0.0, 1.0)])
    teacher = ALPGMM(space, seed=0, nn_min_history=0, fit_rate=1000)
    xs, rs = [0.10, 0.90, 0.12, 0.85], [0.0, 1.0, 0.5, 0.25]
    teacher.reward_bounds = None
    teacher.update_batch([Episode(task={"x": x}, episode_return=r, length=1, episode_id=i)
                          for i, (x, r) in enumerate(zip(xs, rs))])
    assert [round(float(w[-1]), 12) for w in teacher.window] == [0.0, 1.0, 0.5, 0.75]


@pytest.mark.parametrize("name", ["alp_gmm", "covar_gmm"])
def test_lag1_refit_same_in_worker_process_and_inline_and_across_a_checkpoint(name):
    episodes = _episodes(build(name, SPACE, seed=1), 70, seed=4)
    proc = build(name, SPACE, seed=9, fit_lag=1, fit_worker="process")
    inline = build(name, SPACE, seed=9, fit_lag=1, fit_worker="inline")
    resumed = build(name, SPACE, seed=9, fit_lag=1, fit_worker="process")
    for teacher in (proc, inline):
        teacher.update_batch([Episode(**{**e.__dict__, "task": dict(e.task)}) for e in episodes])
    # checkpoint after 37 episodes (a fit is in flight), resume in a fresh teacher
    first = build(name, SPACE, seed=9, fit_lag=1, fit_worker="process")
    first.update_batch([Episode(**{**e.__dict__, "task": dict(e.task)}) for e in episodes[:37]])
    resumed.load_state_dict(roundtrip(first.state_dict()))
    resumed.update_batch([Episode(**{**e.__dict__, "task": dict(e.task)}) for e in episodes[37:]])
    for other in (inline, resumed):
        assert _equal(roundtrip(proc.state_dict()), roundtrip(other.state_dict()))
    assert proc.n_fits == len(episodes) // proc.fit_rate - 1  # the last fit is still in flight
    # lag 1 has installed as many fits as lag 0 had one fit period earlier
    lag0 = build(name, SPACE, seed=9)
    lag0.update_batch([Episode(**{**e.__dict__, "task": dict(e.task)}) for e in episodes[: len(episodes) - proc.fit_rate]])
    assert lag0.n_fits == proc.n_fits


def test_riac_vectorised_sampling_matches_on_a_skewed_tree():
    """RIAC with progress only where a < 0.75 (of 3): the tree splits there and the region
    sampler is far from uniform, so a wrong mode or region probability in sample_batch
    shows in the task distribution (each dimension, and the share of tasks with a < 0.75)."""
    from teachers.riac import RIAC

    teacher = RIAC(SPACE, seed=0, max_region_size=30, n_split_attempts=20)
    rng = np.random.default_rng(0)
    for i in range(1500):
        task = teacher.sample()
        progress = i / 1500 if task["a"] < 0.75 else 0.0
        teacher.update(Episode(task=task, episode_return=progress + 0.01 * rng.standard_normal(), length=1,
                               episode_id=i))
    assert teacher.n_splits >= 3
    state = teacher.state_dict()
    single, batched = RIAC(SPACE, seed=0, max_region_size=30), RIAC(SPACE, seed=0, max_region_size=30)
    single.load_state_dict(state)
    batched.load_state_dict(state)
    batched.rng = np.random.default_rng(777)
    a = np.array([SPACE.to_array(single.sample()) for _ in range(4000)])
    b = np.array([SPACE.to_array(t) for _ in range(40) for t in batched.sample_batch(100)])
    assert (a[:, 0] < 0.75).mean() > 0.4  # uniform would give 0.25: the tree's regions drive sampling
    for j, dim in enumerate(SPACE.dims):
        p = ks_2samp(a[:, j], b[:, j]).pvalue
        assert p > 1e-3, f"riac: dimension {dim.name} differs between sample() and sample_batch() (KS p={p:.2g})"
    share_a, share_b = (a[:, 0] < 0.75).mean(), (b[:, 0] < 0.75).mean()
    assert abs(share_a - share_b) < 4 * np.sqrt(share_a * (1 - share_a) * (1 / 4000 + 1 / 4000))


def test_lag1_worker_starts_with_the_teacher():
    """The fit worker is started with the teacher (its start-up overlaps the run's set-up)
    and again after a checkpoint load drops the old one; inline and lag-0 teachers have none."""
    teacher = build("alp_gmm", SPACE, seed=0, fit_lag=1, fit_worker="process")
    worker = teacher.refitter._worker
    assert worker is not None and worker.proc.poll() is None
    teacher.load_state_dict(roundtrip(teacher.state_dict()))
    assert teacher.refitter._worker is not None and teacher.refitter._worker is not worker
    worker.proc.wait(timeout=10)  # the dropped one was stopped
    for kw in ({"fit_lag": 1, "fit_worker": "inline"}, {}):
        assert build("alp_gmm", SPACE, seed=0, **kw).refitter._worker is None
    teacher.refitter._worker.close()


def test_covar_gmm_update_batch_with_reward_bounds_and_boundaries_inside_a_batch():
    """Covar-GMM's vectorised update (clipped and scaled rewards, several refits inside one
    batch) leaves the one-by-one state, samples included."""
    episodes = _episodes(build("covar_gmm", SPACE, seed=3), 130, seed=2)
    kw = {"fit_rate": 20, "reward_bounds": [0.5, 2.5]}
    one, batched = (build("covar_gmm", SPACE, seed=5, **kw) for _ in range(2))
    for ep in episodes:
        one.update(Episode(**{**ep.__dict__, "task": dict(ep.task)}))
    for start in (0, 3, 70, 130):
        part = episodes[start:{0: 3, 3: 70, 70: 130, 130: 130}[start]]
        if part:
            batched.update_batch([Episode(**{**ep.__dict__, "task": dict(ep.task)}) for ep in part])
    assert one.n_fits == batched.n_fits == 6
    assert _equal(roundtrip(one.state_dict()), roundtrip(batched.state_dict()))
    assert one.sample_batch(40) == batched.sample_batch(40)
