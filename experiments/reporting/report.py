"""Leaderboard files: Markdown, CSV and one self-contained HTML page, plus a PNG of that
page rendered by headless Chromium.

The HTML page carries its plots as base64 PNGs and its style inline, so it can be mailed,
committed or opened from a CI artifact with nothing beside it, and it loads nothing
from the network (the screenshot helper also runs Chromium with networking features off).

Files written by :func:`write_report` into ``out``:

- ``leaderboard.md``: the per-group table, the across-env table, the runs not counted;
- ``leaderboard.csv``: the per-group table with every numeric column;
- ``aggregate.csv``: across envs (IQM, probability of improvement over random);
- ``runs.csv``: one row per run directory, state and error included;
- ``tma_profile.csv`` (when there are ``tma_*`` runs): TeachMyAgent's ratio to Random per
  challenge and expert-knowledge level (:mod:`.profile`), drawn as its radar in the HTML;
- ``lite.csv`` (when there are lite and long runs of an env): the rank agreement of
  :mod:`.lite`, also a section of the Markdown;
- ``leaderboard.html``: all of the above with learning curves, IQM intervals and
  mastery heatmaps.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
import os
import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import pandas as pd

from envs.errors import TeachBenchError
from experiments.reporting import analysis
from experiments.reporting.lite import rank_agreement
from experiments.reporting.profile import plot_tma_profile, tma_profile
from experiments.reporting.leaderboard import (BASELINE_TEACHER, BOOTSTRAP_REPS, DISPLAY, aggregate, display_columns,
                                               format_cell, leaderboard, not_finished, write_row_configs)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger("teachbench.report")

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# Chromium flags for a headless render that never reaches the network: no background
# fetches, component updates, sync, first-run pings, or QUIC.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--disable-quic", "--disable-default-apps", "--disable-extensions",
                  "--mute-audio", "--no-default-browser-check")


# -- tables ----------------------------------------------------------------------------------
def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame, columns: Sequence[str], headers: dict[str, str] | None = None) -> str:
    """A GitHub-flavoured Markdown table of ``columns``."""
    headers = headers or {}
    lines = ["| " + " | ".join(headers.get(c, c) for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for _, r in frame.iterrows():
        lines.append("| " + " | ".join(_md_escape(format_cell(c, r.get(c))) for c in columns) + " |")
    return "\n".join(lines)


def _aggregate_view(agg: pd.DataFrame) -> pd.DataFrame:
    view = agg.copy()
    view["IQM [95% CI]"] = [f"{p:.1f} [{lo:.1f}, {hi:.1f}]" for p, lo, hi in zip(agg["iqm"], agg["iqm_lo"], agg["iqm_hi"])]
    view["P(> random) [95% CI]"] = [
        "-" if math.isnan(p) else f"{p:.2f} [{lo:.2f}, {hi:.2f}]"
        for p, lo, hi in zip(agg["p_improve"], agg["p_improve_lo"], agg["p_improve_hi"])
    ]
    return view


AGG_COLUMNS = ["experiment", "student", "teacher", "envs", "runs", "IQM [95% CI]", "P(> random) [95% CI]"]
AGG_NOTE = ("Each env is a stratum of the bootstrap. Rows are grouped by the envs they cover, most first: "
            "compare IQMs only within a group, since envs differ in how much of their test sets any teacher "
            "masters. P(> random) averages over the envs both teachers ran.")
LITE_COLUMNS = ["env", "student", "teachers", "lite_budget", "lite_seeds", "long_budget", "long_seeds", "kendall_tau",
                "spearman_rho", "same_top"]
NOT_FINISHED_COLUMNS = ["env", "student", "teacher", "seed", "state", "step", "error", "path"]


def write_markdown(runs: pd.DataFrame, table: pd.DataFrame, agg: pd.DataFrame, path: Path, title: str) -> Path:
    parts = [f"# {title}", "", _legend(), "", markdown_table(table, display_columns(table), DISPLAY)]
    if not agg.empty:
        parts += ["", "## Across envs", "", AGG_NOTE, "", markdown_table(_aggregate_view(agg), AGG_COLUMNS)]
    lite = rank_agreement(runs)
    if not lite.empty:
        parts += ["", "## Lite tier vs longer runs (rank correlation across teachers)", "",
                  markdown_table(lite.round({"kendall_tau": 3, "spearman_rho": 3}), LITE_COLUMNS)]
    pending = not_finished(runs)
    if not pending.empty:
        parts += ["", "## Runs not counted", "",
                  markdown_table(pending, [c for c in NOT_FINISHED_COLUMNS if c in pending])]
    parts += ["", "## Commands", ""] + [f"- `{c}`" for c in table["command"]]
    path.write_text("\n".join(parts) + "\n")
    return path


def _legend() -> str:
    return ("Final % mastered and AUC (mean % over the budget) of the env's test set: mean ± std over finished "
            "seeds. IQM: interquartile mean with a stratified-bootstrap 95% interval (each interval's resamples "
            "are seeded by its row's own key, so adding or removing other rows never moves it). P(> random): "
            "probability "
            f"that a seed of this teacher ends above a seed of the `{BASELINE_TEACHER}` teacher (same env and "
            "student); vs random: above / below when its interval excludes 0.5. Gradient updates: the "
            "students' (SB3's count, median over seeds) and how many seeds took any; teacher updated: whether "
            "the teacher ever changed its curriculum (fits, splits, replays, iterations, ...); eval eps/task: "
            "evaluation episodes per test task. Flags mark rows that do not measure an algorithm (no seed "
            "trained, a teacher that never updated, < 5 evaluation episodes on a stochastic env, seeds made "
            "before the teacher's TeachMyAgent fidelity fix, every seed at 0 % mastered: the floor, where no "
            "teacher is told apart) or measure it with another student than the "
            "reference's (a student network not the reference's). "
            "Failed and unfinished runs are counted apart and never averaged in. Machines (shown when a row's "
            "seeds ran on different machines, whose wall times it then mixes): how many seeds ran on which "
            "(GPU or CPU model and the cores the run had; unknown for runs from before it was recorded).")


# -- plots --------------------------------------------------------------------------------------
def figure_png(fig: "Figure", dpi: int = 110) -> str:
    """A matplotlib figure as a base64 PNG string (the figure is closed), with its colours
    reduced to a 256-colour palette (Pillow, matplotlib's own dependency): a third of the bytes
    of the full-colour PNG for the same plot, which keeps the self-contained page small enough to
    carry around (4.3 MB before, for the baseline table's 15 figures)."""
    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    buf.seek(0)
    palette = Image.open(buf).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return base64.b64encode(out.getvalue()).decode("ascii")


def plot_intervals(table: pd.DataFrame, metric: str = "final_mastered", xlabel: str = "IQM of final % mastered"
                   ) -> "Figure":
    """Per env x student: one horizontal interval per teacher (IQM and 95% CI)."""
    import matplotlib.pyplot as plt

    panels = table.drop_duplicates(["experiment", "env", "student"])[["experiment", "env", "student"]]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 0.45 * table["teacher"].nunique() + 1.6),
                             squeeze=False)
    for ax, (_, panel) in zip(axes.flat, panels.iterrows()):
        part = table[(table["experiment"] == panel["experiment"]) & (table["env"] == panel["env"])
                     & (table["student"] == panel["student"])]
        part = part[part["seeds"] > 0].sort_values(f"{metric}_iqm")
        y = range(len(part))
        ax.hlines(list(y), part[f"{metric}_lo"], part[f"{metric}_hi"], linewidth=6, alpha=0.35, color="tab:blue")
        ax.plot(part[f"{metric}_iqm"], list(y), "|", markersize=14, color="tab:blue")
        ax.set_yticks(list(y), [f"{t} (n={n})" for t, n in zip(part["teacher"], part["seeds"])])
        ax.set_xlim(-2, 102)
        ax.set_xlabel(xlabel)
        ax.set_title(f"{panel['env']} / {panel['student']}")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_improvement(agg: pd.DataFrame) -> "Figure":
    """Across envs: probability of improvement over random, with 95% intervals."""
    import matplotlib.pyplot as plt

    part = agg.dropna(subset=["p_improve"]).sort_values("p_improve")
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(part) + 1.6))
    y = list(range(len(part)))
    ax.hlines(y, part["p_improve_lo"], part["p_improve_hi"], linewidth=6, alpha=0.35, color="tab:green")
    ax.plot(part["p_improve"], y, "|", markersize=14, color="tab:green")
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, [f"{t} / {s}" for t, s in zip(part["teacher"], part["student"])])
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"P(teacher > {BASELINE_TEACHER}), averaged over envs")
    fig.tight_layout()
    return fig


def _plots(runs: pd.DataFrame, table: pd.DataFrame, agg: pd.DataFrame, heatmaps: bool) -> list[tuple[str, str]]:
    """(caption, base64 PNG) of every plot the data supports; a plot that cannot be drawn
    (e.g. a 1-D task space for a heatmap) is skipped with a log line, not an error."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    out: list[tuple[str, str]] = []
    finished = runs[runs["state"] == "finished"]
    if finished.empty:
        return out
    evals = analysis.load_evaluations(finished, states=None)
    if not evals.empty:
        # per experiment too: a lite tier and the baseline of one env are different budgets, never one band
        bands = analysis.learning_curves(analysis.mastery_curves(evals), by=["experiment", "env", "student", "teacher"],
                                         reps=500)
        out.append(("Learning progress: % of the test set mastered (mean over seeds, bootstrap 95% band)",
                    figure_png(analysis.plot_learning_curves(bands, panel_by=("experiment", "env", "student")))))
    out.append(("IQM of final % mastered per teacher (stratified bootstrap 95% interval)",
                figure_png(plot_intervals(table))))
    if not agg.empty and agg["p_improve"].notna().any():
        out.append((f"Probability of improvement over {BASELINE_TEACHER}, across envs", figure_png(plot_improvement(agg))))
    profile = tma_profile(runs)
    if not profile.empty:
        out.append(("TeachMyAgent's profile: mean % mastered / Random's, per challenge and expert-knowledge level "
                    "(filled marker: above Random with Welch p < 0.05)", figure_png(plot_tma_profile(profile))))
    if heatmaps and not evals.empty:
        # one figure per env x student: students are never pooled into one heatmap
        for (experiment, env, student), part in evals.groupby(["experiment", "env", "student"], sort=True):
            try:
                fig = analysis.plot_mastery_heatmaps(part)
            except TeachBenchError as exc:
                log.info("no mastery heatmap for %s (%s): %s", env, student, exc)
                continue
            out.append((f"{experiment}: {env}, {student} student: final mastery over the task space (test set "
                        "binned over two task dimensions)", figure_png(fig)))
    return out


# -- HTML -----------------------------------------------------------------------------------------
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
p.meta{color:#57606a;font-size:13px;margin:0 0 12px} p.legend{font-size:13px;color:#3d444d;max-width:1100px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;white-space:nowrap}
th{background:#f6f8fa} tr.warn td{background:#fff8c5} td.failed{color:#cf222e;font-weight:600}
td.error{white-space:normal;max-width:520px;font-family:ui-monospace,monospace;font-size:12px}
figure{margin:14px 0} figcaption{font-size:13px;color:#57606a} img{max-width:100%}
code{font-size:12px}
"""


def _html_table(frame: pd.DataFrame, columns: Sequence[str], headers: dict[str, str] | None = None,
                warn: Sequence[bool] | None = None) -> str:
    headers = headers or {}
    head = "".join(f"<th>{html.escape(headers.get(c, c))}</th>" for c in columns)
    rows = []
    for i, (_, r) in enumerate(frame.iterrows()):
        cells = []
        for c in columns:
            text = format_cell(c, r.get(c))
            cls = ' class="error"' if c == "error" else (' class="failed"' if text in ("failed", "unreadable") else "")
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        cls = ' class="warn"' if warn is not None and warn[i] else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_html(runs: pd.DataFrame, table: pd.DataFrame, agg: pd.DataFrame, title: str,
                plots: Sequence[tuple[str, str]]) -> str:
    """The self-contained page (inline CSS, base64 images, no scripts, no links out)."""
    counts = runs["state"].value_counts().to_dict() if not runs.empty else {}
    meta = (f"{len(runs)} runs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            + f" · generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
    flags = table["flags"] if "flags" in table else [""] * len(table)
    warn = [bool(f or u or g) for f, u, g in zip(table.get("failed", []), table.get("unfinished", []), flags)]
    body = [f"<h1>{html.escape(title)}</h1>", f"<p class='meta'>{html.escape(meta)}</p>",
            f"<p class='legend'>{html.escape(_legend())}</p>",
            _html_table(table, display_columns(table), DISPLAY, warn)]
    if not agg.empty:
        body += ["<h2>Across envs</h2>", f"<p>{html.escape(AGG_NOTE)}</p>", _html_table(_aggregate_view(agg), AGG_COLUMNS)]
    pending = not_finished(runs)
    if not pending.empty:
        body += ["<h2>Runs not counted</h2>", _html_table(pending, [c for c in NOT_FINISHED_COLUMNS if c in pending])]
    for caption, png in plots:
        body.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{png}'>"
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    body += ["<h2>Commands</h2>", "<ul>"] + [f"<li><code>{html.escape(c)}</code></li>" for c in table["command"]] + ["</ul>"]
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(runs: pd.DataFrame, out: str | Path, title: str = "TeachBench leaderboard", plots: bool = True,
                 heatmaps: bool = True, reps: int = BOOTSTRAP_REPS) -> dict[str, Path]:
    """Write every leaderboard file into ``out``; returns ``{kind: path}``."""
    if runs.empty:
        raise TeachBenchError("runs", "no runs to report")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_row_configs(runs, out / "configs")
    table = leaderboard(runs, reps=reps, configs_dir=str(out / "configs"))
    agg = aggregate(runs, reps=reps)
    paths = {"markdown": write_markdown(runs, table, agg, out / "leaderboard.md", title)}
    table.to_csv(out / "leaderboard.csv", index=False)
    paths["csv"] = out / "leaderboard.csv"
    agg.to_csv(out / "aggregate.csv", index=False)
    paths["aggregate_csv"] = out / "aggregate.csv"
    runs.drop(columns=[c for c in ("traceback",) if c in runs]).to_csv(out / "runs.csv", index=False)
    paths["runs_csv"] = out / "runs.csv"
    # issue #20's extras, written only when the runs hold them: the TMA profile (tma_* presets)
    # and the lite tier's rank agreement with the longer runs (lite_* presets vs baseline)
    profile = tma_profile(runs)
    if not profile.empty:
        profile.to_csv(out / "tma_profile.csv", index=False)
        paths["tma_profile_csv"] = out / "tma_profile.csv"
    lite = rank_agreement(runs)
    if not lite.empty:
        lite.to_csv(out / "lite.csv", index=False)
        paths["lite_csv"] = out / "lite.csv"
    images = _plots(runs, table, agg, heatmaps) if plots and not table.empty else []
    (out / "leaderboard.html").write_text(render_html(runs, table, agg, title, images))
    paths["html"] = out / "leaderboard.html"
    return paths


# -- screenshot -------------------------------------------------------------------------------------
def find_chromium() -> str | None:
    """Debian's chromium (or another Chromium build on PATH), or None."""
    for candidate in (os.environ.get("TEACHBENCH_CHROMIUM"), *CHROMIUM_CANDIDATES):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(html_path: str | Path, png_path: str | Path, window_size: tuple[int, int] = (1400, 1800),
               timeout: float = 120.0, chromium: str | None = None) -> Path:
    """Render a local HTML file to a PNG with headless Chromium (no network, fresh profile).

    Raises :class:`TeachBenchError` when Chromium is missing or writes no image."""
    binary = chromium or find_chromium()
    if binary is None:
        raise TeachBenchError("chromium", "no Chromium found; install it with `apt-get install -y chromium`",
                              list(CHROMIUM_CANDIDATES))
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    if not html_path.is_file():
        raise TeachBenchError("html_path", f"{html_path} does not exist")
    png_path.parent.mkdir(parents=True, exist_ok=True)
    png_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="teachbench-chromium-") as profile:
        cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png_path}",
               f"--window-size={int(window_size[0])},{int(window_size[1])}", html_path.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "HOME": profile})
    if not png_path.is_file() or png_path.stat().st_size == 0:
        raise TeachBenchError("screenshot", f"chromium wrote no image (exit {proc.returncode}): {proc.stderr[-800:]}")
    return png_path


__all__ = ["figure_png", "find_chromium", "markdown_table", "plot_improvement", "plot_intervals", "render_html",
           "screenshot", "write_report"]
