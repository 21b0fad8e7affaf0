"""The batched NumPy VecEnv: step-for-step equal to the MiniGrid env, and the bridge protocol."""

from __future__ import annotations

import numpy as np
import pytest

from envs.errors import TeachBenchError
from envs.gridworld.batched import BatchedMazeVecEnv
from envs.gridworld.generate import generate_level
from envs.gridworld.level import Level, mutate
from envs.gridworld.maze_env import MazeEnv
from tests.test_gridworld import optimal_actions


def random_levels(space, rng: np.random.Generator, n: int) -> list[Level]:
    """Generated, mutated (possibly unsolvable) and hand-drawn levels of several sizes."""
    levels = []
    for k in range(n):
        lvl = generate_level(space.sample(rng), seed=int(rng.integers(1 << 30)))
        if k % 3 == 1:
            lvl = mutate(lvl, rng, n_edits=int(rng.integers(1, 8)))
        levels.append(lvl)
    levels.append(Level.from_ascii(["#####", "#>#.#", "###.#", "#..G#", "#####"]))  # unsolvable
    levels.append(Level.from_ascii(["####", "#>G#", "#..#", "####"]))  # smallest size
    return levels


@pytest.mark.parametrize("view", ["partial", "full"])
def test_batched_equals_single_env_on_random_levels_and_actions(view):
    rng = np.random.default_rng(7 if view == "partial" else 8)
    n = 12
    vec = BatchedMazeVecEnv(n, seed=0, view=view, max_steps=60)
    singles = [MazeEnv(view=view, max_steps=60) for _ in range(n)]
    levels = random_levels(vec.task_space, rng, 60)
    queue = list(levels)

    def next_for(i):
        lvl = queue.pop() if queue else levels[int(rng.integers(len(levels)))]
        vec.env_method("set_next_task", {"level": lvl.to_string()}, indices=[i])
        return lvl

    plans = [[] for _ in range(n)]
    for i in range(n):
        next_for(i)
    obs = vec.reset()
    for i in range(n):
        o, _ = singles[i].reset(options={"level": vec.levels[i].to_string()})
        assert np.array_equal(obs[i], o)
        next_for(i)  # the look-ahead task, played on auto-reset
    wins = resets = 0
    for t in range(1500):
        actions = np.empty(n, dtype=np.int64)
        for i in range(n):
            if not plans[i]:
                # Mix random play with optimal play so that goals really get reached.
                if singles[i].level.solvable and rng.random() < 0.5:
                    plans[i] = list(rng.integers(3, size=int(rng.integers(0, 6)))) + optimal_actions(singles[i].level)
                    plans[i] = plans[i] if rng.random() < 0.5 else []
                if not plans[i]:
                    plans[i] = list(rng.integers(3, size=8))
            actions[i] = plans[i].pop(0)
        obs, rewards, dones, infos = vec.step(actions)
        for i in range(n):
            so, sr, te, tr, si = singles[i].step(int(actions[i]))
            assert np.float32(sr) == rewards[i]
            assert bool(te or tr) == bool(dones[i])
            if dones[i]:
                assert np.array_equal(infos[i]["terminal_observation"], so)
                assert infos[i]["success"] == si["success"] == te
                assert infos[i]["TimeLimit.truncated"] == (tr and not te)
                assert infos[i]["level"] == si["level"] and infos[i]["task"] == si["task"]
                assert infos[i]["level_stats"] == si["level_stats"]
                wins += te
                resets += 1
                plans[i] = []
                so, _ = singles[i].reset(options={"level": vec.levels[i].to_string()})
                next_for(i)
            assert np.array_equal(obs[i], so), (i, t)
    assert wins > 40 and resets > 100  # both outcomes exercised


def test_same_seed_same_task_same_levels_as_single_env():
    n = 6
    vec = BatchedMazeVecEnv(n, seed=123)
    task = {"size": 9, "wall_density": 0.3, "min_goal_distance": 0.5}
    for i in range(n):
        vec.set_next_task(task, indices=[i])
    vec.seed(40)
    vec.reset()
    for i in range(n):
        single = MazeEnv()
        single.reset(seed=40 + i, options={"task": task})
        assert vec.levels[i] == single.level


def test_bridge_protocol_one_task_lookahead_and_monitor_infos():
    """A recording teacher through the lead's Curriculum: every finished episode reports
    the task it really played, in the order the teacher handed them out per env."""
    from students.bridge import Curriculum

    class Recorder:
        def __init__(self):
            self.rng = np.random.default_rng(0)
            self.sampled: list[dict] = []
            self.updates = []

        def sample(self):
            task = {"size": int(self.rng.integers(5, 8)), "wall_density": 0.0, "min_goal_distance": float(self.rng.uniform())}
            self.sampled.append(task)
            return task

        def update(self, episode):
            self.updates.append(episode)

    n = 4
    vec = BatchedMazeVecEnv(n, seed=0, max_steps=30)
    teacher = Recorder()
    cur = Curriculum(teacher, vec)
    cur.prime()
    handed = [list(p) for p in cur.pending()]
    assert all(len(p) == 2 for p in handed)  # the task to start with + one look-ahead
    vec.reset()
    assert [p[0] for p in cur.pending()] == [h[0] for h in handed]
    expected = [list(h) for h in handed]
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=int)
    rng = np.random.default_rng(1)
    step = 0
    # the sub-env -> teacher map: every newly sampled task goes to the env that finished
    while len(teacher.updates) < 60:
        before = len(teacher.sampled)
        _, rewards, dones, infos = vec.step(rng.choice(3, size=n, p=[0.2, 0.2, 0.6]))
        step += n
        returns += rewards
        lengths += 1
        eps = cur.on_step(dones, infos, step)
        for ep, i in zip(eps, np.flatnonzero(dones)):
            assert ep.env_index == i
            assert ep.task == expected[i].pop(0)
            assert ep.episode_return == pytest.approx(returns[i], abs=1e-6) and ep.length == lengths[i]
            assert ep.success == (returns[i] > 0)
            assert ep.level_id == infos[i]["level"]
            returns[i] = 0
            lengths[i] = 0
        new = teacher.sampled[before:]
        for task, i in zip(new, np.flatnonzero(dones)):
            expected[i].append(task)
        assert [p for p in cur.pending()] == expected
    assert any(e.success for e in teacher.updates) and any(not e.success for e in teacher.updates)


def test_env_method_get_attr_and_bad_input():
    vec = BatchedMazeVecEnv(3, seed=0)
    assert vec.get_attr("task_space")[0] is vec.task_space
    assert len(vec.env_method("test_tasks")[0]) == 50
    with pytest.raises(TeachBenchError, match="task.size"):
        vec.env_method("set_next_task", {"size": 99, "wall_density": 0.1, "min_goal_distance": 0.0}, indices=[0])
    with pytest.raises(TeachBenchError, match="level"):
        vec.env_method("set_next_task", {"level": "m1:5:oops"}, indices=[1])
    with pytest.raises(TeachBenchError):
        vec.step(np.zeros(3, dtype=np.int64))  # before reset
    vec.reset()
    with pytest.raises(TeachBenchError, match="actions"):
        vec.step(np.array([0, 1, 3]))
    with pytest.raises(TeachBenchError, match="actions"):
        vec.step(np.array([0, 1]))
    vec.step(np.array([0, 1, 2]))  # still fine after refused input
    vec.env_method("clear_tasks")
    assert all(len(p) == 1 for p in vec.env_method("pending_tasks"))
    frame = vec.render_env(0)
    assert frame.ndim == 3


def test_sb3_ppo_runs_on_the_batched_env():
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    vec = BatchedMazeVecEnv(16, seed=0, max_steps=40)
    model = PPO("MlpPolicy", vec, n_steps=32, batch_size=128, n_epochs=1, seed=0)
    model.learn(1024)
    assert model.num_timesteps >= 1024
    assert len(model.ep_info_buffer) > 0  # our info["episode"] feeds SB3's episode stats
    VecMonitor(BatchedMazeVecEnv(2, seed=0)).reset()


def _plr_style_run(teacher_name: str, cache: int) -> tuple[list, object, int]:
    """A fixed-seed run of the batched env under a real level-replay teacher through the
    bridge (PLR's or ACCEL's hand-outs: replays and ACCEL's children as level strings,
    new levels as parameter tasks), with the process's level cache at ``cache`` levels.
    Returns every observation, reward, done and finished-episode info (its wall-clock
    time left out), the teacher, and the cache hits."""
    from envs.gridworld.level import LEVEL_CACHE_SIZE, LEVELS
    from students.bridge import Curriculum
    from students.regret import level_editor
    from teachers.registry import make_teacher

    LEVELS.resize(cache)
    LEVELS.clear()
    try:
        vec = BatchedMazeVecEnv(16, seed=3, max_steps=12)  # short episodes: many hand-outs
        params = {"buffer_size": 24, "min_fill": 0.25, "replay_prob": 0.8}
        if teacher_name == "accel":
            params["replay_schedule"] = "fixed"
        teacher = make_teacher(teacher_name, vec.task_space, seed=0, **params)
        teacher.level_editor = level_editor
        curriculum = Curriculum(teacher, vec)
        curriculum.defer_updates = True  # scored at "rollout" end, as a run scores them
        held = []

        def stand_in_regret(episode, _i, _info):
            episode.regret = 1.0 - float(episode.episode_return)
            held.append(episode)

        curriculum.episode_hooks.append(stand_in_regret)
        curriculum.prime()
        record = [vec.reset()]
        rng = np.random.default_rng(4)
        for t in range(240):
            obs, rewards, dones, infos = vec.step(rng.integers(3, size=16))
            curriculum.on_step(dones, infos, t * 16)
            if (t + 1) % 8 == 0:
                curriculum.deliver(sorted(held, key=lambda e: e.episode_id))
                held.clear()
                if hasattr(teacher, "on_rollout_end"):
                    teacher.on_rollout_end()
            finished = [{k: (v if k != "episode" else (v["r"], v["l"])) for k, v in infos[i].items()}
                        for i in np.flatnonzero(dones)]
            record.append((obs, rewards, dones, finished))
        return record, teacher, LEVELS.hits
    finally:
        LEVELS.resize(LEVEL_CACHE_SIZE)


@pytest.mark.parametrize("teacher_name", ["plr", "accel"])
def test_level_cache_plays_the_same_episodes_as_parsing_every_hand_out(teacher_name):
    """Issue 18: replayed levels are parsed once per string instead of once per hand-out.
    The run with the cache plays exactly the run without it: the same levels, observations,
    rewards, ends and infos, and the teacher hands out the same tasks."""
    plain, t_plain, hits_plain = _plr_style_run(teacher_name, cache=0)
    cached, t_cached, hits_cached = _plr_style_run(teacher_name, cache=8192)
    assert hits_plain == 0 and hits_cached > 200  # the cache served most replays
    assert t_cached.n_replayed == t_plain.n_replayed > 100
    if teacher_name == "accel":
        assert t_cached.n_children_played == t_plain.n_children_played > 50
    assert np.array_equal(plain[0], cached[0])
    for (o1, r1, d1, f1), (o2, r2, d2, f2) in zip(plain[1:], cached[1:]):
        assert np.array_equal(o1, o2) and np.array_equal(r1, r2) and np.array_equal(d1, d2)
        for a, b in zip(f1, f2):
            assert a.keys() == b.keys()
            for key in a:
                if key == "terminal_observation":
                    assert np.array_equal(a[key], b[key])
                else:
                    assert a[key] == b[key], key
    assert sum(len(f) for *_, f in plain[1:]) > 250


def test_bad_level_strings_raise_when_queued_even_next_to_cached_ones():
    """A string is cached only once it parsed: corrupt strings, a bad start or goal, and a
    level larger than the env plays raise TeachBenchError naming the key at queue time
    (set_next_task and set_next_tasks alike), never inside step."""
    from envs.gridworld.level import LEVELS

    vec = BatchedMazeVecEnv(2, seed=0)
    good = generate_level({"size": 11, "wall_density": 0.2, "min_goal_distance": 0.5}, 1).to_string()
    vec.set_next_tasks([{"level": good}, {"level": good}], [0, 1])
    big = Level(23, (), (1, 1), 0, (21, 21)).to_string()
    LEVELS.parse(big)  # cached by another env that plays 23 x 23 mazes: still too large here
    bad = [(good[:-2], "level.walls"), ("m2" + good[2:], "level"), ("m1:5:1,1,0:1,1:AAA", "level.goal"),
           ("m1:5:1,1,4:3,3:AAA", "level.start_dir"), (big, "level.size")]
    for text, key in bad:
        for queue in (lambda: vec.set_next_tasks([{"level": text}], [1]),
                      lambda: vec.set_next_task({"level": text}, indices=[1])):
            with pytest.raises(TeachBenchError) as err:
                queue()
            assert err.value.key == key, text
    assert vec.pending_tasks() == [[{"level": good}], [{"level": good}]]  # nothing bad was queued
    vec.reset()
    for _ in range(300):
        vec.step(np.full(2, 2))
    # the 21 x 21 literature mazes fit the partial view (max_level_size) in both calls
    wide = Level(21, (), (1, 1), 0, (19, 19)).to_string()
    vec.set_next_tasks([{"level": wide}], [0])
    vec.set_next_task({"level": wide}, indices=[1])
