"""``trackreid-eval``: MOT metrics (HOTA, MOTA, IDF1, IDSW, FP, FN) of tracker results, computed by TrackEval."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trackreid.cli import run_command
from trackreid.io.atomic import write_json_atomic
from trackreid.evaluation.mot import GT_FORMATS, SUMMARY_KEYS, evaluate_mot, format_table

EXTRA_KEYS = ("DetA", "AssA", "MOTP", "IDP", "IDR", "Recall", "Precision", "MT", "ML", "Frag")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trackreid-eval",
        description="Evaluate MOTChallenge-format tracker results against ground truth with TrackEval. "
        "Expects GT_ROOT/SEQ/gt/gt.txt (+ optional seqinfo.ini) and RESULTS_DIR/SEQ.txt.",
    )
    p.add_argument("--gt", required=True, type=Path, metavar="GT_ROOT", help="folder holding one SEQ/gt/gt.txt per sequence")
    p.add_argument("--results", required=True, type=Path, metavar="RESULTS_DIR", help="folder holding one SEQ.txt per sequence")
    p.add_argument("--json", type=Path, default=None, metavar="OUT.json",
                   help="also write all numbers to this JSON file ({sequence or COMBINED: {metric: value}}; "
                   "ratios as fractions 0..1, counts as integers)")
    p.add_argument("--sequences", nargs="+", default=None, metavar="SEQ", help="evaluate only these sequences (default: all in --gt)")
    p.add_argument("--iou", type=float, default=0.5, help="IoU threshold for MOTA/IDF1 (default 0.5)")
    p.add_argument(
        "--gt-format",
        choices=GT_FORMATS,
        default="auto",
        help="mot17/mot20: MOTChallenge class and distractor filtering; plain: IoU only (MOT15, custom gt); "
        "auto (default): mot17/mot20 when the gt has MOTChallenge classes, else plain",
    )
    p.add_argument(
        "--missing",
        choices=("error", "empty"),
        default="error",
        help="a sequence without a results file: fail (default) or score it as empty",
    )
    p.add_argument(
        "--clip-to-gt",
        action="store_true",
        help="ignore result rows after the last gt frame (for trimmed ground truth)",
    )
    p.add_argument("--all", action="store_true", help="print the extra metrics too (DetA, AssA, MOTP, ...)")
    p.add_argument("--multicam", action="store_true",
                   help="GT_ROOT holds one folder per camera (CAM/gt/gt.txt), results RUN/CAM.txt or "
                   "RUN/CAM/tracks.txt: also report cross-camera IDF1/IDP/IDR (DukeMTMC multi-camera protocol, one "
                   "identity space over all cameras; JSON key MULTICAM)")
    p.add_argument("--multicam-ids", choices=("global", "per-camera"), default="global",
                   help="with --multicam: result ids are global across cameras (default), or per camera (the same "
                   "id in two cameras is two identities, as from trackers without global ids)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body():
        if args.multicam:
            return _multicam(args)
        results = evaluate_mot(
            args.gt,
            args.results,
            sequences=args.sequences,
            iou_threshold=args.iou,
            gt_format=args.gt_format,
            missing=args.missing,
            clip_to_gt=args.clip_to_gt,
        )
        keys = SUMMARY_KEYS + EXTRA_KEYS if args.all else SUMMARY_KEYS
        print(format_table(results, keys))
        print("(HOTA, MOTA, IDF1 and the other ratios in %; IDSW, FP, FN are counts)")
        if args.json is not None:
            write_json_atomic(args.json, results)
            print(f"wrote {args.json}")

    return run_command("trackreid-eval", body)


def _multicam(args) -> None:
    from trackreid.cli import UsageError
    from trackreid.evaluation.multicam import MULTICAM, evaluate_multicam, format_multicam

    if args.clip_to_gt:
        raise UsageError("--clip-to-gt does not apply with --multicam (camera ground truth covers every frame)")

    results = evaluate_multicam(args.gt, args.results, cameras=args.sequences, iou_threshold=args.iou,
                                gt_format=args.gt_format, missing=args.missing,
                                result_ids=args.multicam_ids.replace("-", "_"))
    cross = results.pop(MULTICAM)
    keys = SUMMARY_KEYS + EXTRA_KEYS if args.all else SUMMARY_KEYS
    print(format_table(results, keys))
    print("(per camera; HOTA, MOTA, IDF1 and the other ratios in %; IDSW, FP, FN are counts)")
    print(format_multicam(cross))
    if args.json is not None:
        write_json_atomic(args.json, {**results, MULTICAM: cross})
        print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
