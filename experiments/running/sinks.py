"""Where a run's metrics go besides its files: nothing, or wandb.

wandb runs offline when no ``WANDB_API_KEY`` is set (``logger.mode=auto``), groups the
runs of one experiment (``group=<name>``), and never receives the key in its config.
An online start that cannot reach the server (a key but no network: wandb waited 90 s
in silence by default) gives up after ``logger.init_timeout`` seconds
(:data:`INIT_TIMEOUT_S` unless set) with one line naming ``logger.mode``.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from omegaconf import DictConfig

from envs.errors import TeachBenchError
from experiments.running.config_checks import resolved_config
from teachers.base import Episode



INIT_TIMEOUT_S = 20.0


class NullSink:
    """Files only."""

    def episode(self, episode: Episode) -> None:
        pass

    def metrics(self, step: int, values: Mapping[str, Any]) -> None:
        pass

    def eval_table(self, step: int, rows: list[dict[str, Any]]) -> None:
        pass

    def finish(self, summary: Mapping[str, Any]) -> None:
        pass


class WandbSink(NullSink):
    """Logs episode returns (every ``episode_every`` episodes), eval and teacher metrics."""

    def __init__(self, cfg: DictConfig, run_dir: Any, episode_every: int = 10) -> None:
        import wandb

        mode = cfg.logger.get("mode", "auto")
        if mode == "auto":
            mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
        if mode not in ("online", "offline", "disabled"):
            raise TeachBenchError("logger.mode", f"unknown wandb mode {mode!r}", ["auto", "online", "offline", "disabled"])
        config = resolved_config(cfg)
        self.wandb = wandb
        timeout = cfg.logger.get("init_timeout", INIT_TIMEOUT_S)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise TeachBenchError("logger.init_timeout", f"must be a positive number of seconds, got {timeout!r}")
        settings = wandb.Settings(console="off", quiet=True, init_timeout=float(timeout),
                                  login_timeout=float(timeout), x_graphql_timeout_seconds=float(timeout))
        try:
            self.run = wandb.init(project=cfg.logger.get("project", "teachbench"), entity=cfg.logger.get("entity"),
                                  group=cfg.name, name=run_dir.path.name, dir=str(run_dir.path), config=config,
                                  mode=mode, reinit="finish_previous", settings=settings)
        except Exception as exc:  # noqa: BLE001 - wandb's network errors have many types
            if mode != "online":
                raise
            raise TeachBenchError(
                "logger.mode", f"wandb could not start an online run within {timeout:g} s ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}); without a network use "
                               "logger.mode=offline and `wandb sync` later") from None
        self.episode_every = episode_every

    def episode(self, episode: Episode) -> None:
        if episode.episode_id % self.episode_every == 0:
            self.run.log({"train/episode_return": episode.episode_return, "train/success": float(episode.success),
                          "global_step": episode.global_step})

    def metrics(self, step: int, values: Mapping[str, Any]) -> None:
        self.run.log({**{k: v for k, v in values.items() if isinstance(v, (int, float))}, "global_step": step})

    def eval_table(self, step: int, rows: list[dict[str, Any]]) -> None:
        """Each evaluation's per-task records as a wandb Table (task, return, success, mastered)."""
        if rows:
            columns = list(rows[0])
            table = self.wandb.Table(columns=columns, data=[[r.get(c) for c in columns] for r in rows])
            self.run.log({"eval/tasks": table, "global_step": step})

    def finish(self, summary: Mapping[str, Any]) -> None:
        for k, v in summary.items():
            if isinstance(v, (int, float, str)):
                self.run.summary[k] = v
        self.run.finish()


def make_sink(cfg: DictConfig, run_dir: Any) -> NullSink:
    kind = cfg.get("logger", {}).get("kind", "none") if cfg.get("logger") else "none"
    if kind == "none":
        return NullSink()
    if kind == "wandb":
        return WandbSink(cfg, run_dir)
    raise TeachBenchError("logger.kind", f"unknown logger {kind!r}", ["none", "wandb"])
