"""Loading a config someone else wrote (a run directory, a shared leaderboard entry) safely.

A Hydra config can name any importable callable in ``_target_``; ``hydra.utils.instantiate``
then calls it. A config copied from a shared run directory or a leaderboard entry must
therefore never be trusted: ``_target_: os.system`` with ``_args_: ["..."]`` runs a shell
command, and ``_target_: experiments.running.run.shutil.rmtree`` reaches a dangerous function
*through* one of our own modules' imports. Interpolations are a second door: resolving
``${oc.env:AWS_SECRET_ACCESS_KEY}`` copies a secret into whatever the config is saved to.

:func:`load_run_config` parses YAML with a safe loader (no Python tags; OmegaConf's loader
is a ``yaml.SafeLoader``) or JSON, then checks every node before anything resolves or
instantiates it:

- every ``_target_`` is a dotted name of one of our packages whose object is *defined* in
  our packages (its ``__module__``, not merely reachable through one), or one of the few
  Hydra plugins our configs name (:data:`HYDRA_TARGETS`);
- every interpolation is a plain reference (``${env.expert}``) or one of the resolvers
  that read nothing outside the config (:data:`SAFE_RESOLVERS`: Hydra's ``now`` and
  ``hydra``, ``oc.select``); others (``${oc.env:...}``, ``${oc.decode:...}``, any custom
  ``${name:...}``) and nested interpolations are refused.

A loaded config is *data*: the keys that make Hydra compose or configure anything
(:data:`COMPOSITION_KEYS`) are refused at the top level, before any check of values. A
``defaults:`` list composes other config files (``defaults: [evil, _self_]`` pulls in
``evil.yaml`` from wherever the search path reaches), and a ``hydra:`` block sets that
search path (``hydra.searchpath``), callbacks and launchers: a shared config carrying
both made the printed reproduce command instantiate ``shutil.copyfile`` from a payload
folder. Run directories never hold either (``experiments.running.run`` saves the composed job
config), so nothing legitimate is lost.

Anything else raises :class:`~envs.errors.TeachBenchError` naming the offending key.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any, Iterable

import yaml
from omegaconf import DictConfig, OmegaConf

from envs.errors import TeachBenchError

# Packages whose classes a config may instantiate.
OWN_PACKAGES = ("envs", "teachers", "students", "experiments", "configs")

# Hydra's own plugins that our configs (configs/config.yaml, launcher presets) name.
HYDRA_TARGETS = frozenset(
    {
        "hydra._internal.core_plugins.basic_launcher.BasicLauncher",
        "hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
        "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
        "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher",
        "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
        "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher",
        "hydra.experimental.callbacks.LogJobReturnCallback",
    }
)

CONFIG_NAMES = ("config.yaml", "config.yml", "config.json")
# Top-level keys through which a config file composes others or configures Hydra itself.
COMPOSITION_KEYS = ("defaults", "hydra")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# ${...} whose body starts with "name:" is a resolver call; a plain reference has no colon
# before its first dot-free segment ends.
_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
_RESOLVER_CALL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*:")
# Resolvers that read nothing outside the config: Hydra's clock and runtime info.
SAFE_RESOLVERS = frozenset({"now", "hydra", "oc.select"})


def load_run_config(path: str | Path) -> DictConfig:
    """The config of a run directory (or a config file), checked for hostile content.

    Args:
        path: a run directory (holding ``config.yaml``), or a ``.yaml``/``.yml``/``.json`` file.

    Raises:
        TeachBenchError: unreadable or hostile config, naming the key (``config`` for the
            file itself, ``<dotted.key>._target_`` for a target outside the allow-list).
    """
    file = _config_file(Path(path))
    text = file.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise TeachBenchError("config", f"{file} is not a plain YAML/JSON config: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TeachBenchError("config", f"{file} must hold a mapping, got {type(data).__name__}")
    check_data_only(data, str(file))
    check_config_tree(data)
    return OmegaConf.create(data)


def check_data_only(data: dict[str, Any], where: str = "config") -> None:
    """Refuse the top-level keys that compose other files or configure Hydra
    (:data:`COMPOSITION_KEYS`): a shared config must be the resolved job config and
    nothing else."""
    for key in COMPOSITION_KEYS:
        if key in data:
            raise TeachBenchError(key, f"{where} has a top-level {key!r} entry: a shared run config is plain data "
                                       "(a defaults list or hydra block could pull in files and callbacks from any "
                                       "search path); use the run directory's own config.yaml")


def check_config_tree(data: Any, prefix: str = "") -> None:
    """Raise TeachBenchError for the first disallowed ``_target_`` or resolver call."""
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise TeachBenchError(_join(prefix, str(key)), f"keys must be plain scalars, got {type(key).__name__}")
            name = _join(prefix, str(key))
            if key == "_target_":
                check_target(name, value)
            else:
                check_config_tree(value, name)
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            check_config_tree(value, f"{prefix}[{i}]")
    elif isinstance(data, str):
        _check_interpolations(prefix or "config", data)
    elif not (data is None or isinstance(data, (bool, int, float))):
        raise TeachBenchError(prefix or "config", f"unsupported value of type {type(data).__name__}")


def check_target(key: str, target: Any) -> None:
    """A ``_target_`` is allowed only if it names an object defined in our own packages,
    or one of :data:`HYDRA_TARGETS`."""
    allowed = [f"{p}.*" for p in OWN_PACKAGES] + sorted(HYDRA_TARGETS)
    if not isinstance(target, str) or not _DOTTED.match(target):
        raise TeachBenchError(key, f"{target!r} is not a dotted name", allowed)
    if target in HYDRA_TARGETS:
        return
    if target.split(".")[0] not in OWN_PACKAGES:
        raise TeachBenchError(key, f"{target!r} is outside the allow-list of instantiable classes", allowed)
    obj = _locate(key, target, allowed)
    module = getattr(obj, "__module__", None) or ""
    if module.split(".")[0] not in OWN_PACKAGES or not isinstance(obj, type):
        raise TeachBenchError(
            key, f"{target!r} resolves to {module or type(obj).__name__}.{getattr(obj, '__qualname__', '?')}, "
                 "not a class defined in this project", allowed)


def _locate(key: str, target: str, allowed: Iterable[str]) -> Any:
    """Import the longest importable module prefix of ``target``, then walk attributes.
    Only our own packages are ever imported here (checked by the caller)."""
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if attr.startswith("_") or not hasattr(obj, attr):
                raise TeachBenchError(key, f"{target!r} does not name a class of this project", allowed)
            obj = getattr(obj, attr)
        return obj
    raise TeachBenchError(key, f"{target!r} cannot be imported", allowed)


def _check_interpolations(key: str, text: str) -> None:
    for body in _INTERPOLATION.findall(text):
        call = _RESOLVER_CALL.match(body)
        if (call and call.group(1) not in SAFE_RESOLVERS) or "${" in body:
            raise TeachBenchError(key, f"resolver interpolation ${{{body}}} is not allowed in a loaded config "
                                       "(only plain references like ${env.expert})")


def _config_file(path: Path) -> Path:
    if path.is_dir():
        for name in CONFIG_NAMES:
            if (path / name).is_file():
                return path / name
        raise TeachBenchError("config", f"no config file in {path}", CONFIG_NAMES)
    if not path.is_file():
        raise TeachBenchError("config", f"{path} does not exist")
    if path.suffix not in (".yaml", ".yml", ".json"):
        raise TeachBenchError("config", f"{path} is not a .yaml/.yml/.json config")
    return path


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


__all__ = ["COMPOSITION_KEYS", "HYDRA_TARGETS", "OWN_PACKAGES", "SAFE_RESOLVERS", "check_config_tree", "check_data_only",
           "check_target", "load_run_config"]
