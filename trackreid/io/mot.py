"""MOTChallenge text files: reading, atomic writing, and an incremental writer for tracker output.

Row layout (10 columns, 1-based frames, boxes as top-left corner + size in pixels)::

    frame, id, x, y, w, h, conf, c7, c8, c9

- Ground truth (MOT16/17/20): ``conf`` is the "consider" flag (0 = ignore), ``c7`` the class (1 = pedestrian),
  ``c8`` the visibility ratio; ``c9`` is absent (read as -1).
- Ground truth (MOT15) and tracker results: ``conf`` is a score, ``c7..c9`` are -1 (3D world coordinates in
  MOT15-3D, which trackreid does not use).

Files may separate fields with commas or whitespace. Rows with fewer than 10 fields are padded: ``conf`` with 1
(the "consider" default) and ``c7..c9`` with -1. Fields beyond the 10th are dropped.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from trackreid.io.atomic import write_text_atomic

MOT_COLS = 10
_PAD = np.array([np.nan] * 6 + [1.0, -1.0, -1.0, -1.0])  # defaults for columns 6..9 when a file has fewer
_SPLIT = re.compile(r"[,\s]+")


def normalise_mot_rows(rows, what: str = "rows") -> np.ndarray:
    """Return ``rows`` (K, >=6) as a float64 (K, 10) array, padded as described in the module docstring.

    Raises ``ValueError`` for fewer than 6 columns, NaN/inf, or non-integral frame/id values.
    """
    arr = np.asarray(rows if rows is not None else [], dtype=np.float64)
    if arr.size == 0:
        return np.empty((0, MOT_COLS), np.float64)
    if arr.ndim != 2 or arr.shape[1] < 6:
        raise ValueError(
            f"{what}: expected MOT rows of shape (K, >=6) as frame,id,x,y,w,h[,conf,...], got {arr.shape}"
        )
    out = np.tile(_PAD, (arr.shape[0], 1))
    n = min(arr.shape[1], MOT_COLS)
    out[:, :n] = arr[:, :n]
    if not np.isfinite(out).all():
        bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
        raise ValueError(f"{what}: rows {bad[:10].tolist()} contain NaN or inf")
    for col, name in ((0, "frame"), (1, "id")):
        frac = out[:, col] != np.round(out[:, col])
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise ValueError(f"{what}: {name} values must be integers, row {i} has {out[i, col]}")
    return out


def read_mot(path) -> np.ndarray:
    """Read a MOTChallenge text file into a float64 (K, 10) array (file order kept; empty file -> (0, 10))."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MOT file not found: {path}")
    rows = []
    width = None
    with open(path, "r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = _SPLIT.split(line.strip(","))
            if len(fields) < 6:
                raise ValueError(
                    f"{path}:{lineno}: expected at least 6 fields frame,id,x,y,w,h, got {len(fields)}: {line!r}"
                )
            fields = fields[:MOT_COLS]
            if width is None:
                width = len(fields)
            elif len(fields) != width:
                raise ValueError(f"{path}:{lineno}: {len(fields)} fields where earlier lines have {width}")
            try:
                rows.append([float(f) for f in fields])
            except ValueError:
                raise ValueError(f"{path}:{lineno}: non-numeric field in {line!r}") from None
    if not rows:
        return np.empty((0, MOT_COLS), np.float64)
    return normalise_mot_rows(np.array(rows, np.float64), what=str(path))


def _format_rows(rows: np.ndarray) -> str:
    """MOT text for (K, 10) rows: integer frame/id, compact floats elsewhere."""
    if len(rows) == 0:
        return ""
    cols = [rows[:, 0].astype(np.int64).astype(str), rows[:, 1].astype(np.int64).astype(str)]
    for c in range(2, MOT_COLS):
        cols.append(np.char.mod("%.10g", rows[:, c]))
    lines = cols[0]
    for c in cols[1:]:
        lines = np.char.add(np.char.add(lines, ","), c)
    return "\n".join(lines.tolist()) + "\n"


def write_mot(path, rows) -> Path:
    """Write MOT rows (K, >=6) to ``path`` atomically (temp file in the same folder + ``os.replace``).

    Readers never see a half-written file, and an interrupted write leaves any previous file intact.
    """
    path = Path(path)
    arr = normalise_mot_rows(rows, what=f"write_mot({path})")
    write_text_atomic(path, _format_rows(arr))
    return path


def tracks_to_mot_rows(frame: int, tracks) -> np.ndarray:
    """Convert tracker output (M, 8) ``x1,y1,x2,y2,id,score,cls,det_idx`` to MOT result rows (M, 10)."""
    arr = np.asarray(tracks if tracks is not None else [], dtype=np.float64)
    if arr.size == 0:
        return np.empty((0, MOT_COLS), np.float64)
    if arr.ndim != 2 or arr.shape[1] < 6:
        raise ValueError(
            f"tracks: expected shape (M, 8) as x1,y1,x2,y2,id,score,cls,det_idx (at least 6 columns), got {arr.shape}"
        )
    if not np.isfinite(arr[:, :6]).all():
        raise ValueError("tracks: contain NaN or inf")
    out = np.full((len(arr), MOT_COLS), -1.0)
    out[:, 0] = frame
    out[:, 1] = arr[:, 4]
    out[:, 2] = arr[:, 0]
    out[:, 3] = arr[:, 1]
    out[:, 4] = arr[:, 2] - arr[:, 0]
    out[:, 5] = arr[:, 3] - arr[:, 1]
    out[:, 6] = arr[:, 5]
    return out


class MotWriter:
    """Write tracker output as a MOT results file, one frame at a time.

    Each :meth:`write` appends that frame's lines and flushes, so an interrupted run keeps every frame written so
    far. Lines are ``frame,id,x,y,w,h,score,-1,-1,-1``. The file is truncated when the writer opens it. Frames
    must be written in increasing order (a frame written twice would duplicate identities).

    >>> with MotWriter("out/SEQ.txt") as w:
    ...     w.write(1, tracks)   # tracks: (M, 8) x1,y1,x2,y2,id,score,cls,det_idx
    """

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w", encoding="utf-8")
        self._last_frame = 0
        self.rows_written = 0

    def write(self, frame: int, tracks) -> None:
        """Append the tracks of 1-based ``frame`` and flush."""
        if self._fh is None:
            raise ValueError(f"MotWriter({self.path}): already closed")
        if int(frame) != frame or frame < 1:
            raise ValueError(f"frame: expected a 1-based integer frame index, got {frame!r}")
        frame = int(frame)
        if frame <= self._last_frame:
            raise ValueError(
                f"frame: frames must increase; got {frame} after {self._last_frame} (writing {self.path})"
            )
        rows = tracks_to_mot_rows(frame, tracks)
        self._last_frame = frame
        if len(rows):
            text = _format_rows(rows)
            self._fh.write(text)
            self._fh.flush()
            self.rows_written += len(rows)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "MotWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
