"""``teachbench``: the Hydra command line of one run or a sweep.

    teachbench env=gridworld teacher=alp_gmm student=ppo seed=3 budget.steps=50000
    teachbench -m teacher=random,alp_gmm seed=0,1,2          # basic launcher
    teachbench -m hydra/launcher=joblib teacher=random,alp_gmm seed=0,1
    teachbench experiment=quickstart                          # the README's main job

Every bad input ends the same way: exactly one line on stderr,

    teachbench: error: <key>: <message> (allowed: ...)

and exit status 2, with nothing written. That covers Hydra's own composition errors (an
unknown group option such as ``env=nope``, an empty ``teacher=``, an unknown key such as
``budget.step=100``, a malformed override such as ``=5``; :func:`input_error` turns each
into a :class:`~envs.errors.TeachBenchError` naming the key), the values and choices that
:mod:`experiments.running.config_checks` refuses (checked here before Hydra creates any folder,
also for ``--cfg job``), and every TeachBenchError a run raises later. Anything else is a
bug and keeps its traceback.

Inside a sweep (``-m``) the value checks run per job, as part of ``run()``: a failing run
is recorded as failed in its run directory and the sweep goes on. Composition errors of a
sweep (``-m env=gridworld,nope``) are still refused as one line before any job starts.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

import envs  # noqa: F401  (registers the gymnasium ids)
from envs.errors import TeachBenchError
from experiments.console import OneLineParser, one_line, report_errors, setup_error

log = logging.getLogger("teachbench")

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


class _Refused(BaseException):
    """Carries a TeachBenchError out of Hydra's job runner, which would otherwise wrap it
    (and print an extra "Error executing job" line) before re-raising."""

    def __init__(self, error: TeachBenchError) -> None:
        super().__init__(str(error))
        self.error = error


def refuse_bad_input(app: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """Wrap a Hydra task function so that a TeachBenchError leaves Hydra's job runner
    unwrapped, for :func:`hydra_main` to print as one line (single runs only: inside a
    sweep it is re-raised for the sweep to record)."""

    @functools.wraps(app)
    def task(cfg: DictConfig) -> Any:
        try:
            return app(cfg)
        except TeachBenchError as exc:
            if _is_multirun():
                raise
            raise _Refused(exc) from None

    return task


def _is_multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


# -- turning Hydra's errors into one line ------------------------------------------------------
def _hydra_args(argv: Sequence[str]) -> argparse.Namespace:
    """Hydra's own command-line flags and overrides, parsed as Hydra parses them."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()
    parser.__class__ = OneLineParser  # the same parser, whose error() raises instead of printing usage
    return parser.parse_args(list(argv))


def _override_key(arg: str) -> str:
    key = arg.split("=", 1)[0].lstrip("+~")
    return key or arg


def _check_overrides(overrides: Sequence[str]) -> None:
    """Hydra reports a malformed override without naming it (``=5`` is a traceback)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    for arg in overrides:
        if not arg.split("=", 1)[0].lstrip("+~"):
            raise TeachBenchError(arg, "malformed override: no key before '='")
        try:
            parser.parse_overrides([arg])
        except OverrideParseException as exc:
            raise TeachBenchError(_override_key(arg), f"malformed override {arg!r}: {one_line(exc.message)}") from None


def _is_sweep(override: str) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_overrides([override])[0].is_sweep_override()
    except Exception:  # noqa: BLE001 - a malformed override is reported on its own
        return False


def _parent_keys(config_name: str, overrides: Sequence[str], key: str) -> list[str] | None:
    """The keys next to ``key`` in the config composed without the override that named it."""
    rest = [o for o in overrides if _override_key(o) != key and not _is_sweep(o)]
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    try:
        cfg = _compose(config_name, rest, hydra_config=False)
    except Exception:  # noqa: BLE001 - the list of keys is a courtesy; the error stands without it
        return None
    node = OmegaConf.select(cfg, parent) if parent else cfg
    return sorted(str(k) for k in node.keys()) if isinstance(node, DictConfig) else None


def _group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def input_error(exc: BaseException, overrides: Sequence[str] = (), config_name: str = "config") -> TeachBenchError | None:
    """The TeachBenchError behind ``exc`` when it is bad input (ours or Hydra's), else None.

    Hydra's messages are several lines with the search path; the key is in them: the
    config group of an unknown option (``env`` of ``Could not find 'env/nope'``), the
    dotted key of an unknown key (``Could not override 'budget.step'``), the override of
    a parse error. OmegaConf's errors carry ``full_key``."""
    from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:  # raised "from" a TeachBenchError: that is the error
        seen.add(id(cause))
        if isinstance(cause, TeachBenchError):
            return cause
        if isinstance(cause, _Refused):
            return cause.error
        cause = cause.__cause__
    text = str(exc)
    if isinstance(exc, OverrideParseException):
        return TeachBenchError(_override_key(exc.override), f"malformed override: {one_line(exc.message)}")
    if isinstance(exc, MissingConfigException):
        found = re.search(r"Could not (?:find|load) '([^']*)/([^'/]*)'", text)
        if found:
            group, option = found.groups()
            message = f"unknown option {option!r}" if option else "no option given"
            return TeachBenchError(group, message, exc.options or None)
        primary = re.search(r"primary config '([^']*)'", text)
        if primary:
            return TeachBenchError("--config-name", f"unknown config {primary.group(1)!r}")
        return TeachBenchError("config", one_line(text))
    if isinstance(exc, ConfigCompositionException):
        found = re.search(r"Could not override '([^']+)'", text)
        if found:
            key = found.group(1)
            value = next((o.split("=", 1)[1] for o in overrides if _override_key(o) == key), "...")
            hint = f"; add it with +{key}={value}" if any(key.startswith(k + ".") for k in OPEN_KEYS) else ""
            return TeachBenchError(key, f"not a key of the config{hint}", _parent_keys(config_name, overrides, key))
        found = re.search(r"Could not append to config. An item is already at '([^']+)'", text)
        if found:
            return TeachBenchError(found.group(1), "already in the config: set it without '+'")
        found = re.search(r"Ambiguous value for argument '([^'=]+)=([^']*)'", text)
        if found:
            key, value = found.groups()
            return TeachBenchError(key, f"{value!r} is a sweep: add -m (--multirun), or write {key}=[{value}] for a list")
        found = re.search(r"Multiple values for ([\w/@.]+)", text) or re.search(r"'([^']+)'", text)
        return TeachBenchError(found.group(1).rstrip(".") if found else "config", one_line(text))
    if isinstance(exc, OmegaConfBaseException):
        key = getattr(exc, "full_key", None) or "config"
        return TeachBenchError(str(key), one_line(str(exc).split("\n    full_key:")[0]))
    if isinstance(exc, HydraException):
        return TeachBenchError("config", one_line(text))
    if isinstance(exc, ValueError) and _raised_in_hydra(exc):  # Hydra's plain ValueErrors about the command line
        for o in overrides:  # ``env=0``: "Config group override must be a string or a list. Got int"
            key, _, value = o.partition("=")
            if (CONFIG_DIR / key.lstrip("+~")).is_dir() and "Got" in text:
                return TeachBenchError(key.lstrip("+~"), f"unknown option {value!r}", _group_options(key.lstrip("+~")))
        return TeachBenchError("command line", one_line(text))
    return None


def _raised_in_hydra(exc: BaseException) -> bool:
    tb, last = exc.__traceback__, None
    while tb is not None:
        last, tb = tb.tb_frame.f_code.co_filename, tb.tb_next
    return last is not None and f"{os.sep}hydra{os.sep}" in last


# -- checking a run config before Hydra starts ---------------------------------------------------
def check_run_config(cfg: DictConfig) -> None:
    """The value and choice checks of a single run (``run()`` repeats them), plus building
    the teacher, whose parameters are checked by its constructor."""
    from experiments.running.config_checks import make_config_env, resolve_auto_params, validate_config
    from teachers.registry import make_teacher

    validate_config(cfg)
    resolve_auto_params(cfg)
    env = make_config_env(cfg)
    try:
        space = env.unwrapped.task_space
    finally:
        env.close()
    node = cfg.teacher.get("params")
    if node is not None and not isinstance(node, DictConfig):
        raise TeachBenchError("teacher.params", f"must be a mapping, got {node!r}")
    params = OmegaConf.to_container(node, resolve=True) if node else {}
    make_teacher(str(cfg.teacher.name), space, seed=int(cfg.seed), **params)  # type: ignore[arg-type]


def _compose(config_name: str, overrides: Sequence[str], hydra_config: bool = True) -> DictConfig:
    """The config Hydra would compose from ``overrides`` (raising Hydra's own errors)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            return compose(config_name, list(overrides), return_hydra_config=hydra_config)
    finally:
        GlobalHydra.instance().clear()


def _sweep_points(base: Sequence[str], sweeps: Sequence[Any]) -> Iterator[list[str]]:
    """One override list per value of each sweep (the others left at their defaults):
    enough to find an unknown option or key without composing the whole product."""
    from hydra.core.override_parser.types import Glob

    for sweep in sweeps:
        key = sweep.input_line.split("=", 1)[0]
        value = sweep.value()
        # glob(...) over a config group is expanded by Hydra's sweeper with its config loader,
        # which does not exist yet here: expand it over the group's options ourselves
        values = (value.filter(_group_options(key.lstrip("+~"))) if isinstance(value, Glob)
                  else sweep.sweep_string_iterator())
        for value in values:
            yield [*base, f"{key}={value}"]


def _precheck(args: argparse.Namespace, config_name: str, check: Callable[[DictConfig], Any] | None) -> None:
    """Compose the config as Hydra will and check it. A sweep's points are composed one
    value at a time (composition errors only: the value checks run in each job)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    parsed = parser.parse_overrides(list(args.overrides))
    sweeps = [o for o in parsed if o.is_sweep_override()]
    plain = [o.input_line for o in parsed if not o.is_sweep_override()]
    cfg = _compose(config_name, plain)
    multirun = bool(args.multirun) or cfg.hydra.get("mode") == RunMode.MULTIRUN
    if sweeps and not multirun:  # Hydra's "Ambiguous value" error, said in one line
        value = sweeps[0].input_line.split("=", 1)[1]
        raise TeachBenchError(_override_key(sweeps[0].input_line),
                              f"{value!r} is a sweep: add -m (--multirun), or write [{value}] for a list")
    if multirun and args.cfg is None:
        given = {_override_key(o.input_line) for o in parsed}
        declared = [f"{k}={v}" for k, v in (cfg.hydra.sweeper.get("params") or {}).items() if str(k) not in given]
        sweeps += [o for o in parser.parse_overrides(declared) if o.is_sweep_override()]
        for point in _sweep_points(plain, sweeps):
            _compose(config_name, point)
        return
    if check is None:
        return
    with open_dict(cfg):
        del cfg["hydra"]
    check(cfg)


# -- the entry point ----------------------------------------------------------------------------
@contextlib.contextmanager
def _hydra_argv(prog: str, argv: Sequence[str]) -> Iterator[None]:
    """Hydra reads ``sys.argv``; ``HYDRA_FULL_ERROR`` makes it raise instead of printing."""
    saved_argv, saved_env = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    sys.argv = [prog, *argv]
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    finally:
        sys.argv = saved_argv
        if saved_env is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved_env


def _check_additions(overrides: Sequence[str], open_keys: Sequence[str]) -> None:
    """``+key=value`` adds a key Hydra has never heard of, so ``+budget.step=100`` would be
    a silent no-op: new keys are only taken under the mappings that are open by design
    (SB3 and teacher keyword arguments, env constructor arguments, ...). Config groups
    (``+experiment=...``) and ``++`` (add or override) pass."""
    for arg in overrides:
        if not arg.startswith("+") or arg.startswith("++"):
            continue
        key = arg[1:].split("=", 1)[0]
        if "/" in key or "@" in key or (CONFIG_DIR / key).is_dir():
            continue
        if not any(key.startswith(prefix + ".") for prefix in open_keys):
            raise TeachBenchError(key, "not a key of the config; '+' adds new keys only under these mappings",
                                  list(open_keys))


# Mappings of the run config that take keys of the user's choosing.
OPEN_KEYS = ("student.params", "teacher.params", "env.kwargs", "env.students", "env.expert", "logger", "hydra")


def hydra_main(prog: str, app: Callable[[], Any], argv: Sequence[str] | None, config_name: str,
               check: Callable[[DictConfig], Any] | None = None, open_keys: Sequence[str] | None = None) -> int:
    """Run the ``@hydra.main`` function ``app`` on ``argv`` with TeachBench's error format.

    The overrides' syntax is checked first, then (unless a help or info flag is given, or
    another config folder) the config is composed and ``check``-ed, so that bad input
    never reaches Hydra's job runner and no output folder is created for it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides: list[str] = []

    def body() -> None:
        args = _hydra_args(argv)
        overrides.extend(args.overrides)
        _check_overrides(args.overrides)
        if open_keys is not None:
            _check_additions(args.overrides, open_keys)
        informational = args.help or args.hydra_help or args.info or args.shell_completion
        if not informational and args.config_path is None and args.config_dir is None:
            _precheck(args, args.config_name or config_name, check)
        with _hydra_argv(prog, argv):
            app()

    return report_errors(prog, body, lambda exc: input_error(exc, overrides, config_name))


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point ``teachbench``; returns the exit status (2: bad input)."""
    return hydra_main("teachbench", _hydra_main, argv, "config", check_run_config, OPEN_KEYS)


@hydra.main(version_base="1.3", config_path="../../configs", config_name="config")
def _hydra_main(cfg: DictConfig) -> float | None:
    """Run one experiment; returns the final % mastered (for Hydra sweepers)."""
    from experiments.running.run import run

    try:
        summary = run(cfg)
    except TeachBenchError as exc:
        log.error("invalid input: %s", exc)
        if _is_multirun():
            return None
        raise _Refused(exc) from None
    except Exception as exc:
        if _is_multirun():
            log.exception("run failed; recorded in its status.json, the sweep goes on")
            return None
        setup = setup_error(exc)  # a read-only or full folder: one line, not a traceback
        if setup is not None:
            raise _Refused(setup) from None
        raise
    return summary.get("final_mastered")


if __name__ == "__main__":
    sys.exit(main())
