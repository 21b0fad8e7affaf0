"""Every benchmark script runs end to end at a tiny size and prints its ratio lines.

The benchmarks are how speed claims are made (README, experiments/results/); a script
that no longer runs would leave figures nobody can regenerate. These runs check only that
each script completes and prints the ratio it exists for: never a wall-clock threshold.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "bench_gridworld.py": (["--seconds", "0.2", "--sizes", "1", "16", "--ppo-steps", "512", "--ppo-envs", "2"],
                           ["x minigrid", "batched N=16", "x subproc"]),
    "bench_overhead.py": (["--env", "gridworld_small", "--steps", "512", "--repeats", "1", "--n-envs", "2",
                           "--teachers", "random"], ["ratio", "collect ratio"]),
    "bench_teacher_step.py": (["--n-envs", "16", "--steps", "30", "--warmup", "5", "--rollout", "8", "--teachers",
                               "random", "adr", "spdl", "plr", "accel"], ["bridge/env", "spdl", "accel"]),
    "bench_scaling.py": (["--envs", "gridworld_small", "--steps", "512", "--max-envs", "2", "--vec", "dummy",
                          "--policies", "mlp", "cnn"], ["vs n_envs=1", "cnn policy"]),
    "bench_memory.py": (["--env", "gridworld_small", "--steps", "2048", "--teachers", "random"], ["growth / 1M steps"]),
    "bench_hexagon.py": (["--steps", "200", "--repeats", "1", "--resets", "3"], ["BipedalWalker", "WalkerHexagon"]),
    "bench_walker.py": (["--steps", "200", "--repeats", "1", "--resets", "3", "--bodies", "default"], ["BipedalWalker"]),
    "bench_parkour.py": (["--steps", "100", "--repeats", "1"], ["x gym BipedalWalker-v3"]),
    "bench_sweep.py": (["--runs", "1", "--steps", "512", "--max-workers", "1"], ["x basic"]),
    "bench_ppo_update.py": (["--rollout", "128", "--n-envs", "2", "--batch-size", "32", "--repeats", "1"],
                            ["paired ratio to cpu:1:sb3"]),
    "profile_hot_paths.py": (["--batched-steps", "20", "--walker-steps", "200", "--ppo-steps", "512", "--top", "3"],
                             ["top 3 functions", "== ppo"]),
}


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_script_runs_and_prints_its_ratio(script: str) -> None:
    args, expected = CASES[script]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    for text in expected:
        assert text in out.stdout, f"{script}: {text!r} not in output:\n{out.stdout[-2000:]}"
