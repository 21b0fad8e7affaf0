"""Pretrain CLUTR's level VAE and write its weights (``python -m teachers.clutr_pretrain``).

Reproducible: the same arguments give the same weights (CPU, one thread, seeded). The
file goes to ``teachers/weights/`` under a name that spells out its settings, which is
where :func:`teachers.level_vae.load_or_pretrain` looks (and what it rebuilds when the file
is missing). Prints the held-out reconstruction accuracy against chance.

The paper's VAE (GPU; clutr's ``scripts/train_vae.sh`` and ``utils/parameters.py``):
``python -m teachers.clutr_pretrain --device cuda --embed 300 --enc-hidden 600
--dec-hidden 800 --dec-layers 2 --batch 32 --lr 5e-5 --steps 1000000``, then run CLUTR with
the same sizes (``teacher.params.vae_embed=300`` ... ``vae_dec_layers=2``,
``vae_steps=1000000``). One such iteration takes 0.9 s on one CPU core here
(``benchmarks/bench_clutr_vae.py``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

from teachers.level_vae import WEIGHTS_DIR, LevelVAEConfig, pretrain, save


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in fields(LevelVAEConfig):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    parser.add_argument("--out-dir", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--device", default="cpu", help="cpu (deterministic, the default) or cuda (paper-sized VAEs)")
    args = vars(parser.parse_args(argv))
    out_dir, log_every, device = args.pop("out_dir"), args.pop("log_every"), args.pop("device")
    cfg = LevelVAEConfig(**args)
    model, report = pretrain(cfg, log_every=log_every, device=device)
    path = out_dir / cfg.file_name()
    save(model, report, path)
    print(json.dumps({"weights": str(path), **report}, indent=2))


if __name__ == "__main__":
    main()
