"""pneumo.Dataset over folders and file lists."""
import os
import shutil
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import np, synthetic_dataset, tmpdir

import pneumo


class DatasetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = synthetic_dataset(per_class=(4, 6), size=32)
        cls.train_dir = os.path.join(cls.root, "train")

    def open(self, **kw):
        kw.setdefault("size", 32)
        kw.setdefault("threads", 2)
        return pneumo.Dataset.from_directory(self.train_dir, **kw)

    def test_facts(self):
        with self.open(shuffle=False) as ds:
            self.assertEqual(len(ds), 10)
            self.assertEqual(ds.num_classes, 2)
            self.assertEqual(ds.class_names, ["Normal", "Opacity"])
            self.assertEqual(ds.class_indices, {"Normal": 0, "Opacity": 1})
            self.assertEqual(ds.class_counts, [4, 6])
            w = ds.class_weights()
            self.assertAlmostEqual(w[0], 10 / (2 * 4))
            self.assertAlmostEqual(w[1], 10 / (2 * 6))
            self.assertEqual(ds.report(), "Found 10 images belonging to 2 classes.")
            self.assertEqual(ds.skipped, [])
            self.assertEqual(ds.labels, [0] * 4 + [1] * 6)
            self.assertTrue(ds.paths[0].endswith(os.path.join("Normal", "img_000.png")))
            self.assertEqual(ds.path(9), ds.paths[-1])
            with self.assertRaises(IndexError):
                ds.path(10)
            with self.assertRaises(IndexError):
                ds.label(-1)
            self.assertEqual(ds.num_batches(4), 3)
            self.assertEqual(ds.image_size, (32, 32))
            self.assertIn("10 images", repr(ds))

    def test_batches(self):
        with self.open(shuffle=False) as ds:
            batches = list(ds.batches(batch_size=4, with_indices=True))
            self.assertEqual([len(b[1]) for b in batches], [4, 4, 2])
            x, y, idx = batches[0]
            labels = []
            for b in batches:
                labels.extend(float(v) for v in (b[1] if np is not None else b[1].to_array()))
            self.assertEqual(labels, [0.0] * 4 + [1.0] * 6)
            if np is not None:
                self.assertEqual(x.shape, (4, 32, 32, 1))
                self.assertEqual(x.dtype, np.float32)
                self.assertTrue(x.flags.owndata or x.base is not None)
                self.assertEqual(list(idx), [0, 1, 2, 3])
                # copies: a later batch does not change an earlier one
                before = x.copy()
                list(ds.batches(4, epoch=1))
                np.testing.assert_array_equal(x, before)
                # pixels are the image's, rescaled by 1/255
                sample = ds.load_sample(0)
                self.assertEqual(sample.shape, (32, 32))
                np.testing.assert_array_equal(x[0, :, :, 0], sample)
                self.assertLessEqual(float(x.max()), 1.0)
            xt, yt = next(iter(ds.batches(4, as_numpy=False)))
            with xt, yt:
                self.assertIsInstance(xt, pneumo.Tensor)
                self.assertEqual(xt.shape, (4, 32, 32, 1))
                self.assertEqual(yt.shape, (4,))
            self.assertEqual(sum(1 for _ in ds), 1)  # iter(ds): batches of 16

    def test_shuffle_and_augment_are_reproducible(self):
        with self.open(shuffle=True, seed=5, augment="article") as a, \
                self.open(shuffle=True, seed=5, augment=True, threads=1) as b:
            for (xa, ya, ia), (xb, yb, ib) in zip(a.batches(5, epoch=2, with_indices=True),
                                                  b.batches(5, epoch=2, with_indices=True)):
                self.assertEqual(list(ia), list(ib))
                if np is not None:
                    np.testing.assert_array_equal(xa, xb)

    def test_options(self):
        with self.open(size=(16, 24), rescale=None, cache_bytes=0, prefetch_batches=0,
                       resample="bilinear", augment={"horizontal_flip": True},
                       limits={"max_side": 64}) as ds:
            x, _ = next(iter(ds.batches(2, as_numpy=np is not None)))
            if np is not None:
                self.assertEqual(x.shape, (2, 16, 24, 1))
                self.assertGreater(float(x.max()), 1.0)  # no rescale: 0..255
        with self.assertRaises(pneumo.InvalidArgumentError):
            self.open(threads=1000)

    def test_skipped_and_strict(self):
        d = tmpdir("broken")
        shutil.copytree(self.train_dir, os.path.join(d, "train"))
        bad = os.path.join(d, "train", "Opacity", "broken.png")
        with open(bad, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n garbage")
        with pneumo.Dataset.from_directory(os.path.join(d, "train"), size=32) as ds:
            self.assertEqual(len(ds), 10)
            self.assertEqual(len(ds.skipped), 1)
            self.assertIn("broken.png", ds.skipped[0])
            self.assertIn("Skipped 1", ds.report())
        with self.assertRaises(pneumo.FormatError) as cm:
            pneumo.Dataset.from_directory(os.path.join(d, "train"), size=32, strict=True)
        self.assertIn("broken.png", str(cm.exception))

    def test_open_errors(self):
        with self.assertRaises(pneumo.PneumoIOError) as cm:
            pneumo.Dataset.from_directory(os.path.join(self.root, "missing"))
        self.assertIn("missing", str(cm.exception))
        one = tmpdir("oneclass")
        shutil.copytree(os.path.join(self.train_dir, "Normal"), os.path.join(one, "Normal"))
        with self.assertRaises(pneumo.FormatError):
            pneumo.Dataset.from_directory(one)

    def test_from_files(self):
        with self.open(shuffle=False) as ref:
            paths, labels = ref.paths, ref.labels
        order = [9, 0, 5, 2]
        with pneumo.Dataset.from_files([paths[i] for i in order], [labels[i] for i in order],
                                       class_names=["N", "P"], size=32) as ds:
            self.assertEqual(len(ds), 4)
            self.assertEqual(ds.class_names, ["N", "P"])
            self.assertEqual(ds.labels, [1, 0, 1, 0])
            self.assertEqual(ds.paths, [paths[i] for i in order])
        with pneumo.Dataset.from_files(paths[:2], [0, 0], num_classes=1, size=32) as ds:
            self.assertEqual(ds.class_names, ["0"])
            with self.assertRaises(pneumo.StateError):
                pneumo.Dataset.from_files(paths[:2], [0, 0], num_classes=2,
                                          size=32).class_weights()
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Dataset.from_files(paths[:2], [0], size=32)


if __name__ == "__main__":
    unittest.main()
