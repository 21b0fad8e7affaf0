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

``runs_lite.tar.gz`` (session 10) holds the lite tiers' rows of the same teachers, rerun with
each lite preset's own settings (3 seeds):

    teachbench -m experiment=lite_gridworld teacher=adr,spdl,covar_gmm,setter_solver hydra/launcher=cores
    teachbench -m experiment=lite_webform teacher=adr,spdl,covar_gmm,setter_solver hydra/launcher=cores
    teachbench-track name=lite "only=[random,adr,spdl,covar_gmm,setter_solver]" seeds=3 episodes=10000 \
        eval_every=500 workers=1 write_episodes=false

This script puts them beside the committed Random runs of the same rows (the leaderboard's
device and local tarballs: ``call2_gridworld`` for the maze, ``local_web`` for the web
forms; for the lite tiers the Random runs of the table's manifest, ``leaderboard/runs/lite``;
the tracks rerun their own Random, which matches the committed one to the digit) and
builds the leaderboard's table with the leaderboard's own code, so P(> random) is the
statistic of ``leaderboard/leaderboard.md``. It prints that table beside the rows of the
table before the reruns (``leaderboard/archive/leaderboard_2026-11-30.csv``).

    python experiments/results/teacher_audit_reruns/summarise.py
"""

from __future__ import annotations

import shutil
import sys
import tarfile
from pathlib import Path

import pandas as pd

from experiments.reporting.leaderboard import collect_runs, leaderboard
from experiments.reporting.results_scripts import unpacked

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
RANDOM_RUNS = {  # tarball -> the prefix of the Random run folders it holds for these rows
    ROOT / "experiments/results/leaderboard_2026-11-30/call2_gridworld.tar.gz": "baseline/gridworld__random__ppo__",
    ROOT / "experiments/results/leaderboard_2026-11-30/local_web.tar.gz": "baseline/webform__random__maskable_ppo__",
}
LITE_RANDOM = ROOT / "leaderboard" / "runs" / "lite"  # the table's manifest: slim copies of its lite runs
BEFORE = ROOT / "leaderboard" / "archive" / "leaderboard_2026-11-30.csv"  # the table before the reruns
TEACHERS = ["random", "adr", "spdl", "covar_gmm", "setter_solver"]
COLUMNS = ["experiment", "env", "teacher", "seeds", "final_mastered_mean", "final_mastered_std", "final_mastered_iqm",
           "final_mastered_lo", "final_mastered_hi", "p_improve", "p_improve_lo", "p_improve_hi", "teacher_updated_text",
           "gradient_updates"]


def _extract_random(dest: Path, random_runs: dict[Path, str] | None = None) -> None:
    """Copy the slim files of the committed Random runs (``random_runs``: tarball -> run-folder
    prefix; default :data:`RANDOM_RUNS`) into ``dest``."""
    for tarball, prefix in (RANDOM_RUNS if random_runs is None else random_runs).items():
        with tarfile.open(tarball) as tar:
            members = [m for m in tar.getmembers() if m.name.lstrip("./").startswith(prefix)
                       and m.name.rsplit("/", 1)[-1] in ("summary.json", "config.yaml", "status.json")]
            tar.extractall(dest, members=members, filter="data")


def table(runs_tarball: Path = HERE / "runs.tar.gz", random_runs: dict[Path, str] | None = None) -> pd.DataFrame:
    """The leaderboard table of the rerun rows and their Random rows (``random_runs``, as for
    :func:`_extract_random`)."""
    with unpacked(runs_tarball) as tmp:
        _extract_random(tmp, random_runs)
        board = leaderboard(collect_runs(tmp))
    return board


def table_lite(runs_tarball: Path = HERE / "runs_lite.tar.gz") -> pd.DataFrame:
    """The leaderboard table of the rerun lite rows and the lite tier's committed Random runs
    (where the tarball has no Random run of that env: the toy track reran its own)."""
    with unpacked(runs_tarball) as tmp:
        lite = tmp / "lite"
        rerun = {run.name.split("__")[0] for run in lite.glob("*__random__*")}  # envs whose Random was rerun
        for run in sorted(LITE_RANDOM.glob("*__random__*")):
            if run.name.split("__")[0] not in rerun:
                shutil.copytree(run, lite / run.name)
        return leaderboard(collect_runs(tmp))


def committed(experiments: tuple[str, ...] = ("baseline", "track_full")) -> pd.DataFrame:
    """The same rows as the table before the reruns had them (made before the fixes)."""
    board = pd.read_csv(BEFORE)
    return board[board["teacher"].isin(TEACHERS) & board["experiment"].isin(experiments)]


if __name__ == "__main__":
    pd.set_option("display.width", 220)
    new = table(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "runs.tar.gz")
    cols = [c for c in COLUMNS if c in new.columns]
    print("after the fixes (this folder's runs; Random: the committed runs):")
    print(new[cols].round(3).to_string(index=False))
    print("\nbefore (leaderboard/archive/leaderboard_2026-11-30.csv):")
    print(committed()[[c for c in COLUMNS if c in committed().columns]].round(3).to_string(index=False))
    if (HERE / "runs_lite.tar.gz").is_file():
        lite = table_lite()
        print("\nlite tiers after the fixes (runs_lite.tar.gz; Random: the committed lite runs):")
        print(lite[[c for c in COLUMNS if c in lite.columns]].round(3).to_string(index=False))
        print("\nlite tiers before:")
        print(committed(("lite",))[[c for c in COLUMNS if c in lite.columns]].round(3).to_string(index=False))
