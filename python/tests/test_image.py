"""pneumo.Image and augmentation."""
import gc
import os
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import np, tmpdir

import pneumo


def gradient(w, h):
    return bytes((x * 7 + y * 3) % 256 for y in range(h) for x in range(w))


class ImageTest(unittest.TestCase):
    def test_create_and_pixels(self):
        with pneumo.Image(5, 3) as img:
            self.assertEqual((img.width, img.height, img.size), (5, 3, (5, 3)))
            self.assertEqual(img.tobytes(), bytes(15))
            self.assertIn("5x3", repr(img))
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Image(0, 3)

    def test_png_roundtrip_file_and_memory(self):
        px = gradient(20, 10)
        path = os.path.join(tmpdir("img"), "g.png")
        with pneumo.Image.from_bytes(px, 20, 10) as img:
            img.save_png(path)
            png = img.encode_png()
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), png)
        with pneumo.Image.load(path) as a, pneumo.Image.decode(png, label="mem") as b:
            self.assertEqual(a.tobytes(), px)
            self.assertEqual(b.tobytes(), px)
        with pneumo.Image.load(path, limits={"max_file_bytes": 1 << 20}) as c:
            self.assertEqual(c.size, (20, 10))
        with self.assertRaises(TypeError):
            pneumo.decode_limits(max_sides=3)
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Image.from_bytes(px, 21, 10)

    def test_decode_errors_name_the_data(self):
        with self.assertRaises(pneumo.FormatError) as cm:
            pneumo.Image.decode(b"hello, not an image", label="upload.jpg")
        self.assertIn("upload.jpg", str(cm.exception))

    def test_resize(self):
        with pneumo.Image.from_bytes(gradient(8, 8), 8, 8) as img:
            with img.resize(4, 2) as small:
                self.assertEqual(small.size, (4, 2))
            with img.resize(16, 16, "bilinear") as big:
                self.assertEqual(big.size, (16, 16))
            with self.assertRaises(KeyError):
                img.resize(4, 4, "lanczos")

    def test_augment(self):
        with pneumo.Image.from_bytes(gradient(16, 12), 16, 12) as img:
            vals, params = img.augment("default")
            self.assertEqual(params, pneumo.identity_augment_params())
            flat = list(vals.ravel()) if np is not None else list(vals)
            self.assertAlmostEqual(flat[1], 7 / 255, places=6)
            a, pa = img.augment("article", seed=3, epoch=1, index=2)
            self.assertEqual(pa, pneumo.draw_augment_params("article", 3, 1, 2, 16, 12))
            b, pb = img.augment("article", params=pa)
            self.assertEqual(pb, pa)
            if np is not None:
                self.assertEqual(a.shape, (12, 16))
                np.testing.assert_array_equal(a, b)
        o = pneumo.augment_options("article")
        self.assertEqual((o.zoom_lo, o.zoom_hi, o.horizontal_flip), (0.8, 1.2, 1))
        o2 = pneumo.augment_options(zoom_range=0.1, fill_mode="constant", cval=10,
                                    brightness_range=(0.5, 1.5), vertical_flip=True)
        self.assertEqual((o2.fill_mode, o2.vertical_flip, o2.brightness_hi), (1, 1, 1.5))
        with self.assertRaises(pneumo.InvalidArgumentError) as cm:
            pneumo.augment_options(rotation_range=-5)
        self.assertIn("rotation_range", str(cm.exception))
        with self.assertRaises(TypeError):
            pneumo.augment_options(rotaton_range=5)
        with self.assertRaises(ValueError):
            pneumo.augment_options("nope")

    @unittest.skipIf(np is None, "NumPy not installed")
    def test_contrast_gamma_crop_against_numpy(self):
        """An independent NumPy version of Pillow's contrast, torchvision's
        gamma and crop + bilinear resize, on a real chest X-ray."""
        root = os.environ.get("PNEUMO_SHARED_DATA", os.path.join(_support.REPO, "..", "shared", "data"))
        path = os.path.join(root, "chest_xray_224", "train", "Normal", "IM-0640-0001-0001.jpeg")
        if not os.path.exists(path):
            self.skipTest(f"no shared X-ray at {path}")
        o = pneumo.augment_options(contrast_range=(0.6, 1.6), gamma_range=(0.6, 1.7), rescale=None)
        self.assertEqual((o.contrast_lo, o.gamma_hi), (np.float32(0.6), np.float32(1.7)))
        with pneumo.Image.load(path) as img:
            x = img.numpy(copy=True)
            for index in range(6):
                got, p = img.augment(o, seed=5, epoch=2, index=index)
                c, g = np.float32(p["contrast"]), float(np.float32(p["gamma"]))
                m = np.float32(int(x.mean() + 0.5))
                t = m + c * (x.astype(np.float32) - m)
                if not 0 <= c <= 1:
                    t = np.clip(t, 0, 255)
                y = t.astype(np.uint8)
                want = np.floor(255.999 * (y / 255.0) ** g).clip(0, 255)
                np.testing.assert_array_equal(got, want.astype(np.float32))
            oc = pneumo.augment_options(crop_lo=0.5, rescale=None)
            h, w = x.shape
            for index in range(4):
                got, p = img.augment(oc, seed=5, epoch=0, index=index)
                s = float(np.float32(p["crop_scale"]))
                self.assertTrue(0.5 <= s < 1)
                yy = np.float64(p["crop_row"]) + s * np.arange(h)
                xx = np.float64(p["crop_col"]) + s * np.arange(w)
                self.assertLessEqual(yy[-1], h - 1)
                self.assertLessEqual(xx[-1], w - 1)
                y0 = np.floor(yy).astype(int)
                x0 = np.floor(xx).astype(int)
                y1 = np.minimum(y0 + 1, h - 1)
                x1 = np.minimum(x0 + 1, w - 1)
                fy = (yy - y0)[:, None]
                fx = (xx - x0)[None, :]
                f = x.astype(np.float64)
                top = f[y0][:, x0] + fx * (f[y0][:, x1] - f[y0][:, x0])
                bot = f[y1][:, x0] + fx * (f[y1][:, x1] - f[y1][:, x0])
                np.testing.assert_allclose(got, top + fy * (bot - top), atol=2e-3, rtol=0)
        with self.assertRaises(pneumo.InvalidArgumentError) as cm:
            pneumo.augment_options(gamma_range=(2, 1))
        self.assertIn("gamma_lo", str(cm.exception))

    @unittest.skipIf(np is None, "NumPy not installed")
    def test_numpy(self):
        a = (np.arange(12, dtype=np.uint8) * 20).reshape(3, 4)
        with pneumo.Image.from_numpy(a) as img:
            self.assertEqual(img.size, (4, 3))
            v = img.numpy()
            np.testing.assert_array_equal(v, a)
            v[0, 0] = 255
            self.assertEqual(img.tobytes()[0], 255)
            c = img.numpy(copy=True)
            fin = img._finalizer
        # the with block closed the image; the view keeps its memory valid
        self.assertTrue(img.closed)
        self.assertEqual(v[0, 0], 255)
        del img
        gc.collect()
        self.assertTrue(fin.alive)
        del v
        gc.collect()
        self.assertFalse(fin.alive)
        self.assertEqual(c[0, 0], 255)
        with pneumo.Image.from_numpy(np.full((2, 2, 1), 300.0)) as img:
            self.assertEqual(img.tobytes(), b"\xff" * 4)
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Image.from_numpy(np.zeros((2, 2, 3)))


if __name__ == "__main__":
    unittest.main()
