"""Ensembles of models and test-time augmentation (pneumo/ensemble.h).

    ens = pneumo.Ensemble([m1, m2, m3], tta="flip")
    ens.predict(x)            # mean probability, (N, 1)
    ens.predict_image(image)  # each member preprocesses with its own card
    ens.evaluate(dataset)     # the metrics of the mean probabilities

The members stay owned by the caller; the ensemble holds their locks while it
runs (in a fixed order, so two ensembles sharing members cannot deadlock)."""
from contextlib import ExitStack
from ctypes import byref, c_float, c_void_p

from . import _lib as L
from . import _structs as S
from ._np import np
from .dataset import Dataset
from .errors import InvalidArgumentError
from .image import Image
from .metrics import classification_report, confusion_to_list
from .tensor import Tensor

_TTA = {"none": 0, "flip": 1}


class Ensemble:
    """The mean of several models' probabilities; tta='flip' also averages
    each input's left-right mirror."""

    def __init__(self, models, tta="none"):
        self.models = list(models)
        if not self.models:
            raise InvalidArgumentError("Ensemble needs at least one model", S.ERR_INVALID_ARG)
        if tta not in _TTA:
            raise InvalidArgumentError(f"tta must be 'none' or 'flip', not {tta!r}", S.ERR_INVALID_ARG)
        self.tta = tta
        n = len(self.models)
        self._handles = (c_void_p * n)(*[m.handle for m in self.models])
        self._opts = S.EnsembleOptions()
        L.lib.pneumo_ensemble_default_options(byref(self._opts))
        self._opts.tta = _TTA[tta]

    def _locked(self):
        stack = ExitStack()
        for m in sorted(set(self.models), key=id):
            stack.enter_context(m._lock)
        return stack

    def predict(self, x):
        """Mean probability for a batch (as Model.predict: the first member's
        input conventions): an (N, 1) float32 NumPy array, or nested lists."""
        t = self.models[0]._batch_input(x)
        n = t.shape[0] if t.shape else 0
        if np is not None:
            result = np.zeros((n, 1), dtype=np.float32)
            out = Tensor.from_numpy(result)
        else:
            result = out = Tensor((n, 1))
        with self._locked():
            L.call("pneumo_ensemble_predict", self._handles, len(self.models), byref(self._opts),
                   t.handle, out.handle)
        return result if np is not None else out.tolist()

    def predict_image(self, image):
        """Mean probability of class 1 for an Image or (height, width) uint8 array."""
        own = not isinstance(image, Image)
        img = Image.from_numpy(image) if own else image
        try:
            p = c_float()
            with self._locked():
                L.call("pneumo_ensemble_predict_image", self._handles, len(self.models),
                       byref(self._opts), img.handle, byref(p))
            return p.value
        finally:
            if own:
                img.close()

    def evaluate(self, dataset, batch_size=16, threshold=None):
        """Model.evaluate(dataset) for the ensemble; threshold defaults to the
        first member's."""
        if not isinstance(dataset, Dataset):
            raise InvalidArgumentError("Ensemble.evaluate takes a Dataset", S.ERR_INVALID_ARG)
        if threshold is None:
            threshold = self.models[0].threshold
        n = len(dataset)
        if np is not None:
            probs = np.zeros(n, dtype=np.float32)
            labels = np.zeros(n, dtype=np.float32)
            pp, pl = probs.ctypes.data, labels.ctypes.data
        else:
            import array
            probs = array.array("f", bytes(4 * n))
            labels = array.array("f", bytes(4 * n))
            pp, pl = probs.buffer_info()[0], labels.buffer_info()[0]
        ev = S.Evaluation()
        with self._locked(), dataset._lock:
            L.call("pneumo_ensemble_evaluate", self._handles, len(self.models), byref(self._opts),
                   dataset.handle, int(batch_size), float(threshold), byref(ev), c_void_p(pp),
                   c_void_p(pl), n)
        cm = confusion_to_list(ev.confusion)
        names = dataset.class_names
        return {
            "loss": ev.loss,
            "accuracy": ev.accuracy,
            "confusion_matrix": cm,
            "roc_auc": None if ev.roc_auc != ev.roc_auc else ev.roc_auc,
            "calibration_error": None if ev.calibration_error != ev.calibration_error
            else ev.calibration_error,
            "count": ev.count,
            "classification_report": classification_report(cm, names[:2] if len(names) >= 2 else None),
            "probs": probs,
            "labels": labels,
        }


__all__ = ["Ensemble"]
