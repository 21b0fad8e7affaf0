"""The scripted climber (envs/parkour/scripted.py) on a flat track and on TMA's climbing test set.

Writes ``scripted_climber.json`` (per-episode results), ``parkour_scripted_climber.gif``
(the flat-track climb, every ``--frame-every``-th frame, downscaled by ``--scale``) and
``parkour_scripted_climber.png`` (one full-size frame), and prints the summary table of
the README.

    PYTHONPATH=. python experiments/results/parkour_2026-11-30/scripted_climber.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import envs  # noqa: F401  (registers TeachBench ids)
from envs.parkour import test_sets
from envs.parkour.scripted import ClimberController
from envs.registry import make_env
from envs.walker.video import record_episode, write_video

HERE = Path(__file__).parent
BODY = "climbing_profile_chimpanzee"
# the tests' flat level: CPPN relief divided by 10^4, creepers 0.2 high every 5 units; with
# ceiling_offset 2e5 px the ceiling stays TMA's 20 units (200 px / scale 10) above the ground
FLAT = "parkour:-0.15,0.8,0.1,0.0,0.25,0.0,5.0,10000.0"
FLAT_KWARGS = {"body": BODY, "ceiling_offset": 2e5}


def play(kwargs: dict[str, Any], level: str, seed: int) -> dict[str, Any]:
    env = make_env("parkour", **kwargs)
    obs, _ = env.reset(seed=seed, options={"level": level})
    u = env.unwrapped
    x0, controller, ret, died = u.agent.head.position[0], ClimberController(), 0.0, False
    for step in range(1, 10**6):
        obs, r, terminated, truncated, info = env.step(controller(obs))
        ret += r
        died |= r == -100.0
        if terminated or truncated:
            break
    out = {"level": level, "seed": seed, "steps": step, "return": round(ret, 2), "mastered": ret > 230,
           "died": died, "finished": bool(terminated and not died),
           "distance": round(float(u.agent.head.position[0] - x0), 2), "grips": controller.grips}
    env.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flat-seeds", type=int, default=10)
    parser.add_argument("--frame-every", type=int, default=8)
    parser.add_argument("--scale", type=int, default=2)
    args = parser.parse_args()

    flat = [play(FLAT_KWARGS, FLAT, seed) for seed in range(args.flat_seeds)]
    climbing = [play({"body": BODY}, level, 0) for level in test_sets.levels("climbing")]
    rows = []
    for name, eps in (("flat track, seeds 0-%d" % (args.flat_seeds - 1), flat), ("TMA climbing test set (100 levels, seed 0)", climbing)):
        rows.append({"episodes": name, "n": len(eps), "mastered %": 100 * np.mean([e["mastered"] for e in eps]),
                     "finished %": 100 * np.mean([e["finished"] for e in eps]),
                     "died %": 100 * np.mean([e["died"] for e in eps]),
                     "mean return": float(np.mean([e["return"] for e in eps])),
                     "mean distance": float(np.mean([e["distance"] for e in eps])),
                     "mean steps": float(np.mean([e["steps"] for e in eps]))})
    print("| episodes | n | mastered (return > 230) | finished | died | mean return | mean distance | mean steps |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['episodes']} | {r['n']} | {r['mastered %']:.0f}% | {r['finished %']:.0f}% | {r['died %']:.0f}% "
              f"| {r['mean return']:.1f} | {r['mean distance']:.1f} | {r['mean steps']:.0f} |")

    env = make_env("parkour", render_mode="rgb_array", **FLAT_KWARGS)
    raw, summary = record_episode(env, ClimberController(), {"level": FLAT}, seed=0, max_steps=2000,
                                  frame_every=args.frame_every)
    env.close()
    small = [np.asarray(Image.fromarray(f).resize((f.shape[1] // args.scale, f.shape[0] // args.scale),
                                                  Image.LANCZOS)) for f in raw]
    gif = write_video(small, HERE / "parkour_scripted_climber.gif", fps=50 / args.frame_every)
    Image.fromarray(raw[len(raw) // 3]).save(HERE / "parkour_scripted_climber.png")
    gif_info = {"level": FLAT, "kwargs": FLAT_KWARGS, "seed": 0, "steps": summary["length"],
                "return": round(summary["return"], 2), "frames": len(small), "frame_every": args.frame_every,
                "gif_bytes": gif.stat().st_size}
    print(json.dumps(gif_info))
    (HERE / "scripted_climber.json").write_text(json.dumps(
        {"summary": rows, "gif": gif_info, "flat": flat, "climbing_test_set": climbing}, indent=1) + "\n")


if __name__ == "__main__":
    main()
