"""DICOM files through pneumo.Image (the C tests in tests/test_dicom_*.c
cover rendering and transfer syntaxes in depth)."""
import math
import os
import struct
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import tmpdir

import pneumo

LONG_VRS = (b"OB", b"OW", b"SQ", b"UN", b"UT")


def element(group, elem, vr, value):
    if len(value) % 2:
        value += b"\0" if vr in (b"UI", b"OB") else b" "
    head = struct.pack("<HH", group, elem) + vr
    if vr in LONG_VRS:
        return head + b"\0\0" + struct.pack("<I", len(value)) + value
    return head + struct.pack("<H", len(value)) + value


def us(v):
    return struct.pack("<H", v)


def dicom_file(samples, width, height, photometric, center=None, width_=None, frames=None):
    """Explicit VR little endian Part 10 bytes of 16-bit (12 stored) samples."""
    sop = b"1.2.840.10008.5.1.4.1.1.7"
    meta = (element(2, 1, b"OB", b"\0\1") + element(2, 2, b"UI", sop) +
            element(2, 3, b"UI", b"1.2.3.4") + element(2, 0x10, b"UI", b"1.2.840.10008.1.2.1"))
    ds = (element(8, 0x16, b"UI", sop) + element(8, 0x18, b"UI", b"1.2.3.4") +
          element(0x10, 0x10, b"PN", b"DOE^JANE") + element(0x28, 2, b"US", us(1)) +
          element(0x28, 4, b"CS", photometric.encode()))
    if frames:
        ds += element(0x28, 8, b"IS", str(frames).encode())
    ds += (element(0x28, 0x10, b"US", us(height)) + element(0x28, 0x11, b"US", us(width)) +
           element(0x28, 0x100, b"US", us(16)) + element(0x28, 0x101, b"US", us(12)) +
           element(0x28, 0x102, b"US", us(11)) + element(0x28, 0x103, b"US", us(0)))
    if center is not None:
        ds += (element(0x28, 0x1050, b"DS", str(center).encode()) +
               element(0x28, 0x1051, b"DS", str(width_).encode()))
    ds += element(0x7FE0, 0x10, b"OW", struct.pack("<%dH" % len(samples), *samples))
    return (bytes(128) + b"DICM" + element(2, 0, b"UL", struct.pack("<I", len(meta))) + meta +
            ds)


def linear_window(x, c, w):
    """DICOM PS3.3 C.11.2.1.2.1, rounded to 8 bits."""
    if x <= c - 0.5 - (w - 1) / 2:
        return 0
    if x > c - 0.5 + (w - 1) / 2:
        return 255
    return min(255, int(math.floor(((x - (c - 0.5)) / (w - 1) + 0.5) * 255 + 0.5)))


class DicomTest(unittest.TestCase):
    def decode_or_skip(self, data, label):
        try:
            return pneumo.Image.decode(data, label=label)
        except pneumo.UnsupportedError as e:
            if "no DICOM support" in str(e):
                self.skipTest("skipped: this libpneumo build has no DICOM support (%s)" % e)
            raise

    def test_monochrome1_window_file_and_memory(self):
        w, h = 16, 8
        samples = [(x * 4095) // (w - 1) for y in range(h) for x in range(w)]
        data = dicom_file(samples, w, h, "MONOCHROME1", 2048, 1000)
        want = bytes(255 - linear_window(v, 2048, 1000) for v in samples)
        with self.decode_or_skip(data, "m1.dcm") as img:
            self.assertEqual(img.size, (w, h))
            self.assertEqual(img.tobytes(), want)
        path = os.path.join(tmpdir("dicom"), "m1.dcm")
        with open(path, "wb") as f:
            f.write(data)
        with pneumo.Image.load(path) as img:
            self.assertEqual(img.tobytes(), want)

    def test_multiframe_refused_without_patient_data(self):
        one = dicom_file([0] * 16, 4, 4, "MONOCHROME2")
        self.decode_or_skip(one, "probe.dcm").close()
        data = dicom_file([0] * 32, 4, 4, "MONOCHROME2", frames=2)
        with self.assertRaises(pneumo.UnsupportedError) as cm:
            pneumo.Image.decode(data, label="mf.dcm")
        self.assertIn("multi-frame object (2 frames", str(cm.exception))
        self.assertNotIn("DOE", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
