"""Shared helpers for the pneumo package tests (stdlib unittest only).

Environment (set by tests/meson.build; the tests also run by hand):
  PNEUMO_LIBRARY          libpneumo.so to test (else the package's own search)
  PNEUMO_LAYOUT_PROGRAM   tests/python_layout built by meson (layout test)
  PNEUMO_DIAGNOSE         examples/pneumo-diagnose (C-vs-Python predictions)
  PNEUMO_SYNTH            examples/pneumo-synth (synthetic images)
Tests needing a program that is not available are skipped, with the reason."""
import atexit
import os
import random
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(PYTHON_DIR)
if PYTHON_DIR not in sys.path:
    sys.path.insert(0, PYTHON_DIR)

import pneumo  # noqa: E402

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

_tmp_root = tempfile.mkdtemp(prefix="pneumo-pytest-")
atexit.register(shutil.rmtree, _tmp_root, True)


def tmpdir(name):
    """A fresh directory under the session's temporary root."""
    path = tempfile.mkdtemp(prefix=name + "-", dir=_tmp_root)
    return path


def program(var):
    """Path of a program named by an environment variable, or None."""
    p = os.environ.get(var)
    return p if p and os.access(p, os.X_OK) else None


def rss_bytes():
    """Resident set size of this process (from /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def make_image(label, size, rng):
    """An 8-bit grayscale picture: class 1 has a bright disc, class 0 does not."""
    cx, cy = rng.randrange(size // 4, 3 * size // 4), rng.randrange(size // 4, 3 * size // 4)
    r2 = (size // 5) ** 2
    px = bytearray(size * size)
    base = rng.randrange(40, 90)
    for y in range(size):
        row = y * size
        for x in range(size):
            v = base + (x * 60) // size + rng.randrange(0, 20)
            if label == 1 and (x - cx) ** 2 + (y - cy) ** 2 < r2:
                v += 110
            px[row + x] = min(v, 255)
    return pneumo.Image.from_bytes(bytes(px), size, size)


_datasets = {}


def synthetic_dataset(per_class=(6, 6), size=32, seed=1, splits=("train", "val")):
    """DIR with DIR/<split>/{Normal,Opacity}/img_NNN.png written by the library's
    PNG writer (pneumo_image_save_png via pneumo.Image.save_png). Cached."""
    key = (tuple(per_class), size, seed, tuple(splits))
    if key in _datasets:
        return _datasets[key]
    root = tmpdir("synth")
    rng = random.Random(seed)
    for split in splits:
        for label, name in enumerate(("Normal", "Opacity")):
            d = os.path.join(root, split, name)
            os.makedirs(d)
            for i in range(per_class[label]):
                with make_image(label, size, rng) as img:
                    img.save_png(os.path.join(d, f"img_{i:03d}.png"))
    _datasets[key] = root
    return root


def small_model(size=32, seed=1, dropout=False):
    """A fast binary classifier for size x size x 1 inputs."""
    m = pneumo.Model(size, size, 1, seed=seed)
    m.add_conv2d(4, 3, activation="relu").add_maxpool2d(2)
    m.add_flatten().add_dense(8, activation="relu")
    if dropout:
        m.add_dropout(0.25)
    m.add_dense(1, activation="sigmoid")
    m.threads = 1
    return m


def random_batch(n, size, seed=0, channels=1):
    """(x, y) with x of shape (n, size, size, channels) in [0, 1) and labels 0/1."""
    if np is not None:
        rng = np.random.default_rng(seed)
        x = rng.random((n, size, size, channels), dtype=np.float32)
        y = (np.arange(n) % 2).astype(np.float32)
        return x, y
    rng = random.Random(seed)
    x = [[[[rng.random() for _ in range(channels)] for _ in range(size)] for _ in range(size)]
         for _ in range(n)]
    return x, [float(i % 2) for i in range(n)]
