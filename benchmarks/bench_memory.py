"""Memory of a run over time: resident set size every N steps, per teacher.

Trains PPO through the bridge on an env for ``--steps`` steps with each teacher and
samples this process's RSS (``/proc/self/statm``) at every rollout; prints the RSS after
warm-up, at the end, and the growth per million steps, next to plain SB3 (no teacher) in
the same run as the peer. Teacher state that grows with every episode (ALP-GMM keeps the
whole history for its nearest-neighbour ALP, as published) shows up here.

    python benchmarks/bench_memory.py --env gridworld_small --steps 200000 --teachers random alp_gmm plr_robust
"""

from __future__ import annotations

import argparse
import gc
import os
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402

import envs  # noqa: E402,F401
from _config import env_config, teacher_config  # noqa: E402
from students.bridge import Curriculum, CurriculumCallback  # noqa: E402
from students.build import make_student  # noqa: E402
from students.regret import attach_teacher_needs  # noqa: E402
from students.threads import pin_threads  # noqa: E402
from students.vec import make_vec_env  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402

PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE_MB


class RssProbe(BaseCallback):
    """RSS at every rollout start: (step, MB)."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[tuple[int, float]] = []

    def _on_rollout_start(self) -> None:
        self.samples.append((self.num_timesteps, rss_mb()))

    def _on_step(self) -> bool:
        return True


def measure(env: str, teacher: str | None, steps: int, seed: int = 0) -> list[tuple[int, float]]:
    name, kwargs, ppo, normalize = env_config(env)
    vec = make_vec_env(name, kwargs, 8, "dummy", seed, normalize=normalize)
    try:
        model = make_student("ppo", vec, params=ppo, seed=seed)
        probe = RssProbe()
        callbacks: list[Any] = [probe]
        if teacher is not None:  # without one, every episode plays the env's default task
            registry_name, params = teacher_config(teacher, env)
            chosen = make_teacher(registry_name, vec.get_attr("task_space", indices=[0])[0], seed=seed, **params)
            curriculum = Curriculum(chosen, vec)
            curriculum.prime()
            bridge = CurriculumCallback(curriculum)
            attach_teacher_needs(chosen, model, curriculum, bridge)
            callbacks.insert(0, bridge)
        model.learn(steps, callback=callbacks)
        return probe.samples
    finally:
        vec.close()
        gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="gridworld_small")
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--teachers", nargs="+", default=["random", "alp_gmm", "plr_robust"])
    args = parser.parse_args()
    pin_threads(1)
    print(f"env={args.env} steps={args.steps} (RSS of this process, MB)")
    print(f"{'variant':<24}{'after warm-up':>15}{'at end':>10}{'growth / 1M steps':>20}")
    for teacher in [None, *args.teachers]:
        samples = measure(args.env, teacher, args.steps)
        warm = samples[len(samples) // 5]  # skip allocator and torch warm-up
        end = samples[-1]
        growth = (end[1] - warm[1]) / max(end[0] - warm[0], 1) * 1e6
        label = "plain SB3 (no teacher)" if teacher is None else teacher
        print(f"{label:<24}{warm[1]:>15.1f}{end[1]:>10.1f}{growth:>20.1f}")


if __name__ == "__main__":
    main()
