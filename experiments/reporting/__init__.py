"""The results side: run directories in, tables, figures and reports out.

It reads only what runs wrote (docs/run_directory.md), through :mod:`.runs` (one row per
run), :mod:`experiments.rundir` (the shared run-directory format, its Parquet tables
included) and :mod:`experiments.safe_config` (a run's ``config.yaml``, read without
trusting it). It never imports :mod:`experiments.running`: a copied folder of runs, a
sweep still going, or a shared leaderboard entry is all it needs, and nothing here can
start a run. The modules import in one direction: :mod:`.runs` <- :mod:`.analysis` and
:mod:`.leaderboard` <- :mod:`.report` <- :mod:`.cli` (``teachbench-leaderboard``).

:mod:`.sampling_plot` draws what a teacher samples over time on the simulated student; it
plays the teacher live (envs and teachers only, no runner), so it is a figure, not a run.
"""
