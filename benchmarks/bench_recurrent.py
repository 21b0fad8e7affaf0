"""Throughput of the recurrent maze student: MLP PPO vs ours vs sb3-contrib's RecurrentPPO.

All students train through the curriculum bridge (random teacher) on the same env config
with the same rollout (``--n-envs`` × ``--n-steps``), minibatch and epochs, in ONE run, so
the printed ratios compare like with like:

- ``mlp``: SB3 ``PPO`` with the MLP policy (the student the gridworld configs use);
- ``ours``: ``recurrent_ppo`` (``students/recurrent``): dcd's maze network, whole-sequence
  update (``--lstm-mode``, default auto); ``ours_packed`` / ``ours_stepwise`` / ``ours_split``
  force a mode;
- ``contrib``: sb3-contrib ``RecurrentPPO`` with the SAME network (our maze features, one
  LSTM shared by actor and critic, 32-unit heads);
- ``contrib_default``: sb3-contrib's defaults (separate actor and critic LSTMs, 64-64
  heads) over the maze features: the configuration a user gets out of the box.

Each student warms up for one rollout + update, then trains for ``--seconds``; env steps/s
count rollout AND update time; the split is printed too. ``--lstm-modes`` also times one
forward+backward of the three ways to run an LSTM over a minibatch with resets
(``students/recurrent/lstm.py``: packed, stepwise, split at resets) on rollout-like data.

    # the issue's GPU setting (one H200):
    python benchmarks/bench_recurrent.py --n-envs 1024 --n-steps 64 --batch-size 8192 --epochs 4 \\
        --device cuda --seconds 40 --students mlp ours_packed ours_split contrib --lstm-modes \\
        --json bench_recurrent_gpu.json
    # CPU, small:
    python benchmarks/bench_recurrent.py --n-envs 16 --n-steps 32 --batch-size 256 --epochs 2 --seconds 10

``--learn-memory`` instead compares LEARNING on a maze that needs memory (3 seeds each):
a T-maze whose goal lies at the end of the left or the right arm, shown only by a cue
(an alcove beside the start cell) that leaves the 5×5 view after the first step. The goal
is out of view from the junction, so the score is the rate of episodes solved in at most
the shortest path + 1 step (averaged over the two levels): a memoryless policy reaches at
most 0.5 (it must guess a side; looking into an arm and turning back costs 2 more steps),
a policy that remembers the cue reaches 1. The time limit (``--memory-time-limit``,
default 20) is longer so that random exploration finds the goal (3.5% of random episodes
at 20 steps, 0.7% at 10), and the maze's reward (1 − 0.9·t/T) pays for the shorter path.
Each env plays one of the two levels throughout.

    python benchmarks/bench_recurrent.py --learn-memory --students ours mlp --seeds 0 1 2 --gamma 0.95 \\
        --memory-time-limit 12 --learn-steps 1000000 --n-envs 64 --n-steps 32 --batch-size 512 \\
        --epochs 4 --device cuda --json memory_ours.json
    (the same with ``--students contrib --json memory_contrib.json``)

Measured on the CPU (1 seed, 300k steps, 32 envs, gamma 0.95, time limit 12): MLP 0.50
(any success 1.00), ours 0.50 (0.66), sb3-contrib 0.50 (1.00): all at the memoryless
ceiling at that budget; an earlier run of ours (Adam eps 1e-8) reached 0.99 at 120k steps,
then collapsed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import envs  # noqa: E402,F401
from _config import env_config  # noqa: E402
from students.bridge import Curriculum, CurriculumCallback  # noqa: E402
from students.build import make_student  # noqa: E402
from students.recurrent import UEDMazeFeatures  # noqa: E402
from students.recurrent.lstm import ResetPlan, lstm_over_rollout, lstm_split_at_resets, lstm_stepwise  # noqa: E402
from students.threads import pin_threads  # noqa: E402
from students.vec import make_vec_env  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402

STUDENTS = ("mlp", "ours", "ours_packed", "ours_stepwise", "ours_split", "contrib", "contrib_default")


def build(student: str, vec: Any, args: argparse.Namespace, ppo_defaults: dict[str, Any], seed: int = 0) -> Any:
    common = {"n_steps": args.n_steps, "batch_size": args.batch_size, "n_epochs": args.epochs,
              "gamma": args.gamma, "gae_lambda": 0.95, "ent_coef": 0.01, "learning_rate": 3e-4}
    if student == "mlp":
        return make_student("ppo", vec, params={**ppo_defaults, **common}, seed=seed, device=args.device)
    if student.startswith("ours"):
        mode = student.split("_", 1)[1] if "_" in student else args.lstm_mode
        return make_student("recurrent_ppo", vec, params={**common, "lstm_mode": mode}, seed=seed, device=args.device)
    from sb3_contrib import RecurrentPPO

    layout = vec.get_attr("image_layout", indices=[0])[0]
    kwargs: dict[str, Any] = {"features_extractor_class": UEDMazeFeatures,
                              "features_extractor_kwargs": {"image_layout": tuple(layout)}, "lstm_hidden_size": 256}
    if student == "contrib":
        kwargs.update(shared_lstm=True, enable_critic_lstm=False, net_arch={"pi": [32], "vf": [32]},
                      activation_fn=nn.Tanh)
    return RecurrentPPO("MlpLstmPolicy", vec, seed=seed, device=args.device, policy_kwargs=kwargs, **common)


def measure(student: str, args: argparse.Namespace) -> dict[str, Any]:
    name, kwargs, ppo_defaults, normalize = env_config(args.env)
    vec = make_vec_env(name, kwargs, args.n_envs, "batched" if args.env.endswith("batched") else "dummy", seed=0,
                       normalize=normalize)
    try:
        curriculum = Curriculum(make_teacher("random", vec.get_attr("task_space", indices=[0])[0], seed=0), vec)
        curriculum.prime()
        model = build(student, vec, args, ppo_defaults)
        train_time = [0.0]
        real_train = model.train

        def timed_train() -> None:
            start = time.perf_counter()
            real_train()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            train_time[0] += time.perf_counter() - start

        model.train = timed_train  # type: ignore[method-assign]
        per_rollout = args.n_steps * args.n_envs
        model.learn(per_rollout, callback=CurriculumCallback(curriculum))  # warm-up: one rollout + update
        train_time[0] = 0.0
        start, before = time.perf_counter(), model.num_timesteps
        while time.perf_counter() - start < args.seconds:
            model.learn(per_rollout, callback=CurriculumCallback(curriculum), reset_num_timesteps=False)
        elapsed = time.perf_counter() - start
        steps = model.num_timesteps - before
        return {"student": student, "fps": steps / elapsed, "steps": steps, "seconds": elapsed,
                "train_share": train_time[0] / elapsed, "params": sum(p.numel() for p in model.policy.parameters())}
    finally:
        vec.close()


def lstm_modes(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Forward+backward of one minibatch (n_steps × batch_size/n_steps columns, 256 units)
    with episode starts at a rate of ``--reset-rate`` per step, in each of the three ways."""
    dev = torch.device(args.device)
    cols = max(1, args.batch_size // args.n_steps)
    rng = np.random.default_rng(0)
    starts = rng.random((args.n_steps, cols)) < args.reset_rate
    lstm = nn.LSTM(149, 256).to(dev)
    x = torch.randn(args.n_steps, cols, 149, device=dev, requires_grad=True)
    state = torch.randn(2, cols, 256, device=dev)
    starts_t = torch.as_tensor(starts, device=dev)

    def run(mode: str) -> None:
        if mode == "packed":
            out = lstm_over_rollout(lstm, x, state, ResetPlan.from_starts(starts, dev, "packed"))
        elif mode == "stepwise":
            out = lstm_stepwise(lstm, x, state, starts_t)
        else:
            out = lstm_split_at_resets(lstm, x, state, starts)
        out.sum().backward()

    results = []
    for mode in ("packed", "stepwise", "split"):
        for _ in range(2):
            run(mode)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < max(0.5, args.seconds / 10) or reps < 3:
            run(mode)
            reps += 1
        if dev.type == "cuda":
            torch.cuda.synchronize()
        results.append({"mode": mode, "ms": 1000 * (time.perf_counter() - start) / reps})
    return results


def memory_levels(corridor: int = 1) -> tuple[list[str], int]:
    """The two T-maze levels (ASCII, goal left / goal right) and their shortest path.

    Start facing up below a vertical corridor of ``corridor`` cells; the arms run 3 cells
    to each side of the junction (goal at the end: not in view from the junction, in view
    once the agent turns towards it); the cue is an open cell left or right of the start."""
    size = max(9, corridor + 4)
    levels = []
    for side in ("left", "right"):
        rows = [["#"] * size for _ in range(size)]
        for x in range(1, 8):
            rows[1][x] = "."
        rows[1][1 if side == "left" else 7] = "G"
        for y in range(2, 2 + corridor):
            rows[y][4] = "."
        start_y = 2 + corridor
        rows[start_y][4] = "^"
        rows[start_y][3 if side == "left" else 5] = "."
        levels.append("\n".join("".join(r) for r in rows))
    return levels, (corridor + 1) + 1 + 3


def learn_memory(args: argparse.Namespace) -> list[dict[str, Any]]:
    from envs.gridworld.level import Level

    ascii_levels, shortest = memory_levels(args.corridor)
    levels = [Level.from_ascii(a).to_string() for a in ascii_levels]
    size = Level.from_string(levels[0]).size
    print(f"memory T-maze (goal left / right; scored: solved within shortest path {shortest} + 1 steps; "
          f"time limit {args.memory_time_limit}):")
    for row_l, row_r in zip(ascii_levels[0].splitlines(), ascii_levels[1].splitlines()):
        print(f"  {row_l}   {row_r}")
    results = []
    for student in args.students:
        for seed in args.seeds:
            vec = make_vec_env("gridworld", {"max_size": size, "max_steps": args.memory_time_limit}, args.n_envs,
                               "batched", seed=seed)
            for i in range(args.n_envs):
                vec.env_method("set_next_task", {"level": levels[i % 2]}, indices=[i])
            torch.manual_seed(seed)
            model = build(student, vec, args, {}, seed=seed)
            outcomes: list[tuple[int, int, bool]] = []
            lengths: list[tuple[int, int, bool]] = []

            def on_step(local: dict[str, Any], _globals: dict[str, Any]) -> bool:
                for i in np.flatnonzero(local["dones"]):
                    info = local["infos"][i]
                    fast = bool(info.get("success", False)) and int(info["episode"]["l"]) <= shortest + 1
                    outcomes.append((model.num_timesteps, int(i) % 2, fast))
                    lengths.append((model.num_timesteps, int(info["episode"]["l"]), bool(info.get("success", False))))
                return True

            start = time.perf_counter()
            model.learn(args.learn_steps, callback=on_step)
            wall = time.perf_counter() - start
            vec.close()
            steps = np.array([t for t, _, _ in outcomes])
            side = np.array([k for _, k, _ in outcomes])
            wins = np.array([w for _, _, w in outcomes], dtype=float)

            def rate(window: np.ndarray) -> float:
                # mean over the two levels of each level's rate: the side a policy favours
                # finishes more (shorter) episodes, so a plain episode mean would favour it
                per_level = [wins[window & (side == k)].mean() for k in (0, 1) if (window & (side == k)).any()]
                return float(np.mean(per_level)) if len(per_level) == 2 else float("nan")

            curve = [rate((steps > lo) & (steps <= lo + args.learn_steps / 10))
                     for lo in np.arange(10) * args.learn_steps / 10]
            final = rate(steps > 0.8 * args.learn_steps)
            late = [(n, ok) for t, n, ok in lengths if t > 0.8 * args.learn_steps]
            late_success = float(np.mean([ok for _, ok in late])) if late else float("nan")
            late_length = float(np.mean([n for n, _ in late])) if late else float("nan")
            results.append({"student": student, "seed": seed, "final_solved_fast": final, "curve": curve,
                            "final_success": late_success, "final_mean_length": late_length, "wall_s": wall})
            print(f"{student:<16} seed {seed}  solved within {shortest + 1} steps, last 20% of training {final:5.2f}   "
                  f"curve {' '.join(f'{c:.2f}' for c in curve)}   (any success {late_success:.2f}, "
                  f"mean length {late_length:.1f})   {wall:.0f} s")
    for student in args.students:
        finals = [r["final_solved_fast"] for r in results if r["student"] == student]
        print(f"{student:<16} solved within {shortest + 1} steps: {np.mean(finals):5.2f} ± {np.std(finals):4.2f} "
              f"over {len(finals)} seeds (memoryless ceiling 0.5)")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="gridworld_batched")
    parser.add_argument("--n-envs", type=int, default=1024)
    parser.add_argument("--n-steps", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--students", nargs="*", default=["mlp", "ours", "contrib"], choices=STUDENTS,
                        help="none with --lstm-modes: time only the LSTM modes")
    parser.add_argument("--lstm-mode", default="auto", choices=["auto", "packed", "stepwise", "split"],
                        help="recurrent_ppo's lstm_mode (auto: packed on CUDA, split on the CPU)")
    parser.add_argument("--lstm-modes", action="store_true", help="also time the three LSTM-over-rollout modes")
    parser.add_argument("--reset-rate", type=float, default=0.02, help="episode starts per step in --lstm-modes")
    parser.add_argument("--learn-memory", action="store_true", help="compare learning on the memory T-maze instead")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--learn-steps", type=int, default=500_000)
    parser.add_argument("--corridor", type=int, default=1, help="corridor cells between the cue and the junction")
    parser.add_argument("--memory-time-limit", type=int, default=20, help="episode steps in the memory T-maze")
    parser.add_argument("--gamma", type=float, default=0.995, help="discount of every student (the maze's 0.995)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.batch_size % args.n_steps:
        parser.error("--batch-size must be a multiple of --n-steps (whole sequences)")
    pin_threads(1)
    torch.manual_seed(0)
    if args.learn_memory:
        learned = learn_memory(args)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"args": vars(args), "results": learned}, fh, indent=2)
        return
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else "-"
    print(f"env={args.env} n_envs={args.n_envs} n_steps={args.n_steps} batch={args.batch_size} epochs={args.epochs} "
          f"device={args.device} ({gpu}) seconds={args.seconds}")
    results = []
    for student in args.students:
        r = measure(student, args)
        results.append(r)
        print(f"{student:<16} {r['fps']:10.0f} env steps/s   update {100 * r['train_share']:4.0f}% of the time   "
              f"{r['params']} parameters")
    by = {r["student"]: r["fps"] for r in results}
    if "mlp" in by:
        for s in args.students:
            if s != "mlp":
                print(f"{s:<16} x{by[s] / by['mlp']:6.3f} vs mlp")
    for ours in (s for s in args.students if s.startswith("ours")):
        for s in args.students:
            if s.startswith("contrib"):
                print(f"{ours:<16} x{by[ours] / by[s]:6.2f} vs {s}")
    modes = lstm_modes(args) if args.lstm_modes else []
    for m in modes:
        print(f"lstm {m['mode']:<9} {m['ms']:8.2f} ms per minibatch forward+backward   "
              f"x{m['ms'] / modes[0]['ms']:5.2f} vs packed")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "device": gpu, "results": results, "lstm_modes": modes}, fh, indent=2)


if __name__ == "__main__":
    main()
