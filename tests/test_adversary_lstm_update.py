"""``adversary_lstm_update="sequence"``: one LSTM call per design in the PAIRED adversary's PPO
update instead of sb3-contrib's loop over time steps (students/paired_adversary.py,
SequenceLstmPolicy). It must be the same recurrence: the same outputs, states and gradients
up to float rounding where a sequence starts an episode at its first step only, sb3-contrib's
own loop (exactly) where one starts later, the same designs (acting is unchanged), and the
default must keep every earlier run's config id."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from torch import nn

from envs.errors import TeachBenchError
from students.paired_adversary import PairedAdversary, SequenceLstmPolicy

SMALL = {"conv_filters": 4, "lstm_hidden": 16, "head_hidden": 8, "time_embed": 4}


def _inputs(starts: list[list[float]], seed: int = 0):
    """Features laid out as sb3-contrib's update passes them: sequence-major, then time."""
    gen = torch.Generator().manual_seed(seed)
    n_seq, steps = len(starts), len(starts[0])
    lstm = nn.LSTM(12, 8)
    features = torch.randn(n_seq * steps, 12, generator=gen, requires_grad=True)
    states = (torch.randn(1, n_seq, 8, generator=gen), torch.randn(1, n_seq, 8, generator=gen))
    return features, states, torch.tensor(starts, dtype=torch.float32).reshape(-1), lstm


def test_one_call_per_sequence_is_sb3_contribs_recurrence():
    starts = [[1, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 0]]  # resets at the first step only
    features, states, episode_starts, lstm = _inputs(starts)
    out_ref, st_ref = RecurrentActorCriticPolicy._process_sequence(features, states, episode_starts, lstm)
    grad_ref = torch.autograd.grad(out_ref.square().sum(), [features, *lstm.parameters()])
    out, st = SequenceLstmPolicy._process_sequence(features, states, episode_starts, lstm)
    grad = torch.autograd.grad(out.square().sum(), [features, *lstm.parameters()])
    assert torch.allclose(out, out_ref, atol=1e-6) and all(torch.allclose(a, b, atol=1e-6) for a, b in zip(st, st_ref))
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grad, grad_ref))
    # the reset really happened: the second sequence (no start) continues from its state
    zeroed = (states[0] * torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1), states[1] * torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1))
    again, _ = lstm(features.reshape(3, 5, 12).swapaxes(0, 1), zeroed)
    assert torch.allclose(out, again.transpose(0, 1).reshape(15, 8), atol=1e-6)


def test_a_start_after_the_first_step_keeps_sb3_contribs_loop_exactly():
    starts = [[1, 0, 0, 1, 0], [0, 0, 0, 0, 0]]
    features, states, episode_starts, lstm = _inputs(starts, seed=1)
    out_ref, st_ref = RecurrentActorCriticPolicy._process_sequence(features, states, episode_starts, lstm)
    out, st = SequenceLstmPolicy._process_sequence(features, states, episode_starts, lstm)
    assert torch.equal(out, out_ref) and all(torch.equal(a, b) for a, b in zip(st, st_ref))


def test_adversary_designs_the_same_and_learns_the_same_up_to_rounding():
    regrets = [0.5, 0.0, 0.25, 1.0]
    results = {}
    for mode in ("stepwise", "sequence"):
        adv = PairedAdversary(size=7, n_walls=6, batch_size=4, seed=3, lstm_update=mode, **SMALL)
        assert isinstance(adv.model.policy, SequenceLstmPolicy) == (mode == "sequence")
        batch, levels, _ = adv.design()
        before = adv.parameters_vector().clone()
        assert adv.learn(batch, regrets)
        results[mode] = (levels, before, adv.parameters_vector().clone())
    (lv_a, before_a, after_a), (lv_b, before_b, after_b) = results["stepwise"], results["sequence"]
    assert lv_a == lv_b and torch.equal(before_a, before_b)  # acting is unchanged: the same designs
    moved = (after_a - before_a).abs()
    assert moved.max() > 1e-4  # the update did move the weights
    assert torch.allclose(after_a, after_b, rtol=0, atol=1e-6 + 1e-3 * float(moved.max()))


def test_unknown_mode_is_refused_naming_the_key():
    with pytest.raises(TeachBenchError, match="adversary_lstm_update"):
        PairedAdversary(size=7, n_walls=6, batch_size=2, lstm_update="fast", **SMALL)
    from envs.gridworld.generate import maze_task_space
    from teachers.paired import PAIRED
    with pytest.raises(TeachBenchError, match="adversary_lstm_update"):
        PAIRED(maze_task_space(), adversary_lstm_update="fast")


def test_stepwise_default_keeps_existing_config_ids(compose):
    from experiments.running.config_checks import resolve_auto_params, resolved_config
    from experiments.rundir import config_id, identity

    cfg = compose("experiment=ued_maze_paired_dcd25", "teacher=paired", "seed=0")
    resolve_auto_params(cfg)
    resolved = resolved_config(cfg)
    assert resolved["teacher"]["params"]["adversary_lstm_update"] == "stepwise"
    without = json.loads(json.dumps(resolved))
    del without["teacher"]["params"]["adversary_lstm_update"]
    assert config_id(resolved) == config_id(without)  # the runs of experiments/results/ued_dcd25_paired: fa22063f
    on = compose("experiment=ued_maze_paired_dcd25", "teacher=paired", "seed=0", "teacher.params.adversary_lstm_update=sequence")
    resolve_auto_params(on)
    assert identity(resolved_config(on))["teacher.params.adversary_lstm_update"] == "sequence"
    assert config_id(resolved_config(on)) != config_id(resolved)
