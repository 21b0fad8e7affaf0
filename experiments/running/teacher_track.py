"""The simulated-student teacher track: rank teachers in seconds (issue 3).

Runs every teacher of ``configs/track.yaml`` × seeds on one variant of the simulated
student (:class:`envs.toy.student.SimulatedStudent`, config group ``toy``), in worker
processes, and prints the leaderboard: % of cells mastered vs episodes, mean ± std over
seeds. The student is driven directly (no gymnasium, no SB3): one episode is one
``teacher.sample()`` → ``student.practise()`` → ``teacher.update()``.

Each run is a run directory in the format of real runs (CONTRIBUTING.md "Run directory":
``config.yaml``, ``episodes/``, ``eval/``, ``teacher/`` Parquet parts, ``status.json``,
``summary.json`` last), named ``toy-<variant>__<teacher label>__sim__s<seed>__<config id>``
(:mod:`experiments.rundir`: the id covers the teacher's parameters, the toy variant, the
episode budget and the scoring period), so ``teachbench-leaderboard`` and the analysis
API read the track like any other experiment, and a rerun with other settings is a new
run. A track run takes seconds, so it keeps no checkpoints: an unfinished run is
restarted (its partial parts are removed) and a finished one is skipped. Each run
directory is locked while it runs (:class:`experiments.rundir.RunLock`).

A run that fails (an expert-knowledge teacher on a variant without expert knowledge, a
teacher's bad parameter) is returned *as data*, ``{"state": "failed", "error": ...}``,
by the worker, never raised across the process pool: the track ends, prints the
teachers that finished and lists the failures. Bad track arguments (``seeds=0``,
``only=<unknown>``, ``eval_every=0``, ...) are one line naming the key, exit status 2.

Evaluation does not train: the test set is every cell centre (docs/references.md#simulated-student), a test
task's return is the competence/100 of its cell and "mastered" is competence > 75.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
import time
from typing import Any, Mapping

import numpy as np
import pandas as pd

from envs.errors import TeachBenchError
from experiments.running.curves import area_under_curve
from experiments.code_version import LOADED as CODE_LOADED
from experiments.host import host_info
from experiments.rundir import RunDir, RunLock, config_id, table_scalars, write_json
from experiments.tables import TableWriter

log = logging.getLogger(__name__)

STUDENT = "sim"


def _env_name(variant: str) -> str:
    return f"toy-{variant}"


# -- one run --------------------------------------------------------------------------------
def run_one(spec: Mapping[str, Any]) -> dict[str, Any]:
    """One teacher × seed × toy variant; writes its run directory and returns the summary.

    ``spec`` keys: runs_dir, experiment, variant, toy_kwargs, label, teacher (registry
    name), params, seed, episodes, eval_every, resume, write_episodes. Raises on failure;
    :func:`run_one_safely` turns failures into data.
    """
    seed = int(spec["seed"])
    episodes, eval_every = int(spec["episodes"]), int(spec["eval_every"])
    config = {
        "name": spec["experiment"], "seed": seed, "track": {"episodes": episodes, "eval_every": eval_every},
        "env": {"name": _env_name(spec["variant"]), "family": "toy", "variant": spec["variant"],
                "kwargs": dict(spec["toy_kwargs"])},
        "teacher": {"name": spec["label"], "registry": spec["teacher"], "params": dict(spec["params"])},
        "student": {"algo": STUDENT},
        "budget": {"steps": episodes},
        "eval": {"every": eval_every},
    }
    rd = RunDir.for_run(spec["runs_dir"], spec["experiment"], _env_name(spec["variant"]), spec["label"], STUDENT,
                        seed, config_id(config))
    if rd.finished and spec.get("resume", True):
        return {**(rd.summary() or {}), "skipped": True}
    rd.create()
    lock = RunLock(rd.lock_path)
    lock.acquire()
    try:
        return _run_locked(spec, rd, config)
    finally:
        lock.release()


def _run_locked(spec: Mapping[str, Any], rd: RunDir, config: dict[str, Any]) -> dict[str, Any]:
    from envs.toy.student import SimulatedStudent
    from omegaconf import OmegaConf
    from teachers.base import Episode
    from teachers.registry import make_teacher

    if rd.finished and spec.get("resume", True):  # finished by another process meanwhile
        return {**(rd.summary() or {}), "skipped": True}
    rd.summary_path.unlink(missing_ok=True)
    for table in ("episodes", "eval", "teacher"):
        TableWriter(rd.path / table).truncate_after(0)  # restart unfinished runs from scratch
    seed = int(spec["seed"])
    episodes, eval_every = int(spec["episodes"]), int(spec["eval_every"])
    OmegaConf.save(OmegaConf.create(config), rd.config_path)
    rd.set_status("running", step=0)
    t_start = time.perf_counter()
    try:
        student = SimulatedStudent(**spec["toy_kwargs"], seed=seed)
        space = student.task_space()
        teacher = make_teacher(spec["teacher"], space, seed=seed, **spec["params"])
        t_start = time.perf_counter()  # wall time counts the episodes, not imports and set-up
        names = space.names
        test_cells = student.test_cells()
        test_tasks = [space.from_unit(u) for u in student.test_tasks()]
        writers = {t: rd.writer(t, flush_every=10**9) for t in ("episodes", "eval", "teacher")}
        steps, curve = [], []
        teacher_s = 0.0

        def evaluate(step: int, eval_id: int) -> None:
            comp = np.array([student.competence_of(c) for c in test_cells])
            mastered = comp > student.mastery_threshold
            rows = []
            for i, (task, c, m) in enumerate(zip(test_tasks, comp, mastered)):
                row = {"step": step, "eval_id": eval_id, "split": "test", "name": f"test_{i}", "task_index": i,
                       "return": float(c) / 100.0, "length": 1, "success": bool(m), "mastered": bool(m)}
                row.update({f"task.{k}": v for k, v in task.items()})
                rows.append(row)
            writers["eval"].extend(rows)
            steps.append(step)
            curve.append(100.0 * float(mastered.mean()))
            writers["teacher"].append({"step": step, "episodes": step, **table_scalars(teacher.diagnostics())})

        evaluate(0, 0)
        buf: dict[str, list[Any]] = {k: [] for k in ("return", "success")}
        tasks = np.empty((eval_every, len(names)))
        start = 0
        for ep in range(episodes):
            t0 = time.perf_counter()
            task = teacher.sample()
            teacher_s += time.perf_counter() - t0
            u = space.to_unit(task)
            reward, success = student.practise(u)
            t0 = time.perf_counter()
            teacher.update(Episode(task=task, episode_return=reward, length=1, success=success, global_step=ep + 1,
                                   episode_id=ep))
            teacher_s += time.perf_counter() - t0
            tasks[ep - start] = [task[n] for n in names]
            buf["return"].append(reward)
            buf["success"].append(success)
            if (ep + 1) % eval_every == 0 or ep + 1 == episodes:
                if spec.get("write_episodes", True):
                    n = ep + 1 - start
                    frame = {"episode_id": np.arange(start, ep + 1), "global_step": np.arange(start + 1, ep + 2),
                             "env_index": np.zeros(n, dtype=int), "length": np.ones(n, dtype=int),
                             "episode_return": buf["return"], "success": buf["success"]}
                    frame.update({f"task.{k}": tasks[:n, j] for j, k in enumerate(names)})
                    writers["episodes"].extend(pd.DataFrame(frame).to_dict("records"))
                    writers["episodes"].flush()
                buf = {k: [] for k in buf}
                start = ep + 1
                evaluate(ep + 1, len(steps))
                for w in ("eval", "teacher"):
                    writers[w].flush()
        for w in writers.values():
            w.flush()
        summary = {
            "state": "finished", "env": _env_name(spec["variant"]), "teacher": spec["label"],
            "teacher_registry": spec["teacher"], "student": STUDENT, "seed": seed, "experiment": spec["experiment"],
            "steps": episodes, "budget_steps": episodes, "episodes": episodes,
            "final_mastered": curve[-1], "auc_mastered": area_under_curve(steps, curve, episodes),
            "final_return": float(np.mean([student.competence_of(c) for c in test_cells]) / 100.0),
            "curve_steps": steps, "curve_mastered": curve, "test_tasks": len(test_tasks),
            "teacher_time_s": teacher_s, "wall_time_s": time.perf_counter() - t_start,
            "teacher_diagnostics": table_scalars(teacher.diagnostics()),
            "host": host_info(),
            "code": dict(CODE_LOADED),
        }
        rd.write_summary(summary)
        rd.set_status("finished", step=episodes)
        return summary
    except Exception as exc:
        rd.set_status_best_effort("failed", error=f"{type(exc).__name__}: {exc}")
        raise


def run_one_safely(spec: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`run_one`, with any failure returned as ``{"state": "failed", ...}``: a
    process pool then always gets a plain dict back (an exception crossing it must be
    picklable, and one that was not left the track waiting forever)."""
    try:
        return run_one(spec)
    except Exception as exc:  # noqa: BLE001 - failures are data here, reported by the track
        return {"state": "failed", "teacher": spec.get("label"), "teacher_registry": spec.get("teacher"),
                "seed": int(spec.get("seed", 0)), "env": _env_name(str(spec.get("variant"))), "student": STUDENT,
                "experiment": spec.get("experiment"), "error": f"{type(exc).__name__}: {exc}"}


# -- the track ------------------------------------------------------------------------------
def _int_arg(cfg: Any, key: str, minimum: int) -> int:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TeachBenchError(key, f"must be an integer, got {value!r}")
    if value < minimum:
        raise TeachBenchError(key, f"must be >= {minimum}, got {value}")
    return value


def validate_track(cfg: Any) -> None:
    """Raise :class:`TeachBenchError` for the first bad track argument."""
    for key, minimum in (("seeds", 1), ("episodes", 1), ("eval_every", 1), ("workers", 1), ("seed_offset", 0)):
        _int_arg(cfg, key, minimum)
    if int(cfg.eval_every) > int(cfg.episodes):
        raise TeachBenchError("eval_every", f"must be <= episodes ({cfg.episodes}), got {cfg.eval_every}")
    for key in ("resume", "write_episodes"):
        if not isinstance(cfg.get(key, True), bool):
            raise TeachBenchError(key, f"must be true or false, got {cfg.get(key)!r}", ["true", "false"])
    name = cfg.get("name")
    if not isinstance(name, str) or not name or "/" in name or name.startswith((".", "_")):
        raise TeachBenchError("name", f"must be a non-empty name without '/', got {name!r}")
    runs_dir = cfg.get("runs_dir")
    if not isinstance(runs_dir, str) or not runs_dir.strip():
        raise TeachBenchError("runs_dir", f"must be a folder, got {runs_dir!r}")
    if cfg.get("teachers") is None or not len(cfg.teachers):
        raise TeachBenchError("teachers", "no teacher to run")


def _only(cfg: Any) -> list[str]:
    """``only=[a,b]``, or ``only=a`` (one label, not its letters)."""
    from omegaconf import ListConfig

    only = cfg.get("only")
    if only is None:
        return []
    if isinstance(only, str):
        return [only] if only else []
    if isinstance(only, (list, tuple, ListConfig)):
        return [str(o) for o in only]
    raise TeachBenchError("only", f"must be a teacher label or a list of them, got {only!r}")


def track_specs(cfg: Any) -> list[dict[str, Any]]:
    """Every (teacher, seed) run of a composed track config, longest teachers first."""
    from omegaconf import OmegaConf

    validate_track(cfg)
    teachers = OmegaConf.to_container(cfg.teachers, resolve=True)
    only = _only(cfg)
    unknown = [o for o in only if o not in teachers]
    if unknown:
        raise TeachBenchError("only", f"unknown teacher label {unknown[0]!r}", sorted(teachers))
    labels = only or list(teachers)
    toy = OmegaConf.to_container(cfg.toy, resolve=True)
    specs = []
    for label in labels:
        entry = teachers[label]
        if "name" not in entry:
            raise TeachBenchError(f"teachers.{label}.name", "missing teacher registry name")
        for s in range(int(cfg.seeds)):
            specs.append({
                "runs_dir": str(cfg.runs_dir), "experiment": str(cfg.name), "variant": str(toy["name"]),
                "toy_kwargs": dict(toy.get("kwargs") or {}), "label": label, "teacher": entry["name"],
                "params": dict(entry.get("params") or {}), "seed": int(cfg.seed_offset) + s,
                "episodes": int(cfg.episodes), "eval_every": int(cfg.eval_every), "resume": bool(cfg.resume),
                "write_episodes": bool(cfg.get("write_episodes", True)),
            })
    # long runs first so the last worker is not left alone with a slow teacher
    specs.sort(key=lambda s: s["teacher"] == "random")
    return specs


def _init_worker() -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass


def run_specs(specs: list[dict[str, Any]], workers: int) -> list[dict[str, Any]]:
    """Run specs in ``workers`` forked processes (1: in this process)."""
    if workers <= 1 or len(specs) <= 1:
        _init_worker()
        return [run_one_safely(s) for s in specs]
    ctx = mp.get_context("fork")
    with ctx.Pool(processes=workers, initializer=_init_worker) as pool:
        return list(pool.imap(run_one_safely, specs, chunksize=1))


def leaderboard(summaries: list[dict[str, Any]], at: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Mean ± std over seeds of % mastered at several episode counts, per teacher
    (finished runs only; failed ones are in :func:`failures`)."""
    rows = []
    by_teacher: dict[str, list[dict[str, Any]]] = {}
    for s in summaries:
        if s.get("state", "finished") != "finished":
            continue
        by_teacher.setdefault(s["teacher"], []).append(s)
    for label, runs in by_teacher.items():
        steps = runs[0]["curve_steps"]
        curves = np.array([r["curve_mastered"] for r in runs])
        points = at or tuple(sorted({steps[len(steps) // 4], steps[len(steps) // 2], steps[-1]}))
        row: dict[str, Any] = {"teacher": label, "seeds": len(runs)}
        for p in points:
            j = int(np.searchsorted(steps, p))
            col = curves[:, min(j, len(steps) - 1)]
            row[f"mastered@{p}"] = f"{col.mean():.1f} ± {col.std(ddof=1) if len(col) > 1 else 0.0:.1f}"
        final = curves[:, -1]
        auc = np.array([r["auc_mastered"] for r in runs])
        row["final_mean"] = float(final.mean())
        row["final_std"] = float(final.std(ddof=1)) if len(final) > 1 else 0.0
        row["auc"] = f"{auc.mean():.1f} ± {auc.std(ddof=1) if len(auc) > 1 else 0.0:.1f}"
        row["teacher_s/run"] = float(np.mean([r["teacher_time_s"] for r in runs]))
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=["teacher", "seeds", "final_mean", "final_std", "auc"])
    table = pd.DataFrame(rows).sort_values("final_mean", ascending=False).reset_index(drop=True)
    random = table.loc[table["teacher"] == "random", "final_mean"]
    if len(random) and random.iloc[0] > 0:
        table["x_random"] = table["final_mean"] / random.iloc[0]
    return table


def run_track(cfg: Any) -> pd.DataFrame:
    """Run a composed track config; write ``leaderboard.csv`` beside the runs; return it."""
    specs = track_specs(cfg)
    t0 = time.perf_counter()
    summaries = run_specs(specs, int(cfg.workers))
    wall = time.perf_counter() - t0
    table = leaderboard(summaries)
    table.attrs["failures"] = failures(summaries)
    out = RunDir.for_run(cfg.runs_dir, cfg.name, "x", "x", "x", 0).path.parent
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"leaderboard_{cfg.toy.name}.csv", index=False)
    write_json(out / f"track_{cfg.toy.name}.json", {"wall_time_s": wall, "runs": len(specs),
                                                    "workers": int(cfg.workers),
                                                    "failed": table.attrs["failures"]})
    table.attrs["wall_time_s"] = wall
    return table


def failures(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The failed runs of a track: teacher, seed and error of each."""
    return [{"teacher": s.get("teacher"), "seed": s.get("seed"), "error": s.get("error")}
            for s in summaries if s.get("state", "finished") != "finished"]


def format_table(table: pd.DataFrame, variant: str, wall: float | None = None) -> str:
    head = f"teacher track: toy={variant}"
    if wall is not None:
        head += f"  ({wall:.1f} s wall)"
    lines = [head]
    if len(table):
        shown = table.drop(columns=["final_std"]).rename(columns={"final_mean": "final%"})
        lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    else:
        lines.append("no run finished")
    for f in table.attrs.get("failures", []):
        lines.append(f"failed: {f['teacher']} seed {f['seed']}: {f['error']}")
    return "\n".join(lines)


def _check_argv(argv: list[str]) -> None:
    """Hydra creates ``${runs_dir}/_hydra/...`` before the track starts: an empty
    ``runs_dir=`` would create ``/_hydra`` at the filesystem root. Refuse it first."""
    for arg in argv:
        key, equals, value = arg.lstrip("+~").partition("=")
        if key == "runs_dir" and equals and value.strip() in ("", "null", "''", '""'):
            print("teachbench-track: error: runs_dir: must be a folder, got an empty value", file=sys.stderr)
            sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    """Console script ``teachbench-track`` (Hydra app over configs/track.yaml). Bad input
    (a Hydra composition error or a TeachBenchError) is one line and exit status 2
    (:func:`experiments.running.cli.hydra_main`)."""
    import hydra
    from omegaconf import DictConfig

    from experiments.running.cli import hydra_main, refuse_bad_input

    _check_argv(sys.argv[1:] if argv is None else list(argv))

    @hydra.main(version_base="1.3", config_path="../../configs", config_name="track")
    @refuse_bad_input
    def _app(cfg: DictConfig) -> None:
        try:
            table = run_track(cfg)
        except TeachBenchError as exc:
            print(f"teachbench-track: error: {exc}", file=sys.stderr)
            sys.exit(2)
        print(format_table(table, str(cfg.toy.name), table.attrs.get("wall_time_s")))
        if table.empty:
            sys.exit(1)  # every run failed

    return hydra_main("teachbench-track", _app, argv, "track", check=track_specs)  # refused before Hydra starts


if __name__ == "__main__":
    raise SystemExit(main())
