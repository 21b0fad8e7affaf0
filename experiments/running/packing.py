"""Packing several runs onto one GPU machine: ``hydra/launcher=packed``.

One run of the batched maze on one H200 left most of the GPU idle: a run's time goes to
the CPU side of PPO (env stepping, SB3's rollout loop, the teacher), one core at a time.
So several runs share a machine, and each should own a fixed part of it, or the OS moves
them between cores and they all land on GPU 0.

The preset (``configs/hydra/launcher/packed.yaml``) is Hydra's joblib launcher with
``n_jobs`` = N (:func:`packed_jobs`) and the :class:`PackedSlots` callback. The machine is
cut into N *slots* (:func:`plan_slots`): slot ``k`` gets an equal contiguous share of the
cores this process may use and GPU ``k mod G`` (round-robin over the G visible GPUs). A
job claims the lowest free slot when it starts (an ``flock`` on a file per slot, released
when the job ends or its process dies: joblib never runs more than N jobs at once, so a
free slot always exists), then:

- pins every thread of its worker process to the slot's cores (``sched_setaffinity``;
  children, e.g. SubprocVecEnv workers and the GMM refit process, inherit the mask);
- sets ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` to the share
  (the run itself then pins torch to ``torch_threads``, default 1, the measured optimum;
  give ``torch_threads=<share>`` to let torch use the whole share);
- makes the slot's GPU the current CUDA device (``torch.cuda.set_device``), so
  ``device=cuda`` (or ``auto`` resolving to CUDA) lands on it. ``device=cuda:<i>`` is
  left as given. ``CUDA_VISIBLE_DEVICES`` is not used: joblib reuses worker processes,
  and once CUDA is initialised in a worker that variable no longer has any effect.

Nothing of this reaches the run directory: a packed run writes the same files, with the
same numbers, as the same run started alone (``tests/test_packing.py``).
"""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Sequence

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from envs.errors import TeachBenchError

log = logging.getLogger("teachbench")

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
RESOLVER = "teachbench_packed_jobs"


@dataclass(frozen=True)
class Slot:
    """One run's share of the machine: its cores and its GPU (None: no GPU)."""

    index: int
    cores: tuple[int, ...]
    gpu: int | None


def machine_cores() -> list[int]:
    """The cores this process may run on (its affinity mask, not the machine's count:
    a container or ``taskset`` may give it fewer)."""
    return sorted(os.sched_getaffinity(0))


def visible_gpus() -> int:
    """CUDA devices visible to this process (0 without CUDA); honours ``CUDA_VISIBLE_DEVICES``."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return 0
    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def packed_jobs(n_cores: int, n_gpus: int, runs_per_gpu: int, jobs: int | str | None = None) -> int:
    """N, the runs that share the machine at once.

    ``jobs`` given (an int >= 1): that. Otherwise ``runs_per_gpu`` per visible GPU, at
    most one per core; on a machine without GPUs, one run per core (as ``cores``)."""
    if jobs not in (None, "auto", -1, "-1"):
        try:
            n = int(jobs)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise TeachBenchError("hydra.callbacks.packed.jobs", f"must be an int >= 1 or auto, got {jobs!r}") from None
        if n < 1:
            raise TeachBenchError("hydra.callbacks.packed.jobs", f"must be an int >= 1 or auto, got {jobs!r}")
        return n
    if int(runs_per_gpu) < 1:
        raise TeachBenchError("hydra.callbacks.packed.runs_per_gpu", f"must be >= 1, got {runs_per_gpu!r}")
    if n_gpus <= 0:
        return max(1, n_cores)
    return max(1, min(n_cores, n_gpus * int(runs_per_gpu)))


def plan_slots(cores: Sequence[int], n_gpus: int, jobs: int) -> list[Slot]:
    """Cut ``cores`` into ``jobs`` contiguous shares, the first ``len(cores) % jobs``
    shares one core larger; slot ``k`` gets GPU ``k % n_gpus``.

    With more jobs than cores, slot ``k`` gets core ``k % len(cores)`` alone (the OS then
    time-shares each core between the slots on it)."""
    cores = list(cores)
    if jobs < 1 or not cores:
        raise TeachBenchError("hydra.launcher.n_jobs", f"needs >= 1 job and >= 1 core, got {jobs} jobs, {len(cores)} cores")
    shares: list[tuple[int, ...]]
    if jobs >= len(cores):
        shares = [(cores[k % len(cores)],) for k in range(jobs)]
    else:
        base, extra = divmod(len(cores), jobs)
        shares, start = [], 0
        for k in range(jobs):
            size = base + (1 if k < extra else 0)
            shares.append(tuple(cores[start:start + size]))
            start += size
    return [Slot(k, share, (k % n_gpus) if n_gpus > 0 else None) for k, share in enumerate(shares)]


def pin_process(cores: Sequence[int]) -> None:
    """Pin every thread of this process to ``cores`` (``sched_setaffinity`` with pid 0
    pins the calling thread only; threads made earlier, e.g. a BLAS pool, keep theirs)."""
    mask = set(cores)
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), mask)
        except (ProcessLookupError, PermissionError):  # a thread that ended meanwhile
            continue


def _resolve_jobs(jobs: Any = "auto", runs_per_gpu: Any = 4, gpus: Any = "auto") -> int:
    """The ``${teachbench_packed_jobs:...}`` resolver of the preset's ``n_jobs``."""
    n_gpus = visible_gpus() if gpus in (None, "auto") else int(gpus)
    return packed_jobs(len(machine_cores_of_launcher()), n_gpus, int(runs_per_gpu), jobs)


if not OmegaConf.has_resolver(RESOLVER):
    OmegaConf.register_new_resolver(RESOLVER, _resolve_jobs)


class PackedSlots(Callback):
    """Hydra callback of ``hydra/launcher=packed``: a job claims a slot before it runs
    (in the joblib worker process) and gives it back when it ends.

    Args:
        runs_per_gpu: N per visible GPU when ``jobs`` is auto (see :func:`packed_jobs`).
        jobs: N, or ``auto``; the launcher's ``n_jobs`` is resolved from the same values.
        gpus: GPUs to spread the slots over: ``auto`` (every visible one) or a count
            (0: leave CUDA alone).
        lock_dir: where the slot files live; default ``<sweep dir>/.packed``. Point two
            sweeps at one folder and they share the slots instead of overlapping.
    """

    def __init__(self, runs_per_gpu: int = 4, jobs: Any = "auto", gpus: Any = "auto", lock_dir: str | None = None) -> None:
        self.runs_per_gpu = int(runs_per_gpu)
        self.jobs = jobs
        self.gpus = gpus
        self.lock_dir = lock_dir
        self._held: IO[str] | None = None
        self.slot: Slot | None = None

    def _n_gpus(self) -> int:
        return visible_gpus() if self.gpus in (None, "auto") else int(self.gpus)

    def _claim(self, folder: Path, n: int, job_num: int) -> tuple[int, IO[str]]:
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(n):
            fh = open(folder / f"slot-{k}.lock", "a+")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return k, fh
            except BlockingIOError:
                fh.close()
        k = job_num % n  # more jobs than slots (another sweep shares lock_dir): wait for one
        fh = open(folder / f"slot-{k}.lock", "a+")
        fcntl.flock(fh, fcntl.LOCK_EX)
        return k, fh

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.get("mode") != RunMode.MULTIRUN:  # a single run (no -m) is not packed
            return
        n = int(config.hydra.launcher.n_jobs)
        n_gpus = self._n_gpus()
        folder = Path(self.lock_dir or Path(str(config.hydra.sweep.dir)) / ".packed")
        k, self._held = self._claim(folder, n, int(config.hydra.job.num))
        self.slot = plan_slots(machine_cores_of_launcher(), n_gpus, n)[k]
        apply_slot(self.slot, str(config.get("device", "auto")))
        log.info("packed slot %d of %d: cores %s, GPU %s", k, n, list(self.slot.cores), self.slot.gpu)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if self._held is not None:
            fcntl.flock(self._held, fcntl.LOCK_UN)
            self._held.close()
            self._held = None


_LAUNCHER_CORES = "TEACHBENCH_PACKED_CORES"


def machine_cores_of_launcher() -> list[int]:
    """The cores the sweep's launcher could use: every job must cut the same set.

    A worker that already ran a job is pinned to that job's share, so its own mask is not
    the machine's. The first call (the launcher resolving ``n_jobs``, before joblib
    starts its workers) records the mask in the environment, which the workers inherit."""
    saved = os.environ.get(_LAUNCHER_CORES)
    if saved:
        return [int(c) for c in saved.split(",")]
    cores = machine_cores()
    os.environ[_LAUNCHER_CORES] = ",".join(map(str, cores))
    return cores


def apply_slot(slot: Slot, device: str = "auto") -> None:
    """Pin this process to the slot's cores, size the thread variables to the share and
    make the slot's GPU the current CUDA device (unless the run is on the CPU or names
    its GPU itself)."""
    pin_process(slot.cores)
    for var in THREAD_VARS:
        os.environ[var] = str(len(slot.cores))
    if slot.gpu is None or device == "cpu" or device.startswith("cuda:"):
        return
    import torch

    if torch.cuda.is_available():
        torch.cuda.set_device(slot.gpu)


__all__ = ["PackedSlots", "Slot", "apply_slot", "machine_cores", "packed_jobs", "pin_process", "plan_slots",
           "visible_gpus"]
