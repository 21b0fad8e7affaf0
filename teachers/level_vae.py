"""CLUTR's level VAE: a recurrent VAE over sorted wall sequences with goal and agent appended.

Facts from clutr/clutr (``task_embed/clutr_RVAE``, docs/references.md):

- A maze level is the token sequence ``sorted(walls) + [goal, agent]`` over the interior
  cells (token = row-major interior index + 1; 0 ends the sequence); the training data are
  random levels with 0 … ``n_walls`` walls, uniform over the count, all cells distinct
  (``gen_training_data.py``: ``random.sample`` of ``ln`` cells, ``ln`` = 2 … 52).
- An LSTM encoder (bidirectional, final states concatenated) gives a Gaussian posterior;
  the sampled latent is squashed into ``[−4, 4]`` (``z = 4·tanh(μ + σ·ε)``:
  ``enc_activation=scaled_tanh``, ``activation_scalar=4``), which is the space the
  generator acts in; an LSTM decoder reads the previous token (embedding dropout 0.3)
  concatenated with the latent at every step (teacher forcing in training, greedy decoding
  when frozen); the loss is ``79 · cross-entropy + c(i) · KL`` with clutr's annealing
  ``c(i) = (tanh((i − 3500)/1000) + 1)/2`` over iterations ``i`` (``kld_coef``).
- The paper's sizes: latent 64, token embedding 300, encoder LSTM 600, decoder 2×800,
  10M training sequences on a GPU. Ours keep the 64-D latent in ``[−4, 4]`` and shrink the
  rest (embedding 32, encoder 64, decoder 1×128: 210k weights, 192k training sequences
  drawn as 3 000 batches of 64 by default, where clutr's annealed KL weight is still
  below 0.27) so that the reproducible pretraining
  (``python -m teachers.clutr_pretrain``) runs in ~20 minutes on one shared CPU core and
  the shipped weights stay under half a megabyte. This is a far weaker VAE than the
  paper's; its measured held-out token accuracy is written into the weights file and
  reported by the teacher (``--steps``/sizes on the command line build bigger ones).

Weights are stored as ``.npz`` (float16 arrays plus a JSON header as a unicode array) and
read with ``allow_pickle=False``: nothing is unpickled. A missing file is rebuilt from its
seed (deterministic on CPU with one thread).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from envs.errors import TeachBenchError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
EOS = 0


@dataclass(frozen=True)
class LevelVAEConfig:
    """What a level VAE is: its maze, its network and how it was pretrained."""

    size: int = 15             # maze side with border (13×13 = 169 cells)
    n_walls: int = 50          # longest sequence: n_walls + goal + agent
    latent_dim: int = 64       # CLUTR: 64
    latent_bound: float = 4.0  # CLUTR: scaled tanh ×4
    embed: int = 32
    enc_hidden: int = 64
    dec_hidden: int = 128
    dec_layers: int = 1        # CLUTR: 2
    recons_weight: float = 79.0  # CLUTR
    dropout: float = 0.3         # CLUTR: decoder input dropout
    lr: float = 2e-3
    batch: int = 64
    steps: int = 3000
    seed: int = 0

    @property
    def n_cells(self) -> int:
        return (self.size - 2) ** 2

    @property
    def vocab(self) -> int:
        return self.n_cells + 2  # EOS, cells 1..n, GO

    @property
    def max_len(self) -> int:
        return min(self.n_walls + 2, self.n_cells)  # a small maze holds fewer distinct cells

    def file_name(self) -> str:
        """Maze side, latent size, steps and seed, then a hash of every setting."""
        digest = hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]
        return f"level_vae_s{self.size}_z{self.latent_dim}_n{self.steps}_seed{self.seed}_{digest}.npz"


def random_level_sequences(n: int, cfg: LevelVAEConfig, rng: np.random.Generator) -> list[list[int]]:
    """CLUTR's training data: ``sorted(walls) + [goal, agent]``, cells distinct, the wall
    count uniform in 0 … n_walls (tokens 1 … n_cells)."""
    out = []
    for _ in range(n):
        length = int(rng.integers(2, cfg.max_len + 1))
        cells = (rng.choice(cfg.n_cells, size=length, replace=False) + 1).tolist()
        out.append(sorted(cells[:-2]) + cells[-2:])
    return out


class LevelVAE(nn.Module):
    """Recurrent VAE over level token sequences (see the module docstring)."""

    def __init__(self, cfg: LevelVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.go = cfg.vocab - 1
        self.embed = nn.Embedding(cfg.vocab, cfg.embed)
        self.encoder = nn.LSTM(cfg.embed, cfg.enc_hidden, batch_first=True, bidirectional=True)
        self.to_mu = nn.Linear(2 * cfg.enc_hidden, cfg.latent_dim)
        self.to_logvar = nn.Linear(2 * cfg.enc_hidden, cfg.latent_dim)
        self.decoder = nn.LSTM(cfg.embed + cfg.latent_dim, cfg.dec_hidden, num_layers=cfg.dec_layers, batch_first=True)
        self.out = nn.Linear(cfg.dec_hidden, cfg.vocab)

    @property
    def device(self) -> torch.device:
        return self.out.weight.device

    def _pad(self, seqs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        length = self.cfg.max_len + 1
        tokens = np.zeros((len(seqs), length), dtype=np.int64)  # EOS-padded
        for i, s in enumerate(seqs):
            tokens[i, : len(s)] = s
        lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)  # stays on the CPU (packing wants it there)
        return torch.as_tensor(tokens, device=self.device), lengths

    def posterior(self, seqs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the Gaussian before the squash."""
        tokens, lengths = self._pad(seqs)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(tokens), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.encoder(packed)
        final = torch.cat([h[0], h[1]], dim=-1)
        return self.to_mu(final), self.to_logvar(final)

    def encode(self, seqs: Sequence[Sequence[int]]) -> torch.Tensor:
        """The latent of each sequence (posterior mean, squashed into ``[−bound, bound]``)."""
        mu, _ = self.posterior(seqs)
        return self.cfg.latent_bound * torch.tanh(mu)

    def _logits(self, z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        emb = nn.functional.dropout(self.embed(inputs), self.cfg.dropout, training=self.training)
        x = torch.cat([emb, z[:, None, :].expand(-1, inputs.shape[1], -1)], dim=-1)
        h, _ = self.decoder(x)
        return self.out(h)

    def loss(self, seqs: Sequence[Sequence[int]], kl_coef: float = 1.0) -> tuple[torch.Tensor, float]:
        """CLUTR's objective (79·CE + c·KL, teacher forcing) and the batch's token accuracy."""
        mu, logvar = self.posterior(seqs)
        z = self.cfg.latent_bound * torch.tanh(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))
        target, lengths = self._pad(seqs)
        inputs = torch.cat([torch.full((len(seqs), 1), self.go, dtype=torch.long, device=self.device), target[:, :-1]], dim=1)
        logits = self._logits(z, inputs)
        mask = (torch.arange(target.shape[1])[None, :] <= lengths[:, None]).to(self.device)  # the EOS after each sequence counts
        ce = nn.functional.cross_entropy(logits[mask], target[mask])
        kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1))
        acc = float((logits[mask].argmax(-1) == target[mask]).float().mean())
        return self.cfg.recons_weight * ce + kl_coef * kl, acc

    @torch.no_grad()
    def decode(self, z: np.ndarray) -> list[list[int]]:
        """Greedy decoding (CLUTR's deterministic VAE) of latents ``z`` (shape ``(n, D)``),
        clipped to ``[−bound, bound]``: token sequences without the EOS."""
        zt = torch.as_tensor(np.clip(np.asarray(z, dtype=np.float32), -self.cfg.latent_bound, self.cfg.latent_bound),
                             device=self.device)
        n = zt.shape[0]
        token = torch.full((n, 1), self.go, dtype=torch.long, device=self.device)
        state = None
        seqs: list[list[int]] = [[] for _ in range(n)]
        done = np.zeros(n, dtype=bool)
        for _ in range(self.cfg.max_len + 1):
            x = torch.cat([self.embed(token), zt[:, None, :]], dim=-1)
            h, state = self.decoder(x, state)
            token = self.out(h).argmax(-1)
            for i, t in enumerate(token[:, 0].tolist()):
                if not done[i]:
                    if t == EOS:
                        done[i] = True
                    else:
                        seqs[i].append(int(t))
            if done.all():
                break
        return seqs

    @torch.no_grad()
    def reconstruction_accuracy(self, seqs: Sequence[Sequence[int]]) -> float:
        """Share of tokens (EOS included) that greedy decoding of the posterior mean gets
        right, position by position (chance: about 1 / n_cells)."""
        decoded = self.decode(self.encode(seqs).cpu().numpy())
        right = total = 0
        for s, d in zip(seqs, decoded):
            target = list(s) + [EOS]
            got = list(d) + [EOS]
            right += sum(1 for i, t in enumerate(target) if i < len(got) and got[i] == t)
            total += len(target)
        return right / total


def kl_coef(iteration: int) -> float:
    """clutr's KL annealing (``utils/functional.py: kld_coef``)."""
    return (float(np.tanh((iteration - 3500) / 1000)) + 1) / 2


def pretrain(cfg: LevelVAEConfig, log_every: int = 0, device: str = "cpu") -> tuple[LevelVAE, dict[str, Any]]:
    """Train a level VAE from ``cfg.seed`` and measure it on 512 held-out random levels.
    Returns the model on the CPU (weights rounded to float16, as stored). Deterministic on
    the CPU (the default, and what a rebuild uses); a CUDA run (paper-sized VAEs) is not
    bit-exact."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            model = LevelVAE(cfg).to(device)
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            rng = np.random.default_rng([cfg.seed, 1])
            held_out = random_level_sequences(512, cfg, np.random.default_rng([cfg.seed, 2]))
            acc = float("nan")
            for step in range(cfg.steps):
                loss, acc = model.loss(random_level_sequences(cfg.batch, cfg, rng), kl_coef=kl_coef(step))
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                opt.step()
                if log_every and step % log_every == 0:
                    print(f"step {step} loss {float(loss.detach()):.3f} train token acc {acc:.3f}", flush=True)
        finally:
            torch.set_num_threads(threads)
    model = model.cpu()
    _round_to_float16(model)
    model.eval()
    report = {"heldout_token_accuracy": model.reconstruction_accuracy(held_out), "chance_token_accuracy": 1.0 / cfg.n_cells,
              "final_train_token_accuracy": acc, "heldout_levels": len(held_out)}
    return model, report


def _round_to_float16(model: nn.Module) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())


def save(model: LevelVAE, report: dict[str, Any], path: str | os.PathLike) -> None:
    arrays = {k: v.detach().numpy().astype(np.float16) for k, v in model.state_dict().items()}
    header = json.dumps({"config": asdict(model.cfg), "report": report}, sort_keys=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, __header__=np.array(header), **arrays)
    os.replace(tmp, path)


def load(path: str | os.PathLike) -> tuple[LevelVAE, dict[str, Any]]:
    """A level VAE from an ``.npz`` file, without unpickling anything."""
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["__header__"]))
            arrays = {k: torch.as_tensor(data[k].astype(np.float32)) for k in data.files if k != "__header__"}
    except (OSError, ValueError, KeyError) as exc:
        raise TeachBenchError("clutr.weights", f"{path} is not a level VAE weights file: {exc}") from None
    model = LevelVAE(LevelVAEConfig(**header["config"]))
    model.load_state_dict(arrays)
    model.eval()
    return model, header["report"]


def load_or_pretrain(cfg: LevelVAEConfig, weights_dir: str | os.PathLike | None = None) -> tuple[LevelVAE, dict[str, Any]]:
    """The frozen VAE for ``cfg``: loaded from ``weights_dir`` (default ``teachers/weights``)
    or, when missing, pretrained from its seed and saved there (if writable)."""
    path = Path(weights_dir or WEIGHTS_DIR) / cfg.file_name()
    if path.exists():
        return load(path)
    model, report = pretrain(cfg)
    try:
        save(model, report, path)
    except OSError:
        pass  # a read-only install: the rebuilt model is used without being kept
    return model, report
