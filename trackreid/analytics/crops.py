"""A bounded bank of the best crops of each identity, written in the Market-1501 layout for fine-tuning.

``bank.add(frame_bgr, tracks, frame_no)`` once per frame, ``bank.close()`` at the end. Files go to
``RUN/crops/PPPP_cCs1_FFFFFF_00.jpg`` (identity, camera = source index + 1, frame number), the names
``trackreid-train --data tracks`` reads.

Which crops: a box is a candidate when it is at least ``min_height`` pixels tall, at least ``min_gap`` frames after
the identity's previous candidate (neighbouring frames are near-duplicates) and covered less than
``max_occlusion`` by a box in front of it. Its quality is
``log(1 + sharpness) * min(1, height / ref_height) * (1 - covered) * inside``: sharpness is the variance of the
Laplacian of the crop resized to 128x64 (blur and motion smear lower it), ``covered`` the largest fraction of the
box hidden by one box in front of it, ``inside`` the fraction of the box inside the image. Each identity keeps its
``per_identity`` best crops (JPEG bytes in memory).

Bounds on an endless stream: an identity unseen for ``flush_after`` frames has its crops written and freed, and
beyond ``max_active`` identities in memory the least recently seen is flushed early; a flushed identity that
comes back is merged on its next flush so it never has more than ``per_identity`` files. On disk at most
``max_identities`` identities are kept: beyond it the identity flushed longest ago has its files deleted.
"""
from __future__ import annotations

import contextlib
import heapq
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from trackreid.io.atomic import write_bytes_atomic
from trackreid.tracking.matching import covered_fraction

from .identities import IdentityTable

CROPS_DIR = "crops"


@dataclass
class CropConfig:
    per_identity: int = 8  #: N: crops kept per identity
    min_height: int = 64  #: boxes shorter than this (pixels) are not kept
    min_gap: int = 5  #: frames between two candidate crops of one identity
    max_occlusion: float = 0.5  #: boxes covered more than this by a box in front are not kept
    ref_height: int = 256  #: height (pixels) at and above which size stops improving a crop's quality
    flush_after: int = 90  #: frames unseen after which an identity's crops are written and freed
    max_active: int = 256  #: identities held in memory at once
    max_identities: int = 5000  #: identities kept on disk
    jpeg_quality: int = 92  #: JPEG quality of the files

    def __post_init__(self) -> None:
        for name in ("per_identity", "min_height", "min_gap", "ref_height", "flush_after", "max_active",
                     "max_identities"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"CropConfig.{name}: expected a positive integer, got {v!r}")
        if not 0 < self.max_occlusion <= 1:
            raise ValueError(f"CropConfig.max_occlusion: expected a fraction in (0, 1], got {self.max_occlusion}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"CropConfig.jpeg_quality: expected 1..100, got {self.jpeg_quality}")


def sharpness(crop_bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the crop in grey, resized to 128x64 (comparable across box sizes)."""
    g = cv2.cvtColor(cv2.resize(crop_bgr, (64, 128), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(g, cv2.CV_64F).var())


def crop_name(pid: int, camera: int, frame: int) -> str:
    """Market-1501 file name: ``0007_c1s1_000123_00.jpg`` (camera is the 0-based source index)."""
    return f"{int(pid):04d}_c{int(camera) + 1}s1_{int(frame):06d}_00.jpg"


class CropBank:
    """Best crops per identity of one source (``camera`` = its 0-based index) under ``run_dir/crops``.

    ``final_ids``: ``ids -> ids_final`` (:class:`~trackreid.tracking.id_log.IdLog`); crops are held under the IDs
    given to :meth:`add` and filed, when written, under the ID each ends up with (a young track that turned out to
    be a remembered person adds its crops to that person's)."""

    def __init__(self, run_dir: str | Path, config: CropConfig | None = None, camera: int = 0, final_ids=None):
        if not isinstance(camera, (int, np.integer)) or camera < 0:
            raise ValueError(f"crops: camera must be the source index (an integer >= 0), got {camera!r}")
        self.config = config or CropConfig()
        self.camera = int(camera)
        self.final_ids = final_ids
        self.dir = Path(run_dir) / CROPS_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self._table = IdentityTable({"last_seen": (np.int64, (), 0), "last_cand": (np.int64, (), -(10 ** 9))})
        self._held: dict[int, list[tuple[float, int, bytes]]] = {}  # id -> min-heap of (quality, frame, jpeg)
        self._disk: OrderedDict[int, list[tuple[float, str]]] = OrderedDict()  # id -> [(quality, file name)]
        self.frame = 0
        self.files_written = 0
        self.files_deleted = 0
        self._closed = False

    # ............................................................................................ per frame
    def add(self, frame_bgr: np.ndarray, tracks: np.ndarray, frame_no: int) -> None:
        """Consider this frame's tracks (M, 8) as crops of their identities."""
        if self._closed:
            raise ValueError("crops: add() after close()")
        c = self.config
        self.frame = int(frame_no)
        tracks = np.asarray(tracks, dtype=np.float64).reshape(-1, 8) if np.size(tracks) else np.zeros((0, 8))
        if len(tracks):
            ids, first = np.unique(tracks[:, 4].astype(np.int64), return_index=True)
            tracks = tracks[first]
            rows, _ = self._table.rows(ids)
            self._table["last_seen"][rows] = self.frame
            boxes = tracks[:, :4]
            h_img, w_img = frame_bgr.shape[:2]
            clipped = np.stack([np.clip(boxes[:, 0], 0, w_img), np.clip(boxes[:, 1], 0, h_img),
                                np.clip(boxes[:, 2], 0, w_img), np.clip(boxes[:, 3], 0, h_img)], axis=1)
            area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-9)
            inside = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1]) / area
            covered = covered_fraction(boxes)
            height = clipped[:, 3] - clipped[:, 1]
            cand = ((height >= c.min_height) & (covered <= c.max_occlusion) & (inside > 0.5)
                    & (self.frame - self._table["last_cand"][rows] >= c.min_gap))
            self._table["last_cand"][rows[cand]] = self.frame
            prior = np.minimum(1.0, height / c.ref_height) * (1 - covered) * inside
            for j in np.nonzero(cand)[0]:  # image work per candidate (at most one per identity per min_gap)
                x1, y1, x2, y2 = np.round(clipped[j]).astype(int)
                crop = frame_bgr[y1:y2, x1:x2]
                if crop.size == 0:
                    continue
                self._offer(int(ids[j]), float(np.log1p(sharpness(crop)) * prior[j]), crop)
        self._flush_finished()

    def _offer(self, pid: int, quality: float, crop: np.ndarray) -> None:
        heap = self._held.setdefault(pid, [])
        if len(heap) >= self.config.per_identity and quality <= heap[0][0]:
            return
        ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, self.config.jpeg_quality])
        if not ok:
            raise ValueError(f"crops: could not encode a crop of identity {pid} at frame {self.frame}")
        item = (quality, self.frame, buf.tobytes())
        if len(heap) < self.config.per_identity:
            heapq.heappush(heap, item)
        else:
            heapq.heapreplace(heap, item)

    def _flush_finished(self) -> None:
        T, c = self._table, self.config
        done = T["last_seen"] < self.frame - c.flush_after
        if len(T) - int(done.sum()) > c.max_active:  # too many active: the least recently seen go early
            alive = np.nonzero(~done)[0]
            extra = alive[np.argsort(T["last_seen"][alive], kind="stable")[:len(alive) - c.max_active]]
            done[extra] = True
        rows = np.nonzero(done)[0]
        if len(rows):
            for pid in T.ids[rows].tolist():
                self._flush(pid)
            T.remove(rows)

    def _flush(self, pid: int) -> None:
        """Write identity ``pid``'s held crops, keeping its best ``per_identity`` files on disk."""
        held = self._held.pop(pid, [])
        if not held:
            return
        if self.final_ids is not None:
            final = int(np.asarray(self.final_ids(np.array([pid], np.int64))).reshape(-1)[0])
            pid = final if final >= 0 else pid
        on_disk = self._disk.pop(pid, [])
        pool = [(q, name, None) for q, name in on_disk] + [(q, crop_name(pid, self.camera, f), data)
                                                             for q, f, data in held]
        pool.sort(key=lambda t: t[0], reverse=True)
        keep, drop = pool[: self.config.per_identity], pool[self.config.per_identity:]
        for _, name, data in drop:
            if data is None:
                self._delete(name)
        for _, name, data in keep:
            if data is not None:
                write_bytes_atomic(self.dir / name, data)
                self.files_written += 1
        self._disk[pid] = [(q, name) for q, name, _ in keep]
        while len(self._disk) > self.config.max_identities:
            _, files = self._disk.popitem(last=False)
            for _, name in files:
                self._delete(name)

    def _delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.dir / name)
            self.files_deleted += 1

    # ............................................................................................ end
    def close(self) -> dict:
        """Write every identity still held; returns counts for ``summary.json``. Idempotent."""
        if not self._closed:
            self._closed = True
            for pid in list(self._held):
                self._flush(pid)
            self._table.remove(np.arange(len(self._table)))
        return self.stats()

    def stats(self) -> dict:
        return {"dir": str(self.dir), "identities": len(self._disk), "files": sum(len(v) for v in self._disk.values()),
                "held_identities": len(self._held), "held_crops": sum(len(v) for v in self._held.values()),
                "per_identity": self.config.per_identity}
