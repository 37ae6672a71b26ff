"""``trackreid-export``: write a ReID network as ONNX, OpenVINO IR or a TensorRT engine (fp32, fp16 or INT8), checked against PyTorch on person crops before it is written.

  trackreid-export --weights osnet_x0_25_market1501 --format onnx                 # the bundled trained weights
  trackreid-export --weights osnet_x0_25_market1501.pt --format openvino --output reid_openvino_model
  trackreid-export --weights osnet_x0_25_market1501 --format openvino --int8 --calib path/to/MOT17/train

--calib: a folder of MOT sequences (gt/gt.txt + img1/), a Market-1501 layout or plain crop images; INT8 is
calibrated on its crops (rendered synthetic crops when absent). The check runs on --check-data, else on --calib
when it has identities, else on a synthetic Market-layout set. Run an export with
``trackreid video.mp4 --reid-weights FILE`` or ``build_encoder(None, weights=FILE)``.
"""
from __future__ import annotations

import argparse
import logging
import sys

from trackreid.cli import UsageError, run_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trackreid-export", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reid", default=None, metavar="NAME",
                   help="model name (osnet_x1_0, osnet_x0_25, osnet_ain_x1_0, bdb, pmm...); default: from --weights")
    p.add_argument("--weights", default=None, metavar="PATH|NAME",
                   help="checkpoint file or known weights name (downloaded once); required unless --random")
    p.add_argument("--format", default="onnx", choices=["onnx", "openvino", "engine"],
                   help="onnx (default; ONNX Runtime), openvino (IR folder) or engine (TensorRT)")
    p.add_argument("--output", default=None, metavar="PATH",
                   help="output file, or folder for openvino (default: next to the weights file, <weights stem>.onnx / "
                   "_openvino_model/ / .engine; in the current folder for a known weights name)")
    p.add_argument("--half", action="store_true", help="fp16 weights and I/O (GPU runtimes)")
    p.add_argument("--int8", action="store_true",
                   help="INT8 post-training quantisation with NNCF (onnx, openvino), calibrated on --calib crops")
    p.add_argument("--calib", default=None, metavar="DIR", nargs="+",
                   help="crops for INT8 calibration, pooled from one or more folders: MOT sequences with gt (crops "
                        "from every annotated frame), a Market-1501 layout or crop images")
    p.add_argument("--calib-count", type=int, default=300, metavar="N", help="calibration crops (default 300)")
    p.add_argument("--check-data", default=None, metavar="DIR",
                   help="crops the export is checked on (default: --calib when labelled, else synthetic)")
    p.add_argument("--batch", type=int, default=8, metavar="N",
                   help="check batch for ONNX; optimisation batch (and max) for TensorRT (default 8)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--no-verify", action="store_true", help="skip the check against PyTorch (not recommended)")
    p.add_argument("--random", action="store_true", help="allow exporting randomly initialised weights (testing)")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    def body():
        if args.batch < 1:
            raise UsageError(f"--batch: expected a positive number, got {args.batch}")
        if args.calib_count < 1:
            raise UsageError(f"--calib-count: expected a positive number, got {args.calib_count}")
        if args.int8 and args.format == "engine":
            raise UsageError("--int8 is for --format onnx or openvino (TensorRT engines here are fp32/fp16)")
        if args.weights is None and not args.random:
            raise UsageError("--weights is required (a file or a known name); pass --random to export untrained "
                             "weights on purpose")
        name = args.reid
        if name is None:
            if args.weights is None:
                raise UsageError("give --reid NAME (no weights to infer the architecture from)")
            from trackreid.reid.weights import checkpoint_arch, read_checkpoint

            name = checkpoint_arch(read_checkpoint(args.weights), args.weights)
            if name is None:
                raise ValueError(f"cannot tell the architecture of {args.weights}; pass --reid NAME")
        from trackreid.reid.export import export

        kw = {"half": args.half, "batch": args.batch, "opset": args.opset, "verify": not args.no_verify,
              "check_data": args.check_data}
        if args.int8:
            kw.update(int8=True, calib=args.calib, calib_count=args.calib_count)
        elif args.calib is not None and args.check_data is None:
            kw["check_data"] = args.calib[0]
        weights = "none" if args.weights is None else args.weights
        res = export(name, weights, args.format, args.output, **kw)
        print(f"wrote {res.path} ({res.summary()})")

    return run_command("trackreid-export", body)


if __name__ == "__main__":
    sys.exit(main())
