"""Run outputs, written as the run goes so an interrupted run keeps everything up to its last frame.

An output folder holds:

- ``tracks.txt``     (or ``SEQ.txt``) MOT Challenge rows ``frame,id,x,y,w,h,score,-1,-1,-1`` (1-based frames), flushed per frame
- ``tracks.jsonl``   one JSON object per frame: ``{"frame": 1, "tracks": [{"id", "box": [x1,y1,x2,y2], "score",
                     "cls", "det"}]}``, flushed per frame (frames without tracks are written too)
- ``annotated.mp4``  the frames with boxes, identity colours and trails (optional)
- ``summary.json``   frames, time, per-stage ms and fps, unique identities; written atomically at the end,
                     also after Ctrl-C or a broken stream
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from trackreid.io.atomic import json_default, write_json_atomic
from trackreid.io.draw import TrackDrawer
from trackreid.io.video import VideoWriter

MOT_NAME = "tracks.txt"
JSONL_NAME = "tracks.jsonl"
VIDEO_NAME = "annotated.mp4"
SUMMARY_NAME = "summary.json"


def next_run_dir(base, name: str, exist_ok: bool = False) -> Path:
    """``base/name``, or ``base/name-2``, ``base/name-3``... when it exists and ``exist_ok`` is False (a dash, so
    that the runs of ``people1`` are not confused with a source called ``people12``)."""
    base = Path(base)
    candidate = base / name
    if exist_ok or not candidate.exists():
        return candidate
    i = 2
    while (base / f"{name}-{i}").exists():
        i += 1
    return base / f"{name}-{i}"


def tracks_to_records(tracks: np.ndarray, global_ids: np.ndarray | None = None,
                      reentries: dict[int, int] | None = None) -> list[dict]:
    """Tracks (M, 8) as JSON-ready dicts: id, box [x1,y1,x2,y2] (2 decimals), score, cls, det index; plus
    ``global_id`` when given (multi-camera runs), ``reentered_after`` (frames away) for an identity that came
    back this frame, and ``interpolated: true`` for a box filled in over a gap (det index -1)."""
    t = np.asarray(tracks, dtype=np.float64).reshape(-1, 8)
    boxes = np.round(t[:, :4], 2).tolist()
    out = [
        {"id": int(i), "box": b, "score": round(float(s), 4), "cls": int(c), "det": int(d)}
        for b, i, s, c, d in zip(boxes, t[:, 4], t[:, 5], t[:, 6], t[:, 7])
    ]
    for r in out:
        if r["det"] < 0:
            r["interpolated"] = True
    if global_ids is not None:
        for r, g in zip(out, np.asarray(global_ids).tolist()):
            r["global_id"] = int(g)
    if reentries:
        for r in out:
            if r["id"] in reentries:
                r["reentered_after"] = int(reentries[r["id"]])
    return out


def read_jsonl(path) -> list[dict]:
    """The objects of a JSON-lines file written by :class:`JsonlWriter`; a line cut short by a hard kill (the last
    one) is skipped, so whatever was written before it can still be read."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


class JsonlWriter:
    """Appends JSON objects to ``path``, one a line, flushed after each call (readable while the run goes)."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "w", encoding="utf-8")
        self.count = 0

    def write(self, obj: dict) -> None:
        self.write_many([obj])

    def write_many(self, objs: list[dict]) -> None:
        if not objs:
            return
        self._f.write("".join(json.dumps(o, separators=(",", ":"), default=json_default) + "\n" for o in objs))
        self._f.flush()
        self.count += len(objs)

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RunOutputs:
    """All per-run files in one folder; ``write(...)`` once per frame, ``close(summary)`` once (idempotent)."""

    def __init__(self, directory, *, fps: float | None, size: tuple[int, int], save_video: bool = True,
                 class_names: dict[int, str] | None = None, trail: int = 30, video_name: str = VIDEO_NAME,
                 mot_name: str = MOT_NAME):
        from trackreid.io.mot import MotWriter  # EVAL's writer: one MOT format in the project

        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.paths = {"mot": self.dir / mot_name, "jsonl": self.dir / JSONL_NAME, "summary": self.dir / SUMMARY_NAME}
        self._closed = False
        self._mot = MotWriter(self.paths["mot"])
        self._jsonl = JsonlWriter(self.paths["jsonl"])
        self.drawer = TrackDrawer(trail=trail, class_names=class_names)
        self._video: VideoWriter | None = None
        if save_video:
            self.paths["video"] = self.dir / video_name
            self._video = VideoWriter(self.paths["video"], fps or 30.0, size)

    @property
    def wants_image(self) -> bool:
        return self._video is not None

    def write(self, frame_id: int, tracks: np.ndarray, annotated: np.ndarray | None = None, extra: dict | None = None,
              global_ids: np.ndarray | None = None, reentries: dict[int, int] | None = None):
        """Record frame ``frame_id`` (1-based): MOT rows (with the global IDs when given), a JSON line, and the
        annotated image if a video is saved."""
        tracks = np.asarray(tracks, dtype=np.float64).reshape(-1, 8)
        mot = tracks
        if global_ids is not None:
            mot = tracks.copy()
            mot[:, 4] = global_ids
        self._mot.write(int(frame_id), mot)
        record = {"frame": int(frame_id), "tracks": tracks_to_records(tracks, global_ids, reentries)}
        if extra:
            record.update(extra)
        self._jsonl.write(record)
        if self._video is not None and annotated is not None:
            self._video.write(annotated)

    def write_image(self, annotated: np.ndarray) -> None:
        """Append one annotated frame to the video (if one is saved), apart from the rows of that frame."""
        if self._video is not None:
            self._video.write(annotated)

    def close(self, summary: dict | None = None) -> None:
        """Finalise every file; write ``summary.json`` when given. Safe to call more than once."""
        if self._closed:
            if summary is not None:
                write_json_atomic(self.paths["summary"], summary)
            return
        self._closed = True
        errors = []
        for closer in (self._mot.close, self._jsonl.close, self._close_video):
            try:
                closer()
            except Exception as exc:  # finish closing the others, then report
                errors.append(exc)
        if summary is not None:
            write_json_atomic(self.paths["summary"], summary)
        if errors:
            raise errors[0]

    def _close_video(self):
        if self._video is not None:
            self._video.close()
