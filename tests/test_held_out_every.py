"""``eval.held_out_every``: the held-out levels played during a run, not only at its end.

A run cut by a time limit (every long device run here) otherwise has no held-out number at
all (experiments/results/ued_dcd25_paired: DR's runs reached 2.7M steps with test-set
evaluations at 1M and 2M, and no held-out evaluation). The periodic evaluation must not
change training: stochastic evaluation draws from its own seeded generator."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from envs.errors import TeachBenchError
from experiments.running.run import run, run_dir_for

CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "configs")
COMMON = ["env=gridworld_dcd", "env.n_envs=4", "budget.steps=2048", "eval.every=100000", "checkpoint.every=256",
          "eval.held_out=true", "eval.held_out_episodes=2", "env.students.ppo.n_steps=64", "log.flush_every=10"]


def _compose(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides)
    GlobalHydra.instance().clear()
    return cfg


def _table(run_dir: Path, name: str) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted((run_dir / name).glob("*.parquet"))], ignore_index=True)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("held_every")
    plain = _compose([f"runs_dir={root / 'a'}", *COMMON])
    periodic = _compose([f"runs_dir={root / 'b'}", *COMMON, "eval.held_out_every=512"])
    run(plain)
    run(periodic)
    return run_dir_for(plain).path, run_dir_for(periodic).path


def test_held_out_rows_at_each_period_and_the_end(two_runs):
    _, periodic = two_runs
    held = _table(periodic, "eval").query("split == 'held_out'")
    steps = sorted(held["step"].unique())
    test_steps = sorted(_table(periodic, "eval").query("split == 'test'")["step"].unique())
    assert steps[0] == test_steps[0] == 4  # with the test set's evaluation 0 (the first vector step of 4 envs)
    assert steps[1:] == [516, 1028, 1540, 2048]  # then every 512 steps (at rollout boundaries) and at the end
    per_step = held.groupby("step")["name"].nunique()
    assert (per_step == per_step.iloc[0]).all()  # every held-out maze at every evaluation
    assert (held.groupby(["step", "name"]).size() == 2).all()  # the run's protocol: 2 episodes a maze


def test_periodic_held_out_changes_neither_training_nor_the_final_numbers(two_runs):
    plain, periodic = two_runs
    a, b = _table(plain, "episodes"), _table(periodic, "episodes")
    assert len(a) >= 8
    cols = [c for c in a.columns if "time" not in c]
    pd.testing.assert_frame_equal(a[cols], b[cols])  # the same episodes, returns and tasks
    test_a, test_b = (_table(p, "eval").query("split == 'test'").reset_index(drop=True) for p in (plain, periodic))
    pd.testing.assert_frame_equal(test_a.drop(columns="eval_id"), test_b.drop(columns="eval_id"))
    sa, sb = (json.loads((p / "summary.json").read_text()) for p in (plain, periodic))
    assert sa["held_out_solved"] == sb["held_out_solved"] and sa["final_mastered"] == sb["final_mastered"]
    assert sa["config_id"] != sb["config_id"]  # a number is part of the run's identity; null is not (same id as before)


def test_held_out_every_must_be_a_positive_integer(tmp_path):
    from experiments.running.config_checks import validate_config
    for bad in ("0", "-5", "'often'"):
        with pytest.raises(TeachBenchError, match="eval.held_out_every"):
            validate_config(_compose([f"runs_dir={tmp_path}", f"eval.held_out_every={bad}"]))
