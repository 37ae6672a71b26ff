"""What the detector costs per frame at each input size, and the people it still finds (issue 21).

On MOT17-09's first half (262 frames, 1920x1080, ``../shared/data/mot17-09-half`` or
``$TRACKREID_SHARED_DATA/mot17-09-half``), for each ``--sizes`` entry (``N``: square, ``HxW``: height x width)::

* ms per frame, median and p90: the whole detector call as trackreid makes it (``build_detector(...)(frame, i)``:
  Ultralytics' letterbox and normalisation, the OpenVINO inference, NMS, boxes back to frame pixels) on the
  decoded 1920x1080 frame, at the CLI's default ``--conf 0.25``, with the threads a run gives it (OpenVINO's
  default: every core; torch's count left as the process has it). The sizes take turns frame by frame, so load
  from other processes falls on all of them alike. ``--video`` adds the same timing on another video
  (``videos/street-302f.mp4``).
* person recall and precision against ``gt/gt.txt`` at IoU 0.5, at conf 0.25 and 0.1 (a second detector built
  at 0.1; its frames are not timed): the ground truth that MOT17 evaluates (class 1, consider flag 1); detections
  matched to a distractor box (person on vehicle, static person, distractor, reflection) are dropped first, as
  TrackEval does; ``rec.5``: recall of the boxes at least half visible (visibility >= 0.5).
* ``--cli SIZES``: HOTA / IDF1 / IDSW of the whole trackreid CLI on the half at those sizes (``python -m
  trackreid.cli.track SEQ --detector D --imgsz N --seq-name SEQ --no-video --quiet --output DIR``, scored by
  ``trackreid.evaluation.mot``), and its wall seconds (start-up and models included).

A fixed-size OpenVINO export (the shared YOLOv8n INT8, 1x3x640x640) runs at another size through the resized copy
trackreid makes once in its cache (``trackreid.detection.openvino_size``); the first use of a size pays that
(~0.1 s), before the warm-up.

Usage::

    python benchmarks/detector_speed.py                                  # every size, recall (~3 min, 2 cores)
    python benchmarks/detector_speed.py --video ../shared/data/videos/street-302f.mp4 --cli 640 384x640 512
    python benchmarks/detector_speed.py --sizes 640 384x640 --frames 60  # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("TRACKREID_SHARED_DATA", ROOT.parent / "shared" / "data"))
SEQ = "MOT17-09-FRCNN"
GT_ROOT = DATA / "mot17-09-half"
SEQ_DIR = GT_ROOT / SEQ
DETECTOR = DATA / "detectors" / "yolov8n_int8_openvino_model"
SIZES = ("640", "576", "512", "480", "416", "384", "320", "384x640", "352x576", "288x512", "288x480")
CONFS = (0.25, 0.1)
DISTRACTORS = (2, 7, 8, 12)  # person on vehicle, static person, distractor, reflection (MOT17 / TrackEval)


def parse_size(text: str):
    from trackreid.detection.openvino_size import check_imgsz

    h, w = check_imgsz(text)
    return h if h == w else (h, w)


def label(size) -> str:
    return str(size) if isinstance(size, int) else f"{size[0]}x{size[1]}"


# ------------------------------------------------------------------------------------------------ ground truth
def load_gt(seq_dir: Path) -> dict[int, np.ndarray]:
    """frame -> rows ``x1, y1, x2, y2, consider, class, visibility``."""
    rows = np.loadtxt(seq_dir / "gt" / "gt.txt", delimiter=",", ndmin=2)
    boxes = np.column_stack([rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5],
                             rows[:, 6], rows[:, 7], rows[:, 8]])
    return {int(f): boxes[rows[:, 0] == f] for f in np.unique(rows[:, 0])}


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of xyxy boxes, (len(a), len(b))."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:4], b[None, :, 2:4])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def _hungarian(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.optimize import linear_sum_assignment

    s = np.where(sim >= 0.5 - 1e-9, sim, 0.0)
    r, c = linear_sum_assignment(-s)
    ok = s[r, c] > 0
    return r[ok], c[ok]


def frame_counts(dets: np.ndarray, gt: np.ndarray | None) -> np.ndarray:
    """``[tp, tp of boxes with visibility >= 0.5, detections counted]`` for one frame."""
    if gt is None or not len(gt):
        return np.array([0, 0, len(dets)])
    if len(dets):  # TrackEval: a detection matched to a distractor box is not a false positive, just dropped
        r, c = _hungarian(iou(gt[:, :4], dets[:, :4]))
        drop = c[np.isin(gt[r, 5], DISTRACTORS)]
        dets = np.delete(dets, drop, axis=0)
    g = gt[(gt[:, 4] != 0) & (gt[:, 5] == 1)]
    if not len(g) or not len(dets):
        return np.array([0, 0, len(dets)])
    r, _ = _hungarian(iou(g[:, :4], dets[:, :4]))
    return np.array([len(r), int((g[r, 6] >= 0.5).sum()), len(dets)])


def gt_totals(gt: dict[int, np.ndarray], frames: list[int]) -> tuple[int, int]:
    n = n5 = 0
    for f in frames:
        g = gt.get(f)
        if g is not None:
            keep = (g[:, 4] != 0) & (g[:, 5] == 1)
            n += int(keep.sum())
            n5 += int((keep & (g[:, 6] >= 0.5)).sum())
    return n, n5


# ------------------------------------------------------------------------------------------------- measurement
def build(size, conf: float):
    from trackreid.detection.base import build_detector

    return build_detector(str(DETECTOR), conf=conf, imgsz=size, device="cpu")


def measure_sequence(sizes: list, n_frames: int | None, log) -> dict:
    import cv2

    paths = sorted((SEQ_DIR / "img1").glob("*.jpg"))[:n_frames]
    gt = load_gt(SEQ_DIR)
    frames = [int(p.stem) for p in paths]
    det = {label(s): {c: build(s, c) for c in CONFS} for s in sizes}
    first = cv2.imread(str(paths[0]))
    for d in det.values():  # warm-up: compile, first-call allocations
        for c, m in d.items():
            for _ in range(3 if c == CONFS[0] else 1):
                m(first, 0)
    ms = {k: [] for k in det}
    counts = {k: {c: np.zeros(3, np.int64) for c in CONFS} for k in det}
    keys = list(det)
    t0 = time.perf_counter()
    for i, (p, f) in enumerate(zip(paths, frames)):
        img = cv2.imread(str(p))
        order = keys[i % len(keys):] + keys[:i % len(keys)]  # take turns, so load hits every size alike
        for k in order:
            for c in CONFS:
                t = time.perf_counter()
                boxes = det[k][c](img, f - 1)
                if c == CONFS[0]:
                    ms[k].append((time.perf_counter() - t) * 1e3)
                counts[k][c] += frame_counts(boxes, gt.get(f))
        if (i + 1) % 50 == 0:
            log(f"  {i + 1}/{len(paths)} frames, {time.perf_counter() - t0:.0f} s")
    n_gt, n_gt5 = gt_totals(gt, frames)
    out = {}
    for k in keys:
        row = {"ms_median": float(np.median(ms[k])), "ms_p90": float(np.percentile(ms[k], 90))}
        for c in CONFS:
            tp, tp5, nd = (int(x) for x in counts[k][c])
            row[c] = {"recall": tp / max(n_gt, 1), "recall_vis50": tp5 / max(n_gt5, 1),
                      "precision": tp / max(nd, 1), "dets": nd}
        out[k] = row
    info = {"frames": len(paths), "gt_boxes": n_gt, "gt_boxes_vis50": n_gt5}
    m = det[keys[0]][CONFS[0]].model.predictor.model
    ov_model = getattr(getattr(m, "backend", m), "ov_compiled_model", None)
    if ov_model is not None:
        try:
            info["openvino_threads"] = int(ov_model.get_property("INFERENCE_NUM_THREADS"))
        except Exception:  # noqa: BLE001 - only a note in the output
            pass
    return out, info


def measure_video(video: Path, sizes: list, log) -> dict:
    import cv2

    det = {label(s): build(s, CONFS[0]) for s in sizes}
    cap = cv2.VideoCapture(str(video))
    ms = {k: [] for k in det}
    keys, i = list(det), 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        if i == 0:
            for d in det.values():
                for _ in range(3):
                    d(img, 0)
        for k in keys[i % len(keys):] + keys[:i % len(keys)]:
            t = time.perf_counter()
            det[k](img, i)
            ms[k].append((time.perf_counter() - t) * 1e3)
        i += 1
    cap.release()
    log(f"  {video.name}: {i} frames")
    return {k: (float(np.median(v)), float(np.percentile(v, 90))) for k, v in ms.items() if v}


def run_cli(size, out_root: Path) -> dict:
    from trackreid.evaluation.mot import evaluate_mot

    out = out_root / f"cli-{label(size)}"
    cmd = [sys.executable, "-m", "trackreid.cli.track", str(SEQ_DIR), "--detector", str(DETECTOR),
           "--imgsz", label(size).replace("x", ","), "--seq-name", SEQ, "--no-video", "--quiet",
           "--output", str(out)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        return {"error": f"exit {proc.returncode}: {tail}"}
    r = evaluate_mot(GT_ROOT, out, [SEQ])[SEQ]
    return {"HOTA": r["HOTA"], "IDF1": r["IDF1"], "IDSW": int(r["IDSW"]), "wall_s": wall}


# ---------------------------------------------------------------------------------------------------- report
def table(rows: dict, video: dict | None, cli: dict, ref: str, video_name: str = "") -> str:
    head = ["imgsz", "ms med", "p90"]
    if video:
        head += [f"{video_name} med", "p90"]
    for c in CONFS:
        head += [f"rec@{c}", f"rec.5@{c}", f"prec@{c}"]
    head += ["d rec@0.25"]
    if cli:
        head += ["CLI HOTA / IDF1 / IDSW", "CLI s"]
    lines = [head]
    for k, r in rows.items():
        cells = [k, f"{r['ms_median']:.1f}", f"{r['ms_p90']:.1f}"]
        if video:
            v = video.get(k)
            cells += [f"{v[0]:.1f}", f"{v[1]:.1f}"] if v else ["", ""]
        for c in CONFS:
            cells += [f"{100 * r[c]['recall']:.1f}", f"{100 * r[c]['recall_vis50']:.1f}",
                      f"{100 * r[c]['precision']:.1f}"]
        cells.append(f"{100 * (r[CONFS[0]]['recall'] - rows[ref][CONFS[0]]['recall']):+.1f}")
        if cli:
            x = cli.get(k)
            if x is None:
                cells += ["", ""]
            elif "error" in x:
                cells += [x["error"][:60], ""]
            else:
                cells += [f"{100 * x['HOTA']:.2f} / {100 * x['IDF1']:.2f} / {x['IDSW']}", f"{x['wall_s']:.0f}"]
        lines.append(cells)
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    fmt = lambda row: "| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join([fmt(lines[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                     + [fmt(r) for r in lines[1:]])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), help="N (square) or HxW; the first is the reference")
    ap.add_argument("--frames", type=int, default=None, help="first N frames of the half (default all 262)")
    ap.add_argument("--video", type=Path, default=None, help="also time every size on this video (all frames)")
    ap.add_argument("--cli", nargs="*", default=[], metavar="SIZE",
                    help="sizes to run the whole CLI at and score (HOTA/IDF1); each takes about a minute")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args(argv)
    if not (SEQ_DIR / "img1").is_dir() or not DETECTOR.is_dir():
        print(f"needs {SEQ_DIR} and {DETECTOR} (the shared data); not found", file=sys.stderr)
        return 1
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    sizes = [parse_size(s) for s in args.sizes]
    import torch

    log(f"detector {DETECTOR.name}; sizes {', '.join(label(s) for s in sizes)}; torch threads "
        f"{torch.get_num_threads()}, cores {os.cpu_count()}")
    rows, info = measure_sequence(sizes, args.frames, log)
    video = measure_video(args.video, sizes, log) if args.video else None
    cli = {}
    if args.cli:
        with tempfile.TemporaryDirectory(prefix="detector_speed-") as tmp:
            for s in args.cli:
                size = parse_size(s)
                log(f"  CLI at {label(size)} ...")
                cli[label(size)] = run_cli(size, Path(tmp))
    ref = label(sizes[0])
    print(f"{SEQ} first half: {info['frames']} frames, {info['gt_boxes']} ground-truth boxes "
          f"({info['gt_boxes_vis50']} at visibility >= 0.5); detector {DETECTOR.name}; OpenVINO threads "
          f"{info.get('openvino_threads', '?')}, {os.cpu_count()} cores")
    print(table(rows, video, cli, ref, args.video.stem if args.video else ""))
    print("ms: the whole detector call on the decoded 1920x1080 frame at conf 0.25; rec / prec: person recall and "
          "precision (%) at IoU 0.5; rec.5: recall of boxes at least half visible; d rec: recall minus the "
          f"{ref} row's")
    if args.json:
        args.json.write_text(json.dumps({"info": info, "rows": rows, "video": video, "cli": cli},
                                        default=str, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
