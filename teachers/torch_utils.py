"""Small torch pieces shared by the neural teachers (GoalGAN, Setter-Solver).

Why here: each teacher module should read top to bottom with the paper's names, so the
plumbing that is the same for all of them (an MLP builder, a seeded generator, and
checkpoint-safe state conversion) lives once, beside them.

Determinism: teachers build their networks under ``torch.random.fork_rng`` seeded from
the teacher's seed, draw all noise from their own ``torch.Generator``, and run on CPU with
one thread, so the same seed gives the same tasks.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU, out_activation: type[nn.Module] | None = None) -> nn.Sequential:
    """``sizes[0] -> ... -> sizes[-1]`` fully connected, ``activation`` between layers."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(activation())
    if out_activation is not None:
        layers.append(out_activation())
    return nn.Sequential(*layers)


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU torch generator of its own (never the global one)."""
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed) % (2**63))
    return gen


def build_seeded(seed: int, build: Callable[[], Any]) -> Any:
    """Run ``build`` (network construction) with torch's global RNG seeded from ``seed``
    and restored afterwards, so initial weights depend only on the teacher's seed and the
    caller's global torch RNG is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) % (2**63))
        return build()


def build_networks(seed: int | None, build: Callable[[], tuple[nn.Module, ...]]) -> tuple[nn.Module, ...]:
    """``build()``'s networks with initial weights seeded by ``seed`` (:func:`build_seeded`);
    ``seed=None``: uninitialised on the CPU, for a copy that is about to load a state (torch's
    global generator is not touched, so such a copy can be built in a worker thread)."""
    if seed is not None:
        return build_seeded(seed, build)
    with torch.device("meta"):
        nets = build()
    return tuple(net.to_empty(device="cpu") for net in nets)


def training_state(modules: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer],
                   gen: torch.Generator) -> dict[str, Any]:
    """What a training round of a teacher's networks changes, as a checkpoint-safe dict:
    each module's weights, each optimiser's state, then the noise generator (``torch_rng``)."""
    return {**{k: module_state(m) for k, m in modules.items()},
            **{k: plain(o.state_dict()) for k, o in optimizers.items()}, "torch_rng": gen.get_state().clone()}


def load_training_state(state: Mapping[str, Any], modules: Mapping[str, nn.Module],
                        optimizers: Mapping[str, torch.optim.Optimizer], gen: torch.Generator) -> None:
    """The inverse of :func:`training_state`."""
    for k, m in modules.items():
        m.load_state_dict(state[k])
    for k, o in optimizers.items():
        load_optimizer(o, state[k])
    gen.set_state(state["torch_rng"])


def module_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A module's parameters as a plain dict of cloned tensors (checkpoint-safe)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def plain(value: Any) -> Any:
    """Convert optimizer state and similar nests to plain dicts/lists/numbers/tensors."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def load_optimizer(optimizer: torch.optim.Optimizer, state: Mapping[str, Any]) -> None:
    """Load a state produced by ``plain(optimizer.state_dict())`` (lists back to what torch expects)."""
    state = dict(state)
    inner = {int(k): v for k, v in state["state"].items()}
    optimizer.load_state_dict({"state": inner, "param_groups": [dict(g) for g in state["param_groups"]]})


def regret_reinforce_step(generator: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
                          actions: torch.Tensor, regrets: torch.Tensor, baseline: float,
                          ent_coef: float) -> float | None:
    """One REINFORCE step of a one-step regret generator (PAIRED's parametric variant,
    CLUTR's latent generator): advantage = regret − moving-average ``baseline``,
    normalised over the batch; gradient norm clipped to 1. ``regrets`` stay float64 until
    normalised (returns on a huge scale overflow float32). Returns the loss, or None when
    it is not finite: then no step is taken (the generator would turn NaN)."""
    adv = regrets - baseline
    adv = (adv / (adv.std() + 1e-8) if adv.numel() > 1 else adv).float()
    dist = generator.distribution(inputs)
    loss = -(adv.detach() * dist.log_prob(actions).sum(-1)).mean() - ent_coef * dist.entropy().sum(-1).mean()
    optimizer.zero_grad()
    if not torch.isfinite(loss):
        return None
    loss.backward()
    nn.utils.clip_grad_norm_(generator.parameters(), 1.0)
    optimizer.step()
    return float(loss.detach())


def regret_ppo_update(generator: nn.Module, critic: nn.Module, optimizer: torch.optim.Optimizer,
                      inputs: torch.Tensor, actions: torch.Tensor, returns: torch.Tensor, rng: Any,
                      n_epochs: int = 8, n_minibatches: int = 4, clip_range: float = 0.2, vf_coef: float = 0.5,
                      ent_coef: float = 0.01, max_grad_norm: float = 0.5) -> dict[str, float] | None:
    """dcd's PPO update of a walker adversary (``algos/ppo.py`` with the bipedal PAIRED
    config: ``adv_ppo_epoch`` 8, ``adv_num_mini_batch`` 4, ``clip_param`` 0.2,
    ``value_loss_coef`` 0.5, ``adv_entropy_coef`` 0.01, ``adv_max_grad_norm`` 0.5,
    ``clip_value_loss`` false), for one-step design episodes: the return is the level's
    (normalised) regret and the advantage ``return − V_old``, normalised over the batch.
    ``n_epochs`` passes, each over the batch shuffled into ``n_minibatches`` minibatches
    (``rng``: a numpy Generator, so the order is the teacher's seed's): clipped surrogate,
    unclipped value loss ``0.5·(V − R)²``, loss ``policy + vf_coef·value − ent_coef·entropy``,
    gradient norm clipped to ``max_grad_norm``.

    The caller scales the regrets by their running standard deviation: our reading of dcd's
    ``adv_normalize_returns``, not checked against its storage code. One difference from dcd:
    the old log-probabilities and values are the networks' at the start of the update, not at
    design time (dcd's rollout storage keeps them from the
    sampling pass). Our levels are credited once both students have played them, often
    after later batches were designed, so the ratio is taken against the policy the update
    starts from. Returns the mean losses and the number of gradient steps, or None when a
    loss is not finite (then the step is skipped, as is every later one of this update)."""
    returns = returns.float()
    with torch.no_grad():
        old_log_probs = generator.distribution(inputs).log_prob(actions).sum(-1)
        old_values = critic(inputs)[..., 0]
    adv = returns - old_values
    adv = (adv - adv.mean()) / (adv.std() + 1e-5) if adv.numel() > 1 else adv - adv.mean()
    n = int(inputs.shape[0])
    size = max(1, n // int(n_minibatches))
    totals = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "steps": 0}
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for _ in range(int(n_epochs)):
        order = torch.as_tensor(rng.permutation(n))
        for start in range(0, size * int(n_minibatches), size):
            idx = order[start:start + size]
            if not len(idx):
                continue
            dist = generator.distribution(inputs[idx])
            log_probs = dist.log_prob(actions[idx]).sum(-1)
            ratio = torch.exp(log_probs - old_log_probs[idx])
            policy_loss = -torch.min(ratio * adv[idx], ratio.clamp(1 - clip_range, 1 + clip_range) * adv[idx]).mean()
            value_loss = 0.5 * (critic(inputs[idx])[..., 0] - returns[idx]).pow(2).mean()
            entropy = dist.entropy().sum(-1).mean()
            loss = policy_loss + vf_coef * value_loss - ent_coef * entropy
            if not torch.isfinite(loss):
                return None
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            totals["policy_loss"] += float(policy_loss.detach())
            totals["value_loss"] += float(value_loss.detach())
            totals["entropy"] += float(entropy.detach())
            totals["steps"] += 1
    steps = max(1, totals["steps"])
    return {k: (v / steps if k != "steps" else v) for k, v in totals.items()}
