"""CUHK03 under the new (767 training / 700 test identities) protocol, labeled or detected boxes.

Accepted layouts under ``root`` (first match wins):

1. Market-style conversion (e.g. CUHK03-NP): ``[cuhk03-np/]{labeled|detected}/{bounding_box_train,query,bounding_box_test}``;
2. official release: ``cuhk03_new_protocol_config_{labeled|detected}.mat`` plus the images, either already extracted
   to ``images_{labeled|detected}/`` (names ``C_PPP_V_II.png``) or inside ``cuhk03_release/cuhk-03.mat``, which is
   extracted once into ``images_{labeled|detected}/`` (needs ``h5py``: the file is MATLAB v7.3).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import DatasetLayoutError, Item, ReIDDataset, relabel
from .market1501 import load_market_layout


def _extract_images(mat_path: Path, kind: str, out_dir: Path) -> None:
    """Write every image of ``kind`` ('labeled' or 'detected') from the official HDF5 ``cuhk-03.mat``."""
    try:
        import h5py
    except ImportError:
        raise DatasetLayoutError(f"cuhk03: {mat_path} must be extracted first and reading it needs h5py "
                                 "(pip install h5py), or provide images_{kind}/ or a Market-style layout") from None
    import cv2

    tmp = out_dir.with_name(out_dir.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    with h5py.File(mat_path, "r") as mat:
        for campid, campair_ref in enumerate(mat[kind][0]):
            # MATLAB v7.3 stores arrays transposed: (10 images, persons) on disk is the (persons, 10) cell array
            campair = mat[campair_ref][:].T
            for pid in range(campair.shape[0]):
                for imgid, ref in enumerate(campair[pid]):
                    img = mat[ref][:].T
                    if img.size == 0 or img.ndim < 3:
                        continue
                    view = 1 if imgid < 5 else 2
                    name = f"{campid + 1}_{pid + 1:03d}_{view}_{imgid + 1:02d}.png"
                    cv2.imwrite(str(tmp / name), np.ascontiguousarray(img[:, :, ::-1]))
    tmp.rename(out_dir)


def _protocol_split(root: Path, kind: str) -> ReIDDataset:
    from scipy.io import loadmat

    cfg_path = root / f"cuhk03_new_protocol_config_{kind}.mat"
    cfg = loadmat(str(cfg_path))
    absent = [k for k in ("filelist", "labels", "camId", "train_idx", "query_idx", "gallery_idx") if k not in cfg]
    if absent:
        raise DatasetLayoutError(f"cuhk03: {cfg_path} lacks {', '.join(absent)}; expected the new-protocol "
                                 "configuration file of the CUHK03-NP release")
    img_dir = root / f"images_{kind}"
    if not img_dir.is_dir():
        raw = root / "cuhk03_release" / "cuhk-03.mat"
        if not raw.is_file():
            raise DatasetLayoutError(f"cuhk03: found the protocol file in {root} but neither {img_dir} nor {raw}")
        _extract_images(raw, kind, img_dir)
    files = [str(np.asarray(f).ravel()[0]) for f in cfg["filelist"].ravel()]
    labels = cfg["labels"].ravel().astype(int)
    cams = cfg["camId"].ravel().astype(int) - 1

    def take(key: str) -> list[Item]:
        idx = cfg[key].ravel().astype(int) - 1  # MATLAB indices are 1-based
        return [(str(img_dir / files[i]), int(labels[i]), int(cams[i])) for i in idx]

    train, query, gallery = take("train_idx"), take("query_idx"), take("gallery_idx")
    missing = [p for p, _, _ in train + query + gallery if not Path(p).is_file()]
    if missing:
        raise DatasetLayoutError(f"cuhk03: {len(missing)} image(s) listed by {cfg_path.name} are missing from "
                                 f"{img_dir}, e.g. {Path(missing[0]).name}")
    return ReIDDataset(f"cuhk03_{kind}", root, relabel(train), query, gallery)


def cuhk03(root: str | Path, kind: str = "labeled") -> ReIDDataset:
    if kind not in ("labeled", "detected"):
        raise ValueError(f"cuhk03: kind must be 'labeled' or 'detected', got {kind!r}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"cuhk03: dataset folder {root} does not exist")
    for base in (root, root / "cuhk03"):
        if (base / f"cuhk03_new_protocol_config_{kind}.mat").is_file():
            return _protocol_split(base, kind)
    for base in (root / kind, root / "cuhk03-np" / kind, root / "cuhk03" / kind):
        if (base / "bounding_box_train").is_dir():
            return load_market_layout(base, f"cuhk03_{kind}")
    raise DatasetLayoutError(
        f"cuhk03: expected cuhk03_new_protocol_config_{kind}.mat (with images_{kind}/ or cuhk03_release/cuhk-03.mat) "
        f"in {root}, or a Market-style conversion in {root / kind} or {root / 'cuhk03-np' / kind}")
