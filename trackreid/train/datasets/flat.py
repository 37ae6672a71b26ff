"""An evaluation set stored as one flat folder of crops whose names carry the identity and the camera.

Layout: every image directly inside ``root``, or inside ``root/images/`` when ``root`` itself holds no image.
Each file name is searched (``re.search``, on the whole name with its extension) with a regular expression whose
named groups ``pid`` and ``cam`` must both read as decimal integers; the default, :data:`DEFAULT_PATTERN`, reads
``IIII_KK.jpg`` (``0012_07.jpg``: identity 12, ``cam`` 7). A file the pattern does not fit is an error, never
silently skipped. Other files (no image suffix) and sub-folders are ignored.

The camera id is a *camera rule* applied to the integer ``cam``; the accepted forms (whitespace ignored) are

* ``cam``     -- ``cam`` as it is;
* ``cam//N``  -- integer division by N >= 1: CUHK03's cell layout (``KK`` 00-04 one camera, 05-09 the other) is
  ``cam//5``;
* ``cam-N``   -- minus N >= 0, e.g. ``cam-1`` for 1-based camera numbers.

Camera ids must come out >= 0.

Every identity is held out (the train list is empty: this is an evaluation set, ``--eval-only``). The protocol is
the cross-camera one of Market-1501's evaluation: per identity, the first image (by file name) of its lowest
camera id is the query, and its images of every other camera are the gallery; its other images of the query's
camera are not used. Identities seen by one camera only cannot be matched across cameras and are skipped; their
count is in :meth:`FlatDataset.summary`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .base import DatasetLayoutError, Item, ReIDDataset, list_images

DEFAULT_PATTERN = r"^(?P<pid>\d+)_(?P<cam>\d+)"  #: ``IIII_KK.jpg``
RULE_FORMS = "cam, cam//N (integer division, N >= 1) or cam-N (N >= 0)"
_RULE = re.compile(r"cam(?:(//|-)(\d+))?")


@dataclass
class FlatDataset(ReIDDataset):
    """A :class:`ReIDDataset` (train empty) that remembers how its names were read and what it skipped."""

    pattern: str = DEFAULT_PATTERN
    camera_rule: str = "cam"
    skipped_identities: int = 0  #: identities seen by one camera only (no cross-camera match possible)

    def summary(self) -> str:
        return (super().summary() + f"\n  names '{self.pattern}', camera rule '{self.camera_rule}'; "
                f"{self.skipped_identities} identities seen by one camera only skipped")


def parse_camera_rule(rule: str) -> Callable[[int], int]:
    """The function ``cam -> camera id`` that ``rule`` (``cam``, ``cam//N`` or ``cam-N``) denotes."""
    m = _RULE.fullmatch("".join(str(rule).split()))
    if m is None:
        raise ValueError(f"camera rule {rule!r}: expected {RULE_FORMS}")
    op, n = m.group(1), int(m.group(2) or 0)
    if op == "//":
        if n < 1:
            raise ValueError(f"camera rule {rule!r}: N of cam//N must be >= 1")
        return lambda cam: cam // n
    if op == "-":
        return lambda cam: cam - n
    return lambda cam: cam


def compile_name_pattern(pattern: str) -> re.Pattern:
    """``pattern`` compiled; a ValueError unless it is a valid regex with the named groups ``pid`` and ``cam``."""
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise ValueError(f"name pattern '{pattern}' is not a valid regular expression ({e})") from None
    missing = [g for g in ("pid", "cam") if g not in rx.groupindex]
    if missing:
        raise ValueError(f"name pattern '{pattern}' lacks the named group(s) {', '.join(missing)}; write them as "
                         f"(?P<pid>...) and (?P<cam>...), e.g. the default '{DEFAULT_PATTERN}'")
    return rx


def _image_folder(root: Path, dataset: str) -> Path:
    if not root.is_dir():
        raise DatasetLayoutError(f"{dataset}: dataset folder {root} does not exist")
    if not list_images(root) and (root / "images").is_dir():
        return root / "images"
    return root


def read_flat_folder(folder: Path, rx: re.Pattern, cam_of: Callable[[int], int], dataset: str,
                     pattern: str, rule: str) -> list[Item]:
    """``(path, pid, camera id)`` of every image in ``folder``, sorted by name; any unreadable name is an error."""
    items: list[Item] = []
    for f in list_images(folder):
        m = rx.search(f.name)
        try:
            pid, cam = int(m.group("pid")), int(m.group("cam"))  # type: ignore[union-attr]
        except (AttributeError, TypeError, ValueError):  # no match, a group that did not take part, not a number
            hint = "name files IIII_KK.jpg or pass" if pattern == DEFAULT_PATTERN else "rename it or pass another"
            raise DatasetLayoutError(
                f"{dataset}: cannot read identity and camera from {f.name!r} with pattern '{pattern}'; "
                f"{hint} --name-pattern REGEX with groups pid and cam (both integers)") from None
        camid = cam_of(cam)
        if camid < 0:
            raise DatasetLayoutError(f"{dataset}: camera rule {rule!r} gives camera {camid} for {f.name!r} "
                                     f"(cam {cam}); camera ids must be >= 0, pass another --camera-rule "
                                     f"({RULE_FORMS})")
        items.append((str(f), pid, camid))
    return items


def flat_dataset(root: str | Path, pattern: str = DEFAULT_PATTERN, camera_rule: str = "cam",
                 name: str = "flat") -> FlatDataset:
    """Load a flat evaluation folder (see the module docstring for the names, camera rules and protocol)."""
    pattern = pattern or DEFAULT_PATTERN
    camera_rule = camera_rule or "cam"
    rx = compile_name_pattern(pattern)
    cam_of = parse_camera_rule(camera_rule)
    folder = _image_folder(Path(root), name)
    items = read_flat_folder(folder, rx, cam_of, name, pattern, camera_rule)
    if not items:
        raise DatasetLayoutError(f"{name}: {folder} holds no images (expected files such as 0001_00.jpg directly "
                                 "inside it or inside its images/ folder)")
    by_pid: dict[int, list[Item]] = {}
    for item in items:  # already sorted by file name
        by_pid.setdefault(item[1], []).append(item)
    if len(by_pid) < 2:
        raise DatasetLayoutError(f"{name}: {folder} holds {len(by_pid)} identity; an evaluation needs at least 2")
    query: list[Item] = []
    gallery: list[Item] = []
    skipped = 0
    for pid in sorted(by_pid):
        group = by_pid[pid]
        first_cam = min(cam for _, _, cam in group)
        others = [it for it in group if it[2] != first_cam]
        if not others:
            skipped += 1
            continue
        query.append(next(it for it in group if it[2] == first_cam))
        gallery.extend(others)
    if len(query) < 2:
        raise DatasetLayoutError(
            f"{name}: only {len(query)} of the {len(by_pid)} identities in {folder} are seen by two cameras under "
            f"camera rule {camera_rule!r}; an evaluation needs at least 2 (is the rule right? CUHK03's cell "
            "layout is cam//5)")
    return FlatDataset(name, folder, [], query, gallery, pattern=pattern, camera_rule=camera_rule,
                       skipped_identities=skipped)


def cuhk03_flat(root: str | Path, pattern: str = DEFAULT_PATTERN, camera_rule: str = "cam//5") -> FlatDataset:
    """CUHK03 crops in the original cell layout as flat files ``IIII_KK.jpg`` (``KK`` 00-04 one camera, 05-09 the
    other, hence the rule ``cam//5``), e.g. the shared ``cuhk03-val`` set."""
    return flat_dataset(root, pattern, camera_rule, name="cuhk03_flat")
