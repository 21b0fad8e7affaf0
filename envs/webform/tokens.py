"""Text as token ids: the observation part that makes synonym keys learnable.

The flat observation (``features.py``) tells the policy *how well* an element's label
matches each instruction key (exact equality, word overlap), never *which words* they are.
When a key is a synonym that shares no word with the label ("Forename" for "First name")
and the instruction is shuffled, two fields of the same kind look identical: issue 19
measured that an assignment using every flat feature solves only 9-32% of 4-6-field
shuffled synonym forms, and ``tests/test_webform_learning.py`` proves the 2-field bound.

``obs_mode="tokens"`` appends the words themselves: the label, current value and option
texts of every element slot and the key and value of every instruction field, each as up
to :data:`T` token ids. A policy then learns which words mean the same field from
reward alone (``students/webform_features.py`` embeds the ids and shares the weights
across element slots). Ids come from a small table: every word of ``vocabulary.py``
(labels, synonyms, value pools, distractor labels: ~360 words) gets its own id, so no two
of our words share an embedding (hashing 360 words into 1023 buckets merged ~57 of them);
any other word, e.g. one of MiniWoB++'s, is hashed (CRC-32) into the remaining buckets,
so unseen text still has a stable id.

Token ids travel as float32 in the flat ``Box`` (exact for ids < 2**24), so the
observation stays one SB3-ready ``Box``; the features extractor casts them back.
"""

from __future__ import annotations

import re
import zlib
from functools import lru_cache

import numpy as np

from envs.webform import vocabulary as voc
from envs.webform.dom import FormState
from envs.webform.features import OBS_SIZE, Encoder, obs_size
from envs.webform.form import BASE_CAPS, MAX_ELEMENTS, MAX_FIELDS, MAX_OPTIONS, Caps

VOCAB = 1024  # ids incl. the padding id 0: the known words first, then hash buckets
T = 6  # tokens kept per text (labels have 1-5 words; longer texts are cut)
E, J, K = MAX_ELEMENTS, MAX_FIELDS, MAX_OPTIONS


def _token_sizes(caps: Caps) -> tuple[tuple[str, tuple[int, ...]], ...]:
    e = caps.max_elements
    return (("label_tokens", (e, T)), ("value_tokens", (e, T)), ("option_tokens", (e, K, T)),
            ("key_tokens", (J, T)), ("instruction_value_tokens", (J, T)))


def token_obs_size(caps: Caps = BASE_CAPS) -> int:
    """Length of the ``tokens`` observation for ``caps`` (``TOKEN_OBS_SIZE`` by default)."""
    return obs_size(caps) + int(sum(np.prod(s) for _, s in _token_sizes(caps)))


_TOKEN_SIZES = _token_sizes(BASE_CAPS)
TOKEN_SIZE = int(sum(np.prod(s) for _, s in _TOKEN_SIZES))
TOKEN_OBS_SIZE = OBS_SIZE + TOKEN_SIZE
_WORD = re.compile(r"\w+", re.UNICODE)


def token_layout(caps: Caps = BASE_CAPS) -> dict[str, tuple[slice, tuple[int, ...]]]:
    """Where each token block lives in the ``tokens`` observation (after the flat features)."""
    out, start = {}, obs_size(caps)
    for name, shape in _token_sizes(caps):
        size = int(np.prod(shape))
        out[name] = (slice(start, start + size), shape)
        start += size
    return out


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` (split on non-word characters, Unicode-aware)."""
    return _WORD.findall(text.lower())


def _known_words() -> tuple[str, ...]:
    texts = [*voc.DISTRACTOR_INPUT_LABELS, *voc.DISTRACTOR_CHECKBOX_LABELS, *voc.DISTRACTOR_LINK_LABELS,
             *voc.DISTRACTOR_BUTTON_LABELS, *voc.SUBMIT_LABELS, *voc.NEXT_LABELS, voc.YES, voc.NO, "extra",
             "true", "false"]  # checked state in obs_mode="miniwob" (miniwob.py)
    for c in voc.CONCEPTS:
        texts += [c.label, *c.synonyms, *c.values]
    return tuple(sorted({w for t in texts for w in words(t)}))


KNOWN_WORDS = _known_words()
_KNOWN = {w: i + 1 for i, w in enumerate(KNOWN_WORDS)}
N_HASHED = VOCAB - 1 - len(KNOWN_WORDS)
assert N_HASHED >= 256, "the token table is too small for the vocabulary"


def token_id(word: str) -> int:
    """The word's id in ``[1, VOCAB)``: its own id for a word of ``vocabulary.py``, else a
    CRC-32 bucket (stable across machines and Python runs, unlike ``hash``)."""
    known = _KNOWN.get(word)
    if known is not None:
        return known
    return 1 + len(KNOWN_WORDS) + zlib.crc32(word.encode("utf-8")) % N_HASHED


@lru_cache(maxsize=65536)
def token_ids(text: str) -> tuple[int, ...]:
    """The first :data:`T` word ids of ``text`` (lower-cased, split on non-word characters)."""
    return tuple(token_id(w) for w in words(text)[:T])


def _put(row: np.ndarray, text: str) -> None:
    ids = token_ids(text)
    row[:] = 0.0
    row[: len(ids)] = ids


class TokenEncoder:
    """The flat observation of :class:`~envs.webform.features.Encoder` followed by the
    token blocks of :data:`_TOKEN_SIZES`, patched per step like the flat part (results-page
    rows show their value's words, overlay items their text: a suggestion, a day number,
    Prev / Next)."""

    def __init__(self, state: FormState, caps: Caps = BASE_CAPS) -> None:
        self.state = state
        self.flat = Encoder(state, caps)
        form = state.form
        sizes = _token_sizes(caps)
        size_all = int(sum(np.prod(s) for _, s in sizes))
        self._overlay_rows = 0
        self.pages: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
        for page in form.pages:
            vec = np.zeros(size_all, dtype=np.float32)
            v, start = {}, 0
            for name, shape in sizes:
                size = int(np.prod(shape))
                v[name] = vec[start:start + size].reshape(shape)
                start += size
            for j, (key, value) in enumerate(zip(form.keys, form.values)):
                _put(v["key_tokens"][j], key)
                _put(v["instruction_value_tokens"][j], value)
            for i, e in enumerate(page):
                _put(v["label_tokens"][i], e.label)
                for k, option in enumerate(e.options):
                    _put(v["option_tokens"][i, k], option)
            self.pages.append((vec, v))
        for p, page in enumerate(form.pages):
            for i in range(len(page)):
                self._refresh_value(p, i)

    def _refresh_value(self, p: int, i: int) -> None:
        e = self.state.form.pages[p][i]
        if e.holds_value or e.kind == "summary":
            _put(self.pages[p][1]["value_tokens"][i], self.state.values[p][i])

    def refresh_element(self, p: int, i: int) -> None:
        self.flat.refresh_element(p, i)
        self._refresh_value(p, i)

    def refresh_page(self, p: int) -> None:
        self.flat.refresh_page(p)
        for i in range(len(self.state.form.pages[p])):
            self._refresh_value(p, i)

    def refresh_overlay(self, p: int) -> None:
        self.flat.refresh_overlay(p)
        labels = self.pages[p][1]["label_tokens"]
        base = len(self.state.form.pages[p])
        labels[base:base + self._overlay_rows] = 0.0
        items = self.state.overlay if self.state.page == p else ()
        for k, item in enumerate(items):
            _put(labels[base + k], item.label)
        self._overlay_rows = len(items)

    def refresh_errors(self, p: int) -> None:
        self.flat.refresh_errors(p)

    def observation(self, steps_left: float, last_invalid: bool, last_failed: bool) -> np.ndarray:
        flat = self.flat.observation(steps_left, last_invalid, last_failed)
        return np.concatenate((flat, self.pages[self.state.page][0]))
