"""The code a run ran (``experiments/code_version.py``): the git commit read from the
``.git`` files without a subprocess, in every git layout a checkout can have, and recorded
in each run's summary and in the leaderboard's runs table."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from experiments.code_version import LOADED, code_info

ROOT = Path(__file__).resolve().parents[1]
A = "a" * 40
B = "b" * 40


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout")
def test_this_checkout_matches_git_itself():
    info = code_info(ROOT)
    assert info["commit"] == _git("rev-parse", "HEAD")
    branch = _git("rev-parse", "--abbrev-ref", "HEAD")
    assert info["branch"] == (None if branch == "HEAD" else branch)
    assert LOADED["commit"] is not None and len(LOADED["commit"]) == 40  # read at import: the commit of that moment


def test_loose_ref_packed_ref_detached_and_no_git(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git" / "refs" / "heads").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / ".git" / "refs" / "heads" / "main").write_text(A + "\n")
    assert code_info(repo)["commit"] == A and code_info(repo)["branch"] == "main"
    (repo / ".git" / "refs" / "heads" / "main").unlink()  # after `git gc`: only packed-refs
    (repo / ".git" / "packed-refs").write_text(f"# pack-refs with: peeled fully-peeled sorted\n{B} refs/heads/main\n")
    assert code_info(repo)["commit"] == B
    (repo / ".git" / "HEAD").write_text(A + "\n")  # detached
    assert (code_info(repo)["commit"], code_info(repo)["branch"]) == (A, None)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/new\n")  # a branch with no commit yet
    assert (code_info(repo)["commit"], code_info(repo)["branch"]) == (None, "new")
    assert (code_info(tmp_path / "nowhere")["commit"], code_info(tmp_path / "nowhere")["branch"]) == (None, None)


def test_linked_worktree_follows_gitdir_and_commondir(tmp_path):
    main = tmp_path / "main" / ".git"
    (main / "refs" / "heads").mkdir(parents=True)
    (main / "refs" / "heads" / "feature").write_text(B + "\n")
    wt_git = main / "worktrees" / "feature"
    wt_git.mkdir(parents=True)
    (wt_git / "HEAD").write_text("ref: refs/heads/feature\n")
    (wt_git / "commondir").write_text("../..\n")
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {wt_git}\n")
    assert code_info(wt)["commit"] == B and code_info(wt)["branch"] == "feature"


def test_a_run_records_the_code_it_loaded_and_runs_csv_shows_it(tmp_path):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from experiments.reporting.runs import collect_runs
    from experiments.running.run import run, run_dir_for

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("config", [f"runs_dir={tmp_path / 'runs'}", "env=gridworld_small", "budget.steps=2048",
                                 "eval.every=100000", "checkpoint.every=2048", "env.kwargs.max_steps=20"])
    GlobalHydra.instance().clear()
    summary = run(cfg)
    assert summary["code"] == LOADED and set(LOADED) == {"version", "commit", "branch"}
    assert LOADED["version"] == "0.1.0"  # pyproject.toml's version of the installed package
    table = collect_runs(tmp_path / "runs")
    assert list(table["code_commit"]) == [LOADED["commit"]]
    assert run_dir_for(cfg).path.name.endswith(summary["config_id"])  # the code block is not in the id
