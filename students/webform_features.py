"""A set policy for web forms: elements share weights, text is embedded, actions are scored
per element.

The web-form env's ``tokens`` observation (``envs/webform/tokens.py``) holds, per element
slot, its features and the token ids of its label, value and options, and per instruction
field its key and value tokens. A flat MLP over 3,271 inputs would have to learn the same
"does this label mean that key?" separately for each of the 20 slots and 8 fields, and
which slot holds what changes from form to form. This policy treats the page as a *set*
of elements and the instruction as a set of fields (as DOM-based web agents do: Liu et
al. 2018's DOMNet, QWeb's DOM-instruction attention):

1. one embedding table for all text; a text is the mean of its word embeddings;
2. one MLP embeds every element (features, label, current value) and one every field
   (features, key, value);
3. one pair MLP scores every (element, field) pair from both embeddings, the flat match
   features and the elementwise products label x key and value x instructed value (what
   makes "the same word" easy to see); its output gives the logit of "type value ``j``
   into element ``i``" and, by a softmax over the fields, an attention of element ``i``
   over the instruction (which field it answers);
4. the option head scores option ``k`` of element ``i`` against the attended field
   (option text x attended value), the click head scores an element from its state and a
   page summary (masked mean and max over elements): Submit is right only when every
   field is done;
5. the logits come out in the env's action order (``envs/webform/dom.py``:
   ``i * SLOTS + r``), so the policy's action head is the identity, and the value head
   reads the page summary.

Every weight is shared across element slots and fields, so what is learned on one slot
holds on all (the property the issue asks for). The policy works with SB3's PPO and A2C
and sb3-contrib's MaskablePPO (``student.policy: webform_set``); ``configs/env/webform.yaml``
names it per algorithm (``students.<algo>.policy``), which ``students/build.py`` reads when
the student config names no policy. On ``obs_mode="miniwob"`` the same name builds
:class:`MiniWobSetExtractor`, the same design over MiniWoB++'s element list.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn
from torch.nn import functional as F

from envs.errors import TeachBenchError
from envs.webform.dom import SLOTS
from envs.webform.features import F_GLOBAL, F_INS, F_MATCH, F_OPT, layout
from envs.webform.form import MAX_ELEMENTS, MAX_FIELDS, MAX_OPTIONS
from envs.webform.tokens import TOKEN_OBS_SIZE, VOCAB, token_layout

WEBFORM_SET = "webform_set"
"""The ``student.policy`` value that asks for :class:`WebFormSetExtractor` and its heads."""

E, J, K = MAX_ELEMENTS, MAX_FIELDS, MAX_OPTIONS


def _mlp(n_in: int, n_out: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out), nn.ReLU())


def _small(n_in: int) -> nn.Linear:
    """A linear layer to one logit, initialised small (near-uniform first policy, as SB3's
    0.01-gain action head)."""
    last = nn.Linear(n_in, 1)
    nn.init.orthogonal_(last.weight, gain=0.01)
    nn.init.zeros_(last.bias)
    return last


def _head(n_in: int, hidden: int) -> nn.Sequential:
    """An MLP to one logit, its last layer initialised small (near-uniform first policy,
    as SB3's 0.01-gain action head)."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), _small(hidden))


def _token_caps(observation_space: spaces.Space):
    """The webform caps whose ``tokens`` observation has this shape (None: not one)."""
    from envs.webform.form import BASE_CAPS, WIDGET_CAPS
    from envs.webform.tokens import token_obs_size

    for caps in (BASE_CAPS, WIDGET_CAPS):
        if getattr(observation_space, "shape", None) == (token_obs_size(caps),):
            return caps
    return None


class WebFormSetExtractor(BaseFeaturesExtractor):
    """Per-action logits (``N_ACTIONS``) followed by a page summary (``hidden``).

    Args:
        observation_space: the env's ``tokens`` observation space.
        embed_dim: word embedding size; default 32.
        hidden: element, field, pair and summary size; default 64.
    """

    def __init__(self, observation_space: spaces.Box, embed_dim: int = 32, hidden: int = 64, heads: int = 4) -> None:
        caps = _token_caps(observation_space)
        if caps is None:
            raise TeachBenchError("student.policy", f"policy {WEBFORM_SET!r} needs the web-form env with "
                                  f"obs_mode='tokens' ({TOKEN_OBS_SIZE} values), got shape {observation_space.shape}")
        self.n_el, self.f_el = caps.max_elements, 1 + len(caps.kinds) + 5  # the widget caps: 100 slots, more kinds
        super().__init__(observation_space, self.n_el * SLOTS + hidden)
        self.flat = {name: sl for name, (sl, _) in layout(caps).items()}
        self.tok_shapes = token_layout(caps)
        d, h = embed_dim, hidden
        self.heads, self.head_dim = heads, d // heads
        self.embed = nn.Embedding(VOCAB, d, padding_idx=0)
        self.element = _mlp(self.f_el + 2 * d, h, h)
        self.field = _mlp(F_INS + 2 * d, h, h)
        # text similarity heads: label x key, value x instructed value, option x attended value
        self.q_label, self.k_key = nn.Linear(d, d), nn.Linear(d, d)
        self.q_value, self.k_ivalue = nn.Linear(d, d), nn.Linear(d, d)
        self.q_option, self.k_attended = nn.Linear(d, d), nn.Linear(d, d)
        # the pair layer, split into its element, field and pair parts (computed once each)
        self.pair_e, self.pair_f = nn.Linear(h, h), nn.Linear(h, h, bias=False)
        self.pair_x = nn.Linear(F_MATCH + 2 * heads, h, bias=False)
        self.type_head = _small(h)
        self.attend = nn.Linear(h, 1)
        self.option_e = nn.Linear(h, h)
        self.option_x = nn.Linear(3 + heads, h, bias=False)
        self.option_head = _small(h)
        self.state = _mlp(2 * h, h, h)
        self.summary = _mlp(2 * h + F_GLOBAL, h, h)
        self.click = _head(2 * h, h)

    def _bag(self, ids: torch.Tensor) -> torch.Tensor:
        """Mean word embedding over the last axis of ``ids`` (padding ignored)."""
        ids = ids.long()
        vec = self.embed(ids).sum(-2)
        count = (ids > 0).sum(-1, keepdim=True).clamp(min=1)
        return vec / count

    def _sim(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Per-head scaled dot products of ``q`` (..., A, d) and ``k`` (..., B, d): (..., A, B, heads)."""
        qh = q.unflatten(-1, (self.heads, self.head_dim))
        kh = k.unflatten(-1, (self.heads, self.head_dim))
        return torch.einsum("...aHc,...bHc->...abH", qh, kh) / self.head_dim ** 0.5

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        b = obs.shape[0]
        E = self.n_el  # noqa: N806 (the module's E for the default caps)
        el_all = obs[:, self.flat["elements"]].reshape(b, E, self.f_el)
        ins_all = obs[:, self.flat["instruction"]].reshape(b, J, F_INS)
        opt_all = obs[:, self.flat["options"]].reshape(b, E, K, F_OPT)
        # Elements, fields and options fill their slots from 0: compute on the occupied
        # slots of this batch only (3 elements x 2 fields on a small form instead of 20 x 8)
        # and pad the logits back; empty slots are masked actions, and every pooling and
        # softmax below ignores them, so the result is the same as on all slots.
        n_e = max(1, int(el_all[..., 0].sum(1).max()))
        n_j = max(1, int(ins_all[..., 0].sum(1).max()))
        n_k = max(1, int(opt_all[..., 0].sum(2).max()))
        el, ins, opt = el_all[:, :n_e], ins_all[:, :n_j], opt_all[:, :n_e, :n_k]
        match = obs[:, self.flat["match"]].reshape(b, E, J, F_MATCH)[:, :n_e, :n_j]
        opt = torch.cat([opt[..., :2], opt[..., 2:2 + n_j]], -1)
        glob = obs[:, self.flat["globals"]]
        tok = {name: obs[:, sl].reshape(b, *shape) for name, (sl, shape) in self.tok_shapes.items()}
        label = self._bag(tok["label_tokens"][:, :n_e])
        value = self._bag(tok["value_tokens"][:, :n_e])
        option = self._bag(tok["option_tokens"][:, :n_e, :n_k])
        key = self._bag(tok["key_tokens"][:, :n_j])
        ivalue = self._bag(tok["instruction_value_tokens"][:, :n_j])
        el_present = el[..., 0]  # (b, n_e)
        field_present = ins[..., 0]  # (b, n_j)

        e = self.element(torch.cat([el, label, value], -1))  # (b, n_e, h)
        f = self.field(torch.cat([ins, key, ivalue], -1))  # (b, J, h)
        sims = torch.cat([self._sim(self.q_label(label), self.k_key(key)),
                          self._sim(self.q_value(value), self.k_ivalue(ivalue))], -1)  # (b, n_e, n_j, 2 heads)
        p = torch.relu(self.pair_e(e).unsqueeze(2) + self.pair_f(f).unsqueeze(1)
                       + self.pair_x(torch.cat([match, sims], -1)))  # (b, n_e, n_j, h)
        type_logits = self.type_head(p).squeeze(-1)  # (b, n_e, n_j)

        score = self.attend(p).squeeze(-1).masked_fill(field_present.unsqueeze(1) < 0.5, -1e9)
        attn = torch.softmax(score, -1)  # (b, n_e, n_j): which field element i answers
        context = (attn.unsqueeze(-1) * p).sum(2)  # (b, n_e, h)
        attended_value = torch.einsum("bej,bjd->bed", attn, ivalue)  # (b, n_e, d)
        opt_match = (attn.unsqueeze(2) * opt[..., 2:]).sum(-1, keepdim=True)  # (b, n_e, n_k, 1)
        opt_sim = self._sim(self.q_option(option), self.k_attended(attended_value).unsqueeze(2)).squeeze(-2)
        o = torch.relu(self.option_e(context).unsqueeze(2) + self.option_x(torch.cat([opt[..., :2], opt_match, opt_sim], -1)))
        choose_logits = self.option_head(o).squeeze(-1)  # (b, n_e, n_k)

        s = self.state(torch.cat([e, context], -1))  # (b, n_e, h)
        weights = el_present.unsqueeze(-1)
        mean = (s * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        top = s.masked_fill(weights < 0.5, -1e9).max(1).values
        top = torch.where(top < -1e8, torch.zeros_like(top), top)
        g = self.summary(torch.cat([mean, top, glob], -1))  # (b, h)
        click_logits = self.click(torch.cat([s, g.unsqueeze(1).expand(-1, n_e, -1)], -1))  # (b, n_e, 1)

        logits = torch.cat([click_logits, F.pad(type_logits, (0, J - n_j)), F.pad(choose_logits, (0, K - n_k))], -1)
        logits = F.pad(logits, (0, 0, 0, E - n_e))  # (b, E, SLOTS), dom.py's action order
        return torch.cat([logits.reshape(b, E * SLOTS), g], -1)


class MiniWobSetExtractor(BaseFeaturesExtractor):
    """The set policy on ``obs_mode="miniwob"``: per-node scores for MiniWoB++'s "liu18"
    actions (none, click node ``n``, focus node ``n`` and type field ``j``) followed by a
    page summary.

    Same design as :class:`WebFormSetExtractor`, on MiniWoB++'s element list: a node is
    embedded from its tag, position, flags and words; as a node alone does not say which
    field it is (a label and its input are separate nodes), each node also sees its
    neighbours' words in document order (the label before an input, after a checkbox).
    Word overlaps between a node's (or a neighbour's) text and a field's key, and exact
    equality of its value with a field's value, are computed from the token ids, so they
    hold for words the policy never saw (MiniWoB++'s "password").
    """

    def __init__(self, observation_space: spaces.Dict, embed_dim: int = 32, hidden: int = 64, heads: int = 4) -> None:
        from envs.webform.miniwob import SLOTS as MINIWOB_SLOTS
        from envs.webform.miniwob import TAGS, UTTERANCE_TOKENS

        n_nodes = int(observation_space["ref"].shape[0])  # 100-element pages (widgets=True) list more nodes
        self.n_actions = 1 + n_nodes * MINIWOB_SLOTS
        super().__init__(observation_space, self.n_actions + hidden)
        self.n_nodes, self.n_tags, self.n_utterance = n_nodes, len(TAGS), UTTERANCE_TOKENS
        d, h = embed_dim, hidden
        self.heads, self.head_dim = heads, d // heads
        self.embed = nn.Embedding(VOCAB, d, padding_idx=0)
        self.node = _mlp(self.n_tags + 8 + 4 * d, h, h)
        self.field = _mlp(1 + 2 * d, h, h)
        self.q_text, self.k_key = nn.Linear(3 * d, d), nn.Linear(d, d)
        self.q_value, self.k_value = nn.Linear(d, d), nn.Linear(d, d)
        self.pair_n, self.pair_f = nn.Linear(h, h), nn.Linear(h, h, bias=False)
        self.pair_x = nn.Linear(5 + 2 * heads, h, bias=False)
        self.type_head = _small(h)
        self.attend = nn.Linear(h, 1)
        self.state = _mlp(2 * h, h, h)
        self.summary = _mlp(2 * h, h, h)
        self.click = _head(2 * h, h)
        self.none = _small(h)

    def _bag(self, ids: torch.Tensor) -> torch.Tensor:
        vec = self.embed(ids).sum(-2)
        return vec / (ids > 0).sum(-1, keepdim=True).clamp(min=1)

    def _sim(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        qh = q.unflatten(-1, (self.heads, self.head_dim))
        kh = k.unflatten(-1, (self.heads, self.head_dim))
        return torch.einsum("...aHc,...bHc->...abH", qh, kh) / self.head_dim ** 0.5

    @staticmethod
    def _overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Share of the words of ``b`` (b, J, T) found in ``a`` (b, N, T): (b, N, J)."""
        same = (a.unsqueeze(2).unsqueeze(-1) == b.unsqueeze(1).unsqueeze(-2)) & (b > 0).unsqueeze(1).unsqueeze(-2)
        found = same.any(-2).float().sum(-1)  # (b, N, J)
        return found / (b > 0).sum(-1).clamp(min=1).unsqueeze(1)

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        b = obs["tag"].shape[0]
        tag = obs["tag"].long()
        n_n = max(1, int((tag > 0).sum(1).max()))
        fields = obs["fields"].reshape(b, J, 2, -1).long()
        n_j = max(1, int((fields[:, :, 0] > 0).any(-1).sum(1).max()))
        tag = tag[:, :n_n]
        text = obs["text"].reshape(b, self.n_nodes, -1)[:, :n_n].long()
        value = obs["value"].reshape(b, self.n_nodes, -1)[:, :n_n].long()
        position = obs["position"].reshape(b, self.n_nodes, 4)[:, :n_n]
        flags = obs["flags"].reshape(b, self.n_nodes, 4)[:, :n_n]
        keys, values = fields[:, :n_j, 0], fields[:, :n_j, 1]
        present = (tag > 0).float()  # (b, n)
        field_present = (keys > 0).any(-1).float()  # (b, j)
        # neighbours in document order (zero ids beyond the ends)
        prev_text = F.pad(text, (0, 0, 1, 0))[:, :-1]
        next_text = F.pad(text, (0, 0, 0, 1))[:, 1:]
        t_bag, v_bag = self._bag(text), self._bag(value)
        p_bag, nx_bag = self._bag(prev_text), self._bag(next_text)
        k_bag, fv_bag = self._bag(keys), self._bag(values)

        one_hot = F.one_hot(tag, self.n_tags).float()
        e = self.node(torch.cat([one_hot, position, flags, t_bag, v_bag, p_bag, nx_bag], -1))  # (b, n, h)
        f = self.field(torch.cat([field_present.unsqueeze(-1), k_bag, fv_bag], -1))  # (b, j, h)
        value_eq = ((value.unsqueeze(2) == values.unsqueeze(1)).all(-1) & (values > 0).any(-1).unsqueeze(1)).float()
        match = torch.stack([self._overlap(text, keys), self._overlap(prev_text, keys), self._overlap(next_text, keys),
                             value_eq, self._overlap(value, values)], -1)  # (b, n, j, 5)
        sims = torch.cat([self._sim(self.q_text(torch.cat([t_bag, p_bag, nx_bag], -1)), self.k_key(k_bag)),
                          self._sim(self.q_value(v_bag), self.k_value(fv_bag))], -1)
        p = torch.relu(self.pair_n(e).unsqueeze(2) + self.pair_f(f).unsqueeze(1) + self.pair_x(torch.cat([match, sims], -1)))
        type_logits = self.type_head(p).squeeze(-1)  # (b, n, j)
        score = self.attend(p).squeeze(-1).masked_fill(field_present.unsqueeze(1) < 0.5, -1e9)
        context = (torch.softmax(score, -1).unsqueeze(-1) * p).sum(2)  # (b, n, h)

        s = self.state(torch.cat([e, context], -1))
        weights = present.unsqueeze(-1)
        mean = (s * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        top = s.masked_fill(weights < 0.5, -1e9).max(1).values
        top = torch.where(top < -1e8, torch.zeros_like(top), top)
        g = self.summary(torch.cat([mean, top], -1))  # (b, h)
        click_logits = self.click(torch.cat([s, g.unsqueeze(1).expand(-1, n_n, -1)], -1))  # (b, n, 1)
        per_node = torch.cat([click_logits, F.pad(type_logits, (0, J - n_j))], -1)  # (b, n, 1 + J)
        per_node = F.pad(per_node, (0, 0, 0, self.n_nodes - n_n))
        logits = torch.cat([self.none(g), per_node.reshape(b, -1)], -1)  # miniwob.py's action order
        return torch.cat([logits, g], -1)


class _SplitLatent(nn.Module):
    """The policy's ``mlp_extractor``: the actor gets the extractor's logits unchanged, the
    critic its page summary."""

    def __init__(self, n_actions: int, hidden: int) -> None:
        super().__init__()
        self.latent_dim_pi = n_actions
        self.latent_dim_vf = hidden

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        return features[:, :self.latent_dim_pi]

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        return features[:, self.latent_dim_pi:]


class _SetHeads:
    """Replaces SB3's MLP trunk and linear action head: the extractor already scores every
    action with shared weights, so the action head is the identity."""

    def _build_mlp_extractor(self) -> None:
        n_actions = int(self.action_space.n)
        self.mlp_extractor = _SplitLatent(n_actions, self.features_dim - n_actions)

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)  # type: ignore[misc]
        self.action_net = nn.Identity()
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)


class WebFormSetPolicy(_SetHeads, MaskableActorCriticPolicy):
    """sb3-contrib MaskablePPO's actor-critic with :class:`WebFormSetExtractor`."""


class WebFormSetPPOPolicy(_SetHeads, ActorCriticPolicy):
    """SB3 PPO's / A2C's actor-critic with :class:`WebFormSetExtractor`."""


POLICIES: dict[str, type] = {"maskable_ppo": WebFormSetPolicy, "ppo": WebFormSetPPOPolicy, "a2c": WebFormSetPPOPolicy}


def webform_set_policy(algo: str, observation_space: spaces.Space,
                       policy_kwargs: dict[str, Any] | None = None) -> tuple[type, dict[str, Any]]:
    """The policy class and ``policy_kwargs`` for ``student.policy: webform_set``.

    ``net_arch`` from the env config's defaults (sized for the flat observation's MLP) is
    dropped: this policy has its own heads. ``ortho_init`` is off: SB3 would re-initialise
    the last layer of each head with gain sqrt(2) instead of the small one set here.
    """
    if algo not in POLICIES:
        raise TeachBenchError("student.policy", f"policy {WEBFORM_SET!r} is for on-policy algorithms, not {algo}",
                              sorted(POLICIES))
    if isinstance(observation_space, spaces.Dict) and "dom_elements" not in observation_space.spaces \
            and {"utterance", "tag", "text"} <= set(observation_space.spaces):
        extractor: type[BaseFeaturesExtractor] = MiniWobSetExtractor
    elif isinstance(observation_space, spaces.Box) and _token_caps(observation_space) is not None:
        extractor = WebFormSetExtractor
    else:
        raise TeachBenchError("student.policy", f"policy {WEBFORM_SET!r} needs the web-form env with obs_mode "
                              "'tokens' or 'miniwob'")
    merged = {k: v for k, v in (policy_kwargs or {}).items() if k != "net_arch"}
    merged["features_extractor_class"] = extractor
    merged.setdefault("features_extractor_kwargs", {})
    merged.setdefault("ortho_init", False)
    return POLICIES[algo], merged


__all__ = ["WEBFORM_SET", "MiniWobSetExtractor", "WebFormSetExtractor", "WebFormSetPolicy", "WebFormSetPPOPolicy", "webform_set_policy"]
