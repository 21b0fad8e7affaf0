"""The CNN student (``student.policy: cnn``) on the gridworld's image layout."""

from __future__ import annotations

import numpy as np
import pytest

import envs  # noqa: F401
from envs.errors import TeachBenchError
from envs.gridworld.maze_env import MazeEnv
from students.build import load_student, make_student
from students.features import FlatImageCNN
from students.vec import make_vec_env


@pytest.mark.parametrize("view, layout", [("partial", (2, 5, 5)), ("full", (3, 9, 9))])
def test_cnn_reads_the_planes_of_the_flat_observation(view: str, layout: tuple[int, int, int]) -> None:
    env = MazeEnv(view=view, max_size=9)
    assert env.image_layout == layout
    obs, _ = env.reset(seed=0, options={"task": {"size": 9, "wall_density": 0.3, "min_goal_distance": 0.5}})
    c, h, w = layout
    planes = obs[: c * h * w].reshape(layout)
    grid = env.level.wall_grid
    if view == "full":  # plane 0 is wall[x, y], plane 1 the goal, plane 2 the agent
        assert np.array_equal(planes[0].astype(bool), grid)
        assert planes[1][env.level.goal] == 1 and planes[1].sum() == 1
        assert planes[2][tuple(env.agent_pos)] == 1 and planes[2].sum() == 1
    else:  # the 5x5 view: the agent sits at the middle of the near row and never on a wall
        assert planes[0][2, 4] == 0
    assert np.array_equal(obs[c * h * w :], np.eye(4, dtype=np.float32)[env.agent_dir])


@pytest.mark.parametrize("view", ["partial", "full"])
def test_ppo_with_a_cnn_trains_saves_and_loads(view: str, tmp_path) -> None:
    vec = make_vec_env("gridworld", {"max_size": 9, "view": view}, 4, "dummy", seed=0)
    model = make_student("ppo", vec, policy="cnn", params={"n_steps": 64, "batch_size": 64, "n_epochs": 2}, seed=0)
    assert isinstance(model.policy.features_extractor, FlatImageCNN)
    before = [p.detach().clone() for p in model.policy.features_extractor.parameters()]
    model.learn(1024)
    after = list(model.policy.features_extractor.parameters())
    assert any(not np.allclose(a.numpy(), b.detach().numpy()) for a, b in zip(before, after))  # the CNN learned
    model.save(tmp_path / "model.zip")
    fresh = make_student("ppo", vec, policy="cnn", params={"n_steps": 64, "batch_size": 64, "n_epochs": 2}, seed=1)
    loaded = load_student(str(tmp_path / "model.zip"), fresh, vec)
    obs = vec.reset()
    assert np.array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    vec.close()


def test_cnn_on_an_env_without_an_image_and_unknown_policies_are_clear_errors() -> None:
    vec = make_vec_env("toy", {}, 1, "dummy", seed=0)
    with pytest.raises(TeachBenchError, match="student.policy.*image_layout"):
        make_student("ppo", vec, policy="cnn")
    with pytest.raises(TeachBenchError, match="student.policy.*unknown policy 'Resnet'"):
        make_student("ppo", vec, policy="Resnet")
    vec.close()


def test_cnn_runs_on_the_batched_gridworld() -> None:
    from envs.gridworld.batched import BatchedMazeVecEnv

    vec = BatchedMazeVecEnv(8, seed=0, max_size=9)
    model = make_student("ppo", vec, policy="cnn", params={"n_steps": 32, "batch_size": 64, "n_epochs": 1}, seed=0)
    model.learn(512)
    assert model.num_timesteps >= 512


def test_a_run_with_the_cnn_student_writes_its_files_and_checkpoints(compose, tmp_path) -> None:
    from experiments.running.run import run, run_dir_for

    fast = ["budget.steps=2048", "eval.every=1024", "checkpoint.every=1024", "env.kwargs.max_steps=40",
            "student.policy=cnn", "env.n_envs=4", f"runs_dir={tmp_path}"]
    cfg = compose("env=gridworld_small", "teacher=random", "student=ppo", *fast)
    summary = run(cfg)
    rd = run_dir_for(cfg)
    assert rd.status()["state"] == "finished" and summary["steps"] >= 2048
    assert (rd.checkpoint_dir / "latest.json").exists()
    # The saved config says cnn (checkpoints load through load_student, tested above).
    assert rd.path.joinpath("config.yaml").read_text().count("policy: cnn") == 1
    assert run(cfg)["episodes"] == summary["episodes"]


def test_device_auto_uses_cuda_only_where_the_env_config_measured_it_faster(monkeypatch) -> None:
    import torch
    from omegaconf import OmegaConf

    from experiments.running.run import _device

    full = OmegaConf.create({"cuda_policies": ["cnn"]})
    plain = OmegaConf.create({})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert _device("auto", full, "cnn") == "cuda"
    assert _device("auto", full, None) == "cpu"  # MLP: faster on the CPU
    assert _device("auto", plain, "cnn") == "cpu"
    assert _device("cuda", plain, None) == "cuda"  # an explicit device is kept
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _device("auto", full, "cnn") == "cpu"
