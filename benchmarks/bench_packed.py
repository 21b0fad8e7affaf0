"""Packed runs on one machine: total env steps/s of N batched-maze PPO runs at once.

Issue 18's goal: >= 500k env steps/s in all on one H200 (204k measured with 4 packed
runs). Each setting starts N worker processes at once, each pinned to its slot exactly as
``hydra/launcher=packed`` pins a run (``experiments/running/packing.py``: an equal share of
``--cores``, GPU ``slot mod --gpus``), each training its own student on its own batched
maze through the curriculum bridge (``--teacher``, default random). After one warm-up
rollout + update, the workers wait on a barrier and then train for ``--seconds``; a worker
counts the env steps of the whole rollouts (+ updates) it finished in that window. The
total is the sum of the per-run rates.

Settings are the product of ``--students`` (``mlp``: SB3 PPO, the gridworld student;
``recurrent``: ``recurrent_ppo``, dcd's maze network), ``--devices``, ``--runs`` and
``--n-envs``; ``--fast-rollout`` runs the MLP with ``students/fast_rollout.py``'s loop (what runs on
the batched VecEnv use by default; ``--fast-rollout batched`` also batches the time-limit bootstrap);
``--mix G:C`` adds settings with G CUDA runs and C CPU runs side by side
(the MLP ran 0.68-0.80x on CUDA in ``bench_scaling.py``, so idle cores can add CPU runs).

What limits it (see ``profile_sb3_loop.py``): one run is one Python process, so its env
stepping, SB3's rollout loop and the bridge run on one core; several CUDA processes on
one GPU are time-sliced by the driver (no MPS), so each run's many small kernels wait for
the others' slices. More envs per run amortise the per-step launches and device round
trips; more runs use more cores until the GPU's time slices are the limit.

    # one H200 and 16 of the machine's cores:
    python benchmarks/bench_packed.py --gpus 1 --cores 0-15 --runs 1 4 8 16 --n-envs 1024 4096 \
        --students mlp --devices cuda --seconds 20 --csv packed.csv
    python benchmarks/bench_packed.py --gpus 1 --cores 0-15 --runs 4 --students recurrent --devices cuda
    # CPU smoke (here):
    python benchmarks/bench_packed.py --runs 1 2 --n-envs 64 --n-steps 16 --batch-size 512 --devices cpu --seconds 2
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from typing import Any

import _setup  # noqa: E402,F401 - the repo on sys.path, one thread per process (benchmarks/_setup.py)

from _results import write_rows  # noqa: E402
from experiments.running.packing import Slot, apply_slot, machine_cores, plan_slots  # noqa: E402


STUDENT_LABELS = {"mlp": "ppo/mlp", "recurrent": "recurrent_ppo"}  # as the other benchmarks' CSVs name them


def parse_cores(text: str | None) -> list[int]:
    """``0-15`` / ``0-7,16-23`` / None (this process's affinity mask)."""
    if not text:
        return machine_cores()
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def worker(slot: Slot, device: str, student: str, args: dict[str, Any], seed: int, barrier: Any, results: Any) -> None:
    """One packed run: pin, build, warm up, wait for the others, train for the window."""
    try:
        apply_slot(slot, device)
        import torch
        from stable_baselines3.common.callbacks import BaseCallback

        import envs  # noqa: F401
        from _config import env_config
        from students.bridge import Curriculum, CurriculumCallback
        from students.build import make_student
        from students.threads import pin_threads
        from students.vec import make_vec_env
        from teachers.registry import make_teacher

        pin_threads(1)
        name, kwargs, ppo_defaults, _ = env_config(args["env"])
        n = args["n_envs"]
        vec = make_vec_env(name, kwargs, n, "batched", seed=seed)
        curriculum = Curriculum(make_teacher(args["teacher"], vec.get_attr("task_space", indices=[0])[0], seed=seed), vec)
        curriculum.prime()
        params = {"n_steps": args["n_steps"], "batch_size": min(args["batch_size"], n * args["n_steps"]),
                  "n_epochs": args["epochs"], "gamma": 0.995, "gae_lambda": 0.95, "ent_coef": 0.01}
        algo = "ppo" if student == "mlp" else "recurrent_ppo"
        model = make_student(algo, vec, params={**(ppo_defaults if algo == "ppo" else {}), **params}, seed=seed,
                             device=device)
        if args["fast_rollout"] and algo == "ppo":
            from students.fast_rollout import rollout_class, with_fast_rollouts

            model = with_fast_rollouts(model, rollout_class(args["fast_rollout"], algo, "batched"))
        train_time = [0.0]
        real_train = model.train

        def timed_train() -> None:
            start = time.perf_counter()
            real_train()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            train_time[0] += time.perf_counter() - start

        model.train = timed_train  # type: ignore[method-assign]
        bridge = CurriculumCallback(curriculum)
        per_rollout = n * args["n_steps"]
        model.learn(per_rollout, callback=bridge)  # warm-up: CUDA context, allocations, first update

        class Window(BaseCallback):
            """Stops ``learn`` at the first rollout that starts after the window: only whole
            rollouts (and their updates) are counted."""

            def __init__(self) -> None:
                super().__init__()
                self.t0 = self.t1 = 0.0
                self.s0 = self.s1 = 0
                self.stop = False

            def _on_rollout_start(self) -> None:
                now = time.perf_counter()
                if self.t0 == 0.0:
                    self.t0, self.s0 = now, self.model.num_timesteps
                    train_time[0] = 0.0
                elif now - self.t0 >= args["seconds"]:
                    self.t1, self.s1, self.stop = now, self.model.num_timesteps, True

            def _on_step(self) -> bool:
                return not self.stop

        window = Window()
        barrier.wait()
        model.learn(10**12, callback=[bridge, window], reset_num_timesteps=False)
        seconds = window.t1 - window.t0
        results.put({"slot": slot.index, "steps": window.s1 - window.s0, "seconds": seconds,
                     "update_share": train_time[0] / seconds if seconds else float("nan")})
        vec.close()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the setting
        try:
            barrier.abort()
        finally:
            results.put({"slot": slot.index, "error": f"{type(exc).__name__}: {exc}"})


def measure(student: str, plan: list[tuple[Slot, str]], args: argparse.Namespace, n_envs: int) -> list[dict[str, Any]]:
    config = {**vars(args), "n_envs": n_envs}
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(plan))
    results = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(slot, device, student, config, 1000 * k, barrier, results), daemon=True)
             for k, (slot, device) in enumerate(plan)]
    for p in procs:
        p.start()
    out = [results.get(timeout=args.seconds + 600) for _ in procs]
    for p in procs:
        p.join()
    errors = [r["error"] for r in out if "error" in r]
    if errors:
        raise SystemExit(f"bench_packed: a run failed: {errors[0]}")
    return out


def settings(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """(label, one device per run) for every setting asked for."""
    out = [(d, [d] * n) for d in args.devices for n in args.runs]
    for mix in args.mix:
        g, _, c = mix.partition(":")
        out.append((f"cuda{g}+cpu{c}", ["cuda"] * int(g) + ["cpu"] * int(c)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="gridworld_batched")
    parser.add_argument("--students", nargs="+", default=["mlp", "recurrent"], choices=["mlp", "recurrent"])
    parser.add_argument("--devices", nargs="+", default=["cuda"], choices=["cuda", "cpu"])
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--mix", nargs="*", default=[], metavar="G:C", help="G CUDA runs + C CPU runs at once")
    parser.add_argument("--n-envs", type=int, nargs="+", default=[1024])
    parser.add_argument("--n-steps", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--teacher", default="random")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per setting, after warm-up")
    parser.add_argument("--gpus", type=int, default=None, help="GPUs to spread the CUDA runs over (default: all)")
    parser.add_argument("--cores", default=None, help="cores to cut into slots, e.g. 0-15 (default: all allowed)")
    parser.add_argument("--fast-rollout", nargs="?", const="true", default=None, choices=["true", "batched"],
                        help="MLP PPO with students/fast_rollout.py's loop (SB3's buffer bit for bit); "
                             "batched: also one forward for the time-limit bootstrap (to float rounding)")
    parser.add_argument("--csv", default=None)
    args = parser.parse_args()
    import torch

    gpus = torch.cuda.device_count() if args.gpus is None else args.gpus
    if any("cuda" in d for _, ds in settings(args) for d in ds) and gpus < 1:
        parser.error("CUDA runs asked for, but no GPU is visible (use --devices cpu)")
    cores = parse_cores(args.cores)
    gpu_name = torch.cuda.get_device_name(0) if gpus else "-"
    print(f"env={args.env} n_steps={args.n_steps} batch={args.batch_size} epochs={args.epochs} teacher={args.teacher} "
          f"gpus={gpus} ({gpu_name}) cores={len(cores)} seconds={args.seconds}")
    print(f"{'student':<10}{'setting':<14}{'runs':>5}{'n_envs':>8}{'cores/run':>10}{'per run':>11}{'total':>11}"
          f"{'update':>8}")
    rows = []
    for student in args.students:
        for n_envs in args.n_envs:
            for label, devices in settings(args):
                slots = plan_slots(cores, gpus, len(devices))
                out = measure(student, list(zip(slots, devices)), args, n_envs)
                rates = [r["steps"] / r["seconds"] for r in out]
                total = sum(rates)
                n_cuda = sum(d == "cuda" for d in devices)
                used = min(gpus, n_cuda) if n_cuda else 0
                row = {"benchmark": "bench_packed", "env": args.env, "student": STUDENT_LABELS[student],
                       "teacher": args.teacher,
                       "device": label, "gpus": used, "runs": len(devices),
                       "runs_per_gpu": round(n_cuda / used, 2) if used else "", "n_envs": n_envs,
                       "vec": (("batched+fast_rollout" if args.fast_rollout == "true" else "batched+fast_rollout_batched")
                               if args.fast_rollout and student == "mlp" else "batched"),
                       "workers": "", "cores_per_run": round(len(cores) / len(devices), 2),
                       "env_steps_per_s": round(total, 1), "per_run_env_steps_per_s": round(total / len(devices), 1),
                       "update_share": round(sum(r["update_share"] for r in out) / len(out), 3),
                       "seconds": round(max(r["seconds"] for r in out), 2)}
                rows.append(row)
                if args.csv:  # row by row: a setting cut off by a time limit keeps the ones before it
                    write_rows(args.csv, [row], append=len(rows) > 1)
                print(f"{student:<10}{label:<14}{len(devices):>5}{n_envs:>8}{row['cores_per_run']:>10}"
                      f"{total / len(devices):>11.0f}{total:>11.0f}{100 * row['update_share']:>7.0f}%", flush=True)
    best = max(rows, key=lambda r: r["env_steps_per_s"])
    print(f"best: {best['student']} {best['device']} x{best['runs']} at {best['n_envs']} envs: "
          f"{best['env_steps_per_s']:.0f} env steps/s in all (goal: 500k on one H200)")
    if args.csv:
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
