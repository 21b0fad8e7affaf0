"""CLUTR against its reference code (clutr/clutr, docs/references.md#clutr).

Every expected value below is a fact of the reference, worked out by hand from the file
and line named beside it, never a value read off our code:

- the level VAE's vocabulary, batch layout and training-data order
  (``task_embed/clutr_RVAE/utils/batch_loader.py``, ``gen_training_data.py``,
  ``utils/parameters.py``, ``model/*.py``, ``selfModules/highway.py``);
- the latent teacher (``models/multigrid_models.py:196-314``, ``util/make_agent.py``) and
  its PPO update (``algos/ppo.py``, ``scripts/train_minigrid50_clutr.sh``, ``arguments.py``);
- how a decoded sequence becomes a level (``envs/multigrid/adversarial.py``).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from envs.gridworld.generate import maze_task_space
from envs.gridworld.level import Level
from students.regret import gridworld_level_designer
from teachers.base import Episode
from teachers.clutr import CLUTR, LatentGenerator, latent_ppo_update
from teachers.level_vae import (CHUNK, LevelVAE, LevelVAEConfig, clutr_training_stream, distinct_levels, kl_coef,
                                level_sequence)
from teachers.paired import level_regret

PAPER = LevelVAEConfig(embed=300, enc_hidden=600, dec_hidden=800, dec_layers=2)  # utils/parameters.py:40-46
TINY = {"n_walls": 10, "latent_dim": 8, "vae_embed": 8, "vae_enc_hidden": 16, "vae_dec_hidden": 32,
        "vae_steps": 60, "vae_batch": 32, "vae_seed": 3, "noise_dim": 50}


# -- the level VAE ------------------------------------------------------------------------
def test_vocabulary_is_cells_then_pad_go_end():
    """batch_loader.py:56-62 on grid_size 169: words "1" … "169" at indices 0 … 168, then
    pad (169), go (170), end (171): 172 entries."""
    cfg = LevelVAEConfig()
    assert (cfg.n_cells, cfg.pad, cfg.go, cfg.end, cfg.vocab) == (169, 169, 170, 171, 172)
    model = LevelVAE(LevelVAEConfig(embed=4, enc_hidden=4, dec_hidden=4, latent_dim=2))
    assert model.embed.num_embeddings == 172 and model.out.out_features == 172


def test_hand_made_level_is_written_as_clutr_writes_it():
    """gen_training_data.py:12-15: sorted walls, then goal, then agent; word = cell + 1."""
    assert level_sequence(walls=[10, 3], goal=20, agent=7) == [4, 11, 21, 8]
    assert level_sequence(walls=[], goal=0, agent=168) == [1, 169]


def test_batch_layout_reverses_the_encoder_input_and_pads_to_the_batch():
    """batch_loader.py:164-206 for the two levels above (indices = word − 1; pad 169, go 170,
    end 171), padded to the longer one (4 words): encoder ``[pad]·k + reversed``, decoder
    ``[go] + level + [pad]·k``, target ``level + [end] + [pad]·k``."""
    model = LevelVAE(LevelVAEConfig(embed=4, enc_hidden=4, dec_hidden=4, latent_dim=2))
    enc, dec, target = model.batch([[4, 11, 21, 8], [1, 169]])
    assert enc.tolist() == [[7, 20, 10, 3], [169, 169, 168, 0]]
    assert dec.tolist() == [[170, 3, 10, 20, 7], [170, 0, 168, 169, 169]]
    assert target.tolist() == [[3, 10, 20, 7, 171], [0, 168, 171, 169, 169]]


def test_paper_sized_vae_has_the_reference_weight_count():
    """utils/parameters.py:40-46 (embedding 300 from train_vae.sh:14, encoder 600 × 1 layer
    bidirectional, latent 64, decoder 800 × 2 layers), vocabulary 172, a 2-layer highway of
    300 (encoder.py:23):
    embedding 172·300 = 51 600; highway 2·3·(300² + 300) = 541 800;
    encoder 2·(4·600·(300 + 600) + 2·4·600) = 4 329 600; μ and log σ² 2·(1200·64 + 64) = 153 728;
    decoder layer 1 4·800·(364 + 800) + 2·3200 = 3 731 200, layer 2 4·800·1600 + 6400 = 5 126 400;
    output 800·172 + 172 = 137 772. Total 14 072 100."""
    with torch.device("meta"):
        model = LevelVAE(PAPER)
    assert sum(p.numel() for p in model.parameters()) == 14_072_100


def test_kl_annealing_is_clutrs():
    """utils/functional.py:29-31: (tanh((i − 3500)/1000) + 1)/2."""
    assert kl_coef(3500) == pytest.approx(0.5)
    assert kl_coef(0) == pytest.approx((math.tanh(-3.5) + 1) / 2)
    assert kl_coef(5500) == pytest.approx(0.98201379, abs=1e-8)


def test_training_stream_is_clutrs_file_order():
    """gen_training_data.py:9-18: chunks of 32 levels of one length, the lengths 2 … 52 in
    turn, duplicates dropped. On the 169-cell maze a chunk of length ≥ 3 is never cut short
    (≥ 169·168·167 levels each), a length-2 chunk (169·168 = 28 392 levels) rarely."""
    assert CHUNK == 32
    cfg = LevelVAEConfig()
    stream = clutr_training_stream(cfg, np.random.default_rng(0))
    first_cycle = [next(stream) for _ in range(50 * 32 + 31)]  # lengths 2 … 52, at most one level short
    lengths = [len(s) for s in first_cycle]
    assert lengths == sorted(lengths) and lengths[-1] == 52
    counts = Counter(lengths)
    assert all(counts[k] == 32 for k in range(3, 52)) and 30 <= counts[2] <= 32
    for s in first_cycle:
        assert s[:-2] == sorted(s[:-2]) and len(set(s)) == len(s)


def test_training_stream_drops_duplicates():
    """On a 2×2 interior (4 cells) the levels of each length are few: length 2: 4·3 = 12;
    length 3: 4·3·2 = 24; length 4: 4·3·1 = 12. Drawn without repeats, all 48 come."""
    cfg = LevelVAEConfig(size=4)
    assert [distinct_levels(k, 4) for k in (2, 3, 4)] == [12, 24, 12]
    stream = clutr_training_stream(cfg, np.random.default_rng(1))
    levels = [next(stream) for _ in range(48)]
    assert len({tuple(s) for s in levels}) == 48
    assert Counter(len(s) for s in levels) == {2: 12, 3: 24, 4: 12}


def test_decoding_stops_after_n_walls_plus_two_words():
    """adversarial.py:184, 660: ``ae.sample(..., seq_len = n_clutter + 2)``: at most 52 words
    for 50 walls (here a decoder that never says ``end``)."""
    model = LevelVAE(LevelVAEConfig(embed=4, enc_hidden=4, dec_hidden=4, latent_dim=2))
    with torch.no_grad():
        model.out.weight.zero_()
        model.out.bias.zero_()
        model.out.bias[5] = 10.0
    model.eval()
    assert model.decode(np.zeros((1, 2))) == [[5] * 52]


def _teacher(tmp_path, **kw):
    teacher = CLUTR(maze_task_space(max_size=7), seed=0, weights_dir=str(tmp_path), **{**TINY, **kw})
    teacher.level_designer = gridworld_level_designer
    return teacher


def _constant_decoder(teacher, word):
    """Make the teacher's frozen decoder emit one vocabulary index at every step."""
    model = teacher._manifold()
    with torch.no_grad():
        model.out.weight.zero_()
        model.out.bias.zero_()
        model.out.bias[word] = 10.0


def test_words_that_are_not_cells_are_dropped(tmp_path):
    """adversarial.py:663: ``[int(n) - 1 for n in seq.split() if n.isdigit()]``: pad and go
    words never become cells. A decoder that only says ``pad`` gives no cell; ours completes
    the goal and agent at random (clutr would raise) and counts the decode as repaired."""
    teacher = _teacher(tmp_path, batch_size=2)
    _constant_decoder(teacher, teacher.vae_config.pad)
    placements, valid = teacher.decode_latent(np.zeros(teacher.latent_dim))
    assert len(placements) == 2 and not valid


def test_decoded_walls_then_goal_then_agent_make_the_level(tmp_path):
    """adversarial.py:603-655 with choose_goal_last (TaskEmbedGoalLastAdversarialEnv, :837-853):
    the walls first (a wall on a wall does nothing), then the goal (clearing a wall on its
    cell), then the agent (the same). Cells 3, 3, 10 as walls, goal 10, agent 3 on the 15×15
    maze (13 columns): no wall is left, the goal at (10 % 13 + 1, 10 // 13 + 1) = (11, 1),
    the agent at (4, 1). Cells 0, 14 as walls with goal 1 and agent 2: walls at (1, 1) and
    (2, 2)."""
    text, _ = gridworld_level_designer(15, [3, 3, 10, 10, 3], goal_last=True)
    level = Level.from_string(text)
    assert level.walls == () and level.goal == (11, 1) and level.start == (4, 1)
    level = Level.from_string(gridworld_level_designer(15, [0, 14, 1, 2], goal_last=True)[0])
    assert sorted(level.walls) == sorted([1 * 15 + 1, 2 * 15 + 2]) and level.goal == (2, 1) and level.start == (3, 1)


def test_the_last_two_decoded_cells_are_goal_and_agent(tmp_path):
    """adversarial.py:663-668 (multistep reading, choose_goal_last): non-cell words dropped,
    then walls, goal, agent in the decoded order. On the 7×7 maze (5 columns, pad = 25) the
    words 3, 10, pad, 20, 7 are walls at cells 3 = (4, 1) and 10 = (1, 3), the goal at cell
    20 = (1, 5) and the agent at cell 7 = (3, 2); the dropped pad makes it a repaired decode.
    (The decoder's output is given here: the reading is what is checked, not the VAE.)"""
    teacher = _teacher(tmp_path)
    vae = teacher._manifold()
    vae.decode = lambda z: [[3, 10, teacher.vae_config.pad, 20, 7]]
    placements, valid = teacher.decode_latent(np.zeros(teacher.latent_dim))
    assert placements == [3, 10, 20, 7] and not valid
    level = Level.from_string(gridworld_level_designer(7, placements, goal_last=True)[0])
    assert sorted(level.walls) == sorted([1 * 7 + 4, 3 * 7 + 1]) and level.goal == (1, 5) and level.start == (3, 2)
    vae.decode = lambda z: [[3, 10, 20, 7]]
    assert teacher.decode_latent(np.zeros(teacher.latent_dim)) == ([3, 10, 20, 7], True)


# -- the latent teacher -----------------------------------------------------------------------
def test_latent_teacher_network_is_clutrs():
    """multigrid_models.py:223-245 with scalar_fc 10 (make_agent.py:63), 50-D noise
    (adversarial.py:81) and a 64-D latent: embedding 50·10 + 10 = 510, α and β heads
    2·(10·64 + 64) = 1 408, critic 10 + 1 = 11: 1 929 weights. With every head weight 0,
    α = β = 1 + softplus(0) = 1 + ln 2 (multigrid_models.py:280-281)."""
    gen = LatentGenerator(50, 64)
    assert sum(p.numel() for p in gen.parameters()) == 1929
    with torch.no_grad():
        for layer in (gen.alpha, gen.beta):
            layer.weight.zero_()
            layer.bias.zero_()
    dist, value = gen(torch.rand(3, 50))
    assert isinstance(dist, torch.distributions.Beta) and value.shape == (3,)
    assert torch.allclose(dist.concentration1, torch.full((3, 64), 1 + math.log(2)))
    assert torch.allclose(dist.concentration0, torch.full((3, 64), 1 + math.log(2)))


def test_teacher_draws_uniform_noise_and_beta_latents_in_the_unit_box(tmp_path):
    """adversarial.py:599-600: noise ``np.random.uniform(size=50)`` in [0, 1); the Beta sample
    in [0, 1] reaches the decoder unscaled (no ``process_action``, agent.py:33-37). With
    ``latent_range: [-4, 4]`` (the declared Box, adversarial.py:178-179) 0.5 means 0 and 1
    means 4."""
    teacher = _teacher(tmp_path, batch_size=16)
    teacher._new_batch()
    record = next(iter(teacher._latents.values()))
    noise = np.array([r[0] for r in record])
    sample = np.array([r[1] for r in record])
    assert noise.shape == (16, 50) and noise.min() >= 0.0 and noise.max() < 1.0
    assert sample.shape == (16, 8) and sample.min() > 0.0 and sample.max() < 1.0
    assert np.array_equal(teacher.latent_of(sample), sample)
    wide = _teacher(tmp_path, latent_range=[-4.0, 4.0])
    assert wide.latent_of(np.array([0.5, 1.0, 0.0])).tolist() == [0.0, 4.0, -4.0]


def test_ppo_update_on_a_hand_made_batch():
    """algos/ppo.py:67-69, 95-113 for a one-step episode (return = reward): rewards [1, 0]
    with a critic of 0 (old values 0): advantages normalised to ±1/√2 (std with n − 1:
    √0.5), so at the first epoch (ratio 1) the surrogate is −mean(±0.7071) = 0 and the
    value loss 0.5·mean((0 − 1)², (0 − 0)²) = 0.25."""
    gen = LatentGenerator(50, 4)
    with torch.no_grad():
        gen.critic.weight.zero_()
        gen.critic.bias.zero_()
    noise = torch.rand(2, 50)
    with torch.no_grad():
        dist, values = gen(noise)
        actions = dist.sample()
        log_probs = dist.log_prob(actions).sum(-1)
    opt = torch.optim.Adam(gen.parameters(), lr=1e-4, eps=1e-5)
    losses = latent_ppo_update(gen, opt, noise, actions, log_probs, values, torch.tensor([1.0, 0.0]), n_epochs=1)
    assert losses is not None
    assert losses["policy_loss"] == pytest.approx(0.0, abs=1e-6)
    assert losses["value_loss"] == pytest.approx(0.25, abs=1e-7)


def test_one_ppo_update_of_five_steps_per_32_levels(tmp_path):
    """clutr's maze run: 32 processes, one level each, one teacher update per iteration
    (adversarial_runner.py:721-838, train_minigrid50_clutr.sh:15), of adv_ppo_epoch 5 ×
    adv_num_mini_batch 1 = 5 gradient steps (arguments.py:115-128, ppo.py:78-86); lr 1e-4
    (train_minigrid50_clutr.sh:13), Adam eps 1e-5 (arguments.py:30-33). A scripted stream
    of 64 levels, each played once by both students: 2 updates, 10 Adam steps. (The levels
    are made distinct here -- goal k, agent k + 1 for the k-th latent -- so that no two
    latents of a batch share a level: the update rate is what is checked, not the VAE.)"""
    teacher = _teacher(tmp_path, batch_size=32, episodes_per_level=1, max_pending=2)
    n = teacher.vae_config.n_cells
    made = iter(range(10**6))

    def distinct(z):
        k = next(made)
        return [k % n, (k + 1 + k // n) % n], True

    teacher.decode_latent = distinct
    assert teacher.batch_size == 32 and teacher.ppo == {"n_epochs": 5, "clip_range": 0.2, "vf_coef": 0.5,
                                                        "ent_coef": 0.0, "max_grad_norm": 0.5}
    group = teacher.optimizer.param_groups[0]
    assert group["lr"] == 1e-4 and group["eps"] == 1e-5
    view = teacher.antagonist_view()
    for i in range(64):
        task = teacher.sample()
        teacher.update(Episode(task=task, episode_return=0.0, length=5, episode_id=i))
        ant = view.sample()
        view.update(Episode(task=ant, episode_return=float(i % 2), length=5, episode_id=1000 + i))
        if i == 31:
            assert teacher.n_generator_updates == 1
    assert teacher.n_generator_updates == 2
    steps = {int(s["step"]) for s in teacher.optimizer.state.values()}
    assert steps == {10}


def test_regret_is_pairs():
    """adversarial_runner.py:663-665: max(antagonist max_return − protagonist mean_return, 0)."""
    assert level_regret([0.2, 0.4], [0.1, 0.9]) == pytest.approx(0.6)
    assert level_regret([0.9, 0.9], [0.1, 0.2]) == 0.0
