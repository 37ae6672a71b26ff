"""Several sources in one run: one decode thread per source; each step gathers the frames that are ready, runs the
detector on them as one batch and the ReID encoder on all their crops as one batch; one Tracker per source.

>>> from trackreid import track_streams
>>> for step in track_streams(["cam1.mp4", "cam2.mp4", "rtsp://cam3/stream"], reid="osnet_x0_25", output="runs/site"):
...     for name, r in step.results.items():
...         print(name, r.frame_id, r.ids)

Each source writes the usual outputs under ``output/<source name>/``; ``output/summary.json`` describes the whole
run (per-source frames, fps, latency, status and identities). A source that cannot be opened, fails or ends does not
stop the others: the summary says what happened to each. With ``global_ids=True`` the tracks of different cameras
are linked into global identities by appearance (:mod:`trackreid.tracking.global_ids`); MOT files then carry the
global ID and JSON lines carry both ``id`` (per camera) and ``global_id``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generator

from trackreid.io.sources import Prefetcher, Reconnect, open_source, source_name
from trackreid.pipeline.embed import embed_many, to_embed
from trackreid.pipeline.models import build_linker, build_models
from trackreid.pipeline.options import PipelineError, TrackingOptions, detectors_per_source
from trackreid.pipeline.runner import RunClock, Runner
from trackreid.pipeline.source_run import FrameResult, SourceRun
from trackreid.pipeline.summary import run_summary, source_report, utc_now

__all__ = ["StreamStep", "StreamsRun", "track_streams", "unique_names"]


@dataclass
class StreamStep:
    """What one step of a multi-source run produced: a :class:`~trackreid.pipeline.FrameResult` for each source
    that had a frame ready, keyed by source name."""

    step: int
    results: dict[str, FrameResult] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # ms of this step's batched detect and embed


def unique_names(sources) -> list[str]:
    """One output-folder name per source: its :func:`source_name`, numbered ``-2``, ``-3``... when repeated."""
    names, seen = [], {}
    for s in sources:
        base = source_name(s)
        k = seen.get(base, 0) + 1
        seen[base] = k
        names.append(base if k == 1 else f"{base}-{k}")
    return names


class _Stream:
    """One source of a multi-source run: its decode thread, its :class:`SourceRun`, its own status."""

    def __init__(self, index: int, name: str, spec):
        self.index, self.name, self.spec = index, name, spec
        self.src = self.run = self.prefetcher = None
        self.frames = 0
        self.latency_ms = 0.0  # summed from the moment a frame is taken off the decode queue to its result
        self.t_start = self.t_end = None
        self.status, self.message = "failed", ""

    @property
    def active(self) -> bool:
        return self.prefetcher is not None

    def stop(self, status: str, message: str = "") -> None:
        """Close the decode thread and finish the outputs with this status (once)."""
        if self.prefetcher is not None:
            self.prefetcher.close()
            self.prefetcher = None
        if self.src is not None:
            self.src.close()
        self.status, self.message = status, message
        self.t_end = time.perf_counter()
        if self.run is not None and self.run.summary is None:
            self.run.status, self.run.message = status, message
            wall = (self.t_end - self.t_start) if self.t_start else 0.0
            self.run.finish(wall=wall, setup_s=None, started=self.started,
                            extra={"latency_ms": round(self.latency_ms / max(self.frames, 1), 3)})

    def report(self) -> dict:
        run = self.run
        return source_report(self.name, self.spec, self.status, self.message, self.frames,
                             (run.summary if run is not None else None) or {},
                             run.output_dir if run is not None else None)


class StreamsRun(Runner):
    """A multi-source run (the :class:`~trackreid.pipeline.runner.Runner` of several sources); iterate it for
    :class:`StreamStep` objects, or ``run()`` it for the run summary.

    sources: a list of anything :func:`trackreid.track_video` takes (files, folders, webcams, stream URLs).
    Options are :class:`~trackreid.pipeline.TrackingOptions` (``detector`` may also be a list with one detector,
    e.g. a MOT ``det.txt``, per source, in source order); ``max_frames`` applies to each source.
    ``global_ids``: link identities across sources (see :mod:`trackreid.tracking.global_ids`); ``topology``: a
    YAML path or mapping of which cameras connect and their transit times, narrowing the candidates.
    ``names``: output-folder names (default :func:`unique_names`); ``linker``: a ready global-identity linker
    (e.g. one whose bank lives in a Ray actor) instead of a new one.
    """

    def __init__(self, sources, options: TrackingOptions | None = None, *, global_ids: bool = False,
                 topology=None, names: list[str] | None = None, linker=None, **kw):
        sources = list(sources) if not isinstance(sources, (str, Path)) else [sources]
        if not sources:
            raise PipelineError("sources: expected at least one source")
        super().__init__(options, **kw)
        if self.options.show:
            raise PipelineError("--show is for one source; a multi-source run writes annotated videos instead")
        detectors_per_source(self.options.detector, len(sources))  # a list of the wrong length fails here
        self.sources = sources
        self.names = list(names) if names is not None else unique_names(sources)
        if len(self.names) != len(sources) or len(set(self.names)) != len(self.names):
            raise PipelineError(f"names: expected {len(sources)} distinct source names, got {self.names}")
        self.global_ids = bool(global_ids) or linker is not None
        self._linker = linker
        self.topology = topology

    # ---------------------------------------------------------------- open / steps / release / finish
    def _open(self) -> None:
        self._models, self._streams, self._run_linker = self._setup()

    def _setup(self):
        o = self.options
        per_source = detectors_per_source(o.detector, len(self.sources))
        models = build_models(o, detector=per_source[0] if per_source else None)
        if per_source:
            from trackreid.detection.base import build_detector

            models.detector = [models.detector] + [
                build_detector(d, classes=o.classes, conf=o.conf, device=models.device, imgsz=o.imgsz, quiet=True)
                for d in per_source[1:]]
        linker = self._linker
        if self.global_ids and linker is None:
            linker = build_linker(self.names, self.topology, getattr(models.encoder, "thresholds", None))
        streams = []
        for i, (name, spec) in enumerate(zip(self.names, self.sources)):
            st = _Stream(i, name, spec)
            st.started = utc_now()
            try:
                st.src = open_source(spec, stream_timeout_s=o.stream_timeout_s, reconnect=Reconnect.of(o.reconnect))
                out = self.output_dir / name if self.output_dir is not None else None
                st.run = SourceRun(spec, st.src.info, o, models, output=out, camera=i, outages=st.src.outages)
                if linker is not None:
                    linker.attach(i, st.run)
                st.prefetcher = Prefetcher(st.src, maxsize=o.prefetch, on_exit=st.src.close,
                                           name=f"trackreid-decode-{i}")
                st.t_start = time.perf_counter()
            except (ValueError, OSError) as exc:
                st.stop("failed", f"{type(exc).__name__}: {exc}")
            streams.append(st)
        if not any(s.active for s in streams):
            raise PipelineError("no source could be opened: " + "; ".join(f"{s.name}: {s.message}" for s in streams))
        from trackreid.pipeline.memory_file import open_memory_file

        try:
            self.memory = open_memory_file(o, models.encoder, {s.name: s.run.tracker for s in streams if s.active},
                                           linker)
        except BaseException:
            for st in streams:
                if st.active:
                    st.stop("failed", "the memory file could not be loaded")
            raise
        return models, streams, linker

    GATHER_WAIT_S = 0.02
    """Once one source has a frame, how long a step waits for the next frame of a webcam or stream (cameras at the
    same rate share one batch; a slow camera does not hold the others back). Files and image folders are always
    waited for, so an offline run's batches, and so its results, never depend on timing."""

    def _gather(self, streams, taken: dict, done: set) -> tuple[list, list]:
        """The next frame of each source (waiting for the first, for every file, and up to ``GATHER_WAIT_S`` for
        live sources), and the sources found finished meanwhile as ``(stream, status, message)``,
        for the caller to stop in the main thread. ``taken`` counts the frames gathered per source (their frame
        indices); ``done`` holds the finished sources. No frames and no source left: every source is finished."""
        ended, ready, first = [], {}, None
        while True:
            waiting = waiting_files = 0
            for st in streams:
                pf = st.prefetcher
                if (pf is None or st.index in done or st.index in ready
                        or self._at_max_frames(taken[st.index])):
                    continue
                try:
                    item = pf.poll()
                except Exception as exc:  # this source broke; the others go on
                    done.add(st.index)
                    ended.append((st, "failed", f"{type(exc).__name__}: {exc}"))
                    continue
                if item is Prefetcher.END:
                    done.add(st.index)
                    reason = st.src.end_reason if st.src is not None else None
                    note = st.src.end_note if st.src is not None else ""
                    ended.append((st, "source_ended" if reason else "completed", reason or note))
                elif item is None:
                    waiting += 1
                    waiting_files += not (st.src is not None and st.src.info.is_live)
                else:
                    ready[st.index] = (st, taken[st.index], *item)
                    taken[st.index] += 1
            if ready and first is None:
                first = time.perf_counter()
            if not waiting or (ready and not waiting_files and time.perf_counter() - first >= self.GATHER_WAIT_S):
                return [ready[i] for i in sorted(ready)], ended
            time.sleep(0.001)

    def _batches(self, models, streams):
        """``(ready, detections, ended, detect_start, detect_ms)`` per step: the gathered frames detected as one
        batch (the last item has no frames, only the sources that ended). Touches no run state, so it can run in
        its own thread one step ahead of the embedding and association of the previous step."""
        from trackreid.detection.base import detect_many

        taken, done = {st.index: 0 for st in streams}, set()
        det = models.detector
        while True:
            ready, ended = self._gather(streams, taken, done)
            t0 = time.perf_counter()
            dets_all = detect_many([det[st.index] for st, *_ in ready] if isinstance(det, list) else det,
                                   [f for _, _, f, _ in ready], [i for _, i, _, _ in ready]) if ready else []
            yield ready, dets_all, ended, t0, (time.perf_counter() - t0) * 1e3
            if not ready:
                return

    def _step(self, models, ready, dets_all, t0: float, detect_ms: float, step: int) -> StreamStep:
        t1 = time.perf_counter()
        frames = [f for _, _, f, _ in ready]
        prepared = [to_embed(st.run.tracker, d) for (st, *_), d in zip(ready, dets_all)]
        embs = embed_many(models.encoder, frames, [boxes for _, boxes in prepared])
        t2 = time.perf_counter()
        k = len(ready)
        embed_ms = (t2 - t1) * 1e3 if models.encoder is not None else 0.0
        out = StreamStep(step, timings={"detect": detect_ms, "embed": embed_ms})
        for (st, index, frame, decode_ms), dets, (given, _), emb in zip(ready, dets_all, prepared, embs):
            st.run.catch_up(index)
            r = st.run.step(index, frame, dets, emb, {"decode": decode_ms, "detect": detect_ms / k,
                                                      "embed": embed_ms / k}, given=given)
            st.frames = index + 1
            st.latency_ms += (time.perf_counter() - t0) * 1e3
            out.results[st.name] = r
            if self._at_max_frames(st.frames):
                st.stop("completed")
        return out

    def _bar_args(self) -> dict:
        """Frames of all sources together; a total when every source has a known length (files, folders)."""
        totals = []
        for st in self._streams:
            info = st.src.info if st.src is not None else None
            n = info.num_frames if info is not None and not info.is_live else 0
            if n and self.options.max_frames is not None:
                n = min(n, int(self.options.max_frames))
            totals.append(n)
        total = sum(totals) if totals and all(totals) else None
        return {"desc": f"{len(self._streams)} sources", "total": total}

    def _steps(self):
        models, streams = self._models, self._streams
        step = 0
        for ready, dets_all, ended, t_det, detect_ms in self._overlapped(self._batches(models, streams)):
            for st, st_status, st_message in ended:
                st.stop(st_status, st_message)
            if not ready:
                break
            res = self._step(models, ready, dets_all, t_det, detect_ms, step)
            step += 1
            if self._bar is not None:
                self._bar.update(len(res.results))
            yield res
            self._tick_memory()
        return "completed", ""

    def _release(self, status: str, message: str) -> None:
        self._close_ahead()  # first: the detect thread reads the decode queues the stops below close
        for st in self._streams:
            if st.active or (st.run is not None and st.run.summary is None):
                st.stop(status, message)

    def _finish(self, status: str, message: str, clock: RunClock, wall: float) -> dict:
        extra = {"setup_s": round(clock.opened - clock.setup, 3)}
        if self._run_linker is not None:
            extra["global_identities"] = self._run_linker.num_identities
        extra.update(self._memory_report() or {})
        # the run's wall time runs to the end: every source stopped and its outputs closed
        summary = run_summary([s.report() for s in self._streams], status, message, clock.started,
                              clock.since_loop(), **extra)
        if self.output_dir is not None:
            from trackreid.io.atomic import write_json_atomic

            write_json_atomic(self.output_dir / "summary.json", summary)
        return summary


def track_streams(sources, options: TrackingOptions | None = None, **kw) -> Generator[StreamStep, None, dict]:
    """Track several sources in one run and yield a :class:`StreamStep` per step; the generator returns the run
    summary. Arguments as :class:`StreamsRun` (sources, :class:`~trackreid.pipeline.TrackingOptions` fields,
    ``global_ids``, ``topology``)."""
    return (yield from StreamsRun(sources, options, **kw))
