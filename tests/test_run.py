"""A real run through Hydra's compose API: the files it writes, resume, and bad input."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from envs.errors import TeachBenchError
from experiments.rundir import RunDir
from experiments.running.curves import area_under_curve
from experiments.running.run import run, run_dir_for

FAST = ["budget.steps=3072", "eval.every=1024", "checkpoint.every=1024", "env.kwargs.max_steps=40"]
ROOT = Path(__file__).resolve().parents[1]


def test_ppo_run_writes_every_file(compose):
    cfg = compose("env=gridworld", "teacher=random", "student=ppo", "seed=3", *FAST)
    summary = run(cfg)
    rd = run_dir_for(cfg)
    assert re.fullmatch(r"gridworld__random__ppo__s3__[0-9a-f]{8}", rd.path.name)  # prefix + config id
    saved = OmegaConf.load(rd.config_path)
    assert saved.seed == 3 and saved.budget.steps == 3072 and saved.teacher.name == "random"
    episodes = rd.read("episodes")
    assert len(episodes) == summary["episodes"] > 20
    assert episodes["episode_id"].tolist() == list(range(len(episodes)))
    assert episodes["global_step"].is_monotonic_increasing
    assert {"task.size", "task.wall_density", "task.min_goal_distance", "episode_return", "success"} <= set(episodes)
    evals = rd.read("eval")
    test = evals[evals["split"] == "test"]
    assert test["eval_id"].nunique() >= 3 and len(test) == test["eval_id"].nunique() * summary["test_tasks"]
    assert 0.0 <= summary["final_mastered"] <= 100.0
    last = test[test["step"] == test["step"].max()]
    assert summary["final_mastered"] == pytest.approx(100.0 * last["mastered"].mean())
    assert not rd.read("teacher").empty
    assert summary["steps"] >= 3072 and summary["wall_time_s"] > 0
    assert rd.status()["state"] == "finished"
    held = evals[evals["split"] == "held_out"]
    assert set(held["name"]) == set(summary["held_out_solved"])
    # the final policy is kept beside the summary and loads without unpickling
    assert summary["model"] == "model.zip" and rd.model_path.is_file() and not (rd.path / "lock").exists()
    _final_policy_acts_like_the_trained_one(cfg, rd)
    # a rerun of a finished run is skipped and returns the same summary
    assert run(cfg)["episodes"] == summary["episodes"]


def _final_policy_acts_like_the_trained_one(cfg, rd):
    """model.zip holds the policy after the last update: the weights of the final
    checkpoint (taken when training ended), loaded with the safe loader."""
    import torch

    from students.build import load_student, make_student
    from students.vec import make_vec_env

    kwargs = OmegaConf.to_container(cfg.env.kwargs, resolve=True)
    vec = make_vec_env(cfg.env.name, kwargs, 2, "dummy", seed=0)
    env_students = OmegaConf.to_container(cfg.env.students, resolve=True)
    fresh = make_student("ppo", vec, params={}, env_defaults=env_students, seed=0)
    final = load_student(str(rd.model_path), fresh, vec)
    latest = json.loads((rd.checkpoint_dir / "latest.json").read_text())
    assert latest["step"] == rd.summary()["steps"]
    ckpt = load_student(str(rd.checkpoint_dir / latest["dir"] / "model.zip"), fresh, vec)
    for a, b in zip(final.policy.state_dict().values(), ckpt.policy.state_dict().values()):
        assert torch.equal(a, b)
    assert int(final.num_timesteps) == rd.summary()["steps"]
    vec.close()


def test_area_under_curve():
    assert area_under_curve([0, 50, 100], [0, 100, 100], 100) == pytest.approx(75.0)
    assert area_under_curve([100], [40], 100) == pytest.approx(40.0)


@pytest.mark.parametrize(
    "override, key",
    [
        ("budget.steps=0", "budget.steps"),
        ("budget.steps=-5", "budget.steps"),
        ("eval.every=0", "eval.every"),
        ("env.n_envs=0", "env.n_envs"),
        ("device=tpu", "device"),
        ("env.name=nowhere", "env.name"),
        ("teacher.name=oracle", "teacher.name"),
        ("student.algo=ddpg", "student.algo"),
        ("+teacher.params.colour=3", "teacher.colour"),
        ("+student.params.n_stepz=3", "student.params.n_stepz"),
        ("student=sac", "student.algo"),
    ],
)
def test_bad_config_values_raise_one_clear_error(compose, override, key):
    cfg = compose(*FAST, override)
    with pytest.raises(TeachBenchError) as err:
        run(cfg)
    assert err.value.key == key


def test_changed_budget_of_an_unfinished_run_is_refused(compose):
    run(compose("seed=1", *FAST))
    cfg = compose("seed=1", "budget.steps=4096", "eval.every=1024", "checkpoint.every=1024", "env.kwargs.max_steps=40",
                  "resume=true")
    os.remove(run_dir_for(cfg).summary_path)
    with pytest.raises(TeachBenchError, match="resume=extend") as err:
        run(cfg)
    assert err.value.key == "budget.steps"


def _cli(tmp_path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "experiments.running.cli", *args, f"runs_dir={tmp_path / 'runs'}"],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def test_cli_bad_input_exits_2_with_one_clear_line(tmp_path):
    out = _cli(tmp_path, "budget.steps=0")
    assert out.returncode == 2
    assert "teachbench: error: budget.steps: must be >= 1, got 0" in out.stderr
    assert "Traceback" not in out.stderr
    out = _cli(tmp_path, "teacher=oracle")
    assert out.returncode != 0 and "teacher" in out.stderr and "oracle" in out.stderr
    out = _cli(tmp_path, "budget.stepz=10")
    assert out.returncode != 0 and "stepz" in out.stderr
    out = _cli(tmp_path, "seed=[unclosed")
    assert out.returncode == 2 and "seed: malformed override" in out.stderr


def test_sweep_goes_on_past_a_failing_run(tmp_path):
    out = _cli(tmp_path, "-m", "student=ppo,sac", "name=sweep", *FAST)
    assert out.returncode == 0, out.stderr[-2000:]
    root = tmp_path / "runs" / "sweep"
    ppo, sac = (RunDir(next(root.glob(f"gridworld__random__{algo}__s0__*"))) for algo in ("ppo", "sac"))
    assert ppo.finished
    assert sac.status()["state"] == "failed" and "sac cannot act" in sac.status()["error"]
    assert "failed" in out.stdout and "gridworld" in out.stdout  # the leaderboard printed at sweep end


def test_killed_run_resumes_without_losing_or_repeating_episodes(tmp_path):
    args = ["name=kill", "budget.steps=24576", "eval.every=4096", "checkpoint.every=2048", "env.kwargs.max_steps=40"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "experiments.running.cli", f"runs_dir={tmp_path / 'runs'}", *args],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    pointers: list[Path] = []
    while time.time() < deadline:
        pointers = list((tmp_path / "runs" / "kill").glob("gridworld__random__ppo__s0__*/checkpoints/latest.json"))
        if pointers and json.loads(pointers[0].read_text())["step"] >= 8192:
            break
        time.sleep(0.05)
    pointer = pointers[0]
    rd = RunDir(pointer.parent.parent)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not rd.finished, "the run finished before it could be killed"
    killed_at = json.loads(pointer.read_text())["step"]
    out = _cli(tmp_path, *args)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = rd.summary()
    assert summary["resumed"] is True and summary["steps"] >= 24576
    episodes = rd.read("episodes")
    assert episodes["episode_id"].tolist() == list(range(summary["episodes"]))
    assert episodes["global_step"].is_monotonic_increasing
    assert (episodes["global_step"] > killed_at).any() and (episodes["global_step"] <= killed_at).any()
    evals = rd.read("eval")
    test = evals[evals["split"] == "test"]
    assert test.groupby("eval_id")["step"].nunique().eq(1).all()
    assert test.drop_duplicates("eval_id")["step"].is_monotonic_increasing
    assert not test.duplicated(["eval_id", "task_index"]).any()
    teacher_rows = rd.read("teacher")
    assert teacher_rows["step"].is_monotonic_increasing


def test_experiment_presets_compose_without_plus(compose):
    cfg = compose("experiment=quickstart")
    assert cfg.name == "quickstart" and cfg.env.kwargs.max_size == 9 and cfg.budget.steps == 80000


def test_paired_checkpoint_keeps_the_antagonist(compose):
    small = ["++teacher.params.batch_size=4", "++teacher.params.n_walls=10", "++teacher.params.conv_filters=4",
             "++teacher.params.lstm_hidden=16"]  # a small adversary: dcd's full one is a GPU network
    cfg = compose("teacher=paired", "name=paired_ckpt", *FAST, *small)
    run(cfg)
    rd = run_dir_for(cfg)
    latest = rd.checkpoint_dir / json.loads((rd.checkpoint_dir / "latest.json").read_text())["dir"]
    assert (latest / "antagonist.zip").exists()
    os.remove(rd.summary_path)  # unfinished again: the rerun resumes, loading both students
    summary = run(cfg)
    assert summary["resumed"] is True and summary["steps"] >= 3072


def test_an_interrupt_a_c_extension_turned_into_another_error_is_recorded_as_interrupted(compose, monkeypatch):
    """Session 22: a walker run cut by its sweep's timeout (SIGINT) inside Box2D's ray-cast callback
    surfaced as "TypeError: Expected tuple or list of length 2, got length -1" and was recorded as
    failed. Here a stand-in for the training loop receives a real SIGINT and, as such an extension
    does, swallows the KeyboardInterrupt and raises a TypeError: the run must be recorded as
    interrupted (rerun resumes it), and the same TypeError without a SIGINT stays a failure."""
    from experiments.running import run as run_module

    def interrupted_inside_an_extension(cfg, rd, extended_from=None):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler runs at the next bytecode boundary, well before this ends
        except KeyboardInterrupt:
            raise TypeError("Expected tuple or list of length 2, got length -1") from None
        raise AssertionError("SIGINT was not delivered")

    def plain_type_error(cfg, rd, extended_from=None):
        raise TypeError("Expected tuple or list of length 2, got length -1")

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # xdist workers may not have it
    try:
        monkeypatch.setattr(run_module, "_train", interrupted_inside_an_extension)
        cfg = compose("seed=5", *FAST)
        with pytest.raises(run_module.RunInterrupted, match="interrupted at step 0: rerun the same command"):
            run(cfg)
        assert run_dir_for(cfg).status()["state"] == "interrupted"
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the watch put it back
        monkeypatch.setattr(run_module, "_train", plain_type_error)
        cfg = compose("seed=6", *FAST)
        with pytest.raises(TypeError):
            run(cfg)
        status = run_dir_for(cfg).status()
        assert status["state"] == "failed" and status["error"].startswith("TypeError")
    finally:
        signal.signal(signal.SIGINT, previous)
