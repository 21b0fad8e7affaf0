"""The analysis API on run directories with known numbers."""

from __future__ import annotations

import numpy as np
import pytest

from _fake_runs import fake_run
from envs.errors import TeachBenchError
from experiments.reporting import analysis as A


@pytest.fixture
def runs(tmp_path):
    for seed in range(3):
        fake_run(tmp_path, teacher="random", seed=seed, skill=0.4)
        fake_run(tmp_path, teacher="alp_gmm", seed=seed, skill=0.8 + 0.1 * seed)
    fake_run(tmp_path, teacher="alp_gmm", seed=9, state="failed")
    return A.load_runs(tmp_path)


def test_tables_carry_identity_and_skip_unfinished(runs):
    evals = A.load_evaluations(runs)
    assert set(evals["teacher"]) == {"random", "alp_gmm"} and evals["seed"].nunique() == 3
    assert {"experiment", "env", "student", "run", "task.x", "task.y", "mastered"} <= set(evals.columns)
    assert 9 in set(A.load_evaluations(runs, states=None)["seed"])
    assert len(A.load_episodes(runs)) == 6 * 40
    assert A.task_columns(A.load_episodes(runs)) == ["task.x", "task.y"]
    assert not A.load_teacher_diagnostics(runs).empty
    with pytest.raises(TeachBenchError) as err:
        A.load_table(runs, "checkpoints")
    assert err.value.key == "table"


def test_curves_end_at_the_summaries_and_bands_hold_the_mean(runs):
    curves = A.mastery_curves(A.load_evaluations(runs))
    finals = curves.sort_values("step").groupby("run").tail(1).set_index("run")["mastered_pct"]
    finished = runs[runs["state"] == "finished"].set_index("run")
    assert finals.sort_index().to_numpy() == pytest.approx(finished.loc[finals.index.sort_values(), "final_mastered"].to_numpy())
    bands = A.learning_curves(curves, points=11, reps=300)
    assert set(bands["seeds"]) == {3}
    assert (bands["lo"] <= bands["mean"] + 1e-9).all() and (bands["mean"] <= bands["hi"] + 1e-9).all()
    last = bands[bands["step"] == bands["step"].max()].set_index("teacher")
    for teacher in ("random", "alp_gmm"):
        sel = finished[finished["teacher"] == teacher]["final_mastered"]
        assert last.loc[teacher, "mean"] == pytest.approx(sel.mean())
    # alp_gmm's seeds differ, so its band has width; random's seeds are identical
    assert (last.loc["alp_gmm", "hi"] - last.loc["alp_gmm", "lo"]) > 0
    assert last.loc["random", "hi"] == pytest.approx(last.loc["random", "lo"])
    # curves only go up here (mastery grows with steps), and the grid starts at step 0
    for _, b in bands.groupby("teacher"):
        assert np.all(np.diff(b["mean"].to_numpy()) >= -1e-9) and b["step"].min() == 0


def test_step_hold_never_reads_the_future():
    held = A._step_hold(np.array([0, 100, 200]), np.array([0.0, 10.0, 20.0]), np.array([0, 99, 100, 150, 250]))
    assert held.tolist() == [0.0, 0.0, 10.0, 10.0, 20.0]


def test_mastery_heatmap_matches_the_mastery_rule(runs):
    evals = A.load_evaluations(runs)
    table = A.mastery_heatmap(evals[evals["teacher"] == "alp_gmm"], bins=4)
    assert table.shape == (4, 4) and table.index.name == "y" and table.columns.name == "x"
    assert np.nanmax(table.to_numpy()) <= 100 and np.nanmin(table.to_numpy()) >= 0
    # the easy corner (low x, low y) is mastered at least as well as the hard one
    grid = table.to_numpy(float)
    easy, hard = grid[0, 0], grid[-1, -1]
    assert np.isnan(easy) or np.isnan(hard) or easy >= hard
    # by hand for the first seed's final evaluation, x-bin 0: tasks with x below the first edge
    one = evals[(evals["teacher"] == "random") & (evals["eval_id"] == evals["eval_id"].max())]
    overall = A.mastery_heatmap(one, "x", "y", bins=1)
    assert overall.iloc[0, 0] == pytest.approx(100 * one["mastered"].mean())
    with pytest.raises(TeachBenchError) as err:
        A.mastery_heatmap(evals, x="colour")
    assert err.value.key == "colour"


def test_sampled_tasks_follow_the_curriculum(runs):
    episodes = A.load_episodes(runs)
    summary = A.sampling_summary(episodes, phases=4)
    alp = summary[summary["teacher"] == "alp_gmm"].sort_values("phase")
    assert alp["x_mean"].is_monotonic_increasing and alp["x_mean"].iloc[-1] - alp["x_mean"].iloc[0] > 0.3
    rnd = summary[summary["teacher"] == "random"]
    assert rnd["x_mean"].max() - rnd["x_mean"].min() < 0.2
    assert summary.groupby("teacher")["episodes"].sum().to_dict() == {"alp_gmm": 120, "random": 120}
    tagged = A.sampled_tasks(episodes, phases=2)
    assert set(tagged["phase"]) == {0, 1}


def test_plots_have_a_panel_per_group(runs):
    import matplotlib

    matplotlib.use("Agg")
    evals = A.load_evaluations(runs)
    fig = A.plot_learning_curves(A.learning_curves(A.mastery_curves(evals), reps=100))
    assert len([a for a in fig.axes if a.get_visible()]) == 1 and len(fig.axes[0].get_lines()) == 2
    fig = A.plot_mastery_heatmaps(evals, bins=3)
    assert len([a for a in fig.axes if a.get_images()]) == 2
    fig = A.plot_sampled_over_time(A.load_episodes(runs), phases=3)
    assert len(fig.axes) == 2 * 3
    fig = A.plot_teacher_diagnostics(A.load_teacher_diagnostics(runs))
    assert fig.axes[0].get_title() in ("episodes", "n_fits")


def test_twenty_lines_of_a_panel_are_told_apart():
    """matplotlib's default colour cycle has ten colours (a 16-teacher panel gave two teachers one
    colour); ``line_style`` gives twenty distinct (colour, dash) pairs, then repeats."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assert len(plt.rcParams["axes.prop_cycle"].by_key()["color"]) == 10
    styles = [A.line_style(k) for k in range(20)]
    assert len({(s["color"], s["linestyle"]) for s in styles}) == 20 and len({s["color"] for s in styles}) == 20
    assert A.line_style(20) == A.line_style(0) and A.line_style(10)["linestyle"] == "--"
