"""``hydra/launcher=packed`` (experiments/running/packing.py): the slot plan on hand-worked
machines, the claim of slots, the pinning of a process, and a real packed sweep whose run
directories equal those of the same runs started alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from envs.errors import TeachBenchError
from experiments.running.packing import PackedSlots, Slot, packed_jobs, plan_slots
from experiments.tables import read_table

ROOT = Path(__file__).resolve().parents[1]
FAST = ["budget.steps=1024", "eval.every=1024", "checkpoint.every=1024", "env.kwargs.max_steps=40",
        "eval.held_out=false", "log.progress_bar=false"]


def test_slots_on_a_two_gpu_32_core_machine():
    # 32 cores, 2 GPUs, 8 runs: 4 contiguous cores each, GPUs alternate 0, 1, 0, 1, ...
    slots = plan_slots(range(32), 2, 8)
    assert slots[0] == Slot(0, (0, 1, 2, 3), 0)
    assert slots[1] == Slot(1, (4, 5, 6, 7), 1)
    assert slots[7] == Slot(7, (28, 29, 30, 31), 1)
    assert [s.gpu for s in slots] == [0, 1] * 4


def test_slots_share_a_remainder_and_follow_the_affinity_mask():
    # 10 cores in 3 runs: 4 + 3 + 3; one GPU for all
    assert plan_slots(range(10), 1, 3) == [Slot(0, (0, 1, 2, 3), 0), Slot(1, (4, 5, 6), 0), Slot(2, (7, 8, 9), 0)]
    # a process allowed cores {1, 3, 5, 7} only (taskset): the shares are cut from those
    assert [s.cores for s in plan_slots([1, 3, 5, 7], 0, 2)] == [(1, 3), (5, 7)]
    assert all(s.gpu is None for s in plan_slots([1, 3, 5, 7], 0, 2))
    # more runs than cores: one core each, round-robin; 3 GPUs round-robin over 5 slots
    assert [(s.cores, s.gpu) for s in plan_slots([0, 1], 3, 5)] == [((0,), 0), ((1,), 1), ((0,), 2), ((1,), 0), ((0,), 1)]
    with pytest.raises(TeachBenchError):
        plan_slots([], 1, 2)


def test_n_is_sized_from_cores_and_gpus_unless_given():
    assert packed_jobs(16, 1, 4) == 4          # one H200, 16 cores: 4 runs of 4 cores
    assert packed_jobs(32, 2, 4) == 8          # two H200s, 32 cores
    assert packed_jobs(6, 2, 4) == 6           # never more runs than cores
    assert packed_jobs(16, 0, 4) == 16         # no GPU: one run per core
    assert packed_jobs(16, 2, 4, jobs=3) == 3
    assert packed_jobs(16, 2, 4, jobs="auto") == 8
    for bad in (0, "x"):
        with pytest.raises(TeachBenchError, match="jobs"):
            packed_jobs(16, 2, 4, jobs=bad)


def test_preset_composes_to_joblib_with_the_slot_callback(monkeypatch):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    def hydra_node(*overrides: str) -> dict:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
            cfg = compose("config", overrides=["hydra/launcher=packed", *overrides], return_hydra_config=True)
            HydraConfig.instance().set_config(cfg)
            return {k: OmegaConf.to_container(cfg.hydra[k], resolve=True) for k in ("launcher", "callbacks")}

    monkeypatch.delenv("TEACHBENCH_JOBS", raising=False)
    node = hydra_node("hydra.callbacks.packed.gpus=2")
    assert node["launcher"]["_target_"].endswith("JoblibLauncher") and node["launcher"]["prefer"] == "processes"
    assert node["callbacks"]["packed"]["_target_"] == "experiments.running.packing.PackedSlots"
    assert "leaderboard" in node["callbacks"]  # the preset adds its callback, it does not replace the others
    cores = len(os.sched_getaffinity(0))
    assert node["launcher"]["n_jobs"] == min(cores, 8)
    assert hydra_node("hydra.callbacks.packed.jobs=3")["launcher"]["n_jobs"] == 3
    monkeypatch.setenv("TEACHBENCH_JOBS", "5")
    assert hydra_node()["launcher"]["n_jobs"] == 5


def test_concurrent_jobs_claim_distinct_slots_and_give_them_back(tmp_path):
    first, second, third = PackedSlots(), PackedSlots(), PackedSlots()
    k0, h0 = first._claim(tmp_path, 2, job_num=0)
    k1, h1 = second._claim(tmp_path, 2, job_num=1)
    assert (k0, k1) == (0, 1)
    h0.close()  # the first job ended (or its process died): its slot is free again
    k2, h2 = third._claim(tmp_path, 2, job_num=2)
    assert k2 == 0
    h1.close()
    h2.close()


PIN_PROBE = """
import json, os, threading, time
from experiments.running.packing import Slot, apply_slot
stop = threading.Event()
t = threading.Thread(target=stop.wait); t.start()          # a thread made BEFORE pinning
apply_slot(Slot(0, (CORE,), None), "cpu")
tids = [int(x) for x in os.listdir("/proc/self/task")]
print(json.dumps({"masks": [sorted(os.sched_getaffinity(x)) for x in tids], "omp": os.environ["OMP_NUM_THREADS"]}))
stop.set(); t.join()
"""


def test_apply_slot_pins_every_thread_of_the_process():
    core = max(os.sched_getaffinity(0))
    out = subprocess.run([sys.executable, "-c", PIN_PROBE.replace("CORE", str(core))], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(probe["masks"]) >= 2 and all(m == [core] for m in probe["masks"])
    assert probe["omp"] == "1"


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("TEACHBENCH_JOBS", None)
    out = subprocess.run([sys.executable, "-m", "experiments.running.cli", *args, *FAST], capture_output=True,
                         text=True, timeout=600, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def _files(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


TIMINGS = ("setup_time_s", "wall_time_s")


@pytest.mark.slow
def test_packed_sweep_writes_what_lone_runs_write(tmp_path):
    _cli("-m", "hydra/launcher=packed", "name=pk", "seed=0,1", "teacher=random,alp_gmm", f"runs_dir={tmp_path / 'packed'}")
    sweep = next((tmp_path / "packed" / "_hydra" / "pk").glob("sweep-*"))
    logs = "".join(p.read_text() for p in sweep.glob("*/cli.log"))
    n = len(os.sched_getaffinity(0))  # no GPU here: one run per core
    assert logs.count("packed slot ") == 4 and f"of {n}: cores [" in logs
    packed = sorted((tmp_path / "packed" / "pk").iterdir())
    assert len(packed) == 4
    for seed, teacher in ((1, "alp_gmm"), (0, "random")):
        _cli("name=pk", f"seed={seed}", f"teacher={teacher}", f"runs_dir={tmp_path / 'lone'}")
        lone = next((tmp_path / "lone" / "pk").glob(f"gridworld__{teacher}__ppo__s{seed}__*"))
        twin = tmp_path / "packed" / "pk" / lone.name  # same identity, config id included
        assert twin in packed
        assert _files(twin) == _files(lone)
        a, b = (json.loads((d / "summary.json").read_text()) for d in (twin, lone))
        assert {k: v for k, v in a.items() if k not in TIMINGS} == {k: v for k, v in b.items() if k not in TIMINGS}
        for table in ("episodes", "eval", "teacher"):
            x, y = read_table(twin / table), read_table(lone / table)
            assert x.equals(y), table
