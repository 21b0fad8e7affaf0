"""The Parkour's three published embodiments: a walker, a swimmer and a climber.

TeachMyAgent's Parkour benchmark (docs/references.md#tma-parkour) runs one body of each
type, with the sizes below (pixels, ``SCALE = 30`` px per world unit):

==============================  =======  ======  =======  ============  =======  ==========
name                            type     torque  penalty  obs / act     lidars   survives
==============================  =======  ======  =======  ============  =======  ==========
``old_classic_bipedal``         walker   80      0.00035  36 / 4        down     600 steps under water
``fish``                        swimmer  80      0.00035  38 / 4        full     600 steps out of water
``climbing_profile_chimpanzee`` climber  100     /5       54 / 12       up       600 steps under water
==============================  =======  ======  =======  ============  =======  ==========

Observation = 6 head values (angle, angular speed, 2 speeds, under water, dead) + per
motor (angle + correction, speed / speed control, and a contact flag where the motor
reports one) + for a climber 2 per hand sensor (touching, grasping) + 10 lidar fractions +
10 lidar surface flags (-1 water, 1 creeper, 0 else).

- ``old_classic_bipedal`` is the walker of :mod:`envs.walker.bodies` (gymnasium's /
  teachDeepRL's biped, TMA's ``OldClassicBipedalBody``), built by its builder; only its
  start height differs in the Parkour: TMA puts its hull ``2 * 34/30 - 8/30 + 0.5`` above
  the ground (2.5), and its hull may touch things without ending the episode.
- ``fish`` (TMA ``FishBody``): a head, three body segments ending in a tail and one fin, all
  of density ``water density - 0.01`` (slowly rising when idle), four motors of torque 80.
  Its head may touch anything; no head-angle term in its reward.
- ``climbing_profile_chimpanzee`` (TMA ``ClimbingProfileChimpanzee``): head and chest
  (density 5), two legs (hip, knee), two arms (shoulder, elbow) with one-part hands
  (wrist) and a circular grasping sensor (radius 0.05) welded to each hand; 10 motors of
  torque 100 plus 2 grasp actions. Head, chest and lower legs end the episode on any
  contact except with the ceiling. No head-angle term in its reward.

The Box2D creation order is TMA's (results depend on it). One detail differs for the
walker: gymnasium's fixtures (which :mod:`envs.walker.bodies` reuses) collide with category
``0x1`` only where TMA's mask is ``0x0F``; every fixture of a Parkour world is of category
``0x1``, so no contact changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import Box2D
from Box2D.b2 import circleShape, fixtureDef, polygonShape, revoluteJointDef, weldJointDef

from envs.errors import TeachBenchError
from envs.walker import bodies as walker_bodies

SCALE = 30.0
WATER_DENSITY = 1.0
SPEED_HIP, SPEED_KNEE, SPEED_HAND = 4.0, 6.0, 8.0

# body part kinds (TMA's CustomUserDataObjectTypes)
BODY, WATER, TERRAIN, GRIP, SENSOR, CREEPER = "body", "water", "terrain", "grip_terrain", "body_sensor", "creeper"


@dataclass
class Part:
    """User data of every Box2D body of a Parkour world."""

    kind: str
    check_contact: bool = False
    critical: bool = False
    has_contact: bool = False
    ready_to_attach: bool = False   # hand sensors: the grasp action is on
    has_joint: bool = False         # hand sensors: grasping


@dataclass(frozen=True)
class ParkourBodySpec:
    name: str
    kind: str                    # walker | swimmer | climber
    torque: float
    torque_penalty: float
    center_height: float         # TMA's AGENT_CENTER_HEIGHT, world units
    width: float                 # TMA's AGENT_WIDTH, world units (start pad rule)
    lidars: str                  # down | up | full
    survive_under_water: int | None = None
    survive_outside_water: int | None = None
    head_angle_reward: bool = True
    motor_contacts: tuple[bool, ...] = (False, True, False, True)  # per motor: reports a contact flag
    n_sensors: int = 0

    @property
    def n_motors(self) -> int:
        return len(self.motor_contacts)

    @property
    def n_contacts(self) -> int:
        return sum(self.motor_contacts)

    @property
    def action_dim(self) -> int:
        return self.n_motors + self.n_sensors

    @property
    def obs_dim(self) -> int:
        return 6 + 2 * self.n_motors + self.n_contacts + 2 * self.n_sensors + 20


BODIES: dict[str, ParkourBodySpec] = {
    "old_classic_bipedal": ParkourBodySpec(
        "old_classic_bipedal", "walker", 80.0, 0.00035, center_height=2 * 34 / SCALE - 8 / SCALE + 0.5,
        width=64 / SCALE, lidars="down", survive_under_water=600),
    "fish": ParkourBodySpec(
        "fish", "swimmer", 80.0, 0.00035, center_height=9 / SCALE, width=35 / SCALE, lidars="full",
        survive_outside_water=600, head_angle_reward=False, motor_contacts=(True, True, True, True)),
    "climbing_profile_chimpanzee": ParkourBodySpec(
        "climbing_profile_chimpanzee", "climber", 100.0, 0.00035 / 5, center_height=2 * 28 / SCALE + 12 / SCALE,
        width=24 / SCALE, lidars="up", survive_under_water=600, head_angle_reward=False,
        motor_contacts=(False, True, False, True, False, False, True, False, False, True), n_sensors=2),
}
ALIASES = {"default": "old_classic_bipedal", "walker": "old_classic_bipedal", "swimmer": "fish",
           "climber": "climbing_profile_chimpanzee"}


def parkour_body(name: str) -> ParkourBodySpec:
    try:
        return BODIES[ALIASES.get(name, name)]
    except (KeyError, TypeError):
        raise TeachBenchError("env.kwargs.body", f"unknown Parkour body {name!r}", [*BODIES, *ALIASES]) from None


@dataclass
class Agent:
    """A built body. ``motors`` in action order with their speed control, angle correction
    and contact body (``None``: no contact flag); ``sensors`` in grasp-action order."""

    spec: ParkourBodySpec
    head: Any
    parts: list[Any] = field(default_factory=list)
    motors: list[Any] = field(default_factory=list)
    speed: list[float] = field(default_factory=list)
    correction: list[float] = field(default_factory=list)
    contact: list[Any] = field(default_factory=list)
    sensors: list[Any] = field(default_factory=list)

    def motor(self, joint: Any, speed: float, contact: Any = None, correction: float = 0.0) -> None:
        self.motors.append(joint)
        self.speed.append(float(speed))
        self.correction.append(float(correction))
        self.contact.append(contact)

    @property
    def bodies(self) -> list[Any]:
        return self.parts + self.sensors


def _poly(points: list[tuple[float, float]]) -> polygonShape:
    return polygonShape(vertices=[(x / SCALE, y / SCALE) for x, y in points])


def _dynamic(world: Box2D.b2World, position: tuple[float, float], fixture: fixtureDef, part: Part,
             angle: float = 0.0) -> Any:
    body = world.CreateDynamicBody(position=position, angle=angle, fixtures=fixture)
    body.userData = part
    return body


def _motor_joint(world, a, b, anchor, torque, low, high):
    return world.CreateJoint(revoluteJointDef(bodyA=a, bodyB=b, anchor=anchor, enableMotor=True, enableLimit=True,
                                              maxMotorTorque=torque, motorSpeed=1, lowerAngle=low, upperAngle=high))


def build_agent(world: Box2D.b2World, spec: ParkourBodySpec, init_x: float, init_y: float, push: float) -> Agent:
    """Create the body with its reference point at ``(init_x, init_y)`` (TMA's ``draw``)."""
    return {"walker": _walker, "swimmer": _fish, "climber": _chimpanzee}[spec.kind](world, spec, init_x, init_y, push)


def _walker(world, spec, init_x, init_y, push) -> Agent:
    biped = walker_bodies.BODIES["old_classic_bipedal"]
    built = walker_bodies.build_body(world, biped, walker_bodies.body_fixtures(biped), init_x, init_y, push)
    built.head.userData = Part(BODY, check_contact=True, critical=False)  # TMA: reset_on_hull_critical_contact=False
    agent = Agent(spec, built.head, parts=[built.head])
    for joint, speed, corr, contact in zip(built.motors, built.speed, built.angle_correction, built.contact):
        leg = joint.bodyB
        leg.userData = Part(BODY, check_contact=contact is not None)
        agent.parts.append(leg)
        agent.motor(joint, speed, contact, corr)
    return agent


def _fish(world, spec, init_x, init_y, push) -> Agent:
    """TMA's FishBody (its head is not pushed: TMA draws the push and ignores it)."""
    y = init_y + 1
    density = WATER_DENSITY - 0.01

    def fd(shape: polygonShape, friction: float | None = None) -> fixtureDef:
        kw = {"friction": friction} if friction is not None else {"restitution": 0.0}
        return fixtureDef(shape=shape, density=density, categoryBits=0x20, maskBits=0x000F, **kw)

    head = _dynamic(world, (init_x, y), fd(_poly([(-20, 12), (6, 12), (15, 4), (15, -4), (6, -12), (-20, -12)]), 0.1),
                    Part(BODY, check_contact=True))
    agent = Agent(spec, head, parts=[head])
    p1_x = init_x - 35 / 2 / SCALE - 16 / 2 / SCALE
    segments = [  # (polygon, centre x, joint anchor x, limits)
        ([(-8, 9), (8, 12), (8, -12), (-8, -9)], p1_x, init_x - 35 / 2 / SCALE, (-0.1 * math.pi, 0.2 * math.pi)),
        ([(-8, 4), (8, 9), (8, -9), (-8, -4)], p1_x - 16 / SCALE, p1_x - 8 / SCALE, (-0.15 * math.pi, 0.15 * math.pi)),
        ([(-4, 2), (4, 4), (4, -4), (-4, -2)], p1_x - 16 / SCALE - 12 / SCALE, p1_x - 16 / SCALE - 8 / SCALE,
         (-0.3 * math.pi, 0.3 * math.pi)),
    ]
    previous = head
    for poly, cx, ax, (low, high) in segments:
        part = _dynamic(world, (cx, y), fd(_poly(poly)), Part(BODY, check_contact=True))
        joint = _motor_joint(world, previous, part, (ax, y), spec.torque, low, high)
        agent.parts.append(part)
        agent.motor(joint, SPEED_KNEE, part)
        previous = part
    fin_angle = -0.2 * math.pi
    fx, fy = init_x, y - 22 / 2 / SCALE + 0.2
    fin = _dynamic(world, (fx + math.sin(fin_angle) * 10 / SCALE, fy - math.cos(fin_angle) * 10 / SCALE),
                   fd(_poly([(-1, -10), (-1, 10), (1, 10), (1, -10)])), Part(BODY, check_contact=True), angle=fin_angle)
    joint = _motor_joint(world, head, fin, (fx, fy), spec.torque, -0.3 * math.pi, 0.2 * math.pi)
    agent.parts.append(fin)
    agent.motor(joint, SPEED_KNEE, fin)
    return agent


def _chimpanzee(world, spec, init_x, init_y, push) -> Agent:
    """TMA's ClimbingProfileChimpanzee."""
    leg_down, arm_up = 12 / SCALE, 22 / SCALE
    limb_w, limb_h = 8 / SCALE, 28 / SCALE
    hand_w, hand_h = 4 / SCALE, 8 / SCALE
    body_h, head_h = 45 / SCALE, 20 / SCALE
    torque = spec.torque

    def fd(shape: Any, density: float = 1.0, **kw: Any) -> fixtureDef:
        return fixtureDef(shape=shape, density=density, categoryBits=0x20, maskBits=0x1, **kw)

    head = _dynamic(world, (init_x, init_y + body_h / 2 + head_h / 2 + 0.2),
                    fd(_poly([(-5, 10), (5, 10), (5, -10), (-5, -10)]), 5.0, friction=0.1),
                    Part(BODY, check_contact=True, critical=True))
    head.ApplyForceToCenter((push, 0), True)
    chest = _dynamic(world, (init_x, init_y), fd(_poly([(-12, 25), (12, 25), (8, -20), (-8, -20)]), 5.0, friction=0.1),
                     Part(BODY, check_contact=True, critical=True))
    agent = Agent(spec, head, parts=[head, chest])
    world.CreateJoint(revoluteJointDef(bodyA=head, bodyB=chest, anchor=(init_x, init_y + body_h / 2),
                                       enableMotor=False, enableLimit=True, lowerAngle=-0.1 * math.pi,
                                       upperAngle=0.1 * math.pi))
    upper_fd = fd(polygonShape(box=(limb_w / 2, limb_h / 2)), restitution=0.0)
    lower_fd = fd(polygonShape(box=(0.8 * limb_w / 2, limb_h / 2)), restitution=0.0)
    hand_fd = fd(polygonShape(box=(hand_w / 2, hand_h / 2)), restitution=0.0)
    sensor_fd = fixtureDef(shape=circleShape(radius=0.05), density=1.0, restitution=0.0, categoryBits=0x20,
                           maskBits=0x1, isSensor=True)
    for _ in range(2):  # legs
        upper = _dynamic(world, (init_x, init_y - limb_h / 2 - leg_down), upper_fd, Part(BODY))
        hip = _motor_joint(world, chest, upper, (init_x, init_y - leg_down), torque, -0.3 * math.pi, 0.6 * math.pi)
        agent.parts.append(upper)
        agent.motor(hip, SPEED_HIP)
        lower = _dynamic(world, (init_x, init_y - limb_h * 3 / 2 - leg_down), lower_fd,
                         Part(BODY, check_contact=True, critical=True))
        knee = _motor_joint(world, upper, lower, (init_x, init_y - limb_h - leg_down), torque, -0.75 * math.pi, -0.1)
        agent.parts.append(lower)
        agent.motor(knee, SPEED_KNEE, lower, 1.0)
    for _ in range(2):  # arms
        upper = _dynamic(world, (init_x, init_y + limb_h / 2 + arm_up), upper_fd, Part(BODY))
        shoulder = _motor_joint(world, chest, upper, (init_x, init_y + arm_up), torque, -0.75 * 2 * math.pi, 0.0)
        agent.parts.append(upper)
        agent.motor(shoulder, SPEED_HIP)
        lower = _dynamic(world, (init_x, init_y + limb_h * 3 / 2 + arm_up), lower_fd, Part(BODY))
        elbow = _motor_joint(world, upper, lower, (init_x, init_y + limb_h + arm_up), torque, 0.0, 0.75 * math.pi)
        agent.parts.append(lower)
        agent.motor(elbow, SPEED_HIP)
        wrist_y = init_y + limb_h * 2 + arm_up
        hand = _dynamic(world, (init_x, wrist_y + hand_h / 2), hand_fd, Part(BODY, check_contact=True))
        wrist = _motor_joint(world, lower, hand, (init_x, wrist_y), torque, -0.5 * math.pi, 0.5 * math.pi)
        agent.parts.append(hand)
        agent.motor(wrist, SPEED_HAND, hand)
        tip = (init_x, wrist_y + hand_h)
        sensor = _dynamic(world, tip, sensor_fd, Part(SENSOR, check_contact=True))
        agent.sensors.append(sensor)
        world.CreateJoint(weldJointDef(bodyA=hand, bodyB=sensor, anchor=tip))
    return agent
