"""Hydra callbacks: print the leaderboard of the experiment when a sweep ends."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("teachbench")


class LeaderboardOnSweepEnd(Callback):
    """After ``teachbench -m ...``: the table of every run of this experiment name."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from experiments.leaderboard import collect_runs, print_leaderboard

        root = Path(config.runs_dir) / str(config.name)
        runs = collect_runs(root)
        if runs.empty:
            log.warning("no runs found under %s", root)
            return
        print_leaderboard(runs, title=f"TeachBench leaderboard: {root}")
