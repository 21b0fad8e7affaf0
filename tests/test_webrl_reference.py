"""WebRL against facts of THUDM/WebRL's code (docs/references.md#webrl), each worked out by
hand from the reference, not read off our output:

- G1 ``scripts/gen_task.py``: a round takes ``min(10, number failed)`` failed tasks, drawn
  without replacement (``random.sample``), so distinct within the round; there are 2 rounds,
  each drawing afresh from all the failed tasks, so the two rounds of 25 failures share
  ``10 * 10 / 25 = 4`` seeds on average (a hypergeometric mean), and with 10 or fewer
  failures every failed task seeds both rounds;
- G2 ``scripts/gen_task.py``: only the file of *failed* instructions feeds the generator;
- F1 ``scripts/gen_task.py`` (``filter_by_critic``): a task is kept when
  ``0.05 <= v`` and ``0.75 >= v``, both comparisons inclusive;
- F2 ``scripts/gen_task.py`` / ``webrl/algorithms/webrl/trainer.py``: ``v`` is the softmax of
  a head's two logits, taken at class 1, and class 1 is the label of a positive return
  (success); logits ``(0, ln 3)`` give ``3 / (1 + 3) = 0.75`` and ``(0, -ln 19)`` give
  ``1 / (19 + 1) = 0.05``, the band's two edges;
- P1 (the paper, and ``gen_task.py``'s output holding only generated tasks): the next
  phase plays the filtered new tasks, which replace the previous set; a phase's seeds are
  the tasks failed in that phase.

Where our teacher differs (one group of seeds, one critic head, edits for an LLM, the
critic's data, phase length) is said in ``teachers/webrl.py``'s docstring.
"""

from __future__ import annotations

import inspect
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from envs.webform.form import make_task_space
from envs.webform.levels import FormTools
from teachers.base import Episode
from teachers.registry import make_teacher
from teachers.webrl import (WEBRL_GENERATION_TURNS, WEBRL_SEED_TASKS, WEBRL_SUCCESS_BAND, SuccessCritic, WebRL,
                            intermediate)

SPACE = make_task_space()
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "teacher" / "webrl.yaml"


class RecordingTools(FormTools):
    """The env's real form tools, noting which form each new form was edited from and what
    it became (the seed of every child, in the order the teacher asked)."""

    def __init__(self) -> None:
        self.seeds: list[str] = []
        self.children: list[str] = []

    def mutate(self, level, rng, n_edits=1, ops=None):  # type: ignore[override]
        child = super().mutate(level, rng, n_edits) if ops is None else super().mutate(level, rng, n_edits, ops)
        self.seeds.append(level)
        self.children.append(child)
        return child


def webrl(**kw) -> tuple[WebRL, RecordingTools]:
    teacher = make_teacher("webrl", SPACE, seed=kw.pop("seed", 0), **kw)
    tools = RecordingTools()
    teacher.form_tools = tools
    return teacher, tools


def play(teacher: WebRL, outcomes: list[bool]) -> list[str]:
    """Play one form per outcome; returns the levels played, in order."""
    levels = []
    for i, ok in enumerate(outcomes):
        task = teacher.sample()
        levels.append(task["level"])
        teacher.update(Episode(task=dict(task), episode_return=float(ok), length=5, success=ok, global_step=5 * (i + 1),
                               episode_id=i, level_id=task["level"]))
    return levels


def rounds(seeds: list[str], k: int, children: int) -> list[list[str]]:
    """The seeds of each round, one entry per seed (a seed's children are asked in a row)."""
    per_round = k * children
    assert len(seeds) % per_round == 0
    out = []
    for r in range(len(seeds) // per_round):
        block = seeds[r * per_round:(r + 1) * per_round]
        assert all(block[i] == block[i - i % children] for i in range(len(block)))  # `children` in a row
        out.append(block[::children])
    return out


# -- defaults -------------------------------------------------------------------------------
def test_config_and_class_defaults_are_the_references():
    params = yaml.safe_load(CONFIG.read_text())["params"]
    # gen_task.py: seed_num = 10, generation_turns = 2, filter_by_critic(threshold=[0.05, 0.75])
    assert (params["seed_tasks"], params["generation_turns"]) == (10, 2)
    assert (params["success_low"], params["success_high"]) == (0.05, 0.75)
    assert params["base_fraction"] == 0.0  # WebRL's phases play generated tasks only
    assert (WEBRL_SEED_TASKS, WEBRL_GENERATION_TURNS, WEBRL_SUCCESS_BAND) == (10, 2, (0.05, 0.75))
    defaults = {k: p.default for k, p in inspect.signature(WebRL.__init__).parameters.items()
                if p.default is not inspect.Parameter.empty and k != "seed"}
    assert defaults == params  # the config states the class's defaults, no more, no less


# -- G1, G2: seeds ------------------------------------------------------------------------
@pytest.mark.parametrize("n_failed", [3, 10, 25])
def test_each_round_seeds_min_10_distinct_failed_forms_and_there_are_2_rounds(n_failed):
    children = 2
    teacher, tools = webrl(phase_episodes=10_000, children_per_seed=children, seed=n_failed)
    failed = play(teacher, [False] * n_failed)
    assert len(set(failed)) == n_failed
    teacher.generate()
    k = min(10, n_failed)
    per_round = rounds(tools.seeds, k, children)
    assert len(per_round) == 2
    for seeds in per_round:
        assert len(seeds) == len(set(seeds)) == k  # without replacement within a round
        assert set(seeds) <= set(failed)
    if n_failed <= 10:  # each round takes every failed form
        assert Counter(tools.seeds) == {level: 2 * children for level in failed}


def test_the_two_rounds_draw_independently():
    # 25 failures, 10 seeds a round: each round is a fresh random.sample of all 25, so the
    # overlap of the two rounds is hypergeometric with mean 10 * 10 / 25 = 4 (variance
    # 10 * 0.4 * 0.6 * 15/24 = 1.5); rounds sharing a pool without repeats would overlap 0
    overlaps = []
    for seed in range(16):
        teacher, tools = webrl(phase_episodes=10_000, children_per_seed=1, seed=seed)
        play(teacher, [False] * 25)
        teacher.generate()
        first, second = rounds(tools.seeds, 10, 1)
        overlaps.append(len(set(first) & set(second)))
    assert abs(np.mean(overlaps) - 4.0) < 1.0  # 3.3 standard errors of a mean of 16


def test_only_failed_forms_seed():
    teacher, tools = webrl(phase_episodes=10_000, children_per_seed=1, seed=3)
    outcomes = [i % 3 == 0 for i in range(36)]  # 12 successes, 24 failures
    played = play(teacher, outcomes)
    succeeded = {level for level, ok in zip(played, outcomes) if ok}
    failed = {level for level, ok in zip(played, outcomes) if not ok}
    for _ in range(5):
        teacher.generate()
    assert set(tools.seeds) <= failed and not set(tools.seeds) & succeeded
    assert len(set(tools.seeds)) > 10  # five phases' worth of draws reach beyond one round


# -- F1, F2: the critic filter --------------------------------------------------------------
def test_the_band_keeps_both_edges_and_nothing_beyond():
    low, high = WEBRL_SUCCESS_BAND
    below, above = np.nextafter(low, 0.0), np.nextafter(high, 1.0)
    inside_low, inside_high = np.nextafter(low, 1.0), np.nextafter(high, 0.0)
    kept = intermediate([below, low, inside_low, 0.5, inside_high, high, above])
    assert kept.tolist() == [False, True, True, True, True, True, False]


@pytest.mark.parametrize("edge", [0.0, 1.0])
def test_a_phase_keeps_new_forms_whose_estimate_sits_on_the_bands_edge(edge):
    # a band of one point: an all-failure (all-success) window estimates exactly 0 (1) for
    # every new form, which the reference's inclusive comparisons keep; a strict one would not
    children = 2
    teacher, tools = webrl(phase_episodes=12, critic_window=4, children_per_seed=children, success_low=edge,
                           success_high=edge, seed=int(edge))
    n_failed = 12 if edge == 0.0 else 8  # the last 4 episodes, the critic's window, succeed when edge is 1
    play(teacher, [False] * n_failed + [True] * (12 - n_failed))
    assert teacher.phase == 1
    assert teacher.last["mean_estimate"] == edge
    assert teacher.last["generated"] == teacher.last["kept"] == 2 * min(10, n_failed) * children
    assert set(teacher.tasks.keys) == set(tools.children)


@pytest.mark.parametrize("z, expected", [(math.log(3.0), 0.75), (-math.log(19.0), 0.05), (0.0, 0.5)])
def test_the_estimate_is_the_success_class_of_a_two_class_softmax(z, expected):
    # a logistic regression is a two-class softmax with logits (0, z): P(class 1) = e^z / (1 + e^z)
    x = np.array([[0.0], [1.0], [0.0], [1.0]])
    critic = SuccessCritic().fit(x, np.array([0.0, 1.0, 1.0, 0.0]))
    critic.model.coef_ = np.zeros_like(critic.model.coef_)
    critic.model.intercept_ = np.array([z])
    assert critic.predict(np.array([[0.3]]))[0] == pytest.approx(expected, abs=1e-12)


def test_the_estimate_is_the_probability_of_success_not_of_failure():
    # trainer.py: class 1 = positive return = success. Forms with few fields succeed, forms
    # with many fail: the estimate must be high for a few-field form and low for a many-field one
    teacher, _ = webrl(phase_episodes=10_000, critic_window=400, seed=5)
    rng = np.random.default_rng(0)
    for i in range(300):
        task = SPACE.sample(rng)
        teacher.update(Episode(task=task, episode_return=0.0, length=5, success=task["n_fields"] <= 3, episode_id=i))
    easy = dict(SPACE.sample(rng), n_fields=1)
    hard = dict(SPACE.sample(rng), n_fields=int(SPACE.high[0]))
    estimates = teacher.critic().predict(np.array([SPACE.to_unit(easy), SPACE.to_unit(hard)]))
    assert estimates[0] > 0.75 and estimates[1] < 0.25


# -- P1: phases -----------------------------------------------------------------------------
def test_the_next_phase_plays_only_the_new_forms_seeded_by_its_own_failures():
    children = 1
    teacher, tools = webrl(phase_episodes=30, children_per_seed=children, success_low=0.0, success_high=0.0, seed=7)
    phase0 = play(teacher, [False] * 30)  # all fail: the estimate is 0, every new form is kept
    first = set(tools.children)
    assert teacher.phase == 1 and set(teacher.tasks.keys) == first and set(tools.seeds) <= set(phase0)
    tools.seeds.clear()
    tools.children.clear()
    phase1 = play(teacher, [False] * 30)
    assert set(phase1) <= first  # phase 1 plays the previous phase's kept forms, nothing else
    assert teacher.phase == 2 and set(tools.seeds) <= set(phase1)  # seeds: this phase's failures
    assert first - set(tools.children)  # forms of the old set that were not made again ...
    assert set(teacher.tasks.keys) == set(tools.children)  # ... are gone: the new set replaces the old
