"""The maze observation, computed with NumPy instead of MiniGrid's object grid.

MiniGrid builds the agent's view by slicing its object grid, rotating it ``dir + 1``
times and encoding every cell (tens of microseconds of Python per step). Ours reads the
same cells straight from a padded canvas of cell codes (wall / goal) through a
per-direction table of flat offsets: one gather per step, for one env or, in the batched
VecEnv, for N mazes at once, and both encode the gathered codes with the same function.

Flat observation (float32, values in {0, 1}), an MLP-ready ``Box``:

- partial view (``view_size`` V, default 5): ``wall[i, j]`` then ``goal[i, j]`` for the
  V×V cells of MiniGrid's egocentric view (``i`` left→right, ``j`` far→near, the agent
  at ``(V//2, V−1)`` facing "up"; cells outside the maze read as wall, exactly as
  MiniGrid's ``gen_obs`` with ``see_through_walls=True``; the agent's own cell reads
  empty, also as in MiniGrid, even when it stands on the goal), then the direction one-hot;
- full view: ``wall[x, y]``, ``goal[x, y]``, ``agent[x, y]`` over a ``max_size²`` canvas
  (cells beyond the level's size read as wall), then the direction one-hot.
"""

from __future__ import annotations

import numpy as np

from envs.gridworld.level import DIR_TO_VEC, Level


def view_offsets(view_size: int) -> np.ndarray:
    """``(4, V, V, 2)`` int array: world offset ``(dx, dy)`` from the agent of view cell
    ``(i, j)`` when facing each direction. Forward ``f``, right ``r = (−f_y, f_x)``;
    cell ``(i, j)`` lies ``V−1−j`` cells ahead and ``i − V//2`` cells to the right."""
    v = view_size
    out = np.zeros((4, v, v, 2), dtype=np.int64)
    i = np.arange(v)[:, None]
    j = np.arange(v)[None, :]
    ahead = v - 1 - j
    right = i - v // 2
    for d, (fx, fy) in enumerate(DIR_TO_VEC):
        rx, ry = -fy, fx
        out[d, :, :, 0] = fx * ahead + rx * right
        out[d, :, :, 1] = fy * ahead + ry * right
    return out


def obs_size(view: str, view_size: int, max_size: int) -> int:
    if view == "partial":
        return 2 * view_size * view_size + 4
    return 3 * max_size * max_size + 4


WALL, GOAL = 1, 2
"""Cell codes of the padded canvas: one look-up reads both the wall and the goal planes."""


def code_canvas(level: Level, max_size: int, pad: int) -> np.ndarray:
    """The level's cell codes ``[x, y]`` (``WALL``, ``GOAL`` or 0) on a ``max_size + 2·pad``
    square, everything outside the level being wall (so view look-ups never leave it)."""
    out = np.full((max_size + 2 * pad, max_size + 2 * pad), WALL, dtype=np.uint8)
    s = level.size
    out[pad : pad + s, pad : pad + s] = level.wall_grid
    out[pad + level.goal[0], pad + level.goal[1]] = GOAL
    return out


def flat_view_offsets(view_size: int, canvas: int) -> np.ndarray:
    """``(4, V*V)``: :func:`view_offsets` as offsets into a flattened ``canvas``-wide array."""
    off = view_offsets(view_size)
    return off[..., 0].reshape(4, -1) * canvas + off[..., 1].reshape(4, -1)


def partial_from_cells(cells: np.ndarray, direction: np.ndarray | int, view_size: int) -> np.ndarray:
    """Partial-view observations from the codes of the V×V view cells.

    ``cells`` is ``(..., V*V)`` (one env or N at once) and ``direction`` the matching
    direction(s); the agent's own cell reads empty, as in MiniGrid, even on the goal."""
    v2 = view_size * view_size
    out = np.zeros(cells.shape[:-1] + (2 * v2 + 4,), dtype=np.float32)
    out[..., :v2] = cells & WALL
    out[..., v2 : 2 * v2] = cells >> 1  # GOAL
    out[..., v2 + (view_size // 2) * view_size + view_size - 1] = 0.0
    out[..., 2 * v2 :] = _ONE_HOT[direction]
    return out


_ONE_HOT = np.eye(4, dtype=np.float32)


def static_planes(codes: np.ndarray, pad: int, max_size: int) -> np.ndarray:
    """The full view's wall and goal planes (``2·max_size²`` floats) of a :func:`code_canvas`:
    they do not change within an episode, so both envs compute them once per reset."""
    window = codes[pad : pad + max_size, pad : pad + max_size]
    return np.concatenate([(window == WALL).ravel(), (window == GOAL).ravel()]).astype(np.float32)


def full_obs(static: np.ndarray, max_size: int, pos: tuple[int, int], direction: int) -> np.ndarray:
    """One full-view observation (see module docstring) from :func:`static_planes`."""
    m2 = max_size * max_size
    out = np.zeros(3 * m2 + 4, dtype=np.float32)
    out[: 2 * m2] = static
    out[2 * m2 + pos[0] * max_size + pos[1]] = 1.0
    out[3 * m2 + direction] = 1.0
    return out
