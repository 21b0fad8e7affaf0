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
                           "--teachers", "random"], ["ratio", "collect ratio", "bridge share"]),
    "bench_teacher_step.py": (["--n-envs", "16", "--steps", "30", "--warmup", "5", "--rollout", "8", "--pause", "0.001",
                               "--teachers", "random", "adr", "spdl", "plr", "accel", "riac@proc",
                               "--set", "riac@proc.teacher_process=true"],
                              ["bridge/env", "spdl", "accel", "riac@proc", "submit µs"]),
    "bench_level_handout.py": (["--n-envs", "16", "--handouts", "64", "--warmup", "32", "--buffer", "40"],
                               ["level, cached", "hit rate"]),
    "bench_episode_record.py": (["--episodes", "200", "--repeats", "1"], ["asdict us", "to_record us", "walker"]),
    "bench_scaling.py": (["--envs", "gridworld_small", "--steps", "512", "--max-envs", "2", "--vec", "dummy",
                          "--policies", "mlp", "cnn"], ["vs n_envs=1", "cnn policy"]),
    "bench_memory.py": (["--env", "gridworld_small", "--steps", "2048", "--teachers", "random"], ["growth / 1M steps"]),
    "bench_hexagon.py": (["--steps", "200", "--repeats", "1", "--resets", "3"], ["BipedalWalker", "WalkerHexagon"]),
    "bench_walker.py": (["--steps", "200", "--repeats", "1", "--resets", "3", "--bodies", "default"], ["BipedalWalker"]),
    "bench_parkour.py": (["--steps", "100", "--repeats", "1"], ["x gym BipedalWalker-v3"]),
    "bench_sweep.py": (["--runs", "1", "--steps", "512", "--max-workers", "1"], ["x basic"]),
    "bench_ppo_update.py": (["--rollout", "128", "--n-envs", "2", "--batch-size", "32", "--repeats", "1"],
                            ["paired ratio to cpu:1:sb3"]),
    "bench_train_lag.py": (["--rounds", "1", "--teachers", "setter_solver", "--workers", "thread", "--startup", "0"],
                           ["loop slowdown", "train_lag=1 thread"]),
    "profile_recurrent_ued.py": (["--iters", "1", "--override", "env.n_envs=4", "student.params.n_steps=16",
                                  "env.kwargs.max_steps=4", "paired:teacher.params.conv_filters=4",
                                  "paired:teacher.params.lstm_hidden=16", "paired:ued.level_batch=2"],
                                 ["student env steps/s", "adversary update", "antagonist: PPO update"]),
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


def test_bench_teacher_step_runs_the_level_designers() -> None:
    """Minimax (its fast path and SB3's), PAIRED with its stand-in antagonist: designed
    batches at priming, the design/learn columns and the ratio line."""
    args = ["--env", "gridworld_dcd25", "--n-envs", "4", "--steps", "12", "--warmup", "2", "--adversary-device", "cpu",
            "--overrides", "experiment=ued_maze_paired_dcd25", "ued.level_batch=4",
            "--teachers", "random", "minimax", "minimax@sb3", "paired"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_teacher_step.py"), *args], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    for text in ("ratio", "design µs", "learn µs", "minimax@sb3", "paired"):
        assert text in out.stdout, f"{text!r} not in output:\n{out.stdout[-2000:]}"


def test_bench_overhead_replay_peer_plays_the_teacher_runs_episodes(monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``--replay-peer``: plain SB3 replaying, maze by maze, the tasks a teacher handed out
    finishes exactly the teacher run's episodes (same count, same reward sum), for
    parameter tasks (SPDL, with its V(s0) tracker and two distribution updates) and for
    replayed level strings (PLR with a 4-level buffer, so that it replays within the run);
    the command line prints the check."""
    import warnings

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_overhead as bo
    from _config import env_config, teacher_config

    warnings.filterwarnings("ignore")
    name, kwargs, student, _ = env_config("gridworld_batched")
    student.update(n_steps=32, batch_size=64, n_epochs=1)
    spdl = teacher_config("spdl", "gridworld_batched")
    spdl[1].update(offset=512, update_period=512, min_contexts=1)
    plr = teacher_config("plr", "gridworld_batched")
    plr[1].update(buffer_size=4, min_fill=0.25, replay_prob=0.9)
    for teacher, levels in ((spdl, False), (plr, True)):
        run = bo._fps(name, kwargs, teacher, 4096, 4, "batched", student, seed=1, fast_rollout="auto", skip=1,
                      record=True)
        replayed = sum("level" in task for queue in run.played for task in queue)
        assert (replayed > 0) == levels and run.episodes >= 8
        peer = bo._fps(name, kwargs, None, 4096, 4, "batched", student, seed=1, fast_rollout="auto", skip=1,
                       replay=run.played)
        assert peer.signature() == run.signature()
        assert peer.episodes_timed == run.episodes_timed
        # the teacher run timed its bridge inside its window; the peer has none
        assert 0.0 < run.bridge_share < 1.0 and peer.bridge_share == 0.0
    argv = ["bench_overhead.py", "--env", "gridworld_batched", "--vec", "batched", "--n-envs", "4", "--n-steps", "16",
            "--batch-size", "64", "--epochs", "1", "--steps", "256", "--repeats", "1", "--warmup", "0",
            "--teachers", "random", "--replay-peer"]
    monkeypatch.setattr(sys, "argv", argv)
    bo.main()
    out = capsys.readouterr().out
    assert "teacher vs its replay peer" in out and "same episodes" in out
