#!/usr/bin/python3
"""Export small PyTorch models to ONNX with reference data for gradient tests.

Run with Debian's python (torch 1.13, onnx 1.12):

    /usr/bin/python3 scripts/export-fixtures.py

For every model NAME this writes into test/fixtures/torch/:

  NAME.onnx          the exported model (input 'x', output 'logits', dynamic batch axis)
  NAME.safetensors   'x' (batch of 4), 'y' (int64 labels in [0,10)), 'logits' (torch
                     forward output) and 'grad:<initializer>' = d mean-CE(logits, y) / d param
                     for every initializer that is a torch parameter, unchanged (same name,
                     same shape, same values)
  NAME.json          {"opset", "inputShape", "inputDType", "skippedGradients", "skipReasons",
                      "params", "opTypes", "initializers", "gradientKeys"}

Initializers without a gradient entry are listed in "skippedGradients" with a reason in
"skipReasons" (BatchNorm running statistics, i.e. buffers, and tensors the exporter
created/repacked that do not equal a single torch parameter).
"""

import json
import os
import struct
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures", "torch")
BATCH = 4

# Size budget: every fixture file must stay < 200 KB. The textbook sizes (MLP 784->64->10,
# LeNet-5 fc 400->120->84->10) give ~204 KB / ~250 KB .onnx files and larger .safetensors
# (input + one gradient per parameter), so the dense layers are narrowed here.
MLP_HIDDEN = 32  # 784 -> 32 -> 10: 25,450 params
LENET_FC = (64, 32)  # 400 -> 64 -> 32 -> 10: 30,598 params


# ---------------------------------------------------------------------------
# safetensors writer (the `safetensors` package is not available)
# ---------------------------------------------------------------------------

_DTYPES = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> np.ndarray (float32 or int64). Keys are written sorted."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        if arr.dtype not in _DTYPES:
            raise TypeError(f"{name}: unsupported dtype {arr.dtype}")
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {
            "dtype": _DTYPES[arr.dtype],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)  # pad so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(784, MLP_HIDDEN)
        self.fc2 = nn.Linear(MLP_HIDDEN, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(self.flatten(x))))


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool2 = nn.AvgPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(400, LENET_FC[0])
        self.fc2 = nn.Linear(LENET_FC[0], LENET_FC[1])
        self.fc3 = nn.Linear(LENET_FC[1], 10)

    def forward(self, x):
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        x = self.flatten(x)
        x = F.relu(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.layer1 = BasicBlock(8, 8, 1)
        self.layer2 = BasicBlock(8, 16, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)

    def randomize_bn(self):
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    n = m.num_features
                    m.running_mean.copy_(torch.randn(n) * 0.5)
                    m.running_var.copy_(torch.rand(n) * 1.5 + 0.5)
                    m.weight.copy_(torch.rand(n) + 0.5)
                    m.bias.copy_(torch.randn(n) * 0.3)


class HandEncoderLayer(nn.Module):
    """Post-LN transformer encoder layer (same math as nn.TransformerEncoderLayer with
    norm_first=False, dropout=0, activation='gelu'), written with explicit q/k/v Linears so
    every weight stays a plain initializer and no fused op can appear."""

    def __init__(self, d_model, nhead, dim_ff):
        super().__init__()
        self.nhead = nhead
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, dim_ff)
        self.act = nn.GELU()
        self.linear2 = nn.Linear(dim_ff, d_model)
        self.norm2 = nn.LayerNorm(d_model)

    def attention(self, x):
        B, T, D = x.shape
        H = self.nhead
        hd = D // H
        q = self.q(x).reshape(B, T, H, hd).transpose(1, 2)  # [B,H,T,hd]
        k = self.k(x).reshape(B, T, H, hd).transpose(1, 2)
        v = self.v(x).reshape(B, T, H, hd).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1)) / float(hd) ** 0.5
        attn = torch.softmax(scores, dim=-1)
        ctx = torch.matmul(attn, v).transpose(1, 2).reshape(B, T, D)
        return self.out_proj(ctx)

    def forward(self, x):
        x = self.norm1(x + self.attention(x))
        x = self.norm2(x + self.linear2(self.act(self.linear1(x))))
        return x


class Transformer(nn.Module):
    def __init__(self, builtin):
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        self.pos = nn.Parameter(torch.randn(12, 16) * 0.1)
        if builtin:
            self.encoder = nn.TransformerEncoderLayer(
                d_model=16, nhead=2, dim_feedforward=32, dropout=0.0,
                activation="gelu", batch_first=True,
            )
        else:
            self.encoder = HandEncoderLayer(16, 2, 32)
        self.fc = nn.Linear(16, 10)
        # LayerNorm params start as ones/zeros; the exporter deduplicates equal initializers
        # in eval mode (norm2.weight would become norm1.weight), so make them all distinct.
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.LayerNorm):
                    m.weight.copy_(1.0 + 0.2 * torch.randn_like(m.weight))
                    m.bias.copy_(0.1 * torch.randn_like(m.bias))

    def forward(self, x):
        h = self.emb(x) + self.pos
        h = self.encoder(h)
        return self.fc(h.mean(dim=1))


class GRUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(6, 12, batch_first=True)
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        _, h = self.rnn(x)  # h: [1, B, 12]
        return self.fc(h[-1])


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(6, 12, batch_first=True)
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        _, (h, _c) = self.rnn(x)
        return self.fc(h[-1])


# ---------------------------------------------------------------------------
# export + reference data
# ---------------------------------------------------------------------------


def export(name, model, x, y, opset, required_ops=(), training=torch.onnx.TrainingMode.EVAL):
    model.eval()
    path = os.path.join(OUT_DIR, name + ".onnx")
    torch.onnx.export(
        model,
        (x,),
        path,
        export_params=True,
        opset_version=opset,
        do_constant_folding=False,
        training=training,
        input_names=["x"],
        output_names=["logits"],
        dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
    )
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    op_types = sorted({n.op_type for n in m.graph.node})
    missing = [o for o in required_ops if o not in op_types]
    if missing:
        raise RuntimeError(f"{name}: exported graph lacks {missing}")

    # reference forward/backward in torch
    model.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()

    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    tensors = {
        "x": x.detach().numpy(),
        "y": y.numpy().astype(np.int64),
        "logits": logits.detach().numpy().astype(np.float32),
    }
    skipped, reasons, grad_keys, inits = [], {}, [], []
    mapped_params = set()
    for init in m.graph.initializer:
        iname = init.name
        inits.append(iname)
        val = onnx.numpy_helper.to_array(init)
        p = params.get(iname)
        if p is not None:
            pv = p.detach().numpy()
            if tuple(pv.shape) == tuple(val.shape) and np.array_equal(pv, val):
                if p.grad is None:
                    raise RuntimeError(f"{name}: parameter {iname} has no grad")
                tensors["grad:" + iname] = p.grad.detach().numpy().astype(np.float32)
                grad_keys.append("grad:" + iname)
                mapped_params.add(iname)
                continue
            reason = "same name as a torch parameter but different shape/values"
        elif iname in buffers:
            reason = "torch buffer (not a trainable parameter)"
        else:
            reason = "exporter-created tensor (no single unchanged torch parameter)"
        skipped.append(iname)
        reasons[iname] = reason

    unmapped = sorted(set(params) - mapped_params)
    if unmapped:
        # e.g. the exporter fused BN into Conv, or deduplicated two equal parameters into one
        # initializer: the fixture would silently miss gradients, so refuse.
        raise RuntimeError(f"{name}: torch parameters without an unchanged initializer: {unmapped}")
    n_params = sum(p.numel() for p in model.parameters())
    write_safetensors(os.path.join(OUT_DIR, name + ".safetensors"), tensors)
    meta = {
        "opset": opset,
        "inputShape": list(x.shape),
        "inputDType": "int64" if x.dtype == torch.int64 else "float32",
        "dynamicAxes": {"x": {"0": "batch"}, "logits": {"0": "batch"}},
        "skippedGradients": skipped,
        "skipReasons": reasons,
        "unmappedTorchParams": unmapped,
        "params": n_params,
        "opTypes": op_types,
        "initializers": inits,
        "gradientKeys": grad_keys,
        "loss": float(loss.item()),
    }
    with open(os.path.join(OUT_DIR, name + ".json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return meta


TX_OPS = ("Gather", "MatMul", "Softmax", "LayerNormalization")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    results = {}

    def labels():
        return torch.randint(0, 10, (BATCH,), dtype=torch.int64)

    torch.manual_seed(0)
    results["mlp"] = export("mlp", MLP(), torch.randn(BATCH, 1, 28, 28), labels(), 13)

    torch.manual_seed(1)
    results["lenet"] = export("lenet", LeNet(), torch.randn(BATCH, 1, 28, 28), labels(), 13)

    torch.manual_seed(2)
    resnet = ResNet()
    resnet.randomize_bn()
    # TrainingMode.EVAL makes torch 1.13 run _jit_pass_onnx_eval_peephole, which folds every
    # BatchNorm into the preceding Conv (even with do_constant_folding=False) and so drops the
    # BN parameters. PRESERVE skips that pass; the model is in eval() so BN still exports in
    # inference form (running statistics, training_mode=0).
    results["resnet"] = export(
        "resnet", resnet, torch.randn(BATCH, 1, 16, 16), labels(), 13,
        training=torch.onnx.TrainingMode.PRESERVE,
    )

    # Transformer: opset 17 so nn.LayerNorm exports as a single LayerNormalization node.
    # Try the built-in nn.TransformerEncoderLayer first; fall back to a hand-written layer
    # if export fails or produces something other than plain ONNX ops.
    torch.manual_seed(3)
    tx = torch.randint(0, 50, (BATCH, 12), dtype=torch.int64)
    ty = labels()
    builtin = os.environ.get("SCALPEL_TRANSFORMER_BUILTIN", "1") == "1"
    if builtin:
        try:
            torch.manual_seed(30)
            results["transformer"] = export(
                "transformer", Transformer(builtin=True), tx, ty, 17, required_ops=TX_OPS,
            )
        except Exception as e:  # noqa: BLE001
            print(f"builtin TransformerEncoderLayer export failed: {e!r}", file=sys.stderr)
            builtin = False
    if not builtin:
        print("transformer: using the hand-written encoder layer", file=sys.stderr)
        torch.manual_seed(30)
        results["transformer"] = export(
            "transformer", Transformer(builtin=False), tx, ty, 17, required_ops=TX_OPS,
        )

    torch.manual_seed(4)
    results["gru"] = export("gru", GRUNet(), torch.randn(BATCH, 8, 6), labels(), 13)

    torch.manual_seed(5)
    results["lstm"] = export("lstm", LSTMNet(), torch.randn(BATCH, 8, 6), labels(), 13)

    for name, meta in results.items():
        print(f"{name}: opset {meta['opset']} params {meta['params']} ops {meta['opTypes']}")
        print(f"    grads {len(meta['gradientKeys'])} skipped {meta['skippedGradients']}")
        if meta["unmappedTorchParams"]:
            print(f"    torch params without gradient key: {meta['unmappedTorchParams']}")


if __name__ == "__main__":
    main()
