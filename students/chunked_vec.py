"""A SubprocVecEnv with several envs per worker process (issue 18: the walker at 16+ cores).

SB3's ``SubprocVecEnv`` runs one env per process, so every vector step costs the main
process one pipe round trip (pickled action out; observation, reward and info back) per
env, one after the other. For the Box2D walker (a step of ~100-200 µs) those round
trips are a large part of a step, and they grow with the number of envs, while the
policy's forward pass over all envs is one call whatever their number. Here each worker
process steps a ``DummyVecEnv`` of ``envs_per_worker`` envs: one round trip per worker per
vector step, and more envs per forward pass for the same number of processes.

Semantics are SB3's: env ``i`` is the ``i``-th thunk, auto-reset with
``info["terminal_observation"]`` (done inside each worker by ``DummyVecEnv``), seeds and
reset options per env, ``env_method`` / ``get_attr`` / ``set_attr`` / ``env_is_wrapped``
with global indices (the curriculum bridge's ``set_next_task`` reaches the right env).
``tests/test_chunked_vec.py`` steps it side by side with a ``DummyVecEnv`` of the same
thunks and compares everything.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import defaultdict
from typing import Any, Callable, Iterable, Sequence

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv
from stable_baselines3.common.vec_env.base_vec_env import (CloudpickleWrapper, VecEnv, VecEnvIndices, VecEnvObs,
                                                           VecEnvStepReturn)

from envs.errors import TeachBenchError


def _worker(remote: Any, parent_remote: Any, fns: CloudpickleWrapper) -> None:
    parent_remote.close()
    vec = DummyVecEnv(fns.var)
    try:
        while True:
            cmd, data = remote.recv()
            if cmd == "step":
                vec.step_async(data)
                remote.send(vec.step_wait())
            elif cmd == "reset":
                seeds, options = data
                vec._seeds = list(seeds)  # noqa: SLF001 - DummyVecEnv reads them in reset()
                vec._options = list(options)  # noqa: SLF001
                obs = vec.reset()
                remote.send((obs, list(vec.reset_infos)))
            elif cmd == "get_attr":
                remote.send(vec.get_attr(data[0], data[1]))
            elif cmd == "set_attr":
                vec.set_attr(data[0], data[1], data[2])
                remote.send(None)
            elif cmd == "env_method":
                name, args, kwargs, indices = data
                remote.send(vec.env_method(name, *args, indices=indices, **kwargs))
            elif cmd == "is_wrapped":
                remote.send(vec.env_is_wrapped(data[0], data[1]))
            elif cmd == "spaces":
                remote.send((vec.observation_space, vec.action_space))
            elif cmd == "close":
                vec.close()
                remote.close()
                break
            else:
                raise NotImplementedError(f"`{cmd}` is not implemented in the chunked worker")
    except (EOFError, KeyboardInterrupt):
        pass


def worker_layout(n_envs: int, envs_per_worker: int, start_method: str | None,
                  key: str) -> tuple[list[list[int]], list[tuple[int, int]], Any]:
    """The envs' split over worker processes: ``chunks[w]`` = the global indices worker ``w``
    steps (``envs_per_worker`` each, the last one fewer), ``where[i]`` = (worker, position)
    of env ``i``, and the multiprocessing context (forkserver where available, as SB3)."""
    if int(envs_per_worker) < 1:
        raise TeachBenchError(key, f"must be >= 1, got {envs_per_worker}")
    k = int(envs_per_worker)
    chunks = [list(range(s, min(s + k, n_envs))) for s in range(0, n_envs, k)]
    where = [(w, j) for w, chunk in enumerate(chunks) for j in range(len(chunk))]
    if start_method is None:
        start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    return chunks, where, mp.get_context(start_method)


class ChunkedSubprocVecEnv(VecEnv):
    """``len(env_fns)`` envs in ``ceil(len / envs_per_worker)`` worker processes.

    Args:
        env_fns: one thunk per env (``students.vec.env_factory``), as for SubprocVecEnv.
        envs_per_worker: envs stepped by each worker (the last worker may hold fewer).
        start_method: multiprocessing start method (None: forkserver where available, as SB3).
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], envs_per_worker: int = 2,
                 start_method: str | None = None) -> None:
        self.chunks, self._where, ctx = worker_layout(len(env_fns), envs_per_worker, start_method, "envs_per_worker")
        self.remotes, self.work_remotes = zip(*[ctx.Pipe() for _ in self.chunks])
        self.processes = []
        for chunk, work_remote, remote in zip(self.chunks, self.work_remotes, self.remotes):
            fns = CloudpickleWrapper([env_fns[i] for i in chunk])
            process = ctx.Process(target=_worker, args=(work_remote, remote, fns), daemon=True)
            process.start()
            self.processes.append(process)
            work_remote.close()
        self.remotes[0].send(("spaces", None))
        observation_space, action_space = self.remotes[0].recv()
        self.closed = False
        self.waiting = False
        super().__init__(len(env_fns), observation_space, action_space)

    # -- stepping -------------------------------------------------------------------------
    def step_async(self, actions: np.ndarray) -> None:
        for remote, chunk in zip(self.remotes, self.chunks):
            remote.send(("step", actions[chunk[0]:chunk[-1] + 1]))
        self.waiting = True

    def step_wait(self) -> VecEnvStepReturn:
        results = [remote.recv() for remote in self.remotes]
        self.waiting = False
        obs, rewards, dones, infos = zip(*results)
        return (_concat_obs(obs), np.concatenate(rewards), np.concatenate(dones),
                [info for part in infos for info in part])

    def reset(self) -> VecEnvObs:
        for remote, chunk in zip(self.remotes, self.chunks):
            remote.send(("reset", ([self._seeds[i] for i in chunk], [self._options[i] for i in chunk])))
        results = [remote.recv() for remote in self.remotes]
        obs, infos = zip(*results)
        self.reset_infos = [info for part in infos for info in part]
        self._reset_seeds()
        self._reset_options()
        return _concat_obs(obs)

    def close(self) -> None:
        if self.closed:
            return
        if self.waiting:
            for remote in self.remotes:
                remote.recv()
        for remote in self.remotes:
            remote.send(("close", None))
        for process in self.processes:
            process.join()
        self.closed = True

    # -- per-env calls, routed to the workers by global index -----------------------------
    def _by_worker(self, indices: VecEnvIndices) -> tuple[list[int], dict[int, list[int]]]:
        idx = list(self._get_indices(indices))
        groups: dict[int, list[int]] = defaultdict(list)
        for i in idx:
            w, j = self._where[i]
            groups[w].append(j)
        return idx, groups

    def _gather(self, idx: list[int], groups: dict[int, list[int]], replies: dict[int, list[Any]]) -> list[Any]:
        """Replies in the order of the requested indices."""
        taken: dict[int, int] = defaultdict(int)
        out = []
        for i in idx:
            w = self._where[i][0]
            out.append(replies[w][taken[w]])
            taken[w] += 1
        return out

    def _call(self, cmd: str, make: Callable[[list[int]], Any], indices: VecEnvIndices) -> list[Any]:
        idx, groups = self._by_worker(indices)
        for w, local in groups.items():
            self.remotes[w].send((cmd, make(local)))
        replies = {w: self.remotes[w].recv() for w in groups}
        return self._gather(idx, groups, replies)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return self._call("get_attr", lambda local: (attr_name, local), indices)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        _, groups = self._by_worker(indices)
        for w, local in groups.items():
            self.remotes[w].send(("set_attr", (attr_name, value, local)))
        for w in groups:
            self.remotes[w].recv()

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        return self._call("env_method", lambda local: (method_name, method_args, method_kwargs, local), indices)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return self._call("is_wrapped", lambda local: (wrapper_class, local), indices)

    def _get_indices(self, indices: VecEnvIndices) -> Iterable[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, (int, np.integer)):
            return [int(indices)]
        return [int(i) for i in indices]


def _concat_obs(parts: Sequence[Any]) -> Any:
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)
