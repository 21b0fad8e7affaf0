"""Read TeachMyAgent's released TF1 CPPN checkpoint without TensorFlow and write ``weights/cppn.npz``.

TeachMyAgent's Parkour draws its ground and ceiling with a CPPN whose weights ship as a
TensorFlow 1 checkpoint (``PCGAgents/CPPN/weights/same_ground_ceiling_cppn/``: ``.index``,
``.data-00000-of-00001``; docs/references.md#tma-parkour). Two files matter:

- ``.index`` is a LevelDB-format sorted table (SSTable): data blocks of prefix-compressed
  ``key -> value`` entries with a restart array, an index block pointing at them, and a
  48-byte footer ending in the magic number ``0xdb4775248b80fb57``. The empty key holds the
  bundle header; every other key is a variable name whose value is a serialized
  ``BundleEntryProto`` (field 1 dtype, 2 shape, 3 shard, 4 offset, 5 size, 6 masked CRC32C).
- ``.data-00000-of-00001`` holds the raw little-endian tensors at those offsets.

We decode both with a few lines of protobuf and SSTable parsing, check every tensor's
CRC32C (Castagnoli) against the recorded one, and write the five bias-free matrices under
the names of the layers they feed (TF names variables ``Variable``, ``Variable_1``, ... in
creation order, and TMA's ``TanHSoftplusMixCPPN`` creates h1, h2, h3, h4 then the output
layer). The shapes recorded in the checkpoint are written next to them (``shape_<name>``),
so a test can compare the matrices against the checkpoint's own record.

Usage::

    python -m envs.parkour.convert_cppn <checkpoint dir> [out.npz]

The shipped ``envs/parkour/weights/cppn.npz`` was written this way from TeachMyAgent's
``same_ground_ceiling_cppn`` checkpoint (MIT licence, Romac et al. 2021).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np

from envs.errors import TeachBenchError

MAGIC = 0xDB4775248B80FB57
# TF variable name -> our layer name (TanHSoftplusMixCPPN's creation order)
LAYERS = {"Variable": "h1", "Variable_1": "h2", "Variable_2": "h3", "Variable_3": "h4", "Variable_4": "out"}
DT_FLOAT = 1


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        out |= (b & 0x7F) << shift
        if b < 0x80:
            return out, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, object]]:
    """(field number, wire type, value) of a serialized protobuf message (wire types 0, 2, 5)."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        else:
            raise TeachBenchError("checkpoint", f"unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def _block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """Entries of one uncompressed SSTable block (its 5-byte trailer follows ``size``)."""
    if data[offset + size] != 0:
        raise TeachBenchError("checkpoint", "compressed SSTable blocks are not supported")
    block = data[offset:offset + size]
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        n_value, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        entries.append((key, block[pos:pos + n_value]))
        pos += n_value
    return entries


def read_index(path: Path) -> dict[str, bytes]:
    """All ``key -> value`` entries of a TF ``.index`` SSTable."""
    data = path.read_bytes()
    if struct.unpack_from("<Q", data, len(data) - 8)[0] != MAGIC:
        raise TeachBenchError("checkpoint", f"{path} is not a TF checkpoint index (bad magic)")
    footer = data[-48:]
    _, pos = _varint(footer, 0)          # metaindex offset
    _, pos = _varint(footer, pos)        # metaindex size
    index_offset, pos = _varint(footer, pos)
    index_size, pos = _varint(footer, pos)
    out: dict[str, bytes] = {}
    for _, handle in _block(data, index_offset, index_size):
        offset, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        for key, value in _block(data, offset, size):
            out[key.decode()] = value
    return out


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """LevelDB's / TF's masked CRC32C (what BundleEntryProto records)."""
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def read_checkpoint(directory: str | Path, prefix: str = "") -> dict[str, tuple[np.ndarray, tuple[int, ...]]]:
    """``name -> (float32 array, recorded shape)`` of every float tensor of a single-shard checkpoint.

    TMA's checkpoint prefix is the empty string (files ``.index`` and ``.data-00000-of-00001``)."""
    directory = Path(directory)
    entries = read_index(directory / f"{prefix}.index")
    blob = (directory / f"{prefix}.data-00000-of-00001").read_bytes()
    out: dict[str, tuple[np.ndarray, tuple[int, ...]]] = {}
    for name, value in entries.items():
        if name == "":
            continue  # the BundleHeaderProto
        fields = _fields(value)
        get = {n: v for n, _, v in fields}
        if get.get(1) != DT_FLOAT:
            raise TeachBenchError("checkpoint", f"tensor {name!r} is not float32 (dtype {get.get(1)})")
        shape = tuple(int(_fields(d)[0][2]) if _fields(d) else 0
                      for n, _, d in _fields(get.get(2, b"")) if n == 2)
        offset, size = int(get.get(4, 0)), int(get.get(5, 0))
        raw = blob[offset:offset + size]
        if masked_crc32c(raw) != get.get(6):
            raise TeachBenchError("checkpoint", f"CRC32C mismatch for tensor {name!r}")
        array = np.frombuffer(raw, dtype="<f4").reshape(shape).copy()
        out[name] = (array, shape)
    return out


def convert(directory: str | Path, out: str | Path) -> dict[str, np.ndarray]:
    """Write the CPPN's five matrices (and their recorded shapes) to ``out``."""
    tensors = read_checkpoint(directory)
    if set(tensors) != set(LAYERS):
        raise TeachBenchError("checkpoint", f"expected variables {sorted(LAYERS)}, found {sorted(tensors)}")
    arrays: dict[str, np.ndarray] = {}
    for tf_name, layer in LAYERS.items():
        matrix, shape = tensors[tf_name]
        arrays[layer] = matrix
        arrays[f"shape_{layer}"] = np.asarray(shape, dtype=np.int64)
    np.savez(out, **arrays)
    return arrays


def main(argv: list[str]) -> None:
    if not 1 <= len(argv) <= 2:
        raise SystemExit("usage: python -m envs.parkour.convert_cppn <checkpoint dir> [out.npz]")
    out = argv[1] if len(argv) == 2 else str(Path(__file__).with_name("weights") / "cppn.npz")
    arrays = convert(argv[0], out)
    for name in LAYERS.values():
        print(name, arrays[name].shape)
    print("wrote", out)


if __name__ == "__main__":
    main(sys.argv[1:])
