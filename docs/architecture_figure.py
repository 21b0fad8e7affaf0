"""Draw docs/architecture.png: the layers of TeachBench and the data path of one run.

    python docs/architecture_figure.py            # rewrites docs/architecture.png

Plain matplotlib boxes and arrows, so the picture is regenerated from this file when the
architecture changes (commit both). No project import: the figure is data, not code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = Path(__file__).resolve().with_name("architecture.png")

# layer colours, top (configs) to bottom (results): imports point only down the stack
COLOURS = {
    "configs": "#e8e8e8",
    "envs": "#cfe8cf",
    "teachers": "#f6dcb4",
    "students": "#cfdff6",
    "experiments": "#e6d3f0",
    "files": "#fff6c9",
}


def box(ax, x: float, y: float, w: float, h: float, title: str, body: str, colour: str,
        mono: bool = False) -> tuple[float, float, float, float]:
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.15",
                                facecolor=colour, edgecolor="#444444", linewidth=1.2))
    ax.text(x + w / 2, y + h - 0.22, title, ha="center", va="top", fontsize=11, fontweight="bold", family="monospace")
    if body and mono:  # a file listing: left-aligned columns
        ax.text(x + 0.2, y + h - 0.62, body, ha="left", va="top", fontsize=8.2, linespacing=1.35, family="monospace")
    elif body:
        ax.text(x + w / 2, y + h - 0.62, body, ha="center", va="top", fontsize=8.2, linespacing=1.35)
    return x, y, w, h


def arrow(ax, start: tuple[float, float], end: tuple[float, float], label: str = "", rad: float = 0.0,
          label_xy: tuple[float, float] | None = None, style: str = "-|>") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=14, linewidth=1.3,
                                 color="#333333", connectionstyle=f"arc3,rad={rad}"))
    if label:
        lx, ly = label_xy if label_xy else ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        ax.text(lx, ly, label, ha="center", va="center", fontsize=8, style="italic",
                bbox=dict(facecolor="white", edgecolor="none", pad=1.0))


def draw(path: Path = OUT) -> Path:
    fig, ax = plt.subplots(figsize=(13, 8.6))
    ax.set_xlim(0, 13)
    ax.set_ylim(0, 8.6)
    ax.axis("off")
    ax.text(6.5, 8.45, "TeachBench: one run, from config to leaderboard", ha="center", va="top", fontsize=14,
            fontweight="bold")

    box(ax, 0.3, 6.6, 3.3, 1.45, "configs/ (Hydra)",
        "env/  teacher/  student/\nexperiment/  logger/  hydra/launcher/\none group per swappable part", COLOURS["configs"])
    box(ax, 4.4, 6.6, 4.2, 1.45, "experiments/running/run.py",
        "validate config -> build env x teacher x student\n-> train with the bridge -> evaluate\n"
        "-> write the run directory (summary last)", COLOURS["experiments"])
    box(ax, 9.4, 6.6, 3.3, 1.45, "experiments/running/cli.py",
        "teachbench [overrides]\nteachbench -m (sweeps, launchers)\nerrors: key: message (allowed)", COLOURS["experiments"])

    box(ax, 0.3, 3.55, 3.3, 2.35, "teachers/",
        "Teacher: sample() -> task\nupdate(Episode)\nstate_dict() / diagnostics()\n\nALP-GMM, Covar-GMM, RIAC, ADR,\n"
        "SPDL, GoalGAN, Setter-Solver,\nPLR, PLR⊥, ACCEL, PAIRED, CLUTR,\nQWeb, WebRL", COLOURS["teachers"])
    box(ax, 4.4, 3.55, 4.2, 2.35, "students/",
        "SB3 student (PPO, A2C, DQN, SAC, MaskablePPO,\nrecurrent PPO)\n\nbridge: Curriculum (main process)\n"
        "+ CurriculumWrapper (in every sub-env)\none task queued ahead per sub-env\n\n"
        "evaluate(test set) · regret (PVL, MaxMC)", COLOURS["students"])
    box(ax, 9.4, 3.55, 3.3, 2.35, "envs/",
        "TaskSpace (named, bounded dims)\nreset(options={'task'|'level'})\ninfo['task'], info['success']\n"
        "test_tasks() · is_mastered()\nheld_out()\n\ngridworld · walker · parkour\nwebform · toy", COLOURS["envs"])

    box(ax, 1.9, 0.35, 5.3, 2.45, "runs/<experiment>/<run>/",
        "config.yaml     resolved config (no secrets)\nepisodes/ eval/ teacher/   Parquet parts\n"
        "status.json     running | failed | finished\nsummary.json    written last = finished\n"
        "checkpoints/ model.zip run.log lock", COLOURS["files"], mono=True)
    box(ax, 8.2, 0.35, 4.5, 2.45, "results side (experiments/reporting/)",
        "teachbench-leaderboard: table, IQM (rliable),\nprobability of improvement, HTML + plots\n\n"
        "analysis API + notebook: curves,\nmastery heatmaps, what each teacher sampled\n\nreads run directories only (experiments.rundir)",
        COLOURS["experiments"])

    # control: config -> run -> builds the three parts
    arrow(ax, (3.6, 7.32), (4.4, 7.32), "compose", label_xy=(4.0, 7.55))
    arrow(ax, (9.4, 7.32), (8.6, 7.32), "calls", label_xy=(9.0, 7.55))
    arrow(ax, (5.2, 6.6), (2.0, 5.9), "builds", rad=0.15, label_xy=(3.3, 6.35))
    arrow(ax, (6.5, 6.6), (6.5, 5.9), "builds", label_xy=(6.9, 6.25))
    arrow(ax, (7.8, 6.6), (11.0, 5.9), "builds", rad=-0.15, label_xy=(9.7, 6.35))

    # the loop: teacher -> task -> env; env -> episode -> teacher, through the bridge
    arrow(ax, (3.6, 5.2), (4.4, 5.2), "task", label_xy=(4.0, 5.42))
    arrow(ax, (8.6, 5.2), (9.4, 5.2), "reset(task)", label_xy=(9.0, 5.5))
    arrow(ax, (9.4, 4.2), (8.6, 4.2), "obs, reward,\ninfo['task']", label_xy=(9.0, 3.85))
    arrow(ax, (4.4, 4.2), (3.6, 4.2), "Episode", label_xy=(4.0, 3.95))

    # files
    arrow(ax, (6.0, 3.55), (5.4, 2.8), "append rows, checkpoints", label_xy=(6.6, 3.2))
    arrow(ax, (7.2, 1.6), (8.2, 1.6), "read")

    ax.text(0.3, 0.05, "Imports point down the layers only: envs <- teachers <- students <- experiments "
            "(a teacher never imports SB3, an env never knows teachers).", fontsize=8.5, color="#333333")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(draw(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
