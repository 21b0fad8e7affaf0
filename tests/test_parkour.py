"""TMA's Parkour (envs/parkour): track geometry, task space, bodies, rules, test sets.

Every expected number below is a fact of TeachMyAgent's Parkour
(``parametric_continuous_parkour.py``, its bodies and ``environment_args_handler.py``;
docs/references.md#tma-parkour) worked out by hand, not a value read back from our code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from envs.errors import TeachBenchError
from envs.parkour import cppn, test_sets
from envs.parkour.parkour_env import ParkourEnv
from envs.parkour.terrain import make_track
from envs.registry import make_env

STEP = 14 / 30
GROUND = 400 / 30 / 4          # TMA's TERRAIN_HEIGHT
BODIES = ("old_classic_bipedal", "fish", "climbing_profile_chimpanzee")


def task(env, **kw):
    t = env.unwrapped.default_task()
    t.update(kw)
    return t


# -- track --------------------------------------------------------------------------------
def test_track_geometry_is_tmas():
    v = [-0.15, 0.8, 0.1]
    tr = make_track(v, 0.0, 0.25, 1.0, 2.0, 10.0, np.random.default_rng(0))
    assert len(tr.x) == 220                                   # 20 start-pad + 200 CPPN steps
    np.testing.assert_allclose(np.diff(tr.x), STEP, rtol=1e-9)
    assert np.all(tr.ground[:20] == GROUND) and np.all(tr.ceiling[:20] == GROUND + 20.0)  # 200 px / scale 10
    raw = cppn.generate(v) / 10.0
    np.testing.assert_allclose(tr.ground[20:], raw[:200, 0] - raw[0, 0] + GROUND, rtol=1e-12)
    expect_ceiling = np.maximum(raw[:200, 1] - raw[0, 1] + GROUND + 20.0, tr.ground[20:])
    np.testing.assert_allclose(tr.ceiling[20:], expect_ceiling, rtol=1e-12)
    assert tr.finish_x == pytest.approx((200 + 20 - 5) * STEP)
    assert tr.ground_limit == -100.0 and tr.ceiling_limit == 100.0  # -+1000 / scale
    assert tr.water_y == pytest.approx(-100.0 + 0.01 * (tr.ceiling.max() + 100.0))  # level floored at 0.01


def test_scale_20_halves_the_relief_and_the_ceiling_offset():
    v = [0.3, -0.2, 0.5]
    a = make_track(v, 0.5, None, None, 0.0, 10.0, np.random.default_rng(0))
    b = make_track(v, 0.5, None, None, 0.0, 20.0, np.random.default_rng(0))
    np.testing.assert_allclose(b.ground - GROUND, (a.ground - GROUND) / 2, atol=1e-12)
    assert b.ceiling[0] == GROUND + 10.0 and a.ceiling[0] == GROUND + 20.0
    assert a.creepers == [] and b.ground_limit == -50.0
    assert a.water_y == pytest.approx(-100 + 0.5 * (a.ceiling.max() + 100))


def test_creepers_follow_tmas_spacing_rule():
    # spacing 1.0: a creeper at steps 0, 4, 8, ...: TMA adds no distance on the segment where it
    # places a creeper, then 14/30 per segment: 0, 0.47, 0.93 < 1 and 1.4 >= 1 at the fourth
    tr = make_track([-0.15, 0.8, 0.1], 0.0, 0.25, 2.0, 1.0, 10.0, np.random.default_rng(1))
    lefts = np.array([c[0] for c in tr.creepers])
    assert lefts[0] == 0.0
    np.testing.assert_allclose(np.diff(lefts), 4 * STEP, rtol=1e-9)
    assert len(tr.creepers) == len(range(0, 219, 4))
    for left, right, top, bottom in tr.creepers:
        assert right - left == pytest.approx(0.25)
        assert top - bottom >= 0.2
        i = int(round(left / STEP))
        assert top == max(tr.ceiling[i], tr.ceiling[min(i + 1, 219)])  # floor(0.25 / STEP) = 0 -> 1 step
    heights = np.array([c[2] - c[3] for c in tr.creepers])
    assert abs(heights.mean() - 2.0) < 0.05 and 0.05 < heights.std() < 0.15  # N(2, 0.1)
    # spacing 0 (floored at 0.01): by the same rule, a creeper every other segment; width 0 -> 0.2
    dense = make_track([-0.15, 0.8, 0.1], 0.0, 0.0, 0.0, 0.0, 10.0, np.random.default_rng(1))
    assert len(dense.creepers) == len(range(0, 219, 2)) == 110
    assert all(c[1] - c[0] == pytest.approx(0.2) for c in dense.creepers)


# -- env contract -------------------------------------------------------------------------
def test_task_space_is_tmas_medium_box():
    space = make_env("parkour").unwrapped.task_space
    bounds = {d.name: (d.low, d.high) for d in space.dims}
    assert bounds == {"input_vector_0": (-0.35, 0.05), "input_vector_1": (0.6, 1.0), "input_vector_2": (-0.1, 0.3),
                      "water_level": (0.0, 1.0), "creepers_height": (0.0, 4.0), "creepers_spacing": (0.0, 5.0)}
    env = ParkourEnv(cppn_input_space="full")
    assert env.task_space["input_vector_1"].low == -1.0
    with pytest.raises(TeachBenchError):
        ParkourEnv(cppn_input_space="hard")
    with pytest.raises(TeachBenchError):
        ParkourEnv(body="spider")
    with pytest.raises(TeachBenchError):
        ParkourEnv(terrain_cppn_scale=1.0)


@pytest.mark.parametrize("body,obs,act", [
    # 6 head values + motors (angle, speed, contact flag on lower legs) + 20 lidar values
    ("old_classic_bipedal", 6 + (4 * 2 + 2) + 20, 4),
    # 4 motors, each with a contact flag
    ("fish", 6 + 4 * 3 + 20, 4),
    # 10 motors (2 hips, 2 knees + contact, 2 shoulders, 2 elbows, 2 wrists + contact) + 2 sensors x 2
    ("climbing_profile_chimpanzee", 6 + (10 * 2 + 4) + 2 * 2 + 20, 10 + 2),
])
def test_sizes_match_tma(body, obs, act):
    env = make_env("parkour", body=body)
    assert env.observation_space.shape == (obs,) and env.action_space.shape == (act,)
    o, info = env.reset(seed=0)
    assert o.shape == (obs,) and env.observation_space.contains(o)
    assert env.spec.max_episode_steps == 2000  # TMA's max_ep_len


@pytest.mark.parametrize("body", BODIES)
def test_env_checkers(body):
    env = ParkourEnv(body=body)
    check_env(env, skip_render_check=True)
    sb3_check_env(ParkourEnv(body=body))


def test_reward_is_tmas_shaping_minus_energy():
    env = make_env("parkour")
    u = env.unwrapped
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    head = u.agent.head
    prev = 130 * head.position[0] / 30 - 5 * abs(head.angle)
    for _ in range(150):
        a = rng.uniform(-1.5, 1.5, size=4)
        _, r, terminated, _, _ = env.step(a)
        now = 130 * head.position[0] / 30 - 5 * abs(head.angle)
        expected = now - prev - 0.00035 * 80 * np.minimum(np.abs(a), 1).sum()
        assert r == pytest.approx(expected, abs=1e-4)
        prev = now
        assert not terminated  # TMA's Parkour walker: a hull contact does not end the episode


def test_same_task_and_seed_same_episode_and_seed_changes_creepers():
    env = make_env("parkour", max_episode_steps=100)
    t = task(env, creepers_height=2.0, creepers_spacing=1.0, water_level=0.3)

    def trace(seed):
        out = [np.append(env.reset(seed=seed, options={"task": t})[0], 0.0)]
        env.action_space.seed(seed)
        for _ in range(100):
            o, r, te, tr, info = env.step(env.action_space.sample())
            out.append(np.append(o, r))
            assert info["task"] == t
            if te or tr:
                break
        return np.array(out), [c[3] for c in env.unwrapped.track.creepers]

    (a, ca), (b, cb), (_, cc) = trace(5), trace(5), trace(6)
    np.testing.assert_array_equal(a, b)
    assert ca == cb and ca != cc


def test_success_is_return_above_230_and_mastery():
    env = make_env("parkour")
    assert env.unwrapped.is_mastered(230.5, False) and not env.unwrapped.is_mastered(230.0, True)
    env.reset(seed=0)
    env.unwrapped.episode_return = 230.0 + 1.0  # as if the track had been crossed
    _, r, _, _, info = env.step(np.zeros(4))
    assert info["success"] == (231.0 + r > 230)


# -- test sets ----------------------------------------------------------------------------
def test_test_sets_are_tmas():
    walking, climbing, swimming = (test_sets.table(n) for n in ("walking", "climbing", "swimming"))
    assert walking.shape == climbing.shape == swimming.shape == (100, 8)
    # facts of TMA's pickles: walking at terrain scale 20, no creepers set, water <= 0.75;
    # climbing at scale 10 with creepers; swimming full of water at scales 10 and 20
    assert np.all(walking[:, 7] == 20) and np.all(walking[:, 4:7] == 0) and walking[:, 3].max() == 0.75
    assert np.all(climbing[:, 7] == 10) and climbing[:, 5].max() < 4 and climbing[:, 6].max() < 5
    assert np.all(swimming[:, 3] == 1.0) and set(swimming[:, 7]) == {10.0, 20.0}
    assert (swimming[:, 7] == 20).sum() == 58
    assert walking[0, :3].tolist() == [-0.477, 0.603, -0.961]
    assert climbing[0, :4].tolist() == [-0.17685591, 0.98040471, 0.12261809, 0.08107853]


def test_test_tasks_by_body_type_and_levels_replay_exactly():
    for body, name in zip(BODIES, ("walking", "swimming", "climbing")):
        env = make_env("parkour", body=body)
        tasks = env.unwrapped.test_tasks()
        assert len(tasks) == 100 and tasks == [{"level": s} for s in test_sets.levels(name)]
    env = make_env("parkour", max_episode_steps=30)
    level = test_sets.levels("walking")[7]
    _, info = env.reset(seed=0, options={"level": level})
    assert info["task"] == {"level": level}
    tr = env.unwrapped.track
    assert tr.ceiling[0] == GROUND + 10.0  # scale 20
    assert len(tr.creepers) == 110          # walking set: width 0 / height 0 / spacing 0 -> TMA's floors
    _, info = env.reset(seed=1)             # no options: the level again
    assert info["task"] == {"level": level}
    t = task(env)
    assert env.reset(options={"task": t})[1]["task"] == t and env.reset()[1]["task"] == t
    with pytest.raises(TeachBenchError):
        env.reset(options={"level": "parkour:1,2,3"})
    with pytest.raises(TeachBenchError):
        env.reset(options={"level": "parkour:0,0,0,1.5,0,0,0,10"})


# -- water and the fish -------------------------------------------------------------------
def test_clip_and_centroid_by_hand():
    from envs.parkour.dynamics import centroid, clip_polygon

    water = [(-10.0, -10.0), (10.0, -10.0), (10.0, 0.0), (-10.0, 0.0)]       # surface at y = 0
    box = [(0.0, -0.25), (1.0, -0.25), (1.0, 0.75), (0.0, 0.75)]             # 1 x 1, a quarter under
    part = clip_polygon(water, box)
    (cx, cy), area = centroid(part)
    assert area == pytest.approx(0.25) and cx == pytest.approx(0.5) and cy == pytest.approx(-0.125)
    assert clip_polygon(water, [(0, 1), (1, 1), (1, 2), (0, 2)]) == []       # above the surface


def test_buoyancy_floats_a_box_at_archimedes_depth():
    """Buoyancy = water density x submerged area x g: a box of density 0.5 settles half
    submerged, one of density 0.8 with 80 % under water."""
    import Box2D
    from Box2D.b2 import fixtureDef, polygonShape

    from envs.parkour.bodies import BODY, WATER, Part
    from envs.parkour.dynamics import ParkourContacts, water_forces

    for density in (0.5, 0.8):
        world = Box2D.b2World()
        contacts = ParkourContacts()
        world.contactListener = contacts
        water = world.CreateStaticBody(userData=Part(WATER))
        water.CreateFixture(fixtureDef(shape=polygonShape(vertices=[(-10, -10), (10, -10), (10, 0), (-10, 0)]),
                                       density=1.0, isSensor=True))
        box = world.CreateDynamicBody(position=(0, 0.5), fixtures=fixtureDef(shape=polygonShape(box=(0.5, 0.5)),
                                                                            density=density), userData=Part(BODY))
        box.fixedRotation = True
        ys = []
        for _ in range(2500):
            world.Step(1 / 50, 180, 60)
            water_forces(contacts.water_pairs, tuple(world.gravity))
            ys.append(box.position[1])
        # quadratic drag leaves a small slow bobbing: average it over the last 30 s
        submerged = 0.5 - float(np.mean(ys[1000:]))  # the box spans [y - 0.5, y + 0.5]; surface y = 0
        assert submerged == pytest.approx(density, abs=0.01)


def test_drag_on_a_submerged_box_by_hand():
    """A neutrally buoyant 1 x 1 box moving right at 2 units/s, fully under water: only its
    leading edge (normal . v / |v| = 1, length 1) drags: F = 1 * 0.25 * 1 * 1 * 2^2 = 1,
    against the motion, so one 1/50 s step slows the unit mass by 0.02; buoyancy (area 1 x 10)
    cancels gravity."""
    import Box2D
    from Box2D.b2 import fixtureDef, polygonShape

    from envs.parkour.bodies import BODY, WATER, Part
    from envs.parkour.dynamics import ParkourContacts, water_forces

    world = Box2D.b2World()
    contacts = ParkourContacts()
    world.contactListener = contacts
    water = world.CreateStaticBody(userData=Part(WATER))
    water.CreateFixture(fixtureDef(shape=polygonShape(vertices=[(-10, -10), (10, -10), (10, 0), (-10, 0)]),
                                   density=1.0, isSensor=True))
    box = world.CreateDynamicBody(position=(0, -5), fixtures=fixtureDef(shape=polygonShape(box=(0.5, 0.5)),
                                                                       density=1.0), userData=Part(BODY))
    world.Step(1 / 50, 180, 60)          # let the contact listener see the overlap
    box.linearVelocity = (2.0, 0.0)
    box.angularVelocity = 0.0
    water_forces(contacts.water_pairs, tuple(world.gravity))
    world.Step(1 / 50, 180, 60)
    vx, vy = box.linearVelocity
    assert vx == pytest.approx(2.0 - 0.02, abs=1e-5) and vy == pytest.approx(0.0, abs=1e-5)
    assert box.angularVelocity == pytest.approx(0.0, abs=1e-6)


def test_fish_swims_forward_in_water_only():
    """A travelling wave down the fish's three body joints (a scripted swimmer) moves it
    forward in water; the same stroke on dry ground does not."""
    env = ParkourEnv(body="fish")
    moved = {}
    for water in (1.0, 0.0):
        env.reset(seed=0, options={"task": task(env, water_level=water)})
        x0 = env.agent.head.position[0]
        for k in range(300):
            phase = 2 * np.pi * k / 10
            env.step(np.sign([np.sin(phase), np.sin(phase - 1.5), np.sin(phase - 3.0), 0.0]))
        moved[water] = env.agent.head.position[0] - x0
    assert moved[1.0] > 5.0 and moved[0.0] < 1.0


def test_idle_fish_rises_slowly():
    """TMA makes the fish 0.01 lighter than water, so an idle fish drifts up."""
    env = ParkourEnv(body="fish")
    env.reset(seed=0, options={"task": task(env, water_level=1.0)})
    y0 = env.agent.head.position[1]
    for _ in range(500):
        o, *_ = env.step(np.zeros(4))
    assert o[4] == 1.0 and 1.0 < env.agent.head.position[1] - y0 < 4.0
    assert 0.2 < env.agent.head.linearVelocity[1] < 1.0   # drag caps the climb at a slow speed


@pytest.mark.parametrize("body,water", [("fish", 0.0), ("old_classic_bipedal", 1.0)])
def test_600_step_survival_rule(body, water):
    """TMA: after more than 600 consecutive steps out of water (fish) or under it (walker),
    the agent is dead: step 602 reports it and its actions are zeroed; the episode goes on."""
    env = make_env("parkour", body=body)
    env.reset(seed=0, options={"task": task(env, water_level=water)})
    for k in range(1, 610):
        o, _, terminated, truncated, _ = env.step(np.ones(4))
        assert o[4] == (1.0 if water == 1.0 else 0.0)  # the "under water" entry
        assert o[5] == (1.0 if k >= 602 else 0.0), k
        assert not (terminated or truncated)
    assert all(j.motorSpeed == 0.0 for j in env.unwrapped.agent.motors)  # the action was zeroed


def test_lidars_see_the_water_surface_from_above():
    env = ParkourEnv()
    probe = make_track([-0.15, 0.8, 0.1], 0.0, None, None, 1.0, 10.0, np.random.default_rng(0))
    level = (GROUND + 1.0 + 100.0) / (probe.ceiling.max() + 100.0)   # surface 1 unit above the ground
    o, _ = env.reset(seed=0, options={"task": task(env, input_vector_0=-0.15, input_vector_1=0.8,
                                                   input_vector_2=0.1, water_level=level)})
    assert env.track.water_y == pytest.approx(GROUND + 1.0)
    assert o[4] == 0.0                                     # the head is above the surface
    flags = o[-10:]
    assert np.all(flags[:5] == -1.0)                       # rays pointing down hit the water first


# -- climbing -----------------------------------------------------------------------------
def test_climber_starts_hanging_and_holds_while_grasping():
    """TMA's start: the hands' sensors are put on the start-pad ceiling (20 units above the
    ground at scale 10) with both grasp actions on for 5 + 1 steps, so the episode starts
    with both hands holding."""
    env = make_env("parkour", body="climbing_profile_chimpanzee")
    o, _ = env.reset(seed=0)
    u = env.unwrapped
    sensors = o[6 + 24: 6 + 28]           # after the head (6) and the 10 motors' 24 entries
    assert sensors[1] == 1.0 and sensors[3] == 1.0  # (touching, grasping) per hand: grasping
    for s in u.agent.sensors:
        assert s.position[1] == pytest.approx(GROUND + 20.0, abs=0.05)
    y0 = u.agent.head.position[1]
    hold = np.zeros(12)
    hold[-2:] = 1.0
    for _ in range(200):
        o, r, terminated, _, _ = env.step(hold)
        assert not terminated
    assert abs(u.agent.head.position[1] - y0) < 0.3 and o[6 + 25] == 1.0 and o[6 + 27] == 1.0


def test_climber_released_falls_and_dies_on_the_ground():
    """Grasp actions <= 0 release the grips; the chimpanzee falls ~18 units (about
    sqrt(2 * 18 / 10) s = 95 steps) and its critical parts touching the ground give -100."""
    env = make_env("parkour", body="climbing_profile_chimpanzee")
    env.reset(seed=0)
    release = np.zeros(12)
    release[-2:] = -1.0
    for k in range(1, 300):
        o, r, terminated, _, _ = env.step(release)
        assert o[6 + 25] == 0.0 and o[6 + 27] == 0.0
        if terminated:
            break
    assert terminated and r == -100.0 and 60 < k < 130


def test_a_ready_sensor_grasps_a_creeper_and_releases_it():
    import Box2D
    from Box2D.b2 import circleShape, fixtureDef, polygonShape

    from envs.parkour.bodies import CREEPER, SENSOR, TERRAIN, Part
    from envs.parkour.dynamics import ParkourContacts, after_step_grasp, before_step_grasp

    world = Box2D.b2World()
    contacts = ParkourContacts()
    contacts.reset(climber=True)
    world.contactListener = contacts
    creeper = world.CreateStaticBody(userData=Part(CREEPER))
    creeper.CreateFixture(fixtureDef(shape=polygonShape(vertices=[(0, 5), (0.25, 5), (0.25, 3), (0, 3)]),
                                     density=5.0, isSensor=True))
    rock = world.CreateStaticBody(userData=Part(TERRAIN))
    rock.CreateFixture(fixtureDef(shape=polygonShape(vertices=[(2, 5), (3, 5), (3, 3), (2, 3)])))

    def sensor_at(x):
        return world.CreateDynamicBody(position=(x, 4), userData=Part(SENSOR, check_contact=True),
                                       fixtures=fixtureDef(shape=circleShape(radius=0.05), density=1.0,
                                                           categoryBits=0x20, maskBits=0x1, isSensor=True))

    hand, other = sensor_at(0.1), sensor_at(2.5)
    grips: dict = {}
    for _ in range(30):
        before_step_grasp(np.array([1.0, 1.0]), [hand, other], grips, world)
        world.Step(1 / 50, 180, 60)
        after_step_grasp(contacts, grips, world)
    assert hand.userData.has_joint and hand.position[1] == pytest.approx(4.0, abs=0.01)  # held
    assert not other.userData.has_joint and other.position[1] < 3.0                      # rock: not graspable
    before_step_grasp(np.array([-1.0, 1.0]), [hand, other], grips, world)
    for _ in range(20):
        world.Step(1 / 50, 180, 60)
    assert not hand.userData.has_joint and hand.position[1] < 3.9 and hand not in grips


# -- scripted controllers, protocol preset ------------------------------------------------
FLAT = "parkour:-0.15,0.8,0.1,0.0,0.25,0.0,5.0,10000.0"   # CPPN relief / 10^4: ground flat to < 0.01


def _heuristic_walk(env, seed: int, settle: int = 30) -> tuple[float, float, bool]:
    """gymnasium's BipedalWalker heuristic gait (``BipedalWalkerHeuristics``) on the Parkour
    walker, after ``settle`` steps of holding the legs (hips 0.3, knees 0.1) while the walker
    lands: TMA starts its hull 2.5 units up, 0.23 higher than gymnasium."""
    from gymnasium.envs.box2d.bipedal_walker import BipedalWalkerHeuristics

    o, _ = env.reset(seed=seed, options={"level": FLAT})
    gait, a, ret, info = BipedalWalkerHeuristics(), np.zeros(4), 0.0, {"success": False}
    for k in range(2000):
        o, r, terminated, _, info = env.step(a)
        ret += r
        if k >= settle:
            a = gait.step_heuristic(np.concatenate([o[:4], o[6:16], o[16:26]]))  # gymnasium's 24-D layout
        else:
            hold = [0.9 * (0.3 - o[6]) - 0.25 * o[7], 4 * (0.1 - o[8]) - 0.25 * o[9],
                    0.9 * (-0.3 - o[11]) - 0.25 * o[12], 4 * (0.1 - o[13]) - 0.25 * o[14]]
            a = np.clip(hold, -1, 1)
        if terminated:
            break
    return env.agent.head.position[0], ret, info["success"]


def test_scripted_walker_on_a_flat_parkour_track():
    """gymnasium's heuristic gait walks the Parkour walker forward (it has no notion of
    balance and falls after ~5 units from TMA's higher start, which the next test's
    WalkerController fixes; a fallen Parkour walker is not ended); started at gymnasium's hull height, the same gait crosses the whole flat track
    (return > 230) as it crosses BipedalWalker-v3: the physics is gymnasium's walker's."""
    import dataclasses

    env = ParkourEnv(ceiling_offset=2e6)      # keep the ceiling 200 / 10^4 * 10^4 = 200 units up
    start = 20 * STEP / 2                    # TMA: init_x = TERRAIN_STEP * startpad / 2
    still = ParkourEnv(ceiling_offset=2e6)
    still.reset(seed=0, options={"level": FLAT})
    for _ in range(300):
        still.step(np.zeros(4))
    assert still.agent.head.position[0] - start < 1.0      # idle: it slumps, it does not go forward
    for seed in range(3):
        x, _, _ = _heuristic_walk(env, seed)
        assert x - start > 4.0                 # a few strides (~10 terrain steps) before it falls
    env.spec_body = dataclasses.replace(env.spec_body, center_height=2 * 34 / 30)  # gymnasium's start
    x, ret, success = _heuristic_walk(env, seed=0, settle=0)
    assert x > env.track.finish_x and ret > 230 and success


def test_scripted_walker_crosses_the_flat_track_from_tmas_start():
    """envs/parkour/scripted.py's WalkerController (gymnasium's gait, held in its first pose
    for 20 steps while the walker lands from TMA's hull height 2.5, with a stronger hull
    damping) crosses the whole flat track from TMA's own start within TMA's 2000 steps; with
    no settle phase the same controller falls within a few units."""
    from envs.parkour.scripted import WalkerController

    env = make_env("parkour", ceiling_offset=2e6)
    start = 20 * STEP / 2
    assert env.unwrapped.spec_body.center_height == pytest.approx(2 * 34 / 30 - 8 / 30 + 0.5)   # TMA's start
    for seed, controller in ((0, WalkerController()), (1, WalkerController()), (0, WalkerController(settle=0))):
        o, _ = env.reset(seed=seed, options={"level": FLAT})
        for _ in range(2000):
            o, r, terminated, truncated, info = env.step(controller(o))
            if terminated or truncated:
                break
        x = env.unwrapped.agent.head.position[0]
        if controller.settle:
            assert terminated and x > (200 + 20 - 5) * STEP and info["success"]
        else:
            assert x - start < 5.0 and not info["success"]


def _climb(seed: int, act=None) -> tuple[float, float, list, dict]:
    """Play the scripted climber (``act`` rewrites its action) on the flat level with TMA's
    start-pad ceiling 20 units up (200 px / scale 10 = 2e5 px / scale 10^4), 2000 steps."""
    from envs.parkour.scripted import ClimberController

    env = make_env("parkour", body="climbing_profile_chimpanzee", ceiling_offset=2e5)
    o, _ = env.reset(seed=seed, options={"level": FLAT})
    controller, ret, rewards, end = ClimberController(), 0.0, [], {}
    for _ in range(2000):
        a = controller(o)
        o, r, terminated, truncated, info = env.step(a if act is None else act(a))
        ret += r
        rewards.append(r)
        if terminated or truncated:
            end = {"terminated": terminated, "truncated": truncated, **info}
            break
    return env.unwrapped.agent.head.position[0], ret, rewards, end


def test_scripted_climber_crosses_a_flat_parkour_track_hand_over_hand():
    """Brachiation (envs/parkour/scripted.py) takes the chimpanzee across the whole flat track
    under the ceiling within TMA's 2000 steps: it ends by passing the finish line (215 steps
    of 14/30), never by a fatal contact, with a return above TMA's mastery threshold 230
    (130 / 30 per unit over 95.7 units is 414 before the energy cost). Without regrasping
    (grasp actions held on, so no hand can move along the ceiling) the same arm motions get
    nowhere, and an idle climber just hangs: the progress is the hand-over-hand grip."""
    start = 20 * STEP / 2
    for seed in (0, 1):
        x, ret, rewards, end = _climb(seed)
        assert end["terminated"] and not end["truncated"] and x > (200 + 20 - 5) * STEP
        assert min(rewards) > -100 and ret > 230 and end["success"]

    def keep_both_grips(a):
        a = a.copy()
        a[-2:] = 1.0
        return a

    x, ret, rewards, end = _climb(0, keep_both_grips)
    assert x - start < 1.0 and not end.get("success", False)
    x, *_ = _climb(0, lambda a: np.r_[np.zeros(10), 1.0, 1.0])
    assert abs(x - start) < 0.5


def test_tma_parkour_preset(compose):
    from omegaconf import OmegaConf

    from experiments.running.config_checks import validate_config

    cfg = compose("experiment=tma_parkour", "seed=3")
    validate_config(cfg)
    assert cfg.env.name == "parkour" and cfg.student.algo == "sac" and cfg.env.normalize is False
    assert cfg.expert_knowledge == "low" and cfg.env.expert.success == 230.0
    assert cfg.env.label == "parkour_old_classic_bipedal"
    params = OmegaConf.load("configs/experiment/tma_parkour.yaml").hydra.sweeper.params
    assert set(params["env.kwargs.body"].split(",")) == set(BODIES)
    assert len(params.teacher.split(",")) == 8 and params.seed == "range(0,16)"   # TMA's Table 1: 8 teachers
    assert list(cfg.env.reward_range) == [-150.0, 360.0]                            # TMA's Parkour bounds


@pytest.mark.slow
def test_short_run_writes_parkour_evaluation(compose):
    """A complete tiny run: random teacher, PPO, the walking test set (100 exact levels)
    played with 10-step episodes; mastered = return > 230 (never, here)."""
    from experiments.running.run import run, run_dir_for

    cfg = compose("env=parkour", "env.n_envs=1", "env.vec_env=dummy", "budget.steps=256", "eval.every=256",
                  "checkpoint.every=256", "env.students.ppo.n_steps=128", "env.students.ppo.batch_size=64",
                  "+env.kwargs.max_episode_steps=10", "eval.held_out=false", "eval.n_envs=4")
    summary = run(cfg)
    evals = run_dir_for(cfg).read("eval")
    assert summary is not None and len(evals) % 100 == 0 and len(evals) >= 100
    assert evals.filter(like="level").iloc[:, 0].str.startswith("parkour:").all()
    assert not evals["mastered"].any()


def test_creepers_are_sensors_that_lidars_report():
    """TMA's creepers are sensor fixtures: a walker passes through them (no contact flag, no
    end) while its lidars report them (surface flag 1). Creepers 25 units tall hang from the
    ceiling 20 units up through the ground, so the walker stands inside them."""
    env = ParkourEnv()
    o, _ = env.reset(seed=0, options={"level": "parkour:-0.15,0.8,0.1,0.0,0.25,25.0,0.0,10.0"})
    assert env.track.creepers[0][3] < GROUND - 1.0                 # the first creeper reaches below the ground
    hold = np.zeros(4)
    for _ in range(60):
        o, _, terminated, _, _ = env.step(hold)
        assert not terminated
    assert np.any(o[-10:] == 1.0)                                   # some rays stop on a creeper
    feet = [c for c in env.agent.contact if c is not None]
    assert o[10] == float(feet[0].userData.has_contact) and o[15] == float(feet[1].userData.has_contact)
    grounded = [any(ce.contact.touching and ce.other.userData.kind == "terrain" for ce in f.contacts) for f in feet]
    assert [bool(o[10]), bool(o[15])] == grounded                   # flags follow the ground, not creepers


def test_rgb_array_frames_and_a_video(tmp_path):
    from envs.walker.video import policy_video

    env = ParkourEnv(body="fish", render_mode="rgb_array")
    env.reset(seed=0, options={"task": task(env, water_level=1.0)})
    frame = env.render()
    assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8
    colours = {tuple(c) for c in frame.reshape(-1, 3)[::97]}
    assert (119, 172, 229) in colours and (102, 153, 76) in colours   # water and ground are in view
    with pytest.raises(TeachBenchError):
        ParkourEnv(render_mode="human")
    out = policy_video("parkour", lambda o: np.ones(4), task(env, water_level=1.0), tmp_path / "fish.gif",
                       env_kwargs={"body": "fish"}, max_steps=12, frame_every=4)
    assert (tmp_path / "fish.gif").stat().st_size > 0 and out["length"] == 12


@pytest.mark.parametrize("body,water", [("fish", 1.0), ("climbing_profile_chimpanzee", 0.5)])
def test_water_and_grasping_replay_exactly(body, water):
    def trace():
        env = make_env("parkour", body=body)
        out = [env.reset(seed=4, options={"task": task(env, water_level=water, creepers_height=3.0,
                                                          creepers_spacing=0.5)})[0]]
        env.action_space.seed(4)
        for _ in range(150):
            o, r, te, tr, _ = env.step(env.action_space.sample())
            out.append(np.append(o, r))
            if te or tr:
                break
        return out

    a, b = trace(), trace()
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
