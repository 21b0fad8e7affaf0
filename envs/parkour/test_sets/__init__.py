"""TMA's three Parkour test sets, shipped as data (``walking.csv``, ``climbing.csv``, ``swimming.csv``).

TeachMyAgent evaluates a Parkour student on a fixed, hand-made set of 100 tasks per body
type (``walking_test_set_v1``, ``climbing_test_set_v1``, ``swimming_test_set_v1``, pickled
numpy arrays in TMA's ``teachers/test_sets``; docs/references.md#tma-parkour). Each row sets
all 8 of TMA's parameters, in TMA's order: the 3 CPPN inputs, ``water_level``,
``creepers_width``, ``creepers_height``, ``creepers_spacing`` and ``terrain_cppn_scale``.
We copied the numbers (float64, exactly) into CSV files.

A test task is played as an exact level string ``parkour:<8 comma-separated values>``
(:func:`level_string`), because the sets leave the training box: the walking set uses
``terrain_cppn_scale = 20`` and CPPN inputs over most of [-1, 1], the swimming set mixes
scales 10 and 20, the climbing set varies the creeper width.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from envs.errors import TeachBenchError

HERE = Path(__file__).parent
TEST_SETS = ("walking", "climbing", "swimming")
BY_KIND = {"walker": "walking", "climber": "climbing", "swimmer": "swimming"}
COLUMNS = ("input_vector_0", "input_vector_1", "input_vector_2", "water_level", "creepers_width",
           "creepers_height", "creepers_spacing", "terrain_cppn_scale")
PREFIX = "parkour:"


def resolve(name: str, body_kind: str) -> str:
    """A test-set name; ``auto`` picks the body type's set (walker: walking, ...)."""
    if name == "auto":
        return BY_KIND[body_kind]
    if name not in TEST_SETS:
        raise TeachBenchError("env.kwargs.test_set", f"unknown Parkour test set {name!r}", ["auto", *TEST_SETS])
    return name


@lru_cache(maxsize=None)
def table(name: str) -> np.ndarray:
    """The ``(100, 8)`` array of a test set, columns :data:`COLUMNS`."""
    if name not in TEST_SETS:
        raise TeachBenchError("env.kwargs.test_set", f"unknown Parkour test set {name!r}", list(TEST_SETS))
    path = HERE / f"{name}.csv"
    header = path.read_text().splitlines()[0].split(",")
    if tuple(header) != COLUMNS:
        raise TeachBenchError("test_set", f"{path} has columns {header}, expected {list(COLUMNS)}")
    return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)


def level_string(params: dict[str, Any]) -> str:
    """``parkour:<8 values>`` of TMA's ``set_environment`` arguments."""
    values = list(params["input_vector"]) + [params[c] for c in COLUMNS[3:]]
    return PREFIX + ",".join(repr(float(v)) for v in values)


def levels(name: str) -> list[str]:
    return [PREFIX + ",".join(repr(float(v)) for v in row) for row in table(name)]


def parse_level(text: Any) -> dict[str, Any]:
    """TMA's ``set_environment`` arguments of a level string (checked)."""
    allowed = [f"{PREFIX}<{', '.join(COLUMNS)}>"]
    if not isinstance(text, str) or not text.startswith(PREFIX):
        raise TeachBenchError("level", f"not a Parkour level string: {text!r}", allowed)
    try:
        values = [float(v) for v in text[len(PREFIX):].split(",")]
    except ValueError:
        raise TeachBenchError("level", f"not a Parkour level string: {text!r}", allowed) from None
    if len(values) != len(COLUMNS) or not all(np.isfinite(values)):
        raise TeachBenchError("level", f"expected {len(COLUMNS)} finite values in {text!r}", allowed)
    v = dict(zip(COLUMNS, values))
    if not 0.0 <= v["water_level"] <= 1.0:
        raise TeachBenchError("level.water_level", f"{v['water_level']} outside [0, 1]")
    for key in ("creepers_width", "creepers_height", "creepers_spacing"):
        if v[key] < 0:
            raise TeachBenchError(f"level.{key}", f"{v[key]} must be >= 0")
    if v["terrain_cppn_scale"] <= 1:
        raise TeachBenchError("level.terrain_cppn_scale", f"{v['terrain_cppn_scale']} must be > 1")
    return {"input_vector": values[:3], **{c: v[c] for c in COLUMNS[3:]}}
