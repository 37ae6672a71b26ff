"""Constant-velocity Kalman filter on (cx, cy, w, h), batched over all tracks.

State per track: ``cx, cy, w, h, vcx, vcy, vw, vh`` (8 values), covariance 8x8. Process and measurement noise are
proportional to the box size (as in SORT / BoT-SORT), so the filter behaves the same near and far from the camera.
Every function works on stacked arrays ``(K, 8)`` and ``(K, 8, 8)``: one call per frame, not one per track.
"""
from __future__ import annotations

import numpy as np

_DIAG8 = np.arange(8)
_DIAG4 = np.arange(4)
_F = np.eye(8)
_F[:4, 4:] = np.eye(4)


class BatchedKalman:
    """Constant-velocity motion model; stateless apart from its noise settings."""

    def __init__(self, std_weight_position: float = 1.0 / 20, std_weight_velocity: float = 1.0 / 160,
                 nsa: bool = True):
        self.std_pos = float(std_weight_position)
        self.std_vel = float(std_weight_velocity)
        self.nsa = bool(nsa)

    def initiate(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start tracks at measurements ``z`` (K, 4) cx,cy,w,h with zero velocity."""
        k = len(z)
        mean = np.zeros((k, 8))
        mean[:, :4] = z
        wh = np.repeat(z[:, 2:4], 2, axis=0).reshape(k, 4)  # w, h, w, h
        std = np.concatenate([2 * self.std_pos * wh, 10 * self.std_vel * wh], axis=1)
        cov = np.zeros((k, 8, 8))
        cov[:, _DIAG8, _DIAG8] = std * std
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> None:
        """Advance ``mean`` (K, 8) and ``cov`` (K, 8, 8) one frame, in place."""
        if len(mean) == 0:
            return
        wh = np.concatenate([mean[:, 2:4], mean[:, 2:4]], axis=1)
        q = np.concatenate([self.std_pos * wh, self.std_vel * wh], axis=1)
        mean[:, :4] += mean[:, 4:]
        cov[:] = _F @ cov @ _F.T
        cov[:, _DIAG8, _DIAG8] += q * q

    def update(self, mean: np.ndarray, cov: np.ndarray, z: np.ndarray, score: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Correct tracks ``mean``/``cov`` (K, ...) with measurements ``z`` (K, 4); returns new arrays."""
        wh = np.concatenate([mean[:, 2:4], mean[:, 2:4]], axis=1)
        r = self.std_pos * wh
        if self.nsa and score is not None:
            # NSA: a confident detection is a more precise measurement (floor keeps the filter well-conditioned).
            r = r * np.maximum(1.0 - score, 0.1)[:, None]
        s = cov[:, :4, :4].copy()
        s[:, _DIAG4, _DIAG4] += r * r
        pht_t = cov[:, :4, :]                       # (H P) = (P H^T)^T, shape (K, 4, 8)
        kt = np.linalg.solve(s, pht_t)              # K^T = S^-1 H P, shape (K, 4, 8)
        innov = z - mean[:, :4]
        new_mean = mean + np.einsum("kij,ki->kj", kt, innov)
        new_cov = cov - np.einsum("kij,kil->kjl", kt, pht_t)   # P - K H P
        return new_mean, new_cov


def xyxy_to_cxcywh(b: np.ndarray) -> np.ndarray:
    out = np.empty((len(b), 4))
    out[:, 0] = (b[:, 0] + b[:, 2]) * 0.5
    out[:, 1] = (b[:, 1] + b[:, 3]) * 0.5
    out[:, 2] = b[:, 2] - b[:, 0]
    out[:, 3] = b[:, 3] - b[:, 1]
    return out


def cxcywh_to_xyxy(m: np.ndarray) -> np.ndarray:
    out = np.empty((len(m), 4))
    half_w = m[:, 2] * 0.5
    half_h = m[:, 3] * 0.5
    out[:, 0] = m[:, 0] - half_w
    out[:, 1] = m[:, 1] - half_h
    out[:, 2] = m[:, 0] + half_w
    out[:, 3] = m[:, 1] + half_h
    return out
