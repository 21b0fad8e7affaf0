"""Teacher names -> classes, imported lazily so that ``import teachers`` stays cheap
(GoalGAN and CLUTR pull in torch) and so that configs can only build our own classes."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from envs.errors import TeachBenchError, unknown_name
from envs.task_space import TaskSpace
from teachers.base import Teacher

# name -> "module:Class". Each teacher module adds its line here.
TEACHERS: dict[str, str] = {
    "random": "teachers.random_teacher:RandomTeacher",
    "alp_gmm": "teachers.alp_gmm:ALPGMM",
    "covar_gmm": "teachers.covar_gmm:CovarGMM",
    "riac": "teachers.riac:RIAC",
    "adr": "teachers.adr:ADR",
    "spdl": "teachers.spdl:SPDL",
    "goal_gan": "teachers.goal_gan:GoalGAN",
    "setter_solver": "teachers.setter_solver:SetterSolver",
    "plr": "teachers.plr:PLR",
    "plr_robust": "teachers.plr:RobustPLR",
    "accel": "teachers.accel:ACCEL",
    "paired": "teachers.paired:PAIRED",
    "paired_param": "teachers.paired:PAIREDParam",
    "minimax": "teachers.paired:Minimax",
    "clutr": "teachers.clutr:CLUTR",
    "clutr_param": "teachers.clutr:CLUTRParam",
    "qweb_curriculum": "teachers.qweb:QWebCurriculum",
    "qweb_instructor": "teachers.qweb:QWebInstructor",
    "webrl": "teachers.webrl:WebRL",
}


def teacher_class(name: str) -> type[Teacher]:
    try:
        target = TEACHERS[name]
    except KeyError:
        raise unknown_name("teacher.name", name, TEACHERS) from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def make_teacher(name: str, task_space: TaskSpace, seed: int = 0, **params: Any) -> Teacher:
    """Build a teacher by registry name; unknown parameters are a clear error."""
    cls = teacher_class(name)
    accepted = inspect.signature(cls.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        for key in params:
            if key not in accepted:
                allowed = [k for k in accepted if k not in ("self", "task_space", "seed")]
                raise TeachBenchError(f"teacher.{key}", f"not a parameter of teacher {name!r}", allowed)
    return cls(task_space, seed=seed, **params)
