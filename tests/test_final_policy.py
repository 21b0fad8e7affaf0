"""The final policy kept in the run directory (issue 17 "the trained policy is not kept").

A finished run holds ``model.zip`` (the policy after its last update, SB3's format,
loaded without unpickling by ``students.build.load_student``) and, for envs with
``normalize: true``, ``vecnormalize.json``: VecNormalize's statistics as plain JSON,
because SB3's own ``vecnormalize.pkl`` is a pickle that could run code when loaded.
"""

from __future__ import annotations

import json

import numpy as np
from omegaconf import OmegaConf

from experiments.running.run import final_normalizer, run, run_dir_for


def test_normalised_run_keeps_policy_and_statistics_that_reload(compose):
    from students.build import load_student, make_student
    from students.vec import make_vec_env

    cfg = compose("name=norm", "env=gridworld_small", "env.normalize=true", "budget.steps=1024", "eval.every=1024",
                  "env.kwargs.max_steps=30", "+env.kwargs.n_test_tasks=4", "eval.held_out=false",
                  "env.students.ppo.n_steps=64")
    summary = run(cfg)
    rd = run_dir_for(cfg)
    assert rd.model_path.is_file() and rd.normalizer_path.is_file()
    stats = json.loads(rd.normalizer_path.read_text())  # plain data: no pickle anywhere
    assert stats["obs_rms"]["count"] > summary["steps"] * 0.9  # one update per transition (+ epsilon)
    kwargs = OmegaConf.to_container(cfg.env.kwargs, resolve=True)
    venv = make_vec_env(cfg.env.name, kwargs, 2, "dummy", seed=0)
    vec = final_normalizer(rd.path, venv)
    assert vec is not None and not vec.training and not vec.norm_reward
    np.testing.assert_array_equal(vec.obs_rms.mean, np.asarray(stats["obs_rms"]["mean"]))
    np.testing.assert_array_equal(vec.obs_rms.var, np.asarray(stats["obs_rms"]["var"]))
    obs = vec.reset()  # normalised with the run's statistics, clipped to clip_obs
    assert np.abs(obs).max() <= stats["clip_obs"]
    env_students = OmegaConf.to_container(cfg.env.students, resolve=True)
    fresh = make_student("ppo", vec, params={"batch_size": 128}, env_defaults=env_students, seed=0)
    model = load_student(str(rd.model_path), fresh, vec)
    actions, _ = model.predict(obs, deterministic=True)
    assert actions.shape == (2,)
    vec.close()


def test_a_run_without_normalisation_has_no_statistics_file(compose):
    cfg = compose("name=plain", "env=gridworld_small", "budget.steps=512", "eval.every=512",
                  "env.kwargs.max_steps=30", "+env.kwargs.n_test_tasks=4", "eval.held_out=false",
                  "env.students.ppo.n_steps=64")
    run(cfg)
    rd = run_dir_for(cfg)
    assert rd.model_path.is_file() and not rd.normalizer_path.exists()
    assert final_normalizer(rd.path, None) is None
