"""predict from several Python threads.

The C API: "a model is used by one thread at a time; different models may be used
concurrently". So separate Model objects predict in parallel (ctypes releases the
GIL), and the wrapper serialises calls on ONE Model with its lock, which makes
concurrent calls on a shared Model safe too. Results must equal the
single-threaded ones bit for bit."""
import os
import threading
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import np, random_batch, small_model, tmpdir

import pneumo

THREADS = 4
ROUNDS = 25


def _flat(a):
    return [float(v) for v in np.ravel(a)] if np is not None else [v for r in a for v in r]


class ThreadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = os.path.join(tmpdir("threads"), "m.safetensors")
        with pneumo.Model.article(96, seed=4) as m:
            m.save(cls.path)
        cls.inputs = [random_batch(3, 96, seed=s)[0] for s in range(THREADS)]
        m, _ = pneumo.Model.load(cls.path)
        with m:
            m.threads = 1
            cls.expected = [_flat(m.predict(x)) for x in cls.inputs]

    def run_threads(self, target):
        errors = []

        def guarded(i):
            try:
                target(i)
            except BaseException as e:  # reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=guarded, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        if errors:
            raise errors[0]

    def test_separate_models(self):
        got = {}

        def work(i):
            m, _ = pneumo.Model.load(self.path)
            with m:
                m.threads = 1
                out = []
                for _ in range(ROUNDS):
                    out.append(_flat(m.predict(self.inputs[i])))
                got[i] = out

        self.run_threads(work)
        for i in range(THREADS):
            for r in got[i]:
                self.assertEqual(r, self.expected[i])

    def test_shared_model_is_serialised(self):
        m, _ = pneumo.Model.load(self.path)
        got = {i: [] for i in range(THREADS)}
        active = []
        overlap = []
        orig = pneumo._lib.lib.pneumo_model_predict

        def work(i):
            for _ in range(ROUNDS):
                got[i].append(_flat(m.predict(self.inputs[i])))
                got[i].append(m.predict_file(self.png) if i % 2 else None)

        # the lock is held around every call on the model: check it is taken
        def spy(*args):
            active.append(1)
            if len(active) > 1:
                overlap.append(1)
            try:
                return orig(*args)
            finally:
                active.pop()

        with pneumo.Image(120, 100) as img:
            self.png = os.path.join(tmpdir("threads"), "x.png")
            img.save_png(self.png)
        p_ref = m.predict_file(self.png)
        with m:
            m.threads = 2
            pneumo._lib.lib.pneumo_model_predict = spy
            try:
                self.run_threads(work)
            finally:
                pneumo._lib.lib.pneumo_model_predict = orig
        self.assertEqual(overlap, [])
        for i in range(THREADS):
            self.assertEqual(got[i][0::2], [self.expected[i]] * ROUNDS)
            if i % 2:
                self.assertEqual(got[i][1::2], [p_ref] * ROUNDS)

    def test_training_and_predicting_one_model_from_two_threads(self):
        x, y = random_batch(4, 32)
        with small_model() as m:
            def work(i):
                for _ in range(20):
                    if i % 2:
                        m.train_step(x, y)
                    else:
                        m.predict(x)
            self.run_threads(work)
            self.assertEqual(m.optimizer.iterations, 20 * (THREADS // 2))


if __name__ == "__main__":
    unittest.main()
