"""Curriculum overhead: SB3 training fps with the bridge and a teacher vs plain SB3.

The peer is the same SB3 algorithm on the same env with the same task distribution but
no teacher and no bridge: each sub-env draws its own uniform task at reset (a plain
gymnasium wrapper). Both variants are run interleaved in this process, several times,
so machine load hits both alike; the ratio of median fps is printed per teacher.

    python benchmarks/bench_overhead.py --env gridworld --steps 20000 --repeats 3 --teachers random alp_gmm

GPU scale (issue 18): 1024 batched mazes, PPO n_steps 64, minibatch 8192, 4 epochs, CUDA,
teacher settings overridden with ``--set``::

    python benchmarks/bench_overhead.py --env gridworld_batched --vec batched --n-envs 1024 \
        --n-steps 64 --batch-size 8192 --epochs 4 --device cuda --steps 1000000 --repeats 2 \
        --teachers random alp_gmm covar_gmm riac --set alp_gmm.fit_lag=1 covar_gmm.fit_lag=1

With ``--vec batched`` the peer is the batched VecEnv with no bridge and no teacher: each
maze keeps the uniform task it was given first and plays fresh layouts of it (the batched
env's behaviour with an empty queue), so the peer pays nothing for task hand-out.

Goal (issue 11): >= 0.97x for random and ALP-GMM, >= 0.9x for the regret teachers
(PLR⊥ counts env steps; its skipped gradient updates make it faster, not slower).
Goal (issue 18): >= 0.97x for every teacher at 1024 envs on CUDA.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv  # noqa: E402

import envs  # noqa: E402,F401
from _config import env_config, teacher_config  # noqa: E402
from envs.registry import make_env  # noqa: E402
from students.bridge import Curriculum, CurriculumCallback  # noqa: E402
from students.build import make_student  # noqa: E402
from students.regret import attach_teacher_needs  # noqa: E402
from students.threads import pin_threads  # noqa: E402
from students.vec import make_vec_env  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402


def yaml_value(text: str) -> Any:
    """A command-line value as YAML reads it (1 -> int, 0.5 -> float, true -> bool)."""
    import yaml

    return yaml.safe_load(text)


class SelfSampling(gym.Wrapper):
    """The peer's task source: a uniform task drawn inside the env at every reset."""

    def __init__(self, env: gym.Env, seed: int) -> None:
        super().__init__(env)
        self._rng = np.random.default_rng(seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        task = self.env.unwrapped.task_space.sample(self._rng)
        return self.env.reset(seed=seed, options={"task": task})


def _plain_vec(env_name: str, kwargs: dict[str, Any], n_envs: int, kind: str, seed: int):
    def thunk(i: int):
        return lambda: Monitor(SelfSampling(make_env(env_name, **kwargs), seed + i))

    fns = [thunk(i) for i in range(n_envs)]
    vec = DummyVecEnv(fns) if kind == "dummy" else SubprocVecEnv(fns)
    vec.seed(seed)
    return vec


def _plain_batched(env_name: str, kwargs: dict[str, Any], n_envs: int, seed: int):
    vec = make_vec_env(env_name, kwargs, n_envs, "batched", seed)
    rng = np.random.default_rng(seed)
    space = vec.get_attr("task_space", indices=[0])[0]
    for i in range(n_envs):
        vec.set_next_task(space.sample(rng), indices=[i])
    return vec


def _fps(env_name: str, kwargs: dict[str, Any], teacher: tuple[str, dict[str, Any]] | None, steps: int, n_envs: int,
         kind: str, student: dict[str, Any], seed: int, device: str = "cpu") -> float:
    if teacher is None:
        vec = _plain_batched(env_name, kwargs, n_envs, seed) if kind == "batched" else \
            _plain_vec(env_name, kwargs, n_envs, kind, seed)
    else:
        vec = make_vec_env(env_name, kwargs, n_envs, kind, seed)
    try:
        model = make_student("ppo", vec, params=student, seed=seed, device=device)
        callback = None
        if teacher is not None:
            space = vec.get_attr("task_space", indices=[0])[0]
            chosen = make_teacher(teacher[0], space, seed=seed, **teacher[1])  # as a run builds it
            curriculum = Curriculum(chosen, vec)
            curriculum.prime()
            callback = CurriculumCallback(curriculum)
            # what the runner adds for regret-based teachers (PVL/MaxMC, PLR⊥'s masked update)
            attach_teacher_needs(chosen, model, curriculum, callback)
        start = time.perf_counter()
        model.learn(steps, callback=callback)
        return model.num_timesteps / (time.perf_counter() - start)
    finally:
        vec.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="gridworld")
    parser.add_argument("--steps", type=int, default=16384)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--vec", default="dummy", choices=["dummy", "subproc", "batched"])
    parser.add_argument("--teachers", nargs="+", default=["random", "alp_gmm"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on the 2-core CI machines)")
    parser.add_argument("--n-steps", type=int, default=None, help="PPO n_steps (default: the env config's)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--csv", default=None, help="also write the fps per variant (benchmarks/_results.py columns)")
    parser.add_argument("--set", nargs="*", default=[], metavar="TEACHER.KEY=VALUE",
                        help="teacher parameter overrides, e.g. alp_gmm.fit_lag=1")
    args = parser.parse_args()
    pin_threads(args.threads)
    name, kwargs, student, _ = env_config(args.env)
    for key, value in (("n_steps", args.n_steps), ("batch_size", args.batch_size), ("n_epochs", args.epochs)):
        if value is not None:
            student[key] = value
    variants: list[str | None] = [None, *args.teachers]
    configs = {v: teacher_config(v, args.env) for v in args.teachers}
    for item in args.set:
        key, _, value = item.partition("=")
        teacher, _, param = key.partition(".")
        if teacher not in configs or not param or not value:
            raise SystemExit(f"bench_overhead: error: --set {item!r}: expected TEACHER.KEY=VALUE for one of {args.teachers}")
        configs[teacher][1][param] = yaml_value(value)
    results: dict[str | None, list[float]] = {v: [] for v in variants}
    for r in range(args.repeats):
        # Interleaved, and the order rotates each repeat: a drift within the process
        # (allocator, caches) must not always fall on the variants that run last.
        k = r % len(variants)
        for v in variants[k:] + variants[:k]:
            chosen = configs[v] if v is not None else None
            results[v].append(_fps(name, kwargs, chosen, args.steps, args.n_envs, args.vec, student, seed=r,
                                   device=args.device))
    base = statistics.median(results[None])
    print(f"env={args.env} vec={args.vec} n_envs={args.n_envs} steps={args.steps} repeats={args.repeats} "
          f"device={args.device} ppo={student} set={args.set}")
    print(f"{'variant':<28}{'median fps':>12}{'ratio vs plain SB3':>22}")
    print(f"{'plain SB3 (no teacher)':<28}{base:>12.0f}{1.0:>22.3f}")
    for v in args.teachers:
        med = statistics.median(results[v])
        print(f"{'bridge + ' + v:<28}{med:>12.0f}{med / base:>22.3f}")
    if args.csv:
        from _results import write_rows

        write_rows(args.csv, [{"benchmark": "bench_overhead", "env": args.env, "student": "ppo/mlp",
                               "teacher": v or "none (plain SB3)", "device": args.device, "gpus": int("cuda" in args.device),
                               "runs": 1, "runs_per_gpu": 1 if "cuda" in args.device else "", "n_envs": args.n_envs,
                               "vec": args.vec, "workers": "", "cores_per_run": "",
                               "env_steps_per_s": round(statistics.median(results[v]), 1),
                               "per_run_env_steps_per_s": round(statistics.median(results[v]), 1), "update_share": "",
                               "seconds": ""} for v in variants])
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
