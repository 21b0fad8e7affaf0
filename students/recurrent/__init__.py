"""A recurrent PPO student that trains on whole rollouts (``student=recurrent_ppo``).

- :mod:`students.recurrent.lstm`: one LSTM call over a rollout with episode resets.
- :mod:`students.recurrent.policy`: the recurrent actor-critic and dcd's maze network.
- :mod:`students.recurrent.buffer`: the rollout buffer of whole sequences.
- :mod:`students.recurrent.ppo`: :class:`SequencePPO`, the SB3 algorithm.

We found no maintained PyPI package that trains SB3's recurrent PPO on whole sequences:
sb3-contrib 2.9.2's ``RecurrentPPO`` cuts rollouts into padded per-episode chunks (a
whole-sequence rewrite proposed there as pull request #118 is not part of it), so this one
is ours, kept small and tested against sb3-contrib on the same data.
"""

from __future__ import annotations

from typing import Any

from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from envs.errors import TeachBenchError
from students.recurrent.policy import DCD_NET_ARCH, RecurrentActorCritic, UEDMazeFeatures
from students.recurrent.ppo import SequencePPO

MAZE_POLICIES = (None, "cnn")
"""``student.policy`` values that give :class:`UEDMazeFeatures` on envs with an ``image_layout``."""


def recurrent_policy_kwargs(vec_env: VecEnv, policy: str | None,
                            policy_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """``policy_kwargs`` of the recurrent student: dcd's maze features on an env with an
    ``image_layout`` (unless ``policy: MlpLstmPolicy`` asks for flat features), the flat
    observation elsewhere; a user's own ``features_extractor_class`` wins."""
    merged = dict(policy_kwargs or {})
    try:
        layout = vec_env.get_attr("image_layout", indices=[0])[0]
    except AttributeError:
        layout = None
    if policy == "cnn" and layout is None:
        raise TeachBenchError("student.policy", "policy 'cnn' needs an env with an image_layout (the gridworld "
                              "has one)", ["MlpLstmPolicy"])
    if policy in MAZE_POLICIES and layout is not None and "features_extractor_class" not in merged:
        if not isinstance(vec_env.observation_space, spaces.Box) or len(vec_env.observation_space.shape) != 1:
            raise TeachBenchError("student.policy", "the maze network needs a flat Box observation")
        extractor_kwargs = dict(merged.get("features_extractor_kwargs") or {})
        extractor_kwargs["image_layout"] = tuple(layout)
        merged["features_extractor_class"] = UEDMazeFeatures
        merged["features_extractor_kwargs"] = extractor_kwargs
    return merged


__all__ = ["DCD_NET_ARCH", "RecurrentActorCritic", "SequencePPO", "UEDMazeFeatures", "recurrent_policy_kwargs"]
