"""pneumo.Tensor: creation, zero-copy NumPy and buffer wrapping, data access,
cleanup."""
import array
import gc
import unittest
import weakref

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import np

import pneumo


class TensorTest(unittest.TestCase):
    def test_create_and_shape(self):
        with pneumo.Tensor((2, 3, 4, 1)) as t:
            self.assertEqual(t.shape, (2, 3, 4, 1))
            self.assertEqual(t.ndim, 4)
            self.assertEqual(t.size, 24)
            self.assertEqual(t.nbytes, 96)
            self.assertEqual(len(t), 2)
            self.assertEqual(t.dim(1), 3)
            self.assertEqual(t.dim(-1), 1)
            with self.assertRaises(IndexError):
                t.dim(4)
            self.assertEqual(t.shape_str(), "(2, 3, 4, 1)")
            self.assertIn("(2, 3, 4, 1)", repr(t))
            self.assertEqual(t.to_array().tolist(), [0.0] * 24)
            self.assertNotEqual(t.data_ptr, 0)
        self.assertTrue(t.closed)
        self.assertIn("closed", repr(t))

    def test_from_list_tolist_roundtrip(self):
        data = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]]
        with pneumo.Tensor.from_list(data) as t:
            self.assertEqual(t.shape, (2, 3))
            self.assertEqual(t.tolist(), data)
            with t.clone() as c:
                self.assertNotEqual(c.data_ptr, t.data_ptr)
                self.assertEqual(c.tolist(), data)
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Tensor.from_list([[1.0], [2.0, 3.0]])
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Tensor.from_list([])

    def test_from_buffer_is_zero_copy(self):
        buf = array.array("f", [float(i) for i in range(12)])
        t = pneumo.Tensor.from_buffer(buf, (3, 4))
        self.assertEqual(t.data_ptr, buf.buffer_info()[0])
        buf[5] = 42.0
        self.assertEqual(t.tolist()[1][1], 42.0)
        with self.assertRaises(BufferError):
            buf.append(1.0)  # exported: cannot be resized while the tensor lives
        t.close()
        buf.append(1.0)
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Tensor.from_buffer(buf, (3, 4))
        # read-only bytes are copied
        raw = array.array("f", [1.0, 2.0]).tobytes()
        with pneumo.Tensor.from_buffer(raw, (2,)) as t2:
            self.assertEqual(t2.tolist(), [1.0, 2.0])

    def test_memoryview(self):
        with pneumo.Tensor((2, 2)) as t:
            mv = t.memoryview()
            self.assertEqual(mv.shape, (2, 2))
            mv[1, 0] = 3.5
            self.assertEqual(t.tolist(), [[0.0, 0.0], [3.5, 0.0]])
            del mv

    def test_copy_from(self):
        with pneumo.Tensor((3,)) as a, pneumo.Tensor.from_list([1.0, 2.0, 3.0]) as b:
            a.copy_from(b)
            self.assertEqual(a.tolist(), [1.0, 2.0, 3.0])
            a.copy_from([4.0, 5.0, 6.0])
            self.assertEqual(a.tolist(), [4.0, 5.0, 6.0])

    def test_from_any(self):
        t = pneumo.Tensor((1,))
        self.assertIs(pneumo.Tensor.from_any(t), t)
        with self.assertRaises(TypeError):
            pneumo.Tensor.from_any("nope")

    def test_handles_cannot_be_copied_or_pickled(self):
        import copy
        import pickle
        with pneumo.Tensor((2,)) as t:
            for fn in (copy.copy, copy.deepcopy, pickle.dumps):
                with self.assertRaises(TypeError):
                    fn(t)

    def test_close_is_idempotent_and_finalizer_never_double_frees(self):
        t = pneumo.Tensor((4,))
        fin = t._finalizer
        t.close()
        t.close()
        self.assertFalse(fin.alive)
        self.assertIsNone(fin())  # calling a detached finalizer does nothing
        t2 = pneumo.Tensor((4,))
        fin2 = t2._finalizer
        ref = weakref.ref(t2)
        del t2
        gc.collect()
        self.assertIsNone(ref())
        self.assertFalse(fin2.alive)


@unittest.skipIf(np is None, "NumPy not installed")
class TensorNumpyTest(unittest.TestCase):
    def test_float32_c_contiguous_is_wrapped_without_copy(self):
        a = np.arange(24, dtype=np.float32).reshape(2, 3, 4, 1)
        t = pneumo.Tensor.from_numpy(a)
        self.assertEqual(t.data_ptr, a.ctypes.data)
        self.assertIs(t.numpy(), a)
        a[0, 0, 0, 0] = 99.0
        self.assertEqual(t.tolist()[0][0][0][0], 99.0)
        # the tensor keeps the array alive after the caller drops it
        ptr = a.ctypes.data
        del a
        gc.collect()
        self.assertEqual(t.data_ptr, ptr)
        self.assertEqual(t.to_array()[0], 99.0)
        t.close()

    def test_other_layouts_are_copied_once(self):
        for a in (np.arange(12, dtype=np.float64).reshape(3, 4),
                  np.arange(12, dtype=np.float32).reshape(3, 4).T,
                  np.arange(12, dtype=np.int32).reshape(3, 4)):
            with self.subTest(dtype=a.dtype, c=a.flags.c_contiguous):
                with pneumo.Tensor.from_numpy(a) as t:
                    self.assertNotEqual(t.data_ptr, a.ctypes.data)
                    self.assertEqual(t.shape, a.shape)
                    np.testing.assert_array_equal(t.numpy(), a.astype(np.float32))
        a = np.ones((2, 2), dtype=np.float32)
        with pneumo.Tensor.from_numpy(a, copy=True) as t:
            self.assertNotEqual(t.data_ptr, a.ctypes.data)

    def test_numpy_view_of_owned_tensor(self):
        t = pneumo.Tensor((2, 3))
        v = t.numpy()
        self.assertEqual(v.ctypes.data, t.data_ptr)
        v[1, 2] = 7.0
        self.assertEqual(t.tolist()[1][2], 7.0)
        c = t.numpy(copy=True)
        self.assertNotEqual(c.ctypes.data, t.data_ptr)
        np.testing.assert_array_equal(np.asarray(t), v)
        # close() while a view exists: marked closed, memory freed with the last view
        fin = t._finalizer
        t.close()
        self.assertTrue(t.closed)
        self.assertTrue(fin.alive)
        self.assertEqual(v[1, 2], 7.0)
        del t
        gc.collect()
        self.assertTrue(fin.alive)
        del v
        gc.collect()
        self.assertFalse(fin.alive)

    def test_readonly_array(self):
        a = np.frombuffer(np.arange(4, dtype=np.float32).tobytes(), dtype=np.float32)
        self.assertFalse(a.flags.writeable)
        with pneumo.Tensor.from_numpy(a) as t:
            self.assertEqual(t.data_ptr, a.ctypes.data)
            self.assertTrue(t.readonly)
            with self.assertRaises(pneumo.StateError):
                t.copy_from([1.0, 2.0, 3.0, 4.0])

    def test_misaligned_array_is_copied(self):
        raw = np.zeros(17, dtype=np.uint8)
        a = raw[1:].view(np.float32)
        with pneumo.Tensor.from_numpy(a) as t:
            self.assertNotEqual(t.data_ptr, a.ctypes.data)
            self.assertEqual(t.shape, (4,))


if __name__ == "__main__":
    unittest.main()
