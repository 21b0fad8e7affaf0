"""Facts of TeachMyAgent's PPO on the stump tracks, asserted on a run's saved config by the
walker results' tests (tests/test_walker_teachers_results.py, tests/test_walker_baseline_results.py)."""

from __future__ import annotations

from typing import Any


def assert_tmas_ppo_on_the_default_biped(config: dict[str, Any]) -> None:
    """TMA's PPO: 20k-transition rollouts, 5 epochs, minibatches of 1,000, lr 3e-4, VecNormalize;
    the default biped (TMA's ``old_classic_bipedal``)."""
    ppo = config["env"]["students"]["ppo"]
    assert config["env"]["n_envs"] * ppo["n_steps"] == 20_000
    assert (ppo["n_epochs"], ppo["batch_size"], ppo["learning_rate"]) == (5, 1000, 3e-4)
    assert config["env"]["normalize"] is True and config["env"]["kwargs"]["body"] == "default"
