"""Adapting the encoder to one camera without labels (``trackreid-adapt``), measured on real footage.

    python benchmarks/adapt_real.py [--work /tmp/adapt_real] [--steps 300] [--no-reentry]

1. MOT17-09 half (``../shared/data/mot17-09-half``, its public detections): ``trackreid`` with the bundled encoder,
   scored by TrackEval (the ground truth is never used for training);
2. ``trackreid-adapt`` on the same frames and detections (what a user on a fixed camera does), timed;
3. ``trackreid --reid-weights DIR/reid.pt`` on the same frames, scored the same way; the bundled weights are also
   run as a ``.pt`` (the runtime a checkpoint gets) so that before and after differ only in the weights;
4. forgetting: rank-1 / mAP on ``../shared/data/cuhk03-val`` (real people, never seen in adaptation), bundled
   against adapted (``trackreid-train --eval-only``'s protocol);
5. re-entry scenes drawn from real MOT17 crops (``benchmarks/tracker_quality.py --reentry --people 12 --frames
   600``, seeds 0-3): IDF1 of the MOT file with the bundled and the adapted weights (``--no-reentry`` skips it).

Commands run as a user runs them (subprocesses); figures print as one table.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRACKREID_SHARED_DATA", ROOT.parent / "shared" / "data"))
SEQ = "MOT17-09-FRCNN"
GT_ROOT = DATA / "mot17-09-half"
SEQ_DIR = GT_ROOT / SEQ
BUNDLED = "osnet_x0_25_msmt17"


def run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def track(out: Path, weights: str | None) -> dict:
    from trackreid.evaluation.mot import evaluate_mot

    cmd = [sys.executable, "-m", "trackreid.cli.track", str(SEQ_DIR), "--detector", str(SEQ_DIR / "det" / "det.txt"),
           "--seq-name", SEQ, "--no-video", "--quiet", "--output", str(out)]
    if weights:
        cmd += ["--reid-weights", weights]
    run(cmd)
    return evaluate_mot(GT_ROOT, out, sequences=[SEQ])["COMBINED"]


def cuhk03(weights: str) -> dict:
    from trackreid.reid.models.registry import get_spec
    from trackreid.reid.weights import read_checkpoint
    from trackreid.train.config import build_config
    from trackreid.train.engine import evaluate_weights

    ck = read_checkpoint(weights)
    h, w = ck.input_size or get_spec("osnet_x0_25").input_size
    cfg = build_config(None, "osnet_x0_25", {"data": "cuhk03_flat", "root": str(DATA / "cuhk03-val"),
                                              "height": h, "width": w, "workers": 0, "device": "cpu"})
    m = evaluate_weights(ck, cfg, log=lambda s: None)
    return {"rank1": 100 * m["rank1"], "mAP": 100 * m["mAP"]}


def reentry(weights: str, sprites: Path, cache: Path) -> float:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import io
    from contextlib import redirect_stdout

    import tracker_quality as tq

    args = tq.build_parser().parse_args(["--reentry", "--sprites", str(sprites), "--weights", weights,
                                         "--cache", str(cache), "--people", "12", "--frames", "600"])
    with redirect_stdout(io.StringIO()):
        res = tq.reentry_table(args)
    return 100 * res["ours, memory (MOT file)"]["COMBINED"]["IDF1"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/adapt_real", help="scratch folder (recreated)")
    ap.add_argument("--steps", type=int, default=None, help="adaptation steps (default: trackreid-adapt's)")
    ap.add_argument("--no-reentry", action="store_true", help="skip the re-entry scenes")
    ap.add_argument("--keep", action="store_true", help="reuse the work folder's adaptation")
    args = ap.parse_args(argv)
    if not SEQ_DIR.is_dir():
        print(f"skipped: {SEQ_DIR} is not here")
        return 0
    work = Path(args.work)
    if work.exists() and not args.keep:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    from trackreid.reid.weights import resolve_weights

    bundled_pt = str(resolve_weights(BUNDLED))
    rows = {}
    print("tracking with the bundled encoder ...", flush=True)
    rows["bundled (default runtime)"] = track(work / "before-default", None)
    rows["bundled (.pt)"] = track(work / "before-pt", bundled_pt)
    adapted = work / "adapt" / "reid.pt"
    if not adapted.is_file():
        print("adapting ...", flush=True)
        cmd = [sys.executable, "-m", "trackreid.cli.adapt", str(SEQ_DIR), "--detector", str(SEQ_DIR / "det" / "det.txt"),
               "--output", str(work / "adapt"), "--quiet"]
        if args.steps:
            cmd += ["--steps", str(args.steps)]
        run(cmd)
    summary = json.loads((work / "adapt" / "adapt.json").read_text())
    print("tracking with the adapted encoder ...", flush=True)
    rows["adapted (.pt)"] = track(work / "after-pt", str(adapted))
    export = (summary.get("export") or {}).get("path")
    if export:
        rows["adapted (INT8 export)"] = track(work / "after-export", str(Path(export).parent))
    print("cuhk03-val ...", flush=True)
    reid = {"bundled (.pt)": cuhk03(bundled_pt), "adapted (.pt)": cuhk03(str(adapted))}
    re_idf1 = {}
    if not args.no_reentry:
        from trackreid.synthetic import build_sprite_set

        print("re-entry scenes ...", flush=True)
        sprites = build_sprite_set(DATA / "mot17-mini", work / "sprites")
        for label, w in (("bundled (.pt)", bundled_pt), ("adapted (.pt)", str(adapted))):
            re_idf1[label] = reentry(w, sprites, work / f"emb-{label.split()[0]}")

    lab, t = summary["labels"], summary["time_s"]
    print(f"\nMOT17-09 half, public detections; adaptation: {lab['labels']} labels from {lab['identities']} "
          f"identities, {lab['crops']} crops, {summary['training']['steps']} steps; wall time "
          f"{t['total']:.0f} s (tracking {t['tracking']:.0f} s, training {t['training']:.0f} s) on "
          f"{os.cpu_count()} CPU cores")
    print("| encoder | HOTA | IDF1 | AssA | MOTA | IDSW | cuhk03-val rank-1 | mAP | re-entry IDF1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, m in rows.items():
        r = reid.get(label, {})
        print(f"| {label} | {100 * m['HOTA']:.2f} | {100 * m['IDF1']:.2f} | {100 * m['AssA']:.2f} | "
              f"{100 * m['MOTA']:.2f} | {m['IDSW']} | {r.get('rank1', float('nan')):.1f} | "
              f"{r.get('mAP', float('nan')):.1f} | {re_idf1.get(label, float('nan')):.2f} |")
    lf = summary["label_free"]
    print(f"label-free (held-out tracks): before {lf['before']}, after {lf['after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
