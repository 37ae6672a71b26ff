"""A Market-1501-layout identity set rendered by the figure drawer."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from trackreid.synthetic.render import _background, _sample_person, render_person_crop

__all__ = ["write_market_dataset"]


def write_market_dataset(root, num_train_ids: int = 100, num_test_ids: int = 100, num_cameras: int = 4,
                         seed: int = 0, images_per_camera: tuple = (4, 7), num_distractors: int = 100,
                         num_junk: int = 50, size: tuple = (128, 64)) -> Path:
    """Write a Market-1501-layout identity set rendered by the scene's figure drawer; return ``root``.

    ``bounding_box_train/`` holds train identities 1..num_train_ids; test identities follow. Every identity appears in
    at least two cameras (``images_per_camera`` images each, drawn from the inclusive range); for each test identity
    one image per camera goes to ``query/`` and the rest to ``bounding_box_test/``, which also gets
    ``num_distractors`` distractors (``0000_...``: empty background or cut-off figures) and ``num_junk`` junk images
    (``-1_...``). Cameras differ in lighting/colour cast, background and viewpoint; images have pose, mirroring,
    scale and offset jitter. File names: ``PPPP_cCsS_FFFFFF_NN.jpg``.
    """
    for name, v in (("num_train_ids", num_train_ids), ("num_test_ids", num_test_ids)):
        if int(v) < 1:
            raise ValueError(f"write_market_dataset: {name} must be >= 1, got {v}")
    if not 2 <= int(num_cameras) <= 9:
        raise ValueError("write_market_dataset: num_cameras must be 2..9 (one digit in the file name), "
                         f"got {num_cameras}")
    if num_train_ids + num_test_ids > 9999:
        raise ValueError("write_market_dataset: at most 9999 identities fit the 4-digit name field")
    lo, hi = images_per_camera
    if not 2 <= lo <= hi:
        raise ValueError("write_market_dataset: images_per_camera must be (lo, hi) with 2 <= lo <= hi, "
                         f"got {images_per_camera}")
    root = Path(root)
    dirs = {k: root / k for k in ("bounding_box_train", "bounding_box_test", "query")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 77])
    Hc, Wc = size
    # cameras: lighting gain / colour cast, background colour, dominant viewpoint
    cams = []
    for _ in range(num_cameras):
        gain = tuple(float(g) for g in rng.uniform(0.85, 1.1) * rng.uniform(0.94, 1.06, 3))
        # low-contrast, greyish backgrounds: the person, not the camera's floor, should carry the identity
        bgs = []
        for _ in range(4):
            bg = _background(rng, Hc, Wc, base=rng.integers(90, 150) + rng.integers(-15, 16, 3)).astype(np.float32)
            bgs.append(np.clip(0.5 * bg + 0.5 * bg.mean(), 0, 255).astype(np.uint8))
        views = rng.permutation(["side", "side", "front", "back"])[:2].tolist()
        cams.append((gain, bgs, views))
    n_ids = num_train_ids + num_test_ids
    people = [_sample_person(rng) for _ in range(n_ids)]
    frame_no = np.zeros(num_cameras, np.int64)
    quality = [cv2.IMWRITE_JPEG_QUALITY, 92]

    def shot(p, cam, r):
        gain, bgs, views = cams[cam]
        g = tuple(x * r.uniform(0.92, 1.08) for x in gain)
        view = views[int(r.integers(len(views)))] if r.random() < 0.8 else ("side", "front", "back")[int(r.integers(3))]
        img = render_person_crop(p, size, r, view=view, facing=1 if r.random() < 0.5 else -1, gain=g,
                                 background=bgs[int(r.integers(len(bgs)))])
        if r.random() < 0.3:
            img = cv2.GaussianBlur(img, (3, 3), 0)
        return img

    def name(pid, cam, seq, bb):
        frame_no[cam] += int(rng.integers(5, 60))
        return f"{pid}_c{cam + 1}s{seq}_{frame_no[cam]:06d}_{bb:02d}.jpg"

    for i, p in enumerate(people):
        pid = i + 1
        r = np.random.default_rng([seed, 78, pid])
        k = int(r.integers(2, num_cameras + 1))
        cam_ids = sorted(r.choice(num_cameras, k, replace=False).tolist())
        for cam in cam_ids:
            n = int(r.integers(lo, hi + 1))
            seq = int(r.integers(1, 7))
            for j in range(n):
                img = shot(p, cam, r)
                fname = name(f"{pid:04d}", cam, seq, j + 1)
                if pid <= num_train_ids:
                    out = dirs["bounding_box_train"]
                else:
                    out = dirs["query"] if j == 0 else dirs["bounding_box_test"]
                cv2.imwrite(str(out / fname), img, quality)
    r = np.random.default_rng([seed, 79])
    for j in range(num_distractors + num_junk):
        cam = int(r.integers(num_cameras))
        gain, bgs, _ = cams[cam]
        img = bgs[int(r.integers(len(bgs)))].copy()
        if j >= num_distractors or r.random() < 0.5:
            # a cut-off figure: junk keeps only a part of a body, distractors show a stranger badly framed
            stranger = _sample_person(r)
            big = render_person_crop(stranger, (Hc * 2, Wc), r, gain=gain)
            y0 = int(r.integers(0, Hc))
            img[: Hc // 2] = big[y0: y0 + Hc // 2]
        pid = "-1" if j >= num_distractors else "0000"
        cv2.imwrite(str(dirs["bounding_box_test"] / name(pid, cam, int(r.integers(1, 7)), 1)), img, quality)
    return root

