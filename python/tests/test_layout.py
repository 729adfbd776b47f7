"""The ctypes mirrors of the C structs and enums match the headers exactly.

tests/python_layout (built by meson from the public headers) prints every public
struct's size and alignment, each field's offset and size, and the enum values;
this test compares them with python/pneumo/_structs.py in both directions, so a
header change that is not mirrored in Python fails."""
import ctypes
import os
import subprocess
import unittest

import _support  # noqa: F401  (sets sys.path)
from pneumo import _structs as S

LAYOUT = os.environ.get("PNEUMO_LAYOUT_PROGRAM")


def _c_layout():
    out = subprocess.run([LAYOUT], check=True, capture_output=True, text=True).stdout
    structs, fields, enums, version = {}, {}, {}, None
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "struct":
            structs[parts[1]] = (int(parts[2]), int(parts[3]))
        elif parts[0] == "field":
            sname, fname = parts[1].split(".", 1)
            fields.setdefault(sname, {})[fname] = (int(parts[2]), int(parts[3]))
        elif parts[0] == "enum":
            enums[parts[1]] = int(parts[2])
        elif parts[0] == "version":
            version = parts[1]
    return structs, fields, enums, version


@unittest.skipUnless(LAYOUT and os.path.exists(LAYOUT or ""),
                     "PNEUMO_LAYOUT_PROGRAM not set (run through meson test)")
class LayoutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.structs, cls.fields, cls.enums, cls.version = _c_layout()

    def test_every_struct_is_mirrored(self):
        self.assertEqual(set(self.structs), set(S.STRUCTS))

    def test_sizes_and_alignment(self):
        for name, (size, align) in self.structs.items():
            cls = S.STRUCTS[name]
            with self.subTest(struct=name):
                self.assertEqual(ctypes.sizeof(cls), size, f"sizeof({name})")
                self.assertEqual(ctypes.alignment(cls), align, f"alignof({name})")

    def test_field_offsets_and_sizes(self):
        for name, cfields in self.fields.items():
            cls = S.STRUCTS[name]
            pyfields = [f for f, _ in cls._fields_]
            with self.subTest(struct=name):
                self.assertEqual(pyfields, sorted(cfields, key=lambda f: cfields[f][0]),
                                 f"field order of {name}")
                for fname, (off, size) in cfields.items():
                    desc = getattr(cls, fname)
                    self.assertEqual(desc.offset, off, f"offsetof({name}, {fname})")
                    self.assertEqual(desc.size, size, f"sizeof({name}.{fname})")

    def test_enum_values(self):
        self.assertEqual(self.enums, S.ENUM_VALUES)

    def test_header_version_matches_library(self):
        import pneumo
        self.assertEqual(self.version, pneumo.__version__)


if __name__ == "__main__":
    unittest.main()
