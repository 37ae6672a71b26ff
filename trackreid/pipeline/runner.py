"""The one run loop of every tracking run (:class:`Runner`), and its single-source case (:class:`TrackingRun`,
:func:`track_video`, :func:`run`); the multi-source case is :class:`trackreid.streams.StreamsRun`."""
from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generator

from trackreid.io.sources import Prefetcher, Reconnect, Source, open_source
from trackreid.pipeline.embed import embed_detections
from trackreid.pipeline.models import build_models
from trackreid.pipeline.options import PipelineError, TrackingOptions
from trackreid.pipeline.source_run import FrameResult, SourceRun
from trackreid.pipeline.summary import utc_now


@dataclass
class RunClock:
    """When a run started (a summary's ``started_at``) and when its setup, and then its loop, began and ended
    (``time.perf_counter`` seconds; None: not reached)."""

    started: str = field(default_factory=utc_now)
    setup: float = field(default_factory=time.perf_counter)
    opened: float | None = None
    loop: float | None = None

    def since_loop(self) -> float:
        """Seconds since the loop began (0 when it never did)."""
        return time.perf_counter() - self.loop if self.loop is not None else 0.0


class Runner:
    """What every tracking run does the same way, with one source (:class:`TrackingRun`) or several
    (:class:`trackreid.streams.StreamsRun`): iterate it for its results, or ``run()`` it for the summary;
    ``.summary`` holds the summary afterwards, also after an interruption or a failure.

    The status machine is here, once: a run ends as its loop says (``completed``, ``source_ended``, or ``stopped``
    when the user quit), ``stopped`` when the caller stops iterating, ``interrupted`` on Ctrl-C, ``failed`` on any
    other exception (re-raised); whatever happened, the sources are released and the summary written. So are the
    progress bar, the ``max_frames`` stop condition and the detector thread (``overlap``: detection runs one frame,
    or one step, ahead in its own thread while the current one is embedded and associated).

    A runner supplies ``_open()`` (open the sources, load the models, open the outputs), ``_bar_args()`` (what the
    progress bar shows), ``_steps()`` (the loop: a generator of results that returns ``(status, message)``),
    ``_release(status, message)`` (stop its threads and sources) and ``_finish(status, message, clock, wall)``
    (the summary; ``wall``: the loop's seconds up to the release).
    """

    def __init__(self, options: TrackingOptions | None = None, **kw):
        self.options = TrackingOptions.make(options, **kw)
        self.summary: dict | None = None
        self.output_dir: Path | None = Path(self.options.output) if self.options.output else None
        self._bar = self._ahead = None
        self.memory = None
        """The run's :class:`~trackreid.pipeline.memory_file.MemoryFile` (``memory_file`` set), else None."""

    def run(self) -> dict:
        for _ in self:
            pass
        return self.summary

    def __iter__(self) -> Generator[Any, None, dict]:
        return self._generate()

    def _generate(self):
        clock = RunClock()
        self._open()
        clock.opened = time.perf_counter()
        status, message = "failed", ""
        self._bar = self._ahead = None
        try:
            self._bar = self._progress()
            clock.loop = time.perf_counter()
            status, message = yield from self._steps()
        except GeneratorExit:
            status, message = "stopped", "the caller stopped iterating"
            raise
        except KeyboardInterrupt:
            status, message = "interrupted", "interrupted (Ctrl-C)"
            raise
        except BaseException as exc:
            status, message = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            wall = clock.since_loop()
            self._release(status, message)
            self._save_memory()
            if self._bar is not None:
                self._bar.close()
            self.summary = self._finish(status, message, clock, wall)
        return self.summary

    def _progress(self):
        if self.options.quiet:
            return None
        from tqdm.auto import tqdm

        return tqdm(unit="frame", file=sys.stderr, dynamic_ncols=True, **self._bar_args())

    def _overlapped(self, detected):
        """``detected`` (an iterator of detection results), run in its own thread one item ahead of the consumer
        when ``overlap`` is on (a bounded queue keeps the order); :meth:`_close_ahead` stops that thread."""
        if not self.options.overlap:
            return detected
        self._ahead = Prefetcher(detected, maxsize=1, name="trackreid-detect")
        return (item for item, _ in self._ahead)

    def _close_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead.close()

    def _tick_memory(self) -> None:
        """After a step: save the memory file when it is due."""
        if self.memory is not None:
            self.memory.maybe_save()

    def _save_memory(self) -> None:
        """At the end, however the run ends: save the memory file (a failure to do so is a warning, so that it does
        not hide why the run ended)."""
        if self.memory is None:
            return
        try:
            self.memory.save()
        except Exception as exc:  # noqa: BLE001 - reported, never masks the run's own outcome
            warnings.warn(f"identity memory not saved to {self.memory.path}: {type(exc).__name__}: {exc}",
                          stacklevel=2)

    def _memory_report(self) -> dict | None:
        return {"memory_file": self.memory.report()} if self.memory is not None else None

    def _at_max_frames(self, frames: int) -> bool:
        """Whether a source that delivered ``frames`` frames is done (``max_frames`` applies to each source)."""
        limit = self.options.max_frames
        return limit is not None and frames >= int(limit)

    # the parts a runner supplies
    def _open(self) -> None:
        raise NotImplementedError

    def _bar_args(self) -> dict:
        return {}

    def _steps(self) -> Generator[Any, None, tuple[str, str]]:
        raise NotImplementedError

    def _release(self, status: str, message: str) -> None:
        raise NotImplementedError

    def _finish(self, status: str, message: str, clock: RunClock, wall: float) -> dict:
        raise NotImplementedError


def _detections(frames, detector):
    """``(index, frame, decode_ms, dets, detect_ms)`` for each decoded ``(frame, decode_ms)`` of ``frames``."""
    for index, (frame, decode_ms) in enumerate(frames):
        t0 = time.perf_counter()
        dets = detector(frame, index)
        yield index, frame, decode_ms, dets, (time.perf_counter() - t0) * 1e3


class TrackingRun(Runner):
    """One run of the pipeline over one source: iterate it for :class:`FrameResult` objects; ``.summary`` holds the
    summary afterwards (also after an interruption). ``run()`` consumes everything and returns the summary.

    Arguments: a source and :class:`TrackingOptions` (an ``options=`` object and/or its fields as keywords).
    A failing source fails the run (the exception is re-raised); a source that delivers no frame is a
    :class:`PipelineError`; ``show`` displays the annotated frames, q or Esc stops the run.
    """

    def __init__(self, source, options: TrackingOptions | None = None, **kw):
        self.source = source
        super().__init__(options, **kw)

    def _open(self) -> None:
        """Open the source, load the models, open the outputs."""
        o = self.options
        src: Source = open_source(self.source, stream_timeout_s=o.stream_timeout_s,
                                  reconnect=Reconnect.of(o.reconnect))
        run = None
        try:
            if o.show:
                _check_display()
            models = build_models(o)
            run = SourceRun(self.source, src.info, o, models, output=o.output, outages=src.outages)
            from trackreid.pipeline.memory_file import open_memory_file

            self.memory = open_memory_file(o, models.encoder, {src.info.name: run.tracker})
        except BaseException:
            src.close()
            if run is not None and run.outputs is not None:
                run.outputs.close()  # the files opened so far (and the video writer's thread)
            raise
        self.output_dir = run.output_dir
        self._src, self._run, self._prefetcher = src, run, None

    def _bar_args(self) -> dict:
        info, limit = self._src.info, self.options.max_frames
        total = info.num_frames
        if limit is not None:
            total = min(total, int(limit)) if total else int(limit)
        return {"total": total, "desc": info.name, "leave": True}

    def _steps(self):
        o, src, run = self.options, self._src, self._run
        self._prefetcher = Prefetcher(src, maxsize=o.prefetch, on_exit=src.close)  # the decode thread releases it
        frames = self._overlapped(_detections(self._prefetcher, run.models.detector))
        index = -1
        for index, frame, decode_ms, dets, detect_ms in frames:
            run.catch_up(index)
            given, emb, embed_ms = embed_detections(run.models.encoder, run.tracker, frame, dets)
            res = run.step(index, frame, dets, emb, {"decode": decode_ms, "detect": detect_ms, "embed": embed_ms},
                           given=given)
            quit_requested = o.show and _show(run.annotated)
            if self._bar is not None:
                self._bar.update(1)
                if index % 10 == 0:
                    self._bar.set_postfix(tracks=len(res.tracks), ids=len(run.ids_seen), refresh=False)
            yield res
            self._tick_memory()
            if quit_requested:  # this frame is written and counted; then stop
                return "stopped", "closed by the user (q)"
            if self._at_max_frames(index + 1):
                break
        else:
            if index < 0:
                raise PipelineError(f"source {src.info.name!r} delivered no frames")
        if src.end_reason:
            return "source_ended", src.end_reason
        return "completed", src.end_note

    def _release(self, status: str, message: str) -> None:
        if self._prefetcher is not None:
            self._prefetcher.close()  # first: a detect thread waiting on it then ends too
        else:
            self._src.close()
        self._close_ahead()

    def _finish(self, status: str, message: str, clock: RunClock, wall: float) -> dict:
        if self.options.show:
            _close_windows()
        run = self._run
        run.status, run.message = status, message
        setup_s = time.perf_counter() - clock.setup - wall if clock.loop is not None else None
        return run.finish(wall=wall, setup_s=setup_s, started=clock.started, extra=self._memory_report())


def _show(annotated) -> bool:
    """Display a frame; True when the user asked to quit (q or Esc)."""
    import cv2

    cv2.imshow("trackreid", annotated)
    return (cv2.waitKey(1) & 0xFF) in (ord("q"), 27)


def _check_display() -> None:
    from trackreid.io.video import display_problem

    problem = display_problem()
    if problem:
        raise PipelineError(f"--show: {problem}; run without --show (outputs are written either way)")


def _close_windows() -> None:
    try:
        import cv2

        cv2.destroyAllWindows()
    except Exception:
        pass


def track_video(source, options: TrackingOptions | None = None, **kw) -> Generator[FrameResult, None, dict]:
    """Track people in ``source`` and yield a :class:`FrameResult` per frame; the generator returns the summary.

    source: a video file, an image folder (or a MOT sequence folder with ``img1/``), a webcam index, or a stream URL.
    Options: a :class:`TrackingOptions` and/or its fields as keywords (``reid``, ``reid_weights``, ``detector``,
    ``classes``, ``conf``, ``device``, ``half``, ``tracker_config``, ``output``, ``save_video``, ``show``,
    ``max_frames``, ``quiet``, ...; each is documented once, on :class:`TrackingOptions`).
    With ``output``, ``tracks.txt``, ``tracks.jsonl``, ``annotated.mp4`` and ``summary.json`` are written as the
    run goes.
    """
    return (yield from TrackingRun(source, options, **kw))


def run(source, **options: Any) -> dict:
    """Run :func:`track_video` to the end and return its summary."""
    return TrackingRun(source, **options).run()
