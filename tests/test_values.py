"""V(s0) for teachers that need it: each episode gets the value of its own first state."""

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.utils import obs_as_tensor

from students.bridge import Curriculum, CurriculumCallback
from students.values import InitialValueTracker
from students.vec import make_vec_env
from tests._value_teacher import NeedsValue


def _ppo_with_tracker(vec, n_steps: int, batch_size: int, n_epochs: int) -> tuple[NeedsValue, PPO, CurriculumCallback]:
    """A PPO student on ``vec`` whose curriculum hands every episode, with its V(s0), to a recorder."""
    teacher = NeedsValue(vec.get_attr("task_space", indices=[0])[0])
    curriculum = Curriculum(teacher, vec)
    curriculum.prime()
    model = PPO("MlpPolicy", vec, n_steps=n_steps, batch_size=batch_size, n_epochs=n_epochs, seed=0, device="cpu")
    callback = CurriculumCallback(curriculum)
    callback.value_tracker = InitialValueTracker(model, vec.num_envs)
    curriculum.episode_hooks.append(callback.value_tracker.hook)
    return teacher, model, callback


def test_first_episode_value_is_value_of_its_reset_observation():
    vec = make_vec_env("gridworld", {"max_steps": 12}, n_envs=2, kind="dummy", seed=5)
    try:
        space = vec.get_attr("task_space", indices=[0])[0]
        teacher, model, callback = _ppo_with_tracker(vec, 64, 64, 1)
        # The initial policy's values at the states SB3's first reset will produce.
        model_copy = PPO("MlpPolicy", vec, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
        model_copy.policy.load_state_dict(model.policy.state_dict())
        model.learn(512, callback=callback)
        firsts = {}
        for ep in teacher.got:
            firsts.setdefault(ep.env_index, ep)
        assert all(ep.value is not None and np.isfinite(ep.value) for ep in teacher.got)
        assert len({round(ep.value, 6) for ep in teacher.got}) > 3  # values change as the critic learns
        # recompute: the first episode's s0 is the obs of the first reset of the same seeded envs
        # (SB3 re-seeds the VecEnv with the model's seed, 0)
        vec2 = make_vec_env("gridworld", {"max_steps": 12}, n_envs=2, kind="dummy", seed=0)
        c2 = Curriculum(NeedsValue(space), vec2)
        c2.prime()
        obs0 = vec2.reset()
        with torch.no_grad():
            v0 = model_copy.policy.predict_values(obs_as_tensor(obs0, "cpu")).numpy().reshape(-1)
        vec2.close()
        for i, ep in firsts.items():
            assert abs(ep.value - float(v0[i])) < 1e-5
    finally:
        vec.close()


def _values_by_episode(defer: bool, algo: str) -> list[tuple[int, float]]:
    """(env index, V(s0)) of every episode of a short run, with the deferred path or without.

    ``ppo`` publishes its bootstrap values before ``on_rollout_end`` (the deferred path takes
    them); sb3-contrib's ``maskable_ppo`` does not, so at a rollout's end the tracker runs its
    own pass for the sub-envs reset at the last step."""
    from students.build import make_student

    if algo == "ppo":
        vec = make_vec_env("gridworld", {"max_steps": 12}, n_envs=3, kind="dummy", seed=5)
    else:
        vec = make_vec_env("webform", {}, 3, seed=5)
    try:
        teacher, model, callback = _ppo_with_tracker(vec, 32, 96, 2)
        if algo != "ppo":  # the same recorder, with MaskablePPO as the student
            model = make_student(algo, vec, params={"n_steps": 32, "batch_size": 96, "n_epochs": 2}, seed=0)
            callback.value_tracker = InitialValueTracker(model, vec.num_envs)
            callback.curriculum.episode_hooks[-1] = callback.value_tracker.hook
        if not defer:  # the tracker's own forward pass at every step, as before deferral existed
            callback._rollout_values = lambda: None  # noqa: SLF001
        model.learn(480, callback=callback)  # 5 rollouts: rollout ends with resets pending, and updates between
        return [(ep.env_index, ep.value) for ep in teacher.got]
    finally:
        vec.close()


@pytest.mark.parametrize("algo", ["ppo", "maskable_ppo"])
def test_deferred_values_are_the_tracker_own_values(algo):
    """V(s0) read from the student's own forward pass (and at a rollout's end from its bootstrap,
    or the tracker's pass where the loop does not publish one) equals the tracker's separate
    forward pass on the same observations, to float rounding."""
    deferred, own = _values_by_episode(True, algo), _values_by_episode(False, algo)
    assert len(deferred) == len(own) > 20
    assert [i for i, _ in deferred] == [i for i, _ in own]  # the same episodes: values do not steer the run
    assert all(v is not None for _, v in deferred)
    np.testing.assert_allclose([v for _, v in deferred], [v for _, v in own], rtol=1e-5, atol=1e-6)
