"""Run directories -> one pandas row per run: the results side's only door to the runs.

Everything the results side knows about a run comes through here (and through
:mod:`experiments.rundir`, the format both sides share, and
:func:`experiments.safe_config.load_run_config`, which reads a run's ``config.yaml`` without
trusting it): identity, state and the summary's numbers. The leaderboard, the analysis API
and the report are built on :func:`collect_runs`, so they read a sweep that is still
going, a copied folder of runs and the simulated-student track alike, and none of them
imports the run side (tests/test_import_graph.py).

It was the reading half of the leaderboard module; it stands alone so that the analysis
API can load runs without importing the leaderboard (which used to make a circle
analysis -> leaderboard -> report -> analysis).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from experiments.host import UNKNOWN, host_label
from experiments.reporting import validity
from experiments.rundir import RunDir, config_id
from experiments.safe_config import load_run_config

NAMES = ["experiment", "env", "student", "teacher"]
GROUP = [*NAMES, "config_id", "budget_steps"]
METRICS = ("final_mastered", "auc_mastered", "held_out_solved")
HOST_KEYS = ("hostname", "cpu", "cores", "cpu_count", "gpu", "gpus", "python", "torch")
STATES = ("finished", "running", "interrupted", "failed", "incomplete", "unreadable")


# -- reading run directories ----------------------------------------------------------------
def find_run_dirs(root: str | Path) -> list[RunDir]:
    """Every run directory below ``root`` (a folder holding ``config.yaml`` and a status).
    Folders whose name starts with ``.`` or ``_`` (Hydra's ``_hydra``, our ``_leaderboard``)
    are not searched."""
    root = Path(root)
    if not root.exists():
        return []
    found = []
    for cfg in sorted(root.rglob("config.yaml")):
        rel = cfg.parent.relative_to(root).parts if cfg.parent != root else ()
        if any(p.startswith((".", "_")) for p in rel):
            continue
        if not ((cfg.parent / "status.json").exists() or (cfg.parent / "summary.json").exists()):
            continue
        found.append(RunDir(cfg.parent))
    return found


def _select(cfg: Any, key: str) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.select(cfg, key, default=None)


def _run_state(rd: RunDir, summary: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """finished | running | failed | incomplete. ``running`` means "not finished and
    last seen running": a killed run reads the same until it is resumed."""
    status = rd.status()
    if summary is not None:
        steps, budget = summary.get("steps"), summary.get("budget_steps")
        if summary.get("state", "finished") != "finished":
            return "incomplete", status
        if isinstance(steps, (int, float)) and isinstance(budget, (int, float)) and steps < budget:
            return "incomplete", {**status, "error": f"summary reports {steps} of {budget} steps"}
        return "finished", status
    if rd.summary_path.exists():
        return "incomplete", {**status, "error": "summary.json is unreadable (rerun the same command to redo it)"}
    state = status.get("state", "missing")
    if state in ("running", "failed", "interrupted"):
        return state, status
    return "incomplete", status


def _host_columns(host: Any) -> dict[str, Any]:
    """``summary.host`` (experiments/host.py) as flat columns: ``host`` (the label the
    leaderboard counts seeds by; ``unknown`` for summaries from before it) and ``host_*``."""
    block = host if isinstance(host, Mapping) else {}
    return {"host": host_label(block), **{f"host_{k}": block.get(k) for k in HOST_KEYS}}


ENV_DERIVED_TEACHER_PARAMS = ("expert", "reward_bounds")
"""Teacher params that the teacher configs fill in from the env config (``configs/teacher/*.yaml``:
the env's expert knowledge, and ALP-GMM's ``reward_bounds: ${oc.select:env.reward_range,...}``)."""


def _without_env_params(teacher: Any) -> Any:
    """A run's teacher config without the params it takes from the env
    (:data:`ENV_DERIVED_TEACHER_PARAMS`): they are the env's (easy task, target, success
    threshold, reward range), and already count in ``settings_id``. Without them, ADR on the
    gridworld and ADR on the walker are one teacher setting across envs, as Random is, and the
    across-env table pools them; a schedule scaled per env (SPDL's offset) still splits a row."""
    if not isinstance(teacher, Mapping) or not isinstance(teacher.get("params"), Mapping):
        return teacher
    return {**teacher, "params": {k: v for k, v in teacher["params"].items() if k not in ENV_DERIVED_TEACHER_PARAMS}}


def collect_runs(root: str | Path) -> pd.DataFrame:
    """One row per run: identity, state, progress, and the summary's numbers when finished.

    Identity comes from the summary when there is one (it names what actually ran), else
    from the saved config. A run directory whose config cannot be read is kept, with state
    ``unreadable``: a leaderboard that silently drops runs would hide failures."""

    rows: list[dict[str, Any]] = []
    for rd in find_run_dirs(root):
        row: dict[str, Any] = {"path": str(rd.path), "run": rd.path.name}
        try:
            cfg = load_run_config(rd.path)
        except Exception as exc:  # noqa: BLE001 - reported in the table, not raised
            row.update(state="unreadable", error=f"config.yaml: {type(exc).__name__}: {exc}")
            rows.append(row)
            continue
        summary = rd.summary()
        state, status = _run_state(rd, summary)
        src = summary or {}
        data = OmegaConf.to_container(cfg, resolve=False)
        row.update({
            "experiment": src.get("experiment", _select(cfg, "name")),
            "env": src.get("env", _select(cfg, "env.label") or _select(cfg, "env.name")),
            "student": src.get("student", _select(cfg, "student.algo")) or "-",
            "teacher": src.get("teacher", _select(cfg, "teacher.name")),
            "seed": int(src.get("seed", _select(cfg, "seed") or 0)),
            "state": state,
            "error": status.get("error"),
            "step": status.get("step"),
            "budget_steps": _select(cfg, "budget.steps"),
            "config_id": config_id(data),
            "settings_id": config_id({k: v for k, v in data.items() if k != "teacher"}),
            "teacher_id": config_id({"teacher": _without_env_params(data.get("teacher"))}),
            "eval_episodes_per_task": validity.eval_episodes_per_task(cfg),  # NaN for the exact toy test below
            "student_network": validity.student_verdict(_select(cfg, "env.name"), _select(cfg, "student.algo"),
                                                        _select(cfg, "student.policy")),
            "reference_network": validity.reference_network(_select(cfg, "env.name"), _select(cfg, "student.algo")),
        })
        row.update(_host_columns(src.get("host")))
        code = src.get("code") if isinstance(src.get("code"), Mapping) else {}
        row.update({"code_version": code.get("version"), "code_commit": code.get("commit")})  # None before 2026-11-30
        if summary:
            row.update({k: v for k, v in summary.items() if not isinstance(v, (dict, list)) and k not in row})
            row["state"] = state
            held = summary.get("held_out_solved") or {}
            row["held_out_solved"] = 100.0 * float(np.mean(list(held.values()))) if held else math.nan
            # does this run measure an algorithm (experiments/reporting/validity.py)
            registry = src.get("teacher_registry") or _select(cfg, "teacher.registry") or row["teacher"]
            exact = row["student"] in validity.EXACT_EVAL_STUDENTS  # the simulated student: no gradient, exact test
            row["gradient_updates"] = math.nan if exact else validity.gradient_updates(rd.path, summary)
            updates = validity.teacher_updates(registry, summary.get("teacher_diagnostics"))
            row["teacher_updates"] = math.nan if updates is None else updates
            row["teacher_updated"] = validity.updated_verdict(updates)
            row["teacher_code"] = validity.code_verdict(registry, src.get("code"), experiment=row["experiment"])
        if row["student"] in validity.EXACT_EVAL_STUDENTS:
            row["eval_episodes_per_task"] = math.nan
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    for col in (*GROUP, "seed", "state", "error"):
        if col not in frame:
            frame[col] = None
    for col in ("gradient_updates", "teacher_updates", "eval_episodes_per_task"):
        if col not in frame:
            frame[col] = math.nan
    for col in ("teacher_updated", "teacher_code", "student_network", "reference_network"):
        if col not in frame:
            frame[col] = None
    frame["host"] = frame["host"].fillna(UNKNOWN) if "host" in frame else UNKNOWN  # unreadable rows
    for col in METRICS:
        if col not in frame:
            frame[col] = math.nan
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


__all__ = ["GROUP", "METRICS", "NAMES", "STATES", "collect_runs", "find_run_dirs"]
