"""Real person crops as sprites: building a Market-1501-layout set from MOT ground truth, loading it, compositing.

A sprite set is a Market-1501-layout folder (``bounding_box_train/PPPP_cCsS_FFFFFF_NN.jpg``): one identity's crops
are one person of a scene. Each crop gets a soft alpha mask (an elliptical prior sharpened by the colour distance
to the crop's own border), so the scene's ground shows around the person.
"""
from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["SpriteSet", "load_sprites", "build_sprite_set", "sprite_alpha", "composite_sprite", "MARKET_NAME"]

#: Market-1501 image name: person id (4 digits, 0000 distractor, -1 junk), camera, sequence, frame, box number
MARKET_NAME = re.compile(r"^(-1|\d{4})_c(\d)s(\d)_(\d{6})_(\d{2})\.jpg$")


@dataclass
class SpriteSet:
    """Crops per identity, BGR uint8, with float32 alpha masks of the same size."""

    pids: list          #: Market person id of each identity
    crops: list         #: per identity: list of (h, w, 3) uint8 BGR crops, in file-name (frame) order
    alphas: list        #: per identity: list of (h, w) float32 masks in [0, 1]

    def __len__(self) -> int:
        return len(self.pids)

    def aspect(self) -> np.ndarray:
        """Median width/height of each identity's crops (the box width factor of that person)."""
        return np.array([np.median([c.shape[1] / c.shape[0] for c in cs]) for cs in self.crops])

    def pick(self, identity: int, phase: float) -> tuple[np.ndarray, np.ndarray]:
        """The crop and mask of ``identity`` for walking phase ``phase`` (radians): one gait cycle runs through the
        identity's crops forward then back, so consecutive frames show neighbouring crops."""
        cs = self.crops[identity]
        n = len(cs)
        if n == 1:
            return cs[0], self.alphas[identity][0]
        cyc = 2 * n - 2                                   # 0 1 .. n-1 n-2 .. 1
        k = int(np.floor((phase % (2 * np.pi)) / (2 * np.pi) * cyc)) % cyc
        k = k if k < n else cyc - k
        return cs[k], self.alphas[identity][k]


def _silhouette(h: int, w: int) -> np.ndarray:
    """A soft standing-person shape (head, shoulders, hips, legs) filling an (h, w) box, float32 in [0, 1]."""
    m = np.zeros((h, w), np.float32)
    cv2.ellipse(m, (int(w * 0.5), int(h * 0.085)), (max(1, int(w * 0.17)), max(1, int(h * 0.08))), 0, 0, 360, 1.0, -1)
    pts = np.array([[0.38, 0.14], [0.62, 0.14], [0.86, 0.2], [0.84, 0.52], [0.72, 0.62], [0.76, 0.99],
                    [0.54, 0.99], [0.5, 0.7], [0.46, 0.99], [0.24, 0.99], [0.28, 0.62], [0.16, 0.52], [0.14, 0.2]])
    cv2.fillPoly(m, [np.round(pts * [w, h]).astype(np.int32)], 1.0)
    k = max(3, (w // 8) | 1)
    return cv2.GaussianBlur(m, (k, k), 0)


def sprite_alpha(crop: np.ndarray) -> np.ndarray:
    """Soft foreground mask (h, w) float32 of a person crop.

    A standing-person silhouette is always opaque; inside a wider super-ellipse, pixels whose Lab colour is far
    from the crop border's median colour (the background) are opaque too (arms, bags, wide coats).
    """
    h, w = crop.shape[:2]
    ny = (np.arange(h, dtype=np.float32) + 0.5) / h * 2 - 1
    nx = (np.arange(w, dtype=np.float32) + 0.5) / w * 2 - 1
    r = ((np.abs(nx)[None] / 0.95) ** 2.5 + (np.abs(ny)[:, None] / 1.04) ** 2.5) ** 0.4
    prior = np.clip((1.0 - r) / 0.3, 0, 1)                      # fades out towards the corners
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB).astype(np.float32)
    b = max(1, min(h, w) // 16)
    ring = np.concatenate([lab[:, :b].reshape(-1, 3), lab[:, -b:].reshape(-1, 3), lab[:b].reshape(-1, 3)])
    bg = np.median(ring, axis=0)
    thr = max(12.0, float(np.percentile(np.linalg.norm(ring - bg, axis=1), 60)))
    fg = np.clip((np.linalg.norm(lab - bg, axis=2) - thr) / thr, 0, 1)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    alpha = np.maximum(_silhouette(h, w), prior * fg)
    k = max(3, (min(h, w) // 16) | 1)
    return cv2.GaussianBlur(alpha, (k, k), 0)


def load_sprites(root, max_per_identity: int = 16, max_height: int = 256) -> SpriteSet:
    """Load a Market-1501-layout folder (its ``bounding_box_train/``, or ``root`` itself if it holds the images).

    Distractors (``0000``) and junk (``-1``) are skipped; at most ``max_per_identity`` crops per identity (evenly
    spaced in frame order) and crops taller than ``max_height`` are scaled down.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"sprites: {root} is not a folder (expected a Market-1501-layout sprite set)")
    folder = root / "bounding_box_train" if (root / "bounding_box_train").is_dir() else root
    by_pid: dict[int, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        m = MARKET_NAME.match(p.name)
        if m and m.group(1) not in ("0000", "-1"):
            by_pid.setdefault(int(m.group(1)), []).append(p)
    if not by_pid:
        raise ValueError(f"sprites: no PPPP_cCsS_FFFFFF_NN.jpg person crops in {folder} "
                         "(expected a Market-1501 layout; build one with `trackreid-synth sprites OUT --from MOT_DIR`)")
    pids, crops, alphas = [], [], []
    for pid, paths in sorted(by_pid.items()):
        if len(paths) > max_per_identity:
            paths = [paths[i] for i in np.linspace(0, len(paths) - 1, max_per_identity).round().astype(int)]
        cs = []
        for p in paths:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None or min(img.shape[:2]) < 4:
                raise ValueError(f"sprites: cannot read the image {p}")
            if img.shape[0] > max_height:
                img = cv2.resize(img, (max(4, round(img.shape[1] * max_height / img.shape[0])), max_height),
                                 interpolation=cv2.INTER_AREA)
            cs.append(img)
        pids.append(pid)
        crops.append(cs)
        alphas.append([sprite_alpha(c) for c in cs])
    return SpriteSet(pids, crops, alphas)


def composite_sprite(img: np.ndarray, crop: np.ndarray, alpha: np.ndarray, box, flip: bool = False) -> None:
    """Blend ``crop`` scaled to ``box`` (x1, y1, x2, y2, may reach outside the image) into ``img`` in place."""
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, bh = max(1, int(round(x2 - x1))), max(1, int(round(y2 - y1)))
    X1, Y1 = int(round(x1)), int(round(y1))
    H, W = img.shape[:2]
    ix1, iy1, ix2, iy2 = max(0, X1), max(0, Y1), min(W, X1 + bw), min(H, Y1 + bh)
    if ix2 <= ix1 or iy2 <= iy1:
        return
    interp = cv2.INTER_AREA if bh < crop.shape[0] else cv2.INTER_LINEAR
    s = cv2.resize(crop, (bw, bh), interpolation=interp)
    a = cv2.resize(alpha, (bw, bh), interpolation=cv2.INTER_LINEAR)
    if flip:
        s, a = s[:, ::-1], a[:, ::-1]
    s = s[iy1 - Y1: iy2 - Y1, ix1 - X1: ix2 - X1].astype(np.float32)
    a = a[iy1 - Y1: iy2 - Y1, ix1 - X1: ix2 - X1, None]
    roi = img[iy1:iy2, ix1:ix2]
    roi[:] = (a * s + (1 - a) * roi.astype(np.float32) + 0.5).astype(np.uint8)


def _read_seq_frames(seq: Path) -> tuple[dict[int, Path], str]:
    ini = configparser.ConfigParser()
    ini.read(seq / "seqinfo.ini")
    im_dir = ini.get("Sequence", "imDir", fallback="img1")
    ext = ini.get("Sequence", "imExt", fallback=".jpg")
    frames = {}
    d = seq / im_dir
    if d.is_dir():
        for p in d.iterdir():
            if p.suffix.lower() == ext.lower() and p.stem.isdigit():
                frames[int(p.stem)] = p
    return frames, im_dir


def build_sprite_set(src, out, min_visibility: float = 0.5, min_height: float = 64.0) -> Path:
    """Cut ground-truth person boxes from every MOT sequence under ``src`` into a Market-1501 layout at ``out``.

    Uses every ``SEQ/gt/gt.txt`` row of a frame present in ``SEQ/img1`` that is a considered pedestrian (MOT17
    columns 7-8 = 1, 1; plain 6-column GT counts as pedestrians) with visibility >= ``min_visibility``, a box height
    >= ``min_height`` and at least 90 % of the box inside the image. Each (sequence, GT id) gets its own person
    id 1, 2, ...; the camera digit is the sequence's index (1-9, then the ``s`` digit counts up). Writes
    ``out/bounding_box_train/PPPP_cCsS_FFFFFF_00.jpg`` and ``out/sources.csv`` (pid, sequence, gt id). Returns ``out``.
    """
    from trackreid.io.atomic import write_text_atomic

    src, out = Path(src), Path(out)
    seqs = sorted(p for p in src.iterdir() if (p / "gt" / "gt.txt").is_file()) if src.is_dir() else []
    if not seqs:
        raise ValueError(f"build_sprite_set: no SEQ/gt/gt.txt under {src} (expected a MOTChallenge folder)")
    if len(seqs) > 81:
        raise ValueError(f"build_sprite_set: at most 81 sequences fit the cCsS name fields, got {len(seqs)}")
    dst = out / "bounding_box_train"
    dst.mkdir(parents=True, exist_ok=True)
    sources = ["pid,sequence,gt_id"]
    pid = 0
    for si, seq in enumerate(seqs):
        frames, _ = _read_seq_frames(seq)
        gt = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
        if gt.size == 0 or not frames:
            continue
        if gt.shape[1] < 6:
            raise ValueError(f"build_sprite_set: {seq / 'gt' / 'gt.txt'} has {gt.shape[1]} columns, expected >= 6")
        keep = np.isin(gt[:, 0].astype(int), list(frames)) & (gt[:, 5] >= min_height)
        if gt.shape[1] >= 9:
            keep &= (gt[:, 6] == 1) & (gt[:, 7] == 1) & (gt[:, 8] >= min_visibility)
        gt = gt[keep]
        cam, sub = si % 9 + 1, si // 9 + 1
        for gid in np.unique(gt[:, 1]).astype(int):
            rows = gt[gt[:, 1] == gid]
            written = 0
            for r in rows[np.argsort(rows[:, 0])]:
                img = cv2.imread(str(frames[int(r[0])]), cv2.IMREAD_COLOR)
                if img is None:
                    raise ValueError(f"build_sprite_set: cannot read {frames[int(r[0])]}")
                H, W = img.shape[:2]
                x1, y1, x2, y2 = r[2], r[3], r[2] + r[4], r[3] + r[5]
                cx1, cy1, cx2, cy2 = int(max(0, round(x1))), int(max(0, round(y1))), int(min(W, round(x2))), \
                    int(min(H, round(y2)))
                if (cx2 - cx1) * (cy2 - cy1) < 0.9 * r[4] * r[5]:
                    continue
                if written == 0:
                    pid += 1
                    if pid > 9999:
                        raise ValueError("build_sprite_set: more than 9999 identities do not fit the PPPP field")
                    sources.append(f"{pid},{seq.name},{gid}")
                cv2.imwrite(str(dst / f"{pid:04d}_c{cam}s{sub}_{int(r[0]):06d}_00.jpg"), img[cy1:cy2, cx1:cx2],
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
                written += 1
    if pid == 0:
        raise ValueError(f"build_sprite_set: no ground-truth box under {src} passed visibility >= {min_visibility} "
                         f"and height >= {min_height}")
    write_text_atomic(out / "sources.csv", "\n".join(sources) + "\n")
    return out
