"""TeachMyAgent's Parkour on gymnasium + Box2D (``TeachBench/Parkour-v0``, ``env=parkour``).

A track whose ground and ceiling come from TMA's pre-trained CPPN
(:mod:`envs.parkour.cppn`), with water and creepers hanging from the ceiling, played by
one of TMA's three Parkour bodies (:mod:`envs.parkour.bodies`): the walker
``old_classic_bipedal`` (default), the swimmer ``fish`` and the climber
``climbing_profile_chimpanzee`` (docs/references.md#tma-parkour).

**Task space** (TMA's, ``CPPN_input_space="medium"``): ``input_vector_0`` in [-0.35, 0.05],
``input_vector_1`` in [0.6, 1.0], ``input_vector_2`` in [-0.1, 0.3] (the CPPN input),
``water_level`` in [0, 1] (a fraction of the height from ``-1000 / scale`` to the highest
ceiling point), ``creepers_height`` in [0, 4] and ``creepers_spacing`` in [0, 5] (world
units). TMA's two remaining task dimensions are constant in its benchmark and are
constructor options here: ``creepers_width = 0.25`` and ``terrain_cppn_scale = 10``.
``cppn_input_space="easy"`` and ``"full"`` ([-1, 1]^3) are TMA's other boxes.

**Episode** (TMA's ``step``): reward ``130 dx / 30`` minus ``5 |head angle|`` (walker
only) minus ``torque_penalty * 80 * sum clip(|a|, 0, 1)``; ``-100`` and the end when a
critical part touches something (or the head goes behind x = 0); the end, without bonus,
once the head passes ``(200 + 20 - 5)`` terrain steps. A walker or climber whose head has
been under water, or a fish whose head has been out of water, for more than 600
consecutive steps is dead: its actions are zeroed and its observation says so, until the
episode ends (TMA does not end it). Episodes are cut at 2,000 steps (TMA's ``max_ep_len``,
gymnasium's ``TimeLimit`` here). ``info["success"]``: the return so far exceeds 230, TMA's
mastery threshold.

**Test sets**: TMA's three hand-made 100-task sets, ``walking`` / ``climbing`` /
``swimming`` (:mod:`envs.parkour.test_sets`), chosen by the body's type by default. Their
tasks set all 8 of TMA's parameters and some lie outside the training box (TMA tests
walkers with ``terrain_cppn_scale = 20``), so each is an exact level string
``parkour:<8 values>`` played through ``reset(options={"level": ...})``.

Where we differ from TMA, and why:

- Ground edges are fixtures of one static body instead of one body per edge (same
  contacts; the ceiling edges and creepers keep one body each, as grip joints need).
  Creepers are always static (TMA's ``movable_creepers`` option is not implemented).
- A fresh Box2D world per episode, so that a task and a seed replay exactly.
- Randomness: one ``numpy`` Generator seeded by ``reset(seed=...)`` draws the creepers'
  heights and the start push (TMA: gym's seeding); clouds are not drawn.
- Our renderer (``render_mode="rgb_array"``, pygame) draws the same scene as TMA's viewer
  (sky, water, ground and ceiling fills, creepers, the body, its lidars, a camera on the
  head) without TMA's clouds and flag.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import Box2D
import gymnasium as gym
import numpy as np
from Box2D.b2 import edgeShape, fixtureDef, polygonShape
from gymnasium import spaces
from gymnasium.utils import EzPickle

from envs.base import TaskEnvMixin
from envs.errors import TeachBenchError
from envs.parkour import test_sets
from envs.parkour.bodies import (CREEPER, GRIP, TERRAIN, WATER, WATER_DENSITY, Agent, ParkourBodySpec, Part,
                                  build_agent, parkour_body)
from envs.parkour.dynamics import (LIDAR_ANGLES, LIDAR_RANGE, NB_LIDAR, ParkourContacts, ParkourLidar,
                                   after_step_grasp, before_step_grasp, water_forces)
from envs.parkour.terrain import (SCALE, TERRAIN_HEIGHT, TERRAIN_STEP, VIEWPORT_H, VIEWPORT_W, Track, make_track,
                                  startpad_steps)
from envs.task_space import Dim, Task, TaskSpace

FPS = 50
FRICTION = 2.5
INITIAL_RANDOM = 5.0
NB_FIRST_STEPS_HANG = 5
MASTERY_RETURN = 230.0
CPPN_INPUT_SPACES: dict[str, tuple[tuple[float, float], ...]] = {
    "easy": ((-0.25, -0.05), (0.8, 1.0), (0.0, 0.2)),
    "medium": ((-0.35, 0.05), (0.6, 1.0), (-0.1, 0.3)),   # TMA's default, used in its benchmark
    "full": ((-1.0, 1.0), (-1.0, 1.0), (-1.0, 1.0)),
}
TASK_NAMES = ("input_vector_0", "input_vector_1", "input_vector_2", "water_level", "creepers_height",
              "creepers_spacing")


def _range(key: str, value: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TeachBenchError(key, f"expected [low, high], got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise TeachBenchError(key, f"expected finite low <= high, got [{lo}, {hi}]")
    return lo, hi


def observation_bounds(spec: ParkourBodySpec) -> tuple[list[float], list[float]]:
    """Flags in [0, 1], lidar fractions in [0, 1], surface flags in [-1, 1]; angles and speeds
    unbounded (TMA bounds every entry by +-inf; a head that turns over is not wrapped).
    Motor entries follow the state's order: angle, speed, then the contact flag if any."""
    inf = math.inf
    low, high = [-inf] * 4 + [0.0, 0.0], [inf] * 4 + [1.0, 1.0]
    for has_contact in spec.motor_contacts:
        low += [-inf, -inf] + ([0.0] if has_contact else [])
        high += [inf, inf] + ([1.0] if has_contact else [])
    low += [0.0] * (2 * spec.n_sensors + NB_LIDAR) + [-1.0] * NB_LIDAR
    high += [1.0] * (2 * spec.n_sensors + 2 * NB_LIDAR)
    return low, high


class ParkourEnv(TaskEnvMixin, gym.Env):
    """TMA's Parkour.

    Args:
        body: ``old_classic_bipedal`` (alias ``default``, ``walker``), ``fish`` (``swimmer``)
            or ``climbing_profile_chimpanzee`` (``climber``). Default the walker (TMA's).
        cppn_input_space: ``medium`` (TMA's default), ``easy`` or ``full``. Default ``medium``.
        water_range, creepers_height_range, creepers_spacing_range: task bounds. Defaults
            TMA's [0, 1], [0, 4], [0, 5].
        creepers_width: fixed creeper width, world units. Default 0.25 (TMA).
        terrain_cppn_scale: fixed divisor of the CPPN's output. Default 10 (TMA).
        ceiling_offset: start-pad ceiling height above the ground, TMA's pixels. Default 200.
        ceiling_clip_offset: least ceiling height above the ground, pixels. Default 0 (TMA).
        water_clip: cap of the water push force. Default 20 (TMA).
        lidars: ``down``, ``up`` or ``full``; default ``None`` = TMA's per type (walker down,
            climber up, swimmer full).
        test_set: ``walking``, ``climbing``, ``swimming`` or ``auto`` (by body type). Default ``auto``.
        render_mode: ``None`` or ``"rgb_array"`` (600 x 400 frames).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": FPS}

    def __init__(self, body: str = "default", cppn_input_space: str = "medium",
                 water_range: Sequence[float] = (0.0, 1.0), creepers_height_range: Sequence[float] = (0.0, 4.0),
                 creepers_spacing_range: Sequence[float] = (0.0, 5.0), creepers_width: float = 0.25,
                 terrain_cppn_scale: float = 10.0, ceiling_offset: float = 200.0, ceiling_clip_offset: float = 0.0,
                 water_clip: float = 20.0, lidars: str | None = None, test_set: str = "auto",
                 render_mode: str | None = None) -> None:
        EzPickle.__init__(self, body=body, cppn_input_space=cppn_input_space, water_range=water_range,
                          creepers_height_range=creepers_height_range, creepers_spacing_range=creepers_spacing_range,
                          creepers_width=creepers_width, terrain_cppn_scale=terrain_cppn_scale,
                          ceiling_offset=ceiling_offset, ceiling_clip_offset=ceiling_clip_offset, water_clip=water_clip,
                          lidars=lidars, test_set=test_set, render_mode=render_mode)
        if render_mode not in (None, "rgb_array"):
            raise TeachBenchError("env.kwargs.render_mode", f"unknown render mode {render_mode!r}", [None, "rgb_array"])
        self.render_mode = render_mode
        self.spec_body = parkour_body(body)
        if cppn_input_space not in CPPN_INPUT_SPACES:
            raise TeachBenchError("env.kwargs.cppn_input_space", f"unknown {cppn_input_space!r}",
                                  list(CPPN_INPUT_SPACES))
        for key, value in (("creepers_width", creepers_width), ("terrain_cppn_scale", terrain_cppn_scale),
                           ("ceiling_offset", ceiling_offset), ("ceiling_clip_offset", ceiling_clip_offset),
                           ("water_clip", water_clip)):
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise TeachBenchError(f"env.kwargs.{key}", f"must be a finite number >= 0, got {value!r}")
        if terrain_cppn_scale <= 1:
            raise TeachBenchError("env.kwargs.terrain_cppn_scale", f"must be > 1 (TMA), got {terrain_cppn_scale}")
        self.lidar_type = lidars if lidars is not None else self.spec_body.lidars
        if self.lidar_type not in LIDAR_ANGLES:
            raise TeachBenchError("env.kwargs.lidars", f"unknown lidar type {lidars!r}", list(LIDAR_ANGLES))
        self.test_set = test_sets.resolve(test_set, self.spec_body.kind)
        boxes = list(CPPN_INPUT_SPACES[cppn_input_space])
        boxes.append(_range("env.kwargs.water_range", water_range))
        boxes.append(_range("env.kwargs.creepers_height_range", creepers_height_range))
        boxes.append(_range("env.kwargs.creepers_spacing_range", creepers_spacing_range))
        if not (0 <= boxes[3][0] and boxes[3][1] <= 1):
            raise TeachBenchError("env.kwargs.water_range", f"must lie in [0, 1], got {list(boxes[3])}")
        if boxes[4][0] < 0 or boxes[5][0] < 0:
            raise TeachBenchError("env.kwargs.creepers_height_range", "creeper height and spacing must be >= 0")
        docs = ("CPPN input 1 (TMA input_vector)", "CPPN input 2", "CPPN input 3",
                "water level, fraction of the height up to the highest ceiling point",
                "mean creeper height, world units", "creeper spacing, world units")
        self.task_space = TaskSpace(tuple(Dim(n, lo, hi, doc=d) for n, (lo, hi), d in zip(TASK_NAMES, boxes, docs)))
        self.creepers_width = float(creepers_width)
        self.terrain_cppn_scale = float(terrain_cppn_scale)
        self.ceiling_offset = float(ceiling_offset)
        self.ceiling_clip_offset = float(ceiling_clip_offset)
        self.water_clip = float(water_clip)

        spec = self.spec_body
        self.action_space = spaces.Box(-np.ones(spec.action_dim, dtype=np.float32),
                                       np.ones(spec.action_dim, dtype=np.float32))
        low, high = observation_bounds(spec)
        self.observation_space = spaces.Box(np.array(low, dtype=np.float32), np.array(high, dtype=np.float32))
        self.startpad = startpad_steps(spec.width)
        angle, offset = LIDAR_ANGLES[self.lidar_type]
        self._lidar_dirs = [(math.sin(angle * i / NB_LIDAR + offset) * LIDAR_RANGE,
                             -math.cos(angle * i / NB_LIDAR + offset) * LIDAR_RANGE) for i in range(NB_LIDAR)]
        self._energy = spec.torque_penalty * 80.0
        self.contacts = ParkourContacts()
        self.world = Box2D.b2World()
        self.terrain: list[Any] = []
        self.agent: Agent | None = None
        self.grips: dict[Any, Any] = {}
        self.track: Track | None = None
        self._task: Task | None = None
        self._level: dict[str, Any] | None = None
        self._played: dict[str, Any] = {}
        self._params: dict[str, Any] = {}

    # -- tasks ----------------------------------------------------------------------------
    def default_task(self) -> Task:
        """The box's centre for the CPPN input, no water, the lowest and sparsest creepers."""
        values = {d.name: (d.low + d.high) / 2 for d in self.task_space.dims[:3]}
        values.update(water_level=self.task_space["water_level"].low,
                      creepers_height=self.task_space["creepers_height"].low,
                      creepers_spacing=self.task_space["creepers_spacing"].high)
        return self.task_space.validate(values)

    def params_of(self, task: Task) -> dict[str, Any]:
        """TMA's ``set_environment`` arguments of a training task (the fixed dimensions added)."""
        return {"input_vector": [task["input_vector_0"], task["input_vector_1"], task["input_vector_2"]],
                "water_level": task["water_level"], "creepers_width": self.creepers_width,
                "creepers_height": task["creepers_height"], "creepers_spacing": task["creepers_spacing"],
                "terrain_cppn_scale": self.terrain_cppn_scale}

    def test_tasks(self) -> list[Task]:
        """TMA's test set for this body's type: 100 exact level strings."""
        return [{"level": level} for level in test_sets.levels(self.test_set)]

    def is_mastered(self, episode_return: float, success: bool) -> bool:
        return bool(episode_return > MASTERY_RETURN)

    def held_out(self) -> dict[str, Any]:
        """The first task of each of TMA's three test sets (zero-shot checks across body types)."""
        return {name: test_sets.levels(name)[0] for name in test_sets.TEST_SETS}

    # -- gymnasium API --------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        level = (options or {}).get("level")
        if level is None and options and isinstance(options.get("task"), dict) and "level" in options["task"]:
            level = options["task"]["level"]
        if level is not None:
            self._level = test_sets.parse_level(level)
        elif options and options.get("task") is not None:
            self._level = None
        if self._level is not None:   # a level, or a reset without options after one: replay it
            self._params = self._level
            self._played = {"level": test_sets.level_string(self._params)}
        else:
            self._task = self.resolve_task(options, self._task)
            self._params = self.params_of(self._task)
            self._played = dict(self._task)
        self._build()
        zero = np.zeros(self.spec_body.action_dim, dtype=np.float32)
        if self.spec_body.kind == "climber":
            zero = self._hang()
            for _ in range(NB_FIRST_STEPS_HANG):
                self._advance(zero)
        obs, _, _ = self._advance(zero)
        self.steps_under_water = self.steps_outside_water = 0
        self.episode_return = 0.0
        return obs, {"task": dict(self._played), "success": False}

    def step(self, action: np.ndarray):
        obs, reward, terminated = self._advance(np.asarray(action, dtype=np.float64))
        self.episode_return += reward
        info = {"task": dict(self._played), "success": bool(self.episode_return > MASTERY_RETURN),
                "progress": self._head_x / self.track.finish_x}
        return obs, reward, terminated, False, info

    def close(self) -> None:
        self._destroy()

    def render(self) -> np.ndarray | None:
        """A 600 x 400 RGB frame, the camera on the head as TMA's viewer (``rgb_array``)."""
        if self.render_mode is None:
            gym.logger.warn("render() called without render_mode; use render_mode='rgb_array'")
            return None
        import pygame

        width, height = VIEWPORT_W, VIEWPORT_H
        track, agent = self.track, self.agent
        hx, hy = agent.head.position
        left = hx - width / SCALE / 5
        bottom = hy - height / SCALE / 5 - TERRAIN_HEIGHT + 1 / SCALE
        top, right = bottom + height / SCALE, left + width / SCALE

        def px(x: float, y: float) -> tuple[float, float]:
            return (x - left) * SCALE, height - (y - bottom) * SCALE

        surf = pygame.Surface((width, height))
        surf.fill((230, 230, 255))
        if track.water_y > bottom:
            pygame.draw.polygon(surf, (119, 172, 229), [px(left, bottom - 1), px(right, bottom - 1),
                                                        px(right, track.water_y), px(left, track.water_y)])
        for k in range(len(track.x) - 1):
            x0, x1 = float(track.x[k]), float(track.x[k + 1])
            if x1 < left or x0 > right:
                continue
            g0, g1, c0, c1 = track.ground[k], track.ground[k + 1], track.ceiling[k], track.ceiling[k + 1]
            pygame.draw.polygon(surf, (102, 153, 76), [px(x0, g0), px(x1, g1), px(x1, bottom - 1), px(x0, bottom - 1)])
            pygame.draw.polygon(surf, (128, 128, 128), [px(x0, c0), px(x1, c1), px(x1, top + 1), px(x0, top + 1)])
        for x0, x1, y0, y1 in track.creepers:
            if x0 <= right and x1 >= left:
                pygame.draw.polygon(surf, (111, 128, 96), [px(x0, y0), px(x1, y0), px(x1, y1), px(x0, y1)])
        for body in agent.bodies:
            color = getattr(body, "color1", None) or (127, 102, 229)
            color = tuple(int(c * 255) if isinstance(c, float) and c <= 1 else int(c) for c in color)
            if body.userData.has_joint:
                color = (255, 255, 0)   # a grasping hand sensor, as TMA colours it
            for fixture in body.fixtures:
                shape = fixture.shape
                if hasattr(shape, "radius") and not hasattr(shape, "vertices"):
                    cx, cy = body.transform * shape.pos
                    pygame.draw.circle(surf, color, px(cx, cy), max(1, int(shape.radius * SCALE)))
                else:
                    pygame.draw.polygon(surf, color, [px(*(body.transform * v)) for v in shape.vertices])
        for lidar in self.lidar:
            pygame.draw.line(surf, (255, 0, 0), px(*lidar.p1), px(*lidar.p2), 1)
        return np.transpose(np.array(pygame.surfarray.pixels3d(surf)), (1, 0, 2)).copy()

    # -- world ----------------------------------------------------------------------------
    def _destroy(self) -> None:
        self.world.contactListener = None
        for body in self.terrain:
            self.world.DestroyBody(body)
        self.terrain = []
        if self.agent is not None:
            for body in self.agent.bodies:
                self.world.DestroyBody(body)
        self.agent = None
        self.grips = {}

    def _build(self) -> None:
        self._destroy()
        # a fresh world per episode: Box2D reuses freed broad-phase proxies in an order that
        # depends on the previous episode, which changes contact order and so the results
        self.world = Box2D.b2World()
        spec = self.spec_body
        self.contacts.reset(climber=spec.kind == "climber")
        p = self._params
        track = make_track(p["input_vector"], p["water_level"], p["creepers_width"], p["creepers_height"],
                           p["creepers_spacing"], p["terrain_cppn_scale"], self.np_random, startpad=self.startpad,
                           ceiling_offset=self.ceiling_offset, ceiling_clip_offset=self.ceiling_clip_offset)
        self.track = track
        self._ceiling_units = self.ceiling_offset / p["terrain_cppn_scale"]
        world = self.world
        ground = world.CreateStaticBody(userData=Part(TERRAIN))
        edge = fixtureDef(shape=edgeShape(vertices=[(0, 0), (1, 1)]), friction=FRICTION, categoryBits=0x1,
                          maskBits=0xFFFF)
        self.terrain = [ground]
        for k in range(len(track.x) - 1):
            x0, x1 = float(track.x[k]), float(track.x[k + 1])
            edge.shape.vertices = [(x0, float(track.ground[k])), (x1, float(track.ground[k + 1]))]
            ground.CreateFixture(edge)
            # one body per graspable piece, as TMA: a grip joint then only stops the contacts
            # of the piece it holds (Box2D does not collide bodies joined by a joint)
            edge.shape.vertices = [(x0, float(track.ceiling[k])), (x1, float(track.ceiling[k + 1]))]
            self.terrain.append(world.CreateStaticBody(fixtures=edge, userData=Part(GRIP)))
        for left, right, top, bottom in track.creepers:
            shape = polygonShape(vertices=[(left, top), (right, top), (right, bottom), (left, bottom)])
            self.terrain.append(world.CreateStaticBody(fixtures=fixtureDef(shape=shape, density=5.0, isSensor=True),
                                                       userData=Part(CREEPER)))
        water = world.CreateStaticBody(userData=Part(WATER))
        x_first, x_last = float(track.x[0]), float(track.x[-1])
        water.CreateFixture(fixtureDef(shape=polygonShape(vertices=[
            (x_first, track.ground_limit), (x_first, track.water_y), (x_last, track.water_y),
            (x_last, track.ground_limit)]), density=WATER_DENSITY, isSensor=True))
        self.terrain.append(water)
        world.contactListener = self.contacts
        init_x = TERRAIN_STEP * self.startpad / 2
        init_y = TERRAIN_HEIGHT + spec.center_height
        push = float(self.np_random.uniform(-INITIAL_RANDOM, INITIAL_RANDOM))
        self.agent = build_agent(world, spec, init_x, init_y, push)
        mask = self.agent.head.fixtures[0].filterData.maskBits
        self.lidar = [ParkourLidar(mask) for _ in range(NB_LIDAR)]
        self.prev_shaping: float | None = None
        self.steps_under_water = self.steps_outside_water = 0
        self._head_x = init_x

    def _hang(self) -> np.ndarray:
        """TMA's climber start: move the body so its hand sensors touch the start-pad
        ceiling, with both grasp actions on (the caller then plays 5 + 1 steps)."""
        agent = self.agent
        actions = np.zeros(self.spec_body.action_dim, dtype=np.float32)
        ceiling_y = TERRAIN_HEIGHT + self._ceiling_units
        shift = 0.0
        for k in reversed(range(len(agent.sensors))):
            actions[len(actions) - len(agent.sensors) + k] = 1.0
            sensor = agent.sensors[k]
            if shift == 0.0:
                shift = ceiling_y - sensor.position[1]
            sensor.position = (sensor.position[0], ceiling_y)
        for part in agent.parts:
            part.position = (part.position[0], part.position[1] + shift)
        return actions

    # -- one step -------------------------------------------------------------------------
    def _advance(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        spec, agent = self.spec_body, self.agent
        dead = ((spec.survive_outside_water is not None and self.steps_outside_water > spec.survive_outside_water)
                or (spec.survive_under_water is not None and self.steps_under_water > spec.survive_under_water))
        if dead:
            action = np.zeros(spec.action_dim)
        mag = np.minimum(np.abs(action), 1.0)
        sign = np.sign(action)
        for k, joint in enumerate(agent.motors):
            joint.motorSpeed = float(agent.speed[k] * sign[k])
            joint.maxMotorTorque = float(spec.torque * mag[k])
        if agent.sensors:
            before_step_grasp(action, agent.sensors, self.grips, self.world)
        self.world.Step(1.0 / FPS, 6 * 30, 2 * 30)
        if agent.sensors:
            after_step_grasp(self.contacts, self.grips, self.world)
        if self.contacts.water_pairs:
            water_forces(self.contacts.water_pairs, tuple(self.world.gravity), self.water_clip)

        head = agent.head
        px, py = head.position
        vel = head.linearVelocity
        self._head_x = px
        for lidar, (dx, dy) in zip(self.lidar, self._lidar_dirs):
            lidar.fraction = 1.0
            lidar.p1 = (px, py)
            lidar.p2 = (px + dx, py + dy)
            self.world.RayCast(lidar, lidar.p1, lidar.p2)
        under = py <= self.track.water_y
        if not dead:
            if under:
                self.steps_under_water += 1
                self.steps_outside_water = 0
            else:
                self.steps_outside_water += 1
                self.steps_under_water = 0
        angle = head.angle
        state = [angle, 2.0 * head.angularVelocity / FPS, 0.3 * vel.x * (VIEWPORT_W / SCALE) / FPS,
                 0.3 * vel.y * (VIEWPORT_H / SCALE) / FPS, 1.0 if under else 0.0, 1.0 if dead else 0.0]
        for joint, speed, corr, contact in zip(agent.motors, agent.speed, agent.correction, agent.contact):
            state += [joint.angle + corr, joint.speed / speed]
            if contact is not None:
                state.append(1.0 if contact.userData.has_contact else 0.0)
        for sensor in agent.sensors:
            state += [1.0 if sensor.userData.has_contact else 0.0, 1.0 if sensor.userData.has_joint else 0.0]
        state += [lidar.fraction for lidar in self.lidar]
        state += [-1.0 if lidar.water else (1.0 if lidar.creeper else 0.0) for lidar in self.lidar]

        shaping = 130 * px / SCALE
        if spec.head_angle_reward:
            shaping -= 5.0 * abs(angle)
        reward = 0.0 if self.prev_shaping is None else shaping - self.prev_shaping
        self.prev_shaping = shaping
        reward -= self._energy * float(mag.sum())
        terminated = False
        if self.contacts.critical_contact or px < 0 or not (math.isfinite(px) and math.isfinite(py)):
            reward, terminated = -100.0, True
        if px > self.track.finish_x:
            terminated = True
        return np.asarray(state, dtype=np.float32), float(reward), terminated
