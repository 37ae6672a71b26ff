"""Array layouts at the package boundary and the one place where user input is validated.

Detections: (N, 6) float32 ``x1, y1, x2, y2, score, cls`` in pixels.
Tracks:     (M, 8) float64 ``x1, y1, x2, y2, track_id, score, cls, det_index`` (BoxMOT's layout; float64 so that
            track IDs stay exact integers past 2**24 on an endless stream).

Rules (documented once, here):
- NaN or infinite values, a wrong shape, or a non-numeric dtype raise ``ValueError`` naming the problem.
- Inverted boxes (``x2 < x1`` or ``y2 < y1``) raise ``ValueError``: they signal a wrong box format (xywh given
  as xyxy), which silently clipping would hide.
- Zero-area boxes (``x2 == x1`` or ``y2 == y1``), typically a box clipped away at the frame border, are dropped;
  their ``det_index`` never appears in the output.
- Scores outside [0, 1] are clipped.
- An empty array (``(0, 6)``, ``(0,)`` or ``[]``) is a normal frame with no detections.

A frame's detections cross into the tracker once, as :class:`Detections` (validated, with the rows whose
embeddings the tracker reads marked); the tracker's answer is a :class:`TrackerOutput`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DET_COLS = 6
TRACK_COLS = 8


def _as_float_array(x, what: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{what}: cannot be read as a numeric array ({exc})") from None
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{what}: expected a numeric array of real numbers (int or float), got dtype {arr.dtype}")
    return arr


def validate_detections(dets, with_count: bool = False):
    """Check an (N, 6) detections array; return it as float32 plus the indices of the rows kept (and, with
    ``with_count``, the number of rows given, N).

    The returned index array maps each kept row back to the caller's row number (for ``det_index``).
    """
    if dets is None:
        dets = np.empty((0, DET_COLS), np.float32)
    arr = _as_float_array(dets, "detections")
    if arr.size == 0:
        out = np.empty((0, DET_COLS), np.float32), np.empty(0, np.int64)
        return (*out, 0) if with_count else out
    if arr.ndim != 2 or arr.shape[1] != DET_COLS:
        raise ValueError(
            f"detections: expected shape (N, 6) as x1,y1,x2,y2,score,cls, got {arr.shape}"
        )
    arr = arr.astype(np.float32, copy=True)
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ValueError(f"detections: rows {np.flatnonzero(bad)[:10].tolist()} contain NaN or inf")
    inverted = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if inverted.any():
        i = int(np.flatnonzero(inverted)[0])
        raise ValueError(
            f"detections: {int(inverted.sum())} inverted box(es), e.g. row {i} = {arr[i, :4].tolist()}; "
            "boxes must be x1,y1,x2,y2 with x2 >= x1 and y2 >= y1 (convert xywh first)"
        )
    np.clip(arr[:, 4], 0.0, 1.0, out=arr[:, 4])
    keep = np.flatnonzero((arr[:, 2] > arr[:, 0]) & (arr[:, 3] > arr[:, 1]))
    return (arr[keep], keep, len(arr)) if with_count else (arr[keep], keep)


def validate_embeddings(emb, n: int, dim: int | None = None) -> np.ndarray:
    """Check an (n, D) embeddings array; return it float32 and L2-normalised."""
    arr = _as_float_array(emb, "embeddings")
    if arr.size == 0 and n == 0:
        return np.empty((0, dim or (arr.shape[1] if arr.ndim == 2 else 0)), np.float32)
    if arr.ndim != 2:
        raise ValueError(f"embeddings: expected shape (N, D), got {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"embeddings: got {arr.shape[0]} rows for {n} detections; pass one row per detection (with the Detections of Tracker.detections: one per row it marks to embed)")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"embeddings: expected dimension {dim} (as in earlier frames), got {arr.shape[1]}")
    arr = arr.astype(np.float32, copy=True)
    if not np.isfinite(arr).all():
        raise ValueError("embeddings: contain NaN or inf")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("embeddings: an all-zero row cannot be normalised")
    return arr / norms


def l2_normalise(v: np.ndarray) -> np.ndarray:
    """Vectors along the last axis of ``v`` scaled to unit length (all-zero ones stay zero); same dtype."""
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def validate_frame(frame) -> np.ndarray:
    """Check a BGR uint8 image of shape (H, W, 3)."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"frame: expected a numpy array (H, W, 3) BGR uint8, got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"frame: expected shape (H, W, 3) BGR, got {frame.shape}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame: expected dtype uint8, got {frame.dtype}")
    return frame


@dataclass(frozen=True)
class Detections:
    """One frame's detections, validated once (the rules above), with the rows whose embeddings are read marked.

    Build it with ``Tracker.detections(array)``; embed :meth:`boxes_to_embed` and pass the result to
    ``Tracker.update(detections, embeddings=...)``: exactly one embedding per marked row, in order.
    """

    dets: np.ndarray        # (N, 6) float32, the valid rows
    index: np.ndarray       # (N,) each row's row in the caller's array (``det_index`` of the output)
    given: int              # rows in the caller's array (valid or not)
    embed: np.ndarray       # (N,) bool: rows whose embeddings the tracker reads (high-score boxes)
    owner: np.ndarray | None = None  # (N,) ID of the one track a row left unembedded may go to (-1: any); None: any

    @classmethod
    def of(cls, dets, embed_thresh: float) -> "Detections":
        """Validate ``dets`` (N, 6) and mark the rows scoring at least ``embed_thresh``."""
        valid, index, given = validate_detections(dets, with_count=True)
        return cls(valid, index, given, valid[:, 4] >= embed_thresh)

    def __len__(self) -> int:
        return len(self.dets)

    def marked(self, embed: np.ndarray, owner: np.ndarray | None = None) -> "Detections":
        """The same detections with other rows marked to embed (only where appearance is needed), and the track
        each row left out may go to (``owner``, track IDs; -1: any)."""
        return Detections(self.dets, self.index, self.given, np.asarray(embed, bool), owner)

    @property
    def embed_index(self) -> np.ndarray:
        """The caller's rows to embed (into the array the detections came from)."""
        return self.index[self.embed]

    def boxes_to_embed(self) -> np.ndarray:
        """(K, 4) float32 boxes of the rows to embed, contiguous, for an encoder."""
        return np.ascontiguousarray(self.dets[self.embed, :4])


@dataclass(frozen=True)
class TrackerOutput:
    """One frame's result of ``Tracker.step``: the tracks and what happened to identities in that frame."""

    tracks: np.ndarray                                          # (M, 8) the layout above
    reentries: dict[int, int] = field(default_factory=dict)     # IDs back this frame -> frames since last seen
    renamed: dict[int, int] = field(default_factory=dict)       # young tracks that switched ID: old -> new
    features: np.ndarray | None = None                          # (M, D) smoothed feature of each output track
    has_features: np.ndarray | None = None                      # (M,) which of them have one
    held: np.ndarray | None = None                              # every ID the tracker holds (confirmed or lost)

    @property
    def ids(self) -> np.ndarray:
        """(M,) track IDs as integers."""
        return self.tracks[:, 4].astype(np.int64)

    def appearance(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What a multi-camera linker compares: the (M, D) features, which tracks have one (M,), and the IDs held
        (no features, D = 0, from a tracker that gives none)."""
        ids = self.ids
        if self.features is None:
            return np.zeros((len(ids), 0), np.float32), np.zeros(len(ids), bool), ids
        return self.features, self.has_features, ids if self.held is None else self.held
