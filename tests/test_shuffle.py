"""TeachMyAgent's rugged-difficulty shuffler (envs/shuffle.py): its permutation and mapping are
TMA's, it is a bijection away from the cuts, and one shuffler serves the walker (through
teachers/protocol.py) and the toy student.

Worked cases: TMA's ``DimensionsShuffler(mins=[0, 0], maxs=[3, 6], cuttings=4, seed=s)``
(TeachMyAgent/teachers/utils/dimensions_shuffler.py) gives, for seed 0, the shuffled
interval lists height [(1.5, 2.25), (2.25, 3.0), (0.75, 1.5), (0.0, 0.75)] and spacing
[(0, 1.5), (3, 4.5), (1.5, 3), (4.5, 6)], and ``interpolate_task`` maps (0.5, 1.0) to
(2.0, 1.0) and (2.9, 4.4) to (0.65, 2.9); for seed 21, height [(2.25, 3), (1.5, 2.25),
(0, 0.75), (0.75, 1.5)], spacing [(1.5, 3), (3, 4.5), (4.5, 6), (0, 1.5)], (0.5, 1.0) to
(2.75, 2.5) and (2.9, 4.4) to (1.4, 5.9). (By hand for seed 0: 0.5 lies in [0, 0.75], whose
image is [1.5, 2.25]: 1.5 + 0.5 = 2.0; 4.4 lies in [3, 4.5], image [1.5, 3]: 1.5 + 1.4 = 2.9.)
"""

from __future__ import annotations

import numpy as np
import pytest

from envs.errors import TeachBenchError
from envs.shuffle import IntervalShuffler, TaskShuffler
from envs.task_space import Dim, TaskSpace
from envs.toy.student import SimulatedStudent
from teachers import Episode
from teachers.protocol import ShuffledTeacher, make_protocol_teacher

STUMPS = TaskSpace.box(["stump_height", "stump_spacing"], [0.0, 0.0], [3.0, 6.0])


@pytest.mark.parametrize("seed, order, cases", [
    (0, [[2, 3, 1, 0], [0, 2, 1, 3]], [((0.5, 1.0), (2.0, 1.0)), ((2.9, 4.4), (0.65, 2.9)),
                                        ((1.5, 3.0), (3.0, 4.5)), ((0.0, 6.0), (1.5, 6.0))]),
    (21, [[3, 2, 0, 1], [1, 2, 3, 0]], [((0.5, 1.0), (2.75, 2.5)), ((2.9, 4.4), (1.4, 5.9)),
                                         ((0.0, 6.0), (2.25, 1.5))]),
])
def test_matches_tma_dimensions_shuffler(seed, order, cases):
    s = IntervalShuffler([0.0, 0.0], [3.0, 6.0], n_intervals=4, seed=seed)
    assert s.order == order
    for x, y in cases:
        np.testing.assert_allclose(s.to_env(x), y, atol=1e-12)


def test_a_cut_belongs_to_the_lower_interval_as_in_tma():
    s = IntervalShuffler([0.0, 0.0], [3.0, 6.0], seed=0)
    # TMA seed 0: height 3.0 is the top of [2.25, 3] -> image (0, 0.75): 0.75; spacing 0 -> 0
    np.testing.assert_allclose(s.to_env([3.0, 0.0]), [0.75, 0.0])
    # the cut 0.75 belongs to [0, 0.75] (image [1.5, 2.25]), not to [0.75, 1.5]
    assert s.to_env([0.75, 1.5])[0] == 2.25


def test_bijection_away_from_the_cuts_and_measure_preserving():
    rng = np.random.default_rng(0)
    for seed in range(8):
        s = IntervalShuffler([0.0, -3.0, 2.0], [9.0, 3.0, 2.5], n_intervals=4, seed=seed)
        x = rng.uniform(s.lows, s.highs, size=(500, 3))
        y = np.array([s.to_env(p) for p in x])
        np.testing.assert_allclose([s.to_teacher(q) for q in y], x, atol=1e-12)
        z = rng.uniform(s.lows, s.highs, size=(500, 3))
        np.testing.assert_allclose([s.to_env(s.to_teacher(q)) for q in z], z, atol=1e-12)
        # an interval permutation moves each quarter onto a quarter: uniform stays uniform
        q = ((y - s.lows) / (s.highs - s.lows) * 4).astype(int)
        qx = ((x - s.lows) / (s.highs - s.lows) * 4).astype(int)
        for d in range(3):
            np.testing.assert_array_equal(q[:, d], np.asarray(s.order[d])[qx[:, d]])
    # the bounds of the box round-trip too (teachers clip their samples onto them)
    s = IntervalShuffler([0.0, 0.0], [3.0, 6.0], seed=0)
    for corner in ([0.0, 0.0], [0.0, 6.0], [3.0, 6.0]):
        np.testing.assert_allclose(s.to_teacher(s.to_env(corner)), corner)


def test_the_one_collision_of_tma_s_boundary_rule():
    # seed 21, spacing: the top interval [4.5, 6] moves to [0, 1.5] and [0, 1.5] to [1.5, 3],
    # so TMA's map sends both 0 and 6 to 1.5; to_teacher returns the lower bound
    s = IntervalShuffler([0.0, 0.0], [3.0, 6.0], seed=21)
    assert s.to_env([0.0, 0.0])[1] == s.to_env([0.0, 6.0])[1] == 1.5
    assert s.to_teacher([2.25, 1.5])[1] == 0.0


def test_shuffled_teacher_learns_from_what_it_proposed():
    space = STUMPS
    teacher = make_protocol_teacher("random", space, seed=21, rugged={"intervals": 4, "seed": 21})
    assert isinstance(teacher, ShuffledTeacher) and teacher.name == "random"
    seen = []
    teacher.inner.update = lambda ep: seen.append(ep.task)  # observe what the inner teacher is told
    shuffler = TaskShuffler(space, 4, 21)
    tasks = [teacher.sample() for _ in range(50)]
    for t in tasks:
        teacher.update(Episode(task=t, episode_return=1.0, length=1))
    for t, told in zip(tasks, seen):
        np.testing.assert_allclose(space.to_unit(shuffler.to_env(told)), space.to_unit(t))
    # the collision case: an env task that both 0 and 6 map to comes back as the proposal
    teacher._proposed.clear()
    teacher._proposed[(2.25, 1.5)] = [{"stump_height": 0.0, "stump_spacing": 6.0}]
    seen.clear()
    teacher.update(Episode(task={"stump_height": 2.25, "stump_spacing": 1.5}, episode_return=0.0, length=1))
    assert seen == [{"stump_height": 0.0, "stump_spacing": 6.0}]


def test_shuffled_teacher_state_round_trip():
    a = make_protocol_teacher("alp_gmm", STUMPS, seed=3, params={"fit_rate": 20}, rugged={"seed": 3})
    rng = np.random.default_rng(0)
    for _ in range(60):
        t = a.sample()
        a.update(Episode(task=t, episode_return=float(rng.normal()), length=1))
    pending = [a.sample() for _ in range(3)]
    b = make_protocol_teacher("alp_gmm", STUMPS, seed=3, params={"fit_rate": 20}, rugged={"seed": 3})
    b.load_state_dict(a.state_dict())
    assert [b.sample() for _ in range(5)] == [a.sample() for _ in range(5)]
    assert b._proposed.keys() == a._proposed.keys() and all(b._key(t) in b._proposed for t in pending)


def test_refusals_name_the_key():
    mixed = TaskSpace([Dim("h", 0.0, 1.0), Dim("n", 0, 4, kind="discrete")])
    with pytest.raises(TeachBenchError, match="rugged"):
        TaskShuffler(mixed)
    with pytest.raises(TeachBenchError, match="rugged.intervals"):
        IntervalShuffler([0.0], [1.0], n_intervals=0)
    with pytest.raises(TeachBenchError, match="rugged.sed"):
        make_protocol_teacher("random", STUMPS, rugged={"sed": 1})
    with pytest.raises(TeachBenchError, match="rugged"):
        make_protocol_teacher("plr", STUMPS, rugged={"seed": 0})  # scores episodes outside update()
    with pytest.raises(TeachBenchError, match="rugged"):
        IntervalShuffler([0.0], [1.0]).to_env([1.5])


def test_toy_rugged_uses_the_same_permutation():
    """The toy's rugged cells follow the shuffler's permutation with one interval per cell."""
    g = SimulatedStudent(rugged=True, rugged_seed=5)
    s = IntervalShuffler([0.0, 0.0], [1.0, 1.0], n_intervals=10, seed=5)
    for j in range(10):
        u = (j + 0.5) / 10
        cell = g.cell_of([u, u])
        assert cell == (s.order[0][j], s.order[1][j])
        # the shuffler's continuous map sends the same point into that very cell
        y = s.to_env([u, u])
        assert (int(y[0] * 10), int(y[1] * 10)) == cell
