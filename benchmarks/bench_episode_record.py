"""The per-episode cost of recording a finished episode: ``Episode.to_record`` and the episodes
table (issue 18: the bridge's per-episode cost).

Every finished episode of a run becomes a row of ``episodes/`` (``experiments/running/run.py``,
``record_episode``). At 1024 batched mazes the bridge's own per-episode cost was ~22 us for every
teacher (session 19, ``experiments/results/scale_2026-11-30/``, measured by ``bench_overhead.py``,
whose curriculum records nothing), and SPDL's short easy mazes end 12x more episodes than Random's,
which alone held SPDL at 0.904 of plain SB3's speed there. A run pays this row on top. This script
times, in the same run and on the same episodes:

- ``asdict``: the row built as it was until session 21, ``dataclasses.asdict`` (a recursive deep
  copy of every field) then flattening ``task`` and ``extra`` -- the peer;
- ``to_record``: :meth:`teachers.base.Episode.to_record` as it is (scalars taken, containers copied);
- ``table``: appending the rows to a :class:`experiments.tables.TableWriter` and writing its Parquet
  parts (5,000 rows per part, as a run), per row;

and prints microseconds per episode and the ratio ``asdict / to_record``. Both builders must give
the same row (asserted before timing). Episodes look like the maze's (a ~230-character level
string, a hand-out token, a regret) or the walker's (two task floats)::

    python benchmarks/bench_episode_record.py --episodes 20000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict
from typing import Any, Callable

from _setup import ROOT  # noqa: F401 - the repository on sys.path, one thread per process

from experiments.tables import TableWriter  # noqa: E402
from teachers.base import Episode  # noqa: E402


def asdict_record(episode: Episode) -> dict[str, Any]:
    """The row as ``Episode.to_record`` built it before session 21 (the peer)."""
    row = asdict(episode)
    task, extra = row.pop("task"), row.pop("extra")
    row.update({f"task.{k}": v for k, v in task.items()})
    row.update({f"extra.{k}": v for k, v in extra.items()})
    return row


def episodes(kind: str, n: int) -> list[Episode]:
    out = []
    for i in range(n):
        if kind == "maze":
            level = f"{i:08d}" + "w" * 222  # a level string of the dcd maze's length
            ep = Episode(task={"level": level}, episode_return=0.4, length=61, success=True, global_step=64 * i,
                         env_index=i % 1024, episode_id=i, regret=0.05, level_id=level)
            ep.extra.update(handout=i, replay=bool(i % 2), handout_kind="replay")
        else:
            ep = Episode(task={"stump_height": 0.3 * (i % 10), "stump_spacing": 0.6 * (i % 7)}, episode_return=112.5,
                         length=2000, success=False, global_step=20_000 * i, env_index=i % 100, episode_id=i)
        out.append(ep)
    return out


def per_episode_us(fn: Callable[[Episode], Any], eps: list[Episode], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for e in eps:
            fn(e)
        best = min(best, time.perf_counter() - t)
    return best / len(eps) * 1e6


def table_us(rows: list[dict[str, Any]]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        writer = TableWriter(tmp)
        t = time.perf_counter()
        for row in rows:
            writer.append(row)
        writer.flush()
        return (time.perf_counter() - t) / len(rows) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the fastest counts")
    args = parser.parse_args()
    print(f"{'episodes':8s} {'asdict us':>10s} {'to_record us':>13s} {'ratio':>6s} {'table us/row':>13s}")
    for kind in ("maze", "walker"):
        eps = episodes(kind, args.episodes)
        for e in eps[:100]:
            assert e.to_record() == asdict_record(e) and list(e.to_record()) == list(asdict_record(e))
        peer = per_episode_us(asdict_record, eps, args.repeats)
        ours = per_episode_us(Episode.to_record, eps, args.repeats)
        table = table_us([e.to_record() for e in eps])
        print(f"{kind:8s} {peer:10.2f} {ours:13.2f} {peer / ours:6.1f} {table:13.2f}")


if __name__ == "__main__":
    main()
