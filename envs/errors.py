"""The one exception type that TeachBench raises for bad input.

Every layer (envs, teachers, students, experiments) raises :class:`TeachBenchError`
for a bad config value, an unknown name or a task outside its TaskSpace, so that a
user (and a sweep) can tell "you asked for something invalid" apart from a bug.
It lives in ``envs`` because that is the lowest layer: everything may import it.
"""

from __future__ import annotations

from typing import Any, Iterable


class TeachBenchError(ValueError):
    """Bad input: names the offending ``key`` and, where known, the allowed values."""

    def __init__(self, key: str, message: str, allowed: Iterable[Any] | None = None) -> None:
        self.key = key
        self.message = message
        self.allowed = list(allowed) if allowed is not None else None
        text = f"{key}: {message}"
        if self.allowed is not None:
            text += f" (allowed: {', '.join(map(str, self.allowed))})"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as ``(key, message, allowed)``. The default reduction replays
        ``self.args`` (the one formatted string) into a three-argument constructor, so
        unpickling failed: a worker process's error killed the pool's result thread and
        the parent waited forever (``teachbench-track`` with a failing run)."""
        return (type(self), (self.key, self.message, self.allowed), self.__dict__.copy())


def unknown_name(key: str, name: str, allowed: Iterable[str]) -> TeachBenchError:
    """The error for an unknown registry name (env, teacher, student, ...)."""
    return TeachBenchError(key, f"unknown name {name!r}", sorted(allowed))
