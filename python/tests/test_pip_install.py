"""pip install ./python into a temporary prefix (offline, --no-build-isolation),
then import the installed package from there without PNEUMO_LIBRARY: it finds
its bundled libpneumo. Also builds a wheel. The library bundled is this
build's (PNEUMO_BUNDLE_LIBRARY = PNEUMO_LIBRARY), so no meson run is needed;
setup.py's meson path is exercised by `pip install ./python` by hand
(docs/python.md)."""
import glob
import os
import shutil
import subprocess
import sys
import unittest
import zipfile

import _support
from _support import PYTHON, tmpdir

PIP = [PYTHON, "-m", "pip"]


def have_pip():
    r = subprocess.run(PIP + ["--version"], capture_output=True)
    return r.returncode == 0


LIB = os.environ.get("PNEUMO_LIBRARY")


@unittest.skipUnless(have_pip(), "pip is missing (apt-get install python3-pip)")
@unittest.skipUnless(LIB, "PNEUMO_LIBRARY is not set (meson test sets it to this build's library)")
class PipInstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # a copy of python/ without tests: setuptools writes build/ and *.egg-info
        # next to the sources, which must not land in the repository
        cls.src = os.path.join(tmpdir("pip-src"), "python")
        shutil.copytree(_support.PYTHON_DIR, cls.src,
                        ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "*.egg-info",
                                                      "libpneumo.so*"))
        cls.env = {k: v for k, v in os.environ.items() if k != "PNEUMO_LIBRARY"}
        cls.env["PNEUMO_BUNDLE_LIBRARY"] = LIB
        cls.env["PIP_NO_INDEX"] = "1"
        cls.env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run_ok(self, cmd, **kw):
        r = subprocess.run(cmd, capture_output=True, text=True, env=kw.pop("env", self.env), **kw)
        self.assertEqual(r.returncode, 0, f"{' '.join(cmd)}:\n{r.stdout}\n{r.stderr}")
        return r

    def test_install_into_prefix_and_import(self):
        prefix = tmpdir("pip-prefix")
        self.run_ok(PIP + ["install", "--no-build-isolation", "--no-deps", "--prefix", prefix, self.src])
        inits = glob.glob(os.path.join(prefix, "**", "pneumo", "__init__.py"), recursive=True)
        self.assertEqual(len(inits), 1, inits)
        site = os.path.dirname(os.path.dirname(inits[0]))
        self.assertTrue(os.path.exists(os.path.join(site, "pneumo", "libpneumo.so.1")))
        env = dict(self.env, PYTHONPATH=site)
        env.pop("PNEUMO_BUNDLE_LIBRARY")
        cwd = tmpdir("pip-cwd")  # away from the source tree
        r = self.run_ok([PYTHON, "-c", "import pneumo, sys; print(pneumo.__file__); print(pneumo.library_path);"
                         "print(pneumo.library_source); m = pneumo.Model.article(100);"
                         "print(m.count_params())"], env=env, cwd=cwd)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith(site), lines)
        self.assertEqual(lines[1], os.path.join(site, "pneumo", "libpneumo.so.1"))
        self.assertEqual(lines[2], "next to the package")
        self.assertEqual(lines[3], "90881")
        r = self.run_ok([PYTHON, "-m", "pneumo", "--version"], env=env, cwd=cwd)
        self.assertIn("pneumo 0.2.0 (libpneumo 0.2.0 at " + site, r.stdout)
        # the console script and the diagnose command
        scripts = glob.glob(os.path.join(prefix, "**", "bin", "pneumo"), recursive=True)
        self.assertEqual(len(scripts), 1, scripts)
        model = os.path.join(cwd, "m.safetensors")
        image = os.path.join(cwd, "x.png")
        self.run_ok([PYTHON, "-c", "import pneumo, numpy as np; m = pneumo.Model.article(100, seed=2);"
                     f"m.save({model!r}); pneumo.Image.from_numpy((np.arange(10000) % 251)"
                     f".astype(np.uint8).reshape(100, 100)).save_png({image!r})"], env=env, cwd=cwd)
        r = self.run_ok([scripts[0], "diagnose", model, image], env=env, cwd=cwd)
        self.assertIn("percent confirmed that this is a", r.stdout)
        r = subprocess.run([PYTHON, "-m", "pneumo", "diagnose", model, os.path.join(cwd, "missing.png")],
                           capture_output=True, text=True, env=env, cwd=cwd)
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing.png", r.stderr)

    def test_wheel(self):
        out = tmpdir("pip-wheel")
        self.run_ok(PIP + ["wheel", "--no-build-isolation", "--no-deps", "-w", out, self.src])
        wheels = glob.glob(os.path.join(out, "pneumo-0.2.0-*.whl"))
        self.assertEqual(len(wheels), 1, os.listdir(out))
        self.assertNotIn("none-any", wheels[0])  # it carries a shared library
        names = zipfile.ZipFile(wheels[0]).namelist()
        self.assertIn("pneumo/libpneumo.so.1", names)
        self.assertIn("pneumo/keras.py", names)
        self.assertIn("pneumo/__main__.py", names)


if __name__ == "__main__":
    unittest.main()
