"""The recurrent student's one-step forward at 32 envs on the CPU, interleaved in one
process: with torch's argument checks and torch.multinomial (the loop before) vs without
them, sampling with students.recurrent.policy.sample_categorical and checking the
log-probabilities on the host (the loop now). 20 rounds of 200 calls each; medians.

    OMP_NUM_THREADS=1 python experiments/results/recurrent_ued_profile/raw/forward_old_vs_new.py
"""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
import torch  # noqa: E402

import envs  # noqa: E402,F401
from students.build import make_student  # noqa: E402
from students.vec import make_vec_env  # noqa: E402

torch.set_num_threads(1)
vec = make_vec_env("gridworld", {"max_size": 15, "max_steps": 250}, 32, "batched", seed=0)
policy = make_student("recurrent_ppo", vec, params={"n_steps": 16}, seed=0).policy
obs = torch.as_tensor(vec.reset())
state, starts = torch.zeros(2, 32, 256), torch.zeros(32)
times: dict[bool, list[float]] = {True: [], False: []}
with torch.no_grad():
    for _ in range(20):
        for checks in (True, False):
            t0 = time.perf_counter()
            for _ in range(200):
                _a, _v, log_probs, _s = policy(obs, state, starts, check_args=checks)
                if not checks:
                    bool(torch.isfinite(log_probs).all())
            times[checks].append((time.perf_counter() - t0) / 200 * 1e6)
print(f"us per forward: checks + multinomial (before) {statistics.median(times[True]):.0f}   "
      f"no checks + sample_categorical + host check (now) {statistics.median(times[False]):.0f}")
