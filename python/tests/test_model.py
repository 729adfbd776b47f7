"""pneumo.Model: building, facts, parameters, save/load, predict, train steps."""
import gc
import os
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import make_image, np, random_batch, small_model, tmpdir

import pneumo


class BuildTest(unittest.TestCase):
    def test_article_model(self):
        with pneumo.Model.article(500, seed=1) as m:
            self.assertEqual(m.count_params(), 1467137)
            self.assertEqual(m.num_params, 1467137)
            self.assertEqual(m.input_shape, (500, 500, 1))
            self.assertEqual(m.output_size, 1)
            self.assertEqual(m.num_layers, 14)
            self.assertEqual(m.num_param_tensors, 16)
            s = m.summary()
            self.assertIn("Total params: 1,467,137", s)
            self.assertIn("(None, 498, 498, 32)", s)
            self.assertIn("(None, 10816)", s)
            self.assertEqual(m.param_names[:3], ["conv2d/kernel", "conv2d/bias", "conv2d_1/kernel"])
            self.assertEqual(m.param_names[-1], "dense_2/bias")
            with m.param("dense/kernel") as k:
                self.assertEqual(k.shape, (10816, 128))
            self.assertIn("1,467,137", repr(m))
        with self.assertRaises(pneumo.ShapeError):
            pneumo.Model.article(50)

    def test_builder_chain(self):
        m = pneumo.Model(16, 16, 2, seed=5)
        r = (m.add_conv2d(3, kernel_size=(3, 1), strides=(1, 2), padding="same",
                          activation="tanh", use_bias=False)
             .add_maxpool2d(pool_size=(2, 2), strides=1)
             .add_activation("relu").add_flatten().add_dropout(0.5)
             .add_dense(4, "relu").add_dense(1, "sigmoid"))
        self.assertIs(r, m)
        self.assertIs(pneumo.Model.add_maxpool, pneumo.Model.add_maxpool2d)
        self.assertEqual(m.num_layers, 7)
        self.assertEqual(m.input_shape, (16, 16, 2))
        self.assertIn("Dropout", m.summary())
        with self.assertRaises(pneumo.InvalidArgumentError):
            m.add_dense(3, activation="softmax")
        with self.assertRaises(pneumo.InvalidArgumentError):
            m.add_conv2d(2, padding="full")
        with self.assertRaises(pneumo.InvalidArgumentError):
            m.add_conv2d(2, kernel_size="big")
        m.close()

    def test_same_seed_same_weights(self):
        with small_model(seed=3) as a, small_model(seed=3) as b, small_model(seed=4) as c:
            wa, wb, wc = a.get_weights(), b.get_weights(), c.get_weights()
            flat = (lambda ws: [list(np.ravel(w)) for w in ws]) if np is not None else \
                (lambda ws: ws)
            self.assertEqual(flat(wa), flat(wb))
            self.assertNotEqual(flat(wa), flat(wc))

    def test_threads(self):
        with small_model() as m:
            self.assertEqual(m.threads, 1)
            m.threads = 2
            self.assertEqual(m.threads, 2)
            with self.assertRaises(pneumo.InvalidArgumentError):
                m.threads = 1000


class ParamTest(unittest.TestCase):
    def test_param_views_write_through(self):
        m = small_model()
        names = m.param_names
        k = m.param(names[0])
        self.assertEqual(k.shape, (3, 3, 1, 4))  # Keras layout (kh, kw, cin, cout)
        b = m.param(1)
        self.assertEqual(b.shape, (4,))
        with self.assertRaises(KeyError):
            m.param("nope/kernel")
        with self.assertRaises(IndexError):
            m.param(99)
        x, _ = random_batch(2, 32)
        before = m.predict(x)
        b.copy_from([1.0, 1.0, 1.0, 1.0])  # changes the model
        after = m.predict(x)
        self.assertNotEqual(_flat(before), _flat(after))
        # views keep the model alive; closing the model closes its views
        del m
        gc.collect()
        self.assertFalse(k.closed)
        owner = k._owner
        owner.close()
        self.assertTrue(k.closed and b.closed)

    def test_get_set_weights(self):
        with small_model(seed=1) as a, small_model(seed=2) as b:
            b.set_weights(a.get_weights())
            x, _ = random_batch(3, 32)
            self.assertEqual(_flat(a.predict(x)), _flat(b.predict(x)))
            with self.assertRaises(pneumo.InvalidArgumentError):
                b.set_weights(a.get_weights()[:-1])

    def test_gradients(self):
        with small_model() as m:
            x, y = random_batch(4, 32)
            r = m.compute_gradients(x, y)
            self.assertEqual(r["batch_size"], 4)
            self.assertGreater(r["loss"], 0)
            with m.grad(0) as g:
                self.assertEqual(g.shape, (3, 3, 1, 4))
                self.assertTrue(any(v != 0.0 for v in g.to_array()))
            # weighted loss: sum(w_i * l_i) / N
            r2 = m.compute_gradients(x, y, weights=[2.0, 2.0, 2.0, 2.0])
            self.assertAlmostEqual(r2["loss"], 2 * r["loss"], places=5)


def _flat(a):
    if np is not None:
        return [float(v) for v in np.ravel(a)]
    out = []
    for row in a:
        out.extend(row)
    return out


class SaveLoadTest(unittest.TestCase):
    def test_roundtrip_with_optimizer(self):
        d = tmpdir("save")
        path = os.path.join(d, "m.safetensors")
        x, y = random_batch(4, 32)
        with small_model() as m, pneumo.Adam(0.01) as opt:
            m.train_step(x, y, optimizer=opt)
            m.save(path, optimizer=opt)
            ref = m.predict(x)
            m2, opt2 = pneumo.Model.load(path)
            with m2, opt2:
                self.assertEqual(opt2.kind, "adam")
                self.assertEqual(opt2.iterations, 1)
                self.assertAlmostEqual(opt2.learning_rate, 0.01, places=7)
                self.assertIs(m2.optimizer, opt2)
                self.assertEqual(_flat(m2.predict(x)), _flat(ref))
                self.assertEqual(m2.summary(), m.summary())
                # the loaded optimizer continues from its saved state
                r1 = m.train_step(x, y, optimizer=opt)
                r2 = m2.train_step(x, y)
                self.assertEqual(r1, r2)
            with open(path, "rb") as f:
                m3, opt3 = pneumo.Model.from_bytes(f.read())
            with m3:
                self.assertIsNotNone(opt3)
            m.save(path)  # without optimizer, atomically over the old file
            m4, opt4 = pneumo.Model.load(path)
            self.assertIsNone(opt4)
            m4.close()
        self.assertEqual(sorted(os.listdir(d)), ["m.safetensors"])  # no temporary left


class PredictTest(unittest.TestCase):
    def test_predict_batch_and_chunks(self):
        with small_model() as m:
            x, _ = random_batch(7, 32, seed=4)
            full = m.predict(x, batch_size=None)
            chunked = m.predict(x, batch_size=3)
            self.assertEqual(_flat(full), _flat(chunked))
            self.assertEqual(len(_flat(full)), 7)
            if np is not None:
                self.assertEqual(full.shape, (7, 1))
                self.assertEqual(full.dtype, np.float32)
                one = m.predict(x[2])  # a single (H, W, C) sample
                self.assertEqual(one.shape, (1, 1))
                self.assertEqual(float(one[0, 0]), float(full[2, 0]))
                with pneumo.Tensor.from_numpy(x) as t:
                    self.assertEqual(_flat(m.predict(t)), _flat(full))
                self.assertEqual(_flat(m.predict(x.astype(np.float64))), _flat(full))

    def test_predict_file_image_and_array_agree(self):
        d = tmpdir("pred")
        import random
        rng = random.Random(3)
        with pneumo.Model.article(96, seed=2) as m:
            m.threads = 1
            for label in (0, 1):
                path = os.path.join(d, f"x{label}.png")
                with make_image(label, 120, rng) as img:
                    img.save_png(path)
                    p_img = m.predict_image(img)
                    with img.resize(96, 96) as small:
                        pixels = small.tobytes()
                p_file = m.predict_file(path)
                self.assertEqual(p_file, p_img)
                x = pneumo.Tensor.from_list([[[[v / 255.0] for v in pixels[r * 96:(r + 1) * 96]]
                                              for r in range(96)]])
                self.assertAlmostEqual(_flat(m.predict(x))[0], p_file, places=6)
                p, lab, sentence = m.diagnose(path)
                self.assertEqual(p, p_file)
                self.assertEqual(lab, "Pneumonia" if p >= 0.5 else "Normal")
                self.assertRegex(sentence, r"^I am \d+\.\d\d% percent confirmed that this is a "
                                           r"(Pneumonia|Normal) case$")
                if np is not None:
                    with pneumo.Image.load(path) as img:
                        self.assertEqual(m.predict_image(img.numpy()), p_file)
                        self.assertEqual(m.diagnose(img)[0], p_file)

    def test_diagnose_sentence(self):
        class Fixed(pneumo.Model):
            def predict_file(self, path):
                return self.p
        m = Fixed.article(96, seed=1)  # the sentence comes from the library and the model card
        m.p = 0.9731
        self.assertEqual(m.diagnose("x")[1:], ("Pneumonia", "I am 97.31% percent confirmed that "
                                                            "this is a Pneumonia case"))
        m.p = 0.25
        self.assertEqual(m.diagnose("x")[1:], ("Normal", "I am 75.00% percent confirmed that "
                                                         "this is a Normal case"))
        m.p = 0.5
        self.assertEqual(m.diagnose("x")[1], "Pneumonia")
        m.threshold = 0.8  # the card's operating threshold decides
        m.p = 0.75
        self.assertEqual(m.diagnose("x")[1:], ("Normal", "I am 25.00% percent confirmed that "
                                                         "this is a Normal case"))
        m.close()


class TrainStepTest(unittest.TestCase):
    def test_train_steps_reduce_the_loss(self):
        with small_model() as m:
            x, y = random_batch(8, 32, seed=9)
            first = m.train_step(x, y, optimizer=pneumo.Adam(0.01))
            for _ in range(15):
                last = m.train_step(x, y)
            self.assertLess(last["loss"], first["loss"])
            ev = m.evaluate_batch(x, y)
            self.assertEqual(ev["batch_size"], 8)
            self.assertGreaterEqual(ev["accuracy"], 0.5)
            self.assertEqual(m.optimizer.iterations, 16)

    def test_default_optimizer_is_adam(self):
        with small_model() as m:
            self.assertIsNone(m.optimizer)
            x, y = random_batch(2, 32)
            m.train_step(x, y)
            self.assertEqual(m.optimizer.kind, "adam")

    def test_labels_shape_error(self):
        with small_model() as m:
            x, _ = random_batch(4, 32)
            with self.assertRaises(pneumo.ShapeError):
                m.train_step(x, [0.0, 1.0, 0.0])


if __name__ == "__main__":
    unittest.main()
