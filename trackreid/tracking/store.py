"""Struct-of-arrays storage: named NumPy columns that share one row count, and the ID-to-row lookup.

The tracker's live tracks (:class:`~trackreid.tracking.track.TrackStore`), the identity memory
(:class:`~trackreid.tracking.memory.IdentityMemory`) and the per-identity tables of the analytics
(:class:`~trackreid.analytics.identities.IdentityTable`) all hold rows of the same kind: a few arrays whose row
``i`` together describe one item. :class:`ColumnStore` is that layout, written once: columns are preallocated
with spare capacity (so adding rows is amortised O(1)), deleted in batches by a mask, and their trailing shape may
be fixed later (the embedding size, known at the first frame with embeddings). Every operation is vectorised over
the rows.

:func:`rows_of` finds the rows of many IDs at once (one sort and one ``searchsorted``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

Spec = tuple[Any, tuple[int, ...], Any]
"""A column's ``(dtype, trailing shape, fill value)``: row ``i`` is an array of that shape."""


def rows_of(keys: np.ndarray, ids, order: np.ndarray | None = None) -> np.ndarray:
    """Row of each of ``ids`` in ``keys`` (M,) (the first such row where a key repeats), -1 where absent.
    ``order``: ``np.argsort(keys, kind="stable")``, for a caller that keeps it between lookups."""
    ids = np.asarray(ids, np.int64).reshape(-1)
    n = len(keys)
    if n == 0 or len(ids) == 0:
        return np.full(len(ids), -1, np.int64)
    if order is None:
        order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    pos = np.minimum(np.searchsorted(sorted_keys, ids), n - 1)
    return np.where(sorted_keys[pos] == ids, order[pos], -1)


class ColumnStore:
    """Columns ``spec`` (name -> :data:`Spec`) of ``n`` rows in use out of ``cap`` allocated.

    Each column is an attribute of the store holding all ``cap`` rows (``store.name[:store.n]`` are the rows in
    use); ``store["name"]`` is the view of the rows in use. Arrays are replaced when the capacity or a trailing
    shape changes, so take them from the store again after :meth:`append`, :meth:`keep` or :meth:`set_shape`.

    Capacity grows to ``max(min_capacity, 2 * cap, rows needed)`` (at most ``max_capacity``); with ``shrink`` it
    halves (not below ``min_capacity``) when :meth:`keep` leaves fewer than a quarter of it in use, so a long
    stream holds memory for its busiest moment only.
    """

    def __init__(self, spec: dict[str, Spec], capacity: int = 0, min_capacity: int = 0,
                 max_capacity: int | None = None, shrink: bool = False):
        self.spec: dict[str, tuple[np.dtype, tuple[int, ...], Any]] = {}
        for name, (dtype, shape, fill) in spec.items():
            if hasattr(type(self), name) or name in ("spec", "n", "cap", "min_capacity", "max_capacity", "shrink"):
                raise ValueError(f"column store: column name {name!r} is taken by the store itself")
            self.spec[name] = (np.dtype(dtype), tuple(int(s) for s in shape), fill)
        self.min_capacity = int(min_capacity)
        self.max_capacity = None if max_capacity is None else int(max_capacity)
        self.shrink = bool(shrink)
        self.n = 0
        self.cap = 0
        self._alloc(int(capacity))

    def _alloc(self, cap: int) -> None:
        self.cap = cap
        for name, (dtype, shape, fill) in self.spec.items():
            setattr(self, name, np.full((cap, *shape), fill, dtype))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, name: str) -> np.ndarray:
        """Column ``name``, rows in use (a view: writing to it writes to the store)."""
        return getattr(self, name)[: self.n]

    def columns(self) -> dict[str, np.ndarray]:
        """Every column, rows in use (views)."""
        return {name: self[name] for name in self.spec}

    def resize(self, cap: int) -> None:
        """Reallocate every column with room for ``cap`` rows (at least ``n``), keeping the rows in use."""
        cap = max(int(cap), self.n)
        old = self.columns()
        self._alloc(cap)
        for name, arr in old.items():
            getattr(self, name)[: self.n] = arr

    def reserve(self, need: int) -> None:
        """Make room for ``need`` rows in all (growth rule in the class docstring)."""
        if need > self.cap:
            cap = max(self.min_capacity, 2 * self.cap, int(need))
            if self.max_capacity is not None:
                cap = max(min(cap, self.max_capacity), int(need))
            self.resize(cap)

    def append(self, k: int, **values) -> np.ndarray:
        """Add ``k`` rows; the columns named in ``values`` take those values (broadcast to the rows), the others
        their fill value. Returns the new rows' indices."""
        unknown = set(values) - set(self.spec)
        if unknown:
            raise ValueError(f"column store: no column(s) {sorted(unknown)}")
        k = int(k)
        self.reserve(self.n + k)
        lo, hi = self.n, self.n + k
        for name, (_, _, fill) in self.spec.items():
            getattr(self, name)[lo:hi] = values.get(name, fill)
        self.n = hi
        return np.arange(lo, hi)

    def keep(self, mask: np.ndarray, stable: bool = True) -> None:
        """Delete the rows in use where ``mask`` (n,) is False. ``stable``: the others keep their order;
        otherwise the last rows move into the holes (only the moved rows are copied; order is lost)."""
        mask = np.asarray(mask, bool)
        if stable:
            if mask.all():
                return
            idx = np.flatnonzero(mask)
            m = len(idx)
            for name in self.spec:
                arr = getattr(self, name)
                arr[:m] = arr[idx]
        else:
            m = int(mask.sum())
            holes = np.flatnonzero(~mask[:m])              # deleted rows that stay inside the new range
            movers = m + np.flatnonzero(mask[m:self.n])    # kept rows beyond it
            for name in self.spec:
                arr = getattr(self, name)
                arr[holes] = arr[movers]
        self.n = m
        if self.shrink and self.cap > self.min_capacity and m < self.cap // 4:
            self.resize(max(self.min_capacity, self.cap // 2))

    def set_shape(self, **shapes: tuple[int, ...]) -> None:
        """Give columns a new trailing shape (e.g. the embedding size, once known); their content is lost (every
        row holds the fill value), the other columns are kept."""
        for name, shape in shapes.items():
            if name not in self.spec:
                raise ValueError(f"column store: no column {name!r}")
            dtype, _, fill = self.spec[name]
            self.spec[name] = (dtype, tuple(int(s) for s in shape), fill)
            setattr(self, name, np.full((self.cap, *self.spec[name][1]), fill, dtype))

    def nbytes(self) -> int:
        """Bytes held by the columns (all ``cap`` rows)."""
        return sum(getattr(self, name).nbytes for name in self.spec)


class StoreAttr:
    """Class attribute that reads the attribute of the same name (a column, ``n``, ``cap``) of the instance's
    :class:`ColumnStore` held in ``store``; for a class built on a store it does not derive from."""

    def __init__(self, store: str):
        self.store = store
        self.name = ""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, obj, objtype=None):
        return self if obj is None else getattr(getattr(obj, self.store), self.name)
