#!/usr/bin/python3
"""PyTorch reference timings for the engine benchmark (bench/engine.ts).

Builds the same architectures that made test/fixtures/torch/*.onnx, by importing the model classes
from scripts/export-fixtures.py, and times one training step per batch on CPU:

    model.zero_grad(set_to_none=True); loss = cross_entropy(model(x), y); loss.backward()

Models run in eval() mode, the mode they were exported in: BatchNorm uses its running statistics
(as the ONNX graph's BatchNormalization with training_mode=0 does) and dropout is off.

Run with Debian's python3-torch:

    /usr/bin/python3 bench/torch_reference.py --threads 1 --batch 64 [--models mlp,lenet]

prints one JSON object {"torch": version, "threads", "batch", "results": {model: {...}}}.
With --serve it instead reads one JSON request per line on stdin, e.g.
{"model": "mlp", "threads": 1, "batch": 64}, and answers one JSON line per request (the TS runner
uses this to interleave its own measurements with PyTorch's, model by model).
"""

import argparse
import importlib.util
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "torch")
MODELS = ("mlp", "lenet", "resnet", "transformer", "gru", "lstm")


def load_export_script():
    path = os.path.join(ROOT, "scripts", "export-fixtures.py")
    spec = importlib.util.spec_from_file_location("export_fixtures", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


EF = load_export_script()


def fixture_meta(name):
    with open(os.path.join(FIXTURES, name + ".json")) as f:
        return json.load(f)


def build(name):
    """The model and a function making a batch (x, y) of the fixture's input shape."""
    meta = fixture_meta(name)
    if name == "mlp":
        model = EF.MLP()
    elif name == "lenet":
        model = EF.LeNet()
    elif name == "resnet":
        model = EF.ResNet()
        model.randomize_bn()
    elif name == "transformer":
        # The fixture was exported from nn.TransformerEncoderLayer unless that export failed.
        builtin = any(i.startswith("encoder.self_attn.in_proj") for i in meta["initializers"])
        model = EF.Transformer(builtin=builtin)
    elif name == "gru":
        model = EF.GRUNet()
    elif name == "lstm":
        model = EF.LSTMNet()
    else:
        raise ValueError(f"unknown model {name!r}")
    model.eval()
    shape = meta["inputShape"][1:]

    def batch(b):
        if meta["inputDType"] == "int64":
            x = torch.randint(0, 50, (b, *shape), dtype=torch.int64)
        else:
            x = torch.randn(b, *shape)
        y = torch.randint(0, 10, (b,), dtype=torch.int64)
        return x, y

    n_params = sum(p.numel() for p in model.parameters())
    return model, batch, n_params


def timeit(step, warmup, min_iters, min_time, max_time, clock="wall"):
    # clock "cpu": the process's CPU time (all threads) per step, the work done whatever the load from elsewhere.
    tick = time.process_time if clock == "cpu" else time.perf_counter
    for _ in range(warmup):
        step()
    times = []
    start = time.perf_counter()
    while True:
        t0 = tick()
        step()
        times.append((tick() - t0) * 1e3)
        elapsed = time.perf_counter() - start
        if (len(times) >= min_iters and elapsed >= min_time) or elapsed >= max_time:
            break
    times.sort()
    n = len(times)
    median = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
    return {"median_ms": median, "min_ms": times[0], "iters": n}


def measure(name, threads, batch, warmup=10, min_iters=50, min_time=1.0, max_time=10.0, clock="wall"):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, make_batch, n_params = build(name)
    x, y = make_batch(batch)

    def train_step():
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()

    def forward():
        with torch.no_grad():
            model(x)

    fwd_bwd = timeit(train_step, warmup, min_iters, min_time, max_time, clock)
    fwd = timeit(forward, warmup, min_iters, min_time, max_time, clock)
    return {
        "model": name,
        "threads": threads,
        "batch": batch,
        "params": n_params,
        "fwd_bwd_ms": fwd_bwd["median_ms"],
        "fwd_bwd_min_ms": fwd_bwd["min_ms"],
        "fwd_bwd_iters": fwd_bwd["iters"],
        "fwd_ms": fwd["median_ms"],
    }


def serve():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            res = measure(
                req["model"], int(req["threads"]), int(req["batch"]),
                warmup=int(req.get("warmup", 10)), min_iters=int(req.get("min_iters", 50)),
                min_time=float(req.get("min_time", 1.0)), max_time=float(req.get("max_time", 10.0)),
                clock=req.get("clock", "wall"),
            )
        except Exception as e:  # noqa: BLE001 - report any failure to the caller
            res = {"model": line, "error": repr(e)}
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--serve", action="store_true", help="answer JSON-line requests on stdin")
    args = ap.parse_args()
    if args.serve:
        sys.stdout.write(json.dumps({"ready": True, "torch": torch.__version__}) + "\n")
        sys.stdout.flush()
        serve()
        return
    results = {m: measure(m, args.threads, args.batch) for m in args.models.split(",") if m}
    print(json.dumps({"torch": torch.__version__, "threads": args.threads, "batch": args.batch, "results": results}, indent=2))


if __name__ == "__main__":
    main()
