"""Record (or check) everything PLR, PLR⊥ and ACCEL hand out and keep, for a fixed seed.

A guard for speed work on the level buffer (issue 18): the teachers are driven through
several thousand episodes of 1024 batched mazes with random actions, as
``bench_teacher_step.py`` drives them (episodes held back and delivered per rollout, a
stand-in regret), and the script records a digest of every hand-out of every vector step
and of the teacher's whole state dict after every delivery. Save a trace with the code
before a change, check it after: any difference in a replayed level, its order, a score or
a checkpoint entry is reported with the first rollout where it appears.

    python benchmarks/trace_level_replay.py --save /tmp/trace.json    # before
    python benchmarks/trace_level_replay.py --check /tmp/trace.json   # after

Configurations: the three teachers as configured for ``gridworld_batched`` (stand-in
regret ``1 - return``: mostly ties, as random play mostly fails), and small buffers
(300 levels: hundreds of replacements) with noisy regrets rounded to 0.1 (ties again),
negative MaxMC-like scores, power prioritisation, ``score_alpha < 1`` and the
proportionate schedule; halfway, each buffer goes through a JSON checkpoint round trip.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import envs  # noqa: E402,F401
from _config import env_config, teacher_config  # noqa: E402
from envs.gridworld.level import LEVELS  # noqa: E402
from students.bridge import Curriculum  # noqa: E402
from students.regret import level_editor  # noqa: E402
from students.vec import make_vec_env  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402

#: (label, teacher, parameter overrides, regret: "standin" | "noisy" | "noisy_negative")
CONFIGS = (
    ("plr", "plr", {}, "standin"),
    ("plr_robust", "plr_robust", {}, "standin"),
    ("accel", "accel", {}, "standin"),
    ("plr_small_alpha_prop", "plr", {"buffer_size": 300, "score_alpha": 0.6, "replay_schedule": "proportionate"},
     "noisy"),
    ("plr_robust_small_power", "plr_robust", {"buffer_size": 300, "prioritization": "power", "temperature": 0.5},
     "noisy"),
    ("accel_small_maxmc", "accel", {"buffer_size": 300, "score": "maxmc", "staleness_coef": 0.5, "min_fill": 0.2},
     "noisy_negative"),
)


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=repr).encode()).hexdigest()[:16]


def trace(label: str, teacher_name: str, overrides: dict, regret: str, n_envs: int, steps: int, rollout: int) -> dict:
    name, kwargs, _, _ = env_config("gridworld_batched")
    LEVELS.clear()
    vec = make_vec_env(name, kwargs, n_envs, "batched", seed=0)
    try:
        registry, params = teacher_config(teacher_name, "gridworld_batched")
        params.update(overrides)
        teacher = make_teacher(registry, vec.get_attr("task_space", indices=[0])[0], seed=0, **params)
        if "level_editor" in teacher.needs:
            teacher.level_editor = level_editor
        curriculum = Curriculum(teacher, vec)
        curriculum.defer_updates = True
        noise = np.random.default_rng(123)
        held: list = []

        def score(episode, _i, _info):  # noqa: ANN001, ANN202
            r = 1.0 - float(episode.episode_return)
            if regret != "standin":
                r = round(r + float(noise.normal(0.0, 0.5)), 1)
                if regret == "noisy_negative":
                    r -= 0.5
                elif teacher.buffer.prioritization == "power":
                    r = abs(r)
            episode.regret = r
            held.append(episode)

        curriculum.episode_hooks.append(score)
        handed: list = []
        real_sample = teacher.sample

        def recorded_sample():  # noqa: ANN202
            task = real_sample()
            handed.append(task)
            return task

        teacher.sample = recorded_sample
        curriculum.prime()
        vec.reset()
        actions = np.random.default_rng(0).integers(3, size=(steps, n_envs))
        rollouts, states = [], []
        for t in range(steps):
            _, _, dones, infos = vec.step(actions[t])
            curriculum.on_step(dones, infos, t * n_envs)
            if (t + 1) % rollout == 0:
                curriculum.deliver(sorted(held, key=lambda e: e.episode_id))
                held.clear()
                if hasattr(teacher, "on_rollout_end"):  # ACCEL's edits
                    teacher.on_rollout_end()
                state = json.loads(json.dumps(teacher.state_dict()["algo"], default=repr))
                rollouts.append(_digest(handed))
                states.append(_digest(state))
                handed.clear()
                if t + 1 == (steps // rollout // 2) * rollout:  # a checkpoint round trip of the buffer
                    teacher.buffer.load_state_dict(state["buffer"])
        final = json.loads(json.dumps(teacher.state_dict(), default=repr))
        buf = teacher.buffer
        print(f"{label:<26} episodes={curriculum.next_episode_id} buffer={len(buf)} replaced={buf.n_replaced} "
              f"rejected={buf.n_rejected} replayed={teacher.n_replayed}", flush=True)
        return {"handouts": rollouts, "states": states, "final": final}
    finally:
        vec.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--save", type=Path, help="write the trace here")
    what.add_argument("--check", type=Path, help="compare with the trace saved here")
    parser.add_argument("--n-envs", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=3072)
    parser.add_argument("--rollout", type=int, default=64)
    parser.add_argument("--only", nargs="*", default=None, help="labels to run (default: all)")
    args = parser.parse_args()
    saved = json.loads(args.check.read_text()) if args.check else {}
    out, failed = {}, []
    for label, teacher, overrides, regret in CONFIGS:
        if args.only and label not in args.only:
            continue
        got = trace(label, teacher, overrides, regret, args.n_envs, args.steps, args.rollout)
        out[label] = got
        if args.check:
            ref = saved[label]
            for part in ("handouts", "states"):
                bad = [k for k, (a, b) in enumerate(zip(ref[part], got[part])) if a != b]
                if bad or len(ref[part]) != len(got[part]):
                    failed.append(f"{label}: {part} differ from rollout {bad[0] if bad else 'count'}")
            if ref["final"] != got["final"]:
                failed.append(f"{label}: final state dict differs")
    if args.save:
        args.save.write_text(json.dumps(out))
        print(f"saved {args.save}")
    elif failed:
        print("DIFFERENT:\n  " + "\n  ".join(failed))
        sys.exit(1)
    else:
        print("identical: every hand-out, every state dict")


if __name__ == "__main__":
    main()
