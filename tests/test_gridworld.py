"""The single maze env: contract, generation, dynamics, observation vs MiniGrid, levels."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs.errors import TeachBenchError
from envs.gridworld.generate import generate_level, required_distance
from envs.gridworld.level import DIR_TO_VEC, Level, bfs_distances
from envs.gridworld.maze_env import MazeEnv


def optimal_actions(level: Level) -> list[int]:
    """Turn-and-forward actions along a BFS shortest path (start -> goal)."""
    dist = bfs_distances(level.wall_grid, level.goal)  # distances *to* the goal
    pos, d = level.start, level.start_dir
    actions: list[int] = []
    while pos != level.goal:
        for nd, (dx, dy) in enumerate(DIR_TO_VEC):
            nxt = (pos[0] + dx, pos[1] + dy)
            if dist[nxt] == dist[pos] - 1 and dist[nxt] >= 0:
                break
        turns = (nd - d) % 4
        actions += [1] * turns if turns <= 2 else [0]
        actions.append(2)
        pos, d = nxt, nd
    return actions


def play(env: MazeEnv, actions: list[int]):
    out = None
    for a in actions:
        out = env.step(a)
        if out[2] or out[3]:
            break
    return out


def test_registered_env_passes_gymnasium_and_sb3_checkers():
    env = gym.make("TeachBench/Gridworld-v0")
    assert envs.gym_id("gridworld") == "TeachBench/Gridworld-v0"
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(MazeEnv(), warn=True)
    sb3_check_env(MazeEnv(view="full"), warn=True)


def test_generated_levels_are_solvable_and_follow_the_task():
    env = MazeEnv()
    rng = np.random.default_rng(0)
    for k in range(300):
        task = env.task_space.sample(rng)
        level = generate_level(task, seed=k)
        assert level == generate_level(task, seed=k)  # deterministic from the seed
        assert level.size == task["size"]
        assert level.solvable and level.shortest_path >= 1
        n_cells = (level.size - 2) ** 2
        # Walls are only ever knocked down (to free a start region), never added.
        assert len(level.walls) <= round(task["wall_density"] * n_cells)
        # The goal is at least the asked distance away, unless no reachable cell is that far.
        need = required_distance(level.size, task["min_goal_distance"])
        far = level.distances().max()
        assert level.shortest_path >= min(need, far)


def test_empty_maze_density_and_distance_extremes():
    space = MazeEnv().task_space
    lvl = generate_level(space.validate({"size": 15, "wall_density": 0.0, "min_goal_distance": 1.0}), seed=3)
    assert lvl.walls == () and lvl.shortest_path == 2 * (15 - 3)  # opposite corners
    dense = generate_level(space.validate({"size": 5, "wall_density": 0.5, "min_goal_distance": 0.0}), seed=1)
    assert dense.solvable


def test_optimal_play_succeeds_with_the_sparse_time_discounted_reward():
    env = MazeEnv()
    for seed in range(20):
        _, info = env.reset(seed=seed, options={"task": {"size": 11, "wall_density": 0.3, "min_goal_distance": 0.5}})
        assert info["task"] == {"size": 11, "wall_density": 0.3, "min_goal_distance": 0.5}
        actions = optimal_actions(env.level)
        for a in actions[:-1]:
            _, r, term, trunc, info = env.step(a)
            assert r == 0.0 and not term and not trunc and "success" not in info
            assert info["task"]["size"] == 11
        _, r, term, trunc, info = env.step(actions[-1])
        assert term and info["success"] is True
        assert r == pytest.approx(1 - 0.9 * len(actions) / 250)
        assert info["level_stats"]["solvable"] and info["level_stats"]["shortest_path"] == env.level.shortest_path


def test_timeout_truncates_without_success():
    env = MazeEnv(max_steps=7)
    env.reset(seed=0, options={"level": Level.from_ascii(["#####", "#>..#", "#...#", "#..G#", "#####"])})
    for t in range(7):
        _, r, term, trunc, info = env.step(0)  # spin in place
        assert r == 0.0 and not term
    assert trunc and info["success"] is False


def test_reset_repeats_task_with_new_layouts_and_replays_levels():
    env = MazeEnv()
    task = {"size": 9, "wall_density": 0.2, "min_goal_distance": 0.3}
    env.reset(seed=1, options={"task": task})
    layouts = {env.level.to_string()}
    for _ in range(5):
        _, info = env.reset()
        assert info["task"] == task
        layouts.add(env.level.to_string())
    assert len(layouts) > 1
    text = env.level.to_string()
    _, info = env.reset(options={"level": text})
    assert info["task"] == {"level": text}
    _, info = env.reset()
    assert env.level.to_string() == text and info["task"] == {"level": text}
    _, info = env.reset(options={"task": {"level": text}})  # the bridge's level-task form
    assert info["level"] == text
    # Same seed, same task -> same level (reproducible runs).
    env.reset(seed=5, options={"task": task})
    a = env.level
    env.reset(seed=5, options={"task": task})
    assert env.level == a


def test_flat_observation_matches_minigrid_view():
    """Our NumPy view must equal MiniGrid's own gen_obs encoding cell for cell."""
    env = MazeEnv()
    rng = np.random.default_rng(0)
    checked = 0
    for ep in range(15):
        obs, _ = env.reset(seed=ep, options={"task": env.task_space.sample(rng)})
        for _ in range(60):
            native = MazeEnv.__mro__[1].gen_obs(env)  # MiniGridEnv.gen_obs
            img = native["image"]
            v = env.view_size
            assert np.array_equal(obs[: v * v].reshape(v, v), (img[..., 0] == 2).astype(np.float32))
            assert np.array_equal(obs[v * v : 2 * v * v].reshape(v, v), (img[..., 0] == 8).astype(np.float32))
            assert obs[2 * v * v + native["direction"]] == 1.0 and obs[2 * v * v :].sum() == 1.0
            checked += 1
            obs, _, term, trunc, _ = env.step(int(rng.integers(3)))
            if term or trunc:
                break
    assert checked > 300


def test_minigrid_obs_mode_and_rgb_rendering_work():
    from minigrid.wrappers import ImgObsWrapper

    env = ImgObsWrapper(MazeEnv(obs_mode="minigrid", render_mode="rgb_array"))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (5, 5, 3)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3


def test_test_tasks_are_fixed_and_span_the_space():
    a, b = MazeEnv().test_tasks(), MazeEnv().test_tasks()
    assert a == b and len(a) == 50
    space = MazeEnv().task_space
    assert all(space.contains(t) for t in a)
    sizes = {t["size"] for t in a}
    assert sizes == set(range(5, 16))
    dens = np.array([t["wall_density"] for t in a])
    assert dens.min() < 0.05 and dens.max() > 0.45
    assert MazeEnv().is_mastered(0.5, True) and not MazeEnv().is_mastered(0.0, False)


def test_level_string_roundtrip_and_equality():
    rng = np.random.default_rng(1)
    space = MazeEnv().task_space
    for k in range(100):
        lvl = generate_level(space.sample(rng), seed=k)
        text = lvl.to_string()
        assert Level.from_string(text) == lvl and hash(Level.from_string(text)) == hash(lvl)
        assert Level.from_ascii(lvl.to_ascii()) == lvl
        assert len(text) <= 50  # 15x15: 20 header chars + 29 for 169 wall bits
    a = Level.from_ascii(["#####", "#>..#", "#.#.#", "#..G#", "#####"])
    b = Level.from_ascii(["#####", "#>..#", "#...#", "#..G#", "#####"])
    assert a != b and a.shortest_path == 4


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "m1:15:1,1,0:3,3",
        "m1:x:1,1,0:3,3:AAAA",
        "m1:3:1,1,0:1,2:AA",  # too small
        "m1:99:1,1,0:3,3:AA",  # too large
        "m1:5:1,1,0:3,3:!!!",
        "m1:5:1,1,0:3,3:AAAAAA",  # wrong byte count
        "m1:5:0,1,0:3,3:AAA",  # start on the border
        "m1:5:1,1,7:3,3:AAA",  # bad direction
        "m1:5:1,1,0:1,1:AAA",  # goal on start
        "m1:5:1,1,0:3,9:AAA",  # goal outside
        "m1:5:1,1:3,3:AAA",
    ],
)
def test_malformed_level_strings_raise_teachbench_error(text):
    with pytest.raises(TeachBenchError):
        Level.from_string(text)
    env = MazeEnv()
    with pytest.raises(TeachBenchError):
        env.reset(options={"level": text})


def test_start_or_goal_on_wall_and_unsolvable_levels():
    with pytest.raises(TeachBenchError, match="level.start"):
        Level(7, (1 * 7 + 1,), (1, 1), 0, (5, 5))
    with pytest.raises(TeachBenchError, match="level.goal"):
        Level(7, (5 * 7 + 5,), (1, 1), 0, (5, 5))
    with pytest.raises(TeachBenchError, match="level.size"):
        MazeEnv(max_size=9, max_level_size=9).reset(options={"level": generate_level({"size": 11, "wall_density": 0, "min_goal_distance": 0}, 0)})
    walled = Level.from_ascii(["#####", "#>#.#", "###.#", "#..G#", "#####"])
    assert not walled.solvable and walled.shortest_path == -1
    env = MazeEnv(max_steps=20)
    _, info = env.reset(options={"level": walled.to_string()})
    assert info["level_stats"]["solvable"] is False
    for _ in range(20):  # stepping an unsolvable level is fine: it just times out
        _, _, term, trunc, info = env.step(2)
    assert trunc and not term and info["success"] is False


def test_bad_task_and_action_raise_teachbench_error():
    env = MazeEnv()
    with pytest.raises(TeachBenchError, match="task.size"):
        env.reset(options={"task": {"size": 4, "wall_density": 0.1, "min_goal_distance": 0.0}})
    with pytest.raises(TeachBenchError, match="task.wall_density"):
        env.reset(options={"task": {"size": 7, "wall_density": 0.9, "min_goal_distance": 0.0}})
    env.reset(seed=0)
    with pytest.raises(TeachBenchError, match="action"):
        env.step(5)
    with pytest.raises(TeachBenchError, match="view"):
        MazeEnv(view="birdseye")


@pytest.mark.slow
def test_ppo_learns_empty_small_mazes():
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    torch.set_num_threads(1)

    class Easy(gym.Wrapper):
        def reset(self, *, seed=None, options=None):
            size = int(self.env.unwrapped.np_random.integers(5, 8))
            return self.env.reset(seed=seed, options={"task": {"size": size, "wall_density": 0.0, "min_goal_distance": 0.0}})

    def solved_rate(model) -> float:
        env = MazeEnv()
        wins = 0
        for k in range(60):
            obs, _ = env.reset(seed=1000 + k, options={"task": {"size": 5 + k % 3, "wall_density": 0.0, "min_goal_distance": 0.0}})
            done = False
            while not done:
                a, _ = model.predict(obs, deterministic=True)
                obs, _, te, tr, info = env.step(a)
                done = te or tr
            wins += info["success"]
        return wins / 60

    from stable_baselines3.common.monitor import Monitor

    vec = DummyVecEnv([lambda: Monitor(Easy(MazeEnv())) for _ in range(8)])
    vec.seed(0)
    model = PPO("MlpPolicy", vec, n_steps=128, batch_size=256, n_epochs=4, gamma=0.995, ent_coef=0.01, seed=0)
    before = solved_rate(model)
    model.learn(50_000)
    after = solved_rate(model)
    assert after >= 0.8 and after > before + 0.3


def test_fuzzed_level_strings_give_teachbench_error_or_a_valid_level():
    """Random edits of valid strings: either a clean TeachBenchError or a level that plays."""
    rng = np.random.default_rng(3)
    env = MazeEnv(max_steps=5)
    alphabet = "m1:,0123456789-_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=!"
    ok = bad = 0
    for k in range(400):
        text = list(generate_level(env.task_space.sample(rng), seed=k).to_string())
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(len(text)))
            op = rng.integers(3)
            if op == 0:
                text[pos] = alphabet[int(rng.integers(len(alphabet)))]
            elif op == 1:
                del text[pos]
            else:
                text.insert(pos, alphabet[int(rng.integers(len(alphabet)))])
        try:
            env.reset(options={"level": "".join(text)})
        except TeachBenchError:
            bad += 1
            continue
        ok += 1
        for _ in range(5):
            env.step(int(rng.integers(3)))
    assert ok > 20 and bad > 20


def _checked_from_string(text: str) -> Level:
    """The string format read by hand and the level built by the checking constructor:
    what ``Level.from_string`` must give (or the error it must raise) without its shortcut
    of trusting walls decoded from the bitmask."""
    import base64

    parts = text.strip().split(":")
    if len(parts) != 5 or parts[0] != "m1":
        raise TeachBenchError("level", "malformed")
    size = int(parts[1])
    if not 4 <= size <= 64:
        raise TeachBenchError("level.size", "range")
    sx, sy, d = (int(v) for v in parts[2].split(","))
    gx, gy = (int(v) for v in parts[3].split(","))
    raw = base64.urlsafe_b64decode(parts[4] + "=" * (-len(parts[4]) % 4))
    n = size - 2
    if len(raw) != (n * n + 7) // 8:
        raise TeachBenchError("level.walls", "bytes")
    bits = [(byte >> (7 - k)) & 1 for byte in raw for k in range(8)]  # packbits order: high bit first
    if any(bits[n * n:]):
        raise TeachBenchError("level.walls", "padding")
    walls = [(c // n + 1) * size + c % n + 1 for c in range(n * n) if bits[c]]
    return Level(size, tuple(walls), (sx, sy), d, (gx, gy))


def test_from_string_checks_start_goal_and_direction_as_the_constructor_does():
    """from_string trusts the walls it decodes (sorted, distinct, interior by construction)
    and checks the rest with the constructor's own checks: on valid strings and on strings
    whose start, goal or direction were moved anywhere (outside, onto a wall, onto each
    other, a bad direction), it gives the constructor's level or raises for the same key."""
    rng = np.random.default_rng(11)
    space = MazeEnv().task_space
    same = raised = 0
    for k in range(300):
        lvl = generate_level(space.sample(rng), seed=k)
        _, size, start, goal, walls = lvl.to_string().split(":")
        s, g = [int(v) for v in start.split(",")], [int(v) for v in goal.split(",")]
        if k % 3:
            which = s if k % 3 == 1 else g
            j = int(rng.integers(len(which)))
            which[j] = int(rng.integers(-1, int(size) + 1)) if j < 2 else int(rng.integers(-1, 6))
        text = f"m1:{size}:{','.join(map(str, s))}:{','.join(map(str, g))}:{walls}"
        try:
            want = _checked_from_string(text)
        except TeachBenchError as err:
            with pytest.raises(TeachBenchError) as got:
                Level.from_string(text)
            assert got.value.key == err.key, text
            raised += 1
            continue
        got = Level.from_string(text)
        assert got == want and got.walls == want.walls and got.seed is None
        assert all(type(w) is int for w in got.walls) and type(got.start[0]) is int and type(got.start_dir) is int
        same += 1
    assert same > 100 and raised > 50  # both branches exercised


def test_shortest_path_is_the_bfs_distance_to_the_goal_on_any_level():
    """stats()'s shortest path (a bitset BFS) equals the cell-by-cell BFS distance of the
    goal, −1 when the goal is walled off, on generated, edited and hand-drawn levels."""
    from envs.gridworld.level import dcd_edit, mutate

    rng = np.random.default_rng(5)
    space = MazeEnv().task_space
    levels = [Level.from_ascii(["#####", "#>#.#", "###.#", "#..G#", "#####"]),
              Level.from_ascii(["####", "#>G#", "#..#", "####"])]
    for k in range(200):
        lvl = Level.from_string(generate_level(space.sample(rng), seed=k).to_string())
        levels.append(dcd_edit(lvl, rng, n_edits=int(rng.integers(1, 30))) if k % 2 else mutate(lvl, rng, 6))
    unsolvable = 0
    for lvl in levels:
        expected = int(bfs_distances(lvl.wall_grid, lvl.start)[lvl.goal])
        assert lvl.shortest_path == expected and lvl.stats()["solvable"] == (expected > 0)
        unsolvable += expected < 0
    assert 5 < unsolvable < len(levels) - 50


def test_level_cache_parses_each_string_once_and_drops_the_least_recent():
    from envs.gridworld.level import LevelCache

    rng = np.random.default_rng(2)
    space = MazeEnv().task_space
    texts = [generate_level(space.sample(rng), seed=k).to_string() for k in range(4)]
    cache = LevelCache(2)
    a = cache.parse(texts[0])
    assert a == Level.from_string(texts[0]) and a.seed is None
    assert cache.parse(texts[0]) is a and (cache.hits, cache.misses) == (1, 1)
    cache.parse(texts[1])
    cache.parse(texts[0])  # texts[1] is now the least recently used
    cache.parse(texts[2])
    assert len(cache) == 2 and cache.parse(texts[0]) is a
    assert cache.parse(texts[1]) is not None and cache.misses == 4  # texts[1] was dropped
    for _ in range(2):  # a bad string raises every time: it is never cached
        with pytest.raises(TeachBenchError, match="level"):
            cache.parse(texts[3][:-3])
    assert len(cache) == 2 and cache.misses == 4
    # a level made elsewhere (an ACCEL child) is kept under its string, seedless as parsed
    seeded = generate_level(space.sample(rng), seed=99)
    text = cache.remember(seeded)
    kept = cache.parse(text)
    assert text == seeded.to_string() and kept == seeded and kept.seed is None and seeded.seed == 99
    cache.resize(0)
    assert len(cache) == 0 and cache.parse(text) is not cache.parse(text)  # capacity 0: parsed every time
    with pytest.raises(TeachBenchError, match="level_cache"):
        cache.resize(-1)


def test_single_env_reads_level_strings_through_the_shared_cache():
    """MazeEnv and the batched env parse a level string with the same code (one cache per
    process): the second env replaying a string another env parsed gets the same Level."""
    from envs.gridworld.batched import BatchedMazeVecEnv
    from envs.gridworld.level import LEVELS

    text = generate_level({"size": 11, "wall_density": 0.2, "min_goal_distance": 0.5}, 7).to_string()
    env = MazeEnv()
    env.reset(options={"level": text})
    vec = BatchedMazeVecEnv(1, seed=0)
    vec.set_next_tasks([{"level": text}], [0])
    vec.reset()
    assert vec.levels[0] is env.level and LEVELS.parse(text) is env.level
