"""ACCEL: parents across the whole batch, edits of parameter vectors and gridworld levels."""

from __future__ import annotations

import numpy as np
import pytest

from envs.errors import TeachBenchError
from envs.task_space import Dim, TaskSpace
from teachers.accel import ACCEL, select_parents
from teachers.base import Episode
from teachers.plr import task_key

SPACE = TaskSpace((Dim("x", 0.0, 1.0), Dim("n", 0, 4, "discrete"), Dim("y", -2.0, 2.0)))


def test_parents_are_the_best_of_the_whole_batch() -> None:
    # a (2 envs x 3 episodes) batch whose best levels sit in the second row: an argsort on
    # the unflattened array would pick from the first row only (the reference bug)
    scores = np.array([[0.1, 0.3, 0.2], [0.9, 0.0, 0.8]])
    tasks = [{"id": i} for i in range(6)]
    assert select_parents(scores, tasks, 2) == [{"id": 3}, {"id": 5}]
    assert select_parents(scores, tasks, None) == [tasks[i] for i in (3, 5, 1, 2, 0, 4)]
    with pytest.raises(TeachBenchError):
        select_parents(scores, tasks[:5], 2)


def test_param_mutation_moves_one_parameter_by_a_small_step() -> None:
    t = ACCEL(SPACE, seed=0, param_step=0.05)
    rng_task = SPACE.sample(np.random.default_rng(1))
    for _ in range(50):
        child = t.mutate(rng_task)
        d = SPACE.to_unit(child) - SPACE.to_unit(rng_task)
        moved = np.flatnonzero(np.abs(d) > 1e-12)
        assert len(moved) <= 1
        if len(moved):
            k = int(moved[0])
            step = 0.25 if SPACE.dims[k].kind == "discrete" else 0.05  # at least one integer step
            assert abs(d[k]) <= step + 1e-9
        assert SPACE.contains(child)


def test_replayed_levels_are_edited_and_children_played_next() -> None:
    t = ACCEL(SPACE, seed=0, buffer_size=4, min_fill=1.0, replay_prob=1.0, n_parents=1)
    for k in range(4):
        t.update(Episode(task=t.sample(), episode_return=0.0, length=1, regret=float(k)))
    replays = [t.sample() for _ in range(3)]
    assert all(t.is_replay_task(r) for r in replays)
    for r, score in zip(replays, (0.2, 5.0, 0.1)):
        t.update(Episode(task=r, episode_return=0.0, length=1, regret=score))
    t.on_rollout_end()
    assert t.n_children_made == 1
    child = t.sample()  # the child of the best replayed level comes first, as a new level
    assert not t.is_replay_task(child)
    parent = SPACE.to_unit(replays[1])
    assert np.count_nonzero(np.abs(SPACE.to_unit(child) - parent) > 1e-12) <= 1
    t.update(Episode(task=child, episode_return=0.0, length=1, regret=9.0))
    assert t.buffer.index_of(task_key(child)) is not None  # inserted by score


def test_level_tasks_use_the_injected_gridworld_editor() -> None:
    from envs.gridworld import maze_task_space
    from envs.gridworld.level import Level
    from students.regret import gridworld_level_editor

    t = ACCEL(maze_task_space(), seed=0, n_edits=3)
    level = Level(9, (), (1, 1), 0, (7, 7)).to_string()
    with pytest.raises(TeachBenchError, match="level_editor"):
        t.mutate({"level": level})
    t.level_editor = gridworld_level_editor
    children = {t.mutate({"level": level})["level"] for _ in range(10)}
    assert level not in children or len(children) > 1
    for c in children:
        Level.from_string(c)  # valid level strings


def test_maze_edits_run_without_box2d() -> None:
    """ACCEL's level editor dispatches a maze level without importing the walker package:
    the GPU machine's maze runs have no Box2D (its bench crashed on the first edit before)."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; sys.modules['Box2D'] = None\n"  # any `import Box2D` now fails
            "import numpy as np\n"
            "from envs.gridworld.level import Level\n"
            "from students.regret import level_editor\n"
            "parent = Level.from_ascii(['#####', '#>..#', '#...#', '#..G#', '#####']).to_string()\n"
            "child = level_editor(parent, np.random.default_rng(0), 5)\n"
            "assert child.startswith('m1:') and 'envs.walker' not in sys.modules\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]
