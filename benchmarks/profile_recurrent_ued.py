"""Where one iteration of the recurrent maze student's UED runs goes (issues 18 and 20).

Builds the run's pieces as the CLI does (``experiment=ued_maze_paired_dcd25`` composed by
Hydra, validated, ``auto`` values resolved, then ``experiments/running/run.py``'s
``RunPlan``, env, teacher and student builders and ``students.regret.attach_teacher_needs``)
for each ``--teachers`` entry (``random`` = DR, ``paired``), warms up, then times
``--iters`` iterations (one iteration = one ``learn`` call of one rollout: 32 envs x 256
steps, the update, and for PAIRED the antagonist's rollout and update and the adversary's
designs and updates that fall in it).

Each phase is the EXCLUSIVE wall time of the calls wrapped for it (a phase called inside
another is taken out of the outer one), so the rows add up to the iteration:

- ``env step``: the student's ``VecEnv.step`` (the batched maze, auto-reset included);
- ``student forward``: the policy's one-step forward (features, LSTM step, heads, sampling);
- ``timeout bootstrap``: the batched ``predict_values`` for envs hitting the time limit;
- ``buffer add`` / ``GAE``: ``SequenceRolloutBuffer.add`` / ``compute_returns_and_advantage``;
- ``bridge / teacher per step``: the curriculum callback's ``on_step`` (finished episodes
  to the teacher, next tasks to the envs); PAIRED's design and update calls made from it
  are their own rows;
- ``rollout loop rest``: the rest of ``collect_rollouts``: the per-step Python of the loop,
  host<->device copies of observations, actions and starts, LSTM-state handling, infos;
- ``PPO update``: ``train`` (5 epochs over the whole rollout, one minibatch);
- ``adversary design`` (PAIRED): ``PairedAdversary.design`` less its env steps and
  forwards (sb3-contrib's rollout loop, the copy of its buffer); ``adversary env step`` /
  ``adversary forward``: its 32 designer envs' ``step`` and its policy's forward;
  ``adversary update``: ``PairedAdversary.learn`` (GAE + sb3-contrib's PPO ``train``);
- ``antagonist: ...``: the same rows for the antagonist's own rollout and update;
- ``learn rest``: what ``learn`` does around them (logging, SB3's bookkeeping).

On CUDA every wrapped call ends with ``torch.cuda.synchronize()`` (``--no-sync`` turns it
off), so that kernel time lands in the phase that launched it, not in the next ``.cpu()``.

    # CPU (one thread), DR and PAIRED, 2 timed iterations after 1 warm-up:
    python benchmarks/profile_recurrent_ued.py --device cpu --iters 2
    # one H200 (the lead), and the loop's per-step traffic as it was before:
    python benchmarks/profile_recurrent_ued.py --device cuda --iters 3 --json profile_cuda.json
    python benchmarks/profile_recurrent_ued.py --device cuda --iters 3 --step-io old --no-sync
    # several at once on one GPU, as a packed sweep runs them: benchmarks/device_recurrent_ued.sh
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections import defaultdict
from typing import Any, Callable

import _setup  # noqa: E402,F401 - the repo on sys.path, one thread per process (benchmarks/_setup.py)

import torch  # noqa: E402

import envs  # noqa: E402,F401
from _config import _compose  # noqa: E402
from experiments.running.config_checks import resolve_auto_params, validate_config  # noqa: E402
from experiments.running.run import RunPlan, _build_env, _build_student, _build_teacher  # noqa: E402
from students.bridge import Curriculum, CurriculumCallback  # noqa: E402
from students.regret import attach_teacher_needs  # noqa: E402
from students.threads import pin_threads  # noqa: E402

ROWS = ("env step", "student forward", "timeout bootstrap", "buffer add", "bridge / teacher per step",
        "rollout loop rest", "GAE", "PPO update",
        "antagonist: env step", "antagonist: student forward", "antagonist: timeout bootstrap",
        "antagonist: buffer add", "antagonist: bridge per step", "antagonist: rollout loop rest",
        "antagonist: GAE", "antagonist: PPO update", "antagonist: learn rest",
        "adversary env step", "adversary forward", "adversary design", "adversary update", "learn rest")


class PhaseClock:
    """Exclusive wall time per phase: entering a phase pauses the one it is called from."""

    def __init__(self, sync: Callable[[], None] | None) -> None:
        self.sync = sync
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.waits: dict[str, int] = defaultdict(int)  # --count-syncs: CUDA synchronising calls per phase
        self._stack: list[list[Any]] = []  # [phase, start of its current stretch]

    def wrap(self, obj: Any, attr: str, phase: str) -> None:
        """Time ``obj.attr`` (an instance attribute shadowing the method) as ``phase``."""
        inner = getattr(obj, attr)
        clock = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            clock.enter(phase)
            try:
                return inner(*args, **kwargs)
            finally:
                clock.leave()

        setattr(obj, attr, timed)

    def enter(self, phase: str) -> None:
        now = self._now(sync=bool(self._stack))
        if self._stack:
            top = self._stack[-1]
            self.seconds[top[0]] += now - top[1]
        self._stack.append([phase, now])
        self.calls[phase] += 1

    def leave(self) -> None:
        now = self._now(sync=True)
        phase, start = self._stack.pop()
        self.seconds[phase] += now - start
        if self._stack:
            self._stack[-1][1] = now

    def _now(self, sync: bool) -> float:
        if sync and self.sync is not None:
            self.sync()
        return time.perf_counter()

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()
        self.waits.clear()

    def on_warning(self, message: Any, *_args: Any, **_kwargs: Any) -> None:
        """``warnings.showwarning`` while counting: torch's sync-debug warning names a call
        that waited for the device (a copy to or from pageable host memory, ``.item()``, a
        tensor read as a bool)."""
        if "synchroniz" in str(message):
            self.waits[self._stack[-1][0] if self._stack else "outside"] += 1


def build(teacher: str, args: argparse.Namespace) -> dict[str, Any]:
    """The run's student, teacher, curriculum and attachments, as ``experiments/running/run.py`` builds them."""
    own = []  # "<teacher>:key=value" applies to that teacher's run only
    for item in args.override:
        head, sep, rest = item.partition(":")
        if sep and "=" not in head:
            if head == teacher:
                own.append(rest)
        else:
            own.append(item)
    overrides = [f"experiment={args.experiment}", f"teacher={teacher}", f"seed={args.seed}",
                 f"device={args.device}", "torch_threads=1", *own]
    cfg = _compose(overrides)
    validate_config(cfg)
    resolve_auto_params(cfg)
    plan = RunPlan.from_config(cfg)
    pin_threads(plan.torch_threads)
    env = _build_env(plan)
    teacher_obj = _build_teacher(plan, env.task_space)
    model = _build_student(plan, env.vec)
    curriculum = Curriculum(teacher_obj, env.vec)
    callback = CurriculumCallback(curriculum)
    attachment = attach_teacher_needs(teacher_obj, model, curriculum, callback)
    curriculum.prime()
    return {"plan": plan, "env": env, "teacher": teacher_obj, "model": model, "callback": callback,
            "attachment": attachment}


def instrument_student(clock: PhaseClock, model: Any, callback: Any, prefix: str = "") -> None:
    vec = model.get_env()
    clock.wrap(vec, "step", prefix + "env step")
    clock.wrap(model.policy, "forward", prefix + "student forward")
    clock.wrap(model.policy, "predict_values", prefix + "timeout bootstrap")
    clock.wrap(model.rollout_buffer, "add", prefix + "buffer add")
    clock.wrap(model.rollout_buffer, "compute_returns_and_advantage", prefix + "GAE")
    clock.wrap(callback, "on_step", prefix + ("bridge per step" if prefix else "bridge / teacher per step"))
    clock.wrap(model, "collect_rollouts", prefix + "rollout loop rest")
    clock.wrap(model, "train", prefix + "PPO update")


def instrument(clock: PhaseClock, run: dict[str, Any]) -> None:
    model, att = run["model"], run["attachment"]
    instrument_student(clock, model, run["callback"])
    if att.antagonist is not None:
        ant = att.antagonist
        instrument_student(clock, ant.model, ant.callback, prefix="antagonist: ")
        clock.wrap(ant.model, "learn", "antagonist: learn rest")
    if att.adversary is not None:
        adv = att.adversary
        clock.wrap(adv.vec_env, "step", "adversary env step")
        clock.wrap(adv.model.policy, "forward", "adversary forward")
        clock.wrap(adv, "design", "adversary design")
        clock.wrap(adv, "learn", "adversary update")


def old_step_io(model: Any) -> None:
    """The per-step traffic the student's rollout loop had before it was cut (``--step-io
    old``, for a before/after in one place): observations and episode starts copied to the
    device apart, actions copied back apart (values and log-probabilities then apart in the
    buffer's ``add``), torch's argument checks on in the acting distribution. The numbers
    are the same either way (tests/test_recurrent_rollout_exact.py)."""
    model.fuse_step_copies = False
    forward = model.policy.forward
    model.policy.forward = lambda *a, **k: forward(*a, **{**k, "check_args": True})


def profile(teacher: str, args: argparse.Namespace) -> dict[str, Any]:
    run = build(teacher, args)
    model, callback = run["model"], run["callback"]
    if args.step_io == "old":
        old_step_io(model)
        if run["attachment"].antagonist is not None:
            old_step_io(run["attachment"].antagonist.model)
    per_iter = int(model.n_steps) * int(model.n_envs)
    counting = args.count_syncs and args.device.startswith("cuda")
    sync = torch.cuda.synchronize if args.device.startswith("cuda") and not (args.no_sync or counting) else None
    clock = PhaseClock(sync)
    instrument(clock, run)
    learn = model.learn
    try:
        for _ in range(args.warmup):  # CUDA context, first allocations, the antagonist's first (primed) rollout
            learn(per_iter, callback=callback, reset_num_timesteps=False)
        iters: list[dict[str, float]] = []
        calls: list[dict[str, int]] = []  # calls per phase in each iteration (adversary designs and updates)
        waits: list[dict[str, int]] = []
        with warnings.catch_warnings():
            if counting:
                warnings.simplefilter("always")
                warnings.showwarning = clock.on_warning
                torch.cuda.set_sync_debug_mode("warn")
            try:
                for _ in range(args.iters):
                    clock.reset()
                    clock.enter("learn rest")
                    learn(per_iter, callback=callback, reset_num_timesteps=False)
                    clock.leave()
                    iters.append({k: 1000.0 * v for k, v in clock.seconds.items()})
                    iters[-1]["total"] = sum(1000.0 * v for v in clock.seconds.values())
                    calls.append(dict(clock.calls))
                    waits.append({**clock.waits, "total": sum(clock.waits.values())})
            finally:
                if counting:
                    torch.cuda.set_sync_debug_mode(0)
    finally:
        if run["attachment"].antagonist is not None:
            run["attachment"].antagonist.close()
        if run["attachment"].adversary is not None:
            run["attachment"].adversary.close()
        run["env"].vec.close()
    keys = sorted({k for it in iters for k in it})
    median = {k: statistics.median(it.get(k, 0.0) for it in iters) for k in keys}
    adv = run["attachment"].adversary
    return {"teacher": teacher, "device": args.device, "step_io": args.step_io, "steps_per_iter": per_iter,
            "iters": iters, "median_ms": median, "calls": calls,
            "waits": waits if counting else None, "steps_per_s": per_iter / (median["total"] / 1000.0),
            "adversary_updates_total": None if adv is None else adv.n_updates,
            "adversary_designs_total": None if adv is None else adv.next_batch}


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'phase (ms per iteration, median)':<34}" + "".join(f"{r['teacher']:>12}{'%':>7}" for r in results)]
    for row in (*ROWS, "total"):
        if all(r["median_ms"].get(row, 0.0) == 0.0 for r in results):
            continue
        cells = ""
        for r in results:
            ms = r["median_ms"].get(row, 0.0)
            cells += f"{ms:>12.1f}{100 * ms / r['median_ms']['total']:>6.1f}%"
        lines.append(f"{row:<34}" + cells)
    lines.append(f"{'student env steps/s':<34}" + "".join(f"{r['steps_per_s']:>12.0f}{'':>7}" for r in results))
    for r in results:
        for phase in ("adversary design", "adversary update"):
            n = sum(c.get(phase, 0) for c in r["calls"])
            if n:  # the design row is exclusive: its env steps and forwards are added back
                parts = [phase] + (["adversary env step", "adversary forward"] if phase == "adversary design" else [])
                ms = sum(it.get(p, 0.0) for it in r["iters"] for p in parts)
                lines.append(f"{r['teacher']}: {n} {phase.split()[1]}s in {len(r['iters'])} iterations, "
                             f"{ms / n:.0f} ms each (all of it)")
    for r in results:
        if r.get("waits"):
            phases = sorted({k for w in r["waits"] for k in w}, key=lambda k: (k == "total", k))
            lines.append(f"{r['teacher']}: device waits per iteration (median; a student's rollout is 256 steps): "
                         + ", ".join(f"{k} {statistics.median(w.get(k, 0) for w in r['waits']):.0f}" for k in phases))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="ued_maze_paired_dcd25")
    parser.add_argument("--teachers", nargs="+", default=["random", "paired"])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the run's `device`)")
    parser.add_argument("--iters", type=int, default=2, help="timed iterations (one rollout + update each)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-sync", action="store_true", help="CUDA: do not synchronise at phase boundaries")
    parser.add_argument("--count-syncs", action="store_true",
                        help="CUDA: count the calls that wait for the device, per phase (torch's sync debug mode; "
                             "implies --no-sync; the timings then include the warnings' cost)")
    parser.add_argument("--step-io", default="new", choices=["new", "old"],
                        help="old: the students' per-step copies and checks as before they were cut")
    parser.add_argument("--override", nargs="*", default=[],
                        help="more Hydra overrides, e.g. env.n_envs=8; paired:teacher.params.conv_filters=4 for one "
                             "teacher's run only")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else "-"
    print(f"experiment={args.experiment} device={args.device} ({gpu}) iters={args.iters} warmup={args.warmup} "
          f"step-io={args.step_io} sync={not args.no_sync} torch threads={torch.get_num_threads()} "
          f"overrides={args.override}", flush=True)
    results = []
    for teacher in args.teachers:
        results.append(profile(teacher, args))
        r = results[-1]
        print(f"  {teacher}: {r['median_ms']['total']:.0f} ms per iteration of {r['steps_per_iter']} steps "
              f"({r['steps_per_s']:.0f} steps/s); per iteration: "
              + " ".join(f"{it['total']:.0f}" for it in r["iters"])
              + "".join(f"; adversary designs/updates per iteration: "
                        + " ".join(f"{c.get('adversary design', 0)}/{c.get('adversary update', 0)}" for c in r["calls"])
                        for _ in [0] if r["adversary_updates_total"] is not None), flush=True)
    print(table(results))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "device": gpu, "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
