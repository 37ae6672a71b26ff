"""ReID datasets by name: ``build_dataset("market1501", root)``; flat evaluation folders take name options:
``build_dataset("flat", root, name_pattern=REGEX, camera_rule="cam//5")`` (see :mod:`.flat`)."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

from .base import DatasetLayoutError, Item, ReIDDataset
from .cuhk03 import cuhk03
from .flat import DEFAULT_PATTERN, FlatDataset, cuhk03_flat, flat_dataset, parse_camera_rule
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
    "flat": flat_dataset,  # evaluation only: IIII_KK.jpg files in one folder, camera rule `cam`
    "cuhk03_flat": cuhk03_flat,  # the same with CUHK03's cell layout, camera rule `cam//5` (shared cuhk03-val)
}
FLAT_DATASETS = ("flat", "cuhk03_flat")  #: the names that accept ``name_pattern`` / ``camera_rule``


def build_dataset(name: str, root: str | Path, *, name_pattern: str | None = None,
                  camera_rule: str | None = None) -> ReIDDataset:
    """Load dataset ``name`` from ``root``; raises :class:`DatasetLayoutError` saying what was expected where.

    ``name_pattern`` / ``camera_rule`` (None or "": the dataset's own) apply to the flat datasets only.
    """
    key = name.lower().replace("-", "").replace(" ", "")
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(sorted(DATASETS))}")
    if root is None or str(root) == "":
        raise ValueError(f"dataset {name!r} needs --root DIR (the folder that holds it)")
    options = {k: v for k, v in (("pattern", name_pattern), ("camera_rule", camera_rule)) if v}
    if options and key not in FLAT_DATASETS:
        given = " and ".join(flag for flag, v in (("--name-pattern", name_pattern), ("--camera-rule", camera_rule))
                             if v)
        raise ValueError(f"{given}: only for --data {' or '.join(FLAT_DATASETS)}, not {name!r}")
    return DATASETS[key](Path(root).expanduser(), **options)


__all__ = ["DATASETS", "DEFAULT_PATTERN", "FLAT_DATASETS", "DatasetLayoutError", "FlatDataset", "Item", "ReIDDataset",
           "build_dataset", "camera_from_name", "cuhk03", "cuhk03_flat", "dukemtmc", "flat_dataset", "folder_dataset",
           "market1501", "msmt17", "parse_camera_rule", "tracks_dataset"]
