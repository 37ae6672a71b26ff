"""Frame sources: a video file, a folder of images (a MOT ``img1/``), a webcam index, or a stream URL.

``open_source(spec)`` checks the input at once (a missing file, a video with no frames or an unreachable
stream fails here with :class:`SourceError`, before any model loads) and returns a :class:`Source` that yields
BGR uint8 frames. :class:`Prefetcher` decodes ahead of inference in a background thread.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


class SourceError(ValueError):
    """The source cannot be opened or read; the message names it and says what was expected."""


@dataclass
class SourceInfo:
    """What is known about a source before reading it."""

    name: str  # short name for output folders (file stem, MOT sequence name, "webcam0", stream host)
    kind: str  # "video", "images", "webcam" or "stream"
    fps: float | None  # frames per second; None when unknown (image folders)
    width: int
    height: int
    num_frames: int | None  # None for live sources (webcam, stream) or when the container does not say

    @property
    def is_live(self) -> bool:
        return self.kind in ("webcam", "stream")


class Source:
    """An opened source: iterate for BGR uint8 frames; ``close()`` releases it (also a context manager)."""

    info: SourceInfo
    end_reason: str = ""  # why iteration stopped early (a broken stream); "" at a normal end

    def __iter__(self) -> Iterator[np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class VideoSource(Source):
    """A video file, a webcam or a network stream read with OpenCV (FFmpeg backend)."""

    def __init__(self, spec, kind: str, name: str, timeout_s: float = 10.0):
        self._spec = spec
        if kind == "stream":
            ms = int(timeout_s * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
            cap = cv2.VideoCapture(spec, cv2.CAP_FFMPEG, params)
        else:
            cap = cv2.VideoCapture(spec)
        what = {"video": "video file", "webcam": "webcam", "stream": "stream"}[kind]
        if not cap.isOpened():
            cap.release()
            hint = {
                "video": "the file is not a video OpenCV/FFmpeg can decode",
                "webcam": "no camera with that index (check the index, permissions, or that no other program holds it)",
                "stream": f"unreachable or not a video stream within {timeout_s:g} s (check the URL, credentials and network)",
            }[kind]
            raise SourceError(f"cannot open {what} {spec!r}: {hint}")
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            if kind == "video":
                raise SourceError(f"video file {spec!r} has no readable frames (empty or corrupt)")
            raise SourceError(f"{what} {spec!r} opened but delivered no frame")
        self._cap = cap
        self._first: np.ndarray | None = first
        fps = cap.get(cv2.CAP_PROP_FPS)
        # a stream URL may name a finite file (an .mp4 over HTTP): FFmpeg then knows its length
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if kind in ("video", "stream") else 0
        self.info = SourceInfo(
            name=name,
            kind=kind,
            fps=float(fps) if fps and 0 < fps < 1000 else None,
            width=int(first.shape[1]),
            height=int(first.shape[0]),
            num_frames=count if count > 0 else None,
        )

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._first is not None:
            first, self._first = self._first, None
            yield _as_bgr(first)
        n = 1
        while self._cap is not None:
            ok, frame = self._cap.read()
            if not ok or frame is None:
                if self.info.is_live and not self.info.num_frames:
                    self.end_reason = f"{self.info.kind} {self._spec!r} stopped delivering frames after {n}"
                elif self.info.num_frames and n < self.info.num_frames - 1:
                    # containers often overstate the count by one; more than that means a damaged file
                    self.end_reason = f"video ended after {n} of {self.info.num_frames} frames (damaged file?)"
                return
            n += 1
            yield _as_bgr(frame)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageFolderSource(Source):
    """Images in a folder, read in name order (a MOT sequence folder uses its ``img1/``)."""

    def __init__(self, folder: Path, name: str):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise SourceError(
                f"folder {str(folder)!r} contains no images ({', '.join(IMAGE_SUFFIXES)}); "
                "expected a folder of frames such as a MOT sequence's img1/"
            )
        first = _imread(files[0])
        self.files = files
        self._first: np.ndarray | None = first
        self.info = SourceInfo(
            name=name, kind="images", fps=None, width=int(first.shape[1]), height=int(first.shape[0]),
            num_frames=len(files),
        )
        seqinfo = folder.parent / "seqinfo.ini" if folder.name == "img1" else None
        if seqinfo is not None and seqinfo.is_file():
            rate = _ini_value(seqinfo, "frameRate")
            if rate:
                self.info.fps = float(rate)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i, path in enumerate(self.files):
            if i == 0 and self._first is not None:
                first, self._first = self._first, None
                yield first
            else:
                yield _imread(path)


def _imread(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SourceError(f"cannot read image {str(path)!r} (unreadable or not an image)")
    return img


def _as_bgr(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


def _ini_value(path: Path, key: str) -> str | None:
    for line in path.read_text(errors="replace").splitlines():
        k, sep, v = line.partition("=")
        if sep and k.strip().lower() == key.lower():
            return v.strip()
    return None


def source_name(spec) -> str:
    """A short name for the source, used for the default output folder."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return f"webcam{int(spec)}"
    s = str(spec)
    if s.lower().startswith(STREAM_SCHEMES):
        host = s.split("://", 1)[1].split("@")[-1].split("/")[0].split(":")[0]
        return "stream-" + ("".join(c if c.isalnum() or c in "-." else "_" for c in host) or "url")
    p = Path(s)
    if p.is_dir():
        if p.name == "img1":
            return p.parent.name or "images"
        return p.name or "images"
    return p.stem or "source"


def open_source(spec, stream_timeout_s: float = 10.0) -> Source:
    """Open ``spec``: an int or digit string (webcam index), a stream URL, a folder of images, or a video file.

    A folder holding an ``img1/`` subfolder (a MOT sequence) reads that subfolder.
    Raises :class:`SourceError` with one clear sentence when the source cannot be used.
    """
    if isinstance(spec, Source):
        return spec
    if isinstance(spec, bool) or spec is None:
        raise SourceError(f"source: expected a path, URL or webcam index, got {spec!r}")
    name = source_name(spec)
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return VideoSource(int(spec), "webcam", name)
    s = str(spec)
    if s.lower().startswith(STREAM_SCHEMES):
        return VideoSource(s, "stream", name, timeout_s=stream_timeout_s)
    p = Path(s).expanduser()
    if not p.exists():
        raise SourceError(f"source {s!r} does not exist (expected a video file, an image folder, "
                          "a webcam index or a stream URL)")
    if p.is_dir():
        folder = p / "img1" if (p / "img1").is_dir() else p
        return ImageFolderSource(folder, name)
    if p.suffix.lower() in IMAGE_SUFFIXES:
        raise SourceError(f"source {s!r} is a single image; pass the folder that holds the frames")
    try:
        with open(p, "rb"):
            pass
    except OSError as exc:
        raise SourceError(f"cannot read source {s!r}: {exc.strerror or exc}") from None
    return VideoSource(str(p), "video", name)


_END = object()


class Prefetcher:
    """Decode frames ahead of inference in a background thread, through a bounded queue.

    Iterating yields ``(frame, decode_ms)``. An exception in the source is re-raised in the consumer.
    ``close()`` stops the thread promptly (it never blocks on a full queue) and is safe to call twice.
    ``on_exit`` (e.g. the source's ``close``) runs in the decode thread when it ends, so a capture is never
    released while a read that may block (a stalled stream) is still inside it.
    """

    def __init__(self, frames, maxsize: int = 8, on_exit=None, name: str = "trackreid-decode"):
        self._it = iter(frames)
        self._on_exit = on_exit
        self._q: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    frame = next(self._it)
                except StopIteration:
                    break
                if not self._put((frame, (time.perf_counter() - t0) * 1e3)):
                    return
        except BaseException as exc:  # handed to the consumer, re-raised there
            self._put(exc)
            return
        finally:
            if self._on_exit is not None:
                self._on_exit()
        self._put(_END)

    def __iter__(self):
        while True:
            try:
                item = self._q.get(timeout=0.05)
            except queue.Empty:
                if self._stop.is_set():  # closed: a consumer in another thread (a chained stage) ends too
                    return
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    END = _END
    """What :meth:`poll` returns once the source is finished."""

    def poll(self):
        """The next ``(frame, decode_ms)`` without waiting: None when none is decoded yet, :attr:`END` when the
        source is finished. An error of the source is raised here."""
        try:
            item = self._q.get_nowait()
        except queue.Empty:
            return _END if self._stop.is_set() else None
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
