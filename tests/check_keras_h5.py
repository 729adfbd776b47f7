#!/usr/bin/python3
"""Keras HDF5 import: fixtures written with h5py in the layout Keras 2 / tf.keras
writes (keras/saving/hdf5_format.py: the model_config and training_config JSON
attributes, /model_weights/<layer>/<layer>/kernel:0 datasets listed by
weight_names, /optimizer_weights), imported by pneumo_model_import_keras_h5;
the imported model's predictions equal PyTorch running the same weights (built
here from the Keras config, independently of libpneumo) within 1e-5, the
optimizer state lands on the right parameters, and unsupported or broken files
fail with errors that name the problem. A network with BatchNormalization (with
and without gamma and beta, on 4-D and flat tensors) and GlobalAveragePooling2D
is checked the same way, and malformed BatchNormalization weights (shapes,
negative or non-finite statistics, missing or extra weights) are refused with the
layer and the shape named.

Usage: check_keras_h5.py PYTHON_PACKAGE_DIR EXAMPLES_PYTHON_DIR
Environment: PNEUMO_LIBRARY, PNEUMO_CONVERT (pneumo-convert, optional).
Exits 77 (skipped) with a message when NumPy, h5py or PyTorch are missing, or
when the library was built without HDF5 (after checking that the import then
fails with UNSUPPORTED)."""
import json
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print(f"skipped: {e} (install python3-numpy python3-h5py python3-torch)")
    sys.exit(77)

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import pneumo  # noqa: E402
import torch_load  # noqa: E402

TOL = 1e-5
failures = []
rng = np.random.default_rng(17)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


# --- Keras-layout fixtures ------------------------------------------------------------
def conv(name, filters, k=3, s=1, padding="valid", activation="relu", use_bias=True, **extra):
    cfg = {"name": name, "trainable": True, "dtype": "float32", "filters": filters,
           "kernel_size": [k, k] if isinstance(k, int) else list(k),
           "strides": [s, s] if isinstance(s, int) else list(s), "padding": padding,
           "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
           "activation": activation, "use_bias": use_bias,
           "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
           "bias_initializer": {"class_name": "Zeros", "config": {}}}
    cfg.update(extra)
    return {"class_name": "Conv2D", "config": cfg}


def pool(name, p=2, s=None, padding="valid"):
    return {"class_name": "MaxPooling2D", "config": {
        "name": name, "trainable": True, "dtype": "float32", "pool_size": [p, p],
        "padding": padding, "strides": [s, s] if s else [p, p], "data_format": "channels_last"}}


def flatten(name):
    return {"class_name": "Flatten", "config": {"name": name, "trainable": True, "dtype": "float32",
                                                 "data_format": "channels_last"}}


def dense(name, units, activation="relu"):
    return {"class_name": "Dense", "config": {
        "name": name, "trainable": True, "dtype": "float32", "units": units,
        "activation": activation, "use_bias": True}}


def activation(name, act):
    return {"class_name": "Activation", "config": {"name": name, "trainable": True,
                                                    "dtype": "float32", "activation": act}}


def dropout(name, rate):
    return {"class_name": "Dropout", "config": {"name": name, "trainable": True, "dtype": "float32",
                                                 "rate": rate, "noise_shape": None, "seed": None}}


def batchnorm(name, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True, **extra):
    cfg = {"name": name, "trainable": True, "dtype": "float32", "axis": axis, "momentum": momentum,
           "epsilon": epsilon, "center": center, "scale": scale,
           "beta_initializer": {"class_name": "Zeros", "config": {}},
           "gamma_initializer": {"class_name": "Ones", "config": {}},
           "moving_mean_initializer": {"class_name": "Zeros", "config": {}},
           "moving_variance_initializer": {"class_name": "Ones", "config": {}},
           "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
           "gamma_constraint": None}
    cfg.update(extra)
    return {"class_name": "BatchNormalization", "config": cfg}


def bn_roles(cfg):
    """Keras' BatchNormalization weights, in its order."""
    return (["gamma"] if cfg["scale"] else []) + (["beta"] if cfg["center"] else []) + \
        ["moving_mean", "moving_variance"]


def gap(name, **extra):
    cfg = {"name": name, "trainable": True, "dtype": "float32", "data_format": "channels_last",
           "keepdims": False}
    cfg.update(extra)
    return {"class_name": "GlobalAveragePooling2D", "config": cfg}


def input_layer(shape):
    return {"class_name": "InputLayer", "config": {"batch_input_shape": [None, *shape],
                                                    "dtype": "float32", "sparse": False,
                                                    "ragged": False, "name": "conv2d_3_input"}}


def shapes(layers, input_shape):
    """Weight shapes per layer name, walking the Keras config (channels_last)."""
    h, w, c = input_shape
    out = {}
    for spec in layers:
        cls, cfg = spec["class_name"], spec["config"]
        if cls == "Conv2D":
            kh, kw = cfg["kernel_size"]
            sh, sw = cfg["strides"]
            out[cfg["name"]] = [(kh, kw, c, cfg["filters"])] + ([(cfg["filters"],)] if cfg["use_bias"] else [])
            if cfg["padding"] == "same":
                h, w = -(-h // sh), -(-w // sw)
            else:
                h, w = (h - kh) // sh + 1, (w - kw) // sw + 1
            c = cfg["filters"]
        elif cls == "MaxPooling2D":
            ph, pw = cfg["pool_size"]
            sh, sw = cfg["strides"]
            if cfg["padding"] == "same":
                h, w = -(-h // sh), -(-w // sw)
            else:
                h, w = (h - ph) // sh + 1, (w - pw) // sw + 1
        elif cls == "Flatten":
            h, w, c = 1, 1, h * w * c
        elif cls == "GlobalAveragePooling2D":
            h, w = 1, 1
        elif cls == "BatchNormalization":
            out[cfg["name"]] = [(c,)] * len(bn_roles(cfg))
        elif cls == "Dense":
            out[cfg["name"]] = [(c, cfg["units"]), (cfg["units"],)]
            c = cfg["units"]
    return out


def random_weights(layers, input_shape, dtype=np.float32):
    ws = {}
    bns = {spec["config"]["name"]: bn_roles(spec["config"]) for spec in layers
           if spec["class_name"] == "BatchNormalization"}
    for name, shp in shapes(layers, input_shape).items():
        if name in bns:
            # gamma, beta, mean and variance each far from the others and from
            # Keras' initial values, so that a mix-up shows in the predictions
            draw = {"gamma": lambda n: rng.uniform(0.5, 1.5, n), "beta": lambda n: rng.normal(0.0, 0.3, n),
                    "moving_mean": lambda n: rng.normal(0.3, 0.3, n),
                    "moving_variance": lambda n: rng.uniform(0.05, 2.0, n)}
            ws[name] = [draw[role](shp[0]).astype(dtype) for role in bns[name]]
            continue
        fan_in = int(np.prod(shp[0][:-1]))
        ws[name] = [(rng.standard_normal(shp[0]) * np.sqrt(2.0 / fan_in)).astype(dtype)] + \
                   [(rng.standard_normal(s) * 0.05).astype(dtype) for s in shp[1:]]
    return ws


def write_h5(path, layers, weights, input_shape=None, optimizer=None, opt_state=None, vlen=False,
             bare_list=False, class_name="Sequential"):
    """A file as keras/saving/hdf5_format.py's save_model_to_hdf5 writes it."""
    def names_attr(values):
        if vlen:
            return np.array(values, dtype=h5py.string_dtype())
        return np.array([v.encode("utf8") for v in values])
    if input_shape is not None:
        layers = [input_layer(input_shape)] + layers
    cfg = layers if bare_list else {"name": "sequential_1", "layers": layers}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.4.0"
        f.attrs["backend"] = b"tensorflow"
        text = json.dumps({"class_name": class_name, "config": cfg})
        f.attrs["model_config"] = text if vlen else text.encode("utf8")
        if optimizer:
            f.attrs["training_config"] = json.dumps({
                "loss": "binary_crossentropy", "metrics": ["accuracy"],
                "optimizer_config": optimizer}).encode("utf8")
        g = f.create_group("model_weights")
        g.attrs["backend"] = b"tensorflow"
        g.attrs["keras_version"] = b"2.4.0"
        specs = [spec for spec in layers if spec["class_name"] != "InputLayer"]
        lnames = [spec["config"]["name"] for spec in specs]
        g.attrs["layer_names"] = names_attr(lnames)
        for name, spec in zip(lnames, specs):
            lg = g.create_group(name)
            ws = weights.get(name, [])
            if isinstance(ws, dict):  # {weight name suffix: array}, for broken files
                wnames, ws = [f"{name}/{k}" for k in ws], list(ws.values())
            elif spec["class_name"] == "BatchNormalization":
                wnames = [f"{name}/{role}:0" for role in bn_roles(spec["config"])][:len(ws)]
            else:
                wnames = [f"{name}/kernel:0", f"{name}/bias:0"][:len(ws)]
            lg.attrs["weight_names"] = names_attr(wnames) if wnames else np.array([], dtype="S1")
            for wn, arr in zip(wnames, ws):
                lg.create_dataset(wn, data=arr)
        if opt_state:
            og = f.create_group("optimizer_weights")
            og.attrs["weight_names"] = names_attr(list(opt_state))
            for wn, arr in opt_state.items():
                og.create_dataset(wn, data=arr)


# --- PyTorch reference from the Keras config ---------------------------------------------
def torch_predict(layers, weights, x):
    """Forward pass of the Keras config with PyTorch ops in NCHW, float64."""
    t = torch.from_numpy(x.astype(np.float64)).permute(0, 3, 1, 2)
    acts = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
            "linear": lambda v: v, None: lambda v: v}

    def tf_pad(t, k, s):
        pads = []
        for dim, kk, ss in ((3, k[1], s[1]), (2, k[0], s[0])):
            n = t.shape[dim]
            total = max((-(-n // ss) - 1) * ss + kk - n, 0)
            pads += [total // 2, total - total // 2]
        return pads

    for spec in layers:
        cls, cfg = spec["class_name"], spec["config"]
        if cls == "Conv2D":
            ws = weights[cfg["name"]]
            k = torch.from_numpy(ws[0].astype(np.float64)).permute(3, 2, 0, 1)
            b = torch.from_numpy(ws[1].astype(np.float64)) if len(ws) > 1 else None
            if cfg["padding"] == "same":
                t = F.pad(t, tf_pad(t, cfg["kernel_size"], cfg["strides"]))
            t = acts[cfg["activation"]](F.conv2d(t, k, b, stride=tuple(cfg["strides"])))
        elif cls == "MaxPooling2D":
            if cfg["padding"] == "same":
                t = F.pad(t, tf_pad(t, cfg["pool_size"], cfg["strides"]), value=float("-inf"))
            t = F.max_pool2d(t, tuple(cfg["pool_size"]), tuple(cfg["strides"]))
        elif cls == "Flatten":
            t = t.permute(0, 2, 3, 1).reshape(t.shape[0], -1)  # Keras flattens (h, w, c)
        elif cls == "Dense":
            ws = weights[cfg["name"]]
            t = acts[cfg["activation"]](t @ torch.from_numpy(ws[0].astype(np.float64)) +
                                        torch.from_numpy(ws[1].astype(np.float64)))
        elif cls == "Activation":
            t = acts[cfg["activation"]](t)
        elif cls == "GlobalAveragePooling2D":
            t = t.mean(dim=(2, 3))
        elif cls == "BatchNormalization":  # inference: the moving statistics, over dim 1 (channels)
            w = dict(zip(bn_roles(cfg), (torch.from_numpy(a.astype(np.float64)) for a in weights[cfg["name"]])))
            t = F.batch_norm(t, w["moving_mean"], w["moving_variance"], w.get("gamma"), w.get("beta"),
                             training=False, eps=cfg["epsilon"])
    return t.numpy()


def expect_error(path, exc, words, what):
    try:
        pneumo.Model.from_keras_h5(path)
        check(False, f"{what}: refused")
    except exc as e:
        msg = str(e)
        check(all(w in msg for w in words), f"{what}: {type(e).__name__}: {msg}")


# The article's CNN (its notebook's layer names) at 100 x 100 to keep the test short.
ARTICLE = [conv("conv2d_3", 32), pool("max_pooling2d_3"), conv("conv2d_4", 32), pool("max_pooling2d_4"),
           conv("conv2d_5", 32), pool("max_pooling2d_5"), conv("conv2d_6", 64), pool("max_pooling2d_6"),
           conv("conv2d_7", 64), pool("max_pooling2d_7"), flatten("flatten_1"), dense("dense_2", 128),
           dense("dense_3", 64), dense("dense_4", 1, "sigmoid")]
# BatchNormalization as Keras writes it built ("axis": [3]) and unbuilt (-1), after a
# Conv2D without activation (which libpneumo folds at inference) and after
# MaxPooling2D (the compact network of pneumo-train --recipe best), without gamma,
# without beta, on the flat output of GlobalAveragePooling2D and of a Dense layer.
BNNET = [conv("conv2d_8", 8, activation="linear"), batchnorm("batch_normalization_7", axis=[3], momentum=0.9),
         activation("activation_2", "relu"), pool("max_pooling2d_9"),
         conv("conv2d_9", 12, use_bias=False), pool("max_pooling2d_10"),
         batchnorm("batch_normalization_8", center=False, epsilon=0.01),
         conv("conv2d_10", 10), batchnorm("batch_normalization_9", scale=False),
         gap("global_average_pooling2d_2"), batchnorm("batch_normalization_10", axis=[1], epsilon=1e-5),
         dropout("dropout_3", 0.3), dense("dense_5", 6, "tanh"), batchnorm("batch_normalization_11"),
         dense("dense_6", 1, "sigmoid")]
# Keras' fresh names and the other settings libpneumo has.
FRESH = [conv("conv2d", 6, k=4, s=2, padding="same", activation="tanh"),
         pool("max_pooling2d", p=3, s=2, padding="same"),
         conv("conv2d_1", 5, k=(3, 5), s=(1, 2), activation="linear", use_bias=False),
         activation("activation", "relu"), pool("max_pooling2d_1"), dropout("dropout", 0.3),
         flatten("flatten"), dense("dense", 12, "tanh"), dense("dense_1", 1, "linear"),
         activation("activation_1", "sigmoid")]

if "pneumo_model_import_keras_h5" in pneumo._lib.missing:
    print("FAIL the library lacks pneumo_model_import_keras_h5")
    sys.exit(1)

with tempfile.TemporaryDirectory() as tmp:
    probe = os.path.join(tmp, "probe.h5")
    write_h5(probe, [flatten("flatten"), dense("dense", 1, "sigmoid")], {"dense": [np.ones((4, 1), np.float32),
                                                                                  np.zeros(1, np.float32)]},
             input_shape=(2, 2, 1))
    try:
        pneumo.Model.from_keras_h5(probe)
    except pneumo.UnsupportedError as e:
        if "without HDF5" in str(e):
            print(f"skipped: {e}")
            sys.exit(77)
        raise

    # 1. the article's model with Adam and its state
    inp = (100, 100, 1)
    w_art = random_weights(ARTICLE, inp)
    adam_cfg = {"class_name": "Adam", "config": {"name": "Adam", "learning_rate": 0.0005, "decay": 0.0,
                                                 "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-06,
                                                 "amsgrad": False}}
    state = {"Adam/iter:0": np.array(37, dtype=np.int64)}
    for name, ws in w_art.items():
        for kind, arr in zip(("kernel", "bias"), ws):
            state[f"Adam/{name}/{kind}/m:0"] = rng.standard_normal(arr.shape).astype(np.float32) * 1e-3
            state[f"Adam/{name}/{kind}/v:0"] = np.abs(rng.standard_normal(arr.shape)).astype(np.float32) * 1e-6
    art = os.path.join(tmp, "cnn_pneu_vamp_model.h5")
    write_h5(art, ARTICLE, w_art, input_shape=inp, optimizer=adam_cfg, opt_state=state)
    m, opt = pneumo.Model.from_keras_h5(art)
    check(m.num_layers == 14 and m.count_params() == sum(a.size for ws in w_art.values() for a in ws),
          f"article: 14 layers, {m.count_params():,} parameters")
    check(m.input_shape == inp, f"article: input shape {m.input_shape}")
    x = rng.random((6, *inp), dtype=np.float32)
    got = m.predict(x)
    want = torch_predict(ARTICLE, w_art, x)
    err = float(np.abs(got - want).max())
    check(err <= TOL and float(want.max() - want.min()) > 1e-3,
          f"article: libpneumo vs PyTorch on the same weights: max |diff| {err:.2e} "
          f"(spread {float(want.max() - want.min()):.3f})")
    check(opt is not None and isinstance(opt, pneumo.Adam), f"article: optimizer {opt!r}")
    if opt is not None:
        check(opt.iterations == 37, f"article: Adam iterations {opt.iterations}")
        check(abs(opt.learning_rate - 0.0005) < 1e-9, f"article: learning rate {opt.learning_rate}")
        st = os.path.join(tmp, "article.safetensors")
        m.save(st, opt)
        meta, tensors = torch_load.read_safetensors(st)
        pairs = [("conv2d", "conv2d_3"), ("conv2d_4", "conv2d_7"), ("dense_2", "dense_4")]
        same = all(np.array_equal(tensors[f"optimizer/{s}/{ours}/{kind}"], state[f"Adam/{keras}/{kind}/{s}:0"])
                   for ours, keras in pairs for kind in ("kernel", "bias") for s in ("m", "v"))
        check(same, "article: Adam m and v of conv2d_3, conv2d_7, dense_4 land on libpneumo's "
                    "conv2d, conv2d_4, dense_2")
        cfg = json.loads(meta["optimizer"])
        check(abs(cfg["beta_1"] - 0.8) < 1e-7 and abs(cfg["beta_2"] - 0.99) < 1e-7 and
              abs(cfg["epsilon"] - 1e-6) < 1e-12, f"article: Adam settings {meta['optimizer']}")
    m2, opt2 = pneumo.Model.from_keras_h5(art)
    check(np.array_equal(m2.predict(x), got), "article: importing twice gives the same model")

    convert = os.environ.get("PNEUMO_CONVERT")
    if convert:
        out = os.path.join(tmp, "cli.safetensors")
        r = subprocess.run([convert, art, out], capture_output=True, text=True)
        check(r.returncode == 0 and "optimizer state" in r.stdout,
              f"pneumo-convert {os.path.basename(art)} -> safetensors: {r.stdout.strip()} {r.stderr.strip()}")
        if r.returncode == 0:
            mc, oc = pneumo.Model.load(out)
            check(np.array_equal(mc.predict(x), got) and oc is not None and oc.iterations == 37,
                  "pneumo-convert: the saved model predicts the same and keeps Adam's state")

    # 2. fresh names, 'same' padding, strides, no bias, Activation, Dropout; vlen strings,
    # float64 weights, the pre-2.2.5 bare layer list, SGD with momentum
    inp = (37, 41, 1)
    w_fresh = random_weights(FRESH, inp, dtype=np.float64)
    sgd_cfg = {"class_name": "SGD", "config": {"name": "SGD", "learning_rate": 0.01, "decay": 0.0,
                                               "momentum": 0.9, "nesterov": True}}
    sgd_state = {"SGD/iter:0": np.array(5, dtype=np.int64),
                 "SGD/dense/kernel/momentum:0": rng.standard_normal((w_fresh["dense"][0].shape)).astype(np.float32)}
    fresh = os.path.join(tmp, "fresh.h5")
    fresh_layers = [dict(FRESH[0], config=dict(FRESH[0]["config"], batch_input_shape=[None, *inp]))] + FRESH[1:]
    write_h5(fresh, fresh_layers, w_fresh, optimizer=sgd_cfg, opt_state=sgd_state, vlen=True, bare_list=True)
    m, opt = pneumo.Model.from_keras_h5(fresh)
    x = rng.random((5, *inp), dtype=np.float32)
    got, want = m.predict(x), torch_predict(FRESH, w_fresh, x)
    err = float(np.abs(got - want).max())
    check(err <= TOL and float(want.max() - want.min()) > 1e-3,
          f"fresh names: libpneumo vs PyTorch: max |diff| {err:.2e} (spread {float(want.max() - want.min()):.3f})")
    check(isinstance(opt, pneumo.SGD) and opt.iterations == 5, f"fresh names: SGD, iterations {opt and opt.iterations}")
    st = os.path.join(tmp, "fresh.safetensors")
    m.save(st, opt)
    meta, tensors = torch_load.read_safetensors(st)
    check(np.array_equal(tensors["optimizer/velocity/dense/kernel"], sgd_state["SGD/dense/kernel/momentum:0"]) and
          not tensors["optimizer/velocity/conv2d/kernel"].any() and
          not tensors["optimizer/velocity/dense_1/kernel"].any(),
          "fresh names: SGD momentum of 'dense' lands on libpneumo's dense, the rest stays zero")
    check(json.loads(meta["optimizer"]).get("nesterov") in (True, 1), f"fresh names: SGD {meta['optimizer']}")

    # 3. a file without training_config: no optimizer
    plain = os.path.join(tmp, "plain.h5")
    write_h5(plain, ARTICLE, w_art, input_shape=(100, 100, 1))
    m, opt = pneumo.Model.from_keras_h5(plain)
    check(opt is None and m.num_layers == 14, "no training_config: the model without an optimizer")

    # 4. BatchNormalization and GlobalAveragePooling2D, with Adam state on gamma and beta
    inp = (40, 44, 3)
    w_bn = random_weights(BNNET, inp)
    bn_state = {"Adam/iter:0": np.array(9, dtype=np.int64),
                "Adam/batch_normalization_7/gamma/m:0": rng.standard_normal(8).astype(np.float32),
                "Adam/batch_normalization_9/beta/v:0": np.abs(rng.standard_normal(10)).astype(np.float32)}
    bnf = os.path.join(tmp, "bn.h5")
    write_h5(bnf, BNNET, w_bn, input_shape=inp, optimizer=adam_cfg, opt_state=bn_state)
    m, opt = pneumo.Model.from_keras_h5(bnf)
    x = rng.random((7, *inp), dtype=np.float32)
    got, want = m.predict(x), torch_predict(BNNET, w_bn, x)
    err = float(np.abs(got - want).max())
    check(err <= TOL and float(want.max() - want.min()) > 1e-3,
          f"BatchNormalization + GlobalAveragePooling2D: libpneumo vs PyTorch: max |diff| {err:.2e} "
          f"(spread {float(want.max() - want.min()):.3f})")
    n_bn = sum(1 for spec in BNNET if spec["class_name"] == "BatchNormalization")
    check(m.num_layers == len(BNNET) and m.count_params() == sum(
        a.size for name, ws in w_bn.items() for a in ws[:len(ws) - 2 if name.startswith("batch") else None]),
          f"BatchNormalization: {m.num_layers} layers, {m.count_params():,} trainable parameters "
          f"(the moving statistics of {n_bn} layers are not)")
    st = os.path.join(tmp, "bn.safetensors")
    m.save(st, opt)
    meta, tensors = torch_load.read_safetensors(st)
    ours = [f"batch_normalization{'_' + str(i) if i else ''}" for i in range(n_bn)]
    keras = [spec["config"] for spec in BNNET if spec["class_name"] == "BatchNormalization"]
    same = all(np.array_equal(tensors[f"{o}/{role}"], w_bn[k["name"]][i])
               for o, k in zip(ours, keras) for i, role in enumerate(bn_roles(k)))
    absent = all((f"{o}/gamma" in tensors) == k["scale"] and (f"{o}/beta" in tensors) == k["center"]
                 for o, k in zip(ours, keras))
    check(same and absent, "BatchNormalization: gamma, beta, moving mean and variance land on libpneumo's "
                           "layers by position; no gamma without scale, no beta without center")
    arch = [a for a in json.loads(meta["architecture"])["layers"] if a["class"] == "BatchNormalization"]
    check([(np.float32(a["momentum"]), np.float32(a["epsilon"]), a["center"], a["scale"]) for a in arch] ==
          [(np.float32(k["momentum"]), np.float32(k["epsilon"]), k["center"], k["scale"]) for k in keras],
          f"BatchNormalization: momentum, epsilon, center, scale kept: {[(a['momentum'], a['epsilon']) for a in arch]}")
    check(opt is not None and
          np.array_equal(tensors["optimizer/m/batch_normalization/gamma"],
                         bn_state["Adam/batch_normalization_7/gamma/m:0"]) and
          np.array_equal(tensors["optimizer/v/batch_normalization_2/beta"],
                         bn_state["Adam/batch_normalization_9/beta/v:0"]) and
          not tensors["optimizer/m/batch_normalization_2/beta"].any(),
          "BatchNormalization: Adam state of gamma and beta lands on libpneumo's gamma and beta")
    mc, _ = pneumo.Model.load(st)
    check(np.array_equal(mc.predict(x), got), "BatchNormalization: the saved model predicts the same")
    if convert:
        out = os.path.join(tmp, "bn.onnx")
        r = subprocess.run([convert, bnf, out], capture_output=True, text=True)
        check(r.returncode == 0 and os.path.getsize(out) > 0,
              f"pneumo-convert bn.h5 -> ONNX: {r.stdout.strip()} {r.stderr.strip()}")

    # settings libpneumo cannot represent
    bad = os.path.join(tmp, "bad.h5")
    def bn_with(i, **cfg):
        layers = list(BNNET)
        layers[i] = dict(layers[i], config=dict(layers[i]["config"], **cfg))
        return layers
    for layers, words, what in (
            (bn_with(1, axis=[1]), ["batch_normalization_7", "axis 1", "(None, 38, 42, 8)", "channels axis"],
             "BatchNormalization over the rows"),
            (bn_with(1, axis=2), ["batch_normalization_7", "axis 2", "channels axis"],
             "BatchNormalization over the columns"),
            (bn_with(1, axis=[1, 2]), ["batch_normalization_7", "2 axes"], "BatchNormalization over two axes"),
            (bn_with(10, axis=3), ["batch_normalization_10", "axis 3", "(None, 10)", "-1 or 1"],
             "BatchNormalization of a flat tensor over axis 3"),
            (bn_with(1, renorm=True, renorm_clipping=None, renorm_momentum=0.99), ["batch_normalization_7", "renorm"],
             "BatchNormalization with renorm"),
            (bn_with(1, virtual_batch_size=4), ["batch_normalization_7", "virtual_batch_size"],
             "BatchNormalization with virtual_batch_size"),
            (bn_with(9, keepdims=True), ["global_average_pooling2d_2", "keepdims"],
             "GlobalAveragePooling2D with keepdims"),
            (bn_with(9, data_format="channels_first"), ["global_average_pooling2d_2", "channels_first"],
             "GlobalAveragePooling2D channels_first")):
        write_h5(bad, layers, w_bn, input_shape=inp)
        expect_error(bad, pneumo.UnsupportedError, words, what)
    for layers, words, what in (
            (bn_with(1, momentum=1.5), ["batch_normalization_7", "momentum", "[0, 1]"], "momentum 1.5"),
            (bn_with(1, epsilon=0.0), ["batch_normalization_7", "epsilon", "> 0"], "epsilon 0"),
            (bn_with(1, center="yes"), ["batch_normalization_7", "center"], "center not a boolean")):
        write_h5(bad, layers, w_bn, input_shape=inp)
        expect_error(bad, pneumo.FormatError, words, what)
    write_h5(bad, BNNET[:10] + [gap("global_average_pooling2d_3")] + BNNET[10:], w_bn, input_shape=inp)
    expect_error(bad, pneumo.ShapeError, ["global_average_pooling2d_3", "(None, 10)"],
                 "GlobalAveragePooling2D of a flat tensor")

    # hostile BatchNormalization weights: each refused naming the layer and the shape
    def bn_weights(name, **arrays):
        """w_bn with layer `name`'s weights replaced by {suffix: array}."""
        spec = next(sp["config"] for sp in BNNET if sp["config"]["name"] == name)
        ws = {f"{role}:0": a for role, a in zip(bn_roles(spec), w_bn[name])}
        for k, v in arrays.items():
            if v is None:
                ws.pop(k, None)
            else:
                ws[k] = v
        return dict(w_bn, **{name: ws})
    neg = w_bn["batch_normalization_8"][1].copy()
    neg[5] = -0.5
    nan = w_bn["batch_normalization_8"][1].copy()
    nan[0] = np.nan
    inf = w_bn["batch_normalization_8"][0].copy()
    inf[11] = np.inf
    for ws, exc, words, what in (
            (bn_weights("batch_normalization_8", **{"moving_variance:0": np.ones(11, np.float32)}),
             pneumo.FormatError, ["batch_normalization_8", "moving_variance:0", "(11,)", "(12,)"],
             "a moving variance of 11 values for 12 channels"),
            (bn_weights("batch_normalization_7", **{"gamma:0": np.ones((8, 1), np.float32)}),
             pneumo.FormatError, ["batch_normalization_7", "gamma:0", "(8, 1)", "(8,)"], "a 2-D gamma"),
            (bn_weights("batch_normalization_7", **{"beta:0": np.zeros((), np.float32)}),
             pneumo.FormatError, ["batch_normalization_7", "beta:0", "0 dimensions", "(8,)"], "a scalar beta"),
            (bn_weights("batch_normalization_8", **{"moving_variance:0": neg}),
             pneumo.FormatError, ["batch_normalization_8", "moving_variance:0", "(12,)", "-0.5", "[5]", ">= 0"],
             "a negative moving variance"),
            (bn_weights("batch_normalization_8", **{"moving_variance:0": nan}),
             pneumo.FormatError, ["batch_normalization_8", "moving_variance:0", "(12,)", "nan", "[0]"],
             "a NaN moving variance"),
            (bn_weights("batch_normalization_8", **{"moving_mean:0": inf}),
             pneumo.FormatError, ["batch_normalization_8", "moving_mean:0", "(12,)", "inf", "[11]", "finite"],
             "an infinite moving mean"),
            (bn_weights("batch_normalization_9", **{"moving_mean:0": None}),
             pneumo.FormatError, ["batch_normalization_9", "lack the moving_mean", "(10,)"], "no moving mean"),
            (bn_weights("batch_normalization_9", **{"gamma:0": np.ones(10, np.float32)}),
             pneumo.FormatError, ["batch_normalization_9", "gamma", "scale false"], "a gamma with scale false"),
            (bn_weights("batch_normalization_7", **{"renorm_mean:0": np.ones(8, np.float32)}),
             pneumo.UnsupportedError, ["batch_normalization_7", "renorm_mean:0", "moving_variance"],
             "an unknown BatchNormalization weight"),
            (bn_weights("batch_normalization_7", **{"moving_mean:0": np.ones(8, np.int32)}),
             pneumo.FormatError, ["batch_normalization_7", "moving_mean:0", "not floating point"],
             "integer moving mean")):
        write_h5(bad, BNNET, ws, input_shape=inp)
        expect_error(bad, exc, words, what)

    # 5. clear errors
    bad = os.path.join(tmp, "bad.h5")
    avg = {"class_name": "AveragePooling2D", "config": {"name": "average_pooling2d_1", "pool_size": [2, 2]}}
    write_h5(bad, ARTICLE[:2] + [avg] + ARTICLE[2:], w_art, input_shape=(100, 100, 1))
    expect_error(bad, pneumo.UnsupportedError, ["AveragePooling2D", "average_pooling2d_1"], "another layer type")
    write_h5(bad, [conv("conv2d_3", 32, data_format="channels_first")] + ARTICLE[1:], w_art,
             input_shape=(100, 100, 1))
    expect_error(bad, pneumo.UnsupportedError, ["channels_first", "conv2d_3"], "channels_first")
    write_h5(bad, ARTICLE, w_art, input_shape=(100, 100, 1), class_name="Functional")
    expect_error(bad, pneumo.UnsupportedError, ["Functional", "Sequential"], "a functional model")
    write_h5(bad, ARTICLE[:-1] + [dense("dense_4", 1, "softmax")], w_art, input_shape=(100, 100, 1))
    expect_error(bad, pneumo.UnsupportedError, ["softmax", "dense_4"], "an unsupported activation")
    wrong = dict(w_art, conv2d_4=[np.zeros((3, 3, 32, 31), np.float32), w_art["conv2d_4"][1]])
    write_h5(bad, ARTICLE, wrong, input_shape=(100, 100, 1))
    expect_error(bad, pneumo.FormatError, ["conv2d_4", "kernel:0", "31", "32"], "a kernel of the wrong shape")
    write_h5(bad, ARTICLE, {k: v for k, v in w_art.items() if k != "dense_3"}, input_shape=(100, 100, 1))
    expect_error(bad, pneumo.FormatError, ["dense_3", "kernel"], "missing weights")
    write_h5(bad, ARTICLE, w_art)
    expect_error(bad, pneumo.UnsupportedError, ["conv2d_3", "batch_input_shape"], "no input shape")
    with h5py.File(bad, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    expect_error(bad, pneumo.FormatError, ["model_config"], "an HDF5 file that is no Keras model")
    with open(bad, "wb") as f:
        f.write(b"not an hdf5 file at all, just text\n")
    expect_error(bad, pneumo.FormatError, ["not an HDF5 file"], "a text file")
    with open(art, "rb") as f:
        head = f.read(4096)
    with open(bad, "wb") as f:
        f.write(head)
    try:
        pneumo.Model.from_keras_h5(bad)
        check(False, "a truncated file is refused")
    except pneumo.PneumoError as e:
        check(isinstance(e, (pneumo.FormatError, pneumo.LimitError)) and bad in str(e),
              f"a truncated file: {type(e).__name__}: {e}")
    expect_error(os.path.join(tmp, "missing.h5"), pneumo.PneumoIOError, ["missing.h5"], "a missing file")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
