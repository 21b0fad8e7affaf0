"""The simulated student of the teacher track (teachDeepRL's toy environment, extended).

:class:`~envs.toy.student.SimulatedStudent` is the fast pure-numpy student the track runner
drives directly; :class:`~envs.toy.toy_env.ToyEnv` wraps it as a one-step gymnasium env
(``TeachBench/Toy-v0``) for everything that expects an env.
"""

from envs.toy.student import SimulatedStudent

__all__ = ["SimulatedStudent"]
