"""RIAC against docs/references.md#riac as released in TeachMyAgent (teachers/algos/riac.py): the
region tree sampled over all nodes, TMA's windowed ALP, split population and extent rules,
the discard-oldest-quarter rule, the ALPs new leaves start with, and the sampling mix."""

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
from teachers.riac import CLIP_MARGIN, RIAC, Region, _masked_alp, region_alp

SPACE = TaskSpace.box(["a", "b"], [0.0, 0.0], [10.0, 1.0])
LINE = TaskSpace.box(["x"], [0.0], [1.0])


def play(t, task, r):
    t.update(Episode(task=task, episode_return=r, length=1))


def test_region_alp_is_tma_windowed_half_difference():
    assert region_alp([1.0]) == 0.0
    assert region_alp([0.0, 1.0]) == 0.0  # TMA: 0 unless more than 2 rewards
    assert region_alp([0.0, 0.0, 1.0, 1.0]) == 1.0
    # odd count: the newer half is the newest floor(n/2), the older part the rest (TMA's
    # r[-n:-half] / r[-half:]); this replaces a pin of the former older = first floor(n/2)
    assert region_alp([4.0, 2.0, 1.0, 1.0, 1.0]) == pytest.approx(abs(7.0 / 3.0 - 1.0))
    assert region_alp([9.0, 0.0, 0.0, 1.0, 1.0], window=4) == 1.0  # only the newest `window` rewards
    rewards = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0])
    masks = np.array([[1, 0, 1, 1, 0, 1, 1], [0, 1, 0, 0, 1, 0, 0], [1, 0, 0, 0, 0, 0, 0],
                      [1, 1, 1, 1, 1, 1, 1]], dtype=bool)
    for window in (None, 3, 4):
        expected = [region_alp(rewards[m], window) for m in masks]
        np.testing.assert_allclose(_masked_alp(rewards, masks, window), expected)


def test_defaults_are_the_tma_settings():
    t = make_teacher("riac", SPACE)
    assert (t.max_region_size, t.n_split_attempts, t.min_region_extent) == (150, 75, 0.1)
    assert (t.p_alp, t.p_random, t.perturb_std) == (0.7, 0.2, 0.1)
    assert (t.min_region_size, t.discard_ratio, t.sampling_in_leaves_only) == (7.5, 0.25, False)
    with pytest.raises(TeachBenchError, match="teacher.p_alp"):
        RIAC(SPACE, p_alp=0.9, p_random=0.2)


def progress_left_of_03(t, n=151, seed=0) -> list[float]:
    """Plays n uniform tasks whose reward grows with time only where a < 3 (unit 0.3)."""
    rng = np.random.default_rng(seed)
    played = []
    for i in range(n):
        u = rng.random(2)
        played.append(i / 150 if u[0] < 0.3 else 0.0)
        play(t, SPACE.from_unit(u), played[-1])
    return played


def test_split_separates_regions_with_different_progress():
    t = RIAC(SPACE, seed=0, max_region_size=150)
    progress_left_of_03(t)
    assert len(t.regions) == 3 and t.n_splits == 1  # the root and its two children
    root, r1, r2 = t.regions
    assert root.children == [1, 2] and r1.parent == r2.parent == 0
    assert len(root.rewards) == 151 and len(r1.rewards) + len(r2.rewards) == 151
    assert r1.high[1] == 1.0 and r2.low[0] == r1.high[0] < 1.0  # cut on a
    # both children keep at least 10% of the range and 8 (= 150 / 20) points, and own their points
    for r in (r1, r2):
        assert (r.high - r.low).min() >= 0.1 - 1e-9 and len(r.rewards) >= 8
        assert all(r.contains(p) for p in r.tasks)
    assert region_alp(r1.rewards) > region_alp(r2.rewards)
    assert root.alp == pytest.approx(region_alp(root.rewards[-150:]))  # the parent's ALP reads its newest 150


@pytest.mark.parametrize("seed", range(6))
def test_split_isolates_the_progress_zone_with_tma_constant_weight(seed):
    # TMA scores a split by |ALP1 - ALP2| times a constant (len() of two-item lists), not by
    # n1 * n2: every cut that isolates the progress zone a < 0.3 scores alike, so the cut
    # lands anywhere inside it (the former n1 * n2 weight pulled it to the boundary 0.3)
    t = RIAC(SPACE, seed=seed)
    progress_left_of_03(t, seed=seed % 3)
    r1, r2 = t.regions[1:]
    assert r1.high[1] == 1.0 and 0.1 <= r1.high[0] <= 0.35
    assert region_alp(r1.rewards) > 0.4 > 0.1 > region_alp(r2.rewards)


def test_parent_keeps_collecting_points_and_is_sampled():
    t = RIAC(SPACE, seed=0, max_region_size=150)
    played = progress_left_of_03(t, n=151 + 60)
    root = t.regions[0]
    # a parent keeps receiving every pair inside it, as a deque of max_region_size + 1
    assert t.n_splits >= 1 and root.rewards == played[-151:]
    assert root.alp == pytest.approx(region_alp(played[-150:]))
    assert t.sampled_regions == list(range(len(t.regions))) and t.diagnostics()["n_regions"] == len(t.regions)
    # the ALP mode draws from parents: with only the root's ALP positive, ALP-mode tasks are
    # uniform over the whole cube, not confined to a leaf
    t.p_alp, t.p_random = 1.0, 0.0
    for i, r in enumerate(t.regions):
        r.alp = 1.0 if i == 0 else 0.0
    t._reindex()
    np.testing.assert_allclose(t.region_probabilities(), [1.0] + [0.0] * (len(t.regions) - 1))
    xs = np.array([SPACE.to_unit(t.sample()) for _ in range(2000)])
    assert xs.min(0) == pytest.approx([0, 0], abs=0.01) and xs.max(0) == pytest.approx([1, 1], abs=0.01)
    # TMA's option: leaves only
    leaves = RIAC(SPACE, seed=0, sampling_in_leaves_only=True)
    progress_left_of_03(leaves)
    assert leaves.sampled_regions == [1, 2] and leaves.diagnostics()["n_regions"] == 2


class ScriptedRng:
    """Stands in for the teacher's generator during one split: every attempt on dim 0 at
    the given fractions of the valid threshold range."""

    def __init__(self, fractions):
        self.fractions = np.asarray(fractions, dtype=np.float64)

    def choice(self, n, size, p):
        return np.zeros(size, dtype=np.int64)

    def random(self, n):
        assert n == len(self.fractions)
        return self.fractions


def test_split_takes_the_best_valid_attempt_and_gives_children_the_last_attempts_alps():
    t = RIAC(LINE, seed=0, max_region_size=20, n_split_attempts=3)
    xs = (np.arange(21) + 0.5) / 21
    rewards = [float(i) if x < 0.5 else 0.0 for i, x in enumerate(xs)]  # progress only below 0.5
    for x, r in zip(xs[:20], rewards[:20]):
        play(t, {"x": float(x)}, r)
    # thresholds are drawn in [x_(1), x_(21)) (each child >= 20/20 = 1 point); attempts:
    # 0.5 (best), 0.97 (invalid: upper child narrower than 10%), 0.8 (valid, worse, last)
    start, length = xs[0], xs[-1] - xs[0]
    cuts = np.array([0.5, 0.97, 0.8])
    t.rng = ScriptedRng((cuts - start) / length)
    play(t, {"x": float(xs[20])}, rewards[20])
    root, c1, c2 = t.regions
    assert c1.high[0] == pytest.approx(0.5) and c2.low[0] == pytest.approx(0.5)
    below = xs <= 0.8  # the last attempt's children
    r = np.asarray(rewards)
    assert c1.alp == pytest.approx(region_alp(r[below])) and c2.alp == pytest.approx(region_alp(r[~below]))
    assert c1.alp != pytest.approx(region_alp(c1.rewards))  # the quirk matters here
    # a child's ALP is recomputed when it next receives a pair; its sibling keeps the stale one
    t.rng = np.random.default_rng(0)
    stale = c2.alp
    play(t, {"x": 0.1}, 30.0)
    assert c1.alp == pytest.approx(region_alp(c1.rewards)) and c2.alp == stale
    # ties go to the latest attempt (TMA compares with >=): equal qualities, the last wins
    t2 = RIAC(LINE, seed=0, max_region_size=20, n_split_attempts=2)
    for x in xs[:20]:
        play(t2, {"x": float(x)}, 0.0)
    t2.rng = ScriptedRng((np.array([0.3, 0.6]) - start) / length)
    play(t2, {"x": float(xs[20])}, 0.0)
    assert t2.regions[1].high[0] == pytest.approx(0.6)


def test_split_needs_populated_children_and_ten_percent_extent():
    rng = np.random.default_rng(1)
    for seed in range(10):
        t = RIAC(SPACE, seed=seed)
        # a dense cluster near the middle plus a few outliers: thresholds are drawn so that
        # both children hold >= 8 points, and the split must leave 10% of the range
        us = np.vstack([0.45 + 0.1 * rng.random((140, 2)), rng.random((11, 2))])
        for i, u in enumerate(rng.permutation(us)):
            play(t, SPACE.from_unit(u), float(i % 7) * rng.random())
        assert t.n_splits + t.n_discards == 1
        for r in t.regions[1:]:
            assert len(r.rewards) >= 8 and (r.high - r.low).min() >= 0.1 - 1e-9


def test_no_valid_split_discards_the_oldest_quarter():
    t = RIAC(SPACE, seed=0)
    rng = np.random.default_rng(0)
    # every point in the corner [0, 0.05]^2: thresholds leaving 8 points each side all leave
    # a child narrower than 10% of the range, so no split is valid
    for i in range(151):
        play(t, SPACE.from_unit(0.05 * rng.random(2)), float(i))
    assert len(t.regions) == 1 and t.n_discards == 1
    assert t.regions[0].rewards == [float(i) for i in range(37, 151)]  # drops int(150 / 4) = 37
    assert not t.regions[0].capped
    for i in range(151, 151 + 37):
        play(t, SPACE.from_unit(0.05 * rng.random(2)), float(i))
    assert t.n_discards == 2 and t.regions[0].rewards == [float(i) for i in range(74, 188)]


def test_unsplittable_identical_tasks_discard_instead_of_looping():
    # TMA's rejection loop never ends when no threshold populates both children; here the
    # region discards its oldest quarter (20 // 4 = 5). (Replaces a pin of the former
    # forget-one-point rule, which kept the newest 20.)
    t = RIAC(SPACE, seed=0, max_region_size=20, min_region_extent=0.49)
    for i in range(27):
        play(t, {"a": 5.0, "b": 0.5}, float(i))
    assert len(t.regions) == 1 and t.regions[0].rewards == [float(i) for i in range(10, 27)]


def test_a_region_that_discarded_keeps_every_pair_once_it_is_a_parent():
    # TMA quirk: discarding rebuilds the deques without their bound, so a region that
    # discarded and later split keeps collecting every pair (its ALP still reads the newest
    # max_region_size); a parent that never discarded keeps max_region_size + 1
    t = RIAC(SPACE, seed=0, max_region_size=20)
    for i in range(21):
        play(t, {"a": 5.0, "b": 0.5}, 0.0)
    assert t.n_discards == 1 and len(t.regions[0].rewards) == 16
    rng = np.random.default_rng(0)
    for i in range(200):
        play(t, SPACE.from_unit(rng.random(2)), float(i % 3))
    root = t.regions[0]
    assert t.n_splits >= 1 and len(root.rewards) == 216
    assert root.alp == pytest.approx(region_alp(root.rewards[-20:]))
    capped = [r for r in t.regions if r.children and r.capped]
    assert capped and all(len(r.rewards) == 21 for r in capped)


def tree_with_progress_in_low() -> RIAC:
    """Root [0,1]^2 cut at a = 0.2: `low` has ALP 1, `high` 0, the root 0."""
    t = RIAC(SPACE, seed=1)
    root = Region(np.array([0.0, 0.0]), np.array([1.0, 1.0]), [np.array([0.1, 0.5])] * 4 + [np.array([0.9, 0.9])] * 4,
                  [0.0, 0.0, 1.0, 1.0] + [0.5] * 4, children=[1, 2], alp=0.0)
    low = Region(np.array([0.0, 0.0]), np.array([0.2, 1.0]), [np.array([0.1, 0.5])] * 4, [0.0, 0.0, 1.0, 1.0],
                 parent=0, dim=0, alp=1.0)
    high = Region(np.array([0.2, 0.0]), np.array([1.0, 1.0]), [np.array([0.9, 0.9])] * 4, [0.5] * 4,
                  parent=0, dim=0, alp=0.0)
    t.regions = [root, low, high]
    t._reindex()
    return t


def test_sampling_modes_follow_the_published_mix():
    t = tree_with_progress_in_low()
    np.testing.assert_allclose(t.region_probabilities(), [0.0, 1.0, 0.0])
    xs = np.array([SPACE.to_unit(t.sample()) for _ in range(5000)])
    inside_low = (xs[:, 0] <= 0.2).mean()
    # 70% ALP region (all in `low`) + 20% uniform * 0.2 + 10% perturbed lowest-reward task
    # of `low`, clipped into `low` (TMA; the former clip to the cube gave 0.84 of that 10%)
    assert inside_low == pytest.approx(0.7 + 0.2 * 0.2 + 0.1, abs=0.03)


def test_perturbation_mode_stays_inside_its_region():
    t = tree_with_progress_in_low()
    t.p_alp, t.p_random = 0.0, 0.0  # only the perturbation mode
    xs = np.array([SPACE.to_unit(t.sample()) for _ in range(2000)])
    assert xs[:, 0].max() <= 0.2 - CLIP_MARGIN + 1e-12 and xs[:, 0].min() >= CLIP_MARGIN - 1e-12
    # N(lowest-reward task (0.1, 0.5), 0.1) before clipping
    assert xs[:, 1].mean() == pytest.approx(0.5, abs=0.01) and xs[:, 1].std() == pytest.approx(0.1, abs=0.01)
    at_face = np.isclose(xs[:, 0], 0.2 - CLIP_MARGIN, rtol=0.0, atol=1e-9)  # P(0.1 + N(0, 0.1) > 0.2) ~ 0.16
    assert at_face.mean() == pytest.approx(0.16, abs=0.03)


def test_state_round_trip_gives_identical_samples():
    student = SimulatedStudent()
    space = student.task_space()
    a = RIAC(space, seed=3, max_region_size=30)
    for _ in range(600):
        task = a.sample()
        play(a, task, student.practise(space.to_unit(task))[0])
    d = a.diagnostics()
    assert d["n_leaves"] > 3 and d["n_regions"] > d["n_leaves"] and d["n_discards"] > 0
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = RIAC(space, seed=0, max_region_size=30)
    b.load_state_dict(torch.load(buf, weights_only=True))
    assert [r.alp for r in a.regions] == [r.alp for r in b.regions]  # cached, not recomputable
    assert [r.capped for r in a.regions] == [r.capped for r in b.regions]
    assert [r.children for r in a.regions] == [r.children for r in b.regions]
    sa, sb = [], []
    for t, out in ((a, sa), (b, sb)):
        for i in range(300):
            task = t.sample()
            out.append(task)
            play(t, task, 0.01 * i)
    assert sa == sb and a.diagnostics() == b.diagnostics()
    old = a.state_dict()
    old["algo"] = {"regions": [], "n_splits": 0}
    with pytest.raises(TeachBenchError, match="teacher.state"):
        b.load_state_dict(old)
