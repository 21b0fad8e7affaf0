"""The parameterized walker: gymnasium equivalence, tasks, determinism, isolation, corners."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.box2d import bipedal_walker as gw

import envs
from envs.errors import TeachBenchError
from envs.walker import BODIES, WalkerObstaclesEnv, WalkerStumpsEnv
from envs.walker.obstacles import DCD_TEST_LEVELS, OBSTACLE_SPACE
from envs.walker.terrain import FINISH_X, ObstacleParams, obstacle_course, stump_track

# (observation, action) sizes worked out from the reference body modules: TMA's state is the
# head's 4 values + per motor (angle, speed) + a contact flag per motor with check_contact
# + 10 lidars; one action per motor.
BODY_DIMS = {
    "old_classic_bipedal": (4 + 4 * 2 + 2 + 10, 4),   # gymnasium's 24 / 4
    "small_bipedal": (4 + 4 * 2 + 2 + 10, 4),         # 2 legs x (hip, knee); knees check contact
    "spider": (4 + 12 * 2 + 4 + 10, 12),              # 2 pairs x 2 legs x 3 motors; lowest motor checks contact
    "millipede": (4 + 16 * 2 + 8 + 10, 16),           # 4 bodies x 2 legs x (hip, knee)
    "old_big_quadru": (4 + 8 * 2 + 4 + 10, 8),        # 2 pairs of legs; state_size = 8 * 2 + 4 in TMA
    "short": (4 + 4 * 2 + 2 + 10, 4),                 # teachDeepRL: 4 + nb_leg_pairs * 2 * 5 + 10
}
# A level with every obstacle present (pits, stumps, stairs).
HARDCORE = {"ground_roughness": 1.0, "pit_gap_low": 2.0, "pit_gap_high": 3.0, "stump_height_low": 1.0,
            "stump_height_high": 2.0, "stair_height_low": 1.0, "stair_height_high": 1.0, "stair_steps": 4}
STAIRS = DCD_TEST_LEVELS["Med-Stairs"]


def play(env: gym.Env, actions: np.ndarray, task=None, seed: int = 0):
    """Observations and rewards of one episode with the given action rows (until done)."""
    obs, info = env.reset(seed=seed, options={"task": task} if task is not None else None)
    observations, rewards = [obs], []
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        observations.append(obs)
        rewards.append(r)
        if term or trunc:
            break
    return np.array(observations), np.array(rewards), info


# -- gymnasium equivalence: the physics, body, lidar and reward are gymnasium's ---------------
class _OnGymnasiumTerrain(WalkerStumpsEnv):
    """Our walker on gymnasium's own terrain generator (normal or hardcore)."""

    def __init__(self, hardcore: bool) -> None:
        super().__init__()
        self._hardcore = hardcore

    def _build_terrain(self, task):  # noqa: D401 - test double
        gw.BipedalWalker._generate_terrain(self, self._hardcore)


@pytest.mark.parametrize("hardcore", [False, True])
def test_default_body_reproduces_gymnasium_walker_bit_for_bit(hardcore):
    ref, ours = gw.BipedalWalker(hardcore=hardcore), _OnGymnasiumTerrain(hardcore)
    rng = np.random.default_rng(3)
    steps = 0
    for seed in range(3):
        o_ref, _ = ref.reset(seed=seed)
        o_our, _ = ours.reset(seed=seed)
        assert np.array_equal(o_ref, o_our)
        for _ in range(400):
            a = (0.6 * rng.uniform(-1, 1, 4)).astype(np.float32)
            o_ref, r_ref, d_ref, _, _ = ref.step(a)
            o_our, r_our, d_our, _, _ = ours.step(a)
            steps += 1
            assert np.array_equal(o_ref, o_our)
            # gymnasium accumulates its energy cost in float32; ours in float64
            assert abs(float(r_ref) - r_our) < 1e-4
            assert d_ref == d_our
            if d_ref:
                break
    assert steps > 100


# -- spaces, registration, bodies ------------------------------------------------------------
@pytest.mark.parametrize("name", ["walker_stumps", "walker_obstacles"])
@pytest.mark.parametrize("body", list(BODIES))
def test_bodies_change_spaces_and_play(name, body):
    env = envs.make_env(name, body=body)
    n_obs, n_act = BODY_DIMS[body]
    assert env.observation_space.shape == (n_obs,)
    assert env.action_space.shape == (n_act,)
    assert env.spec.max_episode_steps == 2000
    rng = np.random.default_rng(0)
    obs, rew, info = play(env, rng.uniform(-1, 1, (300, n_act)).astype(np.float32), seed=1)
    assert obs.shape[1] == n_obs and np.isfinite(obs).all() and np.isfinite(rew).all()
    assert info["task"] == env.unwrapped.task
    assert isinstance(info["success"], bool)


# (torque, torque penalty, leg segment length px, leg width px) from the reference body modules:
# TMA OldClassicBipedalBody (80, 0.00035, 34, 8), SmallBipedalBody (80, 0.00035, 17, 8),
# SpiderBody (100, 0.00035 / nb_pairs_of_legs = /2, 20, 6), MillipedeBody (200, 0.00035 /
# nb_of_bodies = /4, 10, 4), OldBigQuadruBody (300, 0.00035 / 2, 51, 10); teachDeepRL "short"
# (80, 0.00035, 17, 8).
PUBLISHED = {
    "old_classic_bipedal": (80, 0.00035, 34, 8), "small_bipedal": (80, 0.00035, 17, 8),
    "spider": (100, 0.00035 / 2, 20, 6), "millipede": (200, 0.00035 / 4, 10, 4),
    "old_big_quadru": (300, 0.00035 / 2, 51, 10), "short": (80, 0.00035, 17, 8),
}


@pytest.mark.parametrize("body", list(PUBLISHED))
def test_bodies_have_published_sizes_torques_and_penalties(body):
    torque, penalty, leg_h, leg_w = PUBLISHED[body]
    env = WalkerStumpsEnv(body=body)
    spec = env.body
    assert (spec.torque, spec.leg_h, spec.leg_w) == (torque, leg_h, leg_w)
    assert spec.torque_penalty == pytest.approx(penalty)
    env.reset(seed=0)
    n = env.action_space.shape[0]
    assert len(env.joints) == n
    shaping = lambda: 130 * env.hull.position[0] / gw.SCALE - 5.0 * abs(env.hull.angle)  # noqa: E731
    before = shaping()
    action = np.linspace(-1, 1, n).astype(np.float32)
    _, reward, *_ = env.step(action)
    # TMA's energy cost: penalty * 80 * |a| per motor (80 = the original torque, any body)
    assert shaping() - before - reward == pytest.approx(penalty * 80 * np.abs(action).sum(), rel=1e-6)
    assert WalkerStumpsEnv(body="default").body == BODIES["old_classic_bipedal"]
    assert spec.startpad == gw.TERRAIN_STARTPAD  # TMA: 20 steps unless AGENT_WIDTH / step + 5 exceeds it


def test_unknown_body_and_bad_kwargs_raise_named_errors():
    with pytest.raises(TeachBenchError, match="env.kwargs.body"):
        WalkerStumpsEnv(body="hexapod")
    with pytest.raises(TeachBenchError, match="env.kwargs.height_range"):
        WalkerStumpsEnv(height_range="impossible")
    with pytest.raises(TeachBenchError, match="env.kwargs.spacing_range"):
        WalkerStumpsEnv(spacing_range=(-1, 6))
    with pytest.raises(TeachBenchError, match="env.kwargs.thresholds"):
        WalkerObstaclesEnv(thresholds=(0.8, 0.2))


def test_gymnasium_and_sb3_env_checkers_pass():
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    for env in (WalkerStumpsEnv(), WalkerObstaclesEnv(), WalkerStumpsEnv(body="spider", render_mode="rgb_array")):
        gym_check(env, skip_render_check=env.render_mode is None)
        sb3_check(env, warn=True)


# -- task spaces, task contract, test sets -----------------------------------------------------
def test_task_spaces_have_published_ranges():
    s = WalkerStumpsEnv().task_space
    assert s.names == ["stump_height", "stump_spacing"]
    assert (s["stump_height"].low, s["stump_height"].high) == (0.0, 3.0)
    assert (s["stump_spacing"].low, s["stump_spacing"].high) == (0.0, 6.0)
    assert WalkerStumpsEnv(height_range="unfeasible").task_space["stump_height"].high == 9.0
    assert WalkerStumpsEnv(height_range="trivial").task_space["stump_height"].low == -3.0
    assert WalkerStumpsEnv(vary_spread=True).task_space.names[-1] == "stump_height_std"
    o = WalkerObstaclesEnv().task_space
    assert o.ndim == 8
    bounds = {d.name: (d.low, d.high) for d in o.dims}
    assert bounds["ground_roughness"] == (0, 10) and bounds["pit_gap_high"] == (0, 10)
    assert bounds["stump_height_low"] == (0, 5) and bounds["stair_height_high"] == (0, 5)
    assert bounds["stair_steps"] == (1, 9) and o["stair_steps"].kind == "discrete"


def test_reset_task_is_validated_and_reported():
    env = envs.make_env("walker_stumps")
    _, info = env.reset()
    assert info["task"] == env.unwrapped.default_task() == {"stump_height": 0.0, "stump_spacing": 6.0}
    with pytest.raises(TeachBenchError, match="task.stump_height"):
        env.reset(options={"task": {"stump_height": 3.5, "stump_spacing": 1.0}})
    with pytest.raises(TeachBenchError, match="task.stump_width"):
        env.reset(options={"task": {"stump_height": 1.0, "stump_spacing": 1.0, "stump_width": 2}})
    task = {"stump_height": 2.0, "stump_spacing": 0.5}
    _, info = env.reset(seed=0, options={"task": task})
    assert info["task"] == task
    _, _, _, _, info = env.step(env.action_space.sample())
    assert info["task"] == task
    _, info = env.reset()  # keeps the current task when none is given
    assert info["task"] == task


def test_test_sets_mastery_and_held_out_levels():
    stumps = WalkerStumpsEnv()
    tasks = stumps.test_tasks()
    assert len(tasks) == 100 and all(stumps.task_space.contains(t) for t in tasks)
    grid = {(t["stump_height"], t["stump_spacing"]) for t in tasks}
    assert len(grid) == 100 and (0.0, 0.0) in grid and (3.0, 6.0) in grid
    obstacles = WalkerObstaclesEnv()
    assert obstacles.test_tasks() == WalkerObstaclesEnv().test_tasks()  # fixed seed
    assert len(obstacles.test_tasks()) == 100
    assert obstacles.test_tasks() != WalkerObstaclesEnv(test_seed=1).test_tasks()
    held = obstacles.held_out()  # dcd eval.py's walker list
    assert set(held) == {"BipedalWalker-v3", "BipedalWalkerHardcore-v3", "Med-Stairs", "Med-PitGap",
                         "Med-StumpHeight", "Med-Roughness"}
    assert all(OBSTACLE_SPACE.contains(t) for t in held.values() if isinstance(t, dict))
    assert all(stumps.task_space.contains(t) for t in stumps.held_out().values())
    for env in (stumps, obstacles):
        assert env.is_mastered(230.5, False) and not env.is_mastered(230.0, True)


def test_obstacle_thresholds_switch_obstacles_off():
    env = WalkerObstaclesEnv()
    p = env.params({**HARDCORE, "pit_gap_low": 0.5, "pit_gap_high": 0.79, "stump_height_low": 0.0,
                    "stump_height_high": 0.19, "stair_height_high": 0.2, "stair_height_low": 0.5})
    assert p.pit_gap is None and p.stump_height is None
    # dcd sorts each pair before the threshold test: pit gap low 5 / high 0.5 has pits in [0.5, 5]
    assert env.params({**HARDCORE, "pit_gap_low": 5.0, "pit_gap_high": 0.5}).pit_gap == (0.5, 5.0)
    assert p.stair_height == (0.2, 0.5)  # low above high reads as the swapped range
    flat = obstacle_course(np.random.default_rng(0), env.params(DCD_TEST_LEVELS["Default"]))
    assert flat.blocks == []
    hard = obstacle_course(np.random.default_rng(0), env.params(HARDCORE))
    assert hard.blocks  # stumps, pit walls, stairs


# -- terrain semantics -----------------------------------------------------------------------
def test_stump_heights_and_spacing_follow_the_task():
    rng = np.random.default_rng(0)
    layout = stump_track(rng, height_mean=2.0, height_std=0.1, spacing=3.0)
    step = gw.TERRAIN_STEP
    ground = layout.points[0, 1]
    heights = np.array([(b[2, 1] - ground) / step for b in layout.blocks])
    lefts = np.array([b[0, 0] for b in layout.blocks])
    assert abs(heights.mean() - 2.0) < 0.1 and 0.03 < heights.std() < 0.2
    assert np.allclose(np.diff(lefts), step + 3.0)  # stump width 1 step + spacing 3 world units
    assert lefts[0] == gw.TERRAIN_STARTPAD * step  # TMA: first stump at the end of the start pad
    dense = stump_track(np.random.default_rng(0), height_mean=-3.0, height_std=0.1, spacing=0.0)
    dense_h = np.array([(b[2, 1] - ground) / step for b in dense.blocks])
    assert len(dense.blocks) > 3 * len(layout.blocks) and np.allclose(dense_h, 0.05)  # floor 0.05


@pytest.mark.parametrize("spacing,count", [(6.0, 13), (3.0, 23), (1.0, 55), (0.0, 167)])
def test_stumps_before_the_finish_line_match_teachmyagent(spacing, count):
    """Counts worked out from TMA's generator (``parametric_continuous_stump_tracks.py``,
    ``_generate_terrain``): ``x`` starts at ``TERRAIN_STARTPAD * TERRAIN_STEP`` = 20 * 14/30;
    each stump adds ``TERRAIN_STEP`` to x, each gap adds ``obstacle_spacing`` (world units,
    floored at 0.01 by ``set_environment``). The k-th stump starts at 20*14/30 + k*(14/30 + s),
    and it is before the finish line (190*14/30) when k < 170*(14/30) / (14/30 + s) =
    79.33 / (0.467 + s): k = 0..12 at s = 6 (13 stumps), 0..22 at 3 (23), 0..54 at 1 (55),
    0..166 at 0 (167). The old steps-as-unit generator gave 24 / 42 / 85 here."""
    env = WalkerStumpsEnv()
    env.reset(seed=0, options={"task": {"stump_height": 1.0, "stump_spacing": spacing}})
    lefts = np.array([b[0, 0] for b in env.layout.blocks])
    assert int((lefts < env.finish_x).sum()) == count
    assert env.finish_x == (gw.TERRAIN_LENGTH - gw.TERRAIN_GRASS) * gw.TERRAIN_STEP


@pytest.mark.parametrize("height_range", ["default", "unfeasible", "trivial"])
def test_test_grid_is_teachmyagents_for_every_challenge(height_range):
    """TMA's ``parametric_stumps_test_set.pkl`` holds 100 (height, spacing) points: every
    pair of {0, 1/3, ..., 3} x {0, 2/3, ..., 6} (read from the pickle's raw float64 bytes),
    and every stump challenge (unfeasible [0, 9], trivial [-3, 3]) is tested on it."""
    env = WalkerStumpsEnv(height_range=height_range)
    got = {(round(t["stump_height"], 9), round(t["stump_spacing"], 9)) for t in env.test_tasks()}
    tma = {(round(3 * i / 9, 9), round(6 * j / 9, 9)) for i in range(10) for j in range(10)}
    assert len(env.test_tasks()) == 100 and got == tma
    custom = WalkerStumpsEnv(height_range="unfeasible", test_range=[[0, 9], [0, 6]]).test_tasks()
    assert max(t["stump_height"] for t in custom) == 9.0
    with pytest.raises(TeachBenchError, match="env.kwargs.test_range"):
        WalkerStumpsEnv(test_range=[[0, 9], [0, 6]])  # outside the default [0, 3] heights


def test_roughness_zero_is_flat_and_roughness_makes_it_rugged():
    flat = obstacle_course(np.random.default_rng(0), ObstacleParams(roughness=0.0))
    rough = obstacle_course(np.random.default_rng(0), ObstacleParams(roughness=5.0))
    assert np.ptp(flat.points[:, 1]) == 0.0 and len(flat.points) == 2
    assert np.ptp(rough.points[:, 1]) > 1.0


# -- determinism and isolation ----------------------------------------------------------------
def _fixtures(env) -> list:
    out = []
    for body in env.unwrapped.terrain:
        for f in body.fixtures:
            out.append(tuple(tuple(v) for v in f.shape.vertices))
    return out


@pytest.mark.parametrize("name,task", [("walker_stumps", {"stump_height": 1.7, "stump_spacing": 0.8}),
                                       ("walker_obstacles", HARDCORE)])
def test_same_task_and_seed_give_identical_terrain_and_episode(name, task):
    a, b = envs.make_env(name), envs.make_env(name)
    actions = np.random.default_rng(0).uniform(-1, 1, (200, 4)).astype(np.float32)
    a.reset(seed=5, options={"task": task})
    b.reset(seed=99, options={"task": task})
    b.step(actions[0])
    oa, ra, _ = play(a, actions, task, seed=11)
    ob, rb, _ = play(b, actions, task, seed=11)
    assert a.unwrapped.layout.same_as(b.unwrapped.layout)
    assert _fixtures(a) == _fixtures(b)
    assert np.array_equal(oa, ob) and np.array_equal(ra, rb)
    play(b, actions, task, seed=12)
    assert not a.unwrapped.layout.same_as(b.unwrapped.layout)  # the seed matters


def test_two_walkers_in_one_process_do_not_interfere():
    snapshot = (gw.LEG_H, gw.LEG_W, gw.MOTORS_TORQUE, gw.HULL_POLY[:], gw.TERRAIN_LENGTH,
                [tuple(v) for v in gw.HULL_FD.shape.vertices], [tuple(v) for v in gw.LEG_FD.shape.vertices])
    rng = np.random.default_rng(1)
    acts = {"s": rng.uniform(-1, 1, (300, 4)).astype(np.float32), "q": rng.uniform(-1, 1, (300, 8)).astype(np.float32)}
    tasks = {"s": {"stump_height": 0.5, "stump_spacing": 2.0}, "q": STAIRS}

    def alone(key):
        env = envs.make_env("walker_stumps", body="small_bipedal") if key == "s" else envs.make_env("walker_obstacles", body="old_big_quadru")
        return play(env, acts[key], tasks[key], seed=4)[:2]

    solo = {k: alone(k) for k in "sq"}
    both = {"s": envs.make_env("walker_stumps", body="small_bipedal"), "q": envs.make_env("walker_obstacles", body="old_big_quadru")}
    trace = {k: ([both[k].reset(seed=4, options={"task": tasks[k]})[0]], []) for k in "sq"}
    done = {k: False for k in "sq"}
    for t in range(300):  # interleave the two walkers step by step
        for k in "sq":
            if not done[k]:
                obs, r, term, trunc, _ = both[k].step(acts[k][t])
                trace[k][0].append(obs)
                trace[k][1].append(r)
                done[k] = term or trunc
    for k in "sq":
        assert np.array_equal(np.array(trace[k][0]), solo[k][0]) and np.array_equal(np.array(trace[k][1]), solo[k][1])
    gymnasium_walker = gym.make("BipedalWalker-v3")
    assert gymnasium_walker.observation_space.shape == (24,) and gymnasium_walker.action_space.shape == (4,)
    assert snapshot == (gw.LEG_H, gw.LEG_W, gw.MOTORS_TORQUE, gw.HULL_POLY[:], gw.TERRAIN_LENGTH,
                        [tuple(v) for v in gw.HULL_FD.shape.vertices], [tuple(v) for v in gw.LEG_FD.shape.vertices])


# -- success, corners, rendering --------------------------------------------------------------
def test_success_when_the_walker_passes_the_finish_line():
    env = envs.make_env("walker_stumps")
    env.reset(seed=0, options={"task": {"stump_height": 0.0, "stump_spacing": 6.0}})
    walker = env.unwrapped
    dx = walker.finish_x + 0.05 - walker.hull.position[0]
    for part in [walker.hull] + walker.legs:  # carry the whole walker to just past the line
        part.position = (part.position[0] + dx, part.position[1] + 0.5)
    _, _, term, _, info = env.step(np.zeros(4, np.float32))
    assert term and info["success"] and info["progress"] > 1.0
    env.reset(seed=0)
    _, _, term, _, info = env.step(np.zeros(4, np.float32))
    assert not term and not info["success"]


def _corners(space):
    return [space.from_array(np.array(c)) for c in itertools.product(*[(d.low, d.high) for d in space.dims])]


def _sweep(env, tasks, steps: int, rng) -> None:
    n = env.action_space.shape[0]
    for task in tasks:
        obs, rew, _ = play(env, rng.uniform(-1, 1, (steps, n)).astype(np.float32), task, seed=int(rng.integers(1000)))
        assert np.isfinite(obs).all() and np.isfinite(rew).all(), task


def test_corners_of_every_task_space_never_crash_or_nan():
    rng = np.random.default_rng(0)
    for kwargs in ({}, {"height_range": "unfeasible"}, {"height_range": "trivial", "vary_spread": True}):
        env = envs.make_env("walker_stumps", **kwargs)
        _sweep(env, _corners(env.unwrapped.task_space), 150, rng)
    env = envs.make_env("walker_obstacles")
    _sweep(env, _corners(env.unwrapped.task_space), 40, rng)  # 256 corners


@pytest.mark.parametrize("name", ["walker_stumps", "walker_obstacles"])
def test_extreme_tasks_give_finite_episodes(name):
    """All-minimum and all-maximum tasks end within the TimeLimit, zero and random actions."""
    env = envs.make_env(name, body="millipede")  # no contact ends a millipede episode (TMA)
    space = env.unwrapped.task_space
    for task in (space.from_array(space.low), space.from_array(space.high)):
        for actions in (np.zeros((2100, 16), np.float32), np.random.default_rng(0).uniform(-1, 1, (2100, 16)).astype(np.float32)):
            obs, rew, _ = play(env, actions, task)
            assert len(rew) <= 2000 and np.isfinite(obs).all()


def test_rgb_render_draws_the_obstacles():
    env = envs.make_env("walker_stumps", render_mode="rgb_array")
    env.reset(seed=0, options={"task": {"stump_height": 2.0, "stump_spacing": 0.5}})
    with_stumps = env.render()
    env.reset(seed=0, options={"task": {"stump_height": 0.0, "stump_spacing": 6.0}})
    first_is_far = env.render()
    assert with_stumps.shape == (gw.VIEWPORT_H, gw.VIEWPORT_W, 3) and with_stumps.dtype == np.uint8
    grey = (with_stumps == np.array([153, 153, 153], np.uint8)).all(-1).sum()
    assert grey > 20  # the stump outlines
    assert not np.array_equal(with_stumps, first_is_far)


def test_video_helper_writes_a_gif(tmp_path):
    from PIL import Image

    from envs.walker.video import policy_video

    out = policy_video("walker_obstacles", lambda obs: np.zeros(4, np.float32), STAIRS,
                       tmp_path / "clip.gif", max_steps=30, frame_every=5)
    with Image.open(out["path"]) as gif:
        assert gif.n_frames == 7 and gif.size == (gw.VIEWPORT_W, gw.VIEWPORT_H)
    assert out["length"] == 30 and out["task"] == STAIRS
    with pytest.raises(TeachBenchError, match="path"):
        policy_video("walker_obstacles", lambda o: np.zeros(4), None, tmp_path / "clip.avi", max_steps=2)


@pytest.mark.slow
@pytest.mark.parametrize("body", list(BODIES))
def test_every_corner_plays_to_a_finite_end_for_every_body(body):
    """Full episodes (zero actions: the walkers that stand run into the TimeLimit) at every
    corner of both task spaces."""
    for name in ("walker_stumps", "walker_obstacles"):
        env = envs.make_env(name, body=body)
        n = env.action_space.shape[0]
        for task in _corners(env.unwrapped.task_space):
            obs, rew, _ = play(env, np.zeros((2001, n), np.float32), task, seed=1)
            assert len(rew) <= 2000 and np.isfinite(obs).all() and np.isfinite(rew).all(), task
