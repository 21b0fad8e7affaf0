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
