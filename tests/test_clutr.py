"""CLUTR, parametric variant (clutr_param): the frozen latent (VAE, PCA ablation), repaired decodes, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs.task_space import Dim, TaskSpace
from teachers.base import Episode
from teachers.clutr import CLUTRParam as CLUTR
from teachers.task_vae import PCALatent, VAELatent, latent_report

SPACE = TaskSpace((Dim("x", 0.0, 1.0), Dim("n", 2, 9, "discrete"), Dim("y", -3.0, 3.0)))


def test_vae_and_pca_reconstruct_held_out_tasks() -> None:
    rng = np.random.default_rng(0)
    # tasks on a 2-D manifold inside a 4-D box: both latents must reconstruct them
    s = rng.uniform(size=(1500, 2))
    x = np.stack([s[:, 0], s[:, 1], 0.5 * (s[:, 0] + s[:, 1]), 1 - s[:, 0]], axis=1)
    vae = VAELatent(4, latent_dim=2, epochs=40, seed=0)
    vae.fit(x[:1200])
    pca = PCALatent(4, latent_dim=2)
    pca.fit(x[:1200])
    rv, rp = latent_report(vae, x[1200:], rng), latent_report(pca, x[1200:], rng)
    baseline = float(np.mean((x[1200:] - x[:1200].mean(0)) ** 2))  # predicting the mean
    assert rv["recon_mse"] < 0.25 * baseline
    assert rp["recon_mse"] < 1e-10
    assert 0.0 <= rv["prior_valid_rate"] <= 1.0 and 0.0 <= rp["prior_valid_rate"] <= 1.0


@pytest.mark.parametrize("latent", ["vae", "pca"])
def test_decoded_tasks_are_repaired_and_reported(latent: str) -> None:
    t = CLUTR(SPACE, seed=0, latent=latent, latent_dim=2, pretrain_tasks=300, vae_epochs=5, batch_size=8)
    for z in (np.full(t.action_dim(), 100.0), np.full(t.action_dim(), -100.0), np.zeros(t.action_dim())):
        assert SPACE.contains(t.decode(z))  # clipped latent, repaired decode
    tasks = [t.sample() for _ in range(40)]
    assert all(SPACE.contains(task) for task in tasks)
    diag = t.diagnostics()
    assert 0.0 <= diag["valid_decode_rate"] <= 1.0
    assert diag["latent_recon_mse"] >= 0 and "generator_entropy" in diag


def test_clutr_seeded_and_checkpointable(tmp_path) -> None:
    kw = dict(latent="vae", latent_dim=2, pretrain_tasks=200, vae_epochs=3, batch_size=4)
    a, b = CLUTR(SPACE, seed=2, **kw), CLUTR(SPACE, seed=2, **kw)

    def drive(t, n):
        out = []
        for k in range(n):
            task = t.sample()
            out.append(task)
            t.update(Episode(task=task, episode_return=0.0, length=1, level_id=f"L{len(out)}-{k}"))
            ant = t.antagonist_view().sample()
            t.record_antagonist(Episode(task=ant, episode_return=float(task["x"]), length=1, level_id=ant["level"]))
        return out

    assert drive(a, 10) == drive(b, 10)
    torch.save(a.state_dict(), tmp_path / "c.pt")
    c = CLUTR(SPACE, seed=5, **kw)
    c.load_state_dict(torch.load(tmp_path / "c.pt", weights_only=True))
    assert drive(a, 6) == drive(c, 6)


def test_clutr_param_takes_the_ppo_update_in_its_latent_space() -> None:
    """``update: ppo`` reaches CLUTR's generator too: one batch of 8 regrets, 8 x 4 steps
    (dcd's walker adversary update), decoded tasks still inside the box."""
    t = CLUTR(SPACE, seed=0, latent_dim=2, pretrain_tasks=50, vae_epochs=2, noise_dim=4, hidden=8, batch_size=8,
              update="ppo")
    assert t.critic is not None and t.update_rule == "ppo"
    view = t.antagonist_view()
    for k in range(8):
        task = t.sample()
        t.update(Episode(task=task, episode_return=0.0, length=1, level_id=f"L{k}"))
        ant = view.sample()
        view.update(Episode(task=ant, episode_return=1.0 + k, length=1, level_id=ant["level"]))
    assert t.n_generator_updates == 1 and t.regret_stats[0] == 8
    assert all(SPACE.contains(t.sample()) for _ in range(20))
