"""The leaderboard on run directories whose true numbers we know, its robust statistics
against rliable's definitions, the report files, the CLI and the Chromium screenshot."""

from __future__ import annotations

import base64
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rliable.metrics as rm

from _fake_runs import fake_run
from experiments.reporting import leaderboard as lb
from experiments.reporting.cli import main as leaderboard_main
from experiments.reporting.report import find_chromium, screenshot, write_report


@pytest.fixture
def sweep(tmp_path):
    """Two envs; random (skill 0.3) vs alp_gmm (skill 0.9) x 5 seeds; one failed and one
    still-running alp_gmm run on gridworld that must not enter any number."""
    root = tmp_path / "runs"
    for env in ("gridworld", "webform"):
        for seed in range(5):
            fake_run(root, env=env, teacher="random", seed=seed, skill=0.3 + 0.02 * seed,
                     held_out={"a": 0.0, "b": 1.0} if env == "gridworld" else None)
            fake_run(root, env=env, teacher="alp_gmm", seed=seed, skill=0.9 + 0.02 * seed,
                     held_out={"a": 1.0, "b": 1.0} if env == "gridworld" else None)
    fake_run(root, env="gridworld", teacher="alp_gmm", seed=7, skill=0.0, state="failed", error="ValueError: nan loss")
    fake_run(root, env="gridworld", teacher="alp_gmm", seed=8, skill=0.0, state="running")
    return root


def test_collect_runs_reads_every_state(sweep):
    runs = lb.collect_runs(sweep)
    assert len(runs) == 22
    assert runs["state"].value_counts().to_dict() == {"finished": 20, "failed": 1, "running": 1}
    failed = runs[runs["state"] == "failed"].iloc[0]
    assert failed["error"] == "ValueError: nan loss" and failed["seed"] == 7
    assert math.isnan(failed["final_mastered"])
    held = runs[(runs["env"] == "gridworld") & (runs["teacher"] == "random") & (runs["state"] == "finished")]
    assert held["held_out_solved"].eq(50.0).all()


def test_failed_and_unfinished_runs_are_counted_never_averaged(sweep):
    runs = lb.collect_runs(sweep)
    table = lb.leaderboard(runs, reps=200)
    row = table[(table["env"] == "gridworld") & (table["teacher"] == "alp_gmm")].iloc[0]
    assert (row["seeds"], row["failed"], row["unfinished"]) == (5, 1, 1)
    done = runs[(runs["env"] == "gridworld") & (runs["teacher"] == "alp_gmm") & (runs["state"] == "finished")]
    assert row["final_mastered_mean"] == pytest.approx(done["final_mastered"].mean())
    assert row["auc_mastered_mean"] == pytest.approx(done["auc_mastered"].mean())
    assert row["seed_list"] == "0,1,2,3,4"
    assert row["held_out_solved_mean"] == pytest.approx(100.0)
    web = table[table["env"] == "webform"]
    assert web["held_out_solved_mean"].isna().all() and (web["failed"] == 0).all()
    # the better teacher ranks first in each env, and beats random on every seed pair
    for env, part in table.groupby("env"):
        assert part.iloc[0]["teacher"] == "alp_gmm"
        assert part.iloc[0]["p_improve"] == pytest.approx(1.0)
        assert math.isnan(part[part["teacher"] == "random"].iloc[0]["p_improve"])
    assert "-m name=exp env=gridworld teacher=alp_gmm student=ppo seed=0,1,2,3,4,7,8" in row["command"]


def test_robust_statistics_match_rliable():
    rng = np.random.default_rng(0)
    x, y = rng.normal(60, 10, size=(5, 3)), rng.normal(50, 10, size=(5, 3))
    assert lb.iqm(x.ravel()) == pytest.approx(rm.aggregate_iqm(x))
    strata_x = {f"env{t}": x[:, t] for t in range(3)}
    strata_y = {f"env{t}": y[:, t] for t in range(3)}
    p, lo, hi, n = lb.improvement_interval(strata_x, strata_y, np.random.default_rng(1), reps=500)
    assert n == 3 and p == pytest.approx(rm.probability_of_improvement(x, y))
    assert lo <= p <= hi
    point, ilo, ihi = lb.iqm_interval(strata_x, np.random.default_rng(1), reps=500)
    assert point == pytest.approx(rm.aggregate_iqm(x)) and ilo <= point <= ihi
    # ties count one half, and a sample against itself is a coin flip
    assert lb.improvement_probability(np.array([1.0, 1.0]), np.array([1.0])) == 0.5
    assert lb.improvement_probability(np.array([2.0, 0.0]), np.array([1.0])) == 0.5
    # stratified: every bootstrap sample draws only from its own stratum
    boots = lb.stratified_bootstrap([np.array([1.0, 1.0]), np.array([5.0, 6.0, 7.0])], np.random.default_rng(0), 50)
    assert boots[0].shape == (50, 2) and set(np.unique(boots[0])) == {1.0}
    assert set(np.unique(boots[1])) <= {5.0, 6.0, 7.0}
    # one or two seeds: no spread is invented, no interval shown
    point, lo, hi = lb.iqm_interval({"e": np.array([42.0])}, np.random.default_rng(0))
    assert point == 42.0 and math.isnan(lo) and math.isnan(hi)
    assert math.isnan(lb.iqm_interval({"e": np.array([1.0, 2.0])}, np.random.default_rng(0))[1])


def test_aggregate_across_envs_uses_only_finished_runs(sweep):
    runs = lb.collect_runs(sweep)
    agg = lb.aggregate(runs, reps=300)
    alp = agg[agg["teacher"] == "alp_gmm"].iloc[0]
    assert (alp["n_envs"], alp["runs"], alp["envs"]) == (2, 10, "gridworld,webform")
    done = runs[(runs["teacher"] == "alp_gmm") & (runs["state"] == "finished")]["final_mastered"]
    assert alp["iqm"] == pytest.approx(lb.iqm(done.to_numpy()))
    assert alp["p_improve"] == pytest.approx(1.0) and alp["p_improve_envs"] == 2
    assert agg.iloc[0]["teacher"] == "alp_gmm"


def test_unreadable_config_is_listed_not_dropped(tmp_path):
    fake_run(tmp_path, seed=0)
    broken = tmp_path / "exp" / "broken_run"
    broken.mkdir(parents=True)
    (broken / "config.yaml").write_text("env: [unclosed\n")
    (broken / "status.json").write_text('{"state": "running"}')
    runs = lb.collect_runs(tmp_path)
    assert sorted(runs["state"]) == ["finished", "unreadable"]
    assert len(lb.leaderboard(runs, reps=50)) == 1
    assert "unreadable" in lb.not_finished(runs)["state"].tolist()


def test_report_files(sweep, tmp_path):
    runs = lb.collect_runs(sweep)
    paths = write_report(runs, tmp_path / "lb", title="Test board", reps=200)
    md = paths["markdown"].read_text()
    assert "| gridworld | ppo | alp_gmm | 5 |" in md
    assert "## Runs not counted" in md and "ValueError: nan loss" in md and "running" in md
    csv = pd.read_csv(paths["csv"])
    assert len(csv) == 4 and {"final_mastered_iqm", "p_improve", "command"} <= set(csv.columns)
    assert len(pd.read_csv(paths["runs_csv"])) == 22
    # each row's command replays its saved config (lowest finished seed) over all its seeds, failed ones too
    row = csv[(csv["env"] == "gridworld") & (csv["teacher"] == "alp_gmm")].iloc[0]
    configs = tmp_path / "lb" / "configs"
    name = f"gridworld__alp_gmm__ppo__{row['config_id']}__1000"  # names, config id, budget
    assert row["command"] == f"teachbench -cd {configs} -cn {name} -m seed=0,1,2,3,4,7,8 runs_dir=runs"
    first = runs[(runs["env"] == "gridworld") & (runs["teacher"] == "alp_gmm") & (runs["state"] == "finished")]
    source = Path(first.sort_values("seed")["path"].iloc[0]) / "config.yaml"
    from omegaconf import OmegaConf

    assert OmegaConf.load(configs / f"{name}.yaml") == OmegaConf.load(source)  # the checked data, rewritten
    assert len(list(configs.glob("*.yaml"))) == 4
    page = paths["html"].read_text()
    assert "ValueError: nan loss" in page
    assert not re.search(r"(src|href)\s*=\s*['\"]?https?:", page), "the page must not load anything"
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(images) >= 4  # curves, intervals, P(improvement), a heatmap per env
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    # palette PNGs (figure_png): 256 colours at most, so that the self-contained page stays small
    import io

    from PIL import Image

    decoded = [Image.open(io.BytesIO(base64.b64decode(i))) for i in images]
    assert {im.mode for im in decoded} == {"P"} and all(len(im.getcolors(256) or []) > 1 for im in decoded)


def test_cli_writes_files_and_skips_its_own_folder(sweep, capsys):
    assert leaderboard_main([str(sweep), "--reps", "100", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "alp_gmm" in out and "failed" in out and "nan loss" in out
    assert (sweep / "_leaderboard" / "leaderboard.html").exists()
    assert len(lb.collect_runs(sweep)) == 22  # a second pass does not read _leaderboard as runs
    assert leaderboard_main([str(sweep / "nothing-here")]) == 2  # bad input: one line, exit 2
    assert capsys.readouterr().err.strip() == f"teachbench-leaderboard: error: runs_dir: {sweep / 'nothing-here'} is not a folder"
    (sweep / "_leaderboard" / "empty").mkdir()
    assert leaderboard_main([str(sweep / "_leaderboard" / "empty")]) == 1  # a folder without runs


@pytest.mark.browser
@pytest.mark.skipif(find_chromium() is None, reason="needs Chromium (apt-get install -y chromium)")
def test_headless_chromium_screenshot(sweep, tmp_path):
    import matplotlib.image as mpimg

    paths = write_report(lb.collect_runs(sweep), tmp_path / "lb", reps=100)
    png = screenshot(paths["html"], tmp_path / "shot.png", window_size=(1200, 900))
    image = mpimg.imread(png)
    assert image.shape[:2] == (900, 1200)
    assert image[..., :3].std() > 0.05  # the page rendered (not a blank canvas)
