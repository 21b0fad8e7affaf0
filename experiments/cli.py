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


def _check_overrides(argv: list[str]) -> None:
    """Hydra reports a malformed override without naming it; name it, then exit 2."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        try:
            parser.parse_overrides([arg])
        except OverrideParseException as exc:
            key = arg.split("=", 1)[0].lstrip("+~")
            print(f"teachbench: error: {key}: malformed override {arg!r}: {exc}", file=sys.stderr)
            sys.exit(2)


def main() -> None:
    """Console entry point: check the overrides' syntax, then hand over to Hydra."""
    _check_overrides(sys.argv[1:])
    _hydra_main()


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def _hydra_main(cfg: DictConfig) -> float | None:
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
