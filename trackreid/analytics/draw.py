"""Lines, zones and their counts drawn on a BGR frame (OpenCV)."""
from __future__ import annotations

import cv2
import numpy as np

from .regions import Line, Zone

LINE_COLOR = (0, 215, 255)  # BGR amber
ZONE_COLOR = (255, 160, 0)  # BGR azure


def _label(img: np.ndarray, text: str, org: tuple[int, int], color) -> None:
    scale = max(0.5, img.shape[0] / 1400)
    thick = max(1, int(round(scale * 2)))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x = int(np.clip(org[0], 0, max(0, img.shape[1] - w - 4)))
    y = int(np.clip(org[1], h + 4, img.shape[0] - base - 2))
    cv2.rectangle(img, (x, y - h - 4), (x + w + 4, y + base), (0, 0, 0), -1)
    cv2.putText(img, text, (x + 2, y - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)


def draw_regions(img: np.ndarray, lines: list[Line], zones: list[Zone], totals: dict | None = None,
                 alpha: float = 0.2) -> np.ndarray:
    """Draw ``zones`` (filled, translucent) and ``lines`` (with an arrow to their ``in`` side) on ``img`` in place,
    labelled with their counts from ``totals`` (:meth:`EventEngine.totals`); returns ``img``."""
    t = max(2, img.shape[0] // 360)
    if zones:
        overlay = img.copy()
        for z in zones:
            cv2.fillPoly(overlay, [np.round(z.points).astype(np.int32)], ZONE_COLOR)
        cv2.addWeighted(overlay, alpha, img, 1 - alpha, 0, dst=img)
    for z in zones:
        pts = np.round(z.points).astype(np.int32)
        cv2.polylines(img, [pts], True, ZONE_COLOR, t, cv2.LINE_AA)
        zt = (totals or {}).get("zones", {}).get(z.name)
        text = z.name if zt is None else (f"{z.name}: {zt['inside_now']} now, {zt['visitors']} visitors, "
                                          f"mean {zt['mean_dwell_s']:.1f}s")
        _label(img, text, (int(pts[:, 0].min()), int(pts[:, 1].min()) - 4), ZONE_COLOR)
    for ln in lines:
        p1, p2 = (int(round(ln.x1)), int(round(ln.y1))), (int(round(ln.x2)), int(round(ln.y2)))
        cv2.line(img, p1, p2, LINE_COLOR, t, cv2.LINE_AA)
        d = np.array([ln.x2 - ln.x1, ln.y2 - ln.y1])
        normal = np.array([d[1], -d[0]]) / np.linalg.norm(d)  # towards the left-hand side: the "in" side
        mid = (np.array(p1) + np.array(p2)) / 2
        tip = mid + normal * 8 * t
        cv2.arrowedLine(img, tuple(int(v) for v in mid), tuple(int(v) for v in tip), LINE_COLOR, t,
                        cv2.LINE_AA, tipLength=0.4)
        lt = (totals or {}).get("lines", {}).get(ln.name)
        text = ln.name if lt is None else f"{ln.name}: in {lt['in']}  out {lt['out']}"
        _label(img, text, (int(mid[0]) + 6, int(mid[1]) - 6), LINE_COLOR)
    return img
