"""HTTP tests of pneumo-serve, Python standard library only.

Each test class trains a small model (pneumo-synth + pneumo-train at 96x96,
one epoch: under a second), starts pneumo-serve on an ephemeral loopback port
and talks to it with http.client or raw sockets. Real X-rays come from
$PNEUMO_SHARED_DATA (../shared/data); the tests that need them skip with a
message where that folder is absent, the others use the synthetic images.

Environment (set by tests/meson.build): PNEUMO_SERVE, PNEUMO_SYNTH,
PNEUMO_TRAIN, PNEUMO_DIAGNOSE (the programs), PNEUMO_SHARED_DATA."""
import base64
import glob
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import uuid
import zlib

SERVE = os.environ.get("PNEUMO_SERVE", "")
SYNTH = os.environ.get("PNEUMO_SYNTH", "")
TRAIN = os.environ.get("PNEUMO_TRAIN", "")
DIAGNOSE = os.environ.get("PNEUMO_DIAGNOSE", "")
SHARED = os.environ.get("PNEUMO_SHARED_DATA", "")
# Under the sanitizers everything is several times slower.
SLOW = float(os.environ.get("PNEUMO_SERVE_TIME_FACTOR", "1"))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def png_bytes(width, height, rows=None):
    """A grayscale 8-bit PNG; rows(y) gives the raw bytes of row y (default: a gradient)."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        raw += rows(y) if rows else bytes((x + y) & 255 for x in range(width))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(bytes(raw), 1)) + chunk(b"IEND", b""))


def png_header_only(width, height):
    """A PNG whose header claims width x height, with almost no pixel data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def multipart(fields):
    """fields: list of (name, filename or None, content_type or None, bytes)."""
    boundary = "pneumo" + uuid.uuid4().hex
    out = bytearray()
    for name, filename, ctype, data in fields:
        out += b"--" + boundary.encode() + b"\r\n"
        disp = 'form-data; name="%s"' % name
        if filename:
            disp += '; filename="%s"' % filename
        out += b"Content-Disposition: " + disp.encode() + b"\r\n"
        if ctype:
            out += b"Content-Type: " + ctype.encode() + b"\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return bytes(out), "multipart/form-data; boundary=" + boundary


class Server:
    """pneumo-serve on 127.0.0.1:<ephemeral> with extra options; stderr kept in a file."""

    def __init__(self, model, *options):
        self.log = tempfile.NamedTemporaryFile(prefix="pneumo-serve-", suffix=".log", delete=False)
        self.log_path = self.log.name
        self.proc = subprocess.Popen([SERVE, "--model", model, "--listen", "127.0.0.1:0"] + list(options),
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 30 * SLOW
        self.port = None
        while time.time() < deadline and self.port is None:
            m = re.search(r"on http://127\.0\.0\.1:(\d+)/", self.read_log())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                raise AssertionError("pneumo-serve exited with %d:\n%s" % (self.proc.returncode, self.read_log()))
            else:
                time.sleep(0.02)
        if self.port is None:
            self.proc.kill()
            raise AssertionError("pneumo-serve did not start:\n" + self.read_log())

    def read_log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * SLOW)

    def request(self, method, path, body=None, headers=None, conn=None):
        c = conn or self.conn()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def diagnose(self, data, ctype="image/jpeg", query="", conn=None):
        status, headers, body = self.request("POST", "/api/v1/diagnose" + query, data, {"Content-Type": ctype},
                                             conn)
        return status, json.loads(body)

    def stop(self):
        """SIGTERM; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60 * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def close(self):
        rc = self.stop()
        os.unlink(self.log_path)
        return rc


class ModelFixture(unittest.TestCase):
    """A small trained model and its synthetic images, shared by a test class."""

    @classmethod
    def setUpClass(cls):
        for name, path in (("PNEUMO_SERVE", SERVE), ("PNEUMO_SYNTH", SYNTH), ("PNEUMO_TRAIN", TRAIN)):
            if not path or not os.path.exists(path):
                raise AssertionError("%s is not set to a built program (got %r)" % (name, path))
        cls.tmp = tempfile.mkdtemp(prefix="pneumo-serve-test-")
        subprocess.run([SYNTH, os.path.join(cls.tmp, "ds"), "--count", "24", "--size", "96"], check=True,
                       stdout=subprocess.DEVNULL)
        cls.model = os.path.join(cls.tmp, "model.safetensors")
        subprocess.run([TRAIN, "--data", os.path.join(cls.tmp, "ds"), "--size", "96", "--epochs", "1",
                        "--threads", "2", "--quiet", "--out", cls.model, "--history",
                        os.path.join(cls.tmp, "history.csv"), "--report", os.path.join(cls.tmp, "report.txt")],
                       check=True, stdout=subprocess.DEVNULL, cwd=cls.tmp)
        cls.synthetic = sorted(glob.glob(os.path.join(cls.tmp, "ds", "val", "*", "*.png")))[:4]
        assert cls.synthetic, "pneumo-synth wrote no validation images"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @staticmethod
    def real_xrays(n_per_class=3):
        """Real X-rays from the shared data (JPEG, 224 px and originals), or [] when absent."""
        files = []
        for sub in ("chest_xray_224/val/Normal", "chest_xray_224/val/Opacity", "originals/Normal",
                    "originals/Opacity"):
            files += sorted(glob.glob(os.path.join(SHARED, sub, "*.jpeg")))[:n_per_class]
        return files

    def need_real_xrays(self):
        files = self.real_xrays()
        if not files:
            self.skipTest("real X-rays absent: %s/chest_xray_224 and originals not found" % SHARED)
        return files


class DiagnoseTest(ModelFixture):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(cls.model, "--threads", "2")

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.close()
        super().tearDownClass()
        assert rc == 0, "pneumo-serve exited with %d after SIGTERM" % rc

    def diagnose_cli(self, files):
        out = subprocess.run([DIAGNOSE, "--json", "--model", self.model] + files, check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        return [json.loads(line) for line in out.splitlines()]

    def check_like_cli(self, files):
        cli = self.diagnose_cli(files)
        self.assertEqual(len(cli), len(files))
        for path, want in zip(files, cli):
            data = read(path)
            ctype = "image/png" if path.endswith(".png") else "image/jpeg"
            for how in ("raw", "multipart"):
                if how == "raw":
                    status, a = self.server.diagnose(data, ctype)
                else:
                    body, mct = multipart([("note", None, None, b"ignored"),
                                           ("image", os.path.basename(path), ctype, data)])
                    status, a = self.server.diagnose(body, mct)
                self.assertEqual(status, 200, a)
                # pneumo-diagnose prints %.6f: the server's exact float must round to it
                self.assertEqual("%.6f" % a["probability_pneumonia"], "%.6f" % want["probability_pneumonia"],
                                 path)
                self.assertEqual(a["label"], want["label"], path)
                self.assertEqual(a["sentence"], want["sentence"], path)
                self.assertEqual(a["threshold"], want["threshold"])
                self.assertEqual(a["model"], "model.safetensors")
                self.assertGreater(a["timing_ms"]["total"], 0.0)
                self.assertNotIn("heatmap", a)

    def test_real_xrays_match_pneumo_diagnose(self):
        self.check_like_cli(self.need_real_xrays())

    def test_synthetic_images_match_pneumo_diagnose(self):
        self.check_like_cli(self.synthetic)

    def test_dicom_upload(self):
        """A DICOM wrapping of a real X-ray (DCMTK's img2dcm) gives what
        pneumo-diagnose says of the same file."""
        img2dcm = shutil.which("img2dcm")
        files = self.real_xrays(1)
        if not img2dcm or not files:
            self.skipTest("needs DCMTK's img2dcm and the shared X-rays")
        dcm = os.path.join(tempfile.mkdtemp(), "xray.dcm")
        subprocess.run([img2dcm, files[0], dcm], check=True, capture_output=True)
        out = subprocess.run([DIAGNOSE, "--json", "--model", self.model, dcm], stdout=subprocess.PIPE,
                             text=True).stdout
        want = json.loads(out)
        if "error" in want:
            self.skipTest("this build reads no DICOM: " + want["error"])
        status, a = self.server.diagnose(read(dcm), "application/dicom")
        self.assertEqual(status, 200, a)
        self.assertEqual("%.6f" % a["probability_pneumonia"], "%.6f" % want["probability_pneumonia"])
        self.assertEqual(a["sentence"], want["sentence"])

    def test_heatmap_overlay(self):
        files = self.real_xrays(1) or self.synthetic[:1]
        data = read(files[0])
        status, plain = self.server.diagnose(data, "image/png" if files[0].endswith(".png") else "image/jpeg")
        status, a = self.server.diagnose(data, "image/png" if files[0].endswith(".png") else "image/jpeg",
                                         "?heatmap=1")
        self.assertEqual(status, 200, a)
        png = base64.b64decode(a["heatmap"]["png_base64"], validate=True)
        w, h = png_size(png)
        # the overlay is the X-ray's size, scaled down to at most 1024 per side
        scale = min(1.0, 1024.0 / max(a["image"]["width"], a["image"]["height"]))
        self.assertEqual((w, h), (round(a["image"]["width"] * scale), round(a["image"]["height"] * scale)))
        self.assertEqual(a["probability_pneumonia"], plain["probability_pneumonia"])
        self.assertIn(a["heatmap"]["target"], (0, 1))
        self.assertEqual(a["heatmap"]["target"], a["class_index"])

    def test_model_health_page(self):
        status, headers, body = self.server.request("GET", "/api/v1/model")
        self.assertEqual(status, 200)
        info = json.loads(body)
        self.assertEqual(info["name"], "model.safetensors")
        self.assertEqual(info["card"]["class_names"], ["NORMAL", "PNEUMONIA"])
        self.assertEqual(info["card"]["input_shape"], [96, 96, 1])
        self.assertEqual(info["card"]["provenance"]["epochs"], 1)
        self.assertEqual(info["server"]["max_upload_bytes"], 20 << 20)
        status, headers, body = self.server.request("GET", "/healthz")
        self.assertEqual((status, json.loads(body)["status"]), (200, "ok"))
        status, headers, page = self.server.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn("default-src 'none'", headers["content-security-policy"])
        text = page.decode()
        self.assertTrue(text.startswith("<!DOCTYPE html>"))
        self.assertIn("Research demo, not a medical device", text)
        self.assertIsNone(re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), "the page refers elsewhere")
        self.assertNotIn("http://", text)
        self.assertNotIn("https://", text)
        self.assertIn('<label class="drop" id="drop" for="files">', text)

    def test_metrics(self):
        def scrape():
            status, headers, body = self.server.request("GET", "/metrics")
            self.assertEqual(status, 200)
            self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
            values = {}
            for line in body.decode().splitlines():
                if line and not line.startswith("#"):
                    key, value = line.rsplit(" ", 1)
                    values[key] = float(value)
            return values
        before = scrape()
        data = read(self.synthetic[0])
        for _ in range(3):
            self.assertEqual(self.server.diagnose(data, "image/png")[0], 200)
        self.assertEqual(self.server.diagnose(b"not an image", "image/png")[0], 400)
        after = scrape()
        ok = 'pneumo_serve_requests_total{code="200"}'
        # the three diagnoses and the first scrape
        self.assertEqual(after[ok] - before.get(ok, 0), 4)
        self.assertEqual(after['pneumo_serve_requests_total{code="400"}'] -
                         before.get('pneumo_serve_requests_total{code="400"}', 0), 1)
        count = "pneumo_serve_request_duration_seconds_count"
        self.assertEqual(after[count] - before[count], 5)
        self.assertEqual(after['pneumo_serve_request_duration_seconds_bucket{le="+Inf"}'], after[count])
        self.assertEqual(after["pneumo_serve_requests_in_flight"], 1)  # this scrape
        self.assertEqual(after["pneumo_serve_queue_depth"], 0)
        self.assertEqual(after["pneumo_serve_queue_capacity"], 64)
        self.assertEqual(after["pneumo_serve_batch_images_total"] - before["pneumo_serve_batch_images_total"], 3)

    def test_64_clients_10_requests_identical(self):
        images = [read(p) for p in (self.real_xrays(1) + self.synthetic)[:4]]
        types = ["image/jpeg" if d[:2] == b"\xff\xd8" else "image/png" for d in images]
        single = [self.server.diagnose(d, t)[1]["probability_pneumonia"] for d, t in zip(images, types)]
        answers, errors = [], []
        lock = threading.Lock()

        def client(k):
            try:
                conn = self.server.conn(timeout=120)
                for i in range(10):
                    j = (k + i) % len(images)
                    status, a = self.server.diagnose(images[j], types[j], conn=conn)
                    with lock:
                        answers.append((j, status, a))
                conn.close()
            except Exception as e:  # reported below
                with lock:
                    errors.append(repr(e))
        threads = [threading.Thread(target=client, args=(k,)) for k in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(answers), 640)
        for j, status, a in answers:
            self.assertEqual(status, 200, a)
            self.assertEqual(a["probability_pneumonia"], single[j])
        # with 64 clients on 2 workers, requests were micro-batched
        self.assertGreater(max(a["batch_size"] for _, _, a in answers), 1)


class ErrorTest(ModelFixture):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(cls.model, "--threads", "1", "--max-upload-mb", "1", "--max-pixels", "4000000")
        cls.requests = 0

    @classmethod
    def tearDownClass(cls):
        # the log after the drain: a request's line is written once its answer is sent,
        # which a keep-alive client may see before the line is there
        rc = cls.server.stop()
        log = cls.server.read_log()
        os.unlink(cls.server.log_path)
        super().tearDownClass()
        assert rc == 0, "pneumo-serve exited with %d after SIGTERM" % rc
        lines = [l for l in log.splitlines() if re.match(r"^\d{4}-\d\d-\d\dT\S+Z \S+ \"[A-Z]+ \S+\" ", l)]
        # one log line per request
        assert len(lines) == cls.requests, "%d log lines for %d requests:\n%s" % (len(lines), cls.requests, log)

    def expect_error(self, status, body, headers, path="/api/v1/diagnose", method="POST"):
        got, h, data = self.server.request(method, path, body, headers)
        type(self).requests += 1
        self.assertEqual(got, status, data)
        self.assertTrue(h["content-type"].startswith("application/json"))
        err = json.loads(data)
        self.assertEqual(err["status"], status)
        self.assertTrue(err["message"])
        # and the server keeps serving
        ok, _, health = self.server.request("GET", "/healthz")
        type(self).requests += 1
        self.assertEqual(ok, 200)
        return err

    def test_400_not_an_image(self):
        self.expect_error(400, b"GIF89a not what we take", {"Content-Type": "image/png"})
        jpeg = read(self.real_xrays(1)[0]) if self.real_xrays(1) else None
        png = read(self.synthetic[0])
        self.expect_error(400, png[: len(png) // 2], {"Content-Type": "image/png"})  # truncated
        if jpeg:
            self.expect_error(400, jpeg[:600], {"Content-Type": "image/jpeg"})
        self.expect_error(400, b"", {"Content-Type": "image/jpeg"})
        body, ctype = multipart([("comment", None, None, b"no file here")])
        self.expect_error(400, body, {"Content-Type": ctype})
        body, ctype = multipart([("a", "a.png", "image/png", png), ("b", "b.png", "image/png", png)])
        self.assertIn("one image", self.expect_error(400, body, {"Content-Type": ctype})["message"])
        self.expect_error(400, b"--x\r\n", {"Content-Type": "multipart/form-data"})  # no boundary

    def raw_headers_only(self, extra):
        """Send a POST's headers only and read the answer the server gives before the body."""
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30 * SLOW)
        s.sendall(b"POST /api/v1/diagnose HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n" + extra + b"\r\n")
        r = http.client.HTTPResponse(s)
        r.begin()
        body = json.loads(r.read())
        s.close()
        type(self).requests += 1
        return r.status, body

    def test_413_too_large(self):
        # a declared length over the limit is refused before any byte of the body is read
        for extra in (b"Content-Length: 2000000\r\nExpect: 100-continue\r\n", b"Content-Length: 1048577\r\n"):
            status, err = self.raw_headers_only(extra)
            self.assertEqual((status, err["status"]), (413, 413))
            self.assertIn("1048576", err["message"])
        # without a Content-Length (chunked), the limit holds as the body arrives
        png = read(self.synthetic[0])
        mp, mct = multipart([("image", "x.png", "image/png", png + b"\0" * (1 << 20))])
        for body, ctype in ((b"\0" * 2000000, "image/png"), (mp, mct)):
            def chunks():
                for i in range(0, len(body), 100000):
                    yield body[i:i + 100000]
            conn = self.server.conn()
            conn.request("POST", "/api/v1/diagnose", body=chunks(), headers={"Content-Type": ctype},
                         encode_chunked=True)
            r = conn.getresponse()
            type(self).requests += 1
            self.assertEqual(r.status, 413)
            self.assertEqual(json.loads(r.read())["status"], 413)
            conn.close()
        # exactly at the limit is accepted (and is not an image)
        self.expect_error(400, b"\0" * (1 << 20), {"Content-Type": "image/png"})

    def test_415_unsupported_type(self):
        png = read(self.synthetic[0])
        self.expect_error(415, png, {"Content-Type": "text/plain"})
        self.expect_error(415, png, {"Content-Type": "application/json"})
        self.expect_error(415, png, {})
        body, ctype = multipart([("image", "x.txt", "text/plain", png)])
        self.expect_error(415, body, {"Content-Type": ctype})

    def test_422_too_many_pixels(self):
        err = self.expect_error(422, png_header_only(30000, 30000), {"Content-Type": "image/png"})
        self.assertIn("30000", err["message"])
        self.expect_error(422, png_header_only(2500, 2000), {"Content-Type": "image/png"})  # > --max-pixels
        # within the limits it decodes
        status, a = self.server.diagnose(png_bytes(1000, 800), "image/png")
        type(self).requests += 1
        self.assertEqual(status, 200, a)

    def test_hostile_bodies(self):
        # random bytes, truncated and bit-flipped images, broken forms: always a JSON
        # answer, never a crash or a hang
        rng = random.Random(11)
        png = read(self.synthetic[0])
        jpegs = [read(p) for p in self.real_xrays(1)[:1]]
        samples = []
        for _ in range(20):
            samples.append((bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 3000))),
                            rng.choice(["image/png", "image/jpeg"])))
        for data, ctype in [(png, "image/png")] + [(j, "image/jpeg") for j in jpegs]:
            for _ in range(10):
                d = bytearray(data[:rng.randrange(8, len(data))])
                for _ in range(rng.randrange(0, 8)):
                    d[rng.randrange(len(d))] = rng.getrandbits(8)
                samples.append((bytes(d), ctype))
        good, mct = multipart([("image", "x.png", "image/png", png)])
        boundary = mct.split("=", 1)[1]
        for cut in (10, len(good) // 2, len(good) - 5):
            samples.append((good[:cut], mct))
        samples.append((good.replace(b"\r\n", b"\n"), mct))
        samples.append((good, "multipart/form-data; boundary=" + boundary[:-3]))
        samples.append((b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data\r\n\r\n" * 50, mct))
        for data, ctype in samples:
            status, h, body = self.server.request("POST", "/api/v1/diagnose", data, {"Content-Type": ctype})
            type(self).requests += 1
            self.assertIn(status, (200, 400, 415, 422), body)
            answer = json.loads(body)
            if status != 200:
                self.assertEqual(answer["status"], status)
        self.assertEqual(self.server.request("GET", "/healthz")[0], 200)
        type(self).requests += 1

    def test_404_405(self):
        self.expect_error(404, None, {}, path="/nope", method="GET")
        self.expect_error(405, None, {}, path="/api/v1/diagnose", method="GET")
        self.expect_error(405, b"x", {"Content-Type": "image/png"}, path="/metrics", method="POST")


class QueueFullTest(ModelFixture):
    def test_503_when_the_queue_is_full(self):
        server = Server(self.model, "--threads", "1", "--queue", "1", "--max-batch", "1")
        try:
            # a large image keeps the only worker busy decoding while the others arrive
            big = png_bytes(3000, 3000, rows=lambda y: bytes((x * 7 + y * 13) & 255 for x in range(3000)))
            small = read(self.synthetic[0])
            results = []
            lock = threading.Lock()

            def send(data, query=""):
                status, a = server.diagnose(data, "image/png", query)
                with lock:
                    results.append((status, a))
            first = [threading.Thread(target=send, args=(big, "?heatmap=1")) for _ in range(2)]
            for t in first:
                t.start()
            time.sleep(0.05)
            rest = [threading.Thread(target=send, args=(small,)) for _ in range(8)]
            for t in rest:
                t.start()
            for t in first + rest:
                t.join()
            codes = sorted(s for s, _ in results)
            self.assertIn(503, codes, results)
            self.assertEqual(set(codes), {200, 503})
            for status, a in results:
                if status == 503:
                    self.assertIn("queue is full", a["message"])
            # the server recovers
            self.assertEqual(server.diagnose(small, "image/png")[0], 200)
            status, _, metrics = server.request("GET", "/metrics")
            self.assertIn('pneumo_serve_requests_total{code="503"} %d' % codes.count(503), metrics.decode())
        finally:
            self.assertEqual(server.close(), 0)


class UploadBudgetTest(ModelFixture):
    def test_503_when_the_upload_buffers_are_full(self):
        server = Server(self.model, "--max-upload-mb", "1", "--max-buffered-mb", "1")
        try:
            def scrape(name):
                m = server.request("GET", "/metrics")[2].decode()
                return int(re.search(r"^%s (\d+)$" % name, m, re.M).group(1))
            # one upload of 1,000,000 declared bytes holds the budget (1 MiB) while it arrives
            hog = socket.create_connection(("127.0.0.1", server.port))
            hog.sendall(b"POST /api/v1/diagnose HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
                        b"Content-Length: 1000000\r\n\r\n" + b"\0" * 1000)
            deadline = time.time() + 10 * SLOW
            while scrape("pneumo_serve_upload_buffer_bytes") != 1000000 and time.time() < deadline:
                time.sleep(0.01)
            self.assertEqual(scrape("pneumo_serve_upload_buffer_bytes"), 1000000)
            png = read(self.synthetic[0]) + b"\0" * 60000
            # a declared length over what is left: refused before its body is read
            s = socket.create_connection(("127.0.0.1", server.port), timeout=30 * SLOW)
            s.sendall(b"POST /api/v1/diagnose HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(png))
            r = http.client.HTTPResponse(s)
            r.begin()
            a = json.loads(r.read())
            s.close()
            self.assertEqual((r.status, a["status"]), (503, 503))
            self.assertIn("too many uploads", a["message"])
            # a chunked one runs out while it arrives
            conn = server.conn()
            conn.request("POST", "/api/v1/diagnose", body=iter([png[:30000], png[30000:]]),
                         headers={"Content-Type": "image/png"}, encode_chunked=True)
            r = conn.getresponse()
            self.assertEqual(r.status, 503, r.read())
            conn.close()
            # the client gives up: its buffer goes back to the budget and uploads work again
            hog.close()
            while scrape("pneumo_serve_upload_buffer_bytes") != 0 and time.time() < deadline:
                time.sleep(0.01)
            self.assertEqual(scrape("pneumo_serve_upload_buffer_bytes"), 0)
            self.assertEqual(server.diagnose(png, "image/png")[0], 200)
        finally:
            self.assertEqual(server.close(), 0)


class BatchWaitTest(ModelFixture):
    def test_a_lone_request_is_not_held_for_a_batch(self):
        # with a 100 ms batch wait, a request alone never waits for company: its time
        # on the server beyond decoding and inference stays far below the wait
        server = Server(self.model, "--threads", "1", "--batch-wait-us", "100000")
        try:
            small = read(self.synthetic[0])
            conn = server.conn()
            for _ in range(5):
                status, a = server.diagnose(small, "image/png", conn=conn)
                self.assertEqual((status, a["batch_size"]), (200, 1))
                t = a["timing_ms"]
                self.assertLess(t["total"] - t["decode"] - t["inference"], 50.0, t)
            conn.close()
        finally:
            self.assertEqual(server.close(), 0)


class SlowClientTest(ModelFixture):
    def test_slowloris_does_not_block_others(self):
        server = Server(self.model, "--threads", "1", "--timeout", "2", "--request-timeout", "3")
        try:
            small = read(self.synthetic[0])
            slow = []
            # more slow clients than workers: headers trickling, and bodies that never finish
            for i in range(8):
                s = socket.create_connection(("127.0.0.1", server.port))
                if i % 2:
                    s.sendall(b"POST /api/v1/diagnose HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                              b"Content-Length: 100000\r\n\r\n" + small[:100])
                else:
                    s.sendall(b"POST /api/v1/diagnose HTTP/1.1\r\nHost: x\r\nContent-")
                slow.append(s)
            t0 = time.time()
            for _ in range(10):
                status, a = server.diagnose(small, "image/png")
                self.assertEqual(status, 200)
            self.assertLess(time.time() - t0, 5 * SLOW, "others were slowed down by the slow clients")
            # keep one body dribbling: the request timeout ends it anyway
            for _ in range(5):
                try:
                    slow[1].sendall(b"\0")
                except OSError:
                    break
                time.sleep(0.8)
            # the server has closed every slow connection by now
            deadline = time.time() + 10 * SLOW
            for s in slow:
                s.settimeout(max(0.1, deadline - time.time()))
                try:
                    data = s.recv(4096)
                    while data:
                        data = s.recv(4096)
                except ConnectionResetError:
                    pass
                except socket.timeout:
                    self.fail("a slow connection was still open after the timeouts")
                s.close()
            self.assertEqual(server.diagnose(small, "image/png")[0], 200)
        finally:
            self.assertEqual(server.close(), 0)


class SigtermTest(ModelFixture):
    def test_sigterm_drains_requests_in_flight(self):
        server = Server(self.model, "--threads", "1", "--max-batch", "1")
        big = png_bytes(2000, 2000, rows=lambda y: bytes((x * 3 + y * 5) & 255 for x in range(2000)))
        conns = []
        for _ in range(6):
            c = server.conn(timeout=60)
            c.request("POST", "/api/v1/diagnose?heatmap=1", body=big, headers={"Content-Type": "image/png"})
            conns.append(c)
        # wait until the server has accepted all six: each is in flight or answered
        # (an answer counts as a 200; so does every earlier scrape)
        deadline = time.time() + 20 * SLOW
        scrapes = 0
        while time.time() < deadline:
            status, _, m = server.request("GET", "/metrics")
            text = m.decode()
            in_flight = int(re.search(r"^pneumo_serve_requests_in_flight (\d+)$", text, re.M).group(1))
            ok = re.search(r'^pneumo_serve_requests_total\{code="200"\} (\d+)$', text, re.M)
            answered = (int(ok.group(1)) if ok else 0) - scrapes
            scrapes += 1
            if in_flight - 1 + answered == 6 and in_flight > 1:
                break
            time.sleep(0.005)
        else:
            self.fail("the six requests were never all accepted while some were in flight")
        server.proc.send_signal(signal.SIGTERM)
        for c in conns:
            r = c.getresponse()
            a = json.loads(r.read())
            self.assertEqual(r.status, 200, a)
            self.assertIn("png_base64", a["heatmap"])
            c.close()
        rc = server.proc.wait(timeout=60 * SLOW)
        self.assertEqual(rc, 0, server.read_log())
        log = server.read_log()
        self.assertIn("SIGTERM", log)
        self.assertTrue(log.rstrip().endswith("pneumo-serve: stopped"), log)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        server.close()


if __name__ == "__main__":
    unittest.main()
