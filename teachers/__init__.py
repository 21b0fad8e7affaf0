"""Teacher algorithms: the Teacher contract and one module per ACL family."""

from teachers.base import Episode, Teacher
from teachers.registry import TEACHERS, make_teacher, teacher_class

__all__ = ["Episode", "TEACHERS", "Teacher", "make_teacher", "teacher_class"]
