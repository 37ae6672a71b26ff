"""Precomputed detections from a MOT Challenge ``det.txt`` (``frame,-1,x,y,w,h,score,...``, 1-based frames).

The file is read once; each frame's rows are then served by a slice, so a call costs O(rows of that frame).
Frame ``frame_index`` (counted from 0 by the pipeline) reads the rows of MOT frame ``frame_index + 1``, which is
what a sequence's ``img1/`` folder or a video made from it gives.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from trackreid.detection.base import DetectorError
from trackreid.types import validate_detections


class MotFileDetector:
    """Serves the detections of a MOT ``det.txt`` frame by frame; every detection is class 0 (person).

    ``conf`` drops rows scoring below it; scores outside [0, 1] (some public detectors) are clipped first.
    """

    class_names = {0: "person"}

    def __init__(self, path, conf: float = 0.0, classes=("person",)):
        from trackreid.io.mot import read_mot

        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.is_file():
            raise DetectorError(f"detections file {str(self.path)!r} does not exist "
                                "(expected a MOT det.txt: frame,-1,x,y,w,h,score,...)")
        if classes is not None and not _includes_person(classes):
            raise DetectorError(f"a MOT det.txt holds only people; --classes {list(classes)} excludes them")
        try:
            rows = read_mot(self.path)
        except (ValueError, OSError) as exc:
            raise DetectorError(f"cannot read detections file {str(self.path)!r}: {exc}") from None
        if len(rows) == 0:
            raise DetectorError(f"detections file {str(self.path)!r} holds no detections")
        if (rows[:, 4] < 0).any() or (rows[:, 5] < 0).any():
            raise DetectorError(f"detections file {str(self.path)!r}: negative box width or height; "
                                "expected frame,id,x,y,w,h,score rows")
        rows = rows[np.argsort(rows[:, 0], kind="stable")]
        dets = np.empty((len(rows), 6), np.float32)
        dets[:, 0] = rows[:, 2]
        dets[:, 1] = rows[:, 3]
        dets[:, 2] = rows[:, 2] + rows[:, 4]
        dets[:, 3] = rows[:, 3] + rows[:, 5]
        dets[:, 4] = np.clip(rows[:, 6], 0.0, 1.0)
        dets[:, 5] = 0.0
        keep = dets[:, 4] >= conf
        self._dets, kept = validate_detections(dets[keep])  # drops zero-area boxes
        self._frames = rows[keep, 0].astype(np.int64)[kept]
        self.num_frames = int(rows[:, 0].max())

    def __call__(self, frame, frame_index: int) -> np.ndarray:
        f = int(frame_index) + 1
        lo, hi = np.searchsorted(self._frames, [f, f + 1])
        return self._dets[lo:hi]

    def __len__(self) -> int:
        return self.num_frames


def _includes_person(classes) -> bool:
    if isinstance(classes, (str, int)):
        classes = [classes]
    return any(str(c).strip().lower() in ("person", "0", "pedestrian", "all") for c in classes)
