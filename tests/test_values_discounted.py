"""What SPDL's student side gives it as TeachMyAgent's does (docs/references.md#spdl): each
episode's discounted return (TMA's ``step_update``: ``sum_t gamma^t r_t`` with the student's
gamma, raw rewards) and V(s0) from SAC too (TMA's SAC had a V network; SB3's has Q critics,
so students/values.py gives the soft value ``min Q(s0, a) - ent_coef log pi(a | s0)``)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from students.bridge import Curriculum, CurriculumCallback
from students.values import InitialValueTracker, supports_initial_value
from students.vec import make_vec_env
from teachers.base import Episode

from tests._value_teacher import NeedsValue


def test_discounted_return_by_hand():
    """Rewards 1, 2, 4 then done, gamma 0.5: 1 + 0.5 * 2 + 0.25 * 4 = 3; the other env's
    episode (rewards 3, done) is 3; both restart from weight 1."""
    vec = DummyVecEnv([lambda: gym.make("Pendulum-v1")] * 2)
    model = PPO("MlpPolicy", vec, n_steps=8, batch_size=8, gamma=0.5, device="cpu")
    tracker = InitialValueTracker(model, 2)
    tracker.before_episodes(np.array([1.0, 3.0]), np.array([False, True]))
    tracker.before_episodes(np.array([2.0, 8.0]), np.array([False, False]))
    tracker.before_episodes(np.array([4.0, 8.0]), np.array([True, False]))
    got = []
    for env_index in (0, 1):
        episode = Episode(task={}, episode_return=0.0, length=1)
        tracker.hook(episode, env_index, {})
        got.append(episode.extra["discounted_return"])
    assert got == [3.0, 3.0]
    assert tracker.discounted[1] == 8.0 + 0.5 * 8.0  # the env-1 episode in progress
    vec.close()


@pytest.mark.parametrize("normalize", [False, True])
def test_a_run_gives_each_maze_episode_gamma_to_the_length_minus_one_times_its_return(normalize):
    """The maze pays one reward, on the last step: the discounted return is
    gamma^(length - 1) * return for every episode the teacher sees -- of the raw reward also
    when the student trains on VecNormalize's scaled one (TMA's SPDL reads raw returns)."""
    vec = make_vec_env("gridworld", {"max_steps": 40}, n_envs=2, kind="dummy", seed=5)
    if normalize:
        vec = VecNormalize(vec, norm_obs=False, norm_reward=True, gamma=0.9)
    try:
        space = vec.get_attr("task_space", indices=[0])[0]
        teacher = NeedsValue(space, corner=True)
        curriculum = Curriculum(teacher, vec)
        curriculum.prime()
        model = PPO("MlpPolicy", vec, n_steps=64, batch_size=64, n_epochs=1, gamma=0.9, seed=0, device="cpu")
        callback = CurriculumCallback(curriculum)
        callback.value_tracker = InitialValueTracker(model, vec.num_envs)
        curriculum.episode_hooks.append(callback.value_tracker.hook)
        model.learn(1024, callback=callback)
        assert len(teacher.got) > 20 and any(e.episode_return > 0 for e in teacher.got)
        for e in teacher.got:
            assert e.extra["discounted_return"] == pytest.approx(0.9 ** (e.length - 1) * e.episode_return, rel=1e-5)
    finally:
        vec.close()


def test_sac_gives_its_soft_state_value_without_touching_the_run_random_stream():
    vec = DummyVecEnv([lambda: gym.make("Pendulum-v1")] * 3)
    model = SAC("MlpPolicy", vec, learning_starts=0, ent_coef=0.2, seed=0, device="cpu")
    assert supports_initial_value(model)
    tracker = InitialValueTracker(model, 3)
    obs = vec.reset()
    state = torch.get_rng_state()
    tracker.start(obs)
    assert torch.equal(torch.get_rng_state(), state)  # forked: the run's stream is as it was
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        t = obs_as_tensor(obs, "cpu")
        actions, log_prob = model.policy.actor.action_log_prob(t)
        q1, q2 = model.policy.critic(t, actions)
        expected = torch.minimum(q1, q2).reshape(-1) - 0.2 * log_prob.reshape(-1)
    np.testing.assert_allclose(tracker.values, expected.numpy(), rtol=1e-6, atol=1e-6)
    vec.close()
