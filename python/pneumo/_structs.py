"""ctypes mirrors of the public C structs and enum values of libpneumo.

Every layout here must match include/pneumo/*.h exactly (field order, fixed-width
types, the reserved arrays, nested structs). python/tests/test_layout.py compares
sizes, field offsets and enum values with a C program built from the headers
(tests/python_layout.c), so a header change that breaks the mirror fails CI.
Every input struct starts with its size (set by the library's default function,
so always fill a struct with it before changing fields); nested option structs
are pointers (None means the library's defaults)."""
import ctypes
from ctypes import (c_char_p, c_double, c_float, c_int, c_int32, c_int64, c_uint32,
                    c_uint64, c_void_p)

# --- enum values (pneumo_status and friends) ---------------------------------
OK = 0
ERR_INVALID_ARG = 1
ERR_SHAPE = 2
ERR_NOMEM = 3
ERR_IO = 4
ERR_FORMAT = 5
ERR_STATE = 6
ERR_UNSUPPORTED = 7
ERR_LIMIT = 8
ERR_CANCELLED = 9

MAX_DIMS = 4

ACTIVATIONS = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}
PADDINGS = {"valid": 0, "same": 1}
OPTIMIZER_KINDS = {1: "adam", 2: "sgd"}
RESAMPLES = {"nearest": 0, "bilinear": 1}
FILL_MODES = {"nearest": 0, "constant": 1, "reflect": 2, "wrap": 3}
MONITORS = {"val_loss": 0, "val_accuracy": 1, "loss": 2, "accuracy": 3}
MODES = {"auto": 0, "min": 1, "max": 2}
EVENT_KINDS = {1: "epoch_begin", 2: "batch_end", 3: "epoch_end", 4: "lr_changed",
               5: "early_stop"}
CLASS_WEIGHT_NONE = 0
CLASS_WEIGHT_BALANCED = 1
CLASS_WEIGHT_CUSTOM = 2

# Names as the C headers spell them, for the layout test.
ENUM_VALUES = {
    "PNEUMO_OK": OK, "PNEUMO_ERR_INVALID_ARG": ERR_INVALID_ARG, "PNEUMO_ERR_SHAPE": ERR_SHAPE,
    "PNEUMO_ERR_NOMEM": ERR_NOMEM, "PNEUMO_ERR_IO": ERR_IO, "PNEUMO_ERR_FORMAT": ERR_FORMAT,
    "PNEUMO_ERR_STATE": ERR_STATE, "PNEUMO_ERR_UNSUPPORTED": ERR_UNSUPPORTED,
    "PNEUMO_ERR_LIMIT": ERR_LIMIT, "PNEUMO_ERR_CANCELLED": ERR_CANCELLED,
    "PNEUMO_MAX_DIMS": MAX_DIMS,
    "PNEUMO_ACT_LINEAR": 0, "PNEUMO_ACT_RELU": 1, "PNEUMO_ACT_SIGMOID": 2, "PNEUMO_ACT_TANH": 3,
    "PNEUMO_PADDING_VALID": 0, "PNEUMO_PADDING_SAME": 1,
    "PNEUMO_OPTIMIZER_ADAM": 1, "PNEUMO_OPTIMIZER_SGD": 2,
    "PNEUMO_RESAMPLE_NEAREST": 0, "PNEUMO_RESAMPLE_BILINEAR": 1,
    "PNEUMO_FILL_NEAREST": 0, "PNEUMO_FILL_CONSTANT": 1, "PNEUMO_FILL_REFLECT": 2,
    "PNEUMO_FILL_WRAP": 3,
    "PNEUMO_MONITOR_VAL_LOSS": 0, "PNEUMO_MONITOR_VAL_ACCURACY": 1, "PNEUMO_MONITOR_LOSS": 2,
    "PNEUMO_MONITOR_ACCURACY": 3,
    "PNEUMO_MODE_AUTO": 0, "PNEUMO_MODE_MIN": 1, "PNEUMO_MODE_MAX": 2,
    "PNEUMO_EVENT_EPOCH_BEGIN": 1, "PNEUMO_EVENT_BATCH_END": 2, "PNEUMO_EVENT_EPOCH_END": 3,
    "PNEUMO_EVENT_LR_CHANGED": 4, "PNEUMO_EVENT_EARLY_STOP": 5,
    "PNEUMO_CLASS_WEIGHT_NONE": CLASS_WEIGHT_NONE,
    "PNEUMO_CLASS_WEIGHT_BALANCED": CLASS_WEIGHT_BALANCED,
    "PNEUMO_CLASS_WEIGHT_CUSTOM": CLASS_WEIGHT_CUSTOM,
    "PNEUMO_COLOR_GRAYSCALE": 0, "PNEUMO_CLASS_NAME_MAX": 63,
    "PNEUMO_ONNX_NHWC": 0, "PNEUMO_ONNX_NCHW": 1,
}


class _Struct(ctypes.Structure):
    """Structure with a dict view of its named fields (not size or reserved)."""

    def to_dict(self):
        out = {}
        for name, _ in self._fields_:
            if name.startswith("reserved") or name == "size":
                continue
            v = getattr(self, name)
            out[name] = v.to_dict() if isinstance(v, _Struct) else v
        return out


# --- model.h -------------------------------------------------------------------
class Conv2DParams(_Struct):
    _fields_ = [("size", c_uint32), ("filters", c_int32), ("kernel_h", c_int32), ("kernel_w", c_int32),
                ("stride_h", c_int32), ("stride_w", c_int32), ("padding", c_int32),
                ("activation", c_int32), ("use_bias", c_int32), ("reserved", c_uint32 * 8)]


class MaxPool2DParams(_Struct):
    _fields_ = [("size", c_uint32), ("pool_h", c_int32), ("pool_w", c_int32), ("stride_h", c_int32),
                ("stride_w", c_int32), ("padding", c_int32), ("reserved", c_uint32 * 8)]


class StepResult(_Struct):
    _fields_ = [("loss", c_double), ("accuracy", c_double), ("batch_size", c_int64),
                ("reserved", c_uint32 * 4)]


# --- optim.h -------------------------------------------------------------------
class AdamParams(_Struct):
    _fields_ = [("size", c_uint32), ("learning_rate", c_float), ("beta_1", c_float), ("beta_2", c_float),
                ("epsilon", c_float), ("reserved", c_uint32 * 8)]


class SGDParams(_Struct):
    _fields_ = [("size", c_uint32), ("learning_rate", c_float), ("momentum", c_float), ("nesterov", c_int32),
                ("reserved", c_uint32 * 8)]


# --- image.h / augment.h ---------------------------------------------------------
class DecodeLimits(_Struct):
    _fields_ = [("size", c_uint32), ("max_side", c_int32), ("max_pixels", c_int64), ("max_file_bytes", c_int64),
                ("max_scans", c_uint32), ("deadline_ms", c_uint32), ("reserved", c_uint32 * 6)]


class AugmentOptions(_Struct):
    _fields_ = [("size", c_uint32), ("rotation_range", c_double), ("width_shift_range", c_double),
                ("height_shift_range", c_double), ("shear_range", c_double),
                ("zoom_lo", c_double), ("zoom_hi", c_double),
                ("horizontal_flip", c_int32), ("vertical_flip", c_int32),
                ("brightness_lo", c_double), ("brightness_hi", c_double),
                ("brightness_stretch", c_int32), ("fill_mode", c_int32),
                ("cval", c_float), ("rescale", c_float), ("reserved", c_uint32 * 8)]


class AugmentParams(_Struct):
    _fields_ = [("size", c_uint32), ("theta_deg", c_double), ("tx", c_double), ("ty", c_double),
                ("shear_deg", c_double), ("zx", c_double), ("zy", c_double),
                ("flip_h", c_int32), ("flip_v", c_int32), ("brightness", c_double),
                ("reserved", c_uint32 * 8)]


# --- dataset.h -------------------------------------------------------------------
class DatasetOptions(_Struct):
    _fields_ = [("size", c_uint32), ("width", c_int32), ("height", c_int32),
                ("resample", c_int32), ("shuffle", c_int32), ("seed", c_uint64),
                ("augment", c_int32), ("augment_options", ctypes.POINTER(AugmentOptions)),
                ("strict", c_int32), ("threads", c_int32), ("cache_bytes", c_int64),
                ("prefetch_batches", c_int32), ("limits", ctypes.POINTER(DecodeLimits)),
                ("reserved", c_uint32 * 8)]


# --- metrics.h -------------------------------------------------------------------
class Confusion(_Struct):
    _fields_ = [("m", c_int64 * 4)]


# --- train.h ---------------------------------------------------------------------
class EarlyStoppingParams(_Struct):
    _fields_ = [("size", c_uint32), ("enabled", c_int32), ("monitor", c_int32), ("mode", c_int32),
                ("patience", c_int32), ("min_delta", c_double),
                ("restore_best_weights", c_int32), ("reserved", c_uint32 * 8)]


class ReduceLRParams(_Struct):
    _fields_ = [("size", c_uint32), ("enabled", c_int32), ("monitor", c_int32), ("mode", c_int32),
                ("patience", c_int32), ("factor", c_double), ("min_delta", c_double),
                ("cooldown", c_int32), ("min_lr", c_double), ("reserved", c_uint32 * 8)]


class FitEvent(_Struct):
    _fields_ = [("kind", c_int32), ("epoch", c_int32), ("epochs", c_int32),
                ("reserved0", c_int32), ("batch", c_int64), ("batches", c_int64),
                ("loss", c_double), ("accuracy", c_double), ("val_loss", c_double),
                ("val_accuracy", c_double), ("lr", c_double), ("old_lr", c_double),
                ("seconds", c_double), ("reserved", c_uint32 * 8)]


# int (*pneumo_fit_callback)(const pneumo_fit_event *event, void *user)
FIT_CALLBACK = ctypes.CFUNCTYPE(c_int, ctypes.POINTER(FitEvent), c_void_p)

# pneumo_status (*pneumo_write_fn)(void *user, const void *data, size_t size)
WRITE_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, ctypes.c_size_t)


class FitOptions(_Struct):
    _fields_ = [("size", c_uint32), ("epochs", c_int32), ("batch_size", c_int32),
                ("initial_epoch", c_int32), ("class_weighting", c_int32),
                ("class_weights", c_double * 2),
                ("early_stopping", ctypes.POINTER(EarlyStoppingParams)),
                ("reduce_lr", ctypes.POINTER(ReduceLRParams)),
                ("checkpoint_path", c_char_p), ("best_model_path", c_char_p),
                ("progress", WRITE_FN),          # NULL from Python: the callback reports
                ("progress_user", c_void_p),
                ("progress_bar", c_int32), ("threads", c_int32),
                ("callback", FIT_CALLBACK), ("user", c_void_p),
                ("parallel", c_void_p),          # pneumo_data_parallel *: NULL from Python
                ("reserved", c_uint32 * 6)]


class EpochRecord(_Struct):
    _fields_ = [("epoch", c_int32), ("reserved0", c_int32), ("loss", c_double),
                ("accuracy", c_double), ("val_loss", c_double), ("val_accuracy", c_double),
                ("lr", c_double), ("seconds", c_double), ("reserved", c_uint32 * 4)]


class Evaluation(_Struct):
    _fields_ = [("loss", c_double), ("accuracy", c_double), ("confusion", Confusion),
                ("roc_auc", c_double), ("count", c_int64), ("reserved", c_uint32 * 8)]


class Preprocessing(_Struct):
    _fields_ = [("size", c_uint32), ("height", c_int32), ("width", c_int32),
                ("color_mode", c_int32), ("resample", c_int32), ("rescale", c_float),
                ("reserved", c_uint32 * 8)]


class Provenance(_Struct):
    _fields_ = [("size", c_uint32), ("epochs", c_int32), ("seed", c_uint64),
                ("class_counts", c_int64 * 2), ("val_loss", c_double), ("val_accuracy", c_double),
                ("val_auc", c_double), ("library_version", ctypes.c_char * 32),
                ("reserved", c_uint32 * 8)]


class GradcamOptions(_Struct):
    _fields_ = [("size", c_uint32), ("layer", c_int32), ("target", c_int32),
                ("reserved", c_uint32 * 8)]


class GradcamInfo(_Struct):
    _fields_ = [("size", c_uint32), ("layer", c_int32), ("target", c_int32), ("height", c_int32),
                ("width", c_int32), ("probability", c_float), ("max", c_float),
                ("reserved", c_uint32 * 8)]


class OverlayOptions(_Struct):
    _fields_ = [("size", c_uint32), ("alpha", c_float), ("max_side", c_int32),
                ("reserved", c_uint32 * 8)]


class OnnxOptions(_Struct):
    _fields_ = [("size", c_uint32), ("input_layout", c_int32), ("opset", c_int32),
                ("batch", c_int32), ("reserved", c_uint32 * 8)]


# C struct name -> ctypes class, for the layout test.
STRUCTS = {
    "pneumo_conv2d_params": Conv2DParams,
    "pneumo_maxpool2d_params": MaxPool2DParams,
    "pneumo_step_result": StepResult,
    "pneumo_adam_params": AdamParams,
    "pneumo_sgd_params": SGDParams,
    "pneumo_decode_limits": DecodeLimits,
    "pneumo_augment_options": AugmentOptions,
    "pneumo_augment_params": AugmentParams,
    "pneumo_dataset_options": DatasetOptions,
    "pneumo_confusion": Confusion,
    "pneumo_early_stopping_params": EarlyStoppingParams,
    "pneumo_reduce_lr_params": ReduceLRParams,
    "pneumo_fit_event": FitEvent,
    "pneumo_fit_options": FitOptions,
    "pneumo_epoch_record": EpochRecord,
    "pneumo_evaluation": Evaluation,
    "pneumo_preprocessing": Preprocessing,
    "pneumo_provenance": Provenance,
    "pneumo_gradcam_options": GradcamOptions,
    "pneumo_gradcam_info": GradcamInfo,
    "pneumo_overlay_options": OverlayOptions,
    "pneumo_onnx_options": OnnxOptions,
}

__all__ = ["STRUCTS", "ENUM_VALUES", "FIT_CALLBACK", "WRITE_FN", "c_int"]
