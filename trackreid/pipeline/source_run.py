"""The per-source half of a run (:class:`SourceRun`) and what it produces per frame (:class:`FrameResult`)."""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trackreid.io.deferred import FinalRows
from trackreid.pipeline.models import Models, build_tracker
from trackreid.pipeline.options import TrackingOptions
from trackreid.pipeline.summary import StageStats, source_summary
from trackreid.tracking.tracker import Tracker
from trackreid.types import TrackerOutput


@dataclass
class FrameResult:
    """What the pipeline produced for one frame."""

    index: int  # position in the source, counted from 0
    tracks: np.ndarray  # (M, 8) float64 x1,y1,x2,y2,track_id,score,cls,det_index
    detections: np.ndarray  # (N, 6) float32 x1,y1,x2,y2,score,cls given to the tracker
    image: np.ndarray  # the decoded BGR frame (not annotated)
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds spent in each stage on this frame
    global_ids: np.ndarray | None = None  # (M,) global identity of each track (multi-camera runs), else None
    reentries: dict[int, int] = field(default_factory=dict)  # track id -> frames away, for identities back this frame
    events: list[dict] = field(default_factory=list)  # events of this frame (lines, zones, enter/exit), if asked

    @property
    def frame_id(self) -> int:
        """1-based frame number, as in MOT files and ``tracks.jsonl``."""
        return self.index + 1

    @property
    def ids(self) -> np.ndarray:
        return self.tracks[:, 4].astype(np.int64)


class DistinctIds:
    """How many distinct IDs the outputs carried (the summary's ``unique_identities``), bounded on an endless
    stream: it remembers the ``capacity`` most recently seen IDs, as many as the identity memory holds, so an ID
    forgotten here has left the memory too and cannot come back under the same number."""

    def __init__(self, capacity: int):
        self.capacity = max(1, int(capacity))
        self.count = 0
        self._recent: OrderedDict[int, None] = OrderedDict()

    def __len__(self) -> int:
        return self.count

    @property
    def held(self) -> int:
        """IDs remembered now (at most ``capacity``)."""
        return len(self._recent)

    def update(self, ids) -> None:
        recent = self._recent
        for i in ids:
            if i in recent:
                recent.move_to_end(i)
                continue
            self.count += 1
            recent[i] = None
            if len(recent) > self.capacity:
                recent.popitem(last=False)


class SourceRun:
    """The per-source half of a run: one tracker, its outputs, drawing, statistics and summary.

    ``step()`` takes a frame with its detections and embeddings (computed by the caller, possibly batched with
    other sources) and returns the :class:`FrameResult`; ``finish()`` writes the summary and closes the outputs.
    """

    def __init__(self, source, info, opts: TrackingOptions, models: Models, *, output=None, tracker=None,
                 camera: int = 0, outages=None):
        self.source, self.info, self.opts, self.models = source, info, opts, models
        self.outages = outages
        """The source's :class:`~trackreid.io.sources.OutageLog` (a live source), reported in the summary."""
        self.tracker = build_tracker(opts.tracker_config, tracker if tracker is not None else opts.tracker,
                                     models.encoder, opts.conf)
        self.stats = StageStats()
        self.ids_seen = DistinctIds(getattr(getattr(self.tracker, "config", None), "memory_size", 10_000))
        self.n_dets = self.n_tracks = self.n_interpolated = 0  # detections in; rows written, interpolated ones
        self.n_crops = 0                                        # detections embedded (``embed_policy``)
        self.status, self.message = "failed", ""
        self.outputs = None
        self.output_dir: Path | None = None
        self.summary: dict | None = None
        if output is not None:
            from trackreid.io.sinks import RunOutputs

            self.outputs = RunOutputs(output, fps=info.fps, size=(info.width, info.height),
                                      save_video=opts.save_video, class_names=models.class_names, trail=opts.trail,
                                      video_name=opts.video_name, mot_name=opts.mot_name)
            self.output_dir = self.outputs.dir
        self.analytics = None
        if opts.lines or opts.zones or opts.events_config or opts.events or opts.save_crops:
            from trackreid.analytics import RunAnalytics
            from trackreid.analytics.events import EventsConfig

            # the events keep the state of as many identities as the identity memory can bring back
            events_config = EventsConfig(max_identities=self.ids_seen.capacity)
            self.analytics = RunAnalytics(self.output_dir, info.fps, lines=opts.lines, zones=opts.zones,
                                          config=events_config,
                                          events_config=opts.events_config, save_crops=int(opts.save_crops),
                                          camera=camera, events=opts.events, frame_size=(info.width, info.height),
                                          final_ids=self._ids_known_now)
        self._events: list[dict] = []  # events that became final during this step
        self.rows = FinalRows.for_tracker(self.outputs, self.tracker, listeners=[self._on_final],
                                          max_gap=int(opts.max_gap))
        self.drawer = None
        self.annotated: np.ndarray | None = None  # the last frame drawn (for --show)
        self.relabel = None  # (frame, TrackerOutput) -> global IDs; set by a multi-camera linker
        self.reentries = 0  # identities that came back (identity memory), counted per return
        if opts.show or (self.outputs is not None and self.outputs.wants_image):
            from trackreid.io.draw import TrackDrawer

            self.drawer = (self.outputs.drawer if self.outputs is not None
                           else TrackDrawer(trail=opts.trail, class_names=models.class_names))

    def hold_rows(self, final_ids, delay: int, rename: bool = True) -> None:
        """Write every output that records IDs (MOT file, ``tracks.jsonl``, events, crops, the summary's identity
        count) with the IDs ``final_ids(ids) -> (ids_final, final)`` gives, each frame held until they are final or
        ``delay`` frames passed (:class:`~trackreid.io.deferred.FinalRows`). ``rename=False``: the IDs are global
        IDs, written beside the tracker's. Called again by a multi-camera linker, whose global IDs replace the
        camera's own wait."""
        self.rows.flush()
        self.rows = FinalRows(self.outputs, final_ids, delay, rename=rename, listeners=[self._on_final],
                              max_gap=self.rows.max_gap)

    def _ids_known_now(self, ids) -> np.ndarray:
        """The IDs that ``ids`` end up with, as far as known now (crops are filed later than their frame)."""
        final_ids = self.rows.final_ids
        return np.asarray(ids, np.int64) if final_ids is None else final_ids(ids)[0]

    def _on_final(self, frame_id: int, tracks: np.ndarray) -> None:
        """One frame's tracks with their final IDs: the events and the identity count."""
        if self.analytics is not None:
            self._events += self.analytics.add_final(tracks, frame_id)
        if len(tracks):
            self.ids_seen.update(np.unique(tracks[:, 4].astype(np.int64)).tolist())
            self.n_tracks += len(tracks)
            self.n_interpolated += int((tracks[:, 7] < 0).sum())

    def catch_up(self, index: int) -> None:
        """Before frame ``index``: tell the tracker about each outage of the source just before it, as the frames
        it lasted (at the source's frame rate; unknown rate: longer than ``track_buffer``), so a gap is a gap."""
        if self.outages is None:
            return
        for outage in self.outages.take(index):
            skip = getattr(self.tracker, "skip", None)
            if skip is None:
                continue
            fps = self.info.fps
            buffer = int(getattr(getattr(self.tracker, "config", None), "track_buffer", 0))
            skip(max(1, round(outage.down_s * fps) - 1) if fps else buffer + 1)

    def step(self, index: int, frame: np.ndarray, dets: np.ndarray, emb, timings: dict[str, float],
             given=None) -> FrameResult:
        """Associate, draw and write frame ``index`` (0-based); ``timings`` holds decode/detect/embed so far.
        ``given``: what :func:`~trackreid.pipeline.embed.to_embed` said to pass the tracker for ``dets`` (default:
        ``dets``), ``emb`` the embeddings of the boxes it named. The result's ``events`` are those that became final
        in this step (of this frame or an earlier one)."""
        t0 = time.perf_counter()
        out = self._track(dets if given is None else given, frame, emb)
        tracks, reentries = out.tracks, out.reentries
        gids = self.relabel(index + 1, out) if self.relabel is not None and len(tracks) else None
        t1 = time.perf_counter()
        shown = tracks
        if gids is not None:
            shown = tracks.copy()
            shown[:, 4] = gids
        if self.analytics is not None:
            self.analytics.add_frame(frame, tracks, index + 1)
        annotated = self.drawer.draw(frame, shown) if self.drawer is not None else None
        if annotated is not None and self.analytics is not None:
            self.analytics.draw(annotated)
        extra = {"time_s": round(index / self.info.fps, 4)} if self.info.fps else None
        self.rows.write(index + 1, tracks, annotated, extra, reentries=reentries)
        events, self._events = self._events, []
        self.annotated = annotated
        timings = {**timings, "associate": (t1 - t0) * 1e3, "write": (time.perf_counter() - t1) * 1e3}
        self.stats.add(timings)
        self.reentries += len(reentries)
        self.n_dets += len(dets)
        self.n_crops += len(emb) if emb is not None else 0
        return FrameResult(index, tracks, dets, frame, timings, global_ids=gids, reentries=reentries, events=events)

    def _track(self, given, frame, emb) -> TrackerOutput:
        """The tracker's answer for one frame; a tracker other than ours (BoxMOT's ``update`` interface) gives
        only the tracks (and ``reentries`` if it has them)."""
        trk = self.tracker
        if isinstance(trk, Tracker):
            return trk.step(given, frame, embeddings=emb)
        tracks = np.asarray(trk.update(given, frame, embeddings=emb), dtype=np.float64).reshape(-1, 8)
        return TrackerOutput(tracks, dict(getattr(trk, "reentries", None) or {}))

    def finish(self, *, wall: float, setup_s: float | None, started: str, extra: dict | None = None) -> dict:
        """Write ``summary.json`` (status and message as set by the caller) and close the outputs."""
        self.rows.flush()     # the last held frames: their events and IDs belong in the summary
        self.summary = source_summary(self, wall=wall, setup_s=setup_s, started=started, extra=extra)
        if self.analytics is not None:
            self.summary.update(self.analytics.close())
        self.rows.close(self.summary)
        return self.summary
