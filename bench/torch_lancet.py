#!/usr/bin/python3
"""PyTorch reference for the AI-Lancet locate benchmark (bench/lancet.ts).

The same steps as scalpel's locate on the shipped LeNet-5, pair by pair, for each layer: the layer's output f for
x and x' (one batch of two), g = |dCE(M(x), y)/df| with create_graph=True, EIf = df * (g / max g + 0.5),
IV = |d||EIf||_2 / dW| (a second-order gradient), weights ranked by IV (ties by index), then the coarse-to-fine
ablation search (ratios d*10^e, d = 1..9, e = -6..-1, then 1; then tenths of the last step) with no_grad forwards
of x alone; counts summed over the pairs. Reads the parameters and the pairs from the .npz that bench/lancet.ts
writes, prints one JSON object.

    OMP_NUM_THREADS=1 /usr/bin/python3 bench/torch_lancet.py --npz /tmp/lancet-pairs.npz --threads 1
"""

import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

LAYERS = ["conv1", "conv2", "fc1", "fc2", "fc3"]


def forward(p, x, cap):
    f = None
    h = F.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=2)
    if cap == "conv1":
        f = h
    h = F.max_pool2d(F.relu(h), 2)
    h = F.conv2d(h, p["conv2.weight"], p["conv2.bias"])
    if cap == "conv2":
        f = h
    h = torch.flatten(F.max_pool2d(F.relu(h), 2), 1)
    h = F.linear(h, p["fc1.weight"], p["fc1.bias"])
    if cap == "fc1":
        f = h
    h = F.linear(F.relu(h), p["fc2.weight"], p["fc2.bias"])
    if cap == "fc2":
        f = h
    z = F.linear(F.relu(h), p["fc3.weight"], p["fc3.bias"])
    if cap == "fc3":
        f = z
    return f, z


def grid():
    out = []
    for e in range(-6, 0):
        for d in range(1, 10):
            out.append(d * 10.0 ** e)
    out.append(1.0)
    return out


def count_of(r, size):
    return min(size, max(1, math.ceil(r * size - 1e-9)))


def search(size, fixes):
    memo = {}

    def test(n):
        if n not in memo:
            memo[n] = fixes(n)
        return memo[n]

    prev, prev_r = 0, 0.0
    for r in grid():
        n = count_of(r, size)
        if n <= prev:
            continue
        if not test(n):
            prev, prev_r = n, r
            continue
        step = (r - prev_r) / 10
        rr = prev_r + step
        while rr < r - step / 2:
            m = count_of(rr, size)
            if prev < m < n and test(m):
                return m, len(memo)
            rr += step
        return n, len(memo)
    return 0, len(memo)


def locate_layer(p, layer, xs, cs, labels, wrongs):
    key = layer + ".weight"
    w0 = p[key].detach()
    size = w0.numel()
    counts = np.zeros(size, dtype=np.int64)
    fixed = 0
    evals = 0
    for k in range(xs.shape[0]):
        W = w0.clone().requires_grad_(True)
        q = dict(p)
        q[key] = W
        pair = torch.stack([xs[k], cs[k]])
        f, z = forward(q, pair, layer)
        ce = F.cross_entropy(z[0:1], labels[k:k + 1])
        (gf,) = torch.autograd.grad(ce, f, create_graph=True)
        g = gf[0].abs()
        eif = (f[0] - f[1]) * (g / g.max().clamp_min(1e-30) + 0.5)
        norm = eif.pow(2).sum().sqrt()
        (gw,) = torch.autograd.grad(norm, W)
        iv = gw.abs().flatten().numpy()
        order = np.lexsort((np.arange(size), -iv))
        x1 = xs[k:k + 1]
        wrong = int(wrongs[k])

        def fixes(n):
            wz = w0.flatten().clone()
            wz[torch.from_numpy(order[:n])] = 0
            q2 = dict(p)
            q2[key] = wz.view_as(w0)
            with torch.no_grad():
                _, zz = forward(q2, x1, None)
            return int(zz.argmax(1)[0]) != wrong

        n, e = search(size, fixes)
        evals += e
        if n > 0:
            fixed += 1
            counts[order[:n]] += 1
    top = np.lexsort((np.arange(size), -counts))[:10]
    return {"layer": layer, "fixed": fixed, "located": int((counts > 0).sum()), "evaluations": evals,
            "top": [[int(i), int(counts[i])] for i in top if counts[i] > 0]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--npz", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layers", default=",".join(LAYERS))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    d = np.load(a.npz)
    p = {k: torch.from_numpy(d[k]) for k in d.files if k.endswith(".weight") or k.endswith(".bias")}
    xs = torch.from_numpy(d["x"])
    cs = torch.from_numpy(d["clean"])
    labels = torch.from_numpy(d["label"])
    wrongs = torch.from_numpy(d["wrong"])
    out = {"torch": torch.__version__, "threads": a.threads, "pairs": int(xs.shape[0]), "layers": []}
    t_all = time.perf_counter()
    for layer in a.layers.split(","):
        t = time.perf_counter()
        r = locate_layer(p, layer, xs, cs, labels, wrongs)
        r["seconds"] = time.perf_counter() - t
        out["layers"].append(r)
    out["seconds"] = time.perf_counter() - t_all
    print(json.dumps(out))


if __name__ == "__main__":
    main()
