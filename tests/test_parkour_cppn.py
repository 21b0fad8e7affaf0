"""TMA's Parkour CPPN: checkpoint conversion without TensorFlow and the numpy forward pass.

Facts of the reference (docs/references.md#tma-parkour): TeachMyAgent's
``TanHSoftplusMixCPPN`` is a bias-free MLP 4 -> 64 -> 64 -> 64 -> 64 -> 2 (tanh, softplus,
tanh, softplus, linear), fed ``[x / 199, v1, v2, v3]`` at each of 200 steps; the released
``same_ground_ceiling_cppn`` checkpoint holds exactly these five float32 variables
(50,688 bytes of tensor data = 12,672 floats).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from envs.errors import TeachBenchError
from envs.parkour import convert_cppn
from envs.parkour.cppn import WEIGHTS, cppn_inputs, generate, load_weights

CHECKPOINT = Path(convert_cppn.__file__).with_name("weights") / "tma_same_ground_ceiling_cppn"


def test_checkpoint_holds_tma_architecture():
    tensors = convert_cppn.read_checkpoint(CHECKPOINT)
    shapes = {name: shape for name, (_, shape) in tensors.items()}
    # TMA's TanHSoftplusMixCPPN with input_dim=3 (+ x) and output_dim=2, in creation order
    assert shapes == {"Variable": (4, 64), "Variable_1": (64, 64), "Variable_2": (64, 64),
                      "Variable_3": (64, 64), "Variable_4": (64, 2)}
    n_floats = sum(int(np.prod(s)) for s in shapes.values())
    assert n_floats == 4 * 64 + 3 * 64 * 64 + 64 * 2 == 12672
    assert n_floats * 4 == (CHECKPOINT / ".data-00000-of-00001").stat().st_size


def test_shipped_npz_equals_checkpoint(tmp_path):
    out = tmp_path / "cppn.npz"
    convert_cppn.convert(CHECKPOINT, out)
    fresh, shipped = np.load(out), np.load(WEIGHTS)
    tensors = convert_cppn.read_checkpoint(CHECKPOINT)
    for tf_name, layer in convert_cppn.LAYERS.items():
        np.testing.assert_array_equal(shipped[layer], fresh[layer])
        np.testing.assert_array_equal(shipped[layer], tensors[tf_name][0])
        assert tuple(shipped[f"shape_{layer}"]) == shipped[layer].shape == tensors[tf_name][1]


def test_crc_is_checked(tmp_path):
    for name in (".index", ".data-00000-of-00001"):
        (tmp_path / name).write_bytes((CHECKPOINT / name).read_bytes())
    data = bytearray((tmp_path / ".data-00000-of-00001").read_bytes())
    data[100] ^= 0xFF
    (tmp_path / ".data-00000-of-00001").write_bytes(bytes(data))
    with pytest.raises(TeachBenchError, match="CRC32C"):
        convert_cppn.read_checkpoint(tmp_path)


def test_crc32c_known_value():
    # RFC 3720 (iSCSI) check value of CRC-32C over "123456789"
    assert convert_cppn.crc32c(b"123456789") == 0xE3069283


def _by_hand(h: list[np.ndarray], row: list[float]) -> list[float]:
    """The CPPN on one input row with explicit loops (no matrix products)."""
    h1, h2, h3, h4, out = (m.tolist() for m in h)

    def layer(x, w, f):
        return [f(sum(x[i] * w[i][j] for i in range(len(x)))) for j in range(len(w[0]))]

    sp = lambda z: math.log1p(math.exp(z)) if z < 30 else z  # noqa: E731
    z = layer(row, h1, math.tanh)
    z = layer(z, h2, sp)
    z = layer(z, h3, math.tanh)
    z = layer(z, h4, sp)
    return layer(z, out, lambda v: v)


def test_forward_pass_by_hand():
    w = load_weights()
    with np.load(WEIGHTS) as data:
        raw = [data[n] for n in ("h1", "h2", "h3", "h4", "out")]
    y = generate([0.0, 0.0, 0.0])
    assert y.shape == (200, 2)
    # Case 1: step 0 of input vector 0: the input row is all zeros, so h1 = tanh(0) = 0,
    # h2 = softplus(0) = log 2 on all 64 units, h3 = tanh(log 2 * column sums of W3),
    # h4 = softplus(h3 W4), output = h4 W_out.
    h3 = np.tanh(math.log(2.0) * raw[2].astype(np.float64).sum(axis=0))
    h4 = np.log1p(np.exp(h3 @ raw[3].astype(np.float64)))
    np.testing.assert_allclose(y[0], h4 @ raw[4].astype(np.float64), rtol=1e-12)
    # Case 2: the last step (x = 199/199 = 1) of input vector (-0.15, 0.8, 0.1), by loops
    v = [-0.15, 0.8, 0.1]
    np.testing.assert_allclose(generate(v)[-1], _by_hand(list(w), [1.0] + v), rtol=1e-9)
    # and the middle step 100 (x = 100/199) of the same vector
    np.testing.assert_allclose(generate(v)[100], _by_hand(list(w), [100 / 199] + v), rtol=1e-9)


def test_inputs_layout_and_errors():
    x = cppn_inputs([0.1, 0.2, 0.3])
    assert x.shape == (200, 4)
    assert x[0, 0] == 0.0 and x[-1, 0] == 1.0 and x[1, 0] == pytest.approx(1 / 199)
    np.testing.assert_array_equal(x[:, 1:], np.tile([0.1, 0.2, 0.3], (200, 1)))
    with pytest.raises(TeachBenchError):
        cppn_inputs([0.0, 1.0])
    with pytest.raises(TeachBenchError):
        cppn_inputs([0.0, np.nan, 1.0])
