"""ALP-GMM, step by step against docs/references.md#alp-gmm, plus its GMM fitting and nearest-neighbour index."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import teachers.refit as refit_module  # where the GMM teachers call fit_best_gmm
from envs.errors import TeachBenchError
from envs.task_space import TaskSpace
from envs.toy.student import SimulatedStudent
from teachers.alp_gmm import ALPGMM
from teachers.base import Episode
from teachers.gmm_fit import GMM, fit_best_gmm
from teachers.nearest import NearestIndex
from teachers.registry import make_teacher

SPACE = TaskSpace.box(["a", "b"], [0.0, -10.0], [2.0, 10.0])


def play(teacher, task, ret):
    teacher.update(Episode(task=task, episode_return=ret, length=1))


def task_at(u):
    return SPACE.from_unit(u)


# -- step 2: nearest-neighbour ALP over the whole history ---------------------------------
def test_alp_is_zero_until_more_than_five_earlier_episodes_then_nearest_k1():
    t = ALPGMM(SPACE, preset="tma2021", fit_rate=1000)  # raw rewards, no refit in this test
    for i in range(6):
        play(t, task_at([0.1 * i, 0.5]), 10.0 * i)
        assert t.window[-1][-1] == 0.0  # 0..5 earlier episodes: ALP = 0
    # 7th episode: 6 earlier ones; nearest earlier task is index 2 (u=(0.2, 0.5)), r_old = 20
    play(t, task_at([0.21, 0.52]), 27.5)
    assert t.window[-1][-1] == pytest.approx(7.5)
    np.testing.assert_allclose(t.window[-1][:-1], [0.21, 0.52])
    # the nearest is searched over the *whole* history, not the window: a far-back point
    for i in range(50):
        play(t, task_at([0.9, 0.05 + 0.001 * i]), 0.0)
    play(t, task_at([0.0, 0.5]), 3.0)  # nearest is episode 0 (u=(0,0.5), r=0)
    assert t.window[-1][-1] == pytest.approx(3.0)


def test_nearest_index_matches_brute_force_across_rebuilds():
    rng = np.random.default_rng(1)
    index = NearestIndex(3, min_tail=16, rebuild_fraction=0.25)
    pts = rng.random((3000, 3))
    for i, p in enumerate(pts):
        if i > 0 and i % 7 == 0:
            q = rng.random(3)
            j, dist = index.nearest(q)
            d2 = ((pts[:i] - q) ** 2).sum(1)
            assert j == int(d2.argmin())
            assert dist == pytest.approx(np.sqrt(d2.min()))
        index.add(p)
    assert index.n_rebuilds >= 5  # the tree really was rebuilt (geometrically), not once
    assert index.n_rebuilds < 40


def test_nearest_index_exact_duplicates_resolve_to_the_earliest():
    index = NearestIndex(2, min_tail=1, rebuild_fraction=0.0)
    for _ in range(5):
        index.add(np.array([0.5, 0.5]))
        index.add(np.array([0.1, 0.9]))
    assert index.nearest(np.array([0.5, 0.5]))[0] == 0
    assert index.nearest(np.array([0.1, 0.9]))[0] == 1


# -- steps 4/5: bootstrap, window, refit period --------------------------------------------
def test_bootstrap_then_refit_every_fit_rate_on_the_last_fit_rate_points(monkeypatch):
    seen: list[np.ndarray] = []
    real = refit_module.fit_best_gmm

    def spy(points, ks, rng, **kw):
        seen.append(np.array(points))
        assert list(ks) == list(range(2, 8))
        return real(points, ks, rng, **kw)

    monkeypatch.setattr(refit_module, "fit_best_gmm", spy)
    t = ALPGMM(SPACE, seed=3, fit_rate=40, min_k=2, max_k=7, random_task_ratio=0.0)
    rng = np.random.default_rng(0)
    points = []
    for i in range(130):
        if i < 40:
            assert t.gmm is None  # bootstrap: no mixture before fit_rate episodes
        task = t.sample()
        ret = float(rng.uniform(-150, 350))
        play(t, task, ret)
        points.append(t.window[-1].copy())
    assert len(seen) == 3  # refits after episodes 40, 80, 120
    for n_fit, data in enumerate(seen, start=1):
        np.testing.assert_array_equal(data, np.array(points[40 * n_fit - 40: 40 * n_fit]))
    assert data.shape == (40, 3)  # [task (2), ALP]
    assert t.gmm is not None and 2 <= t.gmm.k <= 7


def test_bootstrap_samples_are_uniform():
    t = ALPGMM(SPACE, seed=0, fit_rate=5000)
    xs = np.array([SPACE.to_unit(t.sample()) for _ in range(4000)])
    hist, _ = np.histogramdd(xs, bins=(4, 4), range=[(0, 1), (0, 1)])
    assert hist.min() > 180 and hist.max() < 320  # 250 expected per bin


# -- step 5: AIC choice over k, backends, guarded fits --------------------------------------
def clustered(rng, centres, n=80, std=0.02):
    return np.concatenate([c + std * rng.standard_normal((n, len(c))) for c in centres])


@pytest.mark.parametrize("backend", ["numpy", "sklearn"])
def test_aic_picks_the_true_number_of_clusters(backend):
    rng = np.random.default_rng(0)
    x = clustered(rng, np.array([[0.2, 0.2, 0.0], [0.8, 0.2, 0.5], [0.5, 0.8, 0.1]]))
    best = fit_best_gmm(x, range(2, 11), np.random.default_rng(1), backend=backend)
    assert best is not None and best.k == 3
    for k in (2, 4, 6):
        other = fit_best_gmm(x, [k], np.random.default_rng(1), backend=backend)
        assert other.aic >= best.aic
    np.testing.assert_allclose(np.sort(best.means[:, -1]), [0.0, 0.1, 0.5], atol=0.02)


def test_numpy_backend_fits_as_well_as_sklearn():
    rng = np.random.default_rng(5)
    for trial in range(4):
        x = clustered(rng, rng.random((4, 3)), n=60, std=0.04)
        for k in (2, 4, 8):
            a = fit_best_gmm(x, [k], np.random.default_rng(trial), backend="numpy")
            b = fit_best_gmm(x, [k], np.random.default_rng(trial), backend="sklearn")
            # both are local EM optima from k-means starts: equal up to a few % of |AIC|
            assert abs(a.aic - b.aic) <= 0.06 * abs(b.aic) + 10
            np.testing.assert_allclose(a.weights.sum(), 1.0)


def test_failing_fits_are_skipped_or_reported():
    rng = np.random.default_rng(0)
    assert fit_best_gmm(np.full((10, 3), np.nan), range(2, 5), rng) is None
    assert fit_best_gmm(np.zeros((1, 3)), range(2, 5), rng) is None  # fewer points than k
    # identical points: k-means leaves components empty; still a usable, finite fit
    same = fit_best_gmm(np.full((50, 3), 0.3), range(2, 5), rng)
    assert same is not None and np.isfinite(same.aic)
    with pytest.raises(TeachBenchError, match="gmm_backend"):
        fit_best_gmm(np.zeros((10, 2)), [2], rng, backend="nope")


def test_failed_refit_keeps_the_previous_mixture(monkeypatch):
    t = ALPGMM(SPACE, seed=0, fit_rate=30, random_task_ratio=0.0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        play(t, t.sample(), float(rng.uniform(0, 300)))
    first = t.gmm
    assert first is not None
    monkeypatch.setattr(refit_module, "fit_best_gmm", lambda *a, **k: None)
    for _ in range(30):
        play(t, t.sample(), float(rng.uniform(0, 300)))
    assert t.gmm is first and t.n_fits == 2 and t.n_failed_fits == 1
    assert t.diagnostics()["n_failed_fits"] == 1
    assert SPACE.contains(t.sample())


# -- step 6: proportional component choice, uniform fallback, clipping ---------------------
def hand_gmm(alps, centres, std=1e-3):
    k = len(alps)
    means = np.column_stack([np.asarray(centres, dtype=float), alps])
    cov = np.stack([np.eye(3) * std**2] * k)
    return GMM(np.full(k, 1 / k), means, cov)


def component_counts(t, centres, n=6000):
    counts = np.zeros(len(centres))
    for _ in range(n):
        u = SPACE.to_unit(t.sample())
        counts[np.argmin(((np.asarray(centres) - u) ** 2).sum(1))] += 1
    return counts / n


def test_components_are_chosen_in_proportion_to_mean_alp():
    centres = [[0.2, 0.2], [0.5, 0.5], [0.8, 0.8]]
    t = ALPGMM(SPACE, seed=1, random_task_ratio=0.0)
    t.gmm = hand_gmm([0.0, 0.1, 0.3], centres)
    np.testing.assert_allclose(t.component_probabilities(), [0.0, 0.25, 0.75])
    np.testing.assert_allclose(component_counts(t, centres), [0.0, 0.25, 0.75], atol=0.02)
    t.gmm = hand_gmm([0.0, 0.0, 0.0], centres)  # all zero: uniform over components
    np.testing.assert_allclose(component_counts(t, centres), [1 / 3] * 3, atol=0.02)


def test_random_task_ratio_mixes_in_uniform_tasks():
    centres = [[0.5, 0.5]]
    t = ALPGMM(SPACE, seed=2, random_task_ratio=0.2)
    t.gmm = hand_gmm([0.2], centres)
    xs = np.array([SPACE.to_unit(t.sample()) for _ in range(5000)])
    far = (np.abs(xs - 0.5) > 0.05).any(1).mean()  # uniform draws land away from the component
    assert far == pytest.approx(0.2 * (1 - 0.1**2), abs=0.02)


def test_samples_are_clipped_into_the_space():
    t = ALPGMM(SPACE, seed=0, random_task_ratio=0.0)
    t.gmm = hand_gmm([0.5], [[1.4, -0.3]], std=0.05)
    for _ in range(200):
        task = t.sample()
        assert task["a"] == 2.0 and task["b"] == -10.0  # clipped to the upper/lower bound


# -- presets and reward modes ----------------------------------------------------------------
def test_presets_match_the_reference_table():
    a = ALPGMM(SPACE, preset="corl2019")
    assert (a.fit_rate, a.min_k, a.max_k, a.random_task_ratio) == (250, 2, 10, 0.2)
    assert a.reward_bounds == (-150.0, 350.0) and a.reward_mode == "normalised[-150,350]"
    assert [a.normalise_reward(r) for r in (-400, -150, 100, 350, 999)] == [0.0, 0.0, 0.5, 1.0, 1.0]
    b = ALPGMM(SPACE, preset="tma2021")
    assert (b.fit_rate, b.min_k, b.max_k, b.random_task_ratio) == (150, 2, 9, 0.05)
    assert b.reward_bounds is None and b.reward_mode == "raw" and b.normalise_reward(-400.0) == -400.0
    c = ALPGMM(SPACE, preset="tma2021", reward_bounds=[0, 1], fit_rate=10)
    assert c.reward_mode == "normalised[0,1]" and c.fit_rate == 10 and c.max_k == 9
    assert a.diagnostics()["reward_mode"] == "normalised[-150,350]"


def test_alp_is_computed_on_normalised_or_raw_rewards():
    for preset, expected in (("corl2019", 0.5), ("tma2021", 250.0)):
        t = ALPGMM(SPACE, preset=preset)
        for i in range(6):
            play(t, task_at([0.1 * i, 0.1]), -150.0)
        play(t, task_at([0.0, 0.1]), 100.0)
        assert t.window[-1][-1] == pytest.approx(expected)


def test_bad_config_names_the_key():
    with pytest.raises(TeachBenchError, match="teacher.preset"):
        ALPGMM(SPACE, preset="neurips")
    with pytest.raises(TeachBenchError, match="teacher.reward_bounds"):
        ALPGMM(SPACE, reward_bounds=[5, 1])
    with pytest.raises(TeachBenchError, match="teacher.max_k"):
        make_teacher("alp_gmm", SPACE, max_kk=3)


# -- checkpointing, diagnostics, real behaviour on the simulated student -------------------
def run_on_toy(teacher, student, space, n):
    for _ in range(n):
        task = teacher.sample()
        r, ok = student.practise(space.to_unit(task))
        teacher.update(Episode(task=task, episode_return=r, length=1, success=ok))


def test_state_dict_round_trip_gives_identical_samples():
    student = SimulatedStudent()
    space = student.task_space()
    a = make_teacher("alp_gmm", space, seed=7, fit_rate=60, reward_bounds=[0, 1])
    run_on_toy(a, student, space, 200)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)  # only plain containers, numbers, strings
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    b = make_teacher("alp_gmm", space, seed=999, fit_rate=60, reward_bounds=[0, 1])
    b.load_state_dict(state)
    student_b = SimulatedStudent()
    student_b.load_state_dict(student.state_dict())
    ta, tb = [], []
    for teacher, stud, out in ((a, student, ta), (b, student_b, tb)):
        for _ in range(150):  # crosses refits at 240 and 300
            task = teacher.sample()
            out.append(task)
            r, _ = stud.practise(space.to_unit(task))
            teacher.update(Episode(task=task, episode_return=r, length=1))
    assert ta == tb
    assert a.diagnostics() == b.diagnostics()


def test_alp_gmm_masters_far_more_cells_than_random_on_the_toy():
    scores = {}
    for name in ("random", "alp_gmm"):
        student = SimulatedStudent()
        space = student.task_space()
        params = {"reward_bounds": [0, 1]} if name == "alp_gmm" else {}
        teacher = make_teacher(name, space, seed=0, **params)
        run_on_toy(teacher, student, space, 8000)
        scores[name] = student.score()
        if name == "alp_gmm":
            d = teacher.diagnostics()
            assert d["n_fits"] == 32 and d["n_components"] >= 2 and d["mean_alp"] > 0
    # docs/references.md#simulated-student: uniform sampling stays stuck near the origin; LP teachers master
    # several times more (here at 8,000 of the 20,000 published episodes)
    assert scores["random"] <= 5
    assert scores["alp_gmm"] >= 3 * max(scores["random"], 2.0)
