#!/usr/bin/python3
"""PyTorch reference for the training-throughput suite (bench/training.ts).

The zoo's LeNet-5 and ResNet-20 (src/models/lenet5.ts, src/models/resnet20.ts) written in PyTorch, trained on
the embedded Fashion-MNIST subset (data/fashion-mnist-subset, normalised as scalpel does: (p/255 - 0.286)/0.353)
in train() mode (BatchNorm on batch statistics, running statistics updated), with
torch.optim.SGD(lr, momentum=0.9, weight_decay=5e-4), the defaults of `scalpel train`. One step is

    shuffle-indexed batch x[idx], y[idx]; opt.zero_grad(set_to_none=True);
    loss = cross_entropy(model(x), y); loss.backward(); opt.step()

and the throughput is images per second over whole steps after warm-up.

Run with Debian's python3-torch (not the python3 on PATH):

    /usr/bin/python3 bench/torch_training.py --threads 1 --model resnet20 --batch 128 [--steps 20]

prints one JSON object. With --serve it reads one JSON request per line on stdin, e.g.
{"model": "lenet5", "threads": 1, "batch": 64, "warmup": 3, "steps": 20}, and answers one JSON line each
(bench/training.ts interleaves these with its own rounds). Set OMP_NUM_THREADS (and OMP_WAIT_POLICY) in the
environment: the OpenMP pool is sized when torch starts.
"""

import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUBSET = os.path.join(ROOT, "data", "fashion-mnist-subset")
MEAN, STD = 0.286, 0.353


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype == 0x08, f"{path}: not a ubyte IDX file"
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist():
    x = read_idx(os.path.join(SUBSET, "train-images-idx3-ubyte.gz")).astype(np.float32)
    y = read_idx(os.path.join(SUBSET, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    x = (x / 255.0 - MEAN) / STD
    return torch.from_numpy(x).unsqueeze(1).contiguous(), torch.from_numpy(y)


class LeNet5(nn.Module):
    """conv1 (1→6, 5×5, pad 2), ReLU, MaxPool 2, conv2 (6→16, 5×5), ReLU, MaxPool 2, fc 400→120→84→10."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet20(nn.Module):
    """conv1 3×3 1→16 + BN + ReLU, 3 stages × 3 basic blocks (16, 32, 64; stride 2 and 1×1 conv+BN shortcut at
    the start of stages 2 and 3), global average pool, fc 64→10: the zoo's resnet20 on 1×28×28."""

    def __init__(self, classes=10, width=16):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, cin = [], width
        for stage in range(3):
            cout = width << stage
            blocks = []
            for block in range(3):
                blocks.append(BasicBlock(cin, cout, 2 if stage > 0 and block == 0 else 1))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(cin, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


BUILDERS = {"lenet5": LeNet5, "resnet20": ResNet20}
_DATA = None


def data():
    global _DATA
    if _DATA is None:
        _DATA = load_fashion_mnist()
    return _DATA


def measure(name, threads, batch, warmup=3, steps=20, lr=0.05, seed=0, max_time=None):
    """Train `warmup + steps` steps from a fresh model; time the last `steps` (wall clock, whole steps).
    With max_time (seconds), stop once the timed steps have taken that long (at least 2 timed steps): a guard
    against a spinning OpenMP pool on a loaded machine taking minutes."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = BUILDERS[name]()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    x_all, y_all = data()
    n = x_all.shape[0]
    per_epoch = n // batch
    g = torch.Generator().manual_seed(seed)
    order, pos = torch.randperm(n, generator=g), 0
    stamps, losses = [], []
    for i in range(warmup + steps):
        if max_time is not None and i > warmup + 1 and stamps[-1] - stamps[warmup - 1 if warmup > 0 else 0] > max_time:
            break
        if pos >= per_epoch:
            order, pos = torch.randperm(n, generator=g), 0
        idx = order[pos * batch:(pos + 1) * batch]
        pos += 1
        x, y = x_all[idx], y_all[idx]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        stamps.append(time.perf_counter())
    timed = stamps[warmup - 1:] if warmup > 0 else stamps
    dts = sorted(b - a for a, b in zip(timed, timed[1:]))
    total = timed[-1] - timed[0]
    k = len(dts)
    median = dts[k // 2] if k % 2 else 0.5 * (dts[k // 2 - 1] + dts[k // 2])
    return {
        "model": name,
        "threads": threads,
        "batch": batch,
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "steps": k,
        "images_per_s": batch * k / total,
        "step_ms_median": median * 1e3,
        "step_ms_min": dts[0] * 1e3,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
    }


def serve():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            res = measure(req["model"], int(req["threads"]), int(req["batch"]), warmup=int(req.get("warmup", 3)),
                          steps=int(req.get("steps", 20)), lr=float(req.get("lr", 0.05)),
                          max_time=req.get("max_time"))
        except Exception as e:  # noqa: BLE001 - report any failure to the caller
            res = {"model": line, "error": repr(e)}
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default="lenet5", choices=sorted(BUILDERS))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--params", action="store_true", help="print the trainable parameter counts and exit")
    ap.add_argument("--serve", action="store_true", help="answer JSON-line requests on stdin")
    args = ap.parse_args()
    if args.params:
        print(json.dumps({k: sum(p.numel() for p in b().parameters()) for k, b in BUILDERS.items()}))
        return
    if args.serve:
        sys.stdout.write(json.dumps({"ready": True, "torch": torch.__version__}) + "\n")
        sys.stdout.flush()
        serve()
        return
    print(json.dumps({"torch": torch.__version__, **measure(args.model, args.threads, args.batch, args.warmup, args.steps)}, indent=2))


if __name__ == "__main__":
    main()
