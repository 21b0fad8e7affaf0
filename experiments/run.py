"""One run: env x teacher x student x seed, from a resolved config to a run directory.

The loop (DESIGN.md): the teacher samples a task for each sub-env ahead of time, the SB3
student learns, every finished episode goes back to the teacher and into
``episodes/``; every ``eval.every`` steps the deterministic policy plays the env's test
set (``eval/``); teacher diagnostics go to ``teacher/``; checkpoints at rollout
boundaries let a killed run continue with no episode lost or counted twice; and
``summary.json``, written last, marks the run finished.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from stable_baselines3.common.vec_env import VecNormalize

from envs.errors import TeachBenchError
from experiments.config_checks import identity_config, resolved_config, validate_config
from experiments.curves import area_under_curve
from experiments.rundir import RunDir, table_scalars, write_json
from experiments.safe_config import load_run_config
from experiments.sinks import make_sink
from students.bridge import Curriculum, CurriculumCallback
from students.build import load_student, make_student
from students.evaluate import evaluate
from students.regret import attach_teacher_needs
from students.threads import pin_threads
from students.values import InitialValueTracker
from students.vec import make_vec_env
from teachers.base import Episode
from teachers.registry import make_teacher

log = logging.getLogger("teachbench.run")


def env_label(cfg: DictConfig) -> str:
    """The env config's own name (``gridworld_small``), which names runs and rows; several
    configs may build the same registered env (``env.name``) with other settings."""
    return str(cfg.env.get("label") or cfg.env.name)


def run_dir_for(cfg: DictConfig) -> RunDir:
    return RunDir.for_run(cfg.runs_dir, cfg.name, env_label(cfg), cfg.teacher.name, cfg.student.algo, cfg.seed)


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

    def latest(self) -> Path | None:
        import json

        pointer = self.directory / "latest.json"
        if not pointer.exists():
            return None
        target = self.directory / json.loads(pointer.read_text())["dir"]
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


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run (or resume, or skip when finished) one experiment; returns its summary."""
    try:
        validate_config(cfg)
    except TeachBenchError as exc:
        _record_invalid(cfg, exc)
        raise
    rd = run_dir_for(cfg)
    if rd.finished and cfg.resume:
        log.info("run already finished, skipping: %s", rd.path)
        return rd.summary() or {}
    identity = identity_config(cfg)
    if rd.config_path.exists():
        saved = load_run_config(rd.path)  # only our own classes: a copied run dir cannot run code
        saved_identity = identity_config(saved)
        never_trained = rd.status().get("state") == "failed" and _Checkpointer(rd.checkpoint_dir).latest() is None
        if saved_identity != identity and never_trained:
            shutil.rmtree(rd.path)  # a failed start with nothing to lose: start again with the new config
        elif saved_identity != identity:
            diff = [k for k in sorted(set(saved_identity) | set(identity)) if saved_identity.get(k) != identity.get(k)]
            raise TeachBenchError(
                diff[0] if diff else "config",
                f"the run directory {rd.path} holds a run with a different config (differs in {diff}); "
                "choose another name= or delete that directory",
            )
        if not cfg.resume:
            shutil.rmtree(rd.path, ignore_errors=True)
    rd.create()
    OmegaConf.save(OmegaConf.create(resolved_config(cfg)), rd.config_path)
    handler = _attach_file_log(rd.log_path)
    try:
        rd.set_status("running", step=0)
        summary = _train(cfg, rd)
        rd.write_summary(summary)
        rd.set_status("finished", step=summary["steps"])
        log.info("finished %s: %.1f%% mastered, AUC %.1f", rd.path, summary["final_mastered"], summary["auc_mastered"])
        return summary
    except BaseException as exc:  # noqa: BLE001 - record every failure, then re-raise
        rd.set_status("failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        raise
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def _record_invalid(cfg: DictConfig, exc: TeachBenchError) -> None:
    """Leave a failed run directory for an invalid config when its identity is known, so a
    sweep's leaderboard shows the run as failed with the error instead of omitting it."""
    try:
        rd = run_dir_for(cfg)
    except Exception:  # noqa: BLE001 - identity keys themselves are broken: nothing to record
        return
    if rd.finished:
        return
    rd.create()
    OmegaConf.save(OmegaConf.create(resolved_config(cfg)), rd.config_path)
    rd.set_status("failed", error=f"{type(exc).__name__}: {exc}")


def _train(cfg: DictConfig, rd: RunDir) -> dict[str, Any]:
    pin_threads(cfg.torch_threads)
    t_start = time.perf_counter()
    env_cfg = cfg.env
    env_kwargs = OmegaConf.to_container(env_cfg.kwargs, resolve=True) if env_cfg.get("kwargs") else {}
    seed = int(cfg.seed)
    vec = make_vec_env(env_cfg.name, env_kwargs, int(env_cfg.n_envs), str(env_cfg.vec_env), seed=seed,
                       normalize=bool(env_cfg.get("normalize", False)))
    spec_env = _spec_env(env_cfg.name, env_kwargs)
    task_space = spec_env.task_space
    test_tasks = list(spec_env.test_tasks())
    held_out = dict(spec_env.held_out()) if cfg.eval.held_out else {}
    spec_env.close()

    teacher_params = OmegaConf.to_container(cfg.teacher.params, resolve=True) if cfg.teacher.get("params") else {}
    teacher = make_teacher(cfg.teacher.name, task_space, seed=seed, **teacher_params)

    env_students = OmegaConf.to_container(env_cfg.students, resolve=True) if env_cfg.get("students") else {}
    student_params = OmegaConf.to_container(cfg.student.params, resolve=True) if cfg.student.get("params") else {}
    device = _device(cfg.device, env_cfg, cfg.student.get("policy"))

    writers = {name: rd.writer(name, flush_every=int(cfg.log.flush_every)) for name in ("episodes", "eval", "teacher")}
    sink = make_sink(cfg, rd)
    ckpt = _Checkpointer(rd.checkpoint_dir)
    latest = ckpt.latest() if cfg.resume else None
    state: dict[str, Any] = {}
    if latest is not None:
        try:
            state = torch.load(latest / "state.pt", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - a refused or torn checkpoint is bad input, named as such
            raise TeachBenchError("checkpoint", f"{latest / 'state.pt'} cannot be loaded safely "
                                  f"({type(exc).__name__}; torch.load(weights_only=True) refused it). Checkpoints "
                                  "are only read from this run's own directory: delete it to start over") from None
        fresh = make_student(cfg.student.algo, vec, policy=cfg.student.get("policy"), params=student_params,
                             env_defaults=env_students, seed=seed, device=device)
        model = load_student(str(latest / "model.zip"), fresh, vec, device=device)
        teacher.load_state_dict(state["teacher"])
        _load_normalizer(vec, state.get("normalizer"))
        for name, w in writers.items():
            w.truncate_after(int(state["tables"][name]))
        torch.set_rng_state(state["torch_rng"])
        log.info("resuming %s from step %d (%d episodes so far)", rd.path, state["step"], state["next_episode_id"])
    else:
        for w in writers.values():
            w.truncate_after(0)
        model = make_student(cfg.student.algo, vec, policy=cfg.student.get("policy"), params=student_params,
                             env_defaults=env_students, seed=seed, device=device)

    def record_episode(ep: Episode) -> None:
        writers["episodes"].append(ep.to_record())
        sink.episode(ep)

    curriculum = Curriculum(teacher, vec, sinks=[record_episode])
    curriculum.next_episode_id = int(state.get("next_episode_id", 0))

    budget = int(cfg.budget.steps)
    counters = {
        "next_eval": int(state.get("next_eval", 0)),
        "next_diag": int(state.get("next_diag", 0)),
        "next_ckpt": int(state.get("next_ckpt", int(cfg.checkpoint.every))),
        "eval_id": int(state.get("eval_id", 0)),
        "wall_before": float(state.get("wall_time_s", 0.0)),
    }
    normalizer = vec if isinstance(vec, VecNormalize) else None

    def run_eval(step: int) -> dict[str, float]:
        records = evaluate(model, env_cfg.name, test_tasks, env_kwargs, int(cfg.eval.episodes_per_task),
                           int(cfg.eval.n_envs), normalizer=normalizer, seed=seed + 100_000)
        rows = []
        for r in records:
            row = {"step": step, "eval_id": counters["eval_id"], "split": "test", "name": f"test_{r.task_index}",
                   "task_index": r.task_index, "return": r.episode_return, "length": r.length,
                   "success": r.success, "mastered": r.mastered}
            row.update({f"task.{k}": v for k, v in r.task.items()})
            rows.append(row)
        writers["eval"].extend(rows)
        sink.eval_table(step, rows)
        mastered = 100.0 * float(np.mean([r.mastered for r in records])) if records else float("nan")
        mean_return = float(np.mean([r.episode_return for r in records])) if records else float("nan")
        metrics = {"eval/mastered_pct": mastered, "eval/mean_return": mean_return}
        sink.metrics(step, metrics)
        log.info("step %d eval %d: %.1f%% of %d test tasks mastered, mean return %.3f", step, counters["eval_id"],
                 mastered, len(test_tasks), mean_return)
        counters["eval_id"] += 1
        return metrics

    def periodic(step: int) -> None:
        if step >= counters["next_eval"]:
            run_eval(step)
            counters["next_eval"] = step + int(cfg.eval.every)
        if step >= counters["next_diag"]:
            diag = {"step": step, "episodes": curriculum.next_episode_id, **table_scalars(teacher.diagnostics())}
            writers["teacher"].append(diag)
            sink.metrics(step, {f"teacher/{k}": v for k, v in diag.items() if k != "step"})
            counters["next_diag"] = step + int(cfg.log.diagnostics_every)

    def checkpoint(step: int) -> None:
        if step < counters["next_ckpt"] or step == 0:
            return
        seqs = {name: w.flush() for name, w in writers.items()}
        ckpt.save(step, model, {
            "step": step, "teacher": teacher.state_dict(), "pending": curriculum.pending(),
            "next_episode_id": curriculum.next_episode_id, "tables": seqs,
            "next_eval": counters["next_eval"], "next_diag": counters["next_diag"],
            "next_ckpt": step + int(cfg.checkpoint.every), "eval_id": counters["eval_id"],
            "wall_time_s": counters["wall_before"] + time.perf_counter() - t_start,
            "torch_rng": torch.get_rng_state(), "normalizer": _normalizer_state(vec),
        }, extra_models)
        counters["next_ckpt"] = step + int(cfg.checkpoint.every)
        rd.set_status("running", step=step)

    callback = CurriculumCallback(curriculum, periodic=[periodic], at_rollout_start=[checkpoint])
    if "value" in teacher.needs and hasattr(model.policy, "predict_values"):
        callback.value_tracker = InitialValueTracker(model, vec.num_envs)
        curriculum.episode_hooks.append(callback.value_tracker.hook)
    attachment = attach_teacher_needs(teacher, model, curriculum, callback)  # regret, PLR⊥ masking, antagonist
    curriculum.prime(state.get("pending"))  # after the needs: PAIRED's first levels come from its adversary
    extra_models: dict[str, Any] = {}
    if attachment.antagonist is not None:
        extra_models["antagonist"] = attachment.antagonist.model
        if latest is not None and (latest / "antagonist.zip").exists():
            ant = attachment.antagonist
            ant.model = load_student(str(latest / "antagonist.zip"), ant.model, ant.vec_env, device=device)
            extra_models["antagonist"] = ant.model
    remaining = budget - int(model.num_timesteps)
    progress = cfg.log.progress_bar
    show_bar = sys.stderr.isatty() if str(progress) == "auto" else bool(progress)
    try:
        if remaining > 0:
            model.learn(total_timesteps=remaining, callback=callback, reset_num_timesteps=latest is None,
                        progress_bar=show_bar)
        steps = int(model.num_timesteps)
        final = run_eval(steps)
        held = _held_out_eval(model, env_cfg.name, env_kwargs, held_out, normalizer, seed, steps, counters, writers)
        diag = {"step": steps, "episodes": curriculum.next_episode_id, **table_scalars(teacher.diagnostics())}
        writers["teacher"].append(diag)
    finally:
        for w in writers.values():
            w.flush()
        vec.close()
    evals = rd.read("eval")
    test = evals[evals["split"] == "test"] if not evals.empty else evals
    curve = test.groupby("step")["mastered"].mean() * 100.0 if not test.empty else None
    summary = {
        "state": "finished",
        "env": env_label(cfg), "env_name": env_cfg.name, "teacher": cfg.teacher.name, "student": cfg.student.algo, "seed": seed,
        "experiment": cfg.name, "steps": steps, "budget_steps": budget, "episodes": curriculum.next_episode_id,
        "final_mastered": final["eval/mastered_pct"], "final_return": final["eval/mean_return"],
        "auc_mastered": area_under_curve(curve.index.to_numpy(), curve.to_numpy(), budget) if curve is not None else None,
        "held_out_solved": held,
        "test_tasks": len(test_tasks),
        "wall_time_s": counters["wall_before"] + time.perf_counter() - t_start,
        "resumed": latest is not None,
        "teacher_diagnostics": table_scalars(teacher.diagnostics()),
    }
    sink.finish(summary)
    return summary


def _held_out_eval(model: Any, env_name: str, env_kwargs: dict[str, Any], held_out: Mapping[str, Any],
                   normalizer: Any, seed: int, step: int, counters: dict[str, Any], writers: dict[str, Any]) -> dict[str, float]:
    """Zero-shot evaluation on the env's named held-out tasks/levels: solved rate per name."""
    if not held_out:
        return {}
    names = list(held_out)
    tasks = [held_out[n] if isinstance(held_out[n], Mapping) else {"level": held_out[n]} for n in names]
    records = evaluate(model, env_name, tasks, env_kwargs, 1, 8, normalizer=normalizer, seed=seed + 200_000)
    solved = {}
    rows = []
    for r in records:
        name = names[r.task_index]
        solved[name] = float(r.mastered)
        rows.append({"step": step, "eval_id": counters["eval_id"], "split": "held_out", "name": name,
                     "task_index": r.task_index, "return": r.episode_return, "length": r.length,
                     "success": r.success, "mastered": r.mastered})
    writers["eval"].extend(rows)
    return solved


def _spec_env(name: str, kwargs: dict[str, Any]) -> Any:
    """One unwrapped env instance to read the task space, test set and held-out levels."""
    from envs.registry import make_env

    env = make_env(name, **kwargs)
    return env.unwrapped



__all__ = ["run", "run_dir_for"]
