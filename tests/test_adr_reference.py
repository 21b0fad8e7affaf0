"""ADR against TeachMyAgent's ``teachers/algos/adr.py`` and its benchmark settings
(docs/references.md#adr): facts worked out by hand from TMA's rules, not read off our output.

TMA's rules used below (``ADR.episodic_update`` / ``ADR.sample_task``, run with the defaults
of ``run_utils/teacher_args_handler.py``: boundary_sampling_p 0.7, step_size 0.1 in the env's
units, queue_len 10, reward thresholds 0 / 180 on raw returns):

- R1 the box starts as the point ``initial_dist["mean"]``;
- R2 after an episode, for each dimension i in order: if task[i] == cur_min[i] the return
  joins the lower queue, and if task[i] == cur_max[i] (the bound *before* this episode's
  update of dimension i) it joins the upper queue; both when the two bounds coincide;
- R3 a full queue (10) decides: mean >= 180 moves its bound outward by 0.1, clipped to the
  space; else mean <= 0 moves it inward by 0.1, never past the opposite (current) bound;
  the queue is emptied whatever the mean;
- R4 with probability 0.7 one dimension (uniform) is pinned: to either bound 50/50 unless
  both bounds sit on the space's edges, in which case it is not pinned.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from envs.task_space import TaskSpace
from teachers.adr import ADR
from teachers.base import Episode

# TMA's stump tracks (challenge "mostly feasible"): height [0, 3], spacing [0, 6]; TMA's
# high-EK easy task: height 0, spacing max (environment_args_handler.py)
SPACE = TaskSpace.box(["stump_height", "stump_spacing"], [0.0, 0.0], [3.0, 6.0])
EK = {"reward_thresholds": [0.0, 180.0], "initial": {"mean": {"stump_height": 0.0, "stump_spacing": 6.0}}}
TMA_STEP = {"stump_height": 0.1, "stump_spacing": 0.1}  # TMA's step_size 0.1, env units


def tma_adr(**kw) -> ADR:
    return ADR(SPACE, seed=kw.pop("seed", 0), expert=kw.pop("expert", EK), boundary_prob=0.7, queue_len=10,
               step_size=TMA_STEP, **kw)


def box(teacher: ADR) -> list[float]:
    """[height low, height high, spacing low, spacing high] in env units."""
    d = teacher.diagnostics()
    return [d["bound.stump_height.low"], d["bound.stump_height.high"],
            d["bound.stump_spacing.low"], d["bound.stump_spacing.high"]]


def play_one(teacher: ADR, episode_return: float) -> dict:
    task = teacher.sample()
    teacher.update(Episode(task=task, episode_return=episode_return, length=1))
    return task


def test_a_point_box_learns_from_every_episode_and_moves_by_tma_steps():
    """R1 + R2: while the box is the point (0, 6) every task is (0, 6), which equals both
    bounds of both dimensions, so every episode (pinned or not) joins all four queues.
    After 10 returns of 200 (>= 180), R3 expands all four bounds at once:
    height low max(0 - 0.1, 0) = 0 (clipped at the edge), height high min(0 + 0.1, 3) = 0.1,
    spacing low max(6 - 0.1, 0) = 5.9, spacing high min(6 + 0.1, 6) = 6 (clipped)."""
    teacher = tma_adr()
    for _ in range(9):
        assert play_one(teacher, 200.0) == {"stump_height": 0.0, "stump_spacing": 6.0}
    assert box(teacher) == [0.0, 0.0, 6.0, 6.0]  # 9 returns: no queue is full yet
    assert [len(q) for pair in teacher.queues for q in pair] == [9, 9, 9, 9]
    play_one(teacher, 200.0)
    assert box(teacher) == pytest.approx([0.0, 0.1, 5.9, 6.0], abs=1e-12)
    assert [len(q) for pair in teacher.queues for q in pair] == [0, 0, 0, 0]  # emptied


def test_a_failing_point_box_cannot_contract():
    """R3 at a point box (height 1.5, spacing 3), 10 returns of -10 (<= 0): the lower bound
    moves to min(1.5 + 0.1, cur_max 1.5) = 1.5, then the upper to max(1.5 - 0.1, cur_min
    1.5) = 1.5: the point stays where it is."""
    ek = {**EK, "initial": {"mean": {"stump_height": 1.5, "stump_spacing": 3.0}}}
    teacher = tma_adr(expert=ek)
    for _ in range(10):
        play_one(teacher, -10.0)
    assert box(teacher) == pytest.approx([1.5, 1.5, 3.0, 3.0], abs=1e-12)
    assert teacher.n_contract == 4  # four decisions, none able to move


def test_thresholds_are_inclusive_and_the_queue_resets_after_every_decision():
    """R3 on one bound (height high = 0.1 after the first expansion, spacing irrelevant):
    a mean of exactly 180 expands (0.1 -> 0.2); a mean of 100 decides nothing but still
    empties the queue, so 10 x 100 then 5 x 400 moves nothing (a sliding window of the
    last 10 would hold mean 250 and expand); a mean of exactly 0 contracts (0.2 -> 0.1)."""
    teacher = tma_adr()
    for _ in range(10):
        play_one(teacher, 200.0)  # the box becomes [0, 0.1] x [5.9, 6] (first test)

    def feed(returns: list[float]) -> None:
        """Give ``returns`` to tasks pinned to the height's upper bound, 100 (no decision)
        to every other task."""
        todo = deque(returns)
        while todo:
            task = teacher.sample()
            on_high = task["stump_height"] == pytest.approx(box(teacher)[1], abs=1e-12)
            teacher.update(Episode(task=task, episode_return=todo.popleft() if on_high else 100.0, length=1))

    feed([180.0] * 10)
    assert box(teacher)[1] == pytest.approx(0.2, abs=1e-12)
    feed([100.0] * 10 + [400.0] * 5)
    assert box(teacher)[1] == pytest.approx(0.2, abs=1e-12)
    assert len(teacher.queues[0][1]) == 5
    feed([400.0] * 5)  # the queue holds 5 x 400 + 5 x 400: mean 400, expands
    assert box(teacher)[1] == pytest.approx(0.3, abs=1e-12)
    feed([0.0] * 10)
    assert box(teacher)[1] == pytest.approx(0.2, abs=1e-12)
    assert box(teacher)[2:] == pytest.approx([5.9, 6.0], abs=1e-12)  # 100s elsewhere moved nothing


def test_contraction_stops_at_the_opposite_bound_and_expansion_at_the_edge():
    """R3's clipping: height box [1.5, 1.53]: a failing lower bound goes to
    min(1.5 + 0.1, 1.53) = 1.53; spacing box [0.05, 5.95]: a succeeding lower bound goes to
    max(0.05 - 0.1, 0) = 0 and a succeeding upper one to min(5.95 + 0.1, 6) = 6."""
    teacher = tma_adr()
    teacher.lower = np.array([1.5 / 3, 0.05 / 6])
    teacher.upper = np.array([1.53 / 3, 5.95 / 6])
    outcome = {(0, 0): -5.0, (1, 0): 300.0, (1, 1): 300.0}
    for (dim, side), ret in outcome.items():  # 9 returns already queued at each of the three bounds
        teacher.queues[dim][side].extend([ret] * 9)
    done: set = set()
    while len(done) < 3:  # the 10th return of each, 100 (no decision) for every other task
        task = teacher.sample()
        u = SPACE.to_unit(task)
        hits = [(i, s) for i in range(2) for s, b in ((0, teacher.lower), (1, teacher.upper)) if u[i] == b[i]]
        fresh = [h for h in hits if h in outcome and h not in done]
        teacher.update(Episode(task=task, episode_return=outcome[fresh[0]] if fresh else 100.0, length=1))
        done.update(fresh[:1])
    assert box(teacher) == pytest.approx([1.53, 1.53, 0.0, 6.0], abs=1e-9)


def test_a_dimension_spanning_the_space_is_never_pinned():
    """R4: height spans [0, 3] (both bounds on the edges) and spacing is the point 6. With
    boundary probability 1, a draw of the height pins nothing: its height is uniform
    inside (0, 3), never a bound; every task still sits on both spacing bounds (R2)."""
    teacher = ADR(SPACE, seed=3, expert=EK, boundary_prob=1.0, queue_len=10, step_size=TMA_STEP)
    teacher.lower = np.array([0.0, 1.0])
    teacher.upper = np.array([1.0, 1.0])
    heights = np.array([teacher.sample()["stump_height"] for _ in range(2000)])
    assert np.all((heights > 0.0) & (heights < 3.0))
    assert sorted({(dim, side) for _, dim, side in teacher.pending}) == [(1, 0), (1, 1)]
    assert len(teacher.pending) == 2 * 2000


def test_a_bound_on_one_edge_is_still_drawn_half_the_time():
    """R4: height bounds [0, 1.5] (only the lower on an edge): TMA pins either bound 50/50.
    With boundary probability 1 and the spacing spanning its whole range (never pinned),
    the half of the tasks that draw the height sit on each of its bounds with probability
    1/2: of 2000 tasks, ~500 on 0 and ~500 on 1.5."""
    teacher = ADR(SPACE, seed=4, expert=EK, boundary_prob=1.0, queue_len=10, step_size=TMA_STEP)
    teacher.lower = np.array([0.0, 0.0])
    teacher.upper = np.array([0.5, 1.0])
    heights = np.array([teacher.sample()["stump_height"] for _ in range(2000)])
    n_low, n_high = int(np.sum(heights == 0.0)), int(np.sum(heights == 1.5))
    sd = np.sqrt(2000 * 0.25 * 0.75)
    assert abs(n_low - 500) < 4 * sd and abs(n_high - 500) < 4 * sd
    assert n_low + n_high == len(teacher.pending)  # the spacing is never a tested bound


def test_tasks_in_flight_when_a_bound_moves_are_judged_by_the_new_bounds():
    """R2 compares the task with the bounds in force when its episode ends. 14 tasks drawn
    at the point (0, 6), then 10 returns of 200 move the box to [0, 0.1] x [5.9, 6] (first
    test). The 4 tasks still in flight are (0, 6): height 0 == cur_min 0 (clipped in
    place) and spacing 6 == cur_max 6 (clipped in place), but 0 != cur_max 0.1 and
    6 != cur_min 5.9: they join the height-low and spacing-high queues only."""
    teacher = tma_adr()
    tasks = [teacher.sample() for _ in range(14)]
    for task in tasks[:10]:
        teacher.update(Episode(task=task, episode_return=200.0, length=1))
    assert box(teacher) == pytest.approx([0.0, 0.1, 5.9, 6.0], abs=1e-12)
    for task in tasks[10:]:
        teacher.update(Episode(task=task, episode_return=50.0, length=1))
    assert [len(q) for pair in teacher.queues for q in pair] == [4, 0, 0, 4]


def test_the_step_is_in_env_units_like_tma():
    """TMA's step_size 0.1 is in task units: on [0, 3] x [0, 6] the first expansion from the
    point (1.5, 3) gives height [1.4, 1.6] and spacing [2.9, 3.1] (1/30 and 1/60 of the
    ranges), where a step of 0.1 of each range would give [1.2, 1.8] and [2.4, 3.6]."""
    ek = {**EK, "initial": {"mean": {"stump_height": 1.5, "stump_spacing": 3.0}}}
    teacher = tma_adr(expert=ek)
    for _ in range(10):
        play_one(teacher, 200.0)
    assert box(teacher) == pytest.approx([1.4, 1.6, 2.9, 3.1], abs=1e-12)
    fraction = ADR(SPACE, seed=0, expert=ek, step_size=0.1)
    for _ in range(10):
        play_one(fraction, 200.0)
    assert box(fraction) == pytest.approx([1.2, 1.8, 2.4, 3.6], abs=1e-12)


@pytest.mark.parametrize("experiment", ["tma_trivial", "tma_unfeasible", "tma_forgetting", "tma_rugged",
                                        "tma_variety", "tma_parkour"])
def test_tma_experiments_give_adr_tmas_settings(compose, experiment):
    """TMA's benchmark runs ADR with teacher_args_handler's defaults: step 0.1 in every task
    dimension's own units, queue 10, thresholds 0 / 180 (the env's expert block). On Parkour
    TMA's task vector also holds 2 fixed dimensions (creepers_width, terrain_cppn_scale) that
    take boundary draws without being pinned: each of the 6 real ones is pinned with
    probability 0.7 / 8, which is 0.525 / 6 here."""
    params = compose(f"experiment={experiment}", "teacher=adr").teacher.params
    names = ["input_vector_0", "input_vector_1", "input_vector_2", "water_level", "creepers_height",
             "creepers_spacing"] if experiment == "tma_parkour" else ["stump_height", "stump_spacing"]
    assert dict(params.step_size) == {n: 0.1 for n in names}
    assert params.queue_len == 10 and list(params.expert.reward_thresholds) == [0.0, 180.0]
    per_dim = params.boundary_prob / len(names)
    assert per_dim == pytest.approx(0.7 / 8 if experiment == "tma_parkour" else 0.7 / 2)
