#!/usr/bin/python3
"""pneumo-bench's comparisons and peak, from its --json output (no timing is
asserted: only that the figures are there, positive and consistent).

  check_bench.py ort-missing BENCH
      --vs-ort with a node_modules folder that has no onnxruntime-node: the
      benchmark says so in the JSON ("ort": {"skipped": ...}) and succeeds.
  check_bench.py ort BENCH MODULES
      infer --quick --vs-ort at 128x128 with onnxruntime-node from MODULES:
      the "ort" object holds the runtime's version, the thread count and
      positive timings, "ort_ratios" agrees with both sides' figures. Exits
      77 (skipped) without node, the package or Debian's torch (the export).
  check_bench.py peak BENCH
      train --quick at 94x94 with PNEUMO_ISA set to each tier the CPU has:
      the reference FMA peak is that of the tier the kernels run (the AVX2
      one for the scalar tier), and every tier measured is in "fma_peaks".
      Exits 77 where no FMA peak is measured (not x86_64).
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile


def run_json(cmd, env=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=600)
    if r.returncode != 0:
        sys.exit("FAIL: %s exited %d\n%s" % (" ".join(cmd), r.returncode, r.stderr.decode()[-2000:]))
    try:
        return json.loads(r.stdout.decode())
    except ValueError as e:
        sys.exit("FAIL: %s printed no JSON object (%s): %r" % (" ".join(cmd), e, r.stdout[:500]))


def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)


def positive(v):
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def close(a, b, rel=1e-3):
    return positive(a) and positive(b) and abs(a - b) <= rel * max(a, b)


def ort_missing(bench):
    with tempfile.TemporaryDirectory() as empty:
        js = run_json([bench, "infer", "--quick", "--size", "128", "--vs-ort", "--json",
                       "--ort-modules", empty])
    check("ort" in js and "skipped" in js["ort"], "no ort.skipped in %r" % js.get("ort"))
    note = js["ort"]["skipped"]
    check("onnxruntime-node not found" in note or "node not found" in note, "unexpected note: " + note)
    check("ort_ratios" not in js, "ort_ratios without an ONNX Runtime run")
    check(positive(js["infer_single_ms"]) and positive(js["infer_batch_img_per_s"]),
          "libpneumo's own figures missing")
    print("ok: --vs-ort without the package: " + note)


def ort(bench, modules):
    if not shutil.which("node"):
        print("skipped: no node (apt-get install nodejs npm)")
        sys.exit(77)
    if not os.path.isfile(os.path.join(modules, "onnxruntime-node", "package.json")):
        print("skipped: onnxruntime-node is not installed under %r "
              "(run .ci/install-onnxruntime-node BUILDDIR)" % modules)
        sys.exit(77)
    if subprocess.run(["/usr/bin/python3", "-c", "import torch"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        print("skipped: /usr/bin/python3 cannot import torch (apt-get install python3-torch)")
        sys.exit(77)
    js = run_json([bench, "infer", "--quick", "--size", "128", "--threads", "2", "--vs-ort", "--json",
                   "--ort-modules", modules])
    o = js.get("ort")
    check(isinstance(o, dict) and "skipped" not in o, "ONNX Runtime did not run: %r" % o)
    with open(os.path.join(modules, "onnxruntime-node", "package.json")) as f:
        version = json.load(f)["version"]
    check(o["onnxruntime"] == version, "version %r, package.json says %r" % (o["onnxruntime"], version))
    check(o["threads"] == 2 and o["inter_op_threads"] == 1 and o["execution_mode"] == "sequential",
          "session options: %r" % o)
    check(o["batch"] == 16 and o["size"] == 128 and "NCHW" in o["input"], "shape: %r" % o)
    check(len(o["infer_single_ms_runs"]) == 8 and all(positive(t) for t in o["infer_single_ms_runs"]),
          "single-image runs: %r" % o["infer_single_ms_runs"])
    check(len(o["infer_batch_img_per_s_runs"]) == 2, "batch runs: %r" % o["infer_batch_img_per_s_runs"])
    for k in ("infer_single_ms", "infer_batch_img_per_s", "infer_single_cpu_ms",
              "infer_batch_cpu_ms_per_img"):
        check(positive(o[k]), "ort.%s = %r" % (k, o[k]))
    check(0.0 < o["probability"] < 1.0, "probability %r" % o["probability"])
    steps = js["infer_single_steps"]
    check([st["name"] for st in steps][:2] == ["conv2d+max_pooling2d", "conv2d_1+max_pooling2d_1"] and
          steps[-1]["name"] == "dense_2", "single-image steps: %r" % [st["name"] for st in steps])
    for i, total in enumerate(js["infer_single_total_ms"]):
        key = "ms_1thread" if i == 0 else "ms"
        check(all(positive(st[key]) for st in steps) and sum(st[key] for st in steps) <= total,
              "single-image steps at %s: %r, total %r" % (key, steps, total))
    rt = js["ort_ratios"]
    check(close(rt["infer_single_speedup"], o["infer_single_ms"] / js["infer_single_ms"]),
          "single speedup %r" % rt)
    check(close(rt["infer_batch_speedup"], js["infer_batch_img_per_s"] / o["infer_batch_img_per_s"]),
          "batch speedup %r" % rt)
    check(close(rt["infer_single_ms"] * rt["infer_single_speedup"], 1.0), "single ratios %r" % rt)
    print("ok: ONNX Runtime %s: %.2f ms single image, %.1f img/s batch 16 at 128x128 "
          "(libpneumo %.2f ms, %.1f img/s)" % (version, o["infer_single_ms"], o["infer_batch_img_per_s"],
                                              js["infer_single_ms"], js["infer_batch_img_per_s"]))


def peak(bench):
    checked = []
    for isa in ("scalar", "avx2", "avx512"):
        env = dict(os.environ, PNEUMO_ISA=isa)
        js = run_json([bench, "train", "--quick", "--json", "--size", "94", "--batch", "2", "--steps", "1",
                       "--threads", "2"], env=env)
        peaks = js["fma_peaks"]
        if not peaks:
            print("skipped: no FMA peak measured here (x86_64 only): %s" % js["fma_peak_note"])
            sys.exit(77)
        if js["isa"] != isa:
            print("note: PNEUMO_ISA=%s runs the %s tier here (the CPU lacks %s)" % (isa, js["isa"], isa))
            continue
        for name, p in peaks.items():
            check(name in ("avx2", "avx512"), "unknown tier %r in fma_peaks" % name)
            for k in ("gflops_1thread", "gflops_wall", "gflops_per_core_cpu"):
                check(positive(p[k]), "fma_peaks.%s.%s = %r" % (name, k, p[k]))
        want = isa if isa != "scalar" else "avx2"
        check(want in peaks, "PNEUMO_ISA=%s: no %s peak in %r" % (isa, want, sorted(peaks)))
        check(js["fma_peak_isa"] == want, "PNEUMO_ISA=%s: reference peak %r, want %r"
              % (isa, js["fma_peak_isa"], want))
        check(js["fma_peak_gflops_1thread"] == peaks[want]["gflops_1thread"],
              "PNEUMO_ISA=%s: the 1-thread reference is not the %s peak" % (isa, want))
        check(js["fma_peak_gflops_per_core_cpu"] == peaks[want]["gflops_per_core_cpu"],
              "PNEUMO_ISA=%s: the per-core reference is not the %s peak" % (isa, want))
        check(positive(js["fma_peak_gflops"]), "fma_peak_gflops = %r" % js["fma_peak_gflops"])
        check(want in js["fma_peak_note"], "note %r does not name %s" % (js["fma_peak_note"], want))
        check(positive(js["memory_copy_gbs"]), "memory_copy_gbs = %r" % js["memory_copy_gbs"])
        # the per-layer shares use the same reference
        conv = js["layers"][0]
        check(close(conv["peak_share"], conv["gflops"] / js["fma_peak_gflops"]),
              "conv1 peak_share %r vs %r / %r" % (conv["peak_share"], conv["gflops"], js["fma_peak_gflops"]))
        checked.append("%s -> %s peak" % (isa, want))
    check(any(c.split()[0] != "scalar" for c in checked), "no SIMD tier checked: %r" % checked)
    print("ok: " + ", ".join(checked))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    what, bench = sys.argv[1], sys.argv[2]
    if what == "ort-missing":
        ort_missing(bench)
    elif what == "ort" and len(sys.argv) == 4:
        ort(bench, sys.argv[3])
    elif what == "peak":
        peak(bench)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
