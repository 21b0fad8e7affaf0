"""ACCEL as dcd runs it on mazes: its editor, its "easy" parents, its replay schedule, and
replay labels that never let a child or a new level be trained on.

Reference facts (facebookresearch/dcd, envs/multigrid/adversarial.py ``mutate_level`` and
envs/runners/adversarial_runner.py; docs/references.md#accel): from an
empty 15x15 maze, 60 rounds of 5 edits end near 47 walls. The test checks that figure
against a small re-implementation of dcd's rule written here on plain Python sets.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from envs.errors import TeachBenchError
from envs.gridworld.level import Level, dcd_edit
from envs.task_space import Dim, TaskSpace
from teachers.accel import ACCEL, select_easy
from teachers.base import Episode

REFERENCE_WALLS = 47.0  # docs/references.md#accel: 60 rounds x 5 edits from an empty 15x15 maze


def dcd_rule_walls(seed: int, rounds: int = 60, n_edits: int = 5, n: int = 13) -> int:
    """dcd's mutate_level with walls_none_goal, on a set of wall cells (0..n*n-1)."""
    rng = random.Random(seed)
    walls: set[int] = set()
    agent, goal = 0, n * n - 1
    for _ in range(rounds):
        locs = list({rng.randrange(n * n) for _ in range(n_edits)})
        free = {c for c in range(n * n) if c not in walls} - {agent, goal}
        goal_now: int | None = goal
        agent_now: int | None = agent
        for loc in locs:
            walls.discard(loc)
            if loc == goal_now:
                goal_now = None
            elif loc == agent_now:
                agent_now = None
            what = rng.choice(("-", ".", "g"))
            if what == "-":
                walls.add(loc)
                free.discard(loc)
            elif what == ".":
                free.add(loc)
            else:
                if goal_now is not None:
                    free.add(goal_now)
                goal_now = loc
                free.discard(loc)
        if goal_now is None:
            goal_now = rng.choice(sorted(free))
            free.discard(goal_now)
        if agent_now is None:
            agent_now = rng.choice(sorted(free))
        agent, goal = agent_now, goal_now
    return len(walls)


def test_dcd_editor_drifts_the_wall_count_to_the_reference() -> None:
    reference = np.mean([dcd_rule_walls(s) for s in range(150)])
    assert abs(reference - REFERENCE_WALLS) <= 0.1 * REFERENCE_WALLS
    ours = []
    for seed in range(150):
        rng = np.random.default_rng(seed)
        level = Level(15, (), (1, 1), 0, (13, 13))
        for _ in range(60):
            level = dcd_edit(level, rng, 5)
        ours.append(len(level.walls))
    assert abs(np.mean(ours) - REFERENCE_WALLS) <= 0.1 * REFERENCE_WALLS
    assert abs(np.mean(ours) - reference) <= 0.1 * reference


def test_dcd_editor_semantics() -> None:
    rng = np.random.default_rng(0)
    level = Level(15, (), (1, 1), 0, (13, 13))
    for _ in range(300):
        child = dcd_edit(level, rng, 5)
        changed = np.argwhere(child.wall_grid != level.wall_grid)
        assert len(changed) <= 5  # at most n cells (duplicates merged)
        if child.start != level.start:  # the agent only moves when its own cell was edited
            assert child.start_dir == 0  # dcd places a moved agent facing right
        assert child.start != child.goal
        level = child
    assert not all(dcd_edit(level, np.random.default_rng(s), 5).solvable for s in range(200))  # unsolvable kept
    with pytest.raises(TeachBenchError, match="edit_actions"):
        dcd_edit(level, rng, 5, actions=("wall", "lava"))
    # with the agent entity too (dcd's walls_none_agent_goal), the agent moves
    moved = {dcd_edit(Level(5, (), (1, 1), 2, (3, 3)), np.random.default_rng(s), 9,
                      actions=("agent",)).start for s in range(20)}
    assert len(moved) > 1


def test_easy_parents_are_the_four_lowest_tiled_to_the_batch() -> None:
    # easiness = mean return - clip(mean |GAE|): dcd's argsort(...)[:4], tiled num_processes // 4 times
    tasks = [{"id": i} for i in range(9)]
    easiness = np.array([0.5, -0.2, 0.9, 0.1, -0.7, 0.3, 0.0, 0.8, 0.4])
    assert select_easy(easiness, tasks) == [{"id": 4}, {"id": 1}, {"id": 6}, {"id": 3}] * 2
    # fewer than 4 levels: dcd's argmax branch
    assert select_easy(np.array([0.1, 0.7, 0.2]), tasks[:3]) == [{"id": 1}] * 3
    t = ACCEL(TaskSpace((Dim("x", 0.0, 1.0),)), seed=0, base_levels="easy")
    # a batch's replayed episodes: (level, return, mean |GAE|, steps)
    batch = [("a", 1.0, 0.5, 10), ("b", 0.2, 0.1, 5), ("a", 0.0, 2.0, 30), ("c", 0.9, 0.4, 8),
             ("d", 0.3, 0.9, 8), ("e", 0.6, 0.0, 8)]
    t._batch_keys = [k for k, *_ in batch]
    t._batch_tasks = [{"level": k} for k, *_ in batch]
    t._batch_stats = [(r, g, n) for _, r, g, n in batch]
    # a: 0.5 - clip((0.5*10 + 2.0*30)/40 = 1.625) = -0.5; b: 0.1; c: 0.5; d: -0.6; e: 0.6
    assert t.parents() == [{"level": k} for k in ("d", "a", "b", "c")]  # 5 levels // 4 = 1 copy each
    t.base_levels = "batch"
    assert t.parents() == [{"level": k} for k in ("a", "b", "c", "d", "e")]


def test_proportionate_schedule_replays_with_min_fill_and_p() -> None:
    space = TaskSpace((Dim("x", 0.0, 1.0),))
    t = ACCEL(space, seed=1, buffer_size=10, min_fill=0.5, replay_prob=0.8, replay_schedule="proportionate")
    for k in range(4):
        t.update(Episode(task=t.sample(), episode_return=0.0, length=1, regret=float(k)))
    assert t.current_replay_prob() == 0.0  # fill 0.4 < min_fill
    t.update(Episode(task=t.sample(), episode_return=0.0, length=1, regret=9.0))
    for _ in range(1):
        t.update(Episode(task=t.sample(), episode_return=0.0, length=1, regret=9.0))
    fill = t.buffer.fill
    assert fill >= 0.5 and t.current_replay_prob() == pytest.approx(min(fill, 0.8))
    fixed = ACCEL(space, seed=1, buffer_size=10, min_fill=0.5, replay_prob=0.8, replay_schedule="fixed")
    for k in range(6):
        fixed.update(Episode(task=fixed.sample(), episode_return=0.0, length=1, regret=float(k)))
    assert fixed.current_replay_prob() == 0.8
    with pytest.raises(TeachBenchError, match="replay_schedule"):
        ACCEL(space, replay_schedule="linear")


def test_a_child_equal_to_a_replayed_level_is_not_labelled_replay() -> None:
    """The bug this fixes: labels by level string called such a child a replay."""
    space = TaskSpace((Dim("x", 0.0, 1.0),))
    t = ACCEL(space, seed=0, buffer_size=2, min_fill=1.0, replay_prob=1.0, param_step=1e-9)
    for k in range(2):
        t.update(Episode(task=t.sample(), episode_return=0.0, length=1, regret=float(k)))
    replay = t.sample()
    replay_token = t.handout_token()
    t._children.append(dict(replay))  # a child identical to the level being replayed
    child = t.sample()
    child_token = t.handout_token()
    assert child == replay and t.is_replay_task(child)  # the string cannot tell them apart
    assert t.is_replay_token(replay_token) and not t.is_replay_token(child_token)
    ep = Episode(task=child, episode_return=0.0, length=1, regret=1.0, extra={"handout": child_token})
    t.update(ep)
    assert ep.extra["replay"] is False and ep.extra["handout_kind"] == "child"
    ep = Episode(task=replay, episode_return=0.0, length=1, regret=1.0, extra={"handout": replay_token})
    t.update(ep)
    assert ep.extra["replay"] is True


@pytest.mark.parametrize(("name", "kind"), [("plr_robust", "batched"), ("accel", "batched"), ("accel", "dummy")])
def test_no_transition_of_a_new_level_or_child_is_trained_on(name: str, kind: str) -> None:
    """End to end on the batched maze: every episode's transitions are masked for training
    exactly when its hand-out was a replay (mask vs label, every episode)."""
    from stable_baselines3 import PPO

    from students.bridge import Curriculum, CurriculumCallback
    from students.regret import attach_teacher_needs
    from teachers.registry import make_teacher

    from students.vec import make_vec_env

    kwargs = {"generator": "dcd", "blocks": [0, 20], "max_steps": 12}
    vec = make_vec_env("gridworld", kwargs, 16, kind, seed=0)  # batched, or MiniGrid envs in a DummyVecEnv
    params = dict(buffer_size=16, min_fill=0.5, replay_prob=0.8, replay_schedule="proportionate")
    if name == "accel":
        params.update(base_levels="easy", new_levels={"n_blocks": 0})
    teacher = make_teacher(name, vec.get_attr("task_space", indices=[0])[0], seed=0, **params)
    episodes: list[Episode] = []
    curriculum = Curriculum(teacher, vec, sinks=[episodes.append])
    curriculum.prime()
    callback = CurriculumCallback(curriculum)
    model = PPO("MlpPolicy", vec, n_steps=16, batch_size=64, n_epochs=1, seed=0)
    att = attach_teacher_needs(teacher, model, curriculum, callback)
    att.mask.keep_log = True
    model.learn(total_timesteps=16 * 16 * 8, callback=callback)
    kinds = {ep.extra["handout"]: ep.extra.get("handout_kind") for ep in episodes}
    assert len(att.mask.log) >= len(episodes) > 100
    checked = {"replay": 0, "new": 0, "child": 0}
    for _env, token, masked, steps in att.mask.log:
        if token not in kinds:  # finished in the last rollout, not yet delivered
            continue
        kind = kinds[token]
        checked[kind] += 1
        assert masked == (steps if kind == "replay" else 0), (kind, masked, steps)
    assert checked["replay"] > 0 and checked["new"] > 0
    if name == "accel":
        assert checked["child"] > 0 and teacher.n_children_made > 0
        # ACCEL starts from empty rooms: every new (non-child) level has no wall
        news = [ep for ep in episodes if ep.extra.get("handout_kind") == "new"]
        assert news and all(ep.task == {"n_blocks": 0} for ep in news)
    # what the update consumed is exactly the labelled transitions (finished + running episodes)
    labelled = sum(m for *_, m, _ in att.mask.log) + int(att.mask.episode_counts[:, 0].sum())
    assert att.stats["trained_transitions"] == labelled < att.stats["env_steps"]
    assert teacher.diagnostics()["train_gradient_updates"] == att.stats["gradient_updates"] > 0
