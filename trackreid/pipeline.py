"""The end-to-end pipeline: source -> detector -> encoder -> tracker -> outputs, as a Python generator.

>>> from trackreid import track_video
>>> for r in track_video("street.mp4", reid="osnet_x0_25", output="runs/street"):
...     print(r.frame_id, r.tracks[:, 4])          # per-frame results as they come
>>> run = TrackingRun("street.mp4", reid="none")   # the same, keeping the summary at hand
>>> for r in run: ...
>>> run.summary["fps"]

``track_video`` is a generator: the summary is its return value (``summary = yield from track_video(...)``
inside another generator, or ``StopIteration.value``); :class:`TrackingRun` and :func:`run` are the easy ways
to get it. Frames are decoded ahead of inference in a background thread; the detector and the encoder stay on
the device. Outputs are written as the run goes and finalised in a ``finally``, so Ctrl-C, a broken stream or
leaving the loop early keeps everything up to the last frame, with a ``summary.json`` saying how it ended.
"""
from __future__ import annotations

import datetime as _dt
import sys
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Generator

import numpy as np

from trackreid.io.deferred import FinalRows
from trackreid.io.sources import Prefetcher, Source, open_source

STAGES = ("decode", "detect", "embed", "associate", "write")
_NO_REID = ("none", "no", "off", "false", "")


class PipelineError(ValueError):
    """An option of the pipeline is unusable (device, tracker config, --show without a display...)."""


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


def resolve_device(device: str | int | None = "auto") -> str:
    """``"auto"`` -> ``"cuda:0"`` when a GPU is usable, else ``"cpu"``; checks that a requested GPU exists
    (:func:`trackreid.reid.encoder.resolve_torch_device`, as a :class:`PipelineError`)."""
    from trackreid.reid.encoder import resolve_torch_device

    try:
        return str(resolve_torch_device(device))
    except ValueError as exc:
        raise PipelineError(str(exc)) from None


def build_tracker(tracker_config=None, tracker=None):
    """A Tracker from a YAML path, a dict of overrides, a TrackerConfig, or None (defaults)."""
    from trackreid.tracking.tracker import Tracker, TrackerConfig

    if tracker is not None:
        return tracker
    if tracker_config is None:
        cfg = TrackerConfig()
    elif isinstance(tracker_config, TrackerConfig):
        cfg = tracker_config
    elif isinstance(tracker_config, dict):
        cfg = TrackerConfig.from_dict(tracker_config)
    else:
        path = Path(tracker_config)
        if not path.is_file():
            raise PipelineError(f"tracker config {str(tracker_config)!r} does not exist (expected a YAML file)")
        cfg = TrackerConfig.from_yaml(path)
    return Tracker(cfg)


def build_reid(reid, reid_weights=None, device="cpu", half=None, runtime: str = "auto", threads: int | None = None,
               streams: int | None = None):
    """An encoder from a model name (``osnet``, ``osnet_x0_25``, ``bdb``, ``pmm``...), ``"auto"`` (the architecture
    of ``reid_weights``, or OSNet x0.25 with its bundled trained weights), an encoder object, or None / ``"none"``
    for motion-only tracking (returns None)."""
    if reid is None or reid is False or (isinstance(reid, str) and reid.strip().lower() in _NO_REID):
        if reid_weights:
            raise PipelineError("--reid-weights given with --reid none; choose a ReID model or drop the weights")
        return None
    if callable(reid) and not isinstance(reid, str):
        return reid
    from trackreid.reid.encoder import build_encoder

    name = str(reid)
    if name.strip().lower() == "auto":
        untrained = isinstance(reid_weights, str) and reid_weights.strip().lower() == "none"
        name = None if reid_weights and not untrained else "osnet_x0_25"
    return build_encoder(name, weights=reid_weights, device=device, half=half, runtime=runtime, threads=threads,
                         streams=streams)


class _StageStats:
    """Per-stage time totals; the first frame (model warm-up) is kept apart from the steady-state means."""

    def __init__(self):
        self.total = {s: 0.0 for s in STAGES}
        self.first = {s: 0.0 for s in STAGES}
        self.frames = 0

    def add(self, timings: dict[str, float]) -> None:
        target = self.first if self.frames == 0 else self.total
        for k, v in timings.items():
            target[k] = target.get(k, 0.0) + v
        self.frames += 1

    def means(self) -> dict[str, float]:
        if self.frames <= 1:
            return {k: round(v, 3) for k, v in self.first.items()}
        return {k: round(v / (self.frames - 1), 3) for k, v in self.total.items()}


@dataclass
class TrackingOptions:
    """Every option of a tracking run, in one place: :func:`track_video`, :class:`TrackingRun`,
    :func:`trackreid.streams.track_streams` and the ``trackreid`` command all take these (as keywords)."""

    reid: Any = "auto"
    """ReID encoder: ``"auto"`` (the architecture of ``reid_weights``, else OSNet x0.25 with its bundled Market-1501
    weights), a model name (``osnet``, ``osnet_x0_25``, ``bdb``, ``pmm``...), an encoder object, or ``"none"``."""
    reid_runtime: str = "auto"
    """Where a PyTorch checkpoint runs: ``"auto"`` (the fastest checked runtime for the device), ``"torch"``,
    ``"onnxruntime"``, ``"openvino"`` (see :func:`trackreid.build_encoder`)."""
    reid_threads: int | None = None
    """Cores the CPU ReID runtime uses (None: all cores; half of them when a detection model runs beside the
    encoder, ``overlap`` on a CPU, since both work at once)."""
    reid_streams: int | None = None
    """Concurrent inferences each batch of crops is split into, ``reid_threads // reid_streams`` threads each (None:
    one per thread; 1: one inference on every thread, the previous way)."""
    reid_weights: Any = None
    """A checkpoint path, an exported model (``.onnx``, OpenVINO, ``.engine``), a known weights name, ``"none"``
    (untrained, on purpose), or None: the model's known trained weights."""
    detector: Any = "yolo11n.pt"
    """An Ultralytics model path or name, a MOT ``det.txt`` (one per source in a multi-source run), or a callable
    ``(frame, index) -> (N, 6)``."""
    classes: Any = ("person",)
    """Class names or ids to keep (None: all)."""
    conf: float = 0.25
    """Minimum detection score."""
    imgsz: int | None = None
    """Detector input size (None: the model's own)."""
    device: Any = "auto"
    """``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``."""
    half: bool | None = None
    """fp16 inference (None: on for CUDA only)."""
    tracker_config: Any = None
    """A YAML path, a dict of ``TrackerConfig`` fields, or a ``TrackerConfig``."""
    tracker: Any = None
    """A ready :class:`~trackreid.Tracker` to use instead of building one from ``tracker_config``."""
    output: Any = None
    """Folder for the outputs (None: write nothing)."""
    save_video: bool = True
    """Write the annotated video."""
    video_name: str = "annotated.mp4"
    """Name of the annotated video (``.avi``: Motion JPEG)."""
    mot_name: str = "tracks.txt"
    """Name of the MOT results file (``SEQ.txt`` for ``trackreid-eval``)."""
    trail: int = 30
    """Trail length drawn on the video, in frames."""
    show: bool = False
    """Display the annotated frames (q quits)."""
    max_frames: int | None = None
    """Stop after this many frames (per source)."""
    quiet: bool = False
    """No progress bar."""
    prefetch: int = 8
    """Decoded frames buffered ahead of inference."""
    stream_timeout_s: float = 10.0
    """Seconds a live stream may stall before it counts as ended."""
    lines: Any = ()
    """Counting lines, ``"x1,y1,x2,y2[:name]"`` strings or :class:`trackreid.analytics.Line` objects: crossings
    per identity, with direction, in ``events.jsonl`` and the summary."""
    zones: Any = ()
    """Zones, ``"x1,y1,x2,y2,x3,y3,...[:name]"`` polygons or :class:`trackreid.analytics.Zone` objects: enter/exit
    and dwell time per identity."""
    events_config: Any = None
    """A YAML file of lines and zones (added to ``lines`` and ``zones``)."""
    events: bool | None = None
    """Write ``events.jsonl`` (view enter/exit per identity) even without lines or zones (None: only with them)."""
    save_crops: int = 0
    """Keep the N best crops of each identity in a Market-1501 layout under ``output/crops`` (0: none), ready for
    ``trackreid-train --data tracks``."""
    overlap: bool = True
    """Run the detector on frame t+1 in a background thread while frame t is embedded and associated (the order of
    results and every output stay the same; False: one stage after the other, as before)."""

    def __post_init__(self) -> None:
        if self.max_frames is not None and (isinstance(self.max_frames, bool) or int(self.max_frames) < 1):
            raise PipelineError(f"max_frames: expected a positive number of frames, got {self.max_frames}")
        if int(self.prefetch) < 1:
            raise PipelineError(f"prefetch: expected at least 1 frame, got {self.prefetch}")
        if int(self.trail) < 0:
            raise PipelineError(f"trail: expected a length >= 0, got {self.trail}")
        if isinstance(self.lines, str) or isinstance(self.zones, str):
            raise PipelineError("lines / zones: expected a list of specs (e.g. lines=['0,700,1920,700:door'])")
        if self.lines or self.zones or self.events_config:
            from trackreid.analytics.regions import build_regions

            build_regions(self.lines, self.zones, self.events_config)  # a bad spec fails before any output exists
        if self.save_crops and self.output is None:
            raise PipelineError("save_crops: needs an output folder (the crops go to OUTPUT/crops)")

    @classmethod
    def make(cls, options: "TrackingOptions | None" = None, **kw) -> "TrackingOptions":
        """``options`` (or the defaults) with ``kw`` on top; an unknown keyword is a :class:`PipelineError`."""
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(kw) - valid)
        if unknown:
            raise PipelineError(f"unknown option(s) {unknown}; valid options are: {', '.join(sorted(valid))}")
        if options is None:
            return cls(**kw)
        if not isinstance(options, cls):
            raise PipelineError(f"options: expected a TrackingOptions, got {type(options).__name__}")
        return replace(options, **kw) if kw else options


@dataclass
class Models:
    """What every source of a run shares: the detector, the ReID encoder (None: motion only) and the device."""

    detector: Any
    encoder: Any
    device: str
    class_names: dict


def build_models(opts: TrackingOptions, detector=None) -> Models:
    """Resolve the device and load the detector (``detector`` overrides ``opts.detector``) and the encoder once."""
    from trackreid.detection.base import build_detector
    from trackreid.detection.motfile import MotFileDetector

    dev = resolve_device(opts.device)
    use_half = dev.startswith("cuda") if opts.half is None else bool(opts.half)
    det = build_detector(opts.detector if detector is None else detector, classes=opts.classes, conf=opts.conf,
                         device=dev, half=use_half, imgsz=opts.imgsz, quiet=opts.quiet)
    threads = opts.reid_threads
    if threads is None and opts.overlap and dev == "cpu" and not isinstance(det, MotFileDetector):
        from trackreid.reid.runtimes import default_threads

        threads = max(1, default_threads() // 2, opts.reid_streams or 1)  # the detector runs on the other half
    encoder = build_reid(opts.reid, opts.reid_weights, device=dev, half=opts.half, runtime=opts.reid_runtime,
                         threads=threads, streams=opts.reid_streams)
    return Models(det, encoder, dev, getattr(det, "class_names", None) or {0: "person"})


def embed_detections(encoder, tracker, frame, dets: np.ndarray) -> tuple[np.ndarray | None, float]:
    """Embeddings of the rows of ``dets`` the tracker will read (its rule, :func:`embed_rows`), and the
    milliseconds spent; a run without an encoder spends exactly 0."""
    if encoder is None:
        return None, 0.0
    t0 = time.perf_counter()
    emb = embed_many(encoder, [frame], [dets], [embed_rows(tracker, dets)])[0]
    return emb, (time.perf_counter() - t0) * 1e3


def embed_many(encoder, frames: list[np.ndarray], dets_list: list[np.ndarray],
               rows: list[np.ndarray]) -> list[np.ndarray | None]:
    """Embeddings of the detections of one or several frames, every crop in one forward when the encoder can (its
    ``preprocess`` and ``forward``), else one call per frame. Only ``rows`` of each frame are embedded (the
    tracker's rule, :func:`embed_rows`; the other rows as :func:`scatter_embeddings` fills them)."""
    if encoder is None:
        return [None] * len(frames)
    dim = getattr(encoder, "dim", None)
    pre, fwd = getattr(encoder, "preprocess", None), getattr(encoder, "forward", None)
    if pre is not None and fwd is not None and sum(len(r) for r in rows):
        import torch

        crops = [pre(f, np.ascontiguousarray(d[r, :4])) for f, d, r in zip(frames, dets_list, rows) if len(r)]
        feats = fwd(torch.cat(crops)).float().cpu().numpy()
        parts, at = [], 0
        for r in rows:
            parts.append(feats[at:at + len(r)] if len(r) else None)
            at += len(r)
    else:
        parts = [np.asarray(encoder(f, np.ascontiguousarray(d[r, :4])), np.float32) if len(r) else None
                 for f, d, r in zip(frames, dets_list, rows)]
    return [scatter_embeddings(len(d), r, p, dim) for d, r, p in zip(dets_list, rows, parts)]


def utc_now() -> str:
    """The current time for a summary's ``started_at`` (ISO 8601, UTC, seconds)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def embed_rows(tracker, dets: np.ndarray) -> np.ndarray:
    """The detection rows whose embeddings ``tracker`` reads (``Tracker.embed_rows``: valid boxes scoring at least
    ``track_high_thresh``; low-score ones only extend tracks by IoU). A tracker without that rule reads all."""
    rule = getattr(tracker, "embed_rows", None)
    return np.asarray(rule(dets), np.int64) if rule is not None else np.arange(len(dets))


class SourceRun:
    """The per-source half of a run: one tracker, its outputs, drawing, statistics and summary.

    ``step()`` takes a frame with its detections and embeddings (computed by the caller, possibly batched with
    other sources) and returns the :class:`FrameResult`; ``finish()`` writes the summary and closes the outputs.
    """

    def __init__(self, source, info, opts: TrackingOptions, models: Models, *, output=None, tracker=None,
                 camera: int = 0):
        self.source, self.info, self.opts, self.models = source, info, opts, models
        self.tracker = build_tracker(opts.tracker_config, tracker if tracker is not None else opts.tracker)
        self.stats = _StageStats()
        self.ids_seen: set[int] = set()
        self.n_dets = self.n_tracks = 0
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

            self.analytics = RunAnalytics(self.output_dir, info.fps, lines=opts.lines, zones=opts.zones,
                                          events_config=opts.events_config, save_crops=int(opts.save_crops),
                                          camera=camera, events=opts.events, frame_size=(info.width, info.height),
                                          final_ids=self._ids_known_now)
        self._events: list[dict] = []  # events that became final during this step
        self.rows = FinalRows.for_tracker(self.outputs, self.tracker, listeners=[self._on_final])
        self.drawer = None
        self.annotated: np.ndarray | None = None  # the last frame drawn (for --show)
        self.relabel = None  # (frame, tracks, tracker) -> global IDs; set by a multi-camera linker
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
        self.rows = FinalRows(self.outputs, final_ids, delay, rename=rename, listeners=[self._on_final])

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

    def step(self, index: int, frame: np.ndarray, dets: np.ndarray, emb, timings: dict[str, float]) -> FrameResult:
        """Associate, draw and write frame ``index`` (0-based); ``timings`` holds decode/detect/embed so far. The
        result's ``events`` are those that became final in this step (of this frame or an earlier one)."""
        t0 = time.perf_counter()
        trk = self.tracker
        tracks = np.asarray(trk.update(dets, frame, embeddings=emb), dtype=np.float64).reshape(-1, 8)
        reentries = dict(getattr(trk, "reentries", None) or {})
        gids = self.relabel(index + 1, tracks, trk) if self.relabel is not None and len(tracks) else None
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
        self.n_tracks += len(tracks)
        return FrameResult(index, tracks, dets, frame, timings, global_ids=gids, reentries=reentries, events=events)

    def finish(self, *, wall: float, setup_s: float | None, started: str, extra: dict | None = None) -> dict:
        """Write ``summary.json`` (status and message as set by the caller) and close the outputs."""
        self.rows.flush()     # the last held frames: their events and IDs belong in the summary
        o = self.opts
        reid = o.reid if isinstance(o.reid, str) or o.reid is None else type(o.reid).__name__
        self.summary = _summary(
            info=self.info, source=self.source, status=self.status, message=self.message, frames=self.stats.frames,
            wall=wall, setup_s=setup_s, stats=self.stats, ids_seen=self.ids_seen, n_dets=self.n_dets,
            n_tracks=self.n_tracks, reid=reid, reid_weights=o.reid_weights, detector=o.detector,
            device=self.models.device if self.models is not None else None, started=started, outputs=self.outputs,
        )
        memory = getattr(self.tracker, "memory_size", None)
        self.summary["reentries"] = self.reentries
        if memory is not None:
            self.summary["memory_size"] = int(memory() if callable(memory) else memory)
        if extra:
            self.summary.update(extra)
        if self.analytics is not None:
            self.summary.update(self.analytics.close())
        self.rows.close(self.summary)
        return self.summary


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


def _summary(*, info, source, status, message, frames, wall, setup_s, stats, ids_seen, n_dets, n_tracks, reid,
             reid_weights, detector, device, started, outputs) -> dict:
    import trackreid

    ms = stats.means()
    per_frame = sum(ms.values())
    return {
        "trackreid_version": trackreid.__version__,
        "started_at": started,
        "status": status,  # completed | stopped | interrupted | source_ended | failed
        "message": message,
        "source": str(source),
        "source_info": {"name": info.name, "kind": info.kind, "width": info.width, "height": info.height,
                        "fps": info.fps, "num_frames": info.num_frames},
        "frames": frames,
        "wall_s": round(wall, 3),
        "setup_s": round(setup_s, 3) if setup_s is not None else None,
        "fps": round(frames / wall, 2) if wall > 0 else None,
        "stage_ms": ms,  # mean per frame, first (warm-up) frame excluded when there is more than one
        "stage_fps": {k: (round(1000.0 / v, 1) if v > 0 else None) for k, v in ms.items()},
        "pipeline_ms": round(per_frame, 3),  # sum of the stages (decode overlaps the others: it runs ahead)
        "warmup_ms": {k: round(v, 1) for k, v in stats.first.items()},
        "unique_identities": len(ids_seen),
        "detections": n_dets,
        "track_rows": n_tracks,
        "reid": reid,
        "reid_weights": str(reid_weights) if reid_weights else None,
        "detector": detector if isinstance(detector, str) else str(getattr(detector, "name", type(detector).__name__)),
        "device": device,
        "outputs": {k: str(v) for k, v in outputs.paths.items()} if outputs is not None else {},
    }


def scatter_embeddings(n: int, rows: np.ndarray, part: np.ndarray | None, dim: int | None) -> np.ndarray | None:
    """(n, D) embeddings with ``part`` at ``rows``; the other rows (never read by the tracker) hold a unit vector.
    None when nothing was embedded and the dimension is unknown (the tracker then uses motion for this frame)."""
    d = part.shape[1] if part is not None and part.ndim == 2 and part.shape[1] else (dim or 0)
    if not d:
        return None
    out = np.zeros((n, d), np.float32)
    out[:, 0] = 1.0
    if part is not None and len(rows):
        out[rows] = part
    return out


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
