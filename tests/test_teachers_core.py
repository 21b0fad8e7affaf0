"""The Teacher contract: registry errors, validated samples, dropped NaN returns, state."""

import numpy as np
import pytest
import torch

from envs.errors import TeachBenchError
from envs.task_space import TaskSpace
from teachers import Episode, make_teacher

SPACE = TaskSpace.box(["a", "b"], [0.0, -1.0], [1.0, 1.0])


def test_unknown_teacher_and_parameter_are_clear_errors():
    with pytest.raises(TeachBenchError, match="teacher.name: unknown name 'nope'.*random"):
        make_teacher("nope", SPACE)
    with pytest.raises(TeachBenchError, match="teacher.colour"):
        make_teacher("random", SPACE, colour=3)


def test_random_teacher_is_uniform_and_seeded():
    t1, t2 = make_teacher("random", SPACE, seed=4), make_teacher("random", SPACE, seed=4)
    a = np.array([[*t1.sample().values()] for _ in range(4000)])
    b = np.array([[*t2.sample().values()] for _ in range(4000)])
    assert np.array_equal(a, b)
    assert abs(a[:, 0].mean() - 0.5) < 0.03 and abs(a[:, 1].mean()) < 0.05
    hist, _ = np.histogram(a[:, 0], bins=10, range=(0, 1))
    assert hist.min() > 300


def test_non_finite_returns_are_dropped_and_sampling_goes_on(caplog):
    teacher = make_teacher("random", SPACE, seed=0)
    teacher.update(Episode({"a": 0.5, "b": 0.0}, float("nan"), 10))
    teacher.update(Episode({"a": 0.5, "b": 0.0}, float("inf"), 10))
    teacher.update(Episode({"a": 0.5, "b": 0.0}, 1.0, 10))
    assert teacher.diagnostics()["dropped"] == 2 and teacher.diagnostics()["updates"] == 1
    assert "non-finite" in caplog.text
    assert SPACE.contains(teacher.sample())
    with pytest.raises(TeachBenchError, match="task.a"):
        teacher.update(Episode({"a": 5.0, "b": 0.0}, 1.0, 10))


def test_state_dict_round_trip_through_weights_only_load(tmp_path):
    teacher = make_teacher("random", SPACE, seed=7)
    for _ in range(5):
        teacher.sample()
    torch.save(teacher.state_dict(), tmp_path / "t.pt")
    clone = make_teacher("random", SPACE, seed=99)
    clone.load_state_dict(torch.load(tmp_path / "t.pt", weights_only=True))
    assert [teacher.sample() for _ in range(5)] == [clone.sample() for _ in range(5)]
