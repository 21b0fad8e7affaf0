"""TaskSpace: sampling, validation errors that name the key, the unit view, serialisation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.errors import TeachBenchError
from envs.task_space import Dim, TaskSpace

SPACE = TaskSpace((Dim("height", 0.0, 3.0), Dim("count", 1, 9, "discrete"),
                   Dim("kind", kind="categorical", choices=("a", "b", "c"))))


def test_sample_is_inside_and_covers_every_value():
    rng = np.random.default_rng(0)
    tasks = [SPACE.sample(rng) for _ in range(2000)]
    assert all(SPACE.contains(t) for t in tasks)
    assert {t["count"] for t in tasks} == set(range(1, 10))
    assert {t["kind"] for t in tasks} == {"a", "b", "c"}
    heights = np.array([t["height"] for t in tasks])
    assert heights.min() < 0.1 and heights.max() > 2.9


@pytest.mark.parametrize(
    "task, key",
    [
        ({"height": 3.5, "count": 2, "kind": "a"}, "task.height"),
        ({"height": 1.0, "count": 0, "kind": "a"}, "task.count"),
        ({"height": 1.0, "count": 2.5, "kind": "a"}, "task.count"),
        ({"height": 1.0, "count": 2, "kind": "z"}, "task.kind"),
        ({"height": float("nan"), "count": 2, "kind": "a"}, "task.height"),
        ({"height": 1.0, "count": 2}, "task.kind"),
        ({"height": 1.0, "count": 2, "kind": "a", "extra": 1}, "task.extra"),
        ({"height": "tall", "count": 2, "kind": "a"}, "task.height"),
    ],
)
def test_validate_names_the_offending_dimension(task, key):
    with pytest.raises(TeachBenchError) as err:
        SPACE.validate(task)
    assert err.value.key == key
    assert key.split(".")[1] in str(err.value)


def test_unit_view_round_trip_and_clipping():
    task = {"height": 1.5, "count": 5, "kind": "b"}
    u = SPACE.to_unit(task)
    assert np.allclose(u, [0.5, 0.5, 0.5])
    assert SPACE.from_unit(u) == task
    assert SPACE.from_unit([2.0, -1.0, 1.0]) == {"height": 3.0, "count": 1, "kind": "c"}
    assert SPACE.clip({"height": -4.0, "count": 100, "kind": "a"}) == {"height": 0.0, "count": 9, "kind": "a"}


def test_serialisation_and_grid():
    again = TaskSpace.from_dict(SPACE.to_dict())
    assert again == SPACE
    box = TaskSpace.box(["h", "s"], [0, 0], [3, 6])
    grid = box.grid(10)
    assert len(grid) == 100 and grid[0] == {"h": 0.0, "s": 0.0} and grid[-1] == {"h": 3.0, "s": 6.0}


def test_bad_space_definitions():
    with pytest.raises(TeachBenchError):
        Dim("x", 1.0, 0.0)
    with pytest.raises(TeachBenchError):
        TaskSpace((Dim("x"), Dim("x")))
    with pytest.raises(TeachBenchError):
        Dim("x", kind="ordinal")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6),
                          st.text(max_size=3), st.none()), min_size=0, max_size=5))
def test_validate_is_clean_error_or_valid_task(values):
    try:
        task = SPACE.validate(values)
    except TeachBenchError:
        return
    assert SPACE.contains(task)
    assert all(not isinstance(v, float) or math.isfinite(v) for v in task.values())


def test_bounds_are_copies_and_discrete_rounding_is_half_to_even():
    """``low``/``high`` hand out copies of the arrays the batch conversions use (built once),
    and a discrete value rounds half to even, as ``np.rint`` does."""
    space = TaskSpace([Dim("size", 5, 15, "discrete"), Dim("w", 0.0, 0.5)])
    low = space.low
    low[0] = 99.0
    assert space.low.tolist() == [5.0, 0.0] and space.to_unit({"size": 5, "w": 0.0}).tolist() == [0.0, 0.0]
    assert [space["size"].from_number(x) for x in (5.5, 6.5, 7.49999, np.float64(8.5), 9)] == [6, 6, 7, 8, 9]
    assert space.from_unit_batch(np.array([[0.05, 0.0], [0.15, 1.0]])) == [{"size": 6, "w": 0.0}, {"size": 6, "w": 0.5}]


@pytest.mark.parametrize("height, count, expected", [
    (1.5, 3, {"height": 1.5, "count": 3}),          # float / int: the values themselves
    (1, 3.0, {"height": 1.0, "count": 3}),          # int / float: converted
    (np.float64(0.25), np.int64(9), {"height": 0.25, "count": 9}),
    (float("inf"), 3, "not finite"), (float("-inf"), 3, "not finite"), (float("nan"), 3, "not finite"),
    (3.0000001, 3, "outside"), (-0.0, 10, "outside"), (0.0, 0, "outside"), (0.0, 3.5, "not an integer"),
])
def test_validate_checks_the_usual_types_as_any_other(height, count, expected):
    """Floats on a continuous and ints on a discrete dimension take a shortcut through
    validate (no conversion): the same clean task, the same errors."""
    space = TaskSpace((Dim("height", 0.0, 3.0), Dim("count", 1, 9, "discrete")))
    if isinstance(expected, dict):
        clean = space.validate({"height": height, "count": count})
        assert clean == expected and [type(v) for v in clean.values()] == [float, int]
        return
    with pytest.raises(TeachBenchError, match=expected):
        space.validate({"height": height, "count": count})
