"""pneumo.Model: build, summarise, save/load, predict, diagnose, train (step by
step or with fit and Keras' callbacks) and evaluate the article's CNN or any
sequential model of Conv2D / MaxPooling2D / Flatten / Dense / Activation /
Dropout layers.

Threads. The C API says a model is used by one thread at a time. Every Model
method therefore holds the model's lock (a threading.RLock) for the duration of
the C call, so concurrent calls on ONE Model from several Python threads are
safe but run one after another; separate Model objects run in parallel (ctypes
releases the GIL during the C call). fit() and train_step() also hold the
optimizer's and datasets' locks. Memory obtained from param()/grad() views or
their .numpy() arrays is NOT protected: do not write it while another thread
uses the model.

Fit callbacks. `callback` is called with a FitEvent for every event (epoch begin,
batch end, epoch end, learning-rate change, early stop); returning True stops
training cleanly after the current batch (fit then returns the History with
.cancelled = True). An exception raised inside the callback also stops training
and is re-raised by fit() once the library has returned (with the partial
history attached as `exc.history`). A Ctrl-C during fit() works the same way:
the KeyboardInterrupt stops training after the current batch and is re-raised."""
import collections.abc
import ctypes
import contextlib
import math
import signal
import sys
import threading
from contextlib import ExitStack
from ctypes import byref, c_float, c_int32, c_int64, c_void_p
from ctypes import sizeof as ctypes_sizeof, c_size_t as ctypes_size_t, string_at as ctypes_string_at
from dataclasses import dataclass

from . import _lib as L
from . import _structs as S
from . import keras as K
from ._np import np
from .errors import InvalidArgumentError, PneumoError
from .image import Image
from .metrics import classification_report, confusion_to_list
from .optim import Adam, Optimizer
from .dataset import Dataset
from .tensor import Tensor


def _nan_to_none(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def _pair_arg(v, name):
    if isinstance(v, int):
        return v, v
    try:
        a, b = v
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be an int or a pair of ints, not {v!r}",
                                   S.ERR_INVALID_ARG) from None
    return int(a), int(b)


def _activation(a):
    if a is None:
        return S.ACTIVATIONS["linear"]
    if isinstance(a, int):
        return a
    try:
        return S.ACTIVATIONS[a]
    except KeyError:
        raise InvalidArgumentError(f"unknown activation {a!r}; known: "
                                   f"{', '.join(S.ACTIVATIONS)}", S.ERR_INVALID_ARG) from None


def _padding(p):
    try:
        return S.PADDINGS[p]
    except KeyError:
        raise InvalidArgumentError(f"padding must be 'valid' or 'same', not {p!r}",
                                   S.ERR_INVALID_ARG) from None


def _step_dict(r):
    return {"loss": r.loss, "accuracy": r.accuracy, "batch_size": r.batch_size}


@dataclass(frozen=True)
class FitEvent:
    """What a fit callback is told. kind: 'epoch_begin', 'batch_end' (loss and
    accuracy are running means over the epoch so far), 'epoch_end' (validation
    included), 'lr_changed' (old_lr -> lr), 'early_stop'. epoch is 0-based;
    val_loss/val_accuracy are None before validation or without a validation set."""
    kind: str
    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float
    accuracy: float
    val_loss: object
    val_accuracy: object
    lr: float
    old_lr: float
    seconds: float

    @classmethod
    def _from_struct(cls, e):
        return cls(S.EVENT_KINDS.get(e.kind, str(e.kind)), e.epoch, e.epochs, e.batch, e.batches,
                   e.loss, e.accuracy, _nan_to_none(e.val_loss), _nan_to_none(e.val_accuracy),
                   e.lr, e.old_lr, e.seconds)


class History(L.Handle, collections.abc.Sequence):
    """The epochs fit() recorded: a sequence of dicts with keys epoch (0-based),
    loss, accuracy, val_loss, val_accuracy (None without validation), lr and
    seconds. .history is Keras' {metric: [values per epoch]}."""

    _destroy = "pneumo_history_destroy"

    def __init__(self, ptr):
        L.Handle.__init__(self, ptr)
        self.cancelled = False
        recs = []
        for i in range(L.lib.pneumo_history_size(ptr)):
            r = S.EpochRecord()
            L.call("pneumo_history_get", ptr, i, byref(r))
            recs.append({"epoch": r.epoch, "loss": r.loss, "accuracy": r.accuracy,
                         "val_loss": _nan_to_none(r.val_loss),
                         "val_accuracy": _nan_to_none(r.val_accuracy), "lr": r.lr,
                         "seconds": r.seconds})
        self.records = recs
        self.stopped_early = bool(L.lib.pneumo_history_stopped_early(ptr))

    def __len__(self):
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]

    @property
    def history(self):
        keys = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")
        return {k: [r[k] for r in self.records] for k in keys}

    def to_csv(self, path):
        """Write Keras' CSVLogger layout (epoch,accuracy,loss,lr,val_accuracy,
        val_loss,seconds), atomically."""
        L.call("pneumo_history_save_csv", self.handle, L.fsencode(path))

    def __repr__(self):
        return (f"<pneumo.History {len(self)} epochs"
                f"{', stopped early' if self.stopped_early else ''}"
                f"{', cancelled' if self.cancelled else ''}>")


def _monitor_params(struct, settings, kind):
    """Fill an EarlyStoppingParams/ReduceLRParams from True or a dict."""
    if settings is None or settings is False:
        struct.enabled = 0
        return
    struct.enabled = 1
    if settings is True:
        return
    settings = dict(settings)
    if "monitor" in settings:
        m = settings.pop("monitor")
        struct.monitor = S.MONITORS[m] if isinstance(m, str) else int(m)
    if "mode" in settings:
        m = settings.pop("mode")
        struct.mode = S.MODES[m] if isinstance(m, str) else int(m)
    names = {n for n, _ in struct._fields_ if not n.startswith("reserved")} - {"enabled", "size"}
    for k, v in settings.items():
        if k not in names:
            raise TypeError(f"unknown {kind} setting {k!r}; known: monitor, mode, "
                            f"{', '.join(sorted(names - {'monitor', 'mode'}))}")
        setattr(struct, k, int(v) if k in ("patience", "cooldown", "restore_best_weights") else v)


def _monitor_dict(struct):
    d = struct.to_dict()
    d.pop("enabled")
    d["monitor"] = {v: k for k, v in S.MONITORS.items()}.get(d["monitor"], d["monitor"])
    d["mode"] = {v: k for k, v in S.MODES.items()}.get(d["mode"], d["mode"])
    return d


def early_stopping_defaults():
    """Keras' EarlyStopping defaults as the library fills them (the keys fit()'s
    early_stopping dict accepts)."""
    p = S.EarlyStoppingParams()
    L.lib.pneumo_early_stopping_default_params(byref(p))
    d = _monitor_dict(p)
    d["restore_best_weights"] = bool(d["restore_best_weights"])
    return d


def reduce_lr_defaults():
    """Keras' ReduceLROnPlateau defaults (the keys fit()'s reduce_lr dict accepts)."""
    p = S.ReduceLRParams()
    L.lib.pneumo_reduce_lr_default_params(byref(p))
    return _monitor_dict(p)


def _print_event(ev, out=None):
    out = out or sys.stdout
    if ev.kind == "epoch_begin":
        print(f"Epoch {ev.epoch + 1}/{ev.epochs}", file=out)
    elif ev.kind == "epoch_end":
        line = (f"{ev.batches}/{ev.batches} - {ev.seconds:.0f}s - loss: {ev.loss:.4f} - "
                f"accuracy: {ev.accuracy:.4f}")
        if ev.val_loss is not None:
            line += f" - val_loss: {ev.val_loss:.4f} - val_accuracy: {ev.val_accuracy:.4f}"
        print(line + f" - lr: {ev.lr:.4g}", file=out)
    elif ev.kind == "lr_changed":
        print(f"\nEpoch {ev.epoch + 1}: ReduceLROnPlateau reducing learning rate to {ev.lr:.4g}.",
              file=out)
    elif ev.kind == "early_stop":
        print(f"Epoch {ev.epoch + 1}: early stopping", file=out)
    out.flush()


def _datasets_in_lock_order(*datasets):
    """Datasets to lock, in a global order (by id) so that two fits with swapped
    train/val datasets cannot deadlock."""
    return tuple(sorted({id(d): d for d in datasets if d is not None}.values(), key=id))


class _FitRun:
    """Options, callback trampoline and result handling shared by fit() and
    fit_resume()."""

    def __init__(self, epochs, batch_size, class_weight, early_stopping, reduce_lr, callback,
                 best_model_path, checkpoint_path, initial_epoch, verbose):
        o = S.FitOptions()
        L.lib.pneumo_fit_default_options(byref(o))
        o.epochs = int(epochs)
        o.batch_size = int(batch_size)
        o.initial_epoch = int(initial_epoch)
        if class_weight is None:
            o.class_weighting = S.CLASS_WEIGHT_NONE
        elif isinstance(class_weight, str):
            if class_weight != "balanced":
                raise InvalidArgumentError(f"class_weight must be None, 'balanced' or "
                                           f"{{0: w0, 1: w1}}, not {class_weight!r}",
                                           S.ERR_INVALID_ARG)
            o.class_weighting = S.CLASS_WEIGHT_BALANCED
        else:
            cw = (dict(class_weight) if isinstance(class_weight, dict)
                  else dict(enumerate(class_weight)))
            if set(cw) != {0, 1}:
                raise InvalidArgumentError("class_weight needs weights for classes 0 and 1",
                                           S.ERR_INVALID_ARG)
            o.class_weighting = S.CLASS_WEIGHT_CUSTOM
            o.class_weights[0], o.class_weights[1] = float(cw[0]), float(cw[1])
        es = S.EarlyStoppingParams()
        L.lib.pneumo_early_stopping_default_params(byref(es))
        _monitor_params(es, early_stopping, "early_stopping")
        rl = S.ReduceLRParams()
        L.lib.pneumo_reduce_lr_default_params(byref(rl))
        _monitor_params(rl, reduce_lr, "reduce_lr")
        # the struct keeps the pointed-to settings alive (ctypes _objects)
        o.early_stopping = ctypes.pointer(es)
        o.reduce_lr = ctypes.pointer(rl)
        # ctypes keeps the bytes alive through the struct; the C strings must live
        # until the library returns, and so must the callback object below.
        o.best_model_path = L.fsencode(best_model_path) if best_model_path is not None else None
        o.checkpoint_path = L.fsencode(checkpoint_path) if checkpoint_path is not None else None
        o.progress = S.WRITE_FN()  # NULL: progress is shown from the fit callback
        if callback is None:
            self.callbacks = []
        elif isinstance(callback, (list, tuple)):
            self.callbacks = list(callback)
        else:
            self.callbacks = [callback]
        if verbose:
            self.callbacks.append(lambda ev: _print_event(ev) and False)
        self.errors = []
        self.asked_stop = False
        self.interrupted = False
        # Installed even without user callbacks: entering Python once per event lets a
        # pending Ctrl-C (KeyboardInterrupt) stop training cleanly after the batch.
        self.c_callback = S.FIT_CALLBACK(self._trampoline)
        o.callback = self.c_callback
        self.options = o

    def _trampoline(self, event_ptr, _user):
        # Runs on the fitting thread while the library waits. An exception must
        # never escape into C (ctypes would only print it): it is kept, training is
        # cancelled, and finish() re-raises it.
        try:
            if self.interrupted:
                return 1
            ev = FitEvent._from_struct(event_ptr.contents)
            stop = False
            for cb in self.callbacks:
                if cb(ev):
                    stop = True
            if stop:
                self.asked_stop = True
            return 1 if stop else 0
        except BaseException as e:  # noqa: B902 - re-raised after the library returns
            self.errors.append(e)
            return 1

    @contextlib.contextmanager
    def sigint_guard(self):
        """While the library trains, turn Ctrl-C into a flag the callback reads
        (raising KeyboardInterrupt inside a ctypes callback could escape before any
        try block); finish() raises KeyboardInterrupt afterwards. Only in the main
        thread and when SIGINT has Python's default handler."""
        installed = False
        if threading.current_thread() is threading.main_thread():
            try:
                installed = signal.getsignal(signal.SIGINT) is signal.default_int_handler
            except (ValueError, AttributeError):
                installed = False
        if installed:
            def on_sigint(signum, frame):
                self.interrupted = True
            signal.signal(signal.SIGINT, on_sigint)
        try:
            yield
        finally:
            if installed:
                signal.signal(signal.SIGINT, signal.default_int_handler)

    def error(self, status, function):
        """The library's exception for `status` (read on the calling thread right
        after the call), or None when OK or explained by a callback."""
        if status == S.OK or self.errors or (status == S.ERR_CANCELLED and
                                             (self.asked_stop or self.interrupted)):
            return None
        try:
            L.raise_error(status, function)
        except PneumoError as e:
            return e

    def finish(self, status, err, hist):
        history = History(hist.value) if hist.value else None
        if self.interrupted and not self.errors:
            self.errors.append(KeyboardInterrupt())
        if self.errors:
            exc = self.errors[0]
            try:
                exc.history = history
            except AttributeError:
                pass
            raise exc
        if err is not None:
            err.history = history
            raise err
        if history is not None:
            history.cancelled = status == S.ERR_CANCELLED
        return history


class Model(L.Handle):
    """A sequential model on a fixed input shape (height, width, channels).

    Model(h, w, c, seed) is empty; add layers with add_conv2d(), add_maxpool2d(),
    add_flatten(), add_dense(), add_activation(), add_dropout() (each returns the
    model, so calls chain). Model.article(size, seed) builds the article's CNN.
    `optimizer` is the model's current optimizer (set by fit(), train_step() or
    Model.load(); None until then)."""

    _destroy = "pneumo_model_destroy"

    def __init__(self, height, width, channels=1, seed=0):
        out = c_void_p()
        L.call("pneumo_model_create", int(height), int(width), int(channels), int(seed),
               byref(out))
        L.Handle.__init__(self, out.value)
        self.optimizer = None

    @classmethod
    def _adopt(cls, ptr):
        m = cls.__new__(cls)
        L.Handle.__init__(m, ptr)
        m.optimizer = None
        return m

    @classmethod
    def article(cls, size=500, seed=1):
        """The article's CNN for size x size x 1 inputs (1,467,137 parameters at 500;
        size >= 94)."""
        out = c_void_p()
        L.call("pneumo_model_create_article", int(size), int(seed), byref(out))
        return cls._adopt(out.value)

    @classmethod
    def load(cls, path):
        """Load a model file: returns (model, optimizer or None). Corrupt or
        hostile files raise FormatError/LimitError naming the file."""
        m, o = c_void_p(), c_void_p()
        L.call("pneumo_model_load", L.fsencode(path), byref(m), byref(o))
        return cls._wrap_loaded(m, o)

    @classmethod
    def from_bytes(cls, data):
        """Load a model file's contents from memory: (model, optimizer or None)."""
        data = bytes(data)
        m, o = c_void_p(), c_void_p()
        L.call("pneumo_model_load_memory", data, len(data), byref(m), byref(o))
        return cls._wrap_loaded(m, o)

    @classmethod
    def from_keras_h5(cls, path):
        """Import a Keras 2 / tf.keras HDF5 model file (model.save("m.h5")):
        returns (model, optimizer or None), as load(). UnsupportedError names
        what libpneumo lacks (a layer type, channels_first, a functional model,
        or HDF5 itself in a build without it)."""
        m, o = c_void_p(), c_void_p()
        L.call("pneumo_model_import_keras_h5", L.fsencode(path), byref(m), byref(o))
        return cls._wrap_loaded(m, o)

    @classmethod
    def _wrap_loaded(cls, m, o):
        model = cls._adopt(m.value)
        opt = Optimizer._adopt(o.value) if o.value else None
        model.optimizer = opt
        return model, opt

    # --- building ---------------------------------------------------------------------
    def add_conv2d(self, filters, kernel_size=3, strides=1, padding="valid", activation=None,
                   use_bias=True):
        """Append Conv2D(filters, kernel_size, strides, padding, activation)."""
        p = S.Conv2DParams()
        L.lib.pneumo_conv2d_default_params(byref(p))
        p.filters = int(filters)
        p.kernel_h, p.kernel_w = _pair_arg(kernel_size, "kernel_size")
        p.stride_h, p.stride_w = _pair_arg(strides, "strides")
        p.padding = _padding(padding)
        p.activation = _activation(activation)
        p.use_bias = int(bool(use_bias))
        with self._lock:
            L.call("pneumo_model_add_conv2d", self.handle, byref(p))
        return self

    def add_maxpool2d(self, pool_size=2, strides=None, padding="valid"):
        """Append MaxPooling2D(pool_size, strides (None = pool size), padding)."""
        p = S.MaxPool2DParams()
        L.lib.pneumo_maxpool2d_default_params(byref(p))
        p.pool_h, p.pool_w = _pair_arg(pool_size, "pool_size")
        p.stride_h, p.stride_w = (0, 0) if strides is None else _pair_arg(strides, "strides")
        p.padding = _padding(padding)
        with self._lock:
            L.call("pneumo_model_add_maxpool2d", self.handle, byref(p))
        return self

    add_maxpool = add_maxpool2d

    def add_flatten(self):
        with self._lock:
            L.call("pneumo_model_add_flatten", self.handle)
        return self

    def add_dense(self, units, activation=None):
        with self._lock:
            L.call("pneumo_model_add_dense", self.handle, int(units), _activation(activation))
        return self

    def add_activation(self, activation):
        with self._lock:
            L.call("pneumo_model_add_activation", self.handle, _activation(activation))
        return self

    def add_dropout(self, rate):
        with self._lock:
            L.call("pneumo_model_add_dropout", self.handle, float(rate))
        return self

    def add_batchnorm(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True):
        """Append BatchNormalization over the channels (Keras' defaults)."""
        p = S.BatchnormParams()
        L.lib.pneumo_batchnorm_default_params(byref(p))
        p.axis, p.momentum, p.epsilon = int(axis), float(momentum), float(epsilon)
        p.center, p.scale = int(bool(center)), int(bool(scale))
        with self._lock:
            L.call("pneumo_model_add_batchnorm", self.handle, byref(p))
        return self

    def add_global_avgpool2d(self):
        """Append GlobalAveragePooling2D: (H, W, C) -> (C)."""
        with self._lock:
            L.call("pneumo_model_add_global_avgpool2d", self.handle)
        return self

    # --- facts ---------------------------------------------------------------------------
    @property
    def threads(self):
        """Threads used by forward/backward passes (the online cores unless set);
        assign 1..64 (0 = cores). Forward results do not depend on it."""
        with self._lock:
            return L.lib.pneumo_model_threads(self.handle)

    @threads.setter
    def threads(self, n):
        with self._lock:
            L.call("pneumo_model_set_threads", self.handle, int(n))

    @property
    def num_layers(self):
        with self._lock:
            return L.lib.pneumo_model_num_layers(self.handle)

    @property
    def input_shape(self):
        """(height, width, channels) of one sample."""
        h, w, c = c_int32(), c_int32(), c_int32()
        with self._lock:
            L.call("pneumo_model_input_shape", self.handle, byref(h), byref(w), byref(c))
        return h.value, w.value, c.value

    @property
    def output_size(self):
        with self._lock:
            return L.lib.pneumo_model_output_size(self.handle)

    def count_params(self):
        """Trainable parameters (Keras' count_params())."""
        with self._lock:
            return L.lib.pneumo_model_num_params(self.handle)

    num_params = property(count_params)

    @property
    def num_param_tensors(self):
        with self._lock:
            return L.lib.pneumo_model_num_param_tensors(self.handle)

    @property
    def param_names(self):
        """['conv2d_1/kernel', 'conv2d_1/bias', ...]."""
        with self._lock:
            h = self.handle
            return [L.text(L.fetch_bytes("pneumo_model_param_name", h, i))
                    for i in range(L.lib.pneumo_model_num_param_tensors(h))]

    def _param_index(self, key):
        if isinstance(key, str):
            names = self.param_names
            if key not in names:
                raise KeyError(f"no parameter {key!r}; the model has {', '.join(names)}")
            return names.index(key)
        n = self.num_param_tensors
        if not -n <= key < n:
            raise IndexError(f"parameter index {key} out of range ({n} tensors)")
        return key % n

    def _view(self, fn, key):
        with self._lock:
            out = c_void_p()
            L.call(fn, self.handle, self._param_index(key), byref(out))
            t = Tensor._adopt(out.value, owner=self)
            self._export(t)
        return t

    def param(self, key):
        """Tensor viewing parameter `key` (index or name) in place, in Keras'
        layout; writing it changes the model. The view keeps the model alive."""
        return self._view("pneumo_model_param", key)

    def grad(self, key):
        """Tensor viewing the gradient of parameter `key` from the last
        compute_gradients()/train_step()."""
        return self._view("pneumo_model_grad", key)

    def get_weights(self):
        """Copies of every parameter tensor (NumPy arrays, or nested lists without
        NumPy), in param_names order."""
        out = []
        for i in range(self.num_param_tensors):
            with self.param(i) as t:
                out.append(t.numpy(copy=True) if np is not None else t.tolist())
        return out

    def set_weights(self, weights):
        """Copy values into every parameter tensor (shapes must match)."""
        weights = list(weights)
        if len(weights) != self.num_param_tensors:
            raise InvalidArgumentError(f"{len(weights)} arrays for {self.num_param_tensors} "
                                       "parameter tensors", S.ERR_INVALID_ARG)
        with self._lock:
            for i, w in enumerate(weights):
                with self.param(i) as t:
                    t.copy_from(w)

    def summary(self):
        """Keras-style summary text (layers, output shapes, 'Total params: ...')."""
        with self._lock:
            return L.fetch_string("pneumo_model_summary_string", self.handle)

    def __repr__(self):
        if self.closed:
            return "<pneumo.Model (closed)>"
        return (f"<pneumo.Model input={self.input_shape} layers={self.num_layers} "
                f"params={self.count_params():,}>")

    def save(self, path, optimizer=None):
        """Save architecture and weights (and the optimizer's settings and state if
        given) to `path`, atomically."""
        with ExitStack() as stack:
            stack.enter_context(self._lock)
            if optimizer is not None:
                stack.enter_context(optimizer._lock)
            L.call("pneumo_model_save", self.handle,
                   optimizer.handle if optimizer is not None else None, L.fsencode(path))

    @property
    def layers(self):
        """The layers as layer objects (pneumo.Conv2D, ...), with the model's
        layer names (conv2d, conv2d_1, ...)."""
        with self._lock:
            text = L.fetch_string("pneumo_model_architecture_json", self.handle)
        return K.layers_from_architecture(text)

    @property
    def seed(self):
        """The seed the model was created with (its provenance)."""
        return self.provenance["seed"]

    def _onnx_options(self, layout, opset, batch):
        o = S.OnnxOptions()
        L.lib.pneumo_onnx_options_default(byref(o))
        if layout not in ("NHWC", "NCHW"):
            raise ValueError(f"layout must be 'NHWC' or 'NCHW', not {layout!r}")
        o.input_layout = S.ENUM_VALUES["PNEUMO_ONNX_" + layout]
        o.opset = int(opset)
        o.batch = 0 if batch is None else int(batch)
        return o

    def export_onnx(self, path=None, layout="NHWC", opset=13, batch=None):
        """Write the model as an ONNX graph (docs/interoperability.md): input
        "input" float32 in `layout` ("NHWC", libpneumo's and Keras' own, or
        "NCHW"), preprocessed as Model.preprocessing says; output "probability".
        batch None leaves the batch dimension symbolic. With path None, returns
        the file's bytes instead of writing it."""
        o = self._onnx_options(layout, opset, batch)
        with self._lock:
            if path is not None:
                L.call("pneumo_model_export_onnx", self.handle, byref(o), L.fsencode(path))
                return None
            needed = ctypes_size_t(0)
            L.call("pneumo_model_export_onnx_memory", self.handle, byref(o), None, 0, byref(needed))
            buf = ctypes.create_string_buffer(needed.value)
            L.call("pneumo_model_export_onnx_memory", self.handle, byref(o), buf, len(buf),
                   byref(needed))
            return buf.raw[:needed.value]

    # --- inference ----------------------------------------------------------------------
    def _batch_input(self, x):
        """x as an (N, H, W, C) Tensor; a single (H, W, C) sample gets a batch axis
        (zero copy)."""
        if np is not None and isinstance(x, np.ndarray) and x.dtype.kind in "iub":
            x = K.input_array(self, x)  # uint8 pixels rescaled; other integers refused
        t = Tensor.from_any(x)
        shape = t.shape
        if len(shape) == 3 and shape == self.input_shape:
            out = c_void_p()
            cshape = (c_int64 * 4)(1, *shape)
            L.call("pneumo_tensor_wrap", 4, cshape, c_void_p(t.data_ptr), t.size, byref(out))
            t = Tensor._adopt(out.value, keep=t)
        return t

    def predict(self, x, batch_size=32):
        """Outputs for a batch x (N, H, W, C) - a NumPy array (float32
        C-contiguous arrays are used in place; uint8 pixels are rescaled by the
        model's preprocessing, other integer arrays refused), a Tensor or nested
        lists - or for one (H, W, C) sample, or for a Dataset (in its epoch-0
        order: open it with shuffle=False). Runs `batch_size` samples per forward pass (None =
        all at once). Returns an (N, output_size) float32 NumPy array, or nested
        lists without NumPy."""
        if isinstance(x, Dataset):
            parts = [self.predict(bx, batch_size) for bx, _ in x.batches(batch_size or 32)]
            return np.concatenate(parts) if parts else np.zeros((0, self.output_size), np.float32)
        t = self._batch_input(x)
        shape = t.shape
        n = shape[0] if shape else 0
        with self._lock:
            k = self.output_size
            if np is not None:
                result = np.zeros((n, k), dtype=np.float32)
                out = Tensor.from_numpy(result)
            else:
                result = out = Tensor((n, k))
            step = n if not batch_size or batch_size >= n else int(batch_size)
            if step == n or len(shape) != 4:
                L.call("pneumo_model_predict", self.handle, t.handle, out.handle)
            else:
                per = 1
                for d in shape[1:]:
                    per *= d
                for start in range(0, n, step):
                    m = min(step, n - start)
                    xs, ys = c_void_p(), c_void_p()
                    L.call("pneumo_tensor_wrap", 4, (c_int64 * 4)(m, *shape[1:]),
                           c_void_p(t.data_ptr + start * per * 4), m * per, byref(xs))
                    with Tensor._adopt(xs.value) as xv:
                        L.call("pneumo_tensor_wrap", 2, (c_int64 * 2)(m, k),
                               c_void_p(out.data_ptr + start * k * 4), m * k, byref(ys))
                        with Tensor._adopt(ys.value) as yv:
                            L.call("pneumo_model_predict", self.handle, xv.handle, yv.handle)
        return result if np is not None else out.tolist()

    def predict_file(self, path):
        """Probability of class 1 for a JPEG/PNG file, preprocessed as the dataset
        pipeline does (grayscale, nearest resize to the input size, 1/255)."""
        p = c_float()
        with self._lock:
            L.call("pneumo_model_predict_file", self.handle, L.fsencode(path), byref(p))
        return p.value

    def predict_image(self, image):
        """Probability of class 1 for an Image (or a (height, width) uint8 array)."""
        own = not isinstance(image, Image)
        img = Image.from_numpy(image) if own else image
        try:
            p = c_float()
            with self._lock:
                L.call("pneumo_model_predict_image", self.handle, img.handle, byref(p))
            return p.value
        finally:
            if own:
                img.close()

    def diagnose(self, path_or_image):
        """The article's single-image diagnosis: (probability of pneumonia, label,
        sentence), e.g. (0.9731, 'Pneumonia', 'I am 97.31% percent confirmed that
        this is a Pneumonia case'); p >= the model's threshold (0.5 unless the model
        file says otherwise) is class 1. Labels are the model's class names as the
        article prints them ('PNEUMONIA' -> 'Pneumonia')."""
        if isinstance(path_or_image, Image) or (np is not None and
                                                 isinstance(path_or_image, np.ndarray)):
            p = self.predict_image(path_or_image)
        else:
            p = self.predict_file(path_or_image)
        label = c_int32()
        with self._lock:
            sentence = L.fetch_string("pneumo_model_diagnosis_sentence", self.handle, c_float(p),
                                      _extra=(byref(label),))
            name = L.fetch_string("pneumo_model_class_label", self.handle, label.value)
        return p, name, sentence

    # --- serving: clones and the model card ------------------------------------------
    def clone_inference(self):
        """A new Model sharing this model's weights read-only (no copy), with its own
        buffers, for inference on another thread (pneumo_model_clone_inference).
        While a clone exists, training any model sharing the weights raises
        StateError."""
        out = c_void_p()
        with self._lock:
            L.call("pneumo_model_clone_inference", self.handle, byref(out))
        return Model._adopt(out.value)

    @property
    def class_names(self):
        """Names of class 0 and 1 from the model card (default ['NORMAL', 'PNEUMONIA'])."""
        with self._lock:
            n = L.lib.pneumo_model_num_classes(self.handle) or 2
            return [L.fetch_bytes("pneumo_model_class_name", self.handle, i).decode()
                    for i in range(n)]

    @class_names.setter
    def class_names(self, names):
        names = [str(n).encode() for n in names]
        arr = (ctypes.c_char_p * len(names))(*names)
        with self._lock:
            L.call("pneumo_model_set_class_names", self.handle, len(names), arr)

    @property
    def threshold(self):
        """Operating threshold: p >= threshold is class 1 (default 0.5)."""
        with self._lock:
            return L.lib.pneumo_model_threshold(self.handle)

    @threshold.setter
    def threshold(self, t):
        with self._lock:
            L.call("pneumo_model_set_threshold", self.handle, c_float(float(t)))

    @property
    def temperature(self):
        """Temperature of the output: inference reports sigmoid(logit / T) (default 1)."""
        with self._lock:
            return L.lib.pneumo_model_temperature(self.handle)

    @temperature.setter
    def temperature(self, t):
        with self._lock:
            L.call("pneumo_model_set_temperature", self.handle, c_float(float(t)))

    @property
    def preprocessing(self):
        """How an image becomes the input: dict of height, width, color_mode,
        resample ('nearest' or 'bilinear') and rescale."""
        p = S.Preprocessing()
        L.lib.pneumo_preprocessing_default(byref(p))
        with self._lock:
            L.call("pneumo_model_preprocessing", self.handle, byref(p))
        resample = {v: k for k, v in S.RESAMPLES.items()}[p.resample]
        return {"height": p.height, "width": p.width, "color_mode": "grayscale",
                "resample": resample, "rescale": p.rescale}

    @property
    def provenance(self):
        """Where the model came from: dict of library_version, seed, epochs,
        class_counts, val_loss, val_accuracy, val_auc (None where unknown)."""
        p = S.Provenance()
        L.lib.pneumo_provenance_default(byref(p))
        with self._lock:
            L.call("pneumo_model_provenance", self.handle, byref(p))
        return {"library_version": p.library_version.decode(), "seed": p.seed,
                "epochs": None if p.epochs < 0 else p.epochs,
                "class_counts": [None if c < 0 else c for c in p.class_counts],
                "val_loss": _nan_to_none(p.val_loss), "val_accuracy": _nan_to_none(p.val_accuracy),
                "val_auc": _nan_to_none(p.val_auc)}

    @property
    def training_settings(self):
        """Free text recording how the model is trained ('' when none), saved with
        the model and its checkpoints (pneumo-train writes key=value lines)."""
        with self._lock:
            return L.fetch_string("pneumo_model_training_settings", self.handle)

    @training_settings.setter
    def training_settings(self, text):
        with self._lock:
            L.call("pneumo_model_set_training_settings", self.handle, str(text).encode())

    def info(self):
        """The whole model card as a dict (pneumo_model_info_json)."""
        import json
        with self._lock:
            return json.loads(L.fetch_string("pneumo_model_info_json", self.handle))

    # --- Grad-CAM ------------------------------------------------------------------------
    def gradcam(self, x, target=None, layer=None, return_info=False):
        """Grad-CAM map of one input for a Conv2D layer (default: the last one) at
        that layer's resolution, as an (h, w) float32 NumPy array (nested lists
        without NumPy). x is a preprocessed (H, W, C) or (1, H, W, C) float array,
        or an Image / (height, width) uint8 array, preprocessed like
        predict_image(). target 1 = class 1 (Pneumonia), 0 = class 0 (Normal),
        None = the predicted class. With return_info, returns (map, info dict)."""
        opts = S.GradcamOptions()
        L.lib.pneumo_gradcam_default_options(byref(opts))
        if target is not None:
            if target not in (0, 1):
                raise InvalidArgumentError(f"target must be 0, 1 or None, not {target!r}",
                                           S.ERR_INVALID_ARG, "gradcam")
            opts.target = int(target)
        if layer is not None:
            opts.layer = int(layer)
        info = S.GradcamInfo()
        info.size = ctypes_sizeof(S.GradcamInfo)
        out = c_void_p()
        image = x if isinstance(x, Image) else None
        own = False
        if image is None and np is not None and isinstance(x, np.ndarray) and x.dtype == np.uint8:
            image, own = Image.from_numpy(x), True
        try:
            if image is not None:
                with self._lock:
                    L.call("pneumo_model_gradcam_image", self.handle, image.handle, byref(opts),
                           byref(out), byref(info))
            else:
                t = self._batch_input(x)
                with self._lock:
                    L.call("pneumo_model_gradcam", self.handle, t.handle, byref(opts), byref(out),
                           byref(info))
        finally:
            if own:
                image.close()
        with Tensor._adopt(out.value) as tmap:
            result = tmap.numpy(copy=True) if np is not None else tmap.tolist()
        if return_info:
            return result, {"layer": info.layer, "target": info.target, "height": info.height,
                            "width": info.width, "probability": info.probability, "max": info.max}
        return result

    @staticmethod
    def gradcam_overlay_png(image, cam, alpha=0.5, max_side=1024):
        """The overlay PNG (bytes) of a Grad-CAM map over an Image or (height, width)
        uint8 array: inferno colours alpha-blended over the X-ray."""
        own = not isinstance(image, Image)
        img = Image.from_numpy(image) if own else image
        opts = S.OverlayOptions()
        L.lib.pneumo_overlay_default_options(byref(opts))
        opts.alpha = float(alpha)
        opts.max_side = int(max_side)
        data, size = c_void_p(), ctypes_size_t()
        try:
            tmap = Tensor.from_any(cam if np is None else np.ascontiguousarray(cam, dtype=np.float32))
            L.call("pneumo_gradcam_overlay_png", img.handle, tmap.handle, byref(opts), byref(data),
                   byref(size))
            try:
                return ctypes_string_at(data.value, size.value)
            finally:
                L.lib.pneumo_free(data)
        finally:
            if own:
                img.close()

    # --- training -----------------------------------------------------------------------
    def _xyw(self, x, y, weights):
        tx = self._batch_input(x)
        ty = Tensor.from_any(y)
        tw = Tensor.from_any(weights) if weights is not None else None
        return tx, ty, tw

    def compute_gradients(self, x, y, weights=None):
        """Forward and backward pass without an update (gradients via grad());
        returns {'loss', 'accuracy', 'batch_size'}."""
        tx, ty, tw = self._xyw(x, y, weights)
        r = S.StepResult()
        with self._lock:
            L.call("pneumo_model_compute_gradients", self.handle, tx.handle, ty.handle,
                   tw.handle if tw else None, byref(r))
        return _step_dict(r)

    def train_step(self, x, y, weights=None, optimizer=None):
        """One training step on a batch: x (N, H, W, C), labels y (N,) in {0, 1},
        optional per-sample weights (N,). Uses `optimizer`, else the model's
        optimizer (an Adam with Keras defaults is created the first time).
        Returns {'loss', 'accuracy', 'batch_size'}."""
        opt = self._optimizer(optimizer)
        tx, ty, tw = self._xyw(x, y, weights)
        r = S.StepResult()
        with self._lock, opt._lock:
            L.call("pneumo_model_train_step", self.handle, opt.handle, tx.handle, ty.handle,
                   tw.handle if tw else None, byref(r))
        return _step_dict(r)

    def evaluate_batch(self, x, y, weights=None):
        """Loss and accuracy of one batch in inference mode."""
        tx, ty, tw = self._xyw(x, y, weights)
        r = S.StepResult()
        with self._lock:
            L.call("pneumo_model_evaluate_batch", self.handle, tx.handle, ty.handle,
                   tw.handle if tw else None, byref(r))
        return _step_dict(r)

    def _optimizer(self, optimizer):
        # under the model's lock: two threads training one model must not
        # each create the first Adam and step different optimizers
        with self._lock:
            if optimizer is not None:
                self.optimizer = optimizer
            elif self.optimizer is None or self.optimizer.closed:
                self.optimizer = Adam()
            return self.optimizer

    def compile(self, optimizer="adam", loss="binary_crossentropy", metrics=None):
        """Keras' compile(): sets the optimizer ('adam', 'sgd' or an Optimizer;
        Keras' defaults for the names). libpneumo trains with binary
        cross-entropy and reports accuracy: other losses are refused."""
        if loss not in ("binary_crossentropy", "BinaryCrossentropy"):
            raise InvalidArgumentError(f"loss {loss!r} is not supported (binary_crossentropy only)",
                                       S.ERR_INVALID_ARG)
        for m in metrics or []:
            if m not in ("accuracy", "acc", "binary_accuracy"):
                raise InvalidArgumentError(f"metric {m!r} is not supported (accuracy)", S.ERR_INVALID_ARG)
        if isinstance(optimizer, str):
            from .optim import SGD
            kinds = {"adam": Adam, "sgd": SGD}
            if optimizer.lower() not in kinds:
                raise InvalidArgumentError(f"optimizer {optimizer!r} is not supported ('adam', 'sgd')",
                                           S.ERR_INVALID_ARG)
            optimizer = kinds[optimizer.lower()]()
        self.optimizer = optimizer
        return self

    def fit(self, x, y=None, *, batch_size=None, epochs=25, verbose="auto", callbacks=None,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, optimizer=None, early_stopping=None, reduce_lr=None, callback=None,
            best_model_path=None, checkpoint_path=None, val=None, seed=None):
        """Train with tf.keras' semantics; returns a History (ArrayHistory for
        arrays). Two kinds of input:

        - NumPy arrays: fit(x, y, batch_size=32, epochs, validation_data=(xv, yv[,
          wv]) or a Dataset, sample_weight, class_weight, shuffle, callbacks).
          x is (N, H, W, C) float32 preprocessed, or uint8 pixels (rescaled by
          Model.preprocessing). Runs Keras' loop in Python over train_step():
          a new permutation each epoch (from `seed`, default the model's).
        - Datasets: fit(train, val) (or validation_data=val), batch_size 16,
          run by the library's pneumo_model_fit; these also take
          early_stopping: None/False (off), True (Keras defaults) or a dict with
          monitor ('val_loss', 'val_accuracy', 'loss', 'accuracy'), mode, patience,
          min_delta, restore_best_weights; reduce_lr: likewise for
          ReduceLROnPlateau (monitor, mode, patience, factor, min_delta, cooldown,
          min_lr); best_model_path and checkpoint_path (see fit_resume).

        optimizer: defaults to the model's (compile(), or Adam() the first time).
        class_weight: None, 'balanced' (sklearn's) or {0: w0, 1: w1}.
        callbacks (or callback): pneumo.EarlyStopping, ReduceLROnPlateau and
          ModelCheckpoint (Dataset training: the library runs them), Callback objects (on_epoch_end(epoch, logs) and
          friends; model.stop_training = True stops) or functions fn(FitEvent)
          -> bool (True stops), or a list of them.
        verbose: 'auto' (a progress bar on a terminal, else quiet), 0, 1 (bar),
          2 or True (one line per epoch)."""
        if callbacks is not None and callback is not None:
            raise InvalidArgumentError("give callbacks or callback, not both", S.ERR_INVALID_ARG)
        callbacks = callbacks if callbacks is not None else callback
        opt = self._optimizer(optimizer)
        if not isinstance(x, Dataset):
            if y is None:
                raise InvalidArgumentError("fit(x, y): labels y are missing", S.ERR_INVALID_ARG)
            dataset_only = {"early_stopping": early_stopping, "reduce_lr": reduce_lr,
                            "best_model_path": best_model_path, "checkpoint_path": checkpoint_path,
                            "val": val}
            given = [k for k, v in dataset_only.items() if v is not None]
            if given:
                raise InvalidArgumentError(
                    f"{', '.join(given)}: only for Dataset training (use callbacks with arrays)",
                    S.ERR_INVALID_ARG)
            return K.fit_arrays(self, opt, x, y, batch_size=batch_size, epochs=epochs,
                                validation_data=validation_data, sample_weight=sample_weight,
                                class_weight=class_weight, callbacks=callbacks, verbose=verbose,
                                shuffle=shuffle, initial_epoch=initial_epoch,
                                seed=self.seed if seed is None else seed, event_cls=FitEvent)
        if sample_weight is not None:
            raise InvalidArgumentError("sample_weight is for arrays; a Dataset weighs by class_weight",
                                       S.ERR_INVALID_ARG)
        if not shuffle:
            raise InvalidArgumentError("shuffle=False: a Dataset shuffles as it was opened "
                                       "(Dataset.from_directory(..., shuffle=False))", S.ERR_INVALID_ARG)
        if sum(v is not None for v in (y, val, validation_data)) > 1:
            raise InvalidArgumentError("give the validation Dataset once (fit(train, val))",
                                       S.ERR_INVALID_ARG)
        train = x
        val = y if y is not None else val if val is not None else validation_data
        batch_size = 16 if batch_size is None else batch_size
        callbacks, es, rl, best = K.split_library_callbacks(callbacks)
        for value, name, given in ((es, "early_stopping", early_stopping), (rl, "reduce_lr", reduce_lr),
                                   (best, "best_model_path", best_model_path)):
            if value is not None and given is not None:
                raise InvalidArgumentError(f"{name} is given twice (as a setting and as a callback)",
                                           S.ERR_INVALID_ARG)
        early_stopping = early_stopping if es is None else es
        reduce_lr = reduce_lr if rl is None else rl
        best_model_path = best_model_path if best is None else best
        cbs = K.CallbackList(callbacks, self, verbose,
                             {"epochs": int(epochs), "steps": train.num_batches(int(batch_size)),
                              "batch_size": int(batch_size), "samples": len(train)})
        run = _FitRun(epochs, batch_size, class_weight, early_stopping, reduce_lr, cbs,
                      best_model_path, checkpoint_path, initial_epoch, False)
        hist = c_void_p()
        cbs.train_begin()
        with ExitStack() as stack:
            for obj in (self, opt) + _datasets_in_lock_order(train, val):
                stack.enter_context(obj._lock)
            with run.sigint_guard():
                status = L.lib.pneumo_model_fit(self.handle, opt.handle, train.handle,
                                                val.handle if val is not None else None,
                                                byref(run.options), byref(hist))
            err = run.error(status, "pneumo_model_fit")
        history = run.finish(status, err, hist)
        cbs.train_end()
        return history

    @classmethod
    def fit_resume(cls, checkpoint, train, val=None, *, epochs=25, batch_size=16,
                   class_weight=None, early_stopping=None, reduce_lr=None, callback=None,
                   best_model_path=None, checkpoint_path=None, verbose=False):
        """Continue a run from a checkpoint written by fit(checkpoint_path=...):
        loads model, optimizer, callback state and history and fits the remaining
        epochs up to `epochs` (pass the same settings as the interrupted run).
        Returns (model, optimizer, history). If the continued training fails, the
        exception carries .model, .optimizer and .history (its state so far)."""
        run = _FitRun(epochs, batch_size, class_weight, early_stopping, reduce_lr, callback,
                      best_model_path, checkpoint_path, 0, verbose)
        m, o, hist = c_void_p(), c_void_p(), c_void_p()
        with ExitStack() as stack:
            for obj in _datasets_in_lock_order(train, val):
                stack.enter_context(obj._lock)
            with run.sigint_guard():
                status = L.lib.pneumo_model_fit_resume(
                    L.fsencode(checkpoint), train.handle, val.handle if val is not None else None,
                    byref(run.options), byref(m), byref(o), byref(hist))
            err = run.error(status, "pneumo_model_fit_resume")
        model, opt = cls._wrap_loaded(m, o) if m.value else (None, None)
        if opt is None and o.value:
            opt = Optimizer._adopt(o.value)
        try:
            history = run.finish(status, err, hist)
        except BaseException as e:
            try:
                e.model, e.optimizer = model, opt
            except AttributeError:
                pass
            raise
        return model, opt, history

    def evaluate(self, x, y=None, batch_size=None, threshold=0.5, *, sample_weight=None,
                 return_dict=False):
        """Evaluate arrays or a Dataset.

        Arrays, as Keras: evaluate(x, y, batch_size=32, sample_weight=None)
        returns [loss, accuracy] (sample-weighted BCE, accuracy at 0.5), or
        {'loss', 'accuracy'} with return_dict=True; x as in fit().

        A Dataset, in order (use one without shuffle and augmentation; batch_size
        16): returns a dict: loss (unweighted BCE), accuracy ((p > threshold) ==
        label), confusion_matrix [[tn, fp], [fn, tp]], roc_auc (None if one class
        only), count, classification_report (sklearn's text, with the dataset's
        class names), probs and labels (float32 NumPy arrays, array.array('f')
        without NumPy) in dataset order."""
        if not isinstance(x, Dataset):
            if y is None:
                raise InvalidArgumentError("evaluate(x, y): labels y are missing", S.ERR_INVALID_ARG)
            loss, acc = K.evaluate_arrays(self, x, y, batch_size, sample_weight)
            return {"loss": loss, "accuracy": acc} if return_dict else [loss, acc]
        dataset = x
        batch_size = 16 if batch_size is None else batch_size
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
        with self._lock, dataset._lock:
            L.call("pneumo_model_evaluate", self.handle, dataset.handle, int(batch_size),
                   float(threshold), byref(ev), c_void_p(pp), c_void_p(pl), n)
        cm = confusion_to_list(ev.confusion)
        names = dataset.class_names
        return {
            "loss": ev.loss,
            "accuracy": ev.accuracy,
            "confusion_matrix": cm,
            "roc_auc": _nan_to_none(ev.roc_auc),
            "calibration_error": _nan_to_none(ev.calibration_error),
            "count": ev.count,
            "classification_report": classification_report(cm, names[:2] if len(names) >= 2
                                                           else None),
            "probs": probs,
            "labels": labels,
        }


class Sequential(Model):
    """Keras' Sequential: Sequential([Conv2D(32, 3, activation="relu",
    input_shape=(500, 500, 1)), MaxPooling2D(), ..., Dense(1, "sigmoid")]).
    The input shape comes from a leading pneumo.Input((H, W, C)), the first
    layer's input_shape or input_shape=; add(layer) appends more."""

    def __init__(self, layers=None, input_shape=None, seed=0, name=None):
        layers, shape = K.sequential(type(self), layers, input_shape, seed)
        Model.__init__(self, *shape, seed=seed)
        self.name = name
        for layer in layers:
            self.add(layer)

    def add(self, layer):
        """Append a layer object; returns the model."""
        if not isinstance(layer, K.Layer):
            raise InvalidArgumentError(f"{layer!r} is not a pneumo layer (pneumo.Conv2D, Dense, ...)",
                                       S.ERR_INVALID_ARG)
        layer._add(self)
        return self


def load_model(path, with_optimizer=False):
    """Keras' load_model: the model of a libpneumo file (.safetensors) or of a
    Keras HDF5 file (.h5, imported); its optimizer is model.optimizer (None if
    the file has none). with_optimizer=True returns (model, optimizer) as
    Model.load does."""
    return K.load_model(Model, path, with_optimizer)


__all__ = ["Model", "Sequential", "load_model", "History", "FitEvent", "early_stopping_defaults", "reduce_lr_defaults"]
