"""CLUTR as published on the maze: the recurrent level VAE (data, reconstruction, safe
weights), decoding latents into levels, the PCA ablation on the same levels, and an
end-to-end run on gridworld_small.

Facts from clutr/clutr (docs/references.md): a level is ``sorted(walls) + [goal, agent]``
over the 169 interior cells of a 15×15 maze with up to 50 walls; the latent is 64-D in
[−4, 4].
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from envs.errors import TeachBenchError
from envs.gridworld.generate import maze_task_space
from envs.gridworld.level import Level
from students.regret import gridworld_level_designer
from teachers.base import Episode
from teachers.clutr import CLUTR
from teachers.level_vae import WEIGHTS_DIR, LevelVAEConfig, load, load_or_pretrain, pretrain, random_level_sequences, save

TINY = LevelVAEConfig(size=7, n_walls=10, latent_dim=8, embed=8, enc_hidden=16, dec_hidden=32, steps=60, batch=32, seed=3)
TINY_PARAMS = {"n_walls": 10, "latent_dim": 8, "vae_embed": 8, "vae_enc_hidden": 16, "vae_dec_hidden": 32,
               "vae_steps": 60, "vae_batch": 32, "vae_seed": 3, "batch_size": 4, "noise_dim": 4}


def test_training_levels_are_clutr_sequences():
    cfg = LevelVAEConfig()
    assert cfg.n_cells == 169 and cfg.max_len == 52 and cfg.latent_dim == 64 and cfg.latent_bound == 4.0
    seqs = random_level_sequences(2000, cfg, np.random.default_rng(0))
    lengths = np.array([len(s) for s in seqs])
    assert lengths.min() == 2 and lengths.max() == 52  # 0 .. 50 walls, then goal and agent
    for s in seqs[:200]:
        walls = s[:-2]
        assert walls == sorted(walls) and len(set(s)) == len(s) and all(1 <= t <= 169 for t in s)


@pytest.mark.parametrize("size", [15, 9])  # gridworld (15x15, CLUTR's maze) and gridworld_small (9x9)
def test_shipped_vae_reconstructs_held_out_levels_better_than_chance(size):
    """The shipped VAE's accuracy on fresh random levels (not the ones its report was
    computed on) against chance = 1/cells per token, and against its own decoder given no
    information (the latent at 0): the latent carries the level."""
    cfg = LevelVAEConfig(size=size)
    path = WEIGHTS_DIR / cfg.file_name()
    assert path.exists(), f"{path} is shipped (rebuild: python -m teachers.clutr_pretrain --size {size})"
    model, report = load(path)
    assert report["chance_token_accuracy"] == pytest.approx(1 / (size - 2) ** 2)
    fresh = random_level_sequences(256, cfg, np.random.default_rng(12345))
    acc = model.reconstruction_accuracy(fresh)
    assert acc > 5 * report["chance_token_accuracy"]
    assert acc == pytest.approx(report["heldout_token_accuracy"], abs=0.05)  # the report is what the file does
    blind = model.decode(np.zeros((len(fresh), cfg.latent_dim)))
    end = cfg.end
    blind_acc = np.mean([sum(a == b for a, b in zip([w - 1 for w in s] + [end], d + [end])) / (len(s) + 1)
                         for s, d in zip(fresh, blind)])
    assert acc > blind_acc
    assert path.stat().st_size < 1_000_000


def test_weights_load_without_pickle_and_rebuild_deterministically(tmp_path):
    model, report = pretrain(TINY)
    save(model, report, tmp_path / "a.npz")
    with zipfile.ZipFile(tmp_path / "a.npz") as z:  # npz: plain .npy arrays, none of them object arrays
        assert all(name.endswith(".npy") for name in z.namelist())
    with np.load(tmp_path / "a.npz", allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
    loaded, loaded_report = load(tmp_path / "a.npz")
    assert loaded_report == report
    # missing file: rebuilt from the seed, the same weights again
    rebuilt, _ = load_or_pretrain(TINY, tmp_path / "rebuilt")
    assert (tmp_path / "rebuilt" / TINY.file_name()).exists()
    for (k, a), (_, b) in zip(loaded.state_dict().items(), rebuilt.state_dict().items()):
        assert np.array_equal(a.numpy(), b.numpy()), k
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(TeachBenchError):
        load(tmp_path / "bad.npz")


@pytest.mark.parametrize("latent", ["vae", "pca"])
def test_decoded_latents_are_valid_levels(tmp_path, latent):
    space = maze_task_space(max_size=7)
    teacher = CLUTR(space, seed=0, latent=latent, weights_dir=str(tmp_path), pca_levels=500, **TINY_PARAMS)
    assert teacher.size == 7 and teacher.needs == {"antagonist", "level_designer"}
    teacher.level_designer = gridworld_level_designer
    rng = np.random.default_rng(0)
    for _ in range(20):
        placements, _valid = teacher.decode_latent(rng.uniform(-6, 6, size=teacher.latent_dim))  # clipped to [-4, 4]
        text, stats = gridworld_level_designer(7, placements, goal_last=True)  # walls, then goal and agent
        level = Level.from_string(text)  # parses: start and goal distinct free interior cells
        assert level.size == 7 and len(level.walls) <= 10 and stats["solvable"] in (True, False)
    tasks = [teacher.sample() for _ in range(4)]
    assert all(Level.from_string(t["level"]).size == 7 for t in tasks)
    assert 0.0 <= teacher.diagnostics()["valid_decode_rate"] <= 1.0


def test_clutr_rejects_parameter_vector_envs():
    from envs.task_space import TaskSpace

    with pytest.raises(TeachBenchError, match="clutr_param"):
        CLUTR(TaskSpace.box(["a"], [0.0], [1.0]))


def test_clutr_end_to_end_on_gridworld_small(compose, tmp_path):
    from experiments.running.run import run, run_dir_for
    from experiments.tables import read_table

    params = [f"++teacher.params.{k}={v}" for k, v in TINY_PARAMS.items()]
    cfg = compose("env=gridworld_small", "teacher=clutr", "name=clutr_smoke", "budget.steps=2048",
                  "eval.every=1024", "checkpoint.every=1024", "env.kwargs.max_steps=40", "+env.kwargs.n_test_tasks=6", "eval.held_out=false",
                  f"++teacher.params.weights_dir={tmp_path / 'w'}", *params)
    summary = run(cfg)
    rd = run_dir_for(cfg)
    diag = read_table(rd.path / "teacher")
    assert summary["steps"] >= 2048 and diag["generator_updates"].max() >= 1
    assert read_table(rd.path / "episodes")["task.level"].notna().all()
    assert json.loads((rd.path / "summary.json").read_text())["teacher"] == "clutr"


def test_clutr_state_round_trips_without_pickle(tmp_path):
    import io

    import torch

    space = maze_task_space(max_size=7)
    a = CLUTR(space, seed=1, weights_dir=str(tmp_path), **TINY_PARAMS)
    a.level_designer = gridworld_level_designer
    view = a.antagonist_view()
    for i in range(8):  # one batch of 4 levels, 2 episodes each, both students: one generator update
        task = a.sample()
        a.update(Episode(task=task, episode_return=0.1 * (i % 3), length=5, episode_id=i))
    for i in range(8):
        view.update(Episode(task=view.sample(), episode_return=0.5, length=5, episode_id=100 + i))
    assert a.n_generator_updates == 1
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = CLUTR(space, seed=2, weights_dir=str(tmp_path), **TINY_PARAMS)
    b.load_state_dict(torch.load(buf, weights_only=True))
    for (k, x), (_, y) in zip(a.generator.state_dict().items(), b.generator.state_dict().items()):
        assert torch.equal(x, y), k
    assert b.n_generator_updates == 1
    for (k, x), (_, y) in zip(a.optimizer.state_dict()["state"].items(), b.optimizer.state_dict()["state"].items()):
        assert all(torch.equal(x[n], y[n]) for n in x), k
