"""CLUTR's level VAE: a recurrent VAE over sorted wall sequences with goal and agent appended.

Facts from clutr/clutr (``task_embed/clutr_RVAE``, docs/references.md#clutr), with the
file and line each comes from:

- **Levels as sentences.** A maze level is the word sequence ``sorted(walls) + [goal,
  agent]`` over the interior cells, word ``k`` = row-major interior cell ``k − 1``
  (``gen_training_data.py:12-15``). Vocabulary: the cell words first (index ``k − 1``), then
  pad, go and end (``utils/batch_loader.py:52-62``): 169 + 3 = 172 entries on the 15×15
  maze.
- **Batches** (``batch_loader.py:164-206``): padded to the batch's longest level ``L``; the
  encoder reads the level *reversed* and left-padded (``[pad]·(L − len) + reversed``), the
  decoder reads ``[go] + level + [pad]·(L − len)`` and is scored against ``level + [end] +
  [pad]·(L − len)``; the cross-entropy is the plain mean over all ``B·(L + 1)`` positions,
  pads included (``model/rvae.py:172-175``).
- **Training data** (``gen_training_data.py:4-18``): lengths ``ln = 2 … 52`` (0 … 50 walls,
  then goal and agent; cells distinct), generated in chunks of 32 levels of one length,
  the lengths in turn, duplicates dropped; read in file order by batches of 32
  (``train.py:18``, ``scripts/train_vae.sh:8``: ``--batching sequential``), so a batch
  holds levels of one length (two where a dropped duplicate shifts the chunks).
  :func:`clutr_training_stream` yields the same order.
- **Encoder** (``model/encoder.py``): embedding → a 2-layer highway network with ReLU
  (``selfModules/highway.py``: ``g·relu(W₁x) + (1 − g)·W₂x``, ``g = σ(W₃x)``) → one
  bidirectional LSTM layer; the context is the *cell* state of both directions' last step,
  concatenated (``encoder.py:57-62``: ``_, (_, final_state) = self.rnn(input)``).
- **Latent**: ``μ``, ``log σ²`` from the context (``rvae.py:31-32``); ``z = 4·tanh(μ + σ·ε)``
  (``rvae.py:105-121``: ``enc_activation=scaled_tanh``, ``activation_scalar=4``), 64-D.
- **Decoder** (``model/decoder.py``): the previous word's embedding (dropout 0.3 in
  training, ``train.py:24``) concatenated with ``z`` at every step → LSTM → linear over
  the vocabulary; decoding is greedy from ``go`` (``deterministic_vae``, ``arguments.py:534``)
  for at most ``n_walls + 2`` = 52 words, stopping at ``end``
  (``envs/multigrid/adversarial.py:184, 660``).
- **Loss** ``79·CE + c(i)·KL`` (``rvae.py:192``), ``c(i) = (tanh((i − 3500)/1000) + 1)/2``
  (``utils/functional.py:29-31``); Adam, no gradient clipping (``rvae.py:195-197``).

Where we differ, and why (measured on this 2-core CPU, one thread):

- **Sizes and budget.** The paper's VAE: embedding 300, encoder LSTM 600, decoder 2×800
  (``utils/parameters.py:40-46``; 14.07M weights), Adam at 5e-5 (``train.py:22``) for 1M
  iterations of 32 levels (``train_vae.sh:5``) over a 10M-level file. One such iteration
  takes 0.9 s here: 1M would take ~10.5 days. Ours keep the 64-D latent in ``[−4, 4]`` and
  every piece of the network, shrunk (embedding 32, encoder 64, decoder 1×128: 216k
  weights), at a learning rate of 2e-3 for 24 000 iterations of 32 (768k levels, drawn
  fresh rather than re-read from a file; the KL weight ``c(i)`` passes 0.98 at 5 500):
  9.7 minutes on one shared CPU core for the 15×15 maze, weights under half a megabyte.
  This is a far weaker VAE than the paper's: greedy decoding of a held-out level's mean
  latent gets 13 % of its words right on the 15×15 maze (chance 0.6 %; 4 % after 8 000
  iterations), 52 % on the 9×9 one (chance 2 %); the figure is written into the weights file and
  reported by the teacher (``python -m teachers.clutr_pretrain --embed 300 ...`` builds
  the paper's sizes).

Weights are stored as ``.npz`` (float16 arrays plus a JSON header as a unicode array) and
read with ``allow_pickle=False``: nothing is unpickled. A missing file is rebuilt from its
seed (deterministic on CPU with one thread).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from envs.errors import TeachBenchError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CHUNK = 32  # clutr's gen_training_data.py: levels of one length generated together


@dataclass(frozen=True)
class LevelVAEConfig:
    """What a level VAE is: its maze, its network and how it was pretrained."""

    size: int = 15             # maze side with border (13×13 = 169 cells)
    n_walls: int = 50          # longest sequence: n_walls + goal + agent
    latent_dim: int = 64       # CLUTR: 64
    latent_bound: float = 4.0  # CLUTR: scaled tanh ×4
    embed: int = 32            # CLUTR: 300
    enc_hidden: int = 64       # CLUTR: 600 per direction
    dec_hidden: int = 128      # CLUTR: 800
    dec_layers: int = 1        # CLUTR: 2
    highway_layers: int = 2    # CLUTR: 2
    recons_weight: float = 79.0  # CLUTR
    dropout: float = 0.3         # CLUTR: decoder input dropout
    lr: float = 2e-3             # CLUTR: 5e-5 over 1M iterations
    batch: int = 32              # CLUTR: 32
    steps: int = 24000           # CLUTR: 1 000 000
    seed: int = 0

    @property
    def n_cells(self) -> int:
        return (self.size - 2) ** 2

    @property
    def pad(self) -> int:
        return self.n_cells

    @property
    def go(self) -> int:
        return self.n_cells + 1

    @property
    def end(self) -> int:
        return self.n_cells + 2

    @property
    def vocab(self) -> int:
        return self.n_cells + 3  # cells 0..n-1, pad, go, end

    @property
    def max_len(self) -> int:
        return min(self.n_walls + 2, self.n_cells)  # a small maze holds fewer distinct cells

    def file_name(self) -> str:
        """Maze side, latent size, steps and seed, then a hash of every setting."""
        digest = hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]
        return f"level_vae_s{self.size}_z{self.latent_dim}_n{self.steps}_seed{self.seed}_{digest}.npz"


def level_sequence(walls: Sequence[int], goal: int, agent: int) -> list[int]:
    """CLUTR's sentence for a level (``gen_training_data.py:13-15``): the wall cells sorted,
    then the goal, then the agent, each interior cell ``c`` (row-major) written as word
    ``c + 1``."""
    return [int(c) + 1 for c in sorted(walls)] + [int(goal) + 1, int(agent) + 1]


def random_level_sequences(n: int, cfg: LevelVAEConfig, rng: np.random.Generator) -> list[list[int]]:
    """Random levels in CLUTR's format (cells distinct), the length uniform in 2 … max_len
    (used for held-out measurements)."""
    return [_level_of_length(int(rng.integers(2, cfg.max_len + 1)), cfg, rng) for _ in range(n)]


def _level_of_length(length: int, cfg: LevelVAEConfig, rng: np.random.Generator) -> list[int]:
    cells = rng.choice(cfg.n_cells, size=length, replace=False).tolist()
    return level_sequence(cells[:-2], cells[-2], cells[-1])


def distinct_levels(length: int, n_cells: int) -> int:
    """How many sentences of ``length`` words exist: ordered goal and agent, a set of walls."""
    return math.perm(n_cells, 2) * math.comb(n_cells - 2, length - 2)


def clutr_training_stream(cfg: LevelVAEConfig, rng: np.random.Generator) -> Iterator[list[int]]:
    """CLUTR's training levels in their file order (``gen_training_data.py:9-18``): for each
    length 2 … max_len in turn, :data:`CHUNK` random levels of that length, a level already
    seen dropped; then again from length 2. Read by consecutive batches, as clutr's
    ``sequential`` batching reads its file. Ours only: a length whose every level has been
    seen is skipped, and the stream ends with an error once all are (clutr's loop would
    spin forever; only mazes of a few cells get there)."""
    seen: set[tuple[int, ...]] = set()
    counts = {length: 0 for length in range(2, cfg.max_len + 1)}
    while True:
        open_lengths = [k for k, c in counts.items() if c < distinct_levels(k, cfg.n_cells)]
        if not open_lengths:
            raise TeachBenchError("vae_steps", f"every one of the {len(seen)} levels of a {cfg.size}x{cfg.size} maze "
                                  "has been drawn: fewer steps or a larger maze")
        for length in open_lengths:
            for _ in range(CHUNK):
                level = _level_of_length(length, cfg, rng)
                key = tuple(level)
                if key not in seen:
                    seen.add(key)
                    counts[length] += 1
                    yield level


class Highway(nn.Module):
    """``x ← g·relu(W₁x) + (1 − g)·W₂x`` with ``g = σ(W₃x)``, ``layers`` times (clutr's
    ``selfModules/highway.py``)."""

    def __init__(self, size: int, layers: int) -> None:
        super().__init__()
        self.nonlinear = nn.ModuleList(nn.Linear(size, size) for _ in range(layers))
        self.linear = nn.ModuleList(nn.Linear(size, size) for _ in range(layers))
        self.gate = nn.ModuleList(nn.Linear(size, size) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for nonlinear, linear, gate in zip(self.nonlinear, self.linear, self.gate):
            g = torch.sigmoid(gate(x))
            x = g * torch.relu(nonlinear(x)) + (1 - g) * linear(x)
        return x


class LevelVAE(nn.Module):
    """Recurrent VAE over level word sequences (see the module docstring)."""

    def __init__(self, cfg: LevelVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.embed)
        self.highway = Highway(cfg.embed, cfg.highway_layers)
        self.encoder = nn.LSTM(cfg.embed, cfg.enc_hidden, batch_first=True, bidirectional=True)
        self.to_mu = nn.Linear(2 * cfg.enc_hidden, cfg.latent_dim)
        self.to_logvar = nn.Linear(2 * cfg.enc_hidden, cfg.latent_dim)
        self.decoder = nn.LSTM(cfg.embed + cfg.latent_dim, cfg.dec_hidden, num_layers=cfg.dec_layers, batch_first=True)
        self.out = nn.Linear(cfg.dec_hidden, cfg.vocab)

    @property
    def device(self) -> torch.device:
        return self.out.weight.device

    def batch(self, seqs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """clutr's ``next_batch``: encoder input (reversed, left-padded), decoder input (go,
        level, pads) and target (level, end, pads), as vocabulary indices (word − 1)."""
        cfg = self.cfg
        longest = max(len(s) for s in seqs)
        enc = np.full((len(seqs), longest), cfg.pad, dtype=np.int64)
        dec = np.full((len(seqs), longest + 1), cfg.pad, dtype=np.int64)
        target = np.full((len(seqs), longest + 1), cfg.pad, dtype=np.int64)
        for i, s in enumerate(seqs):
            idx = [int(w) - 1 for w in s]
            if idx:
                enc[i, longest - len(idx):] = idx[::-1]
            dec[i, 0] = cfg.go
            dec[i, 1: len(idx) + 1] = idx
            target[i, : len(idx)] = idx
            target[i, len(idx)] = cfg.end
        as_tensor = lambda a: torch.as_tensor(a, device=self.device)  # noqa: E731
        return as_tensor(enc), as_tensor(dec), as_tensor(target)

    def _posterior(self, enc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, (_, cell) = self.encoder(self.highway(self.embed(enc)))  # clutr reads the cell state
        context = torch.cat([cell[0], cell[1]], dim=-1)
        return self.to_mu(context), self.to_logvar(context)

    def posterior(self, seqs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the Gaussian before the squash."""
        return self._posterior(self.batch(seqs)[0])

    def encode(self, seqs: Sequence[Sequence[int]]) -> torch.Tensor:
        """The latent of each sequence (posterior mean, squashed into ``[−bound, bound]``)."""
        mu, _ = self.posterior(seqs)
        return self.cfg.latent_bound * torch.tanh(mu)

    def _logits(self, z: torch.Tensor, inputs: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        emb = nn.functional.dropout(self.embed(inputs), self.cfg.dropout, training=self.training)
        x = torch.cat([emb, z[:, None, :].expand(-1, inputs.shape[1], -1)], dim=-1)
        h, state = self.decoder(x, state)
        return self.out(h), state

    def loss(self, seqs: Sequence[Sequence[int]], kl_coef: float = 1.0) -> tuple[torch.Tensor, float]:
        """CLUTR's objective (79·CE over every position, pads included, + c·KL; teacher
        forcing) and the batch's token accuracy over the real words and the end."""
        enc, dec, target = self.batch(seqs)
        mu, logvar = self._posterior(enc)
        z = self.cfg.latent_bound * torch.tanh(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))
        logits, _ = self._logits(z, dec)
        ce = nn.functional.cross_entropy(logits.reshape(-1, self.cfg.vocab), target.reshape(-1))
        kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1))
        real = target != self.cfg.pad
        acc = float((logits.argmax(-1)[real] == target[real]).float().mean())
        return self.cfg.recons_weight * ce + kl_coef * kl, acc

    @torch.no_grad()
    def decode(self, z: np.ndarray) -> list[list[int]]:
        """Greedy decoding (CLUTR's deterministic VAE) of latents ``z`` (shape ``(n, D)``,
        clipped to ``[−bound, bound]``) for at most ``max_len`` words, each stopping at
        ``end``: vocabulary indices (cells ``0 … n_cells − 1``; ``pad``/``go`` may appear:
        clutr drops them, as :meth:`~teachers.clutr.CLUTR.decode_latent` does)."""
        zt = torch.as_tensor(np.clip(np.asarray(z, dtype=np.float32), -self.cfg.latent_bound, self.cfg.latent_bound),
                             device=self.device)
        n = zt.shape[0]
        token = torch.full((n, 1), self.cfg.go, dtype=torch.long, device=self.device)
        state = None
        seqs: list[list[int]] = [[] for _ in range(n)]
        done = np.zeros(n, dtype=bool)
        for _ in range(self.cfg.max_len):
            logits, state = self._logits(zt, token, state)
            token = logits.argmax(-1)
            for i, t in enumerate(token[:, 0].tolist()):
                if not done[i]:
                    if t == self.cfg.end:
                        done[i] = True
                    else:
                        seqs[i].append(int(t))
            if done.all():
                break
        return seqs

    @torch.no_grad()
    def reconstruction_accuracy(self, seqs: Sequence[Sequence[int]]) -> float:
        """Share of words (the end included) that greedy decoding of the posterior mean gets
        right, position by position (chance: about 1 / n_cells)."""
        decoded = self.decode(self.encode(seqs).cpu().numpy())
        right = total = 0
        for s, d in zip(seqs, decoded):
            target = [int(w) - 1 for w in s] + [self.cfg.end]
            got = list(d) + [self.cfg.end]
            right += sum(1 for i, t in enumerate(target) if i < len(got) and got[i] == t)
            total += len(target)
        return right / total


def kl_coef(iteration: int) -> float:
    """clutr's KL annealing (``utils/functional.py: kld_coef``)."""
    return (float(np.tanh((iteration - 3500) / 1000)) + 1) / 2


def pretrain(cfg: LevelVAEConfig, log_every: int = 0, device: str = "cpu") -> tuple[LevelVAE, dict[str, Any]]:
    """Train a level VAE from ``cfg.seed`` on :func:`clutr_training_stream` and measure it on
    512 held-out random levels. Returns the model on the CPU (weights rounded to float16,
    as stored). Deterministic on the CPU (the default, and what a rebuild uses); a CUDA run
    (paper-sized VAEs) is not bit-exact."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            model = LevelVAE(cfg).to(device)
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            stream = clutr_training_stream(cfg, np.random.default_rng([cfg.seed, 1]))
            held_out = random_level_sequences(512, cfg, np.random.default_rng([cfg.seed, 2]))
            acc = float("nan")
            for step in range(cfg.steps):
                loss, acc = model.loss([next(stream) for _ in range(cfg.batch)], kl_coef=kl_coef(step))
                opt.zero_grad()
                loss.backward()
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
