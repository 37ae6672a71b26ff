"""The association policy: who gets which detection, frame after frame.

Per frame (every step works on stacked arrays; there is no Python loop over tracks):

1. Inputs: validate (``trackreid.types``), drop detections scoring below ``track_low_thresh``; when the tracker
   owns an encoder, a frame is given and no embeddings were passed, embed the rows :meth:`Tracker.embed_rows`
   picks (the high-score boxes, one encoder call per frame).
2. Predict: Kalman-predict every track at once; optionally move predictions with the camera (``cmc``).
3. Costs: every cost matrix once, by broadcasting: IoU, cosine distance to each track's feature memory, a spatial
   gate (centre distance in box heights plus a height-ratio check) and the class mask (:class:`Stage1Costs`).
4. Stage 1: confirmed and lost tracks vs high-score detections. Cost ``(1 - w) * (1 - IoU) + w * cosine``
   (``w`` = ``appearance_weight``), allowed only near the prediction; a clear appearance mismatch
   (``appearance_thresh``) vetoes a pair. A lost track may instead match on appearance alone (re-identification:
   cosine distance plus a small distance term) inside a spatial gate that widens the longer it has been lost.
5. Stage 2 (ByteTrack): confirmed tracks still unmatched vs low-score detections, by IoU only.
6. Stage 3: tentative tracks vs the remaining high-score detections; what is left and scores at least
   ``new_track_thresh`` starts new tentative tracks.
7. Finish: one batched Kalman update and one batched feature update (smoothed feature plus a diverse exemplar set)
   for all matched tracks; state changes (tentative -> confirmed -> lost -> removed) as array operations.
8. Memory: a track about to get a fresh ID first asks the identity memory (``trackreid.tracking.memory``) and the
   lost tracks, anywhere in the frame: on a distinct appearance match it takes that ID (``reentries``). A track
   that got a fresh ID asks again on each new good view during ``memory_recall_frames`` (people entering through
   the border are first seen as slivers), and then switches to the remembered ID (``renamed``; ``ids_now`` tells
   outputs that hold rows back which ID those rows end up with). Removed confirmed tracks with good views go into the
   memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from trackreid.tracking.config import TrackerConfig
from trackreid.tracking.id_log import IdLog
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
from trackreid.tracking.memory import (
    Identities,
    IdentityMemory,
    distinct_matches,
    exemplar_distance,
    update_exemplars,
)
from trackreid.tracking.motion import SparseFlowCMC, apply_warp
from trackreid.tracking.track import CONFIRMED, LOST, STATE_NAMES, TENTATIVE, TrackStore
from trackreid.types import (
    TRACK_COLS,
    validate_detections,
    validate_embeddings,
    validate_frame,
)

__all__ = ["Stage1Costs", "Tracker", "TrackerConfig"]

ID_LOG_FRAMES = 9000
"""Frames a rename stays in ``Tracker.id_log`` (5 min at 30 fps): longer than any output holds rows or crops of an
ID (``id_delay``, the crop bank's ``flush_after``, the linker's ``write_delay``); renames are rare, so it is small."""
_EMPTY_OUT = np.empty((0, TRACK_COLS), np.float64)
_EMPTY_ROWS = np.empty(0, np.int64)
RECALL_MIN_VIEWS = 1
"""Good views a young track must have shown before it may still take a remembered ID."""
EXEMPLAR_MAX_COVER = 0.5
"""A detection covered more than this by someone in front never becomes an appearance exemplar (0.5 rather than
0.2: more views per visit; re-entry benchmark IDF1 74.4 -> 76.6, every seed up, no-return row unchanged)."""
EXEMPLAR_MIN_ASPECT = 0.2
"""Nor does a sliver narrower than this fraction of its height (a person mostly outside the image)."""
EXEMPLAR_BORDER_PX = 2.0
"""Nor a box within this many pixels of the image border (cut off; without a frame only the left and top borders
are known)."""


@dataclass
class FrameInput:
    """One frame's validated detections and what is derived from them once."""

    dets: np.ndarray        # (N, 6) float32, rows scoring >= track_low_thresh
    keep: np.ndarray        # (N,) the caller's row of each detection (det_index)
    emb: np.ndarray | None  # (N, D) L2-normalised, or None (motion only)
    xyxy: np.ndarray        # (N, 4) float64
    cxcywh: np.ndarray      # (N, 4) float64
    high: np.ndarray        # (N,) score >= track_high_thresh
    cover: np.ndarray       # (N,) fraction covered by someone in front (0 when not needed)
    trust: np.ndarray       # (N,) weight of each embedding in the feature update
    good: np.ndarray        # (N,) a good view of a whole person: may become an appearance exemplar

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

    Appearance comes from ``embeddings`` (N, D) when given, else from ``encoder(frame, boxes)`` when the tracker
    owns an encoder and ``frame`` is given; otherwise the frame is tracked on motion alone. ``memory`` may pass an
    :class:`IdentityMemory` shared with other trackers (one identity bank for several cameras); by default each
    tracker owns one.
    """

    def __init__(self, config: TrackerConfig | None = None, encoder=None, memory: IdentityMemory | None = None):
        if config is None:
            config = TrackerConfig()
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
        self._own_memory = memory is None
        self.memory = memory if memory is not None else IdentityMemory(
            config.memory_size, config.memory_exemplars, config.memory_ttl)
        self.reset()

    def reset(self) -> None:
        """Forget all tracks (and the tracker's own identity memory) and start numbering IDs at 1 again (call
        between videos)."""
        self.tracks = TrackStore(exemplars=self.config.memory_exemplars)
        self.frame_id = 0
        self._next_id = 1
        self._dim: int | None = None
        self.reentries: dict[int, int] = {}
        """Track IDs that re-entered in the last ``update`` (taken from the memory or a lost track by appearance),
        each with the number of frames since that identity was last seen."""
        self.renamed: dict[int, int] = {}
        """Young tracks that switched to a remembered or lost identity in the last ``update``: old ID -> new ID
        (rows written earlier under the old ID belong to the new one)."""
        self.id_log = IdLog(ID_LOG_FRAMES)
        """Every rename of the last ``ID_LOG_FRAMES`` frames (``renamed`` of each frame): which ID earlier rows end
        up with, for the held-back outputs, the crop bank and the multi-camera linker."""
        if self._own_memory:
            self.memory.clear()
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

    def ids_now(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """For IDs this tracker returned up to ``id_delay`` frames ago: the ID each track carries now (young tracks
        that switched to a remembered identity since) and whether it is final (the track is settled, past its recall
        window, or gone)."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        now = self.id_log.resolve(ids)
        T = self.tracks
        n = T.n
        live = T.track_id[:n]
        order = np.argsort(live, kind="stable")
        pos = np.clip(np.searchsorted(live[order], now), 0, max(n - 1, 0))
        hit = (live[order][pos] == now) if n else np.zeros(len(now), bool)
        open_ = np.zeros(len(now), bool)
        open_[hit] = T.recall_until[order[pos[hit]]] > self.frame_id
        return now, ~open_

    def _memory_on(self) -> bool:
        return self.config.memory and self.config.appearance_weight > 0 and self._dim is not None

    # ------------------------------------------------------------------ embeddings
    def embed_rows(self, detections) -> np.ndarray:
        """Rows of ``detections`` (as passed to ``update``) whose embeddings the tracker reads: valid boxes scoring
        at least ``track_high_thresh``. Other rows may hold any placeholder (callers may skip embedding them)."""
        dets, keep = validate_detections(detections)
        return keep[dets[:, 4] >= self.config.track_high_thresh]

    def embed(self, frame, detections, encoder=None) -> np.ndarray | None:
        """Embeddings (N, D) for ``update(detections, embeddings=...)``: the rows of :meth:`embed_rows` go through
        ``encoder`` (default: the tracker's own) in one call, the others repeat a computed row. None when no row
        needs an embedding (the frame is then tracked as without appearance, which reads none)."""
        enc = encoder if encoder is not None else self.encoder
        if enc is None:
            raise ValueError("embed: no encoder; pass encoder= or build the Tracker with one")
        rows = self.embed_rows(detections)
        if len(rows) == 0:
            return None
        dets = np.asarray(detections, np.float32)
        part = validate_embeddings(enc(frame, np.ascontiguousarray(dets[rows, :4])), len(rows), self._dim)
        out = np.repeat(part[:1], len(dets), axis=0)
        out[rows] = part
        return out

    # ------------------------------------------------------------------ per frame
    def update(self, detections, frame=None, embeddings=None, *, embs=None) -> np.ndarray:
        """Advance one frame; see the class docstring for the layouts. ``embs`` is BoxMOT's name for
        ``embeddings``, accepted so that BoxMOT code switches over unchanged."""
        if embs is not None:
            if embeddings is not None:
                raise ValueError("pass embeddings= or embs= (BoxMOT's name for it), not both")
            embeddings = embs
        fi = self._inputs(detections, frame, embeddings)
        self.frame_id += 1
        self.reentries = {}
        self.renamed = {}
        self._predict(frame, fi)
        m = _Matches(fi.high)
        if self.tracks.n and len(fi.dets):
            costs = self._costs(fi)
            state = self.tracks.state[: self.tracks.n]
            left = self._stage1(np.flatnonzero(state != TENTATIVE), costs, m)
            self._stage2(left, costs, m)
            self._stage3(np.flatnonzero(state == TENTATIVE), costs, m)
        out = self._finish(m, fi)
        self.id_log.record(self.renamed, self.frame_id)
        return out

    def _inputs(self, detections, frame, embeddings) -> FrameInput:
        cfg = self.config
        dets, keep, n_in = validate_detections(detections, with_count=True)
        emb = None
        if embeddings is not None:
            emb = validate_embeddings(embeddings, n_in, self._dim)
            if len(keep) != n_in:
                emb = emb[keep]
        if frame is not None:
            validate_frame(frame)
        elif self.cmc is not None:
            raise ValueError(
                "frame: camera-motion compensation (config.cmc) needs the frame; pass update(..., frame=img)"
            )
        if emb is None and self.encoder is not None and frame is not None and len(dets):
            emb = self.embed(frame, dets)
        if len(dets) and dets[:, 4].min() < cfg.track_low_thresh:
            sel = dets[:, 4] >= cfg.track_low_thresh
            dets, keep = dets[sel], keep[sel]
            if emb is not None:
                emb = emb[sel]
        if emb is not None and len(emb) and self._dim is None:
            self._dim = int(emb.shape[1])
            self.tracks.set_dim(self._dim)
        if emb is not None and (not len(emb) or cfg.appearance_weight <= 0):
            emb = None
        xyxy = dets[:, :4].astype(np.float64)
        memory = cfg.memory and emb is not None
        cover = covered_fraction(xyxy) if (cfg.occlusion_trust or memory) else np.zeros(len(dets))
        trust = 1.0 - cover if cfg.occlusion_trust else np.ones(len(dets))
        good = self._good_views(xyxy, dets[:, 4], cover, frame) if memory else np.zeros(len(dets), bool)
        return FrameInput(dets, keep, emb, xyxy, xyxy_to_cxcywh(xyxy), dets[:, 4] >= cfg.track_high_thresh,
                          cover, trust, good)

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

    def _gates(self, fi: FrameInput, d_iou: np.ndarray):
        """Spatial and class gates: (near_ok, far_ok, centre distance, per-track radius)."""
        cfg = self.config
        T = self.tracks
        n = T.n
        lost_for = T.lost_for[:n]
        radius = np.where(T.state[:n] == LOST,
                          np.minimum(cfg.gate_radius + cfg.reid_gate_growth * (lost_for - 1), cfg.reid_gate_max),
                          cfg.gate_radius)
        far_ok, cdist = spatial_gate(T.mean[:n, :4], fi.cxcywh, radius, cfg.size_ratio)
        near_ok = (cdist <= cfg.gate_radius) & far_ok | (d_iou < 0.9)
        if cfg.class_aware:
            same_cls = T.cls[:n, None] == fi.dets[None, :, 5]
            near_ok &= same_cls
            far_ok &= same_cls
        return near_ok, far_ok, cdist, radius

    def _costs(self, fi: FrameInput) -> Stage1Costs:
        """All stage costs of this frame, by broadcasting."""
        cfg = self.config
        T = self.tracks
        n = T.n
        d_iou = 1.0 - iou_matrix(cxcywh_to_xyxy(T.mean[:n, :4]), fi.xyxy)
        near_ok, far_ok, cdist, radius = self._gates(fi, d_iou)
        motion_ok = near_ok.copy()           # low-score stage: motion only (their embeddings are never read)
        thresh = max(cfg.match_thresh, cfg.reid_thresh + cfg.reid_motion_weight)
        if not fi.use_app:
            fused = np.where(near_ok, d_iou, GATED)
            return Stage1Costs(d_iou, fused, np.where(fused <= cfg.match_thresh, fused, GATED), motion_ok, thresh)
        d_app = cosine_distance(T.feat[:n], fi.emb)
        has = T.has_feat[:n]
        w = (cfg.appearance_weight * has)[:, None]
        fused = (1.0 - w) * d_iou + w * d_app
        # appearance vetoes clear mismatches (with occlusion_trust, not for boxes more than half covered)
        near_ok &= ~(has[:, None] & (fi.trust[None, :] >= 0.5) & (d_app > cfg.appearance_thresh))
        # only a distinct appearance match may go beyond the IoU rule of motion-only matching; the ratio test runs
        # over tracks with features and high-score detections (the only embeddings read)
        distinct = np.zeros(d_app.shape, bool)
        rows_f, cols_h = np.flatnonzero(has), np.flatnonzero(fi.high)
        distinct[np.ix_(rows_f, cols_h)] = distinct_pairs(d_app[np.ix_(rows_f, cols_h)], cfg.appearance_margin)
        near_ok &= distinct | (d_iou <= cfg.match_thresh)
        fused = np.where(near_ok, fused, GATED)
        stage1 = np.where(fused <= cfg.match_thresh, fused, GATED)
        # re-identification: a lost track may also match on appearance alone, inside its widening gate
        reid_ok = far_ok & distinct & ((T.state[:n] == LOST) & has)[:, None] & (d_app <= cfg.reid_thresh)
        if reid_ok.any():
            reid = d_app + cfg.reid_motion_weight * cdist / radius[:, None]
            stage1 = np.where(reid_ok, np.minimum(stage1, reid), stage1)
        return Stage1Costs(d_iou, fused, stage1, motion_ok, thresh)

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

    def _finish(self, m: _Matches, fi: FrameInput) -> np.ndarray:
        """Apply matches, give newly confirmed tracks an identity, update states, remember removed identities and
        start new tracks; returns this frame's output rows."""
        rows, det_rows = m.arrays()
        self._gained = _EMPTY_ROWS
        promote = self._apply_matches(rows, det_rows, fi)
        T = self.tracks
        drop = np.zeros(T.n, bool)
        # young tracks with a fresh ID that just showed a good view may still be someone remembered
        recall = ~promote & np.isin(rows, self._gained) & (T.recall_until[rows] >= self.frame_id) \
            & (T.ex_n[rows] >= RECALL_MIN_VIEWS)
        rows = rows.copy()
        for ask, fresh in ((promote, True), (recall, False)):
            if ask.any():
                src = rows[ask]
                dest = self._identify(src, fresh)
                drop[src[dest != src]] = True
                rows[ask] = dest
        conf = T.state[rows] == CONFIRMED
        out = self._rows_out(rows[conf], det_rows[conf], fi)
        self._lifecycle(rows, drop)
        new_dets = np.flatnonzero(m.det_free & (fi.dets[:, 4] >= self.config.new_track_thresh))
        if len(new_dets):
            born = self._birth(new_dets, fi)
            if len(born):
                out = np.concatenate([out, born]) if len(out) else born
        return out

    def _apply_matches(self, rows, det_rows, fi: FrameInput) -> np.ndarray:
        """Batched Kalman and feature updates of matched tracks; returns which of them were confirmed just now."""
        cfg = self.config
        T = self.tracks
        if not len(rows):
            return np.zeros(0, bool)
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
        if fi.emb is not None:
            self._update_features(rows, det_rows, fi)
        return promote

    def _update_features(self, rows, det_rows, fi: FrameInput) -> None:
        """Exponential moving average of each matched track's features, trusting confident, unoccluded boxes more
        (Deep OC-SORT's idea, plus the occlusion cover); with the identity memory on, confident unoccluded views
        also feed each track's diverse exemplar set. Low-score detections never touch either (their embedding rows
        are never read, so callers may skip embedding them)."""
        cfg = self.config
        T = self.tracks
        hi = cfg.track_high_thresh
        s = fi.dets[det_rows, 4]
        sel = s >= hi
        if not sel.all():
            rows, det_rows, s = rows[sel], det_rows[sel], s[sel]
        conf_trust = np.clip((s - hi) / max(1.0 - hi, 1e-6), 0.0, 1.0)
        t = (0.5 + 0.5 * conf_trust) * fi.trust[det_rows]
        e = fi.emb[det_rows]
        has = T.has_feat[rows]
        a = 1.0 - (1.0 - cfg.ema_alpha) * t
        a = np.where(has, a, 0.0)[:, None]          # a track's first embedding becomes its memory
        f = a * T.feat[rows] + (1.0 - a) * e
        f /= np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        T.feat[rows] = f
        T.has_feat[rows] = True
        if self._memory_on():
            self._update_exemplars(rows, fi.good[det_rows], e)

    def _update_exemplars(self, rows, good, e) -> None:
        """Offer good views to the tracks' exemplar sets; a view far from every exemplar a track holds (someone
        else, after a swap) is refused. Records the rows that gained an exemplar (``_gained``)."""
        T = self.tracks
        count = T.ex_n[rows]
        sim = np.einsum("mkd,md->mk", T.ex[rows], e)
        sim = np.where(np.arange(sim.shape[1])[None, :] < count[:, None], sim, -np.inf)
        good = good & ((count == 0) | (1.0 - sim.max(axis=1, initial=-np.inf) <= self.config.appearance_thresh))
        r = rows[good]
        if len(r):
            before, n_before = T.ex[r].copy(), T.ex_n[r].copy()
            T.ex[r], T.ex_n[r] = update_exemplars(T.ex[r], T.ex_n[r], e[good])
            # a new slot counts even if it repeats what a reused row held before
            self._gained = r[(T.ex_n[r] != n_before) | (T.ex[r] != before).any(axis=(1, 2))]

    # ------------------------------------------------------------------ identities
    def _new_ids(self, k: int) -> np.ndarray:
        ids = self.memory.allocate_ids(k, start=self._next_id)
        self._next_id = int(ids[-1]) + 1 if k else self._next_id
        return ids

    def _identify(self, q: np.ndarray, fresh: bool) -> np.ndarray:
        """Rows ``q`` take a remembered or lost identity on a distinct appearance match; otherwise, with ``fresh``
        (just confirmed), a fresh ID that stays open to recall for ``memory_recall_frames``. Returns the row that
        now carries each identity: a re-found lost track's row (the row in ``q`` is then dropped) or the row."""
        T = self.tracks
        dest = q.copy()
        ids = np.full(len(q), -1, np.int64) if fresh else T.track_id[q].copy()
        found = np.zeros(len(q), bool)
        if self._memory_on():
            ask = np.flatnonzero(T.has_feat[q])
            if len(ask):
                found = self._recall(q, ask, ids, dest)
        if not fresh and found.any():
            self.renamed.update(zip(T.track_id[q[found]].tolist(), ids[found].tolist()))
        if fresh:
            new = ~found
            ids[new] = self._new_ids(int(new.sum()))
            if self._memory_on() and self.config.memory_recall_frames:
                T.recall_until[q[new]] = self.frame_id + self.config.memory_recall_frames
        T.track_id[dest] = ids
        # an identity from the memory is settled; a lost track re-found keeps its own recall window
        T.recall_until[dest[found & (dest == q)]] = 0
        return dest

    def _gallery_exemplars(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exemplars (M, K, D) and counts of track ``rows``; a track without a good view yet uses its feature."""
        T = self.tracks
        ex, count = T.ex[rows].copy(), T.ex_n[rows].copy()
        none = count == 0
        ex[none, 0] = T.feat[rows[none]]
        count[none] = 1
        return ex, count

    def _recall(self, q: np.ndarray, ask: np.ndarray, ids: np.ndarray, dest: np.ndarray) -> np.ndarray:
        """Match rows ``q[ask]`` against remembered identities and this tracker's confirmed and lost tracks (one
        gallery; people in view compete in the ratio test but are never taken). Fills ``ids`` and ``dest``;
        returns which rows of ``q`` found an identity."""
        cfg = self.config
        T = self.tracks
        n = T.n
        qr = q[ask]
        qf, qc = self._query_vectors(qr), T.cls[qr]
        held = np.flatnonzero((T.state[:n] != TENTATIVE) & (T.track_id[:n] >= 0) & T.has_feat[:n])
        held = held[~np.isin(held, qr)]
        g = self.memory.search(qf, qc, self.frame_id, skip_ids=T.track_id[held])
        d_trk = exemplar_distance(qf, *self._gallery_exemplars(held))
        d_trk = np.where(T.cls[held][None, :] == qc[:, None], d_trk, np.inf)
        seen = np.concatenate([g.last_seen, self.frame_id - T.lost_for[held]])
        eligible = seen[None, :] < T.born[qr][:, None]        # never someone seen while this track was
        eligible[:, len(g.ids):] &= self._reachable(qr, held)
        dist = np.concatenate([g.dist, d_trk], axis=1)
        qi, gj = distinct_matches(dist, cfg.memory_thresh, cfg.memory_margin, eligible)
        if len(qi):
            ok = ~self._contested(dist[qi, gj], gj, g, held)
            qi, gj = qi[ok], gj[ok]
        found = np.zeros(len(q), bool)
        found[ask[qi]] = True
        if not len(qi):
            return found
        all_ids = np.concatenate([g.ids, T.track_id[held]])
        self.reentries.update(zip(all_ids[gj].tolist(), (self.frame_id - seen[gj]).tolist()))
        from_mem = gj < len(g.ids)
        if from_mem.any():
            r, mj = qr[qi[from_mem]], gj[from_mem]
            ids[ask[qi[from_mem]]] = g.ids[mj]
            views = self.memory.ex[g.rows[mj], :T.ex.shape[1]]      # the remembered views, then its own
            counts = np.minimum(self.memory.count[g.rows[mj]], T.ex.shape[1])
            for i, row in enumerate(r.tolist()):                    # a handful per frame at most
                mine = T.ex[row, :T.ex_n[row]].copy()
                T.ex[row, :views.shape[1]], T.ex_n[row] = views[i], counts[i]
                if len(mine):
                    T.ex[row:row + 1], T.ex_n[row:row + 1] = update_exemplars(
                        T.ex[row:row + 1], T.ex_n[row:row + 1], mine[-1:])
            self.memory.remove(g.ids[mj])
        if (~from_mem).any():
            src, lost = qr[qi[~from_mem]], held[gj[~from_mem] - len(g.ids)]
            self._merge(src, lost)
            ids[ask[qi[~from_mem]]] = T.track_id[lost]
            dest[ask[qi[~from_mem]]] = lost
        return found

    def _query_vectors(self, rows: np.ndarray) -> np.ndarray:
        """(M, D) the mean of each track's good views (its feature while it has none), L2-normalised."""
        ex, count = self._gallery_exemplars(rows)
        v = np.where(np.arange(ex.shape[1])[None, :, None] < count[:, None, None], ex, 0.0).sum(axis=1)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def _contested(self, d_pair: np.ndarray, gj: np.ndarray, g, held: np.ndarray) -> np.ndarray:
        """For matched pairs (distance ``d_pair``, gallery column ``gj``): does a tracked person other than the
        column's own identity look as much like that identity as the query (within ``memory_margin``)? The
        column half of the ratio test, with the people in view as competitors."""
        if not len(held):
            return np.zeros(len(gj), bool)
        T = self.tracks
        k = T.ex.shape[1]
        ex = np.zeros((len(gj), k, T.ex.shape[2]), np.float32)
        count = np.full(len(gj), k)
        mem = gj < len(g.ids)
        if mem.any():
            ex[mem] = self.memory.ex[g.rows[gj[mem]], :k]
            count[mem] = self.memory.count[g.rows[gj[mem]]]
        if (~mem).any():
            ex[~mem], count[~mem] = self._gallery_exemplars(held[gj[~mem] - len(g.ids)])
        d = exemplar_distance(self._query_vectors(held), ex, count)            # (H, P)
        cls = np.concatenate([g.cls, T.cls[held]])[gj]
        d = np.where(T.cls[held][:, None] == cls[None, :], d, np.inf)           # rivals are of the same class
        own = np.zeros_like(d, bool)
        own[gj[~mem] - len(g.ids), np.flatnonzero(~mem)] = True                # a track is not its own rival
        d = np.where(own, np.inf, d)
        return d.min(axis=0) < d_pair + self.config.memory_margin

    def _reachable(self, q: np.ndarray, held: np.ndarray) -> np.ndarray:
        """(Q, H): could the person of track ``held`` have walked to where track ``q`` is now since last seen?"""
        T = self.tracks
        cfg = self.config
        qc = T.mean[q, :4]
        hc = xyxy_to_cxcywh(T.box[held].astype(np.float64))
        dist = np.hypot(qc[:, None, 0] - hc[None, :, 0], qc[:, None, 1] - hc[None, :, 1])
        height = np.maximum(qc[:, None, 3], hc[None, :, 3])
        return dist <= (cfg.reid_gate_max + cfg.memory_speed * T.lost_for[held])[None, :] * height

    def _merge(self, src: np.ndarray, dst: np.ndarray) -> None:
        """Lost tracks ``dst`` take over the state of the new tracks ``src`` that re-found them."""
        T = self.tracks
        a = self.config.ema_alpha
        T.mean[dst], T.cov[dst] = T.mean[src], T.cov[src]
        T.state[dst] = CONFIRMED
        T.lost_for[dst] = 0
        T.hits[dst] += T.hits[src]
        T.score[dst], T.box[dst] = T.score[src], T.box[src]
        f = a * T.feat[dst] + (1.0 - a) * T.feat[src]
        T.feat[dst] = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        T.state[src] = TENTATIVE

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
            if self._memory_on():
                self.memory.put(*self.identities(np.flatnonzero(expired & ~drop & (T.ex_n[:n] > 0))))
            T.keep(~remove)

    def identities(self, rows: np.ndarray | None = None) -> Identities:
        """Identities of track ``rows`` (default: every confirmed or lost track with a good view) in the form
        ``IdentityMemory.put`` takes; e.g. to publish the people in view to a shared multi-camera bank."""
        T = self.tracks
        n = T.n
        if rows is None:
            rows = np.flatnonzero((T.state[:n] != TENTATIVE) & (T.track_id[:n] >= 0) & (T.ex_n[:n] > 0))
        return Identities(T.track_id[rows].copy(), T.ex[rows], T.cls[rows].copy(), T.box[rows].copy(),
                          self.frame_id - T.lost_for[rows].astype(np.int64), T.ex_n[rows].copy())

    def _birth(self, new_dets, fi: FrameInput) -> np.ndarray:
        cfg = self.config
        T = self.tracks
        mean, cov = self.kalman.initiate(fi.cxcywh[new_dets])
        rows = T.add(mean, cov, fi.dets[new_dets, 5], fi.dets[new_dets, 4],
                     None if fi.emb is None else fi.emb[new_dets], fi.dets[new_dets, :4], self.frame_id)
        if fi.emb is not None and self._memory_on():
            self._update_exemplars(rows, fi.good[new_dets], fi.emb[new_dets])
        if self.frame_id == 1 or cfg.min_hits <= 1:
            T.state[rows] = CONFIRMED
            dest = self._identify(rows, fresh=True)
            out = self._rows_out(dest, new_dets, fi)
            merged = dest != rows
            if merged.any():
                keep = np.ones(T.n, bool)
                keep[rows[merged]] = False
                T.keep(keep)
            return out
        return _EMPTY_OUT

    def _rows_out(self, rows, det_rows, fi: FrameInput) -> np.ndarray:
        T = self.tracks
        out = np.empty((len(rows), TRACK_COLS), np.float64)
        out[:, :4] = cxcywh_to_xyxy(T.mean[rows, :4])
        out[:, 4] = T.track_id[rows]
        out[:, 5] = fi.dets[det_rows, 4]
        out[:, 6] = fi.dets[det_rows, 5]
        out[:, 7] = fi.keep[det_rows]
        return out

    # ------------------------------------------------------------------ memory files
    def save_memory(self, path) -> None:
        """Write the identity memory plus every identity still tracked (as if it left now) to ``path`` (``.npz``,
        no pickle), so a restarted app gives returning people their old IDs and new ones fresh IDs."""
        also = self.identities() if self._dim is not None else None
        self.memory.save(path, now=self.frame_id, also=also, next_id=self._next_id)

    def load_memory(self, path) -> None:
        """Replace the identity memory with a file from ``save_memory``; fresh IDs continue above the remembered
        ones. A missing or corrupt file, or one from another embedding size, raises ``ValueError``."""
        self.memory.load(path, now=self.frame_id, dim=self._dim)
        if self._dim is None and self.memory.dim:
            self._dim = int(self.memory.dim)
            self.tracks.set_dim(self._dim)
        self._next_id = max(self._next_id, self.memory.next_id)
