"""The log of ID renames: which ID a track's rows end up with, one answer for every output.

A young track may switch to a remembered or lost identity (the identity memory) after it was already written
under a fresh ID. The tracker records each such rename here with its frame; the held-back outputs, the crop bank
and the multi-camera linker ask :meth:`IdLog.resolve` which ID an earlier ID ends up with, so the MOT file,
``tracks.jsonl``, ``events.jsonl``, ``crops/`` and the summary all carry the same, final IDs.

Bounded: a rename older than ``horizon`` frames is forgotten (nobody holds rows that old any more).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np


class IdLog:
    """Renames ``old ID -> new ID`` with the frame each happened at, forgotten after ``horizon`` frames."""

    def __init__(self, horizon: int):
        if int(horizon) < 0:
            raise ValueError(f"IdLog: horizon must be >= 0 frames, got {horizon!r}")
        self.horizon = int(horizon)
        self._to: OrderedDict[int, tuple[int, int]] = OrderedDict()  # old -> (new, frame), oldest first

    def __len__(self) -> int:
        return len(self._to)

    def record(self, renamed: dict[int, int], frame: int) -> None:
        """Log one frame's renames and forget those older than ``horizon`` frames."""
        for old, new in renamed.items():
            self._to.pop(int(old), None)
            self._to[int(old)] = (int(new), int(frame))
        while self._to and next(iter(self._to.values()))[1] < frame - self.horizon:
            self._to.popitem(last=False)

    def resolve_one(self, tid: int) -> int:
        """The ID that ``tid``'s rows end up with (through chains: a young track merged into a young one)."""
        tid = int(tid)
        for _ in range(len(self._to)):
            hop = self._to.get(tid)
            if hop is None:
                break
            tid = hop[0]
        return tid

    def resolve(self, ids) -> np.ndarray:
        """:meth:`resolve_one` for an array of IDs (int64, same shape)."""
        ids = np.asarray(ids, np.int64)
        if not self._to or ids.size == 0:
            return ids.copy()
        return np.array([self.resolve_one(t) for t in ids.reshape(-1).tolist()], np.int64).reshape(ids.shape)
