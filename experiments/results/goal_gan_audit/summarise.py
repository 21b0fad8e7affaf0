"""GoalGAN's toy-track row after its TeachMyAgent fidelity fixes (session 10), beside the
committed Random runs, with the leaderboard's own code.

``runs.tar.gz`` holds the 10 seeds of

    teachbench-track name=track_full "only=[goal_gan]" seeds=10 workers=1 write_episodes=false

run with the fixed ``teachers/goal_gan.py`` (configs, summaries, evaluations and teacher
diagnostics; no episode tables). The Random runs are the committed ones of the same row
(``experiments/results/leaderboard_2026-11-30/call1_track.tar.gz``), so P(> random) is the
statistic of ``leaderboard/leaderboard.md``. The committed GoalGAN row (the code before the
fixes) is printed beside it.

``runs_rl.tar.gz`` and ``runs_lite.tar.gz`` hold GoalGAN's other rows, rerun with the same
code and each row's own command (the gridworld and web-form baselines, 5 seeds; the three
lite tiers, 3 seeds)::

    teachbench experiment=baseline_gridworld teacher=goal_gan hydra/launcher=cores   # TEACHBENCH_JOBS=1
    teachbench experiment=baseline_webform teacher=goal_gan hydra/launcher=cores
    teachbench experiment=lite_gridworld teacher=goal_gan hydra/launcher=cores
    teachbench experiment=lite_webform teacher=goal_gan hydra/launcher=cores
    python -m experiments.running.teacher_track name=lite "only=[goal_gan]" seeds=3 episodes=10000 \
        eval_every=500 workers=1 write_episodes=false

They are tabulated with ``../teacher_audit_reruns/summarise.py``'s loaders (the same committed
Random runs as the session-9 reruns). "Before" is the table before the reruns,
``leaderboard/archive/leaderboard_2026-11-30.csv``.

    python experiments/results/goal_gan_audit/summarise.py
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import pandas as pd

from experiments.reporting.results_scripts import load_script

HERE = Path(__file__).resolve().parent


# ../teacher_audit_reruns/summarise.py: the committed Random runs of each row, and their loaders
AUDIT9 = load_script(HERE.parent / "teacher_audit_reruns" / "summarise.py")

ROOT = HERE.parents[2]
RANDOM_TARBALL = ROOT / "experiments/results/leaderboard_2026-11-30/call1_track.tar.gz"
RANDOM_PREFIX = "track_full/toy-default__random__sim__"
COLUMNS = ["experiment", "env", "teacher", "config_id", "seeds", "final_mastered_mean", "final_mastered_std",
           "final_mastered_iqm", "p_improve", "p_improve_lo", "p_improve_hi", "verdict"]


def table(runs_tarball: Path = HERE / "runs.tar.gz") -> pd.DataFrame:
    """The leaderboard table of the rerun GoalGAN row and the committed Random row."""
    return AUDIT9.table(runs_tarball, {RANDOM_TARBALL: RANDOM_PREFIX})


def table_rl(runs_tarball: Path = HERE / "runs_rl.tar.gz") -> pd.DataFrame:
    """The gridworld and web-form baseline rows, beside their committed Random runs."""
    return AUDIT9.table(runs_tarball)


def table_lite(runs_tarball: Path = HERE / "runs_lite.tar.gz") -> pd.DataFrame:
    """The three lite rows, beside the lite tier's committed Random runs."""
    return AUDIT9.table_lite(runs_tarball)


def committed(experiments: tuple[str, ...] = ("track_full",)) -> pd.DataFrame:
    """GoalGAN's and Random's rows as the table before the reruns had them (the code before
    the fixes): ``leaderboard/archive/leaderboard_2026-11-30.csv``."""
    board = pd.read_csv(AUDIT9.BEFORE)
    keep = board["teacher"].isin(["random", "goal_gan"]) & board["experiment"].isin(experiments)
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
    print("\nbefore (leaderboard/archive/leaderboard_2026-11-30.csv):")
    old = committed()
    print(old[[c for c in COLUMNS if c in old.columns]].round(3).to_string(index=False))
    for name, frame, experiments in (("gridworld and web-form baselines (runs_rl.tar.gz)", table_rl(), ("baseline",)),
                                     ("lite tiers (runs_lite.tar.gz)", table_lite(), ("lite",))):
        print(f"\n{name}, after the fixes:")
        print(frame[[c for c in COLUMNS if c in frame.columns]].round(3).to_string(index=False))
        print("before:")
        old = committed(experiments)
        print(old[[c for c in COLUMNS if c in old.columns]].round(3).to_string(index=False))
