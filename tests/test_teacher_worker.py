"""The teacher in a worker process (``teacher_process: true``, students/teacher_worker.py).

The claim its docstring makes, checked on real batched mazes: with the worker, a run plays
exactly the episodes of the in-process bridge with a look-ahead of two (the same tasks, the
same returns, on the same sub-envs, in the same order), and the teacher ends in the same state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import envs  # noqa: F401  (registers the benchmark envs)
from envs.errors import TeachBenchError
from students.bridge import Curriculum
from students.teacher_worker import TeacherProcess
from students.vec import make_vec_env
from teachers.protocol import make_protocol_teacher

N_ENVS = 12
STEPS = 400
ROOT = Path(__file__).resolve().parents[1]
#: the gridworld's expert knowledge (ADR's start box and thresholds), as a run gives it
EXPERT = yaml.safe_load((ROOT / "configs" / "env" / "gridworld.yaml").read_text())["expert"]
FACTORY = "teachers.protocol:make_protocol_teacher"


def _args(name: str, space: Any, seed: int, **params: Any) -> tuple[Any, ...]:
    """``make_protocol_teacher``'s arguments; ADR gets the env's expert block, as its config does."""
    if name == "adr":
        params["expert"] = EXPERT
    return name, space, seed, params, None, None


def _play(teacher: Any, lookahead: int) -> tuple[list[tuple[Any, ...]], list[list[Any]], dict[str, Any]]:
    """Random actions on batched mazes through the bridge: every finished episode, the queues
    left at the end, and the teacher's state."""
    vec = make_vec_env("gridworld", {"max_steps": 12}, N_ENVS, "batched", seed=3)
    try:
        curriculum = Curriculum(teacher, vec, lookahead=lookahead)
        curriculum.prime()
        vec.reset()
        actions = np.random.default_rng(0).integers(3, size=(STEPS, N_ENVS))
        played = []
        for t in range(STEPS):
            _, _, dones, infos = vec.step(actions[t])
            for e in curriculum.on_step(dones, infos, t * N_ENVS):
                played.append((e.episode_id, e.env_index, sorted(e.task.items()), e.episode_return, e.length))
        pending = curriculum.pending()
        return played, pending, teacher.state_dict()
    finally:
        vec.close()


def _space() -> Any:
    vec = make_vec_env("gridworld", {"max_steps": 12}, 1, "batched", seed=0)
    try:
        return vec.get_attr("task_space", indices=[0])[0]
    finally:
        vec.close()


def _same_state(a: Any, b: Any) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same_state(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same_state(x, y)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


@pytest.mark.parametrize("name", ["riac", "alp_gmm", "adr"])
def test_worker_plays_the_in_process_episodes_with_a_lookahead_of_two(name: str) -> None:
    space = _space()
    local = make_protocol_teacher(*_args(name, space, 5))
    remote = TeacherProcess(FACTORY, _args(name, space, 5))
    try:
        expected = _play(local, lookahead=2)
        got = _play(remote, lookahead=1)  # the bridge adds the one step the worker lags
        assert len(expected[0]) > 150  # enough finished episodes for the teacher to learn (RIAC splits at 150)
        assert got[0] == expected[0]
        assert got[1] == expected[1]
        _same_state(got[2], expected[2])
        assert remote.n_updates == local.n_updates == len(expected[0])  # attributes through the proxy
        assert remote.diagnostics() == local.diagnostics()
    finally:
        remote.close()


def test_worker_differs_from_the_one_task_lookahead() -> None:
    """The look-ahead of two is a real change (why ``teacher_process`` is in the config id)."""
    space = _space()
    remote = TeacherProcess(FACTORY, _args("riac", space, 5))
    try:
        one = _play(make_protocol_teacher(*_args("riac", space, 5)), lookahead=1)[0]
        assert _play(remote, lookahead=1)[0] != one
    finally:
        remote.close()


def test_teachers_that_need_the_rollout_are_refused_naming_the_key() -> None:
    space = _space()
    with pytest.raises(TeachBenchError, match="teacher_process"):
        TeacherProcess(FACTORY, _args("plr", space, 0))


def test_an_error_in_the_worker_comes_back_with_its_key() -> None:
    space = _space()
    with pytest.raises(TeachBenchError, match="teacher.max_region_size"):
        TeacherProcess(FACTORY, _args("riac", space, 0, max_region_size=1))
    remote = TeacherProcess(FACTORY, _args("riac", space, 0))
    try:
        with pytest.raises(TeachBenchError, match="teacher.state"):
            remote.load_state_dict({"algo": {}, "name": "riac", "rng": remote.state_dict()["rng"],
                                    "counters": [0, 0, 0]})
        assert remote.sample()  # the worker keeps serving after an error
    finally:
        remote.close()


# -- through the runner ------------------------------------------------------------------------
RUN = ["budget.steps=3072", "eval.every=1024", "checkpoint.every=1024", "env.kwargs.max_steps=40",
       "+env.kwargs.n_test_tasks=6", "eval.held_out=false", "log.diagnostics_every=512",
       "teacher=riac", "++teacher.params.max_region_size=15", "seed=4"]


def test_a_run_with_the_worker_is_reproducible_and_its_own_experiment(compose) -> None:
    """Two runs of one config with ``teacher_process=true`` write the same tables (the worker
    keeps a seed's run deterministic); the teacher learned in them; and the key is in the
    config id (a run without it is another run), as the look-ahead differs."""
    import pandas as pd

    from experiments.running.run import run, run_dir_for

    dirs, summaries = [], []
    for copy in ("a", "b"):
        cfg = compose(f"name=worker_{copy}", "teacher_process=true", *RUN)
        summaries.append(run(cfg))
        dirs.append(run_dir_for(cfg))
    for table in ("episodes", "eval", "teacher"):
        pd.testing.assert_frame_equal(dirs[0].read(table), dirs[1].read(table), check_exact=True)
    diag = dirs[0].read("teacher")
    assert diag["n_splits"].max() > 0  # RIAC split its tree in the worker: it learned
    assert summaries[0]["episodes"] == len(dirs[0].read("episodes")) > 50
    plain = run_dir_for(compose("name=worker_a", *RUN))
    assert plain.path != dirs[0].path


def test_rollout_teachers_with_the_worker_are_a_config_error(compose) -> None:
    from experiments.running.config_checks import validate_config

    with pytest.raises(TeachBenchError, match="^teacher_process"):
        validate_config(compose("teacher=plr", "teacher_process=true"))
    with pytest.raises(TeachBenchError, match="^teacher_process"):
        validate_config(compose("teacher_process=maybe"))


def test_a_killed_run_with_the_worker_resumes_with_no_episode_lost(tmp_path, compose) -> None:
    """SIGKILL a few thousand steps after the first checkpoint (tests/test_resume.py's driver),
    then resume: the checkpoint took the tasks in flight, so the resumed run numbers every
    episode once and its teacher continues from the checkpointed state."""
    import json

    import torch
    from test_resume import ARGS, _kill_mid_run

    from experiments.rundir import RunDir
    from experiments.running.run import run, run_dir_for

    overrides = ["name=resume_worker", "teacher=riac", "teacher_process=true", *ARGS,
                 "++teacher.params.max_region_size=15"]
    _kill_mid_run(tmp_path, overrides)
    rd = RunDir(tmp_path / "runs" / "resume_worker" / run_dir_for(compose(*overrides)).path.name)
    pointer = json.loads((rd.checkpoint_dir / "latest.json").read_text())
    ckpt = torch.load(rd.checkpoint_dir / pointer["dir"] / "state.pt", weights_only=True)
    assert ckpt["teacher"]["name"] == "riac" and ckpt["teacher"]["counters"][1] > 0
    assert all(len(queue) >= 2 for queue in ckpt["pending"])  # every sub-env holds its two-task look-ahead
    summary = run(compose(*overrides))
    assert summary["resumed"] is True
    after = rd.read("episodes")
    assert after["episode_id"].tolist() == list(range(summary["episodes"]))
    # the resumed teacher continued from the checkpoint's counters: at the final checkpoint it
    # has learned from every episode of the run once (a fresh teacher would count fewer)
    final = json.loads((rd.checkpoint_dir / "latest.json").read_text())
    end = torch.load(rd.checkpoint_dir / final["dir"] / "state.pt", weights_only=True)
    assert final["step"] >= 4096 and end["teacher"]["counters"][1] == summary["episodes"]


def test_steps_too_large_for_the_shared_block_go_by_pipe(monkeypatch) -> None:
    """A request or answer larger than the shared block travels on the pipe; the run is the
    same. (The block is shrunk here so that most steps overflow it, mixed with steps that fit.)"""
    import students.teacher_worker as tw

    space = _space()
    expected = _play(make_protocol_teacher(*_args("riac", space, 5)), lookahead=2)
    monkeypatch.setattr(tw, "BLOCK_BYTES", 700)  # this process's side: requests above ~3 episodes overflow
    remote = TeacherProcess(FACTORY, _args("riac", space, 5))
    piped: list[int] = []
    send = remote._send

    def counting_send(message: Any) -> None:
        if message[0] == "step":
            piped.append(len(message[2]))
        send(message)

    remote._send = counting_send  # type: ignore[method-assign]
    try:
        got = _play(remote, lookahead=1)
        assert got[0] == expected[0] and got[1] == expected[1]
        assert 0 < len(piped) < remote._seq  # some steps by pipe, more through the block
    finally:
        remote.close()


def test_the_worker_outlives_ctrl_c_and_exits_with_its_run() -> None:
    """Ctrl-C reaches the worker too (one process group): it ignores it, so the run can still
    checkpoint its teacher; closing the proxy ends the worker and frees its shared block."""
    import os
    import signal
    import time

    remote = TeacherProcess(FACTORY, _args("riac", _space(), 0))
    try:
        os.kill(remote._proc.pid, signal.SIGINT)
        time.sleep(0.3)
        assert remote._proc.poll() is None and remote.state_dict()["name"] == "riac"
    finally:
        remote.close()
    assert remote._proc.poll() is not None and "_shm" not in remote.__dict__
