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


class _Reference:
    """The buffer's rules with nothing kept between calls: P recomputed by
    ``replay_distribution`` every time, the draw by ``Generator.choice`` (numpy's own
    inverse-CDF draw), arrays grown by ``np.append``. The fast buffer must match it bit
    for bit: the same draws, victims, scores and staleness."""

    def __init__(self, capacity, temperature, staleness_coef, prioritization, alpha):
        self.capacity, self.args, self.alpha = capacity, (temperature, staleness_coef, prioritization), alpha
        self.clock, self.keys = 0, []
        self.scores, self.last = np.zeros(0), np.zeros(0)

    def p(self):
        return replay_distribution(self.scores, self.last, self.clock, *self.args)

    def sample(self, rng):
        i = int(rng.choice(len(self.keys), p=self.p()))
        self.last[i] = self.clock
        return i

    def update(self, i, score):
        self.scores[i] = (1.0 - self.alpha) * self.scores[i] + self.alpha * score

    def insert(self, key, score):
        if key in self.keys:
            self.update(self.keys.index(key), score)
            return self.keys.index(key)
        if len(self.keys) < self.capacity:
            self.keys.append(key)
            self.scores, self.last = np.append(self.scores, score), np.append(self.last, float(self.clock))
            return len(self.keys) - 1
        victim = int(np.argmin(self.p()))
        if score < self.scores[victim]:
            return None
        self.keys[victim], self.scores[victim], self.last[victim] = key, score, float(self.clock)
        return victim


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf - inf scores
@pytest.mark.parametrize("prioritization", ["rank", "power"])
@pytest.mark.parametrize("nonfinite", [False, True])
def test_fast_buffer_draws_exactly_as_the_formula_and_generator_choice(prioritization, nonfinite):
    """Thousands of operations on a full buffer with heavy ties, outside writes to
    ``last_sampled``, checkpoints (one into a smaller buffer), and (``nonfinite``) some
    infinite and NaN scores, whose order the buffer sorts instead of moving levels within
    it: every draw and every victim is the reference's, and the arrays are equal after
    every operation."""
    seed = int(nonfinite)
    rng = np.random.default_rng(seed)
    args = (50, 0.3, 0.4, prioritization, 0.5)
    buf, ref = LevelBuffer(*args[:4], score_alpha=args[4]), _Reference(*args)
    draw_fast, draw_ref = np.random.default_rng(seed + 10), np.random.default_rng(seed + 10)
    n_draws = 0
    for step in range(4000):
        special = rng.random() if nonfinite else 1.0
        score = (float("nan") if special < 0.005 else float(np.inf) if special < 0.01 else -float(np.inf)
                 if special < 0.015 else float(rng.integers(0, 4)) / 2 if special < 0.6 else float(rng.normal()))
        if prioritization == "power" and not np.isnan(score):
            score = abs(score)
        op = rng.integers(10)
        if op < 4 or len(buf) == 0:
            key = f"l{rng.integers(400)}"
            assert buf.insert(key, {"level": key}, score) == ref.insert(key, score)
        elif op < 6:
            buf.tick()
            ref.clock += 1
            i = buf.sample(draw_fast)
            assert i == ref.sample(draw_ref), step
            buf.update_score(i, score)
            ref.update(i, score)
            n_draws += 1
        elif op < 9:
            buf.tick()
            ref.clock += 1
        else:  # a write from outside, as tests and tools do
            i = int(rng.integers(len(buf)))
            buf.last_sampled[i] = ref.last[i] = float(buf.clock - rng.integers(3))
        if step in (1000, 2500):
            other = LevelBuffer(40 if step == 2500 else 50, *args[1:4], score_alpha=args[4])
            other.load_state_dict(buf.state_dict())  # 2500: 50 levels into a 40-level buffer
            buf, ref.capacity = other, other.capacity
        assert buf.keys == ref.keys
        np.testing.assert_array_equal(buf.scores, ref.scores)
        np.testing.assert_array_equal(buf.last_sampled, ref.last)
        np.testing.assert_array_equal(buf.distribution(), ref.p())
    assert n_draws > 500 and buf.n_replaced > 100 and buf.n_rejected > 50


@pytest.mark.parametrize("n", [1, 129, 1000, 4000])
def test_replay_draw_index_is_numpys_choice_at_the_boundaries(n):
    """The draw locates the index from block sums and falls back to numpy's running sum
    when rounding could matter: for uniforms exactly at, just below and just above each
    boundary of numpy's normalised running sum (the draws most sensitive to rounding), and
    for distributions with zeros and a dominant level, the index is numpy's."""
    rng = np.random.default_rng(n)
    buf = LevelBuffer(capacity=4000)
    buf._n = n  # the draw reads P from the work array; no level is needed
    for kind in ("uniform", "zeros", "dominant", "tiny"):
        p = rng.random(n)
        if kind == "zeros":
            p[rng.random(n) < 0.7] = 0.0
            p[0] = max(p[0], 0.1)
        elif kind == "dominant":
            p[rng.integers(n)] = 1e6
        elif kind == "tiny":
            p *= 1e-200
        p /= p.sum()
        buf._work_p[:n] = p
        cdf = np.cumsum(p)
        cdf /= cdf[-1]
        us = [float(v) for v in rng.random(300)]
        for k in rng.integers(n, size=50):
            q = float(cdf[k])
            us += [q, np.nextafter(q, 0.0), np.nextafter(q, 1.0)]
        for u in us:
            if 0.0 <= u < 1.0:
                assert buf._draw_index(u) == int(cdf.searchsorted(u, side="right")), (kind, u)
