"""Gridworld speed: our maze against MiniGrid, measured in the same run.

Raw stepping (uniformly random left/right/forward, auto-reset, 15×15 mazes, 250 steps):

- ``minigrid``: MiniGrid's own ``EmptyEnv(size=15)`` as users get it (7×7 view; Empty
  sees through walls); ``minigrid_matched``: the same with our 5×5 view;
- ``single``: our :class:`MazeEnv` (a MiniGridEnv subclass) on its default task;
- ``batched N``: :class:`BatchedMazeVecEnv` at N = 1, 64, 1024 (steps/s counts every
  sub-env step).

Then SB3 PPO end to end (same hyperparameters, MlpPolicy, one torch thread): the batched
VecEnv against a ``SubprocVecEnv`` (and a ``DummyVecEnv``) of single envs.

    .venv/bin/python benchmarks/bench_gridworld.py            # ~1 min
    .venv/bin/python benchmarks/bench_gridworld.py --seconds 5 --ppo-steps 100000   # longer
    .venv/bin/python benchmarks/bench_gridworld.py --learn 200000   # PPO learns small mazes

Issue 4's goals: batched ≥ 100× MiniGrid at N = 1024, PPO on batched ≥ 2× PPO on SubprocVecEnv.
"""

from __future__ import annotations

import argparse
import time

import _setup  # noqa: E402,F401 - the repo on sys.path, one thread per process (benchmarks/_setup.py)

import numpy as np  # noqa: E402


def rate_single(env, seconds: float, seed: int = 0) -> float:
    """Random-action steps/s of one gymnasium env with reset on episode end."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    actions = rng.integers(3, size=100_000)
    n = 0
    start = time.perf_counter()
    while True:
        for _ in range(500):
            _, _, term, trunc, _ = env.step(int(actions[n % actions.size]))
            n += 1
            if term or trunc:
                env.reset()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def rate_vec(vec, seconds: float, seed: int = 0) -> float:
    """Random-action sub-env steps/s of an SB3 VecEnv (auto-resets inside)."""
    rng = np.random.default_rng(seed)
    vec.reset()
    batch = rng.integers(3, size=(64, vec.num_envs))
    n = 0
    start = time.perf_counter()
    while True:
        for k in range(8):
            vec.step(batch[(n + k) % 64])
        n += 8
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n * vec.num_envs / elapsed


def ppo_fps(vec, steps: int) -> float:
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    model = PPO("MlpPolicy", vec, n_steps=128, batch_size=256, n_epochs=4, gamma=0.995, ent_coef=0.01, seed=0, device="cpu")
    start = time.perf_counter()
    model.learn(steps)
    return model.num_timesteps / (time.perf_counter() - start)


def solved_rate(model, levels: list, max_steps: int = 250) -> list[bool]:
    """Deterministic policy, one episode per level, all levels at once in a batched env."""
    from envs.gridworld.batched import BatchedMazeVecEnv

    vec = BatchedMazeVecEnv(len(levels), seed=0, max_steps=max_steps)
    for i, lvl in enumerate(levels):
        vec.set_next_task({"level": lvl}, indices=[i])
    obs = vec.reset()
    result: list[bool | None] = [None] * len(levels)
    while any(r is None for r in result):
        actions, _ = model.predict(obs, deterministic=True)
        obs, _, dones, infos = vec.step(actions)
        for i in np.flatnonzero(dones):
            if result[i] is None:
                result[i] = bool(infos[i]["success"])
    return [bool(r) for r in result]


def learn(steps: int, n_envs: int, max_size: int, seed: int) -> None:
    """Domain randomization (uniform tasks, sizes up to ``max_size``) with PPO on the
    batched env; solved rates before/after on random small mazes and the held-out set."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    from envs.gridworld.batched import BatchedMazeVecEnv
    from envs.gridworld.generate import generate_level, maze_task_space
    from envs.gridworld.held_out import held_out_levels

    torch.set_num_threads(1)
    space = maze_task_space(max_size=max_size)
    rng = np.random.default_rng(seed)
    vec = BatchedMazeVecEnv(n_envs, seed=seed)
    for i in range(n_envs):
        vec.set_next_task(space.sample(rng), indices=[i])

    class UniformTasks(BaseCallback):
        def _on_step(self) -> bool:
            for i in np.flatnonzero(self.locals["dones"]):
                vec.set_next_task(space.sample(rng), indices=[int(i)])
            return True

    test_rng = np.random.default_rng(10_000 + seed)
    small = [generate_level(space.sample(test_rng), seed=k).to_string() for k in range(200)]
    named = {k: v.to_string() for k, v in held_out_levels().items()}
    model = PPO("MlpPolicy", vec, n_steps=128, batch_size=512, n_epochs=4, gamma=0.995, ent_coef=0.01, seed=seed, device="cpu")

    def report(tag: str) -> None:
        s = solved_rate(model, small)
        h = solved_rate(model, list(named.values()))
        solved = [n for n, ok in zip(named, h) if ok]
        print(f"{tag}: solved {np.mean(s):.0%} of 200 random mazes (size <= {max_size}); "
              f"held-out {sum(h)}/{len(h)} solved {solved}")

    report("before")
    start = time.perf_counter()
    model.learn(steps, callback=UniformTasks())
    print(f"PPO {steps} steps on {n_envs} batched envs: {steps / (time.perf_counter() - start):,.0f} fps")
    report("after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per raw-stepping measurement")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024], help="batched N to measure")
    parser.add_argument("--ppo-steps", type=int, default=16_384, help="PPO steps per VecEnv kind (0 skips PPO)")
    parser.add_argument("--ppo-envs", type=int, nargs="+", default=[8, 32],
                        help="sub-envs of the PPO VecEnvs (32: configs/env/gridworld_batched.yaml)")
    parser.add_argument("--learn", type=int, default=0, metavar="STEPS",
                        help="instead of speed: PPO with uniform tasks for STEPS steps, solved rates before/after")
    parser.add_argument("--learn-envs", type=int, default=32)
    parser.add_argument("--learn-max-size", type=int, default=9, help="largest maze of the training tasks")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.learn > 0:
        learn(args.learn, args.learn_envs, args.learn_max_size, args.seed)
        return

    from minigrid.envs import EmptyEnv

    from envs.gridworld.batched import BatchedMazeVecEnv
    from envs.gridworld.maze_env import MazeEnv

    rates: dict[str, float] = {}
    rates["minigrid"] = rate_single(EmptyEnv(size=15, max_steps=250), args.seconds)
    rates["minigrid_matched"] = rate_single(EmptyEnv(size=15, max_steps=250, agent_view_size=5), args.seconds)
    rates["single"] = rate_single(MazeEnv(), args.seconds)
    for n in args.sizes:
        rates[f"batched N={n}"] = rate_vec(BatchedMazeVecEnv(n, seed=0), args.seconds)

    print("raw random-action steps/s (15x15, 250-step episodes; one process)")
    print(f"{'env':<20}{'steps/s':>14}{'x minigrid':>12}{'x matched':>12}")
    for name, r in rates.items():
        print(f"{name:<20}{r:>14,.0f}{r / rates['minigrid']:>12.1f}{r / rates['minigrid_matched']:>12.1f}")

    if args.ppo_steps > 0:
        from stable_baselines3.common.monitor import Monitor
        from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

        for k in args.ppo_envs:
            fps: dict[str, float] = {}
            fps["batched"] = ppo_fps(BatchedMazeVecEnv(k, seed=0), args.ppo_steps)
            sub = SubprocVecEnv([lambda: Monitor(MazeEnv()) for _ in range(k)])
            fps["subproc"] = ppo_fps(sub, args.ppo_steps)
            sub.close()
            fps["dummy"] = ppo_fps(DummyVecEnv([lambda: Monitor(MazeEnv()) for _ in range(k)]), args.ppo_steps)
            print(f"\nSB3 PPO end to end ({k} envs, n_steps 128, batch 256, 4 epochs, {args.ppo_steps} steps)")
            print(f"{'vec env':<20}{'fps':>10}{'x subproc':>12}")
            for name, r in fps.items():
                print(f"{name:<20}{r:>10,.0f}{r / fps['subproc']:>12.2f}")


if __name__ == "__main__":
    main()
