"""When a teacher's periodic model update takes effect: at once (the papers) or one period later.

Four teachers rebuild a model every so many episodes: ALP-GMM and Covar-GMM refit a
Gaussian mixture every ``fit_rate`` episodes (:mod:`teachers.gmm_fit`), GoalGAN trains its
GAN every ``update_size`` labelled goals, Setter-Solver trains its setter and judge every
``update_period`` episodes. With one env that is nothing; with 1024 batched envs on a GPU a
period passes in a fraction of a second, and updating inline became the loop's bottleneck
(ALP-GMM ran at 0.66x the random teacher's env steps/s on an H200; GoalGAN and Setter-Solver,
whose rounds are hundreds of gradient steps, several times slower).

The lag (``fit_lag`` of the GMM teachers, ``train_lag`` of the neural ones) chooses the
schedule:

- ``0`` (default, as in the papers, teachDeepRL and TeachMyAgent): update at the boundary,
  in the calling process, with the teacher's own generators; sampling uses the new model at
  once.
- ``1``: at boundary ``b`` the update of boundary ``b - 1`` is installed and the update of
  boundary ``b`` starts in a worker, so training never waits on it unless an update
  outlasts a whole period. An update is a pure function of inputs copied at its boundary
  (a mixture fit: the points and a seed drawn from the teacher's generator; a training
  round: the labelled data and the networks' weights, optimiser states and torch-generator
  state as installed at the boundary), so results do not depend on timing: the same
  updates are installed at the same episodes and a seed gives the same run, and the model
  installed at boundary ``b`` is exactly what the papers' schedule had at ``b - 1`` given the
  same data. The difference from the papers is that sampling uses the model of one period
  earlier. With N parallel envs the bridge's one-task look-ahead already hands out N tasks
  sampled before their episodes' outcomes are known (N = 1024 is several periods), so one
  more period of lag is small next to what parallelism itself adds; at small N keep lag 0.

A worker takes the update off the loop only while it keeps up: one update at a time (each
starts from the previous one's result), so when an update takes longer than the loop needs
to finish a period's episodes, the loop waits at the next boundary for the difference and
runs at ``period / update`` of its speed at most. The GMM fits (tens of milliseconds) mostly
keep up at 1024 envs; a neural teacher's round (GoalGAN: 250 GAN steps, ~0.6 s on one core; Setter-Solver: 50
steps, ~0.23 s) does not once the envs finish its period's episodes faster than that
(``benchmarks/bench_train_lag.py`` prints the round's time and its cost on the loop).

Where a lag-1 update is computed (``fit_worker`` / ``train_worker``):

- ``"process"``: a child ``python -m teachers.refit JOB``, one per teacher, started with the
  teacher (its imports overlap the run's set-up); requests and results are frames of a JSON
  header and raw array bytes (:func:`encode`): nothing is unpickled, floats and tensors
  round-trip exactly, and the calling process only copies them. The child never re-imports
  the user's ``__main__`` (scripts and notebooks without a main guard work).
- ``"thread"``: a thread of the calling process: no copies, but the update's Python holds
  the interpreter lock against the training loop between its (small) torch kernels.
- ``"inline"``: computed in the calling process when it is installed (the same results; for
  where nothing else can run).

A GMM refit can also be shared by several processes (``fit_workers`` > 1, with
``fit_worker="process"``): each fits every ``fit_workers``-th ``k`` of the range
(:func:`teachers.gmm_fit.fit_part`, bit for bit those ``k``'s fits in the whole batch) and the
calling process keeps the lowest AIC, so the installed mixture is the one a single process
computes. At lag 1 the parts start at the boundary from the drawn seed, as a single worker's fit
does. At lag 0 (the papers' schedule) the calling process waits for them: they start from a copy
of the teacher's generator, and the generator then moves on exactly as the fit in this process
would have moved it (:func:`teachers.gmm_fit.advance_like_fit`), so the run is the same run,
only its refits are shorter. It is for a run with spare cores (one run per GPU on a many-core
machine) whose loop waits for refits: every lag-0 refit blocks the loop, and at lag 1 Covar-GMM
(13 mixtures, 36-69 ms on a core) at 1024 mazes waits mostly in bursts, when one vector step
finishes hundreds of episodes and crosses several boundaries, each installing the fit started at
the one before, moments earlier; a shared refit shortens each such wait
(``benchmarks/bench_fit_workers.py`` times one refit both ways). A part that meets a singular
covariance makes the calling process compute the whole fit (the fallback's order depends on
every ``k``). Runs packed one per core gain nothing from it.

A checkpoint keeps an update in flight as its inputs; after loading it is started again
(the same result, so the resumed run continues as the uninterrupted one).
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import struct
import subprocess
import sys
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, Callable, Mapping, Sequence

import numpy as np

from envs.errors import TeachBenchError
from teachers.gmm_fit import GMM, PartFailed, advance_like_fit, fit_best_gmm, fit_part, lowest_aic, part_rows

LAGS = (0, 1)
WORKERS = ("process", "thread", "inline")
FIT_LAGS, FIT_WORKERS = LAGS, WORKERS  # the GMM teachers' names for them

#: the worker process runs at a lower priority than the training loop: where the two share a
#: core (runs packed onto pinned cores) the loop keeps most of it and the update takes what is
#: left; with a spare core it changes nothing. (On a machine oversubscribed by other
#: programs the worker also yields to those, so a loop that waits for it waits longer.)
WORKER_NICENESS = 5

NOT_YET = object()
"""Returned by :meth:`Refitter.at_boundary` when no fit is due to be installed yet."""

PART_FAILED = object()
"""Returned by :meth:`_Pool.gather` when a part of the fit met a singular covariance."""

#: the updates a worker may run, by name: ``module:function`` mapping the inputs to a result
#: (a worker imports nothing else; the functions live beside their algorithms)
JOBS: dict[str, str] = {
    "gmm_fit": "teachers.refit:fit_job",
    "gmm_fit_part": "teachers.refit:fit_part_job",
    "goal_gan": "teachers.goal_gan:train_round",
    "setter_solver": "teachers.setter_solver:train_round",
}


def job_function(job: str) -> Callable[[Mapping[str, Any]], Any]:
    module, _, name = JOBS[job].partition(":")
    return getattr(importlib.import_module(module), name)


def check_schedule(option: str, lag: Any, worker: Any) -> None:
    """A :class:`TeachBenchError` naming ``teacher.<option>_lag`` or ``teacher.<option>_worker``
    for a value other than those above."""
    if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or lag not in LAGS:
        raise TeachBenchError(f"teacher.{option}_lag", f"must be 0 or 1, got {lag!r}", LAGS)
    if worker not in WORKERS:
        raise TeachBenchError(f"teacher.{option}_worker", f"unknown worker {worker!r}", WORKERS)


# -- frames: a JSON header and raw array bytes ---------------------------------------------
def encode(value: Any) -> bytes:
    """``value`` (nested dicts, lists, tuples, numbers, strings, ``None``, numpy arrays and
    torch tensors) as one frame: the header's length, the header, the arrays' bytes."""
    buffers: list[bytes] = []

    def array(a: np.ndarray, tag: str) -> dict[str, Any]:
        buffers.append(a.tobytes(order="C"))  # (np.ascontiguousarray would make a 0-d array 1-d)
        return {tag: [a.dtype.str, list(a.shape)]}

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {"d": [[walk(k), walk(x)] for k, x in v.items()]}
        if isinstance(v, (list, tuple)):
            return {"l": [walk(x) for x in v]}
        if isinstance(v, np.ndarray):
            return array(v, "a")
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(v, torch.Tensor):
            return array(v.detach().cpu().numpy(), "t")
        if isinstance(v, np.generic):
            return v.item()
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        raise TypeError(f"cannot send a {type(v).__name__} to a worker")

    header = json.dumps({"v": walk(value), "n": [len(b) for b in buffers]}).encode()
    return b"".join([struct.pack("<Q", len(header)), header, *buffers])


def _read_frame(stream: IO[bytes]) -> Any:
    """The next frame's value, or ``EOFError`` at the end of the stream."""
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    header = json.loads(stream.read(struct.unpack("<Q", head)[0]))
    buffers = iter([stream.read(n) for n in header["n"]])

    def walk(v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        if "d" in v:
            return {walk(k): walk(x) for k, x in v["d"]}
        if "l" in v:
            return [walk(x) for x in v["l"]]
        tag, (dtype, shape) = next(iter(v.items()))
        a = np.frombuffer(next(buffers), dtype=np.dtype(dtype)).reshape(shape).copy()
        if tag == "a":
            return a
        import torch

        return torch.from_numpy(a)

    return walk(header["v"])


def decode(data: bytes) -> Any:
    """The value of one frame made by :func:`encode`."""
    import io

    return _read_frame(io.BytesIO(data))


class _Process:
    """A child ``python -m teachers.refit JOB`` answering one frame per request."""

    def __init__(self, job: str, key: str) -> None:
        self.key = key
        self.proc = subprocess.Popen([sys.executable, "-m", "teachers.refit", job], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        atexit.register(self.close)

    def submit(self, inputs: Mapping[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(encode(inputs))
        self.proc.stdin.flush()

    def result(self) -> Any:
        assert self.proc.stdout is not None
        try:
            answer = _read_frame(self.proc.stdout)
        except EOFError:
            raise TeachBenchError(self.key, f"the worker process exited; rerun with {self.key.split('.')[-1]}=inline",
                                  WORKERS) from None
        if "error" in answer:
            raise TeachBenchError(self.key, f"the update failed in the worker process:\n{answer['error']}")
        return answer["result"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class _Thread:
    """A thread of the calling process running one update at a time."""

    def __init__(self, job: str) -> None:
        self.function = job_function(job)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"teachbench-{job}")
        self.future: Future | None = None

    def submit(self, inputs: Mapping[str, Any]) -> None:
        self.future = self.pool.submit(self.function, inputs)

    def result(self) -> Any:
        assert self.future is not None
        return self.future.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _serve(job: str, stdin: IO[bytes], stdout: IO[bytes]) -> None:
    os.nice(WORKER_NICENESS)
    function = job_function(job)
    if "torch" in sys.modules:  # one thread per process, as the calling process (CONTRIBUTING.md)
        sys.modules["torch"].set_num_threads(1)
    while True:
        try:
            inputs = _read_frame(stdin)
        except EOFError:
            return
        try:
            answer: dict[str, Any] = {"result": function(inputs)}
        except Exception:  # noqa: BLE001 - reported to the calling process, which raises
            answer = {"error": traceback.format_exc()}
        stdout.write(encode(answer))
        stdout.flush()


class _Pool:
    """``n`` worker processes sharing each GMM refit (module doc): :meth:`submit` sends part
    ``p`` of the ``k`` range to process ``p``; :meth:`result` gathers the parts and returns what
    :func:`fit_job` returns for the whole fit (computing it here when a part failed)."""

    def __init__(self, n: int, key: str) -> None:
        self.workers = [_Process("gmm_fit_part", key) for _ in range(n)]
        self.inputs: Mapping[str, Any] | None = None
        self.sent: list[_Process] = []

    def submit(self, inputs: Mapping[str, Any]) -> None:
        self.inputs = inputs
        n_ks = sum(1 for k in inputs["ks"] if 1 <= int(k) <= len(inputs["points"]))
        self.sent = self.workers[:n_ks]  # part p holds k number p, p + n, ...: the first n_ks parts are not empty
        for p, worker in enumerate(self.sent):
            worker.submit({**inputs, "part": p, "parts": len(self.workers)})

    def result(self) -> Any:
        merged = self.gather()
        assert self.inputs is not None
        return fit_job(self.inputs) if merged is PART_FAILED else merged  # a failed part: the whole fit, here

    def gather(self) -> Any:
        """The whole fit's result from the parts, or :data:`PART_FAILED` when a part met a
        singular covariance."""
        answers = [worker.result() for worker in self.sent]  # every answer is read, so none is left in a pipe
        if any(a is None for a in answers):
            return PART_FAILED
        parts = len(self.workers)
        n_ks = sum(len(a) for a in answers)
        fits: list[GMM | None] = [None] * n_ks
        for p, answer in enumerate(answers):
            for i, state in zip(part_rows(n_ks, p, parts), answer):
                fits[i] = None if state is None else GMM.from_state(state)
        best = lowest_aic(fits)
        return None if best is None else best.to_state()

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


class LaggedUpdate:
    """Runs one teacher's periodic update ``job`` (a name in :data:`JOBS`) on the schedule
    chosen by ``lag`` (module doc). The lag-0 update is the teacher's own call; this class
    holds the lag-1 update in flight: :meth:`submit` starts it, :meth:`collect` returns
    its result (waiting for it, or computing it inline).

    Args:
        job: the update's name in :data:`JOBS`.
        lag: 0 or 1.
        worker: ``"process"``, ``"thread"`` or ``"inline"`` (where a lag-1 update is computed).
        option: the parameters' stem in errors (``fit`` for ``teacher.fit_lag`` / ``teacher.fit_worker``).
    """

    def __init__(self, job: str, lag: int, worker: str, option: str) -> None:
        check_schedule(option, lag, worker)
        self.job = job
        self.lag = int(lag)
        self.worker = worker
        self.option = option
        self._pending: Mapping[str, Any] | None = None  # inputs of the update in flight
        self._in_worker = False  # whether the pending update was handed to the worker
        self._worker: _Process | _Thread | _Pool | None = None
        self._start_worker()

    def _start_worker(self) -> None:
        """Start the worker now, with the teacher, not at the first boundary: a process's
        interpreter start-up (imports) then overlaps the run's set-up; started lazily, the
        training loop waited for it at the second boundary (in a burst of finished episodes
        at 1024 envs, right after the first)."""
        if self.lag == 1 and self.worker == "process":
            self._worker = _Process(self.job, f"teacher.{self.option}_worker")
        elif self.lag == 1 and self.worker == "thread":
            self._worker = _Thread(self.job)

    @property
    def pending(self) -> Mapping[str, Any] | None:
        """The inputs of the update in flight (``None`` when none is)."""
        return self._pending

    def submit(self, inputs: Mapping[str, Any]) -> None:
        """Start the update of this boundary (the one in flight must have been collected)."""
        assert self._pending is None, "collect the update in flight first"
        self._pending, self._in_worker = inputs, False
        if self.worker != "inline":
            if self._worker is None:
                self._start_worker()
            assert self._worker is not None
            self._worker.submit(inputs)
            self._in_worker = True

    def collect(self) -> Any:
        """The result of the update in flight (then no longer in flight), or :data:`NOT_YET`."""
        return self._collect() if self._pending is not None else NOT_YET

    def _collect(self) -> Any:  # the wait (benchmarks/bench_teacher_step.py times it)
        assert self._pending is not None
        if self._in_worker:
            assert self._worker is not None
            result = self._worker.result()
        else:
            result = job_function(self.job)(self._pending)
        self._pending, self._in_worker = None, False
        return result

    def restore(self, inputs: Mapping[str, Any] | None) -> None:
        """After a checkpoint load: drop what was in flight for the state we leave, and start
        the checkpoint's update in flight (``inputs``) again."""
        self._pending, self._in_worker = None, False
        if self._worker is not None:  # drop an answer in flight for the state we leave
            self._worker.close()
            self._worker = None
            self._start_worker()
        if inputs is not None:
            self.submit(inputs)

    def close(self) -> None:
        """Stop the worker, if any, after the teacher's last use (a process is also stopped at exit)."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None


# -- the GMM teachers' refits ----------------------------------------------------------------
def _generator(inputs: Mapping[str, Any]) -> np.random.Generator:
    """A fit's generator: a copy of the teacher's (``rng_state``, a lag-0 fit shared by workers)
    or one seeded by the draw made at the boundary (``seed``, a lag-1 fit)."""
    state = inputs.get("rng_state")
    if state is None:
        return np.random.default_rng(int(inputs["seed"]))
    rng = np.random.Generator(getattr(np.random, state["bit_generator"])())
    rng.bit_generator.state = state
    return rng


def fit_job(inputs: Mapping[str, Any]) -> dict | None:
    """A mixture fit with its own generator: the lag-1 update of the GMM teachers."""
    gmm = fit_best_gmm(np.asarray(inputs["points"], dtype=np.float64), inputs["ks"], _generator(inputs),
                       backend=inputs["backend"], reg_covar=inputs["reg_covar"])
    return None if gmm is None else gmm.to_state()


def fit_part_job(inputs: Mapping[str, Any]) -> list[dict | None] | None:
    """Part ``inputs["part"]`` of ``inputs["parts"]`` of :func:`fit_job`'s fits (every fit of
    those ``k``, in order, as states), or None when the part met a singular covariance."""
    try:
        fits = fit_part(np.asarray(inputs["points"], dtype=np.float64), inputs["ks"], _generator(inputs),
                        int(inputs["part"]), int(inputs["parts"]), reg_covar=inputs["reg_covar"])
    except PartFailed:
        return None
    return [None if g is None else g.to_state() for g in fits]


class Refitter(LaggedUpdate):
    """Runs the refits of one GMM teacher on the schedule chosen by ``fit_lag``.

    Args:
        ks: mixture sizes tried at each refit.
        backend, reg_covar: as :func:`teachers.gmm_fit.fit_best_gmm`.
        fit_lag: 0 (fit now, the papers) or 1 (install one period later, fit in a worker).
        fit_worker: ``"process"``, ``"thread"`` or ``"inline"`` (where a lag-1 fit is computed).
        fit_workers: processes sharing each refit (module doc; > 1 needs ``fit_worker="process"``
            and the numpy backend). The same mixtures as 1, at either lag.
    """

    def __init__(self, ks: Sequence[int], backend: str, reg_covar: float, fit_lag: int = 0,
                 fit_worker: str = "process", fit_workers: int = 1) -> None:
        self.ks = [int(k) for k in ks]
        self.backend = backend
        self.reg_covar = float(reg_covar)
        if isinstance(fit_workers, bool) or not isinstance(fit_workers, (int, np.integer)) or fit_workers < 1:
            raise TeachBenchError("teacher.fit_workers", f"must be an integer >= 1, got {fit_workers!r}")
        if fit_workers > 1 and (fit_worker != "process" or backend != "numpy"):
            raise TeachBenchError("teacher.fit_workers", "several fit workers share a refit of the numpy backend "
                                  f"in processes: set fit_worker=process, gmm_backend=numpy "
                                  f"(got fit_worker={fit_worker!r}, gmm_backend={backend!r})")
        self.fit_workers = int(fit_workers)
        super().__init__("gmm_fit", fit_lag, fit_worker, "fit")
        self.fit_lag, self.fit_worker = self.lag, self.worker

    def _start_worker(self) -> None:
        if self.fit_workers > 1:  # set before LaggedUpdate.__init__ starts the worker; at either lag
            self._worker = _Pool(self.fit_workers, "teacher.fit_worker")
        else:
            super()._start_worker()

    def at_boundary(self, points: np.ndarray, rng: np.random.Generator) -> Any:
        """The mixture to install now (a :class:`GMM`, ``None`` for a failed fit) or
        :data:`NOT_YET` (lag 1, first boundary)."""
        if self.lag == 0 and self.fit_workers == 1:
            return fit_best_gmm(points, self.ks, rng, backend=self.backend, reg_covar=self.reg_covar)
        if self.lag == 0:
            return self._fit_shared_now(np.array(points, dtype=np.float64), rng)
        due = self.collect()
        self.submit(self._inputs(np.array(points, dtype=np.float64), int(rng.integers(2**63 - 1))))
        return due if due is NOT_YET or due is None else GMM.from_state(due)

    def _fit_shared_now(self, points: np.ndarray, rng: np.random.Generator) -> GMM | None:
        """A lag-0 refit computed by the worker processes from a copy of the teacher's generator,
        which then moves on as the fit in this process would have moved it (a part that met a
        singular covariance: the fit is made here, with the generator itself)."""
        assert isinstance(self._worker, _Pool)
        state = rng.bit_generator.state
        self._worker.submit({**self._inputs(points, 0), "rng_state": state})
        merged = self._worker.gather()
        if merged is PART_FAILED:
            return fit_best_gmm(points, self.ks, rng, backend=self.backend, reg_covar=self.reg_covar)
        advance_like_fit(rng, points, self.ks)
        return None if merged is None else GMM.from_state(merged)

    def _inputs(self, points: np.ndarray, seed: int) -> dict[str, Any]:
        return {"points": points, "ks": self.ks, "seed": seed, "backend": self.backend, "reg_covar": self.reg_covar}

    # -- checkpointing: the fit in flight is kept as its points and seed ----------------------
    def state_dict(self) -> dict[str, Any]:
        if self._pending is None:
            return {"pending": None}
        return {"pending": {"points": self._pending["points"].tolist(), "seed": self._pending["seed"]}}

    def load_state_dict(self, state: Mapping[str, Any] | None) -> None:
        pending = (state or {}).get("pending")
        self.restore(None if pending is None else
                      self._inputs(np.asarray(pending["points"], dtype=np.float64), int(pending["seed"])))


if __name__ == "__main__":
    _out = sys.stdout.buffer
    sys.stdout = sys.stderr  # anything an update prints must not corrupt the frames
    _serve(sys.argv[1], sys.stdin.buffer, _out)
