"""Checks of a resolved config before anything is built, and the run's identity.

Hydra already parsed the overrides; this module checks the *values* (names exist,
budgets are positive integers, ...) and raises :class:`~envs.errors.TeachBenchError`
naming the key and what is allowed, so a typo never starts a long run.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from envs.errors import TeachBenchError, unknown_name
from envs.registry import ENV_IDS
from students.build import ALGOS
from students.vec import VEC_KINDS
from teachers.registry import TEACHERS

# A config entry whose key contains one of these is a credential: never written to disk or logged.
SECRET_MARKERS = ("key", "token", "secret", "password")

# Keys that do not change what a run computes: they may differ when a run is resumed.
VOLATILE = ("resume", "logger", "log", "device", "runs_dir", "eval.n_envs", "hydra")


def _positive_int(cfg: DictConfig, key: str, minimum: int = 1) -> None:
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TeachBenchError(key, f"must be an integer, got {value!r}")
    if value < minimum:
        raise TeachBenchError(key, f"must be >= {minimum}, got {value}")


def validate_config(cfg: DictConfig) -> None:
    """Raise :class:`TeachBenchError` for the first invalid value of a run config."""
    for key in ("env", "teacher", "student", "budget", "eval"):
        if OmegaConf.select(cfg, key) is None:
            raise TeachBenchError(key, "missing from the config")
    if cfg.env.get("name") not in ENV_IDS:
        raise unknown_name("env.name", str(cfg.env.get("name")), ENV_IDS)
    if cfg.teacher.get("name") not in TEACHERS:
        raise unknown_name("teacher.name", str(cfg.teacher.get("name")), TEACHERS)
    if cfg.student.get("algo") not in ALGOS:
        raise unknown_name("student.algo", str(cfg.student.get("algo")), ALGOS)
    if cfg.env.get("vec_env", "dummy") not in VEC_KINDS:
        raise unknown_name("env.vec_env", str(cfg.env.get("vec_env")), VEC_KINDS)
    _positive_int(cfg, "seed", 0)
    _positive_int(cfg, "budget.steps")
    _positive_int(cfg, "eval.every")
    _positive_int(cfg, "eval.episodes_per_task")
    _positive_int(cfg, "eval.n_envs")
    _positive_int(cfg, "checkpoint.every")
    _positive_int(cfg, "env.n_envs")
    _positive_int(cfg, "torch_threads")
    if cfg.device not in ("cpu", "cuda", "auto") and not str(cfg.device).startswith("cuda:"):
        raise TeachBenchError("device", f"unknown device {cfg.device!r}", ["cpu", "cuda", "auto"])
    name = cfg.get("name")
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise TeachBenchError("name", f"must be a non-empty name without '/', got {name!r}")


def scrub(data: Any) -> Any:
    """Drop config entries whose key looks like a credential (wandb's key is read from the
    environment; a config that interpolates it must not carry it into the run directory)."""
    if isinstance(data, dict):
        return {k: scrub(v) for k, v in data.items() if not any(m in str(k).lower() for m in SECRET_MARKERS)}
    if isinstance(data, list):
        return [scrub(v) for v in data]
    return data


def resolved_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain containers, credentials removed: what a run saves."""
    return scrub(OmegaConf.to_container(cfg, resolve=True))


def identity_config(cfg: DictConfig) -> dict[str, Any]:
    """The flattened config minus volatile keys: two runs with the same identity compute
    the same thing, so a rerun may resume or skip it."""
    data = resolved_config(cfg)
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            flat[prefix] = node

    walk("", data)
    return {k: v for k, v in flat.items() if not any(k == p or k.startswith(p + ".") for p in VOLATILE)}
