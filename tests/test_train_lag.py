"""``train_lag`` of GoalGAN and Setter-Solver (issue 18; ``teachers/refit.py``).

Facts checked: ``train_lag=0`` is the published schedule, unchanged (the tasks and the
checkpoint state of a fixed scenario equal those the code gave before the option existed,
``tests/data/train_lag_reference.json``); ``train_lag=1`` is deterministic for a seed and
the same in a worker process, a thread or inline; the networks it installs after round
``k + 1`` are exactly those the published schedule has after round ``k`` on the same
episodes (one round of staleness, nothing else); a checkpoint taken while a round is in
flight resumes as the uninterrupted run; bad values name their key.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from envs.errors import TeachBenchError
from teachers.base import Episode
from teachers.refit import NOT_YET, LaggedUpdate, decode, encode
from teachers.registry import make_teacher
from tests._cpu_references import matching, records
from tests._lag_scenarios import REFERENCE, SPACE, build, digest, play, record, success_prob

NAMES = ["goal_gan", "setter_solver"]
NETS = {"goal_gan": ("generator", "discriminator", "g_opt", "d_opt", "torch_rng"),
        "setter_solver": ("setter", "judge", "setter_opt", "judge_opt", "torch_rng")}


def rounds(teacher) -> int:
    return teacher.n_gan_updates if teacher.name == "goal_gan" else teacher.n_rounds


def nets_digest(teacher) -> str:
    """What a training round changes: weights, optimiser states, the torch generator."""
    algo = teacher.state_dict()["algo"]
    return digest({key: algo[key] for key in NETS[teacher.name]})


def roundtrip(state):
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def fixed_episodes(n_goals: int, seed: int) -> list[Episode]:
    """Episodes on goals that do not come from the teacher, each goal played twice in a row
    (GoalGAN's ``n_rollouts``), so that lag 0 and lag 1 label the same data."""
    rng = np.random.default_rng(seed)
    episodes = []
    for i in range(n_goals):
        u = rng.uniform(0.0, 0.7, size=2)
        task = SPACE.from_unit(u)
        for _ in range(2):
            ok = bool(rng.random() < success_prob(u))
            episodes.append(Episode(task=dict(task), episode_return=float(ok), length=1, success=ok,
                                    episode_id=len(episodes)))
    return episodes


def this_cpus_reference(name: str, got: dict) -> dict:
    """The record (one per CPU kind, ``tests/_cpu_references.py``) that ``got`` equals in full:
    the tasks, the checkpoint's digest (no new key, the same values) and the diagnostics."""
    got = json.loads(json.dumps(got))  # the JSON round trip the records took
    file = matching(REFERENCE, name, got)
    return records(REFERENCE)[file][name]


@pytest.mark.parametrize("name", NAMES)
def test_lag0_is_the_code_before_the_option(name):
    for kwargs in ({}, {"train_lag": 0, "train_worker": "thread"}):
        this_cpus_reference(name, record(name, **kwargs))


@pytest.mark.parametrize("name", NAMES)
def test_lag1_is_deterministic_and_the_same_in_every_worker(name):
    runs = {worker: record(name, train_lag=1, train_worker=worker) for worker in ("process", "thread", "inline")}
    again = record(name, train_lag=1, train_worker="inline")
    assert runs["process"] == runs["thread"] == runs["inline"] == again
    lag0 = this_cpus_reference(name, record(name))
    before = {"goal_gan": 17, "setter_solver": 9}[name]  # tasks sampled before the first round ends
    assert runs["inline"]["tasks"][:before] == lag0["tasks"][:before]
    assert runs["inline"]["tasks"] != lag0["tasks"]  # then sampling uses one round older networks


@pytest.mark.parametrize("name", NAMES)
def test_lag1_installs_after_round_k_plus_1_what_lag0_has_after_round_k(name):
    """The same episodes to both schedules: each round trains on the same data from the same
    networks; lag 1 only installs the result one round later."""
    episodes = fixed_episodes(150 if name == "goal_gan" else 60, seed=7)  # GoalGAN skips rounds without a good goal (TMA)
    lag0, lag1 = build(name, seed=5), build(name, seed=5, train_lag=1, train_worker="inline")
    after0, after1 = {0: nets_digest(lag0)}, {0: nets_digest(lag1)}
    for i, episode in enumerate(episodes):
        for teacher, after in ((lag0, after0), (lag1, after1)):
            if name == "goal_gan" and i % 2 == 0:  # GoalGAN labels only goals it awaits (TMA): await this one
                teacher._await(SPACE.to_unit(episode.task))
            before = rounds(teacher)
            teacher.update(Episode(**{**episode.__dict__, "task": dict(episode.task)}))
            if rounds(teacher) != before:
                assert rounds(teacher) == before + 1
                after[rounds(teacher)] = nets_digest(teacher)
    assert len(after0) >= 6
    assert len(after1) == len(after0) - 1  # the last round is still in flight
    assert all(after1[k] == after0[k] for k in after1)
    assert lag1.trainer.pending is not None


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_mid_round_resumes_as_the_uninterrupted_run(name):
    uninterrupted = record(name, train_lag=1, train_worker="inline")
    first = build(name, train_lag=1, train_worker="process")
    tasks: list[list[float]] = []
    rng = np.random.default_rng(11)
    play(first, 5, rng, tasks)
    assert first.trainer.pending is not None  # a round is in flight
    state = roundtrip(first.state_dict())
    first.trainer.close()
    resumed = build(name, seed=99, train_lag=1, train_worker="thread")  # another seed: all comes from the state
    resumed.load_state_dict(state)
    assert resumed.trainer.pending is not None  # started again
    play(resumed, 7, rng, tasks)
    if name == "setter_solver":
        tasks += [[t["a"], t["b"]] for t in (resumed.sample_with_feasibility(f) for f in (0.1, 0.5, 0.9))]
    assert tasks == uninterrupted["tasks"]
    assert digest(resumed.state_dict()) == uninterrupted["state"]
    resumed.trainer.close()


@pytest.mark.parametrize("name", NAMES)
def test_a_lag0_teacher_trains_a_checkpoint_round_in_flight_at_once(name):
    lagged = build(name, train_lag=1, train_worker="inline")
    play(lagged, 5, np.random.default_rng(1))
    assert lagged.trainer.pending is not None
    lag0 = build(name)
    lag0.load_state_dict(roundtrip(lagged.state_dict()))
    lagged._install(lagged.trainer.collect())  # what lag 1 installs at its next boundary
    assert nets_digest(lag0) == nets_digest(lagged) and rounds(lag0) == rounds(lagged)
    assert "train_pending" not in lag0.state_dict()["algo"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("key, value", [("train_lag", 2), ("train_lag", -1), ("train_lag", "1"), ("train_lag", True),
                                        ("train_lag", 0.5), ("train_worker", "gpu"), ("train_worker", None)])
def test_bad_values_name_the_key(name, key, value):
    from tests._lag_scenarios import PARAMS

    with pytest.raises(TeachBenchError, match=f"teacher.{key}"):
        make_teacher(name, SPACE, seed=0, **{**PARAMS[name], key: value})
    with pytest.raises(TeachBenchError, match="teacher.train_lags"):
        make_teacher(name, SPACE, seed=0, **PARAMS[name], train_lags=1)


def test_frames_round_trip_exactly():
    value = {"w": torch.randn(3, 4), "step": torch.tensor(7.0), "rng": torch.arange(5, dtype=torch.uint8),
             "idx": torch.tensor([1, 2], dtype=torch.int64), 0: {"x": np.linspace(0, 1, 7), "n": None},
             "f": [float("nan"), 1e-310, 0.1, True, "s", (1, 2)]}
    back = decode(encode(value))
    assert list(back) == list(value)
    for key in ("w", "step", "rng", "idx"):
        assert back[key].dtype == value[key].dtype and back[key].shape == value[key].shape
        assert torch.equal(back[key], value[key])
    assert back[0]["x"].tobytes() == value[0]["x"].tobytes() and back[0]["n"] is None
    assert np.isnan(back["f"][0]) and back["f"][1:] == [1e-310, 0.1, True, "s", [1, 2]]


def test_a_failing_round_in_the_worker_process_names_the_key():
    lagged = LaggedUpdate("goal_gan", 1, "process", "train")
    assert lagged.collect() is NOT_YET
    lagged.submit({"config": {}})
    with pytest.raises(TeachBenchError, match="(?s)teacher.train_worker.*KeyError"):
        lagged.collect()
    lagged.close()


def test_config_default_is_lag0_and_leaves_the_config_id_as_before():
    """The teacher configs carry train_lag: 0 and train_worker: process; at 0 the config id
    is that of the config without the keys (no existing run renamed), 1 is another run,
    and the worker is not part of the id (the same results)."""
    import copy

    from experiments.rundir import config_id

    cfg = {"name": "x", "seed": 0, "teacher": {"name": "goal_gan", "params": {"noise_std": 0.1, "train_lag": 0,
                                                                             "train_worker": "process"}}}
    before = copy.deepcopy(cfg)
    del before["teacher"]["params"]["train_lag"], before["teacher"]["params"]["train_worker"]
    assert config_id(cfg) == config_id(before)
    thread = copy.deepcopy(cfg)
    thread["teacher"]["params"]["train_worker"] = "thread"
    assert config_id(thread) == config_id(cfg)
    lag1 = copy.deepcopy(cfg)
    lag1["teacher"]["params"]["train_lag"] = 1
    assert config_id(lag1) != config_id(cfg)
    import yaml

    for name in NAMES:
        params = yaml.safe_load((Path(__file__).parents[1] / "configs" / "teacher" / f"{name}.yaml").read_text())["params"]
        assert params["train_lag"] == 0 and params["train_worker"] == "process"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_a_real_run_killed_with_a_round_in_flight_resumes_it(name, tmp_path, compose, monkeypatch):
    """The CLI run of ``tests/test_resume.py`` with ``train_lag=1``: SIGKILLed after its first
    checkpoint, resumed in this process; the checkpoint holds a round in flight and the
    resumed teacher starts it again from exactly the checkpoint's state."""
    from test_resume import ARGS, TEACHER_ARGS, _kill_mid_run, deep_equal

    from experiments.rundir import RunDir
    from experiments.running.run import run, run_dir_for
    from teachers.registry import teacher_class

    overrides = ["name=resume", f"teacher={name}", *ARGS, *TEACHER_ARGS[name], "teacher.params.train_lag=1"]
    _kill_mid_run(tmp_path, overrides)
    rd = RunDir(tmp_path / "runs" / "resume" / run_dir_for(compose(*overrides)).path.name)
    pointer = json.loads((rd.checkpoint_dir / "latest.json").read_text())
    ckpt = torch.load(rd.checkpoint_dir / pointer["dir"] / "state.pt", weights_only=True)
    assert ckpt["teacher"]["algo"]["train_pending"] is not None, "no round was in flight at the checkpoint"
    cls = teacher_class(name)
    original, loaded = cls.load_state_dict, []

    def spy(self, state):
        original(self, state)
        assert self.trainer.pending is not None  # started again
        loaded.append(self.state_dict())

    monkeypatch.setattr(cls, "load_state_dict", spy)
    summary = run(compose(*overrides))
    assert summary["resumed"] is True and len(loaded) == 1
    assert deep_equal(roundtrip(loaded[0]), ckpt["teacher"])
