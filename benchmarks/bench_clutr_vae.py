"""Cost of one CLUTR level-VAE training iteration: ours against the paper's sizes.

clutr/clutr trains its VAE with embedding 300, encoder LSTM 600, decoder 2 x 800 for 1M
iterations of 32 levels (docs/references.md#clutr); ours keeps the architecture at
embedding 32, encoder 64, decoder 1 x 128 for 24 000 iterations. This prints seconds per
iteration of each (one thread, batches from clutr's training stream, which cycles through
the lengths 2 ... 52), the ratio, and what each whole budget would take at that rate.

    python benchmarks/bench_clutr_vae.py [--iterations 51] [--paper-iterations 51]   # one cycle of lengths each
"""

from __future__ import annotations

import _setup  # noqa: F401  (repository on sys.path, one thread)

import argparse
import time

import numpy as np
import torch

from teachers.level_vae import LevelVAE, LevelVAEConfig, clutr_training_stream, kl_coef


def seconds_per_iteration(cfg: LevelVAEConfig, iterations: int) -> float:
    """Mean wall time of ``iterations`` training steps, after 2 warm-up steps, over whole
    cycles of lengths when ``iterations`` is a multiple of 51."""
    torch.manual_seed(0)
    model = LevelVAE(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    stream = clutr_training_stream(cfg, np.random.default_rng(0))
    start = 0.0
    for i in range(iterations + 2):
        if i == 2:
            start = time.perf_counter()
        loss, _ = model.loss([next(stream) for _ in range(cfg.batch)], kl_coef(i))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=51)
    parser.add_argument("--paper-iterations", type=int, default=51)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ours = LevelVAEConfig()
    paper = LevelVAEConfig(embed=300, enc_hidden=600, dec_hidden=800, dec_layers=2, steps=1_000_000, lr=5e-5)
    t_ours = seconds_per_iteration(ours, args.iterations)
    t_paper = seconds_per_iteration(paper, args.paper_iterations)
    for name, cfg, t in (("ours", ours, t_ours), ("paper", paper, t_paper)):
        n = sum(p.numel() for p in LevelVAE(cfg).parameters())
        print(f"{name:5s} {n:>10,d} weights  {t:.3f} s/iteration  {cfg.steps:>9,d} iterations = "
              f"{t * cfg.steps / 3600:.1f} h")
    print(f"paper / ours per iteration: {t_paper / t_ours:.1f}x")


if __name__ == "__main__":
    main()
