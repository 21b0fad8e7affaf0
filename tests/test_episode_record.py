"""``Episode.to_record``: the episodes table's row, built without ``dataclasses.asdict``'s
recursive copy (issue 18; ``benchmarks/bench_episode_record.py`` times the two). The row must be
the one ``asdict`` gave -- the same columns in the same order, the same values -- and must own
its containers as ``asdict``'s copy made it own them."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from teachers.base import Episode


def _asdict_row(episode: Episode) -> dict:
    row = asdict(episode)
    task, extra = row.pop("task"), row.pop("extra")
    row.update({f"task.{k}": v for k, v in task.items()})
    row.update({f"extra.{k}": v for k, v in extra.items()})
    return row


def _episodes() -> list[Episode]:
    maze = Episode(task={"level": "w" * 230}, episode_return=0.4, length=61, success=True, global_step=640,
                   env_index=17, episode_id=3, regret=0.05, level_id="w" * 230)
    maze.extra.update(handout=12, replay=True, handout_kind="replay")
    walker = Episode(task={"stump_height": np.float32(1.5), "stump_spacing": 3.0}, episode_return=-98.2,
                     length=2000, value=np.float64(0.3))
    web = Episode(task={"fields": ["name", "email"], "n_pages": 2}, episode_return=1.0, length=9)
    web.extra["edits"] = {"ops": ["add_field"], "depth": 1}
    return [maze, walker, web, Episode(task={}, episode_return=0.0, length=1)]


def test_the_row_is_the_one_asdict_gave_column_for_column():
    for episode in _episodes():
        ours, reference = episode.to_record(), _asdict_row(episode)
        assert list(ours) == list(reference)
        assert ours == reference
        assert [type(v) for v in ours.values()] == [type(v) for v in reference.values()]


def test_the_row_owns_its_containers():
    web = _episodes()[2]
    row = web.to_record()
    web.task["fields"].append("phone")
    web.extra["edits"]["ops"].append("reorder")
    assert row["task.fields"] == ["name", "email"] and row["extra.edits"] == {"ops": ["add_field"], "depth": 1}
