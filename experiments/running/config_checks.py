"""Checks of a resolved config before anything is built, and the run's identity.

Hydra already parsed the overrides; this module checks the *values* (names exist,
budgets are positive integers, ...) and the *choices* that cannot work together (a
student that cannot act in the env's action space, a masked student on an env without
action masks, a regret teacher on a student without a rollout buffer, student
hyperparameters SB3 would reject only after start-up) and raises
:class:`~envs.errors.TeachBenchError` naming the key and what is allowed, so a typo
never starts a long run.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Mapping

from omegaconf import DictConfig, OmegaConf
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from envs.errors import TeachBenchError, unknown_name
from envs.registry import ENV_IDS
from students.bridge import Curriculum
from students.build import ACTION_SPACES, ALGOS, policy_choices, student_params
from students.fast_rollout import rollout_class
from students.teacher_worker import WORKER_NEEDS
from students.features import CNN
from students.vec import VEC_KINDS
from teachers.registry import TEACHERS, teacher_class

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


def env_normalize(env_cfg: Any) -> bool | str:
    """``env.normalize`` as the VecEnv takes it: ``True`` (observations and rewards), ``False``,
    or ``"reward"`` (rewards alone, as dcd's walker runs: ``VecNormalize(ob=False, ret=True)``)."""
    value = env_cfg.get("normalize", False)
    return "reward" if value == "reward" else bool(value)


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
    for key in ("env.envs_per_worker", "update_threads", "eval.held_out_every"):  # optional
        if OmegaConf.select(cfg, key, default=None) is not None:
            _positive_int(cfg, key)
    if (OmegaConf.select(cfg, "update_device", default=None) is not None
            or OmegaConf.select(cfg, "update_threads", default=None) is not None) and cfg.student.get("algo") != "ppo":
        raise TeachBenchError("update_device", f"a split update is for student.algo=ppo, got {cfg.student.get('algo')}",
                              ["ppo"])
    if OmegaConf.select(cfg, "env.envs_per_worker", default=1) != 1 and cfg.env.get("vec_env") != "shm":
        raise TeachBenchError("env.envs_per_worker", "only env.vec_env=shm takes several envs per worker", ["shm"])
    _positive_int(cfg, "log.flush_every")
    _positive_int(cfg, "log.diagnostics_every")
    for key in ("eval.held_out", "teacher_process"):
        value = OmegaConf.select(cfg, key, default=False)
        if not isinstance(value, bool):
            raise TeachBenchError(key, f"must be true or false, got {value!r}", ["true", "false"])
    normalize = OmegaConf.select(cfg, "env.normalize", default=False)
    if not isinstance(normalize, bool) and normalize != "reward":  # reward: dcd's return normalisation alone
        raise TeachBenchError("env.normalize", f"must be true, false or reward, got {normalize!r}",
                              ["true", "false", "reward"])
    resume = OmegaConf.select(cfg, "resume", default=True)
    if not isinstance(resume, bool) and resume != "extend":  # extend: continue a finished run to a larger budget
        raise TeachBenchError("resume", f"must be true, false or extend, got {resume!r}", ["true", "false", "extend"])
    if OmegaConf.select(cfg, "log.progress_bar", default="auto") not in (True, False, "auto"):
        raise TeachBenchError("log.progress_bar", f"got {cfg.log.progress_bar!r}", ["true", "false", "auto"])
    runs_dir = cfg.get("runs_dir")
    if not isinstance(runs_dir, str) or not runs_dir.strip():
        raise TeachBenchError("runs_dir", f"must be a folder name, got {runs_dir!r}")
    if cfg.device not in ("cpu", "cuda", "auto") and not str(cfg.device).startswith("cuda:"):
        raise TeachBenchError("device", f"unknown device {cfg.device!r}", ["cpu", "cuda", "auto"])
    name = cfg.get("name")
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise TeachBenchError("name", f"must be a non-empty name without '/', got {name!r}")
    check_choices(cfg)


# -- choices that cannot work together ---------------------------------------------------
# Teacher needs (teachers/base.py ``needs``) that read an on-policy rollout buffer:
# PVL/MaxMC regret (PLR, PLR-robust, ACCEL), the replay mask (robust PLR) and PAIRED's
# antagonist, which plays one rollout of ``n_steps x n_envs`` per protagonist rollout.
ROLLOUT_NEEDS = frozenset({"regret", "robust", "antagonist"})
ON_POLICY = tuple(sorted(a for a, cls in ALGOS.items() if issubclass(cls, OnPolicyAlgorithm)))


def _container(cfg: DictConfig, key: str) -> dict[str, Any]:
    """The mapping at ``key`` as plain containers ({} when absent or null)."""
    node = OmegaConf.select(cfg, key)
    if node is None:
        return {}
    if not isinstance(node, DictConfig):
        raise TeachBenchError(key, f"must be a mapping, got {node!r}")
    return dict(OmegaConf.to_container(node, resolve=True))


def make_config_env(cfg: DictConfig) -> Any:
    """One instance of the config's env (``env.name`` with ``env.kwargs``). An env
    constructor's error about one of its arguments is re-raised under the config key the
    user typed (``env.kwargs.max_steps``, not ``max_steps``)."""
    from envs.registry import make_env

    kwargs = _container(cfg, "env.kwargs")
    try:
        return make_env(str(cfg.env.name), **kwargs)
    except TeachBenchError as exc:
        if exc.key.startswith("env"):
            raise
        message = str(exc)[len(exc.key) + 2:]
        if exc.allowed is not None:
            message = message[: message.rfind(" (allowed: ")]
        raise TeachBenchError(f"env.kwargs.{exc.key}", message, exc.allowed) from None


def check_choices(cfg: DictConfig) -> None:
    """The env, teacher and student can work together, and the student's hyperparameters
    are values SB3 accepts. Builds one env instance (milliseconds) to read its action
    space; nothing is trained or written."""
    algo = str(cfg.student.algo)
    params = check_student_params(algo, _container(cfg, "student.params"), _container(cfg, "env.students"))
    check_rollout_fits_budget(algo, params, int(cfg.env.n_envs), int(cfg.budget.steps))
    rollout_class(cfg.student.get("fast_rollout", "auto"), algo, str(cfg.env.vec_env))  # a known value, for PPO
    needs = frozenset(getattr(teacher_class(str(cfg.teacher.name)), "needs", frozenset()))
    if needs & ROLLOUT_NEEDS and algo not in ON_POLICY:
        raise TeachBenchError("student.algo", f"teacher {cfg.teacher.name!r} needs {sorted(needs & ROLLOUT_NEEDS)} from an "
                              f"on-policy rollout buffer with a critic; {algo} has none", ON_POLICY)
    teacher_cls = teacher_class(str(cfg.teacher.name))
    if OmegaConf.select(cfg, "teacher_process", default=False) and (
            not needs <= WORKER_NEEDS or callable(getattr(teacher_cls, "handout_token", None))):
        raise TeachBenchError("teacher_process", f"teacher {cfg.teacher.name!r} cannot run in a worker process (it "
                              f"labels its hand-outs or needs {sorted(needs)} from the student's rollout); only "
                              "teachers that choose tasks from finished episodes can", ["false"])
    env = make_config_env(cfg)
    try:
        space, unwrapped = env.action_space, env.unwrapped
        masked = callable(getattr(unwrapped, "action_masks", None))
        usable = [a for a, kinds in ACTION_SPACES.items() if isinstance(space, kinds) and (masked or a != "maskable_ppo")]
        if not isinstance(space, ACTION_SPACES[algo]):
            raise TeachBenchError("student.algo", f"{algo} cannot act in the env's {type(space).__name__} action space "
                                  f"(env {cfg.env.name!r})", usable)
        if algo == "maskable_ppo" and not masked:
            raise TeachBenchError("student.algo", f"maskable_ppo needs an env with action masks (action_masks()); env "
                                  f"{cfg.env.name!r} has none", usable)
        policy = cfg.student.get("policy")
        aliases = list(ALGOS[algo].policy_aliases)
        if policy is not None and policy not in policy_choices(algo):
            raise TeachBenchError("student.policy", f"unknown policy {policy!r} for {algo}", policy_choices(algo))
        if policy == CNN and getattr(unwrapped, "image_layout", None) is None:
            raise TeachBenchError("student.policy", f"policy 'cnn' needs an env with an image_layout; env "
                                  f"{cfg.env.name!r} has none", aliases)
    finally:
        env.close()


def check_rollout_fits_budget(algo: str, params: Mapping[str, Any], n_envs: int, budget: int) -> None:
    """SB3 always finishes a rollout: an on-policy student collects ``n_steps x n_envs``
    steps before it first checks the budget, an off-policy one ``n_envs`` per step. A
    rollout larger than the whole budget would silently train far past it
    (``env.n_envs=100000`` on a 2,000-step budget ran 1.8M steps)."""
    cls = ALGOS[algo]
    if issubclass(cls, OnPolicyAlgorithm):
        n_steps = int(params.get("n_steps", inspect.signature(cls.__init__).parameters["n_steps"].default))
        rollout, what = n_steps * n_envs, f"one {algo} rollout (student n_steps {n_steps} x env.n_envs {n_envs})"
    else:
        rollout, what = n_envs, f"one step of env.n_envs {n_envs} envs"
    if rollout > budget:
        raise TeachBenchError("budget.steps", f"{what} is {rollout} env steps, more than the whole budget of {budget}; "
                              "raise budget.steps or lower env.n_envs / student.params.n_steps")


# -- student hyperparameters ---------------------------------------------------------------
def _number(kind: type, low: float | None = None, high: float | None = None, low_open: bool = False,
            null: bool = False, extra: tuple[str, ...] = ()) -> Callable[[str, Any], None]:
    """A check for one SB3 hyperparameter: an ``int`` or a finite number in a range."""

    def check(key: str, value: Any) -> None:
        if value is None and null:
            return
        if isinstance(value, str) and (value in extra or any(value.startswith(e + "_") for e in extra)):
            return
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            raise TeachBenchError(key, f"must be {'an integer' if kind is int else 'a number'}, got {value!r}",
                                  list(extra) or None)
        if isinstance(value, float) and not math.isfinite(value):
            raise TeachBenchError(key, f"must be finite, got {value!r}")
        if low is not None and (value <= low if low_open else value < low):
            raise TeachBenchError(key, f"must be {'>' if low_open else '>='} {low}, got {value!r}")
        if high is not None and value > high:
            raise TeachBenchError(key, f"must be <= {high}, got {value!r}")

    return check


def _flag(key: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TeachBenchError(key, f"must be true or false, got {value!r}", ["true", "false"])


def _mapping(key: str, value: Any) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise TeachBenchError(key, f"must be a mapping of keyword arguments, got {value!r}")


def _train_freq(key: str, value: Any) -> None:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        _number(int, 1)(key, value[0])
        if value[1] not in ("step", "episode"):
            raise TeachBenchError(key, f"unit must be step or episode, got {value[1]!r}", ["step", "episode"])
        return
    _number(int, 1)(key, value)


# SB3's own constraints (and the assertions it makes only when the model is built).
PARAM_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "learning_rate": _number(float, 0.0, low_open=True),
    "n_steps": _number(int, 1), "batch_size": _number(int, 1), "n_epochs": _number(int, 1),
    "gamma": _number(float, 0.0, 1.0), "gae_lambda": _number(float, 0.0, 1.0),
    "clip_range": _number(float, 0.0, low_open=True), "clip_range_vf": _number(float, 0.0, low_open=True, null=True),
    "normalize_advantage": _flag, "ent_coef": _number(float, 0.0, extra=("auto",)), "vf_coef": _number(float, 0.0),
    "max_grad_norm": _number(float, 0.0, low_open=True), "use_sde": _flag, "sde_sample_freq": _number(int, -1),
    "target_kl": _number(float, 0.0, low_open=True, null=True), "stats_window_size": _number(int, 1),
    "rms_prop_eps": _number(float, 0.0, low_open=True), "use_rms_prop": _flag,
    "buffer_size": _number(int, 1), "learning_starts": _number(int, 0), "tau": _number(float, 0.0, 1.0, low_open=True),
    "train_freq": _train_freq, "gradient_steps": _number(int, -1), "target_update_interval": _number(int, 1),
    "exploration_fraction": _number(float, 0.0, 1.0), "exploration_initial_eps": _number(float, 0.0, 1.0),
    "exploration_final_eps": _number(float, 0.0, 1.0), "optimize_memory_usage": _flag,
    "target_entropy": _number(float, extra=("auto",)), "use_sde_at_warmup": _flag,
    "policy_kwargs": _mapping, "rollout_buffer_kwargs": _mapping, "replay_buffer_kwargs": _mapping,
}
# Constructor arguments a config must not set: the runner sets them from the top-level
# config (seed, device) or they take Python objects a YAML value cannot be.
NOT_FROM_CONFIG = {
    "seed": "set by the top-level seed=", "device": "set by the top-level device=", "verbose": "set by the runner",
    "_init_setup_model": "set by the runner", "tensorboard_log": "logging goes to the run directory (logger=)",
    "rollout_buffer_class": "takes a Python class", "replay_buffer_class": "takes a Python class",
    "action_noise": "takes a Python object",
}


def check_student_params(algo: str, params: Mapping[str, Any], env_defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The merged SB3 keyword arguments (env defaults under the student's params), each
    checked: unknown names (``students.build.student_params``), values SB3 would reject
    with a traceback after start-up, and the rollout/batch relations PPO asserts."""
    merged = student_params(algo, params, env_defaults)
    for key, value in merged.items():
        if key in NOT_FROM_CONFIG:
            raise TeachBenchError(f"student.params.{key}", f"cannot be set here: {NOT_FROM_CONFIG[key]}")
        check = PARAM_CHECKS.get(key)
        if key == "batch_size" and value is None and algo == "recurrent_ppo":
            continue  # recurrent_ppo: null = one minibatch of every env's whole sequence (dcd)
        if check is not None:
            check(f"student.params.{key}", value)
    batch = merged.get("batch_size")
    if algo in ("ppo", "maskable_ppo") and batch is not None and batch < 2 and merged.get("normalize_advantage", True):
        raise TeachBenchError("student.params.batch_size", f"must be >= 2 when advantages are normalised (SB3 asserts "
                              f"it), got {batch}")
    return merged


# Tasks each sub-env queues beyond the one it plays (students.bridge.Curriculum's default, which the runner uses).
LOOKAHEAD = int(inspect.signature(Curriculum.__init__).parameters["lookahead"].default)


def resolve_auto_params(cfg: DictConfig) -> None:
    """Turn the teacher parameters that depend on the run's shape into numbers, in place,
    before the run's identity is computed: ``config.yaml`` and the config id hold the
    number, so a run whose ``auto`` resolves to the value it had before keeps its id and
    run directory, and a run of another shape gets its own.

    ``max_pending: auto`` (PAIRED, minimax and CLUTR, :class:`teachers.paired.LevelRegretTeacher`):
    :func:`teachers.paired.open_batches_needed` for ``env.n_envs`` sub-envs with the
    bridge's look-ahead (:class:`students.bridge.Curriculum`), the teacher's
    ``batch_size`` and ``episodes_per_level``.
    """
    params = cfg.teacher.get("params")
    if not isinstance(params, DictConfig) or params.get("max_pending") != "auto":
        return
    from teachers.paired import LevelRegretTeacher, open_batches_needed

    cls = teacher_class(str(cfg.teacher.name))
    if not issubclass(cls, LevelRegretTeacher):
        raise TeachBenchError("teacher.params.max_pending", f"'auto' is worked out for the level-batch teachers "
                              f"only, not {cfg.teacher.name!r}: give a number", ["paired", "minimax", "clutr"])
    defaults = inspect.signature(cls.__init__).parameters
    _positive_int(cfg, "env.n_envs")
    batch = params.get("batch_size", defaults["batch_size"].default)
    episodes = params.get("episodes_per_level", defaults["episodes_per_level"].default)
    for key, value in (("batch_size", batch), ("episodes_per_level", episodes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise TeachBenchError(f"teacher.params.{key}", f"must be an integer >= 1, got {value!r}")
    params.max_pending = open_batches_needed(int(cfg.env.n_envs), batch, episodes, LOOKAHEAD)


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
