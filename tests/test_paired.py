"""PAIRED, one-step parametric variant (paired_param): regret bookkeeping, the generator learning from regret, the antagonist student."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs.task_space import TaskSpace
from teachers.base import Episode
from teachers.paired import PAIREDParam as PAIRED

SPACE = TaskSpace.box(["a", "b"], [0.0, 0.0], [1.0, 1.0])


def test_regret_is_antagonist_best_minus_protagonist_mean_clipped() -> None:
    t = PAIRED(SPACE, seed=0, batch_size=100)
    view = t.antagonist_view()
    tasks = [t.sample() for _ in range(2)]
    # level L0 played twice by the protagonist (returns 0.2 and 0.4), L1 once (0.9)
    for task, ret, lid in ((tasks[0], 0.2, "L0"), (tasks[1], 0.9, "L1")):
        t.update(Episode(task=task, episode_return=ret, length=3, level_id=lid))
    assert view.sample() == {"level": "L0"} and view.sample() == {"level": "L1"}
    t._open["L0"]["prot"].append(0.4)
    a0 = Episode(task={"level": "L0"}, episode_return=0.7, length=3, level_id="L0")
    a1 = Episode(task={"level": "L1"}, episode_return=0.5, length=3, level_id="L1")
    view.update(a0)
    view.update(a1)
    assert a0.regret == pytest.approx(0.7 - 0.3)
    assert a1.regret == 0.0  # the antagonist did worse: clipped at 0
    assert [b[2] for b in t._batch] == pytest.approx([0.4, 0.0])


def test_generator_moves_towards_high_regret_tasks() -> None:
    t = PAIRED(SPACE, seed=1, batch_size=32, lr=1e-2, noise_dim=8)
    view = t.antagonist_view()
    first = np.mean([SPACE.to_unit(t.sample())[0] for _ in range(200)])
    t._generated.clear()
    for k in range(60 * 32):
        task = t.sample()
        t.update(Episode(task=task, episode_return=0.0, length=1, level_id=f"L{k}"))
        ant = view.sample()
        # regret grows with parameter a: the generator should ask for larger a
        view.update(Episode(task=ant, episode_return=float(task["a"]), length=1, level_id=ant["level"]))
    last = np.mean([SPACE.to_unit(t.sample())[0] for _ in range(200)])
    assert t.n_generator_updates == 60
    assert last > first + 0.15
    assert np.isfinite(t.diagnostics()["generator_entropy"])


def drive(t: PAIRED, n: int) -> list[dict]:
    """``n`` levels designed, played once by each student (antagonist return = the task's ``b``)."""
    out = []
    for k in range(n):
        task = t.sample()
        out.append(task)
        t.update(Episode(task=task, episode_return=0.1, length=1, level_id=f"L{k}-{len(out)}"))
        ant = t.antagonist_view().sample()
        t.record_antagonist(Episode(task=ant, episode_return=task["b"], length=1, level_id=ant["level"]))
    return out


def test_seeded_and_checkpointable(tmp_path) -> None:
    a, b = PAIRED(SPACE, seed=4, batch_size=4), PAIRED(SPACE, seed=4, batch_size=4)
    assert drive(a, 12) == drive(b, 12)
    torch.save(a.state_dict(), tmp_path / "p.pt")
    c = PAIRED(SPACE, seed=0, batch_size=4)
    c.load_state_dict(torch.load(tmp_path / "p.pt", weights_only=True))
    assert drive(a, 9) == drive(c, 9)


def test_antagonist_is_a_second_student_on_the_same_levels() -> None:
    from students.bridge import Curriculum, CurriculumCallback
    from students.build import make_student
    from students.regret import attach_teacher_needs
    from students.vec import make_vec_env

    vec = make_vec_env("gridworld", {"max_size": 7, "max_steps": 40}, 2, seed=0)
    teacher = PAIRED(vec.get_attr("task_space")[0], seed=0, batch_size=4)
    model = make_student("ppo", vec, params={"n_steps": 32, "batch_size": 32, "n_epochs": 1, "gamma": 0.97}, seed=0)
    prot: list[Episode] = []
    cur = Curriculum(teacher, vec, sinks=[prot.append])
    cur.prime()
    cb = CurriculumCallback(cur)
    att = attach_teacher_needs(teacher, model, cur, cb)
    ant_eps: list[Episode] = []
    att.antagonist.curriculum.sinks.append(ant_eps.append)
    model.learn(640, callback=cb)
    antagonist = att.antagonist.model
    assert type(antagonist) is type(model)
    assert antagonist.num_timesteps == 640 - 64 * att.antagonist.skipped_rollouts > 0
    for key in ("n_steps", "batch_size", "gamma", "ent_coef", "n_epochs"):
        assert getattr(antagonist, key) == getattr(model, key)
    assert not all(torch.equal(p, q) for p, q in zip(model.policy.parameters(), antagonist.policy.parameters()))
    played = {e.level_id for e in prot}
    assert ant_eps and {e.level_id for e in ant_eps} <= played
    scored = [e for e in ant_eps if e.regret is not None]
    assert scored and all(e.regret >= 0 for e in scored)
    att.antagonist.close()


def _drive_linear_regret(t: PAIRED, batches: int) -> tuple[float, float]:
    """Regret = the task's ``a`` (antagonist return a, protagonist 0): mean ``a`` the
    generator asks for before and after ``batches`` batches of 32."""
    view = t.antagonist_view()
    first = float(np.mean([SPACE.to_unit(t.sample())[0] for _ in range(200)]))
    t._generated.clear()
    for k in range(batches * t.batch_size):
        task = t.sample()
        t.update(Episode(task=task, episode_return=0.0, length=1, level_id=f"L{k}"))
        ant = view.sample()
        view.update(Episode(task=ant, episode_return=float(task["a"]), length=1, level_id=ant["level"]))
    return first, float(np.mean([SPACE.to_unit(t.sample())[0] for _ in range(200)]))


def test_ppo_update_takes_dcds_number_of_walker_adversary_steps(monkeypatch) -> None:
    """dcd's bipedal PAIRED config (train_scripts/grid_configs/bipedal/bipedal_paired.json):
    adv_ppo_epoch 8, adv_num_mini_batch 4, so 8 x 4 = 32 gradient steps per adversary
    update; REINFORCE takes one. Counted on the optimizer itself."""
    steps = {"ppo": 0, "reinforce": 0}
    for rule in steps:
        t = PAIRED(SPACE, seed=2, batch_size=32, update=rule, noise_dim=8)
        original = t.optimizer.step

        def counting(*args, _rule=rule, _original=original, **kwargs):
            steps[_rule] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(t.optimizer, "step", counting)
        _drive_linear_regret(t, 2)
        assert t.n_generator_updates == 2
    assert steps == {"ppo": 2 * 8 * 4, "reinforce": 2}


def test_ppo_generator_moves_further_per_batch_than_reinforce() -> None:
    """Why the option exists: on the walker the REINFORCE generator took 40-52 steps and its
    spread did not move (experiments/results/walker_baseline_tma/). With the same 10 batches
    of a clean linear regret, dcd's update (lr 3e-4, 32 steps a batch) moves the mean ``a``
    further than one REINFORCE step a batch at its default lr 1e-3, and narrows the spread."""
    first, reinforce = _drive_linear_regret(PAIRED(SPACE, seed=1, batch_size=32), 10)
    ppo_teacher = PAIRED(SPACE, seed=1, batch_size=32, update="ppo", lr=3e-4)
    first_ppo, ppo = _drive_linear_regret(ppo_teacher, 10)
    assert first == first_ppo  # the same generator weights and seed: the critic has its own stream
    assert ppo > first + 0.1 and ppo - first > 2 * (reinforce - first)
    assert ppo_teacher.entropy() < 0.5 * (1 + np.log(2 * np.pi)) - 0.01


def test_ppo_variant_is_seeded_and_checkpointable(tmp_path) -> None:
    def make(seed: int) -> PAIRED:
        return PAIRED(SPACE, seed=seed, batch_size=4, update="ppo", noise_dim=8)

    a, b = make(4), make(4)
    assert drive(a, 12) == drive(b, 12) and a.n_generator_updates == 3
    torch.save(a.state_dict(), tmp_path / "p.pt")
    c = make(0)
    c.load_state_dict(torch.load(tmp_path / "p.pt", weights_only=True))
    assert c.regret_stats == a.regret_stats
    assert c.last_loss == a.last_loss and np.isfinite(c.last_loss)  # a resumed run's summary reports the loss
    assert drive(a, 9) == drive(c, 9)


def test_unknown_update_rule_names_the_key() -> None:
    from envs.errors import TeachBenchError

    with pytest.raises(TeachBenchError, match="update"):
        PAIRED(SPACE, update="adam")
    with pytest.raises(TeachBenchError, match="ppo_minibatches"):
        PAIRED(SPACE, update="ppo", ppo_minibatches=0)
