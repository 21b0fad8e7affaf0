"""The PAIRED adversary's LSTM (21,692 inputs = 128 x 13 x 13 conv features + 10 time + 50
noise, 256 units) over one design batch (27 steps x 32 designs), every sequence starting
an episode at t = 0: step by step as sb3-contrib's RecurrentPPO runs it in training, vs one
nn.LSTM call with the initial state masked. One thread; forward, backward, and whether the
outputs and the weight gradients are the same bits.

    OMP_NUM_THREADS=1 python lstm_loop_vs_one_call.py
"""
import time

import torch

torch.set_num_threads(1)
torch.manual_seed(0)
F, H, T, B = 128 * 13 * 13 + 10 + 50, 256, 27, 32
lstm = torch.nn.LSTM(F, H)
x = torch.randn(T, B, F)
h0, c0 = torch.randn(1, B, H), torch.randn(1, B, H)
starts = torch.zeros(T, B)
starts[0] = 1


def loop():
    h, c, outs = h0, c0, []
    for t in range(T):
        k = (1.0 - starts[t]).view(1, B, 1)
        o, (h, c) = lstm(x[t].unsqueeze(0), (k * h, k * c))
        outs.append(o)
    return torch.cat(outs)


def one_call():
    k = (1.0 - starts[0]).view(1, B, 1)
    return lstm(x, (k * h0, k * c0))[0]


ref = None
for f in (loop, one_call):
    lstm.zero_grad()
    t0 = time.perf_counter()
    out = f()
    t1 = time.perf_counter()
    out.pow(2).sum().backward()
    t2 = time.perf_counter()
    print(f"{f.__name__:<9} forward {t1 - t0:6.2f} s   backward {t2 - t1:6.2f} s")
    grads = [p.grad.clone() for p in lstm.parameters()]
    if ref is None:
        ref = (out.detach().clone(), grads)
        continue
    print(f"outputs bit-identical: {torch.equal(out, ref[0])}")
    for (name, _), g, g0 in zip(lstm.named_parameters(), grads, ref[1]):
        print(f"grad {name:<12} bit-identical: {torch.equal(g, g0)}   max |diff| {(g - g0).abs().max().item():.2e}")
