#!/usr/bin/python3
"""Export the models a new user brings (issue 12) as committed test fixtures.

Run with Debian's python (torch 1.13; the onnx package is not needed):

    /usr/bin/python3 scripts/export-user-fixtures.py

Writes into test/fixtures/user/:

  pixels01-static.onnx   a small CNN (Conv, BatchNorm folded by the eval-mode export, MaxPool, Linear)
                         trained briefly on the embedded Fashion-MNIST subset with pixels in [0, 1] (no
                         normalisation), exported as torch.onnx.export does by default: fixed batch 32,
                         opset 13, constant folding on
  pixels01-dynamic.onnx  the same model with a dynamic batch axis
  pixels01-opset11.onnx  the same model at opset 11 (fixed batch 32)
  pixels01-opset12.onnx  the same model at opset 12 (dynamic batch)
  reshape-static.onnx    the same model reshaping to a literal [32, -1] (x.reshape(32, -1)): scalpel frees the
                         batch by writing 0 ("copy the input's dim") for the 32
  merged-static.onnx     the same model merging batch and channels in a Reshape to a literal [128, 144]: the
                         batch dimension cannot be made symbolic
  ops-opset11.onnx       a small model at opset 11 that uses the ops whose form changed at opset 13
                         (Squeeze, Unsqueeze, ReduceSum, ReduceMean, Split, Softmax on a 3-D tensor)
  layernorm-opset11.onnx a LayerNorm model at opset 11 (LayerNorm decomposed into ReduceMean/Pow/Sqrt/Div)
  user.json              torch's results on the embedded subset's test split with pixels in [0, 1]:
                         correct count, accuracy, mean cross-entropy; and reference logits for the
                         opset fixtures on fixed inputs
"""

import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from idx_data import load_split

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "user")


def load(split):
    x, y = load_split(split)
    return torch.from_numpy(x.astype(np.float32)[:, None] / 255.0), torch.from_numpy(y)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5)
        self.bn = nn.BatchNorm2d(4)
        self.fc1 = nn.Linear(4 * 12 * 12, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


class ReshapeCNN(SmallCNN):
    """Reshapes to a literal batch size, as hand-written code sometimes does."""

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        x = x.reshape(32, -1)
        return self.fc2(F.relu(self.fc1(x)))


class MergedCNN(SmallCNN):
    """Merges batch and channels in one Reshape (to a literal [32 * 4, 144]): no symbolic batch can replace that."""

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        x = x.reshape(32 * 4, 144) * 1.0
        x = x.reshape(32, -1)
        return self.fc2(F.relu(self.fc1(x)))


class OpsNet(nn.Module):
    """Every op whose attributes became inputs at opset 13, on a [B, 4, 6] input."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.out = nn.Linear(5, 10)

    def forward(self, x):
        h = self.fc(x)                                   # [B, 4, 6]
        a, b = torch.split(h, [2, 2], dim=1)             # Split (split attribute at opset 11)
        s = (a * b).sum(dim=1, keepdim=True)             # ReduceSum (axes attribute at opset 11)
        s = s.squeeze(1)                                 # Squeeze [B, 6]
        m = h.mean(dim=2)                                # ReduceMean [B, 4]
        m = m.unsqueeze(2)                               # Unsqueeze [B, 4, 1]
        p = torch.softmax(h, dim=2)                      # Softmax on 3-D (coerced 2-D at opset 11)
        z = (p * m).amax(dim=1)                          # ReduceMax [B, 6]
        return self.out(torch.cat([s, z], dim=1)[:, :5])


class LNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 8)
        self.ln = nn.LayerNorm(8)
        self.out = nn.Linear(8, 10)
        with torch.no_grad():
            self.ln.weight.copy_(1.0 + 0.2 * torch.randn(8))
            self.ln.bias.copy_(0.1 * torch.randn(8))

    def forward(self, x):
        return self.out(self.ln(self.fc(x)))


def export(model, x, name, opset, dynamic):
    path = os.path.join(OUT, name)
    kwargs = {}
    if dynamic:
        kwargs["dynamic_axes"] = {"x": {0: "batch"}, "logits": {0: "batch"}}
    torch.onnx.export(model, (x,), path, opset_version=opset, input_names=["x"], output_names=["logits"], **kwargs)
    print(name, os.path.getsize(path), "bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    xtr, ytr = load("train")
    xte, yte = load("test")
    model = SmallCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(3):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 32):
            j = perm[i:i + 32]
            opt.zero_grad()
            F.cross_entropy(model(xtr[j]), ytr[j]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(xte)
        loss = F.cross_entropy(logits, yte).item()
        correct = int((logits.argmax(1) == yte).sum())
    meta = {"pixels01": {"testExamples": len(yte), "correct": correct, "accuracy": correct / len(yte), "loss": loss,
                         "data": "data/fashion-mnist-subset test split, pixels / 255, no normalisation"}}

    x32 = xte[:32]
    export(model, x32, "pixels01-static.onnx", 13, False)
    export(model, x32, "pixels01-dynamic.onnx", 13, True)
    export(model, x32, "pixels01-opset11.onnx", 11, False)
    export(model, x32, "pixels01-opset12.onnx", 12, True)

    torch.manual_seed(1)
    rs = ReshapeCNN()
    rs.load_state_dict(model.state_dict())
    rs.eval()
    export(rs, x32, "reshape-static.onnx", 13, False)
    mg = MergedCNN()
    mg.load_state_dict(model.state_dict())
    mg.eval()
    export(mg, x32, "merged-static.onnx", 13, False)

    torch.manual_seed(2)
    ops = OpsNet().eval()
    xo = torch.randn(3, 4, 6)
    export(ops, xo, "ops-opset11.onnx", 11, True)
    torch.manual_seed(3)
    ln = LNNet().eval()
    xl = torch.randn(3, 6)
    export(ln, xl, "layernorm-opset11.onnx", 11, True)
    export(ln, xl, "layernorm-opset13.onnx", 13, True)
    with torch.no_grad():
        meta["ops-opset11"] = {"x": xo.flatten().tolist(), "shape": list(xo.shape), "logits": ops(xo).flatten().tolist()}
        meta["layernorm-opset11"] = {"x": xl.flatten().tolist(), "shape": list(xl.shape), "logits": ln(xl).flatten().tolist()}
    with open(os.path.join(OUT, "user.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(json.dumps(meta["pixels01"]))


if __name__ == "__main__":
    main()
