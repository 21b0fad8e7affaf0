"""Append-only, crash-safe tables of a run: numbered Parquet parts.

Parquet cannot be appended in place, and a CSV appended line by line can be torn by a
kill. So each flush writes a new part ``part-<seq>.parquet`` to a temporary name and
renames it (atomic on POSIX): a reader sees whole parts only, and a kill loses at most
the rows not yet flushed. Resuming a run truncates the parts written after its last
checkpoint (:meth:`TableWriter.truncate_after`), so no row is counted twice.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

_PART = re.compile(r"^part-(\d{6})\.parquet$")


def _parts(directory: Path) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    found = []
    for p in directory.iterdir():
        m = _PART.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


class TableWriter:
    """Buffer rows in memory and write them as numbered parts.

    Args:
        directory: the table's folder (e.g. ``runs/x/episodes``).
        flush_every: rows buffered before an automatic flush (bounds memory and loss).
    """

    def __init__(self, directory: str | os.PathLike, flush_every: int = 5000) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.flush_every = int(flush_every)
        self._rows: list[dict[str, Any]] = []
        parts = _parts(self.directory)
        self.seq = parts[-1][0] if parts else 0
        self.rows_written = 0

    def append(self, row: Mapping[str, Any]) -> None:
        self._rows.append(dict(row))
        if len(self._rows) >= self.flush_every:
            self.flush()

    def extend(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.append(row)

    def flush(self) -> int:
        """Write buffered rows as the next part; returns the last part's sequence number."""
        if not self._rows:
            return self.seq
        frame = pd.DataFrame.from_records(self._rows)
        self.seq += 1
        final = self.directory / f"part-{self.seq:06d}.parquet"
        tmp = self.directory / f".part-{self.seq:06d}.parquet.tmp"
        frame.to_parquet(tmp, index=False)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        self.rows_written += len(self._rows)
        self._rows.clear()
        return self.seq

    def truncate_after(self, seq: int) -> None:
        """Drop parts newer than ``seq`` (written after the checkpoint we resume from)."""
        self._rows.clear()
        for n, path in _parts(self.directory):
            if n > seq:
                path.unlink()
        for tmp in self.directory.glob(".part-*.tmp"):
            tmp.unlink()
        self.seq = min(self.seq, seq)


def read_table(directory: str | os.PathLike) -> pd.DataFrame:
    """All parts of a table, in order. Half-written temp files are ignored; an unreadable
    part (a torn tail from a foreign writer) is skipped rather than failing the reader."""
    frames = []
    for _, path in _parts(Path(directory)):
        try:
            frames.append(pd.read_parquet(path))
        except Exception:  # noqa: BLE001 - a torn part must not hide the rest of the run
            continue
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)
