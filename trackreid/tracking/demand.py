"""Appearance on demand: which detections of a frame need an embedding (``TrackerConfig.embed_policy``).

Most detections are matched by motion alone, unambiguously: one settled track's prediction overlaps the box, and
nothing else is near either of them. Appearance does not change such a match (the appearance veto is not applied
to a pair that motion alone joins with no rival), so the box need not be embedded. A high-score detection is
embedded when appearance can change a decision or is due:

1. every ``embed_period``-th frame, all of them: a refresh of every track's feature and identity-memory views,
   and the only frames that feed the appearance calibration (the views embedded in between are the hard ones,
   whose distances would bias it);
2. no track claims it (its prediction overlapping the box by ``CLAIM_IOU``): a newcomer, a re-entry, a lost
   track coming back; births and the identity memory read its appearance;
3. its claimant is not settled: tentative, lost, without a feature yet, or young (a fresh ID that may still turn
   out to be a remembered one, until the memory has ``YOUNG_VIEWS`` good views of it);
4. it is ambiguous: another track's prediction or a lost track's last box overlaps it by more than ``RIVAL_IOU``
   and ``RIVAL_RATIO`` times the claimant's overlap, another detection overlaps the claimant's prediction as
   much, or another track in view touches the claimant's prediction (people side by side may be about to cross).

A detection left without an embedding may be matched to its claimant only (by motion), never to another track.
The rule reads the tracks as they stand before the frame (predicted boxes, without camera-motion compensation,
which only makes more boxes ambiguous), so it runs before the encoder. Measured in ``benchmarks/embed_policy.py``
(identity quality) and ``benchmarks/pipeline_speed.py`` (frames per second).
"""
from __future__ import annotations

import numpy as np

from trackreid.tracking.kalman import cxcywh_to_xyxy
from trackreid.tracking.matching import iou_matrix
from trackreid.tracking.track import CONFIRMED, LOST

CLAIM_IOU = 0.3
"""A track claims a detection its predicted box overlaps by at least this IoU."""
YOUNG_VIEWS = 1
"""A track whose fresh ID may still turn out to be a remembered one (``memory_recall_frames``) is embedded on every
frame until the identity memory holds this many good views of it (it asks the memory on each new one)."""
RIVAL_IOU = 0.05
"""Boxes overlapping by more than this IoU touch: another track's prediction touching the claimant's, or another
detection touching the claimant's prediction, makes a claim ambiguous (people side by side may be about to
cross); so does another box touching the detection..."""
RIVAL_RATIO = 0.5
"""...by more than this fraction of the claimant's overlap with it (a track, or a lost track's last box where it may
be re-found in place; the same fraction decides whether a second detection competes for the claimant)."""


def predicted_boxes(mean: np.ndarray, state: np.ndarray) -> np.ndarray:
    """xyxy boxes (n, 4) the Kalman filter will predict for the next frame (a lost box keeps its size, as in
    ``Tracker._predict``)."""
    vel = mean[:, 4:8].copy()
    vel[state == LOST, 2:] = 0.0
    nxt = mean[:, :4] + vel
    np.maximum(nxt[:, 2:], 1.0, out=nxt[:, 2:])
    return cxcywh_to_xyxy(nxt)


def appearance_needed(tracks, frame_id: int, dets: np.ndarray, high: np.ndarray, people: np.ndarray, period: int,
                      class_aware: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``dets`` (N, 6) to embed before frame ``frame_id`` (1-based), of the rows ``high`` (the high-score
    ones, the only embeddings the tracker reads), and the ID of the one track that claims each of the others
    (-1 where none): without an embedding a detection may go to that track only. ``people``: the rows the tracker
    uses at all (rivals); ``tracks``: the tracker's ``TrackStore``."""
    n = tracks.n
    owner = np.full(len(dets), -1, np.int64)
    if not n or frame_id % period == 0 or not high.any():
        return high.copy(), owner
    state = tracks.state[:n]
    pred = predicted_boxes(tracks.mean[:n], state)
    xyxy = dets[:, :4].astype(np.float64)
    lost = state == LOST
    # every box a detection could be mistaken for: each track's prediction, and lost tracks' last boxes (re-found
    # in place); a rival overlaps it by more than RIVAL_IOU and more than RIVAL_RATIO times the best overlap
    iou = iou_matrix(pred, xyxy) * people[None, :]                # (n, N)
    iou_det = np.concatenate([iou, iou_matrix(tracks.box[:n][lost].astype(np.float64), xyxy)])
    near_det = (iou_det > np.maximum(RIVAL_IOU, RIVAL_RATIO * iou_det.max(0))).sum(0)
    near_track = ((iou > np.maximum(RIVAL_IOU, RIVAL_RATIO * iou.max(1))[:, None]).sum(1)
                  + (iou_matrix(pred, pred[~lost]) > RIVAL_IOU).sum(1) - ~lost)     # and tracks in view
    young = (tracks.recall_until[:n] >= frame_id) & (tracks.ex_n[:n] < YOUNG_VIEWS)
    settled = (state == CONFIRMED) & tracks.has_feat[:n] & ~young & (tracks.want_until[:n] < frame_id)
    sure = (iou >= CLAIM_IOU) & settled[:, None] & (near_track == 1)[:, None] & (near_det == 1)[None, :]
    if class_aware:
        sure &= tracks.cls[:n, None] == dets[None, :, 5]
    claimed = sure.any(0) & high
    owner[claimed] = tracks.track_id[:n][sure[:, claimed].argmax(0)]
    return high & ~claimed, owner
