"""PAIRED as published on the maze: the designer env, the recurrent adversary, the regret
game between protagonist and antagonist, and an end-to-end run on gridworld_small.

Facts checked against the reference (dcd, docs/references.md), not against our own output:
169 interior cells on a 15×15 maze, 52 placements (goal, agent, 50 walls), a wall on an
occupied cell does nothing, designs may be unsolvable, regret = max antagonist return −
mean protagonist return clipped at 0, and every level is played by both students.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from envs.errors import TeachBenchError
from envs.gridworld.designer import MazeDesignerEnv, design_level
from envs.gridworld.generate import maze_task_space
from envs.gridworld.level import Level
from teachers.base import Episode
from teachers.paired import PAIRED, level_regret
from teachers.registry import make_teacher

from tests._scripted_designer import ScriptedDesigner as _ScriptedDesigner

SMALL = {"conv_filters": 4, "lstm_hidden": 16, "head_hidden": 8, "time_embed": 4}


def test_designer_matches_paired_maze_generator_facts():
    env = MazeDesignerEnv(obs_mode="dict")
    assert env.action_space.n == 13 * 13 and env.horizon == 50 + 2  # goal, agent, 50 walls
    obs, _ = env.reset(seed=0)
    assert obs["noise"].shape == (50,) and obs["image"].shape == (3, 15, 15) and obs["time_step"][0] == 0
    # goal at cell 0 = (1, 1), agent at cell 14 = (2, 2); walls on the goal and the agent do nothing
    placements = [0, 14, 0, 14, 1] + [1] * 47
    for t, a in enumerate(placements):
        obs, _, done, _, info = env.step(a)
        assert obs["time_step"][0] == t + 1  # dcd observes the raw placement count
    level = Level.from_string(info["level"])
    assert done and level.goal == (1, 1) and level.start == (2, 2) and level.walls == (1 * 15 + 2,)


def test_designer_can_produce_unsolvable_levels():
    # The goal in the corner (1, 1), walls on both of its neighbours (2, 1) and (1, 2): the
    # designer accepts it and reports it unsolvable (PAIRED never repairs a design).
    level = design_level(15, [0, 168, 1, 13])
    assert not level.solvable
    env = MazeDesignerEnv(n_walls=2)
    env.reset(seed=1)
    for a in (0, 168, 1, 13):
        _, _, done, _, info = env.step(a)
    assert done and info["level_stats"]["solvable"] is False


def test_regret_formula_on_a_worked_case():
    # antagonist returns 0.2, 0.9 (max 0.9); protagonist 0.5, 0.1, 0.3 (mean 0.3): regret 0.6
    assert level_regret([0.5, 0.1, 0.3], [0.2, 0.9]) == pytest.approx(0.6)
    # the protagonist better than the antagonist's best: clipped at 0
    assert level_regret([0.8, 0.8], [0.1, 0.5]) == 0.0
    with pytest.raises(TeachBenchError):
        level_regret([], [0.1])


def _episode(task, ret, i):
    return Episode(task=dict(task), episode_return=ret, length=10, episode_id=i)


def test_both_students_play_every_level_at_least_twice_and_regret_reaches_the_adversary():
    space = maze_task_space(max_size=9)
    a = Level(9, (), (1, 1), 0, (7, 7)).to_string()
    b = Level(9, (10,), (2, 2), 0, (5, 5)).to_string()
    teacher = PAIRED(space, seed=0, episodes_per_level=2, batch_size=2)
    assert teacher.size == 9 and teacher.needs == {"antagonist", "adversary"}
    designer = _ScriptedDesigner([a, b])
    teacher.attach_adversary(designer)
    view = teacher.antagonist_view()
    prot_returns = {a: [0.5, 0.1], b: [0.9, 0.9]}
    ant_returns = {a: [0.2, 0.7], b: [0.3, 0.4]}
    played = {"prot": [], "ant": []}
    for i in range(4):  # the protagonist's first four tasks: both levels, twice each
        task = teacher.sample()
        played["prot"].append(task["level"])
        teacher.update(_episode(task, prot_returns[task["level"]].pop(0), i))
    assert sorted(played["prot"]) == sorted([a, a, b, b])
    assert teacher.owed_antagonist_episodes() == 4  # the antagonist owes two episodes per level
    for i in range(4):
        task = view.sample()
        played["ant"].append(task["level"])
        view.update(_episode(task, ant_returns[task["level"]].pop(0), 100 + i))
    assert sorted(played["ant"]) == sorted([a, a, b, b])
    # regret(a) = 0.7 - 0.3 = 0.4; regret(b) = max(0.4 - 0.9, 0) = 0
    assert designer.learned == [(0, [pytest.approx(0.4), 0.0])]


def test_a_lagging_antagonist_never_stalls_the_protagonist():
    space = maze_task_space(max_size=9)
    a = Level(9, (), (1, 1), 0, (7, 7)).to_string()
    teacher = PAIRED(space, seed=0, episodes_per_level=2, batch_size=1, max_pending=1)
    designer = _ScriptedDesigner([a])
    teacher.attach_adversary(designer)
    tasks = [teacher.sample() for _ in range(6)]  # the batch is open: extra episodes on its level
    assert all(t == {"level": a} for t in tasks) and teacher.n_extra_protagonist == 4
    view = teacher.antagonist_view()
    for i, t in enumerate(tasks[:2]):
        teacher.update(_episode(t, 0.0, i))
    for i in range(2):
        view.update(_episode(view.sample(), 1.0, 10 + i))
    assert designer.learned == [(0, [1.0])]


def test_paired_rejects_parameter_vector_envs():
    from envs.task_space import TaskSpace

    with pytest.raises(TeachBenchError, match="paired_param"):
        make_teacher("paired", TaskSpace.box(["a"], [0.0], [1.0]))


def test_adversary_takes_ppo_steps_on_the_regret_it_is_given():
    from students.paired_adversary import PairedAdversary

    adv = PairedAdversary(size=7, n_walls=6, batch_size=4, seed=0, **SMALL)
    batch, levels, stats = adv.design()
    assert len(levels) == 4 and all(Level.from_string(t).size == 7 for t in levels)
    assert [s["solvable"] for s in stats] == [Level.from_string(t).solvable for t in levels]
    buffer = adv._pending[batch]
    before = adv.parameters_vector().clone()
    regrets = [0.5, 0.0, 0.25, 1.0]
    assert adv.learn(batch, regrets)
    # the reward the PPO update saw: the regret at the design's last step, zero before it
    assert np.allclose(buffer.rewards[-1], regrets) and not buffer.rewards[:-1].any()
    assert not torch_equal(before, adv.parameters_vector())
    assert adv.n_updates == 1 and adv.learn(batch, regrets) is False  # a batch trains once


def torch_equal(a, b) -> bool:
    return bool((a == b).all())


def test_adversary_state_round_trips_without_pickle():
    import io

    import torch

    from students.paired_adversary import PairedAdversary

    adv = PairedAdversary(size=7, n_walls=6, batch_size=2, seed=1, **SMALL)
    batch, _, _ = adv.design()
    adv.learn(batch, [0.3, 0.1])
    buf = io.BytesIO()
    torch.save(adv.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    other = PairedAdversary(size=7, n_walls=6, batch_size=2, seed=2, **SMALL)
    other.load_state_dict(state)
    assert torch_equal(adv.parameters_vector(), other.parameters_vector()) and other.n_updates == 1


def test_paired_end_to_end_on_gridworld_small(compose):
    from experiments.running.run import run, run_dir_for
    from experiments.tables import read_table

    params = [f"++teacher.params.{k}={v}" for k, v in {**SMALL, "batch_size": 4, "n_walls": 10}.items()]
    cfg = compose("env=gridworld_small", "teacher=paired", "name=paired_smoke", "budget.steps=2048",
                  "eval.every=1024", "checkpoint.every=1024", "env.kwargs.max_steps=40", "+env.kwargs.n_test_tasks=6", "eval.held_out=false", *params)
    summary = run(cfg)
    rd = run_dir_for(cfg)
    diag = read_table(rd.path / "teacher")
    assert summary["steps"] >= 2048
    assert diag["adversary_updates"].max() >= 1  # regrets came back and the adversary learned
    episodes = read_table(rd.path / "episodes")
    assert episodes["task.level"].notna().all()  # the protagonist only played designed levels
    assert json.loads((rd.path / "summary.json").read_text())["teacher"] == "paired"
