"""Hydra callbacks of ``teachbench`` (registered in ``configs/config.yaml``).

:class:`LeaderboardOnSweepEnd` prints the leaderboard of the experiment when a sweep
ends, and, before Hydra creates any folder, checks ``runs_dir``: Hydra's own output
folders are ``${runs_dir}/_hydra/...``, made before the job starts, so an empty
``runs_dir=`` would create ``/_hydra`` at the filesystem root. ``on_run_start`` and
``on_multirun_start`` run before that folder is made (Hydra's ``run`` and ``multirun``
call them first); a bad value ends the command with one line and exit status 2.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from envs.errors import TeachBenchError

log = logging.getLogger("teachbench")


def check_runs_dir(config: DictConfig) -> None:
    """``runs_dir`` must name a folder: a non-empty string that is not the root."""
    value = OmegaConf.select(config, "runs_dir", default=None, throw_on_missing=False)
    if not isinstance(value, str) or not value.strip() or Path(value).resolve() == Path("/"):
        raise TeachBenchError("runs_dir", f"must be a folder (relative or absolute, not the root), got {value!r}")


class LeaderboardOnSweepEnd(Callback):
    """After ``teachbench -m ...``: the table of every run of this experiment name."""

    def _check(self, config: DictConfig) -> None:
        try:
            check_runs_dir(config)
        except TeachBenchError as exc:
            print(f"teachbench: error: {exc}", file=sys.stderr)
            sys.exit(2)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from experiments.reporting.leaderboard import print_leaderboard
        from experiments.reporting.runs import collect_runs

        root = Path(config.runs_dir) / str(config.name)
        runs = collect_runs(root)
        if runs.empty:
            log.warning("no runs found under %s", root)
            return
        print_leaderboard(runs, title=f"TeachBench leaderboard: {root}")
