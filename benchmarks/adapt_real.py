"""Adapting the encoder to one camera without labels (``trackreid-adapt``), measured on real footage.

    python benchmarks/adapt_real.py [--work /tmp/adapt_real] [--start NAME] [--steps 300] [--no-reentry]

1. MOT17-09 half (``../shared/data/mot17-09-half``, its public detections): ``trackreid`` with the starting encoder
   (the bundled one unless ``--start``), scored by TrackEval (the ground truth is never used for training), and
   the same boxes with the ground truth's identities (``with_true_identities``): the most any identity decision,
   hence any encoder, can give on them;
2. ``trackreid-adapt`` on the same frames and detections (what a user on a fixed camera does), timed; the written
   weights (the trained ones blended with the start, ``--blend``'s default) and the trained ones alone (the same
   run written again with ``--resume --blend 1``);
3. ``trackreid --reid-weights DIR/reid.pt`` on the same frames, scored the same way; the starting weights are also
   run as a ``.pt`` (the runtime a checkpoint gets) so that before and after differ only in the weights;
4. forgetting: rank-1 / mAP on ``../shared/data/cuhk03-val`` (real people, never seen in adaptation);
5. re-entry scenes drawn from real MOT17 crops (12 people, 600 frames, seeds 0-3; ``--no-reentry`` skips them):
   a. the MOT17-09-adapted weights on them (``benchmarks/tracker_quality.py --reentry``'s table, MOT file): another
      place, other people;
   b. ``trackreid-adapt`` on the scenes' own frames (written by ``trackreid-synth mot --reentry``), then
      ``trackreid`` on the same frames with the starting and the adapted weights: adapting to this "camera".

Commands run as a user runs them (subprocesses); figures print as tables.
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


def true_identities(out: Path) -> dict:
    """The boxes of the run in ``out`` scored with the ground truth's identities: the ceiling of identity."""
    from trackreid.evaluation.mot import evaluate_mot_arrays, with_true_identities
    from trackreid.io.mot import read_mot

    gt = read_mot(SEQ_DIR / "gt" / "gt.txt")
    return evaluate_mot_arrays({SEQ: (gt, with_true_identities(gt, read_mot(out / f"{SEQ}.txt")))})["COMBINED"]


def adapt_cmd(sources: list[Path], dets: list[Path], out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "trackreid.cli.adapt", *map(str, sources), "--detector", *map(str, dets),
            "--output", str(out), "--quiet", *extra]


def trained_alone(adapted_dir: Path, sources: list[Path], dets: list[Path], extra: list[str]) -> Path:
    """The same adaptation written again with ``--blend 1`` (its crops and last checkpoint reused)."""
    alone = adapted_dir.parent / (adapted_dir.name + "-blend1")
    if not (alone / "reid.pt").is_file():
        shutil.rmtree(alone, ignore_errors=True)
        shutil.copytree(adapted_dir, alone)
        run(adapt_cmd(sources, dets, alone, "--resume", "--blend", "1", "--export", "none", *extra))
    return alone / "reid.pt"


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


def reentry_own_frames(work: Path, sprites: Path, start: str, extra: list[str]) -> dict:
    """5b: adapt on the re-entry scenes' own frames, then track them with the starting and the adapted weights
    (IDF1 / HOTA over the four scenes, and the adaptation's wall time)."""
    from trackreid.evaluation.mot import evaluate_mot

    scenes = work / "reentry-scenes"
    names = [f"SYN-{k:02d}" for k in range(4)]
    if not all((scenes / n / "det" / "det.txt").is_file() for n in names):
        run([sys.executable, "-c", "import sys; from trackreid.synthetic.cli import main; sys.exit(main())", "mot",
             str(scenes), "--seeds", "0", "1", "2", "3",
             "--people", "12", "--frames", "600", "--reentry", "--sprites", str(sprites)])
    seqs = [scenes / n for n in names]
    dets = [q / "det" / "det.txt" for q in seqs]
    out = work / "adapt-reentry"
    wall = None
    if not (out / "reid.pt").is_file():
        wall = run(adapt_cmd(seqs, dets, out, "--export", "none", *extra))
    rows = {}
    for label, w in (("start (.pt)", start), ("adapted (.pt)", str(out / "reid.pt")),
                     ("trained alone (.pt)", str(trained_alone(out, seqs, dets, extra)))):
        res = work / f"reentry-track-{label.split()[0]}"
        for q, d in zip(seqs, dets):
            run([sys.executable, "-m", "trackreid.cli.track", str(q), "--detector", str(d), "--seq-name", q.name,
                 "--no-video", "--quiet", "--output", str(res), "--reid-weights", w])
        rows[label] = evaluate_mot(scenes, res, sequences=names)["COMBINED"]
    return {"rows": rows, "wall_s": wall, "summary": json.loads((out / "adapt.json").read_text())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/adapt_real", help="scratch folder (recreated)")
    ap.add_argument("--start", default=BUNDLED, help=f"the encoder adapted (known weights; default {BUNDLED}, the "
                    "bundled one; osnet_x0_25_market1501 is the one bundled when the issue was written)")
    ap.add_argument("--steps", type=int, default=None, help="adaptation steps (default: trackreid-adapt's)")
    ap.add_argument("--no-reentry", action="store_true", help="skip the re-entry scenes")
    ap.add_argument("--keep", action="store_true", help="reuse the work folder's adaptations")
    args = ap.parse_args(argv)
    if not SEQ_DIR.is_dir():
        print(f"skipped: {SEQ_DIR} is not here")
        return 0
    work = Path(args.work)
    if work.exists() and not args.keep:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    from trackreid.reid.weights import resolve_weights

    start_pt = str(resolve_weights(args.start))
    extra = ["--reid-weights", start_pt] + (["--steps", str(args.steps)] if args.steps else [])
    rows = {}
    print(f"tracking with {args.start} ...", flush=True)
    if args.start == BUNDLED:
        rows["bundled (default runtime)"] = track(work / "before-default", None)
    rows["start (.pt)"] = track(work / "before-pt", start_pt)
    rows["start's boxes, true identities"] = true_identities(work / "before-pt")
    adapted = work / "adapt" / "reid.pt"
    source, det = [SEQ_DIR], [SEQ_DIR / "det" / "det.txt"]
    if not adapted.is_file():
        print("adapting ...", flush=True)
        run(adapt_cmd(source, det, work / "adapt", *extra))
    alone = trained_alone(work / "adapt", source, det, extra)
    summary = json.loads((work / "adapt" / "adapt.json").read_text())
    print("tracking with the adapted encoder ...", flush=True)
    rows["adapted (.pt)"] = track(work / "after-pt", str(adapted))
    export = (summary.get("export") or {}).get("path")
    if export:
        rows["adapted (INT8 export)"] = track(work / "after-export", str(Path(export).parent))
    rows["trained alone (.pt)"] = track(work / "after-blend1", str(alone))
    rows["adapted's boxes, true identities"] = true_identities(work / "after-pt")
    print("cuhk03-val ...", flush=True)
    reid = {"start (.pt)": cuhk03(start_pt), "adapted (.pt)": cuhk03(str(adapted)),
            "trained alone (.pt)": cuhk03(str(alone))}
    re_idf1, own = {}, None
    if not args.no_reentry:
        from trackreid.synthetic import build_sprite_set

        print("re-entry scenes ...", flush=True)
        sprites = build_sprite_set(DATA / "mot17-mini", work / "sprites")
        for label, w in (("start (.pt)", start_pt), ("adapted (.pt)", str(adapted)), ("trained alone (.pt)", str(alone))):
            re_idf1[label] = reentry(w, sprites, work / f"emb-{label.split()[0]}")
        print("adapting to the re-entry scenes ...", flush=True)
        own = reentry_own_frames(work, sprites, start_pt, extra)

    lab, t = summary["labels"], summary["time_s"]
    print(f"\nMOT17-09 half, public detections, starting encoder {args.start}; adaptation: {lab['labels']} labels "
          f"from {lab['identities']} identities, {lab['crops']} crops, {summary['training']['steps']} steps, blend "
          f"{summary['config']['blend']}; wall time {t['total']:.0f} s (tracking {t['tracking']:.0f} s, training "
          f"{t['training']:.0f} s) on {os.cpu_count()} CPU cores")
    print("| encoder | HOTA | IDF1 | AssA | MOTA | IDSW | cuhk03-val rank-1 | mAP | re-entry IDF1 (MOT17-adapted) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, m in rows.items():
        r = reid.get(label, {})
        print(f"| {label} | {100 * m['HOTA']:.2f} | {100 * m['IDF1']:.2f} | {100 * m['AssA']:.2f} | "
              f"{100 * m['MOTA']:.2f} | {m['IDSW']} | {r.get('rank1', float('nan')):.1f} | "
              f"{r.get('mAP', float('nan')):.1f} | {re_idf1.get(label, float('nan')):.2f} |")
    lf = summary["label_free"]
    print(f"label-free (held-out tracks): before {lf['before']}, after {lf['after']}")
    if own:
        s2 = own["summary"]
        wall = f"{own['wall_s']:.0f} s" if own["wall_s"] else "reused"
        print(f"\nre-entry scenes adapted on their own frames (4 x 600 frames, {s2['labels']['labels']} labels, "
              f"{s2['labels']['crops']} crops; adaptation wall time {wall}); trackreid on the same frames:")
        print("| encoder | HOTA | IDF1 | IDSW |")
        print("|---|---:|---:|---:|")
        for label, m in own["rows"].items():
            print(f"| {label} | {100 * m['HOTA']:.2f} | {100 * m['IDF1']:.2f} | {m['IDSW']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
