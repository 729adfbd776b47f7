"""pneumo.Report: a self-contained HTML report of a training run or an
evaluation (settings, training curves, confusion heatmap, classification report,
ROC curve, captioned image grid, model summary) in one file with no external
resources. Every argument is copied into the report. Used by one thread at a time
(the wrapper holds the report's lock)."""
import math
from ctypes import byref, c_char_p, c_void_p

from . import _lib as L
from . import _structs as S
from .errors import InvalidArgumentError
from .image import Image
from .metrics import _floats


def _evaluation_struct(ev):
    e = S.Evaluation()
    e.loss = ev["loss"]
    e.accuracy = ev["accuracy"]
    cm = ev["confusion_matrix"]
    for i, v in enumerate((cm[0][0], cm[0][1], cm[1][0], cm[1][1])):
        e.confusion.m[i] = int(v)
    e.roc_auc = math.nan if ev.get("roc_auc") is None else ev["roc_auc"]
    e.count = int(ev.get("count", sum(sum(r) for r in cm)))
    return e


class Report(L.Handle):
    """Report(title=None); add content, then save_html(path) or render_html()."""

    _destroy = "pneumo_report_destroy"

    def __init__(self, title=None):
        out = c_void_p()
        L.call("pneumo_report_create", title.encode() if title is not None else None,
               byref(out))
        L.Handle.__init__(self, out.value)

    def add_setting(self, key, value):
        """Append a row to the settings table (value converted with str())."""
        with self._lock:
            L.call("pneumo_report_add_setting", self.handle, str(key).encode(),
                   str(value).encode())
        return self

    def set_model(self, model):
        """Include the model's summary."""
        with self._lock, model._lock:
            L.call("pneumo_report_set_model", self.handle, model.handle)
        return self

    def set_history(self, history):
        """Include the training curves and epoch table of a History."""
        with self._lock:
            L.call("pneumo_report_set_history", self.handle, history.handle)
        return self

    def add_evaluation(self, name, evaluation, class_names=None, roc=True):
        """Append an evaluation section from the dict Model.evaluate() returns
        (loss, accuracy, confusion_matrix, roc_auc, count; probs and labels draw
        the ROC curve unless roc=False)."""
        e = _evaluation_struct(evaluation)
        p = y = None
        n = 0
        keep = None
        if roc and evaluation.get("probs") is not None:
            p, n, kp = _floats(evaluation["probs"])
            y, m, ky = _floats(evaluation["labels"])
            if m != n:
                raise InvalidArgumentError(f"{n} probabilities but {m} labels",
                                           S.ERR_INVALID_ARG)
            keep = (kp, ky)
        names = None
        if class_names is not None:
            class_names = list(class_names)
            if len(class_names) != 2:
                raise InvalidArgumentError("a report names two classes", S.ERR_INVALID_ARG)
            names = (c_char_p * 2)(*(str(c).encode() for c in class_names))
        with self._lock:
            L.call("pneumo_report_add_evaluation", self.handle, str(name).encode(), byref(e), p, y,
                   n, names)
        del keep
        return self

    def add_image(self, image, caption=None):
        """Append an Image (or an image file path) to the grid, with a caption
        ('\\n' starts a new line)."""
        own = not isinstance(image, Image)
        img = Image.load(image) if own else image
        try:
            with self._lock:
                L.call("pneumo_report_add_image", self.handle, img.handle,
                       caption.encode() if caption is not None else None)
        finally:
            if own:
                img.close()
        return self

    def set_images_title(self, title):
        with self._lock:
            L.call("pneumo_report_set_images_title", self.handle, str(title).encode())
        return self

    def save_html(self, path):
        """Write the HTML file atomically."""
        with self._lock:
            L.call("pneumo_report_save_html", self.handle, L.fsencode(path))

    def render_html(self):
        """The HTML text as a str."""
        with self._lock:
            return L.fetch_bytes("pneumo_report_render_html", self.handle).decode("utf-8")


__all__ = ["Report"]
