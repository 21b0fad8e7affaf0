"""One run: env x teacher x student x seed, from a resolved config to a run directory.

The loop (docs/architecture.md): the teacher samples a task for each sub-env ahead of time, the SB3
student learns, every finished episode goes back to the teacher and into
``episodes/``; every ``eval.every`` steps the deterministic policy plays the env's test
set (``eval/``); teacher diagnostics go to ``teacher/``; checkpoints at rollout
boundaries let a killed run continue with no episode lost or counted twice; and
``summary.json``, written last, marks the run finished.

:func:`_train` reads top to bottom as its stages: the config is read once into a typed
:class:`RunPlan`, then :func:`_build_env`, :func:`_build_teacher`, :func:`_build_student`,
:func:`_resume` (from the latest checkpoint, if any), :func:`_attach_needs` (curriculum,
callback and what the teacher needs), :func:`_learn`, :func:`_final_evaluation`,
:func:`_save_final_policy` and :func:`_summary`. What they share while the student learns
(tables, checkpointer, counters, the evaluation and checkpoint hooks) is :class:`_Training`.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from stable_baselines3.common.vec_env import VecNormalize

from envs.errors import TeachBenchError
from experiments.code_version import LOADED as CODE_LOADED
from experiments.host import host_info
from experiments.rundir import (RunDir, RunLock, config_id, identity_diff, storage_error, table_scalars,
                                 write_json)
from experiments.running.config_checks import env_normalize, resolve_auto_params, resolved_config, validate_config
from experiments.running.curves import area_under_curve
from experiments.running.sinks import make_sink
from experiments.safe_config import load_run_config
from students.bridge import Curriculum, CurriculumCallback
from students.build import load_student, make_student
from students.evaluate import evaluate, evaluate_held_out, held_out_levels, held_out_protocol
from students.regret import attach_teacher_needs, replay_budget_warning
from students.reset import with_student_reset
from students.split_update import with_split_update
from students.teacher_worker import TeacherProcess
from students.threads import pin_threads
from students.values import InitialValueTracker, supports_initial_value
from students.vec import make_vec_env
from teachers.base import Episode
from teachers.protocol import make_protocol_teacher

log = logging.getLogger("teachbench.run")


def env_label(cfg: DictConfig) -> str:
    """The env config's own name (``gridworld_small``), which names runs and rows; several
    configs may build the same registered env (``env.name``) with other settings."""
    return str(cfg.env.get("label") or cfg.env.name)


def run_dir_for(cfg: DictConfig) -> RunDir:
    """``<runs_dir>/<name>/<env>__<teacher>__<student>__s<seed>__<config id>``
    (:mod:`experiments.rundir` says what the config id covers)."""
    return RunDir.for_run(cfg.runs_dir, cfg.name, env_label(cfg), cfg.teacher.name, cfg.student.algo, cfg.seed,
                          config_id(resolved_config(cfg)))


def _device(name: str, env_cfg: DictConfig | None = None, policy: str | None = None) -> str:
    """The student's torch device. ``auto`` picks CUDA only where it was measured faster:
    when a GPU is present and the env config lists the student's policy under
    ``cuda_policies`` (``benchmarks/bench_scaling.py``: MLP PPO ran 0.68-0.80x on CUDA
    on every env, the CNN on the 15x15 full view 5.6x)."""
    if name != "auto":
        return name
    faster = list((env_cfg.get("cuda_policies") if env_cfg is not None else None) or [])
    return "cuda" if torch.cuda.is_available() and (policy or "mlp") in faster else "cpu"


def _attach_file_log(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    if logging.getLogger().level > logging.INFO or logging.getLogger().level == logging.NOTSET:
        logging.getLogger().setLevel(logging.INFO)
    return handler


class _Checkpointer:
    """Latest-checkpoint files: ``checkpoints/step-<n>/`` plus an atomic ``latest.json``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def latest_step(self) -> int | None:
        """The step of the latest complete checkpoint, None if there is none."""
        latest = self.latest()
        if latest is None:
            return None
        try:
            return int(json.loads((self.directory / "latest.json").read_text())["step"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def latest(self) -> Path | None:
        pointer = self.directory / "latest.json"
        if not pointer.exists():
            return None
        try:
            name = json.loads(pointer.read_text())["dir"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        target = self.directory / str(name)
        if target.parent != self.directory:
            return None  # a pointer out of the checkpoint folder is not ours
        return target if (target / "state.pt").exists() else None

    def save(self, step: int, model: Any, state: dict[str, Any], extra_models: Mapping[str, Any] = {}) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"step-{step:012d}"
        tmp = self.directory / f".tmp-step-{step:012d}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        model.save(tmp / "model.zip")
        for name, extra in extra_models.items():  # e.g. PAIRED's antagonist
            extra.save(tmp / f"{name}.zip")
        torch.save(state, tmp / "state.pt")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        write_json(self.directory / "latest.json", {"dir": target.name, "step": step})
        for old in self.directory.glob("step-*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)
        return target


def _normalizer_state(vec: Any) -> dict[str, Any] | None:
    if not isinstance(vec, VecNormalize):
        return None
    return {
        "obs_mean": torch.as_tensor(vec.obs_rms.mean), "obs_var": torch.as_tensor(vec.obs_rms.var),
        "obs_count": float(vec.obs_rms.count), "ret_mean": torch.as_tensor(vec.ret_rms.mean),
        "ret_var": torch.as_tensor(vec.ret_rms.var), "ret_count": float(vec.ret_rms.count),
    }


def _load_normalizer(vec: Any, state: Mapping[str, Any] | None) -> None:
    if state is None or not isinstance(vec, VecNormalize):
        return
    vec.obs_rms.mean, vec.obs_rms.var = state["obs_mean"].numpy(), state["obs_var"].numpy()
    vec.obs_rms.count = state["obs_count"]
    vec.ret_rms.mean, vec.ret_rms.var = state["ret_mean"].numpy(), state["ret_var"].numpy()
    vec.ret_rms.count = state["ret_count"]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run, after its state was recorded as ``interrupted``; ``str()`` is
    the one line to show ("interrupted at step N: rerun the same command to resume")."""

    def __init__(self, message: str, step: int) -> None:
        super().__init__(message)
        self.step = step


class SigintWatch:
    """Notes that SIGINT reached this process while a run trained.

    Python raises the KeyboardInterrupt wherever the interpreter happens to be. Inside a C
    extension's callback into Python (Box2D's ray casts call back once per lidar ray) the
    extension can turn it into an error of its own: session 22 saw a walker run, cut by its
    sweep's timeout during the final evaluation, recorded as *failed* with "TypeError: Expected
    tuple or list of length 2, got length -1". With this note such an error is recorded as the
    interruption it was, and the run resumes like any interrupted one. Only Python's default
    handler is wrapped (a process that ignores SIGINT or handles it itself is left alone), and
    only in the main thread, where signal handlers live."""

    def __init__(self) -> None:
        self.seen = False
        self._previous: Any = None

    def _note(self, signum: int, frame: Any) -> None:
        self.seen = True
        signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt, as without the watch

    def __enter__(self) -> "SigintWatch":
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._note)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


# On-policy students collect n_envs x n_steps transitions before each update.
ON_POLICY = ("ppo", "a2c", "maskable_ppo")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume, extend, or skip when finished) one experiment; returns its summary.

    In order, and before anything is written into an existing run directory: the config
    is validated; the run directory named by the config id (:mod:`experiments.rundir`) is
    locked (a second process on the same run is refused); the saved config, if any, is
    compared with this one. A finished run with the same config and budget is skipped; a
    larger ``budget.steps`` continues a finished or unfinished run only with
    ``resume=extend``; any other difference is refused with one line naming the key.

    The run ends with ``summary.json`` (written last), the final policy ``model.zip``
    (plus ``vecnormalize.json`` when the env normalises observations) and a checkpoint of
    the final state, from which ``resume=extend`` continues.
    """
    try:
        validate_config(cfg)
        resolve_auto_params(cfg)  # max_pending: auto -> a number, before the config id is computed
        # resume's values and a rollout larger than the budget: experiments.running.config_checks
    except TeachBenchError as exc:
        _record_invalid(cfg, exc)
        raise
    rd = run_dir_for(cfg)
    lock = RunLock(rd.lock_path)
    try:
        rd.create()
        lock.acquire()
    except OSError as exc:
        raise storage_error(exc, rd.path) or exc from None
    try:
        try:
            plan = _plan(cfg, rd)
        except OSError as exc:
            raise storage_error(exc, rd.path) or exc from None
        if plan["skip"]:
            log.info("run already finished, skipping: %s", rd.path)
            return rd.summary() or {}
        return _run_locked(cfg, rd, plan)
    finally:
        lock.release()


def _run_locked(cfg: DictConfig, rd: RunDir, plan: dict[str, Any]) -> dict[str, Any]:
    """Write the config and status, train, and record how it ended (the lock is held)."""
    try:
        OmegaConf.save(OmegaConf.create(resolved_config(cfg)), rd.config_path)
        handler = _attach_file_log(rd.log_path)
    except OSError as exc:
        rd.set_status_best_effort("failed", error=f"{type(exc).__name__}: {exc}")
        raise storage_error(exc, rd.path) or exc from None
    watch = SigintWatch()
    try:
        device = _device(cfg.device, cfg.env, cfg.student.get("policy"))
        rd.set_status("running", step=plan["from_step"], device=device, pid=os.getpid())
        with watch:
            summary = _train(cfg, rd, extended_from=plan["extended_from"])
        rd.write_summary(summary)
        rd.set_status("finished", step=summary["steps"], device=device)
        log.info("finished %s: %.1f%% mastered, AUC %.1f", rd.path, summary["final_mastered"], summary["auc_mastered"])
        return summary
    except KeyboardInterrupt as exc:
        raise _interrupted(rd, exc) from None
    except BaseException as exc:  # noqa: BLE001 - record every failure, then re-raise
        if watch.seen:  # an interrupt that a C extension turned into another error (SigintWatch)
            log.info("%s: %s after SIGINT, recorded as the interruption", rd.path, type(exc).__name__)
            raise _interrupted(rd, exc) from None
        rd.set_status_best_effort("failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        if isinstance(exc, OSError):
            raise storage_error(exc, rd.path) or exc from None
        raise
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def _interrupted(rd: RunDir, exc: BaseException) -> RunInterrupted:
    """Record an interrupted run (status ``interrupted`` at its last checkpoint) and return the
    one-line error to raise; the entry points (experiments.console.report_errors) print it and
    exit 130."""
    step = getattr(exc, "step", None)
    latest = _Checkpointer(rd.checkpoint_dir).latest_step()
    shown = step if step is not None else (latest or 0)
    message = f"interrupted at step {shown}: rerun the same command to resume"
    if latest is not None and latest != shown:
        message += f" (it continues from the checkpoint at step {latest})"
    rd.set_status_best_effort("interrupted", step=latest or 0, error=message)
    log.warning("%s: %s", rd.path, message)
    return RunInterrupted(message, shown)


def _plan(cfg: DictConfig, rd: RunDir) -> dict[str, Any]:
    """Decide, with the lock held and before writing anything, what this call does with
    the run directory: skip, resume, extend, or start afresh. Refusals name the key."""
    budget = int(cfg.budget.steps)
    mode = cfg.resume
    fresh = {"skip": False, "from_step": 0, "extended_from": None}
    if not rd.config_path.exists():
        _clear(rd)  # only a lock, or a half-created directory: nothing to keep
        return fresh
    try:
        saved = OmegaConf.to_container(load_run_config(rd.path))  # our own classes only
    except TeachBenchError as exc:
        raise TeachBenchError("run_dir", f"{rd.config_path} cannot be read ({exc}); delete {rd.path} to start "
                                         "over") from None
    ckpt = _Checkpointer(rd.checkpoint_dir)
    done = ckpt.latest_step()
    diff = identity_diff(saved, resolved_config(cfg))
    if diff:
        if done is None and not rd.finished:  # a failed start with nothing to lose
            _clear(rd)
            return fresh
        raise TeachBenchError(diff[0], f"the run directory {rd.path} holds a run with a different config "
                                       f"(differs in {diff}); choose another name= or delete that directory")
    if mode is False:
        _clear(rd)  # resume=false: start again from scratch
        return fresh
    saved_budget = int(OmegaConf.select(OmegaConf.create(saved), "budget.steps", default=budget))
    steps_done = int((rd.summary() or {}).get("steps", 0)) if rd.finished else (done or 0)
    if budget == saved_budget:
        if rd.finished:
            return {"skip": True, "from_step": steps_done, "extended_from": None}
        return {"skip": False, "from_step": steps_done, "extended_from": None}
    where = "finished" if rd.finished else "unfinished"
    if budget < saved_budget or budget <= steps_done:
        raise TeachBenchError("budget.steps", f"{rd.path} is a {where} run with budget.steps={saved_budget} "
                                              f"({steps_done} steps trained); a smaller budget is another run: "
                                              f"choose another name=, or rerun with budget.steps={saved_budget}")
    if mode != "extend":
        raise TeachBenchError("budget.steps", f"{rd.path} is a {where} run with budget.steps={saved_budget}; "
                                              f"add resume=extend to continue it to {budget} steps, or choose "
                                              "another name=")
    if done is None:
        raise TeachBenchError("budget.steps", f"{rd.path} has no checkpoint to continue from; choose another name=")
    history = list((rd.summary() or {}).get("extended_from") or []) if rd.finished else []
    for path in (rd.summary_path, rd.model_path, rd.normalizer_path):
        path.unlink(missing_ok=True)  # unfinished again until the extension ends
    log.info("extending %s from %d to %d steps (from its checkpoint at step %d)", rd.path, saved_budget, budget, done)
    return {"skip": False, "from_step": done, "extended_from": [*history, saved_budget]}


def _clear(rd: RunDir) -> None:
    """Empty a run directory this process has locked, keeping the lock."""
    for child in rd.path.iterdir():
        if child == rd.lock_path:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _record_invalid(cfg: DictConfig, exc: TeachBenchError) -> None:
    """Leave a failed run directory for an invalid config when its identity is known, so a
    sweep's leaderboard shows the run as failed with the error instead of omitting it.
    Only a directory this call creates is written: an existing one (a live or finished run
    that a typo'd rerun maps to) is never touched."""
    try:
        rd = run_dir_for(cfg)
        rd.path.parent.mkdir(parents=True, exist_ok=True)
        rd.path.mkdir()  # fails if it exists: someone else's
    except Exception:  # noqa: BLE001 - identity unknown, existing directory or unwritable: nothing to record
        return
    try:
        OmegaConf.save(OmegaConf.create(resolved_config(cfg)), rd.config_path)
        rd.set_status("failed", error=f"{type(exc).__name__}: {exc}")
    except Exception:  # noqa: BLE001 - the error being raised matters more than this record
        rd.set_status_best_effort("failed", error=f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class RunPlan:
    """Everything a run reads from its config, read once (:meth:`from_config`) and typed.

    The stages of :func:`_train` take this plan, never the config: what a stage depends
    on is visible in its signature, and a key renamed in the configs breaks here, in one
    place. Containers are plain Python (resolved), so no stage touches OmegaConf.
    """

    experiment: str
    config_id: str
    seed: int
    torch_threads: Any
    # env
    env_name: str
    env_label: str
    env_kwargs: dict[str, Any]
    n_envs: int
    vec_env: str
    normalize: bool | str  # True: observations and rewards; "reward": rewards alone (dcd's walker)
    env_expert: Any
    env_students: dict[str, Any]  # per-algorithm student defaults of this env
    # teacher (TeachMyAgent's protocol: expert-knowledge level, rugged task-space shuffle)
    teacher_name: str
    teacher_params: dict[str, Any]
    expert_knowledge: Any
    rugged: Any
    teacher_process: bool  # the teacher in a worker process, a step behind (students/teacher_worker.py)
    # student
    student_algo: str
    student_policy: str | None
    student_params: dict[str, Any]
    student_fast_rollout: Any  # auto | true | false | batched (students/fast_rollout.py)
    device: str
    update_device: str | None  # PPO's update elsewhere than its rollouts (students/split_update.py)
    update_threads: int | None
    envs_per_worker: int  # the shm VecEnv's envs per worker process
    student_reset_every: Any
    # budget, evaluation, logging, checkpoints
    budget: int
    eval_every: int
    eval_episodes_per_task: int
    eval_n_envs: int
    eval_held_out: bool
    held_out_episodes: Any  # None: the env's own protocol
    held_out_deterministic: Any
    held_out_every: int | None  # None: held-out levels at the end only
    flush_every: int
    diagnostics_every: int
    progress_bar: Any  # true | false | "auto"
    checkpoint_every: int
    resume: Any  # true | false | "extend"

    @classmethod
    def from_config(cls, cfg: DictConfig) -> "RunPlan":
        def plain(value: Any) -> Any:
            return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value

        env_cfg = cfg.env
        return cls(
            experiment=cfg.name, config_id=config_id(resolved_config(cfg)), seed=int(cfg.seed),
            torch_threads=cfg.torch_threads,
            env_name=env_cfg.name, env_label=env_label(cfg),
            env_kwargs=plain(env_cfg.kwargs) if env_cfg.get("kwargs") else {},
            n_envs=int(env_cfg.n_envs), vec_env=str(env_cfg.vec_env), normalize=env_normalize(env_cfg),
            env_expert=plain(env_cfg.get("expert")),
            env_students=plain(env_cfg.students) if env_cfg.get("students") else {},
            teacher_name=cfg.teacher.name,
            teacher_params=plain(cfg.teacher.params) if cfg.teacher.get("params") else {},
            expert_knowledge=cfg.get("expert_knowledge"), rugged=plain(cfg.get("rugged")),
            teacher_process=bool(cfg.get("teacher_process", False)),
            student_algo=cfg.student.algo, student_policy=cfg.student.get("policy"),
            student_params=plain(cfg.student.params) if cfg.student.get("params") else {},
            student_fast_rollout=cfg.student.get("fast_rollout", "auto"),
            device=_device(cfg.device, env_cfg, cfg.student.get("policy")),
            update_device=cfg.get("update_device"),
            update_threads=int(cfg.update_threads) if cfg.get("update_threads") is not None else None,
            envs_per_worker=int(env_cfg.get("envs_per_worker", 1)),
            student_reset_every=cfg.get("student_reset_every"),
            budget=int(cfg.budget.steps),
            eval_every=int(cfg.eval.every), eval_episodes_per_task=int(cfg.eval.episodes_per_task),
            eval_n_envs=int(cfg.eval.n_envs), eval_held_out=bool(cfg.eval.held_out),
            held_out_episodes=cfg.eval.get("held_out_episodes"),
            held_out_deterministic=cfg.eval.get("held_out_deterministic"),
            held_out_every=cfg.eval.get("held_out_every"),  # validated: None or an int >= 1 (config_checks)
            flush_every=int(cfg.log.flush_every), diagnostics_every=int(cfg.log.diagnostics_every),
            progress_bar=cfg.log.progress_bar,
            checkpoint_every=int(cfg.checkpoint.every), resume=cfg.resume,
        )


@dataclass
class _EnvFacts:
    """The student's VecEnv and what one spec instance of the env says about itself."""

    vec: Any
    task_space: Any
    test_tasks: list[Any]
    held_out: dict[str, Any]  # name -> task or level ({} when eval.held_out is off)
    held_out_protocol: dict[str, Any]
    episode_steps: int | None

    @property
    def normalizer(self) -> VecNormalize | None:
        return self.vec if isinstance(self.vec, VecNormalize) else None


class _Training:
    """The state one training run carries between its stages, and the three things the
    runner does while the student learns: record an episode, evaluate / log diagnostics
    on schedule, and checkpoint at rollout boundaries."""

    def __init__(self, plan: RunPlan, rd: RunDir, env: _EnvFacts, teacher: Any, sink: Any) -> None:
        self.plan, self.rd, self.env, self.teacher, self.sink = plan, rd, env, teacher, sink
        self.writers = {name: rd.writer(name, flush_every=plan.flush_every) for name in ("episodes", "eval", "teacher")}
        self.ckpt = _Checkpointer(rd.checkpoint_dir)
        self.latest: Path | None = self.ckpt.latest() if plan.resume else None
        self.state: dict[str, Any] = {}  # the checkpoint's state when resuming
        self.model: Any = None
        self.curriculum: Curriculum | None = None
        self.counters: dict[str, Any] = {}
        self.extra_models: dict[str, Any] = {}  # saved with each checkpoint (PAIRED's antagonist)

    @property
    def resumed(self) -> bool:
        return self.latest is not None

    def start_counters(self) -> None:
        state, plan = self.state, self.plan
        self.counters = {
            "next_eval": int(state.get("next_eval", 0)),
            "next_held_out": int(state.get("next_held_out", 0)),
            "next_diag": int(state.get("next_diag", 0)),
            "next_ckpt": int(state.get("next_ckpt", plan.checkpoint_every)),
            "eval_id": int(state.get("eval_id", 0)),
            "wall_before": float(state.get("wall_time_s", 0.0)),
            "t_learn": time.perf_counter(),  # reset just before learn(): wall time counts training only
        }

    def wall_time(self) -> float:
        return self.counters["wall_before"] + time.perf_counter() - self.counters["t_learn"]

    def record_episode(self, ep: Episode) -> None:
        self.writers["episodes"].append(ep.to_record())
        self.sink.episode(ep)

    def run_eval(self, step: int) -> dict[str, float]:
        plan, counters = self.plan, self.counters
        records = evaluate(self.model, plan.env_name, self.env.test_tasks, plan.env_kwargs, plan.eval_episodes_per_task,
                           plan.eval_n_envs, normalizer=self.env.normalizer, seed=plan.seed + 100_000)
        rows = []
        for r in records:
            row = {"step": step, "eval_id": counters["eval_id"], "split": "test", "name": f"test_{r.task_index}",
                   "task_index": r.task_index, "return": r.episode_return, "length": r.length,
                   "success": r.success, "mastered": r.mastered}
            row.update({f"task.{k}": v for k, v in r.task.items()})
            rows.append(row)
        self.writers["eval"].extend(rows)
        self.sink.eval_table(step, rows)
        mastered = 100.0 * float(np.mean([r.mastered for r in records])) if records else float("nan")
        mean_return = float(np.mean([r.episode_return for r in records])) if records else float("nan")
        metrics = {"eval/mastered_pct": mastered, "eval/mean_return": mean_return}
        self.sink.metrics(step, metrics)
        log.info("step %d eval %d: %.1f%% of %d test tasks mastered, mean return %.3f", step, counters["eval_id"],
                 mastered, len(self.env.test_tasks), mean_return)
        counters["eval_id"] += 1
        return metrics

    def run_held_out(self, step: int) -> dict[str, float]:
        """The held-out levels by the env's protocol (``eval.held_out_every``; the end's are
        :func:`_final_evaluation`'s), rows in ``eval/`` with ``split == "held_out"``."""
        held = _held_out_eval(self.model, self.plan.env_name, self.plan.env_kwargs, self.env.held_out,
                              self.env.normalizer, self.plan.seed, step, self.counters, self.writers,
                              self.env.held_out_protocol)
        if held:
            mean = 100.0 * float(np.mean(list(held.values())))
            self.sink.metrics(step, {"eval/held_out_solved_pct": mean})
            log.info("step %d held-out: %.1f%% solved on average over %d levels", step, mean, len(held))
        return held

    def diagnostics(self, step: int) -> dict[str, Any]:
        """One row of ``teacher/``: the teacher's diagnostics at ``step``."""
        assert self.curriculum is not None
        diag = {"step": step, "episodes": self.curriculum.next_episode_id, **table_scalars(self.teacher.diagnostics())}
        self.writers["teacher"].append(diag)
        return diag

    def periodic(self, step: int) -> None:
        counters = self.counters
        if step >= counters["next_eval"]:
            self.run_eval(step)
            counters["next_eval"] = step + self.plan.eval_every
        if self.plan.held_out_every and step >= counters["next_held_out"]:
            self.run_held_out(step)
            counters["next_held_out"] = step + self.plan.held_out_every
        if step >= counters["next_diag"]:
            diag = self.diagnostics(step)
            self.sink.metrics(step, {f"teacher/{k}": v for k, v in diag.items() if k != "step"})
            counters["next_diag"] = step + self.plan.diagnostics_every

    def checkpoint(self, step: int, force: bool = False) -> None:
        counters, curriculum = self.counters, self.curriculum
        assert curriculum is not None
        if not force and (step < counters["next_ckpt"] or step == 0):
            return
        seqs = {name: w.flush() for name, w in self.writers.items()}
        self.ckpt.save(step, self.model, {
            "step": step, "teacher": self.teacher.state_dict(), "pending": curriculum.pending(),
            "next_episode_id": curriculum.next_episode_id, "tables": seqs,
            "next_eval": counters["next_eval"], "next_diag": counters["next_diag"],
            "next_held_out": counters["next_held_out"],
            "next_ckpt": step + self.plan.checkpoint_every, "eval_id": counters["eval_id"],
            "wall_time_s": self.wall_time(),
            "torch_rng": torch.get_rng_state(), "normalizer": _normalizer_state(self.env.vec),
        }, self.extra_models)
        counters["next_ckpt"] = step + self.plan.checkpoint_every
        self.rd.set_status("running", step=step)

    def close(self) -> None:
        for w in self.writers.values():
            w.flush()
        self.env.vec.close()


def _train(cfg: DictConfig, rd: RunDir, extended_from: list[int] | None = None) -> dict[str, Any]:
    """Train one run, stage by stage; the config is read once, into a :class:`RunPlan`."""
    plan = RunPlan.from_config(cfg)
    pin_threads(plan.torch_threads)
    t_setup = time.perf_counter()
    env = _build_env(plan)
    teacher = _build_teacher(plan, env.task_space)
    tr = _Training(plan, rd, env, teacher, sink=make_sink(cfg, rd))  # the sink records the whole config
    tr.model = _build_student(plan, env.vec)
    _resume(tr)
    callback = _attach_needs(tr)
    setup_s = time.perf_counter() - t_setup
    try:
        try:
            steps = _learn(tr, callback)
            final, held = _final_evaluation(tr, steps)
            wall = tr.wall_time()
            _save_final_policy(rd, tr.model, env.normalizer)
        finally:
            tr.close()
        summary = _summary(tr, steps, final, held, wall, setup_s, extended_from)
    finally:
        if isinstance(teacher, TeacherProcess):  # after the summary: it reads the teacher's diagnostics
            teacher.close()
    tr.sink.finish(summary)
    return summary


def _build_env(plan: RunPlan) -> _EnvFacts:
    """The student's VecEnv, and the task space, test set and held-out levels of the env."""
    vec = make_vec_env(plan.env_name, plan.env_kwargs, plan.n_envs, plan.vec_env, seed=plan.seed,
                       normalize=plan.normalize, envs_per_worker=plan.envs_per_worker)
    spec_env = _spec_env(plan.env_name, plan.env_kwargs)
    held_out = held_out_levels(spec_env) if plan.eval_held_out else {}
    facts = _EnvFacts(vec=vec, task_space=spec_env.task_space, test_tasks=list(spec_env.test_tasks()),
                      held_out=held_out, held_out_protocol=held_out_protocol(spec_env, plan.held_out_episodes,
                                                                          plan.held_out_deterministic),
                      episode_steps=getattr(spec_env, "max_steps", None))
    spec_env.close()
    return facts


def _build_teacher(plan: RunPlan, task_space: Any) -> Any:
    """The teacher, under TeachMyAgent's protocol (teachers/protocol.py): expert-knowledge
    level and rugged task-space shuffle; with ``teacher_process`` built in a worker process."""
    args = (plan.teacher_name, task_space, plan.seed, plan.teacher_params, plan.expert_knowledge, plan.env_expert,
            plan.rugged)
    if plan.teacher_process:
        return TeacherProcess("teachers.protocol:make_protocol_teacher", args)
    return make_protocol_teacher(*args)


def _build_student(plan: RunPlan, vec: Any) -> Any:
    """A fresh student on ``vec`` (a resumed run loads its checkpoint into it: :func:`_resume`)."""
    model = make_student(plan.student_algo, vec, policy=plan.student_policy, params=plan.student_params,
                         env_defaults=plan.env_students, seed=plan.seed, device=plan.device,
                         fast_rollout=plan.student_fast_rollout, vec_kind=plan.vec_env)
    return _split_update(plan, model)


def _split_update(plan: RunPlan, model: Any) -> Any:
    """PPO's update on ``update_device`` / with ``update_threads`` where the config asks for it."""
    if plan.update_device is None and plan.update_threads is None:
        return model
    return with_split_update(model, device=plan.update_device, threads=plan.update_threads)


def _resume(tr: _Training) -> None:
    """Continue from the latest checkpoint, if there is one and ``resume`` allows: the
    student, teacher, normaliser and torch RNG state, and the tables cut back to the
    checkpoint (no row counted twice). Without one, the tables start empty."""
    if tr.latest is None:
        for w in tr.writers.values():
            w.truncate_after(0)
        return
    latest = tr.latest
    try:
        tr.state = torch.load(latest / "state.pt", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a refused or torn checkpoint is bad input, named as such
        raise TeachBenchError("checkpoint", f"{latest / 'state.pt'} cannot be loaded safely "
                              f"({type(exc).__name__}; torch.load(weights_only=True) refused it). Checkpoints "
                              "are only read from this run's own directory: delete it to start over") from None
    tr.model = _split_update(tr.plan, load_student(str(latest / "model.zip"), tr.model, tr.env.vec,
                                                   device=tr.plan.device))
    tr.teacher.load_state_dict(tr.state["teacher"])
    _load_normalizer(tr.env.vec, tr.state.get("normalizer"))
    for name, w in tr.writers.items():
        w.truncate_after(int(tr.state["tables"][name]))
    torch.set_rng_state(tr.state["torch_rng"])
    log.info("resuming %s from step %d (%d episodes so far)", tr.rd.path, tr.state["step"],
             tr.state["next_episode_id"])


def _attach_needs(tr: _Training) -> Any:
    """The curriculum between teacher and VecEnv, and the SB3 callback that drives it, with
    what the teacher declares it needs (``teacher.needs``: V(s0), regret, PLR⊥'s robust
    updates, PAIRED's antagonist, ACCEL's editor) and TeachMyAgent's student reset."""
    plan, teacher, model, state = tr.plan, tr.teacher, tr.model, tr.state
    curriculum = Curriculum(teacher, tr.env.vec, sinks=[tr.record_episode])
    curriculum.next_episode_id = int(state.get("next_episode_id", 0))
    tr.curriculum = curriculum
    tr.start_counters()
    callback = CurriculumCallback(curriculum, periodic=[tr.periodic], at_rollout_start=[tr.checkpoint])
    if "value" in teacher.needs and supports_initial_value(model):  # PPO's V, SAC's soft V (students/values.py)
        callback.value_tracker = InitialValueTracker(model, tr.env.vec.num_envs)
        curriculum.episode_hooks.append(callback.value_tracker.hook)
    attachment = attach_teacher_needs(teacher, model, curriculum, callback)  # regret, PLR⊥ masking, antagonist
    never = replay_budget_warning(teacher, plan.budget, tr.env.episode_steps)
    if never:
        log.warning(never)
    starved = getattr(teacher, "starvation_warning", None)  # PAIRED / CLUTR: sub-envs replaying old levels
    if callable(starved) and (msg := starved(tr.env.vec.num_envs, curriculum.lookahead)):
        log.warning(msg)
    curriculum.prime(state.get("pending"))  # after the needs: PAIRED's first levels come from its adversary
    if attachment.antagonist is not None:  # the second student of PAIRED / CLUTR: the protagonist's settings,
        ant = attachment.antagonist          # its update where the protagonist's is (update_device / _threads)
        ant.model = _split_update(plan, ant.model)
        if tr.latest is not None and (tr.latest / "antagonist.zip").exists():
            ant.model = _split_update(plan, load_student(str(tr.latest / "antagonist.zip"), ant.model, ant.vec_env,
                                                         device=plan.device))
        tr.extra_models["antagonist"] = ant.model
    return with_student_reset(callback, plan.student_reset_every)  # TMA's forgetting student


def _learn(tr: _Training, callback: Any) -> int:
    """Train to the budget (the rest of it when resuming); returns the steps trained. The
    final state is checkpointed before the final evaluation: ``resume=extend`` continues
    from there (the final evaluation's rows are dropped and redone at the new end)."""
    model = tr.model
    remaining = tr.plan.budget - int(model.num_timesteps)
    progress = tr.plan.progress_bar
    show_bar = sys.stderr.isatty() if str(progress) == "auto" else bool(progress)
    tr.counters["t_learn"] = time.perf_counter()
    try:
        if remaining > 0:
            model.learn(total_timesteps=remaining, callback=callback, reset_num_timesteps=not tr.resumed,
                        progress_bar=show_bar)
    except KeyboardInterrupt as exc:
        exc.step = int(model.num_timesteps)  # type: ignore[attr-defined]  # for the one-line message
        raise
    steps = int(model.num_timesteps)
    tr.checkpoint(steps, force=True)
    return steps


def _final_evaluation(tr: _Training, steps: int) -> tuple[dict[str, float], dict[str, float]]:
    """The test set, the held-out levels and the teacher's diagnostics at the last step."""
    final = tr.run_eval(steps)
    held = tr.run_held_out(steps)
    tr.diagnostics(steps)
    return final, held


def _summary(tr: _Training, steps: int, final: Mapping[str, float], held: Mapping[str, float], wall: float,
             setup_s: float, extended_from: list[int] | None) -> dict[str, Any]:
    """``summary.json``'s content: identity, budget, final and area-under-curve mastery (read
    back from ``eval/``), held-out solved rates, times and the teacher's last diagnostics."""
    plan, rd = tr.plan, tr.rd
    assert tr.curriculum is not None
    evals = rd.read("eval")
    test = evals[evals["split"] == "test"] if not evals.empty else evals
    curve = test.groupby("step")["mastered"].mean() * 100.0 if not test.empty else None
    return {
        "state": "finished",
        "env": plan.env_label, "env_name": plan.env_name, "teacher": plan.teacher_name, "student": plan.student_algo,
        "seed": plan.seed, "experiment": plan.experiment, "config_id": plan.config_id,
        "steps": steps, "budget_steps": plan.budget, "episodes": tr.curriculum.next_episode_id,
        "final_mastered": final["eval/mastered_pct"], "final_return": final["eval/mean_return"],
        "auc_mastered": area_under_curve(curve.index.to_numpy(), curve.to_numpy(), plan.budget)
        if curve is not None else None,
        "held_out_solved": held,
        "test_tasks": len(tr.env.test_tasks),
        "wall_time_s": wall,
        "setup_time_s": setup_s,
        "resumed": tr.resumed,
        "extended_from": extended_from,
        "model": rd.model_path.name,
        "teacher_diagnostics": table_scalars(tr.teacher.diagnostics()),
        # SB3's own count (PPO: n_epochs per trained rollout); 0 = the student never trained
        "gradient_updates": int(getattr(tr.model, "_n_updates", 0)),
        "host": host_info(),  # the machine (experiments/host.py); not part of the config id
        "code": dict(CODE_LOADED),  # the code this process loaded (experiments/code_version.py); neither is in the id
    }


def _save_final_policy(rd: RunDir, model: Any, normalizer: VecNormalize | None) -> None:
    """``model.zip`` (SB3's format; load it with ``students.build.load_student``, which
    unpickles nothing) and, for a normalised env, ``vecnormalize.json``. Both are written
    to a temp name and renamed, before ``summary.json``."""
    tmp = rd.path / ".model.tmp.zip"
    model.save(tmp)
    os.replace(tmp, rd.model_path)
    if normalizer is not None:
        write_json(rd.normalizer_path, normalizer_stats(normalizer))


def normalizer_stats(vec: VecNormalize) -> dict[str, Any]:
    """VecNormalize's running statistics and settings as plain JSON data (no pickle)."""
    def rms(r: Any) -> dict[str, Any]:
        return {"mean": np.asarray(r.mean).tolist(), "var": np.asarray(r.var).tolist(), "count": float(r.count)}

    if isinstance(vec.obs_rms, dict):
        obs: Any = {k: rms(v) for k, v in vec.obs_rms.items()}
    else:
        obs = rms(vec.obs_rms)
    return {"obs_rms": obs, "ret_rms": rms(vec.ret_rms), "clip_obs": float(vec.clip_obs),
            "clip_reward": float(vec.clip_reward), "gamma": float(vec.gamma), "epsilon": float(vec.epsilon),
            "norm_obs": bool(vec.norm_obs), "norm_reward": bool(vec.norm_reward)}


def final_normalizer(run_dir: str | os.PathLike, venv: Any) -> VecNormalize | None:
    """The final policy's observation normaliser around ``venv`` (frozen: ``training``
    off, rewards not normalised), or None when the run has no ``vecnormalize.json``."""
    path = RunDir(run_dir).normalizer_path
    if not path.is_file():
        return None
    stats = json.loads(path.read_text())
    vec = VecNormalize(venv, training=False, norm_obs=bool(stats["norm_obs"]), norm_reward=False,
                       clip_obs=stats["clip_obs"], clip_reward=stats["clip_reward"], gamma=stats["gamma"],
                       epsilon=stats["epsilon"])

    def load(r: Any, d: Mapping[str, Any]) -> None:
        r.mean, r.var, r.count = np.asarray(d["mean"], dtype=np.float64), np.asarray(d["var"], dtype=np.float64), d["count"]

    if not vec.norm_obs:  # rewards alone were normalised (env.normalize: reward): observations pass as they are
        return vec
    if isinstance(vec.obs_rms, dict):
        for k, r in vec.obs_rms.items():
            load(r, stats["obs_rms"][k])
    else:
        load(vec.obs_rms, stats["obs_rms"])
    load(vec.ret_rms, stats["ret_rms"])
    return vec


def _held_out_eval(model: Any, env_name: str, env_kwargs: dict[str, Any], held_out: Mapping[str, Any],
                   normalizer: Any, seed: int, step: int, counters: dict[str, Any], writers: dict[str, Any],
                   protocol: Mapping[str, Any]) -> dict[str, float]:
    """Zero-shot evaluation on the env's named held-out tasks/levels: solved rate per name
    (``protocol``: episodes per name and whether the policy acts greedily)."""
    if not held_out:
        return {}
    result = evaluate_held_out(model, env_name, held_out, env_kwargs, int(protocol["episodes"]),
                               bool(protocol["deterministic"]), 8, normalizer=normalizer, seed=seed + 200_000)
    names = list(held_out)
    rows = []
    for name, r in result.records:
        rows.append({"step": step, "eval_id": counters["eval_id"], "split": "held_out", "name": name,
                     "task_index": names.index(name), "return": r.episode_return, "length": r.length,
                     "success": r.success, "mastered": r.mastered})
    writers["eval"].extend(rows)
    return result.solved


def _spec_env(name: str, kwargs: dict[str, Any]) -> Any:
    """One unwrapped env instance to read the task space, test set and held-out levels."""
    from envs.registry import make_env

    env = make_env(name, **kwargs)
    return env.unwrapped



__all__ = ["RunInterrupted", "RunPlan", "final_normalizer", "normalizer_stats", "run", "run_dir_for"]
