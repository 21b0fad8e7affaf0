"""The settings every DR-vs-minimax run on dcd's 25-block maze must have (claims 5 and 5b), read
from the runs' saved configs: dcd's ``mg_25b_minimax.json`` and ``mg_25b_dr.json`` (lr 1e-4, 5
epochs, gamma 0.995, student entropy 0.01, adversary entropy 0.0, no designer LSTM, 25 walls
then the goal then the agent). Only the rollout shape differs between the claims."""

from __future__ import annotations

from pathlib import Path

from experiments.reporting.results_scripts import run_config


def check_dcd25_minimax_runs(tarball: Path, n_envs: int, n_steps: int) -> list[tuple[dict, dict]]:
    """Assert dcd's settings (and the given shape) for seeds 0-4 of both teachers; return their
    (minimax, DR) configs for the caller's own checks."""
    pairs = []
    for seed in range(5):
        mm, dr = run_config(tarball, "minimax", seed), run_config(tarball, "random", seed)
        for cfg in (mm, dr):
            s = cfg["student"]["params"]
            assert (cfg["env"]["n_envs"], s["n_steps"], s["learning_rate"], s["n_epochs"], s["gamma"],
                    s["ent_coef"]) == (n_envs, n_steps, 1e-4, 5, 0.995, 0.01)
        t = mm["teacher"]["params"]
        assert (mm["teacher"]["name"], t["n_walls"], t["goal_last"], t["ent_coef"]) == ("minimax", 25, True, 0.0)
        assert t["adversary_recurrent"] is None  # null: the algorithm's own choice, no LSTM for minimax
        assert dr["teacher"]["name"] == "random" and mm["seed"] == dr["seed"] == seed
        pairs.append((mm, dr))
    return pairs
