"""``teachbench``: the Hydra command line of one run or a sweep.

    teachbench env=gridworld teacher=alp_gmm student=ppo seed=3 budget.steps=50000
    teachbench -m teacher=random,alp_gmm seed=0,1,2          # basic launcher
    teachbench -m hydra/launcher=joblib teacher=random,alp_gmm seed=0,1
    teachbench experiment=quickstart                          # the README's main job

Bad input exits with status 2 and one line naming the key. Inside a sweep a failing run
is recorded as failed in its run directory and the sweep goes on.
"""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

import envs  # noqa: F401  (registers the gymnasium ids)
from envs.errors import TeachBenchError

log = logging.getLogger("teachbench")


def _is_multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Run one experiment; returns the final % mastered (for Hydra sweepers)."""
    from experiments.run import run

    try:
        summary = run(cfg)
    except TeachBenchError as exc:
        log.error("invalid input: %s", exc)
        if _is_multirun():
            return None
        print(f"teachbench: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception:
        if _is_multirun():
            log.exception("run failed; recorded in its status.json, the sweep goes on")
            return None
        raise
    return summary.get("final_mastered")


if __name__ == "__main__":
    main()
