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
