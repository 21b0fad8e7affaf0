"""The run directory: one folder per run, named from the run's identity.

The name is ``<env>__<teacher>__<student>__s<seed>__<config id>``, never from the clock:
a readable prefix, and the *config id*, 8 hex digits of the SHA-256 of every config
value that changes what a run computes (:func:`identity`, :func:`config_id`). So every
point of a sweep over any key (``teacher.params.preset=a,b``,
``+student.params.learning_rate=...``) is its own run, and rerunning a sweep finds its
finished runs (skipped) and its unfinished ones (resumed from ``checkpoints/``), never a
run made with other settings.

What is *not* in the config id (:data:`NOT_IDENTITY`), and why:

- ``name`` and ``runs_dir`` (where the run lives), ``seed`` (in the readable prefix, so
  that every seed of one sweep point shares the id and the leaderboard groups them);
- ``budget.steps``: recorded in ``config.yaml`` and the summary, not hashed, so that a
  finished run can be *extended* to a larger budget explicitly (``resume=extend``): it
  continues from its last state instead of starting a new run. A different budget
  without ``resume=extend`` is refused, naming ``budget.steps``;
- ``resume``, ``logger``, ``log``, ``checkpoint``: what is logged and how often the run
  is saved, not what it learns (a checkpoint reads the RNG state, it draws nothing);
- ``device``, ``torch_threads``, ``update_device``, ``update_threads``, ``env.envs_per_worker``
  (how the shm VecEnv groups envs into processes; the transitions are the same): where
  and how fast the same computation runs.
  CPU and CUDA (or 1 and 2 threads) sum floats in another order, so results agree only
  up to rounding; they are one experiment, and a run may move between machines. The
  device actually used is written to ``status.json``.
- ``teacher.params.train_worker``: where a lag-1 training round of GoalGAN or Setter-Solver
  runs (a process, a thread or inline; the same results, ``teachers/refit.py``).
- ``teacher.params.fit_workers``: how many processes share a lag-1 GMM refit of ALP-GMM or
  Covar-GMM (the same mixtures bit for bit, ``teachers/gmm_fit.py``'s parts).
- ``teacher.params.train_lag`` at its default ``0`` (:data:`NEUTRAL_DEFAULTS`): the key came
  after runs of those teachers existed, and at 0 they compute exactly what they computed
  without it (``tests/test_train_lag.py``), so adding it renamed no run; ``1`` is in the id.
  Likewise PAIRED's ``teacher.params.goal_last`` at ``false`` (its designer's order before
  the key existed; ``true`` is dcd's 25-block order and in the id). And ``eval.held_out_every``
  at ``null`` (held-out levels at the end only, as before the key; a number is in the id), and
  PAIRED's ``teacher.params.adversary_lstm_update`` at ``stepwise`` (sb3-contrib's update,
  what every earlier PAIRED run computed; ``sequence`` is in the id). And ``teacher_process`` at
  ``false`` (the teacher in the run's own process, as before the key; ``true`` plays its tasks a
  step later with a longer look-ahead, ``students/teacher_worker.py``, and is in the id).
- ``student.fast_rollout``: which loop collects PPO's rollouts (``students/fast_rollout.py``).
  Ours fills the same buffer as SB3's bit for bit; ``batched`` differs from it only by
  float rounding, like a change of device.

Everything else, ``eval.n_envs`` included (it changes which env seed plays which test
task), is identity. Adding a new config key with a default therefore changes every id:
a new setting is a new experiment.

A run directory is owned by one process at a time: :class:`RunLock` (``<run_dir>/lock``,
created with ``O_EXCL``, holding the owner's pid, process start time and host). The
leaderboard and the analysis API read only these files; the layout is documented in
CONTRIBUTING.md.

The layout, file by file: docs/run_directory.md.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import socket
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from envs.errors import TeachBenchError
from experiments.tables import TableWriter, read_table

TABLES = ("episodes", "eval", "teacher")
_SAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


def _slug(value: Any) -> str:
    return _SAFE.sub("-", str(value)).strip("-") or "x"


# Config keys (and their subtrees) outside the config id; the module docstring says why.
NOT_IDENTITY = ("name", "runs_dir", "seed", "budget.steps", "resume", "logger", "log", "checkpoint", "device",
                "torch_threads", "student.fast_rollout", "update_device", "update_threads", "env.envs_per_worker",
                "hydra", "teacher.params.train_worker", "teacher.params.fit_workers")
# Keys left out of the config id at these values: added later, they then compute what configs
# without them computed (the module docstring says why).
NEUTRAL_DEFAULTS: dict[str, Any] = {"teacher_process": False, "teacher.params.train_lag": 0,
                                     "teacher.params.goal_last": False,
                                     "eval.held_out_every": None, "teacher.params.adversary_lstm_update": "stepwise"}
ID_LENGTH = 8


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists are leaves."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name))
        else:
            flat[name] = dict(value) if isinstance(value, Mapping) else value
    return flat


def _excluded(key: str, keys: tuple[str, ...]) -> bool:
    return any(key == k or key.startswith(k + ".") for k in keys)


def identity(resolved: Mapping[str, Any]) -> dict[str, Any]:
    """The flattened resolved config minus :data:`NOT_IDENTITY`: what the config id hashes."""
    return {k: v for k, v in flatten(resolved).items()
            if not _excluded(k, NOT_IDENTITY) and not (k in NEUTRAL_DEFAULTS and _same(v, NEUTRAL_DEFAULTS[k]))}


def _same(value: Any, default: Any) -> bool:
    return type(value) is type(default) and value == default


def config_id(resolved: Mapping[str, Any]) -> str:
    """8 hex digits of the SHA-256 of :func:`identity` (canonical JSON, sorted keys)."""
    text = json.dumps(_finite(identity(resolved)), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:ID_LENGTH]


def identity_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Keys (flattened, sorted) whose identity values differ between two resolved configs."""
    ia, ib = identity(a), identity(b)
    return [k for k in sorted(set(ia) | set(ib)) if ia.get(k) != ib.get(k)]


def run_name(env: str, teacher: str, student: str, seed: int, cid: str | None = None) -> str:
    """``<env>__<teacher>__<student>__s<seed>__<config id>``: the identity of a run inside
    an experiment (without ``cid``: the prefix alone, the name runs had before config ids)."""
    base = f"{_slug(env)}__{_slug(teacher)}__{_slug(student)}__s{int(seed)}"
    return f"{base}__{_slug(cid)}" if cid else base


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Atomic JSON write (temp file + rename), NaN/inf written as null. A failed write
    (disk full, read-only folder) leaves the old file as it was and no temp file behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w") as fh:
            json.dump(_finite(data), fh, indent=2, sort_keys=True, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


class RunDir:
    """Paths and files of one run."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def for_run(cls, runs_dir: str | os.PathLike, experiment: str, env: str, teacher: str, student: str,
                seed: int, cid: str | None = None) -> "RunDir":
        return cls(Path(runs_dir) / _slug(experiment) / run_name(env, teacher, student, seed, cid))

    # -- files ----------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def log_path(self) -> Path:
        return self.path / "run.log"

    @property
    def model_path(self) -> Path:
        """The final policy, written when the run finishes (SB3 ``model.save``); load it
        with ``students.build.load_student`` (no unpickling)."""
        return self.path / "model.zip"

    @property
    def normalizer_path(self) -> Path:
        """VecNormalize statistics of the final policy, as JSON (only for envs with
        ``normalize: true``). SB3's own ``vecnormalize.pkl`` is a pickle: not written."""
        return self.path / "vecnormalize.json"

    @property
    def lock_path(self) -> Path:
        return self.path / "lock"

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def writer(self, table: str, flush_every: int = 5000) -> TableWriter:
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        return TableWriter(self.path / table, flush_every=flush_every)

    def read(self, table: str) -> pd.DataFrame:
        return read_table(self.path / table)

    # -- state ----------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """A readable ``summary.json`` whose state is finished. A torn or corrupted summary
        is *not* finished, for the runner (which then resumes and rewrites it) and the
        leaderboard (which lists the run as incomplete) alike."""
        summary = self.summary()
        return summary is not None and summary.get("state", "finished") == "finished"

    def summary(self) -> dict[str, Any] | None:
        data = read_json(self.summary_path)
        return data if isinstance(data, dict) else None

    def status(self) -> dict[str, Any]:
        status = read_json(self.status_path)
        status = status if isinstance(status, dict) else {"state": "missing"}
        if self.finished:
            status["state"] = "finished"
        return status

    def set_status(self, state: str, **fields: Any) -> None:
        write_json(self.status_path, {"state": state, **fields})

    def set_status_best_effort(self, state: str, **fields: Any) -> bool:
        """Record a final state on the way out of a failure. If even that cannot be
        written (the disk that failed the run is full), remove ``status.json`` instead,
        so that no reader sees "running" for a run whose process has given up."""
        try:
            self.set_status(state, **fields)
            return True
        except OSError:
            try:
                self.status_path.unlink()
            except OSError:
                pass
            return False

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        write_json(self.summary_path, summary)


def _start_time(pid: int) -> str | None:
    """A process's start time in clock ticks since boot (Linux ``/proc``), to tell a live
    owner from a new process that got the same pid; None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False  # a zombie: dead, not yet reaped by its parent
    except (OSError, IndexError):
        pass
    now = _start_time(pid)
    return started is None or now is None or now == started


class RunLock:
    """Exclusive ownership of a run directory: ``<run_dir>/lock``, created with
    ``O_CREAT | O_EXCL`` (atomic on a local filesystem) and holding
    ``{"pid", "host", "started", "since"}``.

    A lock whose owner is dead (same host, pid gone, a zombie, or the pid reused by a
    process that started later) is stale and taken over: that is a run killed with
    ``kill -9`` or by a power cut. A lock from another host cannot be checked from here
    and is respected; the error names the file to delete if that host is gone.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.held = False

    def _mine(self) -> dict[str, Any]:
        pid = os.getpid()
        return {"pid": pid, "host": socket.gethostname(), "started": _start_time(pid), "since": time.time()}

    def owner(self) -> dict[str, Any] | None:
        data = read_json(self.path)
        return data if isinstance(data, dict) else None

    def stale(self, owner: Mapping[str, Any] | None) -> bool:
        if owner is None:  # empty or torn: its writer died between create and write
            try:
                return time.time() - self.path.stat().st_mtime > 10.0
            except FileNotFoundError:
                return True
        if owner.get("host") != socket.gethostname():
            return False
        pid = owner.get("pid")
        if not isinstance(pid, int) or pid == os.getpid():
            return True  # left by this very process (an earlier run that did not release it)
        return not _alive(pid, owner.get("started"))

    def acquire(self) -> None:
        """Take the lock, or raise :class:`TeachBenchError` (key ``run_dir``) naming its owner."""
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self.owner()
                if not self.stale(owner):
                    who = (f"process {owner.get('pid')} on host {owner.get('host')}" if owner
                           else "a process that is still starting")
                    raise TeachBenchError(
                        "run_dir", f"{self.path.parent} is being run by {who}; wait for it to end, or, if that "
                                   f"process is gone, delete {self.path}") from None
                try:  # stale: take it over (if another process took it first, the retry refuses)
                    self.path.unlink()
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(self._mine(), fh)
            self.held = True
            return
        raise TeachBenchError("run_dir", f"{self.path.parent} is being taken by another process")

    def release(self) -> None:
        """Remove the lock if this process holds it (never someone else's)."""
        if not self.held:
            return
        self.held = False
        owner = self.owner()
        if owner is None or (owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname()):
            try:
                self.path.unlink()
            except OSError:
                pass

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def storage_error(exc: OSError, where: str | os.PathLike) -> TeachBenchError | None:
    """A storage failure (disk full, read-only or forbidden folder) as one line naming
    ``runs_dir``; None for other OS errors (bugs keep their traceback)."""
    reasons = {errno.ENOSPC: "no space left on the device", errno.EROFS: "the filesystem is read-only",
               errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
               errno.EDQUOT: "disk quota exceeded", errno.ENOTDIR: "a path component is not a folder"}
    code = exc.errno
    if code is None:  # pyarrow's IO errors carry the C library's text, not the number
        code = next((c for c in reasons if os.strerror(c) in str(exc)), None)
    reason = reasons.get(code if code is not None else -1)
    if reason is None:
        return None
    path = exc.filename or where
    return TeachBenchError("runs_dir", f"cannot write {path}: {reason}; free space or choose another runs_dir=")


def table_scalars(d: Mapping[str, Any]) -> dict[str, Any]:
    """The entries a table column can hold (numbers, strings, bools, None); non-finite
    floats become None. Used for teacher diagnostics by real runs and the track."""
    out = {}
    for k, v in d.items():
        if isinstance(v, (bool, int, str)) or v is None:
            out[k] = v
        elif isinstance(v, (float, np.floating)):
            out[k] = float(v) if math.isfinite(float(v)) else None
        elif isinstance(v, np.integer):
            out[k] = int(v)
    return out
