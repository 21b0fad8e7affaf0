"""A Parkour track from its task: ground, ceiling, creepers and water level (TMA's generator).

Everything here is plain numpy, computed before any Box2D body exists, so the geometry of a
task can be tested on its own. Facts from TeachMyAgent's ``_generate_terrain``
(docs/references.md#tma-parkour), in world units (``SCALE = 30`` px per unit):

- the track is ``200`` CPPN steps after a start pad of ``20`` steps, a step being 14/30;
  points are laid at ``x = 0, STEP, 2 STEP, ...`` while ``x < 220 STEP`` (220 points);
- the start pad is flat: ground at ``TERRAIN_HEIGHT = 400 / 30 / 4`` and ceiling
  ``ceiling_offset / scale`` above it (200 / 10 = 20 world units by default);
- after it, the CPPN's ground and ceiling divided by ``terrain_cppn_scale``, each shifted
  so that its first value meets the start pad; the ceiling is clipped to stay at least
  ``ceiling_clip_offset / scale`` above the ground;
- creepers hang from the ceiling: walking along the segments, a creeper starts at a
  segment once the distance walked since the previous one reaches ``creepers_spacing``
  (so the first hangs at x = 0); its height is ``max(0.2, N(creepers_height, 0.1))`` and its
  width ``max(0.2, creepers_width)``; it hangs from the lower of the two ceiling points
  ``floor(width / STEP)`` steps apart (at least one step), i.e. from their maximum y;
- water fills from ``GROUND_LIMIT = -1000 / scale`` up to
  ``GROUND_LIMIT + max(0.01, water_level) * (max ceiling - GROUND_LIMIT)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from envs.parkour import cppn

SCALE = 30.0
VIEWPORT_W, VIEWPORT_H = 600, 400
TERRAIN_STEP = 14 / SCALE
TERRAIN_LENGTH = 200          # CPPN steps
TERRAIN_HEIGHT = VIEWPORT_H / SCALE / 4
TERRAIN_END = 5               # the finish line is 5 steps before the last point
STARTPAD = 20                 # TMA's INITIAL_TERRAIN_STARTPAD, in steps
CREEPER_STD = 0.1             # per-creeper height spread
MIN_CREEPER = 0.2             # floor of creeper height and width


@dataclass(frozen=True)
class Track:
    """The geometry of one task (world units)."""

    x: np.ndarray                 # (n,) point abscissae
    ground: np.ndarray            # (n,) ground heights
    ceiling: np.ndarray           # (n,) ceiling heights
    creepers: list[tuple[float, float, float, float]]  # (x_left, x_right, y_top, y_bottom)
    water_y: float                # the water surface
    ground_limit: float           # bottom of the water body (and of the ground fill)
    ceiling_limit: float          # top of the ceiling fill (rendering)
    startpad: int

    @property
    def finish_x(self) -> float:
        """TMA ends the episode once the head passes this abscissa."""
        return (TERRAIN_LENGTH + self.startpad - TERRAIN_END) * TERRAIN_STEP


def startpad_steps(agent_width: float) -> int:
    """TMA's start pad: 20 steps unless the agent needs ``width / STEP + 5`` (none of ours
    does; TMA then keeps a fractional pad, we round it up so that it indexes steps)."""
    need = agent_width / TERRAIN_STEP + 5
    return STARTPAD if need <= STARTPAD else int(math.ceil(need))


def make_track(input_vector: np.ndarray | list[float], water_level: float, creepers_width: float | None,
               creepers_height: float | None, creepers_spacing: float, terrain_cppn_scale: float,
               rng: np.random.Generator, startpad: int = STARTPAD, ceiling_offset: float = 200.0,
               ceiling_clip_offset: float = 0.0) -> Track:
    """The track of a task (TMA's ``set_environment`` arguments; offsets in TMA's pixels).

    ``creepers_width`` or ``creepers_height`` ``None`` means no creepers (as TMA)."""
    scale = float(terrain_cppn_scale)
    ground_limit, ceiling_limit = -1000.0 / scale, 1000.0 / scale
    offset, clip_offset = ceiling_offset / scale, ceiling_clip_offset / scale
    y = cppn.generate(input_vector) / scale
    ground = y[:, 0] + (TERRAIN_HEIGHT - y[0, 0])
    ceiling = y[:, 1] + (TERRAIN_HEIGHT + offset - y[0, 1])
    ceiling = np.maximum(ceiling, ground + clip_offset)

    xs: list[float] = []
    x, max_x = 0.0, TERRAIN_LENGTH * TERRAIN_STEP + startpad * TERRAIN_STEP
    while x < max_x:  # accumulated exactly as TMA does (220 points)
        xs.append(x)
        x += TERRAIN_STEP
    n = len(xs)
    gy = np.empty(n)
    cy = np.empty(n)
    gy[:startpad] = TERRAIN_HEIGHT
    cy[:startpad] = TERRAIN_HEIGHT + offset
    gy[startpad:] = ground[: n - startpad]
    cy[startpad:] = ceiling[: n - startpad]

    creepers: list[tuple[float, float, float, float]] = []
    if creepers_width is not None and creepers_height is not None:
        spacing = max(0.01, float(creepers_spacing))
        walked = spacing
        for i in range(n - 1):
            if walked >= spacing:
                h = max(MIN_CREEPER, float(rng.normal(creepers_height, CREEPER_STD)))
                w = max(MIN_CREEPER, float(creepers_width))
                steps = max(1, int(np.floor(w / TERRAIN_STEP)))
                top = max(cy[i], cy[min(i + steps, n - 1)])
                creepers.append((xs[i], xs[i] + w, float(top), float(top - h)))
                walked = 0.0
            else:
                walked += xs[i] - xs[i - 1]

    level = max(0.01, float(water_level))
    water_y = ground_limit + level * (float(cy.max()) - ground_limit)
    return Track(np.asarray(xs), gy, cy, creepers, float(water_y), ground_limit, ceiling_limit, startpad)
