#!/usr/bin/python3
"""Load a libpneumo model file into PyTorch, following docs/model-format.md.

Usage: torch_load.py MODEL.safetensors
Prints the equivalent torch.nn.Sequential. Import it to use load_model(path).
Needs only the standard library, NumPy and PyTorch (Debian python3-numpy,
python3-torch).
"""
import json
import struct
import sys

import numpy as np
import torch
from torch import nn


def read_safetensors(path):
    """Return (metadata dict, {name: numpy float32 array}) of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    buf = data[8 + n:]
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {info['dtype']} is not F32")
        begin, end = info["data_offsets"]
        arr = np.frombuffer(buf[begin:end], dtype="<f4").reshape(info["shape"])
        tensors[name] = arr.astype(np.float32)
    return meta, tensors


ACTIVATIONS = {"linear": None, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def load_model(path):
    """Build an nn.Sequential (NCHW input scaled like libpneumo's) from a model file."""
    meta, t = read_safetensors(path)
    arch = json.loads(meta["architecture"])
    h, w, c = arch["input_shape"]
    layers = []
    shape = (h, w, c)  # current activation shape, channels-last as libpneumo sees it
    for spec in arch["layers"]:
        cls, name = spec["class"], spec["name"]
        if cls == "Conv2D":
            kh, kw = spec["kernel_size"]
            sh, sw = spec["strides"]
            if spec["padding"] == "same" and not (sh == sw == 1 and kh % 2 and kw % 2):
                raise NotImplementedError("asymmetric 'same' padding")
            pad = (kh // 2, kw // 2) if spec["padding"] == "same" else 0
            conv = nn.Conv2d(shape[2], spec["filters"], (kh, kw), (sh, sw), pad,
                             bias=spec["use_bias"])
            conv.weight.data = torch.from_numpy(t[name + "/kernel"].transpose(3, 2, 0, 1).copy())
            if spec["use_bias"]:
                conv.bias.data = torch.from_numpy(t[name + "/bias"].copy())
            layers.append(conv)
            if spec["padding"] == "same":
                oh, ow = -(-shape[0] // sh), -(-shape[1] // sw)
            else:
                oh, ow = (shape[0] - kh) // sh + 1, (shape[1] - kw) // sw + 1
            shape = (oh, ow, spec["filters"])
        elif cls == "MaxPooling2D":
            ph, pw = spec["pool_size"]
            sh, sw = spec["strides"]
            if spec["padding"] != "valid":
                raise NotImplementedError("'same' pooling")
            layers.append(nn.MaxPool2d((ph, pw), (sh, sw)))
            shape = ((shape[0] - ph) // sh + 1, (shape[1] - pw) // sw + 1, shape[2])
        elif cls == "Flatten":
            layers.append(nn.Flatten())
            flat_from = shape
            shape = (1, 1, shape[0] * shape[1] * shape[2])
        elif cls == "Dense":
            kernel = t[name + "/kernel"]
            if "flat_from" in locals() and flat_from is not None:
                fh, fw, fc = flat_from  # rows in (h, w, c) order -> PyTorch's (c, h, w)
                kernel = kernel.reshape(fh, fw, fc, -1).transpose(2, 0, 1, 3).reshape(fh * fw * fc, -1)
                flat_from = None
            lin = nn.Linear(kernel.shape[0], kernel.shape[1])
            lin.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.T))
            lin.bias.data = torch.from_numpy(t[name + "/bias"].copy())
            layers.append(lin)
            shape = (1, 1, spec["units"])
        elif cls == "Dropout":
            layers.append(nn.Dropout(spec["rate"]))
            continue
        elif cls != "Activation":
            raise NotImplementedError(cls)
        act = ACTIVATIONS[spec.get("activation", "linear")] if "activation" in spec else None
        if act is not None:
            layers.append(act())
    return nn.Sequential(*layers).eval()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(load_model(sys.argv[1]))
