"""When a GMM teacher's refit takes effect: at once (the papers) or one fit period later.

ALP-GMM and Covar-GMM refit a mixture every ``fit_rate`` episodes (:mod:`teachers.gmm_fit`).
A refit costs tens of milliseconds; with one env that is nothing, but with 1024 batched
envs on a GPU a fit period of 150–250 episodes passes in ~0.1 s, and refitting inline cost
a third of the whole loop's throughput (ALP-GMM ran at 0.66x the random teacher's env
steps/s on an H200).

``fit_lag`` chooses the schedule:

- ``0`` (default, as in teachDeepRL and TeachMyAgent): fit at the boundary, in the calling
  process, with the teacher's own generator; sampling uses the new mixture at once.
- ``1``: at boundary ``b`` the fit of boundary ``b - 1`` is installed and the fit of
  boundary ``b`` starts in a worker process (its seed drawn from the teacher's generator,
  its points copied), so training never waits on EM unless a fit outlasts a whole period.
  Results do not depend on timing: the same fits are installed at the same episodes, so a
  seed gives the same run. The difference from the papers is that sampling uses the mixture
  fitted one period earlier. With N parallel envs the bridge's one-task look-ahead already
  hands out N tasks sampled before their episodes' outcomes are known (N = 1024 is ~4–7 fit
  periods), so one more period of lag is small next to what parallelism itself adds; at
  small N keep ``fit_lag=0``.

``fit_worker="process"`` computes a deferred fit in a child process (``python -m
teachers.refit``, one per teacher, JSON lines in and out); ``"inline"`` computes it in the
calling process when it is installed (the same results; for where no child can be started).
"""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
from typing import IO, Any, Mapping, Sequence

import numpy as np

from envs.errors import TeachBenchError
from teachers.gmm_fit import GMM, fit_best_gmm

FIT_LAGS = (0, 1)
FIT_WORKERS = ("process", "inline")

NOT_YET = object()
"""Returned by :meth:`Refitter.at_boundary` when no fit is due to be installed yet."""


def _fit_state(points: np.ndarray, ks: Sequence[int], seed: int, backend: str, reg_covar: float) -> dict | None:
    gmm = fit_best_gmm(points, ks, np.random.default_rng(seed), backend=backend, reg_covar=reg_covar)
    return None if gmm is None else gmm.to_state()


class _Worker:
    """A child ``python -m teachers.refit`` answering one JSON line per fit request.

    A plain child process with a line protocol (not ``multiprocessing``): it never re-imports
    the user's ``__main__`` (scripts and notebooks without a main guard work) and nothing
    is unpickled (requests and answers are JSON; floats round-trip exactly).
    """

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "teachers.refit"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        atexit.register(self.close)

    def submit(self, request: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()

    def result(self) -> dict | None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise TeachBenchError("teacher.fit_worker", "the GMM fit worker process exited; rerun with fit_worker=inline")
        return json.loads(line)["gmm"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _serve(stdin: IO[str], stdout: IO[str]) -> None:
    for line in stdin:
        req = json.loads(line)
        state = _fit_state(np.asarray(req["points"], dtype=np.float64), req["ks"], req["seed"], req["backend"],
                           req["reg_covar"])
        stdout.write(json.dumps({"gmm": state}) + "\n")
        stdout.flush()


class Refitter:
    """Runs the refits of one GMM teacher on the schedule chosen by ``fit_lag``.

    Args:
        ks: mixture sizes tried at each refit.
        backend, reg_covar: as :func:`teachers.gmm_fit.fit_best_gmm`.
        fit_lag: 0 (fit now, the papers) or 1 (install one period later, fit in a worker).
        fit_worker: ``"process"`` or ``"inline"`` (where a lag-1 fit is computed).
    """

    def __init__(self, ks: Sequence[int], backend: str, reg_covar: float, fit_lag: int = 0,
                 fit_worker: str = "process") -> None:
        if fit_lag not in FIT_LAGS:
            raise TeachBenchError("teacher.fit_lag", f"must be 0 or 1, got {fit_lag!r}", FIT_LAGS)
        if fit_worker not in FIT_WORKERS:
            raise TeachBenchError("teacher.fit_worker", f"unknown worker {fit_worker!r}", FIT_WORKERS)
        self.ks = [int(k) for k in ks]
        self.backend = backend
        self.reg_covar = float(reg_covar)
        self.fit_lag = int(fit_lag)
        self.fit_worker = fit_worker
        self._pending: tuple[np.ndarray, int] | None = None  # points and seed of the fit in flight
        self._in_worker = False  # whether the pending fit was sent to the worker
        self._worker: _Worker | None = None
        self._start_worker()

    def _start_worker(self) -> None:
        """Start the worker now, with the teacher, not at the first boundary: its interpreter
        start-up (~0.3 s of imports) then overlaps the run's set-up; started lazily, the
        training loop waited for it at the second boundary (in a burst of finished episodes
        at 1024 envs, right after the first)."""
        if self.fit_lag == 1 and self.fit_worker == "process":
            self._worker = _Worker()

    def at_boundary(self, points: np.ndarray, rng: np.random.Generator) -> Any:
        """The mixture to install now (a :class:`GMM`, ``None`` for a failed fit) or
        :data:`NOT_YET` (lag 1, first boundary)."""
        if self.fit_lag == 0:
            return fit_best_gmm(points, self.ks, rng, backend=self.backend, reg_covar=self.reg_covar)
        due = self._collect() if self._pending is not None else NOT_YET
        self._pending = (np.array(points, dtype=np.float64), int(rng.integers(2**63 - 1)))
        self._in_worker = False
        if self.fit_worker == "process":
            if self._worker is None:
                self._worker = _Worker()
            points, seed = self._pending
            self._worker.submit({"points": points.tolist(), "ks": self.ks, "seed": seed, "backend": self.backend,
                                 "reg_covar": self.reg_covar})
            self._in_worker = True
        return due

    def _collect(self) -> GMM | None:
        assert self._pending is not None
        if self._in_worker:
            assert self._worker is not None
            state = self._worker.result()
        else:
            points, seed = self._pending
            state = _fit_state(points, self.ks, seed, self.backend, self.reg_covar)
        return None if state is None else GMM.from_state(state)

    def close(self) -> None:
        """Stop the worker process, if any, after the teacher's last use (also done at exit)."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    # -- checkpointing: the fit in flight is kept as its inputs and recomputed on load ------
    def state_dict(self) -> dict[str, Any]:
        if self._pending is None:
            return {"pending": None}
        points, seed = self._pending
        return {"pending": {"points": points.tolist(), "seed": seed}}

    def load_state_dict(self, state: Mapping[str, Any] | None) -> None:
        self._pending, self._in_worker = None, False
        if self._worker is not None:  # drop an answer in flight for the state we leave
            self._worker.close()
            self._worker = None
            self._start_worker()
        pending = (state or {}).get("pending")
        if pending is not None:
            self._pending = (np.asarray(pending["points"], dtype=np.float64), int(pending["seed"]))


if __name__ == "__main__":
    _serve(sys.stdin, sys.stdout)
