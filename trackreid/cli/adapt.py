"""``trackreid-adapt SOURCE... --output DIR``: adapt the ReID encoder to a camera from its own footage, no labels.

Tracks each source with the encoder ``trackreid`` would use (same detector, encoder and tracker options), learns
from the tracks (a track's own views are one person, people in view together are different people), and writes
``DIR/reid.pt`` for ``trackreid --reid-weights DIR/reid.pt``, with ``DIR/adapt.json`` (what it learnt from, the
label-free figures before and after, the time it took). Exit codes as ``trackreid``'s; Ctrl-C keeps a resumable
checkpoint (``--resume``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trackreid.cli import UsageError, run_command
from trackreid.cli.track import add_model_arguments, model_options

EPILOG = """examples:
  trackreid-adapt lobby.mp4 --output runs/adapt/lobby                 # YOLO11n detections, bundled OSNet x0.25
  trackreid --reid-weights runs/adapt/lobby/reid.pt lobby_today.mp4   # track with the adapted encoder
  trackreid-adapt MOT17-09/ --detector MOT17-09/det/det.txt --output runs/adapt/mot09 --steps 200
"""


def _parser() -> argparse.ArgumentParser:
    from trackreid.adapt import AdaptConfig

    d = AdaptConfig()
    p = argparse.ArgumentParser(prog="trackreid-adapt", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Adapt the ReID encoder to your camera without labels: track the "
                                "footage, learn from the tracks, write DIR/reid.pt.")
    p.add_argument("source", nargs="+", help="video file(s), image folder(s) or stream URL(s) of the camera")
    p.add_argument("--output", "-o", required=True, metavar="DIR",
                   help="folder for reid.pt, adapt.json, the tracking runs and the crop cache")
    add_model_arguments(p)
    a = p.add_argument_group("adaptation")
    a.add_argument("--steps", type=int, default=d.steps, help=f"optimiser steps (default {d.steps})")
    a.add_argument("--lr", type=float, default=d.lr, help=f"learning rate (default {d.lr})")
    a.add_argument("--batch", type=int, nargs=2, default=[d.identities_per_batch, d.crops_per_identity],
                   metavar=("P", "K"), help="P people x K crops per batch (default "
                   f"{d.identities_per_batch} {d.crops_per_identity})")
    a.add_argument("--blend", type=float, default=d.blend, metavar="F",
                   help=f"fraction of the trained weights in reid.pt, the rest the starting encoder's (default "
                   f"{d.blend}; 1: the trained weights alone)")
    a.add_argument("--min-crops", type=int, default=d.min_crops,
                   help=f"tracks with fewer usable crops are not learnt from (default {d.min_crops})")
    a.add_argument("--holdout", type=float, default=d.holdout,
                   help=f"fraction of the tracks kept out of training for the before/after figures (default {d.holdout})")
    a.add_argument("--mix", default="", metavar="[NAME:]ROOT",
                   help="a labelled set mixed into every second batch (a trackreid-train --data NAME:ROOT, or a "
                   "folder with one sub-folder per identity)")
    a.add_argument("--export", default=d.export, choices=("auto", "openvino-int8", "onnx", "none"),
                   help="also write the export a CPU runtime runs (default auto: the INT8 OpenVINO model when "
                   "OpenVINO and NNCF are installed)")
    a.add_argument("--max-frames", type=int, default=None, metavar="N", help="track at most N frames per source")
    a.add_argument("--seed", type=int, default=d.seed, help=f"seed of sampling and augmentation (default {d.seed})")
    a.add_argument("--resume", action="store_true",
                   help="reuse DIR's crop cache and continue training from DIR/adapt_last.pt")
    a.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    a.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    log = (lambda s: None) if args.quiet else (lambda s: print(f"trackreid-adapt: {s}", file=sys.stderr))

    def body():
        from trackreid.adapt import AdaptConfig, adapt

        if args.steps < 1:
            raise UsageError("--steps: expected a positive number of steps")
        cfg = AdaptConfig(steps=args.steps, lr=args.lr, identities_per_batch=args.batch[0],
                          crops_per_identity=args.batch[1], min_crops=args.min_crops, holdout=args.holdout,
                          blend=args.blend, mix=args.mix, export=args.export, seed=args.seed)
        opts = model_options(args)
        device = opts.pop("device")
        if args.max_frames is not None:
            opts["max_frames"] = args.max_frames
        s = adapt(args.source, Path(args.output), config=cfg, resume=args.resume, device=device, log=log, **opts)
        if not args.quiet:
            b, a = s["label_free"]["before"], s["label_free"]["after"]
            if b and a:
                print(f"{s['labels']['labels']} tracks learnt from ({s['labels']['crops']} crops); on held-out "
                      f"tracks: same-vs-different AUC {b['auc']:.3f} -> {a['auc']:.3f}, nearest-view error "
                      f"{b['nn_error']:.3f} -> {a['nn_error']:.3f}; {s['time_s']['total']:.0f} s")
            print(f"weights: {s['weights']}  (trackreid --reid-weights {s['weights']} ...)")
            if s["export"] and s["export"].get("path"):
                print(f"CPU export: {s['export']['path']}")

    def interrupted():
        return (f"trackreid-adapt: interrupted; continue with the same command and --resume "
                f"(crops and the last checkpoint are in {args.output})")

    return run_command("trackreid-adapt", body, debug=args.debug, on_interrupt=interrupted)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
