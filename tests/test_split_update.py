"""``students/split_update.py``: PPO's update on another device or thread count is SB3's update.

Two students built alike train on the same rollout buffer with the same minibatch
permutation; the split one must end with the same weights and Adam moments as SB3's
(exactly with one thread, to float rounding with more threads or on CUDA), with every
tensor back on the rollout device afterwards. Its sync-free loop (the default) must also
log SB3's values, with SB3's ``target_kl`` early stop, ``clip_range_vf``, advantage
normalisation on or off and a last minibatch shorter than the others."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import DummyVecEnv

import envs  # noqa: F401
from envs.errors import TeachBenchError
from students.build import make_student
from students.split_update import SplitUpdatePPO, with_split_update
from students.vec import env_factory

PARAMS = {"n_steps": 64, "batch_size": 32, "n_epochs": 2, "learning_rate": 3e-4}


def _pair(params: dict | None = None):
    vec = DummyVecEnv([env_factory("walker_stumps", {}, seed=i) for i in range(2)])
    vec.seed(0)
    params = {**PARAMS, **(params or {})}
    a = make_student("ppo", vec, policy="shared_mlp", params=params, seed=0)
    b = make_student("ppo", vec, policy="shared_mlp", params=params, seed=0)
    a.learn(128)  # one rollout + update: Adam has moments to move
    b.policy.load_state_dict(copy.deepcopy(a.policy.state_dict()))
    # deep copies: Adam's load_state_dict keeps the very tensors it is given on the same device
    b.policy.optimizer.load_state_dict(copy.deepcopy(a.policy.optimizer.state_dict()))
    callback = CallbackList([])
    callback.init_callback(a)
    a.collect_rollouts(a.env, callback, a.rollout_buffer, a.n_steps)  # a fresh rollout in a's buffer ...
    b.rollout_buffer = copy.deepcopy(a.rollout_buffer)  # ... that both update on
    b._current_progress_remaining = a._current_progress_remaining  # noqa: SLF001 - same lr / clip schedule
    b._n_updates = a._n_updates  # noqa: SLF001 - a learned one rollout first
    a.set_logger(Logger(folder=None, output_formats=[]))  # each its own: the test compares what they log
    b.set_logger(Logger(folder=None, output_formats=[]))
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
@pytest.mark.parametrize("loop", ["fast", "sb3"])
def test_update_on_cuda_equals_sb3_on_the_cpu(loop):
    a, b = _pair({"clip_range_vf": 0.2})
    with_split_update(b, device="cuda", loop=loop)
    _train(a)
    _train(b)
    # GPU kernels sum in another order; 8 Adam steps of lr 3e-4 move weights by ~1e-3, far above this
    _assert_same(a, b, exact=False, rtol=1e-4, atol=1e-5)
    assert all(p.grad is None or p.grad.device.type == "cpu" for p in b.policy.parameters())
    logged_a, logged_b = a.logger.name_to_value, b.logger.name_to_value
    assert logged_a.keys() == logged_b.keys()
    for key, value in logged_a.items():
        assert type(logged_b[key]) is type(value), key
        # one of 128 ratios on the other side of the clip boundary moves the clip fraction by 1/128
        tolerance = 2 / 128 if key == "train/clip_fraction" else 1e-5
        assert logged_b[key] == pytest.approx(value, rel=1e-3, abs=tolerance), key


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


# One rollout of 2 envs x 64 steps = 128 transitions; batch 48 leaves a last minibatch of 32.
FAST_CASES = {
    "sb3_defaults": {},
    "short_last_minibatch": {"batch_size": 48, "n_epochs": 3},
    "clip_range_vf": {"clip_range_vf": 0.2, "clip_range": 0.1},
    "no_advantage_normalisation": {"normalize_advantage": False, "ent_coef": 0.01},
    "target_kl_never_reached": {"target_kl": 10.0},
    # stops inside the first epoch; with 2 x target_kl instead of SB3's 1.5 x it would stop later
    "target_kl_stops_early": {"target_kl": 2e-4, "n_epochs": 4, "batch_size": 48},
    "last_minibatch_of_one": {"batch_size": 127, "n_epochs": 2},  # SB3's len > 1 guard on normalisation
}


@pytest.mark.filterwarnings("ignore:You have specified a mini-batch size")
@pytest.mark.parametrize("device", [None, "cpu:0"], ids=["sb3_minibatches", "resident_minibatches"])
@pytest.mark.parametrize("case", list(FAST_CASES))
def test_fast_loop_is_sb3s_update_and_log(case, device):
    """The sync-free loop ends with SB3's weights and Adam moments bit for bit on one CPU
    thread, counts SB3's ``_n_updates`` and logs the same keys with equal values of the
    same types, whether minibatches come from SB3's buffer or the resident copy."""
    a, b = _pair(FAST_CASES[case])
    with_split_update(b, device=device, threads=1)
    assert b.update_loop == "fast"
    before = a._n_updates  # noqa: SLF001
    _train(a)
    _train(b)
    _assert_same(a, b, exact=True)
    assert a._n_updates == b._n_updates  # noqa: SLF001
    if case == "target_kl_stops_early":
        assert a._n_updates - before < a.n_epochs  # noqa: SLF001 - SB3 did stop early
    logged_a, logged_b = a.logger.name_to_value, b.logger.name_to_value
    assert logged_a.keys() == logged_b.keys() and "train/approx_kl" in logged_b
    for key, value in logged_a.items():
        assert type(logged_b[key]) is type(value), key
        assert logged_b[key] == value, key
    assert th.distributions.Distribution._validate_args  # noqa: SLF001 - torch's argument checks are back on


@pytest.mark.filterwarnings("ignore:You have specified a mini-batch size")
def test_sb3_loop_is_kept_on_request():
    a, b = _pair({"batch_size": 48})
    with_split_update(b, device="cpu:0", threads=1, loop="sb3")
    _train(a)
    _train(b)
    _assert_same(a, b, exact=True)
    with pytest.raises(TeachBenchError, match="update_loop"):
        with_split_update(b, loop="graphs")


@pytest.mark.parametrize("loop", ["fast", "sb3"])
def test_a_nan_policy_fails_the_update_in_both_loops(loop):
    """A NaN standard deviation: torch's argument check stops SB3's loop; the sync-free
    loop, which turns the checks off, raises after the loop instead."""
    a, _ = _pair()
    with_split_update(a, device="cpu:0", threads=1, loop=loop)
    with th.no_grad():
        a.policy.log_std.fill_(float("nan"))
    with pytest.raises(ValueError):
        _train(a)
    assert th.distributions.Distribution._validate_args  # noqa: SLF001


def _host_reads(model, monkeypatch) -> int:
    """How many times ``train()`` reads a tensor's value back to Python (``item``, ``cpu``,
    ``numpy``, ``tolist``, ``bool``/``float``), Adam's own step counters aside (they live on
    the CPU by design, so reading them never waits for a GPU)."""
    steps = {id(state["step"]) for state in model.policy.optimizer.state.values()}
    count = [0]
    for name in ("item", "cpu", "numpy", "tolist", "__bool__", "__float__"):
        original = getattr(th.Tensor, name)

        def counted(self, *args, _original=original, **kwargs):
            if id(self) not in steps:
                count[0] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(th.Tensor, name, counted)
    _train(model)
    monkeypatch.undo()
    return count[0]


@pytest.mark.parametrize("loop", ["fast", "sb3"])
def test_fast_loop_reads_back_once_per_update_not_per_minibatch(loop, monkeypatch):
    """SB3's loop reads values back on every minibatch (``.item()`` of four losses, the KL,
    torch's argument checks): on CUDA each read waits for the GPU. The sync-free loop's
    reads do not grow with the number of minibatches while ``target_kl`` is unset."""
    reads = []
    for batch_size in (64, 16):  # 2 x 2 and 8 x 2 minibatches
        a, _ = _pair({"batch_size": batch_size})
        with_split_update(a, device="cpu:0", threads=1, loop=loop)
        reads.append(_host_reads(a, monkeypatch))
    if loop == "fast":
        assert reads[0] == reads[1]
    else:
        assert reads[1] - reads[0] >= 8 * 12  # 12 more minibatches, at least 8 reads each


def test_a_split_update_checkpoint_resumed_without_one_names_update_device(tmp_path):
    from students.build import load_student

    vec = DummyVecEnv([env_factory("walker_stumps", {}, seed=0)])
    split = with_split_update(make_student("ppo", vec, policy="shared_mlp", params=PARAMS, seed=0), device="cpu")
    split.save(tmp_path / "model.zip")
    plain = make_student("ppo", vec, policy="shared_mlp", params=PARAMS, seed=0)
    with pytest.raises(TeachBenchError) as err:
        load_student(str(tmp_path / "model.zip"), plain, vec)
    assert err.value.key == "update_device" and "update_device=cpu" in str(err.value)
    again = with_split_update(make_student("ppo", vec, policy="shared_mlp", params=PARAMS, seed=0), device="cpu")
    assert isinstance(load_student(str(tmp_path / "model.zip"), again, vec), SplitUpdatePPO)


def test_paireds_antagonist_updates_where_the_protagonist_does(tmp_path):
    """PAIRED's antagonist is "a second student with the same settings" (configs/teacher/
    paired_param.yaml): with update_threads (or update_device) set, its PPO update is split
    as the protagonist's. Its checkpoint records that, and a run extended from the checkpoint
    loads it back into a split antagonist (before, the antagonist updated on the rollout
    device, e.g. one CPU core beside a GPU update)."""
    import json
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    common = ["env=gridworld", "teacher=paired_param", "++teacher.params.batch_size=8", "update_threads=1",
              "env.kwargs.max_steps=40", "eval.held_out=false", "eval.every=100000", "checkpoint.every=1024",
              f"runs_dir={tmp_path}", "log.progress_bar=false"]
    env = {**__import__("os").environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    for extra in (["budget.steps=2048"], ["budget.steps=3072", "resume=extend"]):
        done = subprocess.run([sys.executable, "-m", "experiments.running.cli", *common, *extra], cwd=root, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    runs = list(tmp_path.glob("*/*/checkpoints/step-*/antagonist.zip"))
    assert runs, "no antagonist checkpoint"
    for path in runs:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
        assert "update_threads" in data  # the split update's settings, pickled with the antagonist
    summary = json.loads(next(tmp_path.glob("*/*/summary.json")).read_text())
    assert summary["state"] == "finished" and summary["steps"] == 3072
