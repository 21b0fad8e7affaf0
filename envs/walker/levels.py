"""Exact walker obstacle levels, dcd's base distributions and its ACCEL edit operator.

A dcd walker level is its 8 parameters plus the seed of its terrain (facebookresearch/dcd,
``envs/bipedalwalker/adversarial.py``: the level encoding is ``level_params_vec + [seed]``):
replaying the level rebuilds the identical terrain. Ours is written as a string, so that
PLR/ACCEL store and replay it like a gridworld level::

    walker:<roughness>,<pit low>,<pit high>,<stump low>,<stump high>,<stair low>,<stair high>,<stair steps>:<seed>

Two more level strings name gymnasium's own walkers, played on our env with the student's
body and observation: ``gymnasium:BipedalWalker-v3[:seed]`` and
``gymnasium:BipedalWalkerHardcore-v3[:seed]`` (gymnasium's terrain generator; with a seed,
the episode is gymnasium's ``reset(seed=seed)`` exactly).

dcd's parameter ranges (docs/references.md#poet-walker): ``FULL`` is the space a level lives in (edits clip
to it); ``EASY`` is ACCEL's base distribution of new levels (``base_levels: easy``,
``BipedalWalker-Adversarial-Easy-v0``): roughness U(0, 0.6), pit gap [0, 0.8], stump and
stair height [0, 0.4], one stair step. dcd's edit (``mutate_level``): each of ``n_edits``
edits picks one of the 8 parameters uniformly and moves it by ``d * step`` with
``d in {-1, 0, +1}`` (roughness: ``d * U(0, 0.6)``; pits 0.4; stumps and stairs 0.2; stair
steps 1), clipped to ``FULL``; the child gets a fresh terrain seed. ACCEL's walker config
uses 3 edits per child.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.errors import TeachBenchError

PREFIX = "walker:"
GYMNASIUM_PREFIX = "gymnasium:"
GYMNASIUM_LEVELS = {"BipedalWalker-v3": False, "BipedalWalkerHardcore-v3": True}  # name -> hardcore
NAMES = ("ground_roughness", "pit_gap_low", "pit_gap_high", "stump_height_low", "stump_height_high",
         "stair_height_low", "stair_height_high", "stair_steps")
FULL = ((0.0, 10.0), (0.0, 10.0), (0.0, 10.0), (0.0, 5.0), (0.0, 5.0), (0.0, 5.0), (0.0, 5.0), (1, 9))
EASY = ((0.0, 0.6), (0.0, 0.0), (0.8, 0.8), (0.0, 0.0), (0.4, 0.4), (0.0, 0.0), (0.4, 0.4), (1, 1))
EDIT_STEPS = ((0.0, 0.6), 0.4, 0.4, 0.2, 0.2, 0.2, 0.2, 1)  # dcd PARAM_MUTATIONS (roughness: U(0, 0.6))
SEED_HIGH = 2**32  # dcd draws 4-byte seeds


@dataclass(frozen=True)
class WalkerLevel:
    """The 8 obstacle parameters (in :data:`NAMES` order) and the terrain seed."""

    params: tuple[float, ...]
    seed: int

    def to_string(self) -> str:
        values = [repr(float(v)) for v in self.params[:7]] + [str(int(self.params[7]))]
        return f"{PREFIX}{','.join(values)}:{int(self.seed)}"

    @classmethod
    def from_string(cls, text: str) -> "WalkerLevel":
        try:
            if not text.startswith(PREFIX):
                raise ValueError
            body, seed = text[len(PREFIX):].rsplit(":", 1)
            values = [float(v) for v in body.split(",")]
            if len(values) != 8 or values[7] != int(values[7]):
                raise ValueError
            level = cls(tuple(values[:7]) + (int(values[7]),), int(seed))
        except (ValueError, AttributeError):
            raise TeachBenchError("level", f"not a walker level string: {text!r}",
                                  [f"{PREFIX}<8 comma-separated parameters>:<seed>"]) from None
        for name, v, (lo, hi) in zip(NAMES, level.params, FULL):
            if not (np.isfinite(v) and lo <= v <= hi):
                raise TeachBenchError(f"level.{name}", f"{v} outside [{lo}, {hi}]")
        if not 0 <= level.seed < SEED_HIGH:
            raise TeachBenchError("level.seed", f"{level.seed} outside [0, 2**32)")
        return level

    @classmethod
    def from_task(cls, task: dict, seed: int) -> "WalkerLevel":
        return cls(tuple(float(task[n]) for n in NAMES[:7]) + (int(task["stair_steps"]),), int(seed))

    def task(self) -> dict:
        out = {n: float(v) for n, v in zip(NAMES[:7], self.params[:7])}
        out["stair_steps"] = int(self.params[7])
        return out


def edit(level: WalkerLevel, rng: np.random.Generator, n_edits: int) -> WalkerLevel:
    """dcd's walker edit operator: ``n_edits`` moves of one parameter each, then a fresh seed."""
    params = list(level.params)
    for _ in range(int(n_edits)):
        k = int(rng.integers(len(NAMES)))
        d = int(rng.integers(3)) - 1
        step = EDIT_STEPS[k]
        move = d * float(rng.uniform(*step)) if isinstance(step, tuple) else d * step
        lo, hi = FULL[k]
        params[k] = min(max(params[k] + move, lo), hi)
    params[7] = int(round(params[7]))
    return WalkerLevel(tuple(params), int(rng.integers(SEED_HIGH)))


def edit_level(level: str, rng: np.random.Generator, n_edits: int) -> str:
    """ACCEL's level-editor contract (``(level, rng, n_edits) -> level``) for walker levels."""
    return edit(WalkerLevel.from_string(level), rng, n_edits).to_string()


def gymnasium_level(text: str) -> tuple[bool, int | None] | None:
    """``(hardcore, seed or None)`` of a ``gymnasium:`` level string, ``None`` for others."""
    if not text.startswith(GYMNASIUM_PREFIX):
        return None
    name, _, seed = text[len(GYMNASIUM_PREFIX):].partition(":")
    if name not in GYMNASIUM_LEVELS:
        raise TeachBenchError("level", f"unknown gymnasium walker {name!r}", list(GYMNASIUM_LEVELS))
    try:
        return GYMNASIUM_LEVELS[name], (int(seed) if seed else None)
    except ValueError:
        raise TeachBenchError("level", f"bad seed in {text!r}") from None
