"""Session 9's device results, read back: DR vs PLR on dcd's 25-block maze
(experiments/results/ued_dcd25_plr/). The runs' PLR is dcd's ``mg_25b_plr`` config; the
table's numbers are worked out here by hand from the per-seed evaluations; and making PLR
read the experiment's ``ued`` block left every earlier PLR run's config id as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.reporting.results_scripts import load_script, run_config

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"
PLR25 = RESULTS / "ued_dcd25_plr"


def _run_config(teacher: str, seed: int) -> dict:
    return run_config(PLR25 / "runs_slim.tar.gz", teacher, seed)


def test_the_plr_runs_used_dcds_mg_25b_plr_settings():
    # dcd train_scripts/grid_configs/minigrid/25_blocks/mg_25b_plr.json: level_replay_prob 0.5,
    # level_replay_temperature 0.1, staleness_coef 0.3, level_replay_rho (minimum fill) 0.5,
    # seed buffer 4000, grounded_signed_value_loss (MaxMC) with rank scores, dcd's default
    # "proportionate" schedule; student lr 1e-4, gamma 0.995, 5 epochs, entropy 0.01
    cfg = _run_config("plr", 0)
    p = cfg["teacher"]["params"]
    assert (p["replay_prob"], p["temperature"], p["staleness_coef"], p["min_fill"]) == (0.5, 0.1, 0.3, 0.5)
    assert (p["buffer_size"], p["score"], p["prioritization"], p["replay_schedule"]) == (4000, "maxmc", "rank",
                                                                                        "proportionate")
    s = cfg["student"]["params"]
    assert (s["learning_rate"], s["gamma"], s["n_epochs"], s["ent_coef"]) == (1e-4, 0.995, 5, 0.01)
    assert _run_config("random", 0)["student"]["params"]["ent_coef"] == 0.01  # mg_25b_dr: 0.01 too


def test_plr_reads_the_ued_block_only_where_an_experiment_sets_it(compose):
    from experiments.running.config_checks import resolve_auto_params, resolved_config
    from experiments.rundir import config_id

    dcd25 = compose("experiment=ued_maze_dcd25", "teacher=plr").teacher.params
    assert (dcd25.temperature, dcd25.staleness_coef, dcd25.replay_schedule) == (0.1, 0.3, "proportionate")
    plain = compose("teacher=plr").teacher.params
    assert (plain.temperature, plain.staleness_coef) == (0.3, 0.3) and "replay_schedule" not in plain
    # ids of earlier runs (experiments/results/leaderboard_2026-11-30/call2_gridworld.tar.gz,
    # s6_local_web.tar.gz): the same config ids after the change
    for experiment, known in (("baseline_gridworld", "2db653e1"), ("baseline_webform", "b051420d")):
        cfg = compose(f"experiment={experiment}", "teacher=plr", "seed=2")
        resolve_auto_params(cfg)
        assert config_id(resolved_config(cfg)) == known


def test_the_table_is_the_per_seed_evaluations_worked_out_by_hand():
    summarise = load_script(PLR25 / "summarise.py")
    test, held, diag = summarise.load()
    at = test[test["step"] == 22_001_664].sort_values("seed")
    dr = at[at["teacher"] == "random"]["mastered_pct"].to_numpy()
    plr = at[at["teacher"] == "plr"]["mastered_pct"].to_numpy()
    # 50 test levels, so each seed's % is a multiple of 2
    assert dr.tolist() == [96.0, 96.0, 88.0, 86.0, 94.0] and plr.tolist() == [86.0, 72.0, 84.0, 84.0, 80.0]
    # P(PLR seed > DR seed), ties half: only PLR's 86 ties DR's 86, so 0.5 of 25 pairs
    rows = {r["teacher"]: r for r in summarise.compare(at, "mastered_pct", 22_001_664)}
    assert rows["PLR"]["p_above_dr"] == pytest.approx(0.5 / 25)
    assert rows["DR"]["mean"] == pytest.approx(92.0) and rows["PLR"]["mean"] == pytest.approx(81.2)
    means = summarise.held_out_means(held)
    at20 = means[means["step"] == 20_001_024]
    assert len(at20) == 10 and set(held["maze"]) >= set(summarise.DCD25_MAZES) and held["maze"].nunique() == 13
    dcd7 = at20.groupby("teacher")["held_out_dcd7"].mean()
    assert dcd7["random"] == pytest.approx(23.74, abs=0.01) and dcd7["plr"] == pytest.approx(15.23, abs=0.01)
    # 100 episodes per maze (dcd's published protocol): whole percents, not all multiples of 10
    assert (held["solved_pct"].round(6) % 1 == 0).all() and (held["solved_pct"].round(6) % 10 != 0).any()
    # PLR's curriculum ran: about half its episodes replayed from a full 4000-level buffer
    assert len(diag) == 5 and diag["replay_fraction"].between(0.45, 0.5).all() and (diag["buffer_fill"] == 1).all()


def test_the_audit_reruns_table_uses_the_committed_random_runs_and_says_what_the_readme_says():
    summarise = load_script(RESULTS / "teacher_audit_reruns" / "summarise.py")
    new = summarise.table().set_index(["experiment", "env", "teacher"])
    old = summarise.committed().set_index(["experiment", "env", "teacher"])
    for row in (("baseline", "gridworld", "random"), ("baseline", "webform", "random"),
                ("track_full", "toy-default", "random")):  # the same Random runs (the track reran its own)
        assert new.loc[row, "final_mastered_mean"] == pytest.approx(old.loc[row, "final_mastered_mean"])
    # Setter-Solver on the toy track: TMA's flow masters a third of the cells, where the old setter mastered none
    setter = new.loc[("track_full", "toy-default", "setter_solver")]
    assert setter["seeds"] == 10 and setter["final_mastered_mean"] == pytest.approx(33.0)
    assert old.loc[("track_full", "toy-default", "setter_solver"), "final_mastered_mean"] == 0.0
    assert setter["p_improve"] == 1.0  # every seed above every Random seed
    # the gridworld SPDL seeds all end below every Random seed: P = 0 exactly
    assert new.loc[("baseline", "gridworld", "spdl"), "p_improve"] == 0.0
    assert new.loc[("baseline", "webform", "adr"), "p_improve_lo"] > 0.5  # still above Random
    # the gridworld Setter-Solver rerun: below Random, its interval below 0.5
    for teacher in ("covar_gmm", "setter_solver"):
        assert new.loc[("baseline", "gridworld", teacher), "seeds"] == 5
    assert new.loc[("baseline", "gridworld", "setter_solver"), "p_improve_hi"] < 0.5
    # Covar-GMM: seeds 52.8 54.4 59.2 63.6 65.2 against Random's 62.0 62.8 65.2 65.6 66.0 win
    # 2 + 2.5 (a tie at 65.2) of 25 pairs; its interval's upper end is 0.50 in the rebuilt
    # table, a tie by a hair (0.48, below, here when this table's rows shared one stream)
    covar = new.loc[("baseline", "gridworld", "covar_gmm")]
    assert covar["p_improve"] == pytest.approx(4.5 / 25) and covar["p_improve_hi"] == pytest.approx(0.50)
    # each row's bootstrap has its own seed, so this four-teacher table's intervals are the
    # committed table's, to the bit (experiments/reporting/leaderboard.py, keyed_rng)
    board = pd.read_csv(RESULTS.parent.parent / "leaderboard" / "leaderboard.csv").set_index(
        ["experiment", "env", "teacher"])
    for col in ("final_mastered_lo", "final_mastered_hi", "p_improve_lo", "p_improve_hi"):
        assert np.array_equal(new[col].to_numpy(float), board.loc[new.index, col].to_numpy(float), equal_nan=True), col
