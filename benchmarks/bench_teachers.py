"""Cost of the LP teachers, measured against peers in the same run (issue 3 speed goals).

Prints:

1. nearest-neighbour query over a 20,000-task history: our incremental KD-tree index vs a
   brute-force scan (the ratio);
2. one ALP-GMM refit on a paper-like window (250 [task, ALP] points from a real toy run,
   k = 2..10): our vectorised numpy EM vs sklearn GaussianMixture (both single-threaded);
3. sample()+update() per episode (refits excluded) and amortised with refits;
4. ALP-GMM's own time for N toy episodes (default 20,000; the reference implementation
   took ≈130 s per seed here, issue 3), for both backends with --full;
5. teacher overhead as a fraction of a real SB3 PPO run on gymnasium's BipedalWalker-v3:
   (teacher s / episode) / (walker episode length / PPO steps per s), both measured here;
6. with --track: the full default track's wall time (``teachbench-track``).

    .venv/bin/python benchmarks/bench_teachers.py            # ~60 s
    .venv/bin/python benchmarks/bench_teachers.py --full --track
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

from envs.toy.student import SimulatedStudent  # noqa: E402
from teachers.base import Episode  # noqa: E402
from teachers.gmm_fit import fit_best_gmm  # noqa: E402
from teachers.nearest import NearestIndex  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402


def bench_nearest(n: int = 20_000, d: int = 2, queries: int = 2000) -> None:
    rng = np.random.default_rng(0)
    pts = rng.random((n, d))
    index = NearestIndex(d)
    t0 = time.perf_counter()
    for p in pts:
        index.add(p)
    build = time.perf_counter() - t0
    qs = rng.random((queries, d))
    t0 = time.perf_counter()
    for q in qs:
        index.nearest(q)
    ours = (time.perf_counter() - t0) / queries
    t0 = time.perf_counter()
    for q in qs:
        int(((pts - q) ** 2).sum(1).argmin())
    brute = (time.perf_counter() - t0) / queries
    print(f"[nearest] n={n} d={d}: ours {ours * 1e6:.1f} us/query (+{build / n * 1e6:.1f} us/add, "
          f"{index.n_rebuilds} rebuilds) vs brute force {brute * 1e6:.1f} us  -> {brute / ours:.1f}x faster")


def toy_run(name: str, episodes: int, seed: int = 0, **params):
    student = SimulatedStudent()
    space = student.task_space()
    teacher = make_teacher(name, space, seed=seed, **params)
    t_teacher = 0.0
    t0 = time.perf_counter()
    for _ in range(episodes):
        a = time.perf_counter()
        task = teacher.sample()
        b = time.perf_counter()
        r, ok = student.practise(space.to_unit(task))
        c = time.perf_counter()
        teacher.update(Episode(task=task, episode_return=r, length=1, success=ok))
        t_teacher += (b - a) + (time.perf_counter() - c)
    return teacher, student, t_teacher, time.perf_counter() - t0


def bench_refit(teacher, repeats: int) -> float:
    window = np.asarray(teacher.window)
    out = {}
    for backend in ("numpy", "sklearn"):
        rng = np.random.default_rng(0)
        fit_best_gmm(window, range(2, 11), rng, backend=backend)  # warm-up (imports)
        t0 = time.perf_counter()
        for _ in range(repeats):
            g = fit_best_gmm(window, range(2, 11), rng, backend=backend)
        out[backend] = ((time.perf_counter() - t0) / repeats, g.k, g.aic)
    (tn, kn, an), (ts, ks, as_) = out["numpy"], out["sklearn"]
    print(f"[refit] window {window.shape}, k=2..10: numpy {tn * 1e3:.1f} ms (k={kn}, AIC {an:.0f}) vs sklearn "
          f"{ts * 1e3:.1f} ms (k={ks}, AIC {as_:.0f}) -> {ts / tn:.1f}x faster")
    return tn


def bench_per_episode(teacher, student, n: int = 2000) -> None:
    space = student.task_space()
    teacher.refit = lambda: None  # measure the per-episode path only
    t0 = time.perf_counter()
    for _ in range(n):
        task = teacher.sample()
    t_s = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(n):
        task = space.sample(teacher.rng)
        teacher.update(Episode(task=task, episode_return=float(teacher.rng.random()), length=1))
    t_u = (time.perf_counter() - t0) / n
    print(f"[per episode] history {len(teacher.rewards)}: sample {t_s * 1e6:.0f} us, update {t_u * 1e6:.0f} us "
          f"(refits excluded)")


def bench_ppo_walker(steps: int) -> tuple[float, float]:
    import gymnasium as gym
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.monitor import Monitor

    torch.set_num_threads(1)
    env = Monitor(gym.make("BipedalWalker-v3"))
    model = PPO("MlpPolicy", env, n_steps=1024, batch_size=256, n_epochs=5, seed=0, device="cpu", verbose=0)
    t0 = time.perf_counter()
    model.learn(total_timesteps=steps)
    fps = steps / (time.perf_counter() - t0)
    lengths = env.get_episode_lengths()
    mean_len = float(np.mean(lengths)) if lengths else float(steps)
    env.close()
    return fps, mean_len


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=20_000, help="toy episodes of the ALP-GMM run")
    ap.add_argument("--ppo-steps", type=int, default=3072, help="PPO steps on BipedalWalker-v3")
    ap.add_argument("--full", action="store_true", help="also time 20,000 episodes with the sklearn backend")
    ap.add_argument("--track", action="store_true", help="time the full default track (teachbench-track)")
    args = ap.parse_args()

    bench_nearest()
    teacher, student, t_teacher, t_total = toy_run("alp_gmm", args.episodes, reward_bounds=[0, 1])
    per_ep = t_teacher / args.episodes
    print(f"[alp_gmm corl2019, numpy] {args.episodes} toy episodes: teacher {t_teacher:.1f} s "
          f"({per_ep * 1e6:.0f} us/episode amortised, {teacher.n_fits} refits), total {t_total:.1f} s, "
          f"{student.score():.0f}% mastered; reference implementation ~130 s/seed -> {130.0 / t_total:.0f}x")
    if args.full:
        _, st2, t2, tt2 = toy_run("alp_gmm", args.episodes, reward_bounds=[0, 1], gmm_backend="sklearn")
        print(f"[alp_gmm corl2019, sklearn] same run: teacher {t2:.1f} s, total {tt2:.1f} s "
              f"-> numpy backend {tt2 / t_total:.1f}x faster end to end ({st2.score():.0f}% mastered)")
    bench_refit(teacher, repeats=5)
    bench_per_episode(teacher, student)

    fps, ep_len = bench_ppo_walker(args.ppo_steps)
    ep_time = ep_len / fps
    print(f"[walker PPO] {args.ppo_steps} steps: {fps:.0f} steps/s, mean episode {ep_len:.0f} steps "
          f"= {ep_time * 1e3:.0f} ms/episode")
    fall = 100 / fps  # a walker that falls at once: ~100 steps, the worst case for the ratio
    print(f"[overhead] ALP-GMM teacher time / walker episode time = {per_ep / ep_time * 100:.3f}% at the measured "
          f"mean episode, {per_ep / fall * 100:.2f}% for 100-step (falling) episodes (goal < 1%)")

    if args.track:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "experiments.running.teacher_track", "runs_dir=/tmp/teachbench-bench-track",
                        "resume=false"], check=True)
        print(f"[track] default track wall time {time.perf_counter() - t0:.1f} s (2 workers)")


if __name__ == "__main__":
    main()
