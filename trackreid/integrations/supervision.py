"""trackreid as a tracker for supervision users: :class:`ReIDTracker`, with the ``trackers`` package's interface.

>>> import supervision as sv
>>> from trackreid.integrations.supervision import ReIDTracker
>>> tracker = ReIDTracker()                       # OSNet x0.25 (bundled weights) + trackreid's tracker
>>> line = sv.LineZone(sv.Point(0, 700), sv.Point(1920, 700))
>>> for frame in sv.get_video_frames_generator("street.mp4"):
...     detections = sv.Detections.from_ultralytics(model(frame)[0])
...     detections = tracker.update(detections, frame)   # tracker_id set
...     line.trigger(detections)

``update(detections, frame)`` returns the detections matched to a confirmed track, in the tracker's order, with
``tracker_id`` set (their own boxes, masks and ``data`` kept). Detections matched to no track (a box seen once, a
tentative track, a score too low to start one) are dropped, as supervision's ``sv.ByteTrack`` did, so that line
and zone counts only see confirmed people; ``keep_unmatched=True`` keeps them with ``tracker_id`` -1 instead, as the
``trackers`` package's trackers return them (supervision's ``LineZone`` ignores negative IDs).

IDs and final IDs: ``update`` gives the IDs known at that frame. A young track that the identity memory recognises
within ``memory_recall_frames`` (90 by default) switches to the remembered ID from then on (the frame's
``tracker.last.renamed``); counts that must be keyed to final IDs ask :meth:`ReIDTracker.ids_now`, or hold rows with
``trackreid.io.deferred.FinalRows.for_tracker(None, tracker.tracker, listeners=[...])`` as a ``trackreid`` run does.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from trackreid.integrations._models import load_encoder, model_options, new_tracker
from trackreid.pipeline.embed import embed_detections

__all__ = ["ReIDTracker"]


class ReIDTracker:
    """supervision ``Detections`` in, the same with ``tracker_id`` out; appearance from a ReID encoder.

    ``options``: ``reid`` (a ReID model name, an encoder, or ``"none"`` for motion only), ``reid_weights``,
    ``reid_runtime``, ``reid_threads``, ``reid_streams``, ``device``, ``half``, ``tracker_config`` and ``conf`` (the
    detector's minimum score: where tracks start follows it), each documented on
    :class:`~trackreid.pipeline.TrackingOptions`. ``keep_unmatched``: see the module docstring.
    """

    def __init__(self, *, keep_unmatched: bool = False, **options: Any):
        try:
            import supervision  # noqa: F401
        except ImportError:
            raise ValueError("ReIDTracker: the supervision package is not installed (pip install supervision)"
                             ) from None
        self.options = model_options("ReIDTracker", options, extra=("conf",))
        self.keep_unmatched = bool(keep_unmatched)
        self.encoder = load_encoder(self.options)
        """The ReID encoder (None: motion only)."""
        self.tracker = new_tracker(self.options, self.encoder, self.options.conf)
        """The :class:`~trackreid.Tracker`; ``tracker.last`` is the last frame's full answer (renames, re-entries)."""

    def update(self, detections, frame: np.ndarray | None = None):
        """Advance one frame. ``detections``: an ``sv.Detections`` (no ``confidence``: 1.0; no ``class_id``: 0);
        ``frame``: the BGR image they were found in, needed for appearance unless ``reid="none"``."""
        import supervision as sv

        if not isinstance(detections, sv.Detections):
            raise ValueError(f"ReIDTracker.update: expected supervision Detections, got {type(detections).__name__}")
        n = len(detections)
        if self.encoder is not None and frame is None and n:
            raise ValueError("ReIDTracker.update: pass the frame (update(detections, frame)) for appearance, or "
                             "build ReIDTracker(reid='none') to track on motion alone")
        score = np.ones(n, np.float32) if detections.confidence is None else detections.confidence
        cls = np.zeros(n, np.float32) if detections.class_id is None else detections.class_id
        dets = np.column_stack([np.asarray(detections.xyxy, np.float32).reshape(n, 4), score, cls])
        given, emb, _ = embed_detections(self.encoder, self.tracker, frame, dets)
        out = self.tracker.step(given, frame, embeddings=emb)
        rows = out.tracks[:, 7].astype(np.int64)
        tracked = detections[rows]
        tracked.tracker_id = out.ids
        if not self.keep_unmatched:
            return tracked
        rest = detections[np.setdiff1d(np.arange(n), rows)]
        rest.tracker_id = np.full(len(rest), -1, np.int64)
        return sv.Detections.merge([tracked, rest])

    def reset(self) -> None:
        """Forget every track and remembered identity; IDs start at 1 again (a new video)."""
        self.tracker.reset()

    def ids_now(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """For IDs ``update`` returned up to ``memory_recall_frames`` ago: the ID each ends up with as known now, and
        whether it is final (``Tracker.ids_now``)."""
        return self.tracker.ids_now(ids)
