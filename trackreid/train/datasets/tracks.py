"""Crops saved by the tracker (``trackreid --save-crops N``) as a ReID dataset: ``--data tracks --root RUN[,RUN2...]``.

Each run folder holds ``crops/PPPP_cCs1_FFFFFF_00.jpg`` (track identity, camera = source index + 1, frame).
An identity is ``(run folder, track id)``: ids of different runs are different people as far as we can know.

Split (deterministic, no identity in both training and test):

* identities are ordered by a hash of ``run/id`` and the first ``test_fraction`` of those with at least two crops
  are held out for testing; every other identity trains;
* of each held-out identity, one crop per camera (the earliest) is a query; the gallery holds its crops from the
  *other* cameras and, when it was seen by one camera only, its crops at least ``min_gap`` frames from the query
  (crops of neighbouring frames are near-duplicates and would make retrieval trivially easy); crops closer than
  that are left out of the test set. An identity left without a gallery crop gives no query (its crops stay in the
  gallery as distractors). When no held-out identity is seen by two cameras the camera ids of the test set are
  dropped, so evaluation does not apply Market-1501's same-camera rule (the frame gap replaces it).

Caveat: tracker identities are noisy labels. An identity switch puts two people under one id (a class with two
people), and a person whose track breaks becomes several classes (and, in the test set, true matches counted as
wrong). Identity memory (re-entering people keep their id) reduces the second; raising ``--save-crops``' quality
thresholds and the tracker's match thresholds reduces the first. Treat the mAP as a relative figure: before vs
after fine-tuning on the same split.
"""
from __future__ import annotations

import re
import zlib
from pathlib import Path

from .base import DatasetLayoutError, Item, ReIDDataset, list_images, relabel

CROPS_DIR = "crops"
_NAME = re.compile(r"^(\d+)_c(\d+)s\d+_(\d+)_\d+")


def run_encoder_weights(root: str | Path) -> str | None:
    """The ReID weights the run folders of ``root`` tracked with, as their ``summary.json`` names them (the first
    run that names weights that still exist), or None."""
    import json

    for run in split_roots(root):
        try:
            summary = json.loads((run / "summary.json").read_text())
        except (OSError, ValueError):
            continue
        enc = summary.get("reid") if isinstance(summary.get("reid"), dict) else {}
        for w in (enc.get("weights"), enc.get("file"), summary.get("reid_weights")):
            if not isinstance(w, str) or not w or w.lower() == "none":
                continue
            if not Path(w).suffix or (Path(w).is_file() and Path(w).suffix.lower() in (".pt", ".pth", ".tar")):
                return w  # a known name, or a checkpoint file (an export cannot be fine-tuned)
    return None


def split_roots(root: str | Path) -> list[Path]:
    """``"RUN1,RUN2"`` -> [Path(RUN1), Path(RUN2)] (paths with ``~`` expanded)."""
    parts = [p.strip() for p in str(root).split(",") if p.strip()]
    if not parts:
        raise DatasetLayoutError("tracks: --root needs one or more run folders, separated by commas")
    return [Path(p).expanduser() for p in parts]


def read_run_crops(run: Path) -> list[tuple[str, int, int, int]]:
    """``(path, track id, camera 0-based, frame)`` of every crop of a run folder; one-line errors otherwise."""
    if not run.is_dir():
        raise DatasetLayoutError(f"tracks: run folder {run} does not exist")
    folder = run / CROPS_DIR
    files = list_images(folder) if folder.is_dir() else []
    if not files:
        raise DatasetLayoutError(f"tracks: run folder {run} holds no crops (expected {folder}/PPPP_cCs1_FFFFFF_00.jpg "
                                 "files; run `trackreid SOURCE --output DIR --save-crops N` to write them)")
    out = []
    for f in files:
        m = _NAME.match(f.name)
        if m:
            out.append((str(f), int(m.group(1)), int(m.group(2)) - 1, int(m.group(3))))
    if not out:
        raise DatasetLayoutError(f"tracks: no file in {folder} is named like a saved crop 'PPPP_cCs1_FFFFFF_00.jpg' "
                                 f"(first file: {files[0].name})")
    return out


def tracks_dataset(root: str | Path, test_fraction: float = 0.3, min_gap: int = 30, seed: int = 0) -> ReIDDataset:
    """The crops of one or more run folders (``root``: comma-separated), split as the module docstring says."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"tracks: test_fraction must be in (0, 1), got {test_fraction}")
    runs = split_roots(root)
    crops: dict[tuple[int, int], list[tuple[str, int, int]]] = {}  # (run, id) -> [(path, cam, frame)]
    cam_index: dict[tuple[int, int], int] = {}  # (run, camera) -> global camera id
    for r, run in enumerate(runs):
        for path, pid, cam, frame in read_run_crops(run):
            gcam = cam_index.setdefault((r, cam), len(cam_index))
            crops.setdefault((r, pid), []).append((path, gcam, frame))
    names = {key: f"{runs[key[0]].resolve()}/{key[1]}" for key in crops}
    order = sorted(crops, key=lambda k: (zlib.crc32(f"{seed}:{names[k]}".encode()), names[k]))
    label = {key: i for i, key in enumerate(sorted(crops))}
    eligible = [k for k in order if len(crops[k]) >= 2]
    n_test = int(round(len(eligible) * test_fraction))
    test = set(eligible[:n_test])
    train: list[Item] = []
    query: list[Item] = []
    gallery: list[Item] = []
    multi_cam = False
    for key in sorted(crops):
        items = sorted(crops[key], key=lambda t: t[2])
        pid = label[key]
        if key not in test:
            train += [(p, pid, cam) for p, cam, _ in items]
            continue
        cams = sorted({cam for _, cam, _ in items})
        q_items = [next(t for t in items if t[1] == cam) for cam in cams]
        g_items = [t for t in items if t not in q_items
                   and all(t[1] != q[1] or abs(t[2] - q[2]) >= min_gap for q in q_items)]
        if not g_items:  # no far-enough crop: the identity cannot be queried; its crops are distractors
            gallery += [(p, pid, cam) for p, cam, _ in items]
            continue
        multi_cam = multi_cam or len(cams) > 1
        query += [(p, pid, cam) for p, cam, _ in q_items]
        gallery += [(p, pid, cam) for p, cam, _ in g_items]
    where = ", ".join(str(r) for r in runs)
    if len({p for _, p, _ in train}) < 2:
        raise DatasetLayoutError(f"tracks: {where} gives {len({p for _, p, _ in train})} training identities; a "
                                 "classifier needs at least 2 (track a longer video or several, or lower "
                                 "test_fraction)")
    if not query:
        raise DatasetLayoutError(f"tracks: {where}: no held-out identity has two crops {min_gap} frames or more "
                                 "apart (or from two cameras), so there is nothing to evaluate; save more crops per "
                                 "identity (--save-crops N) or track a longer video")
    if not multi_cam:
        query = [(path, p, -1) for path, p, _ in query]
        gallery = [(path, p, -1) for path, p, _ in gallery]
    return ReIDDataset("tracks", runs[0], relabel(train), query, gallery)
