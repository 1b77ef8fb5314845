#!/usr/bin/python3
"""PyTorch side of the text benchmark (bench/text.ts): two text models at the sizes people train them.

  lstm-lm          a word-level LSTM language model at PTB's "small" size (Zaremba et al. 2014): vocabulary 10,000,
                   embedding and 2 LSTM layers of 200, untied decoder; batch 20 x 35 tokens
  transformer-cls  a Transformer encoder classifier with BERT's vocabulary size (30,522), width 128, 4 heads, FF 512,
                   2 layers, mean over the unmasked tokens; batch 32 x 64 tokens, a quarter of them padding

    /usr/bin/python3 bench/torch_text.py --export DIR     # write NAME.onnx and NAME.batch.safetensors for both
    /usr/bin/python3 bench/torch_text.py --serve DIR      # answer JSON-line timing requests {"model", "threads", ...}

The models are built from a fixed seed, so the served model has the exported weights; a training step is
zero_grad(set_to_none=True), the mean cross-entropy (per token for the language model), backward. A request's
"clock": "cpu" times the process's CPU time (time.process_time, all threads) instead of wall time.
"""

import argparse
import importlib.util
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("etf", os.path.join(ROOT, "scripts", "export-text-fixtures.py"))
ETF = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ETF)

SIZES = {
    "lstm-lm": {"vocab": 10000, "width": 200, "layers": 2, "batch": 20, "seq": 35},
    "transformer-cls": {"vocab": 30522, "width": 128, "heads": 4, "ff": 512, "layers": 2, "classes": 8, "batch": 32, "seq": 64},
}


class LstmLM(nn.Module):
    def __init__(self, vocab, width, layers):
        super().__init__()
        self.emb = nn.Embedding(vocab, width)
        self.rnn = nn.LSTM(width, width, num_layers=layers, batch_first=True)
        self.decoder = nn.Linear(width, vocab)

    def forward(self, input_ids):
        h, _ = self.rnn(self.emb(input_ids))
        return self.decoder(h)


class TransformerClassifier(nn.Module):
    def __init__(self, vocab, classes, width, heads, ff, layers, max_len=512):
        super().__init__()
        self.emb = nn.Embedding(vocab, width)
        self.pos = nn.Parameter(torch.randn(max_len, width) * 0.02)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(width, heads, ff, dropout=0.0, activation="gelu", batch_first=True) for _ in range(layers))
        self.fc = nn.Linear(width, classes)

    def forward(self, input_ids, attention_mask):
        h = self.emb(input_ids) + self.pos[: input_ids.shape[1]]
        pad = attention_mask == 0
        for layer in self.layers:
            h = layer(h, src_key_padding_mask=pad)
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        return self.fc((h * m).sum(1) / m.sum(1))


def build(name):
    torch.manual_seed(0)
    s = SIZES[name]
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, s["vocab"], (s["batch"], s["seq"]), generator=g)
    if name == "lstm-lm":
        model = LstmLM(s["vocab"], s["width"], s["layers"])
        batch = {"input_ids": ids, "y": torch.randint(0, s["vocab"], (s["batch"], s["seq"]), generator=g)}
        inputs = ["input_ids"]
    else:
        model = TransformerClassifier(s["vocab"], s["classes"], s["width"], s["heads"], s["ff"], s["layers"])
        lengths = torch.randint(s["seq"] // 2, s["seq"] + 1, (s["batch"],), generator=g)
        mask = (torch.arange(s["seq"])[None, :] < lengths[:, None]).long()
        batch = {"input_ids": ids * mask, "attention_mask": mask, "y": torch.randint(0, s["classes"], (s["batch"],), generator=g)}
        inputs = ["input_ids", "attention_mask"]
    model.eval()
    return model, batch, inputs


def loss_of(name, logits, y):
    return ETF.loss_of("lm" if name == "lstm-lm" else "cls", logits, y)


def export(out):
    os.makedirs(out, exist_ok=True)
    for name in SIZES:
        model, batch, inputs = build(name)
        axes = {k: {0: "batch", 1: "sequence"} for k in inputs}
        axes["logits"] = {0: "batch", 1: "sequence"} if name == "lstm-lm" else {0: "batch"}
        torch.onnx.export(model, tuple(batch[k] for k in inputs), os.path.join(out, name + ".onnx"), opset_version=17 if name != "lstm-lm" else 13,
                          do_constant_folding=False, input_names=inputs, output_names=["logits"], dynamic_axes=axes)
        with torch.no_grad():
            loss = loss_of(name, model(*[batch[k] for k in inputs]), batch["y"])
        tensors = {k: v.numpy() for k, v in batch.items()}
        tensors["loss"] = loss.numpy().reshape([])
        ETF.write_safetensors(os.path.join(out, name + ".batch.safetensors"), tensors)
        print(json.dumps({"model": name, "params": sum(p.numel() for p in model.parameters()), "loss": loss.item()}))


def timeit(step, warmup, min_iters, min_time, max_time, clock="wall"):
    tick = time.process_time if clock == "cpu" else time.perf_counter
    for _ in range(warmup):
        step()
    times = []
    start = time.perf_counter()
    while True:
        t0 = tick()
        step()
        times.append((tick() - t0) * 1e3)
        if (len(times) >= min_iters and time.perf_counter() - start >= min_time) or time.perf_counter() - start >= max_time:
            break
    times.sort()
    return times[len(times) // 2]


def measure(req):
    torch.set_num_threads(int(req["threads"]))
    name = req["model"]
    model, batch, inputs = build(name)
    xs = [batch[k] for k in inputs]

    def step():
        model.zero_grad(set_to_none=True)
        loss_of(name, model(*xs), batch["y"]).backward()

    def forward():
        with torch.no_grad():
            model(*xs)

    budget = (int(req.get("warmup", 3)), int(req.get("min_iters", 10)), float(req.get("min_time", 1.0)), float(req.get("max_time", 8.0)), req.get("clock", "wall"))
    return {"model": name, "fwd_bwd_ms": timeit(step, *budget), "fwd_ms": timeit(forward, *budget)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--export", metavar="DIR")
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args()
    if args.export:
        export(args.export)
        return
    sys.stdout.write(json.dumps({"ready": True, "torch": torch.__version__}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            res = measure(json.loads(line))
        except Exception as e:  # noqa: BLE001 - report any failure to the caller
            res = {"error": repr(e)}
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
