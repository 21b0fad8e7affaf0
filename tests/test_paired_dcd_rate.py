"""PAIRED's adversary-update rate against dcd's (facebookresearch/dcd, docs/references.md#dcd).

dcd's fact: each training iteration the adversary designs one level per process (N), the
protagonist and then the antagonist play their process's level for one rollout of T steps,
and the adversary takes one PPO update on the N regrets (``AdversarialRunner.run``). The
step budget counts the protagonist's steps only (``train.py``: ``num_updates =
num_env_steps // num_steps // num_processes``), as ours does (the budget is the
protagonist's ``num_timesteps``; the antagonist plays one rollout of the same size after
each protagonist rollout). So dcd takes exactly one adversary update per N·T budget steps.

Our bridge hands levels out per episode, so what it can reproduce is: one update per
B·k·L̄ protagonist steps at steady state (B levels per batch, k episodes per level, L̄ the
mean episode length), provided enough batches may be open that no sub-env replays an old
level (``max_pending``). With B = N and k = 1 this is dcd's N·T exactly when an episode lasts
the whole rollout -- the maze's case whenever the student times out (250-step limit, T=256:
dcd counts the one finished episode). These tests drive the real teacher through the real
:class:`students.bridge.Curriculum` on a stand-in VecEnv whose episodes last T steps.
"""

from __future__ import annotations

from typing import Any

import pytest

from envs.gridworld.generate import maze_task_space
from envs.gridworld.level import Level
from students.bridge import Curriculum
from teachers.paired import PAIRED, open_batches_needed
from tests.test_paired_designer import _ScriptedDesigner

import numpy as np


class _FixedLengthVecEnv:
    """A VecEnv stand-in for the bridge: each sub-env plays its queued tasks in order, every
    episode lasting ``length`` steps with return ``returns[level]`` (the level's string; 0
    for a task that is not a level: the antagonist's draw when no batch is open)."""

    def __init__(self, num_envs: int, length: int, returns: dict[str, float]) -> None:
        self.num_envs = num_envs
        self.length = length
        self.returns = returns
        self.queues: list[list[dict[str, Any]]] = [[] for _ in range(num_envs)]
        self.t = np.zeros(num_envs, dtype=int)
        self.steps = 0
        self.handed: list[str] = []  # every level handed out, in order

    def env_method(self, name: str, *args: Any, indices: Any = None) -> list[Any]:
        idx = range(self.num_envs) if indices is None else indices
        out = []
        for i in idx:
            if name == "set_next_task":
                self.queues[i].append(dict(args[0]))
                self.handed.append(args[0].get("level"))
            elif name == "clear_tasks":
                self.queues[i].clear()
            elif name == "pending_tasks":
                out.append(list(self.queues[i]))
        return out

    def step(self) -> tuple[np.ndarray, list[dict[str, Any]]]:
        self.t += 1
        self.steps += self.num_envs
        dones = self.t >= self.length
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(dones):
            task = self.queues[i].pop(0)  # the episode just finished; the next task starts
            infos[i] = {"episode": {"r": self.returns.get(task.get("level"), 0.0), "l": int(self.t[i])}, "task": task}
            self.t[i] = 0
        return dones, infos


class _Designer(_ScriptedDesigner):
    """The adversary's interface (design / learn) with levels drawn from a fixed pool, each
    level string unique per batch so that every regret is traceable to its level."""

    def __init__(self, pool: list[str], batch_size: int) -> None:
        super().__init__(pool)
        self.pool = pool
        self.batch_size = batch_size

    def design(self):
        batch = self.next
        self.next += 1
        levels = [self.pool[(batch * self.batch_size + i) % len(self.pool)] for i in range(self.batch_size)]
        return batch, levels, [Level.from_string(t).stats() for t in levels]


def _pool() -> list[str]:
    """168 distinct 15x15 levels (the goal on every interior cell but the start), so that
    no two open batches share a level."""
    cells = [(x, y) for y in range(1, 14) for x in range(1, 14) if (x, y) != (1, 1)]
    return [Level(15, (), (1, 1), 0, cell).to_string() for cell in cells]


def _big_pool(count: int) -> list[str]:
    """``count`` distinct 15x15 levels (every agent and goal cell pair), for runs with more
    levels open at once than :func:`_pool` holds."""
    cells = [(x, y) for y in range(1, 14) for x in range(1, 14)]
    pairs = [(a, g) for a in cells for g in cells if a != g][:count]
    return [Level(15, (), a, 0, g).to_string() for a, g in pairs]


def _play(n_envs: int, rollout: int, rollouts: int, pool: list[str] | None = None, length: int | None = None,
          **params: Any):
    """PAIRED's teacher, protagonist and antagonist bridges; per iteration the protagonist
    plays one rollout of ``rollout`` steps on every sub-env, then the antagonist one; an
    episode lasts ``length`` steps (default: the rollout). The most batches open at once
    is left in ``prot_env.peak_open``."""
    pool = pool or _pool()
    prot_return = {t: 0.1 * (j % 3) for j, t in enumerate(pool)}      # 0.0, 0.1, 0.2, ...
    ant_return = {t: 0.25 * (j % 2) for j, t in enumerate(pool)}      # 0.0, 0.25, 0.0, ...
    teacher = PAIRED(maze_task_space(max_size=15), seed=0, **params)
    designer = _Designer(pool, teacher.adversary_config["batch_size"])
    teacher.attach_adversary(designer)
    prot_env = _FixedLengthVecEnv(n_envs, length or rollout, prot_return)
    ant_env = _FixedLengthVecEnv(n_envs, length or rollout, ant_return)
    prot = Curriculum(teacher, prot_env)
    ant = Curriculum(teacher.antagonist_view(), ant_env)
    prot.prime()
    ant.prime()
    prot_env.peak_open = teacher.diagnostics()["open_batches"]
    for _ in range(rollouts):
        for env, cur in ((prot_env, prot), (ant_env, ant)):
            for _ in range(rollout):
                dones, infos = env.step()
                cur.on_step(dones, infos, env.steps)
                prot_env.peak_open = max(prot_env.peak_open, teacher.diagnostics()["open_batches"])
    return teacher, designer, prot_env, prot_return, ant_return


def test_one_update_per_n_envs_times_rollout_steps_as_dcd():
    n, t, rollouts = 4, 8, 30
    teacher, designer, prot_env, _, _ = _play(n, t, rollouts, batch_size=n, episodes_per_level=1, max_pending=4)
    assert prot_env.steps == rollouts * n * t
    # dcd: exactly one update per rollout (n * t protagonist steps). Both bridges start with
    # two levels queued per sub-env, so the look-ahead costs no credit at this rate.
    assert len(designer.learned) == rollouts
    assert teacher.n_extra_protagonist == 0  # every protagonist episode is on a fresh design, as in dcd
    assert [b for b, _ in designer.learned] == list(range(rollouts))  # in design order, none lost


def test_the_3m_runs_settings_starve_the_sub_envs_of_fresh_designs():
    # The 3M-step runs' shape: 8x more sub-envs than levels per batch (256 vs 32), 2 episodes
    # per level, 2 batches open. At most 2 * 2 * 2 = 8 fresh hand-outs exist at a time for
    # 16 * (1 + look-ahead) = 32 queue slots, so at least 3/4 of the protagonist's episodes
    # replay levels of the oldest open batch -- dcd never replays: every process plays the
    # level designed for it that iteration.
    n, t, rollouts = 16, 8, 30
    teacher, designer, _, _, _ = _play(n, t, rollouts, batch_size=2, episodes_per_level=2, max_pending=2)
    played = n * rollouts
    assert teacher.n_extra_protagonist >= 0.75 * played - n
    # dcd at these 16 processes would credit 16 levels per rollout; here far fewer
    assert sum(len(r) for _, r in designer.learned) <= played // 4


def test_credited_regret_is_antagonist_best_minus_protagonist_mean():
    n, t = 4, 8
    teacher, designer, _, prot_return, ant_return = _play(n, t, 6, batch_size=n, episodes_per_level=1, max_pending=4)
    pool = designer.pool
    # batch 0 holds pool levels 0..3. With one episode each (a 250-step timeout in a
    # 256-step dcd rollout), dcd's max over the antagonist's episodes and mean over the
    # protagonist's are that one return each: regret_j = max(ant_j - prot_j, 0).
    # level 0: max(0.00 - 0.0, 0) = 0;    level 1: max(0.25 - 0.1, 0) = 0.15
    # level 2: max(0.00 - 0.2, 0) = 0;    level 3: max(0.25 - 0.0, 0) = 0.25
    assert [ant_return[pool[j]] - prot_return[pool[j]] for j in range(4)] == pytest.approx([0.0, 0.15, -0.2, 0.25])
    assert designer.learned[0] == (0, pytest.approx([0.0, 0.15, 0.0, 0.25]))


def test_a_run_whose_sub_envs_would_replay_old_levels_is_warned_about():
    space = maze_task_space(max_size=15)
    # the 3M runs: 256 envs x 2 queue slots = 512 > 2 batches x 32 levels x 2 episodes = 128
    msg = PAIRED(space, seed=0).starvation_warning(256)
    assert msg is not None and "ued.max_pending >= 17" in msg  # 2 * 512 / (32 * 2) + 1
    assert "ued.max_pending=auto" in msg
    # experiment=ued_maze_paired_dcd: 32 envs x 2 = 64 <= 8 x 32 x 1
    assert PAIRED(space, seed=0, episodes_per_level=1, max_pending=8).starvation_warning(32) is None


# -- max_pending: auto ----------------------------------------------------------------------
def test_auto_opens_enough_batches_for_twice_the_queue_slots():
    # slots = n_envs * (1 + look-ahead 1); a batch is 32 levels x k episodes of hand-outs.
    # 256 envs, k=2: 2 * 512 // 64 + 1 = 17; 32 envs, k=1 (dcd's shape): 2 * 64 // 32 + 1 = 5;
    # 8 envs, k=2: 2 * 16 // 64 + 1 = 1, floored at 2 -- today's small runs keep their 2.
    assert open_batches_needed(256, 32, 2) == 17
    assert open_batches_needed(32, 32, 1) == 5
    assert open_batches_needed(8, 32, 2) == 2
    assert PAIRED(maze_task_space(max_size=15), seed=0, max_pending=17).starvation_warning(256) is None


def test_with_auto_every_protagonist_episode_at_256_envs_is_a_fresh_design(compose):
    """The 3M runs' shape (256 sub-envs, 32 levels per batch, 2 episodes per level), episodes
    lasting one rollout, worked out by hand: both students prime 2 levels per sub-env (512
    hand-outs = 8 batches each). A primed level completes once the protagonist has played
    it twice (its two hand-outs sit in two sub-envs' queues: rollouts 1 and 2) and the
    antagonist twice (it queues each level twice in one sub-env: rollouts 1 and 2), so
    nothing completes before the antagonist's 2nd rollout, and by then the protagonist has
    been handed 512 + 2 x 256 = 1024 levels = 16 open batches (< 17). From then on each
    iteration's 256 protagonist episodes complete 256 / 64 = 4 batches. In 12 iterations:
    8 + 4 x 10 = 48 adversary updates (dcd at 256 processes: 12, one per iteration, of 256
    levels each: 3072 levels, as here 48 x 32 x 2 = 3072 hand-outs), and no replay."""
    from experiments.running.config_checks import resolve_auto_params

    n, t, rollouts = 256, 8, 12
    cfg = compose("env=gridworld_batched", f"env.n_envs={n}", "teacher=paired", "seed=0")  # the default: auto
    resolve_auto_params(cfg)
    params = {k: cfg.teacher.params[k] for k in ("batch_size", "episodes_per_level", "max_pending")}
    assert params == {"batch_size": 32, "episodes_per_level": 2, "max_pending": 17}
    teacher, designer, prot_env, _, _ = _play(n, t, rollouts, pool=_big_pool(17 * 32 + 32), **params)
    assert teacher.n_extra_protagonist == 0
    assert prot_env.peak_open == 16
    assert len(designer.learned) == 8 + 4 * (rollouts - 2)
    assert [b for b, _ in designer.learned] == list(range(len(designer.learned)))
    # every protagonist episode of the last rollout was on a level of a batch designed for it
    last = prot_env.handed[-n:]
    assert len(set(last)) == n // 2  # 128 levels, each handed out twice (k = 2), none replayed


def test_the_old_fixed_two_at_256_envs_replays_most_levels():
    # The same shape with max_pending=2: 2 x 64 = 128 fresh hand-outs for 512 queue slots,
    # so at least 3/4 of the hand-outs after the prime replay open levels.
    n, t, rollouts = 256, 8, 6
    teacher, designer, prot_env, _, _ = _play(n, t, rollouts, pool=_big_pool(17 * 32 + 32), max_pending=2)
    assert teacher.n_extra_protagonist >= 0.75 * len(prot_env.handed) - n
    assert len(designer.learned) < 8 + 4 * (rollouts - 2)


def test_auto_at_8_envs_is_the_fixed_two_level_for_level(compose):
    """The committed gridworld leaderboard's PAIRED runs (8 envs): ``auto`` resolves to 2, so
    the run hands out the same levels in the same order as with ``max_pending=2`` -- here
    with one-step episodes in 16-step rollouts, where the 2 open batches do run out and the
    teacher's seeded replays of open levels are part of the sequence."""
    from experiments.running.config_checks import resolve_auto_params
    from teachers.registry import make_teacher

    handed = []
    for extra in ([], ["teacher.params.max_pending=2"]):
        cfg = compose("experiment=baseline_gridworld", "teacher=paired", "seed=0", *extra)
        resolve_auto_params(cfg)
        assert cfg.teacher.params.max_pending == 2 and cfg.env.n_envs == 8
        params = {k: v for k, v in cfg.teacher.params.items() if k in ("batch_size", "episodes_per_level", "max_pending")}
        teacher, _, prot_env, _, _ = _play(8, 16, 6, length=1, **params)
        assert teacher.n_extra_protagonist > 0  # the cap binds: 128 episodes per rollout, 128 fresh hand-outs
        handed.append(prot_env.handed)
    assert handed[0] == handed[1]
