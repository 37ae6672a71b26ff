"""The detector protocol and the one place that turns a user's ``--detector`` into a detector object.

A detector is any callable ``detector(frame, frame_index) -> (N, 6) float32`` array of
``x1, y1, x2, y2, score, cls`` in pixels, where ``frame`` is a BGR uint8 image and ``frame_index`` counts frames
from 0. An optional ``class_names`` attribute (``{class_id: name}``) labels drawings and JSON output.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from trackreid.types import validate_detections


class DetectorError(ValueError):
    """The detector cannot be built or run; the message names the model and what to do."""


@runtime_checkable
class Detector(Protocol):
    def __call__(self, frame: np.ndarray, frame_index: int) -> np.ndarray: ...


class CallableDetector:
    """Wraps a user function ``fn(frame, frame_index)`` and validates what it returns (see ``trackreid.types``)."""

    def __init__(self, fn: Callable, class_names: dict[int, str] | None = None, name: str | None = None):
        self.fn = fn
        self.class_names = class_names or getattr(fn, "class_names", None) or {0: "person"}
        self.name = name or getattr(fn, "name", None) or getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, frame: np.ndarray, frame_index: int) -> np.ndarray:
        dets, _ = validate_detections(self.fn(frame, frame_index))
        return dets


def build_detector(spec="yolo11n.pt", classes=("person",), conf: float = 0.25, device: str = "cpu",
                   half: bool = False, imgsz=None, quiet: bool = False):
    """Make a detector from ``spec``.

    - a callable: used as it is (its output is validated every frame);
    - a path ending in ``.txt``: precomputed MOT detections (``det.txt``), see :class:`MotFileDetector`;
    - anything else: an Ultralytics model (``.pt``, ``.onnx``, an OpenVINO ``*_openvino_model/`` folder, or a
      name Ultralytics can download, such as ``yolo11n.pt``), see :class:`YoloDetector`.

    ``classes`` are names or ids to keep (``None`` keeps every class); ``conf`` is the minimum score; ``imgsz``
    the model's input size (an int or ``(height, width)``, multiples of 32; None: the model's own).
    """
    if not (0.0 <= float(conf) <= 1.0):
        raise DetectorError(f"conf: expected a score threshold in [0, 1], got {conf}")
    if callable(spec) and not isinstance(spec, (str, Path)):
        return CallableDetector(spec)
    if not isinstance(spec, (str, Path)) or not str(spec):
        raise DetectorError(f"detector: expected a model path or name, a det.txt file, or a callable; got {spec!r}")
    s = str(spec)
    if s.lower().endswith(".txt"):
        from trackreid.detection.motfile import MotFileDetector

        return MotFileDetector(s, conf=conf, classes=classes)
    from trackreid.detection.yolo import YoloDetector

    return YoloDetector(s, classes=classes, conf=conf, device=device, half=half, imgsz=imgsz, quiet=quiet)


def detect_many(detectors, frames: list[np.ndarray], frame_indices: list[int]) -> list[np.ndarray]:
    """Detections for frames of several sources: ``detectors`` is one detector for all (its ``detect_batch`` runs
    them as one batch when it has one) or a list with one detector per frame."""
    if not isinstance(detectors, (list, tuple)):
        batch = getattr(detectors, "detect_batch", None)
        if batch is not None:
            return batch(frames, frame_indices)
        detectors = [detectors] * len(frames)
    return [d(f, i) for d, f, i in zip(detectors, frames, frame_indices)]
