"""Where one walker PPO iteration's time goes (issue 18: walker PPO on 16 cores).

cProfile over ``model.learn`` in the main process of walker-stumps PPO as
``bench_walker_subproc.py`` builds it (curriculum bridge with a random teacher,
VecNormalize, the env config's PPO settings with ``n_steps = rollout / n_envs``), after
one warm-up rollout. Each part is the cumulative time of the functions named beside it,
per vector step (µs) for the rollout parts and per update (ms) for the update's parts:

- env step, send: the VecEnv's ``step_async`` (pickled actions / one-byte messages to the workers);
- env step, wait: its ``step_wait`` (waiting for the workers, unpickling replies); the
  workers step their envs meanwhile: the raw env's step time is printed beside it;
- VecNormalize: its ``step_wait`` less the wrapped VecEnv's (running mean/var, normalising);
- policy forward: the policy's ``forward`` and ``obs_as_tensor``;
- timeout bootstrap: SB3's per-truncated-env ``predict_values``;
- rollout buffer add, info buffer (``_update_info_buffer``), callbacks (the bridge:
  finished episodes to the teacher; of which env calls: ``env_method`` round trips to hand out tasks);
- update: ``PPO.train``; of which minibatch fetch (``_get_samples``), evaluate_actions
  (forward), backward, optimizer step (Adam), grad clipping;
- rest: the remainder of ``learn`` (SB3's per-step Python, GAE, logging).

Prints one column per setting; ``--csv`` writes them. ``--stepping-only`` instead times
the VecEnv alone (random actions, the bridge handing out tasks, no policy): the main
process's CPU time and the wall time per vector step, which is what each VecEnv costs the
process that also runs the policy::

    python benchmarks/profile_walker_ppo.py --vecs subproc shm --workers 2 --envs-per-worker 1 4 \\
        --policy shared_mlp --rollout 4000 --rollouts 2
    python benchmarks/profile_walker_ppo.py --stepping-only --vecs subproc chunked shm --workers 1 \\
        --envs-per-worker 1 4 8
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import pstats
import time
from typing import Any

import _setup  # noqa: E402,F401 - the repo on sys.path, one thread per process (benchmarks/_setup.py)

from stable_baselines3.common.vec_env import SubprocVecEnv, VecNormalize  # noqa: E402

import envs  # noqa: E402,F401
from _config import env_config  # noqa: E402
from bench_walker_subproc import raw_speed  # noqa: E402
from profile_sb3_loop import cumulative  # noqa: E402
from students.bridge import Curriculum, CurriculumCallback  # noqa: E402
from students.build import make_student  # noqa: E402
from students.chunked_vec import ChunkedSubprocVecEnv  # noqa: E402
from students.shm_vec import SharedMemoryVecEnv  # noqa: E402
from students.split_update import with_split_update  # noqa: E402
from students.threads import pin_threads  # noqa: E402
from students.vec import env_factory  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402

INNER = {"subproc": "vec_env/subproc_vec_env.py", "chunked": "students/chunked_vec.py", "shm": "students/shm_vec.py"}
# rollout parts, µs per vector step: part -> [(file fragment, function)]
ROLLOUT: dict[str, list[tuple[str, str]]] = {
    "policy forward": [("common/policies.py", "forward"), ("common/utils.py", "obs_as_tensor")],
    "timeout bootstrap": [("common/policies.py", "predict_values")],
    "rollout buffer add": [("common/buffers.py", "add")],
    "info buffer": [("common/base_class.py", "_update_info_buffer")],
    "callbacks (bridge)": [("common/callbacks.py", "on_step")],
    "  env calls": [("vec_env/base_vec_env.py", "env_method"), ("students/shm_vec.py", "set_next_tasks")],
}
# update parts, ms per update
UPDATE: dict[str, list[tuple[str, str]]] = {
    "update": [("ppo/ppo.py", "train")],
    "  minibatch fetch": [("common/buffers.py", "_get_samples")],
    "  evaluate_actions": [("common/policies.py", "evaluate_actions")],
    "  backward": [("torch/_tensor.py", "backward")],
    "  optimizer step": [("torch/optim/adam.py", "step")],
    "  grad clipping": [("torch/nn/utils/clip_grad.py", "clip_grad_norm_")],
}


def build_vec(kind: str, workers: int, per_worker: int, start_method: str, env: str) -> Any:
    name, kwargs, _, _ = env_config(env)
    fns = [env_factory(name, kwargs, i) for i in range(workers * per_worker)]
    if kind == "shm":
        return SharedMemoryVecEnv(fns, envs_per_worker=per_worker, start_method=start_method)
    if kind == "chunked":
        return ChunkedSubprocVecEnv(fns, envs_per_worker=per_worker, start_method=start_method)
    return SubprocVecEnv(fns, start_method=start_method)


def stepping_only(kind: str, workers: int, per_worker: int, args: argparse.Namespace) -> dict[str, Any]:
    """Main-process CPU µs and wall µs per vector step of the VecEnv alone (+ the bridge).
    SubprocVecEnv rows use ``workers x per_worker`` processes of one env each."""
    import numpy as np

    procs, k = (workers * per_worker, 1) if kind == "subproc" else (workers, per_worker)
    vec = build_vec(kind, procs, k, args.start_method, args.env)
    try:
        curriculum = Curriculum(make_teacher("random", vec.get_attr("task_space", indices=[0])[0], seed=0), vec)
        curriculum.prime()
        vec.seed(0)
        vec.reset()
        low, high = vec.action_space.low, vec.action_space.high
        actions = np.random.default_rng(0).uniform(low, high, size=(64, vec.num_envs, low.shape[0])).astype(np.float32)
        for t in range(100):  # warm-up
            _, _, dones, infos = vec.step(actions[t % 64])
            curriculum.on_step(dones, infos, 0)
        cpu, wall = time.process_time(), time.perf_counter()
        for t in range(args.steps):
            _, _, dones, infos = vec.step(actions[t % 64])
            curriculum.on_step(dones, infos, 0)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        return {"vec": kind, "processes": procs, "envs_per_worker": k, "n_envs": vec.num_envs,
                "main CPU µs per vector step": round(1e6 * cpu / args.steps, 1),
                "main CPU µs per env": round(1e6 * cpu / args.steps / vec.num_envs, 1),
                "wall µs per vector step": round(1e6 * wall / args.steps, 1)}
    finally:
        vec.close()


def profile_one(kind: str, workers: int, per_worker: int, update: str | None, args: argparse.Namespace,
                raw: float) -> dict[str, Any]:
    _, _, ppo, _ = env_config(args.env)
    n_envs = workers * per_worker
    inner = build_vec(kind, workers, per_worker, args.start_method, args.env)
    inner.seed(0)
    vec = VecNormalize(inner, norm_obs=True, norm_reward=True)
    try:
        n_steps = max(1, args.rollout // n_envs)
        params = {**ppo, "n_steps": n_steps, "batch_size": min(int(ppo.get("batch_size", 1000)), n_steps * n_envs)}
        model = make_student("ppo", vec, policy=args.policy, params=params, seed=0)
        if update is not None:
            device, _, threads = update.partition(":")
            with_split_update(model, device=device, threads=int(threads or 1))
        curriculum = Curriculum(make_teacher("random", vec.get_attr("task_space", indices=[0])[0], seed=0), vec)
        curriculum.prime()
        callback = CurriculumCallback(curriculum)
        model.learn(n_steps * n_envs, callback=callback)  # warm-up
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        model.learn(n_steps * n_envs * args.rollouts, callback=callback, reset_num_timesteps=False)
        profiler.disable()
        wall = time.perf_counter() - start
        stats = pstats.Stats(profiler)
        vsteps = n_steps * args.rollouts
        fragment = INNER[kind]

        def total(funcs: list[tuple[str, str]]) -> float:
            return sum(cumulative(stats, f, n) for f, n in funcs)

        send, wait = total([(fragment, "step_async")]), total([(fragment, "step_wait")])
        norm = total([("vec_env/vec_normalize.py", "step_wait")]) - wait
        row: dict[str, Any] = {"vec": kind, "workers": workers, "envs_per_worker": per_worker, "n_envs": n_envs,
                               "update_on": update or "cpu:1", "policy": args.policy or "mlp",
                               "env steps/s (profiled)": round(n_envs * vsteps / wall, 1),
                               "raw env step (worker)": round(1e6 / raw, 1),
                               "env step, send": round(1e6 * send / vsteps, 1),
                               "env step, wait": round(1e6 * wait / vsteps, 1),
                               "VecNormalize": round(1e6 * norm / vsteps, 1)}
        covered = send + wait + norm
        for part, funcs in ROLLOUT.items():
            seconds = total(funcs)
            row[part.strip()] = round(1e6 * seconds / vsteps, 1)
            covered += seconds if not part.startswith(" ") else 0.0
        for part, funcs in UPDATE.items():
            seconds = total(funcs)
            row[part.strip()] = round(1e3 * seconds / args.rollouts, 1)
            covered += seconds if not part.startswith(" ") else 0.0
        row["rest"] = round(1e6 * max(0.0, wall - covered) / vsteps, 1)
        row["update share"] = round(total(UPDATE["update"]) / wall, 3)
        return row
    finally:
        vec.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="walker_stumps")
    parser.add_argument("--vecs", nargs="+", default=["subproc", "shm"], choices=list(INNER))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--envs-per-worker", type=int, nargs="+", default=[1, 4], help="subproc rows take 1 only")
    parser.add_argument("--updates", nargs="+", default=[None], help="DEVICE:THREADS of the update (shm rows)")
    parser.add_argument("--policy", default="shared_mlp", help="shared_mlp: TMA's 400-300 trunk; mlp: SB3's 64-64")
    parser.add_argument("--rollout", type=int, default=4000, help="transitions per update (all envs)")
    parser.add_argument("--rollouts", type=int, default=2, help="profiled rollouts (+ updates) after one warm-up")
    parser.add_argument("--start-method", default="forkserver")
    parser.add_argument("--raw-seconds", type=float, default=2.0)
    parser.add_argument("--stepping-only", action="store_true", help="time the VecEnv alone (module docstring)")
    parser.add_argument("--steps", type=int, default=1500, help="vector steps timed by --stepping-only")
    parser.add_argument("--csv", default=None)
    args = parser.parse_args()
    if args.policy == "mlp":
        args.policy = None
    pin_threads(1)
    if args.stepping_only:
        rows = [stepping_only(kind, args.workers, k, args) for k in args.envs_per_worker for kind in args.vecs
                if not (kind == "chunked" and k == 1)]
        print(f"env={args.env} stepping only (random actions + the bridge), {args.steps} vector steps; "
              f"subproc rows: workers x envs-per-worker processes of 1 env")
        for r in rows:
            print(f"{r['vec']:>8} {r['processes']:>3} proc x {r['envs_per_worker']} envs: main CPU "
                  f"{r['main CPU µs per vector step']:8.1f} µs/vector step "
                  f"({r['main CPU µs per env']:6.1f} per env), "
                  f"wall {r['wall µs per vector step']:8.1f} µs")
        if args.csv:
            with open(args.csv, "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        return
    name, kwargs, _, _ = env_config(args.env)
    raw = raw_speed(name, kwargs, args.raw_seconds)
    rows = []
    for kind in args.vecs:
        for k in args.envs_per_worker:
            if kind == "subproc" and k != 1:
                continue
            for update in (args.updates if kind == "shm" else [None]):
                rows.append(profile_one(kind, args.workers, k, update, args, raw))
    keys = [k for k in rows[0] if k not in ("vec", "workers", "envs_per_worker", "n_envs", "update_on", "policy")]
    print(f"env={args.env} policy={args.policy or 'mlp'} rollout={args.rollout} workers={args.workers}; "
          f"rollout parts in µs per vector step, update parts in ms per update (indented: inside the one above)")
    names = [f"{r['vec']} {r['workers']}x{r['envs_per_worker']} {r['update_on']}" for r in rows]
    print(f"{'setting':<24}" + "".join(f"{n:>22}" for n in names))
    for key in keys:
        indent = "  " if key in ("env calls",) or key in [p.strip() for p in UPDATE if p.startswith(" ")] else ""
        print(f"{indent + key:<24}" + "".join(f"{r[key]:>22}" for r in rows))
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
