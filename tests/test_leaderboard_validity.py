"""Leaderboard rows say whether they measure an algorithm (issue #20): the students'
gradient updates (flagged when no seed trained), whether the teacher ever updated its
curriculum (flagged when never), the evaluation episodes per test task (flagged below 5
on the stochastic RL envs), rows whose every seed ends at 0 % mastered (flagged: the floor),
and whether the P(> random) interval excludes 0.5.

The run directories are written in the real format without training; the facts they
carry are the ones the 2026-11-25 table hid: PLR⊥ whose buffer never replayed (0
gradient updates, 0 replays) and SPDL with 0 iterations."""

from __future__ import annotations

import inspect
import json
import math
import zipfile
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from experiments.reporting import validity
from experiments.reporting.leaderboard import display_columns, leaderboard
from experiments.reporting.runs import collect_runs
from experiments.rundir import RunDir


def write_run(root: Path, *, teacher: str, seed: int, final: float, experiment: str = "baseline",
              env: str = "gridworld", student: str = "ppo", diagnostics: dict | None = None,
              gradient_updates: int | None = None, episodes_per_task: int | None = 5, budget: int = 1000,
              model_updates: int | None = None) -> RunDir:
    """A finished run with the given final % mastered, teacher diagnostics, gradient
    updates (in the summary, or only in model.zip's ``data`` when ``model_updates``)."""
    rd = RunDir.for_run(root, experiment, env, teacher, student, seed)
    rd.create()
    cfg = {"name": experiment, "env": {"name": env, "label": env}, "teacher": {"name": teacher},
           "student": {"algo": student}, "seed": seed, "budget": {"steps": budget}}
    if episodes_per_task is not None:
        cfg["eval"] = {"every": budget, "episodes_per_task": episodes_per_task}
    OmegaConf.save(OmegaConf.create(cfg), rd.config_path)
    summary = {"state": "finished", "env": env, "teacher": teacher, "student": student, "seed": seed,
               "experiment": experiment, "steps": budget, "budget_steps": budget, "episodes": 10,
               "final_mastered": final, "auc_mastered": final / 2, "held_out_solved": {}, "wall_time_s": 1.0,
               "teacher_diagnostics": {"sampled": 10, "updates": 10, **(diagnostics or {})}}
    if gradient_updates is not None:
        summary["gradient_updates"] = gradient_updates
    if model_updates is not None:  # SB3's saved model: a zip whose "data" member is JSON
        with zipfile.ZipFile(rd.model_path, "w") as archive:
            archive.writestr("data", json.dumps({"_n_updates": model_updates, "n_epochs": 4}))
    rd.write_summary(summary)
    rd.set_status("finished", step=budget)
    return rd


@pytest.fixture
def board(tmp_path):
    for seed in range(5):
        write_run(tmp_path, teacher="random", seed=seed, final=40.0 + seed, gradient_updates=352)
        # ALP-GMM fitted and beats every Random seed: P(> random) = 1, interval [1, 1]
        write_run(tmp_path, teacher="alp_gmm", seed=seed, final=60.0 + seed, gradient_updates=352,
                  diagnostics={"n_fits": 12})
        # PLR⊥ whose buffer never replayed: no replay, no gradient step (the 2026-11-25 rows)
        write_run(tmp_path, teacher="plr_robust", seed=seed, final=1.0, gradient_updates=0,
                  diagnostics={"replayed": 0, "train_gradient_updates": 0})
        # SPDL within its offset: 0 iterations; the student trained (read from model.zip)
        write_run(tmp_path, teacher="spdl", seed=seed, final=40.0 + seed, model_updates=300,
                  diagnostics={"iterations": 0})
    return leaderboard(collect_runs(tmp_path), reps=300).set_index("teacher")


def test_rows_carry_gradient_updates_and_flag_untrained_rows(board):
    assert board.loc["random", "gradient_updates"] == 352 and board.loc["random", "trained_seeds"] == 5
    assert board.loc["random", "gradient_updates_text"] == "352 (5/5 trained)"
    assert board.loc["spdl", "gradient_updates"] == 300  # from model.zip's data member
    assert board.loc["plr_robust", "trained_seeds"] == 0
    assert "no seed trained" in board.loc["plr_robust", "flags"]
    assert "no seed trained" not in board.loc["alp_gmm", "flags"]


def test_teachers_that_never_updated_are_flagged(board):
    assert board.loc["random", "teacher_updated"] == "n/a"  # nothing to update: never flagged
    assert board.loc["alp_gmm", "teacher_updated_text"] == "yes (5/5)"
    assert board.loc["spdl", "teacher_updated"] == "never"
    assert board.loc["plr_robust", "teacher_updated"] == "never"
    assert "teacher never updated" in board.loc["spdl", "flags"]
    assert board.loc["alp_gmm", "flags"] == "" and board.loc["random", "flags"] == ""


def test_eval_episodes_per_task_are_shown_and_one_episode_is_flagged(board, tmp_path):
    assert board.loc["alp_gmm", "eval_episodes"] == 5
    for seed in range(3):
        write_run(tmp_path / "one", teacher="riac", seed=seed, final=10.0, gradient_updates=8, diagnostics={"n_splits": 2},
                  episodes_per_task=1)
    row = leaderboard(collect_runs(tmp_path / "one"), reps=100).iloc[0]
    assert row["eval_episodes"] == 1 and row["flags"] == "1 eval episode(s)/task < 5"


def test_rows_at_the_floor_are_flagged(tmp_path):
    """Every seed at 0 % mastered (TMA's Parkour at 250k steps): no teacher can be told apart there,
    and the row says so; one seed above 0 is enough to lift the flag."""
    for seed in range(3):
        for teacher in ("random", "alp_gmm"):
            write_run(tmp_path / "floor", teacher=teacher, seed=seed, final=0.0, gradient_updates=615,
                      diagnostics={"n_fits": 3})
        write_run(tmp_path / "floor", teacher="riac", seed=seed, final=2.0 if seed == 1 else 0.0, gradient_updates=615,
                  diagnostics={"n_splits": 2})
    rows = leaderboard(collect_runs(tmp_path / "floor"), reps=100).set_index("teacher")
    floor = "every seed at 0 % mastered (3/3): the floor, no teacher is told apart"
    assert rows.loc["random", "flags"] == floor and rows.loc["alp_gmm", "flags"] == floor
    assert rows.loc["riac", "flags"] == ""


def test_separation_from_random_uses_the_interval(board):
    # every ALP-GMM seed (60..64) above every Random seed (40..44): P = 1 with interval [1, 1]
    assert board.loc["alp_gmm", "p_improve"] == 1.0 and board.loc["alp_gmm", "p_improve_lo"] == 1.0
    assert board.loc["alp_gmm", "separates"] == "above"
    assert board.loc["plr_robust", "separates"] == "below"  # 1% vs 40-44%: P = 0
    # SPDL's seeds equal Random's seed for seed: P = 0.5, no separation
    assert board.loc["spdl", "p_improve"] == pytest.approx(0.5) and board.loc["spdl", "separates"] == ""
    cols = display_columns(board.reset_index())
    for col in ("iqm_final", "p_improve_text", "separates", "gradient_updates_text", "teacher_updated_text",
                "eval_episodes", "flags"):
        assert col in cols


def test_simulated_student_rows_are_not_flagged_for_gradients_or_eval_episodes(tmp_path):
    for seed in range(3):
        write_run(tmp_path, teacher="riac", seed=seed, final=60.0, student="sim", env="toy-default",
                  experiment="track_full", diagnostics={"n_splits": 4}, episodes_per_task=None)
    row = leaderboard(collect_runs(tmp_path), reps=100).iloc[0]
    assert math.isnan(row["gradient_updates"]) and row["flags"] == "" and row["teacher_updated"] == "yes"


def test_model_updates_reads_json_and_never_unpickles(tmp_path):
    path = tmp_path / "model.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps({"_n_updates": 40, "policy_class": {":serialized:": "gASV"}}))
    assert validity.model_updates(path) == 40
    assert math.isnan(validity.model_updates(tmp_path / "missing.zip"))
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    assert math.isnan(validity.model_updates(tmp_path / "bad.zip"))


def test_every_registered_teacher_says_what_an_update_is():
    """Every registry teacher is in TEACHER_UPDATE_KEYS, and each key it names is a key
    that teacher's code logs (the string appears in the source of a class of its MRO, or,
    for the maze PAIRED, of the adversary the runner attaches, whose diagnostics it adds)."""
    import students.paired_adversary
    from teachers.registry import TEACHERS, teacher_class

    attached = {name: inspect.getsource(students.paired_adversary) for name in ("paired", "minimax")}

    assert set(TEACHERS) == set(validity.TEACHER_UPDATE_KEYS)
    for name, keys in validity.TEACHER_UPDATE_KEYS.items():
        if keys is None:
            continue
        sources = "".join(inspect.getsource(c) for c in teacher_class(name).__mro__
                          if c.__module__.startswith("teachers.")) + attached.get(name, "")
        for key in keys:
            assert f'"{key}"' in sources, f"{name}: diagnostics key {key!r} not found in its code"


def test_teacher_update_verdicts():
    assert validity.teacher_updates("random", {}) is None
    assert validity.teacher_updates("adr", {"expansions": 3, "contractions": 2}) == 5
    assert math.isnan(validity.teacher_updates("adr", {"expansions": 3}))
    assert math.isnan(validity.teacher_updates("somebody_new", {"n_fits": 3}))
    assert validity.row_updated(["never", "yes"]) == "yes"
    assert validity.row_updated(["never", "unknown"]) == "unknown"
    assert validity.row_updated(["n/a", "n/a"]) == "n/a"


def test_random_of_another_experiment_keeps_the_across_env_baseline(tmp_path):
    """The track's Random (another teacher config) used to make the baseline's Random a
    "random@<id>" entry of the across-env table, which then had no P(> random)."""
    from experiments.reporting.leaderboard import aggregate

    for seed in range(3):
        write_run(tmp_path, teacher="random", seed=seed, final=10.0 + seed, gradient_updates=4)
        write_run(tmp_path, teacher="alp_gmm", seed=seed, final=30.0, gradient_updates=4, diagnostics={"n_fits": 2})
        write_run(tmp_path, teacher="random", seed=seed, final=1.0, student="sim", env="toy-default",
                  experiment="track_full", episodes_per_task=None)
    rd = RunDir.for_run(tmp_path, "track_full", "toy-default", "random", "sim", 0)
    cfg = OmegaConf.load(rd.config_path)
    cfg.teacher.registry = "random"  # the track's teacher block differs from a run's
    OmegaConf.save(cfg, rd.config_path)
    agg = aggregate(collect_runs(tmp_path), reps=100).set_index(["experiment", "teacher"])
    assert ("baseline", "random") in agg.index and agg.loc[("baseline", "alp_gmm"), "p_improve"] == 1.0


def test_runs_of_a_teacher_made_before_its_tma_fidelity_fix_are_flagged(tmp_path):
    """Session 9 made ADR, SPDL, Covar-GMM and Setter-Solver TeachMyAgent's algorithms (merges
    5fbebd9 and f38296f), session 10 GoalGAN (a686e96). Summaries name their code since 2c5cc97, which precedes both merges, so
    a run of one of them without a ``code`` block measures the earlier implementation."""
    fixes = validity.FIDELITY_FIXES
    assert set(fixes) == {"adr", "spdl", "covar_gmm", "setter_solver", "goal_gan", "riac"}
    assert fixes["goal_gan"].startswith("a686e96")  # session 10's GoalGAN audit commit
    assert fixes["riac"].startswith("405cad9")  # session 11's RIAC audit: env-unit perturbation, tma_* only
    # RIAC's fix changed only the TMA experiments' configs: its other runs measure the same algorithm
    assert validity.code_verdict("riac", None, experiment="baseline_gridworld") == "n/a"
    assert validity.code_verdict("riac", None, experiment="lite_toy") == "n/a"
    assert validity.code_verdict("riac", None, experiment="tma_hexagon_ek-no") == "before fix"
    assert validity.code_verdict("riac", {"commit": fixes["riac"]}, experiment="tma_hexagon_ek-no") == "fixed"
    assert validity.code_verdict("adr", None, experiment="baseline_gridworld") == "before fix"  # unscoped fix
    assert fixes["adr"] == fixes["spdl"] and fixes["adr"].startswith("5fbebd9")
    assert fixes["covar_gmm"] == fixes["setter_solver"] and fixes["covar_gmm"].startswith("f38296f")
    assert validity.code_verdict("alp_gmm", None) == "n/a"  # no fix to predate
    assert validity.code_verdict("adr", None) == "before fix"
    assert validity.code_verdict("spdl", {"commit": fixes["spdl"]}) == "fixed"
    assert validity.code_verdict("covar_gmm", {"commit": None, "version": "0.1.0"}) == "unknown"  # a wheel: no commit
    assert validity.code_verdict("setter_solver", {"commit": "0" * 40}) == "unknown"  # a commit git does not know
    # with the repository's history at hand: the commit that started recording code predates
    # the fixes; the first audit rerun (131aeba, the teacher_audit_reruns web forms) descends from both
    before = validity.code_verdict("setter_solver", {"commit": "2c5cc972e59973d9451a1a08ec6401b48746a7d1"})
    after = validity.code_verdict("adr", {"commit": "131aeba6520a0c42a10c51c976c224aa1342d787"})
    if "unknown" in (before, after):
        pytest.skip("no git history of the fixes in this checkout")
    assert (before, after) == ("before fix", "fixed")

    for seed in range(3):
        write_run(tmp_path, teacher="random", seed=seed, final=40.0, gradient_updates=8)
        write_run(tmp_path, teacher="covar_gmm", seed=seed, final=40.0, gradient_updates=8, diagnostics={"n_fits": 2})
        rd = write_run(tmp_path, teacher="adr", seed=seed, final=40.0, gradient_updates=8,
                       diagnostics={"expansions": 2, "contractions": 0})
        if seed:  # two of ADR's seeds made by the fixed code
            summary = json.loads(rd.summary_path.read_text())
            rd.write_summary({**summary, "code": {"commit": fixes["adr"], "version": "0.1.0"}})
    board = leaderboard(collect_runs(tmp_path), reps=100).set_index("teacher")
    assert board.loc["covar_gmm", "flags"] == "made before the teacher's TMA fidelity fix (3/3 seeds)"
    assert board.loc["adr", "flags"] == "made before the teacher's TMA fidelity fix (1/3 seeds)"
    assert board.loc["random", "flags"] == ""


def test_walker_ppo_rows_without_tmas_network_are_flagged(tmp_path):
    """TeachMyAgent's PPO on the stump tracks shares one 400-300 network between policy and value
    (configs/student/ppo_tma.yaml: policy shared_mlp). Until session 17 every walker PPO run had
    SB3's default network (student=ppo, policy null); such a row is flagged with what the
    reference network is, a row with TMA's is not, and the gridworld (no reference network) never."""
    for seed in range(3):
        for teacher, policy in (("random", None), ("alp_gmm", None), ("riac", "shared_mlp")):
            rd = write_run(tmp_path, teacher=teacher, seed=seed, final=20.0 + seed, env="walker_stumps",
                           gradient_updates=625)
            cfg = OmegaConf.load(rd.config_path)
            cfg.student.policy = policy
            OmegaConf.save(cfg, rd.config_path)
        write_run(tmp_path, teacher="adr", seed=seed, final=30.0, gradient_updates=100, diagnostics={"n_updates": 3})
    board = leaderboard(collect_runs(tmp_path), reps=100).set_index(["env", "teacher"])
    flag = board.loc[("walker_stumps", "alp_gmm"), "flags"]
    assert "student network not the reference's (3/3 seeds" in flag and "400-300" in flag
    assert "student network" in board.loc[("walker_stumps", "random"), "flags"]
    assert "student network" not in str(board.loc[("walker_stumps", "riac"), "flags"])
    assert "student network" not in str(board.loc[("gridworld", "adr"), "flags"])
    assert validity.student_verdict("walker_stumps", "ppo", "shared_mlp") == "reference"
    assert validity.student_verdict("walker_stumps", "sac", None) == "n/a"


def test_the_committed_tables_floor_rows_are_parkours():
    """In the committed table exactly the four Parkour rows (Random and ALP-GMM, walker and fish, 250k
    steps) have every seed at 0 % mastered, and they carry the flag."""
    import pandas as pd

    board = pd.read_csv(Path(__file__).resolve().parents[1] / "leaderboard" / "leaderboard.csv")
    floor = board[board["flags"].fillna("").str.contains("every seed at 0 % mastered")]
    assert sorted(zip(floor["experiment"], floor["env"], floor["teacher"])) == sorted(
        ("baseline_parkour", env, t) for env in ("parkour_fish", "parkour_old_classic_bipedal") for t in ("alp_gmm", "random"))
    assert (floor["final_mastered_mean"] == 0).all() and (board.drop(floor.index)["final_mastered_mean"] > 0).all()
