"""A teacher set up for TeachMyAgent's protocol: an expert-knowledge level and the rugged shuffle.

TeachMyAgent (``docs/references.md``) builds every teacher through one controller that
(1) hands it the expert knowledge (EK) allowed at the run's level (``no | low | high``,
:func:`teachers.expert.for_level`) and (2) for the "rugged difficulty" challenge puts a
dimension shuffler between the teacher and the env (:mod:`envs.shuffle`).
:func:`make_protocol_teacher` is that controller; with no level and no shuffle it is
:func:`teachers.registry.make_teacher` unchanged.

Two wrappers do what a single teacher class cannot:

- :class:`ExpertBootstrap`: ALP-GMM and Covar-GMM at ``high`` draw their bootstrap tasks
  (the episodes before their first fit, ``fit_rate`` of them, TMA's ``nb_bootstrap``) from
  the easy Gaussian ``expert.initial`` (clipped to the box) instead of uniformly.
- :class:`ShuffledTeacher`: the teacher proposes in the shuffled space; the env plays the
  remapped task; the teacher learns from the episode mapped back. As in TMA, the expert
  Gaussians' means are mapped back into the teacher's space (their stds are kept).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Mapping, Sequence

import numpy as np

from envs.errors import TeachBenchError
from envs.shuffle import TMA_INTERVALS, TaskShuffler
from envs.task_space import Task, TaskSpace
from teachers.base import Episode, Teacher
from teachers.expert import ExpertKnowledge, Gaussian, for_level, parse_level
from teachers.registry import make_teacher, teacher_class

BOOTSTRAPPED = ("alp_gmm", "covar_gmm")  # teachers whose TMA versions take `initial_dist` as a bootstrap


class TeacherWrapper(Teacher):
    """A teacher that forwards everything to ``inner`` (its name, needs, state and
    diagnostics too), so the runner, checkpoints and run directories see the inner teacher."""

    def __init__(self, inner: Teacher) -> None:
        super().__init__(inner.task_space, inner.seed)
        self.rng = np.random.default_rng([inner.seed, 1])  # a stream of its own, not a copy of the inner one
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.needs = inner.needs  # type: ignore[misc]

    def sample(self) -> Task:
        return self.inner.sample()

    def update(self, episode: Episode) -> None:
        self.inner.update(episode)

    # The batched API goes to the inner teacher's, so a wrapped teacher keeps its
    # vectorised path (issue 18) instead of being called once per task / episode.
    def sample_batch(self, n: int) -> list[Task]:
        return self.inner.sample_batch(n)

    def update_batch(self, episodes: Sequence[Episode]) -> None:
        self.inner.update_batch(episodes)

    def _sample(self) -> Task:  # pragma: no cover - sample() is overridden
        return self.inner.sample()

    def _update(self, episode: Episode) -> None:  # pragma: no cover - update() is overridden
        self.inner.update(episode)

    @property
    def _state_key(self) -> str:
        return f"wrapper.{type(self).__name__}"  # one key per wrapper, so wrappers can nest

    def state_dict(self) -> dict[str, Any]:
        state = self.inner.state_dict()
        state[self._state_key] = {"rng": self.rng.bit_generator.state, **self._wrapper_state()}
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        key = self._state_key
        self.inner.load_state_dict({k: v for k, v in state.items() if k != key})
        if key in state:
            self.rng.bit_generator.state = state[key]["rng"]
            self._load_wrapper_state(state[key])

    def diagnostics(self) -> dict[str, Any]:
        return {**self.inner.diagnostics(), **self._wrapper_diagnostics()}

    def __getattr__(self, item: str) -> Any:
        # attributes the runner may read on a teacher (e.g. PLR's buffer) come from the inner one
        if item == "inner":
            raise AttributeError(item)
        return getattr(self.inner, item)

    def _wrapper_state(self) -> dict[str, Any]:
        return {}

    def _load_wrapper_state(self, state: Mapping[str, Any]) -> None:
        pass

    def _wrapper_diagnostics(self) -> dict[str, Any]:
        return {}


class ExpertBootstrap(TeacherWrapper):
    """TMA's expert bootstrap of ALP-GMM / Covar-GMM: while the inner teacher has received
    fewer than ``fit_rate`` episodes, tasks come from ``initial`` (clipped to the box)."""

    def __init__(self, inner: Teacher, initial: Gaussian) -> None:
        super().__init__(inner)
        if not hasattr(inner, "fit_rate"):
            raise TeachBenchError("expert_knowledge", f"teacher {inner.name!r} has no bootstrap to seed")
        if initial.std is None:
            raise TeachBenchError("expert.initial.std", "the bootstrap Gaussian needs a std")
        self.initial = initial
        self.n_bootstrap = 0

    @property
    def bootstrapping(self) -> bool:
        return int(self.inner.n_updates) < int(self.inner.fit_rate)  # type: ignore[attr-defined]

    def sample(self) -> Task:
        if not self.bootstrapping:
            return self.inner.sample()
        self.n_bootstrap += 1
        self.inner.n_sampled += 1
        return self.task_space.validate(self.task_space.from_unit(self.initial.sample(self.rng, 1)[0]))

    def sample_batch(self, n: int) -> list[Task]:
        """While bootstrapping, ``n`` bootstrap tasks exactly as ``n`` calls of :meth:`sample`
        (the bootstrap lasts until the inner teacher has ``fit_rate`` updates, which no
        sampling changes); after it, the inner teacher's batch."""
        if not self.bootstrapping:
            return self.inner.sample_batch(n)
        return [self.sample() for _ in range(int(n))]

    def _wrapper_state(self) -> dict[str, Any]:
        return {"n_bootstrap": self.n_bootstrap}

    def _load_wrapper_state(self, state: Mapping[str, Any]) -> None:
        self.n_bootstrap = int(state["n_bootstrap"])

    def _wrapper_diagnostics(self) -> dict[str, Any]:
        return {"expert_bootstrap_tasks": self.n_bootstrap}


class ShuffledTeacher(TeacherWrapper):
    """TMA's rugged difficulty: ``inner`` proposes in the shuffled space (see
    :mod:`envs.shuffle`), the env plays ``to_env`` of it, and the teacher learns from the
    task it proposed for that played task. As TMA's controller (which kept the last raw
    task), proposals are remembered, because ``to_env`` sends two boundary points of a
    dimension to the same place; a played task that was not proposed here (e.g. edited by
    the env) is mapped back with ``to_teacher``."""

    MAX_REMEMBERED = 10_000  # proposals awaiting their episode (a few per sub-env in practice)

    # A teacher that scores episodes outside `update` (regret at rollout end, replay masks,
    # edits of levels) would see env-space tasks: refused rather than silently wrong.
    SUPPORTED_NEEDS = frozenset({"value"})

    def __init__(self, inner: Teacher, shuffler: TaskShuffler) -> None:
        super().__init__(inner)
        extra = set(inner.needs) - self.SUPPORTED_NEEDS
        if extra:
            raise TeachBenchError("rugged", f"teacher {inner.name!r} needs {sorted(extra)} from the runner, which the "
                                  "shuffled task space does not map back", sorted(self.SUPPORTED_NEEDS))
        self.shuffler = shuffler
        self._proposed: dict[tuple[float, ...], list[Task]] = {}

    def _key(self, task: Mapping[str, Any]) -> tuple[float, ...]:
        return tuple(float(task[name]) for name in self.task_space.names)

    def sample(self) -> Task:
        proposal = self.inner.sample()
        task = self.shuffler.to_env(proposal)
        self._proposed.setdefault(self._key(task), []).append(proposal)
        while len(self._proposed) > self.MAX_REMEMBERED:
            del self._proposed[next(iter(self._proposed))]
        return task

    def sample_batch(self, n: int) -> list[Task]:
        """The inner teacher's batch of proposals, each remembered and mapped as in :meth:`sample`."""
        tasks = []
        for proposal in self.inner.sample_batch(n):
            task = self.shuffler.to_env(proposal)
            self._proposed.setdefault(self._key(task), []).append(proposal)
            while len(self._proposed) > self.MAX_REMEMBERED:  # per task, as sample(): the same keys go
                del self._proposed[next(iter(self._proposed))]
            tasks.append(task)
        return tasks

    def _proposal_of(self, episode: Episode) -> Episode:
        """The episode as the inner teacher proposed it (its remembered proposal, or the
        played task mapped back)."""
        key = self._key(episode.task)
        proposals = self._proposed.get(key)
        if proposals:
            proposal = proposals.pop(0)
            if not proposals:
                del self._proposed[key]
        else:
            proposal = self.shuffler.to_teacher(episode.task)
        return dataclasses.replace(episode, task=dict(proposal))

    def update(self, episode: Episode) -> None:
        self.inner.update(self._proposal_of(episode))

    def update_batch(self, episodes: Sequence[Episode]) -> None:
        """Each episode mapped back in order (as :meth:`update` would), then one inner batch."""
        self.inner.update_batch([self._proposal_of(e) for e in episodes])

    def _wrapper_state(self) -> dict[str, Any]:
        return {"proposed": [[list(k), [dict(t) for t in v]] for k, v in self._proposed.items()]}

    def _load_wrapper_state(self, state: Mapping[str, Any]) -> None:
        self._proposed = {tuple(float(x) for x in k): [dict(t) for t in v] for k, v in state["proposed"]}

    def _wrapper_diagnostics(self) -> dict[str, Any]:
        return {"rugged_seed": self.shuffler.shuffler.seed}


def _map_expert_means(ek: ExpertKnowledge, shuffler: TaskShuffler, space: TaskSpace) -> ExpertKnowledge:
    """TMA maps the expert Gaussians' means into the shuffled (teacher) space; stds unchanged."""
    changes = {}
    for name in ("initial", "target"):
        g = getattr(ek, name)
        if g is not None:
            mean = space.to_unit(shuffler.to_teacher(space.from_unit(g.mean)))
            changes[name] = Gaussian(mean=np.asarray(mean, dtype=np.float64), std=g.std)
    return dataclasses.replace(ek, **changes)


def make_protocol_teacher(name: str, task_space: TaskSpace, seed: int = 0, params: Mapping[str, Any] | None = None,
                          expert_knowledge: Any = None, env_expert: Mapping[str, Any] | None = None,
                          rugged: Mapping[str, Any] | None = None) -> Teacher:
    """Build teacher ``name`` for a run.

    Args:
        params: the teacher config's ``params`` (constructor keyword arguments).
        expert_knowledge: ``no | low | high`` (TMA's levels) or None: then ``params`` are used
            as given (a teacher's ``expert`` param is the env's full ``expert:`` block).
        env_expert: the env config's ``expert:`` block: the source of every level's EK (falls
            back to ``params["expert"]``).
        rugged: ``{intervals: 4, seed: <int>}`` to shuffle the task space (TMA's rugged
            challenge), or None.
    """
    params = dict(params or {})
    level = parse_level(expert_knowledge)
    shuffler = None
    if rugged is not None:
        if not isinstance(rugged, Mapping):
            raise TeachBenchError("rugged", f"expected {{intervals: 4, seed: <int>}} or null, got {rugged!r}")
        unknown = set(rugged) - {"intervals", "seed"}
        if unknown:
            raise TeachBenchError(f"rugged.{sorted(unknown)[0]}", "unknown key", ["intervals", "seed"])
        shuffler = TaskShuffler(task_space, int(rugged.get("intervals", TMA_INTERVALS)), int(rugged.get("seed", seed)))
    takes_expert = "expert" in inspect.signature(teacher_class(name).__init__).parameters
    source = env_expert if env_expert is not None else params.get("expert")
    bootstrap: Gaussian | None = None
    if level is not None:
        ek = for_level(name, level, source, task_space, seed)
        if shuffler is not None:
            ek = _map_expert_means(ek, shuffler, task_space)
        if takes_expert:
            params["expert"] = ek
        elif name in BOOTSTRAPPED and ek.initial is not None:
            bootstrap = ek.initial
    elif shuffler is not None and takes_expert and params.get("expert") is not None:
        params["expert"] = _map_expert_means(ExpertKnowledge.from_config(params["expert"], task_space), shuffler,
                                             task_space)
    teacher = make_teacher(name, task_space, seed=seed, **params)
    if bootstrap is not None:
        teacher = ExpertBootstrap(teacher, bootstrap)
    if shuffler is not None:
        teacher = ShuffledTeacher(teacher, shuffler)
    return teacher
