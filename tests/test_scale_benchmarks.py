"""The GPU-scale benchmark scripts (issue 18) run end to end at a tiny size on the CPU and
write the throughput CSV that ``experiments/results/steps_per_second.py`` turns into its
sizing table. Speed is never asserted; only that each script runs, prints its line and
writes rows a reader can use."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import COLUMNS  # noqa: E402


def _run(script: str, *args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(ROOT / script), *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


@pytest.mark.slow
def test_bench_packed_and_walker_write_rows_the_sizing_table_reads(tmp_path):
    out = _run("benchmarks/bench_packed.py", "--runs", "1", "2", "--n-envs", "16", "--n-steps", "8", "--batch-size",
               "64", "--epochs", "1", "--devices", "cpu", "--students", "mlp", "--seconds", "1",
               "--csv", str(tmp_path / "packed.csv"))
    assert "best: ppo/mlp cpu" in out
    packed = _rows(tmp_path / "packed.csv")
    assert [r["runs"] for r in packed] == ["1", "2"] and all(float(r["env_steps_per_s"]) > 0 for r in packed)
    # the total of a setting is the sum of its runs: per run x runs
    for r in packed:
        assert float(r["per_run_env_steps_per_s"]) * int(r["runs"]) == pytest.approx(float(r["env_steps_per_s"]), rel=1e-3)
    out = _run("benchmarks/bench_walker_subproc.py", "--workers", "1", "--seconds", "1", "--raw-seconds", "0.5",
               "--rollout", "256", "--start-methods", "fork", "--csv", str(tmp_path / "walker.csv"))
    assert "of 16 x raw" in out
    walker = _rows(tmp_path / "walker.csv")
    assert walker[0]["student"].startswith("raw env") and walker[1]["workers"] == "1"
    table = _run("experiments/results/steps_per_second.py", str(tmp_path), "--markdown", str(tmp_path / "t.md"),
                 "--csv", str(tmp_path / "t.csv"))
    assert "| gridworld_batched | ppo/mlp | random | cpu |" in table and "walker_stumps" in table
    assert (tmp_path / "t.md").read_text() == table


@pytest.mark.slow
def test_profile_sb3_loop_reports_every_part(tmp_path):
    out = _run("benchmarks/profile_sb3_loop.py", "--n-envs", "16", "--n-steps", "8", "--batch-size", "64",
               "--epochs", "1", "--rollouts", "1", "--device", "cpu", "--csv", str(tmp_path / "p.csv"))
    for part in ("env step", "level generation", "policy forward", "rollout buffer add", "info handling",
                 "callbacks (bridge)", "update", "logging", "rest"):
        assert part in out
    with open(tmp_path / "p.csv") as fh:
        row = next(csv.DictReader(fh))
    top = ("env step", "policy forward", "timeout bootstrap", "rollout buffer add", "info handling",
           "callbacks (bridge)", "GAE", "update", "logging", "rest")
    assert sum(float(row[p]) for p in top) == pytest.approx(1.0, abs=0.02)  # the parts cover learn() once


def test_sizing_table_takes_the_median_of_repeats_and_skips_other_csvs(tmp_path):
    from experiments.results.steps_per_second import load, table  # noqa: E402

    base = {c: "" for c in COLUMNS} | {"benchmark": "bench_packed", "env": "maze", "student": "mlp",
                                      "teacher": "random", "device": "cuda", "gpus": "1", "runs": "4",
                                      "runs_per_gpu": "4", "n_envs": "1024", "vec": "batched"}
    with open(tmp_path / "a.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        w.writeheader()
        for total in (100.0, 300.0, 200.0):  # median 200, per run 50
            w.writerow(base | {"env_steps_per_s": total, "per_run_env_steps_per_s": total / 4})
    (tmp_path / "profile.csv").write_text("env,update\nmaze,0.5\n")
    notes: list[str] = []
    t = table(load([tmp_path], notes))
    assert len(t) == 1 and t.loc[0, "measurements"] == 3
    assert t.loc[0, "machine_steps_per_s"] == 200.0 and t.loc[0, "per_run_steps_per_s"] == 50.0
    assert t.loc[0, "M_steps_per_h_machine"] == pytest.approx(200 * 3600 / 1e6)
    assert t.loc[0, "runs_per_gpu"] == "4" and any("profile.csv" in n for n in notes)


@pytest.mark.slow
def test_device_script_smoke_writes_every_file_and_the_table(tmp_path):
    """``SMOKE=1 benchmarks/device_scale.sh``: every step of the device script at a tiny size on
    the CPU (the wiring the lead's one GPU run depends on), about 4 minutes on 2 loaded cores."""
    env = {**os.environ, "SMOKE": "1", "OUT": str(tmp_path / "out"), "PYTHON": sys.executable}
    out = subprocess.run(["bash", str(ROOT / "benchmarks" / "device_scale.sh")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    files = {p.name for p in (tmp_path / "out").iterdir()}
    for name in ("packed_mlp_1024", "packed_mlp_1024_fast", "packed_mlp_4096", "packed_recurrent_1024", "packed_mlp_cpu16",
                 "overhead_1024_cuda", "walker_subproc", "walker_chunked", "profile_sb3_loop"):
        assert f"{name}.csv" in files, (name, sorted(files), out.stdout[-3000:])
    assert "teacher_step.txt" in files and "alp_gmm" in (tmp_path / "out" / "teacher_step.txt").read_text()
    table = (tmp_path / "out" / "steps_per_second.md").read_text()
    assert "| gridworld_batched | recurrent_ppo |" in table and "| walker_stumps |" in table and "plain SB3" in table


# every stage in the default suite again since session 22 (two test workers: ~8.5 min on a fresh clone);
# session 21 had moved stages 2-4 (~40 s) to the slow set when the suite took 14-16 min in one process
@pytest.mark.parametrize("stage, names", [("1", ("teacher_step_all", "overhead_param")),
                                          ("2", ("overhead_replay", "overhead_networks")),
                                          ("3", ("overhead_process", "overhead_process_gan")),
                                          ("4", ("teacher_step_process", "cli_riac_process"))])
def test_overhead_device_script_smoke_prints_every_teachers_bridge_share(tmp_path, stage, names):
    """``SMOKE=1 benchmarks/device_overhead.sh``: each stage at a tiny size on the CPU writes its
    tables, and every bench_overhead table gives each of its teachers a bridge share."""
    env = {**os.environ, "SMOKE": "1", "STAGE": stage, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable}
    out = subprocess.run(["bash", str(ROOT / "benchmarks" / "device_overhead.sh")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    for name in names:
        text = (tmp_path / "out" / f"{name}.txt").read_text()
        marker = {"teacher_step": "bridge/env", "cli_riac": "teacher_process"}.get(name[:name.rfind("_")], "bridge share")
        assert marker in text, text[-2000:]
    if stage == "4":  # both CLI runs finished, one with the teacher in a worker
        rows = (tmp_path / "out" / "cli_riac_process.txt").read_text().splitlines()[1:]
        assert sorted(row.split()[1] for row in rows) == ["false", "true"], rows
    teachers = {"overhead_param": ("alp_gmm", "covar_gmm", "riac", "adr", "spdl"),
                "overhead_replay": ("plr", "plr_robust", "accel"),
                "overhead_networks": ("goal_gan", "setter_solver"),
                "overhead_process": ("riac", "riac@proc", "alp_gmm@proc", "covar_gmm@proc", "adr@proc", "spdl@proc"),
                "overhead_process_gan": ("goal_gan@proc",)}
    for name in (n for n in names if n in teachers):
        share_table = (tmp_path / "out" / f"{name}.txt").read_text().split("bridge share:")[1]
        for teacher in teachers[name]:
            assert any(line.split()[:1] == [teacher] for line in share_table.splitlines()), (teacher, share_table)


@pytest.mark.slow
def test_walker_levers_and_profile_run_beside_their_peers(tmp_path):
    """``bench_walker_subproc.py --vecs ... --updates ... --raw-parallel`` measures the shm
    VecEnv and the split update in the same run as SubprocVecEnv and the raw env;
    ``profile_walker_ppo.py`` prints every part."""
    out = _run("benchmarks/bench_walker_subproc.py", "--workers", "1", "--vecs", "subproc", "shm",
               "--envs-per-worker", "1", "2", "--updates", "cpu:1", "--raw-parallel", "--seconds", "1",
               "--raw-seconds", "0.5", "--rollout", "256", "--start-methods", "fork", "--csv", str(tmp_path / "w.csv"))
    assert "raw env in 1 processes at once" in out and "of 16 x raw" in out
    vecs = [r["vec"] for r in _rows(tmp_path / "w.csv")]
    assert vecs[:2] == ["none", "none"] and vecs[2].startswith("subproc/")
    assert [v.split("/")[0] for v in vecs[3:]] == ["shm1", "shm2"] and all("/update-cpu:1/" in v for v in vecs[3:])
    out = _run("benchmarks/profile_walker_ppo.py", "--vecs", "subproc", "shm", "--workers", "1", "--envs-per-worker",
               "1", "2", "--rollout", "256", "--rollouts", "1", "--start-method", "fork", "--raw-seconds", "0.2")
    for part in ("env step, send", "env step, wait", "VecNormalize", "policy forward", "rollout buffer add",
                 "callbacks (bridge)", "update", "evaluate_actions", "backward", "optimizer step", "rest"):
        assert part in out
    out = _run("benchmarks/profile_walker_ppo.py", "--stepping-only", "--vecs", "subproc", "chunked", "shm",
               "--workers", "1", "--envs-per-worker", "1", "2", "--steps", "20", "--start-method", "fork")
    assert out.count("main CPU") == 5  # subproc 1 and 2 processes, shm 1 and 2 envs, chunked 2 envs
