"""ALP-GMM's batched update gives, for a seed, exactly the samples and state of the
per-episode path (issue 18 speed-up of ``update_batch``).

The reference is computed in the test itself: a twin teacher with the same seed fed the
same episodes one at a time through ``update`` (the paper's per-episode loop, step 2 of
docs/references.md#alp-gmm, with the index's single-point ``nearest``). The run is long
(5,000 episodes, over 20 refits) and full of exact distance ties: two discrete dimensions
and a continuous one that the mixture's samples clip to the cube's faces, so that nearest
neighbours are often duplicates or several distinct points at the same distance. Batches
have random sizes (1 to 40, many of 1–6 as at 1024 mazes); a small ``min_tail`` also runs
the index's small tail tree and its rebuilds many times inside batches.
"""

from __future__ import annotations

import numpy as np
import pytest

from envs.task_space import Dim, TaskSpace
from teachers.alp_gmm import ALPGMM
from teachers.base import Episode
from teachers.nearest import NearestIndex

SPACE = TaskSpace([Dim("n", 1, 20, kind="discrete"), Dim("a", 0.0, 2.0), Dim("m", 0, 10, kind="discrete")])


def _reward(task: dict, i: int, rng: np.random.Generator) -> float:
    """Depends on the task and on time (so ALP is not zero) and is often exactly repeated."""
    base = task["n"] * 10.0 - 40.0 * task["m"] + (60.0 if task["a"] >= 2.0 else 25.0 * task["a"])
    return float(base + (i // 500) * 7.0 + (rng.integers(3) * 5.0 if rng.random() < 0.5 else 0.0))


@pytest.mark.parametrize("min_tail", [256, 8])
def test_update_batch_equals_one_by_one_on_a_long_run_with_ties(min_tail):
    one, batched = ALPGMM(SPACE, seed=7), ALPGMM(SPACE, seed=7)
    for t in (one, batched):
        t.history = NearestIndex(SPACE.ndim, min_tail=min_tail)
    rng = np.random.default_rng(123)
    sizes = np.where(rng.random(1000) < 0.7, rng.integers(1, 7, 1000), rng.integers(1, 41, 1000))
    n, dup_nearest, distinct_ties = 0, 0, 0
    for size in sizes.tolist():
        if n >= 5000:
            break
        tasks = batched.sample_batch(size)
        assert tasks == one.sample_batch(size)  # same state so far: the same draws
        # the task played (Episode.task) is often the proposal snapped to a grid, as an env
        # with a coarse level generator does: many distinct points at equal distances
        tasks = [{**t, "a": round(t["a"] * 4) / 4} if rng.random() < 0.6 else t for t in tasks]
        returns = [_reward(task, n + k, rng) for k, task in enumerate(tasks)]
        for k, (task, ret) in enumerate(zip(tasks, returns)):
            if len(one.history) > 0:  # count the ties the run holds (brute force)
                pts = one.history.points
                d2 = ((pts - SPACE.to_unit(task)) ** 2).sum(1)
                at_min = pts[d2 == d2.min()]
                dup_nearest += d2.min() == 0.0
                distinct_ties += len(np.unique(at_min, axis=0)) > 1
            one.update(Episode(task=dict(task), episode_return=ret, length=1, episode_id=n + k))
        batched.update_batch([Episode(task=dict(task), episode_return=ret, length=1, episode_id=n + k)
                              for k, (task, ret) in enumerate(zip(tasks, returns))])
        n += size
        assert batched.last_alp == one.last_alp
        assert [w.tolist() for w in batched.window] == [w.tolist() for w in one.window]
    assert n >= 5000 and one.n_fits >= 20
    # the run is full of exact ties: duplicates at distance 0 (about 1,800 here) and
    # several distinct points at the nearest distance (about 115)
    assert dup_nearest > 1000 and distinct_ties > 50
    a, b = one.state_dict(), batched.state_dict()
    assert a["rng"] == b["rng"] and a["counters"] == b["counters"]
    for key in ("history", "rewards", "window", "n_fits", "n_failed_fits", "last_alp"):
        assert a["algo"][key] == b["algo"][key], key
    assert a["algo"]["gmm"] == b["algo"]["gmm"]
    assert batched.sample_batch(64) == one.sample_batch(64)


@pytest.mark.parametrize("fit_lag", [0, 1])
def test_deferred_alp_samples_and_fits_as_one_by_one_when_nothing_reads_the_state(fit_lag):
    """As the bridge at 1024 mazes uses it: a sample and an update per vector step, no read
    of the teacher's state in between, so the ALP of finished episodes is queued across
    steps (``update_batch`` only queues them until a refit boundary or PENDING_MAX). Every
    step's sample, and the state at the end, are the one-by-one twin's."""
    from teachers.alp_gmm import PENDING_MAX

    kw = {"fit_rate": 150, "fit_lag": fit_lag, "fit_worker": "inline"}
    one, batched = ALPGMM(SPACE, seed=3, **kw), ALPGMM(SPACE, seed=3, **kw)
    rng = np.random.default_rng(5)
    n, most_queued = 0, 0
    final = False
    while not final:
        final = n >= 1500  # past the 10th boundary: a last step of 2 episodes, which stay queued
        size = 2 if final else int(rng.integers(0, 8)) if rng.random() < 0.97 else int(rng.integers(60, 200))
        tasks = batched.sample_batch(max(size, 1))[:size]
        assert tasks == one.sample_batch(max(size, 1))[:size]
        returns = [_reward(task, n + k, rng) for k, task in enumerate(tasks)]
        episodes = [Episode(task=dict(t), episode_return=r, length=1, episode_id=n + k)
                    for k, (t, r) in enumerate(zip(tasks, returns))]
        for e in episodes:
            one.update(Episode(task=dict(e.task), episode_return=e.episode_return, length=1, episode_id=e.episode_id))
        if episodes:
            batched.update_batch(episodes)
        most_queued = max(most_queued, len(batched._pending))
        assert batched.n_fits == one.n_fits and (batched.gmm is None) == (one.gmm is None)
        n += size
    assert one.n_fits >= 9 and 30 < most_queued < PENDING_MAX  # episodes were queued across many steps
    assert batched._pending  # some still queued: the reads below compute them
    a, b = one.state_dict(), batched.state_dict()
    assert not batched._pending
    assert a["rng"] == b["rng"] and a["counters"] == b["counters"]
    for key in ("history", "rewards", "window", "n_fits", "n_failed_fits", "last_alp", "gmm"):
        assert a["algo"][key] == b["algo"][key], key
    assert batched.diagnostics() == one.diagnostics()


@pytest.mark.parametrize("min_tail,fraction", [(256, 0.05), (8, 0.3), (2, 0.0)])
def test_nearest_then_add_answers_as_nearest_then_add_row_by_row(min_tail, fraction):
    """The index's batched query-and-add against its own one-row ``nearest``/``add`` loop, on
    points with many exact ties, in batches that cross rebuilds of both trees."""
    rng = np.random.default_rng(min_tail)
    batched, single = NearestIndex(3, min_tail, fraction), NearestIndex(3, min_tail, fraction)
    n = 0
    while n < 3000:
        size = int(rng.integers(1, 60))
        pts = np.column_stack([rng.integers(0, 6, size) / 5, np.clip(rng.normal(0.5, 0.6, size), 0, 1),
                               rng.integers(0, 3, size) / 2])
        i_b, d_b = batched.nearest_then_add(pts)
        for r, p in enumerate(pts):
            i_s, d_s = single.nearest(p) if len(single) else (-1, np.inf)
            assert (int(i_b[r]), float(d_b[r])) == (i_s, d_s)
            single.add(p)
        n += size
    assert batched.n_rebuilds == single.n_rebuilds > 3
    np.testing.assert_array_equal(batched.points, single.points)


def test_from_unit_batch_is_from_unit_row_by_row_on_nan_inf_and_outside_values():
    """The batched sampler's last step: NaN goes to the middle (0.5), ±inf and values outside
    the cube clip to its faces, exactly as :meth:`TaskSpace.from_unit` does for one row."""
    rng = np.random.default_rng(0)
    u = rng.normal(0.5, 0.8, (300, 3))
    u[::7, 0], u[::11, 1], u[::13, 2], u[::17, 1] = np.nan, np.inf, -np.inf, np.nan
    assert SPACE.from_unit_batch(u) == [SPACE.from_unit(row) for row in u]


def test_a_mixture_samples_by_the_progress_it_is_given_now():
    """The component CDF is kept between calls with the same progress and recomputed when
    the progress changes: the draws equal a fresh mixture's."""
    from teachers.gmm_fit import GMM

    means = np.array([[0.1, 0.1, 0.1, 0.0], [0.9, 0.9, 0.9, 0.0]])
    cov = np.stack([np.eye(4) * 1e-4] * 2)
    kept = GMM(np.full(2, 0.5), means, cov)
    for progress in ([1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 1.0]):
        a = kept.sample_batch_by_progress(np.array(progress), np.random.default_rng(1), 50, 3)
        b = GMM(np.full(2, 0.5), means, cov).sample_batch_by_progress(np.array(progress), np.random.default_rng(1), 50, 3)
        np.testing.assert_array_equal(a, b)
        if progress == [0.0, 1.0]:
            assert (a > 0.5).all()  # every draw from the second component
