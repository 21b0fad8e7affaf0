"""RIAC against facts of TeachMyAgent's ``RIAC`` (``TeachMyAgent/teachers/algos/riac.py``) and
its benchmark settings (``run_utils/teacher_args_handler.py``; docs/references.md#riac), each
worked out by hand from the reference:

- settings: ``--max_region_size 150 --nb_split_attempts 75 --min_dims_range_ratio 0.1``,
  ``min_region_size`` unset so ``150 / 20 = 7.5`` pairs per child, the ALP window unset so
  equal to 150, a quarter discarded (the constructor's ``discard_ratio``), all nodes sampled;
  no ``--scale_reward``: raw returns;
- a region's ALP over ``w = min(n, 150)`` newest rewards: ``|mean(r[-w:-w//2]) −
  mean(r[-w//2:])|``, 0 for ``n <= 2``;
- a full leaf (``> max_region_size`` pairs) keeps, of its random splits whose children hold
  ``min_region_size`` pairs each and span 10 % of every range, the one maximising
  ``len(sub_reg1) · len(sub_reg2) · |ALP₁ − ALP₂|``, where ``sub_reg`` is the two-item list
  ``[rewards, tasks]``: the product is the constant 4, not the children's populations;
- no valid split: the oldest ``int(max_region_size · 1/4)`` pairs go;
- ``sample_task``: ``rand() < 0.1`` perturbs a region's lowest-reward task (``np.argmin``:
  the oldest on ties) by N(0, 0.1) in the env's units and clips it 1e-5 inside the region,
  ``< 0.3`` a uniform task, else a region ∝ ALP (uniform over regions when all ALPs are 0,
  ``proportional_choice``) and a uniform task inside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from envs.errors import TeachBenchError
from envs.task_space import TaskSpace
from teachers.base import Episode
from teachers.riac import RIAC, Region

LINE = TaskSpace.box(["x"], [0.0], [1.0])
STUMPS = TaskSpace.box(["stump_height", "stump_spacing"], [0.0, 0.0], [3.0, 6.0])
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "teacher" / "riac.yaml"
PER_TEACHER = Path(__file__).resolve().parents[1] / "configs" / "per_teacher"


def play(t: RIAC, task, r: float) -> None:
    t.update(Episode(task=task, episode_return=r, length=1))


def test_the_config_is_tma_benchmark_settings():
    """TMA's argument parser: 150 pairs, 75 attempts, ratio 0.1 (the class's own defaults,
    200 / 50 / 1/6, are not what the benchmark ran); unset ``min_region_size`` is
    ``maxlen / 20`` = 7.5 and the unset window is ``maxlen``; the sampling thresholds 0.1 and
    0.3 are hard-coded (10 % perturbed, 20 % uniform, 70 % ALP)."""
    params = yaml.safe_load(CONFIG.read_text())["params"]
    t = RIAC(STUMPS, **params)
    assert (t.max_region_size, t.n_split_attempts, t.min_region_extent) == (150, 75, 0.1)
    assert t.min_region_size == 7.5 and t.discard_ratio == 0.25 and not t.sampling_in_leaves_only
    assert (t.p_alp, t.p_random) == (0.7, 0.2) and 1.0 - t.p_alp - t.p_random == pytest.approx(0.1)


@pytest.mark.parametrize("experiment", ["tma_unfeasible", "tma_trivial", "tma_forgetting", "tma_variety",
                                        "tma_rugged", "tma_parkour", "tma_hexagon"])
def test_tma_experiments_perturb_by_a_tenth_in_env_units(experiment):
    """TMA's ``normal(task, 0.1)`` acts on the env's own parameters, on every dimension."""
    from envs.parkour.parkour_env import TASK_NAMES
    from envs.walker.hexagon import NAMES

    params = yaml.safe_load((PER_TEACHER / experiment / "riac.yaml").read_text())["teacher"]["params"]
    assert set(params) == {"perturb_std"} and set(params["perturb_std"].values()) == {0.1}
    names = {"tma_parkour": TASK_NAMES, "tma_hexagon": NAMES}.get(experiment, STUMPS.names)
    RIAC(TaskSpace.box(list(names), [0.0] * len(names), [4.0] * len(names)), **params)  # one std per dimension


def test_region_alp_is_the_windowed_half_difference():
    """Hand values of ``compute_alp`` on one region (the root of a teacher that never fills):
    - [4, 2, 1, 1, 1]: w 5, half 2: |mean(4, 2, 1) − mean(1, 1)| = 4/3;
    - [0, 3, 6]: |mean(0, 3) − 6| = 4.5;  [7, 9]: two rewards, 0;
    - 50 × 5, 25 × 0, 75 × 1 (150, the window): |mean(50 × 5, 25 × 0) − 1| = 250/75 − 1."""
    cases = [([4.0, 2.0, 1.0, 1.0, 1.0], 4.0 / 3.0), ([0.0, 3.0, 6.0], 4.5), ([7.0, 9.0], 0.0),
             ([5.0] * 50 + [0.0] * 25 + [1.0] * 75, 250.0 / 75.0 - 1.0)]
    for rewards, alp in cases:
        t = RIAC(LINE, seed=0)
        for i, r in enumerate(rewards):
            play(t, {"x": (i % 97) / 97}, r)
        assert len(t.regions) == 1 and t.regions[0].alp == pytest.approx(alp)
        assert t.region_probabilities() == pytest.approx([1.0])


def test_a_parent_reads_its_newest_150_of_151():
    """A parent's deque holds ``maxlen + 1`` = 151 pairs and ``compute_alp`` reads
    ``min(151, 150)`` = 150 of them: the 151st-newest reward is outside the window. Played:
    151 pairs that split the root, then 151 more whose rewards are 1000 once, then 75 × 0
    and 75 × 1: the root's ALP is |0 − 1| = 1, not what the 1000 would give."""
    t = RIAC(LINE, seed=0)
    rng = np.random.default_rng(0)
    for i in range(151):
        play(t, {"x": float(rng.random())}, float(i % 5))
    assert t.n_splits == 1
    for r in [1000.0] + [0.0] * 75 + [1.0] * 75:
        play(t, {"x": float(rng.random())}, r)
    root = t.regions[0]
    assert len(root.rewards) == 151 and root.rewards[0] == 1000.0
    assert root.alp == pytest.approx(1.0)


# A hand-made leaf of 21 pairs on [0, 1] (max_region_size 20: min_region_size 20/20 = 1),
# played oldest first as (x, reward): S = three tasks at x <= 0.09, M = seven in [0.15, 0.45],
# R = eleven in [0.55, 0.95]. By hand, with the lower child x <= threshold (k tasks):
# - k = 3 (S | M+R): ALP(S) = |mean(0, 0) − 3| = 3; M+R's older nine (M's 0, 0, 0, 2, 2 and
#   R1..R4) and newer nine (M's 2, 2 and R5..R11) both average 4/9: ALP 0. |Δ| = 3;
# - k = 10 (S+M | R): older five 0, newer five (3, 2, 2, 2, 2): ALP 11/5; R constant: 0. |Δ| = 2.2;
# - every other k: |Δ| <= 1.92 (k = 9: |9/4 − 1/3|); k = 1, 2, 20 leave a child narrower than 0.1.
# TMA's constant weight picks k = 3; weighting by the populations n1·n2 would pick k = 10
# (10·11·2.2 = 242 against 3·18·3 = 162).
S = [(0.03, 0.0), (0.06, 0.0)]
M_OLD = [(0.15, 0.0), (0.20, 0.0), (0.25, 0.0)]
R = [(0.55 + 0.04 * i, 0.0) for i in range(11)]
BUFFER = (S + M_OLD + [(0.09, 3.0), (0.30, 2.0), (0.35, 2.0)] + R[:4] + [(0.40, 2.0), (0.45, 2.0)] + R[4:])


def split_buffer(buffer, **kwargs) -> RIAC:
    t = RIAC(LINE, seed=0, max_region_size=20, n_split_attempts=400, **kwargs)
    for x, r in buffer:
        play(t, {"x": x}, r)
    assert t.n_splits == 1 and len(t.regions) == 3
    return t


def test_split_maximises_the_alp_difference_not_weighted_by_populations():
    t = split_buffer(BUFFER)
    low, high = t.regions[1:]
    # the threshold lies between S and M, and at least 0.1 from the region's face
    assert 0.1 <= low.high[0] < 0.15 and high.low[0] == low.high[0]
    assert sorted(low.rewards) == [0.0, 0.0, 3.0] and len(high.rewards) == 18


def test_split_children_hold_min_region_size_pairs():
    """``min_region_size 4`` rules out k = 3 (and k >= 18): of the rest, k = 10 has the
    largest |Δ| (2.2), so the threshold lies in [0.45, 0.55)."""
    t = split_buffer(BUFFER, min_region_size=4)
    low, high = t.regions[1:]
    assert 0.45 <= low.high[0] < 0.55 and len(low.rewards) == 10 and len(high.rewards) == 11


def test_split_children_span_a_tenth_of_the_range():
    """M's first task at 0.095 instead of 0.15: the same ALPs, but every threshold of k = 3
    lies in [0.09, 0.095), so the lower child would be narrower than 0.1: k = 10 wins."""
    moved = [(0.095, r) if (x, r) == (0.15, 0.0) else (x, r) for x, r in BUFFER]
    t = split_buffer(moved)
    assert 0.45 <= t.regions[1].high[0] < 0.55


def test_a_split_with_no_alp_difference_is_still_taken():
    """TMA starts ``best_split_score`` at 0 and keeps an attempt when ``score >= best``: with
    every reward equal each valid attempt scores 0 and the leaf splits (a strict ``>`` would
    discard instead)."""
    t = RIAC(LINE, seed=0, max_region_size=20)
    for i in range(21):
        play(t, {"x": (i + 0.5) / 21}, 1.0)
    assert t.n_splits == 1 and t.n_discards == 0 and len(t.regions) == 3


def test_no_valid_split_drops_the_oldest_quarter_then_keeps_every_pair():
    """max_region_size 8, every task within 0.05 of the origin (no child can span 0.1): the
    ninth pair finds no valid split and ``islice(r, int(8/4), 9)`` keeps pairs 2..8; the
    deque rebuilt by ``deque(islice(...))`` has no bound, so the region fills to 9 again and
    discards 2 more: pairs 4..10. Two pairs at 0.5 and 0.6 fill it again and it splits; as
    a parent it keeps every later pair (a bounded deque would keep 9): 7 + 2 + 20 = 29."""
    t = RIAC(LINE, seed=0, max_region_size=8)
    for i in range(11):
        play(t, {"x": 0.005 * i}, float(i))
    assert t.n_splits == 0 and t.n_discards == 2
    assert t.regions[0].rewards == [float(i) for i in range(4, 11)]
    for x in [0.5, 0.6] + [0.7] * 20:
        play(t, {"x": x}, 0.0)
    assert t.n_splits >= 1 and len(t.regions[0].rewards) == 29


def tree(alps: list[float], lowest=(0.0, 0.0), **kwargs) -> RIAC:
    """Root [0, 1] cut at 0.2 into low [0, 0.2] and high [0.2, 1] with the given ALPs; each
    region's pairs: one at 0.1 and one at 0.75 in the root, one in each leaf."""
    t = RIAC(LINE, seed=1, **kwargs)
    pt = [np.array([0.1]), np.array([0.75])]
    root = Region(np.array([0.0]), np.array([1.0]), list(pt), list(lowest), children=[1, 2], alp=alps[0])
    low = Region(np.array([0.0]), np.array([0.2]), [pt[0]], [lowest[0]], parent=0, dim=0, alp=alps[1])
    high = Region(np.array([0.2]), np.array([1.0]), [pt[1]], [lowest[1]], parent=0, dim=0, alp=alps[2])
    t.regions = [root, low, high]
    t._reindex()
    return t


def share_below(t: RIAC, x: float, n: int = 20000) -> float:
    xs = np.array([t.sample()["x"] for _ in range(n)])
    return float((xs < x).mean())


def test_alp_mode_is_proportional_over_all_nodes_and_uniform_when_all_are_zero():
    """``proportional_choice`` over the root and both leaves. ALPs 1, 1, 2: regions 1/4, 1/4,
    1/2, P(x < 0.2) = 1/4 · 0.2 + 1/4 · 1 + 0 = 0.3. All ALPs 0: ``randint`` over the three,
    P(x < 0.2) = (0.2 + 1 + 0) / 3 = 0.4 (uniform over the cube would give 0.2, over the
    leaves 0.5)."""
    for alps, expected in (([1.0, 1.0, 2.0], 0.3), ([0.0, 0.0, 0.0], 0.4)):
        t = tree(alps)
        t.p_alp, t.p_random = 1.0, 0.0
        assert share_below(t, 0.2) == pytest.approx(expected, abs=0.012)


def test_the_three_modes_have_tma_probabilities():
    """Only ``high`` has ALP; its lowest-reward task is 0.75 and the perturbation std is tiny:
    the perturbed mode (rand < 0.1) returns 0.75 itself, the uniform mode (0.1 <= rand < 0.3)
    falls below 0.2 a fifth of the time, the ALP mode never. P(x = 0.75) = 0.1 + 0 and
    P(x < 0.2) = 0.2 · 0.2 = 0.04."""
    t = tree([0.0, 0.0, 1.0], perturb_std=1e-12)
    xs = np.array([t.sample()["x"] for _ in range(20000)])
    assert float(np.isclose(xs, 0.75, rtol=0.0, atol=1e-9).mean()) == pytest.approx(0.1, abs=0.007)
    assert float((xs < 0.2).mean()) == pytest.approx(0.04, abs=0.005)


def test_perturbation_centres_on_the_oldest_lowest_reward_task():
    """``np.argmin`` returns the first minimum: rewards (1, 0, 5, 0) at 0.1, 0.3, 0.5, 0.7
    perturb 0.3 (the older 0), not 0.7."""
    t = RIAC(LINE, seed=0, p_alp=0.0, p_random=0.0, perturb_std=1e-12)
    for x, r in ((0.1, 1.0), (0.3, 0.0), (0.5, 5.0), (0.7, 0.0)):
        play(t, {"x": x}, r)
    assert {round(t.sample()["x"], 9) for _ in range(50)} == {0.3}


def test_perturbation_in_env_units_as_tma_on_stump_tracks():
    """With TMA's ``{dim: 0.1}``: N(task, 0.1) in height and in spacing (a std of 1/30 and
    1/60 of the ranges), clipped 1e-5 inside the region, in env units: a worst task on the
    cube's corner (0, 0) lands on (1e-5, 1e-5) when the draw falls outside, i.e. half the
    time per dimension."""
    std = {"stump_height": 0.1, "stump_spacing": 0.1}
    t = RIAC(STUMPS, seed=0, p_alp=0.0, p_random=0.0, perturb_std=std)
    play(t, {"stump_height": 1.5, "stump_spacing": 3.0}, 0.0)
    tasks = np.array([[d["stump_height"], d["stump_spacing"]] for d in (t.sample() for _ in range(4000))])
    assert tasks.mean(0) == pytest.approx([1.5, 3.0], abs=0.01)
    assert tasks.std(0) == pytest.approx([0.1, 0.1], rel=0.05)
    corner = RIAC(STUMPS, seed=0, p_alp=0.0, p_random=0.0, perturb_std=std)
    play(corner, {"stump_height": 0.0, "stump_spacing": 0.0}, 0.0)
    tasks = np.array([[d["stump_height"], d["stump_spacing"]] for d in (corner.sample() for _ in range(4000))])
    assert tasks.min() == pytest.approx(1e-5, abs=1e-12)
    assert (tasks == tasks.min(0)).mean(0) == pytest.approx([0.5, 0.5], abs=0.03)
    with pytest.raises(TeachBenchError, match="teacher.perturb_std"):
        RIAC(STUMPS, perturb_std={"stump_height": 0.1})


def test_returns_reach_the_regions_raw():
    """TMA's benchmark does not pass ``--scale_reward``: the ALP is on raw returns (here
    -100 and 300 on a track: |mean(-100, -100) − 300| = 400)."""
    t = RIAC(STUMPS, seed=0)
    for r in (-100.0, -100.0, 300.0):
        play(t, {"stump_height": 1.0, "stump_spacing": 2.0}, r)
    assert t.regions[0].alp == pytest.approx(400.0)
