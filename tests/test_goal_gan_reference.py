"""GoalGAN against facts of TeachMyAgent's ``GoalGAN`` (``teachers/algos/goal_gan.py``), the
rllab-curriculum GAN it wraps (``teachers/utils/gan/gan.py``: ``FCGAN``, ``DEFAULT_GAN_CONFIGS``;
``generator.py``: ``StateGAN``, ``StateCollection``) and its benchmark line
(``--state_noise_level 0.1 --gg_update_size 100 --p_old 0.1 --n_rollouts 2
--use_pretrained_samples``; docs/references.md#goalgan), each worked out by hand:

- G: ``noise_size = len(mins)`` inputs, dense 256-256 with ReLU, dense to ``d`` with tanh;
  D: dense 128-128 with ``max(0.1 x, x)``, a linear output; Glorot-uniform kernels, zero biases;
- TMA's GAN space: centre of the box, ``state_range = (max - min) / 2``, goals divided by
  ``2 state_range``: the box is ``[-0.5, 0.5]^d`` and G's ``[-1, 1]`` spans twice it;
- LSGAN: ``mean((2y - 1 - D(x))^2)`` over the stacked real and 64 generated rows (label 0),
  ``mean((D(G(z)) - 1)^2)``; TF1 RMSProp(1e-3): decay 0.9, eps 1e-10 under the root, the
  mean square starting at 1; batches of 64 fed in order, cycling;
- labels ``0.25 <= mean success <= 0.75``; mean success ``> 0.75`` joins the success buffer
  when farther than ``0.01 |max - min|`` from all its goals; a round without a positive
  label is skipped; an old goal is replayed once, with noise, unlabelled;
- pretraining: 1000 clipped draws of the initial Gaussian (else mean ~ U(box), std 10% of
  range), all labelled 1, 500 steps.
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
from teachers.goal_gan import LSGAN, GoalGAN, TF1RMSprop, batch_feed

SPACE = TaskSpace.box(["height", "spacing"], [0.0, 0.0], [3.0, 6.0])
EK = {"success": "env"}
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "teacher" / "goal_gan.yaml"
CHEAP = dict(pretrain_samples=0, n_gan_iterations=1)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def pin_generator(teacher: GoalGAN, u: list[float]) -> None:
    """Make G output the unit-cube goal ``u`` for every z: last layer's weights 0, its bias
    ``atanh(u - 0.5)`` (TMA's space: goal = G(z) + 0.5 in the unit cube)."""
    last = [m for m in teacher.gan.generator if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.atanh(torch.tensor(u, dtype=torch.float32) - 0.5))


def play_goal(teacher: GoalGAN, outcomes: list[bool], start_id: int = 0) -> dict:
    """Sample a goal ``len(outcomes)`` times and report the outcomes; returns the task."""
    tasks = [teacher.sample() for _ in outcomes]
    assert all(t == tasks[0] for t in tasks)
    for i, (task, ok) in enumerate(zip(tasks, outcomes)):
        teacher.update(Episode(task=task, episode_return=float(ok), length=1, success=ok, episode_id=start_id + i))
    return tasks[0]


# -- networks -------------------------------------------------------------------------------
@pytest.mark.parametrize("d, g_weights, d_weights", [
    # G: (d*256 + 256) + (256*256 + 256) + (256*d + d); D: (d*128 + 128) + (128*128 + 128) + (128 + 1)
    (2, 768 + 65_792 + 514, 384 + 16_512 + 129),       # 67,074 and 17,025
    (5, 1_536 + 65_792 + 1_285, 768 + 16_512 + 129),   # 68,613 and 17,409
])
def test_network_sizes_are_tmas(d, g_weights, d_weights):
    space = TaskSpace.box([f"x{i}" for i in range(d)], [0.0] * d, [1.0] * d)
    teacher = GoalGAN(space, seed=0, expert=EK, **CHEAP)
    assert teacher.noise_dim == d  # FCGAN's noise_size = mins.shape[0]
    assert n_params(teacher.gan.generator) == g_weights
    assert n_params(teacher.gan.discriminator) == d_weights


def test_glorot_uniform_kernels_and_zero_biases():
    teacher = GoalGAN(SPACE, seed=0, expert=EK, **CHEAP)
    for net in (teacher.gan.generator, teacher.gan.discriminator):
        for layer in (m for m in net if isinstance(m, torch.nn.Linear)):
            fan_out, fan_in = layer.weight.shape
            bound = math.sqrt(6.0 / (fan_in + fan_out))  # xavier_initializer(uniform=True)
            w = layer.weight.detach().abs()
            assert float(w.max()) <= bound and float(w.max()) > 0.9 * bound
            assert torch.count_nonzero(layer.bias) == 0


def test_activations_tanh_output_and_leaky_relu_of_slope_0_1():
    gan = LSGAN({"d": 1, "noise_dim": 1, "generator_hidden": [1], "discriminator_hidden": [1], "lr": 1e-3,
                 "batch_size": 64}, seed=0)
    with torch.no_grad():
        for net in (gan.generator, gan.discriminator):
            for layer in (m for m in net if isinstance(m, torch.nn.Linear)):
                layer.weight.fill_(1.0)
                layer.bias.zero_()
    x = torch.tensor([[-2.0], [3.0]])
    assert gan.discriminator(x).squeeze(-1).tolist() == pytest.approx([-0.2, 3.0])  # max(0.1 x, x), linear out
    assert gan.generator(x).squeeze(-1).tolist() == pytest.approx([math.tanh(0.0), math.tanh(3.0)])  # relu, tanh


@pytest.mark.parametrize("g_out, expected", [
    (0.0, (1.5, 3.0)),      # G = 0: the centre of the box
    (0.25, (2.25, 4.5)),    # centre + 0.25 * (max - min)
    (0.5, (3.0, 6.0)),      # G = 0.5: the upper bound (tanh's 1 would be twice as far)
    (-0.8, (0.0, 0.0)),     # beyond the box: clipped
])
def test_generator_output_maps_to_tmas_task_space(g_out, expected):
    """TMA: state = centre + G(z) * 2 * state_range, state_range = (max - min) / 2."""
    teacher = GoalGAN(SPACE, seed=0, expert=EK, noise_std=0.0, **CHEAP)
    pin_generator(teacher, [g_out + 0.5] * 2)
    task = teacher.sample()
    assert (task["height"], task["spacing"]) == pytest.approx(expected, abs=1e-5)


# -- optimiser and losses --------------------------------------------------------------------
def test_tf1_rmsprop_two_steps_by_hand():
    """ms0 = 1; ms1 = 0.9 + 0.1 * 4 = 1.3, w1 = 1 - 1e-3 * 2 / sqrt(1.3 + 1e-10);
    ms2 = 0.9 * 1.3 + 0.4 = 1.57, w2 = w1 - 1e-3 * 2 / sqrt(1.57 + 1e-10)."""
    w = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = TF1RMSprop([w], lr=1e-3)
    for _ in range(2):
        opt.zero_grad()
        (2.0 * w).sum().backward()  # gradient 2
        opt.step()
    by_hand = 1.0 - 2e-3 / math.sqrt(1.3 + 1e-10) - 2e-3 / math.sqrt(1.57 + 1e-10)
    assert float(w.detach()) == pytest.approx(by_hand, rel=1e-12)
    teacher = GoalGAN(SPACE, seed=0, expert=EK, **CHEAP)
    for opt in (teacher.gan.g_opt, teacher.gan.d_opt):
        assert isinstance(opt, TF1RMSprop)
        assert opt.defaults == {"lr": 1e-3, "decay": 0.9, "eps": 1e-10}


def test_one_lsgan_step_by_hand():
    """D constant b = 0.5 (all weights 0), 4 labelled goals [1, 0, 0, 1] and 64 generated:
    L_D = (2 (0.5 - 1)^2 + 2 (0.5 + 1)^2 + 64 (0.5 + 1)^2) / 68 = 149 / 68.
    Only D's output bias moves (hidden activations are 0): its gradient is
    2 (68 * 0.5 - (1 + 1 - 1 - 1 - 64)) / 68 = 196 / 68; one TF1 RMSProp step from ms = 1;
    then L_G = (b' - 1)^2 (target 1, not the paper's c = 0)."""
    gan = LSGAN({"d": 2, "noise_dim": 2, "generator_hidden": [8], "discriminator_hidden": [4, 4], "lr": 1e-3,
                 "batch_size": 64}, seed=0)
    with torch.no_grad():
        for p in gan.discriminator.parameters():
            p.zero_()
        gan.discriminator[-1].bias.fill_(0.5)
    goals = torch.tensor([[0.1, 0.1], [-0.2, 0.3], [0.4, -0.4], [0.0, 0.2]])
    gan.train(goals, torch.tensor([1.0, 0.0, 0.0, 1.0]), iterations=1)
    grad = 196.0 / 68.0
    b1 = 0.5 - 1e-3 * grad / math.sqrt(0.9 + 0.1 * grad ** 2 + 1e-10)
    assert gan.last_losses[0] == pytest.approx(149.0 / 68.0, rel=1e-6)
    assert float(gan.discriminator[-1].bias.detach()) == pytest.approx(b1, rel=1e-6)
    assert gan.last_losses[1] == pytest.approx((b1 - 1.0) ** 2, rel=1e-6)


def test_batches_of_64_in_order_cycling():
    """batch_feed_array: 100 rows in blocks of 64 wrap around; <= 64 rows: all each time."""
    feed = batch_feed(100, 64)
    blocks = [next(feed).tolist() for _ in range(4)]
    assert blocks[0] == list(range(64))
    assert blocks[1] == list(range(64, 100)) + list(range(28))
    assert blocks[2] == list(range(28, 92))
    assert blocks[3] == list(range(92, 100)) + list(range(56))
    small = batch_feed(10, 64)
    assert next(small).tolist() == next(small).tolist() == list(range(10))


def test_each_step_generates_64_goals_whatever_the_data_size():
    """FCGAN.train: sample_generator(batch_size) each step, even for 3 labelled goals."""
    gan = LSGAN({"d": 2, "noise_dim": 2, "generator_hidden": [8], "discriminator_hidden": [4], "lr": 1e-3,
                 "batch_size": 64}, seed=0)
    mirror = torch.Generator().set_state(gan.gen.get_state())
    gan.train(torch.zeros(3, 2), torch.ones(3), iterations=5)
    for _ in range(5):
        torch.randn(64, 2, generator=mirror)
    assert torch.equal(gan.gen.get_state(), mirror.get_state())


# -- labels, buffer and schedule ---------------------------------------------------------------
def test_label_rule_on_hand_worked_success_rates():
    """4 rollouts: 1/4 and 3/4 are good (bounds inclusive), 4/4 too easy, 0/4 too hard;
    only the 4/4 goal joins the success buffer."""
    teacher = GoalGAN(SPACE, seed=0, expert=EK, n_rollouts=4, update_size=100, noise_std=0.0, p_old=0.0, **CHEAP)
    rows = [([0.2, 0.2], [True, False, False, False]), ([0.4, 0.4], [True, True, True, False]),
            ([0.6, 0.6], [True, True, True, True]), ([0.8, 0.8], [False] * 4)]
    for i, (u, outcomes) in enumerate(rows):
        pin_generator(teacher, u)
        play_goal(teacher, outcomes, start_id=10 * i)
    assert teacher.batch_labels == [1, 1, 0, -1]
    assert [list(g) for g in teacher.old_goals] == [pytest.approx([0.6, 0.6], abs=1e-6)]


def test_success_buffer_distance_threshold():
    """0.01 * |max - min| = 0.01 * sqrt(3^2 + 6^2) = 0.0671 in task units: a mastered goal
    0.06 away in spacing (0.01 in the unit cube) is not added, one 0.08 away is."""
    teacher = GoalGAN(SPACE, seed=0, expert=EK, noise_std=0.0, p_old=0.0, **CHEAP)
    for i, spacing in enumerate((2.0, 2.06, 2.08)):
        pin_generator(teacher, [1.0 / 3.0, spacing / 6.0])
        play_goal(teacher, [True, True], start_id=10 * i)
    assert [g[1] * 6.0 for g in teacher.old_goals] == pytest.approx([2.0, 2.08], abs=1e-5)


def test_rounds_without_a_good_goal_are_skipped():
    """update_size 3: three hard goals -> no training (weights unchanged); then a round with
    one good goal trains (250 steps: 250 x 64 generated goals drawn)."""
    teacher = GoalGAN(SPACE, seed=0, expert=EK, update_size=3, n_gan_iterations=250, noise_std=0.0, p_old=0.0,
                      pretrain_samples=0)
    pin_generator(teacher, [0.5, 0.5])
    weights = [p.detach().clone() for p in teacher.gan.discriminator.parameters()]
    for i in range(3):
        play_goal(teacher, [False, False], start_id=10 * i)
    assert (teacher.n_gan_updates, teacher.n_skipped_rounds, teacher.batch_goals) == (0, 1, [])
    assert all(torch.equal(a, b) for a, b in zip(weights, teacher.gan.discriminator.parameters()))
    mirror = torch.Generator().set_state(teacher.gan.gen.get_state())
    for i, outcomes in enumerate(([True, False], [False, False], [True, True])):
        play_goal(teacher, outcomes, start_id=100 + 10 * i)
    assert (teacher.n_gan_updates, teacher.n_skipped_rounds) == (1, 1)
    for _ in range(250):
        torch.randn(64, 2, generator=mirror)
    assert torch.equal(teacher.gan.gen.get_state(), mirror.get_state())


def test_replayed_goals_are_proposed_once_with_noise_and_never_labelled():
    """p_old = 1 with one mastered goal at the centre: every task is a replay (1 task per
    decision, TMA puts no copies in its queue), spread by N(0, (0.1 (max - min))^2)."""
    teacher = GoalGAN(SPACE, seed=1, expert=EK, p_old=1.0, noise_std=0.0, **CHEAP)
    pin_generator(teacher, [0.5, 0.5])
    assert teacher.sample() == teacher.sample()  # empty buffer: a generated goal, twice
    teacher.pending.clear()
    teacher.old_goals.append([0.5, 0.5])
    teacher.noise_std = 0.1
    tasks = np.array([[t["height"], t["spacing"]] for t in (teacher.sample() for _ in range(4000))])
    assert len({tuple(t) for t in tasks}) == 4000 and teacher.repeats_left == 0
    assert tasks.mean(0) == pytest.approx([1.5, 3.0], abs=0.05)
    assert tasks.std(0) == pytest.approx([0.3, 0.6], rel=0.05)
    for i, t in enumerate(tasks[:20]):
        teacher.update(Episode(task={"height": t[0], "spacing": t[1]}, episode_return=1.0, length=1, success=True,
                               episode_id=i))
    assert sum(teacher.label_counts) == 0 and not teacher.pending


def test_generated_goals_get_noise_of_a_tenth_of_the_range_and_two_rollouts():
    teacher = GoalGAN(SPACE, seed=2, expert=EK, p_old=0.0, **CHEAP)
    pin_generator(teacher, [0.5, 0.5])
    tasks = [teacher.sample() for _ in range(3600)]
    assert all(tasks[i] == tasks[i + 1] for i in range(0, 3600, 2))
    x = np.array([[t["height"], t["spacing"]] for t in tasks[::2]])
    assert x.std(0) == pytest.approx([0.3, 0.6], rel=0.07)
    assert len(teacher.pending) == 1000  # each awaits its 2 outcomes (ours: the newest max_pending = 1000)


# -- pretraining and settings ------------------------------------------------------------------
def _captured_pretraining(monkeypatch, expert: dict) -> tuple[GoalGAN, list]:
    calls = []
    original = LSGAN.train

    def spy(self, goals, y, iterations):  # noqa: ANN001
        calls.append((goals.clone(), y.clone(), iterations))
        original(self, goals, y, 1)

    monkeypatch.setattr(LSGAN, "train", spy)
    return GoalGAN(SPACE, seed=3, expert=expert), calls


def test_pretraining_on_1000_clipped_easy_goals_labelled_good_500_steps(monkeypatch):
    ek = {"success": "env",
          "initial": {"mean": {"height": 0.3, "spacing": 3.0}, "std": {"height": 0.3, "spacing": 0.6}}}
    teacher, calls = _captured_pretraining(monkeypatch, ek)
    ((goals, y, iterations),) = calls
    u = goals.double().numpy() + 0.5
    assert (goals.shape, iterations, float(y.min())) == ((1000, 2), 500, 1.0)
    assert u.min() >= 0.0 and np.mean(u[:, 0] == 0.0) > 0.1  # N(0.1, 0.1) in the unit cube: 16% clipped at 0
    assert u[:, 1].mean() == pytest.approx(0.5, abs=0.01) and u[:, 1].std() == pytest.approx(0.1, rel=0.08)
    assert teacher.pretrain_source == "expert.initial"


def test_pretraining_without_an_initial_gaussian_is_tmas_random_subspace(monkeypatch):
    teacher, calls = _captured_pretraining(monkeypatch, EK)
    ((goals, y, iterations),) = calls
    u = goals.double().numpy() + 0.5
    centre = np.random.default_rng(3).uniform(0.0, 1.0, size=2)  # the teacher's first draw
    assert (goals.shape, iterations, teacher.pretrain_source) == ((1000, 2), 500, "random_subspace")
    inside = np.all((u > 0.0) & (u < 1.0), axis=1)
    assert np.abs(u[inside].mean(0) - centre).max() < 0.05
    assert u[inside].std(0).max() < 0.105  # std 10% of each range (less where clipped)


def test_the_config_is_tmas_benchmark_line():
    params = yaml.safe_load(CONFIG.read_text())["params"]
    assert (params["noise_std"], params["update_size"], params["p_old"], params["n_rollouts"]) == (0.1, 100, 0.1, 2)
    assert (params["r_min"], params["r_max"], params["pretrain_samples"]) == (0.25, 0.75, 1000)
    assert (params["generator_hidden"], params["discriminator_hidden"]) == ([256, 256], [128, 128])
    assert (params["n_gan_iterations"], params["success_distance_threshold"], params["batch_size"]) == (250, 0.01, 64)
    teacher = GoalGAN(SPACE, seed=0, expert=EK, pretrain_samples=0)
    assert (teacher.gan.batch_size, teacher.gan.config["lr"], teacher.noise_dim) == (64, 1e-3, 2)
    assert teacher.old_goal_distance == pytest.approx(0.01 * math.sqrt(45.0))
