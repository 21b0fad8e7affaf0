"""GIFs and PNG frames of the three Parkour bodies and of a hexagon track (issue #21's evidence).

Each clip is one episode played from reset with the env's own ``render_mode="rgb_array"``
renderer (600 x 400), every ``--frame-every``-th frame kept, downscaled by ``--scale`` and
written with :func:`envs.walker.video.write_video`. Levels come from the body's own TMA test
set (played as exact level strings), so each shows the feature that body is made for:

- ``old_classic_bipedal``: a walking-set level (dry, hilly CPPN ground, no creepers);
- ``fish``: a swimming-set level (water up to the ceiling);
- ``climbing_profile_chimpanzee``: a climbing-set level (ceiling with hanging creepers);
- hexagon: a task of TMA's 400-task hexagon test set, default body ``old_big_quadru``.

Policy: uniform random actions from a seeded generator; for the climber the two grasp
actions are held at 1 (``random_grasping``; with them random too, the seed-0 episode ended
after 90 steps, a fatal contact). No learned policy is shown.

    PYTHONPATH=. python experiments/results/parkour_2026-11-30/make_gifs.py \\
        --walking 25 --swimming 50 --climbing 0 --hexagon 200   # the committed clips
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

import envs  # noqa: F401  (registers TeachBench ids)
from envs.parkour import test_sets
from envs.registry import make_env
from envs.walker.hexagon import load_test_set
from envs.walker.video import record_episode, write_video

HERE = Path(__file__).parent


def random_policy(action_space: Any, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    return lambda obs: rng.uniform(action_space.low, action_space.high).astype(np.float32)


def random_grasping(action_space: Any, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """Uniform random motor actions with the climber's last two actions (grasp) held at 1:
    the body keeps hanging from the ceiling or a creeper instead of falling in ~90 steps."""
    rng = np.random.default_rng(seed)

    def act(obs: np.ndarray) -> np.ndarray:
        a = rng.uniform(action_space.low, action_space.high).astype(np.float32)
        a[-2:] = 1.0
        return a

    return act


def clip(name: str, env_name: str, kwargs: dict[str, Any], task: dict[str, Any], policy: str, seed: int,
         frames: int, frame_every: int, scale: int) -> dict[str, Any]:
    env = make_env(env_name, render_mode="rgb_array", **kwargs)
    try:
        act = (random_grasping if policy == "random_grasping" else random_policy)(env.action_space, seed)
        raw, summary = record_episode(env, act, task, seed=seed, max_steps=frames * frame_every,
                                      frame_every=frame_every)
        fps = env.metadata.get("render_fps", 50) / frame_every
    finally:
        env.close()
    small = [np.asarray(Image.fromarray(f).resize((f.shape[1] // scale, f.shape[0] // scale), Image.LANCZOS))
             for f in raw]
    gif = write_video(small, HERE / f"{name}.gif", fps=fps)
    Image.fromarray(raw[len(raw) // 2]).save(HERE / f"{name}.png")   # one full-size frame mid-clip
    return {"name": name, "env": env_name, "kwargs": kwargs, "task": task, "policy": policy, "seed": seed,
            "steps": summary["length"], "return": round(summary["return"], 2), "frames": len(small),
            "frame_every": frame_every, "gif_bytes": gif.stat().st_size, "gif_size_px": list(small[0].shape[1::-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--frame-every", type=int, default=2)
    parser.add_argument("--scale", type=int, default=2, help="downscale factor of the GIF frames")
    parser.add_argument("--walking", type=int, default=0, help="walking test-set row")
    parser.add_argument("--swimming", type=int, default=0, help="swimming test-set row")
    parser.add_argument("--climbing", type=int, default=0, help="climbing test-set row")
    parser.add_argument("--hexagon", type=int, default=200, help="row of TMA's 400-task hexagon test set")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    def level(kind: str, row: int) -> dict[str, Any]:
        return {"level": test_sets.levels(kind)[row]}

    jobs = [
        ("parkour_old_classic_bipedal", "parkour", {"body": "old_classic_bipedal"}, level("walking", args.walking),
         "random"),
        ("parkour_fish", "parkour", {"body": "fish"}, level("swimming", args.swimming), "random"),
        ("parkour_climbing_profile_chimpanzee", "parkour", {"body": "climbing_profile_chimpanzee"},
         level("climbing", args.climbing), "random_grasping"),
        ("hexagon_old_big_quadru", "walker_hexagon", {"body": "old_big_quadru"},
         load_test_set("tma")[args.hexagon], "random"),
    ]
    out = []
    for name, env_name, kwargs, task, policy in jobs:
        info = clip(name, env_name, kwargs, task, policy, args.seed, args.frames, args.frame_every, args.scale)
        info["test_row"] = {"parkour_old_classic_bipedal": args.walking, "parkour_fish": args.swimming,
                            "parkour_climbing_profile_chimpanzee": args.climbing}.get(name, args.hexagon)
        print(json.dumps(info))
        out.append(info)
    (HERE / "gifs.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
