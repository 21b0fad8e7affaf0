"""A designer with the adversary's interface whose levels are fixed: the level-regret
teachers' bookkeeping tested without a trained adversary (tests/test_paired_designer.py,
tests/test_minimax.py)."""

from __future__ import annotations

from envs.gridworld.level import Level


class ScriptedDesigner:
    """A designer with the adversary's interface whose levels are fixed (teacher-only tests)."""

    def __init__(self, levels: list[str]) -> None:
        self.levels = levels
        self.next = 0
        self.learned: list[tuple[int, list[float]]] = []

    def design(self):
        batch = self.next
        self.next += 1
        stats = [Level.from_string(t).stats() for t in self.levels]
        return batch, list(self.levels), stats

    def learn(self, batch, rewards):
        self.learned.append((batch, list(rewards)))
        return True

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass

    def diagnostics(self):
        return {}
