"""The run side: a config in, a run directory out.

What lives here, and why here:

- :mod:`.cli` (``teachbench``), :mod:`.config_checks` (bad input refused before
  training), :mod:`.hydra_callbacks` (named by ``configs/config.yaml``): they turn a
  command line into checked configs, so they sit with the runner that consumes them;
- :mod:`.run` (one run: env, teacher, student, evaluation, checkpoints, final policy) and
  :mod:`.sinks` (optional external loggers, fed by the runner while it trains);
- :mod:`.curves`: the area under the mastery curve that the runner writes into
  ``summary.json`` (the results side reads the number, it never recomputes it);
- :mod:`.teacher_track` (``teachbench-track``): it *produces* run directories (on the
  simulated student), so it is a runner, even though its output is a ranking;
- :mod:`.evaluate_run` (``teachbench-eval``): it loads a finished run's policy and plays
  it on new levels, which needs the runner's env and normaliser set-up;
- :mod:`.sweep`: a sweep in a subprocess, for notebooks and demos.

The run side writes run directories through :mod:`experiments.rundir` and
:mod:`experiments.tables`, the format the results side (:mod:`experiments.reporting`)
reads.
"""
