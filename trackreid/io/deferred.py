"""Rows held back until their IDs are final, then written in frame order to every output that records IDs.

A track's ID may still change for a while after its first row: a young track that the identity memory recognises
as someone seen before (one camera), or a provisional global ID (several cameras). :class:`FinalRows` holds each
frame's tracks until every ID in it is final (``final_ids(ids) -> (ids_final, final)``) or ``delay`` frames have
passed, then hands them on with the IDs known at that moment: to :class:`~trackreid.io.sinks.RunOutputs` (the MOT
file and ``tracks.jsonl``) and to the listeners (events, the summary's identity count). The annotated video is
written at once, with the IDs known at each frame (a buffer of images would cost memory).
"""
from __future__ import annotations

from collections import deque
from typing import Callable

import numpy as np

FinalIds = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray]"]
"""``final_ids(ids) -> (ids_final, final)``: the ID each given ID ends up with so far, and whether it is final."""

Listener = Callable[[int, np.ndarray], None]
"""``listener(frame_id, tracks)``: one frame's tracks (M, 8) with their final IDs in column 4."""


class FinalRows:
    """Per-frame rows held until final, then written to ``outputs`` (or None) and passed to ``listeners``.

    ``rename``: the final IDs replace the track IDs (one camera: a young track's ID the identity memory may still
    change); otherwise they are written beside them as global IDs (the MOT file then carries the global IDs) and the
    listeners get tracks with the global IDs in column 4. ``final_ids=None`` or ``delay=0``: no wait.
    """

    def __init__(self, outputs, final_ids: FinalIds | None, delay: int, rename: bool = True,
                 listeners: list[Listener] | None = None):
        self.outputs = outputs
        self.final_ids = final_ids
        self.delay = int(delay) if final_ids is not None else 0
        self.rename = bool(rename)
        self.listeners: list[Listener] = list(listeners or [])
        self._pending: deque = deque()  # (frame_id, tracks, extra, reentries), oldest first

    @classmethod
    def for_tracker(cls, outputs, tracker, listeners: list[Listener] | None = None) -> "FinalRows":
        """One camera: rows wait (at most ``tracker.id_delay`` frames) for ``tracker.ids_now``, so a young track
        that the identity memory later recognises is written under the remembered ID from its first row. No wait
        for a tracker that never renames (no ``ids_now``, or ``id_delay`` 0)."""
        final_ids = getattr(tracker, "ids_now", None)
        delay = int(getattr(tracker, "id_delay", 0) or 0) if final_ids is not None else 0
        return cls(outputs, final_ids if delay > 0 else None, delay, rename=True, listeners=listeners)

    @property
    def pending(self) -> int:
        """Frames held back now."""
        return len(self._pending)

    def write(self, frame_id: int, tracks: np.ndarray, annotated=None, extra=None, reentries=None) -> None:
        """Add frame ``frame_id``'s tracks (the tracker's IDs); writes ``annotated`` now and every held frame that
        is final now."""
        if annotated is not None and self.outputs is not None:
            self.outputs.write_image(annotated)
        self._pending.append((int(frame_id), np.array(tracks, np.float64).reshape(-1, 8), extra, reentries))
        self.flush(int(frame_id))

    def flush(self, now: int | None = None) -> None:
        """Write the held frames that are final at frame ``now`` (all of them when ``now`` is None)."""
        while self._pending:
            frame_id, tracks, extra, reentries = self._pending[0]
            ids = None
            if len(tracks) and self.final_ids is not None:
                ids, final = self.final_ids(tracks[:, 4].astype(np.int64))
                if now is not None and now - frame_id < self.delay and not final.all():
                    return
            self._pending.popleft()
            self._emit(frame_id, tracks, ids, extra, reentries)

    def _emit(self, frame_id, tracks, ids, extra, reentries) -> None:
        gids = None
        if ids is not None:
            if self.rename:
                tracks[:, 4] = ids
            else:
                gids = ids
        if self.outputs is not None:
            self.outputs.write(frame_id, tracks, None, extra, global_ids=gids, reentries=reentries)
        if self.listeners:
            shown = tracks
            if gids is not None:
                shown = tracks.copy()
                shown[:, 4] = gids
            for listener in self.listeners:
                listener(frame_id, shown)

    def close(self, summary: dict | None = None) -> None:
        """Write every held frame, then close the outputs (with ``summary``)."""
        self.flush()
        if self.outputs is not None:
            self.outputs.close(summary)
