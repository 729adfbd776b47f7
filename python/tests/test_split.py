"""pneumo.patient_id and Dataset.split_directory (patient-grouped validation split)."""
import os
import random
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import make_image, tmpdir

import pneumo


def patient_tree():
    """Normal: patients IM-000k with k % 3 + 1 images; Opacity: personK with
    k % 4 + 1 images (12 + 20 patients, 24 + 50 images)."""
    root = tmpdir("split")
    rng = random.Random(3)
    names = {"Normal": [f"IM-{k:04d}-{j + 1:04d}.png" for k in range(12) for j in range(k % 3 + 1)],
             "Opacity": [f"person{k + 1}_virus_{10 * k + j}.png"
                         for k in range(20) for j in range(k % 4 + 1)]}
    for label, cls in enumerate(("Normal", "Opacity")):
        os.makedirs(os.path.join(root, cls))
        for name in names[cls]:
            with make_image(label, 8, rng) as img:
                img.save_png(os.path.join(root, cls, name))
    return root


class SplitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = patient_tree()

    def test_patient_id(self):
        self.assertEqual(pneumo.patient_id("a/person12_virus_3.jpeg"), "person12")
        self.assertEqual(pneumo.patient_id("person1_bacteria_1.jpeg"), "person1")
        self.assertEqual(pneumo.patient_id("IM-0115-0001.jpeg"), "IM-0115")
        self.assertEqual(pneumo.patient_id("NORMAL2-IM-1427-0001.jpeg"), "NORMAL2-IM-1427")
        self.assertEqual(pneumo.patient_id("/x/scan.png"), "scan.png")
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.patient_id("")

    def test_split(self):
        train, val = pneumo.Dataset.split_directory(self.root, val_fraction=0.25, split_seed=5,
                                                    size=8, threads=2, augment="article")
        with train, val:
            self.assertEqual(len(train) + len(val), 74)
            self.assertEqual(train.class_names, ["Normal", "Opacity"])
            self.assertEqual(val.class_names, ["Normal", "Opacity"])
            tp = {pneumo.patient_id(p) for p in train.paths}
            vp = {pneumo.patient_id(p) for p in val.paths}
            self.assertEqual(tp & vp, set())
            self.assertEqual(len(tp) + len(vp), 32)
            for c, total, half in ((0, 24, 1.5), (1, 50, 2.0)):
                self.assertLessEqual(abs(val.class_counts[c] - 0.25 * total), half)
                self.assertGreater(train.class_counts[c], 0)
            again_t, again_v = pneumo.Dataset.split_directory(self.root, val_fraction=0.25,
                                                              split_seed=5, size=8, threads=2)
            with again_t, again_v:
                self.assertEqual(again_v.paths, val.paths)
            # validation side: no shuffle by default, so batches come in dataset order
            x, y = next(iter(val.batches(4)))
            self.assertEqual(list(y), [float(v) for v in val.labels[:4]])

    def test_group_none_and_errors(self):
        train, val = pneumo.Dataset.split_directory(self.root, val_fraction=0.5, group="none",
                                                    size=8, threads=2)
        with train, val:
            self.assertEqual(val.class_counts, [12, 25])
        for bad in (0.0, 1.0, -1.0):
            with self.assertRaisesRegex(pneumo.InvalidArgumentError, "val_fraction"):
                pneumo.Dataset.split_directory(self.root, val_fraction=bad, size=8)
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Dataset.split_directory(self.root, group="study", size=8)


if __name__ == "__main__":
    unittest.main()
