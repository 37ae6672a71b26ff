"""Frame sources: a video file, a folder of images (a MOT ``img1/``), a webcam index, or a stream URL.

``open_source(spec)`` checks the input at once (a missing file, a video with no frames or an unreachable
stream fails here with :class:`SourceError`, before any model loads) and returns a :class:`Source` that yields
BGR uint8 frames. :class:`Prefetcher` decodes ahead of inference in a background thread.

Live sources (webcams, streams) that stop delivering frames reconnect with a bounded exponential backoff
(:class:`Reconnect`); each interruption is an :class:`Outage` in the source's :class:`OutageLog` (bounded: counts and
the most recent ones), logged when it starts and ends. Files and folders end at their end.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import queue
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


log = logging.getLogger(__name__)


class SourceError(ValueError):
    """The source cannot be opened or read; the message names it and says what was expected."""


def quiet_native_logs() -> None:
    """Silence OpenCV's and FFmpeg's own log lines (``moov atom not found``, ``Connection refused``...): every
    failure they report reaches the user as one clear :class:`SourceError` or outage line instead. Must run before
    the first capture is opened (FFmpeg reads its level once); a level the user set in the environment is kept."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # pragma: no cover - an OpenCV build without cv2.utils.logging
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")


@dataclass(frozen=True)
class Reconnect:
    """How a live source (webcam, stream) comes back after it stops delivering frames: attempts to reopen it
    wait ``first_delay_s``, then twice as long each time, never longer than ``max_delay_s``."""

    attempts: int | None = None
    """Reopening attempts per outage before the source ends (None: keep trying for as long as the run lasts;
    0: end at the first failure)."""
    first_delay_s: float = 0.5
    """Wait before the first attempt."""
    max_delay_s: float = 30.0
    """Longest wait between two attempts."""

    def __post_init__(self) -> None:
        if self.attempts is not None and (isinstance(self.attempts, bool) or int(self.attempts) < 0):
            raise ValueError(f"reconnect attempts: expected a number >= 0 (or None: unlimited), got {self.attempts}")
        if not 0 < float(self.first_delay_s) <= float(self.max_delay_s):
            raise ValueError(f"reconnect delays: expected 0 < first ({self.first_delay_s}) <= max "
                             f"({self.max_delay_s}) seconds")

    @classmethod
    def of(cls, value) -> "Reconnect":
        """A :class:`Reconnect` from ``TrackingOptions.reconnect``: one as is, a number of attempts, or None
        (the defaults)."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"reconnect: expected a Reconnect, a number of attempts or None, got {value!r}")
        return cls(attempts=int(value))

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (1-based)."""
        return min(float(self.max_delay_s), float(self.first_delay_s) * 2.0 ** min(int(attempt) - 1, 60))


@dataclass
class Outage:
    """One interruption of a live source."""

    after_frame: int  # frames delivered before it: the index of the first frame after it
    started_at: str  # when the last frame before it arrived (ISO 8601, UTC)
    down_s: float  # seconds without frames: from the last frame before to the first one after (or to giving up)
    attempts: int  # reopening attempts made
    recovered: bool  # False: the source gave up (attempts exhausted) or the run stopped meanwhile


class OutageLog:
    """The outages of one source, bounded on an endless run: totals plus the ``RECENT`` most recent outages.
    Written by the decode thread, read by the run (:meth:`take`, :meth:`summary`)."""

    RECENT = 20
    """Outages listed one by one in the summary (the most recent); older ones are only counted."""

    def __init__(self):
        self.count = 0
        self.down_s = 0.0
        self.longest_s = 0.0
        self.recent: deque[Outage] = deque(maxlen=self.RECENT)
        self._taken = 0
        self._lock = threading.Lock()

    def add(self, outage: Outage) -> None:
        with self._lock:
            self.count += 1
            self.down_s += outage.down_s
            self.longest_s = max(self.longest_s, outage.down_s)
            self.recent.append(outage)

    def take(self, index: int) -> list[Outage]:
        """The outages before frame ``index`` not taken yet (the run applies each once, at the frame after it)."""
        with self._lock:
            fresh = list(self.recent)[len(self.recent) - min(self.count - self._taken, len(self.recent)):]
            due = [o for o in fresh if o.after_frame <= index]
            self._taken += len(due)
            return due

    def summary(self) -> dict:
        """What ``summary.json`` reports under ``outages``."""
        with self._lock:
            return {"count": self.count, "down_s": round(self.down_s, 3), "longest_s": round(self.longest_s, 3),
                    "recent": [{**asdict(o), "down_s": round(o.down_s, 3)} for o in self.recent]}


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
    end_note: str = ""  # what is worth knowing about a normal end (a file shorter than its header said)
    outages: "OutageLog | None" = None  # a live source's interruptions (None: not live)

    def __iter__(self) -> Iterator[np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError

    def interrupt(self) -> None:
        """Stop waiting to reconnect (any thread may call it; the iteration then ends)."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _utc(t_wall: float) -> str:
    return _dt.datetime.fromtimestamp(t_wall, _dt.timezone.utc).isoformat(timespec="seconds")


class VideoSource(Source):
    """A video file, a webcam or a network stream read with OpenCV (FFmpeg backend). A live one reconnects after a
    failure as ``reconnect`` says (see :class:`Reconnect`)."""

    FILE_RETRIES = 2
    """A video file whose read fails early is read on this many more times: a damaged frame is skipped (and
    reported), a file that simply ends stops cleanly."""

    def __init__(self, spec, kind: str, name: str, timeout_s: float = 10.0, reconnect: Reconnect | None = None):
        self._spec, self._kind, self._timeout_s = spec, kind, float(timeout_s)
        self.reconnect = reconnect if reconnect is not None else Reconnect()
        self._stop = threading.Event()
        cap = self._open_capture()
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
        if self._endless:
            self.outages = OutageLog()

    @property
    def _endless(self) -> bool:
        """A live source of unknown length: one whose failure is an outage, not the end."""
        return self.info.is_live and not self.info.num_frames

    def _open_capture(self):
        if self._kind == "stream":
            ms = int(self._timeout_s * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
            return cv2.VideoCapture(self._spec, cv2.CAP_FFMPEG, params)
        return cv2.VideoCapture(self._spec)

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._first is not None:
            first, self._first = self._first, None
            yield _as_bgr(first)
        n, skipped = 1, 0
        last = time.monotonic(), time.time()  # when the last frame arrived (monotonic, wall clock)
        while self._cap is not None:
            ok, frame = self._cap.read()
            if ok and frame is not None:
                n += 1
                last = time.monotonic(), time.time()
                yield _as_bgr(frame)
                continue
            if self._endless:
                frame = self._reconnect(n, last)
                if frame is None:
                    return
                n += 1
                last = time.monotonic(), time.time()
                yield _as_bgr(frame)
                continue
            if self.info.num_frames and n < self.info.num_frames - 1:
                # containers often overstate the count; a read that fails mid-file may be one damaged frame
                frame = self._read_on()
                if frame is not None:
                    skipped += 1
                    n += 1
                    yield _as_bgr(frame)
                    continue
                if skipped:
                    self.end_reason = (f"video ended after {n} of {self.info.num_frames} frames; {skipped} "
                                       "frame(s) could not be decoded (damaged file?)")
                else:
                    self.end_note = (f"video ended after {n} frames although its header announced "
                                     f"{self.info.num_frames}; decoding stopped cleanly, so that is taken as its "
                                     "length")
            elif skipped:
                self.end_reason = f"{skipped} frame(s) of the video could not be decoded and were skipped (damaged file?)"
            return

    def _read_on(self) -> np.ndarray | None:
        """After a failed read in a file: the next frame that decodes within ``FILE_RETRIES`` reads, else None."""
        for _ in range(self.FILE_RETRIES):
            ok, frame = self._cap.read()
            if ok and frame is not None:
                return frame
        return None

    def _reconnect(self, n: int, last: tuple[float, float]) -> np.ndarray | None:
        """The source stopped after ``n`` frames: reopen it with backoff until a frame comes (returned, the outage
        logged) or the attempts run out or the run stops (None; ``end_reason`` says why)."""
        policy, name = self.reconnect, self.info.name
        self._cap.release()
        limit = policy.attempts
        if limit == 0:
            self.end_reason = f"{self.info.kind} {name!r} stopped delivering frames after {n} (reconnecting is off)"
            self._cap = None
            return None
        log.warning("%s: no frame after frame %d; reconnecting (%s, at most %g s apart)", name, n,
                    "without limit" if limit is None else f"up to {limit} attempts", policy.max_delay_s)
        attempt = 0
        frame = None
        while limit is None or attempt < limit:
            attempt += 1
            if self._stop.wait(policy.delay(attempt)):
                break
            cap = self._open_capture()
            ok, frame = cap.read() if cap.isOpened() else (False, None)
            if ok and frame is not None:
                self._cap = cap
                break
            cap.release()
            frame = None
        down = time.monotonic() - last[0]
        self.outages.add(Outage(n, _utc(last[1]), down, attempt, frame is not None))
        if frame is None:
            self._cap = None
            why = "the run stopped" if self._stop.is_set() else f"{attempt} reconnection attempts failed"
            self.end_reason = (f"{self.info.kind} {name!r} stopped delivering frames after {n}; {why} "
                               f"({down:.1f} s without frames)")
            return None
        log.warning("%s: back after %.1f s without frames (%d attempt%s); outage %d of this run", name, down,
                    attempt, "" if attempt == 1 else "s", self.outages.count)
        return frame

    def interrupt(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
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


def open_source(spec, stream_timeout_s: float = 10.0, reconnect: Reconnect | None = None) -> Source:
    """Open ``spec``: an int or digit string (webcam index), a stream URL, a folder of images, or a video file.

    A folder holding an ``img1/`` subfolder (a MOT sequence) reads that subfolder. A webcam or stream reconnects
    after a failure as ``reconnect`` says (default :class:`Reconnect`: keep trying).
    Raises :class:`SourceError` with one clear sentence when the source cannot be used.
    """
    if isinstance(spec, Source):
        return spec
    if isinstance(spec, bool) or spec is None:
        raise SourceError(f"source: expected a path, URL or webcam index, got {spec!r}")
    name = source_name(spec)
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return VideoSource(int(spec), "webcam", name, reconnect=reconnect)
    s = str(spec)
    if s.lower().startswith(STREAM_SCHEMES):
        return VideoSource(s, "stream", name, timeout_s=stream_timeout_s, reconnect=reconnect)
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
    released while a read that may block (a stalled stream) is still inside it. A :class:`Source` is interrupted
    by ``close()`` (in the caller's thread), so a source waiting to reconnect gives up at once.
    """

    def __init__(self, frames, maxsize: int = 8, on_exit=None, name: str = "trackreid-decode"):
        self._interrupt = frames.interrupt if isinstance(frames, Source) else None
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
        if self._interrupt is not None:
            self._interrupt()
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
