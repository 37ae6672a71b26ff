"""The association policy: who gets which detection, frame after frame.

Per frame (every step works on stacked arrays; there is no Python loop over tracks):

1. Validate input (``trackreid.types``), drop detections scoring below ``track_low_thresh``; when the tracker owns
   an encoder, a frame is given and no embeddings were passed, embed the high-score boxes (one call per frame).
2. Kalman-predict every track at once; optionally move predictions with the camera (``cmc="sparse_flow"``).
3. Build every cost matrix once, by broadcasting: IoU, cosine distance to each track's feature memory, a spatial
   gate (centre distance in box heights plus a height-ratio check) and the class mask.
4. Stage 1: confirmed and lost tracks vs high-score detections. Cost ``(1 - w) * (1 - IoU) + w * cosine``
   (``w`` = ``appearance_weight``), allowed only near the prediction; a clear appearance mismatch
   (``appearance_thresh``) vetoes a pair. A lost track may instead match on appearance alone (re-identification:
   cosine distance plus a small distance term) inside a spatial gate that widens the longer it has been lost.
   Gated pairs can never match, so appearance never joins two far-apart boxes.
5. Stage 2 (ByteTrack): confirmed tracks still unmatched vs low-score detections, by IoU only.
6. Stage 3: tentative tracks vs the remaining high-score detections; what is left and scores at least
   ``new_track_thresh`` starts new tentative tracks.
7. One batched Kalman update and one batched feature-memory update for all matched tracks; state changes
   (tentative -> confirmed -> lost -> removed) as array operations.
"""
from __future__ import annotations

import numpy as np

from trackreid.tracking.config import TrackerConfig
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
from trackreid.tracking.motion import SparseFlowCMC, apply_warp
from trackreid.tracking.track import CONFIRMED, LOST, STATE_NAMES, TENTATIVE, TrackStore
from trackreid.types import TRACK_COLS, validate_detections, validate_embeddings, validate_frame

__all__ = ["Tracker", "TrackerConfig"]

_EMPTY_OUT = np.empty((0, TRACK_COLS), np.float64)


class Tracker:
    """Multi-object tracker with Kalman motion and ReID appearance.

    ``update(detections, frame=None, embeddings=None)`` takes an (N, 6) array ``x1, y1, x2, y2, score, cls`` and
    returns the tracks matched in this frame as an (M, 8) float64 array ``x1, y1, x2, y2, track_id, score, cls,
    det_index`` (BoxMOT's layout; ``det_index`` is the row of ``detections`` the track was matched to).

    Appearance comes from ``embeddings`` (N, D) when given, else from ``encoder(frame, boxes)`` when the tracker
    owns an encoder and ``frame`` is given; otherwise the frame is tracked on motion alone.
    """

    def __init__(self, config: TrackerConfig | None = None, encoder=None):
        if config is None:
            config = TrackerConfig()
        if not isinstance(config, TrackerConfig):
            raise ValueError(f"config: expected a TrackerConfig, got {type(config).__name__}")
        if encoder is not None and not callable(encoder):
            raise ValueError("encoder: expected a callable encoder(frame, boxes) -> (N, D) embeddings")
        self.config = config
        self.encoder = encoder
        self.kalman = BatchedKalman(config.std_weight_position, config.std_weight_velocity, config.nsa)
        self.cmc = SparseFlowCMC(config.cmc_downscale) if config.cmc == "sparse_flow" else None
        self.reset()

    def reset(self) -> None:
        """Forget all tracks and start numbering IDs at 1 again (call between videos)."""
        self.tracks = TrackStore()
        self.frame_id = 0
        self._next_id = 1
        self._dim: int | None = None
        if self.cmc is not None:
            self.cmc.reset()

    # ------------------------------------------------------------------ introspection
    def state_counts(self) -> dict[str, int]:
        """Number of live tracks in each state."""
        st = self.tracks.state[: self.tracks.n]
        return {name: int((st == code).sum()) for code, name in STATE_NAMES.items()}

    def memory_bytes(self) -> int:
        """Bytes held by the track arrays (bounded by the peak number of simultaneous tracks)."""
        return self.tracks.nbytes()

    # ------------------------------------------------------------------ per frame
    def _inputs(self, detections, frame, embeddings):
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
        if len(dets) and dets[:, 4].min() < cfg.track_low_thresh:
            sel = dets[:, 4] >= cfg.track_low_thresh
            dets, keep = dets[sel], keep[sel]
            if emb is not None:
                emb = emb[sel]
        if emb is None and self.encoder is not None and frame is not None and len(dets):
            # Appearance is read only for high-score detections, so only those are embedded (one call per frame).
            hi = np.flatnonzero(dets[:, 4] >= cfg.track_high_thresh)
            if len(hi):
                part = validate_embeddings(self.encoder(frame, np.ascontiguousarray(dets[hi, :4])), len(hi),
                                           self._dim)
                emb = np.zeros((len(dets), part.shape[1]), np.float32)
                emb[hi] = part
        if emb is not None and len(emb) and self._dim is None:
            self._dim = int(emb.shape[1])
            self.tracks.set_dim(self._dim)
        if emb is not None and not len(emb):
            emb = None
        return dets, keep, emb

    def update(self, detections, frame=None, embeddings=None, *, embs=None) -> np.ndarray:
        """Advance one frame; see the class docstring for the layouts. ``embs`` is BoxMOT's name for
        ``embeddings``, accepted so that BoxMOT code switches over unchanged."""
        if embs is not None:
            if embeddings is not None:
                raise ValueError("pass embeddings= or embs= (BoxMOT's name for it), not both")
            embeddings = embs
        cfg = self.config
        dets, keep, emb = self._inputs(detections, frame, embeddings)
        self.frame_id += 1
        T = self.tracks
        n, nd = T.n, len(dets)

        # --- predict (all tracks at once) ---
        mean, cov, state = T.mean[:n], T.cov[:n], T.state[:n]
        if n:
            mean[state == LOST, 6:8] = 0.0  # a lost box keeps drifting with the walk but stops growing/shrinking
            self.kalman.predict(mean, cov)
            np.maximum(mean[:, 2:4], 1.0, out=mean[:, 2:4])
            T.lost_for[:n] += 1
        if self.cmc is not None:
            warp = self.cmc.estimate(frame, dets[:, :4])
            apply_warp(mean, cov, warp)
        if nd == 0:
            self._finish(np.empty(0, np.int64), np.empty(0, np.int64), dets, emb, None, np.empty(0, np.int64))
            return _EMPTY_OUT

        # --- all cost terms, once, by broadcasting ---
        d_xyxy = dets[:, :4].astype(np.float64)
        d_cxcywh = xyxy_to_cxcywh(d_xyxy)
        high = dets[:, 4] >= cfg.track_high_thresh
        trust = 1.0 - covered_fraction(d_xyxy) if cfg.occlusion_trust else np.ones(nd)
        use_app = emb is not None and cfg.appearance_weight > 0
        if n:
            t_cxcywh = mean[:, :4]
            d_iou = 1.0 - iou_matrix(cxcywh_to_xyxy(t_cxcywh), d_xyxy)
            is_lost = state == LOST
            lost_for = T.lost_for[:n]
            radius = np.where(is_lost,
                              np.minimum(cfg.gate_radius + cfg.reid_gate_growth * (lost_for - 1), cfg.reid_gate_max),
                              cfg.gate_radius)
            far_ok, cdist = spatial_gate(t_cxcywh, d_cxcywh, radius, cfg.size_ratio)
            near_ok = (cdist <= cfg.gate_radius) & far_ok | (d_iou < 0.9)
            if cfg.class_aware:
                same_cls = T.cls[:n, None] == dets[None, :, 5]
                near_ok &= same_cls
                far_ok &= same_cls
            motion_ok = near_ok.copy()           # low-score stage: motion only (their embeddings are never read)
            if use_app:
                d_app = cosine_distance(T.feat[:n], emb)
                has = T.has_feat[:n]
                w = (cfg.appearance_weight * has)[:, None]
                fused = (1.0 - w) * d_iou + w * d_app
                # appearance vetoes clear mismatches (with occlusion_trust, not for boxes more than half covered)
                near_ok &= ~(has[:, None] & (trust[None, :] >= 0.5) & (d_app > cfg.appearance_thresh))
                # only a distinct appearance match may go beyond the IoU rule of motion-only matching; the ratio
                # test runs over tracks with features and high-score detections (the only embeddings read)
                distinct = np.zeros((n, nd), bool)
                rows_f = np.flatnonzero(has)
                cols_h = np.flatnonzero(high)
                distinct[np.ix_(rows_f, cols_h)] = distinct_pairs(d_app[np.ix_(rows_f, cols_h)],
                                                                   cfg.appearance_margin)
                near_ok &= distinct | (d_iou <= cfg.match_thresh)
                fused = np.where(near_ok, fused, GATED)
            else:
                fused = np.where(near_ok, d_iou, GATED)
            stage1 = np.where(fused <= cfg.match_thresh, fused, GATED)
            if use_app:
                # re-identification: a lost track may also match on appearance alone, inside its widening gate
                reid_ok = far_ok & distinct & (is_lost & has)[:, None] & (d_app <= cfg.reid_thresh)
                if reid_ok.any():
                    reid = d_app + cfg.reid_motion_weight * cdist / radius[:, None]
                    stage1 = np.where(reid_ok, np.minimum(stage1, reid), stage1)

        det_free = high.copy()
        low_free = ~high
        m_rows, m_dets = [], []

        def take(rows, cols, cost, thresh, free):
            if len(rows) == 0 or len(cols) == 0:
                return np.ones(len(rows), bool)
            matches, _, _ = linear_assignment(cost, thresh)
            if len(matches):
                m_rows.append(rows[matches[:, 0]])
                m_dets.append(cols[matches[:, 1]])
                free[cols[matches[:, 1]]] = False
            unmatched = np.ones(len(rows), bool)
            unmatched[matches[:, 0]] = False
            return unmatched

        if n:
            old_rows = np.flatnonzero(state != TENTATIVE)
            tent_rows = np.flatnonzero(state == TENTATIVE)

            # stage 1: confirmed and lost tracks vs high-score detections (motion + appearance, re-identification)
            cols = np.flatnonzero(det_free)
            thresh = max(cfg.match_thresh, cfg.reid_thresh + cfg.reid_motion_weight)  # stage1 holds both limits
            um = take(old_rows, cols, stage1[np.ix_(old_rows, cols)], thresh, det_free)
            left = old_rows[um]
            left = left[state[left] == CONFIRMED]   # ByteTrack: only tracks seen last frame take low-score boxes

            # stage 2: unmatched confirmed tracks vs low-score detections (motion only)
            cols = np.flatnonzero(low_free)
            if len(left) and len(cols):
                ix = np.ix_(left, cols)
                take(left, cols, np.where(motion_ok[ix], d_iou[ix], GATED), cfg.low_match_thresh, low_free)

            # stage 3: tentative tracks vs remaining high-score detections
            cols = np.flatnonzero(det_free)
            take(tent_rows, cols, fused[np.ix_(tent_rows, cols)], cfg.tentative_match_thresh, det_free)

        new_dets = np.flatnonzero(det_free & (dets[:, 4] >= cfg.new_track_thresh))
        m_rows = np.concatenate(m_rows) if m_rows else np.empty(0, np.int64)
        m_dets = np.concatenate(m_dets) if m_dets else np.empty(0, np.int64)
        return self._finish(m_rows, m_dets, dets, emb, trust, new_dets, d_cxcywh, keep)

    def _finish(self, m_rows, m_dets, dets, emb, trust, new_dets, d_cxcywh=None, keep=None) -> np.ndarray:
        """Apply matches (batched Kalman + feature updates), state changes, removals and births."""
        cfg = self.config
        T = self.tracks
        n = T.n
        out = _EMPTY_OUT
        if len(m_rows):
            z = d_cxcywh[m_dets]
            s = dets[m_dets, 4].astype(np.float64)
            T.mean[m_rows], T.cov[m_rows] = self.kalman.update(T.mean[m_rows], T.cov[m_rows], z, s)
            T.lost_for[m_rows] = 0
            T.hits[m_rows] += 1
            T.score[m_rows] = dets[m_dets, 4]
            if not cfg.class_aware:
                T.cls[m_rows] = dets[m_dets, 5]
            st = T.state[m_rows]
            st[st == LOST] = CONFIRMED
            promote = (st == TENTATIVE) & (T.hits[m_rows] >= cfg.min_hits)
            st[promote] = CONFIRMED
            T.state[m_rows] = st
            if promote.any():
                k = int(promote.sum())
                T.track_id[m_rows[promote]] = np.arange(self._next_id, self._next_id + k)
                self._next_id += k
            if emb is not None:
                self._update_features(m_rows, m_dets, dets, emb, trust)
            conf = st == CONFIRMED
            r, d = m_rows[conf], m_dets[conf]
            out = self._rows_out(r, d, dets, keep)

        # lifecycle: unmatched confirmed -> lost; unmatched tentative and expired lost -> removed
        if n:
            matched = np.zeros(n, bool)
            matched[m_rows] = True
            state = T.state[:n]
            state[~matched & (state == CONFIRMED)] = LOST
            remove = ~matched & ((state == TENTATIVE) | ((state == LOST) & (T.lost_for[:n] > cfg.track_buffer)))
            if remove.any():
                T.keep(~remove)

        if len(new_dets):
            new_out = self._birth(new_dets, dets, emb, d_cxcywh, keep)
            if len(new_out):
                out = np.concatenate([out, new_out]) if len(out) else new_out
        return out

    def _update_features(self, m_rows, m_dets, dets, emb, trust) -> None:
        """Exponential moving average of each matched track's features, trusting confident, unoccluded boxes more
        (Deep OC-SORT's idea, plus the occlusion cover). Low-score detections never touch the memory (their
        embedding rows are never read, so callers may skip embedding them)."""
        cfg = self.config
        T = self.tracks
        hi = cfg.track_high_thresh
        s = dets[m_dets, 4]
        sel = s >= hi
        if not sel.all():
            m_rows, m_dets, s = m_rows[sel], m_dets[sel], s[sel]
        conf_trust = np.clip((s - hi) / max(1.0 - hi, 1e-6), 0.0, 1.0)
        t = (0.5 + 0.5 * conf_trust) * trust[m_dets]
        e = emb[m_dets]
        has = T.has_feat[m_rows]
        a = 1.0 - (1.0 - cfg.ema_alpha) * t
        a = np.where(has, a, 0.0)[:, None]          # a track's first embedding becomes its memory
        f = a * T.feat[m_rows] + (1.0 - a) * e
        f /= np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        T.feat[m_rows] = f
        T.has_feat[m_rows] = True

    def _birth(self, new_dets, dets, emb, d_cxcywh, keep) -> np.ndarray:
        cfg = self.config
        T = self.tracks
        mean, cov = self.kalman.initiate(d_cxcywh[new_dets])
        rows = T.add(mean, cov, dets[new_dets, 5], dets[new_dets, 4], None if emb is None else emb[new_dets])
        if self.frame_id == 1 or cfg.min_hits <= 1:
            k = len(rows)
            T.state[rows] = CONFIRMED
            T.track_id[rows] = np.arange(self._next_id, self._next_id + k)
            self._next_id += k
            return self._rows_out(rows, new_dets, dets, keep)
        return _EMPTY_OUT

    def _rows_out(self, rows, det_rows, dets, keep) -> np.ndarray:
        T = self.tracks
        out = np.empty((len(rows), TRACK_COLS), np.float64)
        out[:, :4] = cxcywh_to_xyxy(T.mean[rows, :4])
        out[:, 4] = T.track_id[rows]
        out[:, 5] = dets[det_rows, 4]
        out[:, 6] = dets[det_rows, 5]
        out[:, 7] = keep[det_rows]
        return out
