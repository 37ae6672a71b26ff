"""Track state as a struct of arrays: row ``i`` of every array is one track.

States: ``TENTATIVE`` (new, no public ID yet) -> ``CONFIRMED`` (matched ``min_hits`` times; has an ID) ->
``LOST`` (confirmed but unmatched; kept for re-identification within the buffer) -> removed (row deleted).
Rows of removed tracks are compacted away at once, and capacity shrinks again when the tracks thin out, so memory
is bounded by the largest number of simultaneous tracks, however long the stream.
"""
from __future__ import annotations

import numpy as np

from trackreid.tracking.store import ColumnStore

TENTATIVE, CONFIRMED, LOST = 0, 1, 2
STATE_NAMES = {TENTATIVE: "tentative", CONFIRMED: "confirmed", LOST: "lost"}

_MIN_CAPACITY = 32


class TrackStore(ColumnStore):
    """Arrays for all live tracks (a :class:`~trackreid.tracking.store.ColumnStore`); ``n`` rows are in use."""

    def __init__(self, capacity: int = _MIN_CAPACITY, exemplars: int = 0):
        self.dim = 0
        self.n_ex = int(exemplars)
        super().__init__({
            "mean": (np.float64, (8,), 0.0),
            "cov": (np.float64, (8, 8), 0.0),
            "feat": (np.float32, (0,), 0.0),
            "has_feat": (bool, (), False),
            "track_id": (np.int64, (), -1),
            "state": (np.int8, (), TENTATIVE),
            "hits": (np.int32, (), 0),
            "lost_for": (np.int32, (), 0),        # frames since the last matched detection
            "cls": (np.float32, (), 0.0),
            "score": (np.float32, (), 0.0),
            "box": (np.float32, (4,), 0.0),       # last matched detection box, xyxy
            "ex": (np.float32, (self.n_ex, 0), 0.0),  # diverse appearance exemplars (identity memory)
            "ex_n": (np.int32, (), 0),            # valid rows of ``ex``
            "born": (np.int64, (), 0),            # frame of the first detection
            "recall_until": (np.int64, (), 0),    # a fresh ID may still turn out to be a remembered one until then
            "want_until": (np.int64, (), 0),      # appearance asked for on every frame until then (want_appearance)
        }, capacity=max(_MIN_CAPACITY, int(capacity)), min_capacity=_MIN_CAPACITY, shrink=True)

    def set_dim(self, dim: int) -> None:
        """Fix the embedding dimension (first frame with embeddings)."""
        if dim != self.dim:
            self.dim = int(dim)
            self.set_shape(feat=(self.dim,), ex=(self.n_ex, self.dim))
            self.has_feat[:] = False
            self.ex_n[:] = 0

    def add(self, mean: np.ndarray, cov: np.ndarray, cls: np.ndarray, score: np.ndarray,
            feat: np.ndarray | None, box: np.ndarray | None = None, frame: int = 0,
            has_feat: np.ndarray | None = None) -> np.ndarray:
        """Append ``k`` tentative tracks (one hit each); returns their row indices. ``feat``: their first
        embeddings, of the rows ``has_feat`` (default: all)."""
        values = dict(mean=mean, cov=cov, cls=cls, score=score, hits=1, born=frame)
        if box is not None:
            values["box"] = box
        if feat is not None and self.dim:
            values.update(feat=feat, has_feat=True if has_feat is None else has_feat)
        return self.append(len(mean), **values)
