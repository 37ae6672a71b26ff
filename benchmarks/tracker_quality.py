"""Association quality on synthetic scenes with crossings and occlusion: ours vs BoxMOT, same detections.

Each scene (``trackreid.synthetic``) has >= 20 people walking for >= 300 frames, crossing and hiding each other;
its detector model misses occluded people, jitters boxes and adds false positives. Every tracker receives exactly
the same detections per frame; trackers that use appearance receive exactly the same embeddings: the renderer's
identity appearance code plus noise that grows with occlusion (``scene.embeddings_at``), so the benchmark isolates
association quality from ReID-model quality. BotSort gets them through a stub ``reid_model`` (no network is
loaded) and runs without camera-motion compensation (the scenes have a static camera), like ours.

Metrics (TrackEval through ``trackreid.evaluation.mot``): HOTA, IDF1, MOTA (percent), ID switches, summed over
all seeds ("COMBINED").

    python benchmarks/tracker_quality.py                          # 4 seeds x 40 people x 400 frames
    python benchmarks/tracker_quality.py --seeds 0 1 --people 30 --frames 600 --noise 0.4

Re-entry table (identity memory): scenes where everyone leaves and comes back after 5-20 s, people drawn from real
person crops (``--sprites``, see ``trackreid-synth sprites``), embeddings computed by a real ReID encoder from the
rendered frames (``--weights``; ``none`` = an untrained network), the same embeddings for every tracker. Rows:
ours with the identity memory as a run's MOT file holds it (rows held until each track's ID is final,
``trackreid.io.deferred.FinalRows``: what a user gets), the same tracker's per-frame ``Tracker.update``
results, ours with ``memory: false``, BoxMOT BotSort (when installed) with the same embeddings and, with
``--own-encoders``, with its own default encoder (OSNet x0.25 MSMT17, its ONNX file, its own crops).
``--no-return`` runs the same on scenes where
nobody comes back (false-merge check). Embeddings are cached under ``--cache``.

    trackreid-synth sprites /tmp/trk_sprites --from ../shared/data/mot17-mini
    python benchmarks/tracker_quality.py --reentry --sprites /tmp/trk_sprites \
        --weights osnet_x0_25_market1501 --people 12 --frames 600
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import time
from pathlib import Path

import numpy as np

from trackreid import Tracker, TrackerConfig

DIM = 128
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


class EmbeddingFeed:
    """Stands in for BoxMOT's ReID model: returns the embeddings set for the current frame."""

    def __init__(self):
        self.embeddings: np.ndarray | None = None

    def get_features(self, boxes, img):
        if self.embeddings is None or len(self.embeddings) != len(boxes):
            raise RuntimeError("EmbeddingFeed: embeddings for this frame were not set or do not match the boxes")
        return self.embeddings


def make_boxmot(name: str, feed: EmbeddingFeed | None = None):
    """A BoxMOT tracker with its default settings; BotSort reads embeddings from ``feed`` and skips CMC."""
    from boxmot.utils import logger as boxmot_logger

    boxmot_logger.setLevel(logging.WARNING)
    if name == "botsort":
        from boxmot.trackers.box.botsort.tracker import BotSort

        return BotSort(reid_model=feed, use_cmc=False, use_embeddings=True)
    if name == "botsort-own":  # BoxMOT's own default encoder, OSNet x0.25 MSMT17 (its ONNX file), on the frames
        from boxmot.trackers.box.botsort.tracker import BotSort

        return BotSort(reid_weights=SHARED / "reid" / "osnet_x0_25_msmt17.onnx", device="cpu", half=False,
                       use_cmc=False, use_embeddings=True)
    if name == "bytetrack":
        from boxmot.trackers.box.bytetrack.tracker import ByteTrack

        return ByteTrack()
    if name == "ocsort":
        from boxmot.trackers.box.ocsort.tracker import OcSort

        return OcSort()
    raise ValueError(f"unknown BoxMOT tracker {name!r}")


TRACKERS = {
    "ours (appearance)": "ours",
    "ours (motion only)": "ours-motion",
    "BoxMOT BotSort (ReID)": "botsort",
    "BoxMOT ByteTrack": "bytetrack",
    "BoxMOT OcSort": "ocsort",
}


def step_marked(tracker: Tracker, dets: np.ndarray, emb: np.ndarray | None, frame=None, counts=None) -> np.ndarray:
    """One ``update`` as the pipeline makes it: only the rows ``tracker.detections`` marks (``embed_policy``) get
    their embeddings (rows of ``emb``, one per row of ``dets``); ``counts`` (a dict) adds up detections and crops."""
    d = tracker.detections(dets)
    if counts is not None:
        counts["detections"] = counts.get("detections", 0) + len(dets)
        counts["crops"] = counts.get("crops", 0) + int(d.embed.sum())
    return tracker.update(d, frame, embeddings=emb[d.embed_index] if emb is not None and d.embed.any() else None)


def run_tracker(kind: str, scene, frames: int, noise: float, config: TrackerConfig | None = None,
                counts: dict | None = None) -> np.ndarray:
    """Track the whole scene; returns MOT result rows."""
    from trackreid.io.mot import tracks_to_mot_rows

    cfg = config or TrackerConfig()
    h, w = scene.config.height, scene.config.width
    img = np.zeros((h, w, 3), np.uint8)
    feed = EmbeddingFeed()
    if kind == "ours":
        tracker = Tracker(cfg)
    elif kind == "ours-motion":
        tracker = Tracker(TrackerConfig(**{**cfg.to_dict(), "appearance_weight": 0.0}))
    else:
        tracker = make_boxmot(kind, feed)
    rows = []
    for t in range(1, frames + 1):
        dets = scene.dets_at(t)
        if kind == "ours":
            out = step_marked(tracker, dets, scene.embeddings_at(t, dim=DIM, noise=noise), counts=counts)
        elif kind == "ours-motion":
            out = tracker.update(dets)
        else:
            if kind == "botsort":
                feed.embeddings = scene.embeddings_at(t, dim=DIM, noise=noise)
            out = tracker.update(dets, img)
        if len(out):
            rows.append(tracks_to_mot_rows(t, out))
    return np.concatenate(rows) if rows else np.empty((0, 10))


def evaluate(kinds, seeds, people, frames, noise, config=None, verbose=True, counts=None):
    from trackreid.evaluation.mot import evaluate_mot_arrays
    from trackreid.synthetic import SceneConfig, generate_scene

    scenes = {f"SYN-{s:02d}": generate_scene(SceneConfig(num_people=people, num_frames=frames, seed=s))
              for s in seeds}
    results = {}
    for label, kind in kinds.items():
        t0 = time.perf_counter()
        seqs = {name: (sc.gt, run_tracker(kind, sc, frames, noise, config, counts)) for name, sc in scenes.items()}
        results[label] = evaluate_mot_arrays(seqs)
        if verbose:
            print(f"  {label}: {time.perf_counter() - t0:.1f}s", flush=True)
    return results


def scene_embeddings(scene, weights: str, cache_dir: Path, key: str) -> list[np.ndarray]:
    """Per-frame embeddings of every detection, computed by the OSNet x0.25 encoder from the rendered frames
    (``weights``: a checkpoint path or ``none``); cached as ``cache_dir/key.npz``."""
    n_frames = scene.config.num_frames
    boxes = [scene.dets_at(t) for t in range(1, n_frames + 1)]
    digest = hashlib.sha1(np.concatenate(boxes).tobytes()).hexdigest()[:12]   # a changed scene is re-embedded
    path = cache_dir / f"{key}-{digest}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            emb, counts = z["emb"], z["counts"]
        return np.split(emb, np.cumsum(counts)[:-1])
    import warnings

    from trackreid import build_encoder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an untrained network warns loudly; that is the point of that run
        enc = build_encoder("osnet_x0_25", weights=weights, device="cpu")   # "none": random initialisation
    per_frame = []
    for t in range(1, n_frames + 1):
        dets = boxes[t - 1]
        if len(dets):
            e = np.asarray(enc(scene.render(t), np.ascontiguousarray(dets[:, :4])), np.float32)
        else:
            e = np.empty((0, enc.dim), np.float32)
        per_frame.append(e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12))
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(path, emb=np.concatenate(per_frame), counts=np.array([len(e) for e in per_frame]))
    return per_frame


class MotRows:
    """Stands in for a run's output files: collects the MOT rows the pipeline would write."""

    def __init__(self):
        self.rows: list[np.ndarray] = []

    def write(self, frame_id, tracks, annotated=None, extra=None, global_ids=None, reentries=None) -> None:
        from trackreid.io.mot import tracks_to_mot_rows

        if len(tracks):
            self.rows.append(tracks_to_mot_rows(frame_id, tracks))

    def write_image(self, annotated) -> None:
        pass

    def close(self, summary=None) -> None:
        pass

    def array(self) -> np.ndarray:
        return np.concatenate(self.rows) if self.rows else np.empty((0, 10))


def run_with_embeddings(kind: str, scene, per_frame, config: TrackerConfig | None = None, counts: dict | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Track ``scene`` with precomputed per-frame embeddings: ``ours`` (``config``) or ``botsort``. Returns the MOT
    rows of each frame's ``update`` and the rows a pipeline run writes to its MOT file (for ours, held until each
    track's ID is final, ``trackreid.io.deferred.FinalRows``; the same rows for BotSort)."""
    from trackreid.io.deferred import FinalRows

    feed = EmbeddingFeed()
    tracker = Tracker(config or TrackerConfig()) if kind == "ours" else make_boxmot(kind, feed)
    blank = np.zeros((scene.config.height, scene.config.width, 3), np.uint8)
    per_update, written = MotRows(), MotRows()
    outputs = FinalRows.for_tracker(written, tracker)
    for t in range(1, scene.config.num_frames + 1):
        dets = scene.dets_at(t)
        if kind == "ours":
            out = step_marked(tracker, dets, per_frame[t - 1] if len(dets) else None, blank, counts)
        elif kind == "botsort-own":
            out = tracker.update(dets, scene.render(t))
        else:
            feed.embeddings = per_frame[t - 1]
            out = tracker.update(dets, blank)
        out = np.asarray(out, np.float64).reshape(-1, 8)
        per_update.write(t, out)
        outputs.write(t, out)
    outputs.close()
    return per_update.array(), written.array()


def reentry_table(args) -> dict:
    """Identity memory on vs off vs BotSort on sprite scenes (with or without returns); prints the table."""
    from trackreid.evaluation.mot import evaluate_mot_arrays
    from trackreid.synthetic import SceneConfig, generate_scene, load_sprites

    sprites = load_sprites(args.sprites)
    tag = "none" if args.weights == "none" else Path(args.weights).stem
    base = tracker_settings(args)
    kinds = {"ours, memory (update)": ("ours", TrackerConfig(**base)),
             "ours, memory: false": ("ours", TrackerConfig(**{**base, "memory": False}))}
    if importlib.util.find_spec("boxmot") is not None:
        kinds["BoxMOT BotSort (ReID)"] = ("botsort", None)   # our embeddings
        if (SHARED / "reid" / "osnet_x0_25_msmt17.onnx").is_file() and args.own_encoders:
            kinds["BoxMOT BotSort (own ReID)"] = ("botsort-own", None)
    else:
        print("(boxmot is not installed: BotSort row skipped)")
    written_label = "ours, memory (MOT file)"   # what a run writes: rows held until each ID is final
    seqs = {written_label: {}, **{label: {} for label in kinds}}
    for seed in args.seeds:
        t0 = time.perf_counter()
        scene = generate_scene(SceneConfig(num_people=args.people, num_frames=args.frames, seed=seed,
                                           reentry=not args.no_return, sprites=sprites))
        key = f"{tag}-{'noreturn' if args.no_return else 'reentry'}-p{args.people}-f{args.frames}-s{seed}"
        per_frame = scene_embeddings(scene, args.weights, Path(args.cache), key)
        for label, (kind, cfg) in kinds.items():
            rows, written = run_with_embeddings(kind, scene, per_frame, cfg)
            seqs[label][f"SYN-{seed:02d}"] = (scene.gt, rows)
            if kind == "ours" and cfg.memory:
                seqs[written_label][f"SYN-{seed:02d}"] = (scene.gt, written)
        print(f"  seed {seed}: {time.perf_counter() - t0:.1f}s", flush=True)
    results = {label: evaluate_mot_arrays(s) for label, s in seqs.items()}
    what = "nobody returns" if args.no_return else "everyone leaves and returns after 5-20 s"
    print(f"\nsprite scenes ({what}): seeds {args.seeds}, {args.people} people, {args.frames} frames, "
          f"OSNet x0.25 embeddings from the rendered frames, weights: {tag}")
    print_table(results)
    return results


def tracker_settings(args) -> dict:
    """TrackerConfig keys for our rows: ``--set key=value`` on top of the thresholds stored with the re-entry
    table's encoder (as a run with that encoder uses them)."""
    import yaml

    from trackreid.reid.thresholds import stored_thresholds

    scale = stored_thresholds(args.weights) if (args.reentry or args.no_return) and args.weights != "none" else None
    out = scale.tracker_settings() if scale is not None else {}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in TrackerConfig.__dataclass_fields__ or not value:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE with a TrackerConfig key")
        out[key] = yaml.safe_load(value)
    return out


def print_table(results: dict) -> None:
    names = [n for n in next(iter(results.values())) if n != "COMBINED"]
    print(f"{'tracker':<26} | {'HOTA':>6} | {'IDF1':>6} | {'MOTA':>6} | {'IDSW':>5} | {'IDs':>4} | per-seed IDF1")
    print("-" * 102)
    for label, res in results.items():
        c = res["COMBINED"]
        per_seed = " ".join(f"{100 * res[n]['IDF1']:.1f}" for n in names)
        print(f"{label:<26} | {100 * c['HOTA']:6.2f} | {100 * c['IDF1']:6.2f} | {100 * c['MOTA']:6.2f} | "
              f"{c['IDSW']:5d} | {c['Res_ids']:4d} | {per_seed}")
    print(f"(ground truth: {sum(results[next(iter(results))][n]['GT_ids'] for n in names)} identities)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--people", type=int, default=40, help="identities per scene (about a third in view at once)")
    p.add_argument("--frames", type=int, default=400)
    p.add_argument("--noise", type=float, default=0.3, help="embedding noise (scene.embeddings_at)")
    p.add_argument("--only", nargs="+", choices=sorted(set(TRACKERS.values())), help="run only these trackers")
    p.add_argument("--reentry", action="store_true", help="the re-entry table (identity memory) instead")
    p.add_argument("--no-return", action="store_true", help="re-entry table on scenes where nobody comes back")
    p.add_argument("--sprites", help="sprite set for the re-entry table (Market-1501 layout)")
    p.add_argument("--weights", default="osnet_x0_25_msmt17",
                   help="OSNet x0.25 weights for the re-entry table (its stored thresholds apply; default: the "
                        "bundled default, in fp32); 'none' = untrained")
    p.add_argument("--cache", default="/tmp/trackreid_reentry_emb", help="embedding cache folder")
    p.add_argument("--own-encoders", action="store_true",
                   help="re-entry table: also BotSort with BoxMOT's own default encoder (osnet_x0_25_msmt17.onnx "
                        "from ../shared/data, its own crops and preprocessing, on the rendered frames)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a TrackerConfig setting for our rows (repeatable), e.g. --set memory_thresh=0.2")
    return p


def main(argv=None) -> None:
    p = build_parser()
    args = p.parse_args(argv)
    if args.reentry or args.no_return:
        if not args.sprites:
            p.error("--reentry/--no-return need --sprites DIR (build one with `trackreid-synth sprites`)")
        reentry_table(args)
        return
    kinds = {k: v for k, v in TRACKERS.items() if not args.only or v in args.only}
    print(f"synthetic scenes: seeds {args.seeds}, {args.people} people, {args.frames} frames, "
          f"{DIM}-d embeddings with noise {args.noise}")
    results = evaluate(kinds, args.seeds, args.people, args.frames, args.noise,
                       config=TrackerConfig(**tracker_settings(args)) if args.set else None)
    print()
    print_table(results)


if __name__ == "__main__":
    main()
