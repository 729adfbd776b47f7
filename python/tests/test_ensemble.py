"""pneumo.Ensemble against its members' own predictions (mean, mirrored inputs)
and the metrics of the mean probabilities."""
import os
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import np, random_batch, small_model, synthetic_dataset

import pneumo


@unittest.skipIf(np is None, "NumPy not installed")
class EnsembleTest(unittest.TestCase):
    def setUp(self):
        self.a, self.b = small_model(seed=1), small_model(seed=2)
        x, y = random_batch(8, 32, seed=3)
        for m in (self.a, self.b):
            m.train_step(x, y)

    def tearDown(self):
        self.a.close()
        self.b.close()

    def test_predict_mean_and_flip(self):
        x, _ = random_batch(5, 32, seed=4)
        pa, pb = self.a.predict(x), self.b.predict(x)
        xm = np.ascontiguousarray(x[:, :, ::-1, :])
        pam, pbm = self.a.predict(xm), self.b.predict(xm)
        np.testing.assert_allclose(pneumo.Ensemble([self.a, self.b]).predict(x), (pa + pb) / 2, atol=1e-7)
        np.testing.assert_allclose(pneumo.Ensemble([self.a, self.b], tta="flip").predict(x),
                                   (pa + pb + pam + pbm) / 4, atol=1e-7)
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Ensemble([self.a], tta="mirror")
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Ensemble([])

    def test_predict_image_and_evaluate(self):
        img = (np.arange(40 * 37, dtype=np.uint32) * 2654435761 % 251).astype(np.uint8).reshape(37, 40)
        want = (self.a.predict_image(img) + self.b.predict_image(img)) / 2
        self.assertAlmostEqual(pneumo.Ensemble([self.a, self.b]).predict_image(img), want, places=6)
        root = synthetic_dataset(per_class=(6, 6), size=32, splits=("train", "val"))
        ds = pneumo.Dataset.from_directory(os.path.join(root, "val"), size=32, threads=1, shuffle=False)
        try:
            ev = pneumo.Ensemble([self.a, self.b]).evaluate(ds, batch_size=5)
            ea = self.a.evaluate(ds)
            eb = self.b.evaluate(ds)
            np.testing.assert_allclose(ev["probs"], (ea["probs"] + eb["probs"]) / 2, atol=1e-6)
            np.testing.assert_array_equal(ev["labels"], ea["labels"])
            self.assertEqual(ev["count"], 12)
            self.assertAlmostEqual(ev["roc_auc"], pneumo.roc_auc(ev["probs"], ev["labels"]))
            self.assertAlmostEqual(ev["calibration_error"],
                                   pneumo.calibration_curve(ev["probs"], ev["labels"])["ece"])
        finally:
            ds.close()


if __name__ == "__main__":
    unittest.main()
