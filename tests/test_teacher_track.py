"""The teacher track: Hydra config, run directories in the real-run format, leaderboard."""

from __future__ import annotations

import json

import numpy as np
import pytest

from envs.errors import TeachBenchError
from experiments.rundir import RunDir
from experiments.running.teacher_track import format_table, run_track, track_specs


def small(compose, *extra):
    return compose("seeds=2", "episodes=600", "eval_every=200", "workers=2",
                   "teachers.alp_gmm_corl2019.params.fit_rate=100", "teachers.covar_gmm.params.fit_rate=100",
                   *extra, config_name="track")


def test_config_composes_every_teacher_and_variant(compose):
    cfg = compose(config_name="track")
    assert set(cfg.teachers) == {"random", "alp_gmm_corl2019", "alp_gmm_tma2021", "riac", "covar_gmm", "adr", "spdl",
                                 "goal_gan", "setter_solver"}
    assert cfg.teachers.adr.params.expert.initial.mean.x0 == 0.05  # the toy's expert block
    assert compose("toy=highdim", config_name="track").teachers.adr.params.expert is None
    assert cfg.teachers.alp_gmm_corl2019.params.preset == "corl2019"
    assert list(cfg.teachers.alp_gmm_corl2019.params.reward_bounds) == [0.0, 1.0]
    assert cfg.teachers.alp_gmm_tma2021.params.reward_bounds == "preset"  # raw for tma2021
    assert (cfg.episodes, cfg.seeds, cfg.eval_every) == (20000, 10, 1000)
    for variant in ("noisy", "forgetting", "decay", "rugged", "unfeasible", "irrelevant", "highdim"):
        c = compose(f"toy={variant}", config_name="track")
        assert c.toy.name == variant and c.toy.kwargs.cells_per_dim in (3, 10)
    assert compose("toy=rugged", config_name="track").toy.kwargs.rugged is True
    with pytest.raises(TeachBenchError, match="only"):
        track_specs(compose("only=[nope]", config_name="track"))


def test_track_writes_real_run_directories_and_ranks_teachers(compose, tmp_path):
    cfg = small(compose, "only=[random,alp_gmm_corl2019,riac]")
    table = run_track(cfg)
    assert set(table["teacher"]) == {"random", "alp_gmm_corl2019", "riac"}
    assert (table["seeds"] == 2).all()
    text = format_table(table, "default")
    assert "mastered@600" in text and "riac" in text
    (path,) = (tmp_path / "runs" / "track").glob("toy-default__alp_gmm_corl2019__sim__s1__*")  # + config id
    rd = RunDir(path)
    assert rd.finished and rd.status()["state"] == "finished"
    episodes, evals, diag = rd.read("episodes"), rd.read("eval"), rd.read("teacher")
    assert len(episodes) == 600 and list(episodes["episode_id"]) == list(range(600))
    assert set(episodes.columns) >= {"episode_return", "success", "task.x0", "task.x1", "global_step"}
    assert len(evals) == 4 * 100 and sorted(evals["step"].unique()) == [0, 200, 400, 600]
    summary = rd.summary()
    last = evals[evals["step"] == 600]
    assert summary["final_mastered"] == pytest.approx(100 * last["mastered"].mean())
    assert summary["curve_steps"] == [0, 200, 400, 600]
    assert list(diag["step"]) == [0, 200, 400, 600] and diag["n_fits"].iloc[-1] == 6
    assert diag["reward_mode"].iloc[-1] == "normalised[0,1]"
    # the same episodes replayed by hand give the recorded final score (nothing lost or doubled)
    from envs.toy.student import SimulatedStudent

    student = SimulatedStudent(seed=1)
    for _, row in episodes.iterrows():
        student.practise([row["task.x0"], row["task.x1"]])
    assert student.score() == pytest.approx(summary["final_mastered"])
    # rerun: finished runs are skipped, the leaderboard is the same
    mtime = rd.summary_path.stat().st_mtime_ns
    again = run_track(cfg)
    assert rd.summary_path.stat().st_mtime_ns == mtime
    assert list(again["final_mean"]) == list(table["final_mean"])
    # the generic leaderboard reads track runs like real runs
    from experiments.reporting.leaderboard import collect_runs

    runs = collect_runs(tmp_path / "runs" / "track")
    assert len(runs) == 6 and set(runs["state"]) == {"finished"}
    assert set(runs["teacher"]) == {"random", "alp_gmm_corl2019", "riac"}


def test_variants_run_through_the_track(compose, tmp_path):
    for variant in ("forgetting", "unfeasible", "highdim"):
        cfg = compose(f"toy={variant}", "seeds=1", "episodes=300", "eval_every=150", "workers=1",
                      "only=[random,riac]", config_name="track")
        table = run_track(cfg)
        assert set(table["teacher"]) == {"random", "riac"}
        (path,) = (tmp_path / "runs" / "track").glob(f"toy-{variant}__riac__sim__s0__*/summary.json")
        assert json.loads(path.read_text())["env"] == f"toy-{variant}"
    assert np.isfinite(table["final_mean"]).all()


def test_sampling_plot_draws_samples_and_alp_coloured_gaussians(tmp_path):
    from experiments.reporting.sampling_plot import gmm_components, plot_sampling

    out = tmp_path / "alp.png"
    fig = plot_sampling("alp_gmm", episodes=600, panels=2, params={"reward_bounds": [0, 1], "fit_rate": 100},
                        out=str(out))
    assert out.stat().st_size > 10_000
    ax = fig.axes[1]
    assert len(ax.collections[0].get_offsets()) == 75  # the recent-sample window
    assert len(ax.patches) >= 2  # one ellipse per fitted component
    with pytest.raises(TeachBenchError, match="toy.n_dims"):
        plot_sampling("random", episodes=10, toy={"n_dims": 1})
    assert gmm_components(object()) == []


def test_the_track_runs_setter_solver_on_teachmyagents_own_schedule(compose):
    # TeachMyAgent's setter_solver.py: one Adam step (lr 3e-4) per round of ss_update_frequency=50
    # episodes, on that round's episodes, then the buffer is emptied
    p = compose(config_name="track").teachers.setter_solver.params
    assert (p.n_train_steps, p.batch_size, p.lr, p.buffer_size) == (1, None, 3e-4, 50)
    assert p.update_period == 50
