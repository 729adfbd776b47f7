"""pneumo: Python bindings (pure ctypes) for libpneumo, the C library that trains
and runs the chest X-ray CNN of the Keras tutorial "Medical X-ray Image
Classification using Convolutional Neural Network".

    import pneumo
    model = pneumo.Model.article(size=500, seed=1)
    print(model.summary())                       # Total params: 1,467,137
    train = pneumo.Dataset.from_directory("data/train", augment="article")
    val = pneumo.Dataset.from_directory("data/val")
    history = model.fit(train, val, epochs=25, class_weight="balanced",
                        early_stopping=dict(patience=3),
                        reduce_lr=dict(patience=2, factor=0.3, min_lr=1e-6))
    print(model.diagnose("xray.jpeg")[2])        # I am 97.31% percent confirmed ...

The library is found through PNEUMO_LIBRARY, the build tree, next to the package
or the system (see pneumo._lib); `pneumo.library_path` says which one was loaded.
NumPy is optional. Objects own C handles: close() them (or use `with`) for
deterministic cleanup; otherwise a finalizer frees them exactly once."""
from . import _lib
from ._np import HAVE_NUMPY
from .dataset import Dataset, dataset_options, patient_id
from .ensemble import Ensemble
from .errors import (CancelledError, FormatError, InvalidArgumentError, LibraryNotFoundError,
                     LimitError, OutOfMemoryError, PneumoError, PneumoIOError, ShapeError,
                     StateError, UnsupportedError, VersionMismatchError)
from .image import (Image, augment_options, decode_limits, draw_augment_params,
                    identity_augment_params)
from .metrics import (accuracy, calibration_curve, classification_report, confusion_matrix,
                      fit_temperature, roc_auc, sensitivity_threshold)
from .keras import (Activation, ArrayHistory, BatchNormalization, Callback, Conv2D, Dense, Dropout,
                    EarlyStopping, Flatten, GlobalAveragePooling2D, GlobalAvgPool2D, Input, Layer, MaxPool2D, MaxPooling2D, ModelCheckpoint, ProgressBar,
                    ReduceLROnPlateau)
from .model import (FitEvent, History, Model, Sequential, early_stopping_defaults, load_model,
                    reduce_lr_defaults)
from .optim import SGD, Adam, Optimizer, adam_defaults, sgd_defaults
from .report import Report
from .tensor import Tensor

#: Version of the loaded C library (pneumo_version()).
__version__ = _lib.version
#: Version of the C API this package was written for.
EXPECTED_VERSION = _lib.EXPECTED_VERSION
#: Absolute path (or system name) of the loaded libpneumo.
library_path = _lib.library_path
#: How it was found: 'PNEUMO_LIBRARY', 'build tree', 'next to the package' or 'system'.
library_source = _lib.library_source


def version():
    """The C library's version string, e.g. '0.2.0'."""
    return _lib.lib.pneumo_version().decode()


def version_number():
    """major * 10000 + minor * 100 + patch."""
    return _lib.lib.pneumo_version_number()


def kernel_isa():
    """Compute kernels in use: 'avx512', 'avx2' or 'scalar'."""
    return _lib.lib.pneumo_kernel_isa().decode()


def strerror(status):
    """Fixed English text for a status code."""
    return _lib.lib.pneumo_strerror(int(status)).decode()


def last_error():
    """The calling thread's last library error message ('' if none)."""
    return _lib.last_error()


def last_status():
    """The calling thread's last library status code (0 if none)."""
    return _lib.lib.pneumo_last_status()


def clear_error():
    """Forget the calling thread's last library error."""
    _lib.lib.pneumo_clear_error()


__all__ = [
    "__version__", "library_path", "library_source", "HAVE_NUMPY",
    "version", "version_number", "kernel_isa", "strerror", "last_error", "last_status",
    "clear_error",
    "Tensor", "Image", "Model", "History", "FitEvent", "Dataset", "Optimizer", "Adam", "SGD",
    "Report", "Ensemble",
    "dataset_options", "patient_id", "augment_options", "decode_limits", "draw_augment_params",
    "identity_augment_params", "adam_defaults", "sgd_defaults", "early_stopping_defaults",
    "reduce_lr_defaults",
    "accuracy", "classification_report", "confusion_matrix", "roc_auc", "calibration_curve",
    "fit_temperature", "sensitivity_threshold",
    "PneumoError", "InvalidArgumentError", "ShapeError", "OutOfMemoryError", "PneumoIOError",
    "FormatError", "StateError", "UnsupportedError", "LimitError", "CancelledError",
    "LibraryNotFoundError", "VersionMismatchError",
]
