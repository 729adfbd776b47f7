"""Command line: python -m pneumo ...

    python -m pneumo --version
    python -m pneumo diagnose MODEL IMAGE...      the article app's sentence per image
    python -m pneumo info MODEL                   the model card as JSON
    python -m pneumo convert IN OUT [--nchw]      .h5 -> .safetensors, .safetensors/.h5 -> .onnx

MODEL is a libpneumo .safetensors file or a Keras .h5 file."""
import argparse
import json
import sys

import pneumo


def _load(path):
    return pneumo.load_model(path)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pneumo", description="libpneumo from the command line")
    ap.add_argument("--version", action="store_true", help="print the package and library versions")
    sub = ap.add_subparsers(dest="command")
    d = sub.add_parser("diagnose", help="diagnose chest X-ray images")
    d.add_argument("model")
    d.add_argument("images", nargs="+")
    i = sub.add_parser("info", help="print the model card")
    i.add_argument("model")
    c = sub.add_parser("convert", help="convert between .h5, .safetensors and .onnx")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--nchw", action="store_true", help="ONNX input (N, C, H, W) instead of (N, H, W, C)")
    c.add_argument("--opset", type=int, default=13)
    args = ap.parse_args(argv)
    if args.version:
        print(f"pneumo {pneumo.__version__} (libpneumo {pneumo.version()} at {pneumo.library_path}, "
              f"kernels {pneumo.kernel_isa()})")
        return 0
    if args.command is None:
        ap.print_help(sys.stderr)
        return 2
    try:
        if args.command == "diagnose":
            with _load(args.model) as model:
                for path in args.images:
                    p, label, sentence = model.diagnose(path)
                    print(f"{path}: {label} p={p:.4f}: {sentence}")
        elif args.command == "info":
            with _load(args.model) as model:
                print(json.dumps(model.info, indent=2))
        else:
            model, opt = pneumo.load_model(args.input, with_optimizer=True)
            with model:
                if args.output.endswith(".onnx"):
                    model.export_onnx(args.output, layout="NCHW" if args.nchw else "NHWC",
                                      opset=args.opset)
                elif args.output.endswith(".safetensors"):
                    model.save(args.output, opt)
                else:
                    print(f"python -m pneumo convert: {args.output}: expected .onnx or .safetensors",
                          file=sys.stderr)
                    return 2
            print(f"{args.input} -> {args.output}")
    except (pneumo.PneumoError, OSError) as e:
        print(f"python -m pneumo {args.command}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
