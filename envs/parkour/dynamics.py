"""The Parkour's extra physics: contacts, lidars, water and grasping (TMA's rules).

Facts from TeachMyAgent's ``Box2D_dynamics`` and its Parkour contact detector
(docs/references.md#tma-parkour):

**Contacts.** A contact with water only records the (water fixture, body fixture) pair
while they overlap. A contact of a hand sensor with the ceiling or a creeper marks the
sensor as touching and records what it touches. Any other contact involving a sensor
fixture (a creeper, the water) is ignored; otherwise a body part that checks contacts gets
its contact flag set (cleared when any of its contacts ends), and a critical part ends the
episode, unless it is a climber's part touching the ceiling.

**Water** (iforce2d's buoyancy recipe plus TMA's push), applied after each world step to
each body fixture overlapping the water, on the polygon where they intersect
(Sutherland-Hodgman clipping of the water polygon by the part's convex polygon):

- buoyancy ``density * area * (-gravity)`` at the intersection's centroid;
- per edge of the intersection, with ``v`` the part's velocity at the edge midpoint,
  ``n`` the edge's outward normal (``(e_y, -e_x)`` of the unit edge ``e``) and
  ``d = n . v / |v|``: if ``d >= 0``, a drag ``min(d * 0.25 * len * density * |v|^2, 2000)``
  against ``v`` and a lift ``min(d * (e . v/|v|) * 0.25 * len * density * |v|^2, 500)``
  along ``v`` turned +90 degrees, both at the midpoint;
- per edge and per motor joint whose second body is the part, while the joint is inside
  its limits: with ``T`` the joint's motor torque (TMA reads it with ``inv_dt = 60``),
  ``f = (-T * l_y, T * l_x)`` for the lever ``l`` from the anchor to the part's centre and
  ``p = n . f``: if ``p > 0``, a push ``clip(-(p * 0.05 * len * density * (T + I w)^2) f, -20, 20)``
  (componentwise, ``I w`` the part's inertia times angular speed) at the anchor.

**Grasping.** Before the world step, each hand sensor whose grasp action is positive
becomes ready to attach; one whose action is not releases its grip. After the step, a
ready sensor that touches something graspable and holds nothing grasps the first thing it
touched if its centre, padded by ``radius + 0.01``, still overlaps that thing's bounding
box (a revolute joint at the sensor's centre); otherwise that contact is forgotten.

**Lidars.** 10 rays of length 160/30 from the head at angles ``a * i / 10 + offset``
(``down``: a = 1.5, offset 0, gymnasium's; ``up``: 2.3 and 1.5; ``full``: pi and 0),
reporting the closest hit on the terrain layer, and whether it was water or a creeper.
TMA resets a ray's fraction each step but not these two flags, so a ray that hits nothing
repeats the flags of its last hit; we keep that.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from Box2D.b2 import contactListener, rayCastCallback, revoluteJointDef

from envs.parkour.bodies import BODY, CREEPER, GRIP, SENSOR, WATER

DRAG_MOD, LIFT_MOD, PUSH_MOD = 0.25, 0.25, 0.05
MAX_DRAG, MAX_LIFT = 2000.0, 500.0
EPS = 1.1920929e-07    # Box2D's b2_epsilon
TORQUE_INV_DT = 60.0   # TMA reads the motor torque with inv_dt = 60 (the world steps at 50 Hz)
LIDAR_RANGE = 160 / 30.0
NB_LIDAR = 10
LIDAR_ANGLES = {"down": (1.5, 0.0), "up": (2.3, 1.5), "full": (math.pi, 0.0)}


class ParkourContacts(contactListener):
    """TMA's Parkour contact detector (water pairs, sensor contacts, body contacts)."""

    def __init__(self) -> None:
        contactListener.__init__(self)
        self.water_pairs: list[tuple[Any, Any]] = []
        self.grasp: dict[Any, list[Any]] = {}      # sensor body -> fixtures it touches
        self.critical_contact = False
        self.climber = False

    def reset(self, climber: bool) -> None:
        self.water_pairs = []
        self.grasp = {}
        self.critical_contact = False
        self.climber = climber

    def BeginContact(self, contact: Any) -> None:
        fa, fb = contact.fixtureA, contact.fixtureB
        ua, ub = fa.body.userData, fb.body.userData
        if ua.kind == WATER or ub.kind == WATER:
            if ua.kind == WATER and ub.kind == BODY:
                self.water_pairs.append((fa, fb))
            elif ub.kind == WATER and ua.kind == BODY:
                self.water_pairs.append((fb, fa))
            return
        if ua.kind == SENSOR or ub.kind == SENSOR:
            for body, other in ((fa.body, fb), (fb.body, fa)):
                data = body.userData
                if data.kind == SENSOR and data.check_contact:
                    if other.body.userData.kind not in (GRIP, CREEPER):
                        return
                    data.has_contact = True
                    self.grasp.setdefault(body, []).append(other)
            return
        if fa.sensor or fb.sensor:
            return
        for data, other in ((ua, ub), (ub, ua)):
            if data.kind == BODY and data.check_contact:
                data.has_contact = True
                if data.critical and not (other.kind == GRIP and self.climber):
                    self.critical_contact = True

    def EndContact(self, contact: Any) -> None:
        fa, fb = contact.fixtureA, contact.fixtureB
        ua, ub = fa.body.userData, fb.body.userData
        if ua.kind == WATER or ub.kind == WATER:
            pair = (fa, fb) if ua.kind == WATER else (fb, fa)
            if pair[1].body.userData.kind == BODY and pair in self.water_pairs:
                self.water_pairs.remove(pair)
            return
        if ua.kind == SENSOR or ub.kind == SENSOR:
            for body, other in ((fa.body, fb), (fb.body, fa)):
                data = body.userData
                if data.kind == SENSOR and data.check_contact and data.has_contact:
                    touching = self.grasp.get(body, [])
                    if other in touching:
                        touching.remove(other)
                    if not touching:
                        data.has_contact = False
            return
        for data in (ua, ub):
            if data.kind == BODY and data.check_contact:
                data.has_contact = False


class ParkourLidar(rayCastCallback):
    """The closest hit on the terrain layer, and whether it was water or a creeper."""

    def __init__(self, mask: int) -> None:
        rayCastCallback.__init__(self)
        self.mask = mask
        self.fraction = 1.0
        self.p1 = self.p2 = (0.0, 0.0)
        self.water = False
        self.creeper = False

    def ReportFixture(self, fixture: Any, point: Any, normal: Any, fraction: float) -> float:
        if (fixture.filterData.categoryBits & self.mask) == 0:
            return -1
        self.p2 = point
        self.fraction = fraction
        kind = fixture.body.userData.kind
        self.water = kind == WATER
        self.creeper = kind == CREEPER
        return fraction


# -- water --------------------------------------------------------------------------------
def _world_polygon(fixture: Any) -> list[tuple[float, float]]:
    body = fixture.body
    px, py = body.position
    c, s = math.cos(body.angle), math.sin(body.angle)
    return [(px + c * x - s * y, py + s * x + c * y) for x, y in fixture.shape.vertices]


def clip_polygon(subject: list[tuple[float, float]], clip: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sutherland-Hodgman: ``subject`` clipped by the convex, counter-clockwise ``clip``
    (a point is inside an edge when it lies strictly to its left; crossings are the
    intersections of the two infinite lines, as TMA computes them)."""
    out = list(subject)
    c1x, c1y = clip[-1]
    for c2x, c2y in clip:
        if not out:
            break
        inp, out = out, []
        ex, ey = c2x - c1x, c2y - c1y
        dcx, dcy = c1x - c2x, c1y - c2y
        n1 = c1x * c2y - c1y * c2x
        sx, sy = inp[-1]
        s_in = ex * (sy - c1y) > ey * (sx - c1x)
        for px, py in inp:
            p_in = ex * (py - c1y) > ey * (px - c1x)
            if p_in != s_in:
                dpx, dpy = sx - px, sy - py
                n2 = sx * py - sy * px
                n3 = 1.0 / (dcx * dpy - dcy * dpx)
                out.append(((n1 * dpx - n2 * dcx) * n3, (n1 * dpy - n2 * dcy) * n3))
            if p_in:
                out.append((px, py))
            sx, sy, s_in = px, py, p_in
        c1x, c1y = c2x, c2y
    return out


def centroid(points: list[tuple[float, float]]) -> tuple[tuple[float, float], float]:
    """Area-weighted centroid and signed area (triangle fan from the origin, as Box2D); a
    polygon of area at most Box2D's epsilon gets area 0 and an unscaled centroid."""
    cx = cy = area = 0.0
    n = len(points)
    for i in range(n):
        x2, y2 = points[i]
        x3, y3 = points[(i + 1) % n]
        tri = 0.5 * (x2 * y3 - y2 * x3)
        area += tri
        cx += tri * (x2 + x3) / 3.0
        cy += tri * (y2 + y3) / 3.0
    if area > EPS:
        return (cx / area, cy / area), area
    return (cx, cy), 0.0


def water_forces(pairs: list[tuple[Any, Any]], gravity: tuple[float, float], max_push: float = 20.0) -> None:
    """Apply buoyancy, drag, lift and TMA's push to every body part in the water."""
    gx, gy = gravity
    waters: dict[Any, list[tuple[float, float]]] = {}
    for water_fx, part_fx in pairs:
        density = water_fx.density
        if water_fx not in waters:
            waters[water_fx] = _world_polygon(water_fx)
        points = clip_polygon(waters[water_fx], _world_polygon(part_fx))
        if not points:
            continue
        body = part_fx.body
        (cx, cy), area = centroid(points)
        mass = density * area
        body.ApplyForce((-gx * mass, -gy * mass), (cx, cy), True)
        wcx, wcy = body.worldCenter
        vx0, vy0 = body.linearVelocity
        w = body.angularVelocity
        joints = [je.joint for je in body.joints if je.joint.bodyB == body]
        n = len(points)
        for i in range(n):
            x0, y0 = points[i]
            x1, y1 = points[(i + 1) % n]
            mx, my = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
            vx, vy = vx0 - w * (my - wcy), vy0 + w * (mx - wcx)   # the water is static
            # b2Vec2.Normalize: a vector shorter than b2_epsilon keeps its value, length 0
            speed = math.hypot(vx, vy)
            if speed < EPS:
                ux, uy, speed = vx, vy, 0.0
            else:
                ux, uy = vx / speed, vy / speed
            ex, ey = x1 - x0, y1 - y0
            length = math.hypot(ex, ey)
            if length < EPS:
                length = 0.0
            else:
                ex, ey = ex / length, ey / length
            nx, ny = ey, -ex
            drag_dot = nx * ux + ny * uy
            if drag_dot >= 0:
                drag = min(drag_dot * DRAG_MOD * length * density * speed * speed, MAX_DRAG)
                body.ApplyForce((-drag * ux, -drag * uy), (mx, my), True)
                lift_dot = ex * ux + ey * uy
                lift = min(drag_dot * lift_dot * LIFT_MOD * length * density * speed * speed, MAX_LIFT)
                body.ApplyForce((-lift * uy, lift * ux), (mx, my), True)
            for joint in joints:
                if joint.lowerLimit < joint.angle < joint.upperLimit:
                    torque = joint.GetMotorTorque(TORQUE_INV_DT)
                    spin = body.inertia * w
                    ax, ay = joint.anchorB
                    lx, ly = wcx - ax, wcy - ay
                    fx, fy = -torque * ly, torque * lx
                    push_dot = nx * fx + ny * fy
                    if push_dot > 0:
                        v = torque + spin
                        mag = push_dot * PUSH_MOD * length * density * v * v
                        px_ = min(max(-mag * fx, -max_push), max_push)   # componentwise clip, as TMA
                        py_ = min(max(-mag * fy, -max_push), max_push)
                        body.ApplyForce((px_, py_), (ax, ay), True)


# -- grasping -----------------------------------------------------------------------------
def before_step_grasp(actions: np.ndarray, sensors: list[Any], grips: dict[Any, Any], world: Any) -> None:
    """Sensor ``k`` follows action ``len(actions) - len(sensors) + k``: grasp when positive,
    release (destroy its grip joint) otherwise."""
    offset = len(actions) - len(sensors)
    for k, sensor in enumerate(sensors):
        data = sensor.userData
        if actions[offset + k] > 0:
            data.ready_to_attach = True
        else:
            data.ready_to_attach = False
            if data.has_joint:
                data.has_joint = False
                joint = grips.pop(sensor, None)
                if joint is not None:
                    world.DestroyJoint(joint)


def after_step_grasp(contacts: ParkourContacts, grips: dict[Any, Any], world: Any) -> None:
    """Grip what a ready sensor still overlaps after the solver (bounding-box test)."""
    for sensor, touching in contacts.grasp.items():
        data = sensor.userData
        if not touching or not data.ready_to_attach or data.has_joint:
            continue
        other = touching[0]
        xs = [v[0] for v in other.shape.vertices]  # static terrain: local = world coordinates
        ys = [v[1] for v in other.shape.vertices]
        r = sensor.fixtures[0].shape.radius + 0.01
        sx, sy = sensor.worldCenter
        if sx + r > min(xs) and sx - r < max(xs) and sy + r > min(ys) and sy - r < max(ys):
            grips[sensor] = world.CreateJoint(revoluteJointDef(bodyA=sensor, bodyB=other.body, anchor=(sx, sy)))
            data.has_joint = True
        else:
            touching.remove(other)
            if not touching:
                data.has_contact = False
