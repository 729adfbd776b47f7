"""pneumo.Dataset: image folders (Keras flow_from_directory, grayscale, binary
labels) or file lists, decoded by libpneumo's threaded, prefetching, caching
pipeline.

Batches: Dataset.batches(batch_size, epoch) yields (x, y) with x of shape
(n, height, width, 1) and y of shape (n,), float32. The library reuses its batch
buffers for the next batch, so every batch handed to Python is a COPY: NumPy
arrays when NumPy is available, else Tensors owning their data. A dataset is used
by one thread at a time (the wrapper serialises calls with a lock); its worker
threads are internal."""
import array
import ctypes
from ctypes import byref, c_double, c_int32, c_int64, c_void_p

from . import _lib as L
from . import _structs as S
from ._np import np
from .errors import InvalidArgumentError
from .image import augment_options, decode_limits
from .tensor import Tensor

_DEFAULT = object()


def _size_arg(size):
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def dataset_options(size=(500, 500), augment=False, shuffle=True, seed=0, threads=0,
                    cache_bytes=None, strict=False, resample="nearest", prefetch_batches=None,
                    rescale=_DEFAULT, limits=None):
    """A pneumo_dataset_options struct from keywords (see Dataset.from_directory)."""
    o = S.DatasetOptions()
    L.lib.pneumo_dataset_default_options(byref(o))
    o.height, o.width = _size_arg(size)
    o.resample = S.RESAMPLES[resample]
    o.shuffle = int(bool(shuffle))
    o.seed = int(seed)
    if augment is False or augment is None:
        o.augment = 0
        aug = augment_options("default")
    else:
        o.augment = 1
        aug = augment_options(augment)
    if rescale is not _DEFAULT:
        aug.rescale = 0.0 if rescale is None else float(rescale)
    # the struct keeps the pointed-to options alive (ctypes _objects)
    o.augment_options = ctypes.pointer(aug)
    o.strict = int(bool(strict))
    o.threads = int(threads)
    if cache_bytes is not None:
        o.cache_bytes = int(cache_bytes)
    if prefetch_batches is not None:
        o.prefetch_batches = int(prefetch_batches)
    if limits is not None:
        o.limits = ctypes.pointer(decode_limits(limits))
    return o


_SPLIT_GROUPS = {"none": S.SPLIT_GROUP_NONE, "patient": S.SPLIT_GROUP_PATIENT}


def patient_id(path):
    """The patient key of a chest X-ray file name: 'person12' for
    'person12_virus_3.jpeg', 'IM-0115' for 'IM-0115-0001.jpeg', 'NORMAL2-IM-1427'
    for 'NORMAL2-IM-1427-0001.jpeg'; any other name is its own patient (its
    whole base name)."""
    return L.text(L.fetch_bytes("pneumo_patient_id", L.fsencode(path)))


def _copy_batch_tensor(ptr, as_numpy):
    """Copy a dataset-owned tensor (valid only until the next batch)."""
    if as_numpy:
        shape_buf = (c_int64 * S.MAX_DIMS)()
        nd = L.lib.pneumo_tensor_shape(ptr, shape_buf, S.MAX_DIMS)
        shape = tuple(shape_buf[i] for i in range(nd))
        n = L.lib.pneumo_tensor_numel(ptr)
        raw = ctypes.string_at(L.lib.pneumo_tensor_data_const(ptr), n * 4)
        return np.frombuffer(raw, dtype=np.float32).reshape(shape).copy()
    out = c_void_p()
    L.call("pneumo_tensor_clone", ptr, byref(out))
    return Tensor._adopt(out.value)


class Dataset(L.Handle):
    """A labelled image dataset. Create with Dataset.from_directory(...) or
    Dataset.from_files(...)."""

    _destroy = "pneumo_dataset_destroy"

    @classmethod
    def _adopt(cls, ptr, options):
        ds = cls.__new__(cls)
        L.Handle.__init__(ds, ptr)
        ds._size = (options.height, options.width)
        return ds

    @classmethod
    def from_directory(cls, directory, size=(500, 500), augment=False, shuffle=True, seed=0,
                       threads=0, cache_bytes=None, strict=False, resample="nearest",
                       prefetch_batches=None, rescale=_DEFAULT, limits=None):
        """Open a folder with one sub-folder per class (sorted names give labels
        0..K-1: Normal = 0, Opacity = 1 for the article).

        size: (height, width) like Keras' target_size, or an int; augment: False,
        True or 'article' (the article's training generator), 'default', a dict of
        augment_options() keywords or an AugmentOptions struct; shuffle: new order
        each epoch from (seed, epoch); threads: worker threads (0 = cores);
        cache_bytes: decoded-image cache (None = library default 2 GiB, 0 = off);
        strict: fail on the first unreadable image instead of skipping it;
        rescale: multiply pixels (default 1/255, None = off); limits: decode
        limits dict."""
        o = dataset_options(size, augment, shuffle, seed, threads, cache_bytes, strict,
                            resample, prefetch_batches, rescale, limits)
        out = c_void_p()
        L.call("pneumo_dataset_open_dir", L.fsencode(directory), byref(o), byref(out))
        return cls._adopt(out.value, o)

    @classmethod
    def from_files(cls, paths, labels, num_classes=None, class_names=None, size=(500, 500),
                   augment=False, shuffle=False, seed=0, threads=0, cache_bytes=None,
                   strict=False, resample="nearest", prefetch_batches=None, rescale=_DEFAULT,
                   limits=None):
        """Open the caller's own index: image paths[i] has label labels[i]
        (0..num_classes-1; num_classes defaults to max(labels) + 1, or to
        len(class_names)). Order is the caller's (shuffle defaults to False here).
        Other arguments as from_directory."""
        paths = [L.fsencode(p) for p in paths]
        labels = [int(v) for v in labels]
        if len(paths) != len(labels):
            raise InvalidArgumentError(f"{len(paths)} paths but {len(labels)} labels",
                                       S.ERR_INVALID_ARG)
        if num_classes is None:
            num_classes = len(class_names) if class_names else (max(labels) + 1 if labels else 1)
        cpaths = (ctypes.c_char_p * len(paths))(*paths)
        clabels = (c_int32 * len(labels))(*labels)
        cnames = None
        if class_names is not None:
            cnames = (ctypes.c_char_p * len(class_names))(*(str(n).encode() for n in class_names))
        o = dataset_options(size, augment, shuffle, seed, threads, cache_bytes, strict,
                            resample, prefetch_batches, rescale, limits)
        out = c_void_p()
        L.call("pneumo_dataset_open_files", cpaths, clabels, len(paths), int(num_classes), cnames,
               byref(o), byref(out))
        return cls._adopt(out.value, o)

    @classmethod
    def split_directory(cls, directory, val_fraction=0.2, group="patient", split_seed=0,
                        val=None, **kw):
        """Open a class-folder directory as (train, val): val holds about
        val_fraction of every class, train the rest, and with group='patient'
        (default; 'none' splits single images) all images of one patient
        (patient_id() of the file name) are on the same side. The split depends
        only on split_seed and the file names. kw are from_directory's keywords
        for train; val is a dict of overrides for the validation side, which
        defaults to the same settings without augmentation and shuffling."""
        if group not in _SPLIT_GROUPS:
            raise InvalidArgumentError(f"group {group!r} is not one of {sorted(_SPLIT_GROUPS)}",
                                       S.ERR_INVALID_ARG)
        s = S.SplitOptions()
        L.lib.pneumo_split_default_options(byref(s))
        s.group = _SPLIT_GROUPS[group]
        s.val_fraction = float(val_fraction)
        s.seed = int(split_seed)
        vkw = dict(kw, augment=False, shuffle=False)
        vkw.update(val or {})
        to = dataset_options(**kw)
        vo = dataset_options(**vkw)
        tout, vout = c_void_p(), c_void_p()
        L.call("pneumo_dataset_open_split", L.fsencode(directory), byref(s), byref(to), byref(vo),
               byref(tout), byref(vout))
        return cls._adopt(tout.value, to), cls._adopt(vout.value, vo)

    # --- facts ---------------------------------------------------------------------
    def __len__(self):
        return L.lib.pneumo_dataset_size(self.handle)

    @property
    def num_classes(self):
        return L.lib.pneumo_dataset_num_classes(self.handle)

    @property
    def class_names(self):
        return [L.text(L.fetch_bytes("pneumo_dataset_class_name", self.handle, k))
                for k in range(self.num_classes)]

    @property
    def class_counts(self):
        return [L.lib.pneumo_dataset_class_count(self.handle, k) for k in range(self.num_classes)]

    @property
    def class_indices(self):
        """Keras' {class name: label}."""
        return {name: k for k, name in enumerate(self.class_names)}

    def class_weights(self):
        """sklearn compute_class_weight('balanced') as Keras' class_weight dict
        {label: weight}; StateError if a class has no image."""
        k = self.num_classes
        w = (c_double * k)()
        L.call("pneumo_dataset_class_weights", self.handle, w, k)
        return {i: w[i] for i in range(k)}

    def path(self, index):
        if not 0 <= int(index) < len(self):
            raise IndexError(f"dataset index {index} out of range (size {len(self)})")
        return L.text(L.fetch_bytes("pneumo_dataset_path", self.handle, int(index)))

    def label(self, index):
        v = L.lib.pneumo_dataset_label(self.handle, int(index))
        if v < 0:
            raise IndexError(f"dataset index {index} out of range (size {len(self)})")
        return v

    @property
    def paths(self):
        return [self.path(i) for i in range(len(self))]

    @property
    def labels(self):
        return [self.label(i) for i in range(len(self))]

    @property
    def skipped(self):
        """Files left out at open, as 'path: reason' strings."""
        h = self.handle
        return [L.text(L.fetch_bytes("pneumo_dataset_skipped", h, i))
                for i in range(L.lib.pneumo_dataset_num_skipped(h))]

    def report(self):
        """Keras' 'Found 4176 images belonging to 2 classes.' (plus a line about
        skipped files, if any)."""
        return L.fetch_string("pneumo_dataset_report", self.handle)

    def num_batches(self, batch_size):
        """ceil(len / batch_size)."""
        return L.lib.pneumo_dataset_num_batches(self.handle, int(batch_size))

    def __repr__(self):
        if self.closed:
            return "<pneumo.Dataset (closed)>"
        return f"<pneumo.Dataset {len(self)} images, classes {self.class_names}>"

    # --- data ------------------------------------------------------------------------
    def batches(self, batch_size=16, epoch=0, as_numpy=None, with_indices=False):
        """Iterate over the batches of `epoch`: (x, y) or, with with_indices,
        (x, y, indices). Copies (see the module docs): NumPy arrays when available
        (as_numpy=None) or asked for, else Tensors. Starting another iteration
        (or fit/evaluate) on this dataset abandons the current one."""
        if as_numpy is None:
            as_numpy = np is not None
        if as_numpy and np is None:
            raise RuntimeError("NumPy is not available")
        with self._lock:
            L.call("pneumo_dataset_begin_epoch", self.handle, int(epoch), int(batch_size))
        return self._iterate(as_numpy, with_indices)

    def _iterate(self, as_numpy, with_indices):
        while True:
            with self._lock:
                x, y = c_void_p(), c_void_p()
                idx = ctypes.POINTER(c_int64)()
                L.call("pneumo_dataset_next_batch", self.handle, byref(x), byref(y), byref(idx))
                if not x.value:
                    return
                bx = _copy_batch_tensor(x.value, as_numpy)
                by = _copy_batch_tensor(y.value, as_numpy)
                if with_indices:
                    n = L.lib.pneumo_tensor_dim(y.value, 0)
                    ind = [idx[i] for i in range(n)]
                    if as_numpy:
                        ind = np.array(ind, dtype=np.int64)
            yield (bx, by, ind) if with_indices else (bx, by)

    def __iter__(self):
        return iter(self.batches())

    def load_sample(self, index):
        """Image `index` as the pipeline sees it without augmentation: a (height,
        width) float32 array (array.array('f') of height*width values without
        NumPy)."""
        o_h, o_w = self.image_size
        if np is not None:
            out = np.empty((o_h, o_w), dtype=np.float32)
            addr = out.ctypes.data
        else:
            out = array.array("f", bytes(4 * o_h * o_w))
            addr = out.buffer_info()[0]
        with self._lock:
            L.call("pneumo_dataset_load_sample", self.handle, int(index), c_void_p(addr),
                   o_h * o_w)
        return out

    @property
    def image_size(self):
        """(height, width) of the images the dataset produces."""
        return self._size


__all__ = ["Dataset", "dataset_options"]
