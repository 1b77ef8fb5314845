#!/usr/bin/python3
"""PyTorch reference for the inject suite (bench/inject.ts): the masked fine-tuning step of `scalpel inject`.

The zoo's LeNet-5 (the same module as bench/torch_training.py) in eval mode, fine-tuned with
torch.optim.Adam(lr) where only a fixed set of N entries may move: the gradient is multiplied by a 0/1 mask before
each step (Adam then leaves the other entries exactly where they were, as scalpel's masked optimiser does). One step is

    x[idx], y[idx]; opt.zero_grad(set_to_none=True); loss = cross_entropy(model(x), y); loss.backward();
    for p, m in masks: p.grad.mul_(m); opt.step()

on the embedded Fashion-MNIST subset, and the figure is steps per second over whole steps after warm-up.

    /usr/bin/python3 bench/torch_inject.py --threads 1 --batch 64 --budget 100 --steps 60

prints one JSON object. Set OMP_NUM_THREADS in the environment as well.
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_training import LeNet5, load_fashion_mnist  # noqa: E402


def measure(threads, batch, budget, warmup, steps, lr, seed=0):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = LeNet5()
    model.eval()
    params = [p for p in model.parameters()]
    k = sum(p.numel() for p in params)
    keep = torch.randperm(k, generator=torch.Generator().manual_seed(seed))[:budget]
    flat = torch.zeros(k)
    flat[keep] = 1
    masks, off = [], 0
    for p in params:
        masks.append(flat[off:off + p.numel()].view_as(p).clone())
        off += p.numel()
    before = [p.detach().clone() for p in params]
    opt = torch.optim.Adam(params, lr=lr)
    x_all, y_all = load_fashion_mnist()
    n = x_all.shape[0]
    g = torch.Generator().manual_seed(seed)
    order, pos = torch.randperm(n, generator=g), 0
    stamps = []
    for _ in range(warmup + steps):
        if (pos + 1) * batch > n:
            order, pos = torch.randperm(n, generator=g), 0
        idx = order[pos * batch:(pos + 1) * batch]
        pos += 1
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
        loss.backward()
        for p, m in zip(params, masks):
            p.grad.mul_(m)
        opt.step()
        stamps.append(time.perf_counter())
    changed = sum(int((p.detach() != b).sum()) for p, b in zip(params, before))
    timed = stamps[warmup - 1:]
    dts = sorted(b - a for a, b in zip(timed, timed[1:]))
    return {"threads": threads, "batch": batch, "budget": budget, "params": k, "changed": changed, "steps": len(dts),
            "steps_per_s": len(dts) / (timed[-1] - timed[0]), "step_ms_median": dts[len(dts) // 2] * 1e3, "torch": torch.__version__}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--lr", type=float, default=0.01)
    a = ap.parse_args()
    print(json.dumps(measure(a.threads, a.batch, a.budget, a.warmup, a.steps, a.lr)))


if __name__ == "__main__":
    main()
