"""The parameterized walker: gymnasium's BipedalWalker with task-driven terrain and bodies.

We subclass :class:`gymnasium.envs.box2d.bipedal_walker.BipedalWalker` and keep its
physics settings (world step, ``FPS``, friction, joint limits, lidar range), its reward
(forward progress ``130 x / SCALE``, ``-5 |hull angle|``, an energy cost and ``-100`` on a
fall), its observation layout, its clouds, ``_destroy`` and its renderer. What we change:

- terrain comes from a :class:`~envs.walker.terrain.Layout` computed from the task;
- the body comes from a per-instance :class:`~envs.walker.bodies.BodySpec` (never from
  gymnasium's module constants, which we only read): TeachMyAgent's and teachDeepRL's
  published bodies, e.g. the spider has 12 actions and a 42-D observation while the default
  biped keeps gymnasium's 4 actions and 24-D observation;
- ``step`` is written for any list of motors, with TMA's state layout (head angle, angular
  and linear speeds; per motor its angle plus correction and normalised speed, and a ground
  contact after each lower-leg motor; 10 lidars from the head). For the default body on
  gymnasium's own terrain it reproduces BipedalWalker-v3's observations exactly (tested).

The energy cost is TMA's ``torque_penalty * 80 * sum |a|`` with each body's published
penalty (0.00035 for the bipeds, divided by the pairs of legs for the others); for the
default body it is gymnasium's ``0.00035 * 80`` per unit of |action|.
"""

from __future__ import annotations

import math
from typing import Any

import Box2D
import numpy as np
from Box2D.b2 import contactListener, rayCastCallback
from gymnasium import spaces
from gymnasium.envs.box2d import bipedal_walker as gw
from gymnasium.utils import EzPickle

from envs.base import TaskEnvMixin
from envs.task_space import Task
from envs.walker.bodies import ORIGINAL_TORQUE, BodySpec, body_fixtures, body_spec, build_body, observation_bounds
from envs.walker.terrain import Layout

N_LIDAR = 10
GROUND_COLOR = (76, 230, 76)
BLOCK_COLORS = ((255, 255, 255), (153, 153, 153))


class _Contacts(contactListener):
    """gymnasium's / TMA's contact rule for any body: a critical body (the head) touching
    anything ends the episode; lower legs report ground contact."""

    def __init__(self, env: "ParamWalker") -> None:
        contactListener.__init__(self)
        self.env = env

    def BeginContact(self, contact: Any) -> None:
        a, b = contact.fixtureA.body, contact.fixtureB.body
        env = self.env
        for body in env.critical:
            if body == a or body == b:
                env.game_over = True
        for foot in env.feet:
            if foot == a or foot == b:
                foot.ground_contact = True

    def EndContact(self, contact: Any) -> None:
        a, b = contact.fixtureA.body, contact.fixtureB.body
        for foot in self.env.feet:
            if foot == a or foot == b:
                foot.ground_contact = False


class _Lidar(rayCastCallback):
    """gymnasium's lidar: the closest hit on the ground layer (category bit 1)."""

    def __init__(self) -> None:
        rayCastCallback.__init__(self)
        self.fraction = 1.0
        self.p1 = (0.0, 0.0)
        self.p2 = (0.0, 0.0)

    def ReportFixture(self, fixture: Any, point: Any, normal: Any, fraction: float) -> float:
        if (fixture.filterData.categoryBits & 1) == 0:
            return -1
        self.p2 = point
        self.fraction = fraction
        return fraction


class ParamWalker(TaskEnvMixin, gw.BipedalWalker):
    """Base class of the walker envs. Subclasses define ``task_space``, :meth:`make_layout`,
    ``test_tasks`` and ``held_out``.

    Args:
        body: embodiment name (:data:`envs.walker.bodies.BODIES`: ``old_classic_bipedal``
            (alias ``default``), ``small_bipedal``, ``spider``, ``millipede``,
            ``old_big_quadru``, ``short``) or a :class:`BodySpec`. Default ``"default"``
            (gymnasium's biped, TMA's default).
        render_mode: ``None`` or ``"rgb_array"`` (gymnasium's renderer; draws the obstacles).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": gw.FPS}

    def __init__(self, body: str | BodySpec = "default", render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode, hardcore=False)
        self.body = body_spec(body)
        self._fixtures = body_fixtures(self.body)
        self.feet: list[Box2D.b2Body] = []
        self.critical: list[Box2D.b2Body] = []
        self.legs: list[Box2D.b2Body] = []   # every body but the head (gymnasium's _destroy removes them)
        self.joints: list[Box2D.b2RevoluteJoint] = []
        n = self.body.n_motors
        low, high = observation_bounds(self.body)
        self.observation_space = spaces.Box(np.array(low, dtype=np.float32), np.array(high, dtype=np.float32))
        self.action_space = spaces.Box(-np.ones(n, dtype=np.float32), np.ones(n, dtype=np.float32))
        self._speed: list[float] = []
        self._correction: list[float] = []
        self._contact: list[Any] = []
        self._energy = self.body.torque_penalty * ORIGINAL_TORQUE
        # gymnasium's lidar directions, computed once instead of every step
        self._lidar_dx = [math.sin(1.5 * i / 10.0) * gw.LIDAR_RANGE for i in range(N_LIDAR)]
        self._lidar_dy = [-math.cos(1.5 * i / 10.0) * gw.LIDAR_RANGE for i in range(N_LIDAR)]
        self.lidar = [_Lidar() for _ in range(N_LIDAR)]
        self._task: Task | None = None
        self.layout: Layout | None = None
        self.finish_x = (gw.TERRAIN_LENGTH - gw.TERRAIN_GRASS) * gw.TERRAIN_STEP
        self._zero = np.zeros(n, dtype=np.float32)
        self._px = 0.0

    # -- what subclasses provide ----------------------------------------------------------
    def make_layout(self, task: Task, rng: np.random.Generator) -> Layout:
        raise NotImplementedError

    @property
    def task(self) -> Task | None:
        return self._task

    # -- terrain --------------------------------------------------------------------------
    def _build_terrain(self, task: Task) -> None:
        """Build the task's layout (drawn from the reset RNG)."""
        self._apply_layout(self.make_layout(task, self.np_random))

    def _apply_layout(self, layout: Layout) -> None:
        """Turn a layout into two static bodies (ground edges, blocks)."""
        self.layout = layout
        self.finish_x = layout.finish_x
        pts = layout.points
        ground = self.world.CreateStaticBody()
        fd = self.fd_edge
        for k in range(len(pts) - 1):
            fd.shape.vertices = [(pts[k, 0], pts[k, 1]), (pts[k + 1, 0], pts[k + 1, 1])]
            ground.CreateFixture(fd)
        ground.color1 = ground.color2 = GROUND_COLOR
        self.terrain = [ground]
        if layout.blocks:
            blocks = self.world.CreateStaticBody()
            for poly in layout.blocks:
                self.fd_polygon.shape.vertices = [tuple(v) for v in poly]
                blocks.CreateFixture(self.fd_polygon)
            blocks.color1, blocks.color2 = BLOCK_COLORS
            self.terrain.append(blocks)
        self.terrain_x = pts[:, 0].tolist()
        self.terrain_y = pts[:, 1].tolist()
        # filled ground for the renderer, as gymnasium's terrain_poly
        self.terrain_poly = [
            ([(pts[k, 0], pts[k, 1]), (pts[k + 1, 0], pts[k + 1, 1]), (pts[k + 1, 0], 0), (pts[k, 0], 0)],
             (102, 153, 76))
            for k in range(len(pts) - 1)
        ]

    # -- gymnasium API --------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset onto ``options["task"]`` (else the current task, else the default task).
        Same task and same seed give the same terrain, body push and first observation."""
        task = self.resolve_task(options, self._task)
        gw.gym.Env.reset(self, seed=seed)
        self._task = task
        self._destroy()
        self.world.contactListener_bug_workaround = _Contacts(self)
        self.world.contactListener = self.world.contactListener_bug_workaround
        self.game_over = False
        self.prev_shaping = None
        self.scroll = 0.0
        self.lidar_render = 0
        self._build_terrain(task)
        self._generate_clouds()  # gymnasium's; always drawn so rendering never changes the RNG stream
        spec = self.body
        init_x = gw.TERRAIN_STEP * spec.startpad / 2
        init_y = gw.TERRAIN_HEIGHT + spec.init_height
        push = self.np_random.uniform(-gw.INITIAL_RANDOM, gw.INITIAL_RANDOM)
        built = build_body(self.world, spec, self._fixtures, init_x, init_y, push)
        self.hull, self.legs, self.joints = built.head, built.parts, built.motors
        self.feet = [c for c in built.contact if c is not None]
        self.critical = built.critical
        self._speed, self._correction, self._contact = built.speed, built.angle_correction, built.contact
        self.drawlist = self.terrain + self.legs + [self.hull]
        obs, _, _, _ = self._advance(self._zero)
        return obs, {**self._info_extra(), "success": False, "progress": 0.0}

    def _info_extra(self) -> dict[str, Any]:
        """What every info reports besides success and progress (the task played)."""
        return {"task": dict(self._task)}

    def step(self, action: np.ndarray):
        obs, reward, terminated, success = self._advance(action)
        progress = self._px / self.finish_x
        return obs, reward, terminated, False, {**self._info_extra(), "success": success, "progress": progress}

    def _advance(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool]:
        """One physics step: gymnasium's motor control, world step, lidar, state and reward."""
        a = np.asarray(action)
        mag = np.minimum(np.abs(a), 1.0)
        speeds = np.sign(a).tolist()
        torques = (mag * self.body.torque).tolist()
        for joint, rated, s, t in zip(self.joints, self._speed, speeds, torques):
            joint.motorSpeed = float(rated * s)
            joint.maxMotorTorque = float(t)

        self.world.Step(1.0 / gw.FPS, 6 * 30, 2 * 30)

        hull = self.hull
        pos = hull.position
        vel = hull.linearVelocity
        px, py = pos[0], pos[1]
        self._px = px
        for lidar, dx, dy in zip(self.lidar, self._lidar_dx, self._lidar_dy):
            lidar.fraction = 1.0
            lidar.p1 = pos
            lidar.p2 = (px + dx, py + dy)
            self.world.RayCast(lidar, pos, lidar.p2)

        angle = hull.angle
        state = [angle, 2.0 * hull.angularVelocity / gw.FPS,
                 0.3 * vel.x * (gw.VIEWPORT_W / gw.SCALE) / gw.FPS, 0.3 * vel.y * (gw.VIEWPORT_H / gw.SCALE) / gw.FPS]
        for joint, rated, correction, contact in zip(self.joints, self._speed, self._correction, self._contact):
            state += [joint.angle + correction, joint.speed / rated]
            if contact is not None:
                state.append(1.0 if contact.ground_contact else 0.0)
        state += [lidar.fraction for lidar in self.lidar]

        self.scroll = px - gw.VIEWPORT_W / gw.SCALE / 5
        shaping = 130 * px / gw.SCALE - 5.0 * abs(angle)
        reward = 0.0 if self.prev_shaping is None else shaping - self.prev_shaping
        self.prev_shaping = shaping
        reward -= self._energy * float(mag.sum())

        terminated = success = False
        if self.game_over or px < 0 or not (math.isfinite(px) and math.isfinite(py)):
            reward = -100.0
            terminated = True
        elif px > self.finish_x:
            terminated = success = True
        return np.array(state, dtype=np.float32), reward, terminated, success

    def render(self):
        if self.render_mode is None:
            gw.gym.logger.warn("render() called without render_mode; use render_mode='rgb_array'")
            return None
        return super().render()


def ezpickle(env: ParamWalker, **kwargs: Any) -> None:
    """Record constructor kwargs for pickling (gymnasium's EzPickle, as upstream)."""
    EzPickle.__init__(env, **kwargs)
