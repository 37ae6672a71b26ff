"""Drawing tracks on frames: boxes, stable per-identity colours, labels and short trails."""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

_GOLDEN = 0.618033988749895


def id_colors(ids) -> np.ndarray:
    """(N, 3) uint8 BGR colours, one per track id; the same id always gets the same colour.

    Hues are spread by the golden ratio so consecutive ids look different.
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size == 0:
        return np.empty((0, 3), np.uint8)
    hue = ((ids * _GOLDEN) % 1.0 * 180).astype(np.uint8)
    sat = np.full_like(hue, 200)
    val = (190 + (ids * 37) % 66).astype(np.uint8)
    hsv = np.stack([hue, sat, val], axis=1)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0]


class TrackDrawer:
    """Draws tracks onto a frame and keeps short trails of box bottom-centres.

    ``trail`` is the number of past positions drawn per identity (0 disables trails); trails of identities
    not seen for ``trail`` frames are dropped, so memory stays bounded.
    """

    def __init__(self, trail: int = 30, class_names: dict[int, str] | None = None, thickness: int | None = None):
        self.trail = int(trail)
        self.class_names = class_names or {}
        self.thickness = thickness
        self._trails: dict[int, deque] = {}
        self._last_seen: dict[int, int] = {}
        self._frame = 0

    def draw(self, image: np.ndarray, tracks: np.ndarray, info: str | None = None, copy: bool = True) -> np.ndarray:
        """Return ``image`` with ``tracks`` ((M, 8) x1,y1,x2,y2,id,score,cls,det_idx) drawn on it."""
        out = image.copy() if copy else image
        h, w = out.shape[:2]
        th = self.thickness or max(1, round(min(h, w) / 400))
        font_scale = max(0.4, min(h, w) / 1400)
        self._frame += 1
        tracks = np.asarray(tracks, dtype=np.float64).reshape(-1, 8)
        ids = tracks[:, 4].astype(np.int64)
        colors = id_colors(ids)
        boxes = np.round(tracks[:, :4]).astype(np.int32)
        foot = np.stack([(boxes[:, 0] + boxes[:, 2]) // 2, boxes[:, 3]], axis=1)

        if self.trail > 0:
            for tid, pt in zip(ids.tolist(), foot.tolist()):
                dq = self._trails.get(tid)
                if dq is None:
                    dq = self._trails[tid] = deque(maxlen=self.trail)
                dq.append(pt)
                self._last_seen[tid] = self._frame
            stale = [t for t, f in self._last_seen.items() if self._frame - f > self.trail]
            for t in stale:
                del self._trails[t], self._last_seen[t]
            for tid, color in zip(ids.tolist(), colors.tolist()):
                pts = self._trails[tid]
                if len(pts) > 1:
                    cv2.polylines(out, [np.asarray(pts, np.int32)], False, color, th, cv2.LINE_AA)

        for (x1, y1, x2, y2), color in zip(boxes.tolist(), colors.tolist()):
            cv2.rectangle(out, (x1, y1), (x2, y2), color, th)
        # labels after every box, so no box edge crosses one; each where it overlaps no label placed before it
        placed: list[tuple[int, int, int, int]] = []
        for (x1, y1, x2, y2), tid, color, cls in zip(boxes.tolist(), ids.tolist(), colors.tolist(),
                                                      tracks[:, 6].tolist()):
            name = self.class_names.get(int(cls))
            label = f"{tid}" if name in (None, "person") else f"{tid} {name}"
            (tw, tht), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, th)
            lw, lh = tw + 2, tht + base + 1
            x0, y0 = _label_place((x1, y1, x2, y2), lw, lh, placed, w, h)
            placed.append((x0, y0, x0 + lw, y0 + lh))
            cv2.rectangle(out, (x0, y0), (x0 + lw, y0 + lh), color, -1)
            cv2.putText(out, label, (x0 + 1, y0 + tht), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), th,
                        cv2.LINE_AA)
        if info:
            (tw, tht), base = cv2.getTextSize(info, cv2.FONT_HERSHEY_SIMPLEX, font_scale, th)
            cv2.rectangle(out, (0, 0), (tw + 10, tht + base + 10), (0, 0, 0), -1)
            cv2.putText(out, info, (5, tht + 5), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), th,
                        cv2.LINE_AA)
        return out

    def reset(self) -> None:
        self._trails.clear()
        self._last_seen.clear()
        self._frame = 0



def _label_place(box, lw: int, lh: int, placed: list, w: int, h: int) -> tuple[int, int]:
    """Top-left corner of a ``lw`` x ``lh`` label for ``box``: the first of above the box, inside its top, below
    it, inside its bottom (left, then right-aligned) that stays in the image and overlaps no label in ``placed``;
    else the one overlapping them least."""
    x1, y1, x2, y2 = box
    spots = [(x1, y1 - lh), (x1, y1 + 1), (x1, y2 + 1), (x1, y2 - lh - 1),
             (x2 - lw, y1 - lh), (x2 - lw, y1 + 1), (x2 - lw, y2 + 1), (x2 - lw, y2 - lh - 1)]
    best, best_overlap = None, None
    for x, y in spots:
        x, y = int(min(max(x, 0), max(w - lw, 0))), int(min(max(y, 0), max(h - lh, 0)))
        overlap = sum(max(0, min(x + lw, b[2]) - max(x, b[0])) * max(0, min(y + lh, b[3]) - max(y, b[1]))
                      for b in placed)
        if overlap == 0:
            return x, y
        if best_overlap is None or overlap < best_overlap:
            best, best_overlap = (x, y), overlap
    return best
