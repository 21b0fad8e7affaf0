"""Walker embodiments: per-instance body descriptions built into a Box2D world.

gymnasium's walker describes its one body with module-level constants (``LEG_H``,
``MOTORS_TORQUE``, the ``*_FD`` fixture definitions). We never mutate those: a
:class:`BodySpec` is a frozen per-instance description, and :func:`build_body` creates
new fixture definitions for any body that differs from gymnasium's. The ``default``
body *reuses* gymnasium's own fixture definitions (read only), so it cannot drift from
the upstream biped.

Sizes are in gymnasium's pixel units (divided by ``SCALE`` when built), as upstream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import Box2D
from Box2D.b2 import fixtureDef, polygonShape, revoluteJointDef
from gymnasium.envs.box2d import bipedal_walker as gw

from envs.errors import TeachBenchError

SCALE = gw.SCALE


@dataclass(frozen=True)
class BodySpec:
    """One embodiment.

    ``hips`` lists the x offsets (pixels, hull frame) of the leg pairs: one entry = a biped
    (two legs at the same hip, as gymnasium), two entries = a quadruped (rear and front pair).
    Every leg has an upper and a lower segment, a hip and a knee motor.
    """

    name: str
    upper_h: float = 34.0            # upper leg length, px (gymnasium LEG_H = 34)
    lower_h: float = 34.0            # lower leg length, px (gymnasium: same as upper)
    leg_w: float = 8.0               # leg width, px (gymnasium LEG_W = 8; lower leg is 0.8x)
    torque: float = float(gw.MOTORS_TORQUE)  # max motor torque (gymnasium 80)
    speed_hip: float = float(gw.SPEED_HIP)   # rated hip speed (gymnasium 4)
    speed_knee: float = float(gw.SPEED_KNEE)  # rated knee speed (gymnasium 6)
    hull_poly: tuple[tuple[float, float], ...] = tuple(gw.HULL_POLY)
    hull_density: float = 5.0        # gymnasium HULL_FD density
    leg_density: float = 1.0         # gymnasium LEG_FD density
    leg_down: float = -8.0           # hip anchor below the hull centre, px (gymnasium LEG_DOWN)
    hips: tuple[float, ...] = (0.0,)
    doc: str = ""

    @property
    def n_legs(self) -> int:
        return 2 * len(self.hips)

    @property
    def n_joints(self) -> int:
        return 2 * self.n_legs

    @property
    def obs_dim(self) -> int:
        """Hull (4) + 5 per leg (hip angle/speed, knee angle/speed, contact) + 10 lidars."""
        return 4 + 5 * self.n_legs + 10

    @property
    def leg_length(self) -> float:
        """Total leg length in world units (the walker's standing height above the hips)."""
        return (self.upper_h + self.lower_h) / SCALE

    def is_gymnasium_default(self) -> bool:
        return self == BODIES["default"]


BODIES: dict[str, BodySpec] = {
    # gymnasium's BipedalWalker-v3 body, unchanged (and TMA's "default" biped: legs 34/30, torque 80).
    "default": BodySpec("default", doc="gymnasium's biped: legs 34/30, torque 80"),
    # TMA's small biped: legs 17/30 (docs/references.md#stump-tracks); same torque as the default.
    "short": BodySpec("short", upper_h=17.0, lower_h=17.0, doc="short-legged biped (TMA 'small'): legs 17/30"),
    # Long-legged biped: legs 51/30 as TMA's big quadruped; torque raised to 120 (our choice)
    # so that the heavier, longer legs can lift themselves at the default 80 * 1.5 lever ratio.
    "long": BodySpec("long", upper_h=51.0, lower_h=51.0, torque=120.0,
                     doc="long-legged biped: legs 51/30, torque 120"),
    # Quadruped: a longer hull with a rear and a front pair of default-length legs. Torque 100
    # (our choice): enough to carry the longer hull; its energy cost is normalised per joint.
    "quadruped": BodySpec(
        "quadruped",
        torque=100.0,
        hull_poly=((-52.0, 9.0), (22.0, 9.0), (50.0, 1.0), (50.0, -8.0), (-52.0, -8.0)),
        hips=(-36.0, 30.0),
        doc="quadruped: 4 legs of 34/30 at the rear and front of a longer hull, torque 100",
    ),
}


def body_spec(body: str | BodySpec) -> BodySpec:
    """A body by name (``default``, ``short``, ``long``, ``quadruped``) or a given spec."""
    if isinstance(body, BodySpec):
        return body
    try:
        return BODIES[body]
    except (KeyError, TypeError):
        raise TeachBenchError("env.kwargs.body", f"unknown body {body!r}", BODIES) from None


@dataclass
class BuiltBody:
    """The Box2D bodies of one walker, in gymnasium's order: for each leg, upper then lower."""

    hull: Box2D.b2Body
    legs: list[Box2D.b2Body] = field(default_factory=list)
    joints: list[Box2D.b2RevoluteJoint] = field(default_factory=list)
    feet: list[Box2D.b2Body] = field(default_factory=list)   # lower legs: ground contact sensors


@dataclass(frozen=True)
class BodyFixtures:
    hull: fixtureDef
    upper: fixtureDef
    lower: fixtureDef


def body_fixtures(spec: BodySpec) -> BodyFixtures:
    """Fixture definitions: gymnasium's own objects for the default body, new ones otherwise."""
    if spec.is_gymnasium_default():
        return BodyFixtures(gw.HULL_FD, gw.LEG_FD, gw.LOWER_FD)
    hull = fixtureDef(
        shape=polygonShape(vertices=[(x / SCALE, y / SCALE) for x, y in spec.hull_poly]),
        density=spec.hull_density, friction=0.1, categoryBits=0x0020, maskBits=0x001, restitution=0.0,
    )
    w = spec.leg_w / SCALE
    upper = fixtureDef(shape=polygonShape(box=(w / 2, spec.upper_h / SCALE / 2)), density=spec.leg_density,
                       restitution=0.0, categoryBits=0x0020, maskBits=0x001)
    lower = fixtureDef(shape=polygonShape(box=(0.8 * w / 2, spec.lower_h / SCALE / 2)), density=spec.leg_density,
                       restitution=0.0, categoryBits=0x0020, maskBits=0x001)
    return BodyFixtures(hull, upper, lower)


def build_body(world: Box2D.b2World, spec: BodySpec, fixtures: BodyFixtures, init_x: float, init_y: float,
               push: float) -> BuiltBody:
    """Create the walker at ``(init_x, init_y)`` (hull centre), pushed horizontally by ``push``.

    For the default body this creates exactly gymnasium's bodies and joints in gymnasium's
    order, so a trajectory matches ``BipedalWalker-v3`` on the same terrain.
    """
    upper_h, lower_h = spec.upper_h / SCALE, spec.lower_h / SCALE
    leg_down = spec.leg_down / SCALE
    hull = world.CreateDynamicBody(position=(init_x, init_y), fixtures=fixtures.hull)
    hull.color1 = (127, 51, 229)
    hull.color2 = (76, 76, 127)
    hull.ApplyForceToCenter((push, 0), True)
    built = BuiltBody(hull)
    for pair, hip_px in enumerate(spec.hips):
        hip_x = hip_px / SCALE
        shade = 20 * pair  # rear pair and front pair drawn in slightly different colours
        for i in (-1, +1):
            color1 = (153 - i * 25 - shade, 76 - i * 25, 127 - i * 25 + shade)
            color2 = (102 - i * 25 - shade, 51 - i * 25, 76 - i * 25 + shade)
            upper = world.CreateDynamicBody(position=(init_x + hip_x, init_y - upper_h / 2 - leg_down),
                                            angle=(i * 0.05), fixtures=fixtures.upper)
            upper.color1, upper.color2 = color1, color2
            hip = revoluteJointDef(
                bodyA=hull, bodyB=upper, localAnchorA=(hip_x, leg_down), localAnchorB=(0, upper_h / 2),
                enableMotor=True, enableLimit=True, maxMotorTorque=spec.torque, motorSpeed=i,
                lowerAngle=-0.8, upperAngle=1.1,
            )
            built.legs.append(upper)
            built.joints.append(world.CreateJoint(hip))
            lower = world.CreateDynamicBody(position=(init_x + hip_x, init_y - (upper_h + lower_h / 2) - leg_down),
                                            angle=(i * 0.05), fixtures=fixtures.lower)
            lower.color1, lower.color2 = color1, color2
            knee = revoluteJointDef(
                bodyA=upper, bodyB=lower, localAnchorA=(0, -upper_h / 2), localAnchorB=(0, lower_h / 2),
                enableMotor=True, enableLimit=True, maxMotorTorque=spec.torque, motorSpeed=1,
                lowerAngle=-1.6, upperAngle=-0.1,
            )
            lower.ground_contact = False
            built.legs.append(lower)
            built.joints.append(world.CreateJoint(knee))
            built.feet.append(lower)
    return built


def observation_bounds(spec: BodySpec) -> tuple[list[float], list[float]]:
    """gymnasium's observation bounds, with the per-leg block repeated for every leg; the
    hull angle is unbounded (gymnasium's ±pi is wrong: a flipping hull is not wrapped)."""
    low = [-math.inf, -5.0, -5.0, -5.0]
    high = [math.inf, 5.0, 5.0, 5.0]
    for _ in range(spec.n_legs):
        low += [-math.pi, -5.0, -math.pi, -5.0, -0.0]
        high += [math.pi, 5.0, math.pi, 5.0, 5.0]
    return low + [-1.0] * 10, high + [1.0] * 10
