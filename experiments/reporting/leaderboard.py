"""The leaderboard: many run directories -> one row per experiment x env x student x teacher
x config x budget.

Reads only run directories (``config.yaml``, ``status.json``, ``summary.json``), through
:func:`experiments.reporting.runs.collect_runs`. Per group:
finished seeds, final % of the test set mastered, area under the mastery curve (AUC, a
mean % over the budget), zero-shot held-out solved rate where the env has held-out
levels, and robust statistics (Agarwal et al. 2021, the rliable library): interquartile
mean (IQM) with a stratified-bootstrap 95% interval, and the probability of improvement
over the random teacher of the same env and student. :func:`aggregate` does the same
across envs (each env one stratum / task).

Rows pool only seeds of one experiment: the row key (:data:`GROUP`) adds to the names
the run's config id (:func:`experiments.rundir.config_id`, every setting that changes
results: teacher and student hyperparameters, env settings, evaluation) and its
``budget_steps``; the comparison with the baseline teacher uses runs of the same
experiment, env, student, budget and *settings* (the config id without the teacher's
part, ``settings_id``). The ``config`` and ``budget`` columns are shown when some
teacher has more than one.

Only finished runs enter the numbers. Running, failed, interrupted and incomplete runs
(a torn ``summary.json`` included: the runner resumes those too) are counted in their
own columns and listed by :func:`print_leaderboard` with their state and error, never
averaged in. No interval is shown from fewer than :data:`MIN_SEEDS_FOR_INTERVAL` seeds
(a bootstrap over 1-2 values gives intervals like [1.00, 1.00]); ``wall (s)`` is the
training time of a run (``summary.wall_time_s``), without imports and set-up.

Why not ``rliable.library.get_interval_estimates``: it imports ``arch``, whose 7.x
releases (the newest that rliable 1.2 allows) fail to import under pandas 3. The point
estimates use ``rliable.metrics`` (IQM, probability of improvement); the stratified
bootstrap is the few vectorised lines in :func:`stratified_bootstrap`, and the tests
check both against rliable's definitions.

Each interval draws its resamples from its own generator, seeded by :func:`keyed_rng` from
the table's ``seed`` and the key of what it estimates (the row's :data:`GROUP` values and
metric; for P(> baseline), the row and the baseline's name). A row's interval is therefore a
function of its own runs (and the baseline's) alone: adding, removing or reordering other
rows of the table cannot move it. One generator shared by every row, as earlier tables
used, made each row's resamples depend on how many draws the rows sorted before it had
taken; adding one teacher's rows in session 10 moved other rows' interval ends by up to 0.06.

The tables resample :data:`BOOTSTRAP_REPS` = 50,000 times per interval, rliable's default for
``get_interval_estimates``; they used 2,000 until session 10. With 5 seeds a side, P(> random)
takes few values and an interval end falls between two of them: at 2,000 resamples which one
it lands on is Monte Carlo noise. Two rows of the committed table sat on 0.5 that way: the
gridworld Covar-GMM's upper end read 0.48 (below Random) in 27% of base seeds and 0.50 or 0.52
(tie) in the rest, WebRL's on the web forms 0.60 (tie) in 15% and 0.48 (below) in the rest. At
50,000 resamples both ends were the same for each of 40 seeds (0.50 and 0.48), and no row of
the table changed verdict over 30 seeds, so a verdict no longer depends on the seed either.
The estimator itself (percentile interval of the stratified bootstrap) is unchanged; the
functions' own ``reps`` defaults stay 2,000 for callers that pass their own generator. The
results folders' comparisons (:func:`seed_comparison`) follow the tables: one keyed generator
per interval and :data:`BOOTSTRAP_REPS` resamples.

The command line (``teachbench-leaderboard``) is :mod:`experiments.reporting.cli`.
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.stats
from omegaconf import OmegaConf

from envs.errors import TeachBenchError
from experiments.host import UNKNOWN
from experiments.reporting import validity
from experiments.reporting.runs import GROUP, METRICS, NAMES, collect_runs, find_run_dirs  # noqa: F401 (the last two re-exported)
from experiments.safe_config import load_run_config

log = logging.getLogger("teachbench.leaderboard")

BASELINE_TEACHER = "random"
MIN_SEEDS_FOR_INTERVAL = 3
BOOTSTRAP_REPS = 50_000  # rliable.library.get_interval_estimates' default (see the module's docstring)


def row_config_name(row: Mapping[str, Any]) -> str:
    """``<env>__<teacher>__<student>__<config id>__<budget>``: the file name of a row's
    saved config (without a config id, as in tables made before config ids:
    ``<env>__<teacher>__<student>``)."""
    name = f"{row['env']}__{row['teacher']}__{row['student']}"
    if row.get("config_id"):
        name += f"__{row['config_id']}"
        budget = row.get("budget_steps")
        if budget is not None and not _isnan(budget):
            name += f"__{int(budget)}"
    return name


def run_command(row: Mapping[str, Any], configs_dir: str | None = None) -> str:
    """The CLI line that reproduces a run, or a group's runs when ``seed`` is a list
    (a multirun over the seeds).

    With ``configs_dir`` (where :func:`write_row_configs` put the row's saved config) the
    line is exact: ``teachbench -cd DIR -cn ROW seed=...`` replays the resolved config the
    runs were made with, preset overrides included. Without it, the line names the config
    groups and budget only (what the run directory's name and summary tell). Rows of the
    simulated-student track come from ``teachbench-track``."""
    seeds = row["seed"] if isinstance(row["seed"], (list, tuple)) else [row["seed"]]
    seed_arg = "seed=" + ",".join(str(int(s)) for s in seeds)
    if row.get("student") == "sim":
        return f"teachbench-track name={row['experiment']} 'only=[{row['teacher']}]' seeds={len(seeds)}"
    if configs_dir is not None and (Path(configs_dir) / f"{row_config_name(row)}.yaml").is_file():
        return " ".join(["teachbench", "-cd", str(configs_dir), "-cn", row_config_name(row),
                         *(["-m"] if len(seeds) > 1 else []), seed_arg, "runs_dir=runs"])
    parts = ["teachbench", *(["-m"] if len(seeds) > 1 else []), f"name={row['experiment']}", f"env={row['env']}",
             f"teacher={row['teacher']}", f"student={row['student']}", seed_arg]
    if row.get("budget_steps") is not None and not _isnan(row.get("budget_steps")):
        parts.append(f"budget.steps={int(row['budget_steps'])}")
    return " ".join(parts)


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


# -- robust statistics (rliable's definitions) ---------------------------------------------
Strata = Mapping[str, np.ndarray]  # stratum (env) -> scores of its seeds


def iqm(scores: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Interquartile mean: the 25%-trimmed mean, as ``rliable.metrics.aggregate_iqm``."""
    return scipy.stats.trim_mean(scores, proportiontocut=0.25, axis=axis)


def improvement_probability(x: np.ndarray, y: np.ndarray) -> np.ndarray | float:
    """P(X > Y) + P(X = Y)/2 of two score samples (the Mann-Whitney U over n*m pairs), as
    ``rliable.metrics.probability_of_improvement`` computes per task. Broadcasts over
    leading axes: ``x`` ``(..., n)`` and ``y`` ``(..., m)``."""
    x = np.asarray(x, dtype=float)[..., :, None]
    y = np.asarray(y, dtype=float)[..., None, :]
    return ((x > y) + 0.5 * (x == y)).mean(axis=(-2, -1))


def _key_text(part: Any) -> str:
    """A key part as text that is the same in every process and for every reader of the
    runs: missing (None / NaN) is empty, and a whole float is written as the integer (a
    budget read back as ``300000.0`` from one source and ``300000`` from another)."""
    if part is None or _isnan(part):
        return ""
    if isinstance(part, (float, np.floating)) and float(part).is_integer():
        return str(int(part))
    if isinstance(part, (np.integer,)):
        return str(int(part))
    return str(part)


def keyed_rng(seed: int, *key: Any) -> np.random.Generator:
    """The bootstrap generator of one estimate: seeded by the base ``seed`` and a SHA-256
    digest of ``key`` (never Python's ``hash()``, which is salted per process for strings),
    so that an estimate's resamples depend on what it estimates and nothing else."""
    digest = hashlib.sha256("\x1f".join(_key_text(k) for k in key).encode("utf-8")).digest()
    return np.random.default_rng([int(seed), int.from_bytes(digest[:8], "little")])


def stratified_bootstrap(strata: Sequence[np.ndarray], rng: np.random.Generator, reps: int) -> list[np.ndarray]:
    """Resample each stratum's seeds with replacement, independently: ``reps`` x n_stratum
    arrays (the stratified bootstrap of rliable, which keeps every env in every sample)."""
    return [s[rng.integers(0, len(s), size=(reps, len(s)))] for s in strata]


def _interval(boot: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(boot, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def iqm_interval(strata: Strata, rng: np.random.Generator, reps: int = 2000,
                 confidence: float = 0.95) -> tuple[float, float, float]:
    """IQM over every seed of every stratum, and its stratified-bootstrap interval."""
    arrays = [np.asarray(v, dtype=float) for v in strata.values() if len(v)]
    if not arrays:
        return math.nan, math.nan, math.nan
    point = float(iqm(np.concatenate(arrays)))
    if min(len(a) for a in arrays) < MIN_SEEDS_FOR_INTERVAL:
        return point, math.nan, math.nan  # no interval from 1-2 seeds of a stratum
    boot = np.concatenate(stratified_bootstrap(arrays, rng, reps), axis=1)
    return (point, *_interval(iqm(boot, axis=1), confidence))


def improvement_interval(x: Strata, y: Strata, rng: np.random.Generator, reps: int = 2000,
                         confidence: float = 0.95) -> tuple[float, float, float, int]:
    """Probability that X beats Y, averaged over the strata both have, with a stratified
    bootstrap interval (X and Y resampled independently). Returns (p, lo, hi, n_strata)."""
    common = [k for k in x if k in y and len(x[k]) and len(y[k])]
    if not common:
        return math.nan, math.nan, math.nan, 0
    xs = [np.asarray(x[k], dtype=float) for k in common]
    ys = [np.asarray(y[k], dtype=float) for k in common]
    point = float(np.mean([improvement_probability(a, b) for a, b in zip(xs, ys)]))
    if min(len(a) for a in (*xs, *ys)) < MIN_SEEDS_FOR_INTERVAL:
        return point, math.nan, math.nan, len(common)
    bx, by = stratified_bootstrap(xs, rng, reps), stratified_bootstrap(ys, rng, reps)
    boot = np.mean([improvement_probability(a, b) for a, b in zip(bx, by)], axis=0)
    return (point, *_interval(boot, confidence), len(common))


def seed_comparison(values: pd.DataFrame, column: str, names: Mapping[str, str], baseline: str, *,
                    key: Sequence[Any] = (), p_column: str = "p_above", seed: int = 0,
                    reps: int = BOOTSTRAP_REPS) -> list[dict[str, Any]]:
    """One row per teacher of ``names`` (registry name -> display name) on one metric of a
    per-seed table (columns ``teacher``, ``seed``, ``column``): mean ± sd, IQM with its
    interval and the seeds' values; and for every teacher but ``baseline``, P(its seed beats
    a baseline seed) with its interval in ``p_column``, ``p_lo``, ``p_hi``. For a results
    folder's two-teacher comparisons (one stratum: the leaderboard's statistics on one env).

    ``key`` names what the caller compares (e.g. the evaluation step; ``column`` is added).
    As in :func:`leaderboard`, each interval has its own generator, seeded by
    :func:`keyed_rng` from ``seed``, ``key``, ``column`` and the teacher (and, for P, the
    baseline), with :data:`BOOTSTRAP_REPS` resamples. A results table's row is therefore a
    function of its own seeds' values alone: adding an evaluation step, a metric or a teacher
    to the table does not move it. Until session 10 the results scripts passed one generator
    for their whole table (2,000 resamples an interval), so each row's resamples depended on
    how many draws the rows computed before it had taken."""
    by = {t: values.loc[values["teacher"] == t].sort_values("seed")[column].to_numpy(float) for t in names}
    rows = []
    for t, x in by.items():
        point, lo, hi = iqm_interval({"env": x}, keyed_rng(seed, "comparison", *key, column, t), reps)
        row: dict[str, Any] = {"metric": column, "teacher": names[t], "seeds": len(x), "mean": x.mean(),
                               "sd": x.std(ddof=1), "iqm": point, "iqm_lo": lo, "iqm_hi": hi,
                               "values": " ".join(f"{v:.1f}" for v in x)}
        if t != baseline:
            rng = keyed_rng(seed, "comparison_p", *key, column, t, baseline)
            p, plo, phi, _ = improvement_interval({"env": x}, {"env": by[baseline]}, rng, reps)
            row.update({p_column: p, "p_lo": plo, "p_hi": phi})
        rows.append(row)
    return rows


# -- the tables --------------------------------------------------------------------------------
def _mean_std(values: pd.Series) -> str:
    values = values.dropna().astype(float)
    if values.empty:
        return "-"
    if len(values) == 1:
        return f"{values.mean():.1f}"  # one seed: no spread to show
    return f"{values.mean():.1f} ± {float(values.std(ddof=1)):.1f}"


def _iqm_text(point: float, lo: float, hi: float) -> str:
    if math.isnan(point):
        return "-"
    if math.isnan(lo) or math.isnan(hi):
        return f"{point:.1f} (n<{MIN_SEEDS_FOR_INTERVAL})"
    return f"{point:.1f} [{lo:.1f}, {hi:.1f}]"


def _same(a: Any, b: Any) -> bool:
    """Equality of row keys where a missing value (None/NaN) equals a missing value."""
    missing = lambda v: v is None or _isnan(v)  # noqa: E731
    return (missing(a) and missing(b)) or (not missing(a) and not missing(b) and a == b)


def _finished(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["state"] == "finished"] if not runs.empty else runs


def write_row_configs(runs: pd.DataFrame, directory: str | Path) -> dict[str, Path]:
    """Write each row's resolved config (its lowest finished seed's ``config.yaml``; seeds
    differ only in ``seed``) to ``directory/<row_config_name>.yaml``, so that
    :func:`run_command` can name it. Other files in ``directory`` are left alone.

    The file is not copied: it is read with :func:`load_run_config` (no foreign
    ``_target_``, resolver, ``defaults`` list or ``hydra`` block) and the checked data is
    written. A config that is refused is not written, and its row's command falls back to
    naming the config groups."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    known = _finished(runs).dropna(subset=["env", "teacher"]) if not runs.empty else runs
    for _, group in known.sort_values("seed").groupby(GROUP, sort=True, dropna=False):
        first = group.iloc[0]
        try:
            data = load_run_config(Path(first["path"]))
        except TeachBenchError as exc:
            log.warning("not writing the config of %s: %s", first["path"], exc)
            continue
        target = directory / f"{row_config_name(first)}.yaml"
        tmp = target.with_name(f".{target.name}.tmp")
        OmegaConf.save(data, tmp)
        tmp.replace(target)
        written[row_config_name(first)] = target
    return written


def leaderboard(runs: pd.DataFrame, reps: int = BOOTSTRAP_REPS, confidence: float = 0.95, seed: int = 0,
                baseline: str = BASELINE_TEACHER, configs_dir: str | None = None) -> pd.DataFrame:
    """One row per experiment x env x student x teacher x config id x budget (:data:`GROUP`).

    Numeric columns: ``seeds`` (finished), ``failed``, ``unfinished`` (running or
    incomplete), for each metric ``<m>_mean``, ``<m>_std``, ``<m>_iqm``, ``<m>_lo``,
    ``<m>_hi`` (IQM and its stratified-bootstrap interval over seeds), and
    ``p_improve`` / ``p_improve_lo`` / ``p_improve_hi``: probability that this teacher's
    final % mastered beats the ``baseline`` teacher's (same experiment, env, student).
    Text columns (``final_mastered``, ``auc_mastered``, ``held_out_solved``, ``iqm_final``)
    are what the terminal, Markdown and HTML tables show; ``command`` reproduces the row
    (exactly when ``configs_dir`` holds the rows' configs, see :func:`run_command`).
    ``n_machines`` / ``machines``: the machine kinds its finished seeds ran on
    (``summary.host``); the tables show ``machines`` when some row pools several.
    """
    if runs.empty or "env" not in runs:
        return pd.DataFrame()
    known = runs.dropna(subset=["env", "teacher"])
    out = []
    for key, group in known.groupby(GROUP, sort=True, dropna=False):
        done = _finished(group)
        row: dict[str, Any] = dict(zip(GROUP, key))
        row["seeds"] = int(len(done))
        row["failed"] = int((group["state"] == "failed").sum())
        row["unfinished"] = int(len(group) - len(done) - row["failed"])
        row["seed_list"] = ",".join(str(s) for s in sorted(done["seed"].astype(int)))
        for m in METRICS:
            vals = done[m].dropna().astype(float).to_numpy() if m in done else np.array([])
            row[f"{m}_mean"] = float(vals.mean()) if len(vals) else math.nan
            row[f"{m}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else (0.0 if len(vals) else math.nan)
            rng = keyed_rng(seed, "row", *key, m)  # this row's own stream (see the module's docstring)
            point, lo, hi = iqm_interval({"_": vals}, rng, reps, confidence)
            row[f"{m}_iqm"], row[f"{m}_lo"], row[f"{m}_hi"] = point, lo, hi
            row[m] = _mean_std(done[m]) if len(vals) else "-"
        row["iqm_final"] = _iqm_text(row["final_mastered_iqm"], row["final_mastered_lo"], row["final_mastered_hi"])
        row.update(_validity(done, row["student"]))
        row["wall_time_s"] = float(done["wall_time_s"].mean()) if len(done) and "wall_time_s" in done else math.nan
        row["n_machines"], row["machines"] = _machines(done)
        row["budget_steps"] = group["budget_steps"].dropna().iloc[0] if group["budget_steps"].notna().any() else None
        row["settings_id"] = group["settings_id"].iloc[0] if "settings_id" in group else None
        row["runs_dir"] = str(Path(group["path"].iloc[0]).parent)
        row["command"] = run_command({**row, "seed": sorted(group["seed"].astype(int))}, configs_dir)
        out.append(row)
    if not out:  # every run unreadable: nothing to rank (they are listed by not_finished)
        return pd.DataFrame()
    table = pd.DataFrame(out)
    _add_improvement(table, known, seed, reps, confidence, baseline)
    table["separates"] = [_separates(lo, hi) for lo, hi in zip(table["p_improve_lo"], table["p_improve_hi"])]
    table["p_improve_text"] = [
        "-" if math.isnan(p) else (f"{p:.2f} (n<{MIN_SEEDS_FOR_INTERVAL})" if math.isnan(lo) else
                                   f"{p:.2f} [{lo:.2f}, {hi:.2f}]")
        for p, lo, hi in zip(table["p_improve"], table["p_improve_lo"], table["p_improve_hi"])
    ]
    table = table.sort_values(["experiment", "env", "student", "final_mastered_iqm", "teacher"],
                              ascending=[True, True, True, False, True], na_position="last")
    return table.reset_index(drop=True)


def _validity(done: pd.DataFrame, student: str) -> dict[str, Any]:
    """Does the row measure an algorithm (:mod:`experiments.reporting.validity`): the
    students' gradient updates (median over finished seeds, and how many seeds took any),
    whether the teacher ever updated its curriculum, the evaluation episodes per test task,
    and the row's flags (among them seeds made before their teacher's TMA fidelity fix)."""
    updates = done["gradient_updates"].astype(float) if "gradient_updates" in done else pd.Series(dtype=float)
    known = updates.dropna()
    trained = int((known > 0).sum())
    verdicts = [str(v) for v in done["teacher_updated"].dropna()] if "teacher_updated" in done else []
    updated = validity.row_updated(verdicts) if len(done) else "-"
    episodes = done["eval_episodes_per_task"].astype(float).dropna() if "eval_episodes_per_task" in done else pd.Series(dtype=float)
    eval_episodes = float(episodes.min()) if len(episodes) else math.nan
    code = [str(v) for v in done["teacher_code"].dropna()] if "teacher_code" in done else []
    network = [str(v) for v in done["student_network"].dropna()] if "student_network" in done else []
    references = done["reference_network"].dropna() if "reference_network" in done else pd.Series(dtype=object)
    reference = str(references.iloc[0]) if len(references) else None  # one env and student per row
    finals = [float(v) for v in done["final_mastered"].dropna()] if "final_mastered" in done else []
    flags = (validity.row_flags(student, trained, len(known), updated, eval_episodes, code, network, reference, finals)
             if len(done) else [])
    if known.empty:
        updates_text = "-"
    else:
        updates_text = f"{float(known.median()):.0f} ({trained}/{len(known)} trained)"
    n_yes = verdicts.count("yes")
    updated_text = f"yes ({n_yes}/{len(verdicts)})" if updated == "yes" else updated
    return {"gradient_updates": float(known.median()) if len(known) else math.nan, "trained_seeds": trained,
            "gradient_updates_text": updates_text, "teacher_updated": updated, "teacher_updated_text": updated_text,
            "eval_episodes": eval_episodes, "flags": "; ".join(flags)}


def _machines(done: pd.DataFrame) -> tuple[int, str]:
    """How many machine kinds the finished seeds ran on (``host``, experiments/host.py) and
    which: the label alone when one, ``3 on A; 2 on B`` (most seeds first) when several."""
    hosts = done["host"].fillna(UNKNOWN).astype(str) if "host" in done else pd.Series([UNKNOWN] * len(done))
    counts = hosts.value_counts()
    if len(counts) == 0:
        return 0, "-"
    if len(counts) == 1:
        return 1, str(counts.index[0])
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return len(counts), "; ".join(f"{n} on {label}" for label, n in ordered)


def _separates(lo: float, hi: float) -> str:
    """``above`` / ``below`` when the P(> baseline) interval excludes 0.5, else empty."""
    if math.isnan(lo) or math.isnan(hi):
        return ""
    return "above" if lo > 0.5 else ("below" if hi < 0.5 else "")


def _add_improvement(table: pd.DataFrame, runs: pd.DataFrame, seed: int, reps: int,
                     confidence: float, baseline: str) -> None:
    """P(a seed of the row beats a seed of ``baseline``) and its interval, each row's
    bootstrap seeded by its own key and the baseline's name (:func:`keyed_rng`)."""
    cols = {"p_improve": [], "p_improve_lo": [], "p_improve_hi": []}
    done = _finished(runs)
    for _, row in table.iterrows():
        p = lo = hi = math.nan
        if row["teacher"] != baseline:
            # the baseline of the same experiment, env, student, budget and settings
            same = done[(done["experiment"] == row["experiment"]) & (done["env"] == row["env"])
                        & (done["student"] == row["student"])
                        & done["budget_steps"].map(lambda b: _same(b, row["budget_steps"]))
                        & done["settings_id"].map(lambda i: _same(i, row.get("settings_id")))]
            x = same[same["teacher"] == row["teacher"]]["final_mastered"].dropna().to_numpy(float)
            y = same[same["teacher"] == baseline]["final_mastered"].dropna().to_numpy(float)
            if len(x) and len(y):
                rng = keyed_rng(seed, "p_improve", *(row[k] for k in GROUP), baseline)
                p, lo, hi, _ = improvement_interval({"env": x}, {"env": y}, rng, reps, confidence)
        cols["p_improve"].append(p)
        cols["p_improve_lo"].append(lo)
        cols["p_improve_hi"].append(hi)
    for k, v in cols.items():
        table[k] = v


def aggregate(runs: pd.DataFrame, metric: str = "final_mastered", reps: int = BOOTSTRAP_REPS, confidence: float = 0.95,
              seed: int = 0, baseline: str = BASELINE_TEACHER) -> pd.DataFrame:
    """Across envs: one row per experiment x student x teacher. ``iqm`` of ``metric`` over
    every finished seed of every env (each env a stratum of the bootstrap), and the
    probability of improvement over ``baseline`` averaged over the envs both teachers ran.
    Rows are grouped by the envs they cover (most envs first): IQMs over different env sets are
    not comparable, since envs differ in how much of their test sets any teacher masters.
    Scores are % of the env's test set, so envs share one 0-100 scale. Each row's two
    bootstraps are seeded by its own key (:func:`keyed_rng`: experiment, student, teacher,
    metric), so another teacher's rows never move its intervals."""
    done = _finished(runs).dropna(subset=[metric]) if not runs.empty else runs
    if done.empty:
        return pd.DataFrame()
    rows = []
    keys = ["experiment", "student"]
    for (exp, student), part in done.groupby(keys, sort=True):
        # labels within this experiment x student: Random of another experiment (the track's,
        # a lite tier's) must not make this one's Random "several" and lose the baseline
        part = part.assign(_teacher=_labels(part, "teacher", "teacher_id"),
                           _stratum=_labels(part, "env", "settings_id", "budget_steps"))
        strata = {t: {e: g[metric].to_numpy(float) for e, g in tp.groupby("_stratum", sort=True)}
                  for t, tp in part.groupby("_teacher", sort=True)}
        for teacher, by_env in strata.items():
            rng = keyed_rng(seed, "aggregate", exp, student, teacher, metric)
            point, lo, hi = iqm_interval(by_env, rng, reps, confidence)
            row = {"experiment": exp, "student": student, "teacher": teacher, "envs": ",".join(sorted(by_env)),
                   "n_envs": len(by_env), "runs": int(sum(len(v) for v in by_env.values())),
                   "iqm": point, "iqm_lo": lo, "iqm_hi": hi,
                   "mean": float(np.mean(np.concatenate(list(by_env.values()))))}
            if teacher != baseline and baseline in strata:
                rng = keyed_rng(seed, "aggregate_p_improve", exp, student, teacher, metric, baseline)
                p, plo, phi, n = improvement_interval(by_env, strata[baseline], rng, reps, confidence)
            else:
                p = plo = phi = math.nan
                n = 0
            row.update(p_improve=p, p_improve_lo=plo, p_improve_hi=phi, p_improve_envs=n)
            rows.append(row)
    table = pd.DataFrame(rows)
    # an IQM compares only with rows over the same envs (a teacher run on the walker too averages in
    # the walker's lower scores): rows over the most envs first, each env set together, best IQM first
    return table.sort_values(["experiment", "student", "n_envs", "envs", "iqm"],
                             ascending=[True, True, False, True, False]).reset_index(drop=True)


def _labels(frame: pd.DataFrame, name: str, *keys: str) -> pd.Series:
    """``name``, suffixed with ``@<key values>`` only where one name has several key
    values: a teacher run with two settings (or an env at two budgets) is two entries of
    the across-env table, never pooled into one."""
    cols = [k for k in keys if k in frame]
    if not cols:
        return frame[name].astype(str)
    tags = frame[cols].astype(str).agg("/".join, axis=1)
    several = tags.groupby(frame[name]).transform("nunique") > 1
    return frame[name].astype(str).where(~several, frame[name].astype(str) + "@" + tags)


def not_finished(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that are not in any number: state, last step and error of each."""
    if runs.empty:
        return runs
    cols = [c for c in ("experiment", "env", "student", "teacher", "seed", "state", "step", "error", "path")
            if c in runs]
    return runs[runs["state"] != "finished"][cols].reset_index(drop=True)


# -- terminal ----------------------------------------------------------------------------------
DISPLAY = {
    "experiment": "experiment", "env": "env", "student": "student", "teacher": "teacher", "seeds": "seeds",
    "final_mastered": "final % mastered", "iqm_final": "IQM final [95% CI]", "auc_mastered": "AUC % mastered",
    "held_out_solved": "held-out % solved", "p_improve_text": "P(> random) [95% CI]", "wall_time_s": "wall (s)",
    "failed": "failed", "unfinished": "unfinished", "config_id": "config", "budget_steps": "budget",
    "gradient_updates_text": "gradient updates (seeds trained)", "teacher_updated_text": "teacher updated",
    "eval_episodes": "eval eps/task", "flags": "flags", "separates": "vs random", "machines": "machines (seeds)",
}


def display_columns(table: pd.DataFrame) -> list[str]:
    """The columns worth showing (held-out only where some env has held-out levels)."""
    cols = ["experiment", "env", "student", "teacher", "seeds", "final_mastered", "iqm_final", "auc_mastered"]
    if not table.empty and all(c in table for c in GROUP):
        keys = table[["config_id", "budget_steps"]].astype(str).agg("/".join, axis=1)
        if (keys.groupby([table[c].astype(str) for c in NAMES]).nunique() > 1).any():
            cols[4:4] = ["config_id", "budget_steps"]  # rows that differ only in settings or budget
    if "held_out_solved_mean" in table and table["held_out_solved_mean"].notna().any():
        cols.append("held_out_solved")
    if "p_improve" in table and table["p_improve"].notna().any():
        cols += ["p_improve_text", "separates"]
    if "gradient_updates" in table and table["gradient_updates"].notna().any():
        cols.append("gradient_updates_text")
    if "teacher_updated" in table:
        cols.append("teacher_updated_text")
    if "eval_episodes" in table and table["eval_episodes"].notna().any():
        cols.append("eval_episodes")
    if "flags" in table and table["flags"].astype(bool).any():
        cols.append("flags")
    cols += ["wall_time_s", "failed", "unfinished"]
    if "n_machines" in table and (table["n_machines"] > 1).any():  # some row pools seeds of several machines
        cols.insert(cols.index("wall_time_s") + 1, "machines")
    if "experiment" in table and table["experiment"].nunique() <= 1:
        cols.remove("experiment")
    return cols


def format_cell(col: str, value: Any) -> str:
    if col == "budget_steps" and value is not None and not _isnan(value):
        return f"{int(value)}"
    if col == "eval_episodes" and value is not None and not _isnan(value):
        return f"{int(value)}"
    if col == "wall_time_s":
        return "-" if value is None or _isnan(value) else f"{float(value):.0f}"
    if value is None or _isnan(value):
        return "-"
    return str(value)


def print_leaderboard(runs: pd.DataFrame, title: str = "TeachBench leaderboard", reps: int = BOOTSTRAP_REPS,
                      console: Any = None) -> pd.DataFrame:
    """Print the table (rich) and the runs that are not in it; return the table."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=220)
    table = leaderboard(runs, reps=reps)
    view = Table(title=title)
    columns = display_columns(table) if not table.empty else []
    for c in columns:
        view.add_column(DISPLAY.get(c, c), overflow="fold")
    for _, r in table.iterrows():
        style = "yellow" if r["failed"] or r["unfinished"] else None
        view.add_row(*[format_cell(c, r.get(c)) for c in columns], style=style)
    console.print(view)
    agg = aggregate(runs, reps=reps)
    if not agg.empty and agg["n_envs"].max() > 1:
        across = Table(title="across envs (IQM of final % mastered, envs as bootstrap strata)")
        for c in ("experiment", "student", "teacher", "envs", "runs", "IQM [95% CI]", "P(> random) [95% CI]"):
            across.add_column(c)
        for _, r in agg.iterrows():
            p = "-" if _isnan(r["p_improve"]) else f"{r['p_improve']:.2f} [{r['p_improve_lo']:.2f}, {r['p_improve_hi']:.2f}]"
            across.add_row(str(r["experiment"]), str(r["student"]), str(r["teacher"]), str(r["envs"]), str(r["runs"]),
                           _iqm_text(r["iqm"], r["iqm_lo"], r["iqm_hi"]), p)
        console.print(across)
    for _, r in not_finished(runs).iterrows():
        colour = "red" if r["state"] in ("failed", "unreadable") else "yellow"
        where = f" at step {int(r['step'])}" if r.get("step") is not None and not _isnan(r.get("step")) else ""
        error = f": {r['error']}" if r.get("error") else ""
        console.print(f"[{colour}]{r['state']}[/{colour}]{where} {r['path']}{error}", markup=True, highlight=False)
    return table


__all__: list[str] = [
    "aggregate", "collect_runs", "find_run_dirs", "improvement_interval", "improvement_probability", "iqm",
    "iqm_interval", "keyed_rng", "leaderboard", "not_finished", "print_leaderboard", "row_config_name", "run_command",
    "write_row_configs",
    "stratified_bootstrap",
]
