"""The run loop: a source -> detector -> encoder -> tracker -> outputs, as a generator of per-frame results."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Generator

from trackreid.io.sources import Prefetcher, Source, open_source
from trackreid.pipeline.embed import embed_detections
from trackreid.pipeline.models import build_models
from trackreid.pipeline.options import PipelineError, TrackingOptions
from trackreid.pipeline.source_run import FrameResult, SourceRun
from trackreid.pipeline.summary import utc_now


def _detected(frames, detector, overlap: bool):
    """``(index, frame, decode_ms, dets, detect_ms)`` for each decoded frame; with ``overlap`` the detector runs in
    its own thread, one frame ahead of the consumer (a bounded queue keeps the order)."""

    def gen():
        for index, (frame, decode_ms) in enumerate(frames):
            t0 = time.perf_counter()
            dets = detector(frame, index)
            yield index, frame, decode_ms, dets, (time.perf_counter() - t0) * 1e3

    if not overlap:
        return gen(), None
    ahead = Prefetcher(gen(), maxsize=1, name="trackreid-detect")
    return (item for item, _ in ahead), ahead


class TrackingRun:
    """One run of the pipeline: iterate it for :class:`FrameResult` objects; ``.summary`` holds the summary
    afterwards (also after an interruption). ``run()`` consumes everything and returns the summary.

    Arguments: a source and :class:`TrackingOptions` (an ``options=`` object and/or its fields as keywords).
    """

    def __init__(self, source, options: TrackingOptions | None = None, **kw):
        self.source = source
        self.options = TrackingOptions.make(options, **kw)
        self.summary: dict | None = None
        self.output_dir: Path | None = Path(self.options.output) if self.options.output else None

    def run(self) -> dict:
        for _ in self:
            pass
        return self.summary

    def __iter__(self) -> Generator[FrameResult, None, dict]:
        return self._generate()

    def _setup(self):
        """Open the source, load the models, open the outputs; returns ``(source, SourceRun)``."""
        o = self.options
        src: Source = open_source(self.source, stream_timeout_s=o.stream_timeout_s)
        try:
            if o.show:
                _check_display()
            models = build_models(o)
            run = SourceRun(self.source, src.info, o, models, output=o.output)
        except BaseException:
            src.close()
            raise
        self.output_dir = run.output_dir
        return src, run

    def _generate(self):
        o = self.options
        t_setup = time.perf_counter()
        started = utc_now()
        src, run = self._setup()
        info = src.info
        prefetcher = ahead = bar = None
        t_loop = None
        try:
            if not o.quiet:
                from tqdm.auto import tqdm

                total = info.num_frames
                if o.max_frames is not None:
                    total = min(total, int(o.max_frames)) if total else int(o.max_frames)
                bar = tqdm(total=total, unit="frame", desc=info.name, file=sys.stderr, dynamic_ncols=True, leave=True)
            prefetcher = Prefetcher(src, maxsize=o.prefetch, on_exit=src.close)  # the decode thread releases it
            frames, ahead = _detected(prefetcher, run.models.detector, o.overlap)
            t_loop = time.perf_counter()
            index = -1
            for index, frame, decode_ms, dets, detect_ms in frames:
                emb, embed_ms = embed_detections(run.models.encoder, run.tracker, frame, dets)
                res = run.step(index, frame, dets, emb, {"decode": decode_ms, "detect": detect_ms, "embed": embed_ms})
                quit_requested = o.show and _show(run.annotated)
                if bar is not None:
                    bar.update(1)
                    if index % 10 == 0:
                        bar.set_postfix(tracks=len(res.tracks), ids=len(run.ids_seen), refresh=False)
                yield res
                if quit_requested:  # this frame is written and counted; then stop
                    run.status, run.message = "stopped", "closed by the user (q)"
                    break
                if o.max_frames is not None and index + 1 >= int(o.max_frames):
                    break
            else:
                if index < 0:
                    raise PipelineError(f"source {info.name!r} delivered no frames")
            if run.status == "failed":
                run.status = "completed"
                if src.end_reason:
                    run.status, run.message = "source_ended", src.end_reason
        except GeneratorExit:
            run.status, run.message = "stopped", "the caller stopped iterating"
            raise
        except KeyboardInterrupt:
            run.status, run.message = "interrupted", "interrupted (Ctrl-C)"
            raise
        except BaseException as exc:
            run.status, run.message = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            wall = (time.perf_counter() - t_loop) if t_loop is not None else 0.0
            if prefetcher is not None:
                prefetcher.close()  # first: a detect thread waiting on it then ends too
            else:
                src.close()
            if ahead is not None:
                ahead.close()
            if bar is not None:
                bar.close()
            if o.show:
                _close_windows()
            self.summary = run.finish(
                wall=wall, setup_s=time.perf_counter() - t_setup - wall if t_loop is not None else None,
                started=started)
        return self.summary


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
