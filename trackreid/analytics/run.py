"""Everything the analytics add to one tracking run, behind four calls for the pipeline.

>>> an = RunAnalytics(run_dir, fps=30, lines=["0,400,1280,400:door"], zones=[], save_crops=8)
>>> for frame_no, (image, tracks) in enumerate(stream, 1):
...     events = an.update(image, tracks, frame_no)   # events.jsonl and crops written as it goes
...     # (or, where IDs may still change: an.add_frame(image, tracks, frame_no) at once, for the crops, and
...     #  an.add_final(tracks_final, frame_no) once that frame's IDs are final, for the events)
...     annotated = an.draw(annotated)                # lines, zones and counts on the annotated frame
>>> summary["events"] = an.close()                    # totals for summary.json (also after Ctrl-C)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .crops import CropBank, CropConfig
from .draw import draw_regions
from .events import EventEngine, EventsConfig
from .regions import build_regions
from .writer import EVENTS_NAME, EventsWriter


class RunAnalytics:
    """Events (when there are lines or zones, or always with ``events=True``) and a crop bank (``save_crops`` N > 0).

    run_dir: the run folder (None: nothing is written; events are still returned and totalled).
    lines / zones: command-line strings (``"x1,y1,x2,y2[:name]"``) or :class:`Line` / :class:`Zone` objects;
    events_config: a YAML file of lines and zones added to them. camera: the source index (crop file names).
    frame_size: (width, height) of the frames (default: read off the first image given). final_ids: ``ids ->
    ids_final`` for crops cut under IDs that may still change (:class:`~trackreid.io.deferred.FinalRows`); the crop
    bank files each identity's crops under the ID it ends up with.
    """

    def __init__(self, run_dir: str | Path | None, fps: float | None, lines=(), zones=(),
                 events_config: str | Path | None = None, save_crops: int = 0, camera: int = 0,
                 events: bool | None = None, config: EventsConfig | None = None,
                 crop_config: CropConfig | None = None, frame_size: tuple[int, int] | None = None,
                 final_ids=None):
        self.lines, self.zones = build_regions(lines, zones, events_config)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        want_events = bool(self.lines or self.zones) if events is None else bool(events)
        self.engine = EventEngine(self.lines, self.zones, fps or 30.0, config) if want_events else None
        self.writer = EventsWriter(self.run_dir / EVENTS_NAME) if self.engine and self.run_dir else None
        if save_crops and self.run_dir is None:
            raise ValueError("--save-crops needs an output folder (the crops go to RUN_DIR/crops)")
        if not isinstance(save_crops, (int, np.integer)) or isinstance(save_crops, bool) or save_crops < 0:
            raise ValueError(f"--save-crops: expected a number of crops per identity >= 0, got {save_crops!r}")
        self.bank = None
        if save_crops:
            cc = crop_config or CropConfig()
            cc.per_identity = int(save_crops)
            self.bank = CropBank(self.run_dir, cc, camera=camera, final_ids=final_ids)
        self.frame_size = frame_size
        self._summary: dict | None = None

    @property
    def active(self) -> bool:
        return self.engine is not None or self.bank is not None

    def update(self, frame_bgr: np.ndarray, tracks: np.ndarray, frame_no: int) -> list[dict]:
        """Feed one frame (1-based ``frame_no``) whose IDs are final; returns its events (also appended to
        events.jsonl)."""
        self.add_frame(frame_bgr, tracks, frame_no)
        return self.add_final(tracks, frame_no)

    def add_frame(self, frame_bgr: np.ndarray, tracks: np.ndarray, frame_no: int) -> None:
        """The image work of one frame: crops of ``tracks`` (the tracker's IDs at this frame)."""
        if frame_bgr is not None and self.frame_size is None:
            self.frame_size = frame_bgr.shape[1::-1]
        if self.bank is not None:
            self.bank.add(frame_bgr, tracks, frame_no)

    def add_final(self, tracks: np.ndarray, frame_no: int) -> list[dict]:
        """Events of frame ``frame_no`` from its tracks with final IDs, in frame order (also appended to
        events.jsonl)."""
        events: list[dict] = []
        if self.engine is not None:
            events = self.engine.update(tracks, frame_no, frame_size=self.frame_size)
            if self.writer is not None:
                self.writer.write(events)
        return events

    def draw(self, image: np.ndarray) -> np.ndarray:
        """Lines, zones and counts so far drawn on ``image`` in place."""
        if self.engine is not None and (self.lines or self.zones):
            draw_regions(image, self.lines, self.zones, self.engine.totals())
        return image

    def close(self) -> dict:
        """Close open visits and identities (their events are written), flush crops; returns the block for
        ``summary.json``: ``{"events": totals, "events_file": path, "crops": stats}`` (keys present as used).
        Idempotent."""
        if self._summary is not None:
            return self._summary
        out: dict = {}
        try:
            if self.engine is not None:
                last = self.engine.close()
                if self.writer is not None:
                    self.writer.write(last)
                out["events"] = self.engine.totals()
                if self.writer is not None:
                    out["events_file"] = str(self.writer.path)
        finally:
            if self.writer is not None:
                self.writer.close()
            if self.bank is not None:
                out["crops"] = self.bank.close()
        self._summary = out
        return out
