"""Claim 6, dcd's walker: DR vs PLR⊥ vs ACCEL on the 8-D obstacle course (``experiment=ued_walker_dcd``).

Reads ``runs.tar.gz`` (the run directories without checkpoints, models or episode tables). Each
run evaluated itself at its end on dcd's six named walkers (gymnasium's BipedalWalker-v3 and
its hardcore version, dcd's medium stairs, pit gap, stump height and roughness levels), 10
stochastic episodes each; a walker counts as solved in an episode whose return exceeds 230,
dcd's threshold. dcd's figure is the mean over the six of the solved rate (ACCEL 0.57, PLR⊥
0.25, DR 0.15 at its budget); the mean return over the six (``held_out_return``) is given too,
since at a small budget most solved rates are 0 or 100 %. Every 2.5M steps it also played 100 obstacle courses drawn over
the whole space (one episode each; % with return > 230 and the mean return).

It prints, and writes ``table.csv``: per metric and teacher, mean ± sd, IQM with its
stratified-bootstrap 95% interval, and P(a seed of the teacher beats a DR seed) with its
interval (the leaderboard's statistics), plus P(ACCEL > PLR⊥); then the per-walker solved
rates and each replay teacher's buffer at its last log.

    python experiments/results/ued_walker_dcd/summarise.py
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.reporting.leaderboard import seed_comparison

HERE = Path(__file__).resolve().parent
NAMES = {"random": "DR", "plr_robust": "PLR⊥", "accel": "ACCEL"}
WALKERS = ("BipedalWalker-v3", "BipedalWalkerHardcore-v3", "Med-Stairs", "Med-PitGap", "Med-StumpHeight",
           "Med-Roughness")
#: dcd's threshold: a walker episode is solved when its return exceeds this
SOLVED_RETURN = 230.0
#: dcd's published mean solved rate over the six walkers (10 seeds, its full budget)
DCD = {"random": 15.0, "plr_robust": 25.0, "accel": 57.0}


def _tables(tar: tarfile.TarFile, run: str, kind: str) -> pd.DataFrame:
    parts = [m for m in tar.getmembers() if m.name.startswith(run + f"/{kind}/") and m.name.endswith(".parquet")]
    frames = [pd.read_parquet(io.BytesIO(tar.extractfile(m).read())) for m in parts]  # type: ignore[union-attr]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load(path: Path = HERE / "runs.tar.gz") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(runs: teacher, seed, held-out mean and per walker (%), test % mastered and mean return,
    gradient updates, episodes; test: teacher, seed, step, mastered_pct, mean_return;
    diagnostics: each replay run's last teacher row)."""
    runs, test, diag = [], [], []
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if not member.name.endswith("/summary.json"):
                continue
            s = json.load(tar.extractfile(member))  # type: ignore[arg-type]
            if s.get("state") != "finished":
                continue
            run = member.name.rsplit("/", 1)[0]
            ev = _tables(tar, run, "eval")
            held = ev[(ev["split"] == "held_out") & (ev["step"] == ev["step"].max())]
            # dcd's criterion, return > 230, from the episodes' returns: the run's summary.json counts the env's
            # success flag (the course's end reached), which a walker can miss with a return above 230 (README)
            by_walker = held.groupby("name")["return"]
            solved = {w: 100.0 * float((by_walker.get_group(w) > SOLVED_RETURN).mean()) for w in WALKERS}
            runs.append({"teacher": s["teacher"], "seed": int(s["seed"]), "steps": int(s["steps"]),
                         "held_out": sum(solved.values()) / len(solved), **solved,
                         "held_out_success": 100.0 * float(np.mean([s["held_out_solved"][w] for w in WALKERS])),
                         "held_out_return": float(by_walker.mean().reindex(list(WALKERS)).mean()),
                         "test_mastered": float(s["final_mastered"]), "test_return": float(s["final_return"]),
                         "gradient_updates": int(s["gradient_updates"]), "episodes": int(s["episodes"])})
            ev = ev[ev["split"] == "test"]
            t = ev.groupby("step").agg(mastered_pct=("mastered", "mean"), mean_return=("return", "mean"))
            t["mastered_pct"] *= 100
            test.append(t.reset_index().assign(teacher=s["teacher"], seed=int(s["seed"])))
            d = _tables(tar, run, "teacher")
            if "replay_fraction" in d:
                diag.append(d.sort_values("step").iloc[-1:].assign(teacher=s["teacher"], seed=int(s["seed"])))
    frame = pd.DataFrame(runs).sort_values(["teacher", "seed"]).reset_index(drop=True)
    return frame, pd.concat(test, ignore_index=True), (pd.concat(diag, ignore_index=True) if diag else pd.DataFrame())


def compare(runs: pd.DataFrame, column: str) -> list[dict]:
    """Per teacher on ``column``: mean ± sd, IQM [95% CI], P(> DR) [95% CI]; and P(ACCEL > PLR⊥)."""
    present = {t: n for t, n in NAMES.items() if t in set(runs["teacher"])}
    rows = seed_comparison(runs, column, present, "random", key=("final",), p_column="p_above_dr")
    if {"accel", "plr_robust"} <= set(present):
        pair = seed_comparison(runs, column, {"plr_robust": "PLR⊥", "accel": "ACCEL"}, "plr_robust",
                               key=("final",), p_column="p_above_plr_robust")
        rows.append({**pair[1], "teacher": "ACCEL vs PLR⊥"})
    return rows


def main() -> pd.DataFrame:
    runs, test, diag = load()
    table = pd.DataFrame(compare(runs, "held_out") + compare(runs, "held_out_return") + compare(runs, "test_return")
                         + compare(runs, "test_mastered"))
    table.to_csv(HERE / "table.csv", index=False)
    pd.set_option("display.width", 220)
    print(f"{len(runs)} finished runs: " + ", ".join(
        f"{NAMES[t]} seeds {sorted(g['seed'])}" for t, g in runs.groupby("teacher", sort=False)))
    print(table.round(3).to_string(index=False))
    print()
    per_walker = runs.groupby("teacher")[list(WALKERS)].mean().rename(index=NAMES).round(1)
    per_walker["mean (ours)"] = runs.groupby("teacher")["held_out"].mean().rename(index=NAMES).round(1)
    per_walker["dcd"] = pd.Series({NAMES[t]: v for t, v in DCD.items()})
    print("% solved per held-out walker (mean over seeds), beside dcd's mean at its budget:")
    print(per_walker.to_string())
    print()
    print("per run:")
    print(runs[["teacher", "seed", "steps", "held_out", "held_out_success", "held_out_return", "test_return", "gradient_updates",
                "episodes"]].round(1)
          .to_string(index=False))
    print()
    print("test set by evaluation step (mean over seeds):")
    print(test.groupby(["teacher", "step"])[["mastered_pct", "mean_return"]].mean().round(1).to_string())
    if not diag.empty:
        print()
        print("the replay teachers at their last log:")
        cols = [c for c in ("teacher", "seed", "replay_fraction", "buffer_fill", "buffer_replaced", "score_mean",
                            "train_trained_transitions", "children_made") if c in diag]
        print(diag[cols].round(3).to_string(index=False))
    return table


if __name__ == "__main__":
    main()
