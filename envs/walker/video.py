"""A gif (or mp4) of a policy playing one walker task, for the analysis tools.

The policy is any callable ``obs -> action`` or an object with SB3's
``predict(obs, deterministic=True)``; ``obs_transform`` lets a caller apply a
``VecNormalize``'s ``normalize_obs`` first. GIFs are written with Pillow (a matplotlib
dependency, so always present); ``.mp4`` needs ``imageio`` with its ffmpeg plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import gymnasium as gym
import numpy as np

from envs.errors import TeachBenchError

Policy = Callable[[np.ndarray], np.ndarray]


def _act(policy: Any, obs: np.ndarray) -> np.ndarray:
    if hasattr(policy, "predict"):
        action, _ = policy.predict(obs, deterministic=True)
        return np.asarray(action)
    return np.asarray(policy(obs))


def record_episode(env: gym.Env, policy: Any, task: Mapping[str, Any] | None = None, seed: int = 0,
                   max_steps: int = 2000, frame_every: int = 2,
                   obs_transform: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Play one episode with ``render_mode="rgb_array"`` and keep every ``frame_every``-th frame.

    Returns the frames and a summary ``{"return", "length", "success", "task"}``.
    """
    if getattr(env, "render_mode", None) != "rgb_array":
        raise TeachBenchError("render_mode", "recording needs an env made with render_mode='rgb_array'")
    if frame_every < 1:
        raise TeachBenchError("frame_every", f"must be >= 1, got {frame_every}")
    obs, info = env.reset(seed=seed, options={"task": dict(task)} if task is not None else None)
    frames = [env.render()]
    total, length, success = 0.0, 0, False
    for t in range(max_steps):
        x = obs_transform(obs) if obs_transform is not None else obs
        obs, reward, terminated, truncated, info = env.step(_act(policy, x))
        total += float(reward)
        length += 1
        if (t + 1) % frame_every == 0 or terminated or truncated:
            frames.append(env.render())
        if terminated or truncated:
            success = bool(info.get("success", False))
            break
    return frames, {"return": total, "length": length, "success": success, "task": info.get("task")}


def write_video(frames: list[np.ndarray], path: str | Path, fps: float = 25.0) -> Path:
    """Write frames (H x W x 3 uint8) to ``path`` (``.gif``, or ``.mp4`` with imageio)."""
    path = Path(path)
    if not frames:
        raise TeachBenchError("frames", "no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        from PIL import Image

        images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(round(1000 / fps)), loop=0)
    elif path.suffix.lower() == ".mp4":
        try:
            import imageio.v2 as imageio
        except ImportError:
            raise TeachBenchError("path", "writing .mp4 needs `pip install imageio imageio-ffmpeg`; use .gif") from None
        imageio.mimsave(path, frames, fps=fps)
    else:
        raise TeachBenchError("path", f"unknown video suffix {path.suffix!r}", [".gif", ".mp4"])
    return path


def policy_video(env_name: str, policy: Any, task: Mapping[str, Any] | None, path: str | Path, seed: int = 0,
                 env_kwargs: Mapping[str, Any] | None = None, max_steps: int = 2000, frame_every: int = 2,
                 obs_transform: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, Any]:
    """Make the benchmark env ``env_name`` with rendering, record ``policy`` on ``task`` and
    write the video to ``path``. Returns the episode summary plus ``"path"``."""
    from envs.registry import make_env

    env = make_env(env_name, render_mode="rgb_array", **dict(env_kwargs or {}))
    try:
        frames, summary = record_episode(env, policy, task, seed, max_steps, frame_every, obs_transform)
    finally:
        env.close()
    fps = env.metadata.get("render_fps", 50) / frame_every
    summary["path"] = str(write_video(frames, path, fps=fps))
    return summary
