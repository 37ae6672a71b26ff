"""Market-1501 and DukeMTMC-reID: ``bounding_box_train/``, ``query/``, ``bounding_box_test/`` of ``PPPP_cC*.jpg``."""
from __future__ import annotations

from pathlib import Path

from .base import DatasetLayoutError, ReIDDataset, parse_market_folder, relabel

_SPLITS = ("bounding_box_train", "query", "bounding_box_test")


def find_market_root(root: Path, subdirs: tuple[str, ...], dataset: str) -> Path:
    """The first of ``root`` and ``root/<subdir>`` that holds the three Market-style folders."""
    candidates = [root] + [root / s for s in subdirs]
    for c in candidates:
        if all((c / s).is_dir() for s in _SPLITS):
            return c
    if not root.is_dir():
        raise DatasetLayoutError(f"{dataset}: dataset folder {root} does not exist")
    tried = ", ".join(str(c) for c in candidates)
    present = sorted(p.name for p in root.iterdir())[:8]
    raise DatasetLayoutError(
        f"{dataset}: expected the folders {', '.join(_SPLITS)} in one of: {tried}; "
        f"{root} contains {present or 'nothing'}")


def load_market_layout(root: Path, name: str, subdirs: tuple[str, ...] = ()) -> ReIDDataset:
    """Load any dataset stored in the Market-1501 layout (also used for converted CUHK03 and custom sets)."""
    base = find_market_root(Path(root), subdirs, name)
    train = parse_market_folder(base / "bounding_box_train", name, train=True)
    query = parse_market_folder(base / "query", name, train=False)
    gallery = parse_market_folder(base / "bounding_box_test", name, train=False)
    if not train:
        raise DatasetLayoutError(f"{name}: {base / 'bounding_box_train'} has no image with a valid identity")
    return ReIDDataset(name, base, relabel(train), query, gallery)


def market1501(root: str | Path) -> ReIDDataset:
    """Market-1501 (751 training identities, 6 cameras)."""
    return load_market_layout(Path(root), "market1501", ("Market-1501-v15.09.15", "market1501",
                                                         "market1501/Market-1501-v15.09.15"))


def dukemtmc(root: str | Path) -> ReIDDataset:
    """DukeMTMC-reID (702 training identities, 8 cameras), same layout as Market-1501."""
    return load_market_layout(Path(root), "dukemtmcreid", ("DukeMTMC-reID", "dukemtmc-reid/DukeMTMC-reID"))
