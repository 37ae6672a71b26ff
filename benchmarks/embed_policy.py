"""Appearance on demand vs every detection embedded (``TrackerConfig.embed_policy``): identity quality and crops.

The same tracker, the same detections and the same embeddings, two policies: ``always`` (every high-score detection
embedded on every frame) and ``on_demand`` (only where appearance can change a decision or is due,
``trackreid.tracking.demand``). Only the embeddings of the rows the tracker marks are read, as in a run; the crops
embedded per frame are counted. Rows:

* MOT17-09 half (``../shared/data/mot17-09-half``), public detections and the YOLOv8n INT8 detections of
  ``real_mot.py``: the whole pipeline (``trackreid.pipeline.run``, as the CLI runs it: ``--conf 0.25``, final IDs,
  gap filling), with an encoder that returns the default encoder's embeddings cached by ``real_mot.py`` (so the two
  policies see bit-identical appearance and only the policy differs); HOTA / IDF1 by TrackEval.
* Synthetic association scenes (``tracker_quality.py``: seeds 0-3, 40 people, 400 frames, noisy identity codes).
* Re-entry sprite scenes (``tracker_quality.py --reentry``: seeds 0-3, 12 real-person sprites who leave and come
  back, OSNet x0.25 MSMT17 embeddings of the rendered frames, cached), IDF1 of the MOT file a run writes.

The wall-clock gain is ``pipeline_speed.py``'s (fps with each policy on real video); this script is the quality
side.

    python benchmarks/embed_policy.py                      # all rows (a few minutes on 2 cores)
    python benchmarks/embed_policy.py --only mot17 --set embed_period=5
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import real_mot  # noqa: E402  (benchmarks/ is not a package)
import tracker_quality  # noqa: E402

POLICIES = ("always", "on_demand")


class CachedEncoder:
    """An encoder that returns precomputed embeddings of known boxes (looked up by their rounded coordinates)."""

    def __init__(self, dets: np.ndarray, emb: np.ndarray, like):
        self.table = {tuple(np.round(b, 1)): e for b, e in zip(dets[:, :4].astype(np.float64), emb)}
        self.dim = int(emb.shape[1])
        self.thresholds = like.thresholds          # the default encoder's stored thresholds, as a run applies them
        self.calls = 0

    def __call__(self, frame, boxes) -> np.ndarray:
        self.calls += len(boxes)
        return np.stack([self.table[tuple(np.round(b, 1))] for b in np.asarray(boxes, np.float64)])


def mot17_rows(args, settings: dict) -> dict:
    from trackreid.evaluation.mot import evaluate_mot
    from trackreid.pipeline import build_reid, run

    default = build_reid("auto")
    paths = real_mot.frame_paths()
    cache = Path(args.cache)
    sets = {"public": real_mot.SEQ_DIR / "det" / "det.txt", "yolo": real_mot.yolo_det_file(cache, paths)}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, det_file in sets.items():
            frames, dets = real_mot.read_detections(det_file)
            emb = real_mot.embeddings(cache, name, det_file, frames, dets, paths)
            for policy in POLICIES:
                enc = CachedEncoder(dets, emb, default)
                res_dir = Path(tmp) / f"{name}-{policy}"
                t0 = time.perf_counter()
                summary = run(real_mot.SEQ_DIR, reid=enc, detector=str(det_file), output=res_dir, save_video=False,
                              quiet=True, mot_name=f"{real_mot.SEQ}.txt",
                              tracker_config={**settings, "embed_policy": policy})
                m = evaluate_mot(real_mot.GT_ROOT, res_dir, sequences=[real_mot.SEQ])["COMBINED"]
                out[(f"MOT17-09 half, {name}", policy)] = {
                    "HOTA": 100 * m["HOTA"], "IDF1": 100 * m["IDF1"], "IDSW": m["IDSW"],
                    "crops": summary.get("crops_embedded", enc.calls), "detections": summary["detections"],
                    "frames": summary["frames"], "s": time.perf_counter() - t0}
    return out


def synthetic_rows(args, settings: dict) -> dict:
    from trackreid import TrackerConfig

    out = {}
    for policy in POLICIES:
        counts: dict = {}
        res = tracker_quality.evaluate({"ours": "ours"}, args.seeds, 40, 400, 0.3,
                                       TrackerConfig(**{**settings, "embed_policy": policy}), False, counts)
        c = res["ours"]["COMBINED"]
        out[("synthetic association", policy)] = {
            "HOTA": 100 * c["HOTA"], "IDF1": 100 * c["IDF1"], "IDSW": c["IDSW"], "crops": counts["crops"],
            "detections": counts["detections"], "frames": 400 * len(args.seeds)}
    return out


def reentry_rows(args, settings: dict) -> dict:
    from trackreid import TrackerConfig
    from trackreid.evaluation.mot import evaluate_mot_arrays
    from trackreid.reid.thresholds import stored_thresholds
    from trackreid.synthetic import SceneConfig, generate_scene, load_sprites

    sprites = load_sprites(args.sprites)
    base = stored_thresholds(args.weights).tracker_settings()
    scenes = {s: generate_scene(SceneConfig(num_people=12, num_frames=600, seed=s, reentry=True, sprites=sprites))
              for s in args.seeds}
    per_frame = {s: tracker_quality.scene_embeddings(sc, args.weights, Path(args.reentry_cache),
                                                     f"{Path(args.weights).stem}-reentry-p12-f600-s{s}")
                 for s, sc in scenes.items()}
    out = {}
    for policy in POLICIES:
        counts: dict = {}
        cfg = TrackerConfig(**{**base, **settings, "embed_policy": policy})
        seqs = {}
        for s, sc in scenes.items():
            _, written = tracker_quality.run_with_embeddings("ours", sc, per_frame[s], cfg, counts)
            seqs[f"SYN-{s:02d}"] = (sc.gt, written)
        c = evaluate_mot_arrays(seqs)["COMBINED"]
        out[("re-entry (MOT file)", policy)] = {
            "HOTA": 100 * c["HOTA"], "IDF1": 100 * c["IDF1"], "IDSW": c["IDSW"], "crops": counts["crops"],
            "detections": counts["detections"], "frames": 600 * len(args.seeds)}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", choices=("mot17", "synthetic", "reentry"),
                   default=["mot17", "synthetic", "reentry"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--cache", default="/tmp/trackreid_real_mot", help="real_mot.py's cache of detections/embeddings")
    p.add_argument("--sprites", default="/tmp/trk_sprites",
                   help="sprite set for the re-entry rows (trackreid-synth sprites DIR --from ../shared/data/mot17-mini)")
    p.add_argument("--weights", default="osnet_x0_25_msmt17", help="encoder weights of the re-entry embeddings")
    p.add_argument("--reentry-cache", default="/tmp/trackreid_reentry_emb")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a TrackerConfig setting")
    args = p.parse_args(argv)
    import yaml

    settings = {}
    for item in args.set:
        key, _, value = item.partition("=")
        settings[key] = yaml.safe_load(value)
    rows: dict = {}
    if "mot17" in args.only:
        if real_mot.SEQ_DIR.is_dir():
            rows.update(mot17_rows(args, settings))
        else:
            print(f"(no {real_mot.SEQ_DIR}: MOT17 rows skipped)")
    if "synthetic" in args.only:
        rows.update(synthetic_rows(args, settings))
    if "reentry" in args.only:
        if Path(args.sprites).is_dir():
            rows.update(reentry_rows(args, settings))
        else:
            print(f"(no sprite set at {args.sprites}: re-entry rows skipped; build one with trackreid-synth sprites)")
    print(f"\n{'benchmark':<28}{'policy':<11}{'HOTA':>7}{'IDF1':>7}{'IDSW':>6}{'crops/frame':>13}{'of dets':>9}")
    for (bench, policy), r in rows.items():
        print(f"{bench:<28}{policy:<11}{r['HOTA']:7.2f}{r['IDF1']:7.2f}{r['IDSW']:6d}"
              f"{r['crops'] / max(r['frames'], 1):13.2f}{100 * r['crops'] / max(r['detections'], 1):8.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
