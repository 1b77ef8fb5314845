"""Read MNIST-layout IDX files (gzip) with numpy: the one reader the Python fixture scripts share."""

import gzip
import os
import struct

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUBSET = os.path.join(ROOT, "data", "fashion-mnist-subset")


def read_idx(path):
    """The uint8 array an IDX file holds, shaped by its header."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


def load_split(split, folder=SUBSET):
    """Images [N, 28, 28] uint8 and labels [N] int64 of a split ('train' or 'test') of an IDX folder."""
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    return x, y
