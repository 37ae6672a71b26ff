"""ReID embeddings of a frame's detections (or of several frames' at once), only of the rows the tracker reads."""
from __future__ import annotations

import time

import numpy as np


def embed_detections(encoder, tracker, frame, dets: np.ndarray) -> tuple[np.ndarray | None, float]:
    """Embeddings of the rows of ``dets`` the tracker will read (its rule, :func:`embed_rows`), and the
    milliseconds spent; a run without an encoder spends exactly 0."""
    if encoder is None:
        return None, 0.0
    t0 = time.perf_counter()
    emb = embed_many(encoder, [frame], [dets], [embed_rows(tracker, dets)])[0]
    return emb, (time.perf_counter() - t0) * 1e3


def embed_many(encoder, frames: list[np.ndarray], dets_list: list[np.ndarray],
               rows: list[np.ndarray]) -> list[np.ndarray | None]:
    """Embeddings of the detections of one or several frames, every crop in one forward when the encoder can (its
    ``preprocess`` and ``forward``), else one call per frame. Only ``rows`` of each frame are embedded (the
    tracker's rule, :func:`embed_rows`; the other rows as :func:`scatter_embeddings` fills them)."""
    if encoder is None:
        return [None] * len(frames)
    dim = getattr(encoder, "dim", None)
    pre, fwd = getattr(encoder, "preprocess", None), getattr(encoder, "forward", None)
    if pre is not None and fwd is not None and sum(len(r) for r in rows):
        import torch

        crops = [pre(f, np.ascontiguousarray(d[r, :4])) for f, d, r in zip(frames, dets_list, rows) if len(r)]
        feats = fwd(torch.cat(crops)).float().cpu().numpy()
        parts, at = [], 0
        for r in rows:
            parts.append(feats[at:at + len(r)] if len(r) else None)
            at += len(r)
    else:
        parts = [np.asarray(encoder(f, np.ascontiguousarray(d[r, :4])), np.float32) if len(r) else None
                 for f, d, r in zip(frames, dets_list, rows)]
    return [scatter_embeddings(len(d), r, p, dim) for d, r, p in zip(dets_list, rows, parts)]


def embed_rows(tracker, dets: np.ndarray) -> np.ndarray:
    """The detection rows whose embeddings ``tracker`` reads (``Tracker.embed_rows``: valid boxes scoring at least
    ``track_high_thresh``; low-score ones only extend tracks by IoU). A tracker without that rule reads all."""
    rule = getattr(tracker, "embed_rows", None)
    return np.asarray(rule(dets), np.int64) if rule is not None else np.arange(len(dets))


def scatter_embeddings(n: int, rows: np.ndarray, part: np.ndarray | None, dim: int | None) -> np.ndarray | None:
    """(n, D) embeddings with ``part`` at ``rows``; the other rows (never read by the tracker) hold a unit vector.
    None when nothing was embedded and the dimension is unknown (the tracker then uses motion for this frame)."""
    d = part.shape[1] if part is not None and part.ndim == 2 and part.shape[1] else (dim or 0)
    if not d:
        return None
    out = np.zeros((n, d), np.float32)
    out[:, 0] = 1.0
    if part is not None and len(rows):
        out[rows] = part
    return out
