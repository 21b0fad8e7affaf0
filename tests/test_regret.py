"""PVL / MaxMC from the PPO rollout buffer, robust (PLR⊥) updates, end to end on PPO."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from students.bridge import Curriculum, CurriculumCallback
from students.build import make_student
from students.regret import RegretTracker, attach_teacher_needs, max_mc, positive_value_loss
from students.robust import masked_batches
from students.vec import make_vec_env
from teachers.base import Episode
from teachers.registry import make_teacher


def ep(level: str, ret: float, length: int) -> Episode:
    return Episode(task={"level": level}, episode_return=ret, length=length, level_id=level)


def test_pvl_and_maxmc_match_hand_computed_values_across_rollouts() -> None:
    """Two envs, rollouts of 3 steps. Env 0 plays A (steps 0-1) then B (steps 2 .. next 0);
    env 1 plays C across both rollouts (steps 0-2, 0-1), then A again (step 2)."""
    tr = RegretTracker(n_envs=2)
    adv1 = np.array([[0.5, -1.0], [-0.2, 2.0], [1.0, 0.4]])
    val1 = np.array([[0.1, 0.3], [0.2, 0.0], [0.4, -0.5]])
    a1 = ep("A", 1.0, 2)
    tr.episode_finished(a1, 0, pos=1)
    assert tr.rollout_end(adv1, val1) == [a1]
    assert a1.extra["pvl"] == pytest.approx((0.5 + 0.0) / 2)
    assert a1.extra["maxmc"] == pytest.approx(1.0 - (0.1 + 0.2) / 2)
    adv2 = np.array([[-0.3, 0.6], [0.7, -0.1], [0.2, 0.9]])
    val2 = np.array([[0.6, 0.2], [0.0, 0.1], [0.3, 0.8]])
    b, c, a2 = ep("B", 0.5, 2), ep("C", -1.0, 5), ep("A", 0.3, 1)
    tr.episode_finished(b, 0, pos=0)
    tr.episode_finished(c, 1, pos=1)
    tr.episode_finished(a2, 1, pos=2)
    done = tr.rollout_end(adv2, val2)
    assert done == [b, c, a2]
    assert b.extra["pvl"] == pytest.approx((1.0 + 0.0) / 2)          # steps: rollout1[2], rollout2[0]
    assert b.extra["maxmc"] == pytest.approx(0.5 - (0.4 + 0.6) / 2)
    assert c.extra["pvl"] == pytest.approx((0 + 2.0 + 0.4 + 0.6 + 0) / 5)
    assert c.extra["maxmc"] == pytest.approx(-1.0 - (0.3 + 0.0 - 0.5 + 0.2 + 0.1) / 5)  # negative returns stay negative
    # A again: R_max is the best return ever seen on A (1.0 from the first episode), not 0.3
    assert a2.extra["maxmc"] == pytest.approx(1.0 - 0.8)
    assert a2.extra["pvl"] == pytest.approx(0.9)
    assert [e.extra["regret_steps"] for e in done] == [2, 5, 1]
    assert positive_value_loss([-1.0, 3.0]) == 1.5 and max_mc(2.0, [1.0, 0.0]) == 1.5


def test_masked_batches_yield_exactly_the_masked_transitions() -> None:
    from gymnasium import spaces
    from stable_baselines3.common.buffers import RolloutBuffer

    n_steps, n_envs = 4, 3
    buf = RolloutBuffer(n_steps, spaces.Box(-1e6, 1e6, (1,)), spaces.Discrete(2), n_envs=n_envs)
    for t in range(n_steps):  # observation = 10*step + env: identifies the transition
        obs = np.array([[10.0 * t + i] for i in range(n_envs)], dtype=np.float32)
        buf.add(obs, np.zeros((n_envs, 1)), np.zeros(n_envs), np.zeros(n_envs), torch.zeros(n_envs), torch.zeros(n_envs))
    buf.compute_returns_and_advantage(torch.zeros(n_envs), np.zeros(n_envs))
    mask = np.zeros((n_steps, n_envs), dtype=bool)
    mask[1, 0] = mask[3, 2] = mask[0, 1] = True
    seen = []
    for batch in masked_batches(buf, mask, 2, np.random.default_rng(0)):
        seen.extend(batch.observations.numpy().reshape(-1).tolist())
    assert sorted(seen) == [1.0, 10.0, 32.0]


def _setup(name: str, n_steps: int = 32, **params):
    vec = make_vec_env("gridworld", {"max_size": 7}, 2, seed=0)
    teacher = make_teacher(name, vec.get_attr("task_space")[0], seed=0, **params)
    model = make_student("ppo", vec, params={"n_steps": n_steps, "batch_size": 32, "n_epochs": 1}, seed=0)
    episodes: list[Episode] = []
    cur = Curriculum(teacher, vec, sinks=[episodes.append])
    cur.prime()
    cb = CurriculumCallback(cur)
    att = attach_teacher_needs(teacher, model, cur, cb)
    return teacher, model, cb, att, episodes


def test_end_to_end_plr_robust_scores_every_episode_on_gridworld() -> None:
    teacher, model, cb, att, episodes = _setup("plr_robust", buffer_size=8, min_fill=0.5, score="maxmc")
    model.learn(1280, callback=cb)
    assert len(episodes) > 5
    for e in episodes:  # every step of every episode counted once, across rollout boundaries
        assert e.extra["regret_steps"] == e.length
        assert e.regret == e.extra["maxmc"] and np.isfinite(e.extra["pvl"])
        assert e.level_id is not None
    stats = att.stats
    assert stats["env_steps"] == model.num_timesteps == 1280
    assert stats["gradient_updates"] + stats["skipped_updates"] == 1280 // 64
    assert stats["trained_transitions"] < stats["env_steps"]
    replays = [e for e in episodes if e.extra["replay"]]
    assert replays and all(e.task.keys() == {"level"} for e in replays)
    assert teacher.diagnostics()["train_skipped_updates"] == stats["skipped_updates"]


def test_robust_update_takes_no_gradient_step_on_new_levels() -> None:
    # min_fill 1 with a huge buffer: never replays, so PLR⊥ must never change the policy
    teacher, model, cb, att, episodes = _setup("plr_robust", buffer_size=10_000, min_fill=1.0)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(256, callback=cb)
    assert all(torch.equal(a, b) for a, b in zip(before, model.policy.parameters()))
    assert att.stats["skipped_updates"] == 4 and att.stats["gradient_updates"] == 0
    # plain PLR trains on everything
    teacher, model, cb, att, episodes = _setup("plr", buffer_size=10_000, min_fill=1.0)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(128, callback=cb)
    assert not all(torch.equal(a, b) for a, b in zip(before, model.policy.parameters()))


def test_accel_end_to_end_edits_gridworld_levels(tmp_path) -> None:
    teacher, model, cb, att, episodes = _setup("accel", buffer_size=6, min_fill=0.5, replay_prob=0.9)
    model.learn(1280, callback=cb)
    assert teacher.n_children_made > 0 and teacher.n_children_played > 0
    model.save(tmp_path / "m.zip")  # the robust class swap leaves SB3's save intact
    from stable_baselines3 import PPO

    PPO.load(tmp_path / "m.zip")


def test_needs_nothing_is_a_no_op_and_off_policy_students_are_refused() -> None:
    from envs.errors import TeachBenchError

    vec = make_vec_env("gridworld", {"max_size": 7}, 1, seed=0)
    space = vec.get_attr("task_space")[0]
    cur = Curriculum(make_teacher("random", space), vec)
    cb = CurriculumCallback(cur)
    model = make_student("dqn", vec, params={"learning_starts": 10}, seed=0)
    att = attach_teacher_needs(cur.teacher, model, cur, cb)
    assert not cur.defer_updates and not cb.at_rollout_end and att.tracker is None
    with pytest.raises(TeachBenchError, match="student.algo"):
        attach_teacher_needs(make_teacher("plr", space), model, cur, cb)


def test_masked_batches_never_yield_a_lone_transition() -> None:
    """3 masked transitions in minibatches of 2 give one batch of 3, not 2 + 1: a batch of
    one has an advantage std of NaN under sb3-contrib's normalisation."""
    from gymnasium import spaces
    from stable_baselines3.common.buffers import RolloutBuffer

    buf = RolloutBuffer(4, spaces.Box(-1e6, 1e6, (1,)), spaces.Discrete(2), n_envs=3)
    for t in range(4):
        buf.add(np.full((3, 1), t, np.float32), np.zeros((3, 1)), np.zeros(3), np.zeros(3), torch.zeros(3), torch.zeros(3))
    buf.compute_returns_and_advantage(torch.zeros(3), np.zeros(3))
    mask = np.zeros((4, 3), dtype=bool)
    mask[1, 0] = mask[3, 2] = mask[0, 1] = True
    assert [len(b.observations) for b in masked_batches(buf, mask, 2, np.random.default_rng(0))] == [3]
    mask[2, :] = True                                              # 6 transitions: 2 + 2 + 2
    assert [len(b.observations) for b in masked_batches(buf, mask, 2, np.random.default_rng(0))] == [2, 2, 2]


def test_a_robust_maskable_ppo_update_stays_finite_with_a_few_replayed_transitions() -> None:
    """The web forms' PLR⊥/ACCEL rows failed with NaN logits on 2026-11-30: a replay mask of
    k * batch_size + 1 transitions made a minibatch of one, and MaskablePPO's advantage
    normalisation divided by its NaN std. Every update here must leave finite weights, and a
    single replayed transition is no update at all."""
    from types import SimpleNamespace

    from students.robust import install_robust_update

    vec = make_vec_env("webform", {}, 2, seed=0)
    model = make_student("maskable_ppo", vec, params={"n_steps": 16, "batch_size": 4, "n_epochs": 2}, seed=0)
    model.learn(total_timesteps=32)                               # a filled rollout buffer (32 transitions)
    holder, stats = SimpleNamespace(mask=np.zeros((16, 2), dtype=bool)), {}
    install_robust_update(model, holder, stats)
    for n in (5, 9, 1):                                           # 4 + 1, 8 + 1, and a lone transition
        holder.mask[:] = False
        holder.mask.reshape(-1)[:n] = True
        before = [p.detach().clone() for p in model.policy.parameters()]
        model.train()
        after = list(model.policy.parameters())
        assert all(torch.isfinite(p).all() for p in after), n
        changed = any(not torch.equal(p, q) for p, q in zip(before, after))
        assert changed == (n > 1), n
    assert stats["gradient_updates"] == 2 and stats["skipped_updates"] == 1
    vec.close()


class _PerEpisodeTracker(RegretTracker):
    """The per-episode loop ``rollout_end`` was before issue 18 (three slice sums per
    episode and per running sub-env): the oracle the batched sums must equal bit for bit."""

    def rollout_end(self, advantages: np.ndarray, values: np.ndarray) -> list[Episode]:
        from teachers.plr import level_key

        adv = np.asarray(advantages, dtype=np.float64).reshape(-1, self.n_envs)
        val = np.asarray(values, dtype=np.float64).reshape(-1, self.n_envs)
        n_steps = adv.shape[0]
        done = []
        for episode, i, start, end in self.finished:
            a, v = adv[start:end + 1, i], val[start:end + 1, i]
            steps = int(self.carry_steps[i]) + a.size
            pos_sum = self.carry_pos_adv[i] + np.clip(a, 0.0, None).sum()
            abs_sum = self.carry_abs_adv[i] + np.abs(a).sum()
            value_sum = self.carry_values[i] + v.sum()
            self.carry_pos_adv[i] = self.carry_abs_adv[i] = self.carry_values[i] = 0.0
            self.carry_steps[i] = 0
            key = level_key(episode)
            best = max(self.best_return.pop(key, -np.inf), float(episode.episode_return))
            self.best_return[key] = best
            if len(self.best_return) > self.max_levels:
                self.best_return.popitem(last=False)
            episode.extra["pvl"] = float(pos_sum / steps)
            episode.extra["maxmc"] = float(best - value_sum / steps)
            episode.extra["regret_steps"] = steps
            episode.extra["mean_abs_gae"] = float(abs_sum / steps)
            done.append(episode)
        for i in range(self.n_envs):
            s = int(self.seg_start[i])
            if s < n_steps:
                self.carry_pos_adv[i] += np.clip(adv[s:, i], 0.0, None).sum()
                self.carry_abs_adv[i] += np.abs(adv[s:, i]).sum()
                self.carry_values[i] += val[s:, i].sum()
                self.carry_steps[i] += n_steps - s
        self.seg_start[:] = 0
        self.finished = []
        return done


@pytest.mark.parametrize("n_steps,n_envs,p_done", [(1, 5, 0.5), (7, 3, 0.3), (64, 256, 0.02), (64, 64, 0.5),
                                                   (300, 4, 0.004)])
def test_batched_rollout_end_gives_the_per_episode_loops_scores_bit_for_bit(n_steps: int, n_envs: int,
                                                                             p_done: float) -> None:
    """Random rollouts (float32 advantages and values as SB3 stores them, episodes of 1 step
    up to several rollouts, several per env per rollout, repeated levels): the batched
    ``rollout_end`` fills every score and keeps every carried sum exactly as the loop did.
    Segments of 300 steps cross NumPy's pairwise block (128), so the order of additions
    inside a sum is checked too."""
    rng = np.random.default_rng(n_steps * 1000 + n_envs)
    fast, slow = RegretTracker(n_envs, max_levels=20), _PerEpisodeTracker(n_envs, max_levels=20)
    n_checked = 0
    for _rollout in range(4):
        adv = (rng.standard_normal((n_steps, n_envs)) * 3).astype(np.float32)
        val = rng.standard_normal((n_steps, n_envs)).astype(np.float32)
        pairs = []
        for pos in range(n_steps):
            for i in np.flatnonzero(rng.random(n_envs) < p_done):
                level, ret = f"L{rng.integers(30)}", float(rng.standard_normal())
                a, b = ep(level, ret, 1), ep(level, ret, 1)
                fast.episode_finished(a, int(i), pos)
                slow.episode_finished(b, int(i), pos)
                pairs.append((a, b))
        got, want = fast.rollout_end(adv, val), slow.rollout_end(adv, val)
        assert len(got) == len(want) == len(pairs)
        for a, b in pairs:
            assert a.extra == b.extra  # float == : the same bits (no NaN here)
            assert type(a.extra["regret_steps"]) is int
            n_checked += 1
        for name in ("carry_pos_adv", "carry_abs_adv", "carry_values", "carry_steps", "seg_start"):
            assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
        assert list(fast.best_return.items()) == list(slow.best_return.items())
    assert n_checked > 0


class _PerEnvMask:
    """``ReplayMask.on_step`` as the per-env loop it was before issue 18 (the oracle)."""

    @staticmethod
    def on_step(self, pos: int, dones: np.ndarray, infos) -> None:  # noqa: ANN001
        for i in range(self.mask.shape[1]):
            if self.episode_start[i]:
                task = infos[i].get("task")
                self.episode_flag[i] = bool(task is not None and self.teacher.is_replay_task(task))
                self.episode_start[i] = False
            self.mask[pos, i] = self.episode_flag[i]
            self.episode_counts[i] += (int(self.episode_flag[i]), 1)
            if dones[i]:
                if self.keep_log:
                    self.log.append((i, self.episode_token[i], int(self.episode_counts[i, 0]),
                                     int(self.episode_counts[i, 1])))
                self.episode_counts[i] = 0
                if self.curriculum is not None:
                    self._label_from_token(i)
                else:
                    self.episode_start[i] = True


@pytest.mark.parametrize("tokens", [True, False])
def test_replay_mask_labels_as_the_per_env_loop(tokens: bool) -> None:
    """The array version of ``ReplayMask.on_step`` gives the mask, the per-episode counts and
    the log of the per-env loop, with hand-out tokens (PLR, ACCEL) and with task strings."""
    from students.robust import ReplayMask

    n_envs, n_steps = 37, 16
    rng = np.random.default_rng(5)

    class Teacher:  # replay labels: even tokens, levels whose name ends in an odd digit
        def is_replay_task(self, task):  # noqa: ANN001, ANN202
            return int(task["level"][-1]) % 2 == 1

    class Bridge:
        def __init__(self) -> None:
            self.head = list(range(n_envs))

        def current_handout(self, i: int):  # noqa: ANN201
            return self.head[i]

    teacher = Teacher()
    if tokens:
        teacher.is_replay_token = lambda token: token is not None and token % 2 == 0  # type: ignore[attr-defined]
    bridges = [Bridge(), Bridge()]
    fast, slow = (ReplayMask(teacher, n_steps, n_envs, bridge) for bridge in bridges)
    for m in (fast, slow):
        m.keep_log = True
    next_token = n_envs
    for _rollout in range(3):
        fast.reset(), slow.reset()
        for pos in range(n_steps):
            dones = rng.random(n_envs) < 0.2
            infos = [{"task": {"level": f"L{rng.integers(10)}"}} for _ in range(n_envs)]
            for i in np.flatnonzero(dones):  # the bridge pops the finished episode's token first
                for b in bridges:
                    b.head[i] = next_token
                next_token += 1
            fast.on_step(pos, dones, infos)
            _PerEnvMask.on_step(slow, pos, dones, infos)
            assert np.array_equal(fast.mask, slow.mask)
            assert np.array_equal(fast.episode_counts, slow.episode_counts)
            assert np.array_equal(fast.episode_flag, slow.episode_flag)
    assert fast.log == slow.log and len(fast.log) > 50
    assert 0 < fast.mask.sum() < fast.mask.size
