"""Scaling of the whole loop: PPO fps vs number of sub-environments, CPU vs CUDA.

For each env and each ``n_envs`` (1, 2, 4, ... up to the cores present) this trains PPO
through the curriculum bridge with the random teacher for ``--steps`` steps and prints
fps and the speed-up over ``n_envs=1`` measured in the same run. With ``--devices cpu
cuda`` it also compares the student's device at the largest ``n_envs``, so env configs
can default to the faster one. Peak RSS of the process and its workers is reported.

    python benchmarks/bench_scaling.py --envs gridworld walker_stumps --steps 20000 --vec subproc
    python benchmarks/bench_scaling.py --envs gridworld --devices cpu cuda --policies mlp cnn --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import envs  # noqa: E402,F401
from _config import env_config  # noqa: E402
from students.bridge import Curriculum, CurriculumCallback  # noqa: E402
from students.build import make_student  # noqa: E402
from students.threads import pin_threads  # noqa: E402
from students.vec import make_vec_env  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402

def ppo_fps(env: str, n_envs: int, vec_kind: str, steps: int, device: str, policy: str | None = None) -> float:
    name, kwargs, ppo, normalize = env_config(env)
    vec = make_vec_env(name, kwargs, n_envs, vec_kind, seed=0, normalize=normalize)
    try:
        space = vec.get_attr("task_space", indices=[0])[0]
        curriculum = Curriculum(make_teacher("random", space, seed=0), vec)
        curriculum.prime()
        params = dict(ppo)
        # keep the rollout size per update comparable across n_envs
        n_steps = max(16, int(params.get("n_steps", 128)) * 8 // n_envs)
        params["n_steps"] = n_steps
        params["batch_size"] = min(int(params.get("batch_size", 64)), n_steps * n_envs)
        model = make_student("ppo", vec, policy=policy, params=params, seed=0, device=device)
        model.learn(min(steps, 2 * n_steps * n_envs), callback=CurriculumCallback(curriculum))  # warm-up
        start, before = time.perf_counter(), model.num_timesteps
        model.learn(steps, callback=CurriculumCallback(curriculum), reset_num_timesteps=False)
        return (model.num_timesteps - before) / (time.perf_counter() - start)
    finally:
        vec.close()


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + kids) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["gridworld"])
    parser.add_argument("--steps", type=int, default=16384)
    parser.add_argument("--vec", default="subproc", choices=["dummy", "subproc"])
    parser.add_argument("--max-envs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--devices", nargs="+", default=["cpu"])
    parser.add_argument("--policies", nargs="+", default=["mlp"], choices=["mlp", "cnn"],
                        help="students compared across devices at the largest n_envs (cnn: image envs only)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    pin_threads(1)
    counts = [n for n in (1, 2, 4, 8, 16, 32) if n <= args.max_envs]
    results: list[dict[str, Any]] = []
    print(f"cores={os.cpu_count()} steps={args.steps} vec={args.vec}")
    for env in args.envs:
        base = None
        for n in counts:
            fps = ppo_fps(env, n, args.vec, args.steps, "cpu")
            base = base or fps
            results.append({"env": env, "n_envs": n, "vec": args.vec, "device": "cpu", "policy": "mlp", "fps": fps})
            print(f"{env:<18} n_envs={n:<3} cpu   {fps:9.0f} fps   x{fps / base:5.2f} vs n_envs=1")
        n, mlp_cpu = counts[-1], fps  # the CPU MLP figure at the largest n_envs, measured above
        for policy in args.policies:
            cpu = mlp_cpu if policy == "mlp" else ppo_fps(env, n, args.vec, args.steps, "cpu", policy)
            if policy != "mlp":
                results.append({"env": env, "n_envs": n, "vec": args.vec, "device": "cpu", "policy": policy, "fps": cpu})
                print(f"{env:<18} n_envs={n:<3} cpu   {cpu:9.0f} fps   {policy} policy")
            for device in args.devices:
                if device == "cpu":
                    continue
                fps = ppo_fps(env, n, args.vec, args.steps, device, None if policy == "mlp" else policy)
                results.append({"env": env, "n_envs": n, "vec": args.vec, "device": device, "policy": policy, "fps": fps})
                print(f"{env:<18} n_envs={n:<3} {device:<5} {fps:9.0f} fps   x{fps / cpu:5.2f} vs cpu ({policy} policy)")
    print(f"peak RSS (process + largest worker): {peak_rss_mb():.0f} MB")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cores": os.cpu_count(), "steps": args.steps, "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
