"""The maze gridworld: levels, generation from a task, the MiniGrid env, the batched
NumPy VecEnv, the PAIRED designer env and hand-made held-out mazes."""

from envs.gridworld.generate import generate_level, maze_task_space
from envs.gridworld.level import Level, mutate

__all__ = ["Level", "generate_level", "maze_task_space", "mutate"]
