#!/usr/bin/python3
"""AdamW in libpneumo is torch.optim.AdamW: a Flatten -> Dense(4, relu) ->
Dense(1, sigmoid) model trained for several steps from the same weights on the
same batch moves its weights as torch does with two parameter groups (the
kernels with weight_decay, the biases without), and differs from plain Adam.

Drives libpneumo through ctypes. Exits 77 (meson's "skipped") when NumPy or
PyTorch is missing."""
import ctypes
import sys

try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print(f"skipped: {e} (install python3-numpy python3-torch)")
    sys.exit(77)

lib = ctypes.CDLL(sys.argv[1])
P = ctypes.c_void_p


class AdamParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("learning_rate", ctypes.c_float), ("beta_1", ctypes.c_float),
                ("beta_2", ctypes.c_float), ("epsilon", ctypes.c_float), ("weight_decay", ctypes.c_float),
                ("reserved", ctypes.c_uint32 * 7)]


lib.pneumo_last_error.restype = ctypes.c_char_p
lib.pneumo_tensor_data.restype = ctypes.POINTER(ctypes.c_float)
for fn, args in {
    "pneumo_model_create": [ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, ctypes.c_uint64, ctypes.POINTER(P)],
    "pneumo_model_add_flatten": [P],
    "pneumo_model_add_dense": [P, ctypes.c_int32, ctypes.c_int],
    "pneumo_model_param": [P, ctypes.c_int32, ctypes.POINTER(P)],
    "pneumo_tensor_wrap": [ctypes.c_int, ctypes.POINTER(ctypes.c_int64), P, ctypes.c_size_t,
                           ctypes.POINTER(P)],
    "pneumo_tensor_data": [P],
    "pneumo_model_train_step": [P, P, P, P, P, P],
    "pneumo_adam_default_params": [ctypes.POINTER(AdamParams)],
    "pneumo_optimizer_create_adam": [ctypes.POINTER(AdamParams), ctypes.POINTER(P)],
    "pneumo_model_destroy": [P],
    "pneumo_optimizer_destroy": [P],
    "pneumo_tensor_destroy": [P],
}.items():
    getattr(lib, fn).argtypes = args
RELU, SIGMOID = 1, 2


def check(status):
    if status != 0:
        raise RuntimeError(lib.pneumo_last_error().decode())


def wrap(arr):
    shape = (ctypes.c_int64 * arr.ndim)(*arr.shape)
    t = P()
    check(lib.pneumo_tensor_wrap(arr.ndim, shape, arr.ctypes.data, arr.size, ctypes.byref(t)))
    return t


def param(model, i, shape):
    t = P()
    check(lib.pneumo_model_param(model, i, ctypes.byref(t)))
    a = np.ctypeslib.as_array(lib.pneumo_tensor_data(t), shape=(int(np.prod(shape)),)).reshape(shape).copy()
    lib.pneumo_tensor_destroy(t)
    return a


n, steps, lr, wd, eps = 8, 6, 1e-2, 0.1, 1e-10
rng = np.random.default_rng(3)
x = rng.standard_normal((n, 1, 6, 1)).astype(np.float32)
y = (np.arange(n) % 2).astype(np.float32)


def run_pneumo(weight_decay):
    model, opt = P(), P()
    p = AdamParams()
    lib.pneumo_adam_default_params(ctypes.byref(p))
    p.learning_rate, p.epsilon, p.weight_decay = lr, eps, weight_decay
    check(lib.pneumo_model_create(1, 6, 1, 7, ctypes.byref(model)))
    check(lib.pneumo_model_add_flatten(model))
    check(lib.pneumo_model_add_dense(model, 4, RELU))
    check(lib.pneumo_model_add_dense(model, 1, SIGMOID))
    check(lib.pneumo_optimizer_create_adam(ctypes.byref(p), ctypes.byref(opt)))
    shapes = [(6, 4), (4,), (4, 1), (1,)]
    init = [param(model, i, s) for i, s in enumerate(shapes)]
    tx, ty = wrap(x), wrap(y)
    for _ in range(steps):
        check(lib.pneumo_model_train_step(model, opt, tx, ty, None, None))
    out = [param(model, i, s) for i, s in enumerate(shapes)]
    for t in (tx, ty):
        lib.pneumo_tensor_destroy(t)
    lib.pneumo_optimizer_destroy(opt)
    lib.pneumo_model_destroy(model)
    return init, out


def run_torch(init, weight_decay):
    torch.manual_seed(0)
    l1, l2 = torch.nn.Linear(6, 4), torch.nn.Linear(4, 1)
    with torch.no_grad():
        l1.weight.copy_(torch.from_numpy(init[0].T))
        l1.bias.copy_(torch.from_numpy(init[1]))
        l2.weight.copy_(torch.from_numpy(init[2].T))
        l2.bias.copy_(torch.from_numpy(init[3]))
    opt = torch.optim.AdamW([{"params": [l1.weight, l2.weight], "weight_decay": weight_decay},
                             {"params": [l1.bias, l2.bias], "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.999), eps=eps)
    xt, yt = torch.from_numpy(x.reshape(n, 6)), torch.from_numpy(y.reshape(n, 1))
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(l2(torch.relu(l1(xt))), yt)
        loss.backward()
        opt.step()
    return [l1.weight.detach().numpy().T, l1.bias.detach().numpy(), l2.weight.detach().numpy().T,
            l2.bias.detach().numpy()]


init, ours = run_pneumo(wd)
init0, plain = run_pneumo(0.0)
theirs = run_torch(init, wd)
worst = 0.0
for name, a, b, w0 in zip(["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"], ours, theirs, init):
    moved, want = a - w0, b - w0
    err = np.abs(moved - want).max()
    worst = max(worst, err / np.abs(want).max())
    if err > 1e-4 * np.abs(want).max() + 1e-6:
        sys.exit(f"{name}: libpneumo moved {moved.ravel()}, torch.optim.AdamW {want.ravel()}")
# plain Adam (weight_decay 0) is off from AdamW by the decay, about lr * wd * |w| * steps
gap = np.abs(plain[0] - ours[0]).max()
if not gap > 1e-3 * np.abs(init[0]).max():
    sys.exit(f"weight_decay {wd} changed dense/kernel by only {gap}")
print(f"AdamW over {steps} steps matches torch.optim.AdamW: worst relative displacement error {worst:.2e};"
      f" plain Adam differs by {gap:.2e}")
