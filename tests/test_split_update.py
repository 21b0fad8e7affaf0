"""``students/split_update.py``: PPO's update on another device or thread count is SB3's update.

Two students built alike train on the same rollout buffer with the same minibatch
permutation; the split one must end with the same weights and Adam moments as SB3's
(exactly with one thread, to float rounding with more threads or on CUDA), with every
tensor back on the rollout device afterwards."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.vec_env import DummyVecEnv

import envs  # noqa: F401
from envs.errors import TeachBenchError
from students.build import make_student
from students.split_update import SplitUpdatePPO, with_split_update
from students.vec import env_factory

PARAMS = {"n_steps": 64, "batch_size": 32, "n_epochs": 2, "learning_rate": 3e-4}


def _pair():
    vec = DummyVecEnv([env_factory("walker_stumps", {}, seed=i) for i in range(2)])
    vec.seed(0)
    a = make_student("ppo", vec, policy="shared_mlp", params=PARAMS, seed=0)
    b = make_student("ppo", vec, policy="shared_mlp", params=PARAMS, seed=0)
    a.learn(128)  # one rollout + update: Adam has moments to move
    b.policy.load_state_dict(copy.deepcopy(a.policy.state_dict()))
    # deep copies: Adam's load_state_dict keeps the very tensors it is given on the same device
    b.policy.optimizer.load_state_dict(copy.deepcopy(a.policy.optimizer.state_dict()))
    callback = CallbackList([])
    callback.init_callback(a)
    a.collect_rollouts(a.env, callback, a.rollout_buffer, a.n_steps)  # a fresh rollout in a's buffer ...
    b.rollout_buffer = copy.deepcopy(a.rollout_buffer)  # ... that both update on
    b._current_progress_remaining = a._current_progress_remaining  # noqa: SLF001 - same lr / clip schedule
    b.set_logger(a.logger)
    return a, b


def _train(model, seed: int = 3) -> None:
    np.random.seed(seed)  # the rollout buffer's minibatch permutation
    model.train()


def _assert_same(a: PPO, b: PPO, exact: bool, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    sa, sb = a.policy.state_dict(), b.policy.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sb[key].device.type == "cpu"
        if exact:
            assert th.equal(sa[key], sb[key]), key
        else:
            th.testing.assert_close(sa[key], sb[key].cpu(), rtol=rtol, atol=atol)
    for (pa, qa), (pb, qb) in zip(a.policy.optimizer.state.items(), b.policy.optimizer.state.items()):
        for key in qa:
            assert qb[key].device.type == "cpu"
            if exact:
                assert th.equal(qa[key], qb[key]), key
            else:
                th.testing.assert_close(qa[key], qb[key].cpu(), rtol=rtol, atol=atol)


def test_split_update_moving_through_another_device_object_equals_sb3():
    """``cpu:0`` is another ``th.device`` than the rollout's ``cpu``: the move path runs
    (policy, Adam moments, buffer device and back) and the update is bit-identical."""
    a, b = _pair()
    with_split_update(b, device="cpu:0", threads=1)
    assert type(b) is SplitUpdatePPO
    _train(a)
    _train(b)
    _assert_same(a, b, exact=True)
    assert b.device == th.device("cpu") and b.rollout_buffer.device == th.device("cpu")
    assert th.get_num_threads() == 1


def test_more_update_threads_give_the_same_update_to_rounding():
    a, b = _pair()
    with_split_update(b, threads=2)
    _train(a)
    _train(b)
    _assert_same(a, b, exact=False)
    assert th.get_num_threads() == 1  # the rollout's single thread is back


@pytest.mark.skipif(not th.cuda.is_available(), reason="needs CUDA")
def test_update_on_cuda_equals_sb3_on_the_cpu():
    a, b = _pair()
    with_split_update(b, device="cuda")
    _train(a)
    _train(b)
    # GPU kernels sum in another order; 8 Adam steps of lr 3e-4 move weights by ~1e-3, far above this
    _assert_same(a, b, exact=False, rtol=1e-4, atol=1e-5)
    assert all(p.grad is None or p.grad.device.type == "cpu" for p in b.policy.parameters())


def test_bad_arguments_are_named():
    a, _ = _pair()
    with pytest.raises(TeachBenchError, match="update_threads"):
        with_split_update(a, threads=0)
    if not th.cuda.is_available():
        with pytest.raises(TeachBenchError, match="CUDA"):
            with_split_update(a, device="cuda")


def test_resident_minibatches_are_sb3s_minibatches():
    """With ``update_device`` set, minibatches are gathered from one device copy of the
    rollout: every field of every minibatch equals what SB3's buffer hands out for the
    same permutation, and the buffer's own method is back after the update."""
    from students.split_update import _ResidentSamples

    a, _ = _pair()
    buf = a.rollout_buffer
    np.random.seed(5)
    ours = _ResidentSamples(buf, th.device("cpu:0"))
    for batch_inds in (np.random.permutation(buf.buffer_size * buf.n_envs)[:32], np.arange(7)):
        next(buf.get(32))  # flattens the buffer as SB3's train does before its first minibatch
        want, got = buf._get_samples(batch_inds), ours(batch_inds)  # noqa: SLF001
        for w, g in zip(want, got):
            assert w.dtype == g.dtype and w.shape == g.shape
            assert th.equal(w, g)
    b = copy.deepcopy(a)
    with_split_update(b, device="cpu:0")
    _train(b)
    assert "_get_samples" not in b.rollout_buffer.__dict__
