"""experiment=ued_walker_dcd against dcd's own walker configs (facebookresearch/dcd,
train_scripts/grid_configs/bipedal/bipedal_{dr,robust_plr,accel}.json, models/walker_models.py,
util/__init__.py), and env.normalize=reward, the return-only normalisation those runs use.

The facts asserted are dcd's: its JSON values, its student network (MLPBase: separate 64-64 tanh actor
and critic) and its VecNormalize(ob=False, ret=normalize_returns). A short real run of ACCEL checks
that the preset's ACCEL draws new levels from dcd's easy base and edits them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from envs.errors import TeachBenchError
from envs.walker.levels import EASY, WalkerLevel
from experiments.running.run import _load_normalizer, _normalizer_state, final_normalizer, run, run_dir_for
from students.vec import make_vec_env

# dcd's bipedal configs (the values these JSON files set; dcd's argument defaults where they set none)
DCD_STUDENT = {"num_processes": 16, "num_steps": 2048, "ppo_epoch": 5, "num_mini_batch": 32, "lr": 3e-4, "gamma": 0.99,
               "gae_lambda": 0.9, "value_loss_coef": 0.5, "entropy_coef": 0.001, "clip_param": 0.2, "max_grad_norm": 0.5}
DCD_PLR = {"level_replay_prob": 0.5, "level_replay_rho": 0.5, "level_replay_seed_buffer_size": 1000,
           "staleness_coef": 0.5, "level_replay_strategy": "positive_value_loss",
           "level_replay_score_transform": "rank", "level_replay_temperature": 0.1,  # arguments.py default
           "level_replay_schedule": "proportionate"}                                  # arguments.py default
DCD_ACCEL = {**DCD_PLR, "level_replay_prob": 0.9, "num_edits": 3, "base_levels": "easy"}


@pytest.mark.parametrize("teacher", ["random", "plr_robust", "accel"])
def test_the_preset_is_dcds_walker_setting(compose, teacher):
    from experiments.running.cli import check_run_config

    cfg = compose("experiment=ued_walker_dcd", f"teacher={teacher}")
    check_run_config(cfg)  # the CLI's per-run check of every sweep point
    # and with the device command's overrides (experiments/results/reproductions.md, claim 6)
    check_run_config(compose("experiment=ued_walker_dcd", f"teacher={teacher}", "device=auto", "update_device=cuda",
                             "checkpoint.every=200000"))
    assert cfg.env.vec_env == "shm" and cfg.env.envs_per_worker * 2 == cfg.env.n_envs  # 2 workers x 8 envs
    ppo = cfg.env.students.ppo
    rollout = DCD_STUDENT["num_processes"] * DCD_STUDENT["num_steps"]
    assert cfg.env.n_envs * ppo.n_steps == rollout and cfg.env.n_envs == DCD_STUDENT["num_processes"]
    assert ppo.batch_size == rollout // cfg.env.n_envs * cfg.env.n_envs // DCD_STUDENT["num_mini_batch"] == 1024
    assert (ppo.n_epochs, ppo.learning_rate, ppo.gamma, ppo.gae_lambda) == (
        DCD_STUDENT["ppo_epoch"], DCD_STUDENT["lr"], DCD_STUDENT["gamma"], DCD_STUDENT["gae_lambda"])
    assert (ppo.vf_coef, ppo.ent_coef, ppo.clip_range, ppo.max_grad_norm) == (
        DCD_STUDENT["value_loss_coef"], DCD_STUDENT["entropy_coef"], DCD_STUDENT["clip_param"], DCD_STUDENT["max_grad_norm"])
    assert cfg.student.algo == "ppo" and cfg.env.normalize == "reward"  # VecNormalize(ob=False, ret=True)
    assert cfg.eval.held_out and cfg.eval.held_out_episodes == 10  # test_num_episodes 10 on each named walker
    params = cfg.teacher.get("params") or {}
    if teacher == "random":  # bipedal_dr: level_replay_prob 0, i.e. uniform levels of the full space
        assert cfg.env.kwargs.base == "full"
        return
    ref = DCD_ACCEL if teacher == "accel" else DCD_PLR
    assert (params.replay_prob, params.min_fill, params.buffer_size, params.staleness_coef) == (
        ref["level_replay_prob"], ref["level_replay_rho"], ref["level_replay_seed_buffer_size"], ref["staleness_coef"])
    assert (params.score, params.prioritization, params.temperature, params.replay_schedule) == (
        "pvl", ref["level_replay_score_transform"], ref["level_replay_temperature"], ref["level_replay_schedule"])
    if teacher == "accel":  # BipedalWalker-Adversarial-Easy-v0, 3 edits, easy parents
        assert cfg.env.kwargs.base == "easy" and cfg.env.label == "walker_obstacles_easy"
        assert (params.n_edits, params.base_levels, params.edit_operator) == (ref["num_edits"], ref["base_levels"], "dcd")
    else:
        assert cfg.env.kwargs.base == "full"


def test_the_student_network_is_dcds_mlp_base(compose):
    """dcd's BipedalWalkerStudentPolicy: MLPBase with a separate actor and critic of two 64-unit tanh
    layers each, a linear value head and a diagonal Gaussian whose log-std starts at 0."""
    from students.build import make_student

    cfg = compose("experiment=ued_walker_dcd", "teacher=random")
    vec = make_vec_env("walker_obstacles", {}, 1, "dummy", seed=0, normalize="reward")
    model = make_student("ppo", vec, params={}, env_defaults={"ppo": {"n_steps": 64, "batch_size": 32}}, seed=0)
    layers = lambda seq: [(type(m).__name__, getattr(m, "out_features", None)) for m in seq]  # noqa: E731
    expected = [("Linear", 64), ("Tanh", None), ("Linear", 64), ("Tanh", None)]
    assert layers(model.policy.mlp_extractor.policy_net) == layers(model.policy.mlp_extractor.value_net) == expected
    assert model.policy.value_net.out_features == 1
    assert torch.all(model.policy.log_std == 0)
    assert cfg.student.get("policy") in (None, "MlpPolicy")


def test_reward_only_normalisation_leaves_observations_raw():
    vec = make_vec_env("walker_obstacles", {}, 2, "dummy", seed=0, normalize="reward")
    obs = vec.reset()
    assert not vec.norm_obs and vec.norm_reward and np.array_equal(obs, vec.get_original_obs())
    obs, reward, _, _ = vec.step(np.zeros((2, *vec.action_space.shape)))
    assert np.array_equal(obs, vec.get_original_obs()) and not np.allclose(reward, vec.get_original_reward())
    # a checkpoint's normaliser state round-trips (the observation statistics are an unused identity)
    state = _normalizer_state(vec)
    other = make_vec_env("walker_obstacles", {}, 2, "dummy", seed=1, normalize="reward")
    _load_normalizer(other, state)
    assert other.ret_rms.count == vec.ret_rms.count and np.all(other.obs_rms.mean == 0)
    with pytest.raises(TeachBenchError) as err:
        make_vec_env("walker_obstacles", {}, 1, "dummy", normalize="obs")
    assert err.value.key == "env.normalize"


@pytest.mark.parametrize("teacher", ["random", "plr_robust"])
def test_the_other_sweep_points_run_end_to_end(compose, teacher):
    """DR and PLR⊥ of the preset's sweep, at a smoke budget (2 envs, 2048 steps, a 4-level buffer)."""
    cfg = compose("experiment=ued_walker_dcd", f"teacher={teacher}", "seed=0", "env.n_envs=2", "env.vec_env=dummy", "env.envs_per_worker=1",
                  "env.students.ppo.n_steps=256", "env.students.ppo.batch_size=64", "budget.steps=2048",
                  "eval.every=2048", "eval.held_out=false", "env.kwargs.test_size=2", "ued.buffer_size=4",
                  "checkpoint.every=1024", "hydra.mode=RUN")
    summary = run(cfg)
    assert summary["state"] == "finished" and summary["gradient_updates"] > 0
    if teacher == "plr_robust":
        assert summary["teacher_diagnostics"]["replayed"] > 0


def test_accel_on_dcds_walker_draws_easy_levels_and_edits_them(compose, tmp_path):
    """A short real run (2 envs, 4096 steps, a 4-level buffer): every new level lies in dcd's easy
    base, the run trains and its normaliser file says rewards alone were normalised; and the
    final normaliser leaves observations as they are."""
    import pandas as pd

    cfg = compose("experiment=ued_walker_dcd", "teacher=accel", "seed=0", "env.n_envs=2", "env.vec_env=dummy", "env.envs_per_worker=1",
                  "env.students.ppo.n_steps=256", "env.students.ppo.batch_size=64", "budget.steps=4096",
                  "eval.every=4096", "eval.held_out=false", "env.kwargs.test_size=3", "ued.buffer_size=4",
                  "checkpoint.every=2048", "hydra.mode=RUN")
    summary = run(cfg)
    assert summary["state"] == "finished" and summary["gradient_updates"] > 0
    diag = summary["teacher_diagnostics"]
    assert diag["children_made"] > 0 and diag["replayed"] > 0
    run_dir = run_dir_for(cfg).path
    assert run_dir.name.startswith("walker_obstacles_easy__accel__")
    episodes = pd.concat(pd.read_parquet(p) for p in sorted((run_dir / "episodes").glob("*.parquet")))
    levels = [WalkerLevel.from_string(str(level)) for level in episodes["level_id"]]
    params = np.array([level.params for level in levels], dtype=float)
    low, high = np.array([r[0] for r in EASY], dtype=float), np.array([r[1] for r in EASY], dtype=float)
    inside = np.all((params >= low) & (params <= high), axis=1)
    # the first hand-outs are new levels (an empty buffer): dcd's easy base; only edited children (and their
    # replays) may leave it
    assert inside[:4].all() and (~inside).sum() <= diag["children_played"] + diag["replayed"]
    stats = json.loads((run_dir / "vecnormalize.json").read_text())
    assert stats["norm_obs"] is False and stats["norm_reward"] is True
    raw = make_vec_env("walker_obstacles", {}, 1, "dummy", seed=0)
    frozen = final_normalizer(run_dir, raw)
    first = frozen.reset()
    assert np.array_equal(first, frozen.get_original_obs())


def test_a_paired_antagonist_keeps_reward_only_normalisation(compose):
    """PAIRED's antagonist plays on a copy of the envs (students/robust.py): the copy normalises as the
    original does, and a short real PAIRED-param run with env.normalize=reward checkpoints (both students) and
    finishes with regrets delivered to its teacher."""
    from students.robust import clone_vec_env

    vec = make_vec_env("walker_obstacles", {}, 1, "dummy", seed=0, normalize="reward")
    copy = clone_vec_env(vec, seed=5)
    assert (copy.norm_obs, copy.norm_reward) == (False, True) and _normalizer_state(copy) is not None
    cfg = compose("env=walker_obstacles", "teacher=paired_param", "seed=0", "env.n_envs=2", "env.vec_env=dummy",
                  "env.normalize=reward", "env.students.ppo.n_steps=128", "env.students.ppo.batch_size=64",
                  "budget.steps=3072", "eval.every=3072", "eval.held_out=false", "env.kwargs.test_size=2",
                  "checkpoint.every=1024", "teacher.params.batch_size=2")
    summary = run(cfg)
    assert summary["state"] == "finished" and summary["gradient_updates"] > 0
    assert summary["teacher_diagnostics"]["updates"] > 0  # regrets reached the teacher: the antagonist played
