"""Curriculum overhead: SB3 training fps with the bridge and a teacher vs plain SB3.

The peer is the same SB3 algorithm on the same env with the same task distribution but
no teacher and no bridge: each sub-env draws its own uniform task at reset (a plain
gymnasium wrapper). Both variants are run interleaved in this process, several times,
so machine load hits both alike; the ratio of median fps is printed per teacher.

    python benchmarks/bench_overhead.py --env gridworld --steps 20000 --repeats 3 --teachers random alp_gmm

GPU scale (issue 18): 1024 batched mazes, PPO n_steps 64, minibatch 8192, 4 epochs, CUDA,
teacher settings overridden with ``--set``::

    python benchmarks/bench_overhead.py --env gridworld_batched --vec batched --n-envs 1024 \
        --n-steps 64 --batch-size 8192 --epochs 4 --device cuda --steps 655360 --repeats 5 \
        --teachers random alp_gmm covar_gmm riac --set alp_gmm.fit_lag=1 covar_gmm.fit_lag=1

Every teacher that plays the maze with one student, in three groups sized to the teachers'
schedules: the parameter teachers (SPDL's first update comes after 200k steps, then every
50k); the level-replay teachers on twice the steps (their buffer starts replaying only once
2,000 levels were scored, ~400k steps at 1024 envs); GoalGAN and Setter-Solver on fewer
(their training per episode makes them several times slower than the peer; ``train_lag=1``
trains each round in a worker process, one round late, ``teachers/refit.py``)::

    python benchmarks/bench_overhead.py --env gridworld_batched --vec batched --n-envs 1024 \
        --n-steps 64 --batch-size 8192 --epochs 4 --device cuda --steps 655360 --repeats 4 \
        --teachers random alp_gmm covar_gmm riac adr spdl --set alp_gmm.fit_lag=1 covar_gmm.fit_lag=1
    python benchmarks/bench_overhead.py ... --steps 1310720 --repeats 3 --teachers plr plr_robust accel
    python benchmarks/bench_overhead.py ... --steps 327680 --repeats 3 --teachers goal_gan setter_solver \
        --set goal_gan.train_lag=1 setter_solver.train_lag=1

A teacher with and without a setting, interleaved in one measurement: ``NAME@LABEL`` is
another variant of config ``NAME`` that ``--set`` addresses by its full name::

    python benchmarks/bench_overhead.py ... --teachers goal_gan goal_gan@lag setter_solver setter_solver@lag \
        --set goal_gan@lag.train_lag=1 setter_solver@lag.train_lag=1

A teacher in a worker process, one vector step behind the loop (a run's ``teacher_process:
true``, ``students/teacher_worker.py``), is the variant's ``teacher_process`` setting::

    python benchmarks/bench_overhead.py ... --teachers random riac riac@proc \
        --set riac@proc.teacher_process=true

Add ``--replay-peer`` to time every teacher also against plain SB3 playing the tasks it
handed out (below).

With ``--vec batched`` the peer is the batched VecEnv with no bridge and no teacher. Every
maze is given a queue of uniform tasks before training, one per episode it can play
(``--steps / --n-envs / 4 + 16``; it keeps its last task if it runs out, and the table says
how many did), so the peer plays a fresh uniform task every episode, as the random teacher
hands out, and pays nothing per step for it. (Before, each maze kept its first task for
the whole run: mazes drawn small finished, and regenerated, far more often, which made the
peer slower than the random teacher by up to 16% on the device.)

Quiet measurement (issue 18): one untimed warm-up run first (CUDA kernels, allocator);
each run is timed from its ``--skip``-th rollout on (default 1: the first rollout's resets
and first update are set-up, not steady training); the variants are interleaved and the
order rotates each repeat; the table gives the ratio of medians and the per-repeat paired
ratios (teacher / peer of the same repeat) with their range, which shows the noise. The
student collects its rollouts as real runs do (``--fast-rollout auto``: our loop on the
batched VecEnv, ``students/fast_rollout.py``).

Goal (issue 11): >= 0.97x for random and ALP-GMM, >= 0.9x for the regret teachers
(PLR⊥ counts env steps; its skipped gradient updates make it faster, not slower).
Goal (issue 18): >= 0.97x for every teacher at 1024 envs on CUDA.

How to read the two ratios. ``fps`` is env steps per second of the whole training loop
(rollouts and gradient updates). ``collect fps`` is env steps per second of the time spent
OUTSIDE ``model.train()`` (collecting rollouts: env steps, policy forward passes, the
bridge and the teacher, PLR's scoring at rollout end), in the same timing window. A
teacher's own cost lands in the collection time, so for a teacher whose student trains as
plain PPO the two ratios tell the same story. They differ for PLR⊥ and ACCEL (``robust``):
the student takes no gradient step on rollouts of new levels, so its ``train()`` time
shrinks and the total ratio rises above 1 although the teacher costs something; read the
**collect** ratio for them (the teacher's overhead per collected step). (Rollouts are all
the same size, so collect fps compares the same work in every variant.)

Episodes per 1,000 env steps (``ep/1k``). Every finished episode costs an env reset (on
the maze: generating or parsing a level, ~0.1 ms of Python on a CI core) and the bridge's
per-episode work, so a teacher whose tasks end sooner than the peer's uniform ones pays
more per env step without the teacher itself costing more: SPDL and ADR start from the
expert's easy tasks and finished 4x and 2x the peer's episodes per step on the CPU
(1024 envs, 1 epoch; issue 18). The column shows it per variant.

The replay peer (``--replay-peer``, batched VecEnv only) separates the two: right after
each teacher run, plain SB3 (no bridge, no teacher) is run with the same seed and each
maze's queue set to the tasks that maze played under the teacher, in order. The student,
the envs and the action sampling draw from the same generators, so for a teacher that
only chooses tasks the peer plays *the same episodes* (checked: the same number of
episodes and the same reward sum, the ``same episodes`` column), and the ratio to it is
the bridge's and the teacher's own cost. PLR⊥ and ACCEL also change what the student
trains on, so their replay peer plays the same task sequence but not the same episodes.

The bridge share. Two runs' fps differ by ±30% from repeat to repeat on the lent GPU
machine (issue 18's device calls), so a ratio of fps between runs cannot resolve the 3% of
the goal. Each teacher run therefore also times its own teacher callback (the bridge:
``Curriculum.on_step`` with the teacher's ``update_batch`` and ``sample_batch``, the tasks
handed to the envs, and the rollout-end work) inside its timed window. Its share of the
window is measured within one run, so the machine's load scales both sides alike, and
``1 - share`` is the fps ratio the teacher's own cost allows. It leaves out what the
teacher costs outside its callback: a refit in a worker process (``fit_lag=1``) competing
for the cores, and a different episode rate (more resets); the replay peer's ratio
includes both.

SPDL gets the student's V(s0) of each episode as a run gives it
(``students.values.InitialValueTracker``: one value forward pass per vector step that
finished an episode), so its cost is in the measurement. PAIRED and CLUTR are not in this
benchmark: their cost is a second student (PAIRED's antagonist, and for CLUTR also its
task VAE) that trains next to the protagonist by design, not an overhead of a teacher on
one student's loop.

GoalGAN and Setter-Solver train networks on a schedule counted in episodes (GoalGAN:
``n_gan_iterations`` = 250 GAN steps per ``update_size`` = 100 labelled goals of
``n_rollouts`` = 2 episodes; Setter-Solver: 50 gradient steps per 50 episodes, TMA's
settings for one env). Their cost per env step therefore grows with the episode rate,
i.e. with the number of envs; ``bench_teacher_step.py`` prints it per vector step.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv  # noqa: E402

import envs  # noqa: E402,F401
from _config import env_config, teacher_config  # noqa: E402
from envs.gridworld.level import LEVELS  # noqa: E402
from envs.registry import make_env  # noqa: E402
from students.bridge import Curriculum, CurriculumCallback  # noqa: E402
from students.build import make_student  # noqa: E402
from students.regret import attach_teacher_needs  # noqa: E402
from students.teacher_worker import TeacherProcess  # noqa: E402
from students.threads import pin_threads  # noqa: E402
from students.values import InitialValueTracker  # noqa: E402
from students.vec import make_vec_env  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402


def yaml_value(text: str) -> Any:
    """A command-line value as YAML reads it (1 -> int, 0.5 -> float, true -> bool)."""
    import yaml

    return yaml.safe_load(text)


class SelfSampling(gym.Wrapper):
    """The peer's task source: a uniform task drawn inside the env at every reset."""

    def __init__(self, env: gym.Env, seed: int) -> None:
        super().__init__(env)
        self._rng = np.random.default_rng(seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        task = self.env.unwrapped.task_space.sample(self._rng)
        return self.env.reset(seed=seed, options={"task": task})


def _plain_vec(env_name: str, kwargs: dict[str, Any], n_envs: int, kind: str, seed: int):
    def thunk(i: int):
        return lambda: Monitor(SelfSampling(make_env(env_name, **kwargs), seed + i))

    fns = [thunk(i) for i in range(n_envs)]
    vec = DummyVecEnv(fns) if kind == "dummy" else SubprocVecEnv(fns)
    vec.seed(seed)
    return vec


def _plain_batched(env_name: str, kwargs: dict[str, Any], n_envs: int, seed: int, steps: int):
    """The batched peer: a queue of uniform tasks per maze, one per episode (module doc)."""
    vec = make_vec_env(env_name, kwargs, n_envs, "batched", seed)
    rng = np.random.default_rng(seed)
    space = vec.get_attr("task_space", indices=[0])[0]
    per_env = steps // n_envs // 4 + 16
    tasks = space.sample_batch(rng, per_env * n_envs)
    for k in range(per_env):
        vec.set_next_tasks(tasks[k * n_envs:(k + 1) * n_envs], list(range(n_envs)))
    return vec


class _Window(BaseCallback):
    """Times training from the start of rollout ``skip`` (0-based) to the end of learn, the
    time spent inside ``model.train()`` in that window (see :meth:`time_train`), and the time
    spent in the teacher's callback (see :meth:`time_bridge`)."""

    def __init__(self, skip: int) -> None:
        super().__init__()
        self.skip = skip
        self.rollouts = 0
        self.start = self.start_steps = None
        self.train_seconds = 0.0
        self.bridge_seconds = 0.0

    def _timed(self, obj: Any, method: str, total: str) -> None:
        """Replace ``obj.method`` by a wrapper adding its time inside the window to ``total``."""
        real = getattr(obj, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            begin = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                if self.start is not None:
                    setattr(self, total, getattr(self, total) + time.perf_counter() - begin)

        setattr(obj, method, timed)

    def time_bridge(self, callback: BaseCallback) -> None:
        """Wrap the teacher's callback (the bridge: finished episodes to the teacher, new tasks
        to the envs, rollout-end work such as PLR's scoring) so that its time inside the
        window adds to :attr:`bridge_seconds`. Its share of the window is the teacher's cost
        measured inside one run, where machine load hits the numerator and the denominator
        alike (module doc, "The bridge share")."""
        for name in ("on_step", "on_rollout_start", "on_rollout_end"):
            self._timed(callback, name, "bridge_seconds")

    def time_train(self, model: Any) -> None:
        """Wrap ``model.train`` (after any teacher installed its own, e.g. PLR⊥'s masked
        update) so that its time inside the window adds to :attr:`train_seconds`."""
        self._timed(model, "train", "train_seconds")

    def _on_rollout_start(self) -> None:
        if self.rollouts == self.skip:
            self.start, self.start_steps = time.perf_counter(), self.num_timesteps
            self.episodes_timed = 0
        self.rollouts += 1

    #: finished episodes in the timed window, in all of learn, and the sum of all rewards
    #: (a replay peer that reproduces the teacher run's trajectories matches both exactly)
    episodes_timed = 0
    episodes = 0
    reward_sum = 0.0

    def _on_step(self) -> bool:
        finished = int(np.count_nonzero(self.locals["dones"]))
        self.episodes += finished
        self.episodes_timed += finished
        self.reward_sum += float(np.sum(self.locals["rewards"], dtype=np.float64))
        return True


@dataclass
class Run:
    """One timed run: env steps/s of the whole loop and outside ``model.train()``, the
    episodes it finished (timed window, all of learn), its reward sum, and (a recorded
    teacher run) the tasks each sub-env played, in order."""

    fps: float
    collect_fps: float
    episodes_timed: int
    steps_timed: int
    episodes: int
    reward_sum: float
    played: list[list[Any]] | None = None
    #: the share of the timed window spent in the teacher's callback (0 for the peers)
    bridge_share: float = 0.0

    def signature(self) -> tuple[int, float]:
        return self.episodes, self.reward_sum


def _replay_batched(env_name: str, kwargs: dict[str, Any], n_envs: int, seed: int, played: list[list[Any]]):
    """The replay peer: the batched VecEnv with each maze's queue set to the tasks that
    maze played under the teacher, in order (module doc)."""
    vec = make_vec_env(env_name, kwargs, n_envs, "batched", seed)
    tasks = [task for queue in played for task in queue]
    indices = [i for i, queue in enumerate(played) for _ in queue]
    vec.set_next_tasks(tasks, indices)
    return vec


def _fps(env_name: str, kwargs: dict[str, Any], teacher: tuple[str, dict[str, Any]] | None, steps: int, n_envs: int,
         kind: str, student: dict[str, Any], seed: int, device: str = "cpu", fast_rollout: Any = False,
         skip: int = 0, dry: list[int] | None = None, record: bool = False,
         replay: list[list[Any]] | None = None) -> Run:
    """One run timed from its ``skip``-th rollout: with a teacher and the bridge, or the
    peer (no teacher: uniform tasks, or with ``replay`` the tasks a recorded teacher run
    played). ``record`` keeps the tasks each sub-env played (teacher runs on the batched
    VecEnv); ``dry`` gets the number of uniform-peer mazes that played out their queue."""
    LEVELS.clear()  # each run starts with no parsed level, as a run's process does (issue 18)
    if teacher is not None:
        vec = make_vec_env(env_name, kwargs, n_envs, kind, seed)
    elif replay is not None:
        vec = _replay_batched(env_name, kwargs, n_envs, seed, replay)
    else:
        vec = _plain_batched(env_name, kwargs, n_envs, seed, steps) if kind == "batched" else \
            _plain_vec(env_name, kwargs, n_envs, kind, seed)
    chosen = None
    finished: list[Any] = []
    try:
        model = make_student("ppo", vec, params=student, seed=seed, device=device, fast_rollout=fast_rollout,
                             vec_kind=kind)
        window = _Window(skip)
        callbacks: list[BaseCallback] = [window]
        if teacher is not None:
            space = vec.get_attr("task_space", indices=[0])[0]
            params = dict(teacher[1])
            if params.pop("teacher_process", False):  # the teacher in a worker process (a run's teacher_process)
                chosen = TeacherProcess("teachers.registry:make_teacher", (teacher[0], space), {"seed": seed, **params})
            else:
                chosen = make_teacher(teacher[0], space, seed=seed, **params)  # as a run builds it
            # a recording run keeps each delivered episode (its task and sub-env): a list append
            curriculum = Curriculum(chosen, vec, sinks=[finished.append] if record else ())
            curriculum.prime()
            callback = CurriculumCallback(curriculum)
            if "value" in chosen.needs and hasattr(model.policy, "predict_values"):  # SPDL's V(s0), as a run
                callback.value_tracker = InitialValueTracker(model, vec.num_envs)
                curriculum.episode_hooks.append(callback.value_tracker.hook)
            # what the runner adds for regret-based teachers (PVL/MaxMC, PLR⊥'s masked update)
            attach_teacher_needs(chosen, model, curriculum, callback)
            window.time_bridge(callback)
            callbacks.insert(0, callback)
        window.time_train(model)
        start = time.perf_counter()
        model.learn(steps, callback=callbacks)
        end = time.perf_counter()
        if window.start is None:
            raise SystemExit(f"bench_overhead: error: --steps {steps} is not more than --skip {skip} rollouts")
        if teacher is None and replay is None and kind == "batched" and dry is not None:
            dry.append(sum(len(p) <= 1 for p in vec.pending_tasks()))
        played = None
        if record and teacher is not None:
            # per sub-env: the tasks of its finished episodes in play order, then the one it
            # is playing and its look-ahead (what a replay peer must queue to play the same)
            played = [[] for _ in range(n_envs)]
            curriculum.receive()  # a worker's tasks still in flight join their queues
            for episode in sorted(finished, key=lambda e: e.episode_id):
                played[episode.env_index].append(dict(episode.task))
            for i, pending in enumerate(vec.pending_tasks()):
                played[i].extend(dict(t) for t in pending)
        if not skip:
            window.start, window.start_steps, window.episodes_timed = start, 0, window.episodes
        steps_timed = model.num_timesteps - window.start_steps
        return Run(steps_timed / (end - window.start), steps_timed / (end - window.start - window.train_seconds),
                   window.episodes_timed, steps_timed, window.episodes, window.reward_sum, played,
                   window.bridge_seconds / (end - window.start))
    finally:
        if isinstance(chosen, TeacherProcess):
            chosen.close()
        for lagged in (() if isinstance(chosen, TeacherProcess) else
                       (getattr(chosen, "refitter", None), getattr(chosen, "trainer", None))):
            if lagged is not None:  # the worker of a lag-1 update (GMM fit_lag, GoalGAN/Setter-Solver train_lag)
                lagged.close()
        vec.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="gridworld")
    parser.add_argument("--steps", type=int, default=16384)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--vec", default="dummy", choices=["dummy", "subproc", "batched"])
    parser.add_argument("--teachers", nargs="+", default=["random", "alp_gmm"],
                        help="teacher configs; NAME@LABEL is one more variant of NAME, set apart by --set NAME@LABEL.KEY=V")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on the 2-core CI machines)")
    parser.add_argument("--n-steps", type=int, default=None, help="PPO n_steps (default: the env config's)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--csv", default=None, help="also write the fps per variant (benchmarks/_results.py columns)")
    parser.add_argument("--set", nargs="*", default=[], metavar="TEACHER.KEY=VALUE",
                        help="teacher parameter overrides, e.g. alp_gmm.fit_lag=1")
    parser.add_argument("--skip", type=int, default=1, help="rollouts of each run not timed (0: time all of learn)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of the peer before measuring")
    parser.add_argument("--fast-rollout", default="auto", choices=["auto", "true", "false", "batched"],
                        help="student.fast_rollout of the PPO student (auto: as runs)")
    parser.add_argument("--replay-peer", action="store_true",
                        help="also time each teacher against plain SB3 replaying the tasks it handed out (module doc)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # SB3's minibatch-size notes, once per run: the table is the output
    pin_threads(args.threads)
    name, kwargs, student, _ = env_config(args.env)
    for key, value in (("n_steps", args.n_steps), ("batch_size", args.batch_size), ("n_epochs", args.epochs)):
        if value is not None:
            student[key] = value
    variants: list[str | None] = [None, *args.teachers]
    configs = {v: teacher_config(v.partition("@")[0], args.env) for v in args.teachers}  # NAME@LABEL: a second variant
    for item in args.set:
        key, _, value = item.partition("=")
        teacher, _, param = key.partition(".")
        if teacher not in configs or not param or not value:
            raise SystemExit(f"bench_overhead: error: --set {item!r}: expected TEACHER.KEY=VALUE for one of {args.teachers}")
        configs[teacher][1][param] = yaml_value(value)
    fast = {"true": True, "false": False}.get(args.fast_rollout, args.fast_rollout)
    for _ in range(args.warmup):  # CUDA kernels and the allocator warm up outside the measurement
        _fps(name, kwargs, None, args.n_envs * student.get("n_steps", 2048) * (args.skip + 1), args.n_envs, args.vec,
             student, seed=10_000, device=args.device, fast_rollout=fast, skip=args.skip)
    if args.replay_peer and args.vec != "batched":
        raise SystemExit("bench_overhead: error: --replay-peer needs --vec batched (the peer queues the played tasks)")
    runs: dict[str | None, list[Run]] = {v: [] for v in variants}
    replays: dict[str, list[Run]] = {v: [] for v in args.teachers}
    same: dict[str, list[bool]] = {v: [] for v in args.teachers}
    dry: list[int] = []
    for r in range(args.repeats):
        # Interleaved, and the order rotates each repeat: a drift within the process
        # (allocator, caches) must not always fall on the variants that run last.
        k = r % len(variants)
        for v in variants[k:] + variants[:k]:
            chosen = configs[v] if v is not None else None
            run = _fps(name, kwargs, chosen, args.steps, args.n_envs, args.vec, student, seed=r, device=args.device,
                       fast_rollout=fast, skip=args.skip, dry=dry, record=args.replay_peer and v is not None)
            runs[v].append(run)
            if args.replay_peer and v is not None:  # right after its teacher run, the same seed
                peer = _fps(name, kwargs, None, args.steps, args.n_envs, args.vec, student, seed=r,
                            device=args.device, fast_rollout=fast, skip=args.skip, replay=run.played)
                run.played = None
                replays[v].append(peer)
                same[v].append(peer.signature() == run.signature())
    results = {v: [run.fps for run in runs[v]] for v in variants}
    collect = {v: [run.collect_fps for run in runs[v]] for v in variants}

    def per_k(rs: list[Run]) -> float:
        """Finished episodes per 1,000 env steps of the timed window (median over repeats)."""
        return statistics.median(1000.0 * run.episodes_timed / max(run.steps_timed, 1) for run in rs)

    base = statistics.median(results[None])
    base_collect = statistics.median(collect[None])
    print(f"env={args.env} vec={args.vec} n_envs={args.n_envs} steps={args.steps} repeats={args.repeats} "
          f"skip={args.skip} warmup={args.warmup} fast_rollout={args.fast_rollout} device={args.device} "
          f"ppo={student} set={args.set}")
    if dry and max(dry):
        print(f"note: up to {max(dry)} of the peer's {args.n_envs} mazes played out their task queue (kept the last task)")
    print("fps: the whole loop; collect: env steps/s outside model.train() (read it for plr_robust/accel; module doc); "
          "ep/1k: episodes finished per 1,000 env steps (each costs an env reset)")
    print(f"{'variant':<28}{'median fps':>12}{'ratio of medians':>18}{'paired ratios (per repeat)':>30}"
          f"{'collect fps':>13}{'collect ratio':>15}{'paired collect ratios':>30}{'ep/1k':>8}")
    print(f"{'plain SB3 (no teacher)':<28}{base:>12.0f}{1.0:>18.3f}{'':>30}{base_collect:>13.0f}{1.0:>15.3f}"
          f"{'':>30}{per_k(runs[None]):>8.2f}")

    def spread(values: list[float], peer: list[float]) -> str:
        paired = [a / b for a, b in zip(values, peer)]
        return f"{statistics.median(paired):.3f} [{min(paired):.3f}-{max(paired):.3f}]"

    for v in args.teachers:
        med, med_collect = statistics.median(results[v]), statistics.median(collect[v])
        print(f"{'bridge + ' + v:<28}{med:>12.0f}{med / base:>18.3f}{spread(results[v], results[None]):>30}"
              f"{med_collect:>13.0f}{med_collect / base_collect:>15.3f}{spread(collect[v], collect[None]):>30}"
              f"{per_k(runs[v]):>8.2f}")
    print("bridge share: the share of each teacher run's timed window spent in the teacher's callback (finished "
          "episodes to the teacher, new tasks to the envs, rollout-end work), measured inside the run; "
          "1 - share is the fps ratio that the teacher's own cost allows (module doc)")
    print(f"{'teacher':<28}{'bridge share':>14}{'per repeat [range]':>22}{'1 - share':>12}{'ms per 1k steps':>17}")
    for v in args.teachers:
        shares = [run.bridge_share for run in runs[v]]
        med = statistics.median(shares)
        # the bridge's time per 1,000 env steps, from the share and the run's fps
        ms = statistics.median(1e6 * run.bridge_share / run.fps for run in runs[v])
        print(f"{v:<28}{med:>14.4f}{f'[{min(shares):.4f}-{max(shares):.4f}]':>22}{1 - med:>12.3f}{ms:>17.2f}")
    if args.replay_peer:
        print("replay peer: plain SB3 (no bridge, no teacher) playing, maze by maze, the tasks the teacher run handed out; "
              "'same episodes' = it finished the same episodes with the same reward sum (the teacher only chose tasks)")
        print(f"{'teacher vs its replay peer':<28}{'peer fps':>12}{'fps ratio':>18}{'paired ratios (per repeat)':>30}"
              f"{'collect fps':>13}{'collect ratio':>15}{'paired collect ratios':>30}{'ep/1k':>8}  same episodes")
        for v in args.teachers:
            peer_fps = [run.fps for run in replays[v]]
            peer_collect = [run.collect_fps for run in replays[v]]
            pm, pc = statistics.median(peer_fps), statistics.median(peer_collect)
            print(f"{v:<28}{pm:>12.0f}{statistics.median(results[v]) / pm:>18.3f}{spread(results[v], peer_fps):>30}"
                  f"{pc:>13.0f}{statistics.median(collect[v]) / pc:>15.3f}{spread(collect[v], peer_collect):>30}"
                  f"{per_k(replays[v]):>8.2f}  {sum(same[v])}/{len(same[v])}")
    if args.csv:
        from _results import write_rows

        from students.fast_rollout import BatchedBootstrapPPO, rollout_class

        loop = rollout_class(fast, "ppo", args.vec)
        vec_label = args.vec if loop is None else \
            f"{args.vec}+fast_rollout{'_batched' if loop is BatchedBootstrapPPO else ''}"

        write_rows(args.csv, [{"benchmark": "bench_overhead", "env": args.env, "student": "ppo/mlp",
                               "teacher": v or "none (plain SB3)", "device": args.device, "gpus": int("cuda" in args.device),
                               "runs": 1, "runs_per_gpu": 1 if "cuda" in args.device else "", "n_envs": args.n_envs,
                               "vec": vec_label, "workers": "", "cores_per_run": "",
                               "env_steps_per_s": round(statistics.median(results[v]), 1),
                               "per_run_env_steps_per_s": round(statistics.median(results[v]), 1),
                               # the share of the timed window inside model.train()
                               "update_share": round(1 - statistics.median(results[v]) / statistics.median(collect[v]), 3),
                               "seconds": ""} for v in variants])
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
