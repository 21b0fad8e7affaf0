"""Play a policy of ``obs_mode="miniwob"`` on MiniWoB++'s own tasks in real Chromium.

MiniWoB++ (pip ``miniwob==1.1.0``, the optional extra ``teachbench[miniwob]``; Selenium
with Debian's ``chromium`` and ``chromium-driver``, found through the environment
variables ``MINIWOB_CHROME_BINARY`` and ``MINIWOB_CHROMEDRIVER``) serves seeded JavaScript
task pages. The adapter:

- converts each MiniWoB++ observation (utterance, ``fields``, ``dom_elements``) with the
  same encoder as our simulator (:func:`envs.webform.miniwob.encode_observation`);
- builds the action mask the simulator would (any listed element may be clicked, except
  text pseudo-elements, whose negative refs MiniWoB++'s click cannot resolve; fields can be
  typed into text-like inputs and selects, and only fields the task has);
- turns the policy's flat "liu18" action back into MiniWoB++'s action dict: slot ``n``
  becomes that element's ``ref``;
- scores an episode by MiniWoB++'s raw reward (``info["raw_reward"]`` > 0 is a success;
  the default reward is scaled by browser wall-clock time, docs/references.md).

Episodes are capped at ``max_steps`` actions (MiniWoB++ tasks themselves time out after
10 s of browser time); an episode that runs out counts as a failure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from envs.errors import TeachBenchError
from envs.webform.form import MAX_FIELDS
from envs.webform.miniwob import (N_MINIWOB_ACTIONS, N_NODES, SLOTS, TAGS, UTTERANCE_TOKENS, encode_observation,
                                  tag_id, token_ids_long)

# The MiniWoB++ form tasks issue 19 names (docs/references.md).
FORM_TASKS: tuple[str, ...] = ("login-user", "enter-text", "enter-password", "form-sequence-2", "multi-orderings",
                               "click-checkboxes")
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
_TYPEABLE = frozenset(TAGS.index(t) for t in ("INPUT_text", "INPUT_number", "INPUT_date", "SELECT"))

Predict = Callable[[dict[str, np.ndarray], np.ndarray], int]


def miniwob_available() -> str:
    """``""`` when MiniWoB++ can run here, else what is missing."""
    try:
        import miniwob  # noqa: F401
    except ImportError:
        return "the `miniwob` package is not installed (pip install 'teachbench[miniwob]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return f"{path} is absent: apt-get install -y chromium chromium-driver"
    return ""


def convert(obs: dict[str, Any]) -> tuple[dict[str, np.ndarray], np.ndarray, list[int]]:
    """(our observation, action mask, ref of each element-list slot) of a MiniWoB++ observation."""
    dom = list(obs["dom_elements"])[:N_NODES]
    fields = [(str(k), str(v)) for k, v in obs["fields"]][:MAX_FIELDS]
    ours = encode_observation(dom, token_ids_long(str(obs["utterance"]), UTTERANCE_TOKENS), fields)
    mask = np.zeros((N_NODES, SLOTS), dtype=bool)
    for s, d in enumerate(dom):
        # text pseudo-elements (negative refs) are not clickable: core.elementClick only
        # knows the refs of real elements
        mask[s, 0] = int(d["ref"]) > 0
        if tag_id(d["tag"]) in _TYPEABLE:
            mask[s, 1:1 + len(fields)] = True
    return ours, np.concatenate(([True], mask.reshape(-1))), [int(d["ref"]) for d in dom]


def to_miniwob_action(env: Any, action: int, refs: list[int]) -> dict[str, Any]:
    """MiniWoB++'s action dict (env made with ``action_space_config="liu18"``) for a flat action."""
    from miniwob.action import ActionTypes

    base = env.unwrapped
    if not 0 <= action < N_MINIWOB_ACTIONS:
        raise TeachBenchError("action", f"{action} is outside [0, {N_MINIWOB_ACTIONS})")
    if action == 0:
        return base.create_action(ActionTypes.NONE)
    slot, r = divmod(action - 1, SLOTS)
    if slot >= len(refs):
        raise TeachBenchError("action", f"slot {slot} is not on the page ({len(refs)} elements)")
    if r == 0:
        return base.create_action(ActionTypes.CLICK_ELEMENT, ref=refs[slot])
    return base.create_action(ActionTypes.FOCUS_ELEMENT_AND_TYPE_FIELD, ref=refs[slot], field=r - 1)


@dataclass
class EpisodeResult:
    task: str
    seed: int
    success: bool
    raw_reward: float
    steps: int


def play(task: str, predict: Predict, episodes: int, seed: int = 0, max_steps: int = 12) -> list[EpisodeResult]:
    """Play ``episodes`` seeded episodes of MiniWoB++'s ``task`` with ``predict(obs, mask)``."""
    missing = miniwob_available()
    if missing:
        raise TeachBenchError("miniwob", missing)
    import gymnasium as gym
    import miniwob

    os.environ.setdefault("MINIWOB_CHROME_BINARY", CHROMIUM)
    os.environ.setdefault("MINIWOB_CHROMEDRIVER", CHROMEDRIVER)
    gym.register_envs(miniwob)
    env = gym.make(f"miniwob/{task}-v1", action_space_config="liu18")
    results = []
    try:
        for k in range(episodes):
            obs, info = env.reset(seed=seed + k)
            raw, done, steps = -1.0, False, 0
            while not done and steps < max_steps:
                ours, mask, refs = convert(obs)
                action = int(predict(ours, mask))
                obs, _, terminated, truncated, info = env.step(to_miniwob_action(env, action, refs))
                steps += 1
                done = terminated or truncated
                if done:
                    raw = float(info.get("raw_reward", -1.0))
            results.append(EpisodeResult(task, seed + k, done and raw > 0, raw if done else -1.0, steps))
    finally:
        env.close()
    return results


def policy_predict(model: Any, deterministic: bool = True) -> Predict:
    """``predict`` for an SB3 model trained on ``obs_mode="miniwob"`` (MaskablePPO takes the mask)."""
    def predict(obs: dict[str, np.ndarray], mask: np.ndarray) -> int:
        try:
            action, _ = model.predict(obs, deterministic=deterministic, action_masks=mask)
        except TypeError:
            action, _ = model.predict(obs, deterministic=deterministic)
        return int(np.asarray(action).reshape(()))

    return predict
