"""Helpers for the training tests: tiny image sets written to tmp folders."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


def person_image(pid: int, rng: np.random.Generator, h: int = 64, w: int = 32) -> np.ndarray:
    """A crude 'person': two colour blocks fixed by the identity, plus per-image noise and jitter."""
    r = np.random.default_rng(pid * 7919 + 17)
    top, bottom = r.integers(0, 256, 3), r.integers(0, 256, 3)
    img = rng.integers(90, 150, (h, w, 3)).astype(np.uint8)
    dy = int(rng.integers(-3, 4))
    img[h // 6 + dy: h // 2 + dy, w // 6: w - w // 6] = top
    img[h // 2 + dy: h - h // 10, w // 4: w - w // 4] = bottom
    return img


def write_market(root: Path, train_ids=range(1, 9), test_ids=range(9, 15), cams=(1, 2), per_cam=2,
                 seed: int = 0) -> Path:
    """Market-1501 layout with a junk (-1) image and a distractor (0000) in the gallery."""
    rng = np.random.default_rng(seed)
    for split, pids, n in (("bounding_box_train", train_ids, per_cam), ("bounding_box_test", test_ids, per_cam),
                           ("query", test_ids, 1)):
        d = root / split
        d.mkdir(parents=True, exist_ok=True)
        for pid in pids:
            for cam in cams:
                for k in range(n):
                    cv2.imwrite(str(d / f"{pid:04d}_c{cam}s1_{k:06d}_00.jpg"), person_image(pid, rng))
    cv2.imwrite(str(root / "bounding_box_test" / "-1_c1s1_000001_00.jpg"), person_image(999, rng))
    cv2.imwrite(str(root / "bounding_box_test" / "0000_c2s1_000002_00.jpg"), person_image(998, rng))
    return root


@pytest.fixture
def market_dir(tmp_path: Path) -> Path:
    return write_market(tmp_path / "market")


def tiny_config(root: Path, output: Path, **kw):
    """A fast CPU configuration of osnet_x0_25 on 64x32 crops."""
    from trackreid.train.config import build_config

    values = dict(data="market1501", root=str(root), output=str(output), height=64, width=32, batch_size=8,
                  sampler="pk", num_instances=2, triplet_weight=1.0, epochs=2, eval_every=-1, workers=0,
                  pretrained_backbone=False, lr=0.003, pad=4, erasing=0.5, fixbase_epochs=0)
    values.update(kw)
    return build_config("osnet", values.pop("model", "osnet_x0_25"), values)
