"""TeachMyAgent's profile chart: each teacher's mean % mastered divided by Random's, per
stump-track challenge, per expert-knowledge level (docs/references.md#teachmyagent).

What the chart is, as TeachMyAgent's released analysis notebook (``Results_analysis.ipynb``,
``generate_profile_chart``) computes it:

- one value per teacher × challenge × expert-knowledge level: the mean over seeds of the
  final % of the test set mastered, divided by the same mean of the Random teacher (so
  Random is 1 everywhere);
- Random runs without expert knowledge only, and its no-EK runs stand in for the "low"
  and "high" levels (the notebook copies them there: Random uses no expert knowledge);
- a teacher is marked significantly better than Random when its mean is higher and
  Welch's t-test gives p < 0.05;
- the chart: one radar per expert-knowledge level, one axis per challenge, one line per
  teacher.

Our presets name their runs ``tma_<challenge>_ek-<level>`` (``configs/experiment/tma_*.yaml``),
which is how :func:`tma_profile` finds the cells. Where we differ: a challenge whose runs
span several students or bodies (``tma_variety``) pools all of its runs per teacher (the
mean over every run); Random runs at the same level, when a sweep made them, are used
before the no-EK copy; a ratio over a Random mean of 0 is ``inf`` (teacher above 0) or
NaN (both 0), never a number, and the chart leaves such cells out and says so.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd
import scipy.stats

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BASELINE = "random"
# TeachMyAgent's order of the five stump-track challenges (the axes of its radar)
CHALLENGES = ("unfeasible", "trivial", "forgetting", "rugged", "variety")
CHALLENGE_LABELS = {"unfeasible": "Mostly unfeasible\ntask space", "trivial": "Mostly trivial\ntask space",
                    "forgetting": "Student that\nforgets", "rugged": "Rugged\ndifficulty",
                    "variety": "Variety of\nstudents"}
EK_LEVELS = ("no", "low", "high")
EXPERIMENT = re.compile(r"^tma_(?P<challenge>[a-z]+)_ek-(?P<ek>no|low|high)$")
P_VALUE = 0.05

COLUMNS = ["ek", "challenge", "teacher", "seeds", "mean", "baseline_seeds", "baseline_mean", "baseline_ek",
           "ratio", "welch_t", "welch_p", "significant"]


def _cells(runs: pd.DataFrame, metric: str) -> dict[tuple[str, str, str], np.ndarray]:
    """(ek, challenge, teacher) -> final scores of the finished runs."""
    out: dict[tuple[str, str, str], list[float]] = {}
    if runs.empty or "experiment" not in runs:
        return {}
    done = runs[runs["state"] == "finished"].dropna(subset=[metric])
    for _, r in done.iterrows():
        m = EXPERIMENT.match(str(r["experiment"]))
        if not m or m["challenge"] not in CHALLENGES:
            continue
        out.setdefault((m["ek"], m["challenge"], str(r["teacher"])), []).append(float(r[metric]))
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def _ratio(mean: float, base: float) -> float:
    if base > 0:
        return mean / base
    return math.nan if mean == 0 or math.isnan(mean) else math.inf


def tma_profile(runs: pd.DataFrame, metric: str = "final_mastered", baseline: str = BASELINE,
                p_value: float = P_VALUE) -> pd.DataFrame:
    """One row per expert-knowledge level × challenge × teacher (the baseline included, at
    ratio 1): seeds, mean, the baseline's seeds and mean and the level its runs came from,
    the ratio, Welch's t and p against the baseline, and ``significant`` (higher mean and
    p < ``p_value``). Empty when there are no finished ``tma_*`` runs."""
    cells = _cells(runs, metric)
    rows = []
    for (ek, challenge, teacher), scores in sorted(cells.items()):
        if teacher == baseline:
            continue
        base_ek = ek if (ek, challenge, baseline) in cells else "no"
        base = cells.get((base_ek, challenge, baseline))
        row = {"ek": ek, "challenge": challenge, "teacher": teacher, "seeds": len(scores),
               "mean": float(scores.mean()), "baseline_seeds": 0, "baseline_mean": math.nan,
               "baseline_ek": None, "ratio": math.nan, "welch_t": math.nan, "welch_p": math.nan,
               "significant": False}
        if base is not None:
            row.update(baseline_seeds=len(base), baseline_mean=float(base.mean()), baseline_ek=base_ek,
                       ratio=_ratio(float(scores.mean()), float(base.mean())))
            if len(scores) >= 2 and len(base) >= 2 and (scores.std() > 0 or base.std() > 0):
                with warnings.catch_warnings():  # a constant sample (e.g. 12, 12, 12) warns of precision
                    warnings.simplefilter("ignore", RuntimeWarning)
                    t, p = scipy.stats.ttest_ind(scores, base, equal_var=False)
                row.update(welch_t=float(t), welch_p=float(p),
                           significant=bool(scores.mean() > base.mean() and p < p_value))
        rows.append(row)
    # the baseline itself, at 1 wherever it has a mean above 0 (its own runs or the no-EK copy)
    for ek, challenge in sorted({(r["ek"], r["challenge"]) for r in rows}):
        base_ek = ek if (ek, challenge, baseline) in cells else "no"
        base = cells.get((base_ek, challenge, baseline))
        if base is not None:
            mean = float(base.mean())
            rows.append({"ek": ek, "challenge": challenge, "teacher": baseline, "seeds": len(base), "mean": mean,
                         "baseline_seeds": len(base), "baseline_mean": mean, "baseline_ek": base_ek,
                         "ratio": _ratio(mean, mean), "welch_t": math.nan, "welch_p": math.nan, "significant": False})
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    order = {c: i for i, c in enumerate(CHALLENGES)}
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["_ek"] = frame["ek"].map(EK_LEVELS.index)
    frame["_c"] = frame["challenge"].map(order)
    return frame.sort_values(["_ek", "_c", "teacher"]).drop(columns=["_ek", "_c"]).reset_index(drop=True)


def plot_tma_profile(profile: pd.DataFrame, levels: Sequence[str] = EK_LEVELS) -> "Figure":
    """TeachMyAgent's radar: one polar panel per expert-knowledge level, one axis per
    challenge, one closed line per teacher (ratio to Random; the dashed circle is 1).
    A significant cell (Welch p < 0.05, above Random) gets a filled marker; cells with an
    undefined or infinite ratio (Random at 0) are left out and counted in the title."""
    import matplotlib.pyplot as plt

    levels = [lv for lv in levels if lv in set(profile["ek"])] or list(levels[:1])
    angles = np.linspace(0.0, 2 * math.pi, len(CHALLENGES), endpoint=False)
    finite = profile["ratio"].replace([np.inf, -np.inf], np.nan).dropna()
    top = max(2.0, float(finite.max()) * 1.1) if len(finite) else 2.0
    fig, axes = plt.subplots(1, len(levels), figsize=(5.2 * len(levels), 5.2), squeeze=False,
                             subplot_kw={"projection": "polar"})
    teachers = sorted(set(profile["teacher"]))
    colours = {t: plt.get_cmap("tab10")(i % 10) for i, t in enumerate(teachers)}
    for ax, ek in zip(axes.flat, levels):
        part = profile[profile["ek"] == ek]
        left_out = 0
        for teacher in teachers:
            sel = part[part["teacher"] == teacher].set_index("challenge")
            if sel.empty:
                continue
            values = np.array([float(sel["ratio"].get(c, math.nan)) for c in CHALLENGES])
            left_out += int(sum(c in sel.index and not math.isfinite(v) for c, v in zip(CHALLENGES, values)))
            shown = np.where(np.isfinite(values), values, np.nan)
            style = "--" if teacher == BASELINE else "-"
            ax.plot(np.append(angles, angles[0]), np.append(shown, shown[0]), style, color=colours[teacher],
                    label=teacher, linewidth=1.6)
            sig = np.array([bool(sel["significant"].get(c, False)) for c in CHALLENGES])
            ax.plot(angles[sig], shown[sig], "o", color=colours[teacher], markersize=6)
            ax.plot(angles[~sig], shown[~sig], "o", markerfacecolor="white", color=colours[teacher], markersize=4)
        ax.set_xticks(angles, [CHALLENGE_LABELS[c] for c in CHALLENGES], fontsize=8)
        ax.set_ylim(0, top)
        title = f"{ek} expert knowledge"
        if left_out:
            title += f"\n({left_out} cells with Random at 0 left out)"
        ax.set_title(title, fontsize=10)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


__all__ = ["BASELINE", "CHALLENGES", "EK_LEVELS", "plot_tma_profile", "tma_profile"]
