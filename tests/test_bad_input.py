"""Every bad input ends the same way: one line ``teachbench: error: <key>: ...`` on
stderr, exit status 2, no traceback and nothing written (the README's promise).

The table runs in-process through ``experiments.running.cli.main(argv)`` (most inputs fail while
the config is composed, in milliseconds); a few cases run as real subprocesses to check
the console behaviour end to end (no traceback, nothing else on stderr).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.running.cli import main

ROOT = Path(__file__).resolve().parents[1]

# (command-line arguments, the key the error line must name)
BAD_INPUTS: list[tuple[list[str], str]] = [
    # Hydra composition: unknown group options, empty choices, unknown keys, syntax
    (["env=nope"], "env"),
    (["teacher="], "teacher"),
    (["student=ddpg"], "student"),
    (["logger=x"], "logger"),
    (["experiment=x"], "experiment"),
    (["hydra/launcher=x"], "hydra/launcher"),
    (["env=[a,b]"], "env"),
    (["env=0"], "env"),
    (["--cfg", "job", "--info", "all"], "command line"),
    (["--info", "nope"], "--info"),
    (["teacher=random", "teacher=oracle"], "teacher"),
    (["budget.step=100"], "budget.step"),
    (["env.kwargs.bogus=1"], "env.kwargs.bogus"),
    (["student.params.x=1"], "student.params.x"),
    (["a.b=1"], "a.b"),
    (["+budget.steps=5"], "budget.steps"),
    (["+budget.step=100"], "budget.step"),
    (["+colour=1"], "colour"),
    (["+experiment=quickstart"], "experiment"),
    (["=5"], "=5"),
    (["env"], "env"),
    (["seed=[unclosed"], "seed"),
    (["seed=0,1"], "seed"),
    (["--bogus"], "--bogus"),
    (["--config-name=nope"], "--config-name"),
    (["-m", "env=nope,gridworld"], "env"),
    (["-m", "teacher=random,oracle"], "teacher"),
    (["-m", "seed=0,1", "budget.stp=4"], "budget.stp"),
    (["experiment=quickstart", "teacher=nope"], "teacher"),
    (["env=webform", "env.kwargs.bogus=3"], "env.kwargs.bogus"),
    # values
    (["budget.steps=-1"], "budget.steps"),
    (["budget.steps=0"], "budget.steps"),
    (["budget.steps=abc"], "budget.steps"),
    (["--cfg", "job", "budget.steps=-1"], "budget.steps"),
    (["--cfg", "job", "student=sac"], "student.algo"),
    (["budget=5"], "budget.steps"),
    (["budget.steps=${x}"], "budget.steps"),
    (["eval.every=0"], "eval.every"),
    (["eval.episodes_per_task=-3"], "eval.episodes_per_task"),
    (["eval.n_envs=0"], "eval.n_envs"),
    (["eval.held_out=maybe"], "eval.held_out"),
    (["checkpoint.every=0"], "checkpoint.every"),
    (["log.flush_every=0"], "log.flush_every"),
    (["log.progress_bar=maybe"], "log.progress_bar"),
    (["env.n_envs=0"], "env.n_envs"),
    (["env.n_envs=100000", "budget.steps=2000"], "budget.steps"),  # one rollout of 12.8M steps
    (["env=walker_stumps", "budget.steps=2000"], "budget.steps"),  # 16 envs x 1250 steps per rollout
    (["student=dqn", "env.n_envs=5000", "budget.steps=2000"], "budget.steps"),
    (["env.normalize=3"], "env.normalize"),
    (["env=walker_obstacles", "env.normalize=obs"], "env.normalize"),
    (["env.vec_env=threads"], "env.vec_env"),
    (["torch_threads=0"], "torch_threads"),
    (["seed=-1"], "seed"),
    (["resume=3"], "resume"),
    (["device=tpu"], "device"),
    (["name=a/b"], "name"),
    (["name=.hidden"], "name"),
    (["runs_dir="], "runs_dir"),
    (["~env"], "env"),
    (["env.name=nowhere"], "env.name"),
    (["teacher.name=oracle"], "teacher.name"),
    (["student.algo=ddpg"], "student.algo"),
    (["env.kwargs.max_size=abc"], "env.kwargs"),
    (["env.kwargs.max_steps=0"], "env.kwargs.max_steps"),
    (["env.kwargs.view=abc"], "env.kwargs.view"),
    (["+env.kwargs.colour=3"], "env.kwargs.colour"),
    (["teacher.params=5"], "teacher.params"),
    (["+teacher.params.colour=3"], "colour"),
    (["teacher=alp_gmm", "teacher.params.fit_rate=-1"], "fit_rate"),
    (["teacher=alp_gmm", "teacher.params.preset=nope"], "preset"),
    # choices that cannot work together
    (["student=maskable_ppo"], "student.algo"),
    (["student=sac"], "student.algo"),
    (["env=walker_stumps", "student=dqn"], "student.algo"),
    (["env=webform", "student=sac"], "student.algo"),
    (["teacher=plr_robust", "student=dqn"], "student.algo"),
    (["teacher=plr", "student=dqn"], "student.algo"),
    (["teacher=accel", "student=dqn"], "student.algo"),
    (["teacher=paired", "student=dqn"], "student.algo"),
    (["student.policy=bogus"], "student.policy"),
    (["env=walker_stumps", "student.policy=cnn"], "student.policy"),
    # student hyperparameters, checked before SB3 sees them
    (["+student.params.learning_rate=-1"], "student.params.learning_rate"),
    (["+student.params.n_steps=abc"], "student.params.n_steps"),
    (["+student.params.batch_size=0"], "student.params.batch_size"),
    (["+student.params.batch_size=1"], "student.params.batch_size"),
    (["+student.params.bogus=1"], "student.params.bogus"),
    (["+student.params.gamma=1.5"], "student.params.gamma"),
    (["+student.params.ent_coef=nan"], "student.params.ent_coef"),
    (["+student.params.n_epochs=1.5"], "student.params.n_epochs"),
    (["+student.params.policy_kwargs=5"], "student.params.policy_kwargs"),
    (["+student.params.seed=3"], "student.params.seed"),
    (["student.params=5"], "student.params"),
    (["student=a2c", "+student.params.n_steps=0"], "student.params.n_steps"),
    (["student=dqn", "+student.params.buffer_size=0"], "student.params.buffer_size"),
    (["student=dqn", "+student.params.exploration_fraction=2"], "student.params.exploration_fraction"),
    (["student=dqn", "+student.params.train_freq=[4,hour]"], "student.params.train_freq"),
    (["env=walker_stumps", "student=sac", "+student.params.tau=0"], "student.params.tau"),
]


@pytest.mark.parametrize("args,key", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_naming_the_key(args, key, tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main([*args, f"runs_dir={runs}"] if "runs_dir=" not in args else args)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("teachbench: error: "), lines[0]
    assert key in lines[0], lines[0]
    assert "Traceback" not in err
    assert not runs.exists(), sorted(str(p) for p in runs.rglob("*"))


def test_table_covers_at_least_sixty_inputs():
    assert len(BAD_INPUTS) >= 60


def test_error_line_has_the_documented_shape(tmp_path, capsys):
    assert main(["env=nope", f"runs_dir={tmp_path}"]) == 2
    line = capsys.readouterr().err.strip()
    options = ", ".join(sorted(p.stem for p in (Path(__file__).parents[1] / "configs" / "env").glob("*.yaml")))
    assert line == f"teachbench: error: env: unknown option 'nope' (allowed: {options})"


def test_unknown_key_lists_its_neighbours(tmp_path, capsys):
    assert main(["budget.step=100", f"runs_dir={tmp_path}"]) == 2
    assert capsys.readouterr().err.strip().endswith("(allowed: steps)")


def test_valid_cfg_job_still_prints_the_config(capsys):
    assert main(["--cfg", "job", "env=gridworld_small"]) == 0
    out = capsys.readouterr()
    assert "label: gridworld_small" in out.out and out.err == ""


SUBPROCESS_CASES = [["=5"], ["env=nope"], ["student=maskable_ppo"], ["--cfg", "job", "budget.steps=-1"],
                    ["-m", "teacher=random,oracle"]]


@pytest.mark.parametrize("args", SUBPROCESS_CASES, ids=[" ".join(a) for a in SUBPROCESS_CASES])
def test_console_bad_input_exits_2_with_one_line(args, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    out = subprocess.run([sys.executable, "-m", "experiments.running.cli", *args, f"runs_dir={tmp_path / 'runs'}"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.splitlines()) == 1 and out.stderr.startswith("teachbench: error: "), out.stderr
    assert not (tmp_path / "runs").exists()


# the other console scripts print the same line, with their own name
LEADERBOARD_INPUTS = [([], "runs_dir"), (["{tmp}/nowhere"], "runs_dir"), (["{tmp}", "--reps", "0"], "--reps"),
                      (["{tmp}", "--reps", "x"], "--reps"), (["{tmp}", "--bogus"], "--bogus")]
TRACK_INPUTS = [(["toy=nope"], "toy"), (["bogus=1"], "bogus"), (["--cfg", "job", "toy=x"], "toy"),
                (["seeds=0,1"], "seeds"), (["teacher@teachers.x=nope"], "teacher"),
                (["only=[nope]"], "only")]  # a TeachBenchError raised by the track itself


@pytest.mark.parametrize("args,key", LEADERBOARD_INPUTS, ids=[" ".join(a) for a, _ in LEADERBOARD_INPUTS])
def test_leaderboard_bad_input_is_the_same_line(args, key, tmp_path, capsys):
    from experiments.reporting.cli import main as leaderboard

    assert leaderboard([a.format(tmp=tmp_path) for a in args]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"teachbench-leaderboard: error: {key}"), lines


@pytest.mark.parametrize("args,key", TRACK_INPUTS, ids=[" ".join(a) for a in (a for a, _ in TRACK_INPUTS)])
def test_track_bad_input_is_the_same_line(args, key, tmp_path, capsys):
    from experiments.running.teacher_track import main as track

    assert track([*args, f"runs_dir={tmp_path / 'runs'}"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"teachbench-track: error: {key}"), lines
    assert not (tmp_path / "runs").exists()


def test_folder_that_cannot_be_written_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main([f"runs_dir={blocker / 'runs'}", "budget.steps=1024"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"teachbench: error: {blocker / 'runs'}"), lines


def test_ctrl_c_is_one_line_without_traceback(capsys):
    from experiments.console import report_errors

    def interrupted() -> int:
        raise KeyboardInterrupt("interrupted at step 4096: rerun the same command to resume")

    assert report_errors("teachbench", interrupted) == 130
    assert capsys.readouterr().err == "teachbench: interrupted at step 4096: rerun the same command to resume\n"
