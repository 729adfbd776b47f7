"""Library failures become PneumoError subclasses with the library's message."""
import os
import threading
import unittest

import _support  # noqa: F401  (puts python/ on sys.path)
from _support import small_model, tmpdir

import pneumo
from pneumo import errors


class ErrorMappingTest(unittest.TestCase):
    def test_hierarchy(self):
        expected = {
            1: (pneumo.InvalidArgumentError, ValueError),
            2: (pneumo.ShapeError, ValueError),
            3: (pneumo.OutOfMemoryError, MemoryError),
            4: (pneumo.PneumoIOError, OSError),
            5: (pneumo.FormatError, ValueError),
            6: (pneumo.StateError, RuntimeError),
            7: (pneumo.UnsupportedError, NotImplementedError),
            8: (pneumo.LimitError, ValueError),
            9: (pneumo.CancelledError, pneumo.PneumoError),
        }
        for status, (cls, builtin) in expected.items():
            with self.subTest(status=status):
                self.assertIs(errors.error_class(status), cls)
                self.assertEqual(cls.status, status)
                self.assertTrue(issubclass(cls, pneumo.PneumoError))
                self.assertTrue(issubclass(cls, builtin))
                e = cls("message", status, "fn")
                self.assertEqual(str(e), "message")
                self.assertEqual(e.function, "fn")
        self.assertIs(errors.error_class(77), pneumo.PneumoError)


class ErrorPropagationTest(unittest.TestCase):
    def test_bad_shape_raises_shape_error_with_library_message(self):
        with small_model(32) as m:
            x = pneumo.Tensor((2, 20, 20, 1))
            with self.assertRaises(pneumo.ShapeError) as cm:
                m.predict(x)
            e = cm.exception
            self.assertEqual(e.status, 2)
            self.assertEqual(e.function, "pneumo_model_predict")
            self.assertIn("(2, 20, 20, 1)", str(e))
            self.assertIn("(None, 32, 32, 1)", str(e))

    def test_dense_on_unflattened_input_is_a_shape_error(self):
        with pneumo.Model(8, 8, 1) as m:
            with self.assertRaises(pneumo.ShapeError) as cm:
                m.add_dense(4)
            self.assertTrue(str(cm.exception))

    def test_tensor_copy_shape_error_names_both_shapes(self):
        with pneumo.Tensor((2, 3)) as a, pneumo.Tensor((3, 2)) as b:
            with self.assertRaises(pneumo.ShapeError) as cm:
                a.copy_from(b)
            self.assertIn("(2, 3)", str(cm.exception))
            self.assertIn("(3, 2)", str(cm.exception))

    def test_corrupt_model_file_is_a_format_error_naming_the_file(self):
        d = tmpdir("corrupt")
        good = os.path.join(d, "good.safetensors")
        with small_model(32) as m:
            m.save(good)
        with open(good, "rb") as f:
            data = bytearray(f.read())
        cases = {
            "truncated.safetensors": bytes(data[: len(data) // 2]),
            "garbage.safetensors": b"this is not a model file at all" * 4,
            "badheader.safetensors": bytes(data[:8]) + b"X" + bytes(data[9:]),
        }
        for name, content in cases.items():
            path = os.path.join(d, name)
            with open(path, "wb") as f:
                f.write(content)
            with self.subTest(file=name):
                with self.assertRaises((pneumo.FormatError, pneumo.LimitError)) as cm:
                    pneumo.Model.load(path)
                self.assertIn(name, str(cm.exception))
        with self.assertRaises(pneumo.FormatError) as cm:
            pneumo.Model.load(os.path.join(d, "garbage.safetensors"))
        self.assertEqual(cm.exception.status, 5)
        self.assertEqual(cm.exception.function, "pneumo_model_load")

    def test_missing_file_is_an_io_error(self):
        path = os.path.join(tmpdir("missing"), "nope.safetensors")
        with self.assertRaises(pneumo.PneumoIOError) as cm:
            pneumo.Model.load(path)
        self.assertIsInstance(cm.exception, OSError)
        self.assertIn("nope.safetensors", str(cm.exception))
        with self.assertRaises(pneumo.PneumoIOError):
            pneumo.Image.load(path)

    def test_invalid_arguments(self):
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Model(10, 10, 1).add_dropout(1.5)
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Adam(learning_rate=-1.0)
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Tensor((2, 0))
        with self.assertRaises(pneumo.InvalidArgumentError):
            pneumo.Tensor((1, 2, 3, 4, 5))

    def test_limit_error(self):
        with pneumo.Image(64, 64) as img:
            png = img.encode_png()
        with self.assertRaises(pneumo.LimitError) as cm:
            pneumo.Image.decode(png, label="big.png", limits={"max_side": 32})
        self.assertIn("big.png", str(cm.exception))

    def test_state_error(self):
        # a model without a single sigmoid output cannot compute the BCE gradient
        with pneumo.Model(4, 4, 1) as m:
            m.add_flatten().add_dense(2)
            with self.assertRaises(pneumo.StateError) as cm:
                m.compute_gradients(pneumo.Tensor((1, 4, 4, 1)), pneumo.Tensor((1,)))
            self.assertEqual(cm.exception.status, 6)

    def test_closed_object_is_a_state_error(self):
        m = small_model(32)
        m.close()
        with self.assertRaises(pneumo.StateError):
            m.summary()
        with self.assertRaises(pneumo.StateError):
            m.predict(pneumo.Tensor((1, 32, 32, 1)))
        self.assertIn("closed", repr(m))

    def test_messages_are_per_thread(self):
        results = {}

        def fail(i):
            try:
                pneumo.Model(i + 20000, 8, 1)
            except pneumo.PneumoError as e:
                results[i] = str(e)

        threads = [threading.Thread(target=fail, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(results), 4)
        for i, msg in results.items():
            self.assertIn(str(i + 20000), msg)


if __name__ == "__main__":
    unittest.main()
