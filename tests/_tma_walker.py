"""Facts of TeachMyAgent's PPO on the stump tracks, asserted on a run's saved config by the
walker results' tests (tests/test_walker_teachers_results.py, tests/test_walker_baseline_results.py)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any


def assert_tmas_ppo_settings_on_the_default_biped(config: dict[str, Any]) -> None:
    """TMA's PPO training settings: 20k-transition rollouts, 5 epochs, minibatches of 1,000, lr
    3e-4, VecNormalize; the default biped (TMA's ``old_classic_bipedal``). Not its network: the
    walker runs made before session 17 have SB3's default one (:func:`assert_sb3s_default_network`)."""
    ppo = config["env"]["students"]["ppo"]
    assert config["env"]["n_envs"] * ppo["n_steps"] == 20_000
    assert (ppo["n_epochs"], ppo["batch_size"], ppo["learning_rate"]) == (5, 1000, 3e-4)
    assert config["env"]["normalize"] is True and config["env"]["kwargs"]["body"] == "default"


def assert_sb3s_default_network(config: dict[str, Any]) -> None:
    """The student of the walker PPO runs made before session 17: ``student=ppo`` with no policy
    set, i.e. SB3's MlpPolicy (separate 64-64 actor and critic), not TMA's 400-300 network shared
    by policy and value (``student=ppo_tma``). Their READMEs say so; this keeps them honest."""
    student = config["student"]
    assert student["algo"] == "ppo" and student["policy"] is None
    assert "policy_kwargs" not in (student.get("params") or {})


def assert_tmas_network(config: dict[str, Any]) -> None:
    """TeachMyAgent's PPO network (OpenAI baselines' ppo2 as TMA calls it): one 400-300 trunk
    shared by the policy and value heads, and baselines' value loss, 0.5 x vf_coef 0.5 on the
    clipped (0.2) value error, which is SB3's vf_coef 0.25 with clip_range_vf 0.2."""
    student = config["student"]
    assert student["algo"] == "ppo" and student["policy"] == "shared_mlp"
    params = student["params"]
    assert list(params["policy_kwargs"]["net_arch"]) == [400, 300]
    assert (params["vf_coef"], params["clip_range_vf"], params["ent_coef"], params["max_grad_norm"]) == (0.25, 0.2, 0.0, 0.5)


def tar_members(tarball: Path, suffix: str) -> list[bytes]:
    """The contents of every file in a results tarball whose name ends with ``suffix``."""
    with tarfile.open(tarball) as tar:
        return [tar.extractfile(m).read() for m in tar.getmembers() if m.name.endswith(suffix)]  # type: ignore[union-attr]


def tar_summaries(tarball: Path) -> list[dict[str, Any]]:
    """Every run's ``summary.json`` in a results tarball."""
    return [json.load(io.BytesIO(data)) for data in tar_members(tarball, "/summary.json")]
