"""Running one LSTM over a whole rollout whose columns contain episode starts.

A rollout is ``T`` steps × ``B`` env columns. Every column begins from its stored hidden
state (zeroed if the column's first step starts an episode) and the state is zeroed again
at every later episode start. cuDNN's LSTM has no reset input, so a reset splits a column
into *segments*; the three ways of running them are:

- **packed** (:func:`lstm_over_rollout`, what training uses): every segment becomes its
  own sequence of a ``PackedSequence`` (segments starting at ``t = 0`` take the column's
  stored state, all others a zero state) and ONE ``nn.LSTM`` call runs them all. The
  index arithmetic (segment ids, lengths, packed positions) is done on the CPU from the
  NumPy episode-start array the buffer already holds, so it costs no device sync; only
  real steps are computed (no padding). Without any reset after ``t = 0`` it is a plain
  ``nn.LSTM`` call over ``(T, B)``.
- **stepwise** (:func:`lstm_stepwise`): ``T`` one-step calls with the state multiplied by
  the episode-start mask in between (sb3-contrib's ``RecurrentPPO`` does this whenever a
  padded chunk contains a reset).
- **split** (:func:`lstm_split_at_resets`): dcd's way: cut the time axis wherever ANY
  column resets and run each slice with one call. With many envs per minibatch nearly
  every step holds some reset, so it degenerates into the stepwise loop.

``benchmarks/bench_recurrent.py --lstm-modes`` measures the three; the tests check that
they agree with an explicit per-step ``LSTMCell`` loop in values and gradients.

The choice (:data:`MODES`, ``"auto"`` by default): packed on CUDA, where cuDNN runs
variable-length sequences natively in one call; split on the CPU, where PyTorch's
packed-sequence backward is slow: for one minibatch of 64 steps × 128 columns, 256 units,
~2% resets per step, forward+backward took 7.6 s packed, 1.7 s stepwise and 1.3 s for a
plain call without resets (one thread, this project's 2-core dev machine). Split never
makes more calls than stepwise (a slice per step at worst) and far fewer when few columns
share a minibatch (dcd's 256 steps × a handful of envs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

MODES = ("auto", "packed", "stepwise", "split")
"""How :func:`lstm_over_rollout` runs a block with resets; ``auto``: packed on CUDA,
split elsewhere (see the module docstring)."""


@dataclass
class ResetPlan:
    """Where the segments of a ``(T, B)`` block of a rollout start, computed once per
    minibatch on the CPU.

    Attributes:
        keep0: ``(1, B, 1)`` float, 0 where a column's first step starts an episode.
        packed_index: ``(B·T,)`` position of each (column-major) step in the packed data;
            ``None`` when no column resets after its first step (a plain LSTM call).
        batch_sizes: CPU int64, sequences alive at each packed time step.
        first_segment_rank: ``(B,)`` rank (in the length-sorted order) of each column's
            first segment, the one that starts from the stored state.
        n_segments: number of sequences in the packed call.
        starts: ``(T, B)`` episode starts on the device (stepwise and split modes), else ``None``.
        cuts: split mode: the steps where a slice begins (0, every step where a column
            resets, T), else ``None``.
    """

    steps: int
    columns: int
    keep0: torch.Tensor
    packed_index: torch.Tensor | None = None
    batch_sizes: torch.Tensor | None = None
    first_segment_rank: torch.Tensor | None = None
    n_segments: int = 0
    starts: torch.Tensor | None = None
    cuts: list[int] | None = None

    @classmethod
    def from_starts(cls, episode_starts: np.ndarray, device: torch.device | str = "cpu",
                    mode: str = "auto") -> "ResetPlan":
        if mode not in MODES:
            raise ValueError(f"unknown LSTM mode {mode!r}, expected one of {MODES}")
        starts = np.asarray(episode_starts, dtype=bool)
        if starts.ndim != 2:
            raise ValueError(f"episode_starts must be (T, B), got shape {starts.shape}")
        t, b = starts.shape
        keep0 = torch.as_tensor(1.0 - starts[0].astype(np.float32), device=device).view(1, b, 1)
        if t == 1 or not starts[1:].any():
            return cls(t, b, keep0)
        if mode == "auto":
            mode = "packed" if torch.device(device).type == "cuda" else "split"
        if mode in ("stepwise", "split"):
            cuts = list(range(t + 1)) if mode == "stepwise" else split_points(starts)
            return cls(t, b, keep0, starts=torch.as_tensor(starts, device=device), cuts=cuts)
        seg_start = starts.T.copy()  # column-major: flat index = column * T + step
        seg_start[:, 0] = True
        flat = seg_start.reshape(-1)
        first = np.flatnonzero(flat)  # flat index where each segment begins
        seg_id = np.cumsum(flat) - 1
        lengths = np.diff(np.append(first, flat.size))
        order = np.argsort(-lengths, kind="stable")  # longest first, as PackedSequence wants
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        max_len = int(lengths.max())
        alive = order.size - np.cumsum(np.bincount(lengths, minlength=max_len + 1))[:max_len]  # #(length > s)
        offsets = np.concatenate([[0], np.cumsum(alive)[:-1]])
        pos = np.arange(flat.size) - first[seg_id]
        packed = offsets[pos] + rank[seg_id]
        first_rank = rank[seg_id[np.arange(b) * t]]
        return cls(
            t, b, keep0,
            packed_index=torch.as_tensor(packed, dtype=torch.long, device=device),
            batch_sizes=torch.as_tensor(alive, dtype=torch.int64),
            first_segment_rank=torch.as_tensor(first_rank, dtype=torch.long, device=device),
            n_segments=int(order.size),
        )


def lstm_over_rollout(lstm: nn.LSTM, x: torch.Tensor, state: torch.Tensor, plan: ResetPlan) -> torch.Tensor:
    """Outputs ``(T, B, H)`` of a one-layer ``lstm`` over ``x`` ``(T, B, F)`` from the
    stored states ``state`` ``(2, B, H)`` (h, c), resetting at the plan's episode starts."""
    t, b, f = x.shape
    if plan.cuts is not None and plan.starts is not None:
        return _run_slices(lstm, x, state, plan.starts, plan.cuts)
    h0 = state[0:1] * plan.keep0
    c0 = state[1:2] * plan.keep0
    if plan.packed_index is None:
        out, _ = lstm(x, (h0, c0))
        return out
    hidden = lstm.hidden_size
    flat = x.transpose(0, 1).reshape(b * t, f)
    data = flat.new_empty((b * t, f)).index_copy(0, plan.packed_index, flat)
    hs = h0.new_zeros((1, plan.n_segments, hidden)).index_copy(1, plan.first_segment_rank, h0)
    cs = c0.new_zeros((1, plan.n_segments, hidden)).index_copy(1, plan.first_segment_rank, c0)
    out, _ = lstm(PackedSequence(data, plan.batch_sizes), (hs, cs))
    return out.data.index_select(0, plan.packed_index).view(b, t, hidden).transpose(0, 1)


def split_points(episode_starts: np.ndarray) -> list[int]:
    """0, every step > 0 where some column starts an episode, and T."""
    starts = np.asarray(episode_starts, dtype=bool)
    return [0, *(np.flatnonzero(starts[1:].any(axis=1)) + 1).tolist(), starts.shape[0]]


def _run_slices(lstm: nn.LSTM, x: torch.Tensor, state: torch.Tensor, episode_starts: torch.Tensor,
                cuts: list[int]) -> torch.Tensor:
    """One call per slice ``[cuts[k], cuts[k+1])``, the state masked at each slice start."""
    keep = 1.0 - episode_starts.to(x.dtype)
    h, c = state[0:1], state[1:2]
    outs = []
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        k = keep[lo].view(1, -1, 1)
        out, (h, c) = lstm(x[lo:hi], (h * k, c * k))
        outs.append(out)
    return torch.cat(outs, 0)


def lstm_stepwise(lstm: nn.LSTM, x: torch.Tensor, state: torch.Tensor, episode_starts: torch.Tensor) -> torch.Tensor:
    """The same outputs with one call per step and the state masked between calls."""
    return _run_slices(lstm, x, state, episode_starts, list(range(x.shape[0] + 1)))


def lstm_split_at_resets(lstm: nn.LSTM, x: torch.Tensor, state: torch.Tensor,
                         episode_starts: np.ndarray) -> torch.Tensor:
    """dcd's split: one call per time slice between steps where any column resets."""
    starts = torch.as_tensor(np.asarray(episode_starts, dtype=bool), device=x.device)
    return _run_slices(lstm, x, state, starts, split_points(episode_starts))
