"""Image transforms for ReID training and testing.

Every random choice draws from a ``numpy.random.Generator`` handed in by the caller; the training dataset seeds
it from (run seed, epoch, image index), so an image's augmentation does not depend on which data-loader worker
reads it or on whether the run was resumed — a condition for exact ``--resume``.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class TransformConfig:
    """Augmentation settings; the defaults are the common ReID baseline."""

    height: int = 256  #: input height in pixels
    width: int = 128  #: input width in pixels
    flip: float = 0.5  #: probability of a horizontal flip
    pad: int = 10  #: zero padding before a random crop back to height x width (0 disables)
    erasing: float = 0.5  #: probability of random erasing (Zhong et al. 2020), applied after normalisation
    color_jitter: float = 0.0  #: strength of brightness/contrast/saturation jitter, and hue by a fifth of it (0 off)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD


def read_rgb(path: str) -> np.ndarray:
    """Read an image file as RGB uint8; a clear error when it cannot be decoded."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read image {path} (missing or not an image)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _jitter(img: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    x = img.astype(np.float32)
    b, c, s = rng.uniform(1 - strength, 1 + strength, size=3)
    x = x * b
    x = (x - x.mean()) * c + x.mean()
    gray = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = (x - gray[..., None]) * s + gray[..., None]
    x = np.clip(x, 0, 255).astype(np.uint8)
    hue = rng.uniform(-strength / 5, strength / 5)
    if hue:
        hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + int(round(hue * 180))) % 180).astype(np.uint8)
        x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return x


def _normalise(img: np.ndarray, cfg: TransformConfig) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div_(255.0)
    mean = torch.tensor(cfg.mean).view(3, 1, 1)
    std = torch.tensor(cfg.std).view(3, 1, 1)
    return x.sub_(mean).div_(std)


def _erase(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Random erasing: a rectangle of 2-40 % of the area, aspect 0.3-3.3, filled with the mean (0 after norm)."""
    _, h, w = x.shape
    for _ in range(100):
        area = rng.uniform(0.02, 0.4) * h * w
        aspect = np.exp(rng.uniform(np.log(0.3), np.log(1 / 0.3)))
        eh, ew = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
        if 0 < eh < h and 0 < ew < w:
            y0, x0 = int(rng.integers(0, h - eh + 1)), int(rng.integers(0, w - ew + 1))
            x[:, y0:y0 + eh, x0:x0 + ew] = 0.0
            return x
    return x


def train_transform(img: np.ndarray, cfg: TransformConfig, rng: np.random.Generator) -> torch.Tensor:
    """RGB uint8 image -> augmented, normalised (3, H, W) float tensor."""
    img = cv2.resize(img, (cfg.width, cfg.height), interpolation=cv2.INTER_LINEAR)
    if cfg.flip > 0 and rng.random() < cfg.flip:
        img = img[:, ::-1]
    if cfg.pad > 0:
        p = cfg.pad
        padded = cv2.copyMakeBorder(np.ascontiguousarray(img), p, p, p, p, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        y0, x0 = int(rng.integers(0, 2 * p + 1)), int(rng.integers(0, 2 * p + 1))
        img = padded[y0:y0 + cfg.height, x0:x0 + cfg.width]
    if cfg.color_jitter > 0:
        img = _jitter(np.ascontiguousarray(img), cfg.color_jitter, rng)
    x = _normalise(img, cfg)
    if cfg.erasing > 0 and rng.random() < cfg.erasing:
        x = _erase(x, rng)
    return x


def test_transform(img: np.ndarray, cfg: TransformConfig) -> torch.Tensor:
    """RGB uint8 image -> resized, normalised (3, H, W) float tensor."""
    img = cv2.resize(img, (cfg.width, cfg.height), interpolation=cv2.INTER_LINEAR)
    return _normalise(img, cfg)
