"""Run directories in the real on-disk format (RunDir, TableWriter, summary.json), written
without training, so that leaderboard and analysis tests know the true numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from omegaconf import OmegaConf

from experiments.rundir import RunDir
from experiments.running.run import area_under_curve


def fake_run(root: Path, *, experiment: str = "exp", env: str = "gridworld", teacher: str = "random",
             student: str = "ppo", seed: int = 0, skill: float = 0.5, budget: int = 1000,
             eval_steps: Sequence[int] = (0, 250, 500, 750, 1000), n_tasks: int = 20, state: str = "finished",
             held_out: dict[str, float] | None = None, error: str | None = None) -> RunDir:
    """One run whose test task i (at x_i, y_i in [0,1]^2) is mastered at eval step s when
    ``skill * s / budget >= (x_i + y_i) / 2``: easy corner first, more with skill and time."""
    rng = np.random.default_rng(1000 + seed)
    rd = RunDir.for_run(root, experiment, env, teacher, student, seed)
    rd.create()
    OmegaConf.save(OmegaConf.create({"name": experiment, "env": {"name": env}, "teacher": {"name": teacher},
                                     "student": {"algo": student}, "seed": seed, "budget": {"steps": budget}}),
                   rd.config_path)
    task_rng = np.random.default_rng(7)  # the same test set in every run
    xs, ys = task_rng.random(n_tasks), task_rng.random(n_tasks)
    evals, episodes = rd.writer("eval"), rd.writer("episodes")
    shown = list(eval_steps) if state == "finished" else list(eval_steps)[: max(1, len(eval_steps) // 2)]
    curve = []
    for eval_id, step in enumerate(shown):
        mastered = skill * step / budget >= (xs + ys) / 2
        curve.append(100.0 * mastered.mean())
        evals.extend({"step": step, "eval_id": eval_id, "split": "test", "name": f"test_{i}", "task_index": i,
                      "return": float(mastered[i]), "length": 10, "success": bool(mastered[i]),
                      "mastered": bool(mastered[i]), "task.x": float(xs[i]), "task.y": float(ys[i])}
                     for i in range(n_tasks))
    for ep in range(40 if state == "finished" else 10):
        step = int((ep + 1) * budget / 40)
        # a "teacher" that moves from the easy corner outwards over time
        centre = 0.2 + 0.6 * step / budget if teacher != "random" else 0.5
        episodes.append({"episode_return": float(rng.random()), "length": 10, "success": bool(rng.random() < 0.5),
                         "global_step": step, "env_index": 0, "episode_id": ep,
                         "task.x": float(np.clip(rng.normal(centre, 0.1), 0, 1)),
                         "task.y": float(np.clip(rng.normal(centre, 0.1), 0, 1))})
    evals.flush()
    episodes.flush()
    diag = rd.writer("teacher")
    diag.extend({"step": s, "episodes": i, "n_fits": i} for i, s in enumerate(shown))
    diag.flush()
    if state == "finished":
        held = held_out or {}
        rd.write_summary({"state": "finished", "env": env, "teacher": teacher, "student": student, "seed": seed,
                          "experiment": experiment, "steps": budget, "budget_steps": budget, "episodes": 40,
                          "final_mastered": curve[-1],
                          "auc_mastered": area_under_curve(np.array(shown), np.array(curve), budget),
                          "held_out_solved": held, "wall_time_s": 1.0 + seed})
        rd.set_status("finished", step=budget)
    elif state == "failed":
        rd.set_status("failed", error=error or "RuntimeError: boom")
    else:
        rd.set_status("running", step=shown[-1])
    return rd
