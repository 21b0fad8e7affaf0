"""The machine a run ran on: ``summary.json``'s ``host`` block, and its one-line label.

Wall times and, through float order and thread counts, results depend on the machine, and
one leaderboard row may pool seeds run on a GPU host and on a 2-core laptop. The run side
records :func:`host_info` in every summary; the results side shows :func:`host_label`
per seed group (``experiments/reporting``). The block is not part of the config id: the
same run on another machine is the same experiment (``experiments/rundir.py``), as a
change of ``device`` is.

Everything is read from the process and ``/proc`` -- no subprocess, no CUDA context: the
summary is written at the end of every run, where a hung ``nvidia-smi`` or a GPU context
opened only to read a name (hundreds of MB on a GPU shared by packed runs) would cost
more than the record is worth. The GPU named is the machine's first NVIDIA GPU, whether
the run used it or not (the device it used is in ``status.json``); a resumed run records
the machine that finished it.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import sys
from pathlib import Path
from typing import Any, Mapping

UNKNOWN = "unknown"  # the label of a summary without a host block (runs from before it)
_NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def host_info() -> dict[str, Any]:
    """``{hostname, cpu, cores, cpu_count, gpu, gpus, python, torch}``: ``cores`` are the
    CPUs this process may run on (its affinity mask: a packed slot's share of the machine),
    ``cpu_count`` the machine's; ``gpu`` is None on a machine without an NVIDIA GPU."""
    gpus = _nvidia_gpus()
    return {
        "hostname": socket.gethostname(),
        "cpu": _cpu_model(),
        "cores": _affinity_cores(),
        "cpu_count": os.cpu_count(),
        "gpu": _cuda_device_name() or (gpus[0] if gpus else None),
        "gpus": len(gpus),
        "python": platform.python_version(),
        "torch": _torch_version(),
    }


def host_label(host: Any) -> str:
    """A short name for a machine kind: its GPU model (else its CPU model) and the cores the
    run had, e.g. ``NVIDIA H200, 16 cores``; :data:`UNKNOWN` for a summary without a host."""
    if not isinstance(host, Mapping) or not host:
        return UNKNOWN
    name = _short(host.get("gpu") or host.get("cpu") or "") or str(host.get("hostname") or UNKNOWN)
    cores = host.get("cores")
    return f"{name}, {int(cores)} cores" if isinstance(cores, (int, float)) and cores > 0 else name


def _short(model: Any) -> str:
    """``Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz`` -> ``Intel Xeon Platinum 8375C``."""
    text = re.sub(r"\((R|TM|tm|r)\)", "", str(model))
    text = re.sub(r"\s*@.*$", "", text)
    text = re.sub(r"\b(CPU|Processor)\b", "", text)
    return " ".join(text.split())


def _affinity_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count()


def _cpu_model() -> str:
    """The first ``model name`` of ``/proc/cpuinfo`` (``Model`` / ``Hardware`` on ARM), else
    the architecture (``platform.machine``; ``platform.processor`` may run ``uname -p``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            text = fh.read(1 << 16)
    except OSError:
        text = ""
    for key in ("model name", "Model", "Hardware", "cpu model"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", text, flags=re.MULTILINE)
        if match and match.group(1).strip():
            return match.group(1).strip()
    return platform.machine() or UNKNOWN


def _nvidia_gpus() -> list[str]:
    """The models of the machine's NVIDIA GPUs, from the driver's ``/proc`` files."""
    models = []
    try:
        folders = sorted(_NVIDIA_GPUS.iterdir())
    except OSError:
        return []
    for folder in folders:
        try:
            text = (folder / "information").read_text(errors="replace")
        except OSError:
            continue
        match = re.search(r"^Model:\s*(.+)$", text, flags=re.MULTILINE)
        if match:
            models.append(match.group(1).strip())
    return models


def _cuda_device_name() -> str | None:
    """The device's name when this process already opened CUDA (the run used it), else None."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            return str(torch.cuda.get_device_name(torch.cuda.current_device()))
    except Exception:  # noqa: BLE001 - a record of the machine must never fail a finished run
        return None
    return None


def _torch_version() -> str | None:
    torch = sys.modules.get("torch")
    if torch is not None:
        return str(getattr(torch, "__version__", None))
    try:
        from importlib.metadata import version

        return version("torch")
    except Exception:  # noqa: BLE001 - not installed
        return None


__all__ = ["UNKNOWN", "host_info", "host_label"]
