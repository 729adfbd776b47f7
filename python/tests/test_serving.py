"""pneumo.Model's serving side: the model card, old files without one, inference
clones from several Python threads, Grad-CAM and the overlay PNG."""
import json
import os
import struct
import threading
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import np, tmpdir

import pneumo


def _rewrite_metadata(path, out, drop):
    """Copy a safetensors file without the metadata keys in `drop` (a file as
    libpneumo wrote it before the model card existed)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    for key in drop:
        header["__metadata__"].pop(key)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data[8 + n:])


class CardTest(unittest.TestCase):
    def test_defaults_and_round_trip(self):
        d = tmpdir("serving")
        with pneumo.Model.article(96, seed=4) as m:
            self.assertEqual(m.class_names, ["NORMAL", "PNEUMONIA"])
            self.assertEqual(m.threshold, 0.5)
            self.assertEqual(m.preprocessing["resample"], "nearest")
            self.assertIsNone(m.provenance["epochs"])
            m.class_names = ["Normal", "Opacity"]
            m.threshold = 0.25
            with self.assertRaises(pneumo.InvalidArgumentError):
                m.threshold = 1.5
            with self.assertRaises(pneumo.InvalidArgumentError):
                m.class_names = ["", "x"]
            self.assertEqual(m.temperature, 1.0)
            m.temperature = 1.5
            with self.assertRaises(pneumo.InvalidArgumentError):
                m.temperature = 0.0
            self.assertEqual(m.training_settings, "")
            m.training_settings = "epochs=3\nbatch=8\n"
            with self.assertRaises(pneumo.InvalidArgumentError):
                m.training_settings = "bad\x01"
            path = os.path.join(d, "m.safetensors")
            m.save(path)
        back, _ = pneumo.Model.load(path)
        with back:
            self.assertEqual(back.class_names, ["Normal", "Opacity"])
            self.assertEqual(back.threshold, 0.25)
            self.assertEqual(back.temperature, 1.5)
            info = back.info()
            self.assertEqual(info["temperature"], 1.5)
            self.assertEqual(info["threshold"], 0.25)
            self.assertEqual(info["provenance"]["library_version"], pneumo.version())
            self.assertEqual(info["input_shape"], [96, 96, 1])
            self.assertEqual(back.provenance["seed"], 4)
            self.assertEqual(back.training_settings, "epochs=3\nbatch=8\n")
            self.assertEqual(info["provenance"]["training_settings"], "epochs=3\nbatch=8\n")

    def test_file_without_card_loads_with_defaults(self):
        d = tmpdir("serving")
        path, old = os.path.join(d, "new.safetensors"), os.path.join(d, "old.safetensors")
        with pneumo.Model.article(96, seed=2) as m:
            m.threshold = 0.9
            m.save(path)
            x = np.random.default_rng(1).random((2, 96, 96, 1), dtype=np.float32)
            want = m.predict(x)
        _rewrite_metadata(path, old, ["model_card"])
        back, _ = pneumo.Model.load(old)
        with back:
            self.assertEqual(back.threshold, 0.5)
            self.assertEqual(back.class_names, ["NORMAL", "PNEUMONIA"])
            self.assertEqual(back.provenance["library_version"], pneumo.version())
            self.assertTrue(np.array_equal(back.predict(x), want))

    def test_corrupt_card_is_a_format_error(self):
        d = tmpdir("serving")
        path, bad = os.path.join(d, "m.safetensors"), os.path.join(d, "bad.safetensors")
        with pneumo.Model.article(96, seed=2) as m:
            m.save(path)
        with open(path, "rb") as f:
            data = f.read()
        data = data.replace(b'\\"threshold\\":0.5', b'\\"threshold\\":7.0')
        with open(bad, "wb") as f:
            f.write(data)
        with self.assertRaises(pneumo.FormatError) as cm:
            pneumo.Model.load(bad)
        self.assertIn("model_card", str(cm.exception))
        self.assertIn("threshold", str(cm.exception))


@unittest.skipIf(np is None, "NumPy missing")
class ClonesAndGradcamTest(unittest.TestCase):
    def test_clones_in_threads(self):
        x = np.random.default_rng(3).random((8, 96, 96, 1), dtype=np.float32)
        with pneumo.Model.article(96, seed=6) as m:
            m.threads = 1
            want = m.predict(x)
            clones = [m.clone_inference() for _ in range(4)]
            got = [None] * 4

            def work(i):
                got[i] = clones[i].predict(x)

            threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for g in got:
                self.assertTrue(np.array_equal(g, want))
            with self.assertRaises(pneumo.StateError):
                m.train_step(x, np.zeros(8, np.float32))
            for c in clones:
                c.close()
            m.train_step(x, np.zeros(8, np.float32))  # exclusive again

    def test_gradcam(self):
        x = np.random.default_rng(4).random((96, 96, 1), dtype=np.float32)
        with pneumo.Model.article(96, seed=8) as m:
            cam1, info = m.gradcam(x, target=1, return_info=True)
            cam0 = m.gradcam(x, target=0)
            self.assertEqual(cam1.shape, (info["height"], info["width"]))
            self.assertEqual(info["layer"], 8)
            self.assertTrue((cam1 >= 0).all() and (cam0 >= 0).all())
            self.assertFalse(((cam0 > 0) & (cam1 > 0)).any())
            default = m.gradcam(x)
            self.assertTrue(np.array_equal(default, cam1 if info["probability"] >= 0.5 else cam0))
            with self.assertRaises(pneumo.InvalidArgumentError):
                m.gradcam(x, target=3)
            with self.assertRaises(pneumo.StateError):
                m.gradcam(x, layer=1)
            gray = (x[..., 0] * 255).astype(np.uint8)
            png = pneumo.Model.gradcam_overlay_png(gray, cam1)
            self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
            with pneumo.Image.decode(png) as img:
                self.assertEqual((img.width, img.height), (96, 96))


if __name__ == "__main__":
    unittest.main()
