"""Track state as a struct of arrays: row ``i`` of every array is one track.

States: ``TENTATIVE`` (new, no public ID yet) -> ``CONFIRMED`` (matched ``min_hits`` times; has an ID) ->
``LOST`` (confirmed but unmatched; kept for re-identification within the buffer) -> removed (row deleted).
Rows of removed tracks are compacted away at once, and capacity shrinks again when the tracks thin out, so memory
is bounded by the largest number of simultaneous tracks, however long the stream.
"""
from __future__ import annotations

import numpy as np

TENTATIVE, CONFIRMED, LOST = 0, 1, 2
STATE_NAMES = {TENTATIVE: "tentative", CONFIRMED: "confirmed", LOST: "lost"}

_MIN_CAPACITY = 32


class TrackStore:
    """Preallocated arrays for all live tracks; ``n`` rows are in use."""

    _ARRAYS = ("mean", "cov", "feat", "has_feat", "track_id", "state", "hits", "lost_for", "cls", "score", "box",
               "ex", "ex_n", "born", "recall_until")

    def __init__(self, capacity: int = _MIN_CAPACITY, exemplars: int = 0):
        self.n = 0
        self.dim = 0
        self.n_ex = int(exemplars)
        self._alloc(max(_MIN_CAPACITY, int(capacity)))

    def _alloc(self, cap: int) -> None:
        self.cap = cap
        self.mean = np.zeros((cap, 8))
        self.cov = np.zeros((cap, 8, 8))
        self.feat = np.zeros((cap, self.dim), np.float32)
        self.has_feat = np.zeros(cap, bool)
        self.track_id = np.full(cap, -1, np.int64)
        self.state = np.zeros(cap, np.int8)
        self.hits = np.zeros(cap, np.int32)
        self.lost_for = np.zeros(cap, np.int32)   # frames since the last matched detection
        self.cls = np.zeros(cap, np.float32)
        self.score = np.zeros(cap, np.float32)
        self.box = np.zeros((cap, 4), np.float32)  # last matched detection box, xyxy
        self.ex = np.zeros((cap, self.n_ex, self.dim), np.float32)  # diverse appearance exemplars (identity memory)
        self.ex_n = np.zeros(cap, np.int32)                          # valid rows of ``ex``
        self.born = np.zeros(cap, np.int64)          # frame of the first detection
        self.recall_until = np.zeros(cap, np.int64)  # a fresh ID may still turn out to be a remembered one until then

    def _resize(self, cap: int) -> None:
        old = {name: getattr(self, name)[: self.n] for name in self._ARRAYS}
        self._alloc(cap)
        for name, arr in old.items():
            getattr(self, name)[: self.n] = arr

    def set_dim(self, dim: int) -> None:
        """Fix the embedding dimension (first frame with embeddings)."""
        if dim != self.dim:
            self.dim = int(dim)
            self.feat = np.zeros((self.cap, self.dim), np.float32)
            self.ex = np.zeros((self.cap, self.n_ex, self.dim), np.float32)
            self.has_feat[:] = False
            self.ex_n[:] = 0

    def add(self, mean: np.ndarray, cov: np.ndarray, cls: np.ndarray, score: np.ndarray,
            feat: np.ndarray | None, box: np.ndarray | None = None, frame: int = 0) -> np.ndarray:
        """Append ``k`` tentative tracks; returns their row indices."""
        k = len(mean)
        if self.n + k > self.cap:
            cap = self.cap
            while cap < self.n + k:
                cap *= 2
            self._resize(cap)
        rows = np.arange(self.n, self.n + k)
        self.mean[rows] = mean
        self.cov[rows] = cov
        self.track_id[rows] = -1
        self.state[rows] = TENTATIVE
        self.hits[rows] = 1
        self.lost_for[rows] = 0
        self.cls[rows] = cls
        self.score[rows] = score
        self.box[rows] = 0.0 if box is None else box
        self.ex_n[rows] = 0
        self.born[rows] = frame
        self.recall_until[rows] = 0
        if feat is not None and self.dim:
            self.feat[rows] = feat
            self.has_feat[rows] = True
        else:
            self.has_feat[rows] = False
        self.n += k
        return rows

    def keep(self, keep_mask: np.ndarray) -> None:
        """Delete the rows where ``keep_mask`` (n,) is False, preserving order."""
        if keep_mask.all():
            return
        idx = np.flatnonzero(keep_mask)
        m = len(idx)
        for name in self._ARRAYS:
            arr = getattr(self, name)
            arr[:m] = arr[idx]
        self.n = m
        if self.cap > _MIN_CAPACITY and m < self.cap // 4:
            self._resize(max(_MIN_CAPACITY, self.cap // 2))

    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in self._ARRAYS)
