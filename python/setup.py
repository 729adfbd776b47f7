"""Build step of `pip install ./python` (pyproject.toml holds the metadata).

build_py compiles libpneumo from the repository around this folder with meson
and ninja (the library only: -Dtests=false -Dexamples=false) and puts it into
the package as pneumo/libpneumo.so.1, where pneumo._lib finds it. With
PNEUMO_BUNDLE_LIBRARY=/path/to/libpneumo.so.1 that file is bundled instead and
meson is not needed. The wheel is platform-specific (it holds a shared library)."""
import os
import shutil
import subprocess
import tempfile

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def build_library(workdir):
    """Configure and build libpneumo in workdir; returns the built file."""
    for tool in ("meson", "ninja"):
        if shutil.which(tool) is None:
            raise SystemExit(f"pneumo: building libpneumo needs {tool} (apt-get install meson ninja-build), "
                             "or set PNEUMO_BUNDLE_LIBRARY to a built libpneumo.so.1")
    if not os.path.exists(os.path.join(REPO, "meson.build")):
        raise SystemExit(f"pneumo: no libpneumo sources at {REPO} (install from the repository's python/ "
                         "folder, or set PNEUMO_BUNDLE_LIBRARY)")
    build = os.path.join(workdir, "build")
    subprocess.run(["meson", "setup", build, REPO, "-Dbuildtype=release", "-Dtests=false",
                    "-Dexamples=false"], check=True)
    subprocess.run(["ninja", "-C", build], check=True)
    return os.path.realpath(os.path.join(build, "lib", "libpneumo.so.1"))


class BuildWithLibrary(build_py):
    def run(self):
        build_py.run(self)
        dest = os.path.join(self.build_lib, "pneumo", "libpneumo.so.1")
        bundle = os.environ.get("PNEUMO_BUNDLE_LIBRARY")
        if bundle:
            shutil.copyfile(os.path.realpath(bundle), dest)
            return
        with tempfile.TemporaryDirectory(prefix="pneumo-build-") as tmp:
            shutil.copyfile(build_library(tmp), dest)


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
