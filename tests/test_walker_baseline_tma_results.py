"""The walker's baseline protocol with TeachMyAgent's PPO network, read back
(experiments/results/walker_baseline_tma/): Random, ALP-GMM, Covar-GMM, RIAC, ADR, SPDL, GoalGAN,
Setter-Solver, PLR, PLR⊥, ACCEL, CLUTR-param and PAIRED-param x 5 seeds.

The runs must have TMA's PPO settings *and* its network (facts of TMA's code, tests/_tma_walker.py);
P(> Random) of Covar-GMM, ADR, GoalGAN, Setter-Solver, PLR, PLR⊥, ACCEL, CLUTR-param and PAIRED-param is worked out by hand
from the per-seed finals; the
README quotes what the folder's script computes; the packed-throughput row is the first call's
steps over its span."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from _tma_walker import (assert_tmas_network, assert_tmas_ppo_settings_on_the_default_biped, tar_members,
                         tar_summaries)
from experiments.reporting.results_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "experiments" / "results" / "walker_baseline_tma"
TEACHERS = ("random", "alp_gmm", "covar_gmm", "riac", "adr", "spdl", "goal_gan", "setter_solver", "plr",
            "plr_robust", "accel", "clutr_param", "paired_param")
ROLLOUTS = 2_500_000 // (100 * 200)  # 125 rollouts of 100 envs x 200 steps, 5 epochs each


def _members(suffix: str) -> list[bytes]:
    return tar_members(HERE / "runs.tar.gz", suffix)


@pytest.fixture(scope="module")
def summaries() -> list[dict]:
    return tar_summaries(HERE / "runs.tar.gz")


def test_the_runs_have_tmas_ppo_and_its_network_at_the_baseline_protocol():
    configs = [yaml.safe_load(data) for data in _members("/config.yaml")]
    assert sorted((c["teacher"]["name"], c["seed"]) for c in configs) == sorted((t, s) for t in TEACHERS for s in range(5))
    for c in configs:
        assert_tmas_ppo_settings_on_the_default_biped(c)
        assert_tmas_network(c)
        assert (c["name"], c["budget"]["steps"], c["eval"]["episodes_per_task"]) == ("baseline", 2_500_000, 5)


def test_every_run_finished_trained_and_its_teacher_updated(summaries):
    assert len(summaries) == 65 and {s["state"] for s in summaries} == {"finished"}
    # 2.5M steps / 20k-transition rollouts = 125 rollouts x 5 epochs = 625 updates; PLR⊥ and ACCEL skip the
    # rollouts with no replayed transition (dcd's robust update: no gradient on new levels)
    robust = ("plr_robust", "accel")
    assert {s["gradient_updates"] for s in summaries if s["teacher"] not in robust} == {5 * ROLLOUTS}
    for s in summaries:
        d = s["teacher_diagnostics"]
        if s["teacher"] in robust:
            assert d["train_gradient_updates"] + d["train_skipped_updates"] == ROLLOUTS
            assert s["gradient_updates"] == 5 * d["train_gradient_updates"] >= 5 * 100
            # the robust update trained on the replayed share only: some, not all, of the 2.5M transitions
            assert 0.3 * 2_500_000 < d["train_trained_transitions"] < 0.5 * 2_500_000 == 0.5 * d["train_env_steps"]
            assert d["buffer_fill"] == 1.0 and d["replay_ready"] and d["replayed"] > 0.3 * d["sampled"]
            if s["teacher"] == "accel":  # the editor made children, and they were played
                assert d["children_made"] > 500 and d["children_played"] > 0.95 * d["children_made"]
            continue
        if s["teacher"] in ("alp_gmm", "covar_gmm"):
            assert d["n_fits"] >= 5 and d["n_failed_fits"] == 0 and d["updates"] == s["episodes"] > 1_500
        elif s["teacher"] == "riac":  # the region tree split (TMA's RIAC starts from one region)
            assert d["n_splits"] >= 10 and d["n_leaves"] == d["n_splits"] + 1 and d["updates"] > 1_500
        elif s["teacher"] == "adr":  # the boundary moved both ways
            assert d["expansions"] > 0 and d["contractions"] > 0 and d["updates"] > 1_500
        elif s["teacher"] == "spdl":  # SPDL's outer loop ran (TMA: one iteration per ~50k env steps here)
            assert d["iterations"] >= 40 and d["updates"] > 1_500
        elif s["teacher"] == "goal_gan":  # the GAN trained (TMA skips rounds with no goal of intermediate difficulty)
            assert d["gan_updates"] >= 4 and d["updates"] > 1_500
        elif s["teacher"] == "setter_solver":  # the setter, judge and solver-side models trained in rounds
            assert d["rounds"] >= 30 and d["updates"] > 1_500
        elif s["teacher"] == "plr":  # the buffer filled and replayed: the row is not an unused buffer's DR
            assert d["buffer_fill"] == 1.0 and d["replayed"] > 0.3 * d["sampled"] and d["replay_ready"]
        elif s["teacher"] == "clutr_param":  # the generator took REINFORCE steps on regret batches of 32
            assert d["generator_updates"] >= 40 and d["valid_decode_rate"] > 0.99 and d["updates"] > 1_500
        elif s["teacher"] == "paired_param":  # the same, in the task box itself; every episode brought a regret
            assert d["generator_updates"] >= 44 and d["updates"] == s["episodes"] > 1_500 and d["dropped"] == 0
        else:
            assert s["teacher"] == "random"


def test_covar_gmm_beats_random_worked_out_by_hand(summaries):
    finals = {t: [round(s["final_mastered"], 1) for s in sorted(summaries, key=lambda s: s["seed"]) if s["teacher"] == t]
              for t in TEACHERS}
    covar, rnd = finals["covar_gmm"], finals["random"]
    assert covar == [38.6, 42.0, 36.6, 25.4, 39.2] and rnd == [37.8, 20.4, 25.4, 24.6, 36.6]
    # 38.6, 42.0, 39.2 beat all 5 (15); 36.6 beats 3 and ties 36.6 (3.5); 25.4 beats 2 and ties 25.4 (2.5)
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in covar for b in rnd)
    assert wins == 21 and wins / 25 == 0.84
    assert load_script(HERE / "summarise.py").finals(HERE / "runs.tar.gz") == finals


def test_adr_is_below_random_worked_out_by_hand(summaries):
    """TMA's Table 1 puts ADR below Random on the Parkour biped (14.7 vs 27.3); so do these runs."""
    adr = [round(s["final_mastered"], 1) for s in sorted(summaries, key=lambda s: s["seed"]) if s["teacher"] == "adr"]
    rnd = [round(s["final_mastered"], 1) for s in sorted(summaries, key=lambda s: s["seed"]) if s["teacher"] == "random"]
    assert adr == [20.8, 19.4, 19.6, 15.0, 22.6] and rnd == [37.8, 20.4, 25.4, 24.6, 36.6]
    # only 20.8 and 22.6 beat one Random seed each (20.4): 2 wins of 25 pairs
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in adr for b in rnd)
    assert wins == 2 and wins / 25 == 0.08


def _wins_against_random(summaries: list[dict], expected: dict[str, list[float]]) -> dict[str, float]:
    """Check each teacher's per-seed finals against ``expected`` (hand-copied from the runs), then
    count its wins over Random's seeds (a tie is half), and check the leaderboard's P(> Random)
    is that count over 25 pairs."""
    finals = {t: [round(s["final_mastered"], 1) for s in sorted(summaries, key=lambda s: s["seed"]) if s["teacher"] == t]
              for t in ("random", *expected)}
    assert {t: finals[t] for t in expected} == expected
    wins = {t: sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in finals[t] for b in finals["random"]) for t in expected}
    board = pd.read_csv(ROOT / "leaderboard" / "leaderboard.csv").set_index(["experiment", "env", "teacher"])
    rows = board.loc[("baseline", "walker_stumps")]
    for teacher, w in wins.items():
        assert rows.loc[teacher, "p_improve"] == pytest.approx(w / 25)
    return wins


def test_the_three_added_teachers_against_random_worked_out_by_hand(summaries):
    """Session 22's rows: GoalGAN's 24.0 beats one Random seed (20.4); no Setter-Solver seed beats any
    (its best, 18.2, is below Random's lowest, 20.4); PLR's 29.8, 26.8 and 29.4 beat three each, 25.4
    beats two and ties one, 19.4 none: 11.5 of 25."""
    wins = _wins_against_random(summaries, {"goal_gan": [17.8, 14.8, 16.4, 24.0, 17.0],
                                            "setter_solver": [17.8, 9.4, 0.0, 13.0, 18.2],
                                            "plr": [29.8, 26.8, 29.4, 19.4, 25.4]})
    assert wins == {"goal_gan": 1.0, "setter_solver": 0.0, "plr": 11.5}


def test_the_regret_teachers_against_random_worked_out_by_hand(summaries):
    """Session 23's rows. PLR⊥: 38.2 beats all 5 Random seeds, 30.4 and 27.4 three each, 24.2 one
    (20.4), 19.4 none: 12 of 25. ACCEL: the four seeds at 28.8-32.4 beat three each, 5.0 none: 12.
    CLUTR-param: 43.4 beats 5, 37.6 four (not 37.8), 36.6 three and ties one, 36.4 three, 19.8 none: 15.5."""
    wins = _wins_against_random(summaries, {"plr_robust": [24.2, 38.2, 30.4, 27.4, 19.4],
                                            "accel": [5.0, 32.4, 28.8, 32.4, 31.4],
                                            "clutr_param": [37.6, 43.4, 36.6, 36.4, 19.8]})
    assert wins == {"plr_robust": 12.0, "accel": 12.0, "clutr_param": 15.5}
    entry = (ROOT / "experiments" / "results" / "reproductions.md").read_text()
    assert "| CLUTR-param | 34.8 ± 8.8 | 0.62 [0.24, 1.00] | 1.20 |" in entry
    assert "| PLR⊥ | 27.9 ± 7.0 | 0.48 [0.12, 0.88] | 0.96 |" in entry and "| ACCEL | 26.0 ± 11.8 | 0.48 [0.12, 1.00] | 0.90 |" in entry


def test_paired_param_against_random_worked_out_by_hand(summaries):
    """Session 24's row: 39.8, 49.2 and 38.6 beat all five Random seeds (15); 21.6 and 22.8 beat one
    each (20.4): 17 of 25 = 0.68, a tie (the README's interval [0.20, 1.00])."""
    wins = _wins_against_random(summaries, {"paired_param": [39.8, 49.2, 38.6, 21.6, 22.8]})
    assert wins == {"paired_param": 17.0}


def test_clutr_params_generator_kept_its_starting_spread(summaries):
    """A fact worked out from the generator's parametrisation, not read from our output alone: a
    Gaussian with log-std 0 has entropy 0.5 ln(2 pi e) = 1.41894 nats per dimension. After 40-52
    REINFORCE steps the generators' mean per-dimension entropy is within 0.01 of that, so the
    spread of the designer barely moved at this budget (the README says so beside the row)."""
    start = 0.5 * (1 + math.log(2 * math.pi))
    assert start == pytest.approx(1.41894, abs=1e-5)
    ent = [s["teacher_diagnostics"]["generator_entropy"] for s in summaries if s["teacher"] == "clutr_param"]
    assert len(ent) == 5 and all(abs(e - start) < 0.01 for e in ent)
    # PAIRED-param's (44-49 steps): slightly wider than at the start in every seed, never narrower
    ent = [s["teacher_diagnostics"]["generator_entropy"] for s in summaries if s["teacher"] == "paired_param"]
    assert len(ent) == 5 and all(start < e < start + 0.02 for e in ent)
    assert load_script(HERE / "summarise.py").INITIAL_ENTROPY == pytest.approx(start)


def test_the_leaderboards_walker_rows_are_these_runs_and_two_separate(summaries):
    """Since session 19 the baseline section's walker rows are these runs (TMA's network; nine
    teachers since session 22, twelve since session 23, thirteen since session 24), unflagged; P(> Random) is the hand-worked value above for ADR (0.08,
    below) and Covar-GMM (0.84, above), and GoalGAN and Setter-Solver are separated below."""
    board = pd.read_csv(ROOT / "leaderboard" / "leaderboard.csv").set_index(["experiment", "env", "teacher"])
    rows = board.loc[("baseline", "walker_stumps")]
    assert sorted(rows.index) == sorted(TEACHERS) and set(rows["seeds"]) == {5}
    assert rows["flags"].isna().all()
    assert rows.loc["adr", "p_improve"] == pytest.approx(0.08) and rows.loc["adr", "separates"] == "below"
    assert rows.loc["covar_gmm", "p_improve"] == pytest.approx(0.84) and rows.loc["covar_gmm", "separates"] == "above"
    assert (rows.loc[["goal_gan", "setter_solver"], "separates"] == "below").all()
    assert set(rows.drop(index=["adr", "covar_gmm", "goal_gan", "setter_solver", "random"])["separates"].fillna("")) == {""}
    runs = pd.read_csv(ROOT / "leaderboard" / "runs.csv")
    walker = runs[(runs["experiment"] == "baseline") & (runs["env"] == "walker_stumps")]
    assert set(walker["config_id"]) == {s["config_id"] for s in summaries}
    assert set(walker["student_network"]) == {"reference"}


def test_stats_txt_is_what_the_script_computes_and_the_readme_quotes_it():
    committed = (HERE / "stats.txt").read_text().splitlines()
    assert load_script(HERE / "summarise.py").main(write=False) == committed
    readme = (HERE / "README.md").read_text()
    line = {x.split()[0]: x for x in committed[1:len(TEACHERS) + 1]}
    assert "P(> random) 0.84 [0.54, 1.00]" in line["covar_gmm"] and "| 0.84 [0.54, 1.00] | 1.26 (1.31) |" in readme
    assert "P(> random) 0.72 [0.36, 1.00]" in line["alp_gmm"] and "| 0.72 [0.36, 1.00] | 1.20 (1.56) |" in readme
    assert "P(> random) 0.48 [0.12, 0.88]" in line["riac"] and "| 0.48 [0.12, 0.88] | 1.04 (1.14) |" in readme
    assert "P(> random) 0.08 [0.00, 0.32]" in line["adr"] and "| 0.08 [0.00, 0.32] | 0.67 (0.54) |" in readme
    assert "P(> random) 0.24 [0.00, 0.64]" in line["spdl"] and "| 0.24 [0.00, 0.64] | 0.61 (1.12) |" in readme
    assert "P(> random) 0.46 [0.12, 0.82]" in line["plr"] and "| 0.46 [0.12, 0.82] | 0.90 (not in TMA) |" in readme
    assert "P(> random) 0.04 [0.00, 0.24]" in line["goal_gan"] and "| 0.04 [0.00, 0.24] | 0.62 (0.93) |" in readme
    assert "P(> random) 0.00 [0.00, 0.00]" in line["setter_solver"] and "| 0.00 [0.00, 0.00] | 0.40 (1.05) |" in readme
    assert "P(> random) 0.48 [0.12, 0.88]" in line["plr_robust"] and "| 0.48 [0.12, 0.88] | 0.96 (not in TMA) |" in readme
    assert "P(> random) 0.48 [0.12, 1.00]" in line["accel"] and "| 0.48 [0.12, 1.00] | 0.90 (not in TMA) |" in readme
    assert "P(> random) 0.62 [0.24, 1.00]" in line["clutr_param"] and "| 0.62 [0.24, 1.00] | 1.20 (not in TMA) |" in readme
    assert "P(> random) 0.68 [0.20, 1.00]" in line["paired_param"] and "| 0.68 [0.20, 1.00] | 1.19 (not in TMA) |" in readme
    tau = [x for x in committed if x.startswith("Kendall tau-b vs TMA Table 1")]
    assert tau[0].endswith("(8 teachers): 0.43 [0.29, 0.64]") and "0.43 [0.29, 0.64]" in readme
    assert tau[1].endswith("6 teachers: 0.60 [0.33, 0.87]") and "0.60 [0.33, 0.87]" in readme
    network = next(x for x in committed if x.startswith("covar_gmm  TMA network"))
    assert "difference +6.7 [+0.8, +11.1]" in network and "+6.7 [+0.8, +11.1]" in readme
    strata = next(x for x in committed if x.startswith("all 6 teachers"))
    assert strata.endswith("P(TMA network > 64-64) 0.69 [0.54, 0.83]") and "| 0.69 [0.54, 0.83] |" in readme


def test_the_packed_rate_is_the_first_calls_steps_over_its_span(tmp_path):
    script = load_script(ROOT / "experiments" / "results" / "scale_2026-11-30" / "session18" / "walker_packed15_tma.py")
    steps = script.run_steps()
    # the 15 runs of the first wave: 10 logged their interrupted step, 5 lost the line and count their checkpoint
    assert sorted(steps) == sorted(f"walker_stumps__{t}__ppo__s{s}__{cid}" for t, cid in
                                   (("random", "82f7728b"), ("alp_gmm", "51496a0a"), ("covar_gmm", "a4426f0b")) for s in range(5))
    assert steps["walker_stumps__random__ppo__s0__82f7728b"] == 2_500_000
    assert steps["walker_stumps__alp_gmm__ppo__s2__51496a0a"] == 2_000_000  # from the checkpoint listing
    row = script.main(tmp_path)
    committed = (script.HERE / "walker_packed15_tma.csv").read_text()
    assert (tmp_path / "walker_packed15_tma.csv").read_text() == committed
    assert float(next(csv.DictReader(committed.splitlines()))["env_steps_per_s"]) == row["env_steps_per_s"] > 57_000
    assert row["student"] == "ppo_tma/shared_400_300"


def test_tmas_tallest_stumps_are_almost_never_mastered_and_the_readme_quotes_the_height_table():
    """A fact of the runs' own evaluation tables, counted from every test episode at 2.5M: of TMA's
    grid's three tallest rows (2.33, 2.67, 3.0), 65 runs x 30 tasks x 5 episodes, three episodes are
    mastered (SPDL seed 0, PLR seed 0 and PLR⊥ seed 2 at 2.33: 1 of their 50 there each), and the
    README's height table is the script's."""
    script = load_script(HERE / "summarise.py")
    shares = script.mastery_by_height(HERE / "runs.tar.gz")
    assert len(shares) == 13 * 5 * 10  # teachers x seeds x heights
    tall = shares[shares["height"] >= 2.33]
    assert round(tall["share"].sum() * 50) == 3 and (shares[shares["height"] >= 2.67]["share"] == 0).all()
    assert sorted(map(tuple, tall[tall["share"] > 0][["teacher", "seed"]].to_numpy().tolist())) == [("plr", 0), ("plr_robust", 2), ("spdl", 0)]
    lines = script.height_lines(shares)
    assert lines == (HERE / "stats.txt").read_text().splitlines()[-len(lines):]
    readme = (HERE / "README.md").read_text()
    row = next(x for x in lines if "height 1.00" in x)
    assert "random 0.31 [0.15, 0.47]" in row and "covar_gmm 0.56 [0.41, 0.71]" in row
    assert ("| 1.00 | 0.31 [0.15, 0.47] | 0.47 [0.26, 0.66] | 0.56 [0.41, 0.71] | 0.33 [0.09, 0.58] | 0.08 [0.05, 0.12] "
            "| 0.14 [0.02, 0.25] | 0.14 [0.07, 0.20] | 0.04 [0.00, 0.07] | 0.30 [0.20, 0.39] | 0.27 [0.12, 0.43] "
            "| 0.30 [0.16, 0.42] | 0.51 [0.26, 0.68] | 0.48 [0.19, 0.78] |") in readme


def test_the_second_packed_rate_is_the_third_calls_steps_over_its_span(tmp_path):
    """Session 19's call 3 (RIAC, ADR, SPDL from scratch): every one of the 15 runs counted, 14 from
    their interrupted line and one (SPDL seed 1, in its final evaluation at 2.5M) from its checkpoint listing."""
    script = load_script(ROOT / "experiments" / "results" / "scale_2026-11-30" / "session19" / "walker_packed15_tma_call3.py")
    row = script.main(tmp_path)
    committed = (script.HERE / "walker_packed15_tma_call3.csv").read_text()
    assert (tmp_path / "walker_packed15_tma_call3.csv").read_text() == committed
    assert row["runs"] == 15 and row["teacher"] == "riac+adr+spdl" and 60_000 < row["env_steps_per_s"] < 63_000


def test_the_third_packed_rate_is_the_fifth_calls_steps_over_its_span(tmp_path):
    """Session 22's call 5 (GoalGAN, Setter-Solver, PLR from scratch): 13 runs counted from their
    interrupted line (Setter-Solver seed 0 at 2,483,300, as its log line says) and the two that
    finished inside the call (GoalGAN seeds 2 and 4) from the checkpoint listing, at 2.5M."""
    session18 = load_script(ROOT / "experiments" / "results" / "scale_2026-11-30" / "session18" / "walker_packed15_tma.py")
    steps = session18.run_steps(HERE / "device_call5.log", HERE / "device_call5_progress.txt")
    assert len(steps) == 15
    assert steps["walker_stumps__setter_solver__ppo__s0__e4300990"] == 2_483_300
    assert steps["walker_stumps__goal_gan__ppo__s2__27c7b241"] == steps["walker_stumps__goal_gan__ppo__s4__27c7b241"] == 2_500_000
    row = session18.main(tmp_path, HERE / "device_call5.log", HERE / "device_call5_progress.txt",
                         "goal_gan+setter_solver+plr", "walker_packed15_tma_call5.csv")
    committed = (session18.HERE.parent / "session22" / "walker_packed15_tma_call5.csv").read_text()
    assert (tmp_path / "walker_packed15_tma_call5.csv").read_text() == committed
    assert row["runs"] == 15 and row["teacher"] == "goal_gan+setter_solver+plr"
    assert row["env_steps_per_s"] == pytest.approx(sum(steps.values()) / row["seconds"], rel=1e-3)
