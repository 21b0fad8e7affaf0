"""PLR / PLR⊥ teacher logic with scripted episodes (no student needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs.errors import TeachBenchError
from envs.task_space import TaskSpace
from teachers.base import Episode
from teachers.plr import PLR, RobustPLR, task_key
from teachers.registry import make_teacher

SPACE = TaskSpace.box(["a", "b"], [0.0, -1.0], [1.0, 1.0])


def play(teacher: PLR, task: dict, regret: float, level_id: str | None = None, ret: float = 0.0) -> Episode:
    ep = Episode(task=dict(task), episode_return=ret, length=5, regret=regret, level_id=level_id)
    teacher.update(ep)
    return ep


def test_warm_up_respects_minimum_fill() -> None:
    t = PLR(SPACE, seed=0, buffer_size=10, min_fill=0.5, replay_prob=1.0)
    seen = []
    for k in range(5):
        assert not t.replay_ready()
        task = t.sample()
        assert not t.is_replay_task(task)  # every sample before the fill is a new level
        seen.append(task_key(task))
        play(t, task, regret=float(k))
    assert len(t.buffer) == 5 and t.replay_ready()
    for _ in range(20):  # replay_prob 1: from now on every task comes from the buffer
        task = t.sample()
        assert task_key(task) in seen and t.is_replay_task(task)
        play(t, task, regret=1.0)
    assert t.n_new == 5 and t.n_replayed == 20
    assert t.diagnostics()["replay_fraction"] == pytest.approx(20 / 25)


def test_replay_updates_score_and_new_levels_insert() -> None:
    t = PLR(SPACE, seed=1, buffer_size=4, min_fill=0.0, replay_prob=0.0)
    tasks = [t.sample() for _ in range(4)]
    for k, task in enumerate(tasks):
        play(t, task, regret=float(k))
    np.testing.assert_allclose(sorted(t.buffer.scores), [0, 1, 2, 3])
    # a new level scoring below everything is rejected, one scoring high replaces the lowest
    play(t, t.sample(), regret=-1.0)
    assert t.buffer.n_rejected == 1
    strong = t.sample()
    play(t, strong, regret=10.0)
    assert t.buffer.index_of(task_key(strong)) is not None and 0.0 not in t.buffer.scores
    # replaying a buffered level refreshes its score
    t.replay_prob = 1.0
    replayed = t.sample()
    ep = play(t, replayed, regret=-5.0)
    assert ep.extra["replay"] is True
    assert t.buffer.scores[t.buffer.index_of(task_key(replayed))] == -5.0


def test_level_ids_are_replayed_as_level_tasks() -> None:
    t = PLR(SPACE, seed=0, buffer_size=2, min_fill=1.0, replay_prob=1.0, score="maxmc")
    for k in range(2):  # a level env: a parameter task produced concrete level "L<k>"
        play(t, t.sample(), regret=-float(k), level_id=f"L{k}")
    task = t.sample()
    assert task in ({"level": "L0"}, {"level": "L1"}) and t.is_replay_task(task)
    ep = play(t, task, regret=0.5, level_id=task["level"])
    assert ep.extra["replay"] and len(t.buffer) == 2


def test_needs_regret_and_checks_arguments() -> None:
    t = RobustPLR(SPACE, seed=0)
    assert t.needs == {"regret", "robust"} and PLR.needs == {"regret"}
    with pytest.raises(TeachBenchError, match="episode.regret"):
        t.update(Episode(task=t.sample(), episode_return=0.0, length=1))
    with pytest.raises(TeachBenchError, match="prioritization"):
        PLR(SPACE, score="maxmc", prioritization="power")
    with pytest.raises(TeachBenchError, match="score"):
        PLR(SPACE, score="gae")
    with pytest.raises(TeachBenchError, match="teacher.bogus"):
        make_teacher("plr_robust", SPACE, bogus=1)


def _plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str, torch.Tensor))


@pytest.mark.parametrize("name", ["plr", "plr_robust", "accel"])
def test_seeded_and_checkpointable(name: str, tmp_path) -> None:
    def run(teacher, n):
        out = []
        for k in range(n):
            task = teacher.sample()
            out.append(task_key(task))
            play(teacher, task, regret=float((k * 7) % 5))
            if k % 4 == 3 and hasattr(teacher, "on_rollout_end"):
                teacher.on_rollout_end()
        return out

    a = make_teacher(name, SPACE, seed=3, buffer_size=6, min_fill=0.5)
    b = make_teacher(name, SPACE, seed=3, buffer_size=6, min_fill=0.5)
    assert run(a, 30) == run(b, 30)
    state = a.state_dict()
    assert _plain(state)
    torch.save(state, tmp_path / "t.pt")
    c = make_teacher(name, SPACE, seed=99, buffer_size=6, min_fill=0.5)
    c.load_state_dict(torch.load(tmp_path / "t.pt", weights_only=True))
    assert run(a, 20) == run(c, 20)
    diag = a.diagnostics()
    for key in ("replay_fraction", "score_median", "score_max", "mean_regret", "buffer_size"):
        assert key in diag
