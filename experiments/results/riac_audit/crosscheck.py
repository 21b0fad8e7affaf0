"""Cross-check of teachers/riac.py against TeachMyAgent's released RIAC on the simulated student.

TMA's ``TeachMyAgent/teachers/algos/riac.py`` is imported from a checkout of TeachMyAgent (not
vendored here) with two small stand-ins for what it imports and this environment lacks:
gym's ``Box`` (float32 bounds, ``sample`` uniform in the box from its own generator,
``contains`` as a closed box) and treelib's ``Tree`` (nodes in creation order, as treelib's
``all_nodes`` and ``leaves`` return them). Both teachers then train the published toy
student (``envs/toy/student.py``: 10 x 10 cells, 20,000 episodes) with TMA's benchmark
settings (150 pairs, 75 split attempts, ratio 0.1) and the script prints each seed's %
mastered and region count, and their mean and sd.

    git clone https://github.com/flowersteam/TeachMyAgent /tmp/TeachMyAgent
    python experiments/results/riac_audit/crosscheck.py --tma /tmp/TeachMyAgent --seeds 10

Numbers of 2026-12-01: README.md here.
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from envs.toy.student import SimulatedStudent  # noqa: E402
from teachers.base import Episode  # noqa: E402
from teachers.riac import RIAC  # noqa: E402


class Box:
    """What TMA's RIAC uses of gym's ``Box``: float32 bounds copied on construction, a
    uniform ``sample`` and closed-box ``contains``."""

    rng = np.random.RandomState(12345)

    def __init__(self, low, high, dtype=np.float32) -> None:
        self.dtype = np.dtype(dtype)
        self.low = np.array(low, dtype=self.dtype)
        self.high = np.array(high, dtype=self.dtype)
        self.shape = self.low.shape

    def sample(self) -> np.ndarray:
        return self.rng.uniform(self.low, self.high, self.shape).astype(self.dtype)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return x.shape == self.shape and bool(np.all(x >= self.low) and np.all(x <= self.high))


class _Node:
    def __init__(self, identifier, data) -> None:
        self.identifier, self.data, self.kids = identifier, data, []


class Tree:
    """What TMA's RIAC uses of treelib's ``Tree``; nodes kept in creation order."""

    def __init__(self) -> None:
        self._nodes: dict = {}

    def create_node(self, tag=None, identifier=None, parent=None, data=None) -> _Node:
        node = self._nodes[identifier] = _Node(identifier, data)
        if parent is not None:
            self._nodes[parent].kids.append(identifier)
        return node

    def get_node(self, nid) -> _Node:
        return self._nodes[nid]

    def children(self, nid) -> list:
        return [self._nodes[k] for k in self._nodes[nid].kids]

    def all_nodes(self) -> list:
        return list(self._nodes.values())

    def leaves(self) -> list:
        return [n for n in self._nodes.values() if not n.kids]

    def size(self) -> int:
        return len(self._nodes)


def load_tma(checkout: Path):
    gym = types.ModuleType("gym")
    spaces = types.ModuleType("gym.spaces")
    spaces.Box = Box  # type: ignore[attr-defined]
    gym.spaces = spaces  # type: ignore[attr-defined]
    treelib = types.ModuleType("treelib")
    treelib.Tree = Tree  # type: ignore[attr-defined]
    sys.modules.update({"gym": gym, "gym.spaces": spaces, "treelib": treelib})
    sys.path.insert(0, str(checkout))
    from TeachMyAgent.teachers.algos.riac import RIAC as TMARIAC  # type: ignore[import-not-found]

    return TMARIAC


def run_tma(cls, seed: int, episodes: int) -> tuple[float, int]:
    student = SimulatedStudent()
    # TMA's AbstractTeacher replaces a falsy seed by a random one: seed + 1
    t = cls(np.zeros(2), np.ones(2), seed=seed + 1, env_reward_lb=0, env_reward_ub=1, max_region_size=150,
            nb_split_attempts=75, min_dims_range_ratio=0.1)
    for _ in range(episodes):
        task = t.sample_task()
        t.episodic_update(task, student.practise(np.asarray(task, dtype=np.float64))[0], False)
    return student.score(), t.tree.size()


def run_ours(seed: int, episodes: int) -> tuple[float, int]:
    student = SimulatedStudent()
    space = student.task_space()
    t = RIAC(space, seed=seed)
    for _ in range(episodes):
        task = t.sample()
        t.update(Episode(task=task, episode_return=student.practise(space.to_unit(task))[0], length=1))
    return student.score(), len(t.regions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tma", type=Path, required=True, help="a TeachMyAgent checkout")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--episodes", type=int, default=20000)
    args = parser.parse_args()
    tma = load_tma(args.tma)
    for name, fn in (("tma", lambda s: run_tma(tma, s, args.episodes)), ("ours", lambda s: run_ours(s, args.episodes))):
        scores, sizes = [], []
        for seed in range(args.seeds):
            t0 = time.time()
            score, size = fn(seed)
            scores.append(score)
            sizes.append(size)
            print(f"{name} seed {seed}: {score:.1f} % mastered, {size} regions ({time.time() - t0:.0f} s)", flush=True)
        print(f"{name}: {np.mean(scores):.1f} ± {np.std(scores, ddof=1):.1f} % mastered, "
              f"{np.mean(sizes):.0f} ± {np.std(sizes, ddof=1):.0f} regions", flush=True)


if __name__ == "__main__":
    main()
