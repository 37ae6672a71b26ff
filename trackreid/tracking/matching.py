"""Cost matrices and linear assignment: IoU, cosine distance, spatial gating, occlusion cover, ``lap.lapjv``.

All functions take stacked arrays and build full matrices by broadcasting.
"""
from __future__ import annotations

import lap
import numpy as np

GATED = 1e4
"""Cost written into gated-out pairs; far above any threshold, so ``lapjv`` never picks them."""
_BLAS_SINGLE_THREAD_MACS = 200_000
_BLAS_ONE_CALL_MACS = 4_000_000  # above this, one multi-threaded product beats row blocks


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection areas (K, N) of xyxy boxes ``a`` (K, 4) and ``b`` (N, 4)."""
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    return np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between boxes ``a`` (K, 4) and ``b`` (N, 4), both xyxy; returns (K, N)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    inter = _intersection(a, b)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / np.maximum(union, 1e-9)


def covered_fraction(boxes: np.ndarray) -> np.ndarray:
    """For each box (N, 4) xyxy, the largest fraction of its area covered by one *other* box that lies in front
    of it (its bottom edge is lower in the image, the usual depth order for people on a ground plane)."""
    n = len(boxes)
    if n < 2:
        return np.zeros(n)
    inter = _intersection(boxes, boxes)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    frac = inter / np.maximum(area, 1e-9)[:, None]
    in_front = boxes[None, :, 3] > boxes[:, None, 3]
    frac = np.where(in_front, frac, 0.0)
    np.fill_diagonal(frac, 0.0)
    return frac.max(axis=1)


def cosine_distance(track_feats: np.ndarray, det_feats: np.ndarray) -> np.ndarray:
    """``1 - cos`` between L2-normalised rows; returns (K, N) in [0, 2]."""
    k, n = len(track_feats), len(det_feats)
    if k == 0 or n == 0:
        return np.zeros((k, n))
    det_t = det_feats.T
    if k * n * det_feats.shape[1] > _BLAS_ONE_CALL_MACS:
        return 1.0 - track_feats @ det_t
    # OpenBLAS goes multi-threaded above ~262k multiply-adds; for a frame-sized product (40 x 512 @ 512 x 40) waking
    # its threads costs more than the product, and milliseconds when the CPU is busy with the detector, so small
    # products are done in row blocks (of at least 8 rows) that stay single-threaded.
    sim = np.empty((k, n), np.result_type(track_feats, det_feats))
    step = max(8, _BLAS_SINGLE_THREAD_MACS // (n * det_feats.shape[1]))
    for i in range(0, k, step):
        np.matmul(track_feats[i:i + step], det_t, out=sim[i:i + step])
    return 1.0 - sim


def distinct_pairs(dist: np.ndarray, margin: float) -> np.ndarray:
    """Pairs (K, N) whose distance is the smallest of both their row and their column, by at least ``margin``
    over the runner-up in each (a two-way ratio test). Appearance that does not tell people apart, such as the
    features of an untrained network, yields no such pairs."""
    k, n = dist.shape
    if k == 0 or n == 0:
        return np.zeros((k, n), bool)
    if n > 1:
        two = np.partition(dist, 1, axis=1)
        row_best, row_next = two[:, 0], two[:, 1]
    else:
        row_best, row_next = dist[:, 0], np.full(k, np.inf)
    if k > 1:
        two = np.partition(dist, 1, axis=0)
        col_best, col_next = two[0], two[1]
    else:
        col_best, col_next = dist[0], np.full(n, np.inf)
    return ((dist <= row_best[:, None]) & (dist <= col_best[None, :])
            & (dist <= row_next[:, None] - margin) & (dist <= col_next[None, :] - margin))


def center_distance(tracks_cxcywh: np.ndarray, dets_cxcywh: np.ndarray) -> np.ndarray:
    """Centre distance in units of the track's box height; (K, N)."""
    dx = tracks_cxcywh[:, None, 0] - dets_cxcywh[None, :, 0]
    dy = tracks_cxcywh[:, None, 1] - dets_cxcywh[None, :, 1]
    return np.sqrt(dx * dx + dy * dy) / np.maximum(tracks_cxcywh[:, None, 3], 1e-6)


def spatial_gate(tracks_cxcywh: np.ndarray, dets_cxcywh: np.ndarray, radius: np.ndarray | float,
                 size_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs a track may match: centre within ``radius`` track heights (per track or scalar) and box heights
    within ``size_ratio`` of each other. Returns (allowed mask (K, N), centre distance (K, N))."""
    dist = center_distance(tracks_cxcywh, dets_cxcywh)
    r = np.asarray(radius, dtype=np.float64)
    ok = dist <= (r[:, None] if r.ndim else r)
    ratio = tracks_cxcywh[:, None, 3] / np.maximum(dets_cxcywh[None, :, 3], 1e-6)
    ok &= (ratio <= size_ratio) & (ratio >= 1.0 / size_ratio)
    return ok, dist


def linear_assignment(cost: np.ndarray, thresh: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost matching keeping only pairs with cost <= ``thresh``.

    Returns (matches (P, 2) int rows/cols, unmatched rows, unmatched cols).
    """
    k, n = cost.shape
    if k == 0 or n == 0:
        return np.empty((0, 2), np.int64), np.arange(k), np.arange(n)
    _, x, y = lap.lapjv(cost, extend_cost=True, cost_limit=thresh)
    rows = np.flatnonzero(x >= 0)
    matches = np.stack([rows, x[rows]], axis=1).astype(np.int64)
    return matches, np.flatnonzero(x < 0), np.flatnonzero(y < 0)
