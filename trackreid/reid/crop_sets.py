"""Labelled person crops for calibrating and checking exported encoders.

A ``CropSet`` is a Market-1501-style retrieval set held in memory: BGR uint8 crops with identities, cameras and a
query/gallery split. ``load_crop_set(folder)`` reads

* MOT-layout sequences (``<seq>/gt/gt.txt`` + ``<seq>/img1/*.jpg``, e.g. MOT17): ground-truth pedestrians
  (visibility >= 0.5, at least 64 px tall) of each sequence's first frame are the queries (camera 0), those of its
  last frame the gallery (camera 1); identities are kept apart per sequence;
* a Market-1501 layout (``query/`` and ``bounding_box_test/``);
* any other folder of images: unlabelled crops (good for calibration only).

``synthetic_crop_set()`` renders a small Market-layout set with ``trackreid.synthetic`` when no folder is given.
``retrieval_scores`` gives what the INT8 check compares: rank-1 and the same-identity / different-identity cosine
margin.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

__all__ = ["CropSet", "calibration_crops", "load_crop_set", "synthetic_crop_set", "retrieval_scores"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class CropSet:
    """crops: BGR uint8 (h, w, 3) arrays; pids, camids: (N,) ints (-1: unlabelled); query: (N,) bool (the rest is
    the gallery); source: where it came from, for messages."""

    crops: list
    pids: np.ndarray
    camids: np.ndarray
    query: np.ndarray
    source: str

    @property
    def labelled(self) -> bool:
        return bool(self.query.any() and (~self.query).any() and (self.pids >= 0).all())

    def sample(self, count: int, seed: int = 0) -> list:
        """Up to ``count`` crops, evenly spread over the set (deterministic)."""
        if count >= len(self.crops):
            return list(self.crops)
        idx = np.linspace(0, len(self.crops) - 1, count).round().astype(int)
        return [self.crops[i] for i in idx]


def _mot_sequences(root: Path) -> list[Path]:
    if (root / "gt" / "gt.txt").is_file():
        return [root]
    return sorted(p for p in root.iterdir() if (p / "gt" / "gt.txt").is_file() and (p / "img1").is_dir())


def _from_mot(seqs: list[Path], min_height: float = 64.0, min_visibility: float = 0.5) -> CropSet:
    crops, pids, cams, query = [], [], [], []
    for k, seq in enumerate(seqs):
        gt = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
        if gt.shape[1] >= 9:
            gt = gt[(gt[:, 6] == 1) & (gt[:, 7] == 1) & (gt[:, 8] >= min_visibility)]
        gt = gt[gt[:, 5] >= min_height]
        frames = sorted(p for p in (seq / "img1").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        frames = [p for p in frames if p.stem.isdigit() and (gt[:, 0] == int(p.stem)).any()]
        if len(frames) < 2:
            continue
        for cam, path in enumerate((frames[0], frames[-1])):
            img = cv2.imread(str(path))
            if img is None:
                raise ValueError(f"{path}: not a readable image")
            h, w = img.shape[:2]
            for row in gt[gt[:, 0] == int(path.stem)]:
                x1, y1 = max(int(round(row[2])), 0), max(int(round(row[3])), 0)
                x2, y2 = min(int(round(row[2] + row[4])), w), min(int(round(row[3] + row[5])), h)
                if x2 - x1 < 8 or y2 - y1 < 16:
                    continue
                crops.append(np.ascontiguousarray(img[y1:y2, x1:x2]))
                pids.append(k * 100000 + int(row[1]))
                cams.append(cam)
                query.append(cam == 0)
    return CropSet(crops, np.array(pids, np.int64), np.array(cams, np.int64), np.array(query, bool),
                   f"MOT ground truth of {len(seqs)} sequence(s)")


def _read(paths) -> list:
    out = []
    for p in paths:
        img = cv2.imread(str(p))
        if img is None:
            raise ValueError(f"{p}: not a readable image")
        out.append(img)
    return out


def _from_market(root: Path) -> CropSet:
    from trackreid.train.datasets.base import parse_market_folder

    q = parse_market_folder(root / "query", "crops", train=False)
    g = parse_market_folder(root / "bounding_box_test", "crops", train=False)
    items = q + g
    return CropSet(_read(p for p, _, _ in items), np.array([pid for _, pid, _ in items], np.int64),
                   np.array([c for _, _, c in items], np.int64), np.arange(len(items)) < len(q),
                   f"Market layout at {root}")


def load_crop_set(folder, max_images: int = 2000) -> CropSet:
    """Crops from ``folder`` (see the module docstring); one-line ValueError when it holds none."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ValueError(f"crops folder {str(folder)!r}: no such folder (expected MOT sequences with gt/gt.txt, a "
                         "Market-1501 layout, or a folder of crop images)")
    seqs = _mot_sequences(root)
    if seqs:
        out = _from_mot(seqs)
    elif (root / "query").is_dir() and (root / "bounding_box_test").is_dir():
        out = _from_market(root)
    else:
        paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(paths) > max_images:
            paths = [paths[i] for i in np.linspace(0, len(paths) - 1, max_images).round().astype(int)]
        n = len(paths)
        out = CropSet(_read(paths), np.full(n, -1, np.int64), np.full(n, -1, np.int64), np.zeros(n, bool),
                      f"images under {root}")
    if not out.crops:
        raise ValueError(f"crops folder {root}: found no person crops (expected MOT sequences with gt/gt.txt and "
                         "img1/, a Market-1501 layout, or .jpg/.png crops)")
    return out


def _mot_crops_everywhere(seqs: list[Path], count: int, rng, min_height: float = 64.0,
                          min_visibility: float = 0.5) -> list:
    """Up to ``count`` ground-truth crops drawn at random from every annotated frame of ``seqs``."""
    rows = []
    for seq in seqs:
        gt = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
        if gt.shape[1] >= 9:
            gt = gt[(gt[:, 6] == 1) & (gt[:, 7] == 1) & (gt[:, 8] >= min_visibility)]
        gt = gt[gt[:, 5] >= min_height]
        frames = {int(p.stem): p for p in (seq / "img1").iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and p.stem.isdigit()}
        rows += [(frames[int(r[0])], r) for r in gt if int(r[0]) in frames]
    picked = [rows[i] for i in sorted(rng.permutation(len(rows))[:count])]
    crops, cache = [], {}
    for path, r in picked:
        img = cache.get(path)
        if img is None:
            cache.clear()
            img = cache[path] = cv2.imread(str(path))
        h, w = img.shape[:2]
        x1, y1 = max(int(round(r[2])), 0), max(int(round(r[3])), 0)
        x2, y2 = min(int(round(r[2] + r[4])), w), min(int(round(r[3] + r[5])), h)
        if x2 - x1 >= 8 and y2 - y1 >= 16:
            crops.append(np.ascontiguousarray(img[y1:y2, x1:x2]))
    return crops


def calibration_crops(folders, count: int, seed: int = 0) -> list:
    """``count`` crops for INT8 calibration pooled from ``folders`` (one path or several): from MOT sequences,
    ground-truth crops of every annotated frame (not only the first and last); from other folders, their crops."""
    folders = [folders] if isinstance(folders, (str, Path)) else list(folders)
    rng = np.random.default_rng(seed)
    pool = []
    for folder in folders:
        root = Path(folder).expanduser()
        seqs = _mot_sequences(root) if root.is_dir() else []
        pool += _mot_crops_everywhere(seqs, count, rng) if seqs else load_crop_set(root).crops
    if not pool:
        raise ValueError(f"calibration folders {folders}: found no person crops")
    return [pool[i] for i in sorted(rng.permutation(len(pool))[:count])]


@lru_cache(maxsize=2)
def synthetic_crop_set(num_ids: int = 150, seed: int = 0) -> CropSet:
    """A rendered Market-layout set (``trackreid.synthetic``): ``num_ids`` identities over 2 cameras, about 5 crops
    each (made once per process; treat it as read-only). 150 identities give 300 queries, so one query is a third
    of a rank-1 point and the INT8 check's 1-point bar is not decided by one or two crops."""
    from trackreid.synthetic.market import write_market_dataset

    with tempfile.TemporaryDirectory(prefix="trackreid-crops-") as tmp:
        write_market_dataset(tmp, num_train_ids=1, num_test_ids=num_ids, num_cameras=2, seed=seed,
                             images_per_camera=(2, 3), num_distractors=20, num_junk=0)
        out = _from_market(Path(tmp))
    out.source = f"synthetic Market layout ({num_ids} identities)"
    return out


def retrieval_scores(features: np.ndarray, crops: CropSet) -> dict:
    """Rank-1 (cosine, Market-1501 protocol) of the queries against the gallery, and the mean same-identity and
    different-identity query-gallery cosines and their margin; ``features`` are L2-normalised, one row per crop."""
    from trackreid.evaluation.reid import evaluate_reid

    if not crops.labelled:
        raise ValueError(f"{crops.source}: unlabelled crops cannot check retrieval; give MOT sequences with ground "
                         "truth or a Market-1501 layout")
    q, g = crops.query, ~crops.query
    res = evaluate_reid(features[q], features[g], crops.pids[q], crops.pids[g], crops.camids[q], crops.camids[g],
                        metric="cosine", device="cpu")
    sim = features[q] @ features[g].T
    eq = crops.pids[q][:, None] == crops.pids[g][None, :]
    same, diff = float(sim[eq].mean()), float(sim[~eq].mean())
    return {"rank1": float(res["rank1"]), "mAP": float(res["mAP"]), "same": same, "diff": diff,
            "margin": same - diff, "queries": int(res["num_valid_queries"])}
