#!/usr/bin/python3
"""Neural Cleanse's trigger reconstruction in PyTorch, the same procedure as scalpel's src/backdoor/neural-cleanse.ts,
for bench/reconstruct.ts: LeNet-5 (src/models/lenet5.ts) with the weights of an ONNX model, passed in an .npz with the
defender's raw pixels.

    /usr/bin/python3 bench/torch_reconstruct.py DATA.npz --threads 1 [--steps 1000] [--batch 64] [--fixed-steps N]

Per label: m = tanh(θm)/2 + 1/2, p = tanh(θp)/2 + 1/2, x' = x + m(p − x), normalised; CE(M(x'), t) + c·‖m‖₁ with
Adam(lr 0.1, β = (0.5, 0.9)); c = 1e-3 once a batch reaches t at 99%, ×2 after 5 successful steps, ÷2^1.5 after 5
failing ones; best = smallest ‖m‖₁ among successful steps; stop after 25 steps without a 1% smaller best.
With --fixed-steps N, label 0 only, exactly N steps (no early stop), to time a step.
Prints one JSON object.
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F


def lenet(w, x):
    x = F.max_pool2d(F.relu(F.conv2d(x, w["conv1.weight"], w["conv1.bias"], padding=2)), 2)
    x = F.max_pool2d(F.relu(F.conv2d(x, w["conv2.weight"], w["conv2.bias"])), 2)
    x = torch.flatten(x, 1)
    x = F.relu(F.linear(x, w["fc1.weight"], w["fc1.bias"]))
    x = F.relu(F.linear(x, w["fc2.weight"], w["fc2.bias"]))
    return F.linear(x, w["fc3.weight"], w["fc3.bias"])


def reconstruct_label(w, pixels, mean, std, label, steps, batch, gen, early=25, fixed=False):
    n, c, h, wd = pixels.shape
    atanh = lambda v: torch.atanh((v - 0.5) * 2 * (1 - 1e-6))
    tm = atanh(torch.rand(h, wd, generator=gen)).requires_grad_(True)
    tp = atanh(torch.rand(c, h, wd, generator=gen)).requires_grad_(True)
    opt = torch.optim.Adam([tm, tp], lr=0.1, betas=(0.5, 0.9))
    target = torch.full((batch,), label, dtype=torch.long)
    cost, cost_set, up, down = 0.0, False, 0, 0
    best, early_ref, since = None, float("inf"), 0
    order, pos, step = torch.randperm(n, generator=gen), 0, 0
    while step < steps:
        if pos + batch > n:
            order, pos = torch.randperm(n, generator=gen), 0
        x = pixels[order[pos:pos + batch]]
        pos += batch
        m = torch.tanh(tm) / 2 + 0.5
        p = torch.tanh(tp) / 2 + 0.5
        logits = lenet(w, (x + m * (p - x) - mean) / std)
        l1 = m.sum()
        loss = F.cross_entropy(logits, target) + cost * l1
        opt.zero_grad(set_to_none=True)
        loss.backward()
        step += 1
        success = (logits.argmax(1) == label).float().mean().item()
        l1v = l1.item()
        ok = success >= 0.99
        if ok and (best is None or l1v < best):
            best = l1v
        if cost_set and not fixed:
            if best is not None and best < early_ref * 0.99:
                early_ref, since = best, 0
            else:
                since += 1
                if since >= early and best is not None:
                    break
        if cost_set:
            up, down = (up + 1, 0) if ok else (0, down + 1)
            if up >= 5:
                cost, up = cost * 2, 0
            elif down >= 5:
                cost, down = cost / 2 ** 1.5, 0
        elif ok:
            cost, cost_set = 1e-3, True
        opt.step()
    return {"label": label, "l1": best if best is not None else l1v, "success": best is not None, "steps": step}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--fixed-steps", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    z = np.load(a.data)
    w = {k: torch.from_numpy(z[k]) for k in z.files if k.startswith(("conv", "fc"))}
    pixels = torch.from_numpy(z["pixels"])
    mean, std = float(z["mean"]), float(z["std"])
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    if a.fixed_steps:
        r = [reconstruct_label(w, pixels, mean, std, 0, a.fixed_steps, a.batch, gen, fixed=True)]
    else:
        r = [reconstruct_label(w, pixels, mean, std, t, a.steps, a.batch, gen) for t in range(10)]
    seconds = time.perf_counter() - t0
    print(json.dumps({"torch": torch.__version__, "threads": a.threads, "seconds": seconds, "steps": sum(x["steps"] for x in r), "labels": r}))


if __name__ == "__main__":
    main()
