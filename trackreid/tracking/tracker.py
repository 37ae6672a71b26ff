"""The association policy: who gets which detection, frame after frame.

Per frame, :meth:`Tracker.step` runs these steps on stacked arrays (there is no Python loop over tracks):

1. Inputs: the detections validated once (``trackreid.types.Detections``), those scoring below
   ``track_low_thresh`` dropped; embeddings of the high-score rows where appearance is needed
   (``embed_policy``, ``trackreid.tracking.demand``; given, or from the tracker's own encoder). A detection without
   one is matched by motion alone.
2. Predict: Kalman-predict every track at once; optionally move predictions with the camera (``cmc``).
3. Costs: every cost matrix once, by broadcasting: IoU, cosine distance to each track's feature memory, a spatial
   gate (centre distance in box heights plus a height-ratio check) and the class mask (:class:`Stage1Costs`).
4. Stage 1: confirmed and lost tracks vs high-score detections. Cost ``(1 - w) * (1 - IoU) + w * cosine``
   (``w`` = ``appearance_weight``), allowed only near the prediction; a clear appearance mismatch
   (``appearance_thresh``) vetoes a pair where motion is ambiguous (a rival in its row or column, or a lost
   track). A lost track may instead match on appearance alone (re-identification: cosine distance plus a small
   distance term) inside a spatial gate that widens the longer it has been lost, or be re-found by a box on its
   last box with the feet where they stood (``refind_iou``); one that walked out of the image is reached by no
   box. The appearance thresholds are this frame's (``trackreid.tracking.calibration``: scaled to the video).
5. Stage 2 (ByteTrack): confirmed tracks still unmatched vs low-score detections, by IoU only.
6. Stage 3: tentative tracks vs the remaining high-score detections.
7. Update: one batched Kalman update and one batched feature update (smoothed feature plus a diverse exemplar set)
   for all matched tracks; tentative tracks with enough hits are confirmed.
8. Identities (``trackreid.tracking.identity``): a track confirmed just now takes a remembered or lost identity
   on a distinct appearance match (``reentries``), else a fresh ID; a young track with a fresh ID asks again on each
   new good view during ``memory_recall_frames`` and may switch to a remembered ID (``renamed``, logged in
   ``id_log`` so that outputs holding rows back write them under the final ID).
9. Lifecycle: unmatched confirmed -> lost; unmatched tentative and expired lost tracks are removed (those with
   good views go into the identity memory).
10. Births: unmatched high-score detections scoring at least ``new_track_thresh`` start tentative tracks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from trackreid.tracking.calibration import AppearanceThresholds, DistanceCalibration
from trackreid.tracking.config import TrackerConfig
from trackreid.tracking.demand import appearance_needed
from trackreid.tracking.id_log import IdLog
from trackreid.tracking.identity import Identified, IdentityResolver
from trackreid.tracking.kalman import BatchedKalman, cxcywh_to_xyxy, xyxy_to_cxcywh
from trackreid.tracking.matching import (
    GATED,
    cosine_distance,
    covered_fraction,
    distinct_pairs,
    iou_matrix,
    linear_assignment,
    spatial_gate,
)
from trackreid.tracking.memory import Identities, IdentityMemory
from trackreid.tracking.motion import SparseFlowCMC, apply_warp
from trackreid.tracking.store import rows_of
from trackreid.tracking.track import CONFIRMED, LOST, STATE_NAMES, TENTATIVE, TrackStore
from trackreid.types import (
    TRACK_COLS,
    Detections,
    TrackerOutput,
    l2_normalise,
    validate_embeddings,
    validate_frame,
)

__all__ = ["Stage1Costs", "Tracker", "TrackerConfig", "TrackerOutput"]

ID_LOG_FRAMES = 9000
"""Frames a rename stays in ``Tracker.id_log`` (5 min at 30 fps): longer than any output holds rows or crops of an
ID (``id_delay``, the crop bank's ``flush_after``, the linker's ``write_delay``); renames are rare, so it is small."""
_EMPTY_OUT = np.empty((0, TRACK_COLS), np.float64)
_EMPTY_ROWS = np.empty(0, np.int64)
EXEMPLAR_MAX_COVER = 0.5
"""A detection covered more than this by someone in front never becomes an appearance exemplar."""
EXEMPLAR_MIN_ASPECT = 0.2
"""Nor does a sliver narrower than this fraction of its height (a person mostly outside the image)."""
EXEMPLAR_BORDER_PX = 2.0
"""Nor a box within this many pixels of the image border (cut off; without a frame only the left and top borders
are known)."""
REFIND_FEET = 0.1
"""Re-finding in place (``TrackerConfig.refind_iou``) also needs the box's bottom edge (the feet) within this
fraction of the lost box's height of where it was: a person back in place stands where they stood (an umbrella or
an occluder changes the top of the box, not the feet), while someone passing in front of them stands lower."""
EXIT_VISIBLE = 0.5
"""A lost track whose predicted box shows less than this fraction inside the image has left the view, as has one
last seen within ``EXIT_BORDER`` of the left or right border while walking towards it: no box reaches it by motion
any more (the person walking in behind it at that border would take its ID), nor by the looser re-identification;
it may still come back through the identity memory's distinct appearance match."""
EXIT_BORDER = 0.01
"""Fraction of the image width that counts as touching the left or right border."""


@dataclass
class FrameInput:
    """One frame's detections as the tracker uses them, derived once from :class:`~trackreid.types.Detections`."""

    dets: np.ndarray        # (N, 6) float32, rows scoring >= track_low_thresh
    keep: np.ndarray        # (N,) the caller's row of each detection (det_index)
    emb: np.ndarray | None  # (N, D) L2-normalised (zero for rows without one), or None (motion only)
    has_emb: np.ndarray     # (N,) rows with an embedding (all False without ``emb``)
    owner: np.ndarray       # (N,) track ID a row without an embedding may only go to (-1: any)
    xyxy: np.ndarray        # (N, 4) float64
    cxcywh: np.ndarray      # (N, 4) float64
    high: np.ndarray        # (N,) score >= track_high_thresh
    cover: np.ndarray       # (N,) fraction covered by someone in front (0 when not needed)
    trust: np.ndarray       # (N,) weight of each embedding in the feature update
    good: np.ndarray        # (N,) a good view of a whole person: may become an appearance exemplar
    thresholds: AppearanceThresholds  # this frame's appearance decisions (calibrated on the video, or fixed)

    @property
    def use_app(self) -> bool:
        return self.emb is not None


class Stage1Costs(NamedTuple):
    """Cost matrices (tracks x detections) built once per frame."""

    d_iou: np.ndarray       # 1 - IoU with the predicted boxes
    fused: np.ndarray       # gated fused (motion + appearance) cost; stage 3 reads it too
    stage1: np.ndarray      # stage-1 cost: fused or re-identification, GATED where not allowed
    motion_ok: np.ndarray   # pairs the motion-only low-score stage may join
    thresh: float           # largest stage-1 cost accepted (holds both the fused and the re-identification limit)


class _Matches:
    """Matches collected over the stages of one frame, and which detections are still free."""

    def __init__(self, high: np.ndarray):
        self.rows: list[np.ndarray] = []
        self.dets: list[np.ndarray] = []
        self.det_free = high.copy()
        self.low_free = ~high

    def take(self, rows, cols, cost, thresh, free) -> np.ndarray:
        """Assign ``rows`` to ``cols`` under ``cost``; returns which rows stay unmatched."""
        if len(rows) == 0 or len(cols) == 0:
            return np.ones(len(rows), bool)
        matches, _, _ = linear_assignment(cost, thresh)
        if len(matches):
            self.rows.append(rows[matches[:, 0]])
            self.dets.append(cols[matches[:, 1]])
            free[cols[matches[:, 1]]] = False
        unmatched = np.ones(len(rows), bool)
        unmatched[matches[:, 0]] = False
        return unmatched

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.rows:
            return _EMPTY_ROWS, _EMPTY_ROWS
        return np.concatenate(self.rows), np.concatenate(self.dets)


class Tracker:
    """Multi-object tracker with Kalman motion, ReID appearance and an identity memory.

    ``update(detections, frame=None, embeddings=None)`` takes an (N, 6) array ``x1, y1, x2, y2, score, cls`` and
    returns the tracks matched in this frame as an (M, 8) float64 array ``x1, y1, x2, y2, track_id, score, cls,
    det_index`` (BoxMOT's layout; ``det_index`` is the row of ``detections`` the track was matched to).
    :meth:`step` takes the same and returns a :class:`~trackreid.types.TrackerOutput` (the tracks plus this frame's
    re-entries, renames and the tracks' features).

    Appearance comes from ``embeddings`` when given, else from ``encoder(frame, boxes)`` when the tracker owns an
    encoder and ``frame`` is given; otherwise the frame is tracked on motion alone. With an (N, 6) array,
    ``embeddings`` has N rows (rows the tracker never reads, :attr:`~trackreid.types.Detections.embed`, may hold any
    non-zero vector); with the :class:`~trackreid.types.Detections` of :meth:`detections`, exactly one row per marked
    detection. ``memory`` may pass an :class:`IdentityMemory` shared with other trackers (one identity bank for
    several cameras); by default each tracker owns one.
    """

    def __init__(self, config: TrackerConfig | None = None, encoder=None, memory: IdentityMemory | None = None):
        if config is None:  # the thresholds stored with the encoder's weights, when it has them
            scale = getattr(encoder, "thresholds", None)
            config = TrackerConfig.from_dict({}, scale.tracker_settings() if scale is not None else None)
        if not isinstance(config, TrackerConfig):
            raise ValueError(f"config: expected a TrackerConfig, got {type(config).__name__}")
        if encoder is not None and not callable(encoder):
            raise ValueError("encoder: expected a callable encoder(frame, boxes) -> (N, D) embeddings")
        if memory is not None and not isinstance(memory, IdentityMemory):
            raise ValueError(f"memory: expected an IdentityMemory, got {type(memory).__name__}")
        self.config = config
        self.encoder = encoder
        self.kalman = BatchedKalman(config.std_weight_position, config.std_weight_velocity, config.nsa)
        self.cmc = SparseFlowCMC(config.cmc_downscale) if config.cmc == "sparse_flow" else None
        self.tracks = TrackStore(exemplars=config.memory_exemplars)
        self.identity = IdentityResolver(config, self.tracks, memory)
        """Identity decisions (fresh IDs, recall, merges, exemplars) and the identity memory it owns."""
        self.calibration = DistanceCalibration(config.calibration_pairs)
        """Different-people and same-person distances seen in this video: the appearance thresholds once enough
        are seen (``TrackerConfig.calibrate``)."""
        self.memory = self.identity.memory
        self.reset()

    def reset(self) -> None:
        """Forget all tracks (and the tracker's own identity memory) and start numbering IDs at 1 again (call
        between videos)."""
        self.tracks = TrackStore(exemplars=self.config.memory_exemplars)
        self.identity.reset(self.tracks)
        self.calibration.reset()
        self.frame_id = 0
        self.image_size: tuple[int, int] | None = None
        """(width, height) of the last frame given to :meth:`step` (None before one is)."""
        self.last = TrackerOutput(_EMPTY_OUT)
        """The result of the last :meth:`step`."""
        self.id_log = IdLog(ID_LOG_FRAMES)
        """Every rename of the last ``ID_LOG_FRAMES`` frames (``renamed`` of each frame): which ID earlier rows end
        up with, for the held-back outputs, the crop bank and the multi-camera linker."""
        if self.cmc is not None:
            self.cmc.reset()

    # ------------------------------------------------------------------ introspection
    def state_counts(self) -> dict[str, int]:
        """Number of live tracks in each state."""
        st = self.tracks.state[: self.tracks.n]
        return {name: int((st == code).sum()) for code, name in STATE_NAMES.items()}

    def memory_bytes(self) -> int:
        """Bytes held by the track arrays (bounded by the peak number of simultaneous tracks); the identity
        memory's own size is ``memory.nbytes`` (bounded by ``memory_size``)."""
        return self.tracks.nbytes()

    @property
    def memory_size(self) -> int:
        """Identities held in the identity memory (removed tracks that may come back)."""
        return len(self.memory)

    @property
    def id_delay(self) -> int:
        """Most frames after its first row that a track's ID may still change (a young track switching to a
        remembered ID): ``memory_recall_frames`` with the identity memory on, else 0. Outputs that can wait this
        long get every row with its final ID (:meth:`ids_now`)."""
        cfg = self.config
        return int(cfg.memory_recall_frames) if cfg.memory and cfg.appearance_weight > 0 else 0

    def _rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Track rows carrying ``ids`` (-1 where no track does)."""
        return rows_of(self.tracks.track_id[: self.tracks.n], ids)

    def ids_now(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """For IDs this tracker returned up to ``id_delay`` frames ago: the ID each track carries now (young tracks
        that switched to a remembered identity since) and whether it is final (the track is settled, past its recall
        window, or gone)."""
        now = self.id_log.resolve(np.asarray(ids, np.int64).reshape(-1))
        rows = self._rows_of(now)
        hit = rows >= 0
        open_ = np.zeros(len(now), bool)
        open_[hit] = self.tracks.recall_until[rows[hit]] > self.frame_id
        return now, ~open_

    # ------------------------------------------------------------------ embeddings
    def detections(self, detections) -> Detections:
        """``detections`` (N, 6) validated once, with the rows whose embeddings this tracker reads in the next frame
        marked: valid boxes scoring at least ``track_high_thresh`` (low-score ones only extend tracks by IoU), with
        ``embed_policy="on_demand"`` only those where appearance is needed now. Embed ``boxes_to_embed()`` and pass
        both to the next :meth:`update`."""
        if isinstance(detections, Detections):
            return detections
        cfg = self.config
        d = Detections.of(detections, cfg.track_high_thresh)
        if cfg.appearance_weight <= 0:   # motion only: no embedding is ever read
            return d.marked(np.zeros(len(d), bool))
        if cfg.embed_policy == "on_demand" and self.tracks.n:
            d = d.marked(*appearance_needed(self.tracks, self.frame_id + 1, d.dets, d.embed,
                                            d.dets[:, 4] >= cfg.track_low_thresh, cfg.embed_period, cfg.class_aware))
        return d

    def want_appearance(self, ids, frames: int = 1) -> None:
        """Embed the detections of the tracks carrying ``ids`` on each of the next ``frames`` frames, whatever
        ``embed_policy`` would decide: for a consumer of their appearance that is still deciding about them (the
        multi-camera linker, while a young track is compared with other cameras' people)."""
        rows = self._rows_of(np.asarray(ids, np.int64).reshape(-1))
        rows = rows[rows >= 0]
        T = self.tracks
        T.want_until[rows] = np.maximum(T.want_until[rows], self.frame_id + int(frames))

    def embed_rows(self, detections) -> np.ndarray:
        """Rows of ``detections`` (as passed to ``update``) whose embeddings the tracker reads."""
        return self.detections(detections).embed_index

    def embed(self, frame, detections, encoder=None) -> np.ndarray | None:
        """Embeddings (K, D) of the rows :meth:`detections` marks, through ``encoder`` (default: the tracker's own)
        in one call; pass them with those ``Detections`` to :meth:`update`. None when no row needs one."""
        enc = encoder if encoder is not None else self.encoder
        if enc is None:
            raise ValueError("embed: no encoder; pass encoder= or build the Tracker with one")
        d = self.detections(detections)
        if not d.embed.any():
            return None
        return validate_embeddings(enc(frame, d.boxes_to_embed()), int(d.embed.sum()), self.tracks.dim or None)

    # ------------------------------------------------------------------ per frame
    def update(self, detections, frame=None, embeddings=None, *, embs=None) -> np.ndarray:
        """Advance one frame; returns the (M, 8) tracks (see the class docstring). ``embs`` is BoxMOT's name for
        ``embeddings``, accepted so that BoxMOT code switches over unchanged."""
        return self.step(detections, frame, embeddings, embs=embs).tracks

    def step(self, detections, frame=None, embeddings=None, *, embs=None) -> TrackerOutput:
        """Advance one frame (the numbered steps of the module docstring); returns the tracks and what happened to
        identities in this frame."""
        cfg, T = self.config, self.tracks
        if embs is not None:
            if embeddings is not None:
                raise ValueError("pass embeddings= or embs= (BoxMOT's name for it), not both")
            embeddings = embs
        # 1. inputs, validated once
        fi = self._inputs(detections, frame, embeddings)
        self.frame_id += 1
        # 2. predict
        self._predict(frame, fi)
        m = _Matches(fi.high)
        if T.n and len(fi.dets):
            # 3. costs
            costs = self._costs(fi)
            state = T.state[: T.n]
            # 4. stage 1: confirmed and lost tracks vs high-score detections
            left = self._stage1(np.flatnonzero(state != TENTATIVE), costs, m)
            # 5. stage 2: unmatched confirmed tracks vs low-score detections
            self._stage2(left, costs, m)
            # 6. stage 3: tentative tracks vs the remaining high-score detections
            self._stage3(np.flatnonzero(state == TENTATIVE), costs, m)
        rows, det_rows = m.arrays()
        # 7. update matched tracks (Kalman, features, exemplars); some tentative ones are confirmed now
        promote, gained = self._apply_matches(rows, det_rows, fi)
        # 8. identities: fresh or remembered for the confirmed now, recall for young tracks that showed a new view
        recall = ~promote & np.isin(rows, gained) & self.identity.may_recall(rows, self.frame_id)
        rows, drop, reentries, renamed = self._identify(rows, promote, recall, fi.thresholds)
        conf = T.state[rows] == CONFIRMED
        out = self._rows_out(rows[conf], det_rows[conf], fi)
        # 9. lifecycle: unmatched -> lost -> removed
        self._lifecycle(rows, drop)
        # 10. births
        new_dets = np.flatnonzero(m.det_free & (fi.dets[:, 4] >= cfg.new_track_thresh))
        if len(new_dets):
            born, ident = self._birth(new_dets, fi)
            if len(born):
                out = np.concatenate([out, born]) if len(out) else born
            reentries.update(ident.reentries)
        self.id_log.record(renamed, self.frame_id)
        self.last = TrackerOutput(out, reentries, renamed, *self._appearance_of(out[:, 4].astype(np.int64)))
        return self.last

    def skip(self, frames: int) -> None:
        """``frames`` frames passed without an image (a live source was down): every track stays unmatched that
        long, so confirmed tracks turn lost, tentative ones end, and those lost longer than ``track_buffer`` leave
        for the identity memory, which then bridges the gap; nobody is carried across it by motion."""
        frames = int(frames)
        if frames <= 0:
            return
        T = self.tracks
        T.lost_for[: T.n] += frames
        self.frame_id += frames
        self._lifecycle(_EMPTY_ROWS, np.zeros(T.n, bool))
        if self.cmc is not None:
            self.cmc.reset()

    def _inputs(self, detections, frame, embeddings) -> FrameInput:
        cfg = self.config
        d = self.detections(detections)
        dets, keep = d.dets, d.index
        owner = d.owner if d.owner is not None else np.full(len(dets), -1, np.int64)
        dim = self.tracks.dim or None
        emb = None
        has_emb = d.embed
        if embeddings is not None and isinstance(detections, Detections):
            part = validate_embeddings(embeddings, int(d.embed.sum()), dim)
            emb = np.zeros((len(dets), part.shape[1]), np.float32)
            emb[d.embed] = part
        elif embeddings is not None:   # one for every row: all are read
            emb = validate_embeddings(embeddings, d.given, dim)
            has_emb, owner = np.ones(len(dets), bool), np.full(len(dets), -1, np.int64)
            if len(keep) != d.given:
                emb = emb[keep]
        if frame is not None:
            validate_frame(frame)
            self.image_size = (int(frame.shape[1]), int(frame.shape[0]))
        elif self.cmc is not None:
            raise ValueError(
                "frame: camera-motion compensation (config.cmc) needs the frame; pass update(..., frame=img)"
            )
        if emb is None and self.encoder is not None and frame is not None and d.embed.any():
            part = self.embed(frame, d)
            emb = np.zeros((len(dets), part.shape[1]), np.float32)
            emb[d.embed] = part
        if len(dets) and dets[:, 4].min() < cfg.track_low_thresh:
            sel = dets[:, 4] >= cfg.track_low_thresh
            dets, keep = dets[sel], keep[sel]
            has_emb, owner = has_emb[sel], owner[sel]
            if emb is not None:
                emb = emb[sel]
        if emb is not None and len(emb) and not self.tracks.dim:
            self.tracks.set_dim(int(emb.shape[1]))
        if emb is not None and (not len(emb) or cfg.appearance_weight <= 0):
            emb = None
        has_emb = has_emb if emb is not None else np.zeros(len(dets), bool)
        owner = np.where(has_emb, -1, owner)
        xyxy = dets[:, :4].astype(np.float64)
        memory = cfg.memory and emb is not None
        cover = covered_fraction(xyxy) if (cfg.occlusion_trust or memory) else np.zeros(len(dets))
        trust = 1.0 - cover if cfg.occlusion_trust else np.ones(len(dets))
        good = self._good_views(xyxy, dets[:, 4], cover, frame) if memory else np.zeros(len(dets), bool)
        return FrameInput(dets, keep, emb, has_emb, owner, xyxy, xyxy_to_cxcywh(xyxy),
                          dets[:, 4] >= cfg.track_high_thresh, cover, trust, good, self.appearance_thresholds())

    def appearance_thresholds(self) -> AppearanceThresholds:
        """The appearance thresholds of the next frame: measured on this video (``calibrate``, once enough people
        were seen together), else the configured values."""
        cfg = self.config
        fixed = AppearanceThresholds.configured(cfg)
        return self.calibration.thresholds(fixed) if cfg.calibrate else fixed

    def _good_views(self, xyxy, score, cover, frame) -> np.ndarray:
        """Detections that show a whole person well enough to become appearance exemplars."""
        width, height = (frame.shape[1], frame.shape[0]) if frame is not None else (np.inf, np.inf)
        w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
        m = EXEMPLAR_BORDER_PX
        inside = (xyxy[:, 0] > m) & (xyxy[:, 1] > m) & (xyxy[:, 2] < width - m) & (xyxy[:, 3] < height - m)
        return (inside & (w >= EXEMPLAR_MIN_ASPECT * h) & (cover <= EXEMPLAR_MAX_COVER)
                & (score >= max(self.config.track_high_thresh, self.config.new_track_thresh)))

    def _predict(self, frame, fi: FrameInput) -> None:
        """Kalman-predict all tracks at once (and move them with the camera)."""
        T = self.tracks
        n = T.n
        mean, cov, state = T.mean[:n], T.cov[:n], T.state[:n]
        if n:
            mean[state == LOST, 6:8] = 0.0  # a lost box keeps drifting with the walk but stops growing/shrinking
            self.kalman.predict(mean, cov)
            np.maximum(mean[:, 2:4], 1.0, out=mean[:, 2:4])
            T.lost_for[:n] += 1
        if self.cmc is not None:
            apply_warp(mean, cov, self.cmc.estimate(frame, fi.dets[:, :4]))

    def _gates(self, fi: FrameInput, d_iou: np.ndarray, exited: np.ndarray):
        """Spatial and class gates: (near_ok, far_ok, centre distance, per-track radius); tracks that walked out of
        the view (``exited``) pass neither."""
        cfg = self.config
        T = self.tracks
        n = T.n
        lost_for = T.lost_for[:n]
        radius = np.where(T.state[:n] == LOST,
                          np.minimum(cfg.gate_radius + cfg.reid_gate_growth * (lost_for - 1), cfg.reid_gate_max),
                          cfg.gate_radius)
        far_ok, cdist = spatial_gate(T.mean[:n, :4], fi.cxcywh, radius, cfg.size_ratio)
        near_ok = (cdist <= cfg.gate_radius) & far_ok | (d_iou < 0.9)
        near_ok &= ~exited[:, None]
        far_ok &= ~exited[:, None]
        owned = np.flatnonzero(fi.owner >= 0)
        if len(owned):   # a detection left unembedded as surely one track's goes to that track or to none
            mine = T.track_id[:n, None] == fi.owner[None, owned]
            near_ok[:, owned] &= mine
            far_ok[:, owned] &= mine
        if cfg.class_aware:
            same_cls = T.cls[:n, None] == fi.dets[None, :, 5]
            near_ok &= same_cls
            far_ok &= same_cls
        return near_ok, far_ok, cdist, radius

    def _exited(self) -> np.ndarray:
        """(n,) lost tracks that walked out of the view (``EXIT_VISIBLE``, ``EXIT_BORDER``); all False without a
        frame size."""
        T = self.tracks
        n = T.n
        if self.image_size is None or not n:
            return np.zeros(n, bool)
        w, h = self.image_size
        box = cxcywh_to_xyxy(T.mean[:n, :4])
        inside = (np.clip(box[:, 2], 0, w) - np.clip(box[:, 0], 0, w)) * (np.clip(box[:, 3], 0, h)
                                                                         - np.clip(box[:, 1], 0, h))
        area = np.maximum((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]), 1e-9)
        last, vx, mx = T.box[:n], T.mean[:n, 4], EXIT_BORDER * w
        gone = (inside / area < EXIT_VISIBLE) | ((last[:, 0] <= mx) & (vx < 0)) | ((last[:, 2] >= w - mx) & (vx > 0))
        return (T.state[:n] == LOST) & gone

    def _costs(self, fi: FrameInput) -> Stage1Costs:
        """All stage costs of this frame, by broadcasting."""
        cfg = self.config
        T = self.tracks
        n = T.n
        d_iou = 1.0 - iou_matrix(cxcywh_to_xyxy(T.mean[:n, :4]), fi.xyxy)
        exited = self._exited()
        near_ok, far_ok, cdist, radius = self._gates(fi, d_iou, exited)
        motion_ok = near_ok.copy()           # low-score stage: motion only (their embeddings are never read)
        thr = fi.thresholds
        thresh = max(cfg.match_thresh, cfg.reid_thresh + cfg.reid_motion_weight)   # costs read in the fixed scale
        if not fi.use_app:
            fused = np.where(near_ok, d_iou, GATED)
            return Stage1Costs(d_iou, fused, np.where(fused <= cfg.match_thresh, fused, GATED), motion_ok, thresh)
        d_app = cosine_distance(T.feat[:n], fi.emb)
        has = T.has_feat[:n]
        both = has[:, None] & fi.has_emb[None, :]   # pairs with appearance on both sides; the rest is motion only
        lost = T.state[:n] == LOST
        w = cfg.appearance_weight * both
        fused = (1.0 - w) * d_iou + w * (d_app / thr.scale)
        # appearance vetoes clear mismatches (with occlusion_trust, not for boxes more than half covered) where motion
        # is ambiguous: a pair of a track seen last frame and a box that motion alone would join, with no rival in
        # its row or column, is left to motion; a lost track's prediction is never unambiguous
        by_motion = near_ok & (d_iou <= cfg.match_thresh)
        alone = by_motion & (by_motion.sum(1, keepdims=True) == 1) & (by_motion.sum(0, keepdims=True) == 1)
        near_ok &= ~(both & (fi.trust[None, :] >= 0.5) & (d_app > thr.appearance) & (lost[:, None] | ~alone))
        # only a distinct appearance match may go beyond the IoU rule of motion-only matching; the ratio test runs
        # over tracks with features and embedded high-score detections (the only embeddings read)
        distinct = np.zeros(d_app.shape, bool)
        rows_f, cols_h = np.flatnonzero(has), np.flatnonzero(fi.high & fi.has_emb)
        distinct[np.ix_(rows_f, cols_h)] = distinct_pairs(d_app[np.ix_(rows_f, cols_h)],
                                                          cfg.appearance_margin * thr.scale)
        near_ok &= distinct | (d_iou <= cfg.match_thresh)
        fused = np.where(near_ok, fused, GATED)
        stage1 = np.where(fused <= cfg.match_thresh, fused, GATED)
        # re-identification: a lost track may also match on appearance alone, inside its widening gate
        reid_ok = far_ok & distinct & (lost & has)[:, None] & (d_app <= thr.reid)
        if reid_ok.any():
            reid = d_app / thr.scale + cfg.reid_motion_weight * cdist / radius[:, None]
            stage1 = np.where(reid_ok, np.minimum(stage1, reid), stage1)
        # re-finding in place: a box where a lost track was last seen (same place, same size) is that person when
        # appearance agrees as for re-identification, with no ratio test (a partial view - an umbrella, the frame
        # edge - may look about as much like someone else in view)
        refind = self._refind_costs(fi, d_app, lost & ~exited, both)
        if refind is not None:
            stage1 = np.minimum(stage1, refind)
        return Stage1Costs(d_iou, fused, stage1, motion_ok, thresh)

    def _refind_costs(self, fi: FrameInput, d_app: np.ndarray, lost: np.ndarray, both: np.ndarray):
        """(n, N) costs of lost tracks re-found where they were last seen (``refind_iou``), GATED elsewhere; None
        when no pair qualifies. ``both``: pairs with appearance on both sides (a track with a feature is re-found
        only by a detection with an embedding that agrees)."""
        cfg = self.config
        T = self.tracks
        if not lost.any() or cfg.refind_iou >= 1.0:
            return None
        rows = np.flatnonzero(lost)
        last = T.box[rows].astype(np.float64)
        iou_last = iou_matrix(last, fi.xyxy)
        feet = np.abs(fi.xyxy[None, :, 3] - last[:, None, 3]) <= REFIND_FEET * (last[:, 3] - last[:, 1])[:, None]
        ok = (iou_last >= cfg.refind_iou) & feet & fi.high[None, :]
        has = T.has_feat[rows, None]
        ok &= ~has | (both[rows] & (d_app[rows] <= fi.thresholds.reid))
        if cfg.class_aware:
            ok &= T.cls[rows, None] == fi.dets[None, :, 5]
        if not ok.any():
            return None
        w = cfg.appearance_weight * both[rows]
        out = np.full(d_app.shape, GATED)
        out[rows] = np.where(ok, (1.0 - w) * (1.0 - iou_last) + w * d_app[rows] / fi.thresholds.scale, GATED)
        return out

    def _stage1(self, rows, costs: Stage1Costs, m: _Matches) -> np.ndarray:
        """Confirmed and lost tracks vs high-score detections; returns the confirmed tracks left unmatched."""
        cols = np.flatnonzero(m.det_free)
        um = m.take(rows, cols, costs.stage1[np.ix_(rows, cols)], costs.thresh, m.det_free)
        left = rows[um]
        return left[self.tracks.state[left] == CONFIRMED]   # ByteTrack: only tracks seen last frame take low boxes

    def _stage2(self, rows, costs: Stage1Costs, m: _Matches) -> None:
        """Unmatched confirmed tracks vs low-score detections (motion only)."""
        cols = np.flatnonzero(m.low_free)
        if len(rows) and len(cols):
            ix = np.ix_(rows, cols)
            m.take(rows, cols, np.where(costs.motion_ok[ix], costs.d_iou[ix], GATED), self.config.low_match_thresh,
                   m.low_free)

    def _stage3(self, rows, costs: Stage1Costs, m: _Matches) -> None:
        """Tentative tracks vs the remaining high-score detections."""
        cols = np.flatnonzero(m.det_free)
        m.take(rows, cols, costs.fused[np.ix_(rows, cols)], self.config.tentative_match_thresh, m.det_free)

    def _apply_matches(self, rows, det_rows, fi: FrameInput) -> tuple[np.ndarray, np.ndarray]:
        """Batched Kalman and feature updates of matched tracks; returns which of them were confirmed just now and
        the rows that gained an appearance exemplar."""
        cfg = self.config
        T = self.tracks
        if not len(rows):
            return np.zeros(0, bool), _EMPTY_ROWS
        if fi.emb is not None and cfg.calibrate and self._calibration_frame():
            self._observe(rows, det_rows, fi)
        z = fi.cxcywh[det_rows]
        s = fi.dets[det_rows, 4].astype(np.float64)
        T.mean[rows], T.cov[rows] = self.kalman.update(T.mean[rows], T.cov[rows], z, s)
        T.lost_for[rows] = 0
        T.hits[rows] += 1
        T.score[rows] = fi.dets[det_rows, 4]
        T.box[rows] = fi.dets[det_rows, :4]
        if not cfg.class_aware:
            T.cls[rows] = fi.dets[det_rows, 5]
        st = T.state[rows]
        st[st == LOST] = CONFIRMED
        promote = (st == TENTATIVE) & (T.hits[rows] >= cfg.min_hits)
        st[promote] = CONFIRMED
        T.state[rows] = st
        gained = self._update_features(rows, det_rows, fi) if fi.emb is not None else _EMPTY_ROWS
        return promote, gained

    def _calibration_frame(self) -> bool:
        """Does this frame feed the calibration? Every frame when every detection is embedded; with appearance on
        demand only those where every one is (``embed_period``): the views embedded in between are the hard ones
        (people touching, new tracks), whose distances to their tracks would bias the same-person sample."""
        cfg = self.config
        return cfg.embed_policy == "always" or self.frame_id % cfg.embed_period == 0

    def _observe(self, rows, det_rows, fi: FrameInput) -> None:
        """Feed the calibration: the clear views (high score, at most half covered) of established tracks matched in
        this frame (different people), each against its track's feature so far (the same person)."""
        T = self.tracks
        clear = ((T.state[rows] != TENTATIVE) & fi.high[det_rows] & fi.has_emb[det_rows]
                 & (fi.cover[det_rows] <= EXEMPLAR_MAX_COVER))
        if clear.sum() < 1:
            return
        r = rows[clear]
        own = np.where(T.has_feat[r][:, None], T.feat[r], 0.0).astype(np.float32)
        self.calibration.observe(fi.emb[det_rows[clear]], own)

    def _update_features(self, rows, det_rows, fi: FrameInput) -> np.ndarray:
        """Exponential moving average of each matched track's features, trusting confident, unoccluded boxes more
        (Deep OC-SORT's idea, plus the occlusion cover); with the identity memory on, confident unoccluded views
        also feed each track's diverse exemplar set. Low-score detections never touch either (their embeddings are
        never read). Returns the rows that gained an exemplar."""
        cfg = self.config
        T = self.tracks
        hi = cfg.track_high_thresh
        s = fi.dets[det_rows, 4]
        sel = (s >= hi) & fi.has_emb[det_rows]
        if not sel.all():
            rows, det_rows, s = rows[sel], det_rows[sel], s[sel]
        conf_trust = np.clip((s - hi) / max(1.0 - hi, 1e-6), 0.0, 1.0)
        t = (0.5 + 0.5 * conf_trust) * fi.trust[det_rows]
        e = fi.emb[det_rows]
        has = T.has_feat[rows]
        a = 1.0 - (1.0 - cfg.ema_alpha) * t
        a = np.where(has, a, 0.0)[:, None]          # a track's first embedding becomes its memory
        T.feat[rows] = l2_normalise(a * T.feat[rows] + (1.0 - a) * e)
        T.has_feat[rows] = True
        return (self.identity.offer_views(rows, fi.good[det_rows], e, fi.thresholds.appearance)
                if self.identity.active else _EMPTY_ROWS)

    def _identify(self, rows, promote, recall, thresholds: AppearanceThresholds
                  ) -> tuple[np.ndarray, np.ndarray, dict, dict]:
        """Identities for matched track ``rows``: the ones confirmed now (``promote``) get a remembered or fresh ID,
        the young ones in ``recall`` may switch to a remembered one. Returns the rows now carrying each match (a
        re-found lost track replaces the new one, whose row is in ``drop``), and this frame's re-entries and
        renames."""
        T = self.tracks
        drop = np.zeros(T.n, bool)
        reentries: dict[int, int] = {}
        renamed: dict[int, int] = {}
        rows = rows.copy()
        for ask, fresh in ((promote, True), (recall, False)):
            if ask.any():
                src = rows[ask]
                got = self.identity.identify(src, fresh, self.frame_id, thresholds)
                drop[src[got.dest != src]] = True
                rows[ask] = got.dest
                reentries.update(got.reentries)
                renamed.update(got.renamed)
        return rows, drop, reentries, renamed

    def _lifecycle(self, rows: np.ndarray, drop: np.ndarray) -> None:
        """Unmatched confirmed -> lost; unmatched tentative, expired lost and ``drop`` rows -> removed (removed
        identities with good views go into the memory)."""
        T = self.tracks
        n = T.n
        if not n:
            return
        matched = np.zeros(n, bool)
        matched[rows] = True
        state = T.state[:n]
        state[~matched & (state == CONFIRMED)] = LOST
        expired = ~matched & (state == LOST) & (T.lost_for[:n] > self.config.track_buffer)
        remove = drop | expired | (~matched & (state == TENTATIVE))
        if remove.any():
            self.identity.remember(np.flatnonzero(expired & ~drop), self.frame_id)
            T.keep(~remove)

    def _birth(self, new_dets, fi: FrameInput):
        """Start tracks on ``new_dets``; on the first frame (or with ``min_hits`` 1) they are confirmed at once and
        returned as output rows, with what :meth:`IdentityResolver.identify` decided."""
        cfg = self.config
        T = self.tracks
        mean, cov = self.kalman.initiate(fi.cxcywh[new_dets])
        has_emb = fi.has_emb[new_dets]
        rows = T.add(mean, cov, fi.dets[new_dets, 5], fi.dets[new_dets, 4],
                     None if fi.emb is None else fi.emb[new_dets], fi.dets[new_dets, :4], self.frame_id, has_emb)
        if fi.emb is not None and self.identity.active:
            self.identity.offer_views(rows, fi.good[new_dets] & has_emb, fi.emb[new_dets], fi.thresholds.appearance)
        if not (self.frame_id == 1 or cfg.min_hits <= 1):
            return _EMPTY_OUT, Identified(_EMPTY_ROWS, {}, {})
        T.state[rows] = CONFIRMED
        got = self.identity.identify(rows, True, self.frame_id, fi.thresholds)
        out = self._rows_out(got.dest, new_dets, fi)
        merged = got.dest != rows
        if merged.any():
            keep = np.ones(T.n, bool)
            keep[rows[merged]] = False
            T.keep(keep)
        return out, got

    def _rows_out(self, rows, det_rows, fi: FrameInput) -> np.ndarray:
        T = self.tracks
        out = np.empty((len(rows), TRACK_COLS), np.float64)
        out[:, :4] = cxcywh_to_xyxy(T.mean[rows, :4])
        out[:, 4] = T.track_id[rows]
        out[:, 5] = fi.dets[det_rows, 4]
        out[:, 6] = fi.dets[det_rows, 5]
        out[:, 7] = fi.keep[det_rows]
        return out

    def _appearance_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Smoothed features (M, D) of the tracks carrying ``ids``, which of them have one (M,), and every ID the
        tracker holds (confirmed or lost): what a multi-camera linker compares."""
        T = self.tracks
        m = len(ids)
        if not T.dim or m == 0:
            return np.zeros((m, 0), np.float32), np.zeros(m, bool), ids
        n = T.n
        held = T.track_id[:n][T.state[:n] != TENTATIVE]
        rows = self._rows_of(ids)
        has = rows >= 0
        has[has] = T.has_feat[rows[has]]
        return T.feat[np.where(has, rows, 0)].astype(np.float32), has, held

    # ------------------------------------------------------------------ identities and memory files
    def identities(self, rows: np.ndarray | None = None) -> Identities:
        """Identities of track ``rows`` (default: every confirmed or lost track with a good view) in the form
        ``IdentityMemory.put`` takes; e.g. to publish the people in view to a shared multi-camera bank."""
        return self.identity.identities(self.frame_id, rows)

    def save_memory(self, path) -> None:
        """Write the identity memory plus every identity still tracked (as if it left now) to ``path`` (``.npz``,
        no pickle), so a restarted app gives returning people their old IDs and new ones fresh IDs."""
        self.identity.save(path, self.frame_id)

    def load_memory(self, path) -> None:
        """Replace the identity memory with a file from ``save_memory``; fresh IDs continue above the remembered
        ones. A missing or corrupt file, or one from another embedding size, raises ``ValueError``."""
        self.identity.load(path, self.frame_id)

    def memory_arrays(self) -> dict:
        """What :meth:`save_memory` writes, as plain arrays (to keep several trackers' memories in one file)."""
        return self.identity.to_arrays(self.frame_id)

    def restore_memory(self, arrays: dict, where: str = "identity memory") -> None:
        """:meth:`load_memory` from the arrays of :meth:`memory_arrays` (``where`` names them in errors)."""
        self.identity.from_arrays(arrays, self.frame_id, where)

