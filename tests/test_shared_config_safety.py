"""A shared run config is data (issue 23 finding 4).

Reproduced: a run directory whose ``config.yaml`` carries ``defaults: [evil, _self_]`` and
``hydra.searchpath`` pointing at a payload folder passed ``load_run_config`` (it checked
``_target_`` and resolvers only), was copied verbatim into ``_leaderboard/configs/``, and
the reproduce command the leaderboard printed composed the payload, which instantiated
``shutil.copyfile`` and truncated a file to 0 bytes. Now both keys are refused on load and
on copy, and the leaderboard writes no config for that row.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from envs.errors import TeachBenchError
from experiments.reporting import leaderboard as lb
from experiments.reporting.cli import main as leaderboard_main
from experiments.safe_config import load_run_config

ROOT = Path(__file__).resolve().parents[1]


def _payload(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The issue's payload: a search-path folder whose ``evil.yaml`` copies /dev/null over a
    victim file through a Hydra callback, and a run directory naming both."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious data\n")
    payload = tmp_path / "payload"
    payload.mkdir()
    (payload / "evil.yaml").write_text(yaml.safe_dump({"hydra": {"callbacks": {"x": {
        "_target_": "shutil.copyfile", "src": "/dev/null", "dst": str(victim)}}}}))
    run_dir = tmp_path / "runs" / "shared" / "gridworld__random__ppo__s0"
    run_dir.mkdir(parents=True)
    config = {"defaults": ["evil", "_self_"], "hydra": {"searchpath": [f"file://{payload}"]},
              "name": "shared", "seed": 0, "env": {"name": "gridworld", "label": "gridworld"},
              "teacher": {"name": "random", "params": {}}, "student": {"algo": "ppo", "params": {}},
              "budget": {"steps": 1000}}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    summary = {"state": "finished", "env": "gridworld", "teacher": "random", "student": "ppo", "seed": 0,
               "experiment": "shared", "steps": 1000, "budget_steps": 1000, "final_mastered": 99.0,
               "auc_mastered": 50.0}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    (run_dir / "status.json").write_text(json.dumps({"state": "finished"}))
    return victim, payload, run_dir


def test_the_issue_payload_is_refused_and_nothing_is_written(tmp_path):
    from _fake_runs import fake_run

    victim, payload, run_dir = _payload(tmp_path)
    with pytest.raises(TeachBenchError) as err:
        load_run_config(run_dir)
    assert err.value.key in ("defaults", "hydra")
    # beside one honest run, the leaderboard lists it as unreadable, never as a result,
    # and writes a row config for the honest run only
    fake_run(tmp_path / "runs", experiment="shared", env="webform", seed=0)
    runs = lb.collect_runs(tmp_path / "runs")
    assert sorted(runs["state"]) == ["finished", "unreadable"]
    assert "defaults" in runs.loc[runs["state"] == "unreadable", "error"].iloc[0]
    out = tmp_path / "board"
    assert leaderboard_main([str(tmp_path / "runs"), "--out", str(out), "--no-plots", "--reps", "50"]) == 0
    written = list((out / "configs").iterdir())
    assert [p.name.split("__")[0] for p in written] == ["webform"]
    table = lb.leaderboard(runs, reps=50, configs_dir=str(out / "configs"))
    assert table["env"].tolist() == ["webform"]  # the hostile row is in no number and no command
    assert victim.read_text() == "precious data\n"


@pytest.mark.parametrize("config", [
    {"defaults": ["evil", "_self_"], "name": "x"},
    {"hydra": {"searchpath": ["file:///tmp"]}, "name": "x"},
    {"hydra": {"callbacks": {"x": {"_target_": "experiments.running.hydra_callbacks.LeaderboardOnSweepEnd"}}}},
])
def test_defaults_and_hydra_blocks_are_refused_naming_the_key(tmp_path, config):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(TeachBenchError) as err:
        load_run_config(path)
    assert err.value.key == next(k for k in ("defaults", "hydra") if k in config)


def test_a_runs_own_config_is_rewritten_as_checked_data(tmp_path):
    """A legitimate finished run still gets its row config, holding only its data."""
    from _fake_runs import fake_run

    fake_run(tmp_path / "runs", seed=0)
    _payload(tmp_path)
    written = lb.write_row_configs(lb.collect_runs(tmp_path / "runs"), tmp_path / "configs")
    assert len(written) == 1
    (path,) = written.values()
    data = yaml.safe_load(path.read_text())
    assert "defaults" not in data and "hydra" not in data and data["teacher"]["name"] == "random"


def test_a_hostile_config_in_a_run_directory_stops_the_runner_before_it_writes(compose, tmp_path):
    """A copied run directory (say, from a colleague) with a hydra block: the runner
    refuses to read it and changes nothing."""
    from experiments.running.run import run, run_dir_for

    cfg = compose("name=copied", "budget.steps=1024", "eval.every=1024", "env.kwargs.max_steps=30")
    rd = run_dir_for(cfg)
    rd.create()
    rd.config_path.write_text(yaml.safe_dump({"hydra": {"searchpath": ["file:///tmp"]}, "name": "copied"}))
    rd.status_path.write_text('{"state": "running"}')
    before = {p.name: p.read_bytes() for p in rd.path.iterdir()}
    with pytest.raises(TeachBenchError, match="cannot be read") as err:
        run(cfg)
    assert err.value.key == "run_dir"
    assert {p.name: p.read_bytes() for p in rd.path.iterdir()} == before
