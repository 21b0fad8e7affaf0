"""The recurrent student (``student=recurrent_ppo``, students/recurrent): dcd's network by
count, the whole-sequence update against an explicit per-step LSTMCell computation and
against sb3-contrib's RecurrentPPO, hidden state across rollouts, checkpoints, PLR⊥'s
per-transition mask, PVL/MaxMC across episode boundaries, evaluation, end-to-end runs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from students.bridge import Curriculum, CurriculumCallback
from students.build import load_student, make_student
from students.recurrent import SequencePPO, UEDMazeFeatures
from students.recurrent.lstm import ResetPlan, lstm_over_rollout, lstm_split_at_resets, lstm_stepwise
from students.vec import make_vec_env
from teachers.base import Episode
from teachers.registry import make_teacher

TINY = {"n_steps": 8, "batch_size": 16, "n_epochs": 1, "policy_kwargs": {"lstm_hidden_size": 16}}


def _student(n_envs: int = 3, max_steps: int = 5, params: dict | None = None, seed: int = 0, **env):
    vec = make_vec_env("gridworld", {"max_size": 7, "max_steps": max_steps, **env}, n_envs, seed=seed)
    return make_student("recurrent_ppo", vec, params={**TINY, **(params or {})}, seed=seed), vec


def _collect(model: SequencePPO, rollouts: int = 1) -> None:
    """``rollouts`` rollouts, trained on after each but the last: the buffer holds the last."""
    if rollouts > 1:
        model.learn(model.n_steps * model.n_envs * (rollouts - 1))
    _, callback = model._setup_learn(model.n_steps * model.n_envs, None, reset_num_timesteps=rollouts == 1)
    callback.on_training_start(locals(), globals())
    assert model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)


# -- the network: facts of dcd's MultigridNetwork, counted by hand ---------------------------
def test_parameter_count_is_dcds_maze_network_by_hand() -> None:
    vec = make_vec_env("gridworld", {"max_size": 7}, 1, seed=0)
    model = make_student("recurrent_ppo", vec, seed=0)
    pol = model.policy
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    # 3x3 conv, 16 filters, valid, over our 2 view planes (dcd: 3 MiniGrid channels)
    assert count(pol.features_extractor.conv) == 2 * 16 * 3 * 3 + 16 == 304
    assert pol.features_extractor.conv.padding == (0, 0)
    # direction one-hot (4) through a 5-unit linear layer
    assert count(pol.features_extractor.scalar) == 4 * 5 + 5
    # LSTM 256 over 16 * 3 * 3 + 5 = 149 inputs; PyTorch (and dcd, nn.LSTM) keep two bias vectors
    assert pol.features_extractor.features_dim == 149
    assert count(pol.lstm) == 4 * 256 * (149 + 256) + 2 * 4 * 256
    # heads: dcd's (32, 32) builds one 256->32 tanh layer, then the output
    assert count(pol.pi_net) == count(pol.vf_net) == 256 * 32 + 32
    assert count(pol.action_net) == 32 * 3 + 3 and count(pol.value_net) == 32 + 1
    ours = count(pol)
    assert ours == 304 + 25 + 416_768 + 2 * 8_224 + 99 + 33 == 433_677
    dcd = ours - 304 + (3 * 16 * 9 + 16)  # the only difference: 3 input channels instead of 2
    assert dcd == 433_821
    # dcd's Adam eps (also SB3's actor-critic default)
    assert pol.optimizer.defaults["eps"] == 1e-5
    # dcd's init: LSTM and head biases zero, policy output ~0.01 scale
    assert all(torch.count_nonzero(p) == 0 for n, p in pol.lstm.named_parameters() if "bias" in n)
    assert pol.action_net.weight.abs().max() < 0.05


def test_maze_features_read_the_view_planes_and_direction() -> None:
    """The conv sees the (2, 5, 5) planes as the env lays them out; the direction goes
    through the 5-unit layer only."""
    vec = make_vec_env("gridworld", {"max_size": 7}, 1, seed=0)
    assert vec.get_attr("image_layout")[0] == (2, 5, 5)
    feats = make_student("recurrent_ppo", vec, seed=0).policy.features_extractor
    assert isinstance(feats, UEDMazeFeatures)
    obs = torch.zeros(2, 54)
    obs[:, 50] = 1.0
    obs[1, 0] = 1.0  # one wall cell of plane 0 at (0, 0): only conv outputs whose window covers it change
    out = feats(obs)
    conv_diff = (out[0, :144] - out[1, :144]).view(16, 3, 3).abs().sum(0)
    assert conv_diff[0, 0] > 0 and conv_diff.flatten()[1:].sum() == 0
    assert torch.equal(out[0, 144:], out[1, 144:])
    obs[1, 0], obs[1, 50], obs[1, 51] = 0.0, 0.0, 1.0  # direction changes only the 5 scalar features
    out = feats(obs)
    assert torch.equal(out[0, :144], out[1, :144]) and not torch.equal(out[0, 144:], out[1, 144:])


# -- the LSTM over a rollout with resets ------------------------------------------------------
def _cell_loop(lstm: nn.LSTM, x: torch.Tensor, state: torch.Tensor, starts: np.ndarray) -> torch.Tensor:
    """Reference: an explicit LSTMCell per step, the state zeroed at every episode start."""
    cell = nn.LSTMCell(lstm.input_size, lstm.hidden_size)
    cell.weight_ih, cell.weight_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
    cell.bias_ih, cell.bias_hh = lstm.bias_ih_l0, lstm.bias_hh_l0
    h, c = state[0], state[1]
    outs = []
    for t in range(x.shape[0]):
        keep = torch.as_tensor(1.0 - starts[t].astype(np.float32)).view(-1, 1)
        h, c = cell(x[t], (h * keep, c * keep))
        outs.append(h)
    return torch.stack(outs)


STARTS = np.array([  # T=7 steps x B=4 columns: resets at t=0, mid-sequence, back to back, at the end
    [1, 0, 0, 1],
    [0, 0, 1, 0],
    [0, 1, 1, 0],
    [1, 0, 0, 0],
    [0, 0, 1, 0],
    [0, 1, 0, 0],
    [0, 0, 0, 1],
], dtype=bool)


EVERY_STEP = np.ones((3, 2), dtype=bool)  # one-step episodes only: every segment has length 1


@pytest.mark.parametrize("starts", [STARTS, EVERY_STEP], ids=["mixed", "every_step"])
@pytest.mark.parametrize("mode", ["packed", "stepwise", "split"])
def test_lstm_over_rollout_equals_an_explicit_cell_loop_in_values_and_gradients(mode: str, starts: np.ndarray) -> None:
    torch.manual_seed(0)
    t, b = starts.shape
    lstm = nn.LSTM(3, 5)
    x = torch.randn(t, b, 3, requires_grad=True)
    state = torch.randn(2, b, 5, requires_grad=True)
    w = torch.randn(t, b, 5)
    if mode == "packed":
        plan = ResetPlan.from_starts(starts, mode="packed")
        assert plan.n_segments == b + int(starts[1:].sum())
        out = lstm_over_rollout(lstm, x, state, plan)
    elif mode == "stepwise":
        out = lstm_stepwise(lstm, x, state, torch.as_tensor(starts))
    else:
        out = lstm_split_at_resets(lstm, x, state, starts)
    grads = torch.autograd.grad((out * w).sum(), [x, state, *lstm.parameters()], allow_unused=True)
    ref = _cell_loop(lstm, x, state, starts)
    ref_grads = torch.autograd.grad((ref * w).sum(), [x, state, *lstm.parameters()], allow_unused=True)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    for g, r in zip(grads, ref_grads):
        if r is None or g is None:  # no step ever reads the stored state: no gradient reaches it
            assert (g is None or torch.count_nonzero(g) == 0) and (r is None or torch.count_nonzero(r) == 0)
            continue
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-6)
    if starts is STARTS:  # a column that starts an episode at t=0 ignores its stored state
        assert torch.count_nonzero(grads[1][:, 0]) == 0 and torch.count_nonzero(grads[1][:, 1]) > 0


def test_no_reset_is_one_plain_lstm_call() -> None:
    plan = ResetPlan.from_starts(np.zeros((6, 3), dtype=bool))
    assert plan.packed_index is None
    lstm = nn.LSTM(2, 4)
    x, state = torch.randn(6, 3, 2), torch.randn(2, 3, 4)
    torch.testing.assert_close(lstm_over_rollout(lstm, x, state, plan), lstm(x, (state[0:1], state[1:2]))[0])


# -- PPO's loss against a per-step reference ------------------------------------------------
def _reference_losses(model: SequencePPO, mask: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """SB3 PPO's losses over the whole buffer computed step by step: features of one step,
    an LSTMCell, the heads, the state zeroed at episode starts; means over ``mask``."""
    pol, buf = model.policy, model.rollout_buffer
    lstm = pol.lstm
    cell = nn.LSTMCell(lstm.input_size, lstm.hidden_size)
    cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh = (lstm.weight_ih_l0, lstm.weight_hh_l0,
                                                                  lstm.bias_ih_l0, lstm.bias_hh_l0)
    m = np.ones((buf.buffer_size, buf.n_envs), bool) if mask is None else mask
    logp, ent, val, old, adv, ret = [], [], [], [], [], []
    for env in range(buf.n_envs):
        h, c = buf.initial_state[0, env:env + 1], buf.initial_state[1, env:env + 1]
        for t in range(buf.buffer_size):
            if buf.episode_starts[t, env]:
                h, c = torch.zeros_like(h), torch.zeros_like(c)
            obs = torch.as_tensor(buf.observations[t, env:env + 1])
            h, c = cell(pol.features_extractor(obs), (h, c))
            if not m[t, env]:
                continue
            logits = pol.action_net(pol.pi_net(h))
            dist = torch.distributions.Categorical(logits=logits)
            logp.append(dist.log_prob(torch.as_tensor(buf.actions[t, env]).long()))
            ent.append(dist.entropy())
            val.append(pol.value_net(pol.vf_net(h)).view(1))
            old.append(float(buf.log_probs[t, env]))
            adv.append(float(buf.advantages[t, env]))
            ret.append(float(buf.returns[t, env]))
    logp, ent, val = torch.cat(logp), torch.cat(ent), torch.cat(val)
    adv_t = torch.tensor(adv)
    adv_t = (adv_t - adv_t.mean()) / (adv_t.std() + 1e-8)
    ratio = torch.exp(logp - torch.tensor(old))
    clip = float(model.clip_range(1.0))
    pg = -torch.min(adv_t * ratio, adv_t * torch.clamp(ratio, 1 - clip, 1 + clip)).mean()
    vl = ((torch.tensor(ret) - val) ** 2).mean()
    el = -ent.mean()
    return {"loss": pg + model.ent_coef * el + model.vf_coef * vl, "policy_gradient_loss": pg, "value_loss": vl,
            "entropy_loss": el}


def _perturb(model: SequencePPO, seed: int = 1) -> None:
    """Move the weights away from the ones that collected the rollout (ratio != 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.policy.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))


@pytest.mark.parametrize("lstm_mode", ["packed", "stepwise", "split"])
@pytest.mark.parametrize("masked", [False, True])
def test_whole_sequence_loss_and_gradients_equal_a_per_step_reference(masked: bool, lstm_mode: str) -> None:
    model, vec = _student(params={"ent_coef": 0.01, "lstm_mode": lstm_mode})
    _collect(model, rollouts=2)  # second rollout: columns start from non-zero stored states
    buf = model.rollout_buffer
    assert buf.episode_starts[1:].any() and not buf.episode_starts[0].all()
    assert torch.count_nonzero(buf.initial_state) > 0
    _perturb(model)
    mask = None
    if masked:
        mask = np.zeros((buf.buffer_size, buf.n_envs), bool)
        mask[2:6, 0] = mask[5:, 2] = True  # column 1 holds no trainable transition
    batches = list(buf.sequence_batches(None, mask, lstm_mode=lstm_mode))
    plan = batches[0].plan
    assert (plan.cuts is None) == (lstm_mode == "packed")
    if lstm_mode == "split":
        assert plan.cuts is not None and len(plan.cuts) < buf.buffer_size + 1  # fewer calls than steps
    assert len(batches) == 1
    assert batches[0].columns.tolist() == ([0, 2] if masked else [0, 1, 2])
    ours = model.minibatch_losses(batches[0], float(model.clip_range(1.0)), None)
    params = list(model.policy.parameters())
    g_ours = torch.autograd.grad(ours["loss"], params, allow_unused=True)
    ref = _reference_losses(model, mask)
    g_ref = torch.autograd.grad(ref["loss"], params, allow_unused=True)
    for key in ref:
        torch.testing.assert_close(ours[key], ref[key], rtol=1e-5, atol=1e-6)
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    vec.close()


# -- the same losses as sb3-contrib's RecurrentPPO on a fixed batch -------------------------
def test_same_losses_and_update_as_sb3_contrib_recurrent_ppo_on_a_fixed_batch(monkeypatch) -> None:
    """Same network (sb3-contrib with one LSTM shared by actor and critic, our maze
    features, 32-unit heads), same weights, same rollout, one epoch of one minibatch.

    The logged losses agree. The update agrees with ``vf_coef = 0`` only: sb3-contrib's
    shared LSTM feeds the critic a DETACHED copy of its output, so the value loss never
    reaches its LSTM or features, where ours (like dcd) trains them with both losses.

    One more difference, pinned here: sb3-contrib cuts the flattened rollout at a random
    index and at minibatch edges, and a chunk starting mid-episode starts from the hidden
    state STORED at collection time (stale once the weights changed); ours always
    recomputes from the rollout's initial state. With the cut at index 0 (the only chunk
    starts are then env columns and episode starts) the two computations are the same."""
    from sb3_contrib import RecurrentPPO
    from sb3_contrib.common.recurrent.type_aliases import RNNStates

    model, vec = _student(params={"ent_coef": 0.01, "vf_coef": 0.0, "batch_size": None, "lstm_mode": "packed"})
    _collect(model, rollouts=2)
    buf = model.rollout_buffer
    hidden = model.policy.lstm_hidden_size
    other = RecurrentPPO("MlpLstmPolicy", vec, n_steps=model.n_steps, batch_size=model.n_steps * model.n_envs,
                         n_epochs=1, ent_coef=0.01, vf_coef=0.0, learning_rate=3e-4, seed=0,
                         policy_kwargs={"features_extractor_class": UEDMazeFeatures,
                                        "features_extractor_kwargs": {"image_layout": (2, 5, 5)},
                                        "lstm_hidden_size": hidden, "shared_lstm": True, "enable_critic_lstm": False,
                                        "net_arch": {"pi": [32], "vf": [32]}, "activation_fn": nn.Tanh})
    ours, theirs = model.policy, other.policy
    pairs = [(ours.features_extractor, theirs.features_extractor), (ours.lstm, theirs.lstm_actor),
             (ours.pi_net, theirs.mlp_extractor.policy_net), (ours.vf_net, theirs.mlp_extractor.value_net),
             (ours.action_net, theirs.action_net), (ours.value_net, theirs.value_net)]
    for a, b in pairs:
        b.load_state_dict(a.state_dict())
    n_ours = sum(p.numel() for p in ours.parameters())
    assert n_ours == sum(p.numel() for p in theirs.parameters())
    # the same rollout in sb3-contrib's buffer, with the per-step hidden states it keeps
    obuf = other.rollout_buffer
    obuf.reset()
    state = buf.initial_state.clone()
    with torch.no_grad():
        for t in range(buf.buffer_size):
            h, c = state[0:1].clone(), state[1:2].clone()
            obuf.add(buf.observations[t], buf.actions[t], buf.rewards[t], buf.episode_starts[t],
                     torch.as_tensor(buf.values[t]), torch.as_tensor(buf.log_probs[t]),
                     lstm_states=RNNStates((h, c), (h, c)))
            _, state = ours._one_step(torch.as_tensor(buf.observations[t]), state,
                                      torch.as_tensor(buf.episode_starts[t]))
    obuf.advantages[:], obuf.returns[:] = buf.advantages, buf.returns
    _perturb(model)
    for a, b in pairs:
        b.load_state_dict(a.state_dict())
    from stable_baselines3.common.logger import Logger

    other.set_logger(Logger(folder=None, output_formats=[]))
    other.policy.optimizer = type(ours.optimizer)(other.policy.parameters(), lr=3e-4)
    model.policy.optimizer = type(ours.optimizer)(model.policy.parameters(), lr=3e-4)
    model.train()
    monkeypatch.setattr(np.random, "randint", lambda *args, **kwargs: 0)  # sb3-contrib's split index
    other.train()
    for key in ("policy_gradient_loss", "value_loss", "entropy_loss", "approx_kl", "clip_fraction"):
        a, b = model.logger.name_to_value[f"train/{key}"], other.logger.name_to_value[f"train/{key}"]
        assert a == pytest.approx(b, rel=1e-4, abs=1e-6), key
    assert abs(model.logger.name_to_value["train/policy_gradient_loss"]) > 1e-4  # not the trivial ratio = 1
    for a, b in pairs:
        for (name, p), q in zip(a.named_parameters(), b.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6, msg=name)
    vec.close()


# -- hidden state across rollouts, checkpoints ----------------------------------------------
def test_hidden_state_carries_over_rollouts() -> None:
    model, vec = _student(n_envs=2, max_steps=250)
    model.learn(model.n_steps * model.n_envs)
    carried = model._last_hidden.clone()
    assert torch.count_nonzero(carried) > 0
    weights = copy.deepcopy(model.policy.state_dict())
    last_obs, last_starts = model._last_obs.copy(), model._last_episode_starts.copy()
    assert not last_starts.any()  # 250-step episodes run on across the rollout boundary
    model.learn(model.n_steps * model.n_envs, reset_num_timesteps=False)
    buf = model.rollout_buffer
    torch.testing.assert_close(buf.initial_state, carried)
    np.testing.assert_array_equal(buf.observations[0], last_obs)
    probe = model.policy
    probe.load_state_dict(weights)  # the weights that played the second rollout
    with torch.no_grad():
        v_carried = probe.predict_values(torch.as_tensor(last_obs), carried, torch.zeros(2)).view(-1).numpy()
        v_zero = probe.predict_values(torch.as_tensor(last_obs)).view(-1).numpy()
    np.testing.assert_allclose(buf.values[0], v_carried, rtol=1e-5, atol=1e-6)
    assert not np.allclose(v_carried, v_zero)
    vec.close()


def test_checkpoint_keeps_weights_optimizer_and_hidden_state_and_resumes(tmp_path) -> None:
    model, vec = _student(n_envs=2, max_steps=250)
    model.learn(2 * model.n_steps * model.n_envs)
    path = tmp_path / "model.zip"
    model.save(path)
    fresh, _ = _student(n_envs=2, max_steps=250)
    loaded = load_student(str(path), fresh, vec)
    assert type(loaded) is SequencePPO and loaded.num_timesteps == model.num_timesteps
    torch.testing.assert_close(loaded._last_hidden, model._last_hidden)
    for p, q in zip(model.policy.parameters(), loaded.policy.parameters()):
        assert torch.equal(p, q)
    s1, s2 = model.policy.optimizer.state_dict(), loaded.policy.optimizer.state_dict()
    assert all(torch.equal(s1["state"][k]["exp_avg"], s2["state"][k]["exp_avg"]) for k in s1["state"])
    obs = np.random.default_rng(0).random((2, 54)).astype(np.float32)
    state = (model._last_hidden[0:1].numpy(), model._last_hidden[1:2].numpy())
    a1, st1 = model.predict(obs, state=state, episode_start=np.zeros(2), deterministic=True)
    a2, st2 = loaded.predict(obs, state=state, episode_start=np.zeros(2), deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_allclose(st1[0], st2[0])
    loaded.learn(model.n_steps * model.n_envs, reset_num_timesteps=False)
    assert loaded.num_timesteps == model.num_timesteps + model.n_steps * model.n_envs
    vec.close()


def test_batch_size_must_be_whole_sequences_and_the_lstm_mode_known() -> None:
    from envs.errors import TeachBenchError

    with pytest.raises(TeachBenchError, match="multiple of n_steps"):
        _student(params={"batch_size": 12})
    with pytest.raises(TeachBenchError, match="lstm_mode"):
        _student(params={"lstm_mode": "fast"})


# -- PLR⊥, PVL/MaxMC, PAIRED's antagonist ----------------------------------------------------
def test_robust_update_trains_only_on_masked_transitions() -> None:
    from students.robust import install_robust_update

    model, vec = _student(params={"batch_size": None})
    _collect(model)
    buf = model.rollout_buffer
    mask = np.zeros((buf.buffer_size, buf.n_envs), bool)
    mask[3:, 1] = True
    twin = copy.deepcopy(model)  # the same update by hand: the loss restricted to the masked steps
    reference = _reference_losses(twin, mask)["loss"]
    twin.policy.optimizer.zero_grad()
    reference.backward()
    torch.nn.utils.clip_grad_norm_(twin.policy.parameters(), twin.max_grad_norm)
    twin.policy.optimizer.step()

    class Mask:
        pass

    holder = Mask()
    holder.mask = mask
    stats: dict[str, int] = {}
    install_robust_update(model, holder, stats)
    model.train()
    assert model.transition_mask is None
    assert stats["trained_transitions"] == int(mask.sum()) and stats["gradient_updates"] == 1
    for p, q in zip(model.policy.parameters(), twin.policy.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)
    before = [p.clone() for p in model.policy.parameters()]
    holder.mask = np.zeros_like(mask)  # a rollout of new levels only: no update at all
    model.train()
    assert stats["skipped_updates"] == 1 and all(torch.equal(p, q) for p, q in zip(before, model.policy.parameters()))
    vec.close()


def test_pvl_and_maxmc_equal_a_hand_computation_across_episode_and_rollout_boundaries() -> None:
    """Episodes of <= 6 steps, rollouts of 8: episodes cross the boundary. Each delivered
    episode's PVL and MaxMC are recomputed from the buffers' episode starts alone."""
    from students.regret import attach_teacher_needs

    model, vec = _student(n_envs=2, max_steps=6)
    teacher = make_teacher("plr_robust", vec.get_attr("task_space")[0], seed=0)
    delivered: list[Episode] = []
    cur = Curriculum(teacher, vec, sinks=[delivered.append])
    cur.prime()
    cb = CurriculumCallback(cur)
    att = attach_teacher_needs(teacher, model, cur, cb)
    assert att.tracker is not None and att.mask is not None
    seen: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    buf = model.rollout_buffer
    cb.at_rollout_end.append(lambda _cb: seen.append((buf.advantages.copy(), buf.values.copy(),
                                                      buf.episode_starts.copy())))
    model.learn(4 * model.n_steps * model.n_envs, callback=cb)
    adv = np.concatenate([s[0] for s in seen])
    val = np.concatenate([s[1] for s in seen])
    starts = np.concatenate([s[2] for s in seen]).astype(bool)
    assert starts[0].all()
    best: dict[str, float] = {}
    checked = crossing = 0
    for env in range(2):
        bounds = np.flatnonzero(starts[:, env]).tolist() + [len(starts)]
        mine = sorted((e for e in delivered if e.env_index == env), key=lambda e: e.episode_id)
        assert len(mine) == len(bounds) - 2  # every finished episode, the running one not yet
        for ep, lo, hi in zip(mine, bounds[:-1], bounds[1:]):
            assert ep.length == hi - lo == ep.extra["regret_steps"]
            key = ep.level_id
            best[key] = max(best.get(key, -np.inf), ep.episode_return)
            assert ep.extra["pvl"] == pytest.approx(np.clip(adv[lo:hi, env], 0, None).mean(), rel=1e-5, abs=1e-7)
            assert ep.extra["maxmc"] == pytest.approx(best[key] - val[lo:hi, env].mean(), rel=1e-5, abs=1e-7)
            checked += 1
            crossing += lo // model.n_steps != (hi - 1) // model.n_steps
    assert checked > 4 and crossing > 0
    vec.close()


def test_paired_antagonist_is_a_recurrent_student_with_the_same_settings() -> None:
    from students.robust import clone_student

    model, vec = _student(params={"gamma": 0.97, "ent_coef": 0.02})
    twin_vec = make_vec_env("gridworld", {"max_size": 7, "max_steps": 5}, 3, seed=1)
    ant = clone_student(model, twin_vec, seed=1)
    assert type(ant) is SequencePPO
    for key in ("n_steps", "batch_size", "gamma", "ent_coef", "n_epochs", "vf_coef"):
        assert getattr(ant, key) == getattr(model, key)
    assert ant.policy.lstm_hidden_size == 16
    assert not all(torch.equal(p, q) for p, q in zip(model.policy.parameters(), ant.policy.parameters()))
    ant.learn(ant.n_steps * ant.n_envs)
    vec.close()
    twin_vec.close()


def test_initial_value_is_the_value_from_the_zero_state() -> None:
    """SPDL's V(s0) (students/values.py) asks the policy without a state: the zero state,
    which is the state every episode starts from."""
    from students.values import InitialValueTracker

    model, vec = _student(n_envs=2)
    obs = vec.reset()
    tracker = InitialValueTracker(model, 2)
    tracker.start(obs)
    with torch.no_grad():
        expected = model.policy.predict_values(torch.as_tensor(obs), model.policy.initial_state(2),
                                               torch.ones(2)).view(-1).numpy()
    np.testing.assert_allclose(tracker.values, expected, rtol=1e-6)
    vec.close()


# -- evaluation ----------------------------------------------------------------------------
@pytest.mark.parametrize("deterministic", [True, False])
def test_evaluation_carries_the_hidden_state_and_resets_it_per_episode(deterministic: bool) -> None:
    from students.evaluate import evaluate

    model, vec = _student(n_envs=2)
    calls: list[tuple] = []
    real = model.predict

    def spy(obs, state=None, episode_start=None, deterministic=True):
        actions, new_state = real(obs, state=state, episode_start=episode_start, deterministic=deterministic)
        calls.append((state, None if episode_start is None else episode_start.copy(), new_state, deterministic))
        return actions, new_state

    model.predict = spy  # type: ignore[method-assign]
    tasks = vec.get_attr("test_tasks")[0]()[:3]
    records = evaluate(model, "gridworld", tasks, {"max_size": 7, "max_steps": 5}, episodes_per_task=2, n_envs=2,
                       deterministic=deterministic)
    assert len(records) == 6 and all(r.length <= 5 for r in records)
    assert calls[0][0] is None and calls[0][1].all()
    for (_, _, out, _), (nxt, starts, _, _) in zip(calls, calls[1:]):
        assert nxt is out  # the state handed back is the one fed in next
    assert any(c[1].any() for c in calls[1:]) and any(not c[1].all() for c in calls[1:])
    assert all(c[3] is deterministic for c in calls)
    vec.close()


# -- end to end through the runner ------------------------------------------------------------
@pytest.mark.parametrize("teacher", ["random", "plr_robust"])
def test_recurrent_student_runs_end_to_end(teacher: str, compose) -> None:
    """A smoke budget through the runner; PLR⊥ with a 16-level buffer so that it replays
    (masked updates) within 2048 steps."""
    from experiments.running.run import run

    extra = ["+ued.buffer_size=16", "+ued.min_fill=0.5"] if teacher == "plr_robust" else []
    cfg = compose("env=gridworld_small", f"teacher={teacher}", "student=recurrent_ppo", "budget.steps=2048",
                  "eval.every=2048", "checkpoint.every=1024", "env.kwargs.max_steps=30", "student.params.n_steps=64",
                  "student.params.batch_size=256", "student.params.n_epochs=1", *extra)
    summary = run(cfg)
    assert summary["student"] == "recurrent_ppo" and summary["steps"] >= 2048
    assert summary["episodes"] > 0 and summary["held_out_solved"]
    if teacher == "plr_robust":
        stats = summary["teacher_diagnostics"]
        assert stats["replayed"] > 0 and stats["train_gradient_updates"] > 0
        assert 0 < stats["train_trained_transitions"] < stats["train_env_steps"]


@pytest.mark.slow
def test_benchmark_script_prints_its_ratios() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    args = ["--n-envs", "4", "--n-steps", "8", "--batch-size", "16", "--epochs", "1", "--seconds", "0.2",
            "--device", "cpu", "--lstm-modes"]
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_recurrent.py"), *args], cwd=root,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    for text in ("ours             x", "vs mlp", "vs contrib", "vs packed"):
        assert text in out.stdout, out.stdout


def test_runner_resumes_a_recurrent_run_from_its_checkpoint(compose, monkeypatch) -> None:
    """A run that dies after its 2nd update resumes from the checkpoint: weights and
    hidden state come back through students.build.load_student, and it finishes."""
    from experiments.running.run import run

    overrides = ["env=gridworld_small", "teacher=random", "student=recurrent_ppo", "budget.steps=2048",
                 "eval.every=4096", "eval.held_out=false", "checkpoint.every=512", "env.kwargs.max_steps=30",
                 "student.params.n_steps=64", "student.params.batch_size=256", "student.params.n_epochs=1",
                 "+env.kwargs.n_test_tasks=4"]
    real_train = SequencePPO.train
    calls = {"n": 0}

    def dying_train(self: SequencePPO) -> None:
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt("killed")
        real_train(self)

    monkeypatch.setattr(SequencePPO, "train", dying_train)
    with pytest.raises(KeyboardInterrupt):
        run(compose(*overrides))
    monkeypatch.setattr(SequencePPO, "train", real_train)
    loaded: list[SequencePPO] = []
    real_load = SequencePPO.load.__func__

    def spy_load(cls, *args, **kwargs):
        model = real_load(cls, *args, **kwargs)
        loaded.append(model)
        return model

    monkeypatch.setattr(SequencePPO, "load", classmethod(spy_load))
    summary = run(compose(*overrides))
    assert summary["resumed"] and summary["steps"] >= 2048
    assert loaded and torch.count_nonzero(loaded[0]._last_hidden) > 0  # the hidden state came back
