"""Reference records of the exact-arithmetic tests, one per kind of CPU they were recorded on.

``tests/test_recurrent_rollout_exact.py`` and ``tests/test_train_lag.py`` guard that a
computation is unchanged by comparing its digests (and floats) with a record made by the code
before a change. torch's CPU kernels (MKL, oneDNN, ATen's vectorised loops) are chosen by the
processor, and each sums in its own order, so the same code on two kinds of CPU differs in the
last bits. Seen on 2026-12-01: an Intel Xeon with AVX-512 (and bf16/fp16) differed from the
machines that recorded the first references at the 8th significant digit. Seen again on 2026-12-02 (session
19): an AMD EPYC of family 25 (Zen 3, with VAES), 1e-6 relative in Setter-Solver's float32 tasks,
recorded as ``amd_epyc_zen3`` from code unchanged since a commit CI had passed (3c42a66). Forcing a common
instruction set did not make them agree: ``ATEN_CPU_CAPABILITY``, ``MKL_CBWR`` and
``ONEDNN_MAX_CPU_ISA`` set to AVX2, SSE or AVX-512 all still differed.

So each guarded computation keeps one record per CPU kind seen:
- ``<name>.json``: the first record (the machines of sessions up to 11);
- ``<name>.<label>.json``: another CPU kind's record, written by the same code.

A test passes when its result equals one of them exactly. A new record is only valid when made
from code that the existing records already pass on their own CPUs (the commit that added
``<label>`` says which). On a CPU of a new kind the test fails and names the files; record it with
``python -m tests._cpu_references <label>`` from a commit whose results the other CPUs confirm.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def records(reference: Path) -> dict[str, dict[str, Any]]:
    """Every record of ``reference`` (``<name>.json`` and each ``<name>.<label>.json``), by file name."""
    files = [reference, *sorted(reference.parent.glob(f"{reference.stem}.*.json"))]
    return {f.name: json.loads(f.read_text()) for f in files}


def matching(reference: Path, key: str, got: Any) -> str:
    """The file whose record under ``key`` equals ``got``; fails, naming every file, when none does."""
    found = records(reference)
    for name, record in found.items():
        if record[key] == got:
            return name
    raise AssertionError(f"{key}: the result matches no record of {sorted(found)}; a changed computation, "
                         f"or a CPU of a kind not recorded yet (see tests/_cpu_references.py)")


def _write(label: str) -> None:
    """Record this CPU's results of both guarded computations as ``<name>.<label>.json``."""
    from tests._lag_scenarios import REFERENCE, write_reference
    from tests.test_recurrent_rollout_exact import REFERENCE as ROLLOUT, reference_text

    write_reference(REFERENCE.with_name(f"{REFERENCE.stem}.{label}.json"))
    ROLLOUT.with_name(f"{ROLLOUT.stem}.{label}.json").write_text(reference_text() + "\n")


if __name__ == "__main__":
    import os

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # the tests' settings (tests/conftest.py): threads change the sums too
    import torch

    torch.set_num_threads(1)
    _write(sys.argv[1])
