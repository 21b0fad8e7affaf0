"""Where one PPO run's time goes at 1024-4096 batched mazes (issue 18).

cProfile over ``model.learn`` of SB3 PPO (MLP) or ``recurrent_ppo`` on the batched maze,
through the curriculum bridge with a teacher, after one warm-up rollout. Each part below
is the cumulative time of the functions named beside it, as a share of ``learn``:

- env step: ``VecEnv.step`` (the batched maze: array ops, finished-episode infos,
  auto-reset); of which level generation: ``BatchedMazeVecEnv._reset_env``;
- policy forward: the policy's ``forward`` and ``obs_as_tensor`` (host-to-device copy);
  on CUDA the wait for the result lands in ``Tensor.cpu``, counted here as well;
- timeout bootstrap: SB3's per-truncated-env ``predict_values`` call inside the rollout
  loop (one tiny forward per env that hits the time limit, each a device round trip);
- rollout buffer add: ``RolloutBuffer.add`` (copies into the NumPy buffer);
- info handling: ``_update_info_buffer`` (SB3 walks every env's info dict each step);
- callbacks: ``BaseCallback.on_step`` (our bridge: finished episodes to the teacher, new
  tasks to the envs; of which teacher: ``Curriculum.deliver`` + ``Curriculum.hand_out``);
- GAE: ``compute_returns_and_advantage``; update: ``train``; logging: ``dump_logs``;
- rest: everything else in ``learn`` (SB3's per-step Python, the per-env ``for idx, done``
  loop over the dones, the reset of the loop).

Prints a table per (n_envs, student) and writes a CSV (``--csv``)::

    python benchmarks/profile_sb3_loop.py --n-envs 1024 4096 --device cuda --rollouts 3 --csv profile.csv
    python benchmarks/profile_sb3_loop.py --n-envs 64 --n-steps 16 --rollouts 1     # CPU smoke
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import pstats
import time
from typing import Any

import _setup  # noqa: E402,F401 - the repo on sys.path, one thread per process (benchmarks/_setup.py)

import torch  # noqa: E402

import envs  # noqa: E402,F401
from _config import env_config  # noqa: E402
from students.bridge import Curriculum, CurriculumCallback  # noqa: E402
from students.build import make_student  # noqa: E402
from students.threads import pin_threads  # noqa: E402
from students.vec import make_vec_env  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402

# part -> [(path fragment of the file, function name)]; cumulative times are summed
PARTS: dict[str, list[tuple[str, str]]] = {
    "env step": [("vec_env/base_vec_env.py", "step")],
    "  level generation": [("gridworld/batched.py", "_reset_env")],
    "policy forward": [("common/policies.py", "forward"), ("common/utils.py", "obs_as_tensor"),
                       ("recurrent/policy.py", "forward"), ("~", "<method 'cpu' of 'torch._C.TensorBase' objects>")],
    "timeout bootstrap": [("common/policies.py", "predict_values"), ("common/policies.py", "obs_to_tensor")],
    "rollout buffer add": [("common/buffers.py", "add"), ("recurrent/buffer.py", "add")],
    "info handling": [("common/base_class.py", "_update_info_buffer")],
    "callbacks (bridge)": [("common/callbacks.py", "on_step")],
    "  teacher": [("students/bridge.py", "deliver"), ("students/bridge.py", "hand_out")],
    "GAE": [("common/buffers.py", "compute_returns_and_advantage"), ("recurrent/buffer.py", "compute_returns_and_advantage")],
    "update": [("ppo/ppo.py", "train"), ("recurrent/ppo.py", "train")],
    "logging": [("common/on_policy_algorithm.py", "dump_logs")],
}
TOP_LEVEL = ("env step", "policy forward", "timeout bootstrap", "rollout buffer add", "info handling",
             "callbacks (bridge)", "GAE", "update", "logging")


def cumulative(stats: pstats.Stats, fragment: str, name: str) -> float:
    """Cumulative seconds of every profiled function ``name`` whose file contains ``fragment``
    (top-level entries only: a function calling itself is counted once by cProfile)."""
    total = 0.0
    for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if func == name and fragment in filename:
            total += ct
    return total


def profile_one(n_envs: int, student: str, args: argparse.Namespace) -> dict[str, Any]:
    name, kwargs, ppo_defaults, _ = env_config(args.env)
    vec = make_vec_env(name, kwargs, n_envs, "batched", seed=0)
    try:
        teacher = make_teacher(args.teacher, vec.get_attr("task_space", indices=[0])[0], seed=0)
        curriculum = Curriculum(teacher, vec)
        curriculum.prime()
        params = {"n_steps": args.n_steps, "batch_size": min(args.batch_size, n_envs * args.n_steps),
                  "n_epochs": args.epochs, "gamma": 0.995, "gae_lambda": 0.95, "ent_coef": 0.01}
        algo = "ppo" if student == "mlp" else "recurrent_ppo"
        model = make_student(algo, vec, params={**(ppo_defaults if algo == "ppo" else {}), **params}, seed=0,
                             device=args.device)
        per_rollout = n_envs * args.n_steps
        callback = CurriculumCallback(curriculum)
        model.learn(per_rollout, callback=callback)  # warm-up (CUDA context, first allocations)
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        model.learn(per_rollout * args.rollouts, callback=callback, reset_num_timesteps=False)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        profiler.disable()
        wall = time.perf_counter() - start
        stats = pstats.Stats(profiler)
        learn = max((v[3] for k, v in stats.stats.items() if k[2] == "learn"), default=0.0) or wall  # type: ignore[attr-defined]
        row: dict[str, Any] = {"env": args.env, "student": student, "device": args.device, "n_envs": n_envs,
                               "n_steps": args.n_steps, "teacher": args.teacher, "profiled_s": round(learn, 3),
                               "env_steps_per_s_profiled": round(per_rollout * args.rollouts / wall, 1)}
        covered = 0.0
        for part, funcs in PARTS.items():
            seconds = sum(cumulative(stats, f, n) for f, n in funcs)
            row[part.strip()] = round(seconds / learn, 4)
            if part in TOP_LEVEL:
                covered += seconds
        row["rest"] = round(max(0.0, 1 - covered / learn), 4)
        if args.top:
            stats.sort_stats("tottime").print_stats(args.top)
        return row
    finally:
        vec.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="gridworld_batched")
    parser.add_argument("--n-envs", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--students", nargs="+", default=["mlp"], choices=["mlp", "recurrent"])
    parser.add_argument("--n-steps", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rollouts", type=int, default=2, help="profiled rollouts (+ updates) after one warm-up")
    parser.add_argument("--teacher", default="random")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--top", type=int, default=0, help="also print the top functions by own time")
    parser.add_argument("--csv", default=None)
    args = parser.parse_args()
    pin_threads(1)
    rows = [profile_one(n, s, args) for s in args.students for n in args.n_envs]
    parts = [p.strip() for p in PARTS] + ["rest"]
    print(f"env={args.env} device={args.device} n_steps={args.n_steps} epochs={args.epochs} teacher={args.teacher} "
          f"(share of learn() time; indented parts are inside the one above)")
    print(f"{'part':<22}" + "".join(f"{r['student'] + ' ' + str(r['n_envs']):>16}" for r in rows))
    for part in [*PARTS, "rest"]:
        print(f"{part:<22}" + "".join(f"{100 * r[part.strip()]:>15.1f}%" for r in rows))
    print(f"{'env steps/s (profiled)':<22}" + "".join(f"{r['env_steps_per_s_profiled']:>16.0f}" for r in rows))
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.csv} ({len(parts)} parts)")


if __name__ == "__main__":
    main()
