"""The non-recurrent designer's fast path (``fast_loop``) against SB3's: the same levels,
rollout buffer and updated weights, bit for bit on the CPU.

``PairedAdversary(fast_loop=False)`` designs with SB3's ``collect_rollouts`` (one forward
pass, one device round trip and one step of every designer env per placement) and
updates with SB3's ``PPO.train``; ``fast_loop=True`` places on the device and replays the
placements through the envs afterwards (:meth:`PairedAdversary._design_fast`) and
updates without the logging (:meth:`PairedAdversary._train_fast`). Both adversaries are
built with the same seed and driven from the same torch and NumPy generator states, so
any difference in the observations the policy saw, in the noise drawn or in the update's
arithmetic shows up as unequal actions, log-probabilities or weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs.gridworld.designer import MazeDesignerEnv
from students.paired_adversary import PairedAdversary, _place

SMALL = dict(size=7, n_walls=4, noise_dim=3, batch_size=4, conv_filters=4, time_embed=3, head_hidden=8,
             recurrent=False, seed=5, max_pending=10)


@pytest.mark.parametrize("goal_last", [False, True])
@pytest.mark.parametrize("sequence", [[3, 3, 3, 7, 3, 7], [12, 5, 5, 12, 0, 24], [0, 1, 2, 3, 4, 4]])
def test_place_is_the_designer_envs_rule(goal_last: bool, sequence: list[int]) -> None:
    """Repeated walls, a wall on the goal or start, a start on the goal: the planes after
    each placement equal the env's image (the last placement's is never observed)."""
    env = MazeDesignerEnv(size=7, n_walls=4, noise_dim=3, obs_mode="dict", goal_last=goal_last)
    obs, _ = env.reset(seed=0)
    planes = torch.as_tensor(obs["image"])[None].clone()
    rows, goal = torch.arange(1), torch.zeros(1, dtype=torch.long)
    for t, action in enumerate(sequence[:-1]):
        obs, *_ = env.step(action)
        goal = _place(planes, rows, torch.tensor([action]), t, 5, 4, goal_last, goal)
        assert torch.equal(planes[0], torch.as_tensor(obs["image"])), (t, action)


def test_start_on_the_goal_moves_on_in_the_planes() -> None:
    """PAIRED's order: a start placed on the goal goes to the next cell (design_level)."""
    env = MazeDesignerEnv(size=7, n_walls=4, noise_dim=3, obs_mode="dict")
    obs, _ = env.reset(seed=0)
    planes = torch.as_tensor(obs["image"])[None].clone()
    rows, goal = torch.arange(1), torch.zeros(1, dtype=torch.long)
    for t, action in enumerate([24, 24]):  # the last interior cell: the start wraps to the first
        obs, *_ = env.step(action)
        goal = _place(planes, rows, torch.tensor([action]), t, 5, 4, False, goal)
    assert planes[0, 2, 1, 1] == 1.0 and torch.equal(planes[0], torch.as_tensor(obs["image"]))


def _buffers_equal(a, b) -> None:  # noqa: ANN001
    for key in a.observations:
        assert np.array_equal(a.observations[key], b.observations[key]), key
    for name in ("actions", "rewards", "episode_starts", "values", "log_probs"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


@pytest.mark.parametrize("goal_last", [False, True])
def test_fast_designs_and_updates_equal_sb3s(goal_last: bool) -> None:
    slow = PairedAdversary(**SMALL, goal_last=goal_last, fast_loop=False)
    fast = PairedAdversary(**SMALL, goal_last=goal_last, fast_loop=True)
    assert fast.fast_loop and not slow.fast_loop
    assert torch.equal(slow.parameters_vector(), fast.parameters_vector())
    rng = np.random.default_rng(0)
    seen: set[str] = set()
    for round_ in range(3):
        designs = []
        for adversary in (slow, fast):
            torch.manual_seed(round_)
            designs.append(adversary.design())
        (batch_s, levels_s, stats_s), (batch_f, levels_f, stats_f) = designs
        assert levels_s == levels_f and stats_s == stats_f
        seen.update(levels_f)
        _buffers_equal(slow._pending[batch_s], fast._pending[batch_f])
        for key in slow.model._last_obs:  # the next design starts from the same observations
            assert np.array_equal(slow.model._last_obs[key], fast.model._last_obs[key])
        if round_ == 1:
            continue  # one batch waits for its returns while the next is designed, as in a run
        regrets = rng.uniform(-1.0, 0.0, SMALL["batch_size"])
        for adversary in (slow, fast):
            np.random.seed(round_)  # the buffer's minibatch shuffle
            adversary.learn(batch_s if adversary is slow else batch_f, regrets)
        assert torch.equal(slow.parameters_vector(), fast.parameters_vector())
    # the late update ran on a batch designed before the previous update: still equal
    for adversary, batch in ((slow, 1), (fast, 1)):
        np.random.seed(9)
        assert adversary.learn(batch, np.full(SMALL["batch_size"], -0.5))
    assert torch.equal(slow.parameters_vector(), fast.parameters_vector())
    assert slow.model._n_updates == fast.model._n_updates == 3 * 5  # three updates of dcd's 5 epochs
    assert len(seen) > 6  # the designs differ: the test compares real work
    assert torch.distributions.Distribution._validate_args  # the fast path turned the checks back on
    before = PairedAdversary(**SMALL, goal_last=goal_last).parameters_vector()
    assert not torch.equal(before, fast.parameters_vector())  # the updates moved the weights


def test_recurrent_designer_keeps_sb3s_path() -> None:
    adversary = PairedAdversary(size=7, n_walls=2, noise_dim=3, batch_size=2, conv_filters=4, time_embed=3,
                                head_hidden=8, lstm_hidden=8, recurrent=True, seed=0)
    assert not adversary.fast_loop
    batch, levels, _ = adversary.design()
    assert len(levels) == 2 and adversary.learn(batch, [0.5, 0.0])


@pytest.mark.parametrize("goal_last", [False, True])
def test_finish_is_stepping_the_whole_design(goal_last: bool) -> None:
    """MazeDesignerEnv.finish: the level, its statistics, the noise of every observation
    and the generator state after (the next reset's observation) equal stepping."""
    actions = [12, 12, 3, 7, 12, 24]
    stepped = MazeDesignerEnv(size=7, n_walls=4, noise_dim=3, obs_mode="dict", goal_last=goal_last)
    finished = MazeDesignerEnv(size=7, n_walls=4, noise_dim=3, obs_mode="dict", goal_last=goal_last)
    stepped.reset(seed=3)
    finished.reset(seed=3)
    noise = []
    for action in actions:
        obs, _, done, _, info = stepped.step(action)
        noise.append(obs["noise"])
    drawn, level = finished.finish(actions)
    assert done and level.to_string() == info["level"] and level.stats() == info["level_stats"]
    assert np.array_equal(drawn, np.stack(noise))
    after_s, after_f = stepped.reset()[0], finished.reset()[0]
    assert all(np.array_equal(after_s[k], after_f[k]) for k in after_s)
    with pytest.raises(Exception, match="whole design"):
        finished.finish(actions[:-1])
