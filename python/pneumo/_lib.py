"""Finding and loading libpneumo, and the ctypes prototypes of its public API.

Search order (the first candidate that loads and exports pneumo_version wins):
  1. the PNEUMO_LIBRARY environment variable (a path to libpneumo.so[.0]); when it
     is set, nothing else is tried, so a wrong value is an error, not a fallback;
  2. the build tree: <repo>/build/lib/libpneumo.so.0 (the package lives in
     <repo>/python/pneumo), then any <repo>/build*/lib/libpneumo.so.0, newest first;
  3. next to the package (python/pneumo/libpneumo.so.0, for a bundled copy);
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

from . import _structs as S
from .errors import (LibraryNotFoundError, StateError, UnsupportedError, VersionMismatchError,
                     error_class)

# Version of the C API this package was written against. The major number must
# match the library's; a different minor/patch only warns when the library is older.
EXPECTED_VERSION = "0.1.0"

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_REPO_ROOT = os.path.dirname(os.path.dirname(_PKG_DIR))

if sys.platform == "darwin":
    _NAMES = ("libpneumo.0.dylib", "libpneumo.dylib")
elif sys.platform == "win32":
    _NAMES = ("pneumo-0.dll", "libpneumo-0.dll", "pneumo.dll")
else:
    _NAMES = ("libpneumo.so.0", "libpneumo.so")


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
        "path of libpneumo.so.0.", attempts)


lib, library_path, library_source = _load()

# --- prototypes -----------------------------------------------------------------
P = ctypes.c_void_p
PP = ctypes.POINTER(ctypes.c_void_p)
i32, i64, u64, f32, f64 = ctypes.c_int32, ctypes.c_int64, ctypes.c_uint64, ctypes.c_float, ctypes.c_double
cstr = ctypes.c_char_p
sz = ctypes.c_size_t
st = ctypes.c_int  # pneumo_status
ptr = ctypes.POINTER
fptr = ptr(ctypes.c_float)

_PROTOTYPES = {
    # common.h
    "pneumo_strerror": (cstr, [ctypes.c_int]),
    "pneumo_last_error": (cstr, []),
    "pneumo_last_status": (st, []),
    "pneumo_clear_error": (None, []),
    "pneumo_version": (cstr, []),
    "pneumo_version_number": (ctypes.c_int, []),
    "pneumo_kernel_isa": (cstr, []),
    # tensor.h
    "pneumo_tensor_create": (st, [ctypes.c_int, ptr(i64), PP]),
    "pneumo_tensor_wrap": (st, [ctypes.c_int, ptr(i64), P, PP]),
    "pneumo_tensor_clone": (st, [P, PP]),
    "pneumo_tensor_copy": (st, [P, P]),
    "pneumo_tensor_destroy": (None, [P]),
    "pneumo_tensor_ndim": (ctypes.c_int, [P]),
    "pneumo_tensor_dim": (i64, [P, ctypes.c_int]),
    "pneumo_tensor_shape": (ctypes.c_int, [P, ptr(i64)]),
    "pneumo_tensor_numel": (i64, [P]),
    "pneumo_tensor_data": (P, [P]),
    "pneumo_tensor_data_const": (P, [P]),
    "pneumo_tensor_shape_str": (cstr, [P, ctypes.c_char_p, sz]),
    # optim.h
    "pneumo_adam_default_params": (None, [ptr(S.AdamParams)]),
    "pneumo_sgd_default_params": (None, [ptr(S.SGDParams)]),
    "pneumo_optimizer_create_adam": (st, [ptr(S.AdamParams), PP]),
    "pneumo_optimizer_create_sgd": (st, [ptr(S.SGDParams), PP]),
    "pneumo_optimizer_destroy": (None, [P]),
    "pneumo_optimizer_kind_of": (ctypes.c_int, [P]),
    "pneumo_optimizer_set_learning_rate": (st, [P, f32]),
    "pneumo_optimizer_learning_rate": (f32, [P]),
    "pneumo_optimizer_iterations": (i64, [P]),
    # model.h
    "pneumo_conv2d_default_params": (None, [ptr(S.Conv2DParams)]),
    "pneumo_maxpool2d_default_params": (None, [ptr(S.MaxPool2DParams)]),
    "pneumo_model_create": (st, [i32, i32, i32, u64, PP]),
    "pneumo_model_create_article": (st, [i32, u64, PP]),
    "pneumo_model_destroy": (None, [P]),
    "pneumo_model_add_conv2d": (st, [P, ptr(S.Conv2DParams)]),
    "pneumo_model_add_maxpool2d": (st, [P, ptr(S.MaxPool2DParams)]),
    "pneumo_model_add_flatten": (st, [P]),
    "pneumo_model_add_dense": (st, [P, i32, ctypes.c_int]),
    "pneumo_model_add_activation": (st, [P, ctypes.c_int]),
    "pneumo_model_add_dropout": (st, [P, f32]),
    "pneumo_model_set_threads": (st, [P, i32]),
    "pneumo_model_threads": (i32, [P]),
    "pneumo_model_num_layers": (i32, [P]),
    "pneumo_model_input_shape": (st, [P, ptr(i32), ptr(i32), ptr(i32)]),
    "pneumo_model_output_size": (i64, [P]),
    "pneumo_model_num_params": (i64, [P]),
    "pneumo_model_num_param_tensors": (i32, [P]),
    "pneumo_model_param_name": (cstr, [P, i32]),
    "pneumo_model_param": (st, [P, i32, PP]),
    "pneumo_model_grad": (st, [P, i32, PP]),
    "pneumo_model_predict": (st, [P, P, P]),
    "pneumo_model_compute_gradients": (st, [P, P, P, P, ptr(S.StepResult)]),
    "pneumo_model_train_step": (st, [P, P, P, P, P, ptr(S.StepResult)]),
    "pneumo_model_evaluate_batch": (st, [P, P, P, P, ptr(S.StepResult)]),
    "pneumo_model_summary_string": (st, [P, ctypes.c_char_p, sz, ptr(sz)]),
    "pneumo_model_save": (st, [P, P, cstr]),
    "pneumo_model_load": (st, [cstr, PP, PP]),
    "pneumo_model_load_memory": (st, [ctypes.c_char_p, sz, PP, PP]),
    # metrics.h
    "pneumo_confusion_from_predictions": (st, [fptr, fptr, i64, f32, ptr(S.Confusion)]),
    "pneumo_confusion_accuracy": (f64, [ptr(S.Confusion)]),
    "pneumo_classification_report": (st, [ptr(S.Confusion), ptr(cstr), ctypes.c_char_p, sz,
                                          ptr(sz)]),
    "pneumo_roc_auc": (st, [fptr, fptr, i64, ptr(f64)]),
    # image.h / image_write.h
    "pneumo_decode_default_limits": (None, [ptr(S.DecodeLimits)]),
    "pneumo_image_create": (st, [i32, i32, PP]),
    "pneumo_image_destroy": (None, [P]),
    "pneumo_image_width": (i32, [P]),
    "pneumo_image_height": (i32, [P]),
    "pneumo_image_pixels": (P, [P]),
    "pneumo_image_pixels_mut": (P, [P]),
    "pneumo_image_load": (st, [cstr, ptr(S.DecodeLimits), PP]),
    "pneumo_image_decode": (st, [ctypes.c_char_p, sz, cstr, ptr(S.DecodeLimits), PP]),
    "pneumo_image_resize": (st, [P, i32, i32, ctypes.c_int, PP]),
    "pneumo_image_save_png": (st, [P, cstr]),
    "pneumo_image_encode_png": (st, [P, PP, ptr(sz)]),
    "pneumo_free": (None, [P]),
    # augment.h
    "pneumo_augment_default_options": (None, [ptr(S.AugmentOptions)]),
    "pneumo_augment_article_options": (None, [ptr(S.AugmentOptions)]),
    "pneumo_augment_validate_options": (st, [ptr(S.AugmentOptions)]),
    "pneumo_augment_identity_params": (None, [ptr(S.AugmentParams)]),
    "pneumo_augment_draw": (st, [ptr(S.AugmentOptions), u64, u64, u64, i32, i32,
                                 ptr(S.AugmentParams)]),
    "pneumo_augment_apply": (st, [ptr(S.AugmentOptions), ptr(S.AugmentParams), P, i32, i32, P]),
    "pneumo_augment_image": (st, [ptr(S.AugmentOptions), u64, u64, u64, P, i32, i32, P,
                                  ptr(S.AugmentParams)]),
    # dataset.h
    "pneumo_dataset_default_options": (None, [ptr(S.DatasetOptions)]),
    "pneumo_dataset_open_dir": (st, [cstr, ptr(S.DatasetOptions), PP]),
    "pneumo_dataset_open_files": (st, [ptr(cstr), ptr(i32), i64, i32, ptr(cstr),
                                       ptr(S.DatasetOptions), PP]),
    "pneumo_dataset_destroy": (None, [P]),
    "pneumo_dataset_size": (i64, [P]),
    "pneumo_dataset_num_classes": (i32, [P]),
    "pneumo_dataset_class_name": (cstr, [P, i32]),
    "pneumo_dataset_class_count": (i64, [P, i32]),
    "pneumo_dataset_class_weights": (st, [P, ptr(f64), i32]),
    "pneumo_dataset_path": (cstr, [P, i64]),
    "pneumo_dataset_label": (i32, [P, i64]),
    "pneumo_dataset_num_skipped": (i64, [P]),
    "pneumo_dataset_skipped": (cstr, [P, i64]),
    "pneumo_dataset_report": (st, [P, ctypes.c_char_p, sz, ptr(sz)]),
    "pneumo_dataset_num_batches": (i64, [P, i32]),
    "pneumo_dataset_begin_epoch": (st, [P, i64, i32]),
    "pneumo_dataset_begin_epoch_shard": (st, [P, i64, i32, i32, i32, i32]),
    "pneumo_dataset_next_batch": (st, [P, PP, PP, ptr(ptr(i64))]),
    "pneumo_dataset_load_sample": (st, [P, i64, P]),
    # train.h
    "pneumo_fit_default_options": (None, [ptr(S.FitOptions)]),
    "pneumo_early_stopping_default_params": (None, [ptr(S.EarlyStoppingParams)]),
    "pneumo_reduce_lr_default_params": (None, [ptr(S.ReduceLRParams)]),
    "pneumo_model_fit": (st, [P, P, P, P, ptr(S.FitOptions), PP]),
    "pneumo_model_fit_resume": (st, [cstr, P, P, ptr(S.FitOptions), PP, PP, PP]),
    "pneumo_history_destroy": (None, [P]),
    "pneumo_history_size": (i32, [P]),
    "pneumo_history_get": (st, [P, i32, ptr(S.EpochRecord)]),
    "pneumo_history_stopped_early": (i32, [P]),
    "pneumo_history_save_csv": (st, [P, cstr]),
    "pneumo_model_evaluate": (st, [P, P, i32, f32, ptr(S.Evaluation), P, P]),
    # data parallelism needs a transport (a C driver such as pneumo-train-mpi); the
    # structs stay opaque to Python
    "pneumo_data_parallel_default": (None, [P]),
    "pneumo_model_evaluate_parallel": (st, [P, P, i32, f32, P, ptr(S.Evaluation), P, P]),
    "pneumo_model_predict_image": (st, [P, P, fptr]),
    "pneumo_model_predict_file": (st, [P, cstr, fptr]),
    "pneumo_model_clone_inference": (st, [P, PP]),
    # model_info.h
    "pneumo_preprocessing_default": (None, [ptr(S.Preprocessing)]),
    "pneumo_provenance_default": (None, [ptr(S.Provenance)]),
    "pneumo_model_preprocessing": (st, [P, ptr(S.Preprocessing)]),
    "pneumo_model_set_preprocessing": (st, [P, ptr(S.Preprocessing)]),
    "pneumo_model_num_classes": (i32, [P]),
    "pneumo_model_class_name": (cstr, [P, i32]),
    "pneumo_model_class_label": (st, [P, i32, ctypes.c_char_p, sz, ptr(sz)]),
    "pneumo_model_set_class_names": (st, [P, i32, ptr(cstr)]),
    "pneumo_model_threshold": (f32, [P]),
    "pneumo_model_set_threshold": (st, [P, f32]),
    "pneumo_model_provenance": (st, [P, ptr(S.Provenance)]),
    "pneumo_model_set_provenance": (st, [P, ptr(S.Provenance)]),
    "pneumo_model_info_json": (st, [P, ctypes.c_char_p, sz, ptr(sz)]),
    "pneumo_model_set_training_settings": (st, [P, cstr]),
    "pneumo_model_training_settings": (cstr, [P]),
    "pneumo_youden_threshold": (st, [fptr, fptr, i64, fptr]),
    "pneumo_model_diagnosis_sentence": (st, [P, f32, ctypes.c_char_p, sz, ptr(sz), ptr(i32)]),
    # gradcam.h
    "pneumo_gradcam_default_options": (None, [ptr(S.GradcamOptions)]),
    "pneumo_overlay_default_options": (None, [ptr(S.OverlayOptions)]),
    "pneumo_model_gradcam": (st, [P, P, ptr(S.GradcamOptions), PP, ptr(S.GradcamInfo)]),
    "pneumo_model_gradcam_image": (st, [P, P, ptr(S.GradcamOptions), PP, ptr(S.GradcamInfo)]),
    "pneumo_gradcam_upsample": (st, [P, i32, i32, PP]),
    "pneumo_gradcam_overlay_png": (st, [P, P, ptr(S.OverlayOptions), PP, ptr(sz)]),
    "pneumo_gradcam_save_overlay": (st, [P, P, ptr(S.OverlayOptions), cstr]),
    # interop.h
    "pneumo_onnx_options_default": (None, [ptr(S.OnnxOptions)]),
    "pneumo_model_export_onnx": (st, [P, ptr(S.OnnxOptions), cstr]),
    "pneumo_model_export_onnx_memory": (st, [P, ptr(S.OnnxOptions), P, sz, ptr(sz)]),
    "pneumo_model_import_keras_h5": (st, [cstr, PP, PP]),
    "pneumo_model_architecture_json": (st, [P, ctypes.c_char_p, sz, ptr(sz)]),
    # report.h
    "pneumo_report_create": (st, [cstr, PP]),
    "pneumo_report_destroy": (None, [P]),
    "pneumo_report_add_setting": (st, [P, cstr, cstr]),
    "pneumo_report_set_model": (st, [P, P]),
    "pneumo_report_set_history": (st, [P, P]),
    "pneumo_report_add_evaluation": (st, [P, cstr, ptr(S.Evaluation), fptr, fptr, i64,
                                          ptr(cstr)]),
    "pneumo_report_add_image": (st, [P, P, cstr]),
    "pneumo_report_set_images_title": (st, [P, cstr]),
    "pneumo_report_save_html": (st, [P, cstr]),
    "pneumo_report_render_html": (st, [P, PP, ptr(sz)]),
}

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


if _parse(version)[0] != _parse(EXPECTED_VERSION)[0]:
    raise VersionMismatchError(
        f"{library_path} is libpneumo {version}, but this package needs major version "
        f"{_parse(EXPECTED_VERSION)[0]} ({EXPECTED_VERSION}); point PNEUMO_LIBRARY at a "
        "matching build")
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


def fetch_string(fn, *args, _extra=()):
    """Call a snprintf-style function (..., buf, size, size_t *needed[, extra...])
    twice: once to size the buffer, once to fill it."""
    needed = ctypes.c_size_t(0)
    call(fn, *args, None, 0, ctypes.byref(needed), *_extra)
    buf = ctypes.create_string_buffer(needed.value + 1)
    call(fn, *args, buf, len(buf), ctypes.byref(needed), *_extra)
    return buf.value.decode("utf-8", "replace")


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
