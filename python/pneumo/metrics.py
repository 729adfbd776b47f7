"""Metrics with sklearn's definitions, computed by libpneumo: confusion matrix,
accuracy, classification report, ROC AUC. Inputs are any sequences of numbers
(NumPy float32 arrays are passed without copying)."""
import array
import ctypes
from ctypes import byref, c_double, c_float

from . import _lib as L
from . import _structs as S
from ._np import np
from .errors import InvalidArgumentError


def _floats(values):
    """(float *, n, keepalive) for a sequence of numbers."""
    if np is not None and (isinstance(values, np.ndarray) or hasattr(values, "__array_interface__")):
        a = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
        return a.ctypes.data_as(ctypes.POINTER(c_float)), a.size, a
    if isinstance(values, array.array) and values.typecode == "f":
        a = values
    else:
        a = array.array("f", (float(v) for v in values))
    addr = a.buffer_info()[0] if len(a) else 0
    return ctypes.cast(addr, ctypes.POINTER(c_float)), len(a), a


def _pair(probs, labels):
    p, n, kp = _floats(probs)
    y, m, ky = _floats(labels)
    if n != m:
        raise InvalidArgumentError(f"{n} probabilities but {m} labels", S.ERR_INVALID_ARG)
    return p, y, n, (kp, ky)


def _confusion_struct(cm):
    if isinstance(cm, S.Confusion):
        return cm
    flat = [int(v) for row in cm for v in row] if len(cm) == 2 and hasattr(cm[0], "__len__") \
        else [int(v) for v in cm]
    if len(flat) != 4:
        raise InvalidArgumentError("a binary confusion matrix is [[tn, fp], [fn, tp]]",
                                   S.ERR_INVALID_ARG)
    c = S.Confusion()
    for i, v in enumerate(flat):
        c.m[i] = v
    return c


def confusion_to_list(c):
    """A pneumo_confusion as sklearn's 2x2 matrix [[tn, fp], [fn, tp]]."""
    return [[c.m[0], c.m[1]], [c.m[2], c.m[3]]]


def confusion_matrix(probs, labels, threshold=0.5):
    """sklearn's confusion_matrix of (probs > threshold) against labels (0/1):
    [[actual 0 predicted 0, actual 0 predicted 1], [actual 1 pred 0, actual 1 pred 1]]."""
    p, y, n, _keep = _pair(probs, labels)
    c = S.Confusion()
    L.call("pneumo_confusion_from_predictions", p, y, n, float(threshold), byref(c))
    return confusion_to_list(c)


def accuracy(cm):
    """(tn + tp) / total of a 2x2 confusion matrix (0 when empty)."""
    return L.lib.pneumo_confusion_accuracy(byref(_confusion_struct(cm)))


def classification_report(cm, names=None):
    """sklearn's classification_report(digits=2) text for a 2x2 confusion matrix
    and the two class names (default '0', '1')."""
    c = _confusion_struct(cm)
    cnames = None
    if names is not None:
        names = list(names)
        if len(names) != 2:
            raise InvalidArgumentError("classification_report needs two class names",
                                       S.ERR_INVALID_ARG)
        cnames = (ctypes.c_char_p * 2)(*(str(n).encode() for n in names))
    return L.fetch_string("pneumo_classification_report", byref(c), cnames)


def roc_auc(probs, labels):
    """Area under the ROC curve (sklearn's roc_auc_score; ties count half).
    InvalidArgumentError if only one class is present."""
    p, y, n, _keep = _pair(probs, labels)
    out = c_double()
    L.call("pneumo_roc_auc", p, y, n, byref(out))
    return out.value


def calibration_curve(probs, labels, bins=10):
    """Reliability of the class-1 probabilities (sklearn's calibration_curve with
    strategy='uniform', empty bins kept): a dict of counts, mean_prob and frac_pos
    (lists of `bins`) and ece, the expected calibration error
    sum(counts / n * |frac_pos - mean_prob|)."""
    p, y, n, _keep = _pair(probs, labels)
    bins = int(bins)
    counts = (ctypes.c_int64 * max(bins, 1))()
    mean = (c_double * max(bins, 1))()
    frac = (c_double * max(bins, 1))()
    ece = c_double()
    L.call("pneumo_calibration_curve", p, y, n, bins, counts, mean, frac, byref(ece))
    return {"counts": list(counts[:bins]), "mean_prob": list(mean[:bins]),
            "frac_pos": list(frac[:bins]), "ece": ece.value}


def fit_temperature(probs, labels):
    """Temperature scaling (Guo et al., 2017): the T minimising the cross-entropy
    of sigmoid(logit(p) / T) against labels. For probabilities a model gave at
    temperature T0, set model.temperature = T0 * T. Fit on validation data."""
    p, y, n, _keep = _pair(probs, labels)
    out = c_float()
    L.call("pneumo_fit_temperature", p, y, n, byref(out))
    return out.value


def sensitivity_threshold(probs, labels, sensitivity):
    """The highest threshold whose recall of class 1 ("p > t") is >= sensitivity."""
    p, y, n, _keep = _pair(probs, labels)
    out = c_float()
    L.call("pneumo_sensitivity_threshold", p, y, n, c_double(float(sensitivity)), byref(out))
    return out.value


__all__ = ["confusion_matrix", "accuracy", "classification_report", "roc_auc",
           "confusion_to_list", "calibration_curve", "fit_temperature", "sensitivity_threshold"]
