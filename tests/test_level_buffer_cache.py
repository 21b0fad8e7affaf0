"""The level buffer keeps P_S (the rank / power weights of the scores) between score
changes (issue 18): after any sequence of inserts, score updates, replays, ticks and a
checkpoint round trip, its replay distribution is exactly the one computed from scratch
by ``replay_distribution`` (the formula the PLR tests check by hand), so every replay
draw is the same as before the cache."""

from __future__ import annotations

import numpy as np
import pytest

from teachers.level_buffer import LevelBuffer, replay_distribution


@pytest.mark.parametrize("prioritization", ["rank", "power"])
def test_cached_distribution_equals_the_formula_after_every_operation(prioritization):
    rng = np.random.default_rng(0)
    buf = LevelBuffer(capacity=40, temperature=0.3, staleness_coef=0.3, prioritization=prioritization, score_alpha=0.7)
    draws = []
    for step in range(600):
        op = rng.integers(4)
        if op == 0 or len(buf) == 0:
            key = f"level-{rng.integers(120)}"  # repeats: an insert may update an existing level
            buf.insert(key, {"level": key}, float(rng.normal()), float(rng.random()))
        elif op == 1:
            buf.update_score(int(rng.integers(len(buf))), float(rng.normal()), float(rng.random()))
        elif op == 2:
            buf.tick()
            draws.append(buf.sample(rng))
        else:
            buf.tick()
        if step == 300:  # a checkpoint round trip replaces the score array
            other = LevelBuffer(capacity=40, temperature=0.3, staleness_coef=0.3, prioritization=prioritization,
                                score_alpha=0.7)
            other.distribution()  # a stale cache in the loading buffer must not survive the load
            other.load_state_dict(buf.state_dict())
            buf = other
        expected = replay_distribution(buf.scores, buf.last_sampled, buf.clock, 0.3, 0.3, prioritization)
        np.testing.assert_array_equal(buf.distribution(), expected)
    assert len(buf) == 40 and buf.n_replaced > 0 and len(draws) > 100  # full, replacing, replaying
