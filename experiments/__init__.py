"""Runs, sweeps, the leaderboard and analysis, split along the data path.

A run writes a run directory; everything downstream reads run directories. The package
is cut at that folder:

- :mod:`experiments.running` (the run side): composes and checks a config, trains a
  student under a teacher and writes the run directory (``teachbench``, the simulated-
  student track ``teachbench-track``, ``teachbench-eval`` on a finished run's policy).
- :mod:`experiments.reporting` (the results side): run directories -> tables, the
  leaderboard, the analysis API, figures and the report (``teachbench-leaderboard``).
  It reads runs only through the shared modules below and never imports the run side,
  so a copied folder of runs is all it needs.
- Shared by both, at this level: :mod:`experiments.rundir` (the run-directory format:
  names, identity, status, summary, lock), :mod:`experiments.tables` (its append-only
  Parquet tables), :mod:`experiments.safe_config` (reading a run's ``config.yaml``
  without trusting it), :mod:`experiments.host` (the machine recorded in a summary) and
  :mod:`experiments.console` (the one-line error format of every console script).

Imports go running -> shared and reporting -> shared (the run side may also call the
results side, e.g. the leaderboard printed at the end of a sweep), never reporting ->
running, and no circle among these modules: tests/test_import_graph.py checks all three.
"""
