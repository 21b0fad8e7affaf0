"""dcd's walker obstacle course: level semantics, exact levels, edits, held-out set.

Reference facts come from facebookresearch/dcd ``envs/bipedalwalker/walker_env.py``
(``_generate_terrain``), ``adversarial.py`` (levels, ``PARAM_RANGES_EASY``,
``PARAM_MUTATIONS``, ``mutate_level``), ``walker_test_envs.py`` (named test levels) and
``eval.py`` (the walker evaluation list).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.box2d import bipedal_walker as gw

from envs.errors import TeachBenchError
from envs.walker import WalkerObstaclesEnv
from envs.walker.levels import EASY, FULL, NAMES, WalkerLevel, edit, edit_level
from envs.walker.obstacles import DCD_TEST_LEVELS, EASY_SPACE
from envs.walker.terrain import ObstacleParams, obstacle_course

STEP = gw.TERRAIN_STEP


def _layouts(task, seeds):
    env = WalkerObstaclesEnv()
    return [obstacle_course(np.random.default_rng(s), env.params(task)) for s in seeds]


def test_med_pitgap_pits_are_one_plus_gap_between_walls():
    """dcd Med-PitGap: ``pit_gap=[5, 5]``, so ``pit_gap = 1.0 + uniform(5, 5) = 6``: a wall
    box [x, x + 1 step] x [y - 4 steps, y] and its copy shifted by ``TERRAIN_STEP * 6``: the
    walls' left sides are 6 steps apart, the opening between them 5 steps, 4 steps deep."""
    n_pits = 0
    for layout in _layouts(DCD_TEST_LEVELS["Med-PitGap"], range(5)):
        walls = sorted(layout.blocks, key=lambda b: b[:, 0].min())
        assert len(walls) % 2 == 0 and walls
        for a, b in zip(walls[::2], walls[1::2]):
            left_a, left_b = a[:, 0].min(), b[:, 0].min()
            assert left_b - left_a == pytest.approx(6 * STEP)
            assert left_b - a[:, 0].max() == pytest.approx(5 * STEP)  # the opening
            assert np.ptp(a[:, 1]) == pytest.approx(4 * STEP) and np.ptp(a[:, 0]) == pytest.approx(STEP)
            n_pits += 1
    assert n_pits >= 10


def _staircases(layout):
    """Group stair blocks into staircases: a stair starts where the previous one ends."""
    blocks = sorted(layout.blocks, key=lambda b: b[:, 0].min())
    runs: list[list[np.ndarray]] = []
    for b in blocks:
        if runs and abs(b[:, 0].min() - runs[-1][-1][:, 0].max()) < 1e-9:
            runs[-1].append(b)
        else:
            runs.append([b])
    return runs


def test_med_stairs_build_zero_to_four_stairs_of_dcds_size():
    """dcd Med-Stairs: ``stair_height=[2, 2]``, ``stair_steps=[5]``, ``stair_width=[4, 5]``:
    ``randint(4, 5) = 4`` steps per stair, ``uniform(2, 2) = 2`` steps high, and
    ``randint(*[5]) = randint(5)``, i.e. 0..4 stairs per staircase, never 5."""
    counts: set[int] = set()
    for layout in _layouts(DCD_TEST_LEVELS["Med-Stairs"], range(40)):
        for run in _staircases(layout):
            counts.add(len(run))
            for b in run:
                assert np.ptp(b[:, 0]) == pytest.approx(4 * STEP) and np.ptp(b[:, 1]) == pytest.approx(2 * STEP)
    assert counts <= {1, 2, 3, 4} and 4 in counts  # staircases of 0 stairs build no block
    # a single step count of 1 means randint(1) = 0: no stairs at all (dcd's easy levels)
    one = {**DCD_TEST_LEVELS["Med-Stairs"], "stair_steps": 1}
    assert all(layout.blocks == [] for layout in _layouts(one, range(10)))


def test_roughness_scales_the_whole_ground_velocity():
    """dcd: ``y += ground_roughness * velocity`` with ``velocity = 0.8 v + 0.01 sign(H - y) +
    U(-1, 1) / SCALE``; the sign term does not depend on the (positive) roughness, so on the
    same draws the ground's offset from ``TERRAIN_HEIGHT`` is proportional to roughness, and
    roughness 0 is flat."""
    h = gw.TERRAIN_HEIGHT
    one, three = (obstacle_course(np.random.default_rng(0), ObstacleParams(roughness=r)) for r in (1.0, 3.0))
    assert one.points.shape == three.points.shape
    assert np.allclose(three.points[:, 1] - h, 3.0 * (one.points[:, 1] - h), atol=1e-9)
    assert np.ptp(one.points[:, 1]) > 0.1
    flat = obstacle_course(np.random.default_rng(0), ObstacleParams(roughness=0.0))
    assert np.ptp(flat.points[:, 1]) == 0.0


def _terrain(env):
    return [tuple(tuple(v) for v in f.shape.vertices) for body in env.unwrapped.terrain for f in body.fixtures]


def test_a_replayed_level_gives_the_identical_terrain_and_episode():
    task = {"ground_roughness": 2.0, "pit_gap_low": 1.0, "pit_gap_high": 4.0, "stump_height_low": 0.5,
            "stump_height_high": 2.0, "stair_height_low": 0.5, "stair_height_high": 1.5, "stair_steps": 5}
    a, b = WalkerObstaclesEnv(), WalkerObstaclesEnv()
    _, info = a.reset(seed=3, options={"task": task})
    level = info["level_id"]
    assert WalkerLevel.from_string(level).task() == task
    b.reset(seed=99, options={"task": task})
    assert not b.layout.same_as(a.layout)  # another terrain seed: another terrain
    _, info_b = b.reset(seed=99, options={"level": level})  # another reset seed, same level
    assert b.layout.same_as(a.layout) and _terrain(a) == _terrain(b)
    assert info_b["level_id"] == level and info_b["task"] == {"level": level}
    again = WalkerObstaclesEnv()
    again.reset(seed=3, options={"level": level})
    actions = np.random.default_rng(0).uniform(-1, 1, (200, 4)).astype(np.float32)
    obs_a = [a.reset(seed=3, options={"level": level})[0]] + [a.step(x)[0] for x in actions]
    obs_c = [again.reset(seed=3, options={"level": level})[0]] + [again.step(x)[0] for x in actions]
    assert np.array_equal(np.array(obs_a), np.array(obs_c))
    with pytest.raises(TeachBenchError, match="level"):
        a.reset(options={"level": "walker:1,2,3:4"})
    with pytest.raises(TeachBenchError, match="level.ground_roughness"):
        a.reset(options={"level": "walker:11.0,0.0,0.0,0.0,0.0,0.0,0.0,1:4"})


def test_dcd_edit_operator_moves_parameters_by_its_step_sizes():
    """dcd ``mutate_level``: each edit picks one of the 8 parameters and moves it by
    ``d * step``, ``d in {-1, 0, 1}``: roughness ``U(0, 0.6)``, pit gaps 0.4, stump and stair
    heights 0.2, stair steps 1; clipped to the full ranges; the child gets a new seed."""
    rng = np.random.default_rng(0)
    parent = WalkerLevel((5.0, 5.0, 5.0, 2.5, 2.5, 2.5, 2.5, 5), 7)
    steps = (None, 0.4, 0.4, 0.2, 0.2, 0.2, 0.2, 1)
    moved = set()
    for _ in range(300):
        child = edit(parent, rng, 1)
        diff = np.array(child.params, dtype=float) - np.array(parent.params, dtype=float)
        changed = np.flatnonzero(np.abs(diff) > 1e-12)
        assert len(changed) <= 1 and child.seed != parent.seed
        for k in changed:
            moved.add(int(k))
            if steps[k] is None:
                assert 0 < abs(diff[k]) <= 0.6
            else:
                assert abs(diff[k]) == pytest.approx(steps[k])
    assert moved == set(range(8))
    three = edit(parent, rng, 3)
    assert np.count_nonzero(np.array(three.params, float) != np.array(parent.params, float)) <= 3
    corner = WalkerLevel(tuple(hi for _, hi in FULL), 1)
    for _ in range(50):
        corner = edit(corner, rng, 3)
        assert all(lo <= v <= hi for v, (lo, hi) in zip(corner.params, FULL))
    text = edit_level(parent.to_string(), np.random.default_rng(1), 3)
    assert WalkerLevel.from_string(text).to_string() == text


def test_accel_gets_the_walker_editor_through_the_level_editor_hook():
    from students.regret import level_editor

    level = WalkerLevel((0.3, 0.0, 0.8, 0.0, 0.4, 0.0, 0.4, 1), 5).to_string()
    child = level_editor(level, np.random.default_rng(0), 3)
    assert child.startswith("walker:") and child != level
    env = WalkerObstaclesEnv()
    _, info = env.reset(seed=0, options={"level": child})
    assert info["level_id"] == child
    from teachers.accel import ACCEL

    teacher = ACCEL(env.task_space, seed=0)  # n_edits unset: the walker editor applies dcd's 3
    teacher.level_editor = level_editor  # what attach_teacher_needs installs for "level_editor"
    kid = WalkerLevel.from_string(teacher.mutate({"level": level})["level"])
    changed = np.flatnonzero(np.array(kid.params, float) != np.array(WalkerLevel.from_string(level).params, float))
    assert len(changed) <= 3  # ACCEL's n_edits = 3, dcd's walker setting


def test_easy_base_is_dcds_easy_distribution():
    """dcd ``PARAM_RANGES_EASY``: roughness [0, 0.6], pit gap [0, 0.8], stump height [0, 0.4],
    stair height [0, 0.4], stair steps [1, 1]. Sorted highs 0.8 / 0.4 / 0.4 reach the
    thresholds, so easy levels have pits (1 + U(0, 0.8) steps) and low stumps, and their
    staircases have randint(1) = 0 stairs."""
    env = WalkerObstaclesEnv(base="easy")
    assert env.task_space is EASY_SPACE
    assert [(d.low, d.high) for d in env.task_space.dims] == [tuple(map(float, r)) for r in EASY]
    task = env.task_space.sample(np.random.default_rng(0))
    p = env.params(task)
    assert p.pit_gap == (0.0, 0.8) and p.stump_height == (0.0, 0.4) and p.stair_height == (0.0, 0.4)
    layout = obstacle_course(np.random.default_rng(1), p)
    assert all(np.ptp(b[:, 0]) <= STEP + 1e-9 for b in layout.blocks)  # walls and stumps, no stairs
    _, info = env.reset(seed=0, options={"task": DCD_TEST_LEVELS["Med-Stairs"]})  # tests live in the full space
    assert info["level_id"].startswith("walker:")
    with pytest.raises(TeachBenchError, match="env.kwargs.base"):
        WalkerObstaclesEnv(base="hard")


@pytest.mark.parametrize("name,hardcore", [("BipedalWalker-v3", False), ("BipedalWalkerHardcore-v3", True)])
def test_held_out_gymnasium_walkers_are_gymnasiums_episodes(name, hardcore):
    """``gymnasium:<id>:<seed>`` plays gymnasium's own terrain with the student's body and
    observation: the same observations as gymnasium's env reset with that seed."""
    env = WalkerObstaclesEnv()
    assert env.held_out()[name] == f"gymnasium:{name}"
    ref = gym.make(name).unwrapped
    actions = np.random.default_rng(1).uniform(-1, 1, (300, 4)).astype(np.float32)
    o_ref, _ = ref.reset(seed=11)
    o_our, info = env.reset(options={"level": f"gymnasium:{name}:11"})
    assert np.array_equal(o_ref, o_our) and info["task"] == {"level": f"gymnasium:{name}:11"}
    for a in actions:
        o_ref, _, d_ref, _, _ = ref.step(a)
        o_our, _, d_our, _, _ = env.step(a)
        assert np.array_equal(o_ref, o_our) and d_ref == d_our
        if d_ref:
            break
    with pytest.raises(TeachBenchError, match="level"):
        env.reset(options={"level": "gymnasium:LunarLander-v3"})


def test_held_out_med_levels_are_dcds_test_envs():
    """walker_test_envs.py: Med-Stairs = stair_height [2, 2], 5 steps; Med-PitGap = pit_gap
    [5, 5]; Med-StumpHeight = stump_height [2, 2]; Med-Roughness = ground_roughness 5."""
    held = WalkerObstaclesEnv().held_out()
    env = WalkerObstaclesEnv()
    assert env.params(held["Med-Stairs"]) == ObstacleParams(0.0, None, None, (2.0, 2.0), 5)
    assert env.params(held["Med-PitGap"]) == ObstacleParams(0.0, (5.0, 5.0), None, None, 1)
    assert env.params(held["Med-StumpHeight"]) == ObstacleParams(0.0, None, (2.0, 2.0), None, 1)
    assert env.params(held["Med-Roughness"]) == ObstacleParams(5.0, None, None, None, 1)
    assert list(NAMES) == list(held["Med-Stairs"])
