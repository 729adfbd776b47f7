#!/usr/bin/python3
"""ONNX export: the exported graph passes onnx.checker (Debian python3-onnx) and,
run in ONNX Runtime (npm onnxruntime-node, tests/onnx_run.js), gives libpneumo's
predictions within 1e-5 on real chest X-rays, for NHWC and NCHW inputs, opsets
13 and 17, a symbolic and a fixed batch, the article's CNN, a model with
'same' padding, strides, tanh, Dropout and stand-alone activations, the
'compact' network of pneumo-train --recipe best (BatchNormalization,
GlobalAveragePooling2D) and BatchNormalization without scale or center and on
a flat tensor, and the compact network with a temperature (the graph divides
the logit by it: ONNX Runtime gives predict's calibrated probability). The
BatchNormalization initializers are the model file's moving
statistics, gamma and beta, none of them at its initial value. The model card
travels in metadata_props.

Usage: check_onnx.py PYTHON_PACKAGE_DIR
Environment: PNEUMO_LIBRARY (the library), PNEUMO_SHARED_DATA (the shared data
folder), PNEUMO_ONNXRUNTIME_NODE (the node_modules folder holding
onnxruntime-node; .ci/install-onnxruntime-node installs it), PNEUMO_CONVERT
(pneumo-convert, optional: then the program is checked too).
Exits 77 (meson's "skipped") with a message when NumPy, python3-onnx, node,
onnxruntime-node or the X-rays are missing."""
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:
    print(f"skipped: {e} (install python3-numpy python3-onnx)")
    sys.exit(77)

sys.path.insert(0, sys.argv[1])
import pneumo  # noqa: E402

try:  # onnx >= 1.13: a second, independent runtime
    from onnx.reference import ReferenceEvaluator
except ImportError:
    ReferenceEvaluator = None
    print(f"note: onnx {onnx.__version__} has no onnx.reference; ONNX Runtime alone runs the graphs")

TOL = 1e-5
HERE = os.path.dirname(os.path.abspath(__file__))
data = os.environ.get("PNEUMO_SHARED_DATA", os.path.join(HERE, "..", "..", "shared", "data"))
ort_modules = os.environ.get("PNEUMO_ONNXRUNTIME_NODE", "")
node = shutil.which("node")
if not node:
    print("skipped: no node (install nodejs, then .ci/install-onnxruntime-node)")
    sys.exit(77)
if not ort_modules or not os.path.isdir(os.path.join(ort_modules, "onnxruntime-node")):
    print(f"skipped: onnxruntime-node is not installed under {ort_modules!r} "
          "(run .ci/install-onnxruntime-node BUILDDIR)")
    sys.exit(77)
normal = sorted(glob.glob(os.path.join(data, "chest_xray_224", "test_dev", "Normal", "*.jpeg")))[:6]
opacity = sorted(glob.glob(os.path.join(data, "chest_xray_224", "test_dev", "Opacity", "*.jpeg")))[:6]
if len(normal) < 6 or len(opacity) < 6:
    print(f"skipped: no chest X-rays under {data}/chest_xray_224/test_dev (see ../shared/data/README.md)")
    sys.exit(77)

files = normal + opacity
images = [pneumo.Image.load(f) for f in files]
# the model card's preprocessing: pixel * (float)(1/255), as predict_image computes it
x = np.stack([im.numpy().astype(np.float32) * np.float32(1.0 / 255.0) for im in images])[..., None]
y = np.array([0] * len(normal) + [1] * len(opacity), dtype=np.float32)
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run_ort(path, inp, tmp):
    src, dst = os.path.join(tmp, "in.f32"), os.path.join(tmp, "out.f32")
    np.ascontiguousarray(inp, dtype="<f4").tofile(src)
    env = dict(os.environ, NODE_PATH=ort_modules)
    r = subprocess.run([node, os.path.join(HERE, "onnx_run.js"), path, src,
                        ",".join(str(d) for d in inp.shape), dst],
                       env=env, capture_output=True, text=True, timeout=240)
    if r.returncode != 0:
        raise RuntimeError(f"onnx_run.js failed: {r.stderr.strip()}")
    info = json.loads(r.stdout)
    return np.fromfile(dst, dtype="<f4").reshape(info["dims"]), info


def trained(model):
    """A few Adam steps on the X-rays so that predictions spread out from 0.5."""
    for _ in range(4):
        model.train_step(x, y)
    return model


def article():
    m = trained(pneumo.Model.article(224, seed=7))
    m.class_names = ["Normal", "Opacity"]
    m.threshold = 0.375
    return m


def odd():
    m = pneumo.Model(224, 224, 1, seed=11)
    m.add_conv2d(8, kernel_size=4, strides=2, padding="same", activation="tanh")
    m.add_maxpool2d(pool_size=3, strides=2, padding="same")
    m.add_conv2d(6, kernel_size=(3, 5), strides=(1, 2), padding="valid")
    m.add_activation("relu")
    m.add_maxpool2d(pool_size=2, padding="valid")
    m.add_dropout(0.25)
    m.add_flatten()
    m.add_dense(16, activation="tanh")
    m.add_dense(1)
    m.add_activation("sigmoid")
    return trained(m)


def shuffled_affine(m, seed):
    """gamma and beta away from 1 and 0 (a few Adam steps barely move them), so
    that swapping any two of gamma, beta, mean and variance changes the output."""
    rng = np.random.default_rng(seed)
    for i, pname in enumerate(m.param_names):
        if pname.endswith("/gamma") or pname.endswith("/beta"):
            with m.param(i) as t:
                v = t.numpy(copy=True)
                lo, hi = (0.2, 0.6) if pname.endswith("/gamma") else (-0.3, 0.3)
                t.copy_from(v + rng.uniform(lo, hi, v.shape).astype(np.float32))
    return m


def compact():
    """pneumo-train --recipe best's network (examples/train_recipe.c, create_compact)."""
    m = pneumo.Model(224, 224, 1, seed=5)
    for filters in (32, 64, 96, 128, 192):
        m.add_conv2d(filters, kernel_size=3, activation="relu")
        m.add_maxpool2d()
        m.add_batchnorm(momentum=0.9)
    m.add_global_avgpool2d()
    m.add_dropout(0.3)
    m.add_dense(1, activation="sigmoid")
    return shuffled_affine(trained(m), 3)


def compact_calibrated():
    """The compact network with a temperature in its model card (--recipe best fits one)."""
    m = compact()
    m.temperature = 1.7
    return m


def bn_variants():
    """BatchNormalization without gamma, without beta, with other epsilons and on
    flat tensors (after GlobalAveragePooling2D and after a Dense layer)."""
    m = pneumo.Model(224, 224, 1, seed=13)
    m.add_conv2d(8, kernel_size=5, strides=4, activation="relu")
    m.add_batchnorm(momentum=0.5, epsilon=0.01, scale=False)
    m.add_maxpool2d(pool_size=4)
    m.add_conv2d(12, kernel_size=3, activation="relu")
    m.add_batchnorm(momentum=0.5, center=False)
    m.add_global_avgpool2d()
    m.add_batchnorm(momentum=0.5, epsilon=1e-5)
    m.add_dense(4, activation="tanh")
    m.add_batchnorm(momentum=0.5)
    m.add_dense(1, activation="sigmoid")
    return shuffled_affine(trained(m), 4)


def safetensors(path):
    """{name: float32 array} of a safetensors file (its format: an 8-byte
    header length, a JSON header, the data)."""
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    head = json.loads(blob[8:8 + n])
    out = {}
    for key, v in head.items():
        if key != "__metadata__" and v["dtype"] == "F32":
            a, b = v["data_offsets"]
            out[key] = np.frombuffer(blob[8 + n + a:8 + n + b], "<f4").reshape(v["shape"])
    return out


def check_bn_initializers(name, m, proto, tmp):
    """Every BatchNormalization node reads (X, gamma, beta, moving mean,
    moving variance) in that order, holding the model file's values."""
    path = os.path.join(tmp, name + "-bn.safetensors")
    m.save(path)
    stored = safetensors(path)
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    nodes = [n for n in proto.graph.node if n.op_type == "BatchNormalization"]
    want_nodes = sum(1 for k in stored if k.endswith("/moving_mean"))
    check(len(nodes) == want_nodes > 0, f"{name}: {len(nodes)} BatchNormalization nodes ({want_nodes} layers)")
    for node in nodes:
        layer = node.input[3].rsplit("/", 1)[0]
        roles = ("gamma", "beta", "moving_mean", "moving_variance")
        check([i.rsplit("/", 1)[-1] for i in node.input[1:]] == list(roles),
              f"{name}: {layer}: inputs {list(node.input[1:])}")
        c = inits[node.input[3]].shape[0]
        ok, moved = True, True
        for role, inp in zip(roles, node.input[1:]):
            want_v = stored.get(f"{layer}/{role}")
            if want_v is None:  # scale=False / center=False: constant 1 / 0
                want_v = np.full(c, 1.0 if role == "gamma" else 0.0, np.float32)
            else:
                moved = moved and not np.all(want_v == (1.0 if role in ("gamma", "moving_variance") else 0.0))
            ok = ok and inits[inp].shape == (c,) and np.array_equal(inits[inp], want_v)
        eps = {a.name: a.f for a in node.attribute}.get("epsilon")
        check(ok and moved, f"{name}: {layer}: gamma, beta, mean, variance are the file's (all moved), "
              f"epsilon {eps}")


with tempfile.TemporaryDirectory() as tmp:
    for name, make in (("article", article), ("odd", odd), ("compact", compact),
                       ("compact-calibrated", compact_calibrated), ("bn-variants", bn_variants)):
        m = make()
        want = m.predict(x)
        spread = float(want.max() - want.min())
        check(spread > 1e-3, f"{name}: libpneumo's predictions vary over the X-rays (spread {spread:.4f})")
        for layout, opset, batch in (("NHWC", 13, None), ("NCHW", 13, None), ("NHWC", 17, len(files)),
                                     ("NCHW", 17, None)):
            what = f"{name} {layout} opset {opset} batch {batch or 'N'}"
            path = os.path.join(tmp, f"{name}-{layout}-{opset}.onnx")
            m.export_onnx(path, layout=layout, opset=opset, batch=batch)
            proto = onnx.load(path)
            try:
                onnx.checker.check_model(proto, full_check=True)
                check(True, f"{what}: onnx.checker (full_check) accepts it")
            except onnx.checker.ValidationError as e:
                check(False, f"{what}: onnx.checker: {e}")
            check(proto.opset_import[0].version == opset, f"{what}: opset_import {opset}")
            if layout == "NHWC" and opset == 13 and name in ("compact", "bn-variants"):
                check_bn_initializers(name, m, proto, tmp)
            divs = [n for n in proto.graph.node if n.op_type == "Div"]
            if m.temperature != 1.0:
                inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
                check(len(divs) == 1 and [n.op_type for n in proto.graph.node[-2:]] == ["Div", "Sigmoid"] and
                      inits[divs[0].input[1]].tolist() == [np.float32(m.temperature)],
                      f"{what}: the head divides by the temperature {m.temperature:g} before its Sigmoid")
            else:
                check(not divs, f"{what}: no temperature node at T = 1")
            meta = {p.key: p.value for p in proto.metadata_props}
            check(json.loads(meta["class_names"]) == m.class_names,
                  f"{what}: metadata class_names {meta['class_names']}")
            check(float(meta["threshold"]) == m.threshold, f"{what}: metadata threshold {meta['threshold']}")
            pre, want_pre = json.loads(meta["preprocessing"]), dict(m.preprocessing)
            # the card holds a float32; JSON carries its shortest decimal form
            pre["rescale"], want_pre["rescale"] = np.float32(pre["rescale"]), np.float32(want_pre["rescale"])
            check(pre == want_pre,
                  f"{what}: metadata preprocessing {meta['preprocessing']}")
            check(meta["input_layout"] == layout, f"{what}: metadata input_layout {meta['input_layout']}")
            card = json.loads(meta["model_card"])
            check(card["threshold"] == m.threshold and card["class_names"] == m.class_names,
                  f"{what}: metadata model_card")
            dims = [d.dim_value or d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
            want_dims = [batch or "N"] + ([224, 224, 1] if layout == "NHWC" else [1, 224, 224])
            check(dims == want_dims, f"{what}: input dims {dims}")
            inp = x if layout == "NHWC" else x.transpose(0, 3, 1, 2)
            got, info = run_ort(path, inp, tmp)
            err = float(np.abs(got - want).max())
            check(got.shape == want.shape and err <= TOL,
                  f"{what}: ONNX Runtime {info['onnxruntime']} vs libpneumo on {len(files)} X-rays: "
                  f"max |diff| {err:.2e} (<= {TOL:g})")
            if ReferenceEvaluator is not None:
                ref = ReferenceEvaluator(proto).run(None, {"input": inp})[0]
                err = float(np.abs(ref - want).max())
                check(err <= TOL, f"{what}: onnx.reference vs libpneumo: max |diff| {err:.2e}")
            if layout == "NHWC" and opset == 13 and name == "article":
                blob = m.export_onnx(None, layout=layout, opset=opset, batch=batch)
                check(blob == open(path, "rb").read(), f"{what}: export_onnx to memory gives the file's bytes")
        convert = os.environ.get("PNEUMO_CONVERT")
        if convert:
            st, onx = os.path.join(tmp, name + ".safetensors"), os.path.join(tmp, name + "-cli.onnx")
            m.save(st)
            r = subprocess.run([convert, "--nchw", st, onx], capture_output=True, text=True)
            check(r.returncode == 0, f"{name}: pneumo-convert --nchw {r.stdout.strip()} {r.stderr.strip()}")
            got, _ = run_ort(onx, x.transpose(0, 3, 1, 2), tmp)
            err = float(np.abs(got - want).max())
            check(err <= TOL, f"{name}: pneumo-convert's ONNX in ONNX Runtime: max |diff| {err:.2e}")

    m = pneumo.Model(32, 32, 1)
    try:
        m.export_onnx(os.path.join(tmp, "empty.onnx"))
        check(False, "an empty model is refused")
    except pneumo.StateError as e:
        check("no layers" in str(e), f"an empty model is refused: {e}")
    m.add_flatten()
    try:
        m.export_onnx(os.path.join(tmp, "x.onnx"), opset=12)
        check(False, "opset 12 is refused")
    except pneumo.InvalidArgumentError as e:
        check("opset 12" in str(e), f"opset 12 is refused: {e}")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
