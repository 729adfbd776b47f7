"""Model.fit with Keras' callbacks, Python callbacks through ctypes, History,
fit_resume and Model.evaluate."""
import csv
import io
import math
import os
import unittest
from contextlib import redirect_stdout

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import np, small_model, synthetic_dataset, tmpdir

import pneumo


class FitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        root = synthetic_dataset(per_class=(6, 6), size=32, splits=("train", "val"))
        cls.train = pneumo.Dataset.from_directory(os.path.join(root, "train"), size=32,
                                                  threads=1, seed=1)
        cls.val = pneumo.Dataset.from_directory(os.path.join(root, "val"), size=32, threads=1,
                                                shuffle=False)

    @classmethod
    def tearDownClass(cls):
        cls.train.close()
        cls.val.close()

    def test_fit_records_history_and_events(self):
        events = []
        with small_model() as m:
            h = m.fit(self.train, self.val, epochs=3, batch_size=4, optimizer=pneumo.Adam(0.01),
                      class_weight="balanced", early_stopping=dict(patience=5),
                      reduce_lr=dict(monitor="val_loss", patience=1, factor=0.5, min_lr=1e-5),
                      callback=lambda ev: events.append(ev))
            self.assertIsInstance(h, pneumo.History)
            self.assertEqual(len(h), 3)
            self.assertFalse(h.cancelled)
            self.assertEqual([r["epoch"] for r in h], [0, 1, 2])
            for r in h:
                self.assertGreater(r["loss"], 0)
                self.assertIsNotNone(r["val_loss"])
                self.assertTrue(0 <= r["val_accuracy"] <= 1)
            self.assertEqual(h.history["loss"], [r["loss"] for r in h.records])
            self.assertEqual(m.optimizer.iterations, 9)
            kinds = [e.kind for e in events]
            self.assertEqual(kinds.count("epoch_begin"), 3)
            self.assertEqual(kinds.count("epoch_end"), 3)
            self.assertEqual(kinds.count("batch_end"), 9)
            end = [e for e in events if e.kind == "epoch_end"][-1]
            self.assertEqual((end.epoch, end.epochs, end.batches), (2, 3, 3))
            self.assertAlmostEqual(end.val_loss, h[2]["val_loss"])
            begin = events[0]
            self.assertIsNone(begin.val_loss)
            for e in events:
                if e.kind == "lr_changed":
                    self.assertAlmostEqual(e.lr, e.old_lr * 0.5, places=6)
            path = os.path.join(tmpdir("hist"), "history.csv")
            h.to_csv(path)
            with open(path) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual(len(rows), 3)
            self.assertEqual(list(rows[0]), ["epoch", "accuracy", "loss", "lr", "val_accuracy",
                                             "val_loss", "seconds"])
            self.assertAlmostEqual(float(rows[1]["loss"]), h[1]["loss"], places=5)
            h.close()

    def test_callback_defaults(self):
        self.assertEqual(pneumo.early_stopping_defaults(),
                         {"monitor": "val_loss", "mode": "auto", "patience": 0, "min_delta": 0.0,
                          "restore_best_weights": False})
        self.assertEqual(pneumo.reduce_lr_defaults(),
                         {"monitor": "val_loss", "mode": "auto", "patience": 10, "factor": 0.1,
                          "min_delta": 1e-4, "cooldown": 0, "min_lr": 0.0})

    def test_fit_without_validation_custom_weights_and_verbose(self):
        out = io.StringIO()
        with small_model() as m, redirect_stdout(out):
            h = m.fit(self.train, epochs=2, batch_size=6, class_weight={0: 2.0, 1: 0.5},
                      optimizer=pneumo.SGD(0.05), verbose=True)
        self.assertIsNone(h[0]["val_loss"])
        self.assertIn("Epoch 1/2", out.getvalue())
        self.assertIn("loss: ", out.getvalue())
        with small_model() as m:
            with self.assertRaises(pneumo.InvalidArgumentError):
                m.fit(self.train, class_weight="unbalanced")
            with self.assertRaises(pneumo.InvalidArgumentError):
                m.fit(self.train, class_weight={1: 2.0})
            with self.assertRaises(TypeError):
                m.fit(self.train, early_stopping=dict(patients=3))
            with self.assertRaises(KeyError):
                m.fit(self.train, reduce_lr=dict(monitor="val_auc"))

    def test_callback_returning_true_cancels(self):
        seen = []

        def stop_after_two_batches(ev):
            seen.append(ev.kind)
            return ev.kind == "batch_end" and ev.batch >= 2

        with small_model() as m:
            h = m.fit(self.train, self.val, epochs=5, batch_size=4,
                      callback=stop_after_two_batches)
            self.assertTrue(h.cancelled)
            self.assertEqual(len(h), 0)
            self.assertEqual(seen.count("batch_end"), 2)
            self.assertEqual(m.optimizer.iterations, 2)
            self.assertIn("cancelled", repr(h))

    def test_exception_in_callback_cancels_and_is_reraised(self):
        class Boom(Exception):
            pass

        calls = []

        def cb(ev):
            calls.append(ev.kind)
            if ev.kind == "epoch_end" and ev.epoch == 1:
                raise Boom("raised in the callback")
            return False

        with small_model() as m:
            with self.assertRaises(Boom) as cm:
                m.fit(self.train, self.val, epochs=6, batch_size=4, callback=[cb])
            self.assertEqual(str(cm.exception), "raised in the callback")
            self.assertEqual(calls.count("epoch_end"), 2)  # stopped at once
            h = cm.exception.history
            self.assertIsInstance(h, pneumo.History)
            self.assertLessEqual(len(h), 2)
            # the model is still usable
            self.assertEqual(len(_support.random_batch(1, 32)[0]), 1)
            m.predict(_support.random_batch(2, 32)[0])

    def test_ctrl_c_stops_training(self):
        # SIGINT arrives while the library trains; the per-event trampoline (always
        # installed) lets Python raise KeyboardInterrupt, which cancels the fit and
        # is re-raised when the library has returned.
        import signal
        import threading
        if threading.current_thread() is not threading.main_thread():
            self.skipTest("signals are delivered to the main thread")
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        with small_model() as m:
            timer.start()
            try:
                with self.assertRaises(KeyboardInterrupt) as cm:
                    m.fit(self.train, self.val, epochs=100000, batch_size=4)
            finally:
                timer.cancel()
            self.assertLess(len(cm.exception.history), 100000)
            m.predict(_support.random_batch(1, 32)[0])  # still usable

    def test_library_error_carries_history(self):
        with pneumo.Model(16, 16, 1) as m:  # wrong input size for the 32x32 dataset
            m.add_flatten().add_dense(1, "sigmoid")
            with self.assertRaises(pneumo.PneumoError) as cm:
                m.fit(self.train, epochs=1, batch_size=4)
            self.assertTrue(str(cm.exception))
            self.assertTrue(hasattr(cm.exception, "history"))

    def test_best_model_and_checkpoint_resume(self):
        d = tmpdir("ckpt")
        best = os.path.join(d, "best.safetensors")
        ckpt = os.path.join(d, "ckpt.safetensors")
        settings = dict(epochs=3, batch_size=4, reduce_lr=dict(patience=1, factor=0.5))
        # an uninterrupted run. fit_resume creates the model itself, with the default
        # thread count (the online cores), and training is bit-identical only for a
        # fixed thread count: the runs here use the default too.
        with small_model(seed=7) as ref:
            ref.threads = 0
            h_ref = ref.fit(self.train, self.val, optimizer=pneumo.Adam(0.01),
                            best_model_path=best, **settings)
            ref_w = ref.get_weights()
        self.assertTrue(os.path.exists(best))
        bm, bopt = pneumo.Model.load(best)
        bm.close()
        # the same run stopped after its first epoch, then resumed
        with small_model(seed=7) as m:
            m.threads = 0
            h1 = m.fit(self.train, self.val, optimizer=pneumo.Adam(0.01), checkpoint_path=ckpt,
                       callback=lambda ev: ev.kind == "epoch_end" and ev.epoch == 0,
                       **settings)
        self.assertTrue(os.path.exists(ckpt))
        self.assertTrue(h1.cancelled)
        m2, opt2, h2 = pneumo.Model.fit_resume(ckpt, self.train, self.val, **settings)
        with m2, opt2, h2:
            self.assertEqual(len(h2), 3)
            self.assertEqual([r["loss"] for r in h2], [r["loss"] for r in h_ref])
            flat = (lambda ws: [list(np.ravel(w)) for w in ws]) if np is not None else \
                (lambda ws: ws)
            self.assertEqual(flat(m2.get_weights()), flat(ref_w))
            self.assertIs(m2.optimizer, opt2)
            self.assertEqual(opt2.iterations, 9)
        with self.assertRaises(pneumo.PneumoIOError):
            pneumo.Model.fit_resume(os.path.join(d, "nope"), self.train, self.val, **settings)

    def test_evaluate(self):
        with small_model() as m:
            m.fit(self.train, epochs=2, batch_size=4, optimizer=pneumo.Adam(0.01))
            ev = m.evaluate(self.val, batch_size=3)
            self.assertEqual(ev["count"], len(self.val))
            cm = ev["confusion_matrix"]
            self.assertEqual(sum(sum(r) for r in cm), len(self.val))
            probs, labels = ev["probs"], ev["labels"]
            self.assertEqual(len(probs), len(self.val))
            self.assertEqual([float(v) for v in labels], [float(v) for v in self.val.labels])
            self.assertEqual(pneumo.confusion_matrix(probs, labels), cm)
            self.assertAlmostEqual(ev["accuracy"], pneumo.accuracy(cm))
            self.assertAlmostEqual(ev["roc_auc"], pneumo.roc_auc(probs, labels))
            self.assertEqual(ev["classification_report"],
                             pneumo.classification_report(cm, self.val.class_names))
            self.assertIn("Normal", ev["classification_report"])
            # loss is the mean unweighted binary cross-entropy of the probabilities
            eps = 1e-7
            bce = [-(y * math.log(min(max(p, eps), 1 - eps)) +
                     (1 - y) * math.log(1 - min(max(p, eps), 1 - eps)))
                   for p, y in zip(probs, labels)]
            self.assertAlmostEqual(ev["loss"], sum(bce) / len(bce), places=4)
            # predictions match predict() on the same pixels
            xs = [self.val.load_sample(i) for i in range(len(self.val))]
            if np is not None:
                p = m.predict(np.stack(xs)[..., None]).ravel()
                np.testing.assert_allclose(p, probs, rtol=0, atol=1e-6)
            ev2 = m.evaluate(self.val, threshold=0.99)
            self.assertEqual(ev2["confusion_matrix"][0][1] + ev2["confusion_matrix"][1][1],
                             sum(1 for v in probs if v > 0.99))


if __name__ == "__main__":
    unittest.main()
