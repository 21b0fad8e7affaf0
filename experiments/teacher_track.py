"""The simulated-student teacher track: rank teachers in seconds (issue 3).

Runs every teacher of ``configs/track.yaml`` × seeds on one variant of the simulated
student (:class:`envs.toy.student.SimulatedStudent`, config group ``toy``), in worker
processes, and prints the leaderboard: % of cells mastered vs episodes, mean ± std over
seeds. The student is driven directly (no gymnasium, no SB3): one episode is one
``teacher.sample()`` → ``student.practise()`` → ``teacher.update()``.

Each run is a run directory in the format of real runs (CONTRIBUTING.md "Run directory":
``config.yaml``, ``episodes/``, ``eval/``, ``teacher/`` Parquet parts, ``status.json``,
``summary.json`` last), named ``toy-<variant>__<teacher label>__sim__s<seed>``, so
``teachbench-leaderboard`` and the analysis API read the track like any other experiment.
A track run takes seconds, so it keeps no checkpoints: an unfinished run is restarted
(its partial parts are removed) and a finished one is skipped.

Evaluation does not train: the test set is every cell centre (REFERENCES §4), a test
task's return is the competence/100 of its cell and "mastered" is competence > 75.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from typing import Any, Mapping

import numpy as np
import pandas as pd

from envs.errors import TeachBenchError
from experiments.curves import area_under_curve
from experiments.rundir import RunDir, table_scalars, write_json
from experiments.tables import TableWriter

log = logging.getLogger(__name__)

STUDENT = "sim"


def _env_name(variant: str) -> str:
    return f"toy-{variant}"


# -- one run --------------------------------------------------------------------------------
def run_one(spec: Mapping[str, Any]) -> dict[str, Any]:
    """One teacher × seed × toy variant; writes its run directory and returns the summary.

    ``spec`` keys: runs_dir, experiment, variant, toy_kwargs, label, teacher (registry
    name), params, seed, episodes, eval_every, resume, write_episodes.
    """
    from envs.toy.student import SimulatedStudent
    from teachers.base import Episode
    from teachers.registry import make_teacher

    rd = RunDir.for_run(spec["runs_dir"], spec["experiment"], _env_name(spec["variant"]), spec["label"], STUDENT,
                        int(spec["seed"]))
    if rd.finished and spec.get("resume", True):
        return {**(rd.summary() or {}), "skipped": True}
    rd.create()
    for table in ("episodes", "eval", "teacher"):
        TableWriter(rd.path / table).truncate_after(0)  # restart unfinished runs from scratch
    seed = int(spec["seed"])
    episodes, eval_every = int(spec["episodes"]), int(spec["eval_every"])
    config = {
        "name": spec["experiment"], "seed": seed, "track": True,
        "env": {"name": _env_name(spec["variant"]), "family": "toy", "variant": spec["variant"],
                "kwargs": dict(spec["toy_kwargs"])},
        "teacher": {"name": spec["label"], "registry": spec["teacher"], "params": dict(spec["params"])},
        "student": {"algo": STUDENT},
        "budget": {"steps": episodes},
        "eval": {"every": eval_every},
    }
    from omegaconf import OmegaConf

    OmegaConf.save(OmegaConf.create(config), rd.config_path)
    rd.set_status("running", step=0)
    t_start = time.perf_counter()
    try:
        student = SimulatedStudent(**spec["toy_kwargs"], seed=seed)
        space = student.task_space()
        teacher = make_teacher(spec["teacher"], space, seed=seed, **spec["params"])
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
        }
        rd.write_summary(summary)
        rd.set_status("finished", step=episodes)
        return summary
    except Exception as exc:
        rd.set_status("failed", error=f"{type(exc).__name__}: {exc}")
        raise


# -- the track ------------------------------------------------------------------------------
def track_specs(cfg: Any) -> list[dict[str, Any]]:
    """Every (teacher, seed) run of a composed track config, longest teachers first."""
    from omegaconf import OmegaConf

    teachers = OmegaConf.to_container(cfg.teachers, resolve=True)
    only = list(cfg.get("only") or [])
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
        return [run_one(s) for s in specs]
    ctx = mp.get_context("fork")
    with ctx.Pool(processes=workers, initializer=_init_worker) as pool:
        return list(pool.imap(run_one, specs, chunksize=1))


def leaderboard(summaries: list[dict[str, Any]], at: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Mean ± std over seeds of % mastered at several episode counts, per teacher."""
    rows = []
    by_teacher: dict[str, list[dict[str, Any]]] = {}
    for s in summaries:
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
    out = RunDir.for_run(cfg.runs_dir, cfg.name, "x", "x", "x", 0).path.parent
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"leaderboard_{cfg.toy.name}.csv", index=False)
    write_json(out / f"track_{cfg.toy.name}.json", {"wall_time_s": wall, "runs": len(specs),
                                                    "workers": int(cfg.workers)})
    table.attrs["wall_time_s"] = wall
    return table


def format_table(table: pd.DataFrame, variant: str, wall: float | None = None) -> str:
    shown = table.drop(columns=["final_std"]).rename(columns={"final_mean": "final%"})
    head = f"teacher track: toy={variant}"
    if wall is not None:
        head += f"  ({wall:.1f} s wall)"
    return head + "\n" + shown.to_string(index=False, float_format=lambda v: f"{v:.2f}")


def main(argv: list[str] | None = None) -> int:
    """Console script ``teachbench-track`` (Hydra app over configs/track.yaml). Bad input
    (a Hydra composition error or a TeachBenchError) is one line and exit status 2
    (:func:`experiments.cli.hydra_main`)."""
    import hydra
    from omegaconf import DictConfig

    from experiments.cli import hydra_main, refuse_bad_input

    @hydra.main(version_base="1.3", config_path="../configs", config_name="track")
    @refuse_bad_input
    def _app(cfg: DictConfig) -> None:
        table = run_track(cfg)
        print(format_table(table, str(cfg.toy.name), table.attrs.get("wall_time_s")))

    return hydra_main("teachbench-track", _app, argv, "track", check=track_specs)  # refused before Hydra starts


if __name__ == "__main__":
    raise SystemExit(main())
