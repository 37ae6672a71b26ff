"""Real footage, every tracker on the same detections and the same embeddings: MOT17-09 (first half, 262 frames,
1920x1080, static camera; ``../shared/data/mot17-09-half``, or ``$TRACKREID_SHARED_DATA/mot17-09-half``), scored
by TrackEval (``trackreid.evaluation.mot``), one table per detection set.

    python benchmarks/real_mot.py                               # both sets, every tracker (a few minutes, 2 cores)
    python benchmarks/real_mot.py --sets public                 # the public detections only
    python benchmarks/real_mot.py --only trackreid botsort ul-botsort --results /tmp/real_mot_runs

Detection sets:

* ``public``: the sequence's own ``det/det.txt`` (public Faster R-CNN detections).
* ``yolo``: ``detectors/yolov8n_int8_openvino_model`` run once over the frames at conf 0.1 through trackreid's own
  detector loading (``build_models``), cached as a MOT ``det.txt`` (boxes rounded to 0.01 px) that every row
  reads, the trackreid CLI included.

Embeddings: trackreid's default encoder (``build_models(TrackingOptions(detector=det.txt)).encoder``: OSNet x0.25
MSMT17, the runtime trackreid picks on this device), run once on every detection row of each set, cached under
``--cache``; every peer that uses appearance gets exactly these (L2-normalised, 512-d).

Rows (the peers get every detection scoring >= 0.1 with its embedding, and apply their own thresholds; the
thresholds below are their shipped defaults as of BoxMOT 25.0.0 / Ultralytics 8.4):

* ``trackreid``: the CLI exactly as a user runs it, ``trackreid SEQ --detector det.txt --seq-name MOT17-09-FRCNN
  --no-video --quiet --output DIR`` (a subprocess). It computes its own embeddings with the same default encoder
  and applies the CLI's default ``--conf 0.25`` to the det.txt rows, then its tracker's own thresholds (stored with
  the encoder's weights). The MOT file it writes (IDs final, gaps <= 30 frames interpolated) is the result.
* ``trackreid, memory off``: the same plus ``--tracker-config`` of a YAML holding ``memory: false``.
* ``trackreid, motion only``: the same plus ``--reid none``.
* BoxMOT trackers, each built by ``boxmot.create_tracker(TrackerSpec(name))``, i.e. from BoxMOT's registered runtime
  defaults (``boxmot/configs/trackers/<name>.yaml``, what ``boxmot track`` / ``boxmot eval`` use), fed
  ``Detections`` carrying our embeddings (BoxMOT's own way to pass precomputed embeddings; no ReID network is
  loaded) and the real frame (``cv2.imread``). Camera-motion compensation is switched off wherever the tracker has
  an option for it (static camera): BotSort, BoostTrack, OccluBoost ``use_cmc=False``; DeepOcSort
  ``cmc_off=True``; HybridSort ``cmc_method=None``. StrongSort has no such option: its ECC compensation stays on.

  - BotSort (ReID): track_high_thresh 0.63, track_low_thresh 0.10, new_track_thresh 0.62, match_thresh 0.77,
    proximity_thresh 0.61, appearance_thresh 0.62, track_buffer 40.
  - BoostTrack (ReID, BoostTrack++ options on): det_thresh 0.6, iou_threshold 0.3, min_hits 3, max_age 60.
  - OccluBoost (ReID): det_thresh 0.57, track_low_thresh 0.045, new_track_thresh 0.71, min_hits 1, max_age 146.
  - StrongSort (ReID): min_conf 0.6, max_cos_dist 0.4, max_iou_dist 0.7, n_init 3, max_age 30.
  - DeepOcSort (ReID): det_thresh 0.5, iou_threshold 0.3, w_association_emb 0.75, min_hits 3, max_age 30.
  - HybridSort (ReID): det_thresh 0.39, track_thresh 0.32, low_thresh 0.1 (use_byte off), min_hits 1, max_age 230.
  - ByteTrack (motion): min_conf 0.1, track_thresh 0.6, match_thresh 0.9, track_buffer 30.
  - OcSort (motion): min_conf 0.1, det_thresh 0.6, min_hits 3, max_age 30.
* Ultralytics trackers, each built as ``model.track()`` builds it: ``IterableSimpleNamespace(**YAML.load(
  cfg/trackers/<name>.yaml))``, fed ``Boxes`` of the detections (as ``model.track()`` does, conf 0.1), with
  ``with_reid=True`` and ``model="auto"``, so the tracker takes each detection's feature from ``update(...,
  feats=)``: our embeddings (no ReID network is loaded), and ``gmc_method: none`` (static camera).

  - BoT-SORT (ReID): track_high_thresh 0.25, track_low_thresh 0.1, new_track_thresh 0.25, match_thresh 0.8,
    fuse_score on, proximity_thresh 0.5, appearance_thresh 0.8, track_buffer 30.
  - TrackTrack (ReID): track_high_thresh 0.6, track_low_thresh 0.25, new_track_thresh 0.7, match_thresh 0.7,
    iou_weight 0.5, reid_weight 0.5, tai_thr 0.55, min_track_len 3, track_buffer 30. Its recovered detections
    (``dets_del``, from the detector's pre-NMS output inside an Ultralytics predictor) do not exist for a det.txt:
    none are given. Skipped, with a line saying so, where the installed Ultralytics has no TrackTrack.

Seconds (printed under each table, machine-dependent): a trackreid row is its whole CLI run (start-up, model
loading, frame decoding, ReID, tracking, writing); a peer row is its ``update`` calls only (detections, embeddings
and decoded frames are given).

Note: BoxMOT's constructor defaults (``BotSort(use_cmc=False)``, as ``tracker_quality.py`` builds it) are not its
registered runtime defaults used here; with them BotSort scores HOTA 52.17 / IDF1 60.90 on the public set (55.13 /
66.89 here).
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRACKREID_SHARED_DATA", ROOT.parent / "shared" / "data"))
SEQ = "MOT17-09-FRCNN"
GT_ROOT = DATA / "mot17-09-half"
SEQ_DIR = GT_ROOT / SEQ
YOLO_DIR = DATA / "detectors" / "yolov8n_int8_openvino_model"
YOLO_CONF = 0.1
PEER_MIN_SCORE = 0.1   # what every peer receives; each applies its own thresholds on top
SETS = ("public", "yolo")

# key -> (label, kind, settings)
TRACKERS: dict[str, tuple[str, str, dict]] = {
    "trackreid": ("trackreid", "cli", {}),
    "trackreid-memory-off": ("trackreid, memory off", "cli", {"memory_off": True}),
    "trackreid-motion": ("trackreid, motion only", "cli", {"reid_none": True}),
    "botsort": ("BoxMOT BotSort", "boxmot", {"use_cmc": False}),
    "boosttrack": ("BoxMOT BoostTrack", "boxmot", {"use_cmc": False}),
    "occluboost": ("BoxMOT OccluBoost", "boxmot", {"use_cmc": False}),
    "strongsort": ("BoxMOT StrongSort", "boxmot", {}),   # no option to switch its ECC compensation off
    "deepocsort": ("BoxMOT DeepOcSort", "boxmot", {"cmc_off": True}),
    "hybridsort": ("BoxMOT HybridSort", "boxmot", {"cmc_method": None}),
    "bytetrack": ("BoxMOT ByteTrack", "boxmot", {}),
    "ocsort": ("BoxMOT OcSort", "boxmot", {}),
    "ul-botsort": ("Ultralytics BoT-SORT (ReID)", "ultralytics", {"cfg": "botsort"}),
    "ul-tracktrack": ("Ultralytics TrackTrack (ReID)", "ultralytics", {"cfg": "tracktrack"}),
}


class Skip(Exception):
    """A tracker cannot run here; the message says why."""


# --------------------------------------------------------------------------------------------------- inputs


def frame_paths() -> list[Path]:
    paths = sorted((SEQ_DIR / "img1").glob("*.jpg"))
    if not paths:
        raise SystemExit(f"real_mot: no frames in {SEQ_DIR / 'img1'}")
    return paths


def read_detections(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A MOT det.txt as (frames (K,) int, dets (K, 6) float32 x1,y1,x2,y2,score,cls), sorted by frame (file order
    within a frame), scores clipped to [0, 1] (as trackreid reads it); rows without area are dropped."""
    from trackreid.io.mot import read_mot

    rows = read_mot(path)
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    dets = np.zeros((len(rows), 6), np.float32)
    dets[:, 0], dets[:, 1] = rows[:, 2], rows[:, 3]
    dets[:, 2], dets[:, 3] = rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]
    dets[:, 4] = np.clip(rows[:, 6], 0.0, 1.0)
    keep = (dets[:, 2] > dets[:, 0]) & (dets[:, 3] > dets[:, 1])
    frames = rows[keep, 0].astype(np.int64)
    dets = dets[keep]
    return frames, dets


def yolo_det_file(cache: Path, paths: list[Path]) -> Path:
    """YOLOv8n INT8 (OpenVINO) detections of every frame at conf 0.1, run once and cached as a MOT det.txt."""
    stat = sorted((p.name, p.stat().st_size) for p in YOLO_DIR.iterdir() if p.is_file())
    key = hashlib.sha1(repr((str(YOLO_DIR.resolve()), stat, YOLO_CONF, len(paths))).encode()).hexdigest()[:10]
    out = cache / f"yolo-{YOLO_DIR.name}-conf{YOLO_CONF}-{key}" / "det.txt"
    if out.is_file():
        log(f"[yolo] detections: cached ({out})")
        return out
    import cv2

    from trackreid.pipeline.models import build_models
    from trackreid.pipeline.options import TrackingOptions

    t0 = time.perf_counter()
    detector = build_models(TrackingOptions(detector=str(YOLO_DIR), conf=YOLO_CONF, device="cpu")).detector
    lines = []
    for i, p in enumerate(paths):
        d = np.asarray(detector(cv2.imread(str(p)), i), np.float64).reshape(-1, 6)
        for x1, y1, x2, y2, s, _ in d:
            lines.append(f"{i + 1},-1,{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{s:.5f},-1,-1,-1\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    tmp.write_text("".join(lines))
    tmp.replace(out)
    log(f"[yolo] detections: {len(lines)} rows over {len(paths)} frames in {time.perf_counter() - t0:.1f} s ({out})")
    return out


def encoder_fingerprint() -> str:
    """What decides the default encoder's output: trackreid's version, the default reid settings, the device they
    resolve to here, and the bundled weights' files (sizes and modification times)."""
    import trackreid
    from trackreid.pipeline.models import resolve_device
    from trackreid.pipeline.options import TrackingOptions

    o = TrackingOptions()
    bundled = Path(trackreid.__file__).parent / "reid" / "bundled"
    files = sorted((str(p.relative_to(bundled)), p.stat().st_size, int(p.stat().st_mtime))
                   for p in bundled.rglob("*") if p.is_file()) if bundled.is_dir() else []
    return repr((trackreid.__version__, o.reid, o.reid_weights, o.reid_runtime, resolve_device(o.device), o.half,
                 files))


def embeddings(cache: Path, name: str, det_file: Path, frames: np.ndarray, dets: np.ndarray,
               paths: list[Path]) -> np.ndarray:
    """(K, 512) embeddings of every row of ``dets`` by the default encoder, computed frame by frame once and cached
    (npz keyed by the detections and the encoder)."""
    key = hashlib.sha1(dets.tobytes() + frames.tobytes() + encoder_fingerprint().encode()).hexdigest()[:12]
    path = cache / f"emb-{name}-{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            emb = z["emb"]
        if len(emb) == len(dets):
            log(f"[{name}] embeddings: cached ({path})")
            return emb
    import cv2

    from trackreid.pipeline.models import build_models
    from trackreid.pipeline.options import TrackingOptions

    t0 = time.perf_counter()
    enc = build_models(TrackingOptions(detector=str(det_file))).encoder   # the default encoder, as a run builds it
    emb = np.zeros((len(dets), int(enc.dim)), np.float32)
    bounds = np.searchsorted(frames, np.arange(1, len(paths) + 2))
    for t in range(1, len(paths) + 1):
        lo, hi = bounds[t - 1], bounds[t]
        if hi > lo:
            e = np.asarray(enc(cv2.imread(str(paths[t - 1])), np.ascontiguousarray(dets[lo:hi, :4])), np.float32)
            emb[lo:hi] = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part.npz")
    np.savez(tmp, emb=emb)
    tmp.replace(path)
    log(f"[{name}] embeddings: {len(dets)} rows in {time.perf_counter() - t0:.1f} s "
        f"({getattr(enc, 'weights_report', '')}, runtime {getattr(enc, 'runtime', '?')}) -> {path}")
    return emb


# --------------------------------------------------------------------------------------------------- trackers


def run_cli(key: str, settings: dict, det_file: Path, out_dir: Path) -> Path:
    """trackreid's CLI on the sequence folder, exactly as a user runs it; returns the folder holding SEQ.txt."""
    cmd = [sys.executable, "-m", "trackreid.cli.track", str(SEQ_DIR), "--detector", str(det_file),
           "--seq-name", SEQ, "--no-video", "--quiet", "--output", str(out_dir)]
    if settings.get("memory_off"):
        cfg = out_dir.parent / f"{key}-tracker.yaml"
        cfg.write_text("memory: false\n")
        cmd += ["--tracker-config", str(cfg)]
    if settings.get("reid_none"):
        cmd += ["--reid", "none"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise Skip(f"the CLI exited with {proc.returncode}: {' | '.join(tail)}")
    if not (out_dir / f"{SEQ}.txt").is_file():
        raise Skip(f"the CLI wrote no {SEQ}.txt in {out_dir}")
    return out_dir


class BoxmotRunner:
    """A BoxMOT tracker from its registered defaults (plus the CMC switch), fed Detections with our embeddings."""

    def __init__(self, name: str, overrides: dict):
        if importlib.util.find_spec("boxmot") is None:
            raise Skip("boxmot is not installed")
        from boxmot.trackers import TrackerSpec, create_tracker
        from boxmot.utils import logger as boxmot_logger

        boxmot_logger.setLevel(logging.WARNING)
        logging.getLogger("boxmot").setLevel(logging.WARNING)
        try:
            self.tracker = create_tracker(TrackerSpec(name=name, options=tuple(sorted(overrides.items()))))
        except Exception as exc:   # an unknown tracker or option in another BoxMOT version
            raise Skip(f"BoxMOT cannot build {name} with {overrides}: {type(exc).__name__}: {exc}") from None
        self.use_emb = bool(self.tracker.requirements.embeddings)
        self.rows: list[np.ndarray] = []

    def step(self, t: int, dets: np.ndarray, emb: np.ndarray, img: np.ndarray) -> None:
        import torch
        from boxmot.structures import Boxes, Detections

        from trackreid.io.mot import tracks_to_mot_rows

        d = Detections(geometry=Boxes(torch.from_numpy(np.ascontiguousarray(dets[:, :4]))),
                       scores=torch.from_numpy(np.ascontiguousarray(dets[:, 4])),
                       class_ids=torch.zeros(len(dets), dtype=torch.int64), sample_id=f"{SEQ}:{t}",
                       embeddings=torch.from_numpy(np.ascontiguousarray(emb)) if self.use_emb else None)
        out = self.tracker.update(d, img)
        if len(out):
            arr = np.column_stack([out.geometry.values.numpy().astype(np.float64),
                                   out.track_ids.numpy() + 1,                 # BoxMOT counts IDs from 0
                                   out.scores.numpy()])
            self.rows.append(tracks_to_mot_rows(t, arr))


class UltralyticsRunner:
    """An Ultralytics tracker from its YAML defaults, ReID on with our embeddings as its native features, no GMC."""

    def __init__(self, cfg_name: str, shape: tuple[int, int]):
        if importlib.util.find_spec("ultralytics") is None:
            raise Skip("ultralytics is not installed")
        import ultralytics
        from ultralytics.trackers.track import TRACKER_MAP
        from ultralytics.utils import YAML, IterableSimpleNamespace

        cfg_path = Path(ultralytics.__file__).parent / "cfg" / "trackers" / f"{cfg_name}.yaml"
        if cfg_name not in TRACKER_MAP or not cfg_path.is_file():
            raise Skip(f"Ultralytics {ultralytics.__version__} has no {cfg_name} tracker "
                       f"(ultralytics/trackers/ offers {', '.join(sorted(TRACKER_MAP))})")
        cfg = IterableSimpleNamespace(**YAML.load(cfg_path))
        cfg.with_reid = True      # features come from update(feats=...): our embeddings
        cfg.model = "auto"
        cfg.gmc_method = "none"   # static camera
        cfg.device = "cpu"
        self.tracker = TRACKER_MAP[cfg.tracker_type](args=cfg)
        self.shape = shape
        self.rows: list[np.ndarray] = []

    def step(self, t: int, dets: np.ndarray, emb: np.ndarray, img: np.ndarray) -> None:
        from ultralytics.engine.results import Boxes

        from trackreid.io.mot import tracks_to_mot_rows

        boxes = Boxes(np.ascontiguousarray(dets, np.float32), self.shape)
        out = self.tracker.update(boxes, img, feats=emb if len(emb) else None)
        if len(out):
            self.rows.append(tracks_to_mot_rows(t, out))


# --------------------------------------------------------------------------------------------------- one set


def run_set(name: str, det_file: Path, keys: list[str], paths: list[Path], args, out_root: Path) -> dict:
    """Every selected tracker on one detection set; returns {key: (metrics | None, seconds, skip reason)}."""
    import cv2

    from trackreid.evaluation.mot import evaluate_mot
    from trackreid.io.mot import write_mot

    frames, dets = read_detections(det_file)
    results: dict[str, tuple] = {}
    set_dir = out_root / name
    set_dir.mkdir(parents=True, exist_ok=True)

    def score(res_dir: Path) -> dict:
        return evaluate_mot(GT_ROOT, res_dir, sequences=[SEQ])["COMBINED"]

    for key in [k for k in keys if TRACKERS[k][1] == "cli"]:
        out_dir = set_dir / key
        shutil.rmtree(out_dir, ignore_errors=True)
        t0 = time.perf_counter()
        try:
            run_cli(key, TRACKERS[key][2], det_file, out_dir)
        except Skip as exc:
            results[key] = (None, 0.0, str(exc))
            log(f"[{name}] {TRACKERS[key][0]}: skipped: {exc}")
            continue
        sec = time.perf_counter() - t0
        results[key] = (score(out_dir), sec, "")
        log(f"[{name}] {TRACKERS[key][0]}: {sec:.1f} s")

    peer_keys = [k for k in keys if TRACKERS[k][1] != "cli"]
    if peer_keys:
        emb = embeddings(Path(args.cache), name, det_file, frames, dets, paths)
        keep = dets[:, 4] >= PEER_MIN_SCORE
        frames_p, dets_p, emb_p = frames[keep], dets[keep], emb[keep]
        first = cv2.imread(str(paths[0]))
        shape = first.shape[:2]
        runners, secs = {}, {}
        for key in peer_keys:
            label, kind, settings = TRACKERS[key]
            try:
                if kind == "boxmot":
                    runners[key] = BoxmotRunner(key, settings)
                else:
                    runners[key] = UltralyticsRunner(settings["cfg"], shape)
                secs[key] = 0.0
            except Skip as exc:
                results[key] = (None, 0.0, str(exc))
                log(f"[{name}] {label}: skipped: {exc}")
        bounds = np.searchsorted(frames_p, np.arange(1, len(paths) + 2))
        t_all = time.perf_counter()
        for t in range(1, len(paths) + 1):   # all peers in step: each frame is decoded once
            img = first if t == 1 else cv2.imread(str(paths[t - 1]))
            lo, hi = bounds[t - 1], bounds[t]
            for key in list(runners):
                t0 = time.perf_counter()
                try:
                    runners[key].step(t, dets_p[lo:hi], emb_p[lo:hi], img)
                except Exception as exc:   # report, never fake: this row is dropped from the table
                    results[key] = (None, 0.0, f"failed at frame {t}: {type(exc).__name__}: {exc}")
                    log(f"[{name}] {TRACKERS[key][0]}: {results[key][2]}")
                    del runners[key]
                    continue
                secs[key] += time.perf_counter() - t0
        log(f"[{name}] peers: {len(runners)} trackers over {len(paths)} frames in "
            f"{time.perf_counter() - t_all:.1f} s (decoding included)")
        for key, runner in runners.items():
            res_dir = set_dir / key
            res_dir.mkdir(parents=True, exist_ok=True)
            rows = np.concatenate(runner.rows) if runner.rows else np.empty((0, 10))
            write_mot(res_dir / f"{SEQ}.txt", rows)
            results[key] = (score(res_dir), secs[key], "")
    facts = {"rows": len(dets), "peer_rows": int((dets[:, 4] >= PEER_MIN_SCORE).sum()),
             "cli_rows": int((dets[:, 4] >= 0.25).sum())}
    return {"results": results, "facts": facts}


# --------------------------------------------------------------------------------------------------- output


def print_table(name: str, out: dict, keys: list[str], n_frames: int, enc_desc: str) -> None:
    f = out["facts"]
    what = ("public Faster R-CNN det.txt" if name == "public"
            else f"YOLOv8n INT8 OpenVINO ({YOLO_DIR.name}) at conf {YOLO_CONF}")
    print(f"\n### {name}: {SEQ} first half, {n_frames} frames 1920x1080, static camera; detections: {what}, "
          f"{f['rows']} rows ({f['peer_rows']} scoring >= {PEER_MIN_SCORE}: what the peers get; {f['cli_rows']} "
          f">= 0.25: what the trackreid CLI keeps at its default --conf); embeddings: {enc_desc}, the same for "
          "every appearance peer\n")
    print("| tracker | HOTA | AssA | IDF1 | MOTA | IDSW | FP | FN | precision |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    timings, skipped = [], []
    for key in keys:
        label = TRACKERS[key][0]
        m, sec, why = out["results"].get(key, (None, 0.0, "not run"))
        if m is None:
            skipped.append(f"{label}: {why}")
            continue
        print(f"| {label} | {100 * m['HOTA']:.2f} | {100 * m['AssA']:.2f} | {100 * m['IDF1']:.2f} | "
              f"{100 * m['MOTA']:.2f} | {int(m['IDSW'])} | {int(m['FP'])} | {int(m['FN'])} | "
              f"{100 * m['Precision']:.2f} |")
        timings.append(f"{label} {sec:.1f}")
    print(f"\nseconds (this machine; trackreid rows: the whole CLI run; peers: their update calls): "
          f"{', '.join(timings)}")
    for line in skipped:
        print(f"skipped: {line}")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS), help="detection sets (default: both)")
    p.add_argument("--only", nargs="+", choices=list(TRACKERS), metavar="NAME",
                   help=f"run only these trackers: {', '.join(TRACKERS)}")
    p.add_argument("--cache", default="/tmp/trackreid_real_mot", help="cache of YOLO detections and embeddings")
    p.add_argument("--results", default=None,
                   help="keep each tracker's MOT file under DIR/<set>/<tracker>/ (default: a temporary folder)")
    args = p.parse_args(argv)
    if not (SEQ_DIR / "gt" / "gt.txt").is_file() or not (SEQ_DIR / "img1").is_dir():
        print(f"real_mot: {SEQ_DIR} not found (needs the shared data: ../shared/data or $TRACKREID_SHARED_DATA)",
              file=sys.stderr)
        return 1
    t_start = time.perf_counter()
    keys = [k for k in TRACKERS if not args.only or k in args.only]
    paths = frame_paths()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    det_files = {}
    for name in args.sets:
        if name == "public":
            det_files[name] = SEQ_DIR / "det" / "det.txt"
            continue
        if not YOLO_DIR.is_dir():
            print(f"real_mot: {YOLO_DIR} not found: the yolo set is skipped", file=sys.stderr)
            continue
        try:
            det_files[name] = yolo_det_file(cache, paths)
        except Exception as exc:   # e.g. openvino missing
            print(f"real_mot: the YOLO detector cannot run ({type(exc).__name__}: {exc}): the yolo set is skipped",
                  file=sys.stderr)
    if not det_files:
        return 1
    enc_desc = "trackreid's default encoder (OSNet x0.25 MSMT17, 512-d, L2-normalised) on every detection row"
    with tempfile.TemporaryDirectory(prefix="real_mot_") as tmp:
        out_root = Path(args.results) if args.results else Path(tmp)
        outs = {name: run_set(name, det, keys, paths, args, out_root) for name, det in det_files.items()}
    for name, out in outs.items():
        print_table(name, out, keys, len(paths), enc_desc)
    print(f"\ntotal: {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
