"""Loading the library, version checks, the module-level functions."""
import os
import shutil
import subprocess
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import PYTHON, PYTHON_DIR, tmpdir

import pneumo


def _run(code, env=None, cwd=None, path=PYTHON_DIR):
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["PYTHONPATH"] = path
    full_env["PYTHONDONTWRITEBYTECODE"] = "1"
    for k in [k for k, v in full_env.items() if v is None]:
        del full_env[k]
    return subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=full_env,
                          cwd=cwd or tmpdir("run"), timeout=60)


class LibraryTest(unittest.TestCase):
    def test_version_matches_library(self):
        self.assertEqual(pneumo.__version__, pneumo.version())
        major, minor, patch = (int(v) for v in pneumo.__version__.split("."))
        self.assertEqual(pneumo.version_number(), major * 10000 + minor * 100 + patch)
        self.assertEqual(major, int(pneumo.EXPECTED_VERSION.split(".")[0]))

    def test_library_path(self):
        self.assertTrue(os.path.exists(pneumo.library_path), pneumo.library_path)
        if os.environ.get("PNEUMO_LIBRARY"):
            self.assertEqual(pneumo.library_source, "PNEUMO_LIBRARY")
            self.assertEqual(os.path.realpath(pneumo.library_path),
                             os.path.realpath(os.environ["PNEUMO_LIBRARY"]))

    def test_kernel_isa(self):
        self.assertIn(pneumo.kernel_isa(), ("avx512", "avx2", "scalar"))

    def test_strerror(self):
        self.assertEqual(pneumo.strerror(0), "success")
        self.assertEqual(pneumo.strerror(2), pneumo.strerror(pneumo.ShapeError.status))
        self.assertEqual(pneumo.strerror(12345), "unknown status")

    def test_last_error_and_clear(self):
        with self.assertRaises(pneumo.InvalidArgumentError) as cm:
            pneumo.Model(0, 10, 1)
        self.assertEqual(pneumo.last_error(), cm.exception.message)
        self.assertEqual(pneumo.last_status(), pneumo.InvalidArgumentError.status)
        pneumo.clear_error()
        self.assertEqual(pneumo.last_error(), "")
        self.assertEqual(pneumo.last_status(), 0)

    def test_bad_pneumo_library_is_reported(self):
        r = _run("import pneumo", env={"PNEUMO_LIBRARY": "/nonexistent/libpneumo.so.0"})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("LibraryNotFoundError", r.stderr)
        self.assertIn("PNEUMO_LIBRARY: /nonexistent/libpneumo.so.0: no such file", r.stderr)

    def test_not_a_library_is_reported(self):
        d = tmpdir("notlib")
        fake = os.path.join(d, "libpneumo.so.0")
        with open(fake, "w") as f:
            f.write("not an ELF file\n")
        r = _run("import pneumo", env={"PNEUMO_LIBRARY": fake})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(fake, r.stderr)

    def test_search_lists_every_place(self):
        # A copy of the package outside the repository, no PNEUMO_LIBRARY, and a
        # find_library that finds nothing: the error lists every candidate.
        d = tmpdir("pkgcopy")
        shutil.copytree(os.path.join(PYTHON_DIR, "pneumo"), os.path.join(d, "pkg", "pneumo"))
        code = ("import ctypes.util; ctypes.util.find_library = lambda name: None\n"
                "import pneumo")
        env = dict(os.environ)
        env.pop("PNEUMO_LIBRARY", None)
        env["PYTHONPATH"] = os.path.join(d, "pkg")
        r = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=env,
                           cwd=d, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot load libpneumo; tried:", r.stderr)
        self.assertIn("build tree", r.stderr)
        self.assertIn("next to the package", r.stderr)
        self.assertIn("find_library('pneumo') found nothing", r.stderr)

    def test_library_next_to_the_package(self):
        d = tmpdir("bundled")
        pkg = os.path.join(d, "pkg", "pneumo")
        shutil.copytree(os.path.join(PYTHON_DIR, "pneumo"), pkg)
        shutil.copy(pneumo.library_path, os.path.join(pkg, "libpneumo.so.0"))
        env = dict(os.environ)
        env.pop("PNEUMO_LIBRARY", None)
        env["PYTHONPATH"] = os.path.join(d, "pkg")
        r = subprocess.run([PYTHON, "-c", "import pneumo; print(pneumo.library_source); "
                            "print(pneumo.library_path)"], capture_output=True, text=True,
                           env=env, cwd=d, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split("\n")[:2],
                         ["next to the package", os.path.join(pkg, "libpneumo.so.0")])

    def test_major_version_mismatch_refuses_to_import(self):
        d = tmpdir("mismatch")
        pkg = os.path.join(d, "pneumo")
        shutil.copytree(os.path.join(PYTHON_DIR, "pneumo"), pkg)
        path = os.path.join(pkg, "_lib.py")
        with open(path) as f:
            src = f.read()
        with open(path, "w") as f:
            f.write(src.replace(f'EXPECTED_VERSION = "{pneumo.EXPECTED_VERSION}"',
                                'EXPECTED_VERSION = "99.0.0"'))
        env = {"PNEUMO_LIBRARY": pneumo.library_path}
        r = _run("import pneumo", env=env, path=d)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("VersionMismatchError", r.stderr)
        self.assertIn("needs major version 99", r.stderr)

    def test_every_public_function_has_a_prototype(self):
        # every PNEUMO_API function in the headers is bound
        import glob
        import re
        from pneumo import _lib
        names = set()
        for h in glob.glob(os.path.join(_support.REPO, "include", "pneumo", "*.h")):
            with open(h) as f:
                names |= set(re.findall(r"PNEUMO_API[^;(]*?\b(pneumo_\w+)\s*\(", f.read()))
        self.assertGreater(len(names), 100)
        self.assertEqual(names - set(_lib._PROTOTYPES), set())

    def test_all_exports_exist(self):
        for name in pneumo.__all__:
            self.assertTrue(hasattr(pneumo, name), name)

    def test_structs_mirror_every_prototype(self):
        # every exported function of the C library has a prototype in _lib
        from pneumo import _lib
        self.assertGreater(len(_lib._PROTOTYPES), 100)
        self.assertEqual(_lib.missing, set())
        for name in _lib._PROTOTYPES:
            self.assertIsNotNone(getattr(_lib.lib, name).argtypes, name)


if __name__ == "__main__":
    unittest.main()
