#!/usr/bin/python3
"""docs/model-format.md is exact: a model saved by libpneumo, loaded into PyTorch
by examples/python/torch_load.py, predicts what libpneumo predicts.

Drives libpneumo through ctypes. Exits 77 (meson's "skipped") with a message when
NumPy or PyTorch is missing."""
import ctypes
import os
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print(f"skipped: {e} (install python3-numpy python3-torch)")
    sys.exit(77)

lib = ctypes.CDLL(sys.argv[1])
sys.path.insert(0, sys.argv[2])
import torch_load  # noqa: E402

P = ctypes.c_void_p
lib.pneumo_last_error.restype = ctypes.c_char_p
for fn, args in {
    "pneumo_model_create_article": [ctypes.c_int32, ctypes.c_uint64, ctypes.POINTER(P)],
    "pneumo_tensor_wrap": [ctypes.c_int, ctypes.POINTER(ctypes.c_int64), P, ctypes.c_size_t,
                           ctypes.POINTER(P)],
    "pneumo_model_predict": [P, P, P],
    "pneumo_model_train_step": [P, P, P, P, P, P],
    "pneumo_optimizer_create_adam": [P, ctypes.POINTER(P)],
    "pneumo_model_save": [P, P, ctypes.c_char_p],
    "pneumo_model_destroy": [P],
    "pneumo_optimizer_destroy": [P],
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


size, n = 100, 6
rng = np.random.default_rng(5)
x = rng.random((n, size, size, 1), dtype=np.float32)
y = (np.arange(n) % 2).astype(np.float32)
probs = np.zeros((n, 1), dtype=np.float32)

model, opt = P(), P()
check(lib.pneumo_model_create_article(size, 11, ctypes.byref(model)))
check(lib.pneumo_optimizer_create_adam(None, ctypes.byref(opt)))
tx, ty, tp = wrap(x), wrap(y), wrap(probs)
for _ in range(3):  # non-zero biases, so their layout is exercised too
    check(lib.pneumo_model_train_step(model, opt, tx, ty, None, None))
check(lib.pneumo_model_predict(model, tx, tp))
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "m.safetensors")
    check(lib.pneumo_model_save(model, opt, path.encode()))
    net = torch_load.load_model(path)
for h in (tx, ty, tp):
    lib.pneumo_tensor_destroy(h)
lib.pneumo_optimizer_destroy(opt)
lib.pneumo_model_destroy(model)

with torch.no_grad():
    ref = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
err = np.max(np.abs(ref - probs))
print("libpneumo:", probs.ravel())
print("pytorch:  ", ref.ravel())
if not np.all((probs > 0.01) & (probs < 0.99)):
    print("note: saturated probabilities make this check weak")
if err > 1e-5:
    print(f"FAIL: max |difference| {err:.3g}")
    sys.exit(1)
print(f"ok: PyTorch reproduces libpneumo's predictions (max |difference| {err:.2g})")
