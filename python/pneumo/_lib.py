"""Finding and loading libpneumo, and the ctypes prototypes of its public API.

Search order (the first candidate that loads and exports pneumo_version wins):
  1. the PNEUMO_LIBRARY environment variable (a path to libpneumo.so[.0]); when it
     is set, nothing else is tried, so a wrong value is an error, not a fallback;
  2. the build tree: <repo>/build/lib/libpneumo.so.1 (the package lives in
     <repo>/python/pneumo), then any <repo>/build*/lib/libpneumo.so.1, newest first;
  3. next to the package (python/pneumo/libpneumo.so.1, for a bundled copy);
  4. the system: ctypes.util.find_library('pneumo').
If none loads, LibraryNotFoundError lists every candidate and why it failed."""
import ctypes
import ctypes.util
import glob
import os
import sys
import threading
import warnings
import weakref
from weakref import finalize as weakref_finalize

from . import _generated as G
from . import _structs as S
from .errors import (LibraryNotFoundError, StateError, UnsupportedError, VersionMismatchError,
                     error_class)

# Version of the C API this package was written against. The major number must
# match the library's, and while it is 0 the minor number too (each 0.x release
# may break the ABI, as 0.2 did: docs/abi.md); an older patch level only warns.
EXPECTED_VERSION = "0.2.0"

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_REPO_ROOT = os.path.dirname(os.path.dirname(_PKG_DIR))

if sys.platform == "darwin":
    _NAMES = ("libpneumo.1.dylib", "libpneumo.dylib")
elif sys.platform == "win32":
    _NAMES = ("pneumo-1.dll", "libpneumo-1.dll", "pneumo.dll")
else:
    _NAMES = ("libpneumo.so.1", "libpneumo.so")


def _candidates():
    """(description, path or None, reason if None) in search order; only
    PNEUMO_LIBRARY when it is set."""
    env = os.environ.get("PNEUMO_LIBRARY")
    if env:
        return [("PNEUMO_LIBRARY", env, None)]
    out = []
    seen = set()

    def add(kind, path):
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            out.append((kind, path, None))

    for name in _NAMES:
        add("build tree", os.path.join(_REPO_ROOT, "build", "lib", name))
    others = []
    for name in _NAMES:
        others += glob.glob(os.path.join(_REPO_ROOT, "build*", "lib", name))
    others.sort(key=lambda p: (-os.path.getmtime(p), p))
    if others:
        for p in others:
            add("build tree", p)
    else:
        out.append(("build tree", None, "no " + os.path.join(_REPO_ROOT, "build*", "lib", _NAMES[0])))
    for name in _NAMES:
        add("next to the package", os.path.join(_PKG_DIR, name))
    found = ctypes.util.find_library("pneumo")
    out.append(("system", found, None if found else "ctypes.util.find_library('pneumo') found nothing"))
    return out


def _load():
    attempts = []
    for kind, path, reason in _candidates():
        if path is None:
            attempts.append((kind, reason))
            continue
        where = f"{kind}: {path}"
        if os.sep in path and not os.path.exists(path):
            attempts.append((where, "no such file"))
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            attempts.append((where, str(e)))
            continue
        if not hasattr(lib, "pneumo_version"):
            attempts.append((where, "loaded, but it does not export pneumo_version (not libpneumo?)"))
            continue
        return lib, (os.path.abspath(path) if os.sep in path else path), kind
    lines = "\n".join(f"  - {where}: {why}" for where, why in attempts)
    raise LibraryNotFoundError(
        "cannot load libpneumo; tried:\n" + lines +
        "\nBuild it (meson setup build && ninja -C build) or set PNEUMO_LIBRARY to the "
        "path of libpneumo.so.1.", attempts)


lib, library_path, library_source = _load()

# --- prototypes -----------------------------------------------------------------
# Generated from the headers (pneumo/_generated.py); only the binding is here.
_PROTOTYPES = G.PROTOTYPES

missing = set()  # functions this (older) library lacks; calling them raises UnsupportedError
for _name, (_res, _args) in _PROTOTYPES.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        missing.add(_name)
        continue
    _fn.restype = _res
    _fn.argtypes = _args
if "pneumo_last_error" in missing or "pneumo_version" in missing:
    raise ImportError(f"{library_path} is not a usable libpneumo")

# --- version check --------------------------------------------------------------
version = lib.pneumo_version().decode()


def _parse(v):
    return tuple(int(x) for x in v.split(".")[:3])


def _abi(v):
    """The part of a version that must match: the major number, and the minor too
    while the major is 0."""
    return _parse(v)[:2] if _parse(v)[0] == 0 else _parse(v)[:1]


if _abi(version) != _abi(EXPECTED_VERSION):
    raise VersionMismatchError(
        f"{library_path} is libpneumo {version}, but this package needs major version "
        f"{_parse(EXPECTED_VERSION)[0]} ({EXPECTED_VERSION}"
        f"{', the same minor version while it is 0' if _parse(EXPECTED_VERSION)[0] == 0 else ''}); "
        "point PNEUMO_LIBRARY at a matching build")
if _parse(version) < _parse(EXPECTED_VERSION):
    warnings.warn(f"{library_path} is libpneumo {version}, older than the {EXPECTED_VERSION} "
                  "this package was written for", RuntimeWarning, stacklevel=2)


# --- helpers --------------------------------------------------------------------
def fsencode(path):
    """A path (str, bytes or os.PathLike) as bytes for a const char * argument."""
    return os.fsencode(os.fspath(path))


def text(b):
    """A const char * result as str (None stays None); paths keep undecodable bytes."""
    return None if b is None else os.fsdecode(b)


def last_error():
    """The calling thread's last libpneumo error message (empty if none)."""
    return text(lib.pneumo_last_error())


def raise_error(status, function=None):
    """Raise the exception for `status` with the library's message for this thread."""
    msg = last_error() or lib.pneumo_strerror(status).decode()
    raise error_class(status)(msg, status, function)


def check(status, function=None):
    """Raise if a pneumo_status is not PNEUMO_OK."""
    if status != S.OK:
        raise_error(status, function)


def call(name, *args):
    """Call lib.<name>(*args) and raise on a non-OK status."""
    if name in missing:
        raise UnsupportedError(f"{name} is not in {library_path} (libpneumo {version} is older "
                               "than this package)", S.ERR_UNSUPPORTED, name)
    status = getattr(lib, name)(*args)
    if status != S.OK:
        raise_error(status, name)
    return status


def fetch_bytes(fn, *args, _extra=()):
    """Call a function returning text the library's way (..., buf, size,
    size_t *needed[, extra...]) twice: once to size the buffer, once to fill
    it. Returns the bytes."""
    needed = ctypes.c_size_t(0)
    call(fn, *args, None, 0, ctypes.byref(needed), *_extra)
    buf = ctypes.create_string_buffer(needed.value + 1)
    call(fn, *args, buf, len(buf), ctypes.byref(needed), *_extra)
    return buf.raw[:needed.value]


def fetch_string(fn, *args, _extra=()):
    """fetch_bytes() decoded as UTF-8."""
    return fetch_bytes(fn, *args, _extra=_extra).decode("utf-8", "replace")


class Handle:
    """Base of every object owning a libpneumo handle.

    Cleanup is deterministic and happens exactly once: close() (or leaving a
    `with` block) detaches the weakref.finalize finalizer and calls the C destroy
    function itself; if close() is never called, the finalizer runs when the
    object is garbage collected (or at interpreter exit). Because
    weakref.finalize.detach() is atomic, a handle can never be freed twice, even
    when close() races with garbage collection.

    `keep` holds Python objects the C object borrows memory from (e.g. a NumPy
    array wrapped by a tensor); they are released only after the C object is
    destroyed. Conversely, when Python objects still borrow the C object's memory
    (NumPy views from Tensor.numpy() or Image.numpy(), parameter views of a
    model), close() marks the object closed at once but leaves the actual free to
    the finalizer, which runs when the last borrower is gone: no view ever points
    to freed memory."""

    _destroy = None  # name of the C destroy function

    def __init__(self, ptr, keep=None):
        self._ptr = ptr
        self._lock = threading.RLock()
        self._exports = []  # weak references to borrowers (ctypes arrays are unhashable)
        self._finalizer = weakref_finalize(self, _destroy_handle, self._destroy, ptr, keep)

    @property
    def closed(self):
        return self._ptr is None

    @property
    def handle(self):
        """The raw C pointer as an int (raises StateError if closed)."""
        p = self._ptr
        if p is None:
            raise StateError(f"{type(self).__name__} is closed", S.ERR_STATE)
        return p

    def _export(self, obj):
        """Record a Python object that borrows this object's memory; it must keep
        `self` alive (hold a strong reference to it)."""
        self._exports = [r for r in self._exports if r() is not None]
        self._exports.append(weakref.ref(obj))

    def _borrowers(self):
        return [o for o in (r() for r in self._exports) if o is not None]

    def _borrowed(self):
        for obj in self._borrowers():
            fin = getattr(obj, "_finalizer", None)
            if fin is None or fin.alive:
                return True
        return False

    def _before_close(self):
        """Hook: close dependent objects (e.g. parameter views of a model)."""
        for obj in self._borrowers():
            if isinstance(obj, Handle):
                obj.close()

    def close(self):
        """Free the C object now (or, if NumPy views of its memory still exist, as
        soon as the last of them is gone). Safe to call more than once."""
        with self._lock:
            if self._ptr is None:
                return
            self._before_close()
            self._ptr = None
            if self._borrowed():
                return  # the finalizer frees it when the last borrower dies
            detached = self._finalizer.detach()
        if detached is not None:
            _, func, args, _ = detached
            func(*args)

    def __enter__(self):
        return self

    # Copying the Python object would share (and later dangle) the C handle.
    def __copy__(self):
        raise TypeError(f"pneumo.{type(self).__name__} owns a C object and cannot be copied "
                        "(Tensor.clone(), Model.save()/load() make real copies)")

    def __deepcopy__(self, memo):
        return self.__copy__()

    def __reduce__(self):
        raise TypeError(f"pneumo.{type(self).__name__} owns a C object and cannot be pickled")

    def __exit__(self, *exc):
        self.close()
        return False


def _destroy_handle(destroy_name, ptr, keep):
    getattr(lib, destroy_name)(ptr)
    del keep  # released after the C object that borrowed from it
