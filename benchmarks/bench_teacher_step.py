"""The teacher's share of one vector step at 1024 batched mazes (issue 18, ALP-GMM overhead).

Steps a batched maze with random actions (no student: the env and the bridge only) and
times ``Curriculum.on_step`` (finished episodes to the teacher, new tasks to the envs)
per vector step, per teacher; ``--profile`` also prints the teacher's top functions by
own time. The per-step cost in microseconds is what a PPO run pays on top of the env
step; ``bench_overhead.py`` shows the same as a ratio of training fps.

    python benchmarks/bench_teacher_step.py --n-envs 1024 --steps 2000 --teachers random alp_gmm covar_gmm riac
    python benchmarks/bench_teacher_step.py --teachers alp_gmm --profile 20
    python benchmarks/bench_teacher_step.py --teachers all     # every teacher that runs on the env

Teachers that score levels by regret (PLR, PLR⊥, ACCEL: ``needs`` regret) get their
episodes the way a run gives them: held back and delivered together, in episode order,
every ``--rollout`` vector steps (a PPO rollout), followed by ``on_rollout_end`` (ACCEL's
edits, with the env's level editor installed). There is no student here, so the score is
a stand-in computed from the episode (``1 - return``, higher for worse episodes, as a
regret is); the teacher's work (buffer inserts, rank priorities, replay draws, edits) does
not depend on the values, only their order does. The regret computation itself
(``students.regret.RegretTracker`` over the rollout buffer) is student-side work that
``bench_overhead.py`` measures. The web-form teachers are not measured here.

The level designers (minimax, PAIRED: ``needs`` adversary) get their designer network
(:class:`students.paired_adversary.PairedAdversary`, on ``--adversary-device``; ``auto``:
CUDA when present, as a run places it) and ``design`` / ``learn`` columns: the time of
designing batches (inside ``sample_batch``) and of the designer's PPO updates (inside
``update_batch``), per vector step. Their shape comes from an experiment preset
(``--overrides experiment=ued_maze_paired_dcd25``; ``max_pending: auto`` is worked out for
``--n-envs``); ``NAME@sb3`` runs the designer through SB3's ``collect_rollouts`` and
``PPO.train`` instead of its fast path (the same levels and weights, more waits for the
device), in the same measurement. PAIRED's and CLUTR's antagonist (a second student by
design) is a stand-in here: each protagonist episode is followed by one antagonist episode on the level the
teacher owes it, with the protagonist's return, so the teacher's bookkeeping and its
designer run as in a run, without the second student's own cost. ``ratio`` is the env
steps/s of env + teacher relative to the first teacher listed (the random teacher by
default), the issue-18 figure (goal >= 0.97)::

    python benchmarks/bench_teacher_step.py --env gridworld_dcd25 --n-envs 256 --steps 3000 --warmup 500 \
        --overrides experiment=ued_maze_paired_dcd25 --teachers random minimax minimax@sb3 paired

A teacher in a worker process (a run's ``teacher_process: true``, ``students/teacher_worker.py``)
is ``--set NAME@LABEL.teacher_process=true``; its ``submit`` and ``collect`` columns are the
loop's side of each step (copying the request in, taking the previous step's tasks, waiting
when the worker is late). ``--pause S`` sleeps S seconds after each step, a stand-in for the
student's work between steps (a PPO step at 1024 envs on a GPU is ~8 ms), during which a
worker computes::

    python benchmarks/bench_teacher_step.py --teachers random riac riac@proc --set riac@proc.teacher_process=true \
        --pause 0.008

``--count-syncs`` (a designer on CUDA) also prints how often a design and an update wait
for the device (the timings then include the sync debug mode's warnings: time without it).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

import envs  # noqa: E402,F401
from _config import env_config, teacher_config  # noqa: E402
from envs.gridworld.level import LEVELS  # noqa: E402
from students.bridge import Curriculum  # noqa: E402
from students.teacher_worker import TeacherProcess  # noqa: E402
from students.vec import make_vec_env  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402


#: ``--count-syncs``: device synchronisations inside the designer's calls (and the calls)
SYNCS: dict[str, int] = {}
PARTS = ("update_batch", "sample_batch", "refit wait", "set_next_tasks", "design", "learn", "submit", "collect")
#: every teacher that plays the gridworld with one student (PAIRED/CLUTR: second student; web ones: web forms)
ALL = ("random", "alp_gmm", "covar_gmm", "riac", "adr", "spdl", "goal_gan", "setter_solver", "plr", "plr_robust",
       "accel")


def _timed(obj: object, method: str, totals: dict[str, float], part: str) -> None:
    """Wrap ``obj.method`` so that its time adds to ``totals[part]``."""
    real = getattr(obj, method)

    def wrapper(*a, **k):  # noqa: ANN002, ANN003, ANN202
        start = time.perf_counter()
        try:
            return real(*a, **k)
        finally:
            totals[part] += time.perf_counter() - start

    setattr(obj, method, wrapper)


def _count_syncs(obj: object, method: str, counts: dict[str, int], part: str) -> None:
    """Wrap ``obj.method`` so that the device synchronisations inside it (CUDA's sync debug
    mode: a read back, an ``.item()``, a copy from pageable memory) add to ``counts[part]``
    and its calls to ``counts[part + ' calls']``."""
    import warnings

    import torch

    real = getattr(obj, method)

    def wrapper(*a, **k):  # noqa: ANN002, ANN003, ANN202
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                return real(*a, **k)
            finally:
                torch.cuda.set_sync_debug_mode("default")
                counts[part] += sum("synchroniz" in str(w.message) for w in caught)
                counts[part + " calls"] += 1

    setattr(obj, method, wrapper)


def measure(variant: str, args: argparse.Namespace, profile: bool) -> tuple[float, float, int, dict[str, float]]:
    """(mean µs of on_step per vector step, mean µs of the env step, episodes finished,
    mean µs per vector step of each of :data:`PARTS`). ``NAME@sb3``: a level designer with
    SB3's design loop and update (``PairedAdversary(fast_loop=False)``)."""
    teacher_name, _, label = variant.partition("@")
    name, kwargs, _, _ = env_config(args.env)
    LEVELS.clear()  # no level parsed by the previous teacher's run (the same seeds make the same levels)
    vec = make_vec_env(name, kwargs, args.n_envs, "batched", seed=0)
    adversary = worker = None
    try:
        registry, params = teacher_config(teacher_name, args.env, [*args.overrides, f"env.n_envs={args.n_envs}"])
        # TEACHER.KEY=VALUE, as bench_overhead.py: NAME's settings apply to its variants NAME@LABEL
        # too, then NAME@LABEL's own
        for item in sorted(args.set, key=lambda i: "@" in i.partition(".")[0]):
            key, _, value = item.partition("=")
            who, _, param = key.partition(".")
            if who in (teacher_name, variant):
                params[param] = yaml.safe_load(value)
        space = vec.get_attr("task_space", indices=[0])[0]
        if params.pop("teacher_process", False):
            teacher = TeacherProcess("teachers.registry:make_teacher", (registry, space), {"seed": 0, **params})
            worker = teacher
        else:
            teacher = make_teacher(registry, space, seed=0, **params)
        curriculum = Curriculum(teacher, vec)
        totals = dict.fromkeys(PARTS, 0.0)
        adversary = None
        if "adversary" in teacher.needs:  # the designer network, as students.regret.attach_teacher_needs builds it
            from students.paired_adversary import PairedAdversary

            config = dict(teacher.adversary_config)
            config["device"] = args.adversary_device if config.get("device") in (None, "auto") else config["device"]
            config["fast_loop"] = label != "sb3"
            adversary = PairedAdversary(**config)
            teacher.attach_adversary(adversary)
            _timed(adversary, "design", totals, "design")
            _timed(adversary, "learn", totals, "learn")
            if args.count_syncs and str(adversary.model.device).startswith("cuda"):
                _count_syncs(adversary, "design", SYNCS, "design")
                _count_syncs(adversary, "learn", SYNCS, "learn")
        if "antagonist" in teacher.needs:  # stand-in second student (module doc)
            from teachers.base import Episode

            view = teacher.antagonist_view()

            def stand_in_antagonist(episode, _i, _info):  # noqa: ANN001, ANN202
                task = view.sample()
                view.update(Episode(task=task, episode_return=float(episode.episode_return), length=episode.length,
                                    level_id=task.get("level")))

            curriculum.episode_hooks.append(stand_in_antagonist)
        held: list = []  # regret teachers: the episodes of the current rollout (module doc)
        if "regret" in teacher.needs:
            from students.regret import level_editor

            curriculum.defer_updates = True
            if "level_editor" in teacher.needs:
                teacher.level_editor = level_editor

            def stand_in_regret(episode, _i, _info):  # noqa: ANN001, ANN202
                episode.regret = 1.0 - float(episode.episode_return)
                held.append(episode)

            curriculum.episode_hooks.append(stand_in_regret)
        curriculum.prime()
        vec.reset()
        if worker is not None:
            _timed(worker, "submit", totals, "submit")
            _timed(worker, "collect", totals, "collect")
        else:
            _timed(teacher, "update_batch", totals, "update_batch")
            _timed(teacher, "sample_batch", totals, "sample_batch")
        _timed(vec, "set_next_tasks", totals, "set_next_tasks")
        lagged = None if worker is not None else getattr(teacher, "refitter", None) or getattr(teacher, "trainer", None)
        if lagged is not None:  # the wait for (or the inline compute of) a lag-1 fit or training round
            _timed(lagged, "_collect", totals, "refit wait")
        rng = np.random.default_rng(0)
        actions = rng.integers(3, size=(args.steps, args.n_envs))
        bridge = env = 0.0
        episodes = 0
        profiler = cProfile.Profile() if profile else None
        for t in range(args.steps):
            start = time.perf_counter()
            _, _, dones, infos = vec.step(actions[t])
            mid = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            episodes += len(curriculum.on_step(dones, infos, t * args.n_envs))
            if held and (t + 1) % args.rollout == 0:
                curriculum.deliver(sorted(held, key=lambda e: e.episode_id))
                held.clear()
                end_hook = getattr(teacher, "on_rollout_end", None)
                if callable(end_hook):
                    end_hook()
            if profiler is not None:
                profiler.disable()
            end = time.perf_counter()
            if args.pause:
                time.sleep(args.pause)
            if t >= args.warmup:
                env += mid - start
                bridge += end - mid
            elif t == args.warmup - 1:
                totals.update(dict.fromkeys(PARTS, 0.0))
        if profiler is not None:
            pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(args.profile)
        n = args.steps - args.warmup
        return 1e6 * bridge / n, 1e6 * env / n, episodes, {k: 1e6 * v / n for k, v in totals.items()}
    finally:
        vec.close()
        if adversary is not None:
            adversary.close()
        if worker is not None:
            worker.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="gridworld_batched")
    parser.add_argument("--n-envs", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=300, help="steps not timed (the first fits happen later)")
    parser.add_argument("--teachers", nargs="+", default=["random", "alp_gmm"])
    parser.add_argument("--set", nargs="*", default=["alp_gmm.fit_lag=1", "covar_gmm.fit_lag=1"],
                        metavar="TEACHER.KEY=VALUE", help="teacher parameter overrides (default: the GPU setting's)")
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds slept after each step: the student's work, during which a worker computes")
    parser.add_argument("--profile", type=int, default=0, help="print this many top functions per teacher")
    parser.add_argument("--rollout", type=int, default=64, help="vector steps per rollout (regret teachers' delivery)")
    parser.add_argument("--overrides", nargs="*", default=[], metavar="KEY=VALUE",
                        help="Hydra overrides for the teachers' configs (experiment=ued_maze_paired_dcd25)")
    parser.add_argument("--count-syncs", action="store_true",
                        help="designers on CUDA: count device synchronisations per design and per update")
    parser.add_argument("--adversary-device", default="auto", help="the level designers' network (auto: CUDA if present)")
    args = parser.parse_args()
    if args.teachers == ["all"]:
        args.teachers = list(ALL)
    print(f"env={args.env} n_envs={args.n_envs} steps={args.steps} (first {args.warmup} untimed) set={args.set}")
    print(f"{'teacher':<12}{'bridge µs/step':>16}{'env µs/step':>14}{'bridge/env':>12}{'ratio':>8}{'episodes':>10}"
          + "".join(f"{p + ' µs':>18}" for p in PARTS) + f"{'level cache hits':>18}")
    first = None
    for name in args.teachers:
        SYNCS.clear()
        SYNCS.update({"design": 0, "design calls": 0, "learn": 0, "learn calls": 0})
        bridge, env, episodes, parts = measure(name, args, profile=args.profile > 0)
        # env steps/s of env + bridge + teacher, relative to the first teacher's (issue 18: >= 0.97)
        first = first if first is not None else bridge + env
        ratio = first / (bridge + env)
        # level strings (PLR's replays, ACCEL's children) parsed from the process's cache
        lookups = LEVELS.hits + LEVELS.misses
        hits = f"{LEVELS.hits / lookups:.3f}" if lookups else "-"
        print(f"{name:<12}{bridge:>16.0f}{env:>14.0f}{bridge / env:>12.3f}{ratio:>8.3f}{episodes:>10}"
              + "".join(f"{parts[p]:>18.0f}" for p in PARTS) + f"{hits:>18}", flush=True)
        if SYNCS["design calls"]:
            learns = max(SYNCS["learn calls"], 1)
            print(f"{'':<12}device synchronisations: {SYNCS['design'] / SYNCS['design calls']:.1f} per design "
                  f"({SYNCS['design calls']} designs), {SYNCS['learn'] / learns:.1f} per update "
                  f"({SYNCS['learn calls']} updates)", flush=True)


if __name__ == "__main__":
    main()
