"""Embeddings in a run: only the detections the tracker reads by appearance are embedded."""
from __future__ import annotations

import numpy as np

from tests.pipeline.outputs import FRAMES
from trackreid.pipeline import TrackingRun


class _CountingEncoder:
    """A stand-in encoder: one fixed code per walker, from the box position (tests only the plumbing)."""

    dim = 8

    def __init__(self):
        self.boxes_seen = []

    def __call__(self, frame, boxes):
        self.boxes_seen.append(len(boxes))
        e = np.zeros((len(boxes), self.dim), np.float32)
        e[np.arange(len(boxes)), (boxes[:, 1] // 80).astype(int) % self.dim] = 1.0
        return e


def test_encoder_sees_only_detections_the_tracker_reads_by_appearance(seq, tmp_path):
    det = tmp_path / "det.txt"  # one low-score row per frame (0.3 < track_high_thresh 0.5)
    lines = (seq / "det" / "det.txt").read_text().splitlines()
    det.write_text("\n".join(line.replace(",0.9,", ",0.3,") if i % 3 == 2 else line
                             for i, line in enumerate(lines)) + "\n")
    enc = _CountingEncoder()
    r = TrackingRun(seq / "SEQ.mp4", reid=enc, detector=det, quiet=True, conf=0.1,
                    tracker_config={"embed_policy": "always"})
    results = list(r)
    assert enc.boxes_seen == [2] * FRAMES
    assert r.summary["frames"] == FRAMES and r.summary["unique_identities"] >= 2
    assert all(len(x.detections) == 3 for x in results)
    assert r.summary["crops_embedded"] == 2 * FRAMES


def test_on_demand_embeds_new_tracks_and_refresh_frames_only(seq):
    """Two walkers far apart: after they are settled, only every ``embed_period``-th frame is embedded; the
    summary counts the crops."""
    enc = _CountingEncoder()
    r = TrackingRun(seq / "SEQ.mp4", reid=enc, detector=seq / "det" / "det.txt", quiet=True)
    list(r)
    assert sum(enc.boxes_seen) == r.summary["crops_embedded"] < r.summary["detections"] / 2
    assert len(enc.boxes_seen) < FRAMES   # frames with nothing to embed make no encoder call

