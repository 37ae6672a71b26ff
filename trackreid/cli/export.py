"""``trackreid-export``: write a ReID network as ONNX (dynamic batch, checked against PyTorch) or a TensorRT engine.

  trackreid-export --reid osnet_x0_25 --weights osnet_x0_25_market1501.pt --format onnx
  trackreid-export --weights osnet_x0_25_market1501.pt --format onnx --output reid.onnx   # arch from the file name
"""
from __future__ import annotations

import argparse
import logging
import sys

from trackreid.cli import run_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trackreid-export", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reid", default=None, metavar="NAME",
                   help="model name (osnet_x1_0, osnet_x0_25, osnet_ain_x1_0, bdb, pmm...); default: from --weights")
    p.add_argument("--weights", default=None, metavar="PATH|NAME",
                   help="checkpoint file or known weights name (downloaded once); required unless --random")
    p.add_argument("--format", default="onnx", choices=["onnx", "engine"], help="onnx (default) or engine (TensorRT)")
    p.add_argument("--output", default=None, metavar="PATH", help="output file (default: <weights stem>.<format>)")
    p.add_argument("--half", action="store_true", help="fp16 weights and I/O (GPU runtimes)")
    p.add_argument("--batch", type=int, default=8, metavar="N",
                   help="check batch for ONNX; optimisation batch (and max) for TensorRT (default 8)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--no-verify", action="store_true", help="skip the onnxruntime-vs-PyTorch check")
    p.add_argument("--random", action="store_true", help="allow exporting randomly initialised weights (testing)")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    def body():
        if args.batch < 1:
            raise ValueError(f"--batch: expected a positive number, got {args.batch}")
        if args.weights is None and not args.random:
            raise ValueError("--weights is required (a file or a known name); pass --random to export untrained "
                             "weights on purpose")
        name = args.reid
        if name is None:
            if args.weights is None:
                raise ValueError("give --reid NAME (no weights to infer the architecture from)")
            from trackreid.reid.weights import checkpoint_arch, read_checkpoint

            name = checkpoint_arch(read_checkpoint(args.weights), args.weights)
            if name is None:
                raise ValueError(f"cannot tell the architecture of {args.weights}; pass --reid NAME")
        from trackreid.reid.export import export

        kw = {"half": args.half, "batch": args.batch, "opset": args.opset}
        if args.format == "onnx":
            kw["verify"] = not args.no_verify
        res = export(name, args.weights, args.format, args.output, **kw)
        extra = f" (max |onnx - torch| = {res.max_abs_diff:.1e})" if res.max_abs_diff is not None else ""
        print(f"wrote {res.path}{extra}")

    return run_command("trackreid-export", body)


if __name__ == "__main__":
    sys.exit(main())
