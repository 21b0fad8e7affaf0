"""The ALP-GMM picture: what a teacher samples over a 2-D task space, over time.

One panel per time window: the tasks sampled in that window (grey dots) and, for GMM
teachers, the fitted Gaussians (2-σ ellipses over the two task coordinates) coloured by
their mean ALP (ALP-GMM) or learning progress (Covar-GMM). The teacher is run live on
the simulated student, so the picture shows the curriculum unfolding from the origin.

    .venv/bin/python -m experiments.reporting.sampling_plot --teacher alp_gmm --episodes 20000 --out alp_gmm.png
"""

from __future__ import annotations

import argparse
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402

from envs.errors import TeachBenchError  # noqa: E402
from envs.toy.student import SimulatedStudent  # noqa: E402
from teachers.base import Episode  # noqa: E402
from teachers.registry import make_teacher  # noqa: E402


def gmm_components(teacher: Any) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(mean, 2x2 covariance, progress) of each component over the first two task dims."""
    gmm = getattr(teacher, "gmm", None)
    if gmm is None:
        return []
    if teacher.name == "covar_gmm":
        progress = teacher.learning_progress()
    else:
        progress = np.clip(gmm.means[:, -1], 0.0, None)
    return [(gmm.means[i, :2], gmm.covariances[i, :2, :2], float(progress[i])) for i in range(gmm.k)]


def plot_sampling(teacher_name: str = "alp_gmm", episodes: int = 20_000, panels: int = 4, seed: int = 0,
                  params: dict[str, Any] | None = None, toy: dict[str, Any] | None = None, out: str | None = None):
    """Run the teacher on the toy student and draw ``panels`` snapshots; returns the figure."""
    student = SimulatedStudent(**(toy or {}), seed=seed)
    space = student.task_space()
    if space.ndim < 2:
        raise TeachBenchError("toy.n_dims", "the sampling plot needs at least 2 task dimensions")
    if teacher_name == "alp_gmm" and params is None:
        params = {"reward_bounds": [0, 1]}
    teacher = make_teacher(teacher_name, space, seed=seed, **(params or {}))
    ends = np.linspace(0, episodes, panels + 1).astype(int)[1:]
    fig, axes = plt.subplots(1, panels, figsize=(4 * panels, 4.2), squeeze=False)
    cmap = plt.get_cmap("viridis")
    window = max(episodes // panels // 4, 50)
    recent: list[np.ndarray] = []
    ep = 0
    for ax, end in zip(axes[0], ends):
        while ep < end:
            task = teacher.sample()
            u = space.to_unit(task)
            r, ok = student.practise(u)
            teacher.update(Episode(task=task, episode_return=r, length=1, success=ok))
            recent.append(u[:2])
            recent = recent[-window:]
            ep += 1
        pts = np.array(recent)
        ax.scatter(pts[:, 0], pts[:, 1], s=3, c="0.5", alpha=0.5, label=f"last {len(pts)} tasks")
        comps = gmm_components(teacher)
        top = max([p for *_, p in comps], default=0.0) or 1.0
        for mean, cov, prog in comps:
            w, v = np.linalg.eigh(cov)
            angle = float(np.degrees(np.arctan2(v[1, -1], v[0, -1])))
            ax.add_patch(Ellipse(mean, *(4 * np.sqrt(np.clip(w[::-1], 0, None))), angle=angle,
                                 facecolor=cmap(prog / top), alpha=0.35, edgecolor=cmap(prog / top)))
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=space.names[0], ylabel=space.names[1], aspect="equal",
               title=f"episodes {end}: {student.score():.0f}% mastered")
    if any(gmm_components(teacher)) or getattr(teacher, "gmm", None) is not None:
        sm = plt.cm.ScalarMappable(cmap=cmap)
        fig.colorbar(sm, ax=axes[0].tolist(), label="component progress (relative)")
    fig.suptitle(f"{teacher_name} on the simulated student (seed {seed})")
    if out:
        fig.savefig(out, dpi=100)
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", default="alp_gmm")
    ap.add_argument("--episodes", type=int, default=20_000)
    ap.add_argument("--panels", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="sampling.png")
    args = ap.parse_args()
    plot_sampling(args.teacher, args.episodes, args.panels, args.seed, out=args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
