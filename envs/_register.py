"""Gymnasium registration of every TeachBench env (one line per env family).

Each env family adds its own ``register_benchmark_env`` calls here; entry points are
strings so that importing ``envs`` stays cheap (no Box2D or browser import).
"""

from envs.registry import register_benchmark_env

register_benchmark_env("gridworld", "TeachBench/Gridworld-v0", "envs.gridworld.maze_env:MazeEnv")
