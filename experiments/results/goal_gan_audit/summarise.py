"""GoalGAN's toy-track row after its TeachMyAgent fidelity fixes (session 10), beside the
committed Random runs, with the leaderboard's own code.

``runs.tar.gz`` holds the 10 seeds of

    teachbench-track name=track_full "only=[goal_gan]" seeds=10 workers=1 write_episodes=false

run with the fixed ``teachers/goal_gan.py`` (configs, summaries, evaluations and teacher
diagnostics; no episode tables). The Random runs are the committed ones of the same row
(``experiments/results/leaderboard_2026-11-30/call1_track.tar.gz``), so P(> random) is the
statistic of ``leaderboard/leaderboard.md``. The committed GoalGAN row (the code before the
fixes) is printed beside it.

    python experiments/results/goal_gan_audit/summarise.py
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
RANDOM_TARBALL = ROOT / "experiments/results/leaderboard_2026-11-30/call1_track.tar.gz"
RANDOM_PREFIX = "track_full/toy-default__random__sim__"
COLUMNS = ["experiment", "env", "teacher", "config_id", "seeds", "final_mastered_mean", "final_mastered_std",
           "final_mastered_iqm", "p_improve", "p_improve_lo", "p_improve_hi", "verdict"]


def _extract_random(dest: Path) -> None:
    with tarfile.open(RANDOM_TARBALL) as tar:
        members = [m for m in tar.getmembers() if m.name.lstrip("./").startswith(RANDOM_PREFIX)
                   and m.name.rsplit("/", 1)[-1] in ("summary.json", "config.yaml", "status.json")]
        tar.extractall(dest, members=members, filter="data")


def table(runs_tarball: Path = HERE / "runs.tar.gz") -> pd.DataFrame:
    """The leaderboard table of the rerun GoalGAN row and the committed Random row."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(runs_tarball) as tar:
            tar.extractall(tmp, filter="data")
        _extract_random(Path(tmp))
        return leaderboard(collect_runs(tmp))


def committed() -> pd.DataFrame:
    """The toy-track rows of GoalGAN and Random in ``leaderboard/leaderboard.csv`` (before the fixes)."""
    board = pd.read_csv(ROOT / "leaderboard" / "leaderboard.csv")
    keep = board["teacher"].isin(["random", "goal_gan"]) & (board["experiment"] == "track_full")
    return board[keep]


def per_seed(runs_tarball: Path = HERE / "runs.tar.gz") -> pd.DataFrame:
    """Final % of mastered cells per seed, from each run's summary."""
    import json

    rows = []
    with tarfile.open(runs_tarball) as tar:
        for m in tar.getmembers():
            if m.name.endswith("/summary.json"):
                s = json.load(tar.extractfile(m))  # type: ignore[arg-type]
                rows.append({"run": m.name.split("/")[-2], "final_mastered": s["curve_mastered"][-1]})
    return pd.DataFrame(rows).sort_values("run").reset_index(drop=True)


if __name__ == "__main__":
    pd.set_option("display.width", 220)
    new = table(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "runs.tar.gz")
    print("after the fixes (this folder's runs; Random: the committed runs):")
    print(new[[c for c in COLUMNS if c in new.columns]].round(3).to_string(index=False))
    print("\nper seed:")
    print(per_seed().to_string(index=False))
    print("\nbefore (leaderboard/leaderboard.csv):")
    old = committed()
    print(old[[c for c in COLUMNS if c in old.columns]].round(3).to_string(index=False))
