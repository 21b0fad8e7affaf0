"""The regret designer's update on the gridworld, read back (experiments/results/designer_update_gridworld/):
PAIRED-param and CLUTR-param with the REINFORCE generator and with dcd's walker adversary PPO update,
and Random, 5 seeds each (at 300k and 1M steps), same code and machine.

The PPO rows carry dcd's bipedal adversary settings (lr 3e-4; 8 x 4 steps per batch is checked on the
optimizer in tests/test_paired.py); P(PPO > REINFORCE) is worked out by hand from the per-seed finals;
the README quotes what the folder's script computes."""

from __future__ import annotations

from pathlib import Path

import yaml

from _tma_walker import tar_members, tar_summaries
from experiments.reporting.results_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "experiments" / "results" / "designer_update_gridworld"


def _finals(summaries: list[dict], teacher: str, experiment: str) -> list[float]:
    rows = sorted((s for s in summaries if s["teacher"] == teacher and s["experiment"] == experiment), key=lambda s: s["seed"])
    return [round(s["final_mastered"], 1) for s in rows]


def test_the_runs_are_the_gridworld_baseline_with_one_difference():
    configs = [yaml.safe_load(data) for data in tar_members(HERE / "runs.tar.gz", "/config.yaml")]
    assert sorted((c["name"], c["teacher"]["name"], c["seed"]) for c in configs) == sorted(
        [("designer_ppo", t, s) for t in ("paired_param", "clutr_param") for s in range(5)]
        + [("designer_reinforce", t, s) for t in ("random", "paired_param", "clutr_param") for s in range(5)]
        + [("designer_ppo_1m", t, s) for t in ("paired_param", "clutr_param") for s in range(5)]
        + [("designer_reinforce_1m", t, s) for t in ("random", "paired_param", "clutr_param") for s in range(5)])
    for c in configs:
        budget = 1_000_000 if c["name"].endswith("_1m") else 300_000
        assert (c["env"]["name"], c["budget"]["steps"], c["eval"]["episodes_per_task"]) == ("gridworld", budget, 5)
        params = c["teacher"].get("params") or {}
        if c["name"].startswith("designer_ppo"):  # dcd's bipedal PAIRED adversary: lr 3e-4, entropy 0.01
            assert params["update"] == "ppo" and params["lr"] == 3e-4 and params["ent_coef"] == 0.01
        else:
            assert "update" not in params and (c["teacher"]["name"] == "random" or params["lr"] == 1e-3)


def test_every_run_finished_trained_and_its_designer_updated():
    summaries = tar_summaries(HERE / "runs.tar.gz")
    assert len(summaries) == 50 and {s["state"] for s in summaries} == {"finished"}
    assert all(s["gradient_updates"] > 0 for s in summaries)
    designers = [s["teacher_diagnostics"] for s in summaries if s["teacher"] != "random"]
    assert len(designers) == 40 and min(d["generator_updates"] for d in designers) >= 78
    long = [s["teacher_diagnostics"]["generator_updates"] for s in summaries
            if s["teacher"] != "random" and s["experiment"].endswith("_1m")]
    assert len(long) == 20 and min(long) >= 271  # ~300 batches at 1M steps: REINFORCE's generator had time to move


def test_the_episode_tables_hold_the_last_fifth_the_script_reads():
    """The tarball's episode tables were cut to the episodes of each run's last fifth of steps
    (README): every row is in the last of 5 step phases, each table keeps the run's last episode
    (so the phases are those of the whole table), and the ids in it have no gaps."""
    import io

    import pandas as pd

    tables = [pd.read_parquet(io.BytesIO(data)) for data in tar_members(HERE / "runs.tar.gz", "/episodes/part-000001.parquet")]
    last_ids = sorted(s["episodes"] - 1 for s in tar_summaries(HERE / "runs.tar.gz"))
    assert len(tables) == 50 and sorted(int(t["episode_id"].max()) for t in tables) == last_ids
    for table in tables:
        assert (table["global_step"] / table["global_step"].max() * 5 >= 4).all()
        ids = sorted(table["episode_id"])
        assert ids == list(range(ids[0], ids[-1] + 1))


def _ppo_against_reinforce(teacher: str, suffix: str, ppo: list[float], reinforce: list[float]) -> float:
    """Check both sets' per-seed finals against the hand-copied ones, then count the PPO seeds' wins
    over the REINFORCE seeds (a tie is half) and check that stats.txt prints that count over 25."""
    summaries = tar_summaries(HERE / "runs.tar.gz")
    assert _finals(summaries, teacher, f"designer_ppo{suffix}") == ppo
    assert _finals(summaries, teacher, f"designer_reinforce{suffix}") == reinforce
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in ppo for b in reinforce)
    prefix = f"{teacher}{suffix}: P(PPO seed > REINFORCE seed) "
    line = next(x for x in (HERE / "stats.txt").read_text().splitlines() if x.startswith(prefix))
    assert line.startswith(f"{prefix}{wins / 25:.2f} ")
    return wins


def test_ppo_against_reinforce_worked_out_by_hand():
    """300k, PAIRED-param: PPO 68.0 (twice) beats four REINFORCE seeds and ties one (68.0): 4.5 each;
    63.2 and 62.4 beat three (58.8, 60.0, 50.4); 60.0 beats two and ties one: 2.5. 17.5 of 25 = 0.70.
    1M, PAIRED-param: PPO 74.4 (twice) beats 73.2, 73.6 and 72.8 (3 each); 62.8 beats none; 74.8
    beats three; 77.2 beats four and ties one (77.2): 4.5. 3 + 0 + 3 + 4.5 + 3 = 13.5 = 0.54.
    1M, CLUTR-param: PPO 72.0 beats 69.6 and 71.2 (2); 68.4 and 66.8 none; 70.0 beats 69.6 (1);
    76.0 beats all five (5): 8 = 0.32, no ties."""
    assert _ppo_against_reinforce("paired_param", "", [68.0, 63.2, 60.0, 62.4, 68.0], [65.2, 68.0, 58.8, 60.0, 50.4]) == 17.5
    assert _ppo_against_reinforce("paired_param", "_1m", [74.4, 62.8, 74.8, 77.2, 74.4],
                                  [73.2, 75.2, 73.6, 77.2, 72.8]) == 13.5
    assert _ppo_against_reinforce("clutr_param", "_1m", [72.0, 68.4, 66.8, 70.0, 76.0], [69.6, 74.8, 71.2, 73.6, 74.0]) == 8.0
    readme = (HERE / "README.md").read_text()
    assert "P(a PPO seed > a REINFORCE seed): PAIRED-param 0.54 [0.16, 1.00], CLUTR-param 0.32 [0.00, 0.72]." in readme


def test_stats_txt_is_what_the_script_computes_and_the_readme_quotes_it():
    committed = (HERE / "stats.txt").read_text().splitlines()
    assert load_script(HERE / "summarise.py").main(write=False) == committed
    readme = (HERE / "README.md").read_text()
    assert "P(> random) 0.64 [0.20, 0.96]" in next(x for x in committed if x.startswith("paired_param/ppo "))
    assert "| 64.3 ± 3.6 | 64.5 [60.8, 68.0] | 0.64 [0.20, 0.96] |" in readme
    sizes = {x.split()[0]: x for x in committed if x.startswith("  ") and "size" in x}
    assert "size 0.65 [0.61, 0.69]" in sizes["paired_param/ppo"] and "| 0.65 [0.61, 0.69] |" in readme
    assert "size 0.50 [0.50, 0.50]" in sizes["random"] and "size 0.67 [0.65, 0.70]" in sizes["clutr_param/ppo"]
    assert "PAIRED-param 0.70 [0.32, 1.00], CLUTR-param 0.56 [0.16, 0.92]" in readme
    assert "size 0.82 [0.81, 0.83]" in sizes["paired_param/reinforce_1m"] and "| 0.82 [0.81, 0.83] |" in readme
    assert "size 0.88 [0.86, 0.91]" in sizes["clutr_param/reinforce_1m"] and "| 0.88 [0.86, 0.91] |" in readme


def test_the_reruns_match_the_leaderboards_rows_in_their_means():
    """The REINFORCE reruns and Random against the leaderboard's gridworld baseline rows (made at an
    earlier commit): the means within 1.5 points, as the README says (63.0 vs 64.3, 60.5 vs 60.6,
    63.3 vs 62.6)."""
    import pandas as pd

    summaries = tar_summaries(HERE / "runs.tar.gz")
    board = pd.read_csv(ROOT / "leaderboard" / "leaderboard.csv").set_index(["experiment", "env", "teacher"])
    for teacher in ("random", "paired_param", "clutr_param"):
        ours = sum(_finals(summaries, teacher, "designer_reinforce")) / 5
        theirs = float(board.loc[("baseline", "gridworld", teacher), "final_mastered_mean"])
        assert abs(ours - theirs) < 1.5
        assert f"{ours:.1f}" in (HERE / "README.md").read_text() and f"{theirs:.1f}" in (HERE / "README.md").read_text()
