"""Shared test fixtures: one thread per process, runs under a temp dir, Hydra compose."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("SB3_LOGDIR", "/tmp/teachbench-sb3")
os.environ.setdefault("WANDB_SILENT", "true")

from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

import envs  # noqa: E402,F401  (registers the gymnasium ids)

CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "configs")


@pytest.fixture
def compose(tmp_path: Path) -> Callable[..., "object"]:
    """Compose the real Hydra config with overrides; runs go under ``tmp_path``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    def _compose(*overrides: str, config_name: str = "config"):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            return hydra_compose(config_name=config_name, overrides=[f"runs_dir={tmp_path / 'runs'}", *overrides])

    return _compose
