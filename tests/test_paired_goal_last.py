"""dcd's "25 blocks" PAIRED: the goal-last designer and experiment=ued_maze_paired_dcd25.

Facts of the reference (facebookresearch/dcd, docs/references.md#dcd), worked out by hand
from ``envs/multigrid/adversarial.py`` and ``train_scripts/grid_configs/minigrid/25_blocks``:

- ``GoalLastFewerBlocksAdversarialEnv`` = ``AdversarialEnv(choose_goal_last=True,
  n_clutter=25, max_steps=250)`` on a 15x15 grid: ``adversary_max_steps = n_clutter + 2``
  = 27 placements over 13 x 13 = 169 cells, numbered left to right, top to bottom
  (``x = loc % 13 + 1``, ``y = loc // 13 + 1``).
- ``step_adversary`` with ``choose_goal_last``: steps 0..24 are walls (``if
  self.grid.get(x, y) is None``: a wall on a wall does nothing), step 25 the goal
  (``remove_wall`` first), step 26 the agent (``remove_wall`` first; on the goal's cell
  it is placed at a random free cell instead). ``time_step`` is the count of placements
  made (0 after reset, 27 at the end); its observation space's high is 27.
- mg_25b_paired.json: PAIRED with entropy_coef 0.0 and adv_entropy_coef 0.0, a recurrent
  adversary; mg_25b_dr.json: entropy_coef 0.01. Both: 32 processes x 256 steps, 5 PPO
  epochs, 1 minibatch, lr 1e-4, gamma 0.995, LSTM 256.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from envs.errors import TeachBenchError
from envs.gridworld.designer import MazeDesignerEnv, design_level
from envs.gridworld.generate import blocks_task_space, generate_blocks_level, maze_task_space
from envs.gridworld.level import Level
from teachers.paired import PAIRED

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"conv_filters": 4, "lstm_hidden": 16, "head_hidden": 8, "time_embed": 4}


def _flat(x: int, y: int) -> int:
    return y * 15 + x


# 25 wall placements: cells 0..11 = (1..12, 1), cell 5 = (6, 1) again (does nothing), cells
# 13..24 = (1..12, 2); then the goal on cell 3 = (4, 1) (a wall: removed) and the agent on
# cell 20 = (8, 2) (a wall: removed). dcd's grid: 24 walls placed, minus those two = 22.
WALLS = list(range(12)) + [5] + list(range(13, 25))
GOAL, AGENT = 3, 20
DCD_WALLS = sorted(({_flat(x, 1) for x in range(1, 13)} | {_flat(x, 2) for x in range(1, 13)})
                   - {_flat(4, 1), _flat(8, 2)})


def test_goal_last_design_is_dcds_step_adversary():
    assert len(WALLS) == 25
    level = design_level(15, WALLS + [GOAL, AGENT], goal_last=True)
    assert level.goal == (4, 1) and level.start == (8, 2)
    assert list(level.walls) == DCD_WALLS and len(level.walls) == 22


def test_goal_last_env_observes_what_dcds_adversary_observes():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    for mode in ("flat", "dict"):
        check_env(MazeDesignerEnv(n_walls=25, obs_mode=mode, goal_last=True), skip_render_check=True)
        sb3_check_env(MazeDesignerEnv(n_walls=25, obs_mode=mode, goal_last=True), warn=False)
    env = MazeDesignerEnv(n_walls=25, obs_mode="dict", goal_last=True)
    assert env.action_space.n == 169 and env.horizon == 27
    assert env.observation_space["time_step"].high[0] == 27
    obs, info = env.reset(seed=0)
    assert obs["time_step"][0] == 0 and info["time_step"] == 0
    for t, a in enumerate(WALLS):
        obs, _, done, _, _ = env.step(a)
        assert obs["time_step"][0] == t + 1 and not done
    # 24 distinct walls so far (the repeat did nothing), no goal, no agent yet
    assert obs["image"][0, 1:-1, 1:-1].sum() == 24 and obs["image"][1:].sum() == 0
    with pytest.raises(TeachBenchError, match="goal and the start"):
        env.level()
    obs, _, done, _, _ = env.step(GOAL)
    assert obs["time_step"][0] == 26 and not done
    assert obs["image"][1, 4, 1] == 1 and obs["image"][0, 4, 1] == 0  # the goal cleared its wall ([x, y])
    obs, _, done, _, info = env.step(AGENT)
    assert done and obs["time_step"][0] == 27
    assert obs["image"][2, 8, 2] == 1 and obs["image"][0, 8, 2] == 0  # so did the agent
    assert obs["image"][0, 1:-1, 1:-1].sum() == 22
    level = Level.from_string(info["level"])
    assert list(level.walls) == DCD_WALLS and level.goal == (4, 1) and level.start == (8, 2)
    assert level == design_level(15, WALLS + [GOAL, AGENT], level.start_dir, goal_last=True)  # same placements, same level
    with pytest.raises(TeachBenchError, match="finished"):
        env.step(0)


def test_agent_on_the_goal_goes_to_a_free_cell():
    # dcd places it on a random free cell; ours is the next free cell after the goal in
    # row-major order (a design stays a function of its placements): the goal at cell 3 =
    # (4, 1), cells 4..11 walls, so the first free cell after it is cell 12 = (13, 1).
    level = design_level(15, WALLS + [GOAL, GOAL], goal_last=True)
    assert level.goal == (4, 1) and level.start == (13, 1)
    assert level.start != level.goal and _flat(*level.start) not in level.walls
    assert len(level.walls) == 23  # only the goal's wall was removed
    # walls everywhere but the goal (a 4x4 maze, 4 cells): the start takes the next cell and clears it
    full = design_level(4, [0, 1, 2, 3, 0, 0], goal_last=True)
    assert full.goal == (1, 1) and full.start == (2, 1) and len(full.walls) == 2


def test_goal_first_default_is_unchanged():
    # PAIRED's order, the designer's default: goal, agent, then walls (the existing facts)
    assert MazeDesignerEnv().goal_last is False and MazeDesignerEnv().horizon == 52
    level = design_level(15, [0, 14, 0, 14, 1])
    assert level.goal == (1, 1) and level.start == (2, 2) and level.walls == (1 * 15 + 2,)
    # the same placements read goal-last mean another level: walls 0, 14, 0; goal 14; agent 1
    other = design_level(15, [0, 14, 0, 14, 1], goal_last=True)
    assert other.goal == (2, 2) and other.start == (2, 1) and other.walls == (1 * 15 + 1,)
    with pytest.raises(TeachBenchError, match="goal_last"):
        MazeDesignerEnv(goal_last="yes")


def test_dcds_domain_randomization_is_the_goal_last_designer_with_random_placements():
    """generate_blocks_level (dcd's DR: a uniformly random adversary in the same env) and the
    goal-last designer read a sequence of placements the same way: with the generator's own
    draws (25 walls, goal, agent, then the direction) they give the same level, wherever the
    agent did not land on the goal (there dcd, and the generator, draw a random free cell)."""
    compared = 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        walls = rng.integers(0, 169, 25).tolist()
        goal, agent = int(rng.integers(169)), int(rng.integers(169))
        if agent == goal:
            continue
        direction = int(rng.integers(4))
        assert generate_blocks_level({"n_blocks": 25}, seed) == design_level(15, walls + [goal, agent], direction,
                                                                             goal_last=True)
        compared += 1
    assert compared >= 290


def test_paired_teacher_with_goal_last_builds_a_27_step_designer():
    from students.paired_adversary import PairedAdversary

    space = blocks_task_space([25, 25], 15)  # env=gridworld_dcd25's task space
    with pytest.raises(TeachBenchError, match="size"):
        PAIRED(space, seed=0, n_walls=25, goal_last=True)  # the n_blocks space does not hold the side
    teacher = PAIRED(space, seed=0, size=15, n_walls=25, goal_last=True, batch_size=2, **SMALL)
    config = teacher.adversary_config
    assert (config["size"], config["n_walls"], config["goal_last"]) == (15, 25, True)
    adversary = PairedAdversary(**{**config, "device": "cpu"})
    assert adversary.horizon == 27
    designers = adversary.vec_env.envs
    assert all(d.goal_last and d.horizon == 27 and d.n_walls == 25 for d in designers)
    teacher.attach_adversary(adversary)
    batch, levels, stats = adversary.design()
    assert len(levels) == 2 and all(len(Level.from_string(t).walls) <= 25 for t in levels)
    assert adversary.model.rollout_buffer.observations["time_step"][:, 0, 0].tolist() == list(range(27))
    # the default keeps PAIRED's order on the teachbench maze
    assert PAIRED(maze_task_space(max_size=15), seed=0).adversary_config["goal_last"] is False
    with pytest.raises(TeachBenchError, match="goal_last"):
        PAIRED(space, seed=0, size=15, goal_last="true")


# -- the preset ------------------------------------------------------------------------------
def test_preset_is_dcds_25_block_dr_and_paired(compose):
    sweep = OmegaConf.load(ROOT / "configs" / "experiment" / "ued_maze_paired_dcd25.yaml").hydra.sweeper.params
    assert sweep.teacher == "random,paired" and sweep.seed == "0,1,2,3,4"
    entropy = {}
    for teacher in ("random", "paired"):
        cfg = compose("experiment=ued_maze_paired_dcd25", f"teacher={teacher}")
        p = cfg.student.params
        assert cfg.student.algo == "recurrent_ppo" and cfg.env.n_envs == 32
        assert (p.n_steps, p.n_epochs, p.batch_size, p.learning_rate, p.gamma) == (256, 5, None, 1e-4, 0.995)
        assert cfg.env.label == "gridworld_dcd25" and list(cfg.env.kwargs.blocks) == [25, 25]
        assert cfg.env.kwargs.max_steps == 250 and cfg.env.kwargs.max_size == 15
        assert cfg.eval.held_out is True
        entropy[teacher] = p.ent_coef
    assert entropy == {"random": 0.01, "paired": 0.0}  # mg_25b_dr.json, mg_25b_paired.json
    t = compose("experiment=ued_maze_paired_dcd25", "teacher=paired").teacher.params
    assert (t.size, t.n_walls, t.goal_last, t.ent_coef, t.lr, t.n_epochs, t.gamma) == (15, 25, True, 0.0, 1e-4, 5, 0.995)
    assert (t.batch_size, t.episodes_per_level, t.max_pending) == (32, 1, 8)  # ued_maze_paired_dcd's rate
    # the per-teacher files merge after the preset and before the command line
    assert compose("experiment=ued_maze_paired_dcd25", "teacher=paired", "student.params.ent_coef=0.05"
                   ).student.params.ent_coef == 0.05
    assert compose("experiment=ued_maze_paired_dcd25", "teacher=plr_robust").student.params.ent_coef == 0.01
    # no other preset has per-teacher files: their students are as before
    assert compose("experiment=ued_maze_paired_dcd", "teacher=paired").student.params.ent_coef == 0.01
    assert compose("experiment=ued_maze_dcd", "teacher=random").student.params.ent_coef == 0.0


def test_goal_last_false_keeps_existing_config_ids(compose):
    from experiments.running.config_checks import resolve_auto_params, resolved_config
    from experiments.rundir import config_id, identity

    cfg = compose("experiment=baseline_gridworld", "teacher=paired", "seed=0")
    resolve_auto_params(cfg)
    resolved = resolved_config(cfg)
    assert resolved["teacher"]["params"]["goal_last"] is False and resolved["teacher"]["params"]["n_walls"] == 50
    assert "teacher.params.goal_last" not in identity(resolved)
    without = json.loads(json.dumps(resolved))
    del without["teacher"]["params"]["goal_last"]
    assert config_id(resolved) == config_id(without)
    on = compose("experiment=ued_maze_paired_dcd25", "teacher=paired", "seed=0")
    resolve_auto_params(on)
    assert identity(resolved_config(on))["teacher.params.goal_last"] is True


def test_preset_smoke_run_through_the_cli_plays_fresh_goal_last_designs(tmp_path):
    """Two of dcd's rollouts (2 x 32 x 256 steps, 250-step episodes) through the real CLI with a
    small adversary network (dcd's is a GPU network) but dcd's batch of 32 designs. dcd's
    rate: one adversary update per 8192 protagonist steps, every protagonist episode on a
    level designed for it (no replays)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    args = ["experiment=ued_maze_paired_dcd25", "teacher=paired", "seed=0", f"runs_dir={tmp_path / 'runs'}",
            "budget.steps=16384", "eval.every=1000000", "checkpoint.every=1000000", "log.diagnostics_every=4096",
            "+env.kwargs.n_test_tasks=4", "eval.held_out_episodes=1", "++teacher.params.conv_filters=4",
            "++teacher.params.lstm_hidden=16", "log.progress_bar=false"]
    out = subprocess.run([sys.executable, "-m", "experiments.running.cli", *args], capture_output=True, text=True,
                         timeout=600, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs" / "ued_maze_paired_dcd25").glob("gridworld_dcd25__paired__recurrent_ppo__s0__*")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["state"] == "finished" and summary["steps"] >= 16384
    diag = summary["teacher_diagnostics"]
    assert diag["extra_protagonist_episodes"] == 0 and diag["adversary_dropped_batches"] == 0
    assert diag["adversary_updates"] >= 16384 // (32 * 256)
    assert len(summary["held_out_solved"]) == 13
    config = OmegaConf.load(run_dir / "config.yaml")
    assert config.student.params.ent_coef == 0.0 and config.teacher.params.ent_coef == 0.0
    assert config.teacher.params.goal_last is True and config.teacher.params.n_walls == 25
    from experiments.tables import read_table

    levels = [Level.from_string(t) for t in read_table(run_dir / "episodes")["task.level"]]
    assert levels and all(lvl.size == 15 and len(lvl.walls) <= 25 for lvl in levels)
