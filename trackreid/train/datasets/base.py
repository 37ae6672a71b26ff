"""Common container for person re-identification datasets and the helpers every layout shares.

A dataset is three lists of ``(path, pid, camid)``: ``train`` (identities relabelled to 0..C-1), ``query`` and
``gallery`` (original identities, kept for evaluation). ``camid`` is ``-1`` when a layout carries no camera ids;
evaluation then switches the same-camera rule off (see :func:`trackreid.train.engine.evaluate`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

Item = tuple[str, int, int]  # (image path, identity, camera id or -1)


class DatasetLayoutError(ValueError):
    """The folder given for a dataset is missing, empty, or laid out differently than expected."""


@dataclass
class ReIDDataset:
    """Train / query / gallery split of one ReID dataset."""

    name: str
    root: Path
    train: list[Item]
    query: list[Item]
    gallery: list[Item]
    num_train_pids: int = field(init=False)
    num_train_cams: int = field(init=False)

    def __post_init__(self) -> None:
        self.num_train_pids = len({pid for _, pid, _ in self.train})
        self.num_train_cams = len({cam for _, _, cam in self.train if cam >= 0})
        if self.train:
            pids = sorted({pid for _, pid, _ in self.train})
            if pids != list(range(len(pids))):
                raise AssertionError("training identities must be relabelled to 0..C-1")

    @property
    def has_camids(self) -> bool:
        """True when every query and gallery image has a camera id (the Market-1501 protocol applies)."""
        return all(c >= 0 for _, _, c in self.query) and all(c >= 0 for _, _, c in self.gallery)

    def summary(self) -> str:
        def row(name: str, items: list[Item]) -> str:
            pids = len({p for _, p, _ in items})
            cams = len({c for _, _, c in items if c >= 0})
            return f"  {name:<8} {pids:>6} ids {len(items):>8} images {cams:>3} cameras"

        return "\n".join([f"{self.name} at {self.root}", row("train", self.train), row("query", self.query),
                          row("gallery", self.gallery)])


def list_images(folder: Path) -> list[Path]:
    """Images directly inside ``folder``, sorted by name (deterministic order on every filesystem)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def relabel(items: list[Item]) -> list[Item]:
    """Map identities to 0..C-1 in sorted order of the original ids (stable across runs)."""
    mapping = {pid: i for i, pid in enumerate(sorted({pid for _, pid, _ in items}))}
    return [(path, mapping[pid], cam) for path, pid, cam in items]


def require_dir(path: Path, what: str, dataset: str) -> Path:
    """Raise :class:`DatasetLayoutError` naming the expected folder when ``path`` is absent or holds no images."""
    if not path.is_dir():
        raise DatasetLayoutError(f"{dataset}: expected {what} at {path}, but that folder does not exist")
    return path


_MARKET_NAME = re.compile(r"^(-?\d+)_c(\d+)")


def parse_market_folder(folder: Path, dataset: str, *, train: bool) -> list[Item]:
    """Read a Market-1501-style folder of ``PPPP_cC...`` images.

    Junk images (identity -1) are dropped, as the official protocol ignores them; distractors (identity 0) are
    kept in the gallery where they count as wrong matches, and dropped from training. Cameras become 0-based.
    """
    require_dir(folder, f"the '{folder.name}' folder of a Market-1501-style layout", dataset)
    files = list_images(folder)
    if not files:
        raise DatasetLayoutError(f"{dataset}: folder {folder} holds no images (expected PPPP_cC*.jpg files)")
    items: list[Item] = []
    unparsed = 0
    for f in files:
        m = _MARKET_NAME.match(f.name)
        if m is None:
            unparsed += 1
            continue
        pid, cam = int(m.group(1)), int(m.group(2)) - 1
        if pid == -1 or (train and pid == 0):
            continue
        items.append((str(f), pid, cam))
    if unparsed == len(files):
        raise DatasetLayoutError(
            f"{dataset}: no file in {folder} is named like Market-1501 images 'PPPP_cC...jpg' "
            f"(first file: {files[0].name}); is this a folder of another layout? Try --data folder")
    return items
