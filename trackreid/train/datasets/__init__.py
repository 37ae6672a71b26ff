"""ReID datasets by name: ``build_dataset("market1501", root)``."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

from .base import DatasetLayoutError, Item, ReIDDataset
from .cuhk03 import cuhk03
from .folder import camera_from_name, folder_dataset
from .market1501 import dukemtmc, load_market_layout, market1501
from .msmt17 import msmt17
from .tracks import tracks_dataset

DATASETS: dict[str, Callable[[Path], ReIDDataset]] = {
    "market1501": market1501,
    "market": market1501,
    "dukemtmcreid": dukemtmc,
    "dukemtmc": dukemtmc,
    "duke": dukemtmc,
    "cuhk03": partial(cuhk03, kind="labeled"),
    "cuhk03_labeled": partial(cuhk03, kind="labeled"),
    "cuhk03_detected": partial(cuhk03, kind="detected"),
    "msmt17": msmt17,
    "folder": folder_dataset,
    "market_layout": lambda root: load_market_layout(Path(root), "market_layout"),
    "tracks": tracks_dataset,  # crops saved by `trackreid --save-crops N`; root: RUN_DIR[,RUN_DIR2...]
}


def build_dataset(name: str, root: str | Path) -> ReIDDataset:
    """Load dataset ``name`` from ``root``; raises :class:`DatasetLayoutError` saying what was expected where."""
    key = name.lower().replace("-", "").replace(" ", "")
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(sorted(DATASETS))}")
    if root is None or str(root) == "":
        raise ValueError(f"dataset {name!r} needs --root DIR (the folder that holds it)")
    return DATASETS[key](Path(root).expanduser())


__all__ = ["DATASETS", "DatasetLayoutError", "Item", "ReIDDataset", "build_dataset", "camera_from_name",
           "cuhk03", "dukemtmc", "folder_dataset", "market1501", "msmt17", "tracks_dataset"]
