"""Import a results folder's script by its path, and read a packed run's config.

``experiments/results/<folder>/summarise.py`` and its siblings are scripts, not a package: a
folder name such as ``ued_dcd25_plr`` is data, not a module path. Another folder's script or
a test that reads a folder's numbers back loads them with :func:`load_script`, so that every
number is computed by the one script its README quotes. :func:`run_config` reads the saved
config of one run out of a folder's packed runs (``runs_slim.tar.gz``), so a test checks the
settings a run really had, not the preset as it reads today. :func:`unpacked` opens a folder's
packed runs as a run folder for :mod:`experiments.reporting.analysis` to read.
"""

from __future__ import annotations

import importlib.util
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import yaml


def load_script(path: Path | str, name: str | None = None) -> ModuleType:
    """The module of the Python file at ``path`` (executed once per call), named ``name``
    (default: the folder and file names, e.g. ``ued_dcd25_plr_summarise``)."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(name or f"{path.parent.name}_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def unpacked(tarball: Path | str) -> Iterator[Path]:
    """The runs packed in ``tarball``, extracted into a temporary folder for the ``with`` block
    (regular files and folders only: tarfile's ``data`` filter)."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)


def run_config(tarball: Path | str, teacher: str, seed: int, student: str = "recurrent_ppo") -> dict[str, Any]:
    """The ``config.yaml`` of the one run of ``teacher`` x ``student`` x ``seed`` packed in
    ``tarball`` (run directories are named ``<env>__<teacher>__<student>__s<seed>__<id>``)."""
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers()
                   if f"__{teacher}__{student}__s{seed}__" in m.name and m.name.endswith("/config.yaml")]
        if len(members) != 1:
            raise LookupError(f"{tarball}: {len(members)} configs of {teacher} x {student} seed {seed}, expected 1")
        data = tar.extractfile(members[0])
        if data is None:
            raise LookupError(f"{tarball}: {members[0].name} is not a file")
        return yaml.safe_load(data.read())
