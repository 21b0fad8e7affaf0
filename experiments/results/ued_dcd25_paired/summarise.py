"""What the 25-block DR vs PAIRED runs reached (``runs_slim.tar.gz``): per run its last step, the
test-set evaluations (% of the 50 test levels mastered, greedy, one episode each) and, for
PAIRED, the designer's diagnostics at its last log (adversary updates, walls per level,
unsolvable share, replays of open levels).

    python experiments/results/ued_dcd25_paired/summarise.py
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def _tables(tar: tarfile.TarFile, run: str, kind: str) -> pd.DataFrame:
    parts = [m for m in tar.getmembers() if m.name.startswith(run + f"/{kind}/") and m.name.endswith(".parquet")]
    frames = [pd.read_parquet(io.BytesIO(tar.extractfile(m).read())) for m in parts]  # type: ignore[union-attr]
    return pd.concat(frames) if frames else pd.DataFrame()


def summarise(path: Path = HERE / "runs_slim.tar.gz") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(evaluations: teacher, seed, step, % mastered; runs: teacher, seed, last step, diagnostics)."""
    evals, runs = [], []
    with tarfile.open(path) as tar:
        dirs = sorted({m.name.rsplit("/", 1)[0] for m in tar.getmembers() if m.name.endswith("/status.json")})
        for run in dirs:
            teacher, seed = re.search(r"__(\w+?)__recurrent_ppo__s(\d+)__", run).groups()  # type: ignore[union-attr]
            log = tar.extractfile(run + "/run.log").read().decode()  # type: ignore[union-attr]
            reached = max(int(s) for s in re.findall(r"interrupted at step (\d+)", log))
            ev = _tables(tar, run, "eval")
            for step, mastered in ev.groupby("step")["mastered"].mean().items():
                evals.append({"teacher": teacher, "seed": int(seed), "step": int(step), "mastered_pct": 100 * mastered})
            row = {"teacher": teacher, "seed": int(seed), "last_step_logged": reached,
                   "checkpoint": json.load(tar.extractfile(run + "/status.json"))["step"]}  # type: ignore[arg-type]
            diag = _tables(tar, run, "teacher")
            if "adversary_updates" in diag:
                last = diag.sort_values("step").iloc[-1]
                row.update({k: last[k] for k in ("step", "adversary_updates", "mean_walls", "unsolvable_rate",
                                                  "mean_regret", "extra_protagonist_episodes")})
            runs.append(row)
    return pd.DataFrame(evals), pd.DataFrame(runs)


if __name__ == "__main__":
    evals, runs = summarise()
    table = evals.pivot_table(index=["teacher", "step"], columns="seed", values="mastered_pct")
    table["mean"], table["sd"] = table.mean(axis=1), table.std(axis=1)
    print(table.round(1).to_string())
    print()
    print(runs.to_string(index=False))
