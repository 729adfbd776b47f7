"""Python predictions are identical to the C program pneumo-diagnose --json on the
same model file and images (images from pneumo-synth when built, and PNGs written
through the library's pneumo_image_save_png)."""
import glob
import json
import os
import random
import struct
import subprocess
import unittest
import zlib

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import np, make_image, program, tmpdir

import pneumo

DIAGNOSE = program("PNEUMO_DIAGNOSE")


def _png_scanlines(data):
    """IHDR and the decompressed IDAT stream of a PNG: its exact pixels."""
    i, idat, ihdr = 8, b"", None
    while i < len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        kind = data[i + 4:i + 8]
        if kind == b"IHDR":
            ihdr = data[i + 8:i + 8 + n]
        elif kind == b"IDAT":
            idat += data[i + 8:i + 8 + n]
        i += 12 + n
    return ihdr, zlib.decompress(idat)
SYNTH = program("PNEUMO_SYNTH")


@unittest.skipUnless(DIAGNOSE, "PNEUMO_DIAGNOSE not set (build with -Dexamples=true and run "
                               "through meson test)")
class DiagnoseAgreementTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        d = tmpdir("cli")
        cls.images = []
        if SYNTH:
            subprocess.run([SYNTH, os.path.join(d, "synth"), "--count", "4", "--size", "112",
                            "--seed", "3"], check=True, capture_output=True, timeout=120)
            cls.images += sorted(glob.glob(os.path.join(d, "synth", "*", "*", "*.png")))
        rng = random.Random(11)
        for i, (label, size) in enumerate([(0, 96), (1, 150), (1, 80), (0, 200)]):
            path = os.path.join(d, f"lib_{i}.png")
            with make_image(label, size, rng) as img:
                img.save_png(path)
            cls.images.append(path)
        cls.model_path = os.path.join(d, "model.safetensors")
        # a briefly trained article model, so probabilities spread away from 0.5
        x, y = _support.random_batch(4, 96, seed=1)
        with pneumo.Model.article(96, seed=5) as m:
            m.threads = 1
            for _ in range(3):
                m.train_step(x, y, optimizer=m.optimizer or pneumo.Adam(0.01))
            m.save(cls.model_path, optimizer=m.optimizer)

    def run_cli(self, *args):
        r = subprocess.run([DIAGNOSE, "--model", self.model_path, *args, *self.images],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.splitlines()

    def test_json_probabilities_and_labels(self):
        lines = self.run_cli("--json")
        self.assertEqual(len(lines), len(self.images))
        m, _ = pneumo.Model.load(self.model_path)
        with m:
            for line, path in zip(lines, self.images):
                rec = json.loads(line)
                self.assertEqual(rec["file"], path)
                p, label, _ = m.diagnose(path)
                with self.subTest(image=os.path.basename(path)):
                    # the program prints %.6f of the same float
                    self.assertEqual(f"{p:.6f}", f"{rec['probability_pneumonia']:.6f}")
                    self.assertAlmostEqual(p, rec["probability_pneumonia"], delta=5e-7)
                    self.assertEqual(label, rec["label"])
                    with pneumo.Image.load(path) as img:
                        self.assertEqual(m.predict_image(img), p)

    def test_sentences(self):
        lines = self.run_cli()
        m, _ = pneumo.Model.load(self.model_path)
        with m:
            for line, path in zip(lines, self.images):
                self.assertEqual(line, f"{path}: {m.diagnose(path)[2]}")

    def test_heatmaps(self):
        out = tmpdir("cli-heatmap")
        lines = self.run_cli("--json", "--heatmap", out)
        m, _ = pneumo.Model.load(self.model_path)
        with m:
            seen = {}
            for line, path in zip(lines, self.images):
                rec = json.loads(line)
                base = os.path.basename(path)
                name = base + (f".{seen[base]}" if base in seen else "") + ".gradcam.png"
                seen[base] = seen.get(base, 0) + 1
                self.assertEqual(rec["heatmap"], os.path.join(out, name))
                self.assertEqual(rec["sentence"], m.diagnose(path)[2])
                self.assertEqual(rec["threshold"], round(m.threshold, 6))
                with pneumo.Image.load(rec["heatmap"]) as overlay, pneumo.Image.load(path) as img:
                    # the overlay has the X-ray's size (all of these are under 1024 px)
                    self.assertEqual((overlay.width, overlay.height), (img.width, img.height))
                    if np is not None:
                        cam = m.gradcam(img)
                        png = pneumo.Model.gradcam_overlay_png(img, cam)
                        with open(rec["heatmap"], "rb") as f:
                            # same pixels (zlib may compress them differently)
                            self.assertEqual(_png_scanlines(f.read()), _png_scanlines(png), path)
        r = subprocess.run([DIAGNOSE, "--model", self.model_path, "--heatmap", "/no/such/dir", self.images[0]],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("/no/such/dir", r.stderr)

    def test_unreadable_file_reported_by_both(self):
        bad = os.path.join(tmpdir("cli-bad"), "bad.png")
        with open(bad, "wb") as f:
            f.write(b"not a png")
        r = subprocess.run([DIAGNOSE, "--model", self.model_path, "--json", bad],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        c_error = json.loads(r.stdout)["error"]
        m, _ = pneumo.Model.load(self.model_path)
        with m, self.assertRaises(pneumo.FormatError) as cm:
            m.predict_file(bad)
        self.assertEqual(str(cm.exception), c_error)


if __name__ == "__main__":
    unittest.main()
