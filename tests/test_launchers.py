"""Launcher presets (configs/hydra/launcher): they compose to the plugin's launcher with
our settings, and the ones that can run here run a real sweep (submitit's local
executor; Ray in its own venv, because hydra-ray-launcher breaks joblib in ours)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from experiments.reporting.leaderboard import collect_runs

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(ROOT / "configs")
FAST = ["budget.steps=1024", "eval.every=1024", "checkpoint.every=1024", "env.kwargs.max_steps=40",
        "eval.held_out=false", "log.progress_bar=false"]
RAY_PYTHON = os.environ.get("TEACHBENCH_RAY_PYTHON", "/tmp/rayvenv/bin/python")


def launcher(*overrides: str) -> dict:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        return OmegaConf.to_container(cfg.hydra.launcher, resolve=True)


def test_cores_preset_is_joblib_sized_to_the_machine(monkeypatch):
    monkeypatch.delenv("TEACHBENCH_JOBS", raising=False)
    cfg = launcher("hydra/launcher=cores")
    assert cfg["_target_"].endswith("JoblibLauncher") and cfg["n_jobs"] == -1 and cfg["prefer"] == "processes"
    monkeypatch.setenv("TEACHBENCH_JOBS", "3")
    assert launcher("hydra/launcher=cores")["n_jobs"] == 3


def test_slurm_and_local_submitit_presets():
    slurm = launcher("hydra/launcher=slurm", "hydra.launcher.partition=cpu")
    assert slurm["_target_"].endswith("SlurmLauncher") and slurm["partition"] == "cpu"
    assert slurm["max_num_timeout"] > 0 and any("OMP_NUM_THREADS=1" in line for line in slurm["setup"])
    local = launcher("hydra/launcher=submitit_local_cpu")
    assert local["_target_"].endswith("LocalLauncher") and local["cpus_per_task"] == 1
    assert local["submitit_folder"].endswith(".submitit/%j")


def _sweep(python: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([python, "-m", "experiments.running.cli", "-m", *args, f"runs_dir={tmp_path / 'runs'}", *FAST],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)


@pytest.mark.slow
def test_submitit_local_executor_runs_a_sweep(tmp_path):
    out = _sweep(sys.executable, tmp_path, "hydra/launcher=submitit_local_cpu", "name=sub", "seed=0,1")
    assert out.returncode == 0, out.stderr[-3000:]
    runs = collect_runs(tmp_path / "runs" / "sub")
    assert sorted(runs["seed"]) == [0, 1] and set(runs["state"]) == {"finished"}
    assert list((tmp_path / "runs" / "_hydra" / "sub").glob("sweep-*/.submitit/*"))  # submitit's job folders


def _has_ray(python: str) -> bool:
    if not Path(python).exists():
        return False
    probe = "import ray, hydra_plugins.hydra_ray_launcher, experiments.running.cli"
    return subprocess.run([python, "-c", probe], cwd=ROOT, capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _has_ray(RAY_PYTHON), reason=f"needs ray + hydra-ray-launcher in {RAY_PYTHON} "
                    "(a venv of its own: pip install -e '.[ray]'; set TEACHBENCH_RAY_PYTHON)")
def test_ray_local_cluster_runs_a_sweep(tmp_path):
    out = _sweep(RAY_PYTHON, tmp_path, "hydra/launcher=ray_local", "hydra.launcher.ray.init.num_cpus=2", "name=ray",
                 "seed=0,1")
    assert out.returncode == 0, out.stderr[-3000:]
    runs = collect_runs(tmp_path / "runs" / "ray")
    assert sorted(runs["seed"]) == [0, 1] and set(runs["state"]) == {"finished"}
