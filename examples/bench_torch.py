#!/usr/bin/python3
"""pneumo-bench --vs-torch: the article's CNN in PyTorch, measured like libpneumo.

Same architecture (5 x [Conv2d 3x3 valid + ReLU + MaxPool 2] with 32, 32, 32,
64, 64 filters, Flatten, Linear 128 + ReLU, Linear 64 + ReLU, Linear 1), Adam
(Keras defaults: lr 1e-3, eps 1e-7), BCE-with-logits, channels_last memory
format, random input of batch B at S x S x 1. Prints one JSON object on stdout:

  train_img_per_s: {"1": median images/s with 1 thread, "N": with N threads}
  train_cpu_ms_per_img: {"1": ..., "N": ...} process CPU time per image
  infer_single_ms: median ms of an 8-bit S x S image -> probability, N threads
  infer_batch_img_per_s: images/s of batch-B inference (no_grad), N threads
  peak_rss_mb: VmHWM of the child process that ran the training timing (it
               only trains: N threads, then 1 thread on the same model)

Usage: bench_torch.py [--threads N] [--batch B] [--size S] [--steps K]
                      [--warmup W] [--runs R] [--no-train] [--no-infer] [--quick]
       bench_torch.py --export-onnx PATH [--size S]
       bench_torch.py --train-child ...   (internal: the training process)
--export-onnx (pneumo-bench --vs-ort) writes the same model with a final
sigmoid, in eval mode, to PATH with torch.onnx.export (opset 13, NCHW input
"image" of shape [batch, 1, S, S] with a dynamic batch axis, output
"probability" [batch, 1]) and prints {"onnx": PATH, "version": ..., "opset": 13}.
If torch cannot be imported it prints {"error": "..."} and exits with status 3.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=500)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-train", action="store_true")
    p.add_argument("--no-infer", action="store_true")
    p.add_argument("--train-child", action="store_true")
    p.add_argument("--export-onnx", metavar="PATH")
    return p.parse_args()


def make_model(torch, size):
    nn = torch.nn
    layers, cin, s = [], 1, size
    for cout in (32, 32, 32, 64, 64):
        layers += [nn.Conv2d(cin, cout, 3), nn.ReLU(), nn.MaxPool2d(2)]
        cin, s = cout, (s - 2) // 2
    layers += [nn.Flatten(), nn.Linear(cin * s * s, 128), nn.ReLU(),
               nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 1)]
    model = nn.Sequential(*layers)
    return model.to(memory_format=torch.channels_last)


def train_setup(torch, args):
    model = make_model(torch, args.size)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    x = torch.rand(args.batch, 1, args.size, args.size).contiguous(
        memory_format=torch.channels_last)
    y = torch.randint(0, 2, (args.batch, 1)).float()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return float(loss)
    return step


def export_onnx(torch, args):
    """The inference model (logits -> sigmoid) as ONNX, NCHW, for ONNX Runtime."""
    model = torch.nn.Sequential(make_model(torch, args.size), torch.nn.Sigmoid())
    model = model.to(memory_format=torch.contiguous_format).eval()
    x = torch.rand(1, 1, args.size, args.size)
    with torch.no_grad():
        torch.onnx.export(model, x, args.export_onnx, opset_version=13,
                          input_names=["image"], output_names=["probability"],
                          dynamic_axes={"image": {0: "batch"}, "probability": {0: "batch"}})
    print(json.dumps({"onnx": args.export_onnx, "version": torch.__version__, "opset": 13}))


def vm_hwm_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return None


def train_child(torch, args):
    """Training timing in a process that only trains: images/s per timed step
    for each thread count (N first, then 1 on the same warmed-up model, so
    the quick mode needs one warm-up step), then this process's VmHWM."""
    step = None
    out = {"train_img_per_s": {}, "train_step_img_per_s": {}, "train_cpu_ms_per_img": {}}
    for t in sorted({1, args.threads}, reverse=True):
        torch.set_num_threads(t)
        if step is None:
            step = train_setup(torch, args)
            for _ in range(args.warmup):
                step()
        elif not args.quick:
            for _ in range(args.warmup):
                step()
        rates, cpu = [], []
        for _ in range(args.steps):
            t0, c0 = time.perf_counter(), time.process_time()
            step()
            rates.append(args.batch / (time.perf_counter() - t0))
            cpu.append((time.process_time() - c0) * 1e3 / args.batch)
        out["train_img_per_s"][str(t)] = statistics.median(rates)
        out["train_step_img_per_s"][str(t)] = rates
        out["train_cpu_ms_per_img"][str(t)] = statistics.median(cpu)
    out["peak_rss_mb"] = vm_hwm_mb()
    print(json.dumps(out))


def infer(torch, args, out):
    torch.set_num_threads(args.threads)
    model = make_model(torch, args.size)
    model.eval()
    gen = torch.Generator().manual_seed(1)
    img = torch.randint(0, 256, (args.size, args.size), dtype=torch.uint8, generator=gen)
    with torch.no_grad():
        def single():
            x = (img.float() * (1.0 / 255.0)).reshape(1, 1, args.size, args.size)
            x = x.contiguous(memory_format=torch.channels_last)
            return float(torch.sigmoid(model(x))[0, 0])
        for _ in range(3):
            single()
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            single()
            times.append((time.perf_counter() - t0) * 1e3)
        out["infer_single_ms"] = statistics.median(times)
        xb = torch.rand(args.batch, 1, args.size, args.size).contiguous(
            memory_format=torch.channels_last)
        model(xb)
        rates = []
        for _ in range(max(2, args.runs // 4)):
            t0 = time.perf_counter()
            torch.sigmoid(model(xb))
            rates.append(args.batch / (time.perf_counter() - t0))
        out["infer_batch_img_per_s"] = statistics.median(rates)


def main():
    args = parse_args()
    try:
        import torch
    except Exception as e:  # ImportError, or a broken install
        print(json.dumps({"error": "cannot import torch: %s" % e}))
        return 3
    torch.manual_seed(0)
    if args.quick:
        args.steps, args.warmup, args.runs = min(args.steps, 2), 1, min(args.runs, 8)
    if args.train_child:
        train_child(torch, args)
        return 0
    if args.export_onnx:
        try:
            export_onnx(torch, args)
        except Exception as e:  # an export failure is reported, not raised
            print(json.dumps({"error": "torch.onnx.export failed: %s" % e}))
            return 4
        return 0
    out = {"version": torch.__version__, "threads": args.threads, "batch": args.batch,
           "size": args.size, "steps": args.steps,
           "mkldnn": bool(torch.backends.mkldnn.is_available()),
           "memory_format": "channels_last"}
    if not args.no_train:
        cmd = [sys.executable, os.path.abspath(__file__), "--train-child",
               "--threads", str(args.threads), "--batch", str(args.batch),
               "--size", str(args.size), "--steps", str(args.steps),
               "--warmup", str(args.warmup)] + (["--quick"] if args.quick else [])
        try:
            res = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, timeout=3600)
            out.update(json.loads(res.stdout.decode()))
        except Exception as e:
            out["train_error"] = str(e)
    if not args.no_infer:
        infer(torch, args, out)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
