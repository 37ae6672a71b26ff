"""Per-identity state held as columns of NumPy arrays, looked up for a whole frame of track ids at once.

The events engine and the crop bank keep a few numbers per identity (last frame seen, side of each line, ...).
Holding them as columns (a :class:`~trackreid.tracking.store.ColumnStore`) and finding the rows of a frame's ids
with one ``searchsorted`` (:func:`~trackreid.tracking.store.rows_of`) keeps the per-frame work vectorised; rows
are removed in batches (eviction) so the table stays bounded on an endless stream.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from trackreid.tracking.store import ColumnStore, rows_of


class IdentityTable:
    """Rows keyed by integer identity; ``columns`` maps a name to ``(dtype, trailing shape, fill value)``."""

    def __init__(self, columns: dict[str, tuple[Any, tuple[int, ...], Any]]):
        if "ids" in columns:
            raise ValueError("identity table: 'ids' is the key column, not a column name to give")
        self._store = ColumnStore({"ids": (np.int64, (), 0), **columns}, shrink=True)
        self._names = list(columns)
        self._order = np.zeros(0, dtype=np.int64)  # argsort of ids

    def __len__(self) -> int:
        return self._store.n

    def __getitem__(self, name: str) -> np.ndarray:
        """Column ``name`` of every row (a view: writing to it writes to the table)."""
        return self._store[name]

    @property
    def ids(self) -> np.ndarray:
        """The identity of each row."""
        return self._store["ids"]

    @property
    def cols(self) -> dict[str, np.ndarray]:
        """Every column by name (views)."""
        return {name: self._store[name] for name in self._names}

    def find(self, ids: np.ndarray) -> np.ndarray:
        """Rows of ``ids`` (-1 for ids not in the table)."""
        return rows_of(self.ids, ids, self._order)

    def rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``ids`` (unique), adding the missing ones with their fill values; returns (rows, was_new)."""
        ids = np.asarray(ids, dtype=np.int64)
        rows = self.find(ids)
        new = rows < 0
        if new.any():
            rows[new] = self._store.append(int(new.sum()), ids=ids[new])
            self._order = np.argsort(self.ids, kind="stable")
        return rows, new

    def remove(self, rows: np.ndarray) -> None:
        """Drop ``rows`` (row numbers of the others change: look them up again afterwards)."""
        if len(rows) == 0:
            return
        keep = np.ones(len(self), dtype=bool)
        keep[np.asarray(rows, dtype=np.int64)] = False
        self._store.keep(keep)
        self._order = np.argsort(self.ids, kind="stable")
