"""Parameterized environments: TaskSpace, the env contract and gymnasium registration.

Importing ``envs`` registers every TeachBench env under the ``TeachBench/`` namespace.
"""

from envs.errors import TeachBenchError
from envs.registry import ENV_IDS, gym_id, make_env, register_benchmark_env
from envs.task_space import Dim, Task, TaskSpace

from envs import _register  # noqa: F401  (side effect: gymnasium registration)

__all__ = ["Dim", "ENV_IDS", "Task", "TaskSpace", "TeachBenchError", "gym_id", "make_env", "register_benchmark_env"]
