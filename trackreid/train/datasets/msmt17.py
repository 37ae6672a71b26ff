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
    bases = [root] + [b / v for b in (root, root / "msmt17") for v, _, _ in _VERSIONS]
    for base in bases:
        # the version is told by the image folders present, whatever the folder is called
        dirs = next(((tr, te) for _, tr, te in _VERSIONS if (base / tr).is_dir() and (base / te).is_dir()), None)
        has_lists = (base / "list_train.txt").is_file()
        if dirs is None and not has_lists:
            continue
        if dirs is None:
            raise DatasetLayoutError(f"msmt17: found list files in {base} but no image folders: expected train/ and "
                                     "test/ (V1) or mask_train_v2/ and mask_test_v2/ (V2) beside them")
        train_dir, test_dir = dirs
        for f in ("list_train.txt", "list_query.txt", "list_gallery.txt"):
            if not (base / f).is_file():
                raise DatasetLayoutError(f"msmt17: found {base / train_dir} but not {base / f}; the release's list "
                                         "files name the training, query and gallery images")
        train = _read_list(base / "list_train.txt", base / train_dir)
        if (base / "list_val.txt").is_file():
            train += _read_list(base / "list_val.txt", base / train_dir)
        query = _read_list(base / "list_query.txt", base / test_dir)
        gallery = _read_list(base / "list_gallery.txt", base / test_dir)
        if not train:
            raise DatasetLayoutError(f"msmt17: {base / 'list_train.txt'} is empty")
        return ReIDDataset("msmt17", base, relabel(train), query, gallery)
    raise DatasetLayoutError(
        "msmt17: expected list_train.txt, list_query.txt, list_gallery.txt with train/ and test/ (V1) or "
        f"mask_train_v2/ and mask_test_v2/ (V2) in one of: {', '.join(map(str, bases))}")
