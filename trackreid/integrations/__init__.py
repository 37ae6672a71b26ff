"""Plugins for the tools people already build video apps with.

- :mod:`trackreid.integrations.ultralytics`: ``attach(model)`` makes an Ultralytics YOLO model's ``track`` and
  ``predict`` results carry trackreid IDs in ``r.boxes.id``.
- :mod:`trackreid.integrations.supervision`: :class:`~trackreid.integrations.supervision.ReIDTracker`, the
  ``trackers`` package's interface (``update(detections, frame) -> detections`` with ``tracker_id``), so
  supervision's ``LineZone``, ``PolygonZone``, annotators and ``DetectionsSmoother`` work on trackreid's IDs.

Neither module imports ultralytics or supervision before it is used, and ``import trackreid`` needs neither.
"""
