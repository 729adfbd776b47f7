"""examples/python/article.py runs end to end (tiny synthetic settings)."""
import os
import subprocess
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import PYTHON, REPO, program, tmpdir

SYNTH = program("PNEUMO_SYNTH")


@unittest.skipUnless(SYNTH, "PNEUMO_SYNTH not set (build the examples; run through meson test)")
class ArticleExampleTest(unittest.TestCase):
    def test_article_walkthrough(self):
        out = tmpdir("article")
        r = subprocess.run([PYTHON, os.path.join(REPO, "examples", "python", "article.py"),
                            "--size", "96", "--count", "8", "--epochs", "2", "--batch", "8",
                            "--threads", "1", "--out", out],
                           capture_output=True, text=True, timeout=300, env=dict(os.environ))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        text = r.stdout
        for expected in ("SYNTHETIC", "Found 16 images belonging to 2 classes.",
                         "class weights: {0: 1.0, 1: 1.0}", "Total params:", "Epoch 2/2",
                         "The testing accuracy is :", "precision    recall  f1-score   support",
                         "percent confirmed that this is a"):
            self.assertIn(expected, text)
        for name in ("model.safetensors", "best.safetensors", "history.csv", "report.html"):
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)


if __name__ == "__main__":
    unittest.main()
