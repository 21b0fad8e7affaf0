"""PPO on the stump-track walker with SubprocVecEnv: env steps/s vs workers (issue 18).

Goal: >= 15k env steps/s on 16 cores. The peer is the raw env: one ``walker_stumps``
env (as a run builds it: ``Monitor(CurriculumWrapper(env))``) stepped with uniform random
actions on one core, a uniform random task at every reset, wall-clock steps/s. With W
workers the ideal is W x that; the printed ratio is PPO's rate over 16 x raw (the goal's
16 cores) and over W x raw.

PPO is SB3's with the env config's defaults (``--policy shared_mlp``: TMA's 400-300 trunk)
through the curriculum bridge (random teacher) and VecNormalize, as ``teachbench
env=walker_stumps`` trains it, with one env per worker process. Each rollout holds
``--rollout`` transitions (``n_steps = rollout / W``, TMA's 20k per update by default),
so the update's share of the time stays the same at every W. After one warm-up rollout
+ update, the rate counts whole rollouts and their updates in a ``--seconds`` window;
the collection-only rate (rollout steps / rollout time) is printed beside it.

Knobs measured (cheap changes a user can make in the config):

- ``--start-methods``: SubprocVecEnv's start method (forkserver, SB3's default; fork;
  spawn): it changes start-up time, printed, not the stepping;
- ``--rollout``: the rollout size, i.e. how long collection runs between updates;
- ``--envs-per-worker``: K envs per worker process (``students/chunked_vec.py``): one pipe
  round trip per worker per step instead of one per env, K x W envs per forward pass;
- ``--device``: where the policy's forward and update run.

The levers built after profiling (``benchmarks/profile_walker_ppo.py``), measured in the
same run as their peers:

- ``--vecs shm``: ``students/shm_vec.py`` (K envs per worker, arrays in shared memory,
  one-byte step messages, the bridge's task hand-out without a reply);
- ``--updates DEVICE:THREADS[:LOOP] ...`` (``shm`` rows only; the subproc and chunked peers keep
  SB3's update on ``--device`` with one thread): ``students/split_update.py``, PPO's update
  on DEVICE with THREADS torch threads while the rollout stays on ``--device`` with one
  (``cuda:1``: update on the GPU; ``cpu:16``: the update on 16 threads, the env workers
  being idle then), through LOOP (``fast``, the default: the sync-free loop; ``sb3``:
  SB3's own ``PPO.train()``, e.g. ``cuda:1 cuda:1:sb3`` for the two side by side).

Besides ``16 x raw`` (the goal's cores) and ``W x raw``, ``--raw-parallel`` also measures
the raw env in W processes at once (their summed rate: what W cores really give when
all are busy), printed once as the ceiling of every setting with W workers.

    python benchmarks/bench_walker_subproc.py --workers 1 8 16 32 --seconds 30 --csv walker.csv
    python benchmarks/bench_walker_subproc.py --workers 16 --envs-per-worker 2 4 --seconds 30 --csv walker_chunked.csv
    python benchmarks/bench_walker_subproc.py --workers 16 --vecs subproc chunked shm --envs-per-worker 1 2 4 \
        --policy shared_mlp --updates cpu:1 cpu:16 cuda:1 --raw-parallel --seconds 20 --csv walker_shm.csv
    python benchmarks/bench_walker_subproc.py --workers 1 2 --seconds 3 --raw-seconds 1 --rollout 512   # smoke
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import _setup  # noqa: E402,F401 - the repo on sys.path, one thread per process (benchmarks/_setup.py)

import numpy as np  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.vec_env import SubprocVecEnv, VecNormalize  # noqa: E402

import envs  # noqa: E402,F401
from _config import env_config  # noqa: E402
from _results import write_rows  # noqa: E402
from envs.registry import make_env  # noqa: E402
from students.bridge import Curriculum, CurriculumCallback, CurriculumWrapper  # noqa: E402
from students.build import make_student  # noqa: E402
from students.chunked_vec import ChunkedSubprocVecEnv  # noqa: E402
from students.shm_vec import SharedMemoryVecEnv  # noqa: E402
from students.split_update import with_split_update  # noqa: E402
from students.threads import pin_threads  # noqa: E402
from students.vec import env_factory  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402


def raw_speed(name: str, kwargs: dict[str, Any], seconds: float, seed: int = 0) -> float:
    """Random-action steps/s of one wrapped env on this core, a random task per reset."""
    env = Monitor(CurriculumWrapper(make_env(name, **kwargs)))
    space = env.unwrapped.task_space
    rng = np.random.default_rng(seed)
    env.reset(seed=seed, options={"task": space.sample(rng)})
    low, high = env.action_space.low, env.action_space.high
    actions = rng.uniform(low, high, size=(4096, low.shape[0])).astype(np.float32)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for k in range(256):
            _, _, term, trunc, _ = env.step(actions[(steps + k) % 4096])
            if term or trunc:
                env.reset(options={"task": space.sample(rng)})
        steps += 256
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def _raw_child(job: tuple[str, dict[str, Any], float, int]) -> float:
    pin_threads(1)
    return raw_speed(*job)


def raw_parallel(name: str, kwargs: dict[str, Any], seconds: float, processes: int) -> float:
    """Summed random-action steps/s of ``processes`` raw envs stepped at the same time, one per process."""
    import multiprocessing as mp

    with mp.get_context("forkserver").Pool(processes) as pool:
        return float(sum(pool.map(_raw_child, [(name, kwargs, seconds, seed) for seed in range(processes)])))


class Window(BaseCallback):
    """Counts whole rollouts (+ their updates) in a window; also times collection alone."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.t0 = self.t1 = 0.0
        self.s0 = self.s1 = 0
        self.collect = 0.0
        self.collected = 0
        self._rollout_t = 0.0
        self._rollout_s = 0
        self.stop = False

    def _on_rollout_start(self) -> None:
        now = time.perf_counter()
        if self.t0 == 0.0:
            self.t0, self.s0 = now, self.model.num_timesteps
        elif now - self.t0 >= self.seconds:
            self.t1, self.s1, self.stop = now, self.model.num_timesteps, True
        self._rollout_t, self._rollout_s = now, self.model.num_timesteps

    def _on_rollout_end(self) -> None:
        if self.t0 and not self.stop:
            self.collect += time.perf_counter() - self._rollout_t
            self.collected += self.model.num_timesteps - self._rollout_s

    def _on_step(self) -> bool:
        return not self.stop


def ppo_speed(name: str, kwargs: dict[str, Any], ppo: dict[str, Any], workers: int, args: argparse.Namespace,
              start_method: str, rollout: int, per_worker: int = 1, kind: str = "auto",
              update: str | None = None) -> dict[str, float]:
    t_start = time.perf_counter()
    n_envs = workers * per_worker
    fns = [env_factory(name, kwargs, i) for i in range(n_envs)]
    if kind == "auto":
        kind = "subproc" if per_worker == 1 else "chunked"
    if kind == "shm":
        vec = SharedMemoryVecEnv(fns, envs_per_worker=per_worker, start_method=start_method)
    elif kind == "chunked":
        vec = ChunkedSubprocVecEnv(fns, envs_per_worker=per_worker, start_method=start_method)
    else:
        vec = SubprocVecEnv(fns, start_method=start_method)
    vec.seed(0)
    startup = time.perf_counter() - t_start
    vec = VecNormalize(vec, norm_obs=True, norm_reward=True)
    try:
        n_steps = max(1, rollout // n_envs)
        params = {**ppo, "n_steps": n_steps, "batch_size": min(int(ppo.get("batch_size", 1000)), n_steps * n_envs)}
        model = make_student("ppo", vec, policy=args.policy, params=params, seed=0, device=args.device)
        if update is not None:
            device, _, rest = update.partition(":")
            threads, _, loop = rest.partition(":")
            with_split_update(model, device=device, threads=int(threads or 1), loop=loop or "fast")
        curriculum = Curriculum(make_teacher("random", vec.get_attr("task_space", indices=[0])[0], seed=0), vec)
        curriculum.prime()
        bridge = CurriculumCallback(curriculum)
        model.learn(n_steps * n_envs, callback=bridge)  # warm-up
        window = Window(args.seconds)
        model.learn(10**12, callback=[bridge, window], reset_num_timesteps=False)
        seconds = window.t1 - window.t0
        return {"fps": (window.s1 - window.s0) / seconds, "collect_fps": window.collected / max(window.collect, 1e-9),
                "update_share": 1 - window.collect / seconds, "seconds": seconds, "startup": startup,
                "n_steps": n_steps}
    finally:
        vec.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="walker_stumps")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8, 16, 32])
    parser.add_argument("--start-methods", nargs="+", default=["forkserver"], choices=["forkserver", "fork", "spawn"])
    parser.add_argument("--rollout", type=int, nargs="+", default=[20000], help="transitions per update (all workers)")
    parser.add_argument("--envs-per-worker", type=int, nargs="+", default=[1],
                        help="envs per worker process (1: SB3's SubprocVecEnv; K > 1: students/chunked_vec.py)")
    parser.add_argument("--vecs", nargs="+", default=["auto"], choices=["auto", "subproc", "chunked", "shm"],
                        help="auto: SubprocVecEnv with 1 env per worker, chunked with more; subproc ignores K > 1")
    parser.add_argument("--updates", nargs="+", default=[None],
                        help="shm rows: DEVICE:THREADS[:LOOP] of PPO's update (students/split_update.py; LOOP: fast, sb3), "
                             "e.g. cpu:16 cuda:1 cuda:1:sb3")
    parser.add_argument("--raw-parallel", action="store_true", help="also time W raw envs at once, one per process")
    parser.add_argument("--policy", default=None, help="None: SB3's MLP (student=ppo); shared_mlp: TMA's 400-300")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--raw-seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the main process")
    parser.add_argument("--csv", default=None)
    args = parser.parse_args()
    pin_threads(args.threads)
    name, kwargs, ppo, _ = env_config(args.env)
    raw = raw_speed(name, kwargs, args.raw_seconds)
    cores = len(os.sched_getaffinity(0))
    raw_row = {"benchmark": "bench_walker_subproc", "env": args.env, "student": "raw env (random actions)",
               "teacher": "", "device": "cpu", "gpus": 0, "runs": 1, "runs_per_gpu": "", "n_envs": 1, "vec": "none",
               "workers": 0, "cores_per_run": 1, "env_steps_per_s": round(raw, 1),
               "per_run_env_steps_per_s": round(raw, 1), "update_share": 0, "seconds": args.raw_seconds}
    if args.csv:  # first: the peer of every ratio survives a time limit that cuts the rest
        write_rows(args.csv, [raw_row])
    print(f"env={args.env} policy={args.policy or 'mlp'} device={args.device} cores={cores} "
          f"raw env (1 core, random actions): {raw:.0f} steps/s; 16 x raw = {16 * raw:.0f}")
    rows = []
    if args.raw_parallel:
        for w in sorted(set(args.workers)):
            par = raw_parallel(name, kwargs, args.raw_seconds, w)
            print(f"raw env in {w} processes at once: {par:.0f} steps/s = {par / (w * raw):.2f} x ({w} x 1-core raw)")
            rows.append({**raw_row, "student": f"raw env x{w} processes (random actions)", "workers": w,
                         "cores_per_run": w, "env_steps_per_s": round(par, 1),
                         "per_run_env_steps_per_s": round(par, 1)})
            if args.csv:
                write_rows(args.csv, rows[-1:], append=True)
    print(f"{'workers':>7} {'envs/w':>6} {'vec':>8} {'update':>10} {'start':>10} {'rollout':>8} {'n_steps':>8} "
          f"{'steps/s':>9} {'collect/s':>10} {'upd%':>5} {'x(16 raw)':>10} {'x(W raw)':>9} {'startup s':>10}")
    settings = []
    for kind in args.vecs:
        for k in args.envs_per_worker:
            if (kind == "subproc" and k != 1) or (kind == "chunked" and k == 1):  # chunked1 = subproc, slower
                continue
            for update in (args.updates if kind == "shm" else [None]):
                settings.append((kind, k, update))
    for method in args.start_methods:
        for rollout in args.rollout:
            for kind, k, update in settings:
                for w in args.workers:
                    r = ppo_speed(name, kwargs, ppo, w, args, method, rollout, k, kind, update)
                    label = kind if kind != "auto" else ("subproc" if k == 1 else "chunked")
                    upd = update or f"{args.device}:{args.threads}"
                    print(f"{w:>7} {k:>6} {label:>8} {upd:>10} {method:>10} {rollout:>8} {r['n_steps']:>8} "
                          f"{r['fps']:>9.0f} {r['collect_fps']:>10.0f} {100 * r['update_share']:>4.0f}% "
                          f"{r['fps'] / (16 * raw):>10.2f} {r['fps'] / (w * raw):>9.2f} {r['startup']:>10.2f}",
                          flush=True)
                    vec_name = label if label == "subproc" else f"{label}{k}"
                    if update is not None:
                        vec_name += f"/update-{update}"
                    rows.append({"benchmark": "bench_walker_subproc", "env": args.env,
                                 "student": f"ppo/{args.policy or 'mlp'}", "teacher": "random", "device": args.device,
                                 "gpus": 1 if args.device.startswith("cuda") or "cuda" in (update or "") else 0,
                                 "runs": 1, "runs_per_gpu": "", "n_envs": w * k,
                                 "vec": f"{vec_name}/{method}/rollout{rollout}", "workers": w,
                                 "cores_per_run": cores, "env_steps_per_s": round(r["fps"], 1),
                                 "per_run_env_steps_per_s": round(r["fps"], 1),
                                 "update_share": round(r["update_share"], 3), "seconds": round(r["seconds"], 2)})
                    if args.csv:  # row by row: a setting cut off by a time limit keeps the ones before it
                        write_rows(args.csv, rows[-1:], append=True)
    rows = [r for r in rows if r["student"].startswith("ppo")]
    best = max(rows, key=lambda r: r["env_steps_per_s"])
    print(f"best: {best['env_steps_per_s']:.0f} env steps/s with {best['workers']} workers ({best['vec']}); "
          f"x{best['env_steps_per_s'] / (16 * raw):.2f} of 16 x raw (goal: >= 15k on 16 cores)")
    if args.csv:
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
