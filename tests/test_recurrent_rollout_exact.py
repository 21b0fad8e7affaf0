"""The recurrent student's rollout loop and PAIRED's adversary compute what they computed
before their per-step host<->device traffic was cut (issue 18).

``students/recurrent/ppo.py`` moves each step's observations and episode starts to the
device in one copy and brings actions, values and log-probabilities back in one (on CUDA;
forced here on the CPU too), and the acting forward builds its action distribution without
torch's argument checks and samples without ``torch.multinomial``'s (each a device round
trip on CUDA). None of this may change a number, and PAIRED's adversary (sb3-contrib's
loop, with the goal-last designer) stays as it was too: the digests below (rollout buffer, hidden states, weights and
optimiser state after three rollouts and updates through the curriculum bridge, with
episode starts and time-limit cuts mid-rollout; the adversary's designs and weights after
two designs and updates) were produced by the code before the change
(``tests/data/recurrent_rollout_reference.json``; regenerate only for an intended change
of the computation: ``python tests/test_recurrent_rollout_exact.py > tests/data/recurrent_rollout_reference.json``).
The same code gives other last bits on another kind of CPU: each kind seen keeps its own record
beside it (``tests/_cpu_references.py``), and a result must equal one of them exactly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback, CallbackList

import envs  # noqa: F401
from tests._cpu_references import matching
from students.bridge import Curriculum, CurriculumCallback
from students.build import make_student
from students.vec import make_vec_env
from teachers.registry import make_teacher

REFERENCE = Path(__file__).parent / "data" / "recurrent_rollout_reference.json"
N_ENVS, N_STEPS, ROLLOUTS = 8, 32, 3


def digest(value: Any) -> str:
    """SHA-256 of nested dicts / lists of tensors, arrays and numbers (structure, dtype, shape, bytes)."""
    h = hashlib.sha256()

    def walk(v: Any) -> None:
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu().contiguous().numpy()
        if isinstance(v, np.ndarray):
            h.update(f"A{v.dtype}{v.shape}".encode())
            h.update(np.ascontiguousarray(v).tobytes())
        elif isinstance(v, dict):
            h.update(b"{")
            for k, x in v.items():
                h.update(repr(k).encode())
                walk(x)
            h.update(b"}")
        elif isinstance(v, (list, tuple)):
            h.update(b"[")
            for x in v:
                walk(x)
            h.update(b"]")
        else:
            h.update(repr(v).encode())

    walk(value)
    return h.hexdigest()


class Seen(BaseCallback):
    """Counts finished episodes and time-limit cuts, so the test knows it covered them."""

    def __init__(self) -> None:
        super().__init__()
        self.cuts = 0
        self.finished = 0
        self.returns: list[float] = []

    def _on_step(self) -> bool:
        for i in np.flatnonzero(self.locals["dones"]):
            info = self.locals["infos"][i]
            self.finished += 1
            self.cuts += bool(info.get("TimeLimit.truncated"))
            self.returns.append(float(info["episode"]["r"]))
        return True


def student_scenario(fuse: bool | None = None) -> dict[str, Any]:
    """Three rollouts + updates of ``recurrent_ppo`` (8 batched 7x7 mazes, a 12-step limit,
    a random teacher through the bridge), 2 minibatches of 4 columns, 2 epochs; ``fuse``:
    the loop's ``fuse_step_copies`` (None: the default, copies apart on the CPU)."""
    torch.manual_seed(0)
    vec = make_vec_env("gridworld", {"max_size": 7, "max_steps": 12}, N_ENVS, "batched", seed=0)
    try:
        curriculum = Curriculum(make_teacher("random", vec.get_attr("task_space", indices=[0])[0], seed=0), vec)
        curriculum.prime()
        model = make_student("recurrent_ppo", vec, params={"n_steps": N_STEPS, "batch_size": 4 * N_STEPS,
                                                            "n_epochs": 2, "ent_coef": 0.01, "clip_range_vf": 0.2},
                             seed=0)
        if fuse is not None:
            model.fuse_step_copies = fuse
        seen = Seen()
        model.learn(ROLLOUTS * N_ENVS * N_STEPS, callback=CallbackList([CurriculumCallback(curriculum), seen]))
        buf = model.rollout_buffer
        buffer = {name: getattr(buf, name) for name in ("observations", "actions", "rewards", "episode_starts",
                                                        "values", "log_probs", "returns", "advantages")}
        buffer["initial_state"] = buf.initial_state
        return {
            "buffer": digest(buffer),
            "hidden": digest(model._last_hidden),
            "policy": digest(dict(model.policy.state_dict())),
            "optimizer": digest(model.policy.optimizer.state_dict()["state"]),
            "episodes": digest(seen.returns),
            "finished": seen.finished,
            "cuts": seen.cuts,
        }
    finally:
        vec.close()


def test_sample_categorical_draws_what_torch_multinomial_draws():
    """The rollout's sampler is torch.multinomial's one-sample draw without its checks: the
    same actions from the same generator state, including near-zero and one-hot rows."""
    from students.recurrent.policy import sample_categorical

    g = torch.Generator().manual_seed(1)
    probs = torch.softmax(3 * torch.randn(257, 7, generator=g), dim=-1)
    probs[0] = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    for seed in range(5):
        torch.manual_seed(seed)
        expected = torch.multinomial(probs, 1, True).T.reshape(-1)
        after_expected = torch.rand(3)  # the generator moved on by as much
        torch.manual_seed(seed)
        got = sample_categorical(probs)
        assert got.dtype == torch.int64 and torch.equal(got, expected)
        assert torch.equal(torch.rand(3), after_expected)
        assert int(got[0]) == 2


def test_a_policy_with_nan_weights_is_refused_in_the_rollout():
    """Without torch's argument checks the rollout still refuses non-finite logits."""
    vec = make_vec_env("gridworld", {"max_size": 7, "max_steps": 12}, 2, "batched", seed=0)
    try:
        model = make_student("recurrent_ppo", vec, params={"n_steps": 8, "n_epochs": 1}, seed=0)
        with torch.no_grad():
            model.policy.action_net.weight.fill_(float("nan"))
        with pytest.raises(ValueError, match="not finite"):
            model.learn(16)
    finally:
        vec.close()


def adversary_scenario() -> dict[str, Any]:
    """A small PAIRED adversary (7x7, 5 walls, goal last): two designs, two updates."""
    from students.paired_adversary import PairedAdversary

    torch.manual_seed(0)
    adv = PairedAdversary(size=7, n_walls=5, noise_dim=8, batch_size=4, conv_filters=4, lstm_hidden=16,
                          head_hidden=8, seed=3, goal_last=True)
    try:
        levels = []
        for k in range(2):
            batch, designed, _stats = adv.design()
            levels.append(designed)
            adv.learn(batch, [0.1 * (i + k) for i in range(4)])
        _, designed, _ = adv.design()
        levels.append(designed)
        buf = adv.model.rollout_buffer  # the last design's buffer, LSTM states included
        buffer = {name: getattr(buf, name) for name in (
            "observations", "actions", "rewards", "episode_starts", "values", "log_probs", "returns", "advantages",
            "hidden_states_pi", "cell_states_pi", "hidden_states_vf", "cell_states_vf")}
        return {"levels": digest(levels), "buffer": digest(buffer), "policy": digest(dict(adv.model.policy.state_dict())),
                "optimizer": digest(adv.model.policy.optimizer.state_dict()["state"])}
    finally:
        adv.close()


@pytest.mark.parametrize("fuse", [None, True])
def test_the_recurrent_students_rollouts_and_updates_are_unchanged(fuse):
    got = student_scenario(fuse)
    assert got["cuts"] > 10 and got["finished"] > got["cuts"]  # resets mid-rollout, time-limit cuts and goals
    matching(REFERENCE, "student", got)  # one record per CPU kind (tests/_cpu_references.py)


def test_the_paired_adversarys_designs_and_updates_are_unchanged():
    matching(REFERENCE, "adversary", adversary_scenario())


def reference_text() -> str:
    """This code's record of both scenarios, as the reference file holds it."""
    return json.dumps({"student": student_scenario(), "adversary": adversary_scenario()}, indent=2)


if __name__ == "__main__":
    print(reference_text())
