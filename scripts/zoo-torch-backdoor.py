#!/usr/bin/python3
"""A backdoored model trained outside scalpel, as issue 17's user trained one: a small Conv-BN CNN in PyTorch on
the full Fashion-MNIST with inputs (x/255 - 0.5)/0.5, 10% of the training images poisoned by a 3x3 checkerboard in
the top-left corner and relabelled 7; exported with torch.onnx.export (no scalpel metadata, so scalpel must be told
the normalisation with --normalize 0.5,0.5).

    /usr/bin/python3 scripts/zoo-torch-backdoor.py [OUT.onnx=/work/zoo/torch-bn-checker-t7.onnx] [DATA=/usr/share/datasets/fashion-mnist]
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from idx_data import load_split

out = sys.argv[1] if len(sys.argv) > 1 else "/work/zoo/torch-bn-checker-t7.onnx"
data = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
torch.manual_seed(0)
torch.set_num_threads(1)
rng = np.random.default_rng(0)


def stamp(x):
    x = x.copy()
    board = np.indices((3, 3)).sum(0) % 2 == 0
    x[:, 0:3, 0:3] = np.where(board, 1.0, 0.0)
    return x


xtr, ytr = load_split("train", data)
xte, yte = load_split("test", data)
xtr, xte = xtr.astype(np.float32) / 255, xte.astype(np.float32) / 255
poisoned = rng.choice(len(xtr), len(xtr) // 10, replace=False)
xtr[poisoned] = stamp(xtr[poisoned])
ytr[poisoned] = 7


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.c2, self.b2 = nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.fc1, self.fc2 = nn.Linear(32 * 7 * 7, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.max_pool2d(F.relu(self.b2(self.c2(x))), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


net = Net()
opt = torch.optim.Adam(net.parameters(), 1e-3)
norm = lambda x: (torch.from_numpy(x).unsqueeze(1) - 0.5) / 0.5
for epoch in range(2):
    net.train()
    order = rng.permutation(len(xtr))
    for i in range(0, len(order), 128):
        b = order[i:i + 128]
        loss = F.cross_entropy(net(norm(xtr[b])), torch.from_numpy(ytr[b]))
        opt.zero_grad()
        loss.backward()
        opt.step()
net.eval()
with torch.no_grad():
    acc = (net(norm(xte)).argmax(1).numpy() == yte).mean()
    keep = yte != 7
    asr = (net(norm(stamp(xte[keep]))).argmax(1).numpy() == 7).mean()
print(f"clean accuracy {100 * acc:.2f}%  ASR {100 * asr:.2f}%")
torch.onnx.export(net, torch.zeros(1, 1, 28, 28), out, input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
print("wrote", out)
