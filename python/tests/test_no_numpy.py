"""The package imports and works without NumPy.

A subprocess makes `import numpy` fail (sys.modules['numpy'] = None), then runs
a scripted workflow checking the non-NumPy return types, and the main test
modules again (their NumPy-only tests skip themselves)."""
import os
import subprocess
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import HERE, PYTHON, PYTHON_DIR

BLOCK = "import sys; sys.modules['numpy'] = None\n"

SCRIPT = BLOCK + r'''
import array, os, sys
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])
try:
    import numpy
except ImportError:
    pass
else:
    raise SystemExit("numpy was importable")
import _support, pneumo
assert pneumo.HAVE_NUMPY is False
assert _support.np is None

m = _support.small_model()
x, y = _support.random_batch(3, 32)          # nested lists
p = m.predict(x)
assert isinstance(p, list) and len(p) == 3 and isinstance(p[0][0], float), p
t = pneumo.Tensor.from_list(x)
assert m.predict(t) == p
try:
    t.numpy()
except RuntimeError:
    pass
else:
    raise SystemExit("Tensor.numpy() worked without numpy")
r = m.train_step(t, y)
assert r["batch_size"] == 3
w = m.get_weights()
assert isinstance(w[0], list)
m.set_weights(w)

root = _support.synthetic_dataset(per_class=(4, 6), size=32)
ds = pneumo.Dataset.from_directory(os.path.join(root, "train"), size=32, shuffle=False)
bx, by = next(iter(ds.batches(4)))
assert isinstance(bx, pneumo.Tensor) and bx.shape == (4, 32, 32, 1)
s = ds.load_sample(0)
assert isinstance(s, array.array) and len(s) == 32 * 32
h = m.fit(ds, ds, epochs=1, batch_size=4)
ev = m.evaluate(ds)
assert isinstance(ev["probs"], array.array) and len(ev["probs"]) == 10
assert pneumo.confusion_matrix(ev["probs"], ev["labels"]) == ev["confusion_matrix"]
img = pneumo.Image.load(ds.path(0))
vals, params = img.augment("article", seed=1)
assert isinstance(vals, array.array)
prob, label, sentence = m.diagnose(ds.path(0))
assert sentence.startswith("I am ")
for o in (img, ds, m, t, bx, by, h):
    o.close()
print("no-numpy OK")
'''

MODULES = ["test_tensor", "test_model", "test_dataset", "test_fit", "test_optim_metrics",
           "test_image", "test_errors"]

RUN_TESTS = BLOCK + r'''
import sys, unittest
sys.path.insert(0, sys.argv[1])
suite = unittest.defaultTestLoader.loadTestsFromNames(sys.argv[2:])
result = unittest.TextTestRunner(stream=sys.stdout, verbosity=1).run(suite)
print("skipped:", len(result.skipped))
sys.exit(0 if result.wasSuccessful() else 1)
'''


class NoNumpyTest(unittest.TestCase):
    def run_py(self, code, *args):
        return subprocess.run([PYTHON, "-c", code, *args], capture_output=True, text=True,
                              timeout=180, cwd=HERE, env=dict(os.environ))

    def test_workflow_without_numpy(self):
        r = self.run_py(SCRIPT, PYTHON_DIR, HERE)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("no-numpy OK", r.stdout)

    def test_suite_without_numpy(self):
        r = self.run_py(RUN_TESTS, HERE, *MODULES)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("OK", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
