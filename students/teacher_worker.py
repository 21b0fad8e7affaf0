"""The teacher in a worker process, one vector step behind the loop (issue 18).

Why. At 1024 batched mazes on a GPU a vector step of PPO takes ~8-10 ms, and a teacher that
updates on every finished episode (about 5 per step) costs 0.4-1 ms of it: RIAC's tree
inserts, ALP-GMM's nearest-neighbour ALP, Covar-GMM's bookkeeping, ADR's bound tests, SPDL's
buffer. Measured inside each run (``benchmarks/bench_overhead.py``'s bridge share, 2026-12-01),
the parameter teachers took 6-15 % of the loop against the random teacher's 2 %, so none reached
issue 18's 0.97. Their algorithms cannot be made that cheap per episode without changing them;
the loop need not wait for them, though.

What. ``teacher_process: true`` builds the teacher in a child process
(``python -m students.teacher_worker``) and leaves a :class:`TeacherProcess` proxy in the run.
At each vector step the bridge (:class:`students.bridge.Curriculum`) first takes the tasks the
worker drew for the previous step's finished episodes and queues them, then sends this step's
request: how many tasks to draw and the episodes that just finished. The worker does what the
bridge does in-process, in the same order (``sample_batch(n)``, then ``update_batch(episodes)``),
while the loop steps the envs and the policy. The loop pays a pipe round trip instead of the
teacher's work; it waits only when the teacher needs longer than a vector step.

The one difference from the in-process bridge is when a task reaches its sub-env: one vector
step later. So that no sub-env ever resets with an empty queue (an episode can last one step),
the look-ahead grows by one: each sub-env holds two tasks ahead instead of one. Everything else
is the same: the teacher sees the same episodes in the same order and draws the same tasks, and
each sub-env plays its tasks in the order they were drawn. A run with the worker therefore plays
exactly the episodes of an in-process run with a look-ahead of two (tested), and a seed gives the
same run. With 1024 sub-envs the look-ahead already hands out ~1000 tasks drawn before their
episodes' outcomes are known; one more per sub-env is small beside it, but it is a change, so
``teacher_process`` is part of a run's config id (off by default, as the papers).

The worker inherits the run's CPU affinity. It pays where a run has a core to spare (a GPU run
pinned to several cores, as ``hydra/launcher=packed`` pins runs on a 16-core machine with a few
runs); a run pinned to a single core shares it with its worker and gains little.

Every other use of the teacher goes through the proxy unchanged (checkpoints, diagnostics,
resuming, the leaderboard's update counts): the proxy first lets the bridge take any tasks still
in flight, then asks the worker. Only teachers that choose tasks from finished episodes qualify:
not the regret-based ones (their scores come from the student's rollout, at its end) and not those
that label their hand-outs (PLR, ACCEL); ``teacher_process: true`` for them is an error naming the
key.

Transport. Each step's request and its tasks travel through a shared-memory block: the loop
copies a pickle in and bumps a sequence number, the worker polls for it, and the loop finds the
answer there at the next step, all without a system call. A pipe round trip per step cost
~90 µs of the loop's time under the sandboxing kernel of the machines measured here (gVisor),
a fifth of what the worker saved. The worker polls without sleeping for a millisecond after each
request, then every 0.2 ms, so it answers well within a vector step and leaves its core idle
between steps (runs packed one per core keep their cores). Everything else (building the teacher, checkpoints, diagnostics) and any message larger
than the block goes through the child's stdin/stdout as length-prefixed pickles; the child
writes nothing else on its stdout (a teacher's prints go to stderr). Pickles travel only between
this process and its own child. The block's writer stores the payload before the sequence
number, which x86-64's ordered stores make visible in that order to the reader.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib
import operator
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
import traceback
from multiprocessing import shared_memory
from typing import IO, Any, Callable, Sequence

from envs.errors import TeachBenchError
from teachers.base import Episode

#: an Episode's fields in declaration order, as a tuple (what a step's request carries)
_EPISODE_FIELDS = operator.attrgetter(*(f.name for f in dataclasses.fields(Episode)))

#: what a teacher may declare in ``needs`` and still run in a worker: V(s0) travels inside the
#: episode (``extra``), filled in by the bridge's hooks before the episode is sent
WORKER_NEEDS = frozenset({"value"})

_MISSING = "missing"
_CALLABLE = "callable"
_ABSENT = object()

#: bytes of one message in the shared block (a step's request: ~150 bytes per finished episode)
BLOCK_BYTES = 1 << 20
_HEADER = struct.Struct("<QQ")  # the header's size: a sequence byte (padded to 8), the payload length
_IN_PIPE = (1 << 64) - 1  # payload length meaning "too large: this answer is on the pipe"
SPIN_S = 0.001  # the worker polls without sleeping this long after a request
POLL_S = 0.0002  # then sleeps this long between polls


class _Channel:
    """One direction of the shared block: a sequence byte, a length and a payload.

    The sequence number is published as one byte (its value mod 256), which the other process
    reads whole: with one message in flight at a time, a byte tells a new message from the
    last one. (A multi-byte number is written a byte at a time by ``struct``: a reader could
    see it half-written, take a torn value for a new message, and answer one request twice.)
    The length is a native aligned 8-byte word, written before the sequence byte."""

    def __init__(self, buf: memoryview, offset: int) -> None:
        self.buf, self.offset = buf, offset
        self.words = buf.cast("Q")
        self.length = offset // 8 + 1
        self.data = offset + _HEADER.size

    def seq(self) -> int:
        return self.buf[self.offset]

    def put(self, seq: int, payload: bytes | None) -> None:
        """Store ``payload`` (None: the answer went by pipe), then publish ``seq``."""
        if payload is None:
            self.words[self.length] = _IN_PIPE
        else:
            self.buf[self.data:self.data + len(payload)] = payload
            self.words[self.length] = len(payload)
        self.buf[self.offset] = seq & 0xFF

    def get(self) -> bytes | None:
        """The payload of the published message (None: it went by pipe)."""
        size = self.words[self.length]
        return None if size == _IN_PIPE else bytes(self.buf[self.data:self.data + size])

    def release(self) -> None:
        self.words.release()


def _channels(buf: memoryview, block_bytes: int) -> tuple[_Channel, _Channel]:
    """The block's request and answer channels (``block_bytes`` of payload each)."""
    return _Channel(buf, 0), _Channel(buf, _HEADER.size + block_bytes)


def _write(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    (size,) = struct.unpack("<Q", head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


class TeacherProcess:
    """A teacher built and run in a child process; this proxy stands in for it in the run.

    Args:
        factory: ``"module:function"`` that builds the teacher in the child.
        args, kwargs: its arguments (picklable: names, the task space, seeds, parameters).

    The bridge drives it with :meth:`submit` / :meth:`collect` (one request in flight at a
    time). Any other method or attribute of the teacher is reached through the proxy as if it
    were the teacher; before it, :attr:`on_flush` (set by the bridge) takes the tasks in flight.
    """

    def __init__(self, factory: str, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None) -> None:
        self._block = -(-BLOCK_BYTES // 8) * 8  # whole 8-byte words: the answer channel's length word is aligned
        self._shm = shared_memory.SharedMemory(create=True, size=2 * (_HEADER.size + self._block))
        self._requests, self._answers = _channels(self._shm.buf, self._block)
        self._seq = 0
        self._by_pipe = False  # the step in flight went by pipe (too large for the block)
        self._proc = subprocess.Popen([sys.executable, "-m", "students.teacher_worker", self._shm.name,
                                       str(self._block)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        atexit.register(self.close)
        self._in_flight = False
        #: called with no argument before any synchronous request while a step is in flight
        #: (the bridge's :meth:`~students.bridge.Curriculum.receive`): it must :meth:`collect`
        self.on_flush: Callable[[], None] | None = None
        facts = self._request(("build", factory, tuple(args), dict(kwargs or {})))
        self.name: str = facts["name"]
        self.needs = facts["needs"]
        self.task_space = facts["task_space"]
        if facts["labels_handouts"] or not set(self.needs) <= WORKER_NEEDS:
            self.close()
            raise TeachBenchError("teacher_process", f"teacher {self.name!r} cannot run in a worker process: it "
                                  "labels its hand-outs or needs the student's rollout "
                                  f"(needs {sorted(self.needs)}); only teachers that choose tasks from finished "
                                  "episodes can (students/teacher_worker.py)")

    # -- the bridge's asynchronous step ----------------------------------------------------
    def submit(self, n: int, episodes: Sequence[Any]) -> None:
        """Draw ``n`` tasks, then learn from ``episodes``, in the worker; returns at once."""
        if self._in_flight:
            raise RuntimeError("TeacherProcess.submit: the previous step was not collected")
        message = ("step", int(n), [_EPISODE_FIELDS(e) for e in episodes])  # field tuples pickle 2-3x faster
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self._by_pipe = len(data) > self._block
        if self._by_pipe:
            self._send(message)
        else:
            self._seq += 1
            self._requests.put(self._seq, data)
        self._in_flight = True

    def collect(self) -> list[Any]:
        """The tasks of the step in flight (waits for the worker if it is not done)."""
        if not self._in_flight:
            return []
        self._in_flight = False
        if self._by_pipe:
            return self._receive()
        polls = 0
        while self._answers.seq() != self._seq & 0xFF:  # the usual case: answered during the step
            polls += 1
            if polls > 200:
                if self._proc.poll() is not None:
                    raise TeachBenchError("teacher_process", "the teacher's worker process has exited "
                                          "(its error is above); rerun with teacher_process=false")
                time.sleep(POLL_S / 4)
        data = self._answers.get()
        if data is None:
            return self._receive()
        status, value = pickle.loads(data)
        if status == "error":
            raise value
        return value

    # -- everything else, synchronously ----------------------------------------------------
    def flush(self) -> None:
        """Let the bridge take the tasks in flight (then the worker's state is current)."""
        if self._in_flight:
            if self.on_flush is None:
                raise RuntimeError("TeacherProcess: a step is in flight and no bridge takes its tasks")
            self.on_flush()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.flush()
        return self._request(("call", method, args, kwargs))

    def sample(self) -> Any:
        return self.call("sample")

    def sample_batch(self, n: int) -> list[Any]:
        return self.call("sample_batch", n)

    def update(self, episode: Any) -> None:
        self.call("update", episode)

    def update_batch(self, episodes: Sequence[Any]) -> None:
        self.call("update_batch", list(episodes))

    def state_dict(self) -> dict[str, Any]:
        return self.call("state_dict")

    def load_state_dict(self, state: Any) -> None:
        self.call("load_state_dict", state)

    def diagnostics(self) -> dict[str, Any]:
        return self.call("diagnostics")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "on_flush":
            raise AttributeError(name)
        self.flush()
        kind, value = self._request(("getattr", name))
        if kind == _MISSING:
            raise AttributeError(name)
        if kind == _CALLABLE:
            return lambda *args, **kwargs: self.call(name, *args, **kwargs)
        return value

    def close(self) -> None:
        proc = self.__dict__.get("_proc")
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
                proc.wait(timeout=5)
            except Exception:  # noqa: BLE001 - a stuck worker is killed
                proc.kill()
                proc.wait()
        shm = self.__dict__.pop("_shm", None)
        if shm is not None:
            for name in ("_requests", "_answers"):
                channel = self.__dict__.pop(name, None)
                if channel is not None:
                    channel.release()
            shm.close()
            shm.unlink()

    # -- frames ------------------------------------------------------------------------------
    def _send(self, message: Any) -> None:
        try:
            _write(self._proc.stdin, message)  # type: ignore[arg-type]
        except (BrokenPipeError, OSError):
            raise TeachBenchError("teacher_process", "the teacher's worker process has exited "
                                  "(its error is above); rerun with teacher_process=false") from None

    def _receive(self) -> Any:
        try:
            status, value = _read(self._proc.stdout)  # type: ignore[arg-type]
        except EOFError:
            raise TeachBenchError("teacher_process", "the teacher's worker process has exited "
                                  "(its error is above); rerun with teacher_process=false") from None
        if status == "error":
            raise value
        return value

    def _request(self, message: Any) -> Any:
        if self._in_flight:
            raise RuntimeError("TeacherProcess: a request while a step is in flight")
        self._send(message)
        return self._receive()


# -- the child -------------------------------------------------------------------------------
def _step(teacher: Any, n: int, episodes: list[Any]) -> list[Any]:
    """What the in-process bridge does with one vector step: draw, then learn."""
    tasks: list[Any] = []
    if n:
        batch = getattr(teacher, "sample_batch", None)
        tasks = batch(n) if batch is not None else [teacher.sample() for _ in range(n)]
    if episodes:
        if hasattr(teacher, "update_batch"):
            teacher.update_batch(episodes)
        else:
            for episode in episodes:
                teacher.update(episode)
    return tasks


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives a pickle (TeachBenchError does), else its traceback
    in a TeachBenchError naming ``teacher_process``."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return TeachBenchError("teacher_process", "the teacher failed in its worker process:\n"
                               + "".join(traceback.format_exception(exc)))


def serve(inp: IO[bytes], out: IO[bytes], block: memoryview | None = None, block_bytes: int = BLOCK_BYTES) -> None:
    """Answer requests until the parent closes the pipe: a step's request in the shared
    ``block`` (when given, ``block_bytes`` per message), anything else on the pipe."""
    teacher: Any = None
    requests = answers = None
    if block is not None:
        requests, answers = _channels(block, block_bytes)
    seen = requests.seq() if requests is not None else 0
    busy_until = time.perf_counter() + SPIN_S
    while True:
        via_block = False
        if requests is not None and requests.seq() != seen:
            seen = requests.seq()
            message, via_block = pickle.loads(requests.get() or b""), True
        elif requests is None or select.select([inp], [], [], 0)[0]:
            try:
                message = _read(inp)
            except EOFError:
                return
        else:
            if time.perf_counter() > busy_until:
                time.sleep(POLL_S)
            continue
        answer = _answer(teacher, message)
        if message[0] == "build" and answer[0] == "ok":
            teacher = answer[1].pop("teacher")
        if via_block:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            if len(data) > block_bytes:
                _write(out, answer)
                answers.put(seen, None)  # type: ignore[union-attr]
            else:
                answers.put(seen, data)  # type: ignore[union-attr]
        else:
            _write(out, answer)
        busy_until = time.perf_counter() + SPIN_S


def _answer(teacher: Any, message: Any) -> tuple[str, Any]:
    """``("ok", result)`` or ``("error", exception)`` for one request."""
    try:
        kind = message[0]
        if kind == "build":
            module, _, function = message[1].partition(":")
            teacher = getattr(importlib.import_module(module), function)(*message[2], **message[3])
            answer: Any = {"name": getattr(teacher, "name", type(teacher).__name__),
                           "needs": frozenset(getattr(teacher, "needs", ())),
                           "task_space": teacher.task_space,
                           "labels_handouts": callable(getattr(teacher, "handout_token", None)),
                           "teacher": teacher}  # kept by serve, not sent
        elif kind == "step":
            answer = _step(teacher, message[1], [Episode(*fields) for fields in message[2]])
        elif kind == "call":
            answer = getattr(teacher, message[1])(*message[2], **message[3])
        elif kind == "getattr":
            value = getattr(teacher, message[1], _ABSENT)
            answer = (_MISSING, None) if value is _ABSENT else (_CALLABLE, None) if callable(value) \
                else ("value", value)
        else:
            raise ValueError(f"unknown request {kind!r}")
        return "ok", answer
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent
        return "error", _portable(exc)


def main() -> None:
    # Ctrl-C reaches the whole process group: the run handles it (and may still checkpoint the
    # teacher), and closes this worker by closing its stdin
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # the protocol keeps the real stdout; anything the teacher prints goes to stderr
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    # one thread, as every process of a run (students/threads.py), set before any teacher
    # imports NumPy's BLAS or torch (which reads OMP_NUM_THREADS at import)
    from students.threads import _VARS

    for var in _VARS:
        os.environ[var] = "1"
    block = None
    if len(sys.argv) > 1:
        shm = shared_memory.SharedMemory(name=sys.argv[1])
        try:  # the parent owns (and unlinks) the block: this process must not report it as leaked
            from multiprocessing import resource_tracker

            resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001
            pass
        block = shm.buf
    serve(sys.stdin.buffer, out, block, int(sys.argv[2]))


if __name__ == "__main__":
    main()
