"""Setter-Solver against facts of TeachMyAgent's ``SetterSolver`` / ``FlatRnvp`` / ``Judge``
and its benchmark line (``--ss_update_frequency 50 --setter_loss_noise_ub 0.1
--setter_hidden_size 64``; docs/references.md#setter-solver), each worked out by hand:

- setter: 3 blocks x (left-to-right, right-to-left, interlaced) couplings, each with a scale
  and a shift ``Highway`` (``Linear(in, h)``, 3 blocks of ``Linear(h, 2h)``, ``Linear(h, out)``),
  ``scale = 0.01 + softplus(s)`` with TMA's softplus ``x (atan x / pi + 1/2) + 1/pi``, a
  sigmoid at the end, ``log_p`` without the ``-d/2 log 2 pi`` constant;
- judge: ``snt.nets.MLP(([64, 64, 64] + [1])[1:])``, i.e. hidden 64-64;
- losses: ``mean (J(x) - logit f)^2 + mean(-log p(noisy achieved | f)) + mean(log p(x | f))``,
  noise ``U(0, 0.1)``;
- one Adam step (lr 3e-4) per round on the round's episodes (TMA's schedule, which ours
  reaches with ``n_train_steps=1, batch_size=None, lr=3e-4, buffer_size=50``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from envs.task_space import TaskSpace
from teachers.base import Episode
from teachers.setter_solver import ConditionalRealNVP, SetterAndJudge, SetterSolver, judge_network, slow_softplus

SPACE = TaskSpace.box(["height", "spacing"], [0.0, 0.0], [3.0, 6.0])
EK = {"success": "env"}
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "teacher" / "setter_solver.yaml"
C = 0.01 + 1.0 / math.pi  # a coupling's scale when its scale network outputs 0


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def zero_nets(d: int = 2) -> SetterAndJudge:
    """TMA-sized setter and judge with every weight and bias 0 (s = t = 0, judge logit 0)."""
    nets = SetterAndJudge({"d": d, "n_blocks": 3, "highway_blocks": 3, "setter_hidden": 64, "judge_hidden": [64, 64],
                           "lr": 3e-4, "loss_noise": 0.1, "weights": [1.0, 1.0, 1.0], "n_train_steps": 1,
                           "batch_size": None}, seed=0)
    with torch.no_grad():
        for p in (*nets.setter.parameters(), *nets.judge.parameters()):
            p.zero_()
    return nets


def test_the_config_is_tma_benchmark_line():
    params = yaml.safe_load(CONFIG.read_text())["params"]
    assert params["update_period"] == 50 and params["setter_hidden"] == 64 and params["loss_noise"] == 0.1
    t = SetterSolver(SPACE, seed=0, **{**params, "expert": EK})
    assert t.nets.config["weights"] == [1.0, 1.0, 1.0]
    assert (t.nets.config["n_blocks"], t.nets.config["highway_blocks"]) == (3, 3)


def test_setter_size_for_a_2d_task_space():
    """d = 2, n1 = 1: every coupling maps (1 coordinate + f) = 2 inputs to 1 output. A Highway
    net: 2*64 + 64 = 192, 3 x (64*128 + 128) = 24,960, 64 + 1 = 65: 25,217. 9 couplings x 2
    nets = 18 nets: 453,906."""
    flow = ConditionalRealNVP(2, hidden=64)
    assert len(flow.layers) == 9
    assert n_params(flow.layers[0].nets) == 2 * 25_217  # the scale and the shift network
    assert n_params(flow) == 18 * 25_217 == 453_906


def test_setter_size_for_a_3d_task_space():
    """d = 3, n1 = 1: left-to-right 2 -> 2 (192 + 24,960 + 130), right-to-left 3 -> 1
    (256 + 24,960 + 65), interlaced (odd {1} + f) 2 -> 2 (even {0, 2}): 25,282 + 25,281 +
    25,282 per net pair member, x 2 nets x 3 blocks = 455,070."""
    assert n_params(ConditionalRealNVP(3, hidden=64)) == 3 * 2 * (25_282 + 25_281 + 25_282) == 455_070


def test_judge_is_two_hidden_layers_of_64():
    """``MLP([64, 64, 1])`` on a 2-D goal: (2*64 + 64) + (64*64 + 64) + (64 + 1) = 4,417."""
    judge = judge_network(2, yaml.safe_load(CONFIG.read_text())["params"]["judge_hidden"])
    assert n_params(judge) == 4_417
    assert sum(isinstance(m, torch.nn.ReLU) for m in judge) == 2


def test_tma_softplus():
    """0 -> 1/pi; 1 -> 1 * (1/4 + 1/2) + 1/pi; -100 -> 1 / (3 pi 100^2) (the asymptote below -30)."""
    x = torch.tensor([0.0, 1.0, -100.0], dtype=torch.float64)
    expected = [1 / math.pi, 0.75 + 1 / math.pi, 1 / (3 * math.pi * 1e4)]
    np.testing.assert_allclose(slow_softplus(x).numpy(), expected, rtol=1e-7)  # after the soft clip at 1e6


def test_coupling_order_and_log_p_of_a_zero_weight_setter():
    """With all weights 0 every coupling multiplies its free coordinates by C = 0.01 + 1/pi.
    Per block coordinate 1 is changed once (left-to-right) and coordinate 0 twice
    (right-to-left, interlaced: the even coordinates), so z = (1, -2) gives logits
    (C^6, -2 C^3) and ``log_p = -(1 + 4)/2 - 9 log C - sum log sigma'(logit)``."""
    nets = zero_nets()
    z = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    f = torch.tensor([[0.3]], dtype=torch.float64)
    setter = nets.setter.double()
    x, logp = setter(z, f)
    logits = np.array([C**6, -2 * C**3])
    sig = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(x.detach().numpy()[0], sig, rtol=1e-12)
    expected = -2.5 - 9 * math.log(C) - float(np.sum(np.log(sig * (1 - sig))))
    assert float(logp.detach()) == pytest.approx(expected, rel=1e-12)
    assert float(setter.log_prob(x, f).detach()) == pytest.approx(expected, rel=1e-9)  # TMA's infer path


def test_the_three_losses_on_a_tiny_case():
    """Zero-weight setter and judge, one achieved goal at the cube's centre set for f = 0.9,
    no noise: its latent is 0, so coverage = log_p(0) = -9 log C - 2 log(1/4) = 12.797,
    validity = -12.797, feasibility = (0 - logit 0.9)^2 = (log 9)^2 = 4.828."""
    nets = zero_nets()
    goals = torch.tensor([[0.5, 0.5]])
    fs = torch.tensor([[0.9]])
    with torch.no_grad():
        validity, feasibility, coverage, x = nets.losses(goals, fs, torch.tensor([1.0]), torch.zeros(1, 2))
    log_p0 = -9 * math.log(C) + 2 * math.log(4)
    assert log_p0 == pytest.approx(12.797, abs=1e-3)
    assert float(coverage) == pytest.approx(log_p0, rel=1e-5)
    assert float(validity) == pytest.approx(-log_p0, rel=1e-5)
    assert float(feasibility) == pytest.approx(math.log(9) ** 2, rel=1e-5)
    # a failed goal adds nothing to validity: with no achieved goal it is undefined (TMA: NaN)
    validity, _, _, _ = nets.losses(goals, fs, torch.tensor([0.0]), torch.zeros(0, 2))
    assert math.isnan(float(validity))


def test_validity_noise_is_uniform_between_0_and_the_bound(monkeypatch):
    """``uniform(low=0, high=loss_noise_ub)`` per coordinate of each achieved goal."""
    nets = zero_nets()
    seen = []
    losses = nets.losses

    def spy(goals, fs, wins, noise):
        seen.append(noise.clone())
        return losses(goals, fs, wins, noise)

    monkeypatch.setattr(nets, "losses", spy)
    goals = torch.rand(2000, 2)
    nets.train(goals, torch.rand(2000, 1) * 0.98 + 0.01, (torch.arange(2000) % 2).float())
    noise = seen[0]
    assert noise.shape == (1000, 2)  # achieved goals only
    assert float(noise.min()) >= 0.0 and float(noise.max()) < 0.1
    assert float(noise.mean()) == pytest.approx(0.05, abs=0.003)


def test_tma_schedule_one_adam_step_per_round_on_the_rounds_episodes():
    """TMA: every 50 episodes one Adam step (lr 3e-4) on those 50 (goal, f, success). Adam's
    first step moves each parameter by lr * g / (|g| + eps): 3e-4 wherever the gradient is
    not tiny. The round's f are those the tasks were set for."""
    t = SetterSolver(SPACE, seed=0, expert=EK, n_train_steps=1, batch_size=None, lr=3e-4, buffer_size=50)
    before = [p.detach().clone() for p in t.nets.judge.parameters()]
    rng = np.random.default_rng(0)
    fs = []
    for i in range(50):
        task = t.sample()
        fs.append(t.pending[tuple(np.round(SPACE.to_unit(task), 9).tolist())])
        ok = bool(rng.random() < 0.5)
        t.update(Episode(task=task, episode_return=float(ok), length=1, success=ok))
        assert t.n_rounds == (i == 49)
    assert [f for _, f, _ in t.buffer] == fs and len(t.buffer) == 50
    steps = torch.cat([(p.detach() - b).abs().flatten() for p, b in zip(t.nets.judge.parameters(), before)])
    moved = steps[steps > 1e-6]  # (ReLUs dead on the whole cube get no gradient)
    assert moved.numel() > 1000 and float(moved.max()) <= 3e-4 * (1 + 1e-3)
    assert float((moved - 3e-4).abs().lt(3e-6).float().mean()) > 0.9  # |g| >> eps: a step of lr


def test_desired_feasibility_is_uniform():
    """``f ~ U(1e-8, 1)``, one per task."""
    t = SetterSolver(SPACE, seed=1, expert=EK)
    t.sample_batch(4000)
    fs = np.array(list(t.pending.values()))
    assert fs.shape == (4000,)
    assert fs.mean() == pytest.approx(0.5, abs=0.015)
    np.testing.assert_allclose(np.histogram(fs, bins=5, range=(0, 1))[0] / 4000, 0.2, atol=0.02)
