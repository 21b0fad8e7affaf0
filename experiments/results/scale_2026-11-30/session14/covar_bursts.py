"""Why Covar-GMM in a worker still makes the loop wait (scale README, session 14).

Plays 720 vector steps of 1024 batched mazes with random actions through the bridge, with
Covar-GMM at ``fit_lag=1`` computing its fits inline (the same fits, in the same order, as in
the worker process), and prints the vector steps that finished the most episodes, the refit
boundaries they cross (one per 150 episodes), and the time of every mixture fit.

    OMP_NUM_THREADS=1 python experiments/results/scale_2026-11-30/session14/covar_bursts.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

import envs  # noqa: E402,F401
import teachers.refit as refit  # noqa: E402
from _config import env_config, teacher_config  # noqa: E402
from students.bridge import Curriculum  # noqa: E402
from students.vec import make_vec_env  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402

STEPS, N = 720, 1024
fits: list[float] = []
real_fit = refit.fit_best_gmm


def timed_fit(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201
    start = time.perf_counter()
    try:
        return real_fit(*args, **kwargs)
    finally:
        fits.append(time.perf_counter() - start)


refit.fit_best_gmm = timed_fit
name, kwargs, _, _ = env_config("gridworld_batched")
registry, params = teacher_config("covar_gmm", "gridworld_batched")
params = {**params, "fit_lag": 1, "fit_worker": "inline"}
vec = make_vec_env(name, kwargs, N, "batched", 0)
teacher = make_teacher(registry, vec.get_attr("task_space", indices=[0])[0], seed=0, **params)
curriculum = Curriculum(teacher, vec, lookahead=2)  # the look-ahead of teacher_process
curriculum.prime()
vec.reset()
actions = np.random.default_rng(0).integers(3, size=(STEPS, N))
done_per_step, total = [], 0
for t in range(STEPS):
    _, _, dones, infos = vec.step(actions[t])
    n = int(dones.sum())
    crossed = (total + n) // teacher.fit_rate - total // teacher.fit_rate
    done_per_step.append((t, n, crossed))
    total += n
    curriculum.on_step(dones, infos, t * N)
vec.close()
print(f"env kwargs {kwargs}; {N} mazes, {STEPS} vector steps, random actions; covar_gmm fit_rate {teacher.fit_rate}")
print(f"episodes per vector step: median {np.median([d[1] for d in done_per_step]):.0f}")
print("largest bursts (vector step, episodes finished, refit boundaries crossed):",
      sorted(sorted(done_per_step, key=lambda d: d[1])[-4:]))
ms = np.array(fits) * 1e3
print(f"{len(ms)} mixture fits (k = {params.get('min_k', 2)}..{params.get('max_k', 14)}), ms: median {np.median(ms):.0f}, "
      f"max {ms.max():.0f}; all: {np.round(ms).astype(int).tolist()}")
