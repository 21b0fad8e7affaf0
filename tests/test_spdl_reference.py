"""SPDL against TeachMyAgent's ``teachers/algos/self_paced_teacher.py``, its
``utils/alpha_functions.py`` / ``utils/conjugate_gradient.py`` and its benchmark script
(``benchmark_scripts/full_benchmark_Self-Paced.txt``: ``--sp_update_offset 200000
--sp_update_frequency 50000 --alpha_offset 10 --zeta 0.25 --max_kl 0.1
--use_avg_performance``; docs/references.md#spdl). Facts worked out by hand from TMA's code.

TMA's rules used below:

- S1 ``step_update``: an update at every step with ``step >= update_offset and
  step % update_frequency == 0`` if an episode ended since the last one; the buffers (the
  contexts, at most 1000, the newest, and the episodes' discounted returns) are emptied
  only by an update;
- S2 ``algorithm_iterations`` is incremented before alpha is computed, and
  ``PercentageAlphaFunction(offset=alpha_offset, percentage=zeta)`` gives 0 while
  ``iteration < offset``, else ``min(zeta * max(P, 0) / max(KL(p || target), 1e-10), 1e5)``,
  ``P`` the mean discounted return since the last update (``use_avg_performance``);
- S3 ``cg_step``: a zero gradient skips the update; otherwise one natural-gradient step of
  the objective ``mean(ratio * V) - alpha * KL(p || target)``, scaled so that
  ``1/2 s^T (F + 0.01 I) s = max_kl`` (F the Fisher matrix of KL(p_old || p) at p_old),
  accepted when its KL is at most 1.5 max_kl.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from envs.task_space import TaskSpace
from teachers.base import Episode
from teachers.spdl import SPDL

LINE = TaskSpace.box(["x"], [0.0], [10.0])
EK = {"initial": {"mean": {"x": 2.0}, "std": {"x": 1.0}}, "target": {"mean": {"x": 7.0}, "std": {"x": 1.0}}}


def mean_std(teacher: SPDL) -> tuple[float, float]:
    d = teacher.diagnostics()
    return d["mean.x"], d["std.x"]


def episode(teacher: SPDL, step: int, length: int, value: float, disc: float) -> None:
    teacher.update(Episode(task=teacher.sample(), episode_return=disc, length=length, global_step=step,
                           value=value, extra={"discounted_return": disc}))


@pytest.mark.parametrize("optimizer", ["natural_gradient", "slsqp"])
def test_no_pull_before_the_tenth_update_then_one_trust_region_step_toward_the_target(optimizer):
    """Values 0, discounted returns 1, one 100-step episode per update.
    S2: updates 1..9 have alpha 0, so the objective is 0 and its gradient too: S3 skips them,
    N(2, 1) stays. The 10th: alpha = 0.25 * 1 / KL(N(2,1) || N(7,1)) = 0.25 / 12.5 = 0.02, and
    the objective is -alpha * KL(p || N(7, 1)), whose gradient has no std component at
    std 1 (d/ds [log(1/s) + s^2/2] = 0 at s = 1), so the natural-gradient step moves the mean
    alone: the Fisher entry of the mean is 1, CG solves (1 + 0.01) s = g, and scaling to
    1/2 * 1.01 * s^2 = 0.1 gives s = sqrt(0.2 / 1.01) = 0.444994 toward 7 (KL(old || new) =
    s^2 / 2 = 0.0990 <= 0.15: accepted): mean 2.444994, std 1 (TMA's cg_step run on this
    case gives 2.4449942).
    SLSQP's exact constrained optimum: the std term log(1/s) + s^2/2 is smallest at s = 1 in
    both the objective and the constraint, so the mean moves to the edge, 2 + sqrt(0.2)."""
    teacher = SPDL(LINE, seed=0, expert=EK, offset=100, update_period=100, alpha_offset=10, zeta=0.25,
                   max_kl=0.1, min_contexts=1, optimizer=optimizer)
    for k in range(1, 10):
        episode(teacher, 100 * k, 100, value=0.0, disc=1.0)
        assert teacher.n_iterations == k and teacher.alpha == 0.0
        assert mean_std(teacher) == pytest.approx((2.0, 1.0), abs=1e-9)
    episode(teacher, 1000, 100, value=0.0, disc=1.0)
    assert teacher.n_iterations == 10
    assert teacher.alpha == pytest.approx(0.02, rel=1e-9)
    mean, std = mean_std(teacher)
    if optimizer == "natural_gradient":
        assert mean == pytest.approx(2.0 + math.sqrt(0.2 / 1.01), abs=1e-9)
        assert std == pytest.approx(1.0, abs=1e-9)
        assert teacher.diagnostics()["kl_last_step"] == pytest.approx(0.1 / 1.01, rel=1e-9)
    else:
        assert mean == pytest.approx(2.0 + math.sqrt(0.2), abs=1e-5)
        assert std == pytest.approx(1.0, abs=1e-5)


def test_the_natural_gradient_step_is_taken_in_the_envs_units():
    """S3 in TMA's parameters (env units): the CG damping 0.01 is added to the Fisher matrix
    there. Same case as above on x in [0, 100] with N(20, 10) -> N(70, 10): the mean's Fisher
    entry is 1/10^2 = 0.01, so CG solves (0.01 + 0.01) s = g and the scaled step is
    1/2 * 0.02 * s^2 = 0.1, s = sqrt(10) = 3.1623 (KL(old || new) = s^2 / 200 = 0.05): mean
    23.1623. In the unit cube (damping added to 1/0.1^2 = 100) it would be 4.4699."""
    line = TaskSpace.box(["x"], [0.0], [100.0])
    ek = {"initial": {"mean": {"x": 20.0}, "std": {"x": 10.0}}, "target": {"mean": {"x": 70.0}, "std": {"x": 10.0}}}
    teacher = SPDL(line, seed=0, expert=ek, offset=100, update_period=100, alpha_offset=1, min_contexts=1)
    episode(teacher, 100, 100, value=0.0, disc=1.0)
    mean, std = mean_std(teacher)
    assert mean == pytest.approx(20.0 + math.sqrt(10.0), abs=1e-9) and std == pytest.approx(10.0, abs=1e-9)


def test_alpha_uses_every_discounted_return_since_the_last_update():
    """S1 + S2 with alpha_offset 1 (the first update already pulls): offset 300, period 100,
    50-step episodes with discounted returns 1..6 end at steps 50..300. Nothing empties the
    buffers before the first update at step 300, so P = mean(1..6) = 3.5 and alpha =
    0.25 * 3.5 / 12.5 = 0.07. Then 2 more episodes (returns 10, 20) before the update at
    400: P = 15, and alpha = 0.25 * 15 / KL(p_1 || N(7, 1)), p_1 the Gaussian after the
    first update (its KL from the 1-D closed form)."""
    teacher = SPDL(LINE, seed=1, expert=EK, offset=300, update_period=100, alpha_offset=1, zeta=0.25,
                   max_kl=0.1, min_contexts=1)
    for k in range(1, 7):
        episode(teacher, 50 * k, 50, value=0.0, disc=float(k))
    assert teacher.n_iterations == 1
    assert teacher.alpha == pytest.approx(0.07, rel=1e-9)
    mean, std = mean_std(teacher)
    kl_1 = math.log(1.0 / std) + (std**2 + (mean - 7.0) ** 2) / 2.0 - 0.5  # KL(N(mean, std) || N(7, 1))
    episode(teacher, 350, 50, value=0.0, disc=10.0)
    episode(teacher, 400, 50, value=0.0, disc=20.0)
    assert teacher.n_iterations == 2
    assert teacher.alpha == pytest.approx(0.25 * 15.0 / kl_1, rel=1e-6)


def test_alpha_clamps():
    """S2's clamps: the initial Gaussian equal to the target gives KL 0 -> 1e-10, and alpha
    min(0.25 * 2 / 1e-10, 1e5) = 1e5; a negative performance gives alpha 0."""
    same = {"initial": EK["target"], "target": EK["target"]}
    teacher = SPDL(LINE, seed=2, expert=same, offset=100, update_period=100, alpha_offset=1, min_contexts=1)
    episode(teacher, 100, 100, value=0.0, disc=2.0)
    assert teacher.alpha == 1e5
    teacher = SPDL(LINE, seed=2, expert=EK, offset=100, update_period=100, alpha_offset=1, min_contexts=1)
    episode(teacher, 100, 100, value=0.0, disc=-5.0)
    assert teacher.n_iterations == 1 and teacher.alpha == 0.0


def test_updates_fall_on_the_multiples_of_the_period_from_the_offset():
    """S1 with offset 2,000 and period 500: updates at steps 2000, 2500, ..., 30000, i.e.
    (30000 - 2000) / 500 + 1 = 57 of them in 100 episodes of 300 steps (each interval of
    500 steps holds an episode end). A schedule counted from each update instead (every
    500 steps after the episode end that updated: 2100, 2700, 3300, ...) would give 47."""
    teacher = SPDL(LINE, seed=3, expert=EK, offset=2000, update_period=500, alpha_offset=10**6, min_contexts=1)
    for k in range(1, 101):
        episode(teacher, 300 * k, 300, value=1.0, disc=1.0)
        if 300 * k < 2000:
            assert teacher.n_iterations == 0
    assert teacher.n_iterations == 57


def test_an_update_sees_the_newest_1000_contexts_only():
    """S1: TMA's context buffer keeps the newest 1000. 1,500 one-step episodes before the
    first update (offset = period = 1,500): the first 500 have value 100 above the mean
    (which alone would pull the mean up), the last 1,000 value 0. TMA's update sees only
    the zeros: with alpha 0 (alpha_offset 10) the gradient is 0 and S3 skips the step."""
    teacher = SPDL(LINE, seed=4, expert=EK, offset=1500, update_period=1500, min_contexts=1)
    for k in range(1, 1501):
        task = teacher.sample()
        value = 100.0 if (k <= 500 and task["x"] > 2.0) else 0.0
        teacher.update(Episode(task=task, episode_return=value, length=1, global_step=k, value=value))
    assert teacher.n_iterations == 1
    assert mean_std(teacher) == pytest.approx((2.0, 1.0), abs=1e-9)


def test_config_holds_tmas_benchmark_settings():
    """configs/teacher/spdl.yaml and the class defaults: TMA's benchmark command line."""
    cfg = OmegaConf.load(Path(__file__).parents[1] / "configs" / "teacher" / "spdl.yaml")
    params = OmegaConf.to_container(OmegaConf.merge({"env": {}}, {"t": cfg}).t.params, resolve=True)
    assert params["offset"] == 200_000 and params["update_period"] == 50_000
    assert params["alpha_offset"] == 10 and params["zeta"] == 0.25 and params["max_kl"] == 0.1
    assert params["std_lower_bound"] is None
    teacher = SPDL(LINE, seed=0, expert=EK)
    assert teacher.use_avg_performance is True and teacher.max_contexts == 1000
    assert teacher.optimizer == "natural_gradient" and params["optimizer"] == "natural_gradient"
    assert teacher.next_update == 200_000  # the first multiple of 50k at or after 200k
    assert np.allclose(teacher.cov, (1.0 / 10.0) ** 2)  # the initial std, in the unit cube
