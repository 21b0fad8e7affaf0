"""What every benchmark script needs before it imports torch or the repository.

- ``ROOT`` (the repository) on ``sys.path``, so a script run as ``python benchmarks/x.py``
  imports ``envs``, ``teachers``, ... from this checkout; ``benchmarks/`` itself is already
  there (a script's own folder), which is how this module is found.
- One BLAS/OpenMP thread per process unless the caller chose otherwise: PPO ran 10-17x
  slower with torch's default thread count on 2 cores, and a benchmark that measures
  several processes at once must not let each one take every core.
- SB3's logger writes under /tmp unless ``SB3_LOGDIR`` says otherwise.

Import it first: ``from _setup import ROOT``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("SB3_LOGDIR", "/tmp/teachbench-sb3")
