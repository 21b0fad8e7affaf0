"""One GMM refit shared by several processes (``fit_workers``, teachers/refit.py) against one
process: the refit's latency, in the same run, interleaved.

A lag-1 refit must finish within the period it overlaps (``fit_rate`` episodes); when it does
not, the training loop waits for it at the next boundary. Covar-GMM fits 13 mixtures
(k = 2..14) on 150 points of [task, time, reward]; ALP-GMM (TeachMyAgent's corl2019 preset)
fits 9 (k = 2..10) on 250 points of [task, ALP]. For each, this times ``submit`` then
``result`` of a lag-1 refit with 1 worker process and with ``--workers`` processes on the
same inputs (a fresh window per repeat), alternating, and prints the median milliseconds and
their ratio. Both compute the same mixture (checked on every repeat). Then the same at lag 0 (the
papers' schedule), where the baseline is the fit in the calling process itself (no worker) and
the shared fit must also leave the teacher's generator where that fit leaves it (checked). The
speed-up needs a free core per worker: on a machine busy with other runs it shrinks to nothing.

    python benchmarks/bench_fit_workers.py --workers 2 3 --repeats 30
"""

from __future__ import annotations

import argparse
import statistics
import time

import _setup  # noqa: F401 - the repository on sys.path, one BLAS thread per process

import numpy as np  # noqa: E402

from teachers.refit import Refitter  # noqa: E402

SETTINGS = {"covar_gmm": (range(2, 15), 150, 5), "alp_gmm": (range(2, 11), 250, 4)}
"""teacher -> (k range, window points, point dimension) at a 3-parameter maze task space."""


def latency_ms(refitter: Refitter, points: np.ndarray, seed: int) -> tuple[float, object]:
    """Submit one lag-1 refit and wait for its result: (milliseconds, the mixture's state)."""
    start = time.perf_counter()
    refitter.submit(refitter._inputs(points, seed))
    result = refitter.collect()
    return (time.perf_counter() - start) * 1e3, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(f"{'teacher':10s} {'workers':>7s} {'baseline ms':>12s} {'n workers ms':>13s} {'ratio':>6s}   baseline")
    for teacher, (ks, n_points, dim) in SETTINGS.items():
        for n in args.workers:
            one = Refitter(ks, "numpy", 1e-6, fit_lag=1, fit_worker="process")
            many = Refitter(ks, "numpy", 1e-6, fit_lag=1, fit_worker="process", fit_workers=n)
            times: dict[int, list[float]] = {1: [], n: []}
            rng = np.random.default_rng(0)
            try:
                latency_ms(one, rng.random((n_points, dim)), 0)  # warm-up: imports in the workers
                latency_ms(many, rng.random((n_points, dim)), 0)
                for r in range(args.repeats):
                    points = rng.random((n_points, dim))
                    order = [(1, one), (n, many)] if r % 2 == 0 else [(n, many), (1, one)]
                    results = {}
                    for key, refitter in order:
                        ms, results[key] = latency_ms(refitter, points, r)
                        times[key].append(ms)
                    assert results[1] == results[n], "the shared refit must install the same mixture"
            finally:
                one.close()
                many.close()
            a, b = statistics.median(times[1]), statistics.median(times[n])
            print(f"{teacher:10s} {n:7d} {a:12.1f} {b:13.1f} {b / a:6.2f}   lag 1: one worker process vs {n}")
            a, b = lag0_medians(ks, n_points, dim, n, args.repeats)
            print(f"{teacher:10s} {n:7d} {a:12.1f} {b:13.1f} {b / a:6.2f}   lag 0: in the calling process vs {n} workers")


def lag0_medians(ks: range, n_points: int, dim: int, n: int, repeats: int) -> tuple[float, float]:
    """Median ms of a lag-0 refit in the calling process and shared by ``n`` workers."""
    inline = Refitter(ks, "numpy", 1e-6)
    shared = Refitter(ks, "numpy", 1e-6, fit_workers=n)
    times: dict[str, list[float]] = {"inline": [], "shared": []}
    rng = np.random.default_rng(1)
    try:
        shared.at_boundary(rng.random((n_points, dim)), np.random.default_rng(0))  # warm-up
        for r in range(repeats):
            points = rng.random((n_points, dim))
            gens = {"inline": np.random.default_rng(r), "shared": np.random.default_rng(r)}
            states = {}
            for key in (("inline", "shared") if r % 2 == 0 else ("shared", "inline")):
                refitter = inline if key == "inline" else shared
                start = time.perf_counter()
                gmm = refitter.at_boundary(points, gens[key])
                times[key].append((time.perf_counter() - start) * 1e3)
                states[key] = (None if gmm is None else gmm.to_state(), gens[key].bit_generator.state)
            assert states["inline"] == states["shared"], "the shared lag-0 refit must be the same fit and draws"
    finally:
        shared.close()
    return statistics.median(times["inline"]), statistics.median(times["shared"])


if __name__ == "__main__":
    main()
