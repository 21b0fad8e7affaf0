"""Level-selection math of PLR (teachers.level_buffer), checked by hand against the bugs
the reference codebases had (docs/references.md#plr)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs.errors import TeachBenchError
from teachers.level_buffer import (LevelBuffer, power_weights, rank_weights, replay_distribution,
                                   staleness_weights)


def test_rank_weights_are_inverse_rank_to_the_power_one_over_beta() -> None:
    scores = np.array([3.0, 1.0, 2.0])  # ranks 1, 3, 2 (rank 1 = highest score)
    for beta in (1.0, 0.5, 0.25):
        h = np.array([1.0, 1.0 / 3.0, 1.0 / 2.0]) ** (1.0 / beta)
        np.testing.assert_allclose(rank_weights(scores, beta), h / h.sum())
    # never 1/arange from 0 (a division by zero), never temperature as a divisor
    w = rank_weights(scores, 0.3)
    assert np.all(np.isfinite(w)) and w[0] > w[2] > w[1]
    wrong = (1.0 / np.array([1.0, 3.0, 2.0])) / 0.3
    assert not np.allclose(w, wrong / wrong.sum())


def test_rank_weights_ignore_the_scale_and_sign_of_scores() -> None:
    a = rank_weights(np.array([5.0, -1.0, 2.0]), 0.3)
    b = rank_weights(np.array([-0.1, -9.0, -3.0]), 0.3)
    np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("seed", range(5))
def test_staleness_mixing_sums_to_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 50))
    scores = rng.normal(size=n) * 10
    last = rng.integers(0, 100, size=n)
    for rho in (0.0, 0.3, 0.5, 1.0):
        for prio in ("rank", "power"):
            p = replay_distribution(scores, last, 100, 0.3, rho, prio)
            assert np.all(p >= 0) and p.sum() == pytest.approx(1.0)
    p_c = staleness_weights(last, 100)
    np.testing.assert_allclose(p_c, (100 - last) / (100 - last).sum())
    # a buffer where every level was just sampled: uniform, not 0/0
    np.testing.assert_allclose(staleness_weights(np.full(4, 7.0), 7), np.full(4, 0.25))


def test_maxmc_with_rank_never_divides_by_a_negative_sum() -> None:
    scores = np.array([-0.5, -2.0, -0.1, -3.0])  # MaxMC can be negative
    p = replay_distribution(scores, np.zeros(4), 10, 0.3, 0.3, "rank")
    assert np.all(p > 0) and p.sum() == pytest.approx(1.0)
    assert np.argmax(p) == 2  # the least negative score ranks first
    # power prioritisation clamps negatives at 0 and falls back to uniform
    w = power_weights(scores, 0.3)
    np.testing.assert_allclose(w, np.full(4, 0.25))
    assert np.all(power_weights(np.array([-1.0, 2.0]), 1.0) >= 0)


def test_bad_temperature_and_rho_raise() -> None:
    with pytest.raises(TeachBenchError, match="temperature"):
        rank_weights(np.ones(3), 0.0)
    with pytest.raises(TeachBenchError, match="staleness_coef"):
        replay_distribution(np.ones(3), np.zeros(3), 1, 0.3, 1.5)


def test_full_buffer_replaces_lowest_support_only_if_new_score_is_as_high() -> None:
    buf = LevelBuffer(capacity=3, temperature=0.3, staleness_coef=0.0)
    for key, score in (("a", 0.5), ("b", 0.2), ("c", 0.9)):
        buf.insert(key, {"x": key}, score)
    assert len(buf) == 3
    victim = int(np.argmin(buf.distribution()))
    assert buf.keys[victim] == "b"  # lowest score = lowest support when rho = 0
    assert buf.insert("d", {"x": "d"}, 0.1) is None and buf.n_rejected == 1
    assert "d" not in buf.keys
    i = buf.insert("e", {"x": "e"}, 0.2)  # equal score: admitted
    assert i == victim and buf.keys[i] == "e" and "b" not in buf.keys
    assert buf.index_of("e") == i and buf.index_of("b") is None


def test_staleness_can_protect_a_low_score_level() -> None:
    buf = LevelBuffer(capacity=2, temperature=0.3, staleness_coef=0.9)
    buf.insert("old", {}, 0.1)
    for _ in range(50):
        buf.tick()
    buf.insert("new", {}, 0.5)
    buf.last_sampled[buf.index_of("new")] = buf.clock
    # "new" scores higher but is fresh; "old" is very stale and so has more support
    assert buf.keys[int(np.argmin(buf.distribution()))] == "new"


def test_sampling_follows_the_distribution_and_marks_levels_fresh() -> None:
    buf = LevelBuffer(capacity=10, temperature=1.0, staleness_coef=0.0)
    for k in range(4):
        buf.insert(str(k), {}, float(k))
    rng = np.random.default_rng(0)
    counts = np.bincount([buf.sample(rng) for _ in range(4000)], minlength=4)
    np.testing.assert_allclose(counts / 4000, rank_weights(buf.scores, 1.0), atol=0.03)
    buf.tick()
    i = buf.sample(rng)
    assert buf.last_sampled[i] == buf.clock


def test_state_dict_is_plain_and_round_trips(tmp_path) -> None:
    buf = LevelBuffer(capacity=5)
    for k in range(7):
        buf.tick()
        buf.insert(f"l{k}", {"level": f"l{k}"}, float(k % 3), episode_return=float(k))
    state = buf.state_dict()
    torch.save(state, tmp_path / "b.pt")
    loaded = torch.load(tmp_path / "b.pt", weights_only=True)
    other = LevelBuffer(capacity=5)
    other.load_state_dict(loaded)
    assert other.keys == buf.keys and np.array_equal(other.scores, buf.scores)
    np.testing.assert_allclose(other.distribution(), buf.distribution())
