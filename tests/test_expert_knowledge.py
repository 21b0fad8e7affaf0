"""Expert-knowledge levels (teachers/expert.py, teachers/protocol.py) against TeachMyAgent.

Facts of TMA's ``run_utils/teacher_args_handler.py`` (the benchmark's ``--allow_expert_knowledge``):
ADR raises without EK ("needs at least reward thresholds") and takes ``initial_dist`` only at
high (else ``get_or_create_dist`` draws a random start); GoalGAN and Setter-Solver raise at
``no`` ("needs at least a success definition"), GoalGAN pretrains on ``initial_dist`` only at
high (else on TMA's random Gaussian: the benchmark scripts pass --use_pretrained_samples at
every level); ALP-GMM and Covar-GMM get ``initial_dist`` (their bootstrap) only at high; RIAC and
Random get nothing. TMA's stump ``initial_dist``: mean (height 0, spacing max), std 10% of
each range; its default target when none is given: mean at the centre, std range/4.
"""

from __future__ import annotations

import numpy as np
import pytest

from envs.errors import TeachBenchError
from envs.task_space import TaskSpace
from teachers import Episode
from teachers.expert import TMA_LEVELS, for_level, level_grants, parse_level
from teachers.protocol import ExpertBootstrap, make_protocol_teacher

STUMPS = TaskSpace.box(["stump_height", "stump_spacing"], [0.0, 0.0], [3.0, 6.0])
EK = {
    "success": 230.0,
    "reward_thresholds": [0.0, 180.0],
    "initial": {"mean": {"stump_height": 0.0, "stump_spacing": 6.0}, "std": {"stump_height": 0.3, "stump_spacing": 0.6}},
    "target": {"mean": {"stump_height": 1.5, "stump_spacing": 3.0}, "std": {"stump_height": 0.75, "stump_spacing": 1.5}},
}
# Which TMA teachers run at each level (teacher_args_handler.py).
RUNS = {
    "no": {"random", "riac", "alp_gmm", "covar_gmm", "spdl"},
    "low": {"random", "riac", "alp_gmm", "covar_gmm", "spdl", "adr", "goal_gan", "setter_solver"},
    "high": {"random", "riac", "alp_gmm", "covar_gmm", "spdl", "adr", "goal_gan", "setter_solver"},
}
CHEAP = {"goal_gan": {"pretrain_iterations": 5, "n_gan_iterations": 5}, "setter_solver": {"n_train_steps": 2}}


@pytest.mark.parametrize("level", ["no", "low", "high"])
def test_which_teachers_run_at_each_level(level):
    assert {t for t in TMA_LEVELS if TMA_LEVELS[t][level] is not None} == RUNS[level]
    for name in TMA_LEVELS:
        if name in RUNS[level]:
            teacher = make_protocol_teacher(name, STUMPS, seed=0, params=CHEAP.get(name), expert_knowledge=level,
                                            env_expert=EK)
            assert STUMPS.contains(teacher.sample())
        else:
            with pytest.raises(TeachBenchError, match="expert_knowledge") as err:
                make_protocol_teacher(name, STUMPS, seed=0, params=CHEAP.get(name), expert_knowledge=level,
                                      env_expert=EK)
            assert "cannot run without expert knowledge" in str(err.value)


def test_teachers_tma_does_not_have_run_at_every_level():
    for level in ("no", "low", "high"):
        assert level_grants("plr", level) == ()
        assert make_protocol_teacher("plr", STUMPS, expert_knowledge=level, env_expert=EK).name == "plr"


def test_alp_gmm_at_high_bootstraps_from_the_easy_gaussian():
    def first_tasks(level):
        t = make_protocol_teacher("alp_gmm", STUMPS, seed=1, params={"preset": "tma2021"}, expert_knowledge=level,
                                  env_expert=EK)
        out = []
        for i in range(200):
            task = t.sample()
            out.append([task["stump_height"], task["stump_spacing"]])
            t.update(Episode(task=task, episode_return=float(i % 7), length=1))
        return t, np.array(out)

    high, tasks = first_tasks("high")
    assert isinstance(high, ExpertBootstrap) and high.inner.fit_rate == 150  # TMA: nb_bootstrap = fit_rate
    boot = tasks[:150]
    # N(0, 0.3) and N(6, 0.6) clipped to the box (TMA: np.clip): half of each lands on the bound,
    # and the clipped mean is 0 + 0.3 / sqrt(2 pi) = 0.12, 6 - 0.6 / sqrt(2 pi) = 5.76
    assert np.all(boot[:, 0] <= 0.3 * 5) and np.all(boot[:, 1] >= 6 - 0.6 * 5)
    assert 0.35 < np.mean(boot[:, 0] == 0.0) < 0.65 and 0.35 < np.mean(boot[:, 1] == 6.0) < 0.65
    assert abs(boot[:, 0].mean() - 0.3 / np.sqrt(2 * np.pi)) < 0.05
    assert abs(boot[:, 1].mean() - (6 - 0.6 / np.sqrt(2 * np.pi))) < 0.1
    assert high.diagnostics()["expert_bootstrap_tasks"] == 150 and high.diagnostics()["sampled"] == 200
    assert high.inner.n_fits == 1  # after the bootstrap the GMM fits and samples as usual
    _, uniform = first_tasks("no")
    assert uniform[:150, 1].mean() < 4.5 and uniform[:150, 0].max() > 2.0  # uniform over the box at no/low


def test_covar_gmm_bootstraps_only_at_high():
    assert isinstance(make_protocol_teacher("covar_gmm", STUMPS, expert_knowledge="high", env_expert=EK), ExpertBootstrap)
    for level in ("no", "low"):
        assert not isinstance(make_protocol_teacher("covar_gmm", STUMPS, expert_knowledge=level, env_expert=EK),
                              ExpertBootstrap)


def test_adr_start_point_and_thresholds():
    high = make_protocol_teacher("adr", STUMPS, seed=0, expert_knowledge="high", env_expert=EK)
    assert high.sample() == {"stump_height": 0.0, "stump_spacing": 6.0}  # the easy point
    assert (high.t_low, high.t_high) == (0.0, 180.0)
    starts = []
    for seed in range(3):
        low = make_protocol_teacher("adr", STUMPS, seed=seed, expert_knowledge="low", env_expert=EK)
        assert (low.t_low, low.t_high) == (0.0, 180.0)
        starts.append(STUMPS.to_unit(low.sample()))
    # a uniformly random start (TMA's get_or_create_dist(None, subspace=True)), seeded
    assert len({tuple(np.round(s, 6)) for s in starts}) == 3
    again = make_protocol_teacher("adr", STUMPS, seed=2, expert_knowledge="low", env_expert=EK)
    np.testing.assert_allclose(STUMPS.to_unit(again.sample()), starts[2])


def test_spdl_gets_tma_s_defaults_below_high_and_the_expert_gaussians_at_high():
    for level in ("no", "low"):
        ek = for_level("spdl", level, EK, STUMPS, seed=0)
        np.testing.assert_allclose(ek.initial.std, [0.1, 0.1])   # 10% of each range
        np.testing.assert_allclose(ek.target.mean, [0.5, 0.5])   # the centre
        np.testing.assert_allclose(ek.target.std, [0.25, 0.25])  # range / 4
        assert ek.success is None and ek.reward_thresholds is None
    high = for_level("spdl", "high", EK, STUMPS)
    np.testing.assert_allclose(high.initial.mean, [0.0, 1.0])
    np.testing.assert_allclose(high.initial.std, [0.1, 0.1])
    np.testing.assert_allclose(high.target.std, [0.25, 0.25])
    no_target = {k: v for k, v in EK.items() if k != "target"}
    np.testing.assert_allclose(for_level("spdl", "high", no_target, STUMPS).target.mean, [0.5, 0.5])
    assert make_protocol_teacher("spdl", STUMPS, expert_knowledge="no").name == "spdl"  # runs with no EK at all


def test_goal_gan_pretrains_on_the_easy_gaussian_only_at_high_and_setter_solver_gets_success_only():
    low = for_level("goal_gan", "low", EK, STUMPS, seed=4)
    high = for_level("goal_gan", "high", EK, STUMPS, seed=4)
    assert low.success == high.success == 230.0
    np.testing.assert_allclose(high.initial.mean, [0.0, 1.0])  # the easy task
    np.testing.assert_allclose(low.initial.std, [0.1, 0.1])    # TMA's random subspace: std 10% of each range
    assert not np.allclose(low.initial.mean, high.initial.mean)
    np.testing.assert_allclose(low.initial.mean, for_level("adr", "low", EK, STUMPS, seed=4).initial.mean)
    teacher = make_protocol_teacher("goal_gan", STUMPS, params=CHEAP["goal_gan"], expert_knowledge="low", env_expert=EK)
    assert teacher.pretrain_source == "expert.initial"  # pretrained at low as well, as TMA's benchmark ran it
    for level in ("low", "high"):
        ek = for_level("setter_solver", level, EK, STUMPS)
        assert ek.success == 230.0 and ek.initial is None and ek.target is None and ek.reward_thresholds is None


def test_unknown_keys_and_levels_fail_loudly():
    # TMA's SPDL lost its EK because the level was called "maximal" in one place and "high" in another
    with pytest.raises(TeachBenchError, match="expert_knowledge") as err:
        make_protocol_teacher("spdl", STUMPS, expert_knowledge="maximal", env_expert=EK)
    assert err.value.allowed is not None and list(err.value.allowed) == ["no", "low", "high"]
    # a misnamed EK key is an error at every level, for every teacher
    bad = {**EK, "initial_dist": EK["initial"]}
    for level in ("no", "low", "high"):
        with pytest.raises(TeachBenchError, match="expert.initial_dist"):
            make_protocol_teacher("random", STUMPS, expert_knowledge=level, env_expert=bad)
    with pytest.raises(TeachBenchError, match="expert.initial.mean.spacing"):
        for_level("alp_gmm", "high", {"initial": {"mean": {"stump_height": 0, "spacing": 6}}}, STUMPS)
    # a granted key the env lacks names it
    with pytest.raises(TeachBenchError, match="expert.reward_thresholds"):
        make_protocol_teacher("adr", STUMPS, expert_knowledge="low", env_expert={"success": 230.0})
    with pytest.raises(TeachBenchError, match="expert.initial"):
        make_protocol_teacher("alp_gmm", STUMPS, expert_knowledge="high", env_expert={"success": 230.0})
    assert parse_level(False) == "no"  # YAML 1.1 reads an unquoted `no` as false
    with pytest.raises(TeachBenchError, match="expert_knowledge"):
        parse_level(True)


def test_rugged_maps_the_expert_means_into_the_teacher_space():
    """TMA's controller maps initial/target means through the inverse shuffle. Seed 0 on
    [0, 3] x [0, 6]: TMA's inverse_interpolate_task((0, 6)) = (2.25, 6.0), ADR's start in the
    teacher's space; 2.25 is a cut, which TMA's forward map puts in the lower interval, so
    the env plays TMA's interpolate_task((2.25, 6)) = (1.5, 6): no teacher task maps to
    height 0 under this permutation, in TMA as here."""
    adr = make_protocol_teacher("adr", STUMPS, seed=0, expert_knowledge="high", env_expert=EK,
                                rugged={"intervals": 4, "seed": 0})
    assert STUMPS.from_unit(adr.inner.lower) == {"stump_height": 2.25, "stump_spacing": 6.0}
    assert adr.sample() == {"stump_height": 1.5, "stump_spacing": 6.0}
