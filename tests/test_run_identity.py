"""Run identity (issue 23 finding 1, issue 17 "a finished run is reused with another config").

Reproduced first: the sweep of the issue, ``teacher=alp_gmm teacher.params.preset=corl2019,
tma2021 +student.params.learning_rate=0.0003,0.003``, gave one run directory (the name held
only env, teacher, student and seed) and one leaderboard row; a rerun with another
setting printed the old results. Now each sweep point is its own run directory (a config
id in its name), a finished run with another config is a new run, and a larger budget
continues a finished run only with ``resume=extend``.
"""

from __future__ import annotations

import json
import re

import pytest

from envs.errors import TeachBenchError
from experiments.reporting import leaderboard as lb
from experiments.running.config_checks import resolved_config
from experiments.rundir import NOT_IDENTITY, RunDir, config_id, identity
from experiments.running.run import run, run_dir_for

TINY = ["env=gridworld_small", "budget.steps=1024", "eval.every=1024", "checkpoint.every=1024",
        "env.kwargs.max_steps=30", "+env.kwargs.n_test_tasks=4", "eval.held_out=false", "log.progress_bar=false"]
SWEEP = [(preset, lr) for preset in ("corl2019", "tma2021") for lr in ("0.0003", "0.003")]


def _sweep_point(compose, preset, lr, *extra):
    return compose("name=hp", "teacher=alp_gmm", f"teacher.params.preset={preset}",
                   f"+student.params.learning_rate={lr}", *TINY, *extra)


def test_every_point_of_a_hyperparameter_sweep_is_its_own_run_dir(compose):
    dirs = {run_dir_for(_sweep_point(compose, p, lr)).path for p, lr in SWEEP}
    assert len(dirs) == 4  # was 1: the name held only (env, teacher, student, seed)
    for path in dirs:
        assert re.fullmatch(r"gridworld_small__alp_gmm__ppo__s0__[0-9a-f]{8}", path.name)
    # seeds of one point share the config id; the budget is recorded, not hashed (extension)
    a = run_dir_for(_sweep_point(compose, "corl2019", "0.003")).path.name
    b = run_dir_for(_sweep_point(compose, "corl2019", "0.003", "seed=1")).path.name
    c = run_dir_for(_sweep_point(compose, "corl2019", "0.003", "budget.steps=2048")).path.name
    assert a.split("__")[-1] == b.split("__")[-1] and b.startswith("gridworld_small__alp_gmm__ppo__s1__")
    assert a == c
    # settings that change nothing computed do not split a run
    for override in ("device=cpu", "torch_threads=2", "log.flush_every=7", "checkpoint.every=2048", "resume=false"):
        assert run_dir_for(_sweep_point(compose, "corl2019", "0.003", override)).path.name == a, override
    # every result-changing setting does
    for override in ("env.kwargs.max_size=7", "eval.every=512", "eval.n_envs=4", "env.n_envs=4",
                     "student.params.learning_rate=0.001", "+teacher.params.fit_rate=50"):
        assert run_dir_for(_sweep_point(compose, "corl2019", "0.003", override)).path.name != a, override


def test_config_id_is_the_hash_of_the_result_changing_keys():
    """The id is sha256 over the canonical JSON of the flattened identity (hand-computed)."""
    import hashlib

    cfg = {"name": "x", "seed": 3, "runs_dir": "r", "budget": {"steps": 10}, "device": "cpu",
           "env": {"name": "gridworld", "kwargs": {"max_size": 9}}, "teacher": {"name": "random", "params": {}}}
    assert identity(cfg) == {"env.name": "gridworld", "env.kwargs.max_size": 9, "teacher.name": "random",
                             "teacher.params": {}}
    text = '{"env.kwargs.max_size":9,"env.name":"gridworld","teacher.name":"random","teacher.params":{}}'
    assert config_id(cfg) == hashlib.sha256(text.encode()).hexdigest()[:8]
    assert {"budget.steps", "seed", "name", "runs_dir", "device"} <= set(NOT_IDENTITY)


def test_sweep_2x2_trains_4_runs_and_the_leaderboard_shows_4_rows(compose, tmp_path):
    for preset, lr in SWEEP:
        summary = run(_sweep_point(compose, preset, lr))
        assert summary["steps"] >= 1024 and "skipped" not in summary
    runs = lb.collect_runs(tmp_path / "runs" / "hp")
    assert len(runs) == 4 and set(runs["state"]) == {"finished"} and runs["config_id"].nunique() == 4
    table = lb.leaderboard(runs, reps=50)
    assert len(table) == 4
    assert {"config_id", "budget_steps"} <= set(lb.display_columns(table))  # the rows are told apart
    saved = {(r["teacher.params.preset"], r["student.params.learning_rate"])
             for r in (json.loads(json.dumps(_flat_config(p))) for p in runs["path"])}
    assert saved == {(p, float(lr)) for p, lr in SWEEP}


def _flat_config(path):
    from omegaconf import OmegaConf

    from experiments.rundir import flatten

    return flatten(OmegaConf.to_container(OmegaConf.load(f"{path}/config.yaml")))


def test_finished_run_with_another_config_is_a_new_run_and_a_larger_budget_continues_explicitly(compose):
    base = ["name=ext", *TINY, "env.students.ppo.n_steps=64"]  # rollouts of 512 steps
    first = run(compose(*base))
    rd = run_dir_for(compose(*base))
    assert rd.finished and first["steps"] == 1024
    # another env setting: a new run directory, never the old summary
    other = compose(*base, "env.kwargs.max_size=7")
    assert run_dir_for(other).path != rd.path
    assert run(other)["steps"] == 1024 and run_dir_for(other).finished
    # a larger budget without resume=extend: refused, one line naming the key
    with pytest.raises(TeachBenchError, match="resume=extend") as err:
        run(compose(*base, "budget.steps=2048"))
    assert err.value.key == "budget.steps" and rd.summary() == first  # untouched
    # a smaller budget: refused too (it is another run)
    with pytest.raises(TeachBenchError, match="smaller budget") as err:
        run(compose(*base, "budget.steps=512"))
    assert err.value.key == "budget.steps"
    # resume=extend: the same run continues from its final state to the new budget
    before = rd.read("episodes")
    extended = run(compose(*base, "budget.steps=2048", "resume=extend"))
    assert extended["steps"] == 2048 and extended["resumed"] is True and extended["extended_from"] == [1024]
    assert extended["budget_steps"] == 2048 and rd.summary() == json.loads(json.dumps(extended))
    after = rd.read("episodes")
    assert after["episode_id"].tolist() == list(range(extended["episodes"]))
    assert len(after) > len(before) and after.iloc[: len(before)]["global_step"].tolist() == \
        before["global_step"].tolist()  # the first 1024 steps are kept, not retrained
    assert after["global_step"].max() > 1024
    evals = rd.read("eval")
    assert sorted(evals["step"].unique())[-1] == 2048
    # rerunning the extended command now skips the finished 2048-step run
    assert run(compose(*base, "budget.steps=2048", "resume=extend"))["episodes"] == extended["episodes"]


def test_unknown_resume_value_is_refused(compose):
    with pytest.raises(TeachBenchError) as err:
        run(compose(*TINY, "resume=sometimes"))
    assert err.value.key == "resume" and "extend" in str(err.value)


def test_corrupted_summary_is_unfinished_to_the_runner_and_the_leaderboard(compose, tmp_path):
    """Finding 6: a torn summary.json was "finished" to the runner (skipped) and
    "incomplete" to the leaderboard. Now both say unfinished, and a rerun redoes it."""
    cfg = compose("name=torn", *TINY)
    summary = run(cfg)
    rd = run_dir_for(cfg)
    rd.summary_path.write_text('{"state": "finished", "steps": 10')  # torn
    assert not rd.finished
    runs = lb.collect_runs(tmp_path / "runs" / "torn")
    assert runs["state"].tolist() == ["incomplete"] and "unreadable" in runs["error"].iloc[0]
    again = run(cfg)  # resumes from the final checkpoint: nothing retrained, summary rewritten
    assert again["steps"] == summary["steps"] and again["episodes"] == summary["episodes"]
    assert again["final_mastered"] == summary["final_mastered"]
    assert rd.finished and lb.collect_runs(tmp_path / "runs" / "torn")["state"].tolist() == ["finished"]
    assert RunDir(rd.path).read("eval")["eval_id"].value_counts().max() == summary["test_tasks"]


def test_saved_config_hashes_to_the_directory_name(compose):
    cfg = compose("name=same", *TINY)
    run(cfg)
    rd = run_dir_for(cfg)
    from experiments.safe_config import load_run_config
    from omegaconf import OmegaConf

    saved = OmegaConf.to_container(load_run_config(rd.path))
    assert rd.path.name.endswith("__" + config_id(saved)) and config_id(saved) == config_id(resolved_config(cfg))
    assert rd.summary()["config_id"] == config_id(saved)
