"""The Parkour's terrain CPPN: TeachMyAgent's ``TanHSoftplusMixCPPN`` forward pass in numpy.

TMA (docs/references.md#tma-parkour) draws the ground and the ceiling of a Parkour track
with a fixed, pre-trained CPPN: a bias-free MLP ``4 -> 64 -> 64 -> 64 -> 64 -> 2`` with
tanh, softplus, tanh, softplus activations and a linear output. Its input at each of the
track's ``x_dim = 200`` terrain steps is ``[x / (x_dim - 1), v_1, v_2, v_3]``: the position
along the track scaled to [0, 1] followed by the task's 3-D input vector. Its two outputs
are the ground and ceiling heights in TMA's "CPPN units"; the env divides them by
``terrain_cppn_scale`` (10 by default) to get world units and shifts each curve so that it
starts at its start-pad height (:mod:`envs.parkour.terrain`).

The weights are TMA's released ``same_ground_ceiling_cppn`` checkpoint, converted without
TensorFlow by :mod:`envs.parkour.convert_cppn` into ``weights/cppn.npz``. We compute in
float64 where TMA's TF graph computed in float32; the heights agree to float32 precision
(a few 1e-6 relative), far below anything the physics can see.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from envs.errors import TeachBenchError

WEIGHTS = Path(__file__).with_name("weights") / "cppn.npz"
LAYER_NAMES = ("h1", "h2", "h3", "h4", "out")
X_DIM = 200      # TMA: the CPPN slides over TERRAIN_LENGTH = 200 steps
INPUT_DIM = 3    # TMA: input_CPPN_dim = 3


@lru_cache(maxsize=None)
def load_weights(path: str = str(WEIGHTS)) -> tuple[np.ndarray, ...]:
    """The five matrices ``h1 (4x64), h2, h3, h4 (64x64), out (64x2)`` as float64."""
    with np.load(path) as data:
        return tuple(np.asarray(data[name], dtype=np.float64) for name in LAYER_NAMES)


def softplus(z: np.ndarray) -> np.ndarray:
    """``log(1 + e^z)``, computed without overflow."""
    return np.logaddexp(0.0, z)


def cppn_inputs(input_vector: np.ndarray | list[float], x_dim: int = X_DIM) -> np.ndarray:
    """The ``(x_dim, 4)`` input matrix: scaled position, then the input vector on every row."""
    v = np.asarray(input_vector, dtype=np.float64).reshape(-1)
    if v.shape != (INPUT_DIM,) or not np.all(np.isfinite(v)):
        raise TeachBenchError("task.input_vector", f"expected {INPUT_DIM} finite numbers, got {input_vector!r}")
    x = np.arange(x_dim, dtype=np.float64) / (x_dim - 1)
    return np.concatenate([x[:, None], np.broadcast_to(v, (x_dim, INPUT_DIM))], axis=1)


def generate(input_vector: np.ndarray | list[float], x_dim: int = X_DIM) -> np.ndarray:
    """Raw CPPN output, shape ``(x_dim, 2)``: column 0 ground, column 1 ceiling (TMA's units,
    before the division by ``terrain_cppn_scale``)."""
    h1, h2, h3, h4, out = load_weights()
    z = np.tanh(cppn_inputs(input_vector, x_dim) @ h1)
    z = softplus(z @ h2)
    z = np.tanh(z @ h3)
    z = softplus(z @ h4)
    return z @ out
