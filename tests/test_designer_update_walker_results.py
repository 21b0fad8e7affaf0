"""The regret designer's update on the walker, read back (experiments/results/designer_update_walker/):
PAIRED-param with the REINFORCE generator (the leaderboard's walker row) and with dcd's bipedal adversary
PPO update, 5 seeds each, run side by side in the same device calls.

The runs must have TMA's PPO settings and network (facts of TMA's code, tests/_tma_walker.py) and the PPO
set dcd's adversary settings (lr 3e-4, entropy 0.01; its 8 x 4 steps per batch are counted on the optimizer
in tests/test_paired.py); P(PPO > REINFORCE) is worked out by hand from the per-seed finals; the README
quotes what the folder's script computes."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pandas as pd
import yaml

from _tma_walker import assert_tmas_network, assert_tmas_ppo_settings_on_the_default_biped, tar_members, tar_summaries
from experiments.reporting.results_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "experiments" / "results" / "designer_update_walker"
ROWS = ROOT / "experiments" / "results" / "walker_baseline_tma" / "runs.tar.gz"


def _finals(summaries: list[dict], experiment: str) -> list[float]:
    rows = sorted((s for s in summaries if s["experiment"] == experiment), key=lambda s: s["seed"])
    return [round(s["final_mastered"], 1) for s in rows]


def test_the_two_sets_are_the_walker_baseline_with_one_difference():
    configs = [yaml.safe_load(data) for data in tar_members(HERE / "runs.tar.gz", "/config.yaml")]
    assert sorted((c["name"], c["teacher"]["name"], c["seed"]) for c in configs) == sorted(
        (name, "paired_param", s) for name in ("baseline", "designer_ppo") for s in range(5))
    for c in configs:
        assert_tmas_ppo_settings_on_the_default_biped(c)
        assert_tmas_network(c)
        assert (c["budget"]["steps"], c["eval"]["episodes_per_task"]) == (2_500_000, 5)
        params = dict(c["teacher"]["params"])
        if c["name"] == "designer_ppo":  # dcd's bipedal PAIRED adversary: lr 3e-4, entropy 0.01
            assert params.pop("update") == "ppo" and params.pop("lr") == 3e-4 and params["ent_coef"] == 0.01
        else:
            assert "update" not in params and params.pop("lr") == 1e-3
    # apart from the update and its lr, the teacher and everything else are the same
    by_name = {c["name"]: c for c in configs if c["seed"] == 0}
    ppo, reinforce = by_name["designer_ppo"], by_name["baseline"]
    for key in ("env", "student", "budget", "eval", "seed"):
        assert ppo[key] == reinforce[key]
    assert {k: v for k, v in ppo["teacher"]["params"].items() if k not in ("update", "lr")} == \
        {k: v for k, v in reinforce["teacher"]["params"].items() if k != "lr"}


def test_every_run_finished_trained_and_its_designer_updated():
    summaries = tar_summaries(HERE / "runs.tar.gz")
    assert len(summaries) == 10 and {s["state"] for s in summaries} == {"finished"}
    assert {s["gradient_updates"] for s in summaries} == {625}  # 125 rollouts x 5 epochs
    assert min(s["teacher_diagnostics"]["generator_updates"] for s in summaries) >= 43
    assert all(s["teacher_diagnostics"]["updates"] == s["episodes"] > 1_800 for s in summaries)


def test_the_reinforce_set_is_the_leaderboards_row():
    """The same five runs (config id, finals, episodes) as the walker baseline's PAIRED-param row."""
    ours = {s["seed"]: s for s in tar_summaries(HERE / "runs.tar.gz") if s["experiment"] == "baseline"}
    rows = {s["seed"]: s for s in tar_summaries(ROWS) if s["teacher"] == "paired_param"}
    assert sorted(ours) == sorted(rows) == list(range(5))
    for seed, s in ours.items():
        assert json.dumps(s, sort_keys=True) == json.dumps(rows[seed], sort_keys=True)


def test_ppo_against_reinforce_worked_out_by_hand():
    """PPO 32.0, 30.2, 29.6 and 24.0 each beat the two REINFORCE seeds below them (21.6, 22.8); 20.6
    beats none: 8 of 25 pairs = 0.32, no ties."""
    summaries = tar_summaries(HERE / "runs.tar.gz")
    ppo, reinforce = _finals(summaries, "designer_ppo"), _finals(summaries, "baseline")
    assert ppo == [32.0, 30.2, 29.6, 20.6, 24.0] and reinforce == [39.8, 49.2, 38.6, 21.6, 22.8]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in ppo for b in reinforce)
    assert wins == 8.0
    line = next(x for x in (HERE / "stats.txt").read_text().splitlines() if x.startswith("paired_param: P(PPO"))
    assert line.startswith(f"paired_param: P(PPO seed > REINFORCE seed) {wins / 25:.2f} ")
    assert "P(a PPO seed > a REINFORCE seed) = **0.32 [0.00, 0.80]**" in (HERE / "README.md").read_text()


def test_the_episode_tables_are_whole():
    """Every run's episode table holds all its episodes (ids 0 .. episodes - 1) with both task
    dimensions: where the designer sent the student, from the first episode on."""
    summaries = {(s["experiment"], s["seed"]): s for s in tar_summaries(HERE / "runs.tar.gz")}
    tables: dict[str, list[pd.DataFrame]] = {}
    with tarfile.open(HERE / "runs.tar.gz") as tar:
        for member in tar.getmembers():
            if "/episodes/" in member.name and member.name.endswith(".parquet"):
                run = member.name.split("/episodes/")[0]
                tables.setdefault(run, []).append(pd.read_parquet(io.BytesIO(tar.extractfile(member).read())))
    assert len(tables) == 10
    for run, parts in tables.items():
        table = pd.concat(parts)
        experiment, name = run.split("/")[-2:]
        seed = int(name.split("__s")[1].split("__")[0])
        assert sorted(table["episode_id"]) == list(range(summaries[(experiment, seed)]["episodes"]))
        assert {"task.stump_height", "task.stump_spacing"} <= set(table.columns)


def test_stats_txt_is_what_the_script_computes_and_the_readme_quotes_it():
    committed = (HERE / "stats.txt").read_text().splitlines()
    assert load_script(HERE / "summarise.py").main(write=False) == committed
    readme = (HERE / "README.md").read_text()
    line = {x.split()[0]: x for x in committed if x.startswith(("random ", "paired_param/"))}
    assert "P(> random) 0.68 [0.20, 1.00]" in line["paired_param/reinforce"] and "| 0.68 [0.20, 1.00] |" in readme
    assert "P(> random) 0.44 [0.08, 0.84]" in line["paired_param/ppo"] and "| 0.44 [0.08, 0.84] |" in readme
    places = {x.split()[0]: x for x in committed if x.startswith("  paired_param/") and "stump_height" in x}
    assert "stump_height 0.49 [0.48, 0.49]" in places["paired_param/reinforce"] and "| 0.49 [0.48, 0.49] |" in readme
    assert "stump_height 0.43 [0.36, 0.52]" in places["paired_param/ppo"] and "| 0.43 [0.36, 0.52] |" in readme
    assert any("no episode tables: uniform" in x for x in committed)  # Random's walker runs kept none
    trajectory = [x for x in committed if x.startswith("  paired_param/ppo ") and " seed " in x]
    assert [x.split()[-1] for x in trajectory] == ["0.37", "0.41", "0.34", "0.60", "0.44"]
