"""Per-identity state held as columns of NumPy arrays, looked up for a whole frame of track ids at once.

The events engine and the crop bank keep a few numbers per identity (last frame seen, side of each line, ...).
Holding them as columns and finding the rows of a frame's ids with one ``searchsorted`` keeps the per-frame work
vectorised; rows are removed in batches (eviction) so the table stays bounded on an endless stream.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class IdentityTable:
    """Rows keyed by integer identity; ``columns`` maps a name to ``(dtype, trailing shape, fill value)``."""

    def __init__(self, columns: dict[str, tuple[Any, tuple[int, ...], Any]]):
        self._spec = dict(columns)
        self.ids = np.zeros(0, dtype=np.int64)
        self.cols: dict[str, np.ndarray] = {
            name: np.full((0, *shape), fill, dtype=dtype) for name, (dtype, shape, fill) in self._spec.items()}
        self._order = np.zeros(0, dtype=np.int64)  # argsort of ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    def find(self, ids: np.ndarray) -> np.ndarray:
        """Rows of ``ids`` (-1 for ids not in the table)."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(self.ids) == 0 or len(ids) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        sorted_ids = self.ids[self._order]
        pos = np.clip(np.searchsorted(sorted_ids, ids), 0, len(sorted_ids) - 1)
        rows = self._order[pos]
        return np.where(sorted_ids[pos] == ids, rows, -1)

    def rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``ids`` (unique), adding the missing ones with their fill values; returns (rows, was_new)."""
        ids = np.asarray(ids, dtype=np.int64)
        rows = self.find(ids)
        new = rows < 0
        if new.any():
            start = len(self.ids)
            self.ids = np.concatenate([self.ids, ids[new]])
            for name, (dtype, shape, fill) in self._spec.items():
                self.cols[name] = np.concatenate(
                    [self.cols[name], np.full((int(new.sum()), *shape), fill, dtype=dtype)])
            rows = rows.copy()
            rows[new] = np.arange(start, len(self.ids))
            self._order = np.argsort(self.ids, kind="stable")
        return rows, new

    def remove(self, rows: np.ndarray) -> None:
        """Drop ``rows`` (row numbers of the others change: look them up again afterwards)."""
        if len(rows) == 0:
            return
        keep = np.ones(len(self.ids), dtype=bool)
        keep[np.asarray(rows, dtype=np.int64)] = False
        self.ids = self.ids[keep]
        for name in self.cols:
            self.cols[name] = self.cols[name][keep]
        self._order = np.argsort(self.ids, kind="stable")
