"""UED pieces of the gridworld: ACCEL edits, the PAIRED designer env, held-out mazes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs.errors import TeachBenchError
from envs.gridworld.designer import MazeDesignerEnv, design_level
from envs.gridworld.generate import generate_level
from envs.gridworld.held_out import held_out_levels
from envs.gridworld.level import Level, add_wall, move_goal, move_start, mutate, remove_wall
from envs.gridworld.maze_env import MazeEnv
from tests.test_gridworld import optimal_actions


def test_accel_edits_are_pure_and_change_one_thing():
    rng = np.random.default_rng(0)
    base = generate_level({"size": 11, "wall_density": 0.2, "min_goal_distance": 0.3}, seed=4)
    text = base.to_string()
    added = add_wall(base, rng)
    assert len(added.walls) == len(base.walls) + 1 and set(base.walls) < set(added.walls)
    removed = remove_wall(base, rng)
    assert len(removed.walls) == len(base.walls) - 1 and set(removed.walls) < set(base.walls)
    moved = move_start(base, rng)
    assert moved.walls == base.walls and moved.goal == base.goal and moved.start != base.start
    goal = move_goal(base, rng)
    assert goal.walls == base.walls and goal.start == base.start and goal.goal != base.goal
    assert base.to_string() == text  # the parent is untouched
    # Edits never produce an invalid level, even after many of them (some unsolvable).
    lvl = base
    flags = set()
    for _ in range(300):
        lvl = mutate(lvl, rng, n_edits=4)
        flags.add(lvl.solvable)
        Level.from_string(lvl.to_string())
    assert flags == {True, False}
    full = Level(5, tuple(y * 5 + x for x in range(1, 4) for y in range(1, 4) if (x, y) not in ((1, 1), (3, 3))), (1, 1), 0, (3, 3))
    assert add_wall(full, rng) == full and move_start(full, rng) == full  # nothing free: unchanged
    with pytest.raises(TeachBenchError, match="edits"):
        mutate(base, rng, edits=["teleport"])


def test_designer_env_builds_the_level_it_reports():
    env = gym.make("TeachBench/GridworldDesigner-v0")
    assert envs.gym_id("gridworld_designer") == "TeachBench/GridworldDesigner-v0"
    check_env(env.unwrapped)
    sb3_check_env(MazeDesignerEnv())
    sb3_check_env(MazeDesignerEnv(obs_mode="dict"))
    designer = env.unwrapped
    assert designer.action_space.n == 169
    obs, _ = env.reset(seed=3)
    assert obs.shape == (3 * 225 + 1 + 50,)
    rng = np.random.default_rng(0)
    actions = [int(a) for a in rng.integers(169, size=52)]
    actions[1] = actions[0]  # start on the goal: moved to the next free cell
    actions[5] = actions[4]  # the same wall twice: placed once
    steps = 0
    noises = []
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        noises.append(obs[-50:])
        steps += 1
        assert r == 0.0 and not trunc and term == (steps == 52)
    assert obs[3 * 225] == pytest.approx(1.0)  # time step, normalised
    assert not np.allclose(noises[0], noises[1])
    level = Level.from_string(info["level"])
    assert level == design_level(15, actions, level.start_dir)
    assert info["task"] == {"level": info["level"]}
    assert info["level_stats"]["solvable"] == level.solvable
    assert level.start != level.goal and len(level.walls) <= 50
    # Planes of the observation match the level.
    planes = obs[: 3 * 225].reshape(3, 15, 15)
    assert np.array_equal(planes[0].astype(bool), level.wall_grid)
    assert planes[1][level.goal] == 1 and planes[2][level.start] == 1
    # The maze env plays the design.
    maze = MazeEnv()
    _, minfo = maze.reset(options={"level": info["level"]})
    assert maze.level == level and minfo["task"] == {"level": info["level"]}
    with pytest.raises(TeachBenchError, match="step"):
        env.step(0)
    with pytest.raises(TeachBenchError, match="action"):
        env.reset()
        env.step(169)


def test_held_out_mazes_are_named_valid_solvable_and_played_by_the_env():
    levels = held_out_levels()
    assert {"four_rooms", "corridor_long", "rings", "perfect_7", "perfect_11", "perfect_15"} <= set(levels)
    assert levels == held_out_levels()  # deterministic
    env = MazeEnv(held_out_set="teachbench")
    named = env.held_out()
    assert set(named) == set(levels)
    assert len({lvl.to_string() for lvl in levels.values()}) == len(levels)
    for name, text in named.items():
        level = Level.from_string(text)
        assert level.solvable, name
        _, info = env.reset(options={"level": text})
        actions = optimal_actions(level)
        assert len(actions) < env.max_steps, name
        for a in actions:
            _, r, term, trunc, info = env.step(a)
        assert term and info["success"] and r > 0.1, name
    # Perfect mazes: exactly one path between cells = a tree: #free cells - 1 adjacencies.
    for name in ("perfect_7", "perfect_11", "perfect_15"):
        grid = ~levels[name].wall_grid
        edges = int((grid[1:, :] & grid[:-1, :]).sum() + (grid[:, 1:] & grid[:, :-1]).sum())
        assert edges == int(grid.sum()) - 1, name
    # The full view's canvas is max_size; the partial view plays larger levels too.
    assert MazeEnv(max_size=9, view="full", held_out_set="teachbench").held_out().keys() == {"corridor_short", "perfect_7"}
    assert MazeEnv(max_size=9, held_out_set="teachbench").held_out().keys() == set(levels)


def test_lead_evaluator_plays_held_out_levels_and_test_tasks():
    """students.evaluate (the runner's evaluation) takes level tasks and parameter tasks."""
    from stable_baselines3 import PPO

    from envs.gridworld.batched import BatchedMazeVecEnv
    from students.evaluate import evaluate

    model = PPO("MlpPolicy", BatchedMazeVecEnv(2, seed=0), n_steps=16, batch_size=32, seed=0)
    env = MazeEnv(held_out_set="teachbench")
    held = [{"level": text} for text in list(env.held_out().values())[:3]]
    tasks = held + env.test_tasks()[:3]
    records = evaluate(model, "gridworld", tasks, n_envs=3, env_kwargs={"max_steps": 30})
    assert [r.task_index for r in records] == list(range(6))
    assert [r.task for r in records[:3]] == held and [r.task for r in records[3:]] == tasks[3:]
    assert all(r.length <= 30 and r.mastered == r.success for r in records)


# -- the UED presets, end to end at a smoke budget ------------------------------------------
from pathlib import Path  # noqa: E402

from omegaconf import OmegaConf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _maze_preset(path: Path) -> bool:
    """A UED preset on one of the maze envs (the walker's, ued_walker_dcd, has its own smoke runs in
    tests/test_ued_walker_dcd.py: these overrides are the maze's)."""
    defaults = OmegaConf.to_container(OmegaConf.load(path)).get("defaults") or []  # type: ignore[union-attr]
    return any(str(d.get("override /env", "")).startswith("gridworld") for d in defaults if isinstance(d, dict))


UED_PRESETS = sorted(p.stem for p in (ROOT / "configs" / "experiment").glob("ued_*.yaml") if _maze_preset(p))
SMOKE = ["budget.steps=4096", "eval.every=1000000", "checkpoint.every=1000000", "log.diagnostics_every=512",
         "env.kwargs.max_steps=24", "+env.kwargs.n_test_tasks=4", "eval.held_out_episodes=1",
         "++ued.buffer_size=8", "student.params.n_steps=32", "log.progress_bar=false"]


# PAIRED's adversary at dcd's size (128 conv filters, LSTM 256, 32 designs per update) is a
# GPU network: one update takes minutes on a CPU core. The smoke runs use a small one.
SMALL_ADVERSARY = ["++teacher.params.batch_size=4", "++teacher.params.n_walls=10",
                   "++teacher.params.conv_filters=4", "++teacher.params.lstm_hidden=16"]


def _preset_runs() -> list[tuple[str, str]]:
    runs = []
    for preset in UED_PRESETS:
        teachers = str(OmegaConf.load(ROOT / "configs" / "experiment" / f"{preset}.yaml").hydra.sweeper.params.teacher)
        runs += [(preset, t.strip()) for t in teachers.split(",")]
    return runs


def test_the_smoke_runs_cover_every_maze_preset_and_only_those():
    """A filter that matched nothing would leave the smoke test below with no case (skipped, not failed)."""
    assert UED_PRESETS == ["ued_gridworld", "ued_maze_dcd", "ued_maze_dcd25", "ued_maze_paired_dcd", "ued_maze_paired_dcd25"]
    assert len(_preset_runs()) == 15


@pytest.mark.parametrize(("preset", "teacher"), _preset_runs())
def test_every_ued_preset_runs_end_to_end_at_a_smoke_budget(compose, preset: str, teacher: str) -> None:
    from experiments.running.run import run, run_dir_for

    cfg = compose(f"experiment={preset}", f"teacher={teacher}", *SMOKE, *(SMALL_ADVERSARY if teacher == "paired" else []))
    summary = run(cfg)
    assert summary["state"] == "finished" and summary["steps"] >= 4096
    if cfg.env.kwargs.get("held_out_set", "literature") == "literature":
        assert len(summary["held_out_solved"]) == 13  # the literature's mazes
    diag = summary["teacher_diagnostics"]
    if teacher in ("plr_robust", "accel"):
        assert diag["replayed"] > 0 and diag["gradient_updates"] == diag["train_gradient_updates"]
        episodes = run_dir_for(cfg).read("episodes")
        assert "extra.gradient_updates" in episodes and "extra.handout" in episodes
    if teacher == "accel":
        assert diag["children_made"] > 0


@pytest.mark.parametrize("teacher", ["paired", "clutr"])
def test_antagonist_teachers_run_on_the_batched_env(compose, teacher: str) -> None:
    """The antagonist's env used to be cloned from the sub-envs' gym specs, None there."""
    from experiments.running.run import run

    cfg = compose("env=gridworld_batched", f"teacher={teacher}", "budget.steps=2048", "eval.every=1000000",
                  "checkpoint.every=1000000", "env.kwargs.max_steps=24", "+env.kwargs.n_test_tasks=4",
                  "eval.held_out=false", "log.progress_bar=false", *(SMALL_ADVERSARY if teacher == "paired" else []))
    assert run(cfg)["steps"] >= 2048


def test_maxmc_with_reward_normalisation_is_refused(compose) -> None:
    from experiments.running.run import run

    cfg = compose("env=gridworld", "teacher=plr_robust", "teacher.params.score=maxmc", "env.normalize=true",
                  "budget.steps=1024", "eval.held_out=false", "log.progress_bar=false")
    with pytest.raises(TeachBenchError, match="env.normalize"):
        run(cfg)


def test_a_run_that_would_never_replay_is_warned_about() -> None:
    from students.regret import replay_budget_warning
    from teachers.plr import RobustPLR

    space = MazeEnv().task_space
    assert replay_budget_warning(RobustPLR(space, buffer_size=4000, min_fill=0.5), 20_000, 250) is not None
    assert replay_budget_warning(RobustPLR(space, buffer_size=1000, min_fill=0.5), 1_000_000, 250) is None


def test_dcd_domain_randomization_levels() -> None:
    """dcd's DR: a uniformly random designer places n walls on uniform cells (a wall on a
    wall does nothing), then the goal, then the agent (each clearing its cell). The mean
    wall count is a fact of that rule: E = 169·(1 − (168/169)^n) walls placed, each of the
    goal's and the agent's cells then clearing one with probability (walls / 169)."""
    from envs.gridworld.batched import BatchedMazeVecEnv
    from envs.gridworld.generate import generate_blocks_level

    levels = [generate_blocks_level({"n_blocks": 25}, seed) for seed in range(2000)]
    placed = 169 * (1 - (168 / 169) ** 25)
    expected = placed * (1 - 1 / 169) ** 2  # the goal's, then the agent's, cell clears a wall w.p. walls/169
    assert np.mean([len(lvl.walls) for lvl in levels]) == pytest.approx(expected, abs=0.15)
    assert all(lvl.size == 15 and len(lvl.walls) <= 25 and lvl.start != lvl.goal for lvl in levels)
    assert {lvl.start_dir for lvl in levels} == {0, 1, 2, 3}
    assert not all(lvl.solvable for lvl in levels)  # unsolvable levels are kept
    empty = [generate_blocks_level({"n_blocks": 0}, seed) for seed in range(50)]
    assert all(not lvl.walls for lvl in empty) and len({lvl.goal for lvl in empty}) > 20  # ACCEL's empty rooms
    env = MazeEnv(generator="dcd", blocks=[0, 59])
    assert env.task_space.names == ["n_blocks"] and env.task_space["n_blocks"].high == 59
    assert env.default_task() == {"n_blocks": 0}
    _, info = env.reset(seed=3, options={"task": {"n_blocks": 30}})
    assert 25 <= info["level_stats"]["n_walls"] <= 30
    # the batched env draws the same level for the same task and seed
    vec = BatchedMazeVecEnv(1, seed=3, generator="dcd", blocks=[0, 59])
    vec.env_method("set_next_task", {"n_blocks": 30}, indices=[0])
    vec.reset()
    assert vec.levels[0] == env.level
    with pytest.raises(TeachBenchError, match="blocks"):
        MazeEnv(generator="dcd", blocks=[0, 200])
    with pytest.raises(TeachBenchError, match="generator"):
        MazeEnv(generator="paired")


def test_plr_robust_curves_against_gradient_updates(compose) -> None:
    """dcd reports PLR⊥ per student gradient update: a run's evaluations can be read on that
    axis. PLR⊥ trains only on replays, so at an equal env step it has taken no more gradient
    updates than rollouts, and fewer once new levels are being scored without training."""
    from experiments.reporting import analysis as A
    from experiments.running.run import run, run_dir_for

    cfg = compose("experiment=ued_gridworld", "teacher=plr_robust", *SMOKE, "eval.every=1024", "log.diagnostics_every=256")
    summary = run(cfg)
    runs = A.load_runs(run_dir_for(cfg).path.parent)
    curves = A.with_gradient_updates(A.mastery_curves(A.load_evaluations(runs)), A.load_teacher_diagnostics(runs))
    rollouts = curves["step"] / (cfg.env.n_envs * cfg.student.params.n_steps)
    assert curves["gradient_updates"].notna().all() and (curves["gradient_updates"] <= rollouts + 1e-9).all()
    assert curves["gradient_updates"].is_monotonic_increasing
    assert curves["gradient_updates"].iloc[-1] <= summary["teacher_diagnostics"]["gradient_updates"]
    bands = A.learning_curves(curves, x="gradient_updates", points=5)
    assert len(bands) == 5 and bands["step"].max() == curves["gradient_updates"].max()


def test_ued_maze_dcd_student_is_dcds_60_block_student(compose) -> None:
    """dcd's train_scripts/grid_configs/minigrid/60_blocks_uniform/mg_60b_uni_{dr,robust_plr}.json
    and mg_60b_uni_accel_empty.json: 32 processes x 256 steps, 5 PPO epochs, 1 minibatch,
    lr 1e-4, gamma 0.995, entropy_coef 0.0, LSTM 256, PLR buffer 4000 at replay p 0.5 with
    rank temperature 0.3 and staleness 0.3 (buffer scaled to the budget here: 2000 at 1M)."""
    for teacher in ("random", "plr_robust", "accel"):
        cfg = compose("experiment=ued_maze_dcd", f"teacher={teacher}")
        p = cfg.student.params
        assert cfg.student.algo == "recurrent_ppo" and cfg.env.n_envs == 32
        assert (p.n_steps, p.n_epochs, p.batch_size, p.learning_rate, p.gamma, p.ent_coef) == (256, 5, None, 1e-4,
                                                                                              0.995, 0.0)
        assert (cfg.ued.replay_prob, cfg.ued.temperature, cfg.ued.staleness_coef) == (0.5, 0.3, 0.3)
    # the 25-block (PLR⊥ paper) configs keep entropy 0.01 for DR and robust PLR
    assert compose("experiment=ued_maze_dcd25", "teacher=plr_robust").student.params.ent_coef == 0.01
