"""Track a source and keep crops of every identity, filed under the final IDs the run wrote.

Crops are cut while the run goes (the frame is in hand then), keyed by ``(frame, detection index)``; when the run
ends, its ``tracks.jsonl`` (the one ID log every output uses) gives each of them its final ID, and gives, frame by
frame, which identities were in view together: certainly different people.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from trackreid.io.sinks import read_jsonl
from trackreid.tracking.matching import covered_fraction

from .config import AdaptConfig


@dataclass
class TrackCrops:
    """Crops of one or more tracked sources, at the encoder's input size.

    images: (N, H, W, 3) uint8 RGB. source, frame, ident: (N,) the source index, 1-based frame and final ID of each
    crop. presence: (R, 3) int64 rows ``source, frame, final ID`` of every written track row (interpolated ones
    included: a person hidden for a moment is still not anyone else in view)."""

    images: np.ndarray
    source: np.ndarray
    frame: np.ndarray
    ident: np.ndarray
    presence: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    @staticmethod
    def concat(parts: list["TrackCrops"]) -> "TrackCrops":
        return TrackCrops(*(np.concatenate([getattr(p, k) for p in parts]) for k in
                            ("images", "source", "frame", "ident", "presence")))

    def save(self, path: str | Path) -> Path:
        """One ``.npz`` (uncompressed: crops are loaded back whole); written atomically."""
        from trackreid.io.atomic import atomic_write

        with atomic_write(path, "wb", encoding=None) as f:
            np.savez(f, images=self.images, source=self.source, frame=self.frame, ident=self.ident,
                     presence=self.presence)
        return Path(path)

    @staticmethod
    def load(path: str | Path) -> "TrackCrops":
        with np.load(path) as z:
            return TrackCrops(z["images"], z["source"], z["frame"], z["ident"], z["presence"])


class CropSampler:
    """Per frame, a crop of each track that is due (``sample_every`` frames after its last), tall enough, not
    hidden behind someone and mostly inside the image; bounded by ``max_crops`` (thinned by half when full)."""

    def __init__(self, input_size: tuple[int, int], config: AdaptConfig):
        self.h, self.w = int(input_size[0]), int(input_size[1])
        self.config = config
        self.every = config.sample_every
        self.last: dict[int, int] = {}
        self.images: list[np.ndarray] = []
        self.keys: list[tuple[int, int]] = []  # (frame, detection index)

    def add(self, frame_bgr: np.ndarray, tracks: np.ndarray, frame_id: int) -> None:
        c = self.config
        t = np.asarray(tracks, np.float64).reshape(-1, 8)
        t = t[t[:, 7] >= 0]
        if not len(t):
            return
        hi, wi = frame_bgr.shape[:2]
        box = t[:, :4]
        clip = np.stack([box[:, 0].clip(0, wi), box[:, 1].clip(0, hi), box[:, 2].clip(0, wi), box[:, 3].clip(0, hi)], 1)
        area = np.maximum((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]), 1e-9)
        inside = (clip[:, 2] - clip[:, 0]) * (clip[:, 3] - clip[:, 1]) / area
        ids = t[:, 4].astype(np.int64)
        last = np.array([self.last.get(int(i), -10 ** 9) for i in ids])
        due = ((frame_id - last >= self.every) & (clip[:, 3] - clip[:, 1] >= c.min_height) & (inside >= 0.8)
               & (covered_fraction(box) <= c.max_occlusion))
        for j in np.flatnonzero(due):  # image work per kept crop only
            x1, y1, x2, y2 = np.round(clip[j]).astype(int)
            crop = frame_bgr[y1:y2, x1:x2]
            if crop.size == 0:
                continue
            crop = cv2.resize(crop, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
            self.images.append(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
            self.keys.append((int(frame_id), int(t[j, 7])))
            self.last[int(ids[j])] = int(frame_id)
        if len(self.images) > c.max_crops:  # keep every other crop, and sample half as often from now on
            self.images, self.keys = self.images[::2], self.keys[::2]
            self.every *= 2

    def crops(self, tracks_jsonl: str | Path, source: int) -> TrackCrops:
        """The kept crops with their final IDs from the run's ``tracks.jsonl``; crops whose row the run did not
        write (a track that never became final) are dropped."""
        final: dict[tuple[int, int], int] = {}
        presence = []
        for rec in read_jsonl(tracks_jsonl):
            fr = int(rec["frame"])
            for r in rec["tracks"]:
                final[(fr, int(r["det"]))] = int(r["id"])
                presence.append((source, fr, int(r["id"])))
        keep = [k for k, key in enumerate(self.keys) if key in final]
        n = len(keep)
        images = (np.stack([self.images[k] for k in keep]) if n else np.zeros((0, self.h, self.w, 3), np.uint8))
        return TrackCrops(images, np.full(n, source, np.int64), np.array([self.keys[k][0] for k in keep], np.int64),
                          np.array([final[self.keys[k]] for k in keep], np.int64),
                          np.array(presence, np.int64).reshape(-1, 3))


def track_and_collect(source, index: int, options: dict, input_size: tuple[int, int], config: AdaptConfig,
                      run_dir: Path) -> tuple[TrackCrops, dict]:
    """Track ``source`` (tracking options as for ``trackreid``; outputs to ``run_dir``) and return its crops with
    their final IDs, and the run's summary."""
    from trackreid.pipeline import TrackingRun
    from trackreid.io.sinks import JSONL_NAME

    sampler = CropSampler(input_size, config)
    run = TrackingRun(source, **{**options, "output": run_dir})
    for r in run:
        sampler.add(r.image, r.tracks, r.frame_id)
    return sampler.crops(Path(run.output_dir) / JSONL_NAME, index), run.summary
