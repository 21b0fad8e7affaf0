"""Walker embodiments: TeachMyAgent's and teachDeepRL's published bodies, built per instance.

gymnasium's walker describes its one body with module-level constants (``LEG_H``,
``MOTORS_TORQUE``, the ``*_FD`` fixture definitions). We never mutate those: a
:class:`BodySpec` is a frozen per-instance description, :func:`build_body` creates the
Box2D bodies and joints, and the default body *reuses* gymnasium's own fixture
definitions (read only), so it cannot drift from the upstream biped.

The bodies, with the sizes, torques and torque penalties of their reference modules
(TeachMyAgent ``environments/envs/bodies/walkers``, teachDeepRL ``leg_size``; sizes in
pixels, divided by ``SCALE = 30`` when built; docs/references.md#stump-tracks):

======================  ===========================  ======  =======  =======  ======
name                    reference                    legs    torque   penalty  obs/act
======================  ===========================  ======  =======  =======  ======
``old_classic_bipedal`` TMA (= gymnasium's biped)    34/30   80       0.00035  24 / 4
``small_bipedal``       TMA ``SmallBipedalBody``     17/30   80       0.00035  24 / 4
``spider``              TMA ``SpiderBody`` (2 pairs)  3 x 20  100      /2       42 / 12
``millipede``           TMA ``MillipedeBody`` (4)    10/30   200      /4       54 / 16
``old_big_quadru``      TMA / teachDeepRL quadru      51/30   300      /2       34 / 8
``short``               teachDeepRL ``short``        17/30   80       0.00035  24 / 4
======================  ===========================  ======  =======  =======  ======

``default`` is an alias of ``old_classic_bipedal`` (the TMA benchmark's default and
gymnasium's ``BipedalWalker-v3`` body). The energy cost per step is TMA's
``penalty * 80 * sum |a|`` (80 = the original torque, whatever the body's torque), which for
the default body is gymnasium's. ``short`` is teachDeepRL's short walker (gymnasium's biped
with 17/30 legs, built like the old biped); TMA's ``small_bipedal`` is the same size but built
with TMA's newer construction (hips 3 px below the hull centre, straight legs, world
anchors). Our two earlier bodies of our own (a long biped and a quadruped) are gone: they
were not published.

Known quirks kept on purpose (they are the published bodies): ``old_big_quadru`` anchors its
hips at x = -1.2 and 0.85 world units but places the legs at the clipped ``interp`` of those
values (Box2D pulls them together on the first steps); teachDeepRL's own quadruped used a
penalty of 0.00035 / 8 where TMA uses / 2 (we follow TMA). TMA's millipede marks its head
as "critical" on the Box2D body instead of its user data, so in TMA no contact ever ends a
millipede episode; we do the same (``critical_contact=False``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import Box2D
import numpy as np
from Box2D.b2 import fixtureDef, polygonShape, revoluteJointDef
from gymnasium.envs.box2d import bipedal_walker as gw

from envs.errors import TeachBenchError

SCALE = gw.SCALE
ORIGINAL_TORQUE = 80.0  # TMA: energy cost = penalty * 80 * |a| per motor, whatever the torque
CLASSIC_HULL = tuple(gw.HULL_POLY)
SQUARE = ((-10.0, 10.0), (10.0, 10.0), (10.0, -10.0), (-10.0, -10.0))  # TMA spider / millipede body


@dataclass(frozen=True)
class BodySpec:
    """One embodiment (sizes in pixels; ``SCALE`` px = 1 world unit).

    ``kind`` selects the construction: ``classic`` (gymnasium / teachDeepRL: legs built at
    an angle of +-0.05 rad, joints from local anchors), ``tma`` (TMA's newer bipeds: straight
    legs, joints from world anchors), ``spider`` (3-segment legs) or ``millipede`` (a chain
    of square bodies, one pair of legs each).
    """

    name: str
    kind: str = "classic"
    leg_h: float = 34.0              # length of each leg segment, px (gymnasium LEG_H = 34)
    leg_w: float = 8.0               # leg width, px (gymnasium LEG_W = 8; lower legs are 0.8x)
    leg_down: float = -8.0           # classic: hip anchor y in the hull frame, px; others: hip depth below the centre
    torque: float = float(gw.MOTORS_TORQUE)
    torque_penalty: float = 0.00035
    hull_poly: tuple[tuple[float, float], ...] = CLASSIC_HULL
    hull_width: float = 64.0         # TMA's HULL_BOTTOM_WIDTH (old_big_quadru: leg placement; start pad rule)
    hip_anchors: tuple[float, ...] = (0.0,)  # classic: hip x in the hull frame, *world units* (as the references)
    segments: int = 1                # spider: pairs of legs; millipede: bodies
    critical_contact: bool = True    # a contact of the head ends the episode
    doc: str = ""

    @property
    def n_motors(self) -> int:
        if self.kind == "spider":
            return 2 * self.segments * 3
        if self.kind == "millipede":
            return 4 * self.segments
        return 4 * len(self.hip_anchors)

    @property
    def n_contacts(self) -> int:
        """Motors that also report a ground contact (one per lower leg)."""
        return self.n_motors // 3 if self.kind == "spider" else self.n_motors // 2

    @property
    def obs_dim(self) -> int:
        """Head (4) + 2 per motor + 1 per contact sensor + 10 lidars (TMA's state layout)."""
        return 4 + 2 * self.n_motors + self.n_contacts + 10

    @property
    def agent_width(self) -> float:
        """TMA's ``AGENT_WIDTH`` in world units (it sets the start pad)."""
        if self.kind == "spider":
            return 20.0 / SCALE + 4 * self.leg_h / SCALE
        if self.kind == "millipede":
            return 20.0 / SCALE * self.segments
        return self.hull_width / SCALE

    @property
    def startpad(self) -> int:
        """TMA's start pad: 20 steps, longer for bodies wider than 15 steps (none here)."""
        need = self.agent_width / gw.TERRAIN_STEP + 5
        return gw.TERRAIN_STARTPAD if need <= gw.TERRAIN_STARTPAD else int(math.ceil(need))

    @property
    def init_height(self) -> float:
        """Head height above the ground at reset (world units), as the reference modules."""
        h, down = self.leg_h / SCALE, self.leg_down / SCALE
        if self.kind == "classic":
            return 2 * h  # TMA's "old morphology" rule and gymnasium's
        if self.kind == "spider":
            return h + down
        return 2 * h + down

    def is_gymnasium_default(self) -> bool:
        return self == BODIES["old_classic_bipedal"]


BODIES: dict[str, BodySpec] = {
    "old_classic_bipedal": BodySpec("old_classic_bipedal",
                                    doc="TMA's default = gymnasium's biped: legs 34/30, torque 80"),
    "small_bipedal": BodySpec("small_bipedal", kind="tma", leg_h=17.0, leg_down=3.0, hull_width=20.0,
                              doc="TMA SmallBipedalBody: legs 17/30, torque 80"),
    "spider": BodySpec("spider", kind="spider", leg_h=20.0, leg_w=6.0, leg_down=4.0, torque=100.0,
                       torque_penalty=0.00035 / 2, hull_poly=SQUARE, hull_width=20.0, segments=2,
                       doc="TMA SpiderBody: 2 pairs of 3-segment legs (20/30), torque 100"),
    "millipede": BodySpec("millipede", kind="millipede", leg_h=10.0, leg_w=4.0, leg_down=3.0, torque=200.0,
                          torque_penalty=0.00035 / 4, hull_poly=SQUARE, hull_width=20.0, segments=4,
                          critical_contact=False, doc="TMA MillipedeBody: 4 bodies, legs 10/30, torque 200"),
    "old_big_quadru": BodySpec("old_big_quadru", leg_h=51.0, leg_w=10.0, torque=300.0, torque_penalty=0.00035 / 2,
                               hull_poly=((-46.0, 13.0), (6.0, 13.0), (50.0, 5.0), (50.0, -12.0), (-46.0, -12.0)),
                               hull_width=96.0, hip_anchors=(-1.2, 0.85),
                               doc="TMA OldBigQuadruBody (teachDeepRL quadru): legs 51/30, torque 300"),
    "short": BodySpec("short", leg_h=17.0, doc="teachDeepRL's short walker: gymnasium's biped with legs 17/30"),
}
ALIASES = {"default": "old_classic_bipedal"}


def body_spec(body: str | BodySpec) -> BodySpec:
    """A body by name (see :data:`BODIES`; ``default`` = ``old_classic_bipedal``) or a given spec."""
    if isinstance(body, BodySpec):
        return body
    try:
        return BODIES[ALIASES.get(body, body)]
    except (KeyError, TypeError):
        raise TeachBenchError("env.kwargs.body", f"unknown body {body!r}", [*BODIES, *ALIASES]) from None


@dataclass
class BuiltBody:
    """The Box2D bodies of one walker. ``motors`` in the order of the action vector, with
    their speed control, the angle correction added to their observed angle and the body
    whose ground contact they report (``None``: no contact entry)."""

    head: Box2D.b2Body
    parts: list[Box2D.b2Body] = field(default_factory=list)   # every body but the head
    motors: list[Box2D.b2RevoluteJoint] = field(default_factory=list)
    speed: list[float] = field(default_factory=list)
    angle_correction: list[float] = field(default_factory=list)
    contact: list[Box2D.b2Body | None] = field(default_factory=list)
    critical: list[Box2D.b2Body] = field(default_factory=list)  # bodies whose contact ends the episode

    def add_motor(self, joint: Box2D.b2RevoluteJoint, speed: float, correction: float = 0.0,
                  contact: Box2D.b2Body | None = None) -> None:
        self.motors.append(joint)
        self.speed.append(float(speed))
        self.angle_correction.append(float(correction))
        self.contact.append(contact)


@dataclass(frozen=True)
class BodyFixtures:
    hull: fixtureDef
    upper: fixtureDef
    lower: fixtureDef


def body_fixtures(spec: BodySpec) -> BodyFixtures:
    """Fixture definitions: gymnasium's own objects for the default body, the reference
    module's values otherwise (hull density 5, friction 0.1; legs density 1)."""
    if spec.is_gymnasium_default():
        return BodyFixtures(gw.HULL_FD, gw.LEG_FD, gw.LOWER_FD)
    hull = fixtureDef(shape=polygonShape(vertices=[(x / SCALE, y / SCALE) for x, y in spec.hull_poly]),
                      density=5.0, friction=0.1, categoryBits=0x20, maskBits=0x000F)
    w, h = spec.leg_w / SCALE, spec.leg_h / SCALE
    upper = fixtureDef(shape=polygonShape(box=(w / 2, h / 2)), density=1.0, restitution=0.0,
                       categoryBits=0x20, maskBits=0x000F)
    lower = fixtureDef(shape=polygonShape(box=(0.8 * w / 2, h / 2)), density=1.0, restitution=0.0,
                       categoryBits=0x20, maskBits=0x000F)
    return BodyFixtures(hull, upper, lower)


HULL_COLORS = ((127, 51, 229), (76, 76, 127))


def _leg_colors(i: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    return (153 - i * 25, 76 - i * 25, 127 - i * 25), (102 - i * 25, 51 - i * 25, 76 - i * 25)


def _paint(body: Box2D.b2Body, colors: tuple[tuple[int, int, int], tuple[int, int, int]]) -> Box2D.b2Body:
    body.color1, body.color2 = colors
    body.ground_contact = False
    return body


def build_body(world: Box2D.b2World, spec: BodySpec, fixtures: BodyFixtures, init_x: float, init_y: float,
               push: float) -> BuiltBody:
    """Create the walker with its head at ``(init_x, init_y)``, pushed horizontally by ``push``,
    in the reference module's creation order (Box2D's results depend on it).

    For the default body this creates exactly gymnasium's bodies and joints in gymnasium's
    order, so a trajectory matches ``BipedalWalker-v3`` on the same terrain (tested).
    """
    builder = {"classic": _classic, "tma": _tma_biped, "spider": _spider, "millipede": _millipede}[spec.kind]
    return builder(world, spec, fixtures, init_x, init_y, push)


def _classic(world, spec, fx, init_x, init_y, push) -> BuiltBody:
    """gymnasium's / teachDeepRL's construction (TMA's "old" bodies)."""
    h, down = spec.leg_h / SCALE, spec.leg_down / SCALE
    half = spec.hull_width / 2 / SCALE
    hull = _paint(world.CreateDynamicBody(position=(init_x, init_y), fixtures=fx.hull), HULL_COLORS)
    hull.ApplyForceToCenter((push, 0), True)
    built = BuiltBody(hull, critical=[hull] if spec.critical_contact else [])
    for anchor in spec.hip_anchors:
        x = init_x + float(np.interp(anchor, [-1, 1], [-half, half]))  # = init_x for a biped
        for i in (-1, +1):
            upper = _paint(world.CreateDynamicBody(position=(x, init_y - h / 2 - down), angle=(i * 0.05),
                                                   fixtures=fx.upper), _leg_colors(i))
            hip = revoluteJointDef(bodyA=hull, bodyB=upper, localAnchorA=(anchor, down), localAnchorB=(0, h / 2),
                                   enableMotor=True, enableLimit=True, maxMotorTorque=spec.torque, motorSpeed=i,
                                   lowerAngle=-0.8, upperAngle=1.1)
            built.parts.append(upper)
            built.add_motor(world.CreateJoint(hip), gw.SPEED_HIP)
            lower = _paint(world.CreateDynamicBody(position=(x, init_y - h * 3 / 2 - down), angle=(i * 0.05),
                                                   fixtures=fx.lower), _leg_colors(i))
            knee = revoluteJointDef(bodyA=upper, bodyB=lower, localAnchorA=(0, -h / 2), localAnchorB=(0, h / 2),
                                    enableMotor=True, enableLimit=True, maxMotorTorque=spec.torque, motorSpeed=1,
                                    lowerAngle=-1.6, upperAngle=-0.1)
            built.parts.append(lower)
            built.add_motor(world.CreateJoint(knee), gw.SPEED_KNEE, 1.0, lower)
    return built


def _tma_leg_pair(world, built, spec, fx, body, x, init_y) -> None:
    """TMA's newer biped legs under ``body`` at ``x``: straight, joints from world anchors."""
    h, down = spec.leg_h / SCALE, spec.leg_down / SCALE
    for i in (-1, +1):
        upper = _paint(world.CreateDynamicBody(position=(x, init_y - h / 2 - down), fixtures=fx.upper), _leg_colors(i))
        hip = revoluteJointDef(bodyA=body, bodyB=upper, anchor=(x, init_y - down), enableMotor=True,
                               enableLimit=True, maxMotorTorque=spec.torque, motorSpeed=i, lowerAngle=-0.8,
                               upperAngle=1.1)
        built.parts.append(upper)
        built.add_motor(world.CreateJoint(hip), gw.SPEED_HIP)
        lower = _paint(world.CreateDynamicBody(position=(x, init_y - h * 3 / 2 - down), fixtures=fx.lower),
                       _leg_colors(i))
        knee = revoluteJointDef(bodyA=upper, bodyB=lower, anchor=(x, init_y - down - h), enableMotor=True,
                                enableLimit=True, maxMotorTorque=spec.torque, motorSpeed=1, lowerAngle=-1.6,
                                upperAngle=-0.1)
        built.parts.append(lower)
        built.add_motor(world.CreateJoint(knee), gw.SPEED_KNEE, 1.0, lower)


def _tma_biped(world, spec, fx, init_x, init_y, push) -> BuiltBody:
    hull = _paint(world.CreateDynamicBody(position=(init_x, init_y), fixtures=fx.hull), HULL_COLORS)
    hull.ApplyForceToCenter((push, 0), True)
    built = BuiltBody(hull, critical=[hull] if spec.critical_contact else [])
    _tma_leg_pair(world, built, spec, fx, hull, init_x, init_y)
    return built


def _spider(world, spec, fx, init_x, init_y, push) -> BuiltBody:
    """TMA's spider: a square body, ``segments`` pairs of legs of three parts each."""
    h, down, half = spec.leg_h / SCALE, spec.leg_down / SCALE, spec.hull_width / 2 / SCALE
    body = _paint(world.CreateDynamicBody(position=(init_x, init_y), fixtures=fx.hull), HULL_COLORS)
    body.ApplyForceToCenter((push, 0), True)
    built = BuiltBody(body, critical=[body] if spec.critical_contact else [])
    for i in (+1, -1) * spec.segments:
        colors = _leg_colors(i)
        a_u = 0.25 * np.pi * i
        dxu, dyu = np.sin(a_u) * h / 2, np.cos(a_u) * h / 2
        ux, uy = init_x - i * half - dxu, init_y + dyu - down
        upper = _paint(world.CreateDynamicBody(position=(ux, uy), angle=a_u, fixtures=fx.upper), colors)
        joint = revoluteJointDef(bodyA=body, bodyB=upper, anchor=(init_x - i * half, init_y - down), enableMotor=True,
                                 enableLimit=True, maxMotorTorque=spec.torque, motorSpeed=1,
                                 lowerAngle=-0.1 * np.pi, upperAngle=0.1 * np.pi)
        built.parts.append(upper)
        built.add_motor(world.CreateJoint(joint), gw.SPEED_HIP)
        a_m = 0.7 * np.pi * i
        dxm, dym = np.sin(a_m) * h / 2, -np.cos(a_m) * h / 2
        mx, my = ux - dxu - dxm, uy + dyu - dym
        middle = _paint(world.CreateDynamicBody(position=(mx, my), angle=a_m, fixtures=fx.upper), colors)
        joint = revoluteJointDef(bodyA=upper, bodyB=middle, anchor=(ux - dxu, uy + dyu), enableMotor=True,
                                 enableLimit=True, maxMotorTorque=spec.torque, motorSpeed=1,
                                 lowerAngle=-0.15 * np.pi, upperAngle=0.15 * np.pi)
        built.parts.append(middle)
        built.add_motor(world.CreateJoint(joint), gw.SPEED_HIP)
        a_l = 0.9 * np.pi * i
        dxl, dyl = np.sin(a_l) * h / 2, -np.cos(a_l) * h / 2
        lower = _paint(world.CreateDynamicBody(position=(mx - dxm - dxl, my - dym - dyl), angle=a_l,
                                               fixtures=fx.lower), colors)
        joint = revoluteJointDef(bodyA=middle, bodyB=lower, anchor=(mx - dxm, my - dym), enableMotor=True,
                                 enableLimit=True, maxMotorTorque=spec.torque, motorSpeed=1,
                                 lowerAngle=-0.2 * np.pi, upperAngle=0.2 * np.pi)
        built.parts.append(lower)
        built.add_motor(world.CreateJoint(joint), gw.SPEED_KNEE, 0.0, lower)
    return built


def _millipede(world, spec, fx, init_x, init_y, push) -> BuiltBody:
    """TMA's millipede: ``segments`` square bodies left to right, each pushed and carrying a
    pair of TMA legs, linked by passive joints (+-0.05 pi); the head is the rightmost body."""
    width = spec.hull_width / SCALE
    left = init_x - width * spec.segments / 2
    bodies: list[Box2D.b2Body] = []
    built: BuiltBody | None = None
    for j in range(spec.segments):
        x = left + j * width
        body = _paint(world.CreateDynamicBody(position=(x, init_y), fixtures=fx.hull), HULL_COLORS)
        body.ApplyForceToCenter((push, 0), True)
        if built is None:
            built = BuiltBody(body)
        _tma_leg_pair(world, built, spec, fx, body, x, init_y)
        if bodies:
            world.CreateJoint(revoluteJointDef(bodyA=bodies[-1], bodyB=body, anchor=(x - width / 2, init_y),
                                               enableMotor=False, enableLimit=True, lowerAngle=-0.05 * np.pi,
                                               upperAngle=0.05 * np.pi))
        bodies.append(body)
    assert built is not None
    built.head = bodies[-1]
    built.parts = bodies[:-1] + built.parts
    built.critical = [built.head] if spec.critical_contact else []
    return built


def observation_bounds(spec: BodySpec) -> tuple[list[float], list[float]]:
    """gymnasium's observation bounds with its per-joint block for every motor (angle +-pi,
    speed +-5, contact [0, 5]); the head angle is unbounded (gymnasium's +-pi is wrong: a
    flipping hull is not wrapped). Motor speeds of the other bodies are unbounded, as all of
    TMA's bounds (the millipede's light legs exceed gymnasium's 5)."""
    low = [-math.inf, -5.0, -5.0, -5.0]
    high = [math.inf, 5.0, 5.0, 5.0]
    n, per_contact = spec.n_motors, (3 if spec.kind == "spider" else 2)
    speed = 5.0 if spec.is_gymnasium_default() else math.inf
    for m in range(n):
        low += [-math.pi, -speed]
        high += [math.pi, speed]
        if m % per_contact == per_contact - 1:
            low.append(-0.0)
            high.append(5.0)
    return low + [-1.0] * 10, high + [1.0] * 10
