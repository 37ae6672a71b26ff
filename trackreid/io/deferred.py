"""Rows held back until their IDs are final, then written in frame order to every output that records IDs.

A track's ID may still change for a while after its first row: a young track that the identity memory recognises
as someone seen before (one camera), or a provisional global ID (several cameras). :class:`FinalRows` holds each
frame's tracks until every ID in it is final (``final_ids(ids) -> (ids_final, final)``) or ``delay`` frames have
passed, then hands them on with the IDs known at that moment: to :class:`~trackreid.io.sinks.RunOutputs` (the MOT
file and ``tracks.jsonl``) and to the listeners (events, the summary's identity count). The annotated video is
written at once, with the IDs known at each frame (a buffer of images would cost memory).

Gaps: with ``max_gap`` > 0 every frame is also held ``max_gap`` frames, and a person missing for at most
``max_gap`` frames whose rows on both sides carry the same final ID gets boxes for the missing frames, linearly
interpolated between the two ends (what offline trackers do after the run, here online with a bounded delay). An
interpolated row's detection index is -1 (``"interpolated": true`` in ``tracks.jsonl``); events see it too.
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
                 listeners: list[Listener] | None = None, max_gap: int = 0):
        if int(max_gap) < 0:
            raise ValueError(f"max_gap must be >= 0 frames, got {max_gap}")
        self.outputs = outputs
        self.final_ids = final_ids
        self.delay = int(delay) if final_ids is not None else 0
        self.rename = bool(rename)
        self.listeners: list[Listener] = list(listeners or [])
        self.max_gap = int(max_gap)
        """Longest gap, in frames, filled with interpolated rows (0: none; see the module docstring)."""
        self._pending: deque = deque()  # (frame_id, tracks, extra, reentries), oldest first
        self._previous: tuple[int, np.ndarray, np.ndarray] | None = None  # last emitted frame: id, final ids, rows

    @classmethod
    def for_tracker(cls, outputs, tracker, listeners: list[Listener] | None = None, max_gap: int = 0
                    ) -> "FinalRows":
        """One camera: rows wait (at most ``tracker.id_delay`` frames) for ``tracker.ids_now``, so a young track
        that the identity memory later recognises is written under the remembered ID from its first row. No wait
        for a tracker that never renames (no ``ids_now``, or ``id_delay`` 0), except ``max_gap``."""
        final_ids = getattr(tracker, "ids_now", None)
        delay = int(getattr(tracker, "id_delay", 0) or 0) if final_ids is not None else 0
        return cls(outputs, final_ids if delay > 0 else None, delay, rename=True, listeners=listeners,
                   max_gap=max_gap)

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
            if now is not None and now - frame_id < self.max_gap:
                return
            ids = None
            if len(tracks) and self.final_ids is not None:
                ids, final = self.final_ids(tracks[:, 4].astype(np.int64))
                if now is not None and now - frame_id < self.delay and not final.all():
                    return
            self._pending.popleft()
            if self.max_gap:
                tracks, ids = self._fill_gaps(frame_id, tracks, ids)
            self._emit(frame_id, tracks, ids, extra, reentries)

    def _ids_of(self, tracks: np.ndarray) -> np.ndarray:
        """Final IDs (as known now) of ``tracks``' rows."""
        ids = tracks[:, 4].astype(np.int64)
        return ids if self.final_ids is None or not len(ids) else self.final_ids(ids)[0]

    def _fill_gaps(self, frame_id: int, tracks: np.ndarray, ids: np.ndarray | None):
        """Frame ``frame_id`` is written now: people of the previous frame missing from it who are back within
        ``max_gap`` frames get interpolated rows here and in the held frames up to their return."""
        if ids is None:
            ids = self._ids_of(tracks)
        if self._previous is not None and self._previous[0] == frame_id - 1:
            _, prev_ids, prev_rows = self._previous
            gone = ~np.isin(prev_ids, ids)
            if gone.any():
                tracks, ids = self._interpolate(frame_id, tracks, ids, prev_ids[gone], prev_rows[gone])
        self._previous = (frame_id, ids, tracks)
        return tracks, ids

    def _interpolate(self, frame_id, tracks, ids, gone_ids, gone_rows):
        ahead = [(f, t) for f, t, _, _ in self._pending if f - frame_id <= self.max_gap]
        held = {f: i for i, (f, _, _, _) in enumerate(self._pending)}
        todo = dict(zip(gone_ids.tolist(), gone_rows))
        for f, t in ahead:
            if not todo or not len(t):
                continue
            later = self._ids_of(t)
            for j in np.flatnonzero(np.isin(later, list(todo))).tolist():
                start = todo.pop(int(later[j]))
                end = t[j]
                span = f - (frame_id - 1)
                for k in range(frame_id, f):
                    row = start.copy()
                    w = (k - (frame_id - 1)) / span
                    row[:4] = (1.0 - w) * start[:4] + w * end[:4]
                    row[4] = end[4]                      # the later end's track ID: it resolves to the final ID
                    row[5] = min(start[5], end[5])
                    row[7] = -1.0
                    if k == frame_id:
                        tracks = np.concatenate([tracks, row[None]])
                        ids = np.append(ids, int(later[j]))
                    else:
                        i = held[k]
                        fk, tk, ek, rk = self._pending[i]
                        self._pending[i] = (fk, np.concatenate([tk, row[None]]), ek, rk)
        return tracks, ids

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
