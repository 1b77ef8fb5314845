#!/usr/bin/python3
"""Export three text models as users export them, trained briefly on the embedded text subset (data/text/).

Run with Debian's python (torch 1.13; the onnx package is not needed):

    /usr/bin/python3 scripts/export-text-fixtures.py

Writes into test/fixtures/text/:

  lstm-lm.onnx           an Embedding + LSTM word language model (vocabulary 10,000, width 16, decoder tied to
                         the embedding, as in Press & Wolf 2017): input_ids int64 [batch, sequence] -> logits
                         [batch, sequence, 10000]; opset 13; trained on data/text/lm/train.safetensors
  transformer-cls.onnx   a Transformer encoder classifier (nn.TransformerEncoderLayer, 2 heads, width 32,
                         learned positions, mean over the unmasked tokens): input_ids, attention_mask int64
                         [batch, sequence] -> logits [batch, 8]; opset 17 (one LayerNormalization node); trained
                         on data/text/topic/train.safetensors
  bert-cls.onnx          a BERT-style classifier (word + position + token type embeddings, LayerNorm, one
                         post-LN encoder layer with the additive -10000 mask, tanh pooler on [CLS], classifier):
                         input_ids, attention_mask, token_type_ids -> logits [batch, 8]; opset 14 (LayerNorm
                         decomposed, as at opsets < 17); trained on data/text/topic/train.safetensors
  NAME.grads.safetensors the first 4 rows of the model's test file (its inputs and y), torch's loss (and, for the
                         classifiers, logits) on them, and 'grad:<initializer>' = d loss / d parameter for every parameter (the loss is
                         the mean cross-entropy; for the language model over the tokens whose label is not -100)
  text.json              per model: inputs, outputs, data file, opset, parameter count, torch's metrics on the
                         whole test file (accuracy, mean loss and correct count; for the language model the
                         per-token loss, perplexity and token count), the gradient batch's loss, gradient keys

All dynamic axes are named 'batch' and 'sequence'. Dropout is 0 so that train and eval graphs agree.
"""

import json
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "text")
DATA = os.path.join(ROOT, "data", "text")
GRAD_ROWS = 4

_ST_DTYPES = {"F32": np.float32, "I64": np.int64}
_NP_DTYPES = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n, = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=_ST_DTYPES[info["dtype"]]).reshape(info["shape"]).copy())
    return out, meta


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NP_DTYPES[arr.dtype], "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------


class LstmLM(nn.Module):
    def __init__(self, vocab, width):
        super().__init__()
        self.emb = nn.Embedding(vocab, width)
        self.rnn = nn.LSTM(width, width, batch_first=True)
        self.decoder = nn.Linear(width, vocab)
        self.decoder.weight = self.emb.weight  # tied

    def forward(self, input_ids):
        h, _ = self.rnn(self.emb(input_ids))
        return self.decoder(h)


class TransformerClassifier(nn.Module):
    def __init__(self, vocab, classes, width=32, heads=2, ff=64, max_len=64):
        super().__init__()
        self.emb = nn.Embedding(vocab, width)
        self.pos = nn.Parameter(torch.randn(max_len, width) * 0.02)
        self.encoder = nn.TransformerEncoderLayer(width, heads, ff, dropout=0.0, activation="gelu", batch_first=True)
        self.fc = nn.Linear(width, classes)

    def forward(self, input_ids, attention_mask):
        h = self.emb(input_ids) + self.pos[: input_ids.shape[1]]
        h = self.encoder(h, src_key_padding_mask=attention_mask == 0)
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        return self.fc((h * m).sum(1) / m.sum(1))


class BertSelfAttention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.dense = nn.Linear(width, width)

    def forward(self, h, additive_mask):
        B, T, D = h.shape
        H = self.heads

        def split(x):
            return x.view(B, T, H, D // H).transpose(1, 2)

        scores = split(self.query(h)) @ split(self.key(h)).transpose(-1, -2) / float(D // H) ** 0.5
        probs = torch.softmax(scores + additive_mask, dim=-1)
        return self.dense((probs @ split(self.value(h))).transpose(1, 2).reshape(B, T, D))


class BertClassifier(nn.Module):
    """The structure of Hugging Face's BertForSequenceClassification, one layer, small."""

    def __init__(self, vocab, classes, width=32, heads=2, ff=64, max_len=64):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, width)
        self.position_embeddings = nn.Embedding(max_len, width)
        self.token_type_embeddings = nn.Embedding(2, width)
        self.emb_norm = nn.LayerNorm(width, eps=1e-12)
        self.attention = BertSelfAttention(width, heads)
        self.attention_norm = nn.LayerNorm(width, eps=1e-12)
        self.intermediate = nn.Linear(width, ff)
        self.output = nn.Linear(ff, width)
        self.output_norm = nn.LayerNorm(width, eps=1e-12)
        self.pooler = nn.Linear(width, width)
        self.classifier = nn.Linear(width, classes)
        # Equal initializers (LayerNorm ones and zeros) would be merged by the exporter: make them distinct.
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.LayerNorm):
                    m.weight.add_(0.05 * torch.randn_like(m.weight))
                    m.bias.add_(0.05 * torch.randn_like(m.bias))

    def forward(self, input_ids, attention_mask, token_type_ids):
        T = input_ids.shape[1]
        positions = torch.arange(T, device=input_ids.device).unsqueeze(0)
        h = self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings(token_type_ids)
        h = self.emb_norm(h)
        additive = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * -10000.0
        h = self.attention_norm(h + self.attention(h, additive))
        h = self.output_norm(h + self.output(F.gelu(self.intermediate(h))))
        return self.classifier(torch.tanh(self.pooler(h[:, 0])))


# ---------------------------------------------------------------------------
# training, evaluation, export
# ---------------------------------------------------------------------------


def loss_of(kind, logits, y):
    if kind == "lm":
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)
    return F.cross_entropy(logits, y)


def train(model, kind, inputs, data, epochs, lr, batch, seed):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = data["y"].shape[0]
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(n)
        total = 0.0
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = loss_of(kind, model(*[data[k][idx] for k in inputs]), data["y"][idx])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item() * len(idx)
        print(f"  epoch {epoch + 1}: train loss {total / n:.4f}")
    model.eval()


@torch.no_grad()
def evaluate(model, kind, inputs, data):
    logits = model(*[data[k] for k in inputs])
    y = data["y"]
    if kind == "lm":
        flat = logits.reshape(-1, logits.shape[-1])
        nll = F.cross_entropy(flat, y.reshape(-1), ignore_index=-100, reduction="sum").item()
        tokens = int((y != -100).sum().item())
        return {"tokens": tokens, "loss": nll / tokens, "perplexity": float(np.exp(nll / tokens))}
    correct = int((logits.argmax(-1) == y).sum().item())
    return {"examples": int(y.shape[0]), "correct": correct, "accuracy": correct / y.shape[0], "loss": F.cross_entropy(logits, y).item()}


def export(name, model, kind, inputs, data_file, opset, epochs, lr, batch, seed):
    train_data, _ = read_safetensors(os.path.join(DATA, data_file, "train.safetensors"))
    test_data, _ = read_safetensors(os.path.join(DATA, data_file, "test.safetensors"))
    t0 = time.time()
    train(model, kind, inputs, train_data, epochs, lr, batch, seed)
    seconds = time.time() - t0
    metrics = evaluate(model, kind, inputs, test_data)
    print(f"  {name}: {metrics} ({seconds:.1f} s training)")

    path = os.path.join(OUT, name + ".onnx")
    example = tuple(test_data[k][:2] for k in inputs)
    axes = {k: {0: "batch", 1: "sequence"} for k in inputs}
    axes["logits"] = {0: "batch", 1: "sequence"} if kind == "lm" else {0: "batch"}
    torch.onnx.export(model, example, path, opset_version=opset, do_constant_folding=False,
                      input_names=list(inputs), output_names=["logits"], dynamic_axes=axes)

    # Gradients of the loss on a small batch, per parameter, as torch.autograd computes them.
    rows = {k: test_data[k][:GRAD_ROWS] for k in list(inputs) + ["y"]}
    model.zero_grad(set_to_none=True)
    logits = model(*[rows[k] for k in inputs])
    loss = loss_of(kind, logits, rows["y"])
    loss.backward()
    tensors = {k: v.numpy() for k, v in rows.items()}
    if kind != "lm":  # the language model's [4, 35, 10000] logits would be 5.6 MB; its loss and gradients suffice
        tensors["logits"] = logits.detach().numpy()
    tensors["loss"] = loss.detach().numpy().reshape([])
    keys = []
    for pname, p in model.named_parameters():
        tensors["grad:" + pname] = p.grad.numpy()
        keys.append("grad:" + pname)
    write_safetensors(os.path.join(OUT, name + ".grads.safetensors"), tensors)
    return {
        "onnx": f"{name}.onnx",
        "kind": "language-modelling" if kind == "lm" else "sequence-classification",
        "inputs": list(inputs),
        "outputs": ["logits"],
        "opset": opset,
        "params": sum(p.numel() for p in model.parameters()),
        "data": f"data/text/{data_file}/test.safetensors",
        "training": {"data": f"data/text/{data_file}/train.safetensors", "epochs": epochs, "lr": lr, "batch": batch, "optimizer": "adam"},
        "test": metrics,
        "gradients": {"file": f"{name}.grads.safetensors", "rows": GRAD_ROWS, "loss": loss.item(), "keys": keys},
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    vocab_lm = len(json.load(open(os.path.join(DATA, "lm", "vocab.json")))["tokens"])
    vocab_topic = len(json.load(open(os.path.join(DATA, "topic", "vocab.json")))["tokens"])
    classes = len(json.loads(read_safetensors(os.path.join(DATA, "topic", "test.safetensors"))[1]["classes"]))
    out = {"torch": torch.__version__}

    print("lstm-lm")
    torch.manual_seed(0)
    out["lstm-lm"] = export("lstm-lm", LstmLM(vocab_lm, 16), "lm", ["input_ids"], "lm", 13, epochs=4, lr=1e-2, batch=20, seed=1)

    print("transformer-cls")
    torch.manual_seed(0)
    out["transformer-cls"] = export("transformer-cls", TransformerClassifier(vocab_topic, classes), "cls",
                                    ["input_ids", "attention_mask"], "topic", 17, epochs=8, lr=2e-3, batch=32, seed=2)

    print("bert-cls")
    torch.manual_seed(0)
    out["bert-cls"] = export("bert-cls", BertClassifier(vocab_topic, classes), "cls",
                             ["input_ids", "attention_mask", "token_type_ids"], "topic", 14, epochs=8, lr=2e-3, batch=32, seed=3)

    with open(os.path.join(OUT, "text.json"), "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    for name in ("lstm-lm", "transformer-cls", "bert-cls"):
        for ext in (".onnx", ".grads.safetensors"):
            p = os.path.join(OUT, name + ext)
            print(f"{p}: {os.path.getsize(p)} bytes")


if __name__ == "__main__":
    main()
