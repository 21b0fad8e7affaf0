"""``students/fast_rollout.py``: PPO's rollout loop without SB3's per-env Python fills the
same rollout buffer as SB3's loop bit for bit, so the learned weights are the same too;
the batched-bootstrap variant differs only by float rounding of the bootstrapped rewards.
``student.fast_rollout`` picks the loop in real runs (auto = ours on the batched VecEnv)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.callbacks import BaseCallback

import envs  # noqa: F401
from envs.errors import TeachBenchError
from students.build import make_student
from students.fast_rollout import BatchedBootstrapPPO, FastRolloutPPO, rollout_class, with_fast_rollouts
from students.vec import make_vec_env

N_ENVS, N_STEPS = 16, 24


class Seen(BaseCallback):
    """Counts the finished episodes and the time-limit cuts (so the test knows it tested them)."""

    def __init__(self) -> None:
        super().__init__()
        self.cuts = 0
        self.finished = 0

    def _on_step(self) -> bool:
        for i in np.flatnonzero(self.locals["dones"]):
            self.finished += 1
            self.cuts += bool(self.locals["infos"][i].get("TimeLimit.truncated"))
        return True


def train(fast_rollout, rollouts: int = 2, device: str = "cpu"):
    """``rollouts`` rollouts and updates of PPO on 16 batched 7x7 mazes whose 6-step limit
    cuts most episodes (so the time-limit bootstrap runs on most steps)."""
    vec = make_vec_env("gridworld", {"max_size": 7, "max_steps": 6}, N_ENVS, "batched", seed=0)
    model = make_student("ppo", vec, params={"n_steps": N_STEPS, "batch_size": 96, "n_epochs": 2}, seed=0,
                         fast_rollout=fast_rollout, vec_kind="batched", device=device)
    seen = Seen()
    model.learn(rollouts * N_ENVS * N_STEPS, callback=seen)
    return model, seen


CUDA = pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))


@pytest.mark.parametrize("device", ["cpu", CUDA])
def test_the_rollout_buffer_and_the_learned_weights_equal_sb3s_bit_for_bit(device):
    base, seen = train(False, device=device)
    fast, _ = train(True, device=device)
    assert type(base) is PPO and type(fast) is FastRolloutPPO
    assert seen.cuts > 40 and seen.finished > seen.cuts  # many time-limit cuts, and goals reached too
    a, b = base.rollout_buffer, fast.rollout_buffer  # the second rollout, collected by the updated policy
    for name in ("observations", "actions", "rewards", "episode_starts", "values", "log_probs", "returns",
                 "advantages"):
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=name)
    assert not np.array_equal(a.rewards, np.round(a.rewards, 1))  # bootstrapped values are in there
    assert [(e["r"], e["l"]) for e in fast.ep_info_buffer] == [(e["r"], e["l"]) for e in base.ep_info_buffer]
    for (name, w), w_fast in zip(base.policy.state_dict().items(), fast.policy.state_dict().values()):
        assert torch.equal(w, w_fast), name
    assert base._n_updates == fast._n_updates == 4


def test_the_batched_bootstrap_differs_only_by_rounding():
    base, _ = train(False, rollouts=1)
    fast, _ = train("batched", rollouts=1)
    assert type(fast) is BatchedBootstrapPPO
    a, b = base.rollout_buffer, fast.rollout_buffer
    for name in ("observations", "actions", "episode_starts", "values", "log_probs"):
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=name)
    np.testing.assert_allclose(b.rewards, a.rewards, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(b.returns, a.returns, rtol=1e-5, atol=1e-5)
    assert [(e["r"], e["l"]) for e in fast.ep_info_buffer] == [(e["r"], e["l"]) for e in base.ep_info_buffer]


def test_the_setting_picks_the_loop():
    assert rollout_class("auto", "ppo", "batched") is FastRolloutPPO
    assert rollout_class("auto", "ppo", "dummy") is None and rollout_class("auto", "recurrent_ppo", "batched") is None
    assert rollout_class(True, "ppo", "subproc") is FastRolloutPPO
    assert rollout_class("true", "ppo", "dummy") is FastRolloutPPO
    assert rollout_class(False, "ppo", "batched") is None and rollout_class("false", "ppo", "batched") is None
    assert rollout_class("batched", "ppo", "dummy") is BatchedBootstrapPPO
    assert rollout_class(False, "a2c", "batched") is None
    with pytest.raises(TeachBenchError, match="student.fast_rollout"):
        rollout_class(True, "a2c", "batched")
    with pytest.raises(TeachBenchError, match="student.fast_rollout"):
        rollout_class("yes", "ppo", "batched")
    vec = make_vec_env("gridworld", {"max_size": 7}, 2, "batched", seed=0)
    assert type(make_student("a2c", vec, params={"n_steps": 4}, fast_rollout="auto", vec_kind="batched")) is A2C
    assert type(make_student("ppo", vec, params={"n_steps": 8, "batch_size": 16})) is PPO  # the builder's default: off


def test_only_sb3s_ppo_is_converted():
    vec = make_vec_env("gridworld", {"max_size": 7, "max_steps": 6}, 2, "batched", seed=0)
    model = make_student("recurrent_ppo", vec, params={"n_steps": 8, "batch_size": 16}, seed=0)
    with pytest.raises(TypeError):
        with_fast_rollouts(model)


RUN = ["env=gridworld_batched", "teacher=alp_gmm", "student=ppo", "seed=1", "env.n_envs=16", "env.kwargs.max_steps=8",
       "+student.params.n_steps=16", "budget.steps=2048", "eval.every=2048", "checkpoint.every=2048",
       "eval.held_out=false"]


def test_a_run_learns_the_same_with_either_loop(compose, monkeypatch):
    """Two real runs (ALP-GMM on the batched maze), SB3's loop and ours (the default
    there): the same episodes and final weights; one config id."""
    from experiments.running.run import run, run_dir_for
    from students.build import load_student

    calls = []
    ours = FastRolloutPPO.collect_rollouts

    def counted(self, *args, **kwargs):  # ours, counted: the run really used it
        calls.append(type(self))
        return ours(self, *args, **kwargs)

    monkeypatch.setattr(FastRolloutPPO, "collect_rollouts", counted)
    dirs, models = [], []
    for setting in ("false", "auto"):
        cfg = compose(*RUN, f"name=loop_{setting}", f"student.fast_rollout={setting}")
        run(cfg)
        assert len(calls) == (0 if setting == "false" else 8)  # 2048 steps / (16 envs x 16 steps)
        rd = run_dir_for(cfg)
        dirs.append(rd)
        vec = make_vec_env("gridworld", {"max_steps": 8}, 2, "batched", seed=0)
        fresh = make_student("ppo", vec, params={"n_steps": 16})
        models.append(load_student(str(rd.model_path), fresh, vec))
    plain, fast = dirs
    assert plain.path.name == fast.path.name  # not part of the config id
    a, b = plain.read("episodes"), fast.read("episodes")
    assert len(a) > 200 and a["length"].eq(8).mean() > 0.5  # mostly cut by the time limit
    same = [c for c in a.columns if "time" not in c and "wall" not in c]
    assert "episode_return" in same and "task.size" in same
    assert a[same].equals(b[same])
    for w, w_fast in zip(models[0].policy.state_dict().values(), models[1].policy.state_dict().values()):
        assert torch.equal(w, w_fast)
    # a checkpoint of the fast loop's run extends with it (the loop is the class, not saved state)
    summary = run(compose(*RUN, "name=loop_auto", "budget.steps=3072", "resume=extend"))
    assert summary["steps"] >= 3072 and len(calls) == 8 + 4


@pytest.mark.parametrize("override", ["student.fast_rollout=yes", "student=a2c +student.fast_rollout=true"])
def test_a_bad_setting_stops_the_run_before_it_starts(compose, override):
    from experiments.running.run import run, run_dir_for

    cfg = compose(*RUN, *override.split())
    with pytest.raises(TeachBenchError) as err:
        run(cfg)
    assert err.value.key == "student.fast_rollout"
    assert not run_dir_for(cfg).model_path.exists()  # refused by the config checks, before training
