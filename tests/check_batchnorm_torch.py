#!/usr/bin/python3
"""BatchNormalization and GlobalAveragePooling2D against PyTorch: a small
model (Conv2D -> BatchNorm -> ReLU -> GAP -> Dense(sigmoid)) built in
libpneumo and copied into torch must give the same training-mode loss, the
same gradients (conv kernel and bias through the full batch-norm backward,
gamma, beta, dense), the same moving statistics after the step
(torch.nn.BatchNorm2d with momentum = 1 - 0.99 and the unbiased running
variance) and the same inference predictions (libpneumo folds the
BatchNormalization into the conv there). A second model shaped like the
compact recipe (Conv2D ReLU -> MaxPool -> BatchNorm, twice, then GAP and
Dense), whose BatchNormalizations libpneumo folds into the next Conv2D and
the Dense, with statistics written into its file, must predict what torch
does. Float32 both sides; tolerances are relative to each tensor's largest
value.

Drives libpneumo through ctypes. Exits 77 (meson's "skipped") when NumPy or
PyTorch is missing."""
import ctypes
import json
import os
import struct
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print(f"skipped: {e} (install python3-numpy python3-torch)")
    sys.exit(77)

lib = ctypes.CDLL(sys.argv[1])
P = ctypes.c_void_p
lib.pneumo_last_error.restype = ctypes.c_char_p
lib.pneumo_tensor_data.restype = ctypes.POINTER(ctypes.c_float)


class Conv(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("filters", ctypes.c_int32), ("kernel_h", ctypes.c_int32),
                ("kernel_w", ctypes.c_int32), ("stride_h", ctypes.c_int32), ("stride_w", ctypes.c_int32),
                ("padding", ctypes.c_int32), ("activation", ctypes.c_int32), ("use_bias", ctypes.c_int32),
                ("reserved", ctypes.c_uint32 * 8)]


class StepResult(ctypes.Structure):
    _fields_ = [("loss", ctypes.c_double), ("accuracy", ctypes.c_double), ("batch_size", ctypes.c_int64),
                ("reserved", ctypes.c_uint32 * 4)]


for fn, args in {
    "pneumo_model_create": [ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, ctypes.c_uint64, ctypes.POINTER(P)],
    "pneumo_conv2d_default_params": [ctypes.POINTER(Conv)],
    "pneumo_model_add_conv2d": [P, ctypes.POINTER(Conv)],
    "pneumo_model_add_batchnorm": [P, P],
    "pneumo_model_add_activation": [P, ctypes.c_int],
    "pneumo_model_add_maxpool2d": [P, P],
    "pneumo_model_load": [ctypes.c_char_p, ctypes.POINTER(P), P],
    "pneumo_model_add_global_avgpool2d": [P],
    "pneumo_model_add_dense": [P, ctypes.c_int32, ctypes.c_int],
    "pneumo_tensor_wrap": [ctypes.c_int, ctypes.POINTER(ctypes.c_int64), P, ctypes.c_size_t, ctypes.POINTER(P)],
    "pneumo_tensor_data": [P],
    "pneumo_model_predict": [P, P, P],
    "pneumo_model_compute_gradients": [P, P, P, P, ctypes.POINTER(StepResult)],
    "pneumo_model_grad": [P, ctypes.c_int32, ctypes.POINTER(P)],
    "pneumo_model_save": [P, P, ctypes.c_char_p],
    "pneumo_model_destroy": [P],
    "pneumo_tensor_destroy": [P],
}.items():
    getattr(lib, fn).argtypes = args


def check(status):
    if status != 0:
        raise RuntimeError(lib.pneumo_last_error().decode())


def wrap(arr):
    shape = (ctypes.c_int64 * arr.ndim)(*arr.shape)
    t = P()
    check(lib.pneumo_tensor_wrap(arr.ndim, shape, arr.ctypes.data, arr.size, ctypes.byref(t)))
    return t


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (hlen,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + hlen])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(blob[8 + hlen + a:8 + hlen + b], dtype=np.float32).reshape(info["shape"]).copy()
    return out


def close(what, got, want, tol, scale=0.0):
    """max |got - want| / max(max |want|, scale) <= tol"""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    err = np.max(np.abs(got - want)) / max(np.max(np.abs(want)), scale, 1e-12)
    print(f"{what}: max relative error {err:.2e} (tolerance {tol:g})")
    if not err <= tol:
        raise SystemExit(f"FAIL {what}: {err:.3g} > {tol:g}")


n, h, w, c, f = 8, 9, 7, 3, 5
rng = np.random.default_rng(3)
x = (rng.random((n, h, w, c), dtype=np.float32) * 2 + 1).astype(np.float32)
y = (np.arange(n) % 2).astype(np.float32)

model = P()
check(lib.pneumo_model_create(h, w, c, 21, ctypes.byref(model)))
conv = Conv()
lib.pneumo_conv2d_default_params(ctypes.byref(conv))
conv.filters = f
check(lib.pneumo_model_add_conv2d(model, ctypes.byref(conv)))
check(lib.pneumo_model_add_batchnorm(model, None))
check(lib.pneumo_model_add_activation(model, 1))
check(lib.pneumo_model_add_global_avgpool2d(model))
check(lib.pneumo_model_add_dense(model, 1, 2))

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "bn.safetensors")
    check(lib.pneumo_model_save(model, None, path.encode()))
    w0 = read_safetensors(path)

    tconv = torch.nn.Conv2d(c, f, 3)
    tbn = torch.nn.BatchNorm2d(f, eps=1e-3, momentum=0.01)
    tdense = torch.nn.Linear(f, 1)
    with torch.no_grad():
        tconv.weight.copy_(torch.from_numpy(w0["conv2d/kernel"].transpose(3, 2, 0, 1).copy()))
        tconv.bias.copy_(torch.from_numpy(w0["conv2d/bias"]))
        tbn.weight.copy_(torch.from_numpy(w0["batch_normalization/gamma"]))
        tbn.bias.copy_(torch.from_numpy(w0["batch_normalization/beta"]))
        tbn.running_mean.copy_(torch.from_numpy(w0["batch_normalization/moving_mean"]))
        tbn.running_var.copy_(torch.from_numpy(w0["batch_normalization/moving_variance"]))
        tdense.weight.copy_(torch.from_numpy(w0["dense/kernel"].T.copy()))
        tdense.bias.copy_(torch.from_numpy(w0["dense/bias"]))

    def torch_logits(xt):
        z = torch.relu(tbn(tconv(xt)))
        return tdense(z.mean(dim=(2, 3)))[:, 0]

    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    yt = torch.from_numpy(y)

    # training step: loss, gradients, moving statistics
    tbn.train()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(torch_logits(xt), yt)
    loss.backward()
    xt_c, yt_c = wrap(x), wrap(y)
    res = StepResult()
    check(lib.pneumo_model_compute_gradients(model, xt_c, yt_c, None, ctypes.byref(res)))
    close("training loss", res.loss, loss.item(), 1e-5)

    def grad(index, shape):
        t = P()
        check(lib.pneumo_model_grad(model, index, ctypes.byref(t)))
        g = np.ctypeslib.as_array(lib.pneumo_tensor_data(t), shape=(int(np.prod(shape)),)).copy().reshape(shape)
        lib.pneumo_tensor_destroy(t)
        return g

    gk = tconv.weight.grad.numpy().transpose(2, 3, 1, 0)
    close("dL/d conv kernel", grad(0, (3, 3, c, f)), gk, 1e-4)
    # the batch mean removes the conv bias: its gradient is rounding noise on both sides
    close("dL/d conv bias (~0)", grad(1, (f,)), tconv.bias.grad.numpy(), 1e-5, np.max(np.abs(gk)))
    close("dL/d gamma", grad(2, (f,)), tbn.weight.grad.numpy(), 1e-4)
    close("dL/d beta", grad(3, (f,)), tbn.bias.grad.numpy(), 1e-4)
    close("dL/d dense kernel", grad(4, (f, 1)), tdense.weight.grad.numpy().T, 1e-4)

    check(lib.pneumo_model_save(model, None, path.encode()))
    w1 = read_safetensors(path)
    close("moving mean", w1["batch_normalization/moving_mean"], tbn.running_mean.numpy(), 5e-6)
    close("moving variance", w1["batch_normalization/moving_variance"], tbn.running_var.numpy(), 1e-6)
    # the tolerance tells the unbiased update from a biased one
    m_rows = n * (h - 2) * (w - 2)
    biased = 0.99 + (tbn.running_var.numpy() - 0.99) * (m_rows - 1) / m_rows
    gap = np.max(np.abs(biased - tbn.running_var.numpy())) / np.max(np.abs(tbn.running_var.numpy()))
    print(f"a biased moving variance would differ by {gap:.2e}")
    assert gap > 1e-6 * 3, gap

    # inference (folded in libpneumo) with the updated moving statistics
    tbn.eval()
    with torch.no_grad():
        want = torch.sigmoid(torch_logits(xt)).numpy()
    probs = np.zeros((n, 1), dtype=np.float32)
    pt = wrap(probs)
    check(lib.pneumo_model_predict(model, xt_c, pt))
    close("inference probabilities", probs[:, 0], want, 1e-5)
    for t in (xt_c, yt_c, pt):
        lib.pneumo_tensor_destroy(t)
lib.pneumo_model_destroy(model)

# the compact recipe's shape: BatchNormalization after the pool, folded forward
n, h, w = 4, 18, 18
x = rng.random((n, h, w, 1), dtype=np.float32)
model = P()
check(lib.pneumo_model_create(h, w, 1, 5, ctypes.byref(model)))
for filters in (4, 6):
    lib.pneumo_conv2d_default_params(ctypes.byref(conv))
    conv.filters = filters
    conv.activation = 1
    check(lib.pneumo_model_add_conv2d(model, ctypes.byref(conv)))
    check(lib.pneumo_model_add_maxpool2d(model, None))
    check(lib.pneumo_model_add_batchnorm(model, None))
check(lib.pneumo_model_add_global_avgpool2d(model))
check(lib.pneumo_model_add_dense(model, 1, 2))
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "compact.safetensors")
    check(lib.pneumo_model_save(model, None, path.encode()))
    lib.pneumo_model_destroy(model)
    with open(path, "rb") as f:
        blob = bytearray(f.read())
    (hlen,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + hlen])
    # statistics different per channel, some gammas negative, a non-zero dense bias
    for name, info in header.items():
        if name == "__metadata__" or "batch_normalization" not in name and name != "dense/bias":
            continue
        a, b = info["data_offsets"]
        k = (b - a) // 4
        kind = name.rsplit("/", 1)[1]
        v = {"gamma": rng.uniform(0.5, 1.5, k) * np.where(np.arange(k) % 3 == 1, -1, 1),
             "beta": rng.uniform(-1, 1, k), "moving_mean": rng.uniform(-0.3, 0.6, k),
             "moving_variance": rng.uniform(0.05, 2.0, k), "bias": np.full(k, 0.25)}[kind]
        blob[8 + hlen + a:8 + hlen + b] = v.astype(np.float32).tobytes()
    with open(path, "wb") as f:
        f.write(blob)
    wts = read_safetensors(path)
    model = P()
    check(lib.pneumo_model_load(path.encode(), ctypes.byref(model), None))

    layers = []
    for i, (ci, co) in enumerate(((1, 4), (4, 6))):
        suffix = f"_{i}" if i else ""
        tc = torch.nn.Conv2d(ci, co, 3)
        tb = torch.nn.BatchNorm2d(co, eps=1e-3)
        with torch.no_grad():
            tc.weight.copy_(torch.from_numpy(wts[f"conv2d{suffix}/kernel"].transpose(3, 2, 0, 1).copy()))
            tc.bias.copy_(torch.from_numpy(wts[f"conv2d{suffix}/bias"]))
            bn = f"batch_normalization{suffix}"
            tb.weight.copy_(torch.from_numpy(wts[f"{bn}/gamma"]))
            tb.bias.copy_(torch.from_numpy(wts[f"{bn}/beta"]))
            tb.running_mean.copy_(torch.from_numpy(wts[f"{bn}/moving_mean"]))
            tb.running_var.copy_(torch.from_numpy(wts[f"{bn}/moving_variance"]))
        tb.eval()
        layers += [tc, torch.nn.ReLU(), torch.nn.MaxPool2d(2), tb]
    tdense = torch.nn.Linear(6, 1)
    with torch.no_grad():
        tdense.weight.copy_(torch.from_numpy(wts["dense/kernel"].T.copy()))
        tdense.bias.copy_(torch.from_numpy(wts["dense/bias"]))
        body = torch.nn.Sequential(*layers)
        want = torch.sigmoid(tdense(body(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).mean(dim=(2, 3))))
    probs = np.zeros((n, 1), dtype=np.float32)
    xt_c, pt = wrap(x), wrap(probs)
    check(lib.pneumo_model_predict(model, xt_c, pt))
    close("compact-shaped inference (BatchNormalization folded forward)", probs[:, 0], want.numpy()[:, 0], 1e-5)
    for t in (xt_c, pt):
        lib.pneumo_tensor_destroy(t)
lib.pneumo_model_destroy(model)
print("ok")
