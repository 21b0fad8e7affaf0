"""One thread per process by default.

On the 2-core machines, PPO with torch's default thread count ran 10-17x slower and a
GMM refit 15-50x slower (docs/references.md#stack-measurements). Every entry point calls
:func:`pin_threads` before building anything.
"""

from __future__ import annotations

import os

_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def pin_threads(n: int = 1) -> None:
    """Set BLAS/OpenMP env vars (for child processes) and torch's intra-op threads."""
    for var in _VARS:
        os.environ[var] = str(n)
    import torch

    torch.set_num_threads(int(n))
