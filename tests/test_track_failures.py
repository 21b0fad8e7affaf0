"""``teachbench-track`` with failing runs and bad arguments (issue 23 findings 5 and 7).

Reproduced: ADR on ``toy=highdim`` (no expert knowledge) raised a TeachBenchError in a
worker; the error could not be unpickled (its constructor takes (key, message, allowed)),
the process pool's result thread died, and the parent spun forever. And the track
validated none of its arguments (``seeds=0``, ``only=random``, ``eval_every=0``).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from envs.errors import TeachBenchError, unknown_name
from experiments.running.teacher_track import run_track, track_specs

ROOT = Path(__file__).resolve().parents[1]


def test_teachbench_error_survives_pickling():
    err = unknown_name("teacher.name", "oracle", ["random", "alp_gmm"])
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is TeachBenchError and str(back) == str(err)
    assert (back.key, back.message, back.allowed) == (err.key, err.message, err.allowed)


def test_failing_runs_end_the_track_with_the_failure_reported(compose):
    """In worker processes (workers=2): the track returns, with ADR's failure as data."""
    cfg = compose("toy=highdim", "seeds=2", "episodes=200", "eval_every=100", "workers=2", "only=[random,adr]",
                  "write_episodes=false", config_name="track")
    table = run_track(cfg)
    assert table["teacher"].tolist() == ["random"] and table["seeds"].tolist() == [2]
    failed = table.attrs["failures"]
    assert sorted((f["teacher"], f["seed"]) for f in failed) == [("adr", 0), ("adr", 1)]
    assert all("expert" in f["error"] for f in failed)
    from experiments.running.teacher_track import format_table

    text = format_table(table, "highdim")
    assert "random" in text and "failed: adr seed 0:" in text


def test_failing_track_exits_through_the_command_line_in_bounded_time(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "experiments.running.teacher_track", f"runs_dir={tmp_path / 'runs'}",
                          "toy=highdim", "seeds=1", "episodes=100", "eval_every=50", "workers=2", "only=[adr]",
                          "write_episodes=false"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr[-2000:]  # every run failed
    assert "failed: adr seed 0:" in out.stdout and "Traceback" not in out.stderr


BAD_TRACK_ARGS = [
    ("seeds=0", "seeds"),
    ("seeds=-3", "seeds"),
    ("seeds=abc", "seeds"),
    ("seeds=1.5", "seeds"),
    ("episodes=0", "episodes"),
    ("eval_every=0", "eval_every"),
    ("eval_every=-1", "eval_every"),
    ("eval_every=5000000", "eval_every"),  # > episodes: no evaluation would ever happen
    ("workers=0", "workers"),
    ("seed_offset=-1", "seed_offset"),
    ("only=nope", "only"),
    ("only=[random,nope]", "only"),
    ("resume=maybe", "resume"),
    ("write_episodes=3", "write_episodes"),
    ("name=a/b", "name"),
    ("name=", "name"),
    ("runs_dir=", "runs_dir"),
]


@pytest.mark.parametrize("override, key", BAD_TRACK_ARGS)
def test_bad_track_arguments_name_the_key(compose, override, key):
    # the fixture's runs_dir comes first: a later runs_dir= overrides it
    cfg = compose(override, config_name="track")
    with pytest.raises(TeachBenchError) as err:
        track_specs(cfg)
    assert err.value.key == key


def test_only_takes_one_label_or_a_list(compose):
    one = track_specs(compose("only=random", "seeds=2", config_name="track"))
    assert [s["label"] for s in one] == ["random", "random"]  # not the letters r, a, n, ...
    two = track_specs(compose("only=[random,riac]", "seeds=1", config_name="track"))
    assert sorted(s["label"] for s in two) == ["random", "riac"]


@pytest.mark.parametrize("args", [["seeds=0"], ["runs_dir="]])
def test_bad_track_arguments_exit_2_with_one_line(tmp_path, args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    runs = [] if args == ["runs_dir="] else [f"runs_dir={tmp_path / 'runs'}"]
    out = subprocess.run([sys.executable, "-m", "experiments.running.teacher_track", *runs, *args], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("teachbench-track: error: ")
    assert not Path("/_hydra").exists() or args != ["runs_dir="]
