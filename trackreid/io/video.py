"""Writing annotated video, encoded in a background thread so the tracking loop does not wait for the encoder.

The container follows the file suffix: ``.mp4`` (MPEG-4 Part 2, plays everywhere) or ``.avi`` (Motion JPEG,
larger files). The writer is always closed in a ``finally`` by the pipeline, so Ctrl-C and broken streams
still leave a playable file; only a hard kill (SIGKILL, power loss) leaves an ``.mp4`` without its index,
while an ``.avi`` stays readable by FFmpeg up to its last frame.
"""
from __future__ import annotations

import queue
import threading
from pathlib import Path

import cv2
import numpy as np

FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class VideoWriter:
    """``write(frame)`` queues a BGR frame; a worker thread encodes it. ``close()`` drains and finalises.

    Frames of another size than the first are resized to it (image folders may mix sizes).
    Errors of the worker (disk full) surface on the next ``write`` or on ``close``.
    """

    def __init__(self, path, fps: float, size: tuple[int, int], queue_size: int = 16):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in FOURCC:
            raise ValueError(f"video output {str(self.path)!r}: unsupported suffix {suffix!r}; use .mp4 or .avi")
        self.size = (int(size[0]), int(size[1]))
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*FOURCC[suffix]), self.fps, self.size)
        if not self._writer.isOpened():
            raise OSError(f"cannot open video writer for {str(self.path)!r} ({FOURCC[suffix]} codec, size {self.size})")
        self.frames = 0
        self._error: BaseException | None = None
        self._q: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        self._thread = threading.Thread(target=self._run, name="trackreid-video-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            frame = self._q.get()
            if frame is None:
                return
            if self._error is not None:
                continue
            try:
                if (frame.shape[1], frame.shape[0]) != self.size:
                    frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
                self._writer.write(frame)
            except BaseException as exc:  # surfaced to the caller
                self._error = exc

    def write(self, frame: np.ndarray) -> None:
        if self._error is not None:
            raise OSError(f"writing {str(self.path)!r} failed: {self._error}")
        if self._writer is None:
            raise ValueError(f"video writer {str(self.path)!r} is closed")
        self._q.put(frame)
        self.frames += 1

    def close(self) -> None:
        if self._writer is None:
            return
        self._q.put(None)
        self._thread.join()
        self._writer.release()
        self._writer = None
        if self._error is not None:
            raise OSError(f"writing {str(self.path)!r} failed: {self._error}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def video_info(path) -> dict:
    """Frame count, fps and size of a video file, as OpenCV reports them (for checks and tests)."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ValueError(f"cannot open video {str(path)!r}")
        n = 0
        while cap.grab():
            n += 1
        return {
            "frames": n,
            "fps": float(cap.get(cv2.CAP_PROP_FPS)),
            "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        }
    finally:
        cap.release()


def display_problem() -> str | None:
    """Why frames cannot be shown in a window here, or None when they can.

    Checked before opening a window because OpenCV's Qt backend aborts the whole process (no exception) when
    there is no display to connect to.
    """
    import os
    import sys

    gui = [line.split(":", 1)[1].strip() for line in cv2.getBuildInformation().splitlines()
           if line.strip().startswith("GUI:")]
    if gui and gui[0].upper() == "NONE":
        return ("this OpenCV build has no GUI support (opencv-python-headless is installed over opencv-python); "
                "pip uninstall -y opencv-python-headless opencv-python && pip install opencv-python")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display to show frames on (DISPLAY is not set)"
    return None
