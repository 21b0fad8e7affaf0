"""The machine a run ran on: recorded in ``summary.json`` (experiments/host.py), carried
into the runs table (``runs.csv``) and shown per leaderboard row when a row's seeds ran on
different machines. Summaries written before the record load as ``unknown``."""

from __future__ import annotations

import os
import platform
import subprocess

from _fake_runs import fake_run
from experiments import host as host_mod
from experiments.host import UNKNOWN, host_info, host_label
from experiments.reporting import leaderboard as lb
from experiments.reporting.report import write_markdown

H200 = {"hostname": "gpu-node-3", "cpu": "AMD EPYC 9654 96-Core Processor", "cores": 16, "cpu_count": 16,
        "gpu": "NVIDIA H200", "gpus": 1, "python": "3.11.7", "torch": "2.13.0"}
LAPTOP = {"hostname": "dev", "cpu": "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", "cores": 2, "cpu_count": 2,
          "gpu": None, "gpus": 0, "python": "3.11.7", "torch": "2.13.0+cpu"}


def test_host_info_reads_the_process_and_spawns_nothing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("host_info must not start a process (a hung tool would hang the run's end)")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(os, "system", refuse)
    info = host_info()
    assert set(info) == {"hostname", "cpu", "cores", "cpu_count", "gpu", "gpus", "python", "torch"}
    assert info["python"] == platform.python_version()
    if hasattr(os, "sched_getaffinity"):
        assert info["cores"] == len(os.sched_getaffinity(0))
    assert 1 <= info["cores"] <= info["cpu_count"]
    assert isinstance(info["cpu"], str) and info["cpu"]


def test_the_gpu_is_read_from_the_driver_files(monkeypatch, tmp_path):
    # the layout the NVIDIA driver exposes: /proc/driver/nvidia/gpus/<bus id>/information
    for bus, model in (("0000:19:00.0", "NVIDIA H200"), ("0000:3b:00.0", "NVIDIA H200")):
        (tmp_path / bus).mkdir()
        (tmp_path / bus / "information").write_text(f"Model: \t\t {model}\nIRQ:   \t\t 123\nGPU UUID: \t GPU-x\n")
    monkeypatch.setattr(host_mod, "_NVIDIA_GPUS", tmp_path)
    info = host_info()
    assert (info["gpu"], info["gpus"]) == ("NVIDIA H200", 2)
    monkeypatch.setattr(host_mod, "_NVIDIA_GPUS", tmp_path / "absent")
    assert host_info()["gpu"] in (None, host_mod._cuda_device_name())


def test_labels_name_the_machine_kind():
    assert host_label(H200) == "NVIDIA H200, 16 cores"
    assert host_label(LAPTOP) == "Intel Core i5-8250U, 2 cores"
    assert host_label(None) == host_label({}) == UNKNOWN


def _mixed_sweep(root):
    """alp_gmm: 3 seeds on the H200 host, 2 on a 2-core machine; random: 5 seeds written
    before the host record (old summaries)."""
    for seed in range(5):
        rd = fake_run(root, teacher="alp_gmm", seed=seed, skill=0.9)
        rd.write_summary({**rd.summary(), "host": H200 if seed < 3 else LAPTOP})
        fake_run(root, teacher="random", seed=seed, skill=0.3)


def test_runs_table_carries_the_host_and_old_summaries_still_load(tmp_path):
    _mixed_sweep(tmp_path / "runs")
    runs = lb.collect_runs(tmp_path / "runs")
    assert len(runs) == 10 and (runs["state"] == "finished").all()
    alp = runs[runs["teacher"] == "alp_gmm"].sort_values("seed")
    assert list(alp["host"]) == ["NVIDIA H200, 16 cores"] * 3 + ["Intel Core i5-8250U, 2 cores"] * 2
    assert list(alp["host_gpu"])[:3] == ["NVIDIA H200"] * 3 and alp["host_gpu"].iloc[3:].isna().all()
    assert list(alp["host_cores"]) == [16, 16, 16, 2, 2] and alp["host_hostname"].iloc[0] == "gpu-node-3"
    old = runs[runs["teacher"] == "random"]
    assert (old["host"] == UNKNOWN).all() and old["host_gpu"].isna().all()


def test_a_row_that_mixes_machines_says_how_many_seeds_ran_where(tmp_path):
    _mixed_sweep(tmp_path / "runs")
    runs = lb.collect_runs(tmp_path / "runs")
    table = lb.leaderboard(runs, reps=100)
    alp = table[table["teacher"] == "alp_gmm"].iloc[0]
    rnd = table[table["teacher"] == "random"].iloc[0]
    assert alp["n_machines"] == 2
    assert alp["machines"] == "3 on NVIDIA H200, 16 cores; 2 on Intel Core i5-8250U, 2 cores"
    assert (rnd["n_machines"], rnd["machines"]) == (1, UNKNOWN)
    assert "machines" in lb.display_columns(table)
    md = write_markdown(runs, table, lb.aggregate(runs, reps=100), tmp_path / "leaderboard.md", "t").read_text()
    assert "machines (seeds)" in md and "3 on NVIDIA H200, 16 cores; 2 on Intel Core i5-8250U, 2 cores" in md


def test_runs_csv_has_the_host_columns(tmp_path):
    import pandas as pd

    from experiments.reporting.report import write_report

    _mixed_sweep(tmp_path / "runs")
    paths = write_report(lb.collect_runs(tmp_path / "runs"), tmp_path / "board", plots=False, reps=100)
    csv = pd.read_csv(paths["runs_csv"])
    assert {"host", "host_hostname", "host_cpu", "host_cores", "host_gpu", "host_python", "host_torch"} <= set(csv)
    assert sorted(csv["host"].value_counts().items()) == [
        ("Intel Core i5-8250U, 2 cores", 2), ("NVIDIA H200, 16 cores", 3), (UNKNOWN, 5)]


def test_rows_from_one_machine_keep_the_table_as_it_was(tmp_path):
    for seed in range(3):
        for teacher in ("random", "alp_gmm"):
            rd = fake_run(tmp_path / "runs", teacher=teacher, seed=seed)
            rd.write_summary({**rd.summary(), "host": H200})
    table = lb.leaderboard(lb.collect_runs(tmp_path / "runs"), reps=100)
    assert (table["machines"] == "NVIDIA H200, 16 cores").all()
    assert "machines" not in lb.display_columns(table)


def test_a_real_run_records_its_machine_outside_the_config_id(compose):
    from experiments.rundir import identity
    from experiments.running.config_checks import resolved_config
    from experiments.running.run import run, run_dir_for

    cfg = compose("env=gridworld", "teacher=random", "student=ppo", "seed=0", "budget.steps=1024",
                  "eval.every=1024", "checkpoint.every=1024", "env.kwargs.max_steps=20", "eval.held_out=false")
    summary = run(cfg)
    rd = run_dir_for(cfg)
    assert rd.summary()["host"] == summary["host"]
    assert summary["host"]["cores"] >= 1 and summary["host"]["python"] == platform.python_version()
    assert not any(k.startswith("host") for k in identity(resolved_config(cfg)))
