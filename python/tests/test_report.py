"""pneumo.Report: the self-contained HTML report."""
import os
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import small_model, synthetic_dataset, tmpdir

import pneumo


class ReportTest(unittest.TestCase):
    def test_full_report(self):
        root = synthetic_dataset(per_class=(6, 6), size=32)
        with pneumo.Dataset.from_directory(os.path.join(root, "train"), size=32) as train, \
                pneumo.Dataset.from_directory(os.path.join(root, "val"), size=32,
                                              shuffle=False) as val, \
                small_model() as m:
            h = m.fit(train, val, epochs=2, batch_size=4)
            ev = m.evaluate(val)
            r = pneumo.Report("Run <1>")
            self.assertIs(r.add_setting("epochs", 2).add_setting("lr", 0.001), r)
            r.set_model(m).set_history(h)
            r.add_evaluation("Validation set", ev, class_names=val.class_names)
            r.add_evaluation("Without ROC", ev, roc=False)
            r.set_images_title("Validation images")
            r.add_image(val.path(0), caption="first\nActual case: " + val.class_names[0])
            with pneumo.Image.load(val.path(1)) as img:
                r.add_image(img)
            html = r.render_html()
            for text in ("Run &lt;1&gt;", "Validation set", "Validation images", "Total params",
                         "data:image/png;base64,", "<svg", "precision"):
                self.assertIn(text, html)
            self.assertNotIn("Run <1>", html)
            path = os.path.join(tmpdir("report"), "report.html")
            r.save_html(path)
            with open(path, encoding="utf-8") as f:
                self.assertEqual(f.read(), html)
            with self.assertRaises(pneumo.InvalidArgumentError):
                r.add_setting("", "x")
            bad = dict(ev, count=ev["count"])
            bad["probs"] = list(ev["probs"])[:-1]
            bad["labels"] = list(ev["labels"])[:-1]
            with self.assertRaises(pneumo.InvalidArgumentError):
                r.add_evaluation("bad", bad)
            with self.assertRaises(pneumo.PneumoIOError):
                r.save_html(os.path.join(tmpdir("report"), "missing", "r.html"))
            r.close()
            h.close()

    def test_default_title(self):
        with pneumo.Report() as r:
            self.assertIn("libpneumo report", r.render_html())


if __name__ == "__main__":
    unittest.main()
