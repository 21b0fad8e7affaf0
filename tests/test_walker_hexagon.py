"""Hexagon tracks (envs/walker/hexagon.py): TeachMyAgent's / teachDeepRL's 12-D walker setting.

Fidelity facts are worked out from the reference generator (TMA
``parametric_continuous_stump_tracks.py`` / teachDeepRL ``bipedal_walker_continuous.py``,
``_generate_terrain``'s HEXA branch) and its shipped test sets, not read off our code:
TERRAIN_STEP = 14/30, TERRAIN_HEIGHT = 400/30/4, start pad 20 steps, track 200 steps,
finish 10 steps before the end; base hexagon (-0.5, 0) (-0.5, 0.25) (-0.25, 0.5) (0.25, 0.5)
(0.5, 0.25) (0.5, 0) in steps; offsets ~ N(task, 0.1); x += 1 after a hexagon, then 8.0
(the default obstacle spacing) of flat ground.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import envs
from envs.errors import TeachBenchError
from envs.walker import WalkerHexagonEnv
from envs.walker.hexagon import NAMES, anchors, convex_hull, hexagon_polygons, hexagon_track, load_test_set
from envs.walker.walker_env import _Lidar

STEP = 14 / 30
GROUND = 400 / 30 / 4
FIRST_ANCHOR = 20 * STEP          # the end of the 20-step start pad
FINISH = (200 - 10) * STEP
ZERO = {n: 0.0 for n in NAMES}
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def offsets_of(polys: list[np.ndarray], anchors: np.ndarray) -> np.ndarray:
    """Vertex offsets (steps) back from TMA's formula: x = a + (bx + dx) STEP, y = H + (by + dy) STEP."""
    base = np.array([(-0.5, 0.0), (-0.5, 0.25), (-0.25, 0.5), (0.25, 0.5), (0.5, 0.25), (0.5, 0.0)])
    out = []
    for poly, a in zip(polys, anchors):
        d = np.empty((6, 2))
        d[:, 0] = (poly[:, 0] - a) / STEP - base[:, 0]
        d[:, 1] = (poly[:, 1] - GROUND) / STEP - base[:, 1]
        out.append(d)
    return np.array(out)


# -- contract -----------------------------------------------------------------------------------
def test_gymnasium_and_sb3_env_checkers_pass():
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    for env in (WalkerHexagonEnv(), WalkerHexagonEnv(body="default", render_mode="rgb_array")):
        gym_check(env, skip_render_check=env.render_mode is None)
        sb3_check(env, warn=True)


def test_task_space_is_tmas_12d_poly_shape():
    space = WalkerHexagonEnv().task_space
    assert space.ndim == 12  # TMA: param_env_bounds['poly_shape'] = [0, 4.0, 12]
    assert space.names == [f"v{i}_{a}" for i in range(6) for a in ("dx", "dy")]
    assert all((d.low, d.high) == (0.0, 4.0) for d in space.dims)


def test_default_body_is_the_published_quadruped():
    env = envs.make_env("walker_hexagon")
    assert env.unwrapped.body.name == "old_big_quadru"
    assert env.observation_space.shape == (34,) and env.action_space.shape == (8,)
    assert env.spec.max_episode_steps == 2000


@pytest.mark.parametrize("bad, key", [
    ({**ZERO, "v3_dy": 4.5}, "task.v3_dy"),
    ({**ZERO, "v0_dx": -0.1}, "task.v0_dx"),
    ({**ZERO, "v5_dx": float("nan")}, "task.v5_dx"),
    ({k: v for k, v in ZERO.items() if k != "v2_dx"}, "task.v2_dx"),
    ({**ZERO, "stump_height": 1.0}, "task.stump_height"),
])
def test_out_of_range_or_unknown_task_is_a_named_error(bad, key):
    env = envs.make_env("walker_hexagon")
    with pytest.raises(TeachBenchError, match=key):
        env.reset(options={"task": bad})


@pytest.mark.parametrize("kwargs, key", [
    ({"offset_std": -0.1}, "env.kwargs.offset_std"),
    ({"obstacle_spacing": float("inf")}, "env.kwargs.obstacle_spacing"),
    ({"test_set": "hexagon_v2"}, "env.kwargs.test_set"),
    ({"body": "octopus"}, "env.kwargs.body"),
    ({"stump_height": 1.0}, "env.kwargs.stump_height"),
])
def test_bad_constructor_arguments_are_named_errors(kwargs, key):
    with pytest.raises(TeachBenchError, match=key):
        envs.make_env("walker_hexagon", **kwargs)


def test_task_is_reported_and_default_is_zero_offsets():
    env = envs.make_env("walker_hexagon")
    _, info = env.reset(seed=0)
    assert info["task"] == ZERO
    task = load_test_set("tma")[7]
    _, info = env.reset(seed=1, options={"task": task})
    assert info["task"] == task
    _, _, _, _, info = env.step(env.action_space.sample())
    assert info["task"] == task and info["success"] is False


# -- determinism -------------------------------------------------------------------------------
def _trace(env, task, seed, steps=150):
    obs, _ = env.reset(seed=seed, options={"task": task})
    rng = np.random.default_rng(seed)
    out = [obs]
    for _ in range(steps):
        obs, r, term, trunc, _ = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
        out.append(np.append(obs, r))
        if term or trunc:
            break
    return np.concatenate(out), env.unwrapped.layout


def test_same_task_and_seed_replay_exactly_and_seeds_differ():
    env = envs.make_env("walker_hexagon")
    task = load_test_set("tma")[3]
    a, la = _trace(env, task, seed=5)
    b, lb = _trace(env, task, seed=5)
    assert np.array_equal(a, b) and la.same_as(lb)
    _, lc = _trace(env, task, seed=6, steps=1)
    assert not la.same_as(lc)
    other = envs.make_env("walker_hexagon")  # a second env in the process changes nothing
    c, lc = _trace(other, task, seed=5)
    assert np.array_equal(a, c) and la.same_as(lc)


def test_tasks_with_the_same_seed_share_their_noise():
    """Common random numbers: the same seed moves every obstacle by the same z, so two tasks'
    vertices differ exactly by the task difference (times STEP) on every moved coordinate."""
    a, b = np.full(12, 1.0), np.linspace(0.0, 4.0, 12)
    pa = hexagon_polygons(np.random.default_rng(9), a)
    pb = hexagon_polygons(np.random.default_rng(9), b)
    shift = (b - a).reshape(6, 2) * STEP
    for qa, qb in zip(pa, pb):
        assert np.allclose(qb[:, 0] - qa[:, 0], shift[:, 0])
        assert np.allclose(qb[1:5, 1] - qa[1:5, 1], shift[1:5, 1])


# -- fidelity: TMA's generator ----------------------------------------------------------------------
def test_zero_offset_obstacle_is_tmas_base_hexagon():
    """offset_std 0, zero task: the first obstacle is TMA's default hexagon at the end of the
    start pad, vertex by vertex (numbers worked out by hand from TMA's constants)."""
    polys = hexagon_polygons(np.random.default_rng(0), np.zeros(12), std=0.0)
    expected = [(9.1, 10 / 3), (9.1, 3.45), (9.21666667, 3.56666667), (9.45, 3.56666667),
                (9.56666667, 3.45), (9.56666667, 10 / 3)]
    assert polys[0].shape == (6, 2)
    assert np.allclose(polys[0], expected, atol=1e-8)
    hull = convex_hull(polys[0])
    assert hull is not None and len(hull) == 6  # the base hexagon is convex: Box2D keeps all six vertices
    x, y = hull[:, 0], hull[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    assert area == pytest.approx(0.4375 * STEP**2)  # 1 x 0.25 rectangle + 0.25-high trapezoid (1 and 0.5 wide)


def test_obstacle_the_walker_meets_has_tmas_shape():
    """Vertical rays in the built Box2D world hit the zero-offset hexagon's top profile: 0.5
    steps at its centre, 0.375 on its slanted shoulders, bare ground beside it."""
    env = WalkerHexagonEnv(body="default", offset_std=0.0)
    env.reset(seed=0, options={"task": ZERO})
    world = env.world
    for a in FIRST_ANCHOR + 9.0 * np.arange(3):
        for dx, top in ((0.0, 0.5), (-0.375, 0.375), (0.375, 0.375), (0.45, 0.3),
                        (-0.6, 0.0), (0.6, 0.0)):
            ray = _Lidar()
            p1, p2 = (a + dx * STEP, GROUND + 2.0), (a + dx * STEP, GROUND - 1.0)
            world.RayCast(ray, p1, p2)
            hit = p1[1] + ray.fraction * (p2[1] - p1[1])
            assert hit == pytest.approx(GROUND + top * STEP, abs=1e-4), (a, dx)
    assert len(env.terrain[1].fixtures) == 10 and all(len(f.shape.vertices) == 6 for f in env.terrain[1].fixtures)


def test_ten_obstacles_nine_world_units_apart_nine_before_the_finish():
    """TMA: first hexagon at the start pad's end, then x += 1 and x += 8 (flat) per obstacle,
    while x < 200 steps: anchors 9.33 + 9k for k = 0..9."""
    layout = hexagon_track(np.random.default_rng(0), np.zeros(12), std=0.0)
    centres = np.array([b[:, 0].mean() for b in layout.blocks])
    assert len(layout.blocks) == 10
    assert np.allclose(np.diff(centres), 9.0)
    assert centres[0] == pytest.approx(FIRST_ANCHOR)
    assert (centres < FINISH).sum() == 9 and centres[-1] < 200 * STEP
    assert np.all(layout.points[:, 1] == GROUND)  # TMA's hexagon tracks have no roughness: flat


def test_first_and_last_vertex_stay_on_the_ground_whatever_the_task():
    env = envs.make_env("walker_hexagon")
    for k, task in enumerate(load_test_set("tma")[:40]):
        polys = hexagon_polygons(np.random.default_rng(k), [task[n] for n in NAMES])
        for p in polys:
            assert p.shape == (6, 2)
            assert p[0, 1] == GROUND and p[-1, 1] == GROUND
    # so v0_dy and v5_dy are irrelevant dimensions: they never change the track
    a = {**ZERO, "v0_dy": 0.0, "v5_dy": 0.0, "v2_dy": 1.0}
    b = {**a, "v0_dy": 4.0, "v5_dy": 3.0}
    c = {**a, "v2_dy": 1.5}
    layouts = []
    for task in (a, b, c):
        env.reset(seed=3, options={"task": task})
        layouts.append(env.unwrapped.layout)
    assert layouts[0].same_as(layouts[1]) and not layouts[0].same_as(layouts[2])


def test_vertex_offsets_are_normal_around_the_task_with_std_01():
    """For a fixed task, each offset coordinate over 80 tracks x 10 obstacles = 800 draws has
    mean task +- 4 standard errors (0.1 / sqrt(800)) and std 0.1 +- 4 of its standard errors."""
    task = np.round(np.linspace(0.2, 3.8, 12), 3)
    draws = []
    for seed in range(80):
        draws.append(offsets_of(hexagon_polygons(np.random.default_rng(seed), task), anchors()))
    d = np.concatenate(draws)  # (800, 6, 2)
    n = d.shape[0]
    assert n == 800
    mean, std = task.reshape(6, 2), 0.1
    se_mean, se_std = std / np.sqrt(n), std / np.sqrt(2 * n)
    moved = np.ones((6, 2), dtype=bool)
    moved[[0, 5], 1] = False  # the ground vertices' y is never moved
    assert np.all(np.abs(d.mean(0)[moved] - mean[moved]) < 4 * se_mean)
    assert np.all(np.abs(d.std(0, ddof=1)[moved] - std) < 4 * se_std)
    assert np.all(d[:, [0, 5], 1] == 0.0)  # y = ground exactly


# -- test sets ------------------------------------------------------------------------------
def test_shipped_test_sets_are_the_references():
    tma, alpgmm = load_test_set("tma"), load_test_set("alpgmm")
    assert len(tma) == 400 and len(alpgmm) == 50  # TMA nb_test_episodes = 400 for -hexa; teachDeepRL 50
    for tasks in (tma, alpgmm):
        arr = np.array([[t[n] for n in NAMES] for t in tasks])
        assert arr.shape[1] == 12 and arr.min() >= 0.0 and arr.max() <= 4.0
        assert len({tuple(r) for r in arr}) == len(arr)
    # first rows of the reference pickles (TMA old/hexagon_test_set.pkl, teachDeepRL poly_shape0_4.0.pkl)
    assert np.allclose([tma[0][n] for n in NAMES],
                       [1.49816048, 3.80285723, 2.92797577, 2.39463394, 0.62407456, 0.62397808,
                        0.23233445, 3.46470458, 2.40446005, 2.83229031, 0.08233798, 3.87963941], atol=1e-8)
    assert np.allclose([alpgmm[0][n] for n in NAMES],
                       [0.41619695, 2.57399166, 3.14898365, 1.87027165, 2.19319711, 1.81706978,
                        1.27813375, 3.45737869, 1.43972559, 2.93585717, 3.30072422, 3.75604069], atol=1e-8)
    assert np.allclose([tma[-1][n] for n in NAMES],
                       [0.51439039, 2.841664, 3.06304178, 3.55556614, 3.73652957, 3.47626384,
                        0.48997868, 0.89451534, 0.48990118, 1.41409812, 0.49628738, 2.61310919], atol=1e-8)


def test_env_test_set_mastery_and_held_out():
    env = WalkerHexagonEnv()
    assert env.test_tasks() == load_test_set("tma")
    assert WalkerHexagonEnv(test_set="alpgmm").test_tasks() == load_test_set("alpgmm")
    assert all(env.task_space.contains(t) for t in env.test_tasks())
    assert env.is_mastered(230.5, False) and not env.is_mastered(230.0, True)  # TMA: return > 230
    held = env.held_out()
    assert held["base"] == ZERO and all(env.task_space.contains(t) for t in held.values())
    env.test_tasks()[0]["v0_dx"] = 99.0  # callers get copies
    assert env.test_tasks()[0]["v0_dx"] != 99.0


def test_config_composes_and_builds_the_env():
    from omegaconf import OmegaConf

    from envs.registry import ENV_IDS, make_env
    from students.build import student_params

    cfg = OmegaConf.load(CONFIGS / "env" / "walker_hexagon.yaml")
    assert cfg.name == "walker_hexagon" and cfg.name in ENV_IDS and cfg.label == "walker_hexagon"
    env = make_env(cfg.name, **OmegaConf.to_container(cfg.kwargs, resolve=True))
    space = env.unwrapped.task_space
    assert set(cfg.expert.initial.mean) == set(space.names) == set(cfg.expert.target.std)
    assert all(v == 0.1 for v in cfg.expert.initial.std.values())  # TMA: variance 0.01 per dimension
    ppo = student_params("ppo", {}, OmegaConf.to_container(cfg.students, resolve=True))
    assert ppo["n_steps"] * cfg.n_envs == 20000


def test_tma_hexagon_preset_composes_and_validates(compose):
    from experiments.running.config_checks import validate_config

    for teacher in ("random", "alp_gmm"):
        cfg = compose("experiment=tma_hexagon", f"teacher={teacher}", "seed=1")
        validate_config(cfg)
        assert cfg.env.name == "walker_hexagon" and cfg.env.kwargs.test_set == "alpgmm"
        assert cfg.budget.steps == 500_000 and cfg.expert_knowledge == "no" and cfg.env.n_envs == 1


def test_rgb_render_draws_the_hexagons():
    env = envs.make_env("walker_hexagon", render_mode="rgb_array")
    env.reset(seed=0, options={"task": {n: 2.0 for n in NAMES}})
    frame = env.render()
    assert frame.shape == (400, 600, 3)
    assert (frame == np.array([153, 153, 153], np.uint8)).all(-1).sum() > 20  # obstacle outlines


@pytest.mark.parametrize("body", ["old_big_quadru", "default"])
def test_extreme_tasks_end_with_finite_values(body):
    env = envs.make_env("walker_hexagon", body=body, max_episode_steps=300)
    space = env.unwrapped.task_space
    rng = np.random.default_rng(0)
    for task in (space.from_array(space.low), space.from_array(space.high), load_test_set("tma")[0]):
        obs, _ = env.reset(seed=1, options={"task": task})
        for t in range(300):
            obs, r, term, trunc, _ = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
            assert np.isfinite(obs).all() and np.isfinite(r)
            if term or trunc:
                break
        assert term or trunc


def test_every_published_body_plays_random_tasks():
    from envs.walker import BODIES

    rng = np.random.default_rng(1)
    for body in BODIES:
        env = envs.make_env("walker_hexagon", body=body, max_episode_steps=60)
        space = env.unwrapped.task_space
        for i in range(3):
            task = space.sample(rng)
            obs, info = env.reset(seed=i, options={"task": task})
            assert info["task"] == space.validate(task)
            for _ in range(60):
                obs, r, term, trunc, info = env.step(env.action_space.sample())
                assert np.isfinite(obs).all() and np.isfinite(r)
                if term or trunc:
                    break
            assert isinstance(info["success"], bool)


def test_degenerate_hull_builds_no_obstacle_and_the_episode_runs():
    """offset_std 0 can line all six vertices up on one vertical line (dx chosen so every
    vertex has x = anchor + 0.5 steps); Box2D cannot build that, so no obstacle is placed."""
    line = {**ZERO, "v0_dx": 1.0, "v1_dx": 1.0, "v2_dx": 0.75, "v3_dx": 0.25, "v4_dx": 0.0, "v5_dx": 0.0}
    polys = hexagon_polygons(np.random.default_rng(0), [line[n] for n in NAMES], std=0.0)
    assert np.allclose(polys[0][:, 0], FIRST_ANCHOR + 0.5 * STEP)
    assert convex_hull(polys[0]) is None
    env = envs.make_env("walker_hexagon", offset_std=0.0, max_episode_steps=20)
    env.reset(seed=0, options={"task": line})
    assert env.unwrapped.layout.blocks == []
    for _ in range(20):
        env.step(env.action_space.sample())


@pytest.mark.parametrize("teacher, level", [("alp_gmm", "high"), ("adr", "high"), ("spdl", "high"),
                                            ("goal_gan", "low"), ("riac", "no")])
def test_teachers_build_with_the_env_expert_knowledge_and_sample_valid_tasks(compose, teacher, level):
    """The env config's expert block (TMA's easy Gaussian at 0, std 0.1) reaches the teachers
    through TMA's levels, and their tasks are valid hexagon tasks."""
    from omegaconf import OmegaConf

    from teachers.protocol import make_protocol_teacher

    cfg = compose("experiment=tma_hexagon", f"teacher={teacher}", f"expert_knowledge={level}")
    space = WalkerHexagonEnv().task_space
    params = OmegaConf.to_container(cfg.teacher.params, resolve=True) if cfg.teacher.get("params") else {}
    t = make_protocol_teacher(cfg.teacher.name, space, 0, params, level,
                              OmegaConf.to_container(cfg.env.expert, resolve=True))
    for _ in range(5):
        assert space.contains(t.sample())
