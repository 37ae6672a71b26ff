"""A custom dataset of one sub-folder per identity.

Two layouts are accepted:

* ``root/train/<id>/``, ``root/query/<id>/``, ``root/gallery/<id>/`` — explicit splits;
* ``root/<id>/`` — identities are split by sorted name: the first half trains, the rest are held out; of each
  held-out identity the first image (by name) of every camera becomes a query and the rest the gallery
  (without camera ids: the first image is the query).

Camera ids are read from file names containing ``c<N>`` or ``cam<N>`` (e.g. ``0001_c2_003.jpg``, ``cam3_17.png``);
when a name has none, the camera id is -1. If any test image lacks a camera id, evaluation drops the same-camera
rule for the whole set (otherwise every true match would be thrown away): only the query image itself is never
its own match, which cannot happen anyway since query and gallery are different files.
"""
from __future__ import annotations

import re
from pathlib import Path

from .base import DatasetLayoutError, Item, ReIDDataset, list_images, relabel

_CAM = re.compile(r"(?:^|[_\-.])c(?:am(?:era)?)?[_\-]?(\d+)", re.IGNORECASE)


def camera_from_name(name: str) -> int:
    """0-based camera id parsed from a file name (``c3``/``cam3``/``camera3`` -> 2), or -1 when there is none."""
    m = _CAM.search(Path(name).stem)
    return int(m.group(1)) - 1 if m else -1


def _identity_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read_identities(folders: list[Path], pid_of: dict[str, int]) -> list[Item]:
    items: list[Item] = []
    for d in folders:
        cam_items = [(str(f), pid_of[d.name], camera_from_name(f.name)) for f in list_images(d)]
        items.extend(cam_items)
    return items


def folder_dataset(root: str | Path, test_fraction: float = 0.5) -> ReIDDataset:
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"folder: dataset folder {root} does not exist")
    if (root / "bounding_box_train").is_dir() or (root / "bounding_box_test").is_dir():
        raise DatasetLayoutError(f"folder: {root} has the Market-1501 layout (bounding_box_train/, query/, "
                                 "bounding_box_test/), not one sub-folder per identity; use --data market_layout")
    if (root / "train").is_dir():
        splits = {}
        for s in ("train", "query", "gallery"):
            if not (root / s).is_dir():
                raise DatasetLayoutError(f"folder: found {root / 'train'} so expected {root / s} as well "
                                         "(one sub-folder per identity in each)")
            splits[s] = _identity_folders(root / s)
        names = sorted({d.name for ds in splits.values() for d in ds})
        pid_of = {n: i for i, n in enumerate(names)}
        train = _read_identities(splits["train"], pid_of)
        query = _read_identities(splits["query"], pid_of)
        gallery = _read_identities(splits["gallery"], pid_of)
    else:
        ids = _identity_folders(root)
        if len(ids) < 2:
            raise DatasetLayoutError(
                f"folder: expected one sub-folder per identity in {root} (at least 2), found {len(ids)}; "
                "or train/, query/, gallery/ each holding identity sub-folders")
        pid_of = {d.name: i for i, d in enumerate(ids)}
        n_test = max(1, int(round(len(ids) * test_fraction)))
        train = _read_identities(ids[: len(ids) - n_test], pid_of)
        query, gallery = [], []
        for d in ids[len(ids) - n_test:]:
            seen_cams: set[int] = set()
            for item in _read_identities([d], pid_of):
                if item[2] not in seen_cams:
                    seen_cams.add(item[2])
                    query.append(item)
                else:
                    gallery.append(item)
    if not train:
        raise DatasetLayoutError(f"folder: no training image found under {root} (expected .jpg/.png files "
                                 "inside one sub-folder per identity)")
    if len({pid for _, pid, _ in train}) < 2:
        raise DatasetLayoutError(f"folder: {root} gives fewer than 2 training identities; a classifier needs at "
                                 "least 2 (use more identity folders)")
    if not query or not gallery:
        raise DatasetLayoutError(f"folder: {root} yields {len(query)} query and {len(gallery)} gallery images; "
                                 "each held-out identity needs at least two images")
    return ReIDDataset("folder", root, relabel(train), query, gallery)
