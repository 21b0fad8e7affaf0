"""The analysis API: run directories -> pandas tables -> learning-progress figures.

Everything here reads only what a run writes (docs/run_directory.md), so it
works on a sweep that is still going, on a copied folder of runs, and on runs of the
simulated-student track alike. Tables come back long-format with the run's identity
(``experiment, env, student, teacher, seed, run``) on every row, so that a user can
``groupby`` whatever they want; the helpers below do the groupings a curriculum
researcher asks for first:

- :func:`mastery_curves` / :func:`learning_curves`: % of the test set mastered against
  environment steps, per run and aggregated over seeds with a bootstrap confidence band;
- :func:`mastery_heatmap`: which regions of the TaskSpace the student masters (the
  test set binned over two task dimensions);
- :func:`sampled_tasks` / :func:`plot_sampled_over_time`: what each teacher proposed,
  phase by phase (the picture ALP-GMM users know from its paper);
- :func:`load_teacher_diagnostics` / :func:`plot_teacher_diagnostics`: the teachers' own
  numbers (fits, components, mean ALP, ...) over time.

Only finished runs enter aggregates by default (``states=("finished",)``); pass
``states=None`` to look inside unfinished or failed runs too.

Example::

    from experiments.reporting import analysis as A
    runs = A.load_runs("runs/quickstart")
    bands = A.learning_curves(A.mastery_curves(A.load_evaluations(runs)))
    A.plot_learning_curves(bands)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np
import pandas as pd

from envs.errors import TeachBenchError
from experiments.reporting.leaderboard import keyed_rng
from experiments.reporting.runs import collect_runs
from experiments.rundir import TABLES, RunDir

if TYPE_CHECKING:  # matplotlib is imported only by the plotting functions
    from matplotlib.figure import Figure

IDENTITY = ["experiment", "env", "student", "teacher", "seed"]
GROUP = ["experiment", "env", "student", "teacher"]
TASK_PREFIX = "task."


# -- loading ------------------------------------------------------------------------------
def load_runs(root: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """One row per run directory below ``root`` (or below each of several roots): its
    identity, state (finished / running / failed / incomplete) and summary numbers."""
    roots = [root] if isinstance(root, (str, Path)) else list(root)
    frames = [collect_runs(r) for r in roots]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _as_runs(runs: pd.DataFrame | str | Path) -> pd.DataFrame:
    return load_runs(runs) if isinstance(runs, (str, Path)) else runs


def load_table(runs: pd.DataFrame | str | Path, table: str,
               states: Iterable[str] | None = ("finished",)) -> pd.DataFrame:
    """Concatenate one table (``episodes``, ``eval`` or ``teacher``) of many runs, with the
    run's identity columns and ``run`` (the run directory's name) added to every row.

    Args:
        runs: the frame of :func:`load_runs`, or a folder of runs.
        table: which table.
        states: keep runs in these states only (default: finished); ``None`` keeps all.
    """
    if table not in TABLES:
        raise TeachBenchError("table", f"unknown table {table!r}", list(TABLES))
    runs = _as_runs(runs)
    if runs.empty:
        return pd.DataFrame()
    if states is not None:
        runs = runs[runs["state"].isin(list(states))]
    frames = []
    for _, r in runs.iterrows():
        frame = RunDir(r["path"]).read(table)
        if frame.empty:
            continue
        for col in IDENTITY:
            frame[col] = r[col]
        frame["run"] = Path(r["path"]).name
        frame["path"] = r["path"]
        frames.append(frame)
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    front = IDENTITY + ["run"]
    return out[front + [c for c in out.columns if c not in front]]


def load_episodes(runs: pd.DataFrame | str | Path, states: Iterable[str] | None = ("finished",)) -> pd.DataFrame:
    """Every training episode: task.*, return, success, global_step, ... per run."""
    return load_table(runs, "episodes", states)


def load_evaluations(runs: pd.DataFrame | str | Path, states: Iterable[str] | None = ("finished",)) -> pd.DataFrame:
    """Every (evaluation, test task) row, test split and held-out levels (``split``)."""
    return load_table(runs, "eval", states)


def load_teacher_diagnostics(runs: pd.DataFrame | str | Path,
                             states: Iterable[str] | None = ("finished",)) -> pd.DataFrame:
    """The teachers' ``diagnostics()`` rows over time (column set differs per teacher)."""
    return load_table(runs, "teacher", states)


def task_columns(frame: pd.DataFrame) -> list[str]:
    """The ``task.<dim>`` columns of a table, in order."""
    return [c for c in frame.columns if c.startswith(TASK_PREFIX)]


# -- learning-progress curves ---------------------------------------------------------------
def mastery_curves(evals: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Per run and evaluation: ``step`` and ``mastered_pct`` (% of the split mastered),
    ``mean_return``. One row per (run, eval_id)."""
    if evals.empty:
        return pd.DataFrame(columns=[*IDENTITY, "run", "path", "eval_id", "step", "mastered_pct", "mean_return"])
    sel = evals[evals["split"] == split]
    keys = [*IDENTITY, "run", "path", "eval_id"]
    out = sel.groupby(keys, sort=True).agg(step=("step", "max"), mastered_pct=("mastered", "mean"),
                                           mean_return=("return", "mean")).reset_index()
    out["mastered_pct"] *= 100.0
    return out.sort_values([*IDENTITY, "step"]).reset_index(drop=True)


def with_gradient_updates(curves: pd.DataFrame, diagnostics: pd.DataFrame) -> pd.DataFrame:
    """``curves`` plus a ``gradient_updates`` column: the student's gradient updates at each
    evaluation's step, read from the teacher diagnostics (PLR⊥ and ACCEL log them; the
    dcd papers plot their curves against updates, since these teachers take no gradient
    step on new levels). Runs without the column get NaN and drop out of such a plot."""
    out = curves.copy()
    out["gradient_updates"] = np.nan
    if diagnostics.empty or "gradient_updates" not in diagnostics:
        return out
    for path, diag in diagnostics.dropna(subset=["gradient_updates"]).groupby("path"):
        rows = out["path"] == path
        if rows.any() and len(diag):
            out.loc[rows, "gradient_updates"] = _step_hold(diag["step"].to_numpy(float),
                                                           diag["gradient_updates"].to_numpy(float),
                                                           out.loc[rows, "step"].to_numpy(float))
    return out


def _step_hold(steps: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The last value measured at or before each grid step (the first value before the
    first evaluation): the curve a reader would draw, never interpolated into the future."""
    order = np.argsort(steps)
    steps, values = steps[order], values[order]
    idx = np.searchsorted(steps, grid, side="right") - 1
    return values[np.clip(idx, 0, len(values) - 1)]


def bootstrap_mean_ci(samples: np.ndarray, rng: np.random.Generator, reps: int = 2000,
                      confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over axis 0 (seeds) and its percentile-bootstrap interval, for every column.

    ``samples`` is ``(n_seeds, n_points)``; NaN entries (a seed without data at that point)
    are ignored. With one seed the interval collapses to the value (there is no spread to
    estimate, and we do not invent one)."""
    samples = np.asarray(samples, dtype=float)
    mean = np.nanmean(samples, axis=0)
    n = samples.shape[0]
    if n < 2:
        return mean, mean.copy(), mean.copy()
    idx = rng.integers(0, n, size=(reps, n))
    boot = np.nanmean(samples[idx], axis=1)  # (reps, n_points)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.nanquantile(boot, [alpha, 1.0 - alpha], axis=0)
    return mean, lo, hi


def learning_curves(curves: pd.DataFrame, by: Sequence[str] = tuple(GROUP), value: str = "mastered_pct",
                    points: int = 50, confidence: float = 0.95, reps: int = 2000, seed: int = 0,
                    x: str = "step") -> pd.DataFrame:
    """Aggregate per-run curves over seeds: mean and bootstrap CI on a common step grid.

    ``x="gradient_updates"`` (after :func:`with_gradient_updates`) puts the curves on the
    student's gradient updates instead of env steps; the output column is still ``step``.

    Runs of one group evaluate at slightly different steps (evaluations fall on rollout
    boundaries), so each run's curve is read on ``points`` equally spaced steps from 0 to
    the group's largest step with :func:`_step_hold`.

    Returns one row per (group, step): ``mean``, ``lo``, ``hi``, ``seeds``. Each group's band
    is bootstrapped from its own generator (:func:`~experiments.reporting.leaderboard.keyed_rng`
    of ``seed``, the group's key, ``value`` and ``x``), so a group's band does not move when
    other groups are added or removed, as the leaderboard's intervals do not.
    """
    if curves.empty:
        return pd.DataFrame(columns=[*by, "step", "mean", "lo", "hi", "seeds"])
    rows = []
    curves = curves.dropna(subset=[x])
    for key, group in curves.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        grid = np.linspace(0.0, float(group[x].max()), int(points))
        per_run = [
            _step_hold(run[x].to_numpy(float), run[value].to_numpy(float), grid)
            for _, run in group.groupby("path", sort=True)
        ]
        rng = keyed_rng(seed, "curve", value, x, *key)
        mean, lo, hi = bootstrap_mean_ci(np.vstack(per_run), rng, reps=reps, confidence=confidence)
        for i, step in enumerate(grid):
            rows.append({**dict(zip(by, key)), "step": step, "mean": mean[i], "lo": lo[i], "hi": hi[i],
                         "seeds": len(per_run)})
    return pd.DataFrame(rows)


def _label(row: pd.Series | dict, keys: Sequence[str]) -> str:
    return " / ".join(str(row[k]) for k in keys)


def line_style(k: int) -> dict[str, Any]:
    """Colour and dash of a plot's ``k``-th line: twenty lines told apart (tab20's dark shades
    solid, then its light shades dashed), where matplotlib's default cycle repeats after ten and a
    16-teacher panel would give two teachers one colour."""
    import matplotlib.pyplot as plt

    colours = plt.get_cmap("tab20").colors
    k %= 20
    return {"color": colours[2 * k] if k < 10 else colours[2 * (k - 10) + 1], "linestyle": "-" if k < 10 else "--"}


def plot_learning_curves(bands: pd.DataFrame, panel_by: Sequence[str] = ("env", "student"),
                         line_by: Sequence[str] = ("teacher",), ylabel: str = "% of test set mastered",
                         ncols: int = 3, xlabel: str = "environment steps") -> "Figure":
    """One panel per env x student, one line per teacher, with its confidence band."""
    import matplotlib.pyplot as plt

    panels = bands.drop_duplicates(list(panel_by))[list(panel_by)].to_dict("records") if not bands.empty else [{}]
    ncols = max(1, min(ncols, len(panels)))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.4 * nrows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels):
        sel = bands
        for k, v in panel.items():
            sel = sel[sel[k] == v]
        groups = list(sel.groupby(list(line_by), sort=True))
        for k, (key, line) in enumerate(groups):
            key = key if isinstance(key, tuple) else (key,)
            label = f"{' / '.join(map(str, key))} (n={int(line['seeds'].iloc[0])})"
            (handle,) = ax.plot(line["step"], line["mean"], label=label, **line_style(k))
            ax.fill_between(line["step"], line["lo"], line["hi"], color=handle.get_color(), alpha=0.2, linewidth=0)
        ax.set_title(_label(panel, list(panel_by)) if panel else "no finished runs")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))  # 300000 as 3 x 1e5: tick labels never collide
        ax.grid(alpha=0.3)
        if len(sel):  # many teachers: two columns, so that the legend leaves the curves (and the title) visible
            ax.legend(fontsize=7 if len(groups) > 8 else 8, ncol=2 if len(groups) > 8 else 1)
    fig.tight_layout()
    return fig


# -- mastery over the TaskSpace ---------------------------------------------------------------
def _bins(values: pd.Series, bins: int) -> tuple[pd.Series, list[str]]:
    """Bin labels for one task dimension: its own values when it has few (discrete or
    categorical dims), else ``bins`` equal-width intervals over the observed range."""
    uniq = pd.unique(values.dropna())
    if not pd.api.types.is_numeric_dtype(values) or len(uniq) <= bins:
        order = sorted(uniq, key=lambda v: (str(type(v)), v))
        labels = [f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v) for v in order]
        mapping = dict(zip(order, labels))
        return values.map(mapping), labels
    lo, hi = float(values.min()), float(values.max())
    edges = np.linspace(lo, hi, bins + 1)
    idx = np.clip(np.searchsorted(edges, values.to_numpy(float), side="right") - 1, 0, bins - 1)
    labels = [f"{edges[i]:.3g}–{edges[i + 1]:.3g}" for i in range(bins)]
    return pd.Series([labels[i] for i in idx], index=values.index), labels


def mastery_heatmap(evals: pd.DataFrame, x: str | None = None, y: str | None = None, bins: int = 5,
                    which: str = "final", split: str = "test") -> pd.DataFrame:
    """Mean % mastered of the test tasks falling in each (x-bin, y-bin) cell.

    Args:
        evals: evaluation rows (one group of runs: filter by teacher etc. first).
        x, y: task dimensions (``size`` or ``task.size``); default: the first two task
            dimensions that vary over the test set.
        bins: intervals per continuous dimension (discrete dimensions keep their values).
        which: ``final`` (each run's last evaluation) or ``all`` (every evaluation).

    Returns a frame indexed by y-bin with one column per x-bin (NaN where no test task falls).
    """
    sel = evals[evals["split"] == split] if not evals.empty else evals
    if sel.empty:
        raise TeachBenchError("evals", "no evaluation rows of this split to bin")
    dims = [c for c in task_columns(sel) if sel[c].nunique(dropna=True) > 1]
    x = _task_col(x, dims, 0, sel)
    y = _task_col(y, dims, 1, sel)
    if which == "final":
        last = sel.groupby("path")["eval_id"].transform("max")
        sel = sel[sel["eval_id"] == last]
    elif which != "all":
        raise TeachBenchError("which", f"unknown choice {which!r}", ["final", "all"])
    xb, xlabels = _bins(sel[x], bins)
    yb, ylabels = _bins(sel[y], bins)
    cells = pd.DataFrame({"x": xb, "y": yb, "mastered": sel["mastered"].astype(float) * 100.0})
    table = cells.pivot_table(index="y", columns="x", values="mastered", aggfunc="mean")
    table = table.reindex(index=ylabels, columns=xlabels)
    table.index.name, table.columns.name = y.removeprefix(TASK_PREFIX), x.removeprefix(TASK_PREFIX)
    return table


def _task_col(name: str | None, dims: list[str], default_index: int, frame: pd.DataFrame) -> str:
    if name is None:
        if len(dims) <= default_index:
            raise TeachBenchError("x" if default_index == 0 else "y",
                                  "needs a task dimension that varies; the table has " + str(dims))
        return dims[default_index]
    col = name if name.startswith(TASK_PREFIX) else TASK_PREFIX + name
    if col not in frame.columns:
        raise TeachBenchError(name, "not a task dimension of these runs",
                              [c.removeprefix(TASK_PREFIX) for c in task_columns(frame)])
    return col


def plot_mastery_heatmaps(evals: pd.DataFrame, x: str | None = None, y: str | None = None, bins: int = 5,
                          panel_by: Sequence[str] = ("env", "teacher"), ncols: int = 3) -> "Figure":
    """One heatmap per env x teacher (final evaluations, averaged over seeds)."""
    import matplotlib.pyplot as plt

    sel = evals[evals["split"] == "test"]
    panels = sel.drop_duplicates(list(panel_by))[list(panel_by)].to_dict("records")
    if not panels:
        raise TeachBenchError("evals", "no test-split evaluation rows to plot")
    ncols = max(1, min(ncols, len(panels)))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.8 * ncols, 3.9 * nrows), squeeze=False, layout="constrained")
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    image = None
    for ax, panel in zip(axes.flat, panels):
        part = sel
        for k, v in panel.items():
            part = part[part[k] == v]
        table = mastery_heatmap(part, x, y, bins=bins)
        image = ax.imshow(table.to_numpy(float), origin="lower", vmin=0, vmax=100, cmap="viridis", aspect="auto")
        ax.set_xticks(range(table.shape[1]), table.columns, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(table.shape[0]), table.index, fontsize=7)
        ax.set_xlabel(table.columns.name)
        ax.set_ylabel(table.index.name)
        ax.set_title(f"{_label(panel, list(panel_by))} (n={part['path'].nunique()})", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), label="% mastered (final eval)")
    return fig


# -- what the teachers sampled --------------------------------------------------------------
def sampled_tasks(episodes: pd.DataFrame, phases: int = 4) -> pd.DataFrame:
    """The episodes' tasks with a ``phase`` column: each run's steps cut into ``phases``
    equal parts (``phase`` 0 = the first quarter by default), ``phase_label`` its range."""
    if episodes.empty:
        return episodes.assign(phase=pd.Series(dtype=int), phase_label=pd.Series(dtype=str))
    if phases < 1:
        raise TeachBenchError("phases", f"must be >= 1, got {phases}")
    out = episodes.copy()
    top = out.groupby("path")["global_step"].transform("max").clip(lower=1)
    out["phase"] = np.minimum((out["global_step"] / top * phases).astype(int), phases - 1)
    out["phase_label"] = [f"{100 * p // phases}–{100 * (p + 1) // phases}% of steps" for p in out["phase"]]
    return out


def sampling_summary(episodes: pd.DataFrame, phases: int = 4, by: Sequence[str] = ("env", "teacher")) -> pd.DataFrame:
    """Mean and spread of each numeric task dimension per teacher and phase: a number
    summary of how a curriculum moves through the TaskSpace."""
    tagged = sampled_tasks(episodes, phases)
    dims = [c for c in task_columns(tagged) if pd.api.types.is_numeric_dtype(tagged[c])]
    if not dims:
        return pd.DataFrame()
    agg = tagged.groupby([*by, "phase"], sort=True)[dims].agg(["mean", "std"])
    agg.columns = [f"{c.removeprefix(TASK_PREFIX)}_{s}" for c, s in agg.columns]
    counts = tagged.groupby([*by, "phase"], sort=True).size().rename("episodes")
    return agg.join(counts).reset_index()


def plot_sampled_over_time(episodes: pd.DataFrame, x: str | None = None, y: str | None = None, phases: int = 4,
                           row_by: Sequence[str] = ("env", "teacher"), max_points: int = 4000,
                           seed: int = 0) -> "Figure":
    """Rows = env x teacher, columns = phases of training: where the tasks fell over two
    task dimensions (a histogram over one when ``y`` is absent or the space is 1-D).
    At most ``max_points`` episodes per panel are drawn (a subsample seeded by ``seed`` and
    the panel's row and phase, so that a panel does not change when other rows are added)."""
    import matplotlib.pyplot as plt

    tagged = sampled_tasks(episodes, phases)
    if tagged.empty:
        raise TeachBenchError("episodes", "no episodes to plot")
    dims = [c for c in task_columns(tagged) if tagged[c].nunique(dropna=True) > 1] or task_columns(tagged)
    xcol = _task_col(x, dims, 0, tagged)
    ycol = _task_col(y, dims, 1, tagged) if (y is not None or len(dims) > 1) else None
    rows = tagged.drop_duplicates(list(row_by))[list(row_by)].to_dict("records")
    fig, axes = plt.subplots(len(rows), phases, figsize=(3.2 * phases, 2.8 * len(rows)), squeeze=False,
                             sharex=True, sharey=ycol is not None)
    for r, row in enumerate(rows):
        part = tagged
        for k, v in row.items():
            part = part[part[k] == v]
        for p in range(phases):
            ax = axes[r, p]
            cell = part[part["phase"] == p]
            if len(cell) > max_points:
                rng = keyed_rng(seed, "sampled", *row.values(), p)
                cell = cell.iloc[np.sort(rng.choice(len(cell), max_points, replace=False))]
            if ycol is None:
                ax.hist(cell[xcol].to_numpy(), bins=20, color="tab:blue", alpha=0.8)
            else:
                ax.scatter(cell[xcol], cell[ycol], s=4, alpha=0.35, c="tab:blue", linewidths=0)
            if r == 0:
                ax.set_title(f"{100 * p // phases}–{100 * (p + 1) // phases}% of steps", fontsize=9)
            if p == 0:
                ax.set_ylabel(f"{_label(row, list(row_by))}\n{(ycol or 'episodes').removeprefix(TASK_PREFIX)}",
                              fontsize=8)
            if r == len(rows) - 1:
                ax.set_xlabel(xcol.removeprefix(TASK_PREFIX))
    fig.tight_layout()
    return fig


def plot_teacher_diagnostics(diag: pd.DataFrame, columns: Sequence[str] | None = None,
                             by: Sequence[str] = ("env", "teacher")) -> "Figure":
    """Numeric teacher diagnostics against steps, one panel per column, one line per run."""
    import matplotlib.pyplot as plt

    if diag.empty:
        raise TeachBenchError("diagnostics", "no teacher diagnostics rows to plot")
    skip = set(IDENTITY) | {"run", "path", "step"}
    numeric = [c for c in diag.columns if c not in skip and pd.api.types.is_numeric_dtype(diag[c])
               and diag[c].nunique(dropna=True) > 1]
    columns = list(columns) if columns is not None else numeric[:6]
    if not columns:
        raise TeachBenchError("columns", "no diagnostics column varies over time", numeric)
    fig, axes = plt.subplots(1, len(columns), figsize=(4.0 * len(columns), 3.0), squeeze=False)
    for ax, col in zip(axes.flat, columns):
        for (label, _run), part in _runs_by(diag, by):
            ax.plot(part["step"], pd.to_numeric(part[col], errors="coerce"), alpha=0.7, label=label)
        ax.set_title(col, fontsize=9)
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    axes.flat[0].legend(unique.values(), unique.keys(), fontsize=7)
    fig.tight_layout()
    return fig


def _runs_by(frame: pd.DataFrame, by: Sequence[str]) -> list[tuple[tuple[str, str], pd.DataFrame]]:
    """(label, rows) per run, the label naming its group (one legend entry per group)."""
    out = []
    for run, part in frame.groupby("path", sort=True):
        label = " / ".join(str(part[k].iloc[0]) for k in by)
        out.append(((label, str(run)), part.sort_values("step")))
    return out


__all__ = [
    "bootstrap_mean_ci", "learning_curves", "line_style", "load_episodes", "load_evaluations", "load_runs", "load_table",
    "load_teacher_diagnostics", "mastery_curves", "mastery_heatmap", "plot_learning_curves",
    "plot_mastery_heatmaps", "plot_sampled_over_time", "plot_teacher_diagnostics", "sampled_tasks",
    "sampling_summary", "task_columns", "with_gradient_updates",
]
