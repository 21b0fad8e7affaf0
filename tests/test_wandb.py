"""wandb through a real sweep in offline mode: offline run files per run, one group per
sweep (the experiment name), and an API key in the environment never written anywhere.

``logger.mode=offline`` is set explicitly: with a key in the environment, ``mode=auto``
would go online, and this test must never touch the network."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.reporting.leaderboard import collect_runs

pytest.importorskip("wandb")

ROOT = Path(__file__).resolve().parents[1]
FAKE_KEY = "tbfake" + "0123456789abcdef" * 2 + "42"  # 40 characters, like a real key
BLOCK, HEADER = 32 * 1024, 7


def read_records(path: Path) -> list:
    """The protobuf records of a ``.wandb`` transaction log (LevelDB log framing: 32 KiB
    blocks of [crc32, length, type] chunks after a 7-byte file header)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"not a wandb transaction log: {path}"
    pos, pending, records = HEADER, b"", []
    while pos + HEADER <= len(data):
        left = BLOCK - (pos % BLOCK)
        if left < HEADER:  # block trailer
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        chunk = data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        if kind == 0 and length == 0:
            break
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):  # FULL or LAST: a whole record
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def test_offline_sweep_groups_runs_and_never_writes_the_key(tmp_path):
    wandb_home = tmp_path / "wandb-home"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_API_KEY": FAKE_KEY, "WANDB_MODE": "offline",
           "WANDB_DIR": str(wandb_home / "dir"), "WANDB_CACHE_DIR": str(wandb_home / "cache"),
           "WANDB_CONFIG_DIR": str(wandb_home / "config"), "WANDB_DATA_DIR": str(wandb_home / "data"),
           "WANDB_SILENT": "true", "HOME": str(wandb_home)}
    runs_dir = tmp_path / "runs"
    out = subprocess.run(
        [sys.executable, "-m", "experiments.running.cli", "-m", "logger=wandb", "logger.mode=offline", "name=wbsweep",
         "seed=0,1", f"runs_dir={runs_dir}", "budget.steps=1024", "eval.every=1024", "checkpoint.every=1024",
         "env.kwargs.max_steps=40", "eval.held_out=false", "log.progress_bar=false"],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    runs = collect_runs(runs_dir / "wbsweep")
    assert sorted(runs["seed"]) == [0, 1] and set(runs["state"]) == {"finished"}

    groups, names = set(), set()
    for path in runs["path"]:
        logs = list(Path(path).glob("wandb/offline-run-*/run-*.wandb"))
        assert len(logs) == 1, f"one offline run per run directory, found {logs}"
        records = read_records(logs[0])
        run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
        groups.add(run.run_group)
        names.add(run.display_name)
        assert run.project == "teachbench"
        history = [r for r in records if r.WhichOneof("record_type") == "history"]
        keys = {item.key or "/".join(item.nested_key) for h in history for item in h.history.item}
        assert "eval/mastered_pct" in keys  # the run's metrics went to wandb
        assert any(k.startswith("eval/tasks") for k in keys)  # and each evaluation's per-task table
        assert list(Path(path).glob("wandb/offline-run-*/files/media/table/eval/tasks_*.table.json"))
    assert groups == {"wbsweep"}  # the sweep's runs share one group
    assert names == {Path(p).name for p in runs["path"]}  # wandb names each run after its run directory
    assert {n.rsplit("__", 1)[0] for n in names} == {"gridworld__random__ppo__s0", "gridworld__random__ppo__s1"}

    # the key is in no file the sweep wrote: run directories, wandb files, Hydra's folder
    leaked = [p for p in [*runs_dir.rglob("*"), *wandb_home.rglob("*")]
              if p.is_file() and FAKE_KEY.encode() in p.read_bytes()]
    assert leaked == []
