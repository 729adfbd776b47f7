"""pneumo.Tensor: a dense float32 array of 1 to 4 dimensions owned by libpneumo,
or wrapping memory that Python owns (a NumPy array, an array.array('f'), a
bytearray) without copying.

Zero-copy rules:
  * Tensor.from_numpy(a) wraps a C-contiguous, float32, 4-byte-aligned array in
    place (pneumo_tensor_wrap): tensor.data_ptr == a.ctypes.data, and the tensor
    keeps a reference to `a` until the C tensor is destroyed. Any other dtype or
    memory order is converted with exactly one copy.
  * Tensor.numpy() returns that same array for a wrapped tensor, otherwise a view
    of the tensor's memory that keeps the tensor alive (close() then only frees
    the memory once the last view is gone).
Without NumPy, use Tensor(shape), Tensor.from_list(nested), Tensor.from_buffer(
array.array('f', ...), shape), .tolist(), .to_array() and .memoryview()."""
import array
import ctypes
from ctypes import byref, c_float, c_int64, c_void_p

from . import _lib as L
from . import _structs as S
from ._np import np
from .errors import InvalidArgumentError, StateError


def _shape_arg(shape):
    shape = tuple(int(d) for d in shape)
    if not 1 <= len(shape) <= S.MAX_DIMS:
        raise InvalidArgumentError(f"a tensor has 1 to {S.MAX_DIMS} dimensions, not {len(shape)} "
                                   f"(shape {shape})", S.ERR_INVALID_ARG)
    return shape, (c_int64 * len(shape))(*shape)


def _prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _flatten(obj, depth=0):
    """Nested lists/tuples of numbers -> (shape, flat list)."""
    if isinstance(obj, (list, tuple)):
        if not obj:
            raise InvalidArgumentError("empty list: every dimension must be >= 1", S.ERR_INVALID_ARG)
        parts = [_flatten(o, depth + 1) for o in obj]
        inner = parts[0][0]
        if any(p[0] != inner for p in parts):
            raise InvalidArgumentError("ragged nested list: all rows must have the same shape",
                                       S.ERR_INVALID_ARG)
        flat = []
        for p in parts:
            flat.extend(p[1])
        return (len(obj),) + inner, flat
    return (), [float(obj)]


class Tensor(L.Handle):
    """A libpneumo tensor. Tensor(shape) makes a zero-filled one."""

    _destroy = "pneumo_tensor_destroy"

    def __init__(self, shape):
        shape, cshape = _shape_arg(shape)
        out = c_void_p()
        L.call("pneumo_tensor_create", len(shape), cshape, byref(out))
        super().__init__(out.value)
        self._source = None
        self._readonly = False
        self._owner = None

    @classmethod
    def _adopt(cls, ptr, keep=None, source=None, owner=None, readonly=False):
        t = cls.__new__(cls)
        L.Handle.__init__(t, ptr, keep)
        t._source = source
        t._readonly = readonly
        t._owner = owner  # e.g. the Model whose parameters this tensor views
        return t

    # --- construction ------------------------------------------------------------
    @classmethod
    def from_numpy(cls, a, copy=False):
        """Tensor over the NumPy array `a`: no copy when `a` is float32,
        C-contiguous and aligned (and copy is False), else one converting copy."""
        if np is None:
            raise RuntimeError("NumPy is not available; use Tensor.from_list or from_buffer")
        a = np.asarray(a)
        if (copy or a.dtype != np.float32 or not a.flags.c_contiguous
                or a.ctypes.data % 4 != 0):
            a = np.array(a, dtype=np.float32, order="C", copy=True)
        shape, cshape = _shape_arg(a.shape)
        out = c_void_p()
        L.call("pneumo_tensor_wrap", len(shape), cshape, c_void_p(a.ctypes.data), a.size,
               byref(out))
        return cls._adopt(out.value, keep=a, source=a, readonly=not a.flags.writeable)

    @classmethod
    def from_buffer(cls, buf, shape):
        """Tensor over a writable buffer of float32 values (array.array('f'),
        bytearray, memoryview, ...) without copying; the tensor keeps `buf` alive
        (and, through the buffer export, an array.array cannot be resized
        meanwhile). A read-only buffer (bytes) is copied."""
        shape, cshape = _shape_arg(shape)
        mv = memoryview(buf)
        nbytes = _prod(shape) * 4
        if mv.nbytes != nbytes:
            raise InvalidArgumentError(f"buffer holds {mv.nbytes} bytes, shape {shape} needs "
                                       f"{nbytes} (float32)", S.ERR_INVALID_ARG)
        if mv.readonly or not mv.c_contiguous:
            t = cls(shape)
            ctypes.memmove(t.data_ptr, mv.tobytes(), nbytes)
            return t
        if mv.format not in ("f", "<f", "=f", "B", "b", "c"):
            raise InvalidArgumentError(f"buffer format {mv.format!r} is not float32",
                                       S.ERR_INVALID_ARG)
        raw = mv if (mv.ndim == 1 and mv.format == "B") else mv.cast("B")
        cbuf = (ctypes.c_char * nbytes).from_buffer(raw)
        if ctypes.addressof(cbuf) % 4:
            t = cls(shape)
            ctypes.memmove(t.data_ptr, cbuf, nbytes)
            return t
        out = c_void_p()
        L.call("pneumo_tensor_wrap", len(shape), cshape, c_void_p(ctypes.addressof(cbuf)),
               nbytes // 4, byref(out))
        return cls._adopt(out.value, keep=(cbuf, raw, mv, buf))

    @classmethod
    def from_list(cls, nested):
        """Tensor holding a copy of nested lists/tuples of numbers."""
        shape, flat = _flatten(nested)
        if not shape:
            shape = (1,)
        t = cls(shape)
        data = array.array("f", flat)
        ctypes.memmove(t.data_ptr, data.buffer_info()[0], len(data) * 4)
        return t

    @classmethod
    def from_any(cls, obj):
        """A Tensor for obj (returned as is if it already is one): NumPy arrays
        via from_numpy (zero copy when possible), nested lists via from_list."""
        if isinstance(obj, Tensor):
            return obj
        if np is not None and (isinstance(obj, np.ndarray) or hasattr(obj, "__array_interface__")):
            return cls.from_numpy(obj)
        if isinstance(obj, (list, tuple)):
            if np is not None:
                return cls.from_numpy(np.asarray(obj, dtype=np.float32))
            return cls.from_list(obj)
        raise TypeError(f"expected a Tensor, a NumPy array or nested lists, not "
                        f"{type(obj).__name__}")

    # --- properties ------------------------------------------------------------------
    @property
    def ndim(self):
        return L.lib.pneumo_tensor_ndim(self.handle)

    @property
    def shape(self):
        buf = (c_int64 * S.MAX_DIMS)()
        n = L.lib.pneumo_tensor_shape(self.handle, buf, S.MAX_DIMS)
        return tuple(buf[i] for i in range(n))

    def dim(self, axis):
        """Size of one axis (negative counts from the end)."""
        n = self.ndim
        if not -n <= axis < n:
            raise IndexError(f"axis {axis} out of range for a {n}-d tensor")
        return L.lib.pneumo_tensor_dim(self.handle, axis)

    @property
    def size(self):
        """Number of elements."""
        return L.lib.pneumo_tensor_numel(self.handle)

    @property
    def nbytes(self):
        return self.size * 4

    @property
    def data_ptr(self):
        """Address of the first float (pneumo_tensor_data)."""
        return L.lib.pneumo_tensor_data(self.handle)

    @property
    def readonly(self):
        return self._readonly

    def shape_str(self):
        """The library's shape text, e.g. '(2, 500, 500, 1)'."""
        return L.fetch_string("pneumo_tensor_shape_str", self.handle)

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        if self.closed:
            return "<pneumo.Tensor (closed)>"
        return f"<pneumo.Tensor shape={self.shape_str()}>"

    # --- data access -----------------------------------------------------------------
    def _carray(self):
        with self._lock:
            carr = (c_float * self.size).from_address(self.data_ptr)
            carr._pneumo_owner = self  # the view keeps the tensor (and its memory) alive
            self._export(carr)
        return carr

    def numpy(self, copy=False):
        """The data as a NumPy array of the tensor's shape: the wrapped array
        itself for Tensor.from_numpy, else a view of the tensor's memory (or a copy
        with copy=True)."""
        if np is None:
            raise RuntimeError("NumPy is not available; use tolist() or to_array()")
        if self._source is not None and not copy:
            return self._source
        shape = self.shape
        if copy:
            raw = ctypes.string_at(self.data_ptr, self.nbytes)
            return np.frombuffer(raw, dtype=np.float32).reshape(shape).copy()
        a = np.frombuffer(self._carray(), dtype=np.float32).reshape(shape)
        if self._readonly:
            a.flags.writeable = False
        return a

    def __array__(self, dtype=None, copy=None):
        a = self.numpy(copy=bool(copy))
        return a if dtype is None else a.astype(dtype)

    def memoryview(self):
        """A writable memoryview of the data (format 'f', the tensor's shape),
        keeping the tensor alive."""
        mv = memoryview(self._carray()).cast("B").cast("f", self.shape)
        return mv.toreadonly() if self._readonly else mv

    def to_array(self):
        """A copy of the data as a flat array.array('f')."""
        out = array.array("f")
        out.frombytes(ctypes.string_at(self.data_ptr, self.nbytes))
        return out

    def tolist(self):
        """A copy of the data as nested lists of Python floats."""
        flat = self.to_array().tolist()
        shape = self.shape
        for d in reversed(shape[1:]):
            flat = [flat[i:i + d] for i in range(0, len(flat), d)]
        return flat

    def clone(self):
        """A deep copy owning its data (pneumo_tensor_clone)."""
        out = c_void_p()
        L.call("pneumo_tensor_clone", self.handle, byref(out))
        return Tensor._adopt(out.value)

    def copy_from(self, src):
        """Copy the values of another tensor (or array) of the same shape into
        this one (ShapeError naming both shapes otherwise)."""
        if self._readonly:
            raise StateError("tensor wraps read-only memory", S.ERR_STATE)
        src = Tensor.from_any(src)
        L.call("pneumo_tensor_copy", self.handle, src.handle)
        return self


__all__ = ["Tensor"]
