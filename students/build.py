"""Building SB3 students from config.

A student config names an algorithm (``ppo``, ``a2c``, ``dqn``, ``sac``, ``maskable_ppo``,
``recurrent_ppo``), a policy and the SB3 constructor keyword arguments; the env config may
add per-algorithm defaults (e.g. ``n_steps`` for the gridworld). Unknown names and
parameters, and an algorithm that cannot act in the env's action space, are clear errors
before training starts. ``student.fast_rollout`` picks PPO's rollout loop
(``students/fast_rollout.py``: SB3's buffer without SB3's per-env Python).
"""

from __future__ import annotations

import inspect
import json
import zipfile
from typing import Any, Mapping

from gymnasium import spaces
from sb3_contrib import MaskablePPO
from stable_baselines3 import A2C, DQN, PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from envs.errors import TeachBenchError, unknown_name
from students.fast_rollout import rollout_class, with_fast_rollouts
from students.features import CNN, cnn_policy_kwargs
from students.recurrent import SequencePPO, recurrent_policy_kwargs
from students.shared_mlp import SHARED_MLP, shared_mlp_policy_kwargs
from students.webform_features import WEBFORM_SET, webform_set_policy

# maskable_ppo (sb3-contrib): PPO that never samples actions the env masks out through its
# ``action_masks()`` method (the web-form env provides one).
# recurrent_ppo (students/recurrent): PPO with an LSTM trained on whole rollout sequences; on
# envs with an image_layout its policy is dcd's UED maze network.
ALGOS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN, "sac": SAC, "maskable_ppo": MaskablePPO,
                                         "recurrent_ppo": SequencePPO}
# The action spaces each algorithm supports (SB3's own table).
ACTION_SPACES: dict[str, tuple[type[spaces.Space], ...]] = {
    "ppo": (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
    "a2c": (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
    "dqn": (spaces.Discrete,),
    "sac": (spaces.Box,),
    "maskable_ppo": (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
    "recurrent_ppo": (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
}


def algo_class(name: str) -> type[BaseAlgorithm]:
    try:
        return ALGOS[name]
    except KeyError:
        raise unknown_name("student.algo", name, ALGOS) from None


def student_params(algo: str, params: Mapping[str, Any] | None, env_defaults: Mapping[str, Any] | None) -> dict[str, Any]:
    """Env defaults for this algorithm, overridden by the student config's own params.
    An env default ``policy`` is not a parameter: :func:`make_student` reads it."""
    merged = dict((env_defaults or {}).get(algo, {}) or {})
    merged.pop("policy", None)
    merged.update(params or {})
    cls = algo_class(algo)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "policy", "env"}
    for key in merged:
        if key not in accepted:
            raise TeachBenchError(f"student.params.{key}", f"not a parameter of SB3 {cls.__name__}", sorted(accepted))
    return merged


def policy_choices(algo: str) -> list[str]:
    """The ``student.policy`` names ``algo`` accepts: SB3's aliases plus ours (the maze
    CNN; for feed-forward students also TMA's shared trunk and the web-form set policy)."""
    cls = algo_class(algo)
    ours = [CNN] if cls is SequencePPO else [CNN, SHARED_MLP, WEBFORM_SET]
    return [*ours, *cls.policy_aliases]


def make_student(algo: str, vec_env: VecEnv, policy: str | None = None, params: Mapping[str, Any] | None = None,
                 env_defaults: Mapping[str, Any] | None = None, seed: int = 0, device: str = "cpu",
                 verbose: int = 0, fast_rollout: Any = False, vec_kind: str = "dummy") -> BaseAlgorithm:
    """An SB3 algorithm on ``vec_env``. ``policy`` defaults to ``MultiInputPolicy`` for Dict
    observations and ``MlpPolicy`` otherwise; ``"cnn"`` is an ``MlpPolicy`` whose features
    extractor is a small CNN over the env's ``image_layout`` (``students/features.py``).

    ``fast_rollout`` is ``student.fast_rollout`` (``auto``, ``true``, ``false``, ``batched``)
    and ``vec_kind`` the VecEnv kind it is judged against: PPO then collects its rollouts
    with ``students/fast_rollout.py``'s loop (the same buffer as SB3's, without SB3's
    per-env Python; ``auto`` = on the batched VecEnv only)."""
    loop = rollout_class(fast_rollout, algo, vec_kind)
    model = _build(algo, vec_env, policy, params, env_defaults, seed, device, verbose)
    return with_fast_rollouts(model, loop) if loop is not None else model  # type: ignore[arg-type]


def _build(algo: str, vec_env: VecEnv, policy: str | None, params: Mapping[str, Any] | None,
           env_defaults: Mapping[str, Any] | None, seed: int, device: str, verbose: int) -> BaseAlgorithm:
    """:func:`make_student`'s SB3 object, before the choice of rollout loop."""
    cls = algo_class(algo)
    if not isinstance(vec_env.action_space, ACTION_SPACES[algo]):
        raise TeachBenchError(
            "student.algo",
            f"{algo} cannot act in the env's {type(vec_env.action_space).__name__} action space",
            [a for a, kinds in ACTION_SPACES.items() if isinstance(vec_env.action_space, kinds)],
        )
    kwargs = student_params(algo, params, env_defaults)
    if cls is SequencePPO:
        if policy is not None and policy not in policy_choices(algo):
            raise TeachBenchError("student.policy", f"unknown policy {policy!r} for recurrent_ppo", policy_choices(algo))
        kwargs["policy_kwargs"] = recurrent_policy_kwargs(vec_env, policy, kwargs.get("policy_kwargs"))
        return cls("MlpLstmPolicy", vec_env, seed=seed, device=device, verbose=verbose, **kwargs)
    if policy is None:  # the env config may name the policy its observation needs (webform tokens: webform_set)
        policy = ((env_defaults or {}).get(algo) or {}).get("policy")
    if policy is not None and policy not in policy_choices(algo):
        raise TeachBenchError("student.policy", f"unknown policy {policy!r} for {cls.__name__}", policy_choices(algo))
    if policy == WEBFORM_SET:  # the web-form set policy (students/webform_features.py)
        policy_class, kwargs["policy_kwargs"] = webform_set_policy(algo, vec_env.observation_space,
                                                                   kwargs.get("policy_kwargs"))
        return cls(policy_class, vec_env, seed=seed, device=device, verbose=verbose, **kwargs)
    if policy == SHARED_MLP:  # TMA's PPO: policy and value heads on one trunk (students/shared_mlp.py)
        if algo not in ("ppo", "a2c", "maskable_ppo"):
            raise TeachBenchError("student.policy", f"policy 'shared_mlp' is for on-policy algorithms, not {algo}",
                                  ["ppo", "a2c", "maskable_ppo"])
        kwargs["policy_kwargs"] = shared_mlp_policy_kwargs(vec_env.observation_space, kwargs.get("policy_kwargs"))
        policy = "MlpPolicy"
    if policy == CNN:
        kwargs["policy_kwargs"] = cnn_policy_kwargs(vec_env, kwargs.get("policy_kwargs"))
        policy = "MlpPolicy"
    if policy is None:
        policy = "MultiInputPolicy" if isinstance(vec_env.observation_space, spaces.Dict) else "MlpPolicy"
    return cls(policy, vec_env, seed=seed, device=device, verbose=verbose, **kwargs)


def load_student(path: str, fresh: BaseAlgorithm, vec_env: VecEnv, device: str = "cpu") -> BaseAlgorithm:
    """Load a checkpoint through SB3's loader without unpickling anything from the file.

    SB3 stores some attributes (spaces, schedules, the policy class) cloudpickled inside
    ``model.zip``; unpickling a file from elsewhere could run code. ``fresh`` is the same
    student built from the run's config: its values of those attributes are passed as
    ``custom_objects``, so SB3 never deserialises them; the weights load with
    ``torch.load(weights_only=True)``.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise TeachBenchError("checkpoint", f"{path} is not an SB3 checkpoint: {exc}") from None
    pickled = [k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v]
    unknown = [k for k in pickled if not hasattr(fresh, k)]
    if "update_device" in unknown:
        # a split update (students/split_update.py) pickles its device; the student must be rebuilt the same way
        raise TeachBenchError("update_device", f"{path} was trained with PPO's update on its own device: resume with "
                                               "update_device=cpu (or cuda), as the run was made")
    if unknown:
        raise TeachBenchError("checkpoint", f"{path} holds pickled entries this student does not have: {unknown}")
    custom = {k: getattr(fresh, k) for k in pickled}
    return type(fresh).load(path, env=vec_env, device=device, custom_objects=custom)
