"""``max_pending: auto`` (PAIRED and CLUTR) is resolved at run set-up, before the run's identity.

The config id hashes the resolved config (experiments/rundir.py), so ``auto`` must become a
number before it is hashed: a run whose ``auto`` gives the number it ran with before keeps
its config id and run directory (the committed gridworld leaderboard's PAIRED and CLUTR
runs: 8 envs, 2 open batches), and a run of another shape is another run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from envs.errors import TeachBenchError
from envs.gridworld.generate import maze_task_space
from experiments.rundir import config_id, identity, identity_diff
from experiments.running.config_checks import LOOKAHEAD, resolve_auto_params, resolved_config
from experiments.running.run import run_dir_for
from students.bridge import Curriculum
from teachers.paired import PAIRED

BOARD = Path(__file__).resolve().parents[1] / "leaderboard" / "configs"
COMMITTED = {"paired": "gridworld__paired__ppo__550b1f7b__300000.yaml",
             "clutr": "gridworld__clutr__ppo__1518576c__300000.yaml"}


def _resolved(compose, *overrides):
    cfg = compose(*overrides)
    resolve_auto_params(cfg)
    return cfg


@pytest.mark.parametrize("teacher", ["paired", "clutr"])
def test_auto_keeps_the_committed_gridworld_runs_ids(compose, teacher):
    auto = _resolved(compose, "experiment=baseline_gridworld", f"teacher={teacher}", "seed=0")
    fixed = _resolved(compose, "experiment=baseline_gridworld", f"teacher={teacher}", "seed=0", "teacher.params.max_pending=2")
    assert auto.teacher.params.max_pending == 2  # 8 envs: 2 * 16 // 64 + 1 = 1, floored at 2
    assert config_id(resolved_config(auto)) == config_id(resolved_config(fixed))
    assert run_dir_for(auto).path.name == run_dir_for(fixed).path.name
    path = BOARD / COMMITTED[teacher]
    if not path.exists():
        pytest.skip(f"{path} not committed")
    committed = OmegaConf.to_container(OmegaConf.load(path))
    assert committed["teacher"]["params"]["max_pending"] == 2
    # the teacher block hashes as it did when those runs were made, except for what the
    # CLUTR audit against clutr/clutr changed (tests/test_clutr_reference.py): the committed
    # CLUTR row measures the teacher from before it
    changed = [k for k in identity_diff(committed, resolved_config(auto)) if k.startswith("teacher.")]
    assert sorted(changed) == (CLUTR_AUDIT_KEYS if teacher == "clutr" else [])


CLUTR_AUDIT_KEYS = sorted(f"teacher.params.{k}" for k in (
    "baseline_decay", "hidden", "init_log_std",  # the REINFORCE generator, replaced by clutr's PPO teacher
    "clip_range", "embed", "ent_coef", "lr", "max_grad_norm", "n_epochs", "vf_coef", "latent_range",
    "vae_batch", "vae_lr", "vae_steps"))


def test_auto_at_256_envs_is_17_open_batches_and_another_run(compose):
    base = ("env=gridworld_batched", "env.n_envs=256", "teacher=paired", "seed=0")
    auto = _resolved(compose, *base)
    fixed = _resolved(compose, *base, "teacher.params.max_pending=2")
    # 256 envs x (1 + look-ahead 1) = 512 queue slots; 32 levels x 2 episodes per batch:
    # 2 * 512 // 64 + 1 = 17
    assert LOOKAHEAD == 1
    assert resolved_config(auto)["teacher"]["params"]["max_pending"] == 17
    assert identity(resolved_config(auto))["teacher.params.max_pending"] == 17
    assert config_id(resolved_config(auto)) != config_id(resolved_config(fixed))
    one_episode = _resolved(compose, *base, "++ued.episodes_per_level=1", "++ued.level_batch=64")
    assert one_episode.teacher.params.max_pending == 2 * 512 // 64 + 1


def test_the_lookahead_auto_assumes_is_the_bridges():
    import inspect

    assert LOOKAHEAD == inspect.signature(Curriculum.__init__).parameters["lookahead"].default


def test_a_resolved_paired_config_builds_and_checks(compose):
    from experiments.running.cli import check_run_config

    check_run_config(compose("env=gridworld_batched", "env.n_envs=64", "teacher=paired", "seed=0"))


def test_auto_is_refused_where_it_means_nothing(compose):
    cfg = compose("env=gridworld", "teacher=accel", "seed=0", "+teacher.params.max_pending=auto")
    with pytest.raises(TeachBenchError) as err:
        resolve_auto_params(cfg)
    assert err.value.key == "teacher.params.max_pending"
    with pytest.raises(TeachBenchError, match="runner resolves it"):
        PAIRED(maze_task_space(max_size=15), seed=0, max_pending="auto")
