"""A subprocess VecEnv whose arrays travel through shared memory (issue 18: walker PPO on 16+ cores).

Profile of walker PPO with SB3's ``SubprocVecEnv`` (``benchmarks/profile_walker_ppo.py``):
the main process, which steps the policy, waits for one pipe round trip per env per
vector step, and each carries a pickled action out and a pickled observation, reward,
done and info back. ``students/chunked_vec.py`` cut that to one round trip per worker of
K envs, but still pickles the arrays, and each worker's ``DummyVecEnv`` deep-copies
its observations and infos on every step.

Here the per-step arrays never go through a pipe. One shared block (a file in
``/dev/shm``, mapped by every process and unlinked once all have mapped it, so nothing
leaks if a process dies) holds the actions, observations, rewards and dones of all
envs. A vector step is:

1. the main process writes the actions into the block and sends each worker the
   one-byte message ``b"s"``;
2. each worker steps its K envs (SB3's auto-reset: ``info["terminal_observation"]``,
   ``info["TimeLimit.truncated"]``, reset without seed or options), writes
   observations, rewards and dones into the block and sends back only the info dicts
   (and the reset infos of the envs it reset);
3. the main process copies the arrays out of the block.

The curriculum bridge's ``set_next_tasks(tasks, indices)`` (one teacher call per vector
step, ``students/bridge.py``) is sent without waiting for a reply: a pipe is FIFO, so a
worker queues the tasks before it runs the next step, exactly as a synchronous call
would. ``env_method`` / ``get_attr`` / ``set_attr`` / ``env_is_wrapped`` take global
indices as with every SB3 VecEnv.

What a caller sees is ``DummyVecEnv``'s: the same observations (the space's dtype),
float32 rewards, bool dones, per-env info dicts, ``reset_infos``, and seeds and options
used on the next ``reset`` only. ``tests/test_shm_vec.py`` steps it beside a
``DummyVecEnv`` of the same thunks and compares everything. Observations must be a
``Box`` (the walker's); actions a ``Box`` (written as its dtype, as SB3's clipped
float32 actions are), ``Discrete`` or ``MultiDiscrete`` (int64).

Why not gymnasium's ``AsyncVectorEnv(shared_memory=True)`` behind an SB3 adapter: it
runs one env per process and still sends a pickled step command and a pickled
``(reward, terminated, truncated, info)`` per env per step (the round trips this
module removes), and its ``call`` / ``set_attr`` address all envs at once, while the
bridge hands a task to one env.
"""

from __future__ import annotations

import mmap
import multiprocessing as mp
import os
import pickle
import tempfile
import traceback
from typing import Any, Callable, Iterable, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.env_util import is_wrapped
from stable_baselines3.common.vec_env.base_vec_env import CloudpickleWrapper, VecEnvObs, VecEnvStepReturn

from envs.errors import TeachBenchError
from students.chunked_vec import ChunkedSubprocVecEnv, worker_layout

_STEP = b"s"
_ALIGN = 64


class _WorkerError:
    """A worker's exception, sent in place of its reply. A failed step ends the worker (its
    envs are in an unknown state); a failed call (``get_attr`` of a missing attribute, as
    SB3's ``has_attr`` does) does not."""

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text = text


def _layout(n_envs: int, obs_space: spaces.Box, act_shape: tuple[int, ...], act_dtype: np.dtype
            ) -> tuple[int, dict[str, tuple[int, tuple[int, ...], np.dtype]]]:
    """Byte offset, shape and dtype of each array in the shared block, and its size."""
    arrays = {"obs": ((n_envs, *obs_space.shape), np.dtype(obs_space.dtype)),
              "actions": ((n_envs, *act_shape), np.dtype(act_dtype)),
              "rewards": ((n_envs,), np.dtype(np.float32)),
              "dones": ((n_envs,), np.dtype(bool))}
    out: dict[str, tuple[int, tuple[int, ...], np.dtype]] = {}
    offset = 0
    for name, (shape, dtype) in arrays.items():
        out[name] = (offset, shape, dtype)
        offset += -(-int(np.prod(shape)) * dtype.itemsize // _ALIGN) * _ALIGN
    return max(offset, _ALIGN), out


def _views(buffer: mmap.mmap, layout: dict[str, tuple[int, tuple[int, ...], np.dtype]]) -> dict[str, np.ndarray]:
    return {name: np.ndarray(shape, dtype=dtype, buffer=buffer, offset=offset)
            for name, (offset, shape, dtype) in layout.items()}


def _map(path: str, size: int) -> mmap.mmap:
    fd = os.open(path, os.O_RDWR)
    try:
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


def _action_format(space: gym.Space) -> tuple[tuple[int, ...], np.dtype]:
    if isinstance(space, spaces.Box):
        return tuple(space.shape), np.dtype(space.dtype)
    if isinstance(space, spaces.Discrete):
        return (), np.dtype(np.int64)
    if isinstance(space, spaces.MultiDiscrete):
        return tuple(space.shape), np.dtype(np.int64)
    raise TeachBenchError("env.vec_env", f"shm needs a Box, Discrete or MultiDiscrete action space, "
                          f"got {type(space).__name__}", ["subproc", "dummy"])


def _worker(remote: Any, parent_remote: Any, fns: CloudpickleWrapper, first: int) -> None:
    """Steps envs ``first .. first + len(fns) - 1`` of the vector (module docstring)."""
    parent_remote.close()
    envs: list[gym.Env] = []
    views: dict[str, np.ndarray] = {}
    try:
        envs = [fn() for fn in fns.var]
        while True:
            message = remote.recv_bytes()
            if message == _STEP:
                obs_buf, act_buf, rew_buf, done_buf = views["obs"], views["actions"], views["rewards"], views["dones"]
                infos, resets = [], {}
                for j, env in enumerate(envs):
                    g = first + j
                    obs, reward, terminated, truncated, info = env.step(act_buf[g].copy())
                    done = terminated or truncated
                    info["TimeLimit.truncated"] = truncated and not terminated
                    if done:
                        info["terminal_observation"] = obs
                        obs, resets[j] = env.reset()
                    obs_buf[g] = obs
                    rew_buf[g] = reward
                    done_buf[g] = done
                    infos.append(info)
                remote.send((infos, resets))
                continue
            cmd, data = pickle.loads(message)
            if cmd == "close":
                break
            try:
                reply = _command(envs, first, cmd, data, views)
            except Exception as exc:  # noqa: BLE001 - the caller raises it; the worker lives on
                reply = _WorkerError(type(exc).__name__, traceback.format_exc())
            if isinstance(reply, _WorkerError):
                remote.send(reply)
                if cmd == "set_next_tasks":  # a lost hand-out: the queue is wrong, stop (raised at the next reply)
                    break
            elif cmd == "attach":
                views = reply
                remote.send(None)
            elif cmd != "set_next_tasks":  # no reply (module docstring)
                remote.send(reply)
    except (EOFError, KeyboardInterrupt):
        pass
    except Exception as exc:  # noqa: BLE001 - a failed step: reported to the main process, which raises it
        try:
            remote.send(_WorkerError(type(exc).__name__, traceback.format_exc()))
        except (OSError, EOFError):
            pass
    finally:
        for env in envs:
            env.close()
        remote.close()


def _command(envs: list[gym.Env], first: int, cmd: str, data: Any, views: dict[str, np.ndarray]) -> Any:
    """Every command but a step: the reply to send (``attach``: the mapped views)."""
    if cmd == "attach":
        path, size, layout = data
        return _views(_map(path, size), layout)
    if cmd == "reset":
        seeds, options = data
        reset_infos = []
        for j, env in enumerate(envs):
            maybe_options = {"options": options[j]} if options[j] else {}
            obs, info = env.reset(seed=seeds[j], **maybe_options)
            views["obs"][first + j] = obs
            reset_infos.append(info)
        return reset_infos
    if cmd == "set_next_tasks":
        for j, task in data:
            envs[j].get_wrapper_attr("set_next_task")(task)
        return None
    if cmd == "env_method":
        name, args, kwargs, local = data
        return [envs[j].get_wrapper_attr(name)(*args, **kwargs) for j in local]
    if cmd == "get_attr":
        return [envs[j].get_wrapper_attr(data[0]) for j in data[1]]
    if cmd == "set_attr":
        for j in data[2]:
            setattr(envs[j], data[0], data[1])
        return [None] * len(data[2])
    if cmd == "is_wrapped":
        return [is_wrapped(envs[j], data[0]) for j in data[1]]
    if cmd == "spaces":
        return envs[0].observation_space, envs[0].action_space
    raise NotImplementedError(f"`{cmd}` is not implemented in the shared-memory worker")


class SharedMemoryVecEnv(ChunkedSubprocVecEnv):
    """``len(env_fns)`` envs in ``ceil(len / envs_per_worker)`` workers, arrays in shared memory.

    Args:
        env_fns: one thunk per env (``students.vec.env_factory``), as for SubprocVecEnv.
        envs_per_worker: envs stepped one after the other by each worker (the last may hold fewer).
        start_method: multiprocessing start method (None: forkserver where available, as SB3).
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], envs_per_worker: int = 1,
                 start_method: str | None = None) -> None:
        n = len(env_fns)
        self.chunks, self._where, ctx = worker_layout(n, envs_per_worker, start_method, "env.envs_per_worker")
        self.remotes, self.work_remotes = zip(*[ctx.Pipe() for _ in self.chunks])
        self.processes = []
        self.closed = False
        self.waiting = False
        for chunk, work_remote, remote in zip(self.chunks, self.work_remotes, self.remotes):
            fns = CloudpickleWrapper([env_fns[i] for i in chunk])
            process = ctx.Process(target=_worker, args=(work_remote, remote, fns, chunk[0]), daemon=True)
            process.start()
            self.processes.append(process)
            work_remote.close()
        try:
            observation_space, action_space = self._ask(0, ("spaces", None))
            if not isinstance(observation_space, spaces.Box):
                raise TeachBenchError("env.vec_env", f"shm needs a Box observation space, got "
                                      f"{type(observation_space).__name__}", ["subproc", "dummy"])
            act_shape, act_dtype = _action_format(action_space)
            size, layout = _layout(n, observation_space, act_shape, act_dtype)
            folder = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
            fd, path = tempfile.mkstemp(prefix="teachbench-vec-", dir=folder)
            try:
                os.ftruncate(fd, size)
                os.close(fd)
                self._buffer = _map(path, size)
                for remote in self.remotes:
                    remote.send(("attach", (path, size, layout)))
                self._recv_all(range(len(self.remotes)))
            finally:
                os.unlink(path)  # every process has mapped it: the memory lives until the last unmaps
        except BaseException:
            self._terminate()
            raise
        views = _views(self._buffer, layout)
        self._obs, self._actions, self._rewards, self._dones = (views["obs"], views["actions"], views["rewards"],
                                                                views["dones"])
        super(ChunkedSubprocVecEnv, self).__init__(n, observation_space, action_space)

    # -- replies ------------------------------------------------------------------------------
    def _recv(self, w: int) -> Any:
        try:
            reply = self.remotes[w].recv()
        except EOFError:
            raise RuntimeError(f"shared-memory vec env worker {w} died") from None
        return self._check(w, reply)

    def _recv_all(self, workers: Iterable[int]) -> dict[int, Any]:
        """Every worker's reply, all read before any error is raised (none left in a pipe)."""
        replies, died = {}, None
        for w in workers:
            try:
                replies[w] = self.remotes[w].recv()
            except EOFError:
                died = died if died is not None else w
        if died is not None:
            raise RuntimeError(f"shared-memory vec env worker {died} died")
        return {w: self._check(w, reply) for w, reply in replies.items()}

    @staticmethod
    def _check(w: int, reply: Any) -> Any:
        if isinstance(reply, _WorkerError):
            if reply.kind == "AttributeError":  # SB3's has_attr relies on it
                raise AttributeError(f"shared-memory vec env worker {w}:\n{reply.text}")
            raise RuntimeError(f"shared-memory vec env worker {w} failed:\n{reply.text}")
        return reply

    def _ask(self, w: int, message: Any) -> Any:
        self.remotes[w].send(message)
        return self._recv(w)

    # -- stepping -------------------------------------------------------------------------------
    def step_async(self, actions: np.ndarray) -> None:
        self._actions[...] = actions
        for remote in self.remotes:
            remote.send_bytes(_STEP)
        self.waiting = True

    def step_wait(self) -> VecEnvStepReturn:
        infos: list[dict[str, Any]] = []
        self.waiting = False
        replies = self._recv_all(range(len(self.chunks)))
        for w, chunk in enumerate(self.chunks):
            part, resets = replies[w]
            infos.extend(part)
            for j, info in resets.items():
                self.reset_infos[chunk[j]] = info
        return self._obs.copy(), self._rewards.copy(), self._dones.copy(), infos

    def reset(self) -> VecEnvObs:
        for remote, chunk in zip(self.remotes, self.chunks):
            remote.send(("reset", ([self._seeds[i] for i in chunk], [self._options[i] for i in chunk])))
        replies = self._recv_all(range(len(self.chunks)))
        self.reset_infos = [info for w in range(len(self.chunks)) for info in replies[w]]
        self._reset_seeds()
        self._reset_options()
        return self._obs.copy()

    def set_next_tasks(self, tasks: Sequence[Any], indices: Sequence[int]) -> None:
        """Queue ``tasks[m]`` on env ``indices[m]`` (the bridge's batched hand-out), no reply."""
        groups: dict[int, list[tuple[int, Any]]] = {}
        for task, i in zip(tasks, indices):
            w, j = self._where[int(i)]
            groups.setdefault(w, []).append((j, task))
        for w, items in groups.items():
            self.remotes[w].send(("set_next_tasks", items))

    # -- per-env calls and closing ---------------------------------------------------------------
    def _call(self, cmd: str, make: Callable[[list[int]], Any], indices: Any) -> list[Any]:
        idx, groups = self._by_worker(indices)
        for w, local in groups.items():
            self.remotes[w].send((cmd, make(local)))
        return self._gather(idx, groups, self._recv_all(groups))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        self._call("set_attr", lambda local: (attr_name, value, local), indices)

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self.waiting:
                self._recv_all(range(len(self.remotes)))
            for remote in self.remotes:
                remote.send(("close", None))
            for process in self.processes:
                process.join(timeout=30)
        except (OSError, RuntimeError):
            pass  # a worker died: the rest are stopped below
        self._terminate()
        self._obs = self._actions = self._rewards = self._dones = None  # type: ignore[assignment]
        try:
            self._buffer.close()
        except BufferError:  # a view of the block is still alive somewhere: the GC unmaps it
            pass

    def _terminate(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
                process.join()
        self.closed = True
