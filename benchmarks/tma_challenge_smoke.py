"""A short ALP-GMM vs Random comparison on one TeachMyAgent stump-track challenge preset.

The published protocol is 20M steps x 16 seeds per pair (configs/experiment/tma_*.yaml);
this runs the same preset at a small budget on one many-core machine, every run in
parallel (Hydra's joblib launcher), and prints each teacher's % of the 100-task test
grid mastered (return > 230) and mean test return, plus the ALP-GMM / Random ratio that
TMA reports (TMA, no expert knowledge: ~2.4 unfeasible, 2.4 trivial, 1.5 forgetting,
1.4 rugged, 1.45 variety, after 20M steps; at this budget expect far lower mastery, so
read the return too).

    python benchmarks/tma_challenge_smoke.py --preset tma_rugged --steps 300000 --seeds 2
    python benchmarks/tma_challenge_smoke.py --preset tma_forgetting --steps 500000 \
        --extra student_reset_every=200000     # a forgetting student at this budget

PPO (student/ppo_tma.yaml) by default: SAC's 2M-transition buffer and 0.1 gradient step per
transition make it the slower student; pass ``--student sac_tma`` for TMA's own.
``--envs`` sub-envs per run (subprocess), ``--rollout`` keeps TMA's 20k-step PPO samples
spread over them. The test grid is played at the start and at the end only: one pass is
100 episodes of up to 2000 steps (~2.5 min for a standing policy on a loaded 2-core laptop).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tma_rugged",
                        choices=["tma_unfeasible", "tma_trivial", "tma_forgetting", "tma_rugged", "tma_variety"])
    parser.add_argument("--steps", type=int, default=500_000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--level", default="no", choices=["no", "low", "high"], help="expert_knowledge")
    parser.add_argument("--student", default="ppo_tma", choices=["ppo_tma", "sac_tma"])
    parser.add_argument("--envs", type=int, default=4, help="sub-envs per run")
    parser.add_argument("--rollout", type=int, default=20_000, help="PPO transitions per update (TMA: 20000)")
    parser.add_argument("--runs-dir", default=str(ROOT / "runs"))
    parser.add_argument("--extra", nargs="*", default=[], help="more Hydra overrides")
    args = parser.parse_args()

    runs = 2 * args.seeds
    name = f"{args.preset}_smoke_ek-{args.level}"
    overrides = [
        "-m", "hydra/launcher=cores", f"experiment={args.preset}", f"student={args.student}", f"name={name}",
        f"expert_knowledge={args.level}",
        f"budget.steps={args.steps}", f"eval.every={args.steps}", f"checkpoint.every={args.steps}",
        f"env.n_envs={args.envs}", "env.vec_env=subproc", "log.progress_bar=false", "eval.held_out=false",
        "teacher=random,alp_gmm", f"seed=range(0,{args.seeds})",
        f"runs_dir={args.runs_dir}", *args.extra,
    ]
    if args.student == "ppo_tma":
        overrides.append(f"env.students.ppo.n_steps={max(args.rollout // args.envs, 1)}")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "TEACHBENCH_JOBS": str(min(runs, max(1, (os.cpu_count() or 1) // (args.envs + 1))))}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "experiments.running.cli", *overrides], cwd=ROOT, env=env)
    wall = time.perf_counter() - start
    rows = {}
    for path in sorted(Path(args.runs_dir, name).glob("*/summary.json")):
        s = json.loads(path.read_text())
        rows.setdefault(s["teacher"], []).append((s["final_mastered"], s["final_return"], s["episodes"]))
    print(f"{args.preset}, expert_knowledge={args.level}, {args.student}, {args.steps} steps, {args.seeds} seeds, {wall:.0f} s (exit {proc.returncode})")
    means = {}
    for teacher, vals in sorted(rows.items()):
        mastered = sum(v[0] for v in vals) / len(vals)
        ret = sum(v[1] for v in vals) / len(vals)
        means[teacher] = mastered
        print(f"  {teacher:8s} runs {len(vals)}  mastered {mastered:5.1f}%  test return {ret:7.1f}  "
              f"episodes {sum(v[2] for v in vals) / len(vals):.0f}")
    if means.get("random"):
        print(f"  ALP-GMM / Random mastered ratio: {means.get('alp_gmm', float('nan')) / means['random']:.2f}")


if __name__ == "__main__":
    main()
