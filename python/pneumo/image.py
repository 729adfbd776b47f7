"""pneumo.Image (8-bit grayscale pictures: decode JPEG/PNG with PIL's rules,
resize, write PNG) and Keras ImageDataGenerator augmentation.

Option structs are built from Python keywords:
  decode_limits(max_side=..., max_pixels=..., max_file_bytes=...)
  augment_options('default' | 'article', shear_range=..., zoom_range=0.2, ...)
Unknown keywords raise TypeError; the library validates the values."""
import array
import ctypes
from ctypes import byref, c_float, c_uint8, c_void_p

from . import _lib as L
from . import _structs as S
from ._np import np
from .errors import InvalidArgumentError


def decode_limits(limits=None, **kw):
    """A pneumo_decode_limits struct: the library defaults, then `limits` (a dict,
    or an existing DecodeLimits) and keywords."""
    if isinstance(limits, S.DecodeLimits) and not kw:
        return limits
    out = S.DecodeLimits()
    L.lib.pneumo_decode_default_limits(byref(out))
    _update(out, dict(limits or {}, **kw), "decode limit")
    return out


def _update(struct, values, what):
    names = {n for n, _ in struct._fields_ if not n.startswith("reserved")}
    for k, v in values.items():
        if k not in names:
            raise TypeError(f"unknown {what} {k!r}; known: {', '.join(sorted(names))}")
        setattr(struct, k, v)


def augment_options(preset="default", **kw):
    """A pneumo_augment_options struct. preset 'default' (no augmentation,
    rescale 1/255: the article's validation generator), 'article' (its training
    generator: shear 0.2, zoom 0.2, horizontal flip) or an AugmentOptions/dict to
    start from. Keywords set fields by their C names; in addition
    zoom_range=z means zoom_lo, zoom_hi = 1 - z, 1 + z (Keras),
    brightness_range=(lo, hi), contrast_range=(lo, hi) (PIL contrast factor),
    gamma_range=(lo, hi), crop_lo=s (random crops of side s..1 of each axis;
    the field of that name), and fill_mode may be a name ('nearest',
    'constant', 'reflect', 'wrap'). Validated by the library."""
    out = S.AugmentOptions()
    if isinstance(preset, S.AugmentOptions):
        ctypes.memmove(byref(out), byref(preset), ctypes.sizeof(out))
    elif isinstance(preset, dict):
        L.lib.pneumo_augment_default_options(byref(out))
        kw = dict(preset, **kw)
    elif preset in ("default", None, False):
        L.lib.pneumo_augment_default_options(byref(out))
    elif preset in ("article", True):
        L.lib.pneumo_augment_article_options(byref(out))
    else:
        raise ValueError(f"augment preset must be 'default', 'article', a dict or "
                         f"AugmentOptions, not {preset!r}")
    kw = dict(kw)
    if "zoom_range" in kw:
        z = kw.pop("zoom_range")
        if isinstance(z, (tuple, list)):
            out.zoom_lo, out.zoom_hi = z
        else:
            out.zoom_lo, out.zoom_hi = 1.0 - z, 1.0 + z
    if "brightness_range" in kw:
        b = kw.pop("brightness_range")
        out.brightness_lo, out.brightness_hi = b if b else (0.0, 0.0)
    for name in ("contrast", "gamma"):
        if f"{name}_range" in kw:
            r = kw.pop(f"{name}_range")
            lo, hi = r if r else (0.0, 0.0)
            setattr(out, f"{name}_lo", lo)
            setattr(out, f"{name}_hi", hi)
    if isinstance(kw.get("fill_mode"), str):
        kw["fill_mode"] = S.FILL_MODES[kw["fill_mode"]]
    for flag in ("horizontal_flip", "vertical_flip", "brightness_stretch"):
        if flag in kw:
            kw[flag] = int(bool(kw[flag]))
    if kw.get("rescale") is None and "rescale" in kw:
        kw["rescale"] = 0.0
    _update(out, kw, "augment option")
    L.call("pneumo_augment_validate_options", byref(out))
    return out


def _params_dict(p):
    d = p.to_dict()
    d["flip_h"] = bool(d["flip_h"])
    d["flip_v"] = bool(d["flip_v"])
    return d


def _float_result(buf, height, width):
    if np is not None:
        return np.frombuffer(buf, dtype=np.float32).reshape(height, width)
    out = array.array("f")
    out.frombytes(bytes(buf))
    return out


class Image(L.Handle):
    """An 8-bit grayscale image owned by libpneumo. Image(width, height) is black."""

    _destroy = "pneumo_image_destroy"

    def __init__(self, width, height):
        out = c_void_p()
        L.call("pneumo_image_create", int(width), int(height), byref(out))
        super().__init__(out.value)

    @classmethod
    def _adopt(cls, ptr):
        img = cls.__new__(cls)
        L.Handle.__init__(img, ptr)
        return img

    @classmethod
    def load(cls, path, limits=None):
        """Decode a JPEG, PNG or DICOM file to grayscale (JPEG and PNG as PIL's
        convert('L') does, DICOM as docs/dicom.md says).
        Errors name the file (PneumoIOError, FormatError, LimitError, ...)."""
        out = c_void_p()
        lim = decode_limits(limits) if limits is not None else None
        L.call("pneumo_image_load", L.fsencode(path), byref(lim) if lim else None, byref(out))
        return cls._adopt(out.value)

    @classmethod
    def decode(cls, data, label=None, limits=None):
        """Decode JPEG, PNG or DICOM bytes; `label` names the data in error messages."""
        data = bytes(data)
        out = c_void_p()
        lim = decode_limits(limits) if limits is not None else None
        L.call("pneumo_image_decode", data, len(data),
               label.encode() if label is not None else None,
               byref(lim) if lim else None, byref(out))
        return cls._adopt(out.value)

    @classmethod
    def from_bytes(cls, pixels, width, height):
        """An image holding a copy of width*height 8-bit pixels, row-major."""
        pixels = memoryview(pixels).cast("B")
        if pixels.nbytes != width * height:
            raise InvalidArgumentError(f"{pixels.nbytes} bytes for a {width}x{height} image "
                                       f"(needs {width * height})", S.ERR_INVALID_ARG)
        img = cls(width, height)
        ctypes.memmove(L.lib.pneumo_image_pixels_mut(img.handle), pixels.tobytes(),
                       width * height)
        return img

    @classmethod
    def from_numpy(cls, a):
        """An image holding a copy of a (height, width) or (height, width, 1) array;
        uint8 values are taken as they are, floats are clipped to 0..255 and
        rounded."""
        if np is None:
            raise RuntimeError("NumPy is not available; use Image.from_bytes")
        a = np.asarray(a)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.ndim != 2:
            raise InvalidArgumentError(f"an image array is (height, width), not {a.shape}",
                                       S.ERR_INVALID_ARG)
        if a.dtype != np.uint8:
            a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return cls.from_bytes(np.ascontiguousarray(a).tobytes(), a.shape[1], a.shape[0])

    @property
    def width(self):
        return L.lib.pneumo_image_width(self.handle)

    @property
    def height(self):
        return L.lib.pneumo_image_height(self.handle)

    @property
    def size(self):
        """(width, height), like PIL."""
        return self.width, self.height

    def __repr__(self):
        if self.closed:
            return "<pneumo.Image (closed)>"
        return f"<pneumo.Image {self.width}x{self.height} L>"

    def tobytes(self):
        """A copy of the pixels (width*height bytes, row-major)."""
        return ctypes.string_at(L.lib.pneumo_image_pixels(self.handle), self.width * self.height)

    def numpy(self, copy=False):
        """The pixels as a (height, width) uint8 array: a writable view that keeps
        the image alive, or a copy."""
        if np is None:
            raise RuntimeError("NumPy is not available; use tobytes()")
        h, w = self.height, self.width
        if copy:
            return np.frombuffer(self.tobytes(), dtype=np.uint8).reshape(h, w).copy()
        with self._lock:
            carr = (c_uint8 * (w * h)).from_address(L.lib.pneumo_image_pixels_mut(self.handle))
            carr._pneumo_owner = self
            self._export(carr)
        return np.frombuffer(carr, dtype=np.uint8).reshape(h, w)

    def resize(self, width, height, resample="nearest"):
        """A new image resized like PIL's Image.resize ('nearest' or 'bilinear')."""
        out = c_void_p()
        L.call("pneumo_image_resize", self.handle, int(width), int(height),
               S.RESAMPLES[resample], byref(out))
        return Image._adopt(out.value)

    def save_png(self, path):
        """Write an 8-bit grayscale PNG atomically."""
        L.call("pneumo_image_save_png", self.handle, L.fsencode(path))

    def encode_png(self):
        """The PNG file as bytes."""
        data, size = c_void_p(), ctypes.c_size_t()
        L.call("pneumo_image_encode_png", self.handle, byref(data), byref(size))
        try:
            return ctypes.string_at(data.value, size.value)
        finally:
            L.lib.pneumo_free(data)

    def augment(self, options="article", seed=0, epoch=0, index=0, params=None):
        """Augment (Keras ImageDataGenerator) and rescale: returns (values, params)
        where values is a (height, width) float32 array (array.array without
        NumPy) and params the drawn transformation as a dict. With `params` (a
        dict as returned) the given transformation is applied instead of a
        random one."""
        opts = augment_options(options) if not isinstance(options, S.AugmentOptions) else options
        w, h = self.width, self.height
        dst = (c_float * (w * h))()
        p = S.AugmentParams()
        if params is None:
            L.call("pneumo_augment_image", byref(opts), int(seed), int(epoch), int(index),
                   L.lib.pneumo_image_pixels(self.handle), w * h, w, h, dst, w * h, byref(p))
        else:
            L.lib.pneumo_augment_identity_params(byref(p))
            _update(p, {k: (int(v) if k in ("flip_h", "flip_v") else v)
                        for k, v in params.items()}, "augment parameter")
            L.call("pneumo_augment_apply", byref(opts), byref(p),
                   L.lib.pneumo_image_pixels(self.handle), w * h, w, h, dst, w * h)
        return _float_result(dst, h, w), _params_dict(p)


def draw_augment_params(options="article", seed=0, epoch=0, index=0, width=500, height=500):
    """The transformation Keras' get_random_transform would draw for image `index`
    of `epoch` under `seed` (pneumo_augment_draw), as a dict."""
    opts = augment_options(options) if not isinstance(options, S.AugmentOptions) else options
    p = S.AugmentParams()
    L.call("pneumo_augment_draw", byref(opts), int(seed), int(epoch), int(index), int(width),
           int(height), byref(p))
    return _params_dict(p)


def identity_augment_params():
    """The do-nothing transformation (pneumo_augment_identity_params) as a dict."""
    p = S.AugmentParams()
    L.lib.pneumo_augment_identity_params(byref(p))
    return _params_dict(p)


__all__ = ["Image", "decode_limits", "augment_options", "draw_augment_params",
           "identity_augment_params"]
