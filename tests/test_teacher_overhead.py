"""The batched paths of ADR, SPDL, GoalGAN and Setter-Solver (issue 18) run the same algorithm.

At 1024 envs the bridge asks a teacher for many tasks and gives it many episodes per vector
step, so these teachers draw and learn in batches. What is checked:

- ADR and SPDL: ``sample_batch(n)`` gives exactly (byte for byte) the tasks of ``n`` calls
  of ``sample()`` and leaves the same state (generator included), and ``update_batch``
  leaves the state of one-by-one updates, through ADR bound moves and SPDL period ends
  inside a batch. The samples follow the papers' rules: ADR probes a bound with probability
  ``boundary_prob``, each of the ``2d`` bounds alike; SPDL's tasks have the mean and
  covariance of its Gaussian.
- SPDL's optimiser gradients (closed forms in NumPy) equal torch's autograd of the
  Gaussian log-density and KL they replaced.
- GoalGAN and Setter-Solver: a batch consumes exactly the random numbers of single calls
  (generator states equal, the same replays and repeats) and gives the same tasks up to
  float32 rounding (one network pass over the batch instead of one per task: a matrix
  product may round differently for different batch sizes, so byte identity is not
  promised); single and batched draws have the same distribution (KS test); updates in
  batches leave the one-by-one state, training rounds included; GoalGAN replays an old
  goal with probability ``p_old``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp

from envs.task_space import Dim, TaskSpace
from teachers.adr import ADR
from teachers.base import Episode
from teachers.goal_gan import GoalGAN
from teachers.setter_solver import SetterSolver
from teachers.spdl import SPDL, gaussian_kl, gaussian_logpdf, kl_and_grad, logpdf_grad, logpdf_np, tril_inverse
from tests.test_fuzz_teachers import roundtrip
from tests.test_teacher_batch import _equal

SPACE = TaskSpace([Dim("a", 0.0, 3.0), Dim("b", 0.0, 6.0), Dim("n", 1, 9, kind="discrete")])
ADR_EK = {"reward_thresholds": [0.2, 0.6], "initial": {"mean": {"a": 1.5, "b": 3.0, "n": 5}}}
SPDL_EK = {
    "initial": {"mean": {"a": 0.6, "b": 1.0, "n": 3}, "std": {"a": 0.3, "b": 0.6, "n": 1.0}},
    "target": {"mean": {"a": 2.4, "b": 4.0, "n": 7}, "std": {"a": 0.6, "b": 1.2, "n": 2.0}},
}
CHUNKS = [1, 5, 17, 2, 64, 3, 40]


def _draw(teacher, batched: bool) -> list[dict]:
    if batched:
        return [t for k in CHUNKS for t in teacher.sample_batch(k)]
    return [teacher.sample() for _ in range(sum(CHUNKS))]


def _episodes(tasks: list[dict], seed: int, length: int = 50) -> list[Episode]:
    """Returns rising with ``a`` and noisy; values for SPDL equal to the return."""
    rng = np.random.default_rng(seed)
    out = []
    for i, task in enumerate(tasks):
        ret = float(np.clip(1.0 - task["a"] / 3.0 + 0.3 * rng.standard_normal(), 0.0, 1.0))
        out.append(Episode(task=dict(task), episode_return=ret, length=length, global_step=(i + 1) * length,
                           episode_id=i, value=ret))
    return out


def _same_through_batches(make) -> None:  # noqa: ANN001
    """Sample and update one by one vs in uneven batches, over several rounds: same tasks, same state."""
    one, batched = make(), make()
    for round_ in range(6):
        tasks = _draw(one, batched=False)
        assert tasks == _draw(batched, batched=True), f"round {round_}: batched tasks differ"
        assert _equal(roundtrip(one.state_dict()), roundtrip(batched.state_dict()))
        episodes = _episodes(tasks, seed=round_)
        for ep in episodes:
            one.update(Episode(**{**ep.__dict__, "task": dict(ep.task)}))
        start = 0
        for k in CHUNKS:
            batched.update_batch([Episode(**{**e.__dict__, "task": dict(e.task)}) for e in episodes[start:start + k]])
            start += k
        assert _equal(roundtrip(one.state_dict()), roundtrip(batched.state_dict())), f"round {round_}: state differs"


def test_adr_batches_give_the_single_samples_and_state():
    make = lambda: ADR(SPACE, seed=4, expert=ADR_EK, queue_len=3, step_size=0.2)  # noqa: E731
    _same_through_batches(make)
    teacher = make()
    for _ in range(6):
        teacher.update_batch(_episodes(teacher.sample_batch(132), seed=1))
    assert teacher.n_expand > 0 and teacher.n_contract > 0  # the bound moves happened inside batches


def test_adr_probes_a_bound_with_boundary_prob_each_bound_alike():
    """OpenAI et al.'s boundary sampling: with probability p_b one of the 2d bounds, chosen
    uniformly, is fixed (here p_b = 0.7, d = 3: 0.7 / 6 of the tasks per bound)."""
    teacher = ADR(SPACE, seed=0, expert=ADR_EK, boundary_prob=0.7, max_pending=10**6)
    teacher.lower, teacher.upper = np.full(3, 0.1), np.full(3, 0.9)
    n = 30_000
    tasks = teacher.sample_batch(n)
    assert len(teacher.pending) == pytest.approx(0.7 * n, abs=4 * np.sqrt(n * 0.21))
    counts = np.zeros((3, 2))
    for _, dim, side in teacher.pending:
        counts[dim, side] += 1
    expected = 0.7 * n / 6
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected))
    u = SPACE.to_unit_batch(tasks)
    assert u[:, 0].min() >= 0.1 - 1e-12 and u[:, 0].max() <= 0.9 + 1e-12


def test_spdl_batches_give_the_single_samples_and_state():
    make = lambda: SPDL(SPACE, seed=2, expert=SPDL_EK, offset=0, update_period=2_000, min_contexts=5,  # noqa: E731
                        alpha_offset=1)
    _same_through_batches(make)
    teacher = make()
    teacher.update_batch(_episodes(teacher.sample_batch(500), seed=0))
    assert teacher.n_iterations >= 5  # periods ended inside the batches


def test_spdl_samples_have_the_gaussian_moments():
    """Away from the cube's faces (where clipping acts), the tasks' mean and covariance are mu, Sigma."""
    space = TaskSpace.box(["x", "y"], [0.0, 0.0], [1.0, 1.0])
    ek = {"initial": {"mean": {"x": 0.5, "y": 0.4}, "std": {"x": 0.05, "y": 0.08}},
          "target": {"mean": {"x": 0.5, "y": 0.5}, "std": {"x": 0.2, "y": 0.2}}}
    teacher = SPDL(space, seed=0, expert=ek)
    teacher.cov = np.array([[0.0025, 0.0012], [0.0012, 0.0064]])
    u = space.to_unit_batch(teacher.sample_batch(40_000))
    assert u.mean(0) == pytest.approx([0.5, 0.4], abs=4 * 0.08 / np.sqrt(40_000))
    assert np.cov(u.T) == pytest.approx(teacher.cov, abs=2e-4)


def test_spdl_closed_form_gradients_equal_autograd():
    rng = np.random.default_rng(0)
    d = 3
    for _ in range(5):
        mu0, mu1 = rng.uniform(0, 1, d), rng.uniform(0, 1, d)
        l0 = np.tril(rng.normal(0, 0.3, (d, d)), -1) + np.diag(rng.uniform(0.2, 1.0, d))
        l1 = np.tril(rng.normal(0, 0.3, (d, d)), -1) + np.diag(rng.uniform(0.2, 1.0, d))
        x, w = rng.uniform(0, 1, (50, d)), rng.normal(0, 1, 50)

        t_mu0 = torch.tensor(mu0, requires_grad=True)
        t_l0 = torch.tensor(l0, requires_grad=True)
        kl = gaussian_kl(t_mu0, t_l0, torch.tensor(mu1), torch.tensor(l1))
        kl.backward()
        value, g_mu, g_l = kl_and_grad(mu0, l0, mu1, tril_inverse(l1))
        assert value == pytest.approx(kl.item(), rel=1e-10)
        assert g_mu == pytest.approx(t_mu0.grad.numpy(), rel=1e-9, abs=1e-12)
        assert g_l == pytest.approx(np.tril(t_l0.grad.numpy()), rel=1e-9, abs=1e-12)

        t_mu0 = torch.tensor(mu0, requires_grad=True)
        t_l0 = torch.tensor(l0, requires_grad=True)
        logp_t = gaussian_logpdf(torch.tensor(x), t_mu0, t_l0)
        (logp_t * torch.tensor(w)).sum().backward()
        logp, z, inv = logpdf_np(x, mu0, l0)
        g_mu, g_l = logpdf_grad(z, inv, w)
        assert logp == pytest.approx(logp_t.detach().numpy(), rel=1e-10)
        assert g_mu == pytest.approx(t_mu0.grad.numpy(), rel=1e-9, abs=1e-12)
        assert g_l == pytest.approx(np.tril(t_l0.grad.numpy()), rel=1e-9, abs=1e-12)


# -- GoalGAN and Setter-Solver: one network pass per batch ---------------------------------
NET_EK = {"success": 0.5, "initial": {"mean": {"a": 0.6, "b": 1.0, "n": 3}, "std": {"a": 0.3, "b": 0.6, "n": 1.0}}}


def _goal_gan(seed: int = 3) -> GoalGAN:
    return GoalGAN(SPACE, seed=seed, expert=NET_EK, update_size=10, n_gan_iterations=5, generator_hidden=[32, 32],
                   discriminator_hidden=[32], pretrain_samples=200, pretrain_iterations=20, p_old=0.3)


def _setter(seed: int = 3) -> SetterSolver:
    return SetterSolver(SPACE, seed=seed, expert=NET_EK, update_period=40, judge_hidden=[32], setter_hidden=32,
                        n_blocks=1, n_train_steps=5, batch_size=32)


def _same_up_to_float32(make) -> None:  # noqa: ANN001
    """Batches vs single calls: the same random numbers (generator states equal, hence the
    same replay choices and the same repeats), tasks equal up to float32 rounding of the
    network's matrix products; updates leave the same state (training included)."""
    one, batched = make(), make()
    for round_ in range(4):
        a, b = _draw(one, batched=False), _draw(batched, batched=True)
        assert one.rng.bit_generator.state == batched.rng.bit_generator.state
        assert [t["n"] for t in a] == [t["n"] for t in b]
        assert SPACE.to_unit_batch(a) == pytest.approx(SPACE.to_unit_batch(b), abs=1e-6)
        if isinstance(one, GoalGAN):  # the goal in play is a sample: equal up to float32 rounding
            assert (one.repeats_left, one.current) == (batched.repeats_left, pytest.approx(batched.current, abs=1e-6))
            batched.current = list(one.current)
            # goals await outcomes keyed by the goal (TMA): the episodes below are the single
            # path's tasks, so the batched teacher awaits the single path's (float32-equal) goals
            assert [len(v) for v in one.pending.values()] == [len(v) for v in batched.pending.values()]
            batched.pending = {k: [list(o) for o in v] for k, v in one.pending.items()}
        if isinstance(one, SetterSolver):  # each task's f: the same numbers, keyed by tasks equal up to float32
            assert list(one.pending.values()) == list(batched.pending.values())
            batched.pending = dict(one.pending)
        episodes = _episodes(a, seed=round_)  # the same episodes to both: training from the same data
        one_eps = [Episode(**{**e.__dict__, "task": dict(e.task)}) for e in episodes]
        for ep in one_eps:
            one.update(ep)
        start = 0
        for k in CHUNKS:
            batched.update_batch([Episode(**{**e.__dict__, "task": dict(e.task)}) for e in episodes[start:start + k]])
            start += k
        assert _equal(roundtrip(one.state_dict()), roundtrip(batched.state_dict())), f"round {round_}"


def test_goal_gan_batches_draw_the_single_samples_random_numbers():
    _same_up_to_float32(_goal_gan)
    teacher = _goal_gan()
    for _ in range(3):
        teacher.update_batch(_episodes(teacher.sample_batch(150), seed=0))
    assert teacher.n_gan_updates >= 3 and len(teacher.old_goals) > 0  # trained, and replays old goals


def test_setter_solver_batches_draw_the_single_samples_random_numbers():
    _same_up_to_float32(_setter)
    teacher = _setter()
    teacher.update_batch(_episodes(teacher.sample_batch(130), seed=0))
    assert teacher.n_rounds == 3


@pytest.mark.parametrize("make", [_goal_gan, _setter], ids=["goal_gan", "setter_solver"])
def test_network_teachers_batch_and_single_distributions_agree(make):
    """A trained teacher: 3,000 single samples vs 30 batches of 100 with independent random
    numbers (two-sample Kolmogorov-Smirnov per dimension)."""
    teacher = make()
    teacher.update_batch(_episodes(teacher.sample_batch(200), seed=0))
    single, batched = make(), make()
    single.load_state_dict(teacher.state_dict())
    batched.load_state_dict(teacher.state_dict())
    batched.rng = np.random.default_rng(12345)
    a = SPACE.to_unit_batch([single.sample() for _ in range(3000)])
    b = SPACE.to_unit_batch([t for _ in range(30) for t in batched.sample_batch(100)])
    for j in range(SPACE.ndim):
        assert ks_2samp(a[:, j], b[:, j]).pvalue > 1e-3, f"dimension {j}"


def test_goal_gan_replays_old_goals_with_p_old():
    """TMA: a new goal is an old (mastered) goal with probability p_old (plus the sampling
    noise, here 0 to recognise it)."""
    teacher = _goal_gan()
    teacher.old_goals.extend([[0.5, 0.5, 0.5]] * 3)
    teacher.n_rollouts, teacher.noise_std = 1, 0.0
    u = SPACE.to_unit_batch(teacher.sample_batch(20_000))
    replayed = np.all(np.isclose(u, 0.5), axis=1).mean()
    assert replayed == pytest.approx(0.3, abs=4 * np.sqrt(0.21 / 20_000))


def test_level_buffer_replay_draw_is_numpys_choice():
    """The replay draw is ``rng.choice(n, p=P)`` (same index, same generator state) without
    its argument checks."""
    from teachers.level_buffer import LevelBuffer

    rng = np.random.default_rng(0)
    buf = LevelBuffer(300, temperature=0.3, staleness_coef=0.3)
    for i in range(300):
        buf.insert(str(i), {"x": i}, float(rng.normal()))
    ours, numpys = np.random.default_rng(7), np.random.default_rng(7)
    for step in range(2000):
        buf.tick()
        p = buf.distribution()
        expected = int(numpys.choice(len(buf), p=p))
        assert buf.sample(ours) == expected
        assert ours.bit_generator.state == numpys.bit_generator.state
        if step % 7 == 0:
            buf.update_score(expected, float(rng.normal()))


@pytest.mark.parametrize("prioritization", ["rank", "power"])
def test_level_buffer_kept_ranks_give_replay_distribution_exactly(prioritization):
    """The buffer keeps each level's rank as scores change instead of sorting again; its
    P equals :func:`replay_distribution` of the scores bit for bit, through inserts,
    replacements of a full buffer, score updates, many ties and a checkpoint."""
    from teachers.level_buffer import LevelBuffer, replay_distribution

    rng = np.random.default_rng(1)
    buf = LevelBuffer(60, temperature=0.3, staleness_coef=0.3, prioritization=prioritization, score_alpha=0.5)
    for step in range(3000):
        buf.tick()
        score = float(rng.integers(0, 6)) / 4 if rng.random() < 0.5 else float(rng.normal())  # ties
        if rng.random() < 0.5 or len(buf) == 0:
            buf.insert(f"l{step}", {"x": step}, score)
        else:
            buf.update_score(buf.sample(rng), score)
        if step == 1500:
            state = buf.state_dict()
            buf = LevelBuffer(60, temperature=0.3, staleness_coef=0.3, prioritization=prioritization, score_alpha=0.5)
            buf.load_state_dict(state)
        expected = replay_distribution(buf.scores, buf.last_sampled, buf.clock, 0.3, 0.3, prioritization)
        assert np.array_equal(buf.distribution(), expected), step
    assert buf.n_replaced > 100 and buf.n_rejected > 0
