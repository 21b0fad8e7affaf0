"""``teachbench-eval`` on a tiny finished gridworld run: the env's test set, an ASCII maze
file with a video, the final policy preferred over the checkpoint, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from envs.gridworld.level import Level
from experiments.running.evaluate_run import main
from experiments.running.run import run, run_dir_for

CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "configs")
MAZES = """\
#######
#A....#
#.###.#
#...#.#
###.#G#
#.....#
#######

#####
#A..#
#.#.#
#..G#
#####
"""


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A 2048-step PPO run on gridworld_small (a few seconds on one core)."""
    root = tmp_path_factory.mktemp("eval")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", [f"runs_dir={root / 'runs'}", "env=gridworld_small", "budget.steps=2048",
                                 "eval.every=1024", "checkpoint.every=1024", "env.kwargs.max_steps=40"])
    GlobalHydra.instance().clear()
    run(cfg)
    return run_dir_for(cfg).path


def _tables(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*.parquet") if "evaluations" not in p.parts}


def _records(out: str) -> pd.DataFrame:
    """The records file the command printed (``records: <path>``)."""
    line = next(li for li in out.splitlines() if li.startswith("records: "))
    path = Path(line.split(": ", 1)[1])
    assert path.parent.parent.name == "evaluations"
    return pd.read_parquet(path)


def test_test_set_is_played_and_recorded_beside_the_training_tables(finished_run, capsys):
    before = _tables(finished_run)
    assert main([str(finished_run)]) == 0
    out = capsys.readouterr().out
    records = _records(out)
    training_eval = pd.concat([pd.read_parquet(p) for p in sorted((finished_run / "eval").glob("part-*.parquet"))])
    final = training_eval[(training_eval["split"] == "test") & (training_eval["step"] == training_eval["step"].max())]
    n_test = json.loads((finished_run / "summary.json").read_text())["test_tasks"]
    assert len(records) == len(final) == n_test  # one episode per test task, as the training evaluation plays them
    assert list(records["name"]) == list(final["name"])
    assert set(records.columns) >= {"levels", "name", "episode", "return", "length", "success", "mastered", "policy"}
    assert "ALL" in out and f"{n_test}" in out
    assert _tables(finished_run) == before  # the run's own records are untouched


def test_ascii_maze_file_with_video(finished_run, tmp_path, capsys):
    mazes = tmp_path / "mazes.txt"
    mazes.write_text(MAZES)
    video = tmp_path / "play.gif"
    assert main([str(finished_run), f"levels={mazes}", "episodes=2", "--video", str(video)]) == 0
    out = capsys.readouterr().out
    records = _records(out)
    assert list(records["name"]) == ["mazes_1", "mazes_1", "mazes_2", "mazes_2"]
    assert list(records["episode"]) == [0, 1, 0, 1]
    first = Level.from_ascii(MAZES.split("\n\n")[0])
    assert (first.size, first.start, first.start_dir, first.goal) == (7, (1, 1), 0, (5, 4))  # 'A' faces east
    assert records["task.level"].iloc[0] == first.to_string()
    assert (records["length"] <= 40).all()  # env.kwargs.max_steps of the run
    from PIL import Image

    with Image.open(video) as gif:
        assert gif.n_frames > 2
    assert "video:" in out


def test_final_policy_is_preferred_over_the_checkpoint(finished_run, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    shutil.rmtree(copy / "evaluations", ignore_errors=True)  # left by the tests above
    ckpt = next((copy / "checkpoints").glob("step-*"))
    (copy / "model.zip").unlink(missing_ok=True)  # a run written before runs kept their final policy
    assert main([str(copy)]) == 0
    assert "policy checkpoint step-" in capsys.readouterr().out
    shutil.copy(ckpt / "model.zip", copy / "model.zip")
    shutil.rmtree(copy / "checkpoints")
    assert main([str(copy), "levels=held_out"]) == 0
    out = capsys.readouterr().out
    assert "policy final" in out
    assert set(_records(out)["policy"]) == {"final"}
    assert len(list((copy / "evaluations").iterdir())) == 2  # a new folder per evaluation, none overwritten


BAD_MAZES = {
    "bad_char": "#####\n#A.x#\n#...#\n#..G#\n#####\n",
    "no_goal": "#####\n#A..#\n#...#\n#...#\n#####\n",
    "not_square": "#####\n#A.G#\n#####\n",
    # the partial view plays mazes up to 21 x 21 (envs/gridworld: max_level_size)
    "too_big": "\n".join(["#" * 23] + ["#A" + "." * 20 + "#"] + ["#" + "." * 21 + "#"] * 19 + ["#" + "." * 20 + "G#", "#" * 23]),
}


@pytest.mark.parametrize("case", ["missing", "unfinished", "not_a_run", "option", "episodes", "levels",
                                  *BAD_MAZES, "video"])
def test_bad_input_is_one_line_and_writes_nothing(case, finished_run, tmp_path, capsys):
    target = tmp_path / "run"
    shutil.copytree(finished_run, target)
    shutil.rmtree(target / "evaluations", ignore_errors=True)
    args: list[str] = [str(target)]
    key = "run_dir"
    if case == "missing":
        args = [str(tmp_path / "nowhere")]
    elif case == "unfinished":
        (target / "summary.json").unlink()
    elif case == "not_a_run":
        args = [str(tmp_path)]
    elif case == "option":
        args.append("level=test")
        key = "level"
    elif case == "episodes":
        args.append("episodes=0")
        key = "episodes"
    elif case == "levels":
        args.append("levels=nope")
        key = "levels"
    elif case == "video":
        args += ["--video", str(tmp_path / "x.avi")]
        key = "--video"
    else:
        maze = tmp_path / "bad.txt"
        maze.write_text(BAD_MAZES[case])
        args.append(f"levels={maze}")
        key = "levels"
    assert main(args) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"teachbench-eval: error: {key}: "), err
    assert not (target / "evaluations").exists()


def test_console_script_exit_status(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "experiments.running.evaluate_run", str(tmp_path / "nowhere")],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 2
    assert out.stderr == f"teachbench-eval: error: run_dir: {tmp_path / 'nowhere'} is not a directory\n"


@pytest.mark.slow
def test_walker_run_is_played_with_its_observation_statistics(tmp_path, capsys):
    """walker_obstacles normalises observations (VecNormalize): the evaluation uses the
    statistics saved with the final policy (vecnormalize.json), not fresh ones."""
    import json

    import numpy as np

    from experiments.running.evaluate_run import find_policy, load_policy, open_run

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", [f"runs_dir={tmp_path / 'runs'}", "env=walker_obstacles", "env.n_envs=1",
                                 "env.vec_env=dummy", "env.students.ppo.n_steps=256", "env.students.ppo.batch_size=128",
                                 "budget.steps=512", "eval.every=512", "checkpoint.every=256", "env.kwargs.test_size=2",
                                 "eval.held_out=false"])
    GlobalHydra.instance().clear()
    run(cfg)
    path = run_dir_for(cfg).path
    rd, saved = open_run(path)
    policy = find_policy(rd)
    _, normalizer = load_policy(saved, policy)
    assert policy.source == "final"
    stats = json.loads((path / "vecnormalize.json").read_text())
    assert normalizer is not None and not normalizer.training
    assert np.allclose(normalizer.obs_rms.mean, stats["obs_rms"]["mean"]) and normalizer.obs_rms.count == stats["obs_rms"]["count"]
    assert normalizer.obs_rms.count > 0  # statistics of training, not a fresh normaliser
    assert main([str(path), "levels=held_out"]) == 0
    assert len(_records(capsys.readouterr().out)) == 6  # walker_obstacles' six named held-out courses


@pytest.fixture(scope="module")
def held_out_run(tmp_path_factory) -> Path:
    """A tiny run on dcd's 0-60-block maze with its held-out evaluation (2 episodes a maze)."""
    root = tmp_path_factory.mktemp("eval_held")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", [f"runs_dir={root / 'runs'}", "env=gridworld_dcd", "env.n_envs=4", "budget.steps=512",
                                 "eval.every=100000", "checkpoint.every=256", "eval.held_out=true",
                                 "eval.held_out_episodes=2", "env.students.ppo.n_steps=64"])
    GlobalHydra.instance().clear()
    run(cfg)
    return run_dir_for(cfg).path


def test_held_out_follows_the_runs_protocol_and_measures_its_rate_again(held_out_run, capsys):
    summary = json.loads((held_out_run / "summary.json").read_text())
    config_seed = 0
    assert main([str(held_out_run), "levels=held_out", f"seed={config_seed + 200_000}"]) == 0
    records = _records(capsys.readouterr().out)
    solved = summary["held_out_solved"]
    assert set(records["name"]) == set(solved)
    assert (records.groupby("name").size() == 2).all()  # the run config's eval.held_out_episodes, not 1
    # the same policy, protocol and seed as the run's final held-out evaluation: the same rates
    assert records.groupby("name")["success"].mean().to_dict() == pytest.approx(solved)
    meta = json.loads((_records_dir(records, held_out_run) / "meta.json").read_text())
    assert meta["protocol"]["held_out"] == {"episodes": 2, "deterministic": False}  # dcd: the stochastic policy


def _records_dir(records: pd.DataFrame, run_dir: Path) -> Path:
    return max((run_dir / "evaluations").iterdir())


def test_unfinished_run_needs_checkpoint_latest(held_out_run, tmp_path, capsys):
    cut = tmp_path / held_out_run.name
    shutil.copytree(held_out_run, cut)
    (cut / "summary.json").unlink()
    (cut / "model.zip").unlink()
    assert main([str(cut), "levels=held_out", "episodes=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("teachbench-eval: error: run_dir: ") and "checkpoint=latest" in err[0]
    assert main([str(cut), "levels=held_out", "episodes=1", "deterministic=true", "checkpoint=latest"]) == 0
    out = capsys.readouterr().out
    assert "policy checkpoint step-" in out
    records = _records(out)
    assert (records.groupby("name").size() == 1).all()
    for bad, key in (("deterministic=maybe", "deterministic"), ("checkpoint=best", "checkpoint")):
        assert main([str(cut), bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"teachbench-eval: error: {key}: "), err


def test_all_plays_the_test_set_greedily_and_the_held_out_levels_by_protocol(held_out_run, capsys):
    assert main([str(held_out_run), "levels=all"]) == 0
    records = _records(capsys.readouterr().out)
    test = records[records["name"].str.startswith("test_")]
    held = records[~records["name"].str.startswith("test_")]
    n_test = json.loads((held_out_run / "summary.json").read_text())["test_tasks"]
    assert len(test) == n_test and (test.groupby("name").size() == 1).all()
    assert held["name"].nunique() == 13 and (held.groupby("name").size() == 2).all()
    meta = json.loads((_records_dir(records, held_out_run) / "meta.json").read_text())
    assert meta["protocol"] == {"test": {"episodes": 1, "deterministic": True},
                                "held_out": {"episodes": 2, "deterministic": False}}
