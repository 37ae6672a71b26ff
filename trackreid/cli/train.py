"""``trackreid-train``: train or evaluate a ReID model.

    trackreid-train --model osnet_x0_25 --data market1501 --root DIR [--recipe osnet|bdb|pmm|FILE.yaml]
                    [--set key=value ...] [--epochs N] [--batch-size N] [--output DIR] [--resume [PATH]]
                    [--eval-only --weights W] [--device DEV]
    trackreid-train --eval-only --weights W --data flat|cuhk03_flat --root DIR [--name-pattern RE] [--camera-rule R]

Errors print one line on stderr and exit non-zero (``--debug`` shows the traceback); Ctrl-C writes a checkpoint
and exits with 130. Multi-GPU: ``torchrun --nproc_per_node=4 -m trackreid.cli.train ...`` (PyTorch DDP).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from trackreid.cli import EXIT_INTERRUPTED, UsageError, run_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trackreid-train",
        description="Train a person ReID model (OSNet, BDB, PMM) or evaluate a checkpoint (CMC, mAP).",
        epilog="Every recipe key can be overridden with --set key=value (e.g. --set lr=0.0003 --set steps=[20,40]); "
               "--show-config prints the resolved configuration.")
    p.add_argument("--model", help="architecture, e.g. osnet_x0_25, osnet_x1_0, bdb, pmm "
                                   "(default: the recipe's; for --eval-only, read from the weights file)")
    p.add_argument("--data", help="dataset: market1501, dukemtmcreid, cuhk03_labeled, cuhk03_detected, msmt17, "
                                  "folder (one sub-folder per identity), market_layout (any folder in the Market-1501 layout), "
                                  "tracks (the crops `trackreid --save-crops N` kept in run folders); for "
                                  "--eval-only also flat (one folder of IIII_KK.jpg crops: identity, camera) and "
                                  "cuhk03_flat (the same, CUHK03's cell layout: KK 00-04 one camera, 05-09 the other)")
    p.add_argument("--root", help="folder holding the dataset (for --data tracks: one or more run folders, "
                                  "comma-separated)")
    p.add_argument("--name-pattern", metavar="REGEX",
                   help="--data flat/cuhk03_flat: regex with named groups pid and cam (integers) searched in each "
                        r"file name (default ^(?P<pid>\d+)_(?P<cam>\d+), i.e. IIII_KK.jpg)")
    p.add_argument("--camera-rule", metavar="RULE",
                   help="--data flat/cuhk03_flat: camera id from the cam group: cam (as is; flat's default), "
                        "cam//N (integer division; cuhk03_flat's cam//5) or cam-N")
    p.add_argument("--recipe", help="osnet, bdb, pmm or a YAML file (default: the model's recipe)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any recipe key (repeatable)")
    p.add_argument("--epochs", type=int, metavar="N",
                   help="training epochs (default: the recipe's: osnet 150, bdb/pmm 400, tracks 10)")
    p.add_argument("--batch-size", type=int, metavar="N",
                   help="images per step (default: the recipe's: osnet 64, bdb/pmm 128, tracks 32)")
    p.add_argument("--lr", type=float, help="base learning rate (default: the recipe's: osnet 0.0015, bdb/pmm 0.001, tracks 0.0003)")
    p.add_argument("--output", help="run folder for checkpoints and logs (default runs/train)")
    p.add_argument("--resume", nargs="?", const="", metavar="PATH",
                   help="continue a run from PATH (default: OUTPUT/last.pt) exactly where it stopped")
    p.add_argument("--eval-only", action="store_true", help="evaluate --weights on the dataset's query/gallery")
    p.add_argument("--weights", help="checkpoint to evaluate (trackreid, torchreid or BoxMOT file, or a known name)")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:1")
    p.add_argument("--workers", type=int, metavar="N",
                   help="data-loader worker processes (default 4, at most the usable cores; 0: main process)")
    p.add_argument("--seed", type=int, help="seed of sampling, augmentation and initialisation (default 0)")
    p.add_argument("--max-steps", type=int, help="stop after this many steps in total (a checkpoint is written)")
    p.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking at evaluation")
    p.add_argument("--flip", action="store_true", help="average features with the mirrored image at evaluation")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--show-config", action="store_true", help="print the resolved configuration and exit")
    p.add_argument("--json", action="store_true", help="print the final metrics as JSON on stdout")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _cli_overrides(args: argparse.Namespace) -> dict:
    from trackreid.train.config import parse_set

    out = parse_set(args.overrides)
    for key, val in (("data", args.data), ("root", args.root), ("name_pattern", args.name_pattern),
                     ("camera_rule", args.camera_rule), ("epochs", args.epochs),
                     ("batch_size", args.batch_size), ("lr", args.lr), ("output", args.output),
                     ("device", args.device), ("workers", args.workers), ("seed", args.seed),
                     ("max_steps", args.max_steps)):
        if val is not None:
            out[key] = val
    if args.rerank:
        out["rerank"] = True
    if args.flip:
        out["eval_flip"] = True
    return out


def _eval_only(args: argparse.Namespace, overrides: dict) -> dict:
    from trackreid.reid.models.registry import get_spec, list_models
    from trackreid.reid.weights import checkpoint_arch, read_checkpoint
    from trackreid.train.config import build_config
    from trackreid.train.engine import evaluate_weights

    if not args.weights:
        raise UsageError("--eval-only needs --weights FILE (a trackreid, torchreid or BoxMOT checkpoint)")
    ck = read_checkpoint(args.weights)
    model = args.model or checkpoint_arch(ck, args.weights)
    if model is None:
        raise ValueError(f"cannot tell the architecture of {args.weights}; pass --model (one of "
                         f"{', '.join(list_models())})")
    h, w = ck.input_size or get_spec(model).input_size  # the size it was trained at, when the file says
    overrides = {"height": h, "width": w, "workers": 2, **overrides}
    cfg = build_config(args.recipe, model, overrides)
    return evaluate_weights(ck, cfg, log=lambda s: print(s, file=sys.stderr))


def _tracks_start(cfg) -> str:
    """Fine-tuning on a run's crops starts from the encoder the run used, else the model's trained weights."""
    from trackreid.reid.weights import default_weights, infer_arch
    from trackreid.train.datasets.tracks import run_encoder_weights

    used = run_encoder_weights(cfg.root) if cfg.root else None
    if used is not None and infer_arch(used) in (None, cfg.model):
        print(f"trackreid-train: starting from {used}, the encoder the run tracked with", file=sys.stderr)
        return used
    entry = default_weights(cfg.model)
    if entry is None:
        raise UsageError(f"--data tracks: {cfg.model} has no trained weights to start from; pass --set "
                         "init_weights=FILE (or init_weights=none to train from random initialisation)")
    print(f"trackreid-train: starting from {entry.name}, the trained {cfg.model} weights", file=sys.stderr)
    return entry.name


def _train(args: argparse.Namespace, overrides: dict) -> dict:
    import torch

    from trackreid.train.config import TrainConfig, build_config, merge
    from trackreid.train.engine import Trainer

    resume = None
    if args.resume is not None:
        out_dir = Path(overrides.get("output") or TrainConfig.output)
        resume = Path(args.resume) if args.resume else out_dir / "last.pt"
        if not resume.is_file():
            raise ValueError(f"--resume: checkpoint {resume} does not exist")
        ck = torch.load(resume, map_location="cpu", weights_only=True)
        if not isinstance(ck, dict) or "config" not in ck:
            raise ValueError(f"--resume: {resume} is not a trackreid training checkpoint")
        # the checkpoint's configuration, with what this command line sets explicitly on top; a --max-steps
        # limit of the interrupted run is a stop instruction, not part of the recipe, so it is not inherited
        if args.model:
            overrides["model"] = args.model
        overrides.setdefault("max_steps", 0)
        cfg = TrainConfig(**merge(ck["config"], overrides, "command line"))
        if "output" not in overrides:
            cfg.output = str(resume.parent)
    else:
        cfg = build_config(args.recipe, args.model, overrides)
        if cfg.data == "tracks" and not cfg.init_weights:
            cfg.init_weights = _tracks_start(cfg)
    if args.show_config:
        import yaml
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
        return {}
    if not cfg.root:
        raise UsageError("--root DIR is required: the folder holding the dataset")
    trainer = Trainer(cfg, resume=resume, progress=not args.no_progress)
    try:
        result = trainer.fit()
    finally:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    if trainer.is_main and resume is not None and result.last_checkpoint is None and result.epoch >= cfg.epochs:
        print(f"nothing to train: {resume} has finished epoch {result.epoch} of {cfg.epochs}; continue it with "
              f"--epochs N (N > {result.epoch})", file=sys.stderr)
    elif trainer.is_main:
        print(f"done: {result.steps} steps, epoch {result.epoch}, {result.images_per_s:.1f} images/s; "
              f"last checkpoint {result.last_checkpoint}"
              + (f"; best {result.best_checkpoint} (mAP {result.best_map:.4f})" if result.best_checkpoint else ""),
              file=sys.stderr)
    return result.metrics


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    def body():
        overrides = _cli_overrides(args)
        metrics = _eval_only(args, overrides) if args.eval_only else _train(args, overrides)
        if metrics:
            if args.json:
                print(json.dumps(metrics))
            else:
                print("  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)))

    def body_or_interrupted():
        from trackreid.train.engine import TrainingInterrupted

        try:
            return body()
        except TrainingInterrupted as e:
            if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one message for all processes
                more = f"; continue with --resume {e.checkpoint}" if e.checkpoint else ""
                print(f"trackreid-train: {e}{more}", file=sys.stderr)
            return EXIT_INTERRUPTED

    return run_command("trackreid-train", body_or_interrupted, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
