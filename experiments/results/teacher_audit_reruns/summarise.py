"""ADR, SPDL, Covar-GMM and Setter-Solver after their TeachMyAgent fidelity fixes (session 9):
the leaderboard's rows again.

The baseline leaderboard's rows of these four teachers were made by the implementations before the
audit against TeachMyAgent's code (``leaderboard/README.md`` says what changed). This
folder's ``runs.tar.gz`` holds the same rows rerun with the fixed code, with each row's
own command:

    teachbench experiment=baseline_webform teacher=adr,spdl,covar_gmm,setter_solver hydra/launcher=cores
    teachbench experiment=baseline_gridworld teacher=adr,spdl,covar_gmm,setter_solver hydra/launcher=cores
    teachbench-track name=track_full "only=[random,adr,spdl,covar_gmm,setter_solver]" seeds=10 workers=1 \
        write_episodes=false

This script puts them beside the committed Random runs of the same rows (the leaderboard's
device and local tarballs: ``call2_gridworld`` for the maze, ``local_web`` for the web
forms; the track reruns its own Random, which matches the committed one to the digit) and
builds the leaderboard's table with the leaderboard's own code, so P(> random) is the
statistic of ``leaderboard/leaderboard.md``. It prints that table beside the committed rows.

    python experiments/results/teacher_audit_reruns/summarise.py
"""

from __future__ import annotations

import sys
import tarfile
import tempfile
from pathlib import Path

import pandas as pd

from experiments.reporting.leaderboard import collect_runs, leaderboard

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
RANDOM_RUNS = {  # tarball -> the prefix of the Random run folders it holds for these rows
    ROOT / "experiments/results/leaderboard_2026-11-30/call2_gridworld.tar.gz": "baseline/gridworld__random__ppo__",
    ROOT / "experiments/results/leaderboard_2026-11-30/local_web.tar.gz": "baseline/webform__random__maskable_ppo__",
}
COLUMNS = ["experiment", "env", "teacher", "seeds", "final_mastered_mean", "final_mastered_std", "final_mastered_iqm",
           "final_mastered_lo", "final_mastered_hi", "p_improve", "p_improve_lo", "p_improve_hi", "teacher_updated_text",
           "gradient_updates"]


def _extract_random(dest: Path) -> None:
    for tarball, prefix in RANDOM_RUNS.items():
        with tarfile.open(tarball) as tar:
            members = [m for m in tar.getmembers() if m.name.lstrip("./").startswith(prefix)
                       and m.name.rsplit("/", 1)[-1] in ("summary.json", "config.yaml", "status.json")]
            tar.extractall(dest, members=members, filter="data")


def table(runs_tarball: Path = HERE / "runs.tar.gz") -> pd.DataFrame:
    """The leaderboard table of the rerun ADR/SPDL rows and their Random rows."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(runs_tarball) as tar:
            tar.extractall(tmp, filter="data")
        _extract_random(Path(tmp))
        board = leaderboard(collect_runs(tmp))
    return board


def committed() -> pd.DataFrame:
    """The same rows as ``leaderboard/leaderboard.csv`` has them (made before the fixes)."""
    board = pd.read_csv(ROOT / "leaderboard" / "leaderboard.csv")
    keep = (board["teacher"].isin(["random", "adr", "spdl", "covar_gmm", "setter_solver"])
            & board["experiment"].isin(["baseline", "track_full"]))
    return board[keep]


if __name__ == "__main__":
    pd.set_option("display.width", 220)
    new = table(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "runs.tar.gz")
    cols = [c for c in COLUMNS if c in new.columns]
    print("after the fixes (this folder's runs; Random: the committed runs):")
    print(new[cols].round(3).to_string(index=False))
    print("\nbefore (leaderboard/leaderboard.csv):")
    print(committed()[[c for c in COLUMNS if c in committed().columns]].round(3).to_string(index=False))
