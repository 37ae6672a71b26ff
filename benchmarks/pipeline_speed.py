"""End-to-end pipeline speed, per stage, ours beside BoxMOT's BotSort with the same detector, detections and
ReID weights.

Two measurements on the first ``--frames`` frames of a video:

1. **Side by side.** Each frame is decoded and detected once; the same detections and frame go to
   trackreid (encoder + Tracker) and to BoxMOT ``BotSort`` (its own ReID backend built from the same weights
   file). Per-stage ms/frame: decode, detect (shared), then embed and associate for each tracker. BoxMOT's
   embedding time is measured by timing its ReID backend's ``get_features`` inside ``update``; associate is
   the rest of ``update``.
2. **Our real pipeline, appearance on demand vs every detection embedded** (``--compare policy``, the default):
   ``trackreid.pipeline.run`` as the CLI runs it (background decoding, MOT + JSON lines outputs, annotated video
   unless ``--no-video``), with ``embed_policy: always`` and with the default ``on_demand``, side by side in one
   run, on the street video and on the MOT17-09 half (``../shared/data/mot17-09-half``: its frames with the same
   detector, and with its public detections), with the default encoder (``--policy-weights`` for others);
   end-to-end fps, crops embedded per frame, per-stage ms and, on MOT17-09, IDF1 / HOTA by TrackEval.
3. ``--compare paths``: the previous path (stages one after the other, ReID in ONNX Runtime fp32:
   ``--no-overlap --reid-runtime onnxruntime``) against today's default (detector one frame ahead in its own
   thread, the default CPU ReID runtime), on the street video and a crowd video (640x360, 8 real-person sprites,
   rendered by ``trackreid-synth`` with exact ground truth).

Usage (CPU, the shared data beside the checkout)::

    python benchmarks/pipeline_speed.py --frames 100
    python benchmarks/pipeline_speed.py --skip-side-by-side --frames 302 --no-video     # the policy table only
    python benchmarks/pipeline_speed.py --device cuda:0 --half --frames 300     # on a GPU

BotSort runs without camera-motion compensation by default, as our tracker does (``--boxmot-cmc`` turns
BoxMOT's default ECC on). Torch uses the threads it is given (``--threads``).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _timed_get_features(model, bucket: list):
    orig = model.get_features

    def wrapped(*a, **k):
        t0 = time.perf_counter()
        out = orig(*a, **k)
        bucket.append((time.perf_counter() - t0) * 1e3)
        return out

    model.get_features = wrapped


def side_by_side(args) -> dict:
    import cv2

    from trackreid.detection.base import build_detector
    from trackreid.pipeline import build_reid, build_tracker

    dev = args.device
    det = build_detector(args.detector, classes=("person",), conf=args.conf, device=dev, half=args.half)
    encoder = build_reid(args.reid, args.reid_weights, device=dev, half=args.half)
    ours = build_tracker(None)

    boxmot = None
    if not args.skip_boxmot:
        from boxmot.trackers.box.botsort.tracker import BotSort

        boxmot = BotSort(reid_weights=Path(args.reid_weights), device=dev.replace("cuda:", "") if dev != "cpu"
                         else "cpu", half=args.half, use_cmc=args.boxmot_cmc)
    bm_embed: list = []
    wrapped = False

    cap = cv2.VideoCapture(str(args.video))
    rows = {k: [] for k in ("decode", "detect", "ours_embed", "ours_assoc", "bm_embed", "bm_assoc", "dets",
                            "ours_crops")}
    ours_ids, bm_ids = set(), set()
    for i in range(args.frames):
        t0 = time.perf_counter()
        ok, frame = cap.read()
        t1 = time.perf_counter()
        if not ok:
            break
        dets = det(frame, i)
        t2 = time.perf_counter()
        given = dets if args.embed_all else ours.detections(dets)
        boxes = dets[:, :4] if args.embed_all else given.boxes_to_embed()
        emb = encoder(frame, boxes) if len(boxes) else None
        t3 = time.perf_counter()
        tr = ours.update(given, frame, embeddings=emb)
        t4 = time.perf_counter()
        rows["decode"].append((t1 - t0) * 1e3)
        rows["detect"].append((t2 - t1) * 1e3)
        rows["ours_embed"].append((t3 - t2) * 1e3)
        rows["ours_assoc"].append((t4 - t3) * 1e3)
        rows["dets"].append(len(dets))
        rows["ours_crops"].append(len(boxes))
        ours_ids.update(tr[:, 4].astype(int).tolist())
        if boxmot is not None:
            n_before = len(bm_embed)
            t5 = time.perf_counter()
            out = boxmot.update(dets, frame)
            t6 = time.perf_counter()
            if not wrapped:
                # BoxMOT 25 builds its ReID backend lazily, as ``_reid_model``; time its get_features from the next
                # frame on. Without it the ReID time would silently land in "associate", so stop instead.
                reid_model = getattr(boxmot, "_reid_model", None)
                if hasattr(reid_model, "get_features"):
                    _timed_get_features(reid_model, bm_embed)
                    wrapped = True
                elif i >= 5:
                    raise SystemExit("pipeline_speed: cannot find BoxMOT BotSort's ReID backend (_reid_model) to "
                                     "time it; this script is written for boxmot 25 (pip install -e '.[bench]')")
            e = sum(bm_embed[n_before:]) if len(bm_embed) > n_before else float("nan")
            rows["bm_embed"].append(e)
            rows["bm_assoc"].append((t6 - t5) * 1e3 - (e if e == e else 0.0))
            bm_ids.update(out[:, 4].astype(int).tolist() if len(out) else [])
    cap.release()
    skip = min(args.warmup, max(0, len(rows["decode"]) - 1))  # warm-up frames (model compilation, first allocs)
    res = {k: [x for x in v[skip:] if x == x] for k, v in rows.items()}
    res["frames"] = len(rows["decode"])
    res["ours_ids"], res["bm_ids"] = len(ours_ids), len(bm_ids)
    return res


# previous: the trained weights given as a file, stages in turn, ONNX Runtime fp32; default: what `trackreid` does
# with no ReID options (the same trained weights, bundled, in the default CPU runtime; detector one frame ahead)
PATHS = {"previous": {"overlap": False, "reid_runtime": "onnxruntime", "reid_streams": 1},
         "default": {"reid_weights": None}}


def crowd_video(tmp: Path) -> tuple[Path, Path] | None:
    """A 640x360 crowd video of real-person sprites (from the shared MOT17 crops) and its ground truth."""
    sprites_src = DATA / "mot17-mini"
    if not sprites_src.is_dir():
        return None
    from trackreid.synthetic import SceneConfig, build_sprite_set, generate_scene, write_mot_sequence

    sprites = build_sprite_set(sprites_src, tmp / "sprites")
    scene = generate_scene(SceneConfig(num_people=8, num_frames=300, width=640, height=360, seed=5, sprites=sprites))
    seq = write_mot_sequence(scene, tmp, "CROWD", video=True)
    return seq / "CROWD.mp4", seq / "gt" / "gt.txt"


def real_pipeline(args, video: Path, path: str, **kw) -> dict:
    from trackreid.pipeline import run

    out = ROOT / "runs" / "bench" / "pipeline_speed" / f"{video.stem}-{path}"
    kw = {"reid_weights": args.reid_weights, "detector": args.detector, **PATHS.get(path, {}), **kw}
    return run(video, reid=args.reid, conf=args.conf, device=args.device, half=args.half, output=out,
               save_video=not args.no_video, max_frames=args.frames, quiet=True, **kw)


MOT17_HALF = DATA / "mot17-09-half"
MOT17_SEQ = "MOT17-09-FRCNN"


def compare_policies(args) -> None:
    """``embed_policy`` always vs on_demand (the default), the same run, each source side by side."""
    from trackreid.evaluation.mot import evaluate_mot

    sources = [(args.video.stem, args.video, {}, False)]
    if (MOT17_HALF / MOT17_SEQ / "img1").is_dir():
        seq = MOT17_HALF / MOT17_SEQ
        sources += [("MOT17-09 half", seq, {"mot_name": f"{MOT17_SEQ}.txt"}, True),
                    ("MOT17-09 public", seq, {"mot_name": f"{MOT17_SEQ}.txt", "detector": str(seq / "det" / "det.txt")},
                     True)]
    print(f"\nour pipeline, embed_policy always vs on_demand (default), up to {args.frames} frames, "
          f"outputs{'' if args.no_video else ' incl. annotated video'}; detector {Path(args.detector).name} unless "
          "public:")
    print(f"{'source':<17}{'policy':<11}{'fps':>7}{'ratio':>7}{'crops/f':>8}{'of dets':>8}{'IDF1':>7}{'HOTA':>7}"
          "  ms per frame")
    for label, src, kw, scored in sources:
        base = None
        for policy in ("always", "on_demand"):
            s = real_pipeline(args, src, f"{label.replace(' ', '_')}-{policy}",
                              tracker_config={"embed_policy": policy}, reid_weights=args.policy_weights, **kw)
            base = base or s["fps"]
            f1 = hota = f"{'':>7}"
            if scored:
                m = evaluate_mot(MOT17_HALF, Path(s["outputs"]["mot"]).parent, sequences=[MOT17_SEQ])["COMBINED"]
                f1, hota = f"{100 * m['IDF1']:7.2f}", f"{100 * m['HOTA']:7.2f}"
            crops = s["crops_embedded"]
            print(f"{label:<17}{policy:<11}{s['fps']:>7.1f}{s['fps'] / base:>6.2f}x{crops / max(s['frames'], 1):>8.2f}"
                  f"{100 * crops / max(s['detections'], 1):>7.1f}%{f1}{hota}  "
                  + "  ".join(f"{k} {v:.1f}" for k, v in s["stage_ms"].items()), flush=True)


def idf1(summary: dict, gt: Path) -> float:
    from trackreid.evaluation.mot import evaluate_mot_arrays
    from trackreid.io.mot import read_mot

    res = read_mot(summary["outputs"]["mot"])
    g = read_mot(gt)
    g = g[g[:, 0] <= summary["frames"]]
    return evaluate_mot_arrays({"s": (g, res)})["s"]["IDF1"]


def compare_paths(args) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        videos = [(args.video, None)]
        crowd = None if args.skip_crowd else crowd_video(Path(d))
        if crowd is not None:
            videos.append(crowd)
        print(f"\nour pipeline, previous path (--no-overlap --reid-runtime onnxruntime) vs default, "
              f"{args.frames} frames, outputs{'' if args.no_video else ' incl. annotated video'}:")
        print(f"{'video':<14}{'path':<10}{'fps':>7}{'ratio':>7}{'IDF1':>7}  ms per frame")
        for video, gt in videos:
            base = None
            for path in PATHS:
                s = real_pipeline(args, video, path)
                base = base or s["fps"]
                f1 = f"{idf1(s, gt):7.2f}" if gt is not None else f"{'':>7}"
                print(f"{video.stem[:13]:<14}{path:<10}{s['fps']:>7.1f}{s['fps'] / base:>6.2f}x{f1}  "
                      + "  ".join(f"{k} {v:.1f}" for k, v in s["stage_ms"].items()), flush=True)


def _m(v) -> float:
    return statistics.fmean(v) if v else float("nan")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, default=DATA / "videos" / "street-302f.mp4")
    p.add_argument("--detector", default=str(DATA / "detectors" / "yolov8n_int8_openvino_model"))
    p.add_argument("--reid", default="osnet_x0_25")
    p.add_argument("--reid-weights", default=str(DATA / "reid" / "osnet_x0_25_market1501.pt"))
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--warmup", type=int, default=3, help="first frames left out of the means (default 3)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--half", action="store_true")
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--embed-all", action="store_true", help="embed every detection, as BoxMOT does")
    p.add_argument("--skip-boxmot", action="store_true")
    p.add_argument("--boxmot-cmc", action="store_true", help="BotSort with its default ECC motion compensation")
    p.add_argument("--skip-pipeline", action="store_true", help="only the side-by-side loop")
    p.add_argument("--no-video", action="store_true", help="pipeline run without the annotated video")
    p.add_argument("--skip-crowd", action="store_true", help="only the street video in the before/after runs")
    p.add_argument("--policy-weights", default=None,
                   help="ReID weights of the policy comparison (default: the model's default weights, as a user runs)")
    p.add_argument("--compare", choices=("policy", "paths"), default="policy",
                   help="pipeline runs: embed_policy always vs on_demand (default), or the previous path vs today's")
    p.add_argument("--skip-side-by-side", action="store_true", help="only the before/after pipeline runs")
    args = p.parse_args(argv)
    if not args.video.is_file():
        print(f"pipeline_speed: video {args.video} not found (the shared data is needed)", file=sys.stderr)
        return 1
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"video {args.video.name}, {args.frames} frames, device {args.device}, torch threads "
          f"{torch.get_num_threads()}, detector {Path(args.detector).name}, reid {args.reid} "
          f"({Path(args.reid_weights).name})")

    compare = compare_policies if args.compare == "policy" else compare_paths
    if args.skip_side_by_side:
        compare(args)
        return 0
    r = side_by_side(args)
    n = len(r["decode"])
    print(f"\nside by side: {r['frames']} frames ({n} after {args.warmup} warm-up), "
          f"{_m(r['dets']):.1f} detections/frame, ours embeds {_m(r['ours_crops']):.1f} crops/frame "
          f"(score >= track_high_thresh{'; all with --embed-all' if args.embed_all else ''}), BoxMOT every detection")
    dec, det = _m(r["decode"]), _m(r["detect"])
    cols = [("trackreid", _m(r["ours_embed"]), _m(r["ours_assoc"]), r["ours_ids"])]
    if not args.skip_boxmot:
        cols.append(("BoxMOT BotSort", _m(r["bm_embed"]), _m(r["bm_assoc"]), r["bm_ids"]))
    print(f"{'ms per frame':<24}" + "".join(f"{c[0]:>16}" for c in cols))
    for name, get in [("decode", lambda c: dec), ("detect", lambda c: det), ("embed (ReID)", lambda c: c[1]),
                      ("associate", lambda c: c[2]), ("tracking + ReID", lambda c: c[1] + c[2]),
                      ("total (sequential)", lambda c: dec + det + c[1] + c[2])]:
        print(f"{name:<24}" + "".join(f"{get(c):>16.2f}" for c in cols))
    print(f"{'fps (sequential)':<24}" + "".join(f"{1000 / (dec + det + c[1] + c[2]):>16.1f}" for c in cols))
    print(f"{'tracking+ReID fps':<24}" + "".join(f"{1000 / (c[1] + c[2]):>16.1f}" for c in cols))
    print(f"{'identities':<24}" + "".join(f"{c[3]:>16d}" for c in cols))

    if not args.skip_pipeline:
        compare(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
