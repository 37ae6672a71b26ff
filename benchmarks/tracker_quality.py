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
"""
from __future__ import annotations

import argparse
import logging
import time

import numpy as np

from trackreid import Tracker, TrackerConfig

DIM = 128


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


def run_tracker(kind: str, scene, frames: int, noise: float, config: TrackerConfig | None = None) -> np.ndarray:
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
            out = tracker.update(dets, embeddings=scene.embeddings_at(t, dim=DIM, noise=noise))
        elif kind == "ours-motion":
            out = tracker.update(dets)
        else:
            if kind == "botsort":
                feed.embeddings = scene.embeddings_at(t, dim=DIM, noise=noise)
            out = tracker.update(dets, img)
        if len(out):
            rows.append(tracks_to_mot_rows(t, out))
    return np.concatenate(rows) if rows else np.empty((0, 10))


def evaluate(kinds, seeds, people, frames, noise, config=None, verbose=True):
    from trackreid.evaluation.mot import evaluate_mot_arrays
    from trackreid.synthetic import SceneConfig, generate_scene

    scenes = {f"SYN-{s:02d}": generate_scene(SceneConfig(num_people=people, num_frames=frames, seed=s))
              for s in seeds}
    results = {}
    for label, kind in kinds.items():
        t0 = time.perf_counter()
        seqs = {name: (sc.gt, run_tracker(kind, sc, frames, noise, config)) for name, sc in scenes.items()}
        results[label] = evaluate_mot_arrays(seqs)
        if verbose:
            print(f"  {label}: {time.perf_counter() - t0:.1f}s", flush=True)
    return results


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--people", type=int, default=40, help="identities per scene (about a third in view at once)")
    p.add_argument("--frames", type=int, default=400)
    p.add_argument("--noise", type=float, default=0.3, help="embedding noise (scene.embeddings_at)")
    p.add_argument("--only", nargs="+", choices=sorted(set(TRACKERS.values())), help="run only these trackers")
    args = p.parse_args(argv)
    kinds = {k: v for k, v in TRACKERS.items() if not args.only or v in args.only}
    print(f"synthetic scenes: seeds {args.seeds}, {args.people} people, {args.frames} frames, "
          f"{DIM}-d embeddings with noise {args.noise}")
    results = evaluate(kinds, args.seeds, args.people, args.frames, args.noise)
    names = [n for n in next(iter(results.values())) if n != "COMBINED"]
    print()
    print(f"{'tracker':<24} | {'HOTA':>6} | {'IDF1':>6} | {'MOTA':>6} | {'IDSW':>5} | {'IDs':>4} | per-seed IDF1")
    print("-" * 100)
    for label, res in results.items():
        c = res["COMBINED"]
        per_seed = " ".join(f"{100 * res[n]['IDF1']:.1f}" for n in names)
        print(f"{label:<24} | {100 * c['HOTA']:6.2f} | {100 * c['IDF1']:6.2f} | {100 * c['MOTA']:6.2f} | "
              f"{c['IDSW']:5d} | {c['Res_ids']:4d} | {per_seed}")
    print(f"(ground truth: {sum(results[next(iter(results))][n]['GT_ids'] for n in names)} identities)")


if __name__ == "__main__":
    main()
