"""The Keras-like API: fit/evaluate/predict on NumPy arrays,
Sequential and layer objects, model.layers, compile, load_model, Callback
objects, the progress bar and uint8 input."""
import io
import os
import unittest
from contextlib import redirect_stdout

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import np, small_model, synthetic_dataset, tmpdir

import pneumo
from pneumo import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D, Sequential


def arrays(n=24, size=32, seed=0):
    """Learnable data: class 1 has a bright square in the middle."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, size, size, 1), dtype=np.float32) * 0.5
    y = (np.arange(n) % 2).astype(np.float32)
    x[y == 1, size // 4:3 * size // 4, size // 4:3 * size // 4, 0] += 0.5
    return x, y


class Recorder(pneumo.Callback):
    def __init__(self, stop_at=None):
        pneumo.Callback.__init__(self)
        self.calls = []
        self.stop_at = stop_at

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin", None, self.model is not None))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch, None))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, dict(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, dict(logs)))
        if self.stop_at is not None and epoch >= self.stop_at:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.calls.append(("train_end", None, dict(logs)))


@unittest.skipIf(np is None, "NumPy is not installed")
class ArrayFitTest(unittest.TestCase):
    def test_fit_on_arrays_learns_and_reports(self):
        x, y = arrays()
        m = small_model()
        before = m.evaluate(x, y)
        hist = m.fit(x, y, batch_size=8, epochs=4, validation_data=(x[:8], y[:8]), verbose=0)
        self.assertEqual(len(hist), 4)
        self.assertEqual(set(hist.history), {"loss", "accuracy", "val_loss", "val_accuracy", "lr"})
        self.assertTrue(all(v is not None for v in hist.history["val_loss"]))
        after = m.evaluate(x, y)
        self.assertLess(after[0], before[0])
        # the validation numbers are those of evaluate() on the same arrays
        self.assertAlmostEqual(hist[-1]["val_loss"], m.evaluate(x[:8], y[:8])[0], places=5)

    def test_evaluate_matches_batches(self):
        x, y = arrays(n=10)
        m = small_model()
        loss, acc = m.evaluate(x, y, batch_size=4)
        r = m.evaluate_batch(x, y)
        self.assertAlmostEqual(loss, r["loss"], places=5)
        self.assertAlmostEqual(acc, r["accuracy"], places=6)
        d = m.evaluate(x, y, return_dict=True)
        self.assertEqual(set(d), {"loss", "accuracy"})
        w = np.where(y == 1, 2.0, 0.0).astype(np.float32)
        self.assertAlmostEqual(m.evaluate(x, y, sample_weight=w)[0],
                               m.evaluate_batch(x, y, w)["loss"], places=5)

    def test_weights_matter(self):
        x, y = arrays()
        results = []
        for kw in ({}, {"class_weight": {0: 1.0, 1: 0.0}}, {"sample_weight": (y == 0).astype(np.float32)},
                   {"class_weight": "balanced"}):
            m = small_model()
            m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, **kw)
            results.append(m.predict(x))
        # class 1 weighted 0 by class_weight or by sample_weight: the same training
        np.testing.assert_allclose(results[1], results[2], atol=1e-6)
        self.assertGreater(np.abs(results[0] - results[1]).max(), 1e-4)
        # balanced classes (12 / 12): weights 1, 1, the unweighted training
        np.testing.assert_allclose(results[0], results[3], atol=1e-6)

    def test_same_seed_same_training(self):
        x, y = arrays()
        a, b = small_model(), small_model()
        a.fit(x, y, batch_size=5, epochs=2, verbose=0)
        b.fit(x, y, batch_size=5, epochs=2, verbose=0)
        np.testing.assert_array_equal(a.predict(x), b.predict(x))

    def test_callback_objects_and_stop_training(self):
        x, y = arrays(n=12)
        rec = Recorder(stop_at=1)
        events = []
        m = small_model()
        hist = m.fit(x, y, batch_size=4, epochs=5, callbacks=[rec, events.append], verbose=0)
        kinds = [c[0] for c in rec.calls]
        self.assertEqual(kinds[0], "train_begin")
        self.assertTrue(rec.calls[0][2])  # model set before training
        self.assertEqual(kinds[-1], "train_end")
        self.assertEqual(len(hist), 2)  # stopped after epoch 1
        self.assertTrue(hist.stopped_early)
        self.assertEqual([c[1] for c in rec.calls if c[0] == "batch_end"], [0, 1, 2] * 2)
        end = [c for c in rec.calls if c[0] == "epoch_end"][-1][2]
        self.assertAlmostEqual(end["loss"], hist[-1]["loss"])
        self.assertIn("lr", end)
        # function callbacks still receive FitEvents
        self.assertEqual([e.kind for e in events].count("epoch_end"), 2)

    def test_callback_objects_on_datasets(self):
        root = synthetic_dataset(per_class=(4, 4), size=32, splits=("train",))
        with pneumo.Dataset.from_directory(os.path.join(root, "train"), size=32, threads=1) as ds:
            rec = Recorder()
            hist = small_model().fit(ds, epochs=2, batch_size=4, callbacks=rec, verbose=0)
        self.assertEqual(len(hist), 2)
        self.assertEqual([c[0] for c in rec.calls].count("epoch_end"), 2)
        self.assertEqual([c[1] for c in rec.calls if c[0] == "batch_end"], [0, 1] * 2)

    def test_keras_library_callbacks(self):
        root = synthetic_dataset(per_class=(4, 4), size=32, splits=("train",))
        best = os.path.join(tmpdir("best"), "best.safetensors")
        with pneumo.Dataset.from_directory(os.path.join(root, "train"), size=32, threads=1) as ds:
            hist = small_model().fit(ds, epochs=6, batch_size=4, verbose=0, callbacks=[
                pneumo.EarlyStopping(monitor="loss", min_delta=10.0, patience=0),
                pneumo.ModelCheckpoint(best, monitor="loss")])
        # the first epoch improves on nothing; the second is not 10 better: stop
        self.assertEqual(len(hist), 2)
        self.assertTrue(hist.stopped_early)
        self.assertTrue(os.path.exists(best))
        x, y = arrays(n=4)
        with self.assertRaises(pneumo.InvalidArgumentError) as cm:
            small_model().fit(x, y, epochs=1, verbose=0, callbacks=[pneumo.EarlyStopping()])
        self.assertIn("Dataset", str(cm.exception))

    def test_progress_bar(self):
        x, y = arrays(n=12)
        out = io.StringIO()
        bar = pneumo.ProgressBar(1, stream=out)
        small_model().fit(x, y, batch_size=4, epochs=2, callbacks=[bar], verbose=0)
        text = out.getvalue()
        self.assertIn("Epoch 1/2", text)
        self.assertIn("Epoch 2/2", text)
        self.assertIn("\r3/3 [" + "=" * 30 + "]", text)
        self.assertIn("ETA", text)
        self.assertIn("loss: ", text)
        # verbose='auto' is quiet when stdout is not a terminal; 2 prints epoch lines
        buf = io.StringIO()
        with redirect_stdout(buf):
            small_model().fit(x, y, batch_size=4, epochs=1)
        self.assertEqual(buf.getvalue(), "")
        with redirect_stdout(buf):
            small_model().fit(x, y, batch_size=4, epochs=1, verbose=2)
        self.assertIn("3/3 - ", buf.getvalue())
        self.assertNotIn("\r", buf.getvalue())

    def test_uint8_input(self):
        m = small_model()
        rng = np.random.default_rng(3)
        pixels = rng.integers(0, 256, (3, 32, 32, 1), dtype=np.uint8)
        scaled = pixels.astype(np.float32) * np.float32(m.preprocessing["rescale"])
        np.testing.assert_array_equal(m.predict(pixels), m.predict(scaled))
        self.assertEqual(m.evaluate(pixels, [0, 1, 0]), m.evaluate(scaled, [0, 1, 0]))
        with self.assertRaises(pneumo.InvalidArgumentError) as cm:
            m.predict(pixels.astype(np.int64))
        self.assertIn("int64", str(cm.exception))
        self.assertIn("uint8", str(cm.exception))

    def test_errors(self):
        x, y = arrays(n=4)
        m = small_model()
        with self.assertRaises(pneumo.InvalidArgumentError):
            m.fit(x, epochs=1, verbose=0)
        with self.assertRaises(pneumo.InvalidArgumentError):
            m.fit(x, y[:3], epochs=1, verbose=0)
        with self.assertRaises(pneumo.InvalidArgumentError):
            m.fit(x, y, epochs=1, verbose=0, early_stopping=True)
        with self.assertRaises(pneumo.InvalidArgumentError):
            m.fit(x[:, :16], y, epochs=1, verbose=0)


@unittest.skipIf(np is None, "NumPy is not installed")
class SequentialTest(unittest.TestCase):
    def article_layers(self, size):
        layers = [Conv2D(32, (3, 3), activation="relu", input_shape=(size, size, 1)),
                  MaxPooling2D(pool_size=(2, 2))]
        for f in (32, 32, 64, 64):
            layers += [Conv2D(f, (3, 3), activation="relu"), MaxPooling2D(pool_size=(2, 2))]
        return layers + [Flatten(), Dense(128, activation="relu"), Dense(64, activation="relu"),
                         Dense(1, activation="sigmoid")]

    def test_sequential_equals_article(self):
        s = Sequential(self.article_layers(100), seed=5)
        a = pneumo.Model.article(100, seed=5)
        self.assertEqual(s.summary(), a.summary())
        x = np.random.default_rng(0).random((2, 100, 100, 1), dtype=np.float32)
        np.testing.assert_array_equal(s.predict(x), a.predict(x))
        self.assertIsInstance(s, pneumo.Model)

    def test_layers_property(self):
        m = Sequential([Input((32, 32, 1)), Conv2D(4, 3, padding="same", activation="tanh"),
                        MaxPooling2D(), Dropout(0.25), Flatten(), Dense(1, "sigmoid")])
        layers = m.layers
        self.assertEqual([type(l).__name__ for l in layers],
                         ["Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense"])
        self.assertEqual([l.name for l in layers], ["conv2d", "max_pooling2d", "dropout", "flatten", "dense"])
        self.assertEqual((layers[0].filters, layers[0].kernel_size, layers[0].padding, layers[0].activation),
                         (4, (3, 3), "same", "tanh"))
        self.assertAlmostEqual(layers[2].rate, 0.25)
        self.assertEqual(layers[4].activation, "sigmoid")
        # a model rebuilt from its own layers is the same model
        again = Sequential(layers, input_shape=m.input_shape)
        self.assertEqual(again.summary(), m.summary())
        loaded = pneumo.Model.article(100).layers
        self.assertEqual(len(loaded), 14)

    def test_sequential_needs_input_shape(self):
        with self.assertRaises(pneumo.InvalidArgumentError) as cm:
            Sequential([Conv2D(4, 3), Flatten()])
        self.assertIn("input shape", str(cm.exception))
        m = Sequential(input_shape=(8, 8, 1))
        m.add(Flatten()).add(Dense(1, "sigmoid"))
        self.assertEqual(m.num_layers, 2)
        with self.assertRaises(pneumo.InvalidArgumentError):
            m.add("dense")

    def test_compile(self):
        m = Sequential([Input((8, 8, 1)), Flatten(), Dense(1, "sigmoid")])
        m.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
        self.assertIsInstance(m.optimizer, pneumo.SGD)
        with self.assertRaises(pneumo.InvalidArgumentError):
            m.compile(loss="mse")
        with self.assertRaises(pneumo.InvalidArgumentError):
            m.compile(optimizer="rmsprop")


@unittest.skipIf(np is None, "NumPy is not installed")
class LoadModelTest(unittest.TestCase):
    def test_load_model(self):
        x, y = arrays(n=8)
        m = small_model()
        m.fit(x, y, batch_size=4, epochs=1, verbose=0)
        path = os.path.join(tmpdir("load"), "m.safetensors")
        m.save(path, m.optimizer)
        loaded = pneumo.load_model(path)
        self.assertIsInstance(loaded, pneumo.Model)
        np.testing.assert_array_equal(loaded.predict(x), m.predict(x))
        self.assertEqual(loaded.optimizer.iterations, m.optimizer.iterations)
        model, opt = pneumo.load_model(path, with_optimizer=True)
        self.assertIs(model.optimizer, opt)
        # Model.load keeps its (model, optimizer) tuple
        self.assertEqual(len(pneumo.Model.load(path)), 2)

    def test_export_onnx_bytes(self):
        blob = small_model().export_onnx()
        self.assertEqual(blob[:2], b"\x08\x07")  # ModelProto.ir_version = 7 (opset 13)
        with self.assertRaises(ValueError):
            small_model().export_onnx(layout="CHWN")


if __name__ == "__main__":
    unittest.main()
