"""leaderboard/rebuild.py's manifest edits: ``--supersede`` replaces a row's seeds by rerun
ones and adds nothing; ``--add`` also takes a teacher's first rows, on envs the table has."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from experiments.reporting.results_scripts import load_script

REBUILD = load_script(Path(__file__).resolve().parents[1] / "leaderboard" / "rebuild.py")


def _summary(teacher: str, seed: int, env: str = "gridworld", final: float = 50.0) -> dict:
    return {"experiment": "baseline", "env": env, "student": "ppo", "teacher": teacher, "seed": seed,
            "final_mastered": final}


def _write_run(root: Path, run: str, summary: dict) -> None:
    folder = root / "baseline" / run
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "config.yaml").write_text(f"teacher:\n  name: {summary['teacher']}\n")


def _tarball(path: Path, runs: dict[str, dict]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for run, summary in runs.items():
            for name, text in (("summary.json", json.dumps(summary)), ("config.yaml", "x: 1\n")):
                data = text.encode()
                info = tarfile.TarInfo(f"baseline/{run}/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def test_supersede_replaces_a_rows_seeds_and_add_takes_a_new_teacher(tmp_path):
    manifest = tmp_path / "runs"
    _write_run(manifest, "gridworld__random__ppo__s0__aaaa", _summary("random", 0))
    _write_run(manifest, "gridworld__clutr__ppo__s0__old1", _summary("clutr", 0, final=32.0))
    _write_run(manifest, "gridworld__clutr__ppo__s1__old1", _summary("clutr", 1, final=30.0))
    reruns = _tarball(tmp_path / "reruns.tar.gz", {
        "gridworld__clutr__ppo__s0__new2": _summary("clutr", 0, final=27.0),
        "gridworld__minimax__ppo__s0__mm01": _summary("minimax", 0, final=40.0),
        "webform__minimax__ppo__s0__mm02": _summary("minimax", 0, env="webform"),  # an env the table lacks
    })
    changed = REBUILD.supersede(reruns, {"clutr", "minimax"}, manifest)
    # the CLUTR row's two old seeds go and the one rerun seed comes in; minimax is not added
    assert sorted(changed) == ["+ baseline/gridworld__clutr__ppo__s0__new2", "- baseline/gridworld__clutr__ppo__s0__old1",
                               "- baseline/gridworld__clutr__ppo__s1__old1"]
    assert {run for _, run in REBUILD.manifest_runs(manifest)} == {"gridworld__random__ppo__s0__aaaa",
                                                                  "gridworld__clutr__ppo__s0__new2"}
    changed = REBUILD.supersede(reruns, {"minimax"}, manifest, add=True)
    # minimax's gridworld row is added; its web-form run is not (the table has no such row to rank it in)
    assert changed == ["+ baseline/gridworld__minimax__ppo__s0__mm01"]
    assert REBUILD.manifest_runs(manifest)[("baseline", "gridworld__minimax__ppo__s0__mm01")]["final_mastered"] == 40.0


def test_section_adds_the_rows_of_one_new_experiment_only(tmp_path):
    manifest = tmp_path / "runs"
    _write_run(manifest, "gridworld__random__ppo__s0__aaaa", _summary("random", 0))
    walker = {**_summary("adr", 0, env="walker_stumps"), "experiment": "walker_six"}
    other = {**_summary("adr", 0, env="walker_stumps"), "experiment": "elsewhere"}
    runs = _tarball(tmp_path / "walker.tar.gz", {"walker_stumps__adr__ppo__s0__w1": walker,
                                                  "walker_stumps__adr__ppo__s0__x1": other})
    assert REBUILD.supersede(runs, {"adr"}, manifest, add=True) == []  # an env the table lacks: nothing
    # the tarball's members all sit under baseline/ (the helper's layout), the summary names the section
    assert REBUILD.supersede(runs, {"adr"}, manifest, add=True, section="walker_six") == [
        "+ baseline/walker_stumps__adr__ppo__s0__w1"]


def test_tarballs_of_one_call_pool_a_rows_seeds(tmp_path):
    manifest = tmp_path / "runs"
    _write_run(manifest, "gridworld__random__ppo__s0__aaaa", _summary("random", 0))
    first = _tarball(tmp_path / "a.tar.gz", {"gridworld__adr__ppo__s0__a1": _summary("adr", 0, final=10.0),
                                             "gridworld__adr__ppo__s1__a1": _summary("adr", 1, final=11.0)})
    second = _tarball(tmp_path / "b.tar.gz", {"gridworld__adr__ppo__s1__b2": _summary("adr", 1, final=21.0),
                                              "gridworld__adr__ppo__s2__b2": _summary("adr", 2, final=22.0)})
    REBUILD.supersede([first, second], {"adr"}, manifest, add=True)
    finals = {run: s["final_mastered"] for (_, run), s in REBUILD.manifest_runs(manifest).items() if s["teacher"] == "adr"}
    # seeds 0 and 2 from one tarball each; seed 1 is in both and comes from the last
    assert finals == {"gridworld__adr__ppo__s0__a1": 10.0, "gridworld__adr__ppo__s1__b2": 21.0,
                      "gridworld__adr__ppo__s2__b2": 22.0}


def test_the_committed_minimax_rows_are_its_runs():
    """experiments/results/minimax_gridworld/: the table's minimax rows are the tarball's runs
    (seed finals as the README lists them), below Random with every seed trained."""
    import numpy as np
    import pandas as pd

    root = Path(__file__).resolve().parents[1]
    finals: dict[str, list[float]] = {"baseline": [], "lite": []}
    with tarfile.open(root / "experiments" / "results" / "minimax_gridworld" / "runs.tar.gz") as tar:
        for m in sorted(tar.getmembers(), key=lambda m: m.name):
            if m.name.endswith("/summary.json"):
                s = json.loads(tar.extractfile(m).read())  # type: ignore[union-attr]
                assert s["teacher"] == "minimax" and s["gradient_updates"] > 0
                finals[s["experiment"]].append(s["final_mastered"])
    assert np.allclose(finals["baseline"], [46.4, 44.0, 35.6, 50.4, 52.4]) and np.allclose(finals["lite"], [15.6, 20.4, 31.6])
    board = pd.read_csv(root / "leaderboard" / "leaderboard.csv").set_index(["experiment", "env", "teacher"])
    for experiment, values in finals.items():
        row = board.loc[(experiment, "gridworld", "minimax")]
        assert row["final_mastered_mean"] == np.mean(values) or np.isclose(row["final_mastered_mean"], np.mean(values))
        assert row["p_improve_hi"] == 0.0  # every minimax seed below every Random seed
