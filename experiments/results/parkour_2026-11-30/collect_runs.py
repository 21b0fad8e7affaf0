"""Copy the smoke training runs' small files here and print their table (issue #21's evidence).

For every finished run directory under each ``RUNS`` argument (``<runs_dir>/<name>/<run>/``) this copies
``config.yaml``, ``summary.json``, ``run.log``, ``eval/`` and ``teacher/`` (diagnostics; not ``checkpoints/`` nor
``model.zip``) to ``runs/<run>/`` and writes ``runs/<run>/sb3_updates.json`` with the
counters SB3 saved in the final ``model.zip`` (``_n_updates``, ``num_timesteps``, the PPO
sizes) and the number of minibatch gradient steps they imply. It then prints one markdown
row per run from the copied files.

    PYTHONPATH=. python experiments/results/parkour_2026-11-30/collect_runs.py /tmp/evidence_runs/evidence_parkour \\
        /tmp/evidence_runs/evidence_parkour_fit20
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import zipfile
from pathlib import Path

import pandas as pd
import yaml

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
    for name in ("eval", "teacher"):
        if (dst / name).exists():
            shutil.rmtree(dst / name)
        shutil.copytree(src / name, dst / name)
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
    diag = pd.concat([pd.read_parquet(p) for p in sorted((run / "teacher").glob("*.parquet"))]).iloc[-1]
    fits = f"{int(diag['n_fits'])} ({int(diag['n_components'])})" if "n_fits" in diag else "-"
    body = s["env"].removeprefix("parkour_")
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    fit_rate = (cfg["teacher"].get("params") or {}).get("fit_rate")
    teacher = s["teacher"] + (f" (fit_rate {fit_rate})" if fit_rate is not None else "")
    return (f"| {body} | {teacher} | {s['steps']} | {s['episodes']} | {u.get('_n_updates')} | "
            f"{u.get('minibatch_gradient_steps')} | {s['final_mastered']:.1f} | {s['final_return']:.2f} | "
            f"{evals} | {fits} | {s['wall_time_s']:.0f} |")


def main() -> None:
    dst_root = HERE / "runs"
    for root in map(Path, sys.argv[1:]):
        for src in sorted(p for p in root.iterdir() if (p / "summary.json").exists()):
            copy_run(src, dst_root)
    print("| body | teacher | env steps | train episodes | SB3 updates (epochs) | minibatch gradient steps | "
          "final % mastered | final mean test return | test evaluations | GMM fits (components) | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for run in sorted(dst_root.iterdir()):
        if (run / "summary.json").exists():
            print(row(run))


if __name__ == "__main__":
    main()
