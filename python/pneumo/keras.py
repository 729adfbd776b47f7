"""Keras-style API: layer objects, Sequential, load_model, callbacks with
on_epoch_end and friends, a progress bar, and training on NumPy arrays.

    import pneumo
    from pneumo import Sequential, Conv2D, MaxPooling2D, Flatten, Dense

    model = Sequential([
        Conv2D(32, (3, 3), activation="relu", input_shape=(500, 500, 1)),
        MaxPooling2D(pool_size=(2, 2)),
        Flatten(),
        Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=5, validation_data=(xv, yv))
    loss, accuracy = model.evaluate(xt, yt)
    model.save("model.safetensors")
    model = pneumo.load_model("model.safetensors")

Model.fit/evaluate/predict take NumPy arrays as well as Datasets; uint8 arrays
are pixels and are rescaled by the model's preprocessing (Model.preprocessing,
1/255 by default); other integer arrays are refused."""
import json
import math
import sys
import time

from . import _lib as L
from ._np import np
from .errors import InvalidArgumentError
from . import _structs as S


# --- layers ---------------------------------------------------------------------------
class Layer:
    """Base of the layer objects Sequential takes. `name` is informative: a
    model names its layers Keras-style in order (conv2d, conv2d_1, ...)."""

    def __init__(self, name=None, input_shape=None):
        self.name = name
        self.input_shape = tuple(input_shape) if input_shape is not None else None

    def _add(self, model):
        raise NotImplementedError

    def get_config(self):
        return {k: v for k, v in vars(self).items() if k != "input_shape"}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"<{type(self).__name__} {self.name or ''}{' ' if self.name else ''}{args}>"


class Input(Layer):
    """The input shape (height, width, channels) of a Sequential model."""

    def __init__(self, shape, name=None):
        Layer.__init__(self, name, shape)
        self.shape = tuple(shape)

    def _add(self, model):
        raise InvalidArgumentError("Input must be the first layer of a Sequential model",
                                   S.ERR_INVALID_ARG)


class Conv2D(Layer):
    def __init__(self, filters, kernel_size=3, strides=1, padding="valid", activation=None,
                 use_bias=True, input_shape=None, name=None):
        Layer.__init__(self, name, input_shape)
        self.filters, self.kernel_size, self.strides = filters, kernel_size, strides
        self.padding, self.activation, self.use_bias = padding, activation, use_bias

    def _add(self, model):
        model.add_conv2d(self.filters, self.kernel_size, self.strides, self.padding,
                         self.activation, self.use_bias)


class MaxPooling2D(Layer):
    def __init__(self, pool_size=2, strides=None, padding="valid", input_shape=None, name=None):
        Layer.__init__(self, name, input_shape)
        self.pool_size, self.strides, self.padding = pool_size, strides, padding

    def _add(self, model):
        model.add_maxpool2d(self.pool_size, self.strides, self.padding)


MaxPool2D = MaxPooling2D


class Flatten(Layer):
    def __init__(self, input_shape=None, name=None):
        Layer.__init__(self, name, input_shape)

    def _add(self, model):
        model.add_flatten()


class Dense(Layer):
    def __init__(self, units, activation=None, input_shape=None, name=None):
        Layer.__init__(self, name, input_shape)
        self.units, self.activation = units, activation

    def _add(self, model):
        model.add_dense(self.units, self.activation)


class Activation(Layer):
    def __init__(self, activation, input_shape=None, name=None):
        Layer.__init__(self, name, input_shape)
        self.activation = activation

    def _add(self, model):
        model.add_activation(self.activation)


class Dropout(Layer):
    def __init__(self, rate, input_shape=None, name=None):
        Layer.__init__(self, name, input_shape)
        self.rate = rate

    def _add(self, model):
        model.add_dropout(self.rate)


class BatchNormalization(Layer):
    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, input_shape=None,
                 name=None):
        Layer.__init__(self, name, input_shape)
        self.axis, self.momentum, self.epsilon = axis, momentum, epsilon
        self.center, self.scale = center, scale

    def _add(self, model):
        model.add_batchnorm(self.axis, self.momentum, self.epsilon, self.center, self.scale)


class GlobalAveragePooling2D(Layer):
    def __init__(self, input_shape=None, name=None):
        Layer.__init__(self, name, input_shape)

    def _add(self, model):
        model.add_global_avgpool2d()


GlobalAvgPool2D = GlobalAveragePooling2D


def _act(a):
    return None if a in (None, "linear") else a


def layers_from_architecture(text):
    """Layer objects (with their model names) from pneumo_model_architecture_json."""
    arch = json.loads(text)
    out = []
    for spec in arch["layers"]:
        cls, name = spec["class"], spec["name"]
        if cls == "Conv2D":
            layer = Conv2D(spec["filters"], tuple(spec["kernel_size"]), tuple(spec["strides"]),
                           spec["padding"], _act(spec["activation"]), spec["use_bias"], name=name)
        elif cls == "MaxPooling2D":
            layer = MaxPooling2D(tuple(spec["pool_size"]), tuple(spec["strides"]), spec["padding"],
                                 name=name)
        elif cls == "Flatten":
            layer = Flatten(name=name)
        elif cls == "Dense":
            layer = Dense(spec["units"], _act(spec["activation"]), name=name)
        elif cls == "Activation":
            layer = Activation(spec["activation"], name=name)
        elif cls == "Dropout":
            layer = Dropout(spec["rate"], name=name)
        elif cls == "BatchNormalization":
            layer = BatchNormalization(spec["axis"], spec["momentum"], spec["epsilon"], spec["center"],
                                       spec["scale"], name=name)
        elif cls == "GlobalAveragePooling2D":
            layer = GlobalAveragePooling2D(name=name)
        else:
            raise ValueError(f"unknown layer class {cls!r} in the architecture")
        out.append(layer)
    return out


def sequential(model_cls, layers, input_shape, seed):
    """Build a model of `model_cls` from layer objects (Sequential's body)."""
    layers = list(layers or [])
    if layers and isinstance(layers[0], Input):
        input_shape = layers.pop(0).shape
    elif input_shape is None and layers and layers[0].input_shape is not None:
        input_shape = layers[0].input_shape
    if input_shape is None:
        raise InvalidArgumentError(
            "Sequential needs the input shape: start with pneumo.Input((height, width, channels)) "
            "or give the first layer input_shape=(height, width, channels)", S.ERR_INVALID_ARG)
    if len(input_shape) != 3:
        raise InvalidArgumentError(f"input shape {tuple(input_shape)} is not (height, width, channels)",
                                   S.ERR_INVALID_ARG)
    return layers, tuple(int(v) for v in input_shape)


# --- callbacks --------------------------------------------------------------------------
class Callback:
    """Keras' Callback: override any of on_train_begin/end(logs),
    on_epoch_begin/end(epoch, logs), on_train_batch_end(batch, logs). `model`
    is set before training; setting model.stop_training = True stops after the
    current batch. logs: loss, accuracy (running means over the epoch), and at
    epoch end val_loss, val_accuracy (with validation data) and lr."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass


class LibraryCallback:
    """Base of the Keras callbacks the library runs itself during Dataset
    training (EarlyStopping, ReduceLROnPlateau, ModelCheckpoint): fit() turns
    them into its early_stopping, reduce_lr and best_model_path settings."""

    def __init__(self, **settings):
        self.settings = settings

    def __repr__(self):
        return f"<pneumo.{type(self).__name__} {self.settings}>"


class EarlyStopping(LibraryCallback):
    """Keras' EarlyStopping (Dataset training)."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 restore_best_weights=False):
        LibraryCallback.__init__(self, monitor=monitor, min_delta=min_delta, patience=patience,
                                 mode=mode, restore_best_weights=restore_best_weights)


class ReduceLROnPlateau(LibraryCallback):
    """Keras' ReduceLROnPlateau (Dataset training)."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        LibraryCallback.__init__(self, monitor=monitor, factor=factor, patience=patience, mode=mode,
                                 min_delta=min_delta, cooldown=cooldown, min_lr=min_lr)


class ModelCheckpoint(LibraryCallback):
    """Keras' ModelCheckpoint(filepath, save_best_only=True) (Dataset
    training): saves the model and optimizer whenever the early-stopping
    monitor (val_loss by default) improves."""

    def __init__(self, filepath, monitor="val_loss", save_best_only=True, verbose=0):
        if not save_best_only:
            raise InvalidArgumentError("ModelCheckpoint: only save_best_only=True is supported "
                                       "(use checkpoint_path= for every epoch)", S.ERR_INVALID_ARG)
        LibraryCallback.__init__(self, filepath=filepath, monitor=monitor)


def split_library_callbacks(callbacks):
    """(other callbacks, early_stopping dict, reduce_lr dict, best_model_path)."""
    if callbacks is None:
        return None, None, None, None
    items = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    es = rl = best = None
    rest = []
    for cb in items:
        if isinstance(cb, EarlyStopping):
            es = dict(cb.settings)
        elif isinstance(cb, ReduceLROnPlateau):
            rl = dict(cb.settings)
        elif isinstance(cb, ModelCheckpoint):
            best = cb.settings["filepath"]
        else:
            rest.append(cb)
    for cb in items:
        if isinstance(cb, ModelCheckpoint):
            es_monitor = es["monitor"] if es else "val_loss"
            if cb.settings["monitor"] != es_monitor:
                raise InvalidArgumentError(
                    f"ModelCheckpoint monitors {cb.settings['monitor']!r}, but the library saves the best "
                    f"model by the early-stopping monitor ({es_monitor!r})", S.ERR_INVALID_ARG)
    return rest, es, rl, best


class ProgressBar(Callback):
    """Keras' progress display: verbose=1 redraws a bar per batch, verbose=2
    prints one line per epoch."""

    def __init__(self, verbose=1, stream=None, width=30):
        Callback.__init__(self)
        self.verbose, self.stream, self.width = verbose, stream, width
        self._start = 0.0

    def _out(self):
        return self.stream or sys.stdout

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.monotonic()
        print(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}", file=self._out())

    def _metrics(self, logs):
        parts = [f"{k}: {logs[k]:.4f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy")
                 if logs.get(k) is not None]
        return " - ".join(parts)

    def on_train_batch_end(self, batch, logs=None):
        if self.verbose != 1:
            return
        total = self.params.get("steps") or 0
        done = batch + 1
        filled = int(self.width * done / total) if total else 0
        bar = "=" * max(filled - 1, 0) + (">" if done < total else "=") + "." * (self.width - filled)
        elapsed = time.monotonic() - self._start
        eta = elapsed / done * (total - done) if done else 0.0
        out = self._out()
        out.write(f"\r{done}/{total} [{bar}] - ETA: {eta:.0f}s - {self._metrics(logs or {})}")
        out.flush()

    def on_library_event(self, ev):
        """The library's ReduceLROnPlateau and EarlyStopping decisions."""
        out = self._out()
        if ev.kind == "lr_changed":
            print(f"\nEpoch {ev.epoch + 1}: ReduceLROnPlateau reducing learning rate to {ev.lr:.4g}.",
                  file=out)
        elif ev.kind == "early_stop":
            print(f"Epoch {ev.epoch + 1}: early stopping", file=out)

    def on_epoch_end(self, epoch, logs=None):
        total = self.params.get("steps") or 0
        seconds = time.monotonic() - self._start
        prefix = "\r" if self.verbose == 1 else ""
        bar = f" [{'=' * self.width}]" if self.verbose == 1 else ""
        out = self._out()
        out.write(f"{prefix}{total}/{total}{bar} - {seconds:.0f}s - {self._metrics(logs or {})}"
                  f" - lr: {(logs or {}).get('lr', float('nan')):.4g}\n")
        out.flush()


def resolve_verbose(verbose):
    """Keras' verbose: 'auto' is 1 (progress bar) on a terminal, 0 otherwise;
    True (this package's older flag) is 2 (one line per epoch)."""
    if verbose == "auto":
        try:
            return 1 if sys.stdout.isatty() else 0
        except (AttributeError, ValueError):
            return 0
    if verbose is True:
        return 2
    if verbose in (False, None):
        return 0
    if verbose not in (0, 1, 2):
        raise InvalidArgumentError(f"verbose must be 'auto', 0, 1 or 2, not {verbose!r}",
                                   S.ERR_INVALID_ARG)
    return int(verbose)


class CallbackList:
    """Turns FitEvents into Callback method calls. Entries are Callback-like
    objects or, as before, functions fn(FitEvent) -> bool (True stops)."""

    def __init__(self, callbacks, model, verbose, params):
        if callbacks is None:
            callbacks = []
        elif not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]
        self.items = list(callbacks)
        v = resolve_verbose(verbose)
        if v:
            self.items.append(ProgressBar(v))
        self.model = model
        for cb in self.items:
            if not callable(cb) or hasattr(cb, "on_epoch_end"):
                if hasattr(cb, "set_model"):
                    cb.set_model(model)
                else:
                    cb.model = model
                if hasattr(cb, "set_params"):
                    cb.set_params(params)
        self._logs = {}

    def _objects(self):
        return [cb for cb in self.items if hasattr(cb, "on_epoch_end")]

    def train_begin(self):
        self.model.stop_training = False
        for cb in self._objects():
            getattr(cb, "on_train_begin", lambda logs=None: None)({})

    def train_end(self):
        for cb in self._objects():
            getattr(cb, "on_train_end", lambda logs=None: None)(dict(self._logs))

    def __call__(self, ev):
        """Deliver one FitEvent; True asks training to stop."""
        stop = False
        for cb in self.items:
            if hasattr(cb, "on_epoch_end"):
                if ev.kind == "epoch_begin":
                    getattr(cb, "on_epoch_begin", lambda e, logs=None: None)(ev.epoch, {})
                elif ev.kind == "batch_end":
                    logs = {"loss": ev.loss, "accuracy": ev.accuracy}
                    getattr(cb, "on_train_batch_end", lambda b, logs=None: None)(ev.batch - 1, logs)
                elif ev.kind == "epoch_end":
                    logs = {"loss": ev.loss, "accuracy": ev.accuracy, "lr": ev.lr}
                    if ev.val_loss is not None:
                        logs["val_loss"], logs["val_accuracy"] = ev.val_loss, ev.val_accuracy
                    self._logs = logs
                    cb.on_epoch_end(ev.epoch, dict(logs))
                elif hasattr(cb, "on_library_event"):
                    cb.on_library_event(ev)
            elif cb(ev):
                stop = True
        return stop or bool(getattr(self.model, "stop_training", False))


# --- arrays -----------------------------------------------------------------------------
def _need_numpy():
    if np is None:
        raise RuntimeError("training on arrays needs NumPy (python3-numpy)")


def input_array(model, x, what="x"):
    """x as float32 (N, H, W, C): uint8 pixels rescaled by the model's
    preprocessing; other integer or boolean arrays refused."""
    _need_numpy()
    a = np.asarray(x)
    if a.dtype == np.uint8:
        rescale = np.float32(model.preprocessing["rescale"])
        a = a.astype(np.float32) * rescale
    elif a.dtype.kind in "iub":
        raise InvalidArgumentError(
            f"{what} has dtype {a.dtype}: pass uint8 pixels (the model rescales them by its "
            f"preprocessing, {model.preprocessing['rescale']:.6g}) or float32 values already "
            "preprocessed", S.ERR_INVALID_ARG)
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.ndim == 3 and a.shape == tuple(model.input_shape):
        a = a[None]
    if a.ndim != 4 or a.shape[1:] != tuple(model.input_shape):
        raise InvalidArgumentError(f"{what} has shape {a.shape}, expected (N, "
                                   f"{', '.join(map(str, model.input_shape))})", S.ERR_SHAPE)
    return a


def _labels(y, n, what="y"):
    t = np.ascontiguousarray(np.asarray(y, dtype=np.float32).reshape(-1))
    if t.shape[0] != n:
        raise InvalidArgumentError(f"{what} has {t.shape[0]} labels for {n} samples", S.ERR_SHAPE)
    return t


def sample_weights(y, sample_weight, class_weight):
    """Per-sample weights from sample_weight and class_weight (None, 'balanced' or
    {0: w0, 1: w1}), multiplied as Keras does; None when neither is given."""
    if sample_weight is None and class_weight is None:
        return None
    w = np.ones(len(y), dtype=np.float32)
    if sample_weight is not None:
        w *= _labels(sample_weight, len(y), "sample_weight")
    if class_weight is not None:
        if isinstance(class_weight, str):
            if class_weight != "balanced":
                raise InvalidArgumentError(f"class_weight must be None, 'balanced' or {{0: w0, 1: w1}}, "
                                           f"not {class_weight!r}", S.ERR_INVALID_ARG)
            counts = [int((y == c).sum()) for c in (0, 1)]
            if 0 in counts:
                raise InvalidArgumentError("class_weight='balanced' needs both classes in y",
                                           S.ERR_INVALID_ARG)
            cw = {c: len(y) / (2.0 * counts[c]) for c in (0, 1)}
        else:
            cw = dict(class_weight) if isinstance(class_weight, dict) else dict(enumerate(class_weight))
            if set(cw) != {0, 1}:
                raise InvalidArgumentError("class_weight needs weights for classes 0 and 1",
                                           S.ERR_INVALID_ARG)
        w *= np.where(y >= 0.5, np.float32(cw[1]), np.float32(cw[0])).astype(np.float32)
    return w


class ArrayHistory:
    """What fit() on arrays returns, shaped as History: a sequence of per-epoch
    dicts (epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds) and
    .history, Keras' {metric: [values per epoch]}."""

    def __init__(self, records, stopped_early):
        self.records = records
        self.stopped_early = stopped_early
        self.cancelled = False

    def __len__(self):
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]

    @property
    def history(self):
        keys = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")
        return {k: [r[k] for r in self.records] for k in keys}

    def __repr__(self):
        return f"<pneumo.ArrayHistory {len(self)} epochs{', stopped early' if self.stopped_early else ''}>"


def evaluate_arrays(model, x, y, batch_size, sample_weight):
    """(loss, accuracy) over arrays in inference mode: sample-weighted mean BCE
    (sum w_i l_i / N, Keras' reduction) and the fraction right at 0.5."""
    x = input_array(model, x)
    y = _labels(y, x.shape[0])
    w = sample_weights(y, sample_weight, None)
    n = x.shape[0]
    if n == 0:
        raise InvalidArgumentError("evaluate: no samples", S.ERR_INVALID_ARG)
    bs = int(batch_size or 32)
    loss = acc = 0.0
    for i in range(0, n, bs):
        r = model.evaluate_batch(x[i:i + bs], y[i:i + bs], None if w is None else w[i:i + bs])
        loss += r["loss"] * r["batch_size"]
        acc += r["accuracy"] * r["batch_size"]
    return loss / n, acc / n


def fit_arrays(model, opt, x, y, *, batch_size, epochs, validation_data, sample_weight, class_weight,
               callbacks, verbose, shuffle, initial_epoch, seed, event_cls):
    """Model.fit on NumPy arrays: Keras' loop (shuffle each epoch, mini-batches
    through train_step, validation at each epoch's end)."""
    x = input_array(model, x)
    y = _labels(y, x.shape[0])
    w = sample_weights(y, sample_weight, class_weight)
    n = x.shape[0]
    if n == 0:
        raise InvalidArgumentError("fit: no samples", S.ERR_INVALID_ARG)
    bs = int(batch_size or 32)
    if bs < 1:
        raise InvalidArgumentError(f"batch_size {bs} is not positive", S.ERR_INVALID_ARG)
    steps = math.ceil(n / bs)
    val = None
    if validation_data is not None:
        if hasattr(validation_data, "handle"):  # a Dataset
            val = validation_data
        else:
            if len(validation_data) not in (2, 3):
                raise InvalidArgumentError("validation_data must be (x, y) or (x, y, sample_weight)",
                                           S.ERR_INVALID_ARG)
            vx = input_array(model, validation_data[0], "validation x")
            vy = _labels(validation_data[1], vx.shape[0], "validation y")
            vw = validation_data[2] if len(validation_data) == 3 else None
            val = (vx, vy, vw)
    if any(isinstance(cb, LibraryCallback) for cb in
           (callbacks if isinstance(callbacks, (list, tuple)) else [callbacks])):
        raise InvalidArgumentError("EarlyStopping, ReduceLROnPlateau and ModelCheckpoint run in the "
                                   "library's Dataset training (fit(Dataset, ...)); with arrays use a "
                                   "Callback that sets model.stop_training", S.ERR_INVALID_ARG)
    cbs = CallbackList(callbacks, model, verbose, {"epochs": int(epochs), "steps": steps,
                                                   "batch_size": bs, "samples": n})
    rng = np.random.default_rng(seed)
    records = []
    stopped = False
    cbs.train_begin()
    for epoch in range(int(initial_epoch), int(epochs)):
        t0 = time.monotonic()
        lr = opt.learning_rate

        def event(kind, batch=0, loss=0.0, accuracy=0.0, val_loss=None, val_accuracy=None):
            return event_cls(kind, epoch, int(epochs), batch, steps, loss, accuracy, val_loss,
                             val_accuracy, opt.learning_rate, lr, time.monotonic() - t0)

        if cbs(event("epoch_begin")):
            stopped = True
            break
        order = rng.permutation(n) if shuffle else np.arange(n)
        tot_loss = tot_acc = 0.0
        seen = 0
        for b in range(steps):
            idx = order[b * bs:(b + 1) * bs]
            r = model.train_step(x[idx], y[idx], None if w is None else w[idx], optimizer=opt)
            tot_loss += r["loss"] * len(idx)
            tot_acc += r["accuracy"] * len(idx)
            seen += len(idx)
            if cbs(event("batch_end", b + 1, tot_loss / seen, tot_acc / seen)):
                stopped = True
                break
        vl = va = None
        if val is not None:
            if isinstance(val, tuple):
                vl, va = evaluate_arrays(model, val[0], val[1], bs, val[2])
            else:
                ev = model.evaluate(val, batch_size=bs)
                vl, va = ev["loss"], ev["accuracy"]
        end = event("epoch_end", steps, tot_loss / seen, tot_acc / seen, vl, va)
        records.append({"epoch": epoch, "loss": end.loss, "accuracy": end.accuracy, "val_loss": vl,
                        "val_accuracy": va, "lr": end.lr, "seconds": end.seconds})
        if cbs(end) or stopped:
            stopped = True
            break
    cbs.train_end()
    return ArrayHistory(records, stopped)


def load_model(model_cls, path, with_optimizer=False):
    """pneumo.load_model's body: a libpneumo file, or a Keras .h5 file."""
    p = L.text(L.fsencode(path))
    if p.endswith((".h5", ".hdf5")):
        model, opt = model_cls.from_keras_h5(path)
    else:
        model, opt = model_cls.load(path)
    return (model, opt) if with_optimizer else model


__all__ = ["EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint", "Layer", "Input", "Conv2D", "MaxPooling2D", "MaxPool2D", "Flatten", "Dense", "Activation",
           "Dropout", "Callback", "ProgressBar", "ArrayHistory"]
