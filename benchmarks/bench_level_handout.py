"""Cost of one task hand-out on the batched maze: a parameter task vs a replayed level.

A hand-out is what the bridge does for a sub-env whose episode ended: queue the teacher's
next task (``set_next_tasks``, which validates it) and, when the env resets, play it
(a parameter task: generate a layout; a level: load it). PLR, PLR⊥ and ACCEL replay
levels as strings (``{"level": ...}``); the env parses them through the process's level
cache (``envs.gridworld.level.LEVELS``, issue 18), and this script times both sides of a
hand-out per task in microseconds:

- ``parameter``: uniform tasks, as the random teacher (and PLR's new levels) hands out;
- ``level, no cache``: replays with the cache off (capacity 0): every hand-out parses the
  string, checks the level and rebuilds its grid, BFS and statistics (the cost before the
  cache);
- ``level, cached``: the same replays with the default cache.

Replays are drawn as PLR draws them: a :class:`teachers.level_buffer.LevelBuffer` of
``--buffer`` generated levels with random scores, sampled with its rank and staleness
distribution (temperature 0.3, rho 0.3, the maze defaults), ``--warmup`` untimed draws
first. The hit rate is that of the timed draws. Episodes last one step (``max_steps=1``),
so every vector step hands out one task per env and plays it::

    python benchmarks/bench_level_handout.py --n-envs 1024 --handouts 20000
"""

from __future__ import annotations

import argparse
import time

from _setup import ROOT  # noqa: F401 - the repository on sys.path, one thread per process

import numpy as np  # noqa: E402

from envs.gridworld.batched import BatchedMazeVecEnv  # noqa: E402
from envs.gridworld.generate import generate_level  # noqa: E402
from envs.gridworld.level import LEVEL_CACHE_SIZE, LEVELS  # noqa: E402
from teachers.level_buffer import LevelBuffer  # noqa: E402


def time_handouts(vec: BatchedMazeVecEnv, tasks: list) -> tuple[float, float]:
    """(µs per task to queue, µs per task to play). The env's episodes last one step
    (``max_steps=1``), so every vector step ends every episode: each step, all N envs get
    their next task in one ``set_next_tasks`` call (the bridge's call) and the step
    resets all of them onto it, as auto-reset does in a run (finished infos, the level
    loaded or generated, the new observations gathered at once)."""
    n = vec.num_envs
    actions = np.zeros(n, dtype=np.int64)
    envs = list(range(n))
    queue = play = 0.0
    count = 0
    for start in range(0, len(tasks) - n + 1, n):
        t0 = time.perf_counter()
        vec.set_next_tasks(tasks[start:start + n], envs)
        t1 = time.perf_counter()
        vec.step(actions)
        t2 = time.perf_counter()
        queue += t1 - t0
        play += t2 - t1
        count += n
    return 1e6 * queue / count, 1e6 * play / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-envs", type=int, default=1024)
    parser.add_argument("--handouts", type=int, default=20000, help="timed hand-outs per variant")
    parser.add_argument("--warmup", type=int, default=8000, help="untimed replays before the cached variant")
    parser.add_argument("--buffer", type=int, default=4000, help="levels in the replay buffer (PLR's maze default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    vec = BatchedMazeVecEnv(args.n_envs, seed=args.seed, max_steps=1)
    rng = np.random.default_rng(args.seed)
    space = vec.task_space
    buffer = LevelBuffer(capacity=args.buffer)
    for k in range(args.buffer):
        level = generate_level(space.sample(rng), seed=int(rng.integers(2**31 - 1)))
        buffer.insert(level.to_string(), {"level": level.to_string()}, float(rng.normal()))

    def replays(count: int) -> list[dict]:
        out = []
        for _ in range(count):
            buffer.tick()
            out.append(dict(buffer.tasks[buffer.sample(rng)]))
        return out

    vec.reset()
    params = space.sample_batch(rng, args.handouts)
    rows = [("parameter", *time_handouts(vec, params), "")]
    LEVELS.resize(0)
    LEVELS.clear()
    rows.append(("level, no cache", *time_handouts(vec, replays(args.handouts)), ""))
    LEVELS.resize(LEVEL_CACHE_SIZE)
    time_handouts(vec, replays(args.warmup))
    LEVELS.hits = LEVELS.misses = 0
    timed = replays(args.handouts)
    queue, play = time_handouts(vec, timed)
    rows.append(("level, cached", queue, play, f"{LEVELS.hits / max(LEVELS.hits + LEVELS.misses, 1):.3f}"))
    print(f"n_envs={args.n_envs} handouts={args.handouts} buffer={args.buffer} "
          f"warmup={args.warmup} cache={LEVEL_CACHE_SIZE} ({len(LEVELS)} levels held at the end)")
    print(f"{'hand-out':<20}{'queue µs':>10}{'play µs':>10}{'total µs':>10}{'hit rate':>10}")
    for name, queue, play, hits in rows:
        print(f"{name:<20}{queue:>10.1f}{play:>10.1f}{queue + play:>10.1f}{hits:>10}")


if __name__ == "__main__":
    main()
