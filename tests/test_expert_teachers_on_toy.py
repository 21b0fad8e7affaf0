"""The expert-knowledge teachers (ADR, SPDL, GoalGAN, Setter-Solver) on the published toy
student (envs/toy) with the toy's expert block from configs/toy/default.yaml: every task
valid and each teacher's own update runs (a ranking is the teacher track's job)."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from envs.toy.student import SimulatedStudent
from teachers import Episode, make_teacher

TOY_EK = OmegaConf.to_container(
    OmegaConf.load(Path(__file__).resolve().parents[1] / "configs" / "toy" / "default.yaml").expert)


@pytest.mark.parametrize(
    "name, params, diagnostic, expected",
    [
        ("adr", {}, "expansions", lambda v: v > 0),
        ("spdl", {"offset": 500, "update_period": 250}, "iterations", lambda v: v > 0),
        ("goal_gan", {"n_gan_iterations": 20}, "gan_updates", lambda v: v > 0),  # TMA: rounds without a good goal skip
        ("setter_solver", {"n_train_steps": 4, "n_blocks": 1}, "rounds", lambda v: v == 60),
    ],
)
def test_runs_on_the_simulated_student(name, params, diagnostic, expected):
    student = SimulatedStudent(n_dims=2, cells_per_dim=10, seed=0)
    space = student.task_space()
    teacher = make_teacher(name, space, seed=0, expert=TOY_EK, **params)
    for i in range(3000):
        task = teacher.sample()
        assert space.contains(task)
        reward, success = student.practise(space.to_unit(task))
        teacher.update(Episode(task=task, episode_return=reward, length=1, success=success, global_step=i + 1,
                               episode_id=i))
    assert teacher.n_updates == 3000 and expected(teacher.diagnostics()[diagnostic])
