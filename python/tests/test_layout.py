"""The ctypes mirror of the C API matches the headers exactly.

tests/python_layout (built by meson from the public headers; generated with
python/pneumo/_generated.py by tests/gen_api_docs.py) prints every public
struct's size and alignment, each field's offset and size, the enum values and
the size of every function's result and arguments; this test compares them with
the ctypes classes, constants and prototypes in both directions, so a header
change that is not mirrored in Python fails."""
import ctypes
import os
import subprocess
import unittest

import _support  # noqa: F401  (sets sys.path)
from pneumo import _generated as G
from pneumo import _structs as S

LAYOUT = os.environ.get("PNEUMO_LAYOUT_PROGRAM")


def _c_layout():
    out = subprocess.run([LAYOUT], check=True, capture_output=True, text=True).stdout
    structs, fields, enums, version = {}, {}, {}, None
    results, args = {}, {}
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "ret":
            results[parts[1]] = int(parts[2])
        elif parts[0] == "arg":
            args.setdefault(parts[1], []).append((int(parts[2]), int(parts[3])))
        elif parts[0] == "struct":
            structs[parts[1]] = (int(parts[2]), int(parts[3]))
        elif parts[0] == "field":
            sname, fname = parts[1].split(".", 1)
            fields.setdefault(sname, {})[fname] = (int(parts[2]), int(parts[3]))
        elif parts[0] == "enum":
            enums[parts[1]] = int(parts[2])
        elif parts[0] == "version":
            version = parts[1]
    return structs, fields, enums, version, results, args


@unittest.skipUnless(LAYOUT and os.path.exists(LAYOUT or ""),
                     "PNEUMO_LAYOUT_PROGRAM not set (run through meson test)")
class LayoutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.structs, cls.fields, cls.enums, cls.version, cls.results, cls.args = _c_layout()

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

    def test_every_function_has_a_prototype(self):
        self.assertGreater(len(G.PROTOTYPES), 100)
        declared = set(self.args) | set(self.results)
        self.assertLessEqual(declared, set(G.PROTOTYPES))

    def test_result_and_argument_sizes(self):
        for name, (restype, argtypes) in G.PROTOTYPES.items():
            with self.subTest(function=name):
                if restype is None:
                    self.assertNotIn(name, self.results, f"{name} returns a value")
                else:
                    self.assertEqual(ctypes.sizeof(restype), self.results[name],
                                     f"sizeof(result of {name})")
                cargs = self.args.get(name, [])
                self.assertEqual([i for i, _ in cargs], list(range(len(argtypes))),
                                 f"argument count of {name}")
                for (i, size), t in zip(cargs, argtypes):
                    self.assertEqual(ctypes.sizeof(t), size, f"sizeof(argument {i} of {name})")

    def test_header_version_matches_library(self):
        import pneumo
        self.assertEqual(self.version, pneumo.__version__)


if __name__ == "__main__":
    unittest.main()
