"""Optimizers and metrics."""
import array
import math
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import np, random_batch, small_model

import pneumo

ARTICLE_REPORT = """              precision    recall  f1-score   support

      NORMAL       0.95      0.81      0.87       234
   PNEUMONIA       0.90      0.97      0.93       390

    accuracy                           0.91       624
   macro avg       0.92      0.89      0.90       624
weighted avg       0.91      0.91      0.91       624
"""


class OptimizerTest(unittest.TestCase):
    def test_adam(self):
        self.assertEqual(pneumo.adam_defaults(), {"learning_rate": pytest_float(1e-3),
                                                  "beta_1": pytest_float(0.9),
                                                  "beta_2": pytest_float(0.999),
                                                  "epsilon": pytest_float(1e-7),
                                                  "weight_decay": 0.0})
        with pneumo.Adam(learning_rate=0.01) as opt:
            self.assertIsInstance(opt, pneumo.Optimizer)
            self.assertEqual(opt.kind, "adam")
            self.assertAlmostEqual(opt.learning_rate, 0.01, places=7)
            opt.learning_rate = 0.5
            self.assertEqual(opt.learning_rate, 0.5)
            self.assertEqual(opt.iterations, 0)
            self.assertIn("lr=0.5", repr(opt))
            with self.assertRaises(pneumo.InvalidArgumentError):
                opt.learning_rate = float("nan")

    def test_sgd(self):
        d = pneumo.sgd_defaults()
        self.assertAlmostEqual(d["learning_rate"], 0.01, places=7)
        self.assertEqual((d["momentum"], d["nesterov"]), (0.0, False))
        with pneumo.SGD(learning_rate=0.1, momentum=0.9, nesterov=True) as opt:
            self.assertEqual(opt.kind, "sgd")
            self.assertIsInstance(opt, pneumo.SGD)
            self.assertAlmostEqual(opt.learning_rate, 0.1, places=7)

    def test_iterations_and_binding(self):
        x, y = random_batch(4, 32)
        with small_model() as m, small_model() as other, pneumo.SGD(0.1) as opt:
            m.train_step(x, y, optimizer=opt)
            m.train_step(x, y, optimizer=opt)
            self.assertEqual(opt.iterations, 2)
            self.assertIs(m.optimizer, opt)
            with self.assertRaises(pneumo.StateError):
                other.train_step(x, y, optimizer=opt)  # bound to m


def pytest_float(v):
    """float32 rounding of a default, for exact dict comparison."""
    return array.array("f", [v])[0]


class MetricsTest(unittest.TestCase):
    probs = [0.1, 0.6, 0.4, 0.9, 0.5, 0.7]
    labels = [0, 0, 1, 1, 1, 1]

    def test_confusion_matrix(self):
        cm = pneumo.confusion_matrix(self.probs, self.labels)
        # p > 0.5: 0.5 counts as negative
        self.assertEqual(cm, [[1, 1], [2, 2]])
        self.assertEqual(pneumo.confusion_matrix(self.probs, self.labels, threshold=0.3),
                         [[1, 1], [0, 4]])
        self.assertAlmostEqual(pneumo.accuracy(cm), 0.5)
        self.assertEqual(pneumo.accuracy([[0, 0], [0, 0]]), 0.0)

    def test_confusion_errors(self):
        with self.assertRaises(pneumo.InvalidArgumentError) as cm:
            pneumo.confusion_matrix([0.1, 0.2], [0, 2])
        self.assertIn("1", str(cm.exception))  # names the index
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.confusion_matrix([0.1], [0, 1])
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.confusion_matrix([0.1], [0], threshold=2.0)

    def test_classification_report_reproduces_the_article(self):
        text = pneumo.classification_report([[190, 44], [11, 379]], ["NORMAL", "PNEUMONIA"])
        self.assertEqual(text, ARTICLE_REPORT)
        self.assertIn("           0", pneumo.classification_report([[1, 0], [0, 1]]))
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.classification_report([[1, 0], [0, 1]], ["only one"])
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.classification_report([1, 2, 3])

    def test_roc_auc(self):
        auc = pneumo.roc_auc(self.probs, self.labels)
        # pairs (neg, pos): negatives 0.1, 0.6; positives 0.4, 0.9, 0.5, 0.7
        self.assertAlmostEqual(auc, (4 + 2) / 8)
        self.assertEqual(pneumo.roc_auc([0.2, 0.8], [0, 1]), 1.0)
        self.assertEqual(pneumo.roc_auc([0.5, 0.5], [0, 1]), 0.5)
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.roc_auc([0.1, 0.2], [1, 1])
        self.assertAlmostEqual(pneumo.roc_auc(array.array("f", self.probs), self.labels), auc)

    def test_calibration(self):
        # bins of 0.25: [0.1(0) 0.2(1)], [], [0.6(1) 0.7(1) 0.5(0)], [0.9(1) 1.0(1)]
        c = pneumo.calibration_curve([0.1, 0.2, 0.6, 0.7, 0.5, 0.9, 1.0], [0, 1, 1, 1, 0, 1, 1], bins=4)
        self.assertEqual(c["counts"], [2, 0, 3, 2])
        self.assertAlmostEqual(c["frac_pos"][2], 2 / 3)
        self.assertAlmostEqual(c["ece"], (2 * 0.35 + 3 * (2 / 3 - 0.6) + 2 * 0.05) / 7, places=6)
        # logits +-logit(0.9), right 3 times in 4: T = logit(0.9) / logit(0.75) = 2
        p9 = 0.9
        t = pneumo.fit_temperature([p9] * 4 + [1 - p9] * 4, [1, 1, 1, 0, 0, 0, 0, 1])
        self.assertAlmostEqual(t, 2.0, places=4)
        self.assertAlmostEqual(pneumo.sensitivity_threshold(
            [0.4, 0.1, 0.8, 0.35, 0.2, 0.7], [0, 0, 1, 1, 0, 1], 0.6), 0.55, places=6)
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.calibration_curve([0.5], [1], bins=0)

    @unittest.skipIf(np is None, "NumPy not installed")
    def test_numpy_inputs(self):
        p = np.array(self.probs, dtype=np.float64)
        y = np.array(self.labels)
        self.assertEqual(pneumo.confusion_matrix(p, y), [[1, 1], [2, 2]])
        self.assertTrue(math.isclose(pneumo.roc_auc(p.astype(np.float32), y), 0.75))


if __name__ == "__main__":
    unittest.main()
