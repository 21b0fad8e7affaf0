"""The maze observation, computed with NumPy instead of MiniGrid's object grid.

MiniGrid builds the agent's view by slicing its object grid, rotating it ``dir + 1``
times and encoding every cell (tens of microseconds of Python per step). Ours reads the
same cells straight from a padded wall array through a per-direction offset table, and
the batched VecEnv uses the same table with fancy indexing over N mazes at once.

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

from envs.gridworld.level import DIR_TO_VEC


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


def padded_walls(walls: np.ndarray, canvas: int, pad: int) -> np.ndarray:
    """The ``[x, y]`` wall array on a ``canvas + 2·pad`` square, everything outside the
    level being wall (so view look-ups never index out of range)."""
    out = np.ones((canvas + 2 * pad, canvas + 2 * pad), dtype=bool)
    s = walls.shape[0]
    out[pad : pad + s, pad : pad + s] = walls
    return out


def partial_obs(
    walls_p: np.ndarray, pad: int, offsets: np.ndarray, pos: tuple[int, int], direction: int, goal: tuple[int, int]
) -> np.ndarray:
    """One partial-view observation (see module docstring)."""
    off = offsets[direction]
    xs = off[..., 0] + pos[0]
    ys = off[..., 1] + pos[1]
    v = off.shape[0]
    out = np.zeros(2 * v * v + 4, dtype=np.float32)
    out[: v * v] = walls_p[xs + pad, ys + pad].ravel()
    out[v * v : 2 * v * v] = ((xs == goal[0]) & (ys == goal[1])).ravel()
    out[v * v + (v // 2) * v + v - 1] = 0.0  # MiniGrid blanks the agent's own cell
    out[2 * v * v + direction] = 1.0
    return out


def full_obs(walls_p: np.ndarray, pad: int, max_size: int, pos: tuple[int, int], direction: int, goal: tuple[int, int]) -> np.ndarray:
    """One full-view observation (see module docstring)."""
    m2 = max_size * max_size
    out = np.zeros(3 * m2 + 4, dtype=np.float32)
    out[:m2] = walls_p[pad : pad + max_size, pad : pad + max_size].ravel()
    out[m2 + goal[0] * max_size + goal[1]] = 1.0
    out[2 * m2 + pos[0] * max_size + pos[1]] = 1.0
    out[3 * m2 + direction] = 1.0
    return out
