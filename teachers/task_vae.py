"""Latent task manifolds for CLUTR: a small MLP VAE and a PCA ablation.

CLUTR pretrains a VAE on random tasks of the env, freezes it, and lets a regret generator
choose latent vectors that decode to tasks (docs/references.md#clutr: the paper's maze VAE reads
sorted wall sequences with LSTMs, latent 64-D in [−4, 4]; for parameter vectors a small
MLP VAE with a 4–16-D latent suffices, compared against PCA).

Both latents work on the normalised ``[0, 1]^d`` view of a TaskSpace. Decoders are *not*
squashed into the box, so a decoded vector can leave it: the teacher repairs it (clip,
then round discrete dimensions) and reports how often that was needed (the valid-decode
rate), next to the reconstruction error on held-out random tasks.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from envs.errors import TeachBenchError
from teachers.torch_utils import build_seeded, mlp, module_state, seeded_generator


class TaskVAE(nn.Module):
    """MLP encoder ``x -> (μ, log σ²)`` and decoder ``z -> x̂`` over unit task vectors."""

    def __init__(self, dim: int, latent_dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.dim, self.latent_dim = int(dim), int(latent_dim)
        self.encoder = mlp([self.dim, hidden, hidden, 2 * self.latent_dim])
        self.decoder = mlp([self.latent_dim, hidden, hidden, self.dim])

    def encode_stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = self.encoder(x).chunk(2, dim=-1)
        return mu, log_var.clamp(-10.0, 10.0)


class VAELatent:
    """A VAE trained once on random unit task vectors, then frozen.

    Args:
        dim: task dimensions; latent_dim: latent size (default 4); hidden: MLP width (64);
        beta: weight of the KL term (default 0.05: with β = 1 the 3-D gridworld VAE
            collapsed to the prior, reconstruction MSE 0.094 ≈ the data variance; 0.05 gave
            0.005 with 98% of prior samples decoding inside the box); epochs, batch_size,
            lr: the pretraining schedule (defaults 60, 256, 3e-3, measured on the same
            data); seed: weights and batch order.
    """

    kind = "vae"

    def __init__(self, dim: int, latent_dim: int = 4, hidden: int = 64, beta: float = 0.05, epochs: int = 60,
                 batch_size: int = 256, lr: float = 3e-3, seed: int = 0) -> None:
        if int(latent_dim) < 1:
            raise TeachBenchError("latent_dim", f"must be >= 1, got {latent_dim}")
        self.latent_dim = int(latent_dim)
        self.beta, self.epochs, self.batch_size, self.lr, self.seed = float(beta), int(epochs), int(batch_size), float(lr), int(seed)
        self.model: TaskVAE = build_seeded(seed, lambda: TaskVAE(dim, latent_dim, hidden))

    def fit(self, x: np.ndarray) -> None:
        data = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        gen = seeded_generator(self.seed + 1)
        opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.model.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(data), generator=gen)
            for start in range(0, len(data), self.batch_size):
                batch = data[order[start:start + self.batch_size]]
                mu, log_var = self.model.encode_stats(batch)
                z = mu + (0.5 * log_var).exp() * torch.randn(mu.shape, generator=gen)
                recon = self.model.decoder(z)
                rec = ((recon - batch) ** 2).sum(-1).mean()
                kl = (-0.5 * (1 + log_var - mu**2 - log_var.exp()).sum(-1)).mean()
                loss = rec + self.beta * kl
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def encode(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.model.encode_stats(torch.as_tensor(np.asarray(x), dtype=torch.float32))[0].numpy().astype(np.float64)

    def decode(self, z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.model.decoder(torch.as_tensor(np.asarray(z), dtype=torch.float32)).numpy().astype(np.float64)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "weights": module_state(self.model)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["weights"])


class PCALatent:
    """Whitened PCA (latent ~ unit variance, like the VAE prior): the linear ablation."""

    kind = "pca"

    def __init__(self, dim: int, latent_dim: int = 4, seed: int = 0, **_: Any) -> None:
        self.latent_dim = int(min(latent_dim, dim))
        self.mean = np.zeros(dim)
        self.components = np.zeros((self.latent_dim, dim))
        self.scale = np.ones(self.latent_dim)

    def fit(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        self.mean = x.mean(0)
        _, s, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        self.components = vt[: self.latent_dim]
        self.scale = np.maximum(s[: self.latent_dim] / np.sqrt(max(len(x) - 1, 1)), 1e-8)

    def encode(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.mean) @ self.components.T) / self.scale

    def decode(self, z: np.ndarray) -> np.ndarray:
        return (np.asarray(z, dtype=np.float64) * self.scale) @ self.components + self.mean

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "mean": torch.as_tensor(self.mean), "components": torch.as_tensor(self.components),
                "scale": torch.as_tensor(self.scale)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.mean = state["mean"].numpy().astype(np.float64)
        self.components = state["components"].numpy().astype(np.float64)
        self.scale = state["scale"].numpy().astype(np.float64)


LATENTS = {"vae": VAELatent, "pca": PCALatent}


def make_latent(kind: str, dim: int, latent_dim: int, seed: int, **kwargs: Any) -> VAELatent | PCALatent:
    try:
        cls = LATENTS[kind]
    except KeyError:
        raise TeachBenchError("latent", f"unknown latent {kind!r}", LATENTS) from None
    return cls(dim, latent_dim=latent_dim, seed=seed, **kwargs)


def latent_report(latent: VAELatent | PCALatent, x_test: np.ndarray, rng: np.random.Generator,
                  n_prior: int = 1000) -> dict[str, float]:
    """Reconstruction MSE on held-out tasks and the share of prior samples ``z ~ N(0, I)``
    that decode inside the unit box without repair."""
    x_test = np.asarray(x_test, dtype=np.float64)
    recon = latent.decode(latent.encode(x_test))
    decoded = latent.decode(rng.standard_normal((n_prior, latent.latent_dim)))
    valid = np.all((decoded >= 0.0) & (decoded <= 1.0), axis=1)
    return {"recon_mse": float(np.mean((recon - x_test) ** 2)), "prior_valid_rate": float(valid.mean())}
