"""Gymnasium registration of every TeachBench env (one line per env family).

Each env family adds its own ``register_benchmark_env`` calls here; entry points are
strings so that importing ``envs`` stays cheap (no Box2D or browser import).
"""

from envs.registry import BATCHED, register_benchmark_env

register_benchmark_env("gridworld", "TeachBench/Gridworld-v0", "envs.gridworld.maze_env:MazeEnv")
register_benchmark_env("toy", "TeachBench/Toy-v0", "envs.toy.toy_env:ToyEnv")
register_benchmark_env("walker_stumps", "TeachBench/WalkerStumps-v0", "envs.walker.stumps:WalkerStumpsEnv", max_episode_steps=2000)
register_benchmark_env("walker_obstacles", "TeachBench/WalkerObstacles-v0", "envs.walker.obstacles:WalkerObstaclesEnv", max_episode_steps=2000)
register_benchmark_env("walker_hexagon", "TeachBench/WalkerHexagon-v0", "envs.walker.hexagon:WalkerHexagonEnv", max_episode_steps=2000)
register_benchmark_env("parkour", "TeachBench/Parkour-v0", "envs.parkour.parkour_env:ParkourEnv", max_episode_steps=2000)
register_benchmark_env("webform", "TeachBench/WebForm-v0", "envs.webform.webform_env:WebFormEnv")
register_benchmark_env("gridworld_designer", "TeachBench/GridworldDesigner-v0", "envs.gridworld.designer:MazeDesignerEnv")

BATCHED["gridworld"] = "envs.gridworld.batched:BatchedMazeVecEnv"
