#!/usr/bin/python3
"""Export the matrix of users' models that test/conformance.test.ts runs every command against (issue 16).

Run with Debian's python (torch 1.13; the onnx package is not needed):

    /usr/bin/python3 scripts/export-conformance-fixtures.py

Each model is trained briefly in PyTorch on the embedded Fashion-MNIST subset (data/fashion-mnist-subset) and
exported as a user would export it. Writes into test/fixtures/conformance/:

  merged-batch32.onnx   a Conv-BN CNN exported with a fixed batch of 32 whose graph merges batch and channels in a
                        Reshape (to a literal [128, 144]): the batch cannot be made symbolic. Trained on
                        Fashion-MNIST's normalisation (pixel/255 - 0.286) / 0.353
  opset11.onnx          the Conv-BN CNN exported at opset 11 (torch's default fixed batch of 32), trained on
                        MNIST's constants (pixel/255 - 0.1307) / 0.3081, as users often copy them
  named-io.onnx         the Conv-BN CNN with input 'pixel_values' and output 'scores' (dynamic batch 'batch_size'),
                        trained on Fashion-MNIST's normalisation
  pixels01.onnx         the Conv-BN CNN trained on [0, 1] pixels (pixel/255, no normalisation), dynamic batch
  custom-norm.onnx      the Conv-BN CNN trained on (pixel/255 - 0.5) / 0.5, dynamic batch
  rgb32.onnx            a 3-channel 32x32 Conv-BN CNN trained on rgb32-data/ with per-channel normalisation
                        means 0.28/0.29/0.3, stds 0.35/0.36/0.37, dynamic batch
  rgb32-data/           train.npz and test.npz (np.savez_compressed): uint8 x [N, 3, 32, 32] (the subset's images
                        replicated to 3 channels and zero-padded by 2 on each side) and int64 y [N]; the first 1000
                        training and the first 500 test images of the subset
  autoencoder.onnx      a non-classifier: [b, 1, 28, 28] -> [b, 784] reconstruction
  regression.onnx       a non-classifier: [b, 1, 28, 28] -> [b] (the image's mean brightness)
  conformance.json      for each classifier: the --normalize a user would pass, the --data, and PyTorch's results on
                        the test split under that normalisation: correct count, accuracy, mean cross-entropy, and
                        per-example correctness and loss (so a test can compare any prefix of the split)
"""

import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from idx_data import load_split

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "conformance")
RGB_TRAIN, RGB_TEST = 1000, 500


def load_uint8(split):
    x, y = load_split(split)
    return x[:, None], y


def to_rgb32(x):
    """[N, 1, 28, 28] uint8 -> [N, 3, 32, 32] uint8: replicated channels, zero padding of 2 on each side."""
    return np.ascontiguousarray(np.pad(np.repeat(x, 3, axis=1), ((0, 0), (0, 0), (2, 2), (2, 2))))


def normalise(x_uint8, mean, std):
    x = torch.from_numpy(x_uint8.astype(np.float32) / 255.0)
    c = x.shape[1]
    m = torch.tensor(mean if isinstance(mean, list) else [mean] * c, dtype=torch.float32).view(1, c, 1, 1)
    s = torch.tensor(std if isinstance(std, list) else [std] * c, dtype=torch.float32).view(1, c, 1, 1)
    return (x - m) / s


class SmallCNN(nn.Module):
    def __init__(self, channels=1, side=28):
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 5)
        self.bn = nn.BatchNorm2d(4)
        self.flat = 4 * ((side - 4) // 2) ** 2
        self.fc1 = nn.Linear(self.flat, 16)
        self.fc2 = nn.Linear(16, 10)

    def features(self, x):
        return F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(torch.flatten(self.features(x), 1))))


class MergedCNN(SmallCNN):
    """Merges batch and channels in one Reshape (to a literal [32 * 4, 144]): no symbolic batch can replace that."""

    def forward(self, x):
        h = self.features(x).reshape(32 * 4, 144) * 1.0
        return self.fc2(F.relu(self.fc1(h.reshape(32, -1))))


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(784, 32)
        self.dec = nn.Linear(32, 784)

    def forward(self, x):
        return torch.sigmoid(self.dec(F.relu(self.enc(torch.flatten(x, 1)))))


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 5, stride=2)
        self.fc = nn.Linear(2 * 12 * 12, 1)

    def forward(self, x):
        return self.fc(torch.flatten(F.relu(self.conv(x)), 1)).squeeze(1)


def train(model, x, y, loss_fn, epochs=2, batch=32, lr=0.05, drop_last=False):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), batch):
            j = perm[i:i + batch]
            if drop_last and len(j) < batch:
                continue
            opt.zero_grad()
            loss_fn(model(x[j]), y[j]).backward()
            opt.step()
    model.eval()
    return model


def export(model, x, name, opset=13, dynamic=False, input_name="x", output_name="logits"):
    path = os.path.join(OUT, name)
    kwargs = {}
    if dynamic:
        kwargs["dynamic_axes"] = {input_name: {0: "batch_size"}, output_name: {0: "batch_size"}}
    torch.onnx.export(model, (x,), path, opset_version=opset, input_names=[input_name], output_names=[output_name], **kwargs)
    print(name, os.path.getsize(path), "bytes")


def results(model, x, y, fixed_batch=None):
    """PyTorch's results on (x, y): per-example correctness and cross-entropy, their totals."""
    with torch.no_grad():
        logits = model(x) if fixed_batch is None else torch.cat(
            [model(torch.cat([x[i:i + fixed_batch], x[:fixed_batch]])[:fixed_batch])[: len(x[i:i + fixed_batch])]
             for i in range(0, len(x), fixed_batch)])
        losses = F.cross_entropy(logits, y, reduction="none")
        ok = logits.argmax(1) == y
    return {"testExamples": len(y), "correct": int(ok.sum()), "accuracy": float(ok.float().mean()),
            "loss": float(losses.double().mean()), "perExampleCorrect": "".join("1" if v else "0" for v in ok.tolist()),
            "perExampleLoss": [float(f"{v:.7g}") for v in losses.tolist()]}


def classifier(meta, name, model, xtr8, ytr, xte8, yte, mean, std, flag, data, **export_kwargs):
    xtr, xte = normalise(xtr8, mean, std), normalise(xte8, mean, std)
    fixed = export_kwargs.pop("fixed_batch", None)
    train(model, xtr, torch.from_numpy(ytr), F.cross_entropy, drop_last=fixed is not None)
    export(model, xte[:32], f"{name}.onnx", **export_kwargs)
    r = results(model, xte, torch.from_numpy(yte), fixed)
    meta[name] = {"file": f"{name}.onnx", "normalize": flag, "data": data, **r}
    print(name, r["correct"], r["loss"])


def main():
    os.makedirs(OUT, exist_ok=True)
    xtr8, ytr = load_uint8("train")
    xte8, yte = load_uint8("test")
    meta = {"_about": "PyTorch 1.13 results on each classifier's test split under the normalisation it was trained "
                      "with (scripts/export-conformance-fixtures.py)"}
    fm = (0.286, 0.353)

    torch.manual_seed(0)
    classifier(meta, "merged-batch32", MergedCNN(), xtr8, ytr, xte8, yte, *fm, "0.286,0.353", "embedded", fixed_batch=32)
    torch.manual_seed(1)
    classifier(meta, "opset11", SmallCNN(), xtr8, ytr, xte8, yte, 0.1307, 0.3081, "0.1307,0.3081", "embedded", opset=11)
    torch.manual_seed(2)
    classifier(meta, "named-io", SmallCNN(), xtr8, ytr, xte8, yte, *fm, "0.286,0.353", "embedded", dynamic=True,
               input_name="pixel_values", output_name="scores")
    torch.manual_seed(3)
    classifier(meta, "pixels01", SmallCNN(), xtr8, ytr, xte8, yte, 0.0, 1.0, "none", "embedded", dynamic=True)
    torch.manual_seed(4)
    classifier(meta, "custom-norm", SmallCNN(), xtr8, ytr, xte8, yte, 0.5, 0.5, "0.5,0.5", "embedded", dynamic=True)

    rgb_dir = os.path.join(OUT, "rgb32-data")
    os.makedirs(rgb_dir, exist_ok=True)
    rtr8, rte8 = to_rgb32(xtr8[:RGB_TRAIN]), to_rgb32(xte8[:RGB_TEST])
    rytr, ryte = ytr[:RGB_TRAIN].copy(), yte[:RGB_TEST].copy()
    np.savez_compressed(os.path.join(rgb_dir, "train.npz"), x=rtr8, y=rytr)
    np.savez_compressed(os.path.join(rgb_dir, "test.npz"), x=rte8, y=ryte)
    torch.manual_seed(5)
    rmean, rstd = [0.28, 0.29, 0.3], [0.35, 0.36, 0.37]
    classifier(meta, "rgb32", SmallCNN(3, 32), rtr8, rytr, rte8, ryte, rmean, rstd, "0.28/0.29/0.3,0.35/0.36/0.37",
               "test/fixtures/conformance/rgb32-data", dynamic=True)

    xtr = normalise(xtr8, 0.0, 1.0)
    torch.manual_seed(6)
    ae = train(AutoEncoder(), xtr, torch.flatten(xtr, 1), F.mse_loss, epochs=1)
    export(ae, xtr[:32], "autoencoder.onnx", dynamic=True, output_name="reconstruction")
    torch.manual_seed(7)
    reg = train(Regressor(), xtr, xtr.mean(dim=(1, 2, 3)), F.mse_loss, epochs=1, lr=0.01)
    export(reg, xtr[:32], "regression.onnx", dynamic=True, output_name="brightness")
    meta["autoencoder"] = {"file": "autoencoder.onnx", "output": [None, 784]}
    meta["regression"] = {"file": "regression.onnx", "output": [None]}

    with open(os.path.join(OUT, "conformance.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
