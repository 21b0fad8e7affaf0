"""Copy the smoke training runs' small files here and print their table (issue #21's evidence).

For every finished run directory under ``RUNS`` (``<runs_dir>/<name>/<run>/``) this copies
``config.yaml``, ``summary.json``, ``run.log`` and ``eval/`` (not ``checkpoints/`` nor
``model.zip``) to ``runs/<run>/`` and writes ``runs/<run>/sb3_updates.json`` with the
counters SB3 saved in the final ``model.zip`` (``_n_updates``, ``num_timesteps``, the PPO
sizes) and the number of minibatch gradient steps they imply. It then prints one markdown
row per run from the copied files.

    PYTHONPATH=. python experiments/results/parkour_2026-11-30/collect_runs.py /tmp/evidence_runs/evidence_parkour
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import zipfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent


def sb3_counters(model_zip: Path) -> dict[str, object]:
    """SB3's saved counters; minibatch steps = epochs run x minibatches per rollout buffer."""
    with zipfile.ZipFile(model_zip) as z:
        data = json.loads(z.read("data"))
    out = {k: data[k] for k in ("_n_updates", "num_timesteps", "n_steps", "n_epochs", "batch_size", "n_envs")
           if k in data}
    if {"_n_updates", "n_steps", "batch_size", "n_envs"} <= out.keys():
        per_epoch = math.ceil(int(out["n_steps"]) * int(out["n_envs"]) / int(out["batch_size"]))
        out["minibatch_gradient_steps"] = int(out["_n_updates"]) * per_epoch
    return out


def copy_run(src: Path, dst_root: Path) -> Path:
    dst = dst_root / src.name
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("config.yaml", "summary.json", "run.log"):
        shutil.copy2(src / name, dst / name)
    if (dst / "eval").exists():
        shutil.rmtree(dst / "eval")
    shutil.copytree(src / "eval", dst / "eval")
    (dst / "sb3_updates.json").write_text(json.dumps(sb3_counters(src / "model.zip"), indent=1) + "\n")
    return dst


def row(run: Path) -> str:
    s = json.loads((run / "summary.json").read_text())
    u = json.loads((run / "sb3_updates.json").read_text())
    ev = pd.concat([pd.read_parquet(p) for p in sorted((run / "eval").glob("*.parquet"))])
    ev = ev[ev["split"] == "test"]   # the 3 zero-shot held-out levels played at the end are not test tasks
    per = ev.groupby("step").agg(mastered=("mastered", "mean"), ret=("return", "mean"), n=("return", "size"),
                                 length=("length", "mean"))
    evals = "; ".join(f"step {int(st)}: {100 * r.mastered:.0f}% of {int(r.n)}, return {r.ret:.1f}, "
                      f"length {r.length:.0f}" for st, r in per.iterrows())
    body = s["env"].removeprefix("parkour_")
    return (f"| {body} | {s['teacher']} | {s['steps']} | {s['episodes']} | {u.get('_n_updates')} | "
            f"{u.get('minibatch_gradient_steps')} | {s['final_mastered']:.1f} | {s['final_return']:.2f} | "
            f"{evals} | {s['wall_time_s']:.0f} |")


def main() -> None:
    root = Path(sys.argv[1])
    dst_root = HERE / "runs"
    for src in sorted(p for p in root.iterdir() if (p / "summary.json").exists()):
        copy_run(src, dst_root)
    print("| body | teacher | env steps | train episodes | SB3 updates (epochs) | minibatch gradient steps | "
          "final % mastered | final mean test return | test evaluations | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run in sorted(dst_root.iterdir()):
        if (run / "summary.json").exists():
            print(row(run))


if __name__ == "__main__":
    main()
