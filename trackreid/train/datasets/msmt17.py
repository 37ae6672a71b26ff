"""MSMT17: list files ``list_{train,val,query,gallery}.txt`` (``folder/name.jpg pid`` per line) over image folders.

V1 stores images in ``train/`` and ``test/``; V2 in ``mask_train_v2/`` and ``mask_test_v2/``. The camera id is the
third ``_``-separated field of the file name (1-based, 15 cameras). Training uses train + val, as is customary.
"""
from __future__ import annotations

from pathlib import Path

from .base import DatasetLayoutError, Item, ReIDDataset, relabel

_VERSIONS = (("MSMT17_V1", "train", "test"), ("MSMT17_V2", "mask_train_v2", "mask_test_v2"))


def _read_list(list_file: Path, image_dir: Path) -> list[Item]:
    items: list[Item] = []
    for line_no, line in enumerate(list_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise DatasetLayoutError(f"msmt17: {list_file}:{line_no}: expected 'path pid', got {line!r}")
        rel, pid = parts[0], int(parts[1])
        try:
            cam = int(Path(rel).name.split("_")[2]) - 1
        except (IndexError, ValueError):
            raise DatasetLayoutError(f"msmt17: {list_file}:{line_no}: cannot read the camera id from {rel!r} "
                                     f"(expected PID_SEQ_CAM_..., e.g. 0000_000_01_0303morning_0015_0.jpg)") from None
        items.append((str(image_dir / rel), pid, cam))
    return items


def msmt17(root: str | Path) -> ReIDDataset:
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"msmt17: dataset folder {root} does not exist")
    tried = []
    for version, train_dir, test_dir in _VERSIONS:
        for base in (root, root / version, root / "msmt17" / version):
            tried.append(str(base))
            if not (base / "list_train.txt").is_file():
                continue
            for d in (train_dir, test_dir):
                if not (base / d).is_dir():
                    raise DatasetLayoutError(f"msmt17: found list files in {base} but not the image folder {base / d}")
            train = _read_list(base / "list_train.txt", base / train_dir)
            if (base / "list_val.txt").is_file():
                train += _read_list(base / "list_val.txt", base / train_dir)
            for f in ("list_query.txt", "list_gallery.txt"):
                if not (base / f).is_file():
                    raise DatasetLayoutError(f"msmt17: expected {base / f}")
            query = _read_list(base / "list_query.txt", base / test_dir)
            gallery = _read_list(base / "list_gallery.txt", base / test_dir)
            if not train:
                raise DatasetLayoutError(f"msmt17: {base / 'list_train.txt'} is empty")
            return ReIDDataset("msmt17", base, relabel(train), query, gallery)
    raise DatasetLayoutError(
        "msmt17: expected list_train.txt, list_query.txt, list_gallery.txt with train/ and test/ (V1) or "
        f"mask_train_v2/ and mask_test_v2/ (V2) in one of: {', '.join(tried)}")
