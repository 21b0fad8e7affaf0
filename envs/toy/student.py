"""A simulated student over a continuous task space (docs/references.md#simulated-student), with TMA's challenges.

The published toy (teachDeepRL): ``[0, 1]^n`` is cut into ``cells_per_dim`` cells per
dimension; each cell holds a competence in ``[0, 100]``. Practising a task adds 1 to its
cell's competence if the cell is *unlocked*: the origin cell always is, any other cell
when at least one of its lower neighbours (index −1 on a non-empty subset of dimensions)
has competence ≥ 75. The teacher receives competence/100 of the practised cell after the
update. Score: % of cells with competence > 75. A perfect teacher needs 76 useful
episodes per cell; uniform sampling stays stuck near the origin.

What this class adds, each off by default so the defaults are the published toy:

- ``n_irrelevant``: task dimensions that change nothing (robustness to distractors);
- ``unlearnable_fraction``: the top ``f`` of the first dimension maps to no cell — tasks
  there always return 0 and teach nothing (TMA's "mostly unfeasible");
- ``noise``: Gaussian noise (std, in reward units) on the returned reward;
- ``decay``: competence lost per episode by every cell not practised in it (forgetting);
- ``reset_at``: episode counts at which all competence is wiped (TMA's forgetting
  student, reset at 7M and 14M of 20M steps);
- ``rugged``: each dimension's cells are permuted with a fixed seed, so neighbouring
  tasks are no longer neighbouring cells of the unlock order (TMA's "rugged difficulty").
  The permutation is :class:`envs.shuffle.IntervalShuffler`'s, with one interval per cell
  (the walker's rugged challenge uses the same shuffler with TMA's 4 intervals).

Competences live in a dict keyed by flat cell index, so spaces with ``cells_per_dim ** n``
in the billions cost only what has been practised. Decay is applied lazily from the
episode each cell was last practised, so an episode is O(2^n) in the unlock check only.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Mapping, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.shuffle import IntervalShuffler
from envs.task_space import TaskSpace


class SimulatedStudent:
    """The toy student; call :meth:`practise` once per episode with a task in ``[0, 1]^D``.

    Args:
        n_dims: relevant dimensions (published default 2).
        cells_per_dim: cells per relevant dimension (published default 10).
        n_irrelevant: extra task dimensions that are ignored (default 0).
        unlearnable_fraction: fraction of the first dimension with no learnable cell (0).
        noise: std of Gaussian noise added to the reward (0).
        decay: competence lost per episode by unpractised cells (0; e.g. 0.002 forgets a
            mastered cell in ~12,500 episodes without practice).
        reset_at: episode counts at which all competence is reset to 0 (none).
        rugged: permute each dimension's cells with ``rugged_seed`` (False).
        rugged_seed: the fixed seed of that permutation (0; TMA's generator,
            :class:`envs.shuffle.IntervalShuffler` with ``cells_per_dim`` intervals).
        unlock_threshold: neighbour competence that unlocks a cell (75, published).
        mastery_threshold: competence above which a cell counts as mastered (75, published).
        max_test_cells: test on all cell centres up to this many cells, else on a fixed
            sample of that many cells (10,000).
        seed: seed of the reward noise.
    """

    def __init__(
        self,
        n_dims: int = 2,
        cells_per_dim: int = 10,
        n_irrelevant: int = 0,
        unlearnable_fraction: float = 0.0,
        noise: float = 0.0,
        decay: float = 0.0,
        reset_at: Sequence[int] = (),
        rugged: bool = False,
        rugged_seed: int = 0,
        unlock_threshold: float = 75.0,
        mastery_threshold: float = 75.0,
        max_test_cells: int = 10_000,
        seed: int = 0,
    ) -> None:
        if int(n_dims) < 1:
            raise TeachBenchError("toy.n_dims", f"must be >= 1, got {n_dims}")
        if int(cells_per_dim) < 1:
            raise TeachBenchError("toy.cells_per_dim", f"must be >= 1, got {cells_per_dim}")
        if int(n_irrelevant) < 0:
            raise TeachBenchError("toy.n_irrelevant", f"must be >= 0, got {n_irrelevant}")
        if not 0.0 <= float(unlearnable_fraction) < 1.0:
            raise TeachBenchError("toy.unlearnable_fraction", f"must be in [0, 1), got {unlearnable_fraction}")
        if float(noise) < 0 or float(decay) < 0:
            raise TeachBenchError("toy.noise" if float(noise) < 0 else "toy.decay", "must be >= 0")
        self.n_dims = int(n_dims)
        self.cells_per_dim = int(cells_per_dim)
        self.n_irrelevant = int(n_irrelevant)
        self.unlearnable_fraction = float(unlearnable_fraction)
        self.noise = float(noise)
        self.decay = float(decay)
        self.reset_at = sorted(int(t) for t in reset_at)
        self.rugged = bool(rugged)
        self.rugged_seed = int(rugged_seed)
        self.unlock_threshold = float(unlock_threshold)
        self.mastery_threshold = float(mastery_threshold)
        self.max_test_cells = int(max_test_cells)
        self.rng = np.random.default_rng(seed)

        c = self.cells_per_dim
        self.n_cells = c**self.n_dims
        self._strides = [c**i for i in range(self.n_dims)]
        if self.rugged:
            # interval j of a dimension is played as cell order[j]: the shuffler's permutation
            self._perm = IntervalShuffler([0.0] * self.n_dims, [1.0] * self.n_dims, c, self.rugged_seed).order
        else:
            self._perm = [list(range(c)) for _ in range(self.n_dims)]
        self._inv_perm = [[p.index(i) for i in range(c)] for p in self._perm]
        # lower-neighbour offsets: every non-empty subset of dimensions
        self._subsets = [s for r in range(1, self.n_dims + 1) for s in itertools.combinations(range(self.n_dims), r)]
        self.competence: dict[int, float] = {}
        self.last_practised: dict[int, int] = {}
        self.episodes = 0

    # -- the task space ----------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return self.n_dims + self.n_irrelevant

    def task_space(self) -> TaskSpace:
        names = [f"x{i}" for i in range(self.n_dims)] + [f"z{i}" for i in range(self.n_irrelevant)]
        return TaskSpace.box(names, [0.0] * self.ndim, [1.0] * self.ndim)

    # -- cells ---------------------------------------------------------------------------
    def cell_of(self, u: Sequence[float]) -> tuple[int, ...] | None:
        """Cell index (in unlock order) of a task in ``[0,1]^D``; None if unlearnable."""
        c = self.cells_per_dim
        idx = []
        for i in range(self.n_dims):
            x = float(u[i])
            if i == 0 and self.unlearnable_fraction > 0.0:
                if x >= 1.0 - self.unlearnable_fraction:
                    return None
                x = x / (1.0 - self.unlearnable_fraction)
            j = min(max(int(math.floor(x * c)), 0), c - 1)
            idx.append(self._perm[i][j])
        return tuple(idx)

    def centre_of(self, cell: Sequence[int]) -> np.ndarray:
        """The task (irrelevant dims at 0.5) at the centre of a cell."""
        u = np.full(self.ndim, 0.5)
        for i in range(self.n_dims):
            x = (self._inv_perm[i][cell[i]] + 0.5) / self.cells_per_dim
            if i == 0:
                x *= 1.0 - self.unlearnable_fraction
            u[i] = x
        return u

    def _flat(self, cell: Sequence[int]) -> int:
        return sum(j * s for j, s in zip(cell, self._strides))

    def competence_of(self, cell: Sequence[int]) -> float:
        """Current competence of a cell (decay applied up to now)."""
        flat = self._flat(cell)
        value = self.competence.get(flat, 0.0)
        if self.decay > 0.0 and value > 0.0:
            value = max(0.0, value - self.decay * (self.episodes - self.last_practised[flat]))
        return value

    def is_unlocked(self, cell: Sequence[int]) -> bool:
        if not any(cell):
            return True
        for subset in self._subsets:
            if all(cell[i] > 0 for i in subset):
                lower = list(cell)
                for i in subset:
                    lower[i] -= 1
                if self.competence_of(lower) >= self.unlock_threshold:
                    return True
        return False

    # -- one episode -----------------------------------------------------------------------
    def practise(self, u: Sequence[float]) -> tuple[float, bool]:
        """Play one task: update the student, return (reward, success)."""
        if self.reset_at and self.episodes in self.reset_at:
            self.competence.clear()
            self.last_practised.clear()
        cell = self.cell_of(u)
        value = 0.0
        if cell is not None:
            value = self.competence_of(cell)
            if value < 100.0 and self.is_unlocked(cell):
                value = min(100.0, value + 1.0)
            flat = self._flat(cell)
            if value > 0.0:
                self.competence[flat] = value
                self.last_practised[flat] = self.episodes + 1
        self.episodes += 1
        reward = value / 100.0
        if self.noise > 0.0:
            reward += float(self.rng.normal(0.0, self.noise))
        return reward, value > self.mastery_threshold

    # -- the test --------------------------------------------------------------------------
    def test_cells(self) -> list[tuple[int, ...]]:
        """All cells (row-major), or a fixed sample (seed 0) when there are too many."""
        c = self.cells_per_dim
        if self.n_cells <= self.max_test_cells:
            return [tuple(reversed(t)) for t in itertools.product(range(c), repeat=self.n_dims)]
        rng = np.random.default_rng(0)
        return [tuple(int(v) for v in rng.integers(c, size=self.n_dims)) for _ in range(self.max_test_cells)]

    def test_tasks(self) -> list[np.ndarray]:
        """Cell centres of the test cells, in ``[0,1]^D``."""
        return [self.centre_of(cell) for cell in self.test_cells()]

    def test_competences(self) -> np.ndarray:
        return np.array([self.competence_of(cell) for cell in self.test_cells()])

    def score(self) -> float:
        """% of (test) cells with competence above the mastery threshold."""
        if self.n_cells <= self.max_test_cells:
            now = self.episodes
            mastered = 0
            for flat, value in self.competence.items():
                if self.decay > 0.0:
                    value = value - self.decay * (now - self.last_practised[flat])
                mastered += value > self.mastery_threshold
            return 100.0 * mastered / self.n_cells
        return 100.0 * float(np.mean(self.test_competences() > self.mastery_threshold))

    # -- checkpointing ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "competence": [[k, v] for k, v in self.competence.items()],
            "last_practised": [[k, v] for k, v in self.last_practised.items()],
            "episodes": self.episodes,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.competence = {int(k): float(v) for k, v in state["competence"]}
        self.last_practised = {int(k): int(v) for k, v in state["last_practised"]}
        self.episodes = int(state["episodes"])
        self.rng.bit_generator.state = state["rng"]
