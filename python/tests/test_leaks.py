"""No leaks: 1000 create/destroy cycles of models and tensors (and the other
objects) keep the resident set size stable after a warm-up."""
import gc
import os
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import np, random_batch, rss_bytes, small_model, synthetic_dataset

import pneumo

# A leaked small model (~30 KB of weights plus buffers) or a leaked 32x32x2 tensor
# (8 KB) per cycle would add > 8 MB over 1000 cycles.
BOUND = 3 * 1024 * 1024


class LeakTest(unittest.TestCase):
    def assertStable(self, cycle, n=1000, warmup=100):
        for i in range(warmup):
            cycle(i)
        gc.collect()
        before = rss_bytes()
        for i in range(n):
            cycle(i)
        gc.collect()
        grown = rss_bytes() - before
        self.assertLess(grown, BOUND, f"RSS grew by {grown / 1e6:.1f} MB over {n} cycles")

    def test_models(self):
        x, y = random_batch(2, 32)

        def cycle(i):
            if i % 3 == 0:
                with small_model(seed=i) as m:  # close() via the context manager
                    m.predict(x)
                    m.train_step(x, y)
                    with m.param(0) as p:
                        p.to_array()
            elif i % 3 == 1:
                m = small_model(seed=i)  # explicit close
                m.summary()
                m.close()
                m.close()
            else:
                m = small_model(seed=i)  # finalizer on garbage collection
                m.predict(x)
                del m
        self.assertStable(cycle)

    def test_article_models(self):
        def cycle(i):
            with pneumo.Model.article(96, seed=i) as m:
                m.threads = 1
        self.assertStable(cycle)

    def test_tensors(self):
        def cycle(i):
            t = pneumo.Tensor((2, 32, 32, 2))
            c = t.clone()
            c.copy_from(t)
            t.close()
            del c  # finalizer
            if np is not None:
                a = np.zeros((2, 32, 32, 2), dtype=np.float32)
                w = pneumo.Tensor.from_numpy(a)
                v = pneumo.Tensor((4, 4)).numpy()  # view keeps its tensor alive
                del w, v
        self.assertStable(cycle)

    def test_images_optimizers_and_errors(self):
        def cycle(i):
            with pneumo.Image(64, 64) as img:
                png = img.encode_png()
                with pneumo.Image.decode(png) as d, d.resize(32, 32):
                    pass
            pneumo.Adam().close()
            pneumo.SGD(0.1)
            try:
                pneumo.Model(0, 1, 1)
            except pneumo.InvalidArgumentError:
                pass
        self.assertStable(cycle)

    def test_datasets(self):
        root = synthetic_dataset(per_class=(4, 6), size=32)

        def cycle(i):
            with pneumo.Dataset.from_directory(os.path.join(root, "train"), size=32,
                                               threads=1) as ds:
                for _ in ds.batches(4):
                    pass
        self.assertStable(cycle, n=200, warmup=20)


if __name__ == "__main__":
    unittest.main()
