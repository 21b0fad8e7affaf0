"""The simulated student (docs/references.md#simulated-student) and its gymnasium wrapper TeachBench/Toy-v0."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers TeachBench/Toy-v0)
from envs.errors import TeachBenchError
from envs.registry import make_env
from envs.toy.student import SimulatedStudent


def centre(s, cell):
    return s.centre_of(cell)


def test_published_unlock_rule_and_reward():
    s = SimulatedStudent()
    assert s.task_space().names == ["x0", "x1"] and s.n_cells == 100
    r, ok = s.practise(centre(s, (1, 0)))  # locked: nothing learned
    assert (r, ok) == (0.0, False) and s.competence_of((1, 0)) == 0
    for i in range(76):
        r, ok = s.practise(centre(s, (0, 0)))  # the origin is always unlocked
    assert r == 0.76 and ok and s.competence_of((0, 0)) == 76
    assert s.score() == 1.0
    # a lower neighbour at >= 75 unlocks (1,0), (0,1) and (1,1) (diagonal: both dims -1)
    for cell in ((1, 0), (0, 1), (1, 1)):
        assert s.practise(centre(s, cell))[0] == 0.01
    assert s.practise(centre(s, (2, 2)))[0] == 0.0  # its lower neighbours are all < 75
    for _ in range(200):
        s.practise(centre(s, (0, 0)))
    assert s.competence_of((0, 0)) == 100  # capped


def test_random_is_stuck_near_the_origin_and_a_perfect_teacher_masters_all():
    rng = np.random.default_rng(0)
    s = SimulatedStudent()
    for _ in range(20_000):
        s.practise(rng.random(2))
    assert s.score() <= 8  # "a few % of cells" (docs/references.md#simulated-student)
    perfect = SimulatedStudent()
    order = sorted(perfect.test_cells(), key=sum)  # diagonal layers from the origin
    for cell in order:
        for _ in range(76):
            perfect.practise(perfect.centre_of(cell))
    assert perfect.episodes == 7600 and perfect.score() == 100.0


def test_irrelevant_dims_high_dims_and_unlearnable_space():
    s = SimulatedStudent(n_dims=3, cells_per_dim=4, n_irrelevant=2)
    assert s.task_space().ndim == 5 and s.n_cells == 64 and len(s.test_tasks()) == 64
    a = s.cell_of([0.1, 0.1, 0.1, 0.9, 0.2])
    assert a == s.cell_of([0.1, 0.1, 0.1, 0.0, 0.7]) == (0, 0, 0)
    big = SimulatedStudent(n_dims=12, cells_per_dim=10, max_test_cells=500)
    assert big.n_cells == 10**12 and len(big.test_cells()) == 500
    big.practise(np.zeros(12))
    assert big.competence_of((0,) * 12) == 1
    u = SimulatedStudent(unlearnable_fraction=0.75)
    assert u.cell_of([0.8, 0.1]) is None and u.practise([0.8, 0.1]) == (0.0, False)
    assert u.cell_of([0.24, 0.1]) == (9, 1)  # the learnable quarter holds all 10 columns
    np.testing.assert_allclose(u.centre_of((9, 0)), [0.2375, 0.05])


def test_noise_decay_resets_and_rugged():
    s = SimulatedStudent(noise=0.1, seed=3)
    rewards = [s.practise([0.05, 0.05])[0] for _ in range(200)]
    assert np.std(np.diff(rewards)) > 0.1 and s.competence_of((0, 0)) == 100
    d = SimulatedStudent(decay=0.01)
    for _ in range(80):
        d.practise([0.05, 0.05])
    for _ in range(1000):
        d.practise([0.95, 0.95])  # locked cell: the origin is not practised
    assert d.competence_of((0, 0)) == pytest.approx(70.0) and d.score() == 0.0
    r = SimulatedStudent(reset_at=[100])
    for _ in range(100):
        r.practise([0.05, 0.05])
    assert r.competence_of((0, 0)) == 100
    r.practise([0.05, 0.05])
    assert r.competence_of((0, 0)) == 1
    g = SimulatedStudent(rugged=True, rugged_seed=0)
    h = SimulatedStudent(rugged=True, rugged_seed=0)
    origin = g.centre_of((0, 0))
    assert not np.allclose(origin, [0.05, 0.05]) and np.allclose(origin, h.centre_of((0, 0)))
    assert g.cell_of(origin) == (0, 0) and g.practise(origin)[0] == 0.01
    assert sorted(g.test_cells()) == sorted(SimulatedStudent().test_cells())


def test_bad_config_names_the_key():
    with pytest.raises(TeachBenchError, match="toy.unlearnable_fraction"):
        SimulatedStudent(unlearnable_fraction=1.0)
    with pytest.raises(TeachBenchError, match="toy.cells_per_dim"):
        SimulatedStudent(cells_per_dim=0)


def test_state_round_trip():
    s = SimulatedStudent(noise=0.05, decay=0.001)
    rng = np.random.default_rng(0)
    for _ in range(500):
        s.practise(rng.random(2) * 0.3)
    t = SimulatedStudent(noise=0.05, decay=0.001)
    t.load_state_dict(s.state_dict())
    tasks = rng.random((100, 2)) * 0.3
    assert [s.practise(u) for u in tasks] == [t.practise(u) for u in tasks]


def test_gymnasium_env_plays_one_step_episodes():
    env = make_env("toy", n_dims=2, cells_per_dim=5)
    from gymnasium.utils.env_checker import check_env

    check_env(env.unwrapped, skip_render_check=True)
    core = env.unwrapped
    assert core.task_space.names == ["x0", "x1"] and len(core.test_tasks()) == 25
    obs, info = env.reset(options={"task": {"x0": 0.05, "x1": 0.05}})
    assert info["task"] == {"x0": 0.05, "x1": 0.05} and obs.shape == (2,)
    total = 0.0
    for i in range(80):
        env.reset(options={"task": {"x0": 0.05, "x1": 0.05}})
        obs, reward, terminated, truncated, info = env.step(0)
        assert terminated and not truncated and "success" in info
    assert reward == pytest.approx(0.80) and info["success"] and core.is_mastered(reward, True)
    with pytest.raises(TeachBenchError, match="task.x0"):
        env.reset(options={"task": {"x0": 2.0, "x1": 0.0}})
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)
