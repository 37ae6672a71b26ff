"""Camera-motion compensation: estimate how the image moved between frames and move track predictions with it.

``SparseFlowCMC`` tracks corner features with pyramidal Lucas-Kanade optical flow (OpenCV) on a downscaled grey
image, ignoring pixels inside detection boxes (people move on their own), and fits a partial affine transform
(rotation, uniform scale, translation) with RANSAC. Only the previous grey frame and its corners are kept.
"""
from __future__ import annotations

import numpy as np

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


class SparseFlowCMC:
    """Estimate a 2x3 affine warp mapping the previous frame's pixel coordinates onto the current frame's."""

    def __init__(self, downscale: int = 2, max_corners: int = 500):
        self.downscale = max(1, int(downscale))
        self.max_corners = int(max_corners)
        self._prev_gray: np.ndarray | None = None
        self._prev_pts: np.ndarray | None = None

    def reset(self) -> None:
        self._prev_gray = None
        self._prev_pts = None

    def _background_mask(self, shape: tuple[int, int], boxes: np.ndarray) -> np.ndarray:
        h, w = shape
        mask = np.zeros((h, w), np.uint8)
        mh, mw = int(0.02 * h), int(0.02 * w)
        mask[mh:h - mh, mw:w - mw] = 255
        if len(boxes):
            b = np.round(np.asarray(boxes[:, :4], np.float64) / self.downscale).astype(np.int64)
            b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, w)
            b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, h)
            for x1, y1, x2, y2 in b:  # one slice per box; boxes are few and this is C-speed work per slice
                mask[y1:y2, x1:x2] = 0
        return mask

    def estimate(self, frame: np.ndarray, boxes: np.ndarray | None = None) -> np.ndarray:
        """Return the warp (2, 3) from the previous frame to ``frame`` (BGR uint8); identity on the first frame."""
        import cv2

        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if self.downscale > 1:
            gray = cv2.resize(gray, (gray.shape[1] // self.downscale, gray.shape[0] // self.downscale),
                              interpolation=cv2.INTER_AREA)
        boxes = np.empty((0, 4)) if boxes is None else boxes
        mask = self._background_mask(gray.shape, boxes)
        pts = cv2.goodFeaturesToTrack(gray, maxCorners=self.max_corners, qualityLevel=0.01, minDistance=1,
                                      blockSize=3, mask=mask, useHarrisDetector=False, k=0.04)
        warp = IDENTITY.copy()
        prev_gray, prev_pts = self._prev_gray, self._prev_pts
        self._prev_gray, self._prev_pts = gray, pts
        if prev_gray is None or prev_pts is None or len(prev_pts) < 4 or prev_gray.shape != gray.shape:
            return warp
        nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev_gray, gray, prev_pts, None)
        good = status.reshape(-1).astype(bool)
        if good.sum() < 4:
            return warp
        m, _ = cv2.estimateAffinePartial2D(prev_pts[good], nxt[good], method=cv2.RANSAC)
        if m is None:
            return warp
        m = m.astype(np.float64)
        m[:, 2] *= self.downscale
        return m


def apply_warp(mean: np.ndarray, cov: np.ndarray, warp: np.ndarray) -> None:
    """Move Kalman states ``mean`` (K, 8) / ``cov`` (K, 8, 8) by an affine ``warp`` (2, 3), in place."""
    if len(mean) == 0:
        return
    a = warp[:, :2]
    t = warp[:, 2]
    scale = float(np.sqrt(abs(np.linalg.det(a))))
    mean[:, 0:2] = mean[:, 0:2] @ a.T + t
    mean[:, 4:6] = mean[:, 4:6] @ a.T
    mean[:, 2:4] *= scale
    mean[:, 6:8] *= scale
    m = np.zeros((8, 8))
    m[0:2, 0:2] = a
    m[4:6, 4:6] = a
    m[2, 2] = m[3, 3] = m[6, 6] = m[7, 7] = scale
    cov[:] = m @ cov @ m.T
