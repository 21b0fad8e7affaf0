"""Import a results folder's script by its path.

``experiments/results/<folder>/summarise.py`` and its siblings are scripts, not a package: a
folder name such as ``ued_dcd25_plr`` is data, not a module path. Another folder's script or
a test that reads a folder's numbers back loads them with :func:`load_script`, so that every
number is computed by the one script its README quotes.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


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
