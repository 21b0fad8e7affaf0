"""dcd's minimax adversary (``teacher=minimax``): PAIRED's designer, rewarded with minus the
protagonist's best return, with no antagonist.

Facts of the reference (facebookresearch/dcd, docs/references.md#minimax-adversary), read
from ``envs/runners/adversarial_runner.py`` and ``train_scripts/grid_configs/minigrid/25_blocks``:

- ``_compute_env_return`` with ``ued_algo == 'minimax'``: ``env_return = -agent_info['max_return']``
  (the protagonist's best return; no mean, no clipping, no antagonist term).
- ``_get_rollout_return_stats``: ``max_return`` starts at ``torch.zeros`` and is set only for
  a process with at least one finished episode, so a level with none scores ``-0 = 0``.
- ``run()``: the antagonist (``adversary_agent``) is played and trained only ``if self.is_paired``
  (``ued_algo in ['paired', 'flexible_paired']``); the level designer is trained when
  ``is_training_env`` (``'minimax'`` included).
- ``mg_25b_minimax.json``: ``GoalLastFewerBlocksAdversarial`` (25 walls, then goal and
  agent), ``entropy_coef`` 0.01 (``mg_25b_paired.json``: 0.0), ``adv_entropy_coef`` 0.0,
  ``recurrent_adversary_env`` false (``mg_25b_paired.json``: true); otherwise PAIRED's
  settings (32 processes x 256 steps, 5 epochs, 1 minibatch, lr 1e-4, gamma 0.995).
"""

from __future__ import annotations

import json

import pytest
import torch

from envs.errors import TeachBenchError
from envs.gridworld.generate import blocks_task_space, maze_task_space
from envs.gridworld.level import Level
from envs.task_space import TaskSpace
from teachers.base import Episode
from teachers.paired import PAIRED, Minimax, level_regret, minimax_return
from teachers.registry import make_teacher

from tests._scripted_designer import ScriptedDesigner as _ScriptedDesigner

SMALL = {"conv_filters": 4, "lstm_hidden": 16, "head_hidden": 8, "time_embed": 4}


# -- 1. the adversary's reward ---------------------------------------------------------------
def test_reward_is_minus_the_protagonists_best_return():
    # worked by hand: returns 0.0 and 0.73 -> max 0.73 -> reward -0.73
    assert minimax_return([0.0, 0.73]) == pytest.approx(-0.73)
    # the best return, not the mean (-0.3) and not clipped at 0
    assert minimax_return([0.5, 0.1, 0.3]) == pytest.approx(-0.5)
    # a level never solved (every episode timed out, return 0) scores 0, the adversary's maximum
    assert minimax_return([0.0, 0.0]) == 0.0
    # dcd's max_return of a process with no finished episode is its zeros initialisation: -0 = 0
    assert minimax_return([]) == 0.0


def test_a_level_is_scored_once_the_protagonist_alone_has_played_it():
    space = maze_task_space(max_size=9)
    a = Level(9, (), (1, 1), 0, (7, 7)).to_string()
    b = Level(9, (10,), (2, 2), 0, (5, 5)).to_string()
    teacher = Minimax(space, seed=0, episodes_per_level=2, batch_size=2, **SMALL)
    assert teacher.needs == {"adversary"}  # no "antagonist": the runner builds no second student
    designer = _ScriptedDesigner([a, b])
    teacher.attach_adversary(designer)
    returns = {a: [0.0, 0.73], b: [0.5, 0.9]}
    completing = []
    for i in range(4):  # both levels, twice each, the protagonist only
        task = teacher.sample()
        episode = Episode(task=dict(task), episode_return=returns[task["level"]].pop(0), length=10, episode_id=i)
        teacher.update(episode)
        if "adversary_return" in episode.extra:
            completing.append(episode)
    # a: -max(0.0, 0.73) = -0.73; b: -max(0.5, 0.9) = -0.9 (PAIRED's regret needs an antagonist)
    assert designer.learned == [(0, [pytest.approx(-0.73), pytest.approx(-0.9)])]
    assert len(completing) == 2 and all(e.regret is None for e in completing)
    diag = teacher.diagnostics()
    assert diag["mean_adversary_return"] == pytest.approx((-0.73 - 0.9) / 2) and diag["batches_done"] == 1
    assert "mean_regret" not in diag and "antagonist_owed" not in diag
    # the same returns under PAIRED wait for the antagonist, whose returns enter the regret
    assert level_regret([0.0, 0.73], [1.0]) == pytest.approx(0.635)


def test_designer_is_dcds_25_block_minimax_one():
    from students.paired_adversary import PairedAdversary

    space = blocks_task_space([25, 25], 15)
    teacher = Minimax(space, seed=0, size=15, n_walls=25, goal_last=True, batch_size=2, **SMALL)
    config = teacher.adversary_config
    assert (config["size"], config["n_walls"], config["goal_last"], config["recurrent"]) == (15, 25, True, False)
    adversary = PairedAdversary(**{**config, "device": "cpu"})
    assert adversary.horizon == 27  # 25 walls, goal, agent
    names = [n for n, _ in adversary.model.policy.named_parameters()]
    assert not any("lstm" in n for n in names)  # recurrent_adversary_env false
    teacher.attach_adversary(adversary)
    batch, levels, _ = teacher._new_batch()
    before = adversary.parameters_vector().clone()
    assert adversary.learn(batch, [minimax_return([0.0, 0.73]), 0.0])
    assert adversary.n_updates == 1 and not torch.equal(before, adversary.parameters_vector())
    # PAIRED keeps its recurrent designer; minimax can ask for it
    assert PAIRED(space, seed=0, size=15, **SMALL).adversary_config["recurrent"] is True
    assert Minimax(space, seed=0, size=15, adversary_recurrent=True, **SMALL).adversary_config["recurrent"] is True


def test_preset_gives_dcds_25_block_minimax_settings(compose):
    cfg = compose("experiment=ued_maze_paired_dcd25", "teacher=minimax")
    assert cfg.student.params.ent_coef == 0.01  # mg_25b_minimax.json: entropy_coef 0.01
    assert compose("experiment=ued_maze_paired_dcd25", "teacher=paired").student.params.ent_coef == 0.0
    t = cfg.teacher.params
    assert (t.size, t.n_walls, t.goal_last, t.ent_coef, t.lr, t.n_epochs, t.gamma) == (15, 25, True, 0.0, 1e-4, 5, 0.995)
    assert (t.batch_size, t.episodes_per_level, t.max_pending) == (32, 1, 8)
    assert t.adversary_recurrent is None and cfg.student.algo == "recurrent_ppo" and cfg.env.n_envs == 32
    # every other parameter is PAIRED's
    paired = compose("experiment=ued_maze_paired_dcd25", "teacher=paired").teacher.params
    shared = set(paired) - {"adversary_lstm_update"}
    assert shared <= set(t) and all(t[k] == paired[k] for k in shared)


# -- 3. bad input ------------------------------------------------------------------------------
def test_bad_input_names_the_key():
    from students.paired_adversary import PairedAdversary

    space = maze_task_space(max_size=9)
    with pytest.raises(TeachBenchError) as err:
        make_teacher("minimax", space, adversary_recurrent="no")
    assert err.value.key == "adversary_recurrent"
    with pytest.raises(TeachBenchError) as err:
        make_teacher("minimax", space, adversary_lstm_update="sequence")  # no LSTM to run per sequence
    assert err.value.key == "adversary_lstm_update"
    with pytest.raises(TeachBenchError) as err:
        make_teacher("minimax", space, antagonist=True)
    assert err.value.key == "teacher.antagonist"
    with pytest.raises(TeachBenchError) as err:
        make_teacher("minimax", TaskSpace.box(["a"], [0.0], [1.0]))
    assert err.value.key == "teacher.name" and "minimax_param" not in str(err.value)
    with pytest.raises(TeachBenchError) as err:
        PairedAdversary(size=7, n_walls=2, batch_size=1, recurrent="no", **SMALL)
    assert err.value.key == "adversary_recurrent"


# -- 2. and 4. a real run, and its checkpoint --------------------------------------------------
RUN = ["experiment=ued_maze_paired_dcd25", "teacher=minimax", "seed=0", "name=minimax_smoke",
       "env.n_envs=8", "student.params.n_steps=64", "env.kwargs.max_steps=40", "ued.level_batch=4",
       "budget.steps=1024", "eval.every=1000000", "checkpoint.every=512", "log.diagnostics_every=256",
       "eval.held_out=false", "+env.kwargs.n_test_tasks=2", "++teacher.params.conv_filters=4",
       "++teacher.params.head_hidden=8", "++teacher.params.time_embed=4", "log.progress_bar=false"]


def test_real_run_trains_the_adversary_and_no_antagonist(compose, monkeypatch):
    """dcd's 25-block minimax preset, shrunk (8 sub-envs x 64 steps, 40-step episodes, 4
    designs per update, a small designer network) on the CPU: the designer is trained on
    minus the protagonist's returns and no second student exists."""
    import students.robust
    from experiments.running.run import run, run_dir_for
    from experiments.tables import read_table

    def no_antagonist(*_args, **_kwargs):
        raise AssertionError("minimax built an antagonist")

    monkeypatch.setattr(students.robust, "Antagonist", no_antagonist)
    cfg = compose(*RUN)
    summary = run(cfg)
    rd = run_dir_for(cfg).path
    assert summary["state"] == "finished" and summary["steps"] >= 1024 and summary["teacher"] == "minimax"
    diag = summary["teacher_diagnostics"]
    assert diag["adversary_updates"] >= 1 and diag["batches_done"] >= diag["adversary_updates"]
    assert "antagonist_owed" not in diag and diag["mean_adversary_return"] <= 0.0
    assert not list(rd.glob("checkpoints/**/antagonist.zip"))
    episodes = read_table(rd / "episodes")
    assert episodes["task.level"].notna().all()  # the protagonist plays designed levels only
    scored = episodes[episodes["extra.adversary_return"].notna()]
    # one episode per level (ued.episodes_per_level 1): the reward is minus that episode's return
    assert len(scored) >= 4 and (scored["extra.adversary_return"] == -scored["episode_return"]).all()
    assert {Level.from_string(t).size for t in episodes["task.level"]} == {15}


def test_checkpoint_keeps_the_adversary_and_resumes(compose):
    """As PAIRED's (tests/test_run.py: test_paired_checkpoint_keeps_the_antagonist), minus the
    antagonist: the checkpoint holds the designer's weights, and a rerun resumes from it."""
    from experiments.running.run import run, run_dir_for

    cfg = compose(*RUN)
    first = run(cfg)
    rd = run_dir_for(cfg)
    latest = rd.checkpoint_dir / json.loads((rd.checkpoint_dir / "latest.json").read_text())["dir"]
    assert not (latest / "antagonist.zip").exists()
    state = torch.load(latest / "state.pt", weights_only=True)
    adversary = state["teacher"]["algo"]["adversary"]
    assert adversary["counts"][1] == first["teacher_diagnostics"]["adversary_updates"] >= 1
    assert not any("lstm" in k for k in adversary["policy"])  # the designer without the LSTM
    (rd.path / "summary.json").unlink()  # unfinished again: the rerun resumes, loading the designer
    summary = run(cfg)
    assert summary["resumed"] is True and summary["steps"] >= 1024
    assert summary["teacher_diagnostics"]["adversary_updates"] == first["teacher_diagnostics"]["adversary_updates"]
    # extended past the checkpoint, the loaded designer keeps learning (a fresh one would count from
    # 0); the sub-envs first play out their queued levels, whose batches a checkpoint does not keep
    longer = run(compose(*RUN, "budget.steps=2560", "resume=extend"))
    assert longer["steps"] >= 2560
    assert longer["teacher_diagnostics"]["adversary_updates"] > first["teacher_diagnostics"]["adversary_updates"]
