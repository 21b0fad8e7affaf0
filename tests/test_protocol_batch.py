"""The batched API through TeachMyAgent's protocol wrappers (teachers/protocol.py): a
wrapped teacher keeps the inner teacher's vectorised path, and the issue-18 contract holds
through the wrappers: a batched sample is deterministic for a seed and drawn from the same
distribution as repeated ``sample()``; ``update_batch`` leaves the state of ``update`` one
by one (rugged shuffle: every episode mapped back to what was proposed for it)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import ks_2samp

from envs.task_space import TaskSpace
from teachers.base import Episode
from teachers.protocol import ExpertBootstrap, ShuffledTeacher, make_protocol_teacher

STUMPS = TaskSpace.box(["stump_height", "stump_spacing"], [0.0, 0.0], [3.0, 6.0])
EK = {
    "success": 230.0,
    "reward_thresholds": [0.0, 180.0],
    "initial": {"mean": {"stump_height": 0.0, "stump_spacing": 6.0}, "std": {"stump_height": 0.3, "stump_spacing": 0.6}},
    "target": {"mean": {"stump_height": 1.5, "stump_spacing": 3.0}, "std": {"stump_height": 0.75, "stump_spacing": 1.5}},
}
CASES = {  # wrapper -> how make_protocol_teacher builds it
    "rugged alp_gmm": dict(name="alp_gmm", params={"fit_rate": 30}, rugged={"seed": 3}),
    "rugged riac": dict(name="riac", params={"max_region_size": 20}, rugged={"seed": 5}),
    "expert-bootstrap alp_gmm": dict(name="alp_gmm", params={"fit_rate": 30}, expert_knowledge="high", env_expert=EK),
    "rugged + bootstrap covar_gmm": dict(name="covar_gmm", params={"fit_rate": 30}, expert_knowledge="high",
                                         env_expert=EK, rugged={"seed": 2}),
}


def build(case: str, seed: int = 0):
    spec = dict(CASES[case])
    return make_protocol_teacher(spec.pop("name"), STUMPS, seed=seed, **spec)


def reward(task: dict) -> float:
    """Progress where stumps are low: returns rise with the episode index there."""
    return 300.0 * float(task["stump_height"] < 1.0) * np.random.default_rng(int(1e6 * task["stump_spacing"])).random()


def episodes_of(tasks: list[dict], start: int) -> list[Episode]:
    return [Episode(task=dict(t), episode_return=reward(t), length=1, episode_id=start + i) for i, t in enumerate(tasks)]


def state(teacher) -> str:
    return json.dumps(teacher.state_dict(), sort_keys=True, default=lambda x: np.asarray(x).tolist())


@pytest.mark.parametrize("case", CASES)
def test_the_wrapper_passes_the_batch_to_the_inner_teacher(case, monkeypatch):
    teacher = build(case)
    assert isinstance(teacher, (ShuffledTeacher, ExpertBootstrap))
    inner = teacher.inner.inner if isinstance(teacher.inner, ExpertBootstrap) else teacher.inner
    calls = []
    monkeypatch.setattr(inner, "update_batch", lambda eps, real=inner.update_batch: (calls.append(len(eps)), real(eps)))
    teacher.update_batch(episodes_of(teacher.sample_batch(7), 0))
    assert calls == [7]  # one call into the inner teacher's vectorised path, not seven updates


@pytest.mark.parametrize("case", CASES)
def test_update_batch_leaves_the_state_of_one_by_one(case):
    one, batched = build(case), build(case)
    step = 0
    for size in (5, 1, 17, 9, 30, 12, 40, 3):
        tasks = one.sample_batch(size)
        assert batched.sample_batch(size) == tasks  # deterministic for a seed, through the wrapper
        for ep in episodes_of(tasks, step):
            one.update(ep)
        batched.update_batch(episodes_of(tasks, step))
        step += size
    assert state(one) == state(batched)


@pytest.mark.parametrize("case", CASES)
def test_sample_batch_matches_the_per_task_distribution(case):
    teacher = build(case)
    step = 0
    for size in (40, 40, 40, 40):  # past the bootstrap and several fits
        tasks = teacher.sample_batch(size)
        teacher.update_batch(episodes_of(tasks, step))
        step += size
    saved = teacher.state_dict()
    single, batched = build(case), build(case)
    single.load_state_dict(saved)
    batched.load_state_dict(saved)
    innermost = batched
    while hasattr(innermost, "inner") and "inner" in vars(innermost):
        innermost.rng = np.random.default_rng(99)
        innermost = innermost.inner
    innermost.rng = np.random.default_rng(98)  # independent draws, same distribution
    a = np.array([STUMPS.to_array(single.sample()) for _ in range(2000)])
    b = np.array([STUMPS.to_array(t) for _ in range(20) for t in batched.sample_batch(100)])
    for j, dim in enumerate(STUMPS.dims):
        p = ks_2samp(a[:, j], b[:, j]).pvalue
        assert p > 1e-3, f"{case}: {dim.name} differs between sample() and sample_batch() (KS p={p:.2g})"


def test_bootstrap_batches_are_the_bootstrap_draws_of_sample():
    """While the inner teacher has fewer than fit_rate updates, sample_batch(n) is exactly n
    calls of sample() (the expert Gaussian), and the bootstrap count follows."""
    a, b = build("expert-bootstrap alp_gmm"), build("expert-bootstrap alp_gmm")
    assert a.bootstrapping
    assert a.sample_batch(6) == [b.sample() for _ in range(6)]
    assert a.n_bootstrap == b.n_bootstrap == 6
