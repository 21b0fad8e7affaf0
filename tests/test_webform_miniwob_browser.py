"""The MiniWoB++ adapter in real Chromium: MiniWoB++'s own login-user and enter-text pages,
played through the adapter's observation conversion and action translation by a scripted
rule (type field j into the j-th empty text-like input, then click the last button).
MiniWoB++ accepts these episodes only if every ref, field and typed value reached the page
as intended. Needs ``pip install 'teachbench[miniwob]'`` and Debian's chromium +
chromium-driver."""

from __future__ import annotations

import numpy as np
import pytest

from envs.webform.miniwob import N_NODES, SLOTS, TAGS
from envs.webform.miniwob_adapter import miniwob_available, play
from envs.webform.tokens import T, token_id

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(miniwob_available()), reason=miniwob_available() or "ok")]


def rule(obs: dict[str, np.ndarray], mask: np.ndarray) -> int:
    fields = obs["fields"].reshape(-1, 2, T)
    n_fields = int((fields[:, 0] > 0).any(-1).sum())
    values = obs["value"].reshape(N_NODES, T)
    typeable = [s for s in range(N_NODES) if n_fields and mask[1 + s * SLOTS + 1]]
    for j, s in enumerate(typeable[:n_fields]):
        if not values[s].any():
            return 1 + s * SLOTS + 1 + j
    buttons = np.flatnonzero(obs["tag"] == TAGS.index("BUTTON"))
    return 1 + int(buttons[-1]) * SLOTS


def test_scripted_rule_solves_login_user_and_enter_text_through_the_adapter():
    seen: list[dict[str, np.ndarray]] = []

    def recording(obs, mask):
        seen.append(obs)
        return rule(obs, mask)

    for task, n_actions in (("login-user", 3), ("enter-text", 2)):
        results = play(task, recording, episodes=2, seed=7)
        assert [(r.success, r.steps) for r in results] == [(True, n_actions)] * 2, task
    # login-user's page as the policy sees it: its labels' words and the password input as a text input
    first = seen[0]
    words = set(first["text"].reshape(N_NODES, T)[:, 0].astype(int).tolist())
    assert {token_id("username"), token_id("password"), token_id("login")} <= words
    assert int((first["tag"] == TAGS.index("INPUT_text")).sum()) == 2
