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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generator

import numpy as np

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


def build_reid(reid, reid_weights=None, device="cpu", half=None):
    """An encoder from a model name (``osnet``, ``osnet_x0_25``, ``bdb``, ``pmm``...), ``"auto"`` (the architecture
    of ``reid_weights``, or OSNet x1.0 without weights), an encoder object, or None / ``"none"`` for motion-only
    tracking (returns None)."""
    if reid is None or reid is False or (isinstance(reid, str) and reid.strip().lower() in _NO_REID):
        if reid_weights:
            raise PipelineError("--reid-weights given with --reid none; choose a ReID model or drop the weights")
        return None
    if callable(reid) and not isinstance(reid, str):
        return reid
    from trackreid.reid.encoder import build_encoder

    name = str(reid)
    if name.strip().lower() == "auto":
        name = None if reid_weights else "osnet"
    return build_encoder(name, weights=reid_weights, device=device, half=half)


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


class TrackingRun:
    """One run of the pipeline: iterate it for :class:`FrameResult` objects; ``.summary`` holds the summary
    afterwards (also after an interruption). ``run()`` consumes everything and returns the summary.

    Arguments are those of :func:`track_video`.
    """

    def __init__(self, source, **options):
        self.source = source
        self.options = options
        self.summary: dict | None = None
        self.output_dir: Path | None = Path(options["output"]) if options.get("output") else None

    def run(self) -> dict:
        for _ in self:
            pass
        return self.summary

    def __iter__(self) -> Generator[FrameResult, None, dict]:
        return self._generate(self.source, **self.options)

    def _generate(self, source, reid="auto", reid_weights=None, detector="yolo11n.pt", classes=("person",),
                  conf: float = 0.25, device="auto", half=None, tracker_config=None, output=None,
                  save_video: bool = True, show: bool = False, max_frames: int | None = None, quiet: bool = False,
                  tracker=None, imgsz: int | None = None, trail: int = 30, prefetch: int = 8,
                  video_name: str = "annotated.mp4", mot_name: str = "tracks.txt",
                  stream_timeout_s: float = 10.0):
        from trackreid.detection.base import build_detector

        if max_frames is not None and int(max_frames) < 1:
            raise PipelineError(f"max_frames: expected a positive number of frames, got {max_frames}")
        t_setup = time.perf_counter()
        started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        src: Source = open_source(source, stream_timeout_s=stream_timeout_s)
        info = src.info
        prefetcher = outputs = bar = None
        stats = _StageStats()
        ids_seen: set[int] = set()
        n_dets = n_tracks = 0
        status, message = "failed", ""
        t_loop = None
        dev = None
        reid_name = reid if isinstance(reid, str) or reid is None else type(reid).__name__
        try:
            dev = resolve_device(device)
            use_half = dev.startswith("cuda") if half is None else bool(half)
            if show:
                _check_display()
            det = build_detector(detector, classes=classes, conf=conf, device=dev, half=use_half, imgsz=imgsz,
                                 quiet=quiet)
            encoder = build_reid(reid, reid_weights, device=dev, half=half)
            trk = build_tracker(tracker_config, tracker)
            class_names = getattr(det, "class_names", None) or {0: "person"}
            if output is not None:
                from trackreid.io.sinks import RunOutputs

                outputs = RunOutputs(output, fps=info.fps, size=(info.width, info.height), save_video=save_video,
                                     class_names=class_names, trail=trail, video_name=video_name,
                                     mot_name=mot_name)
                self.output_dir = outputs.dir
            drawer = None
            if show or (outputs is not None and outputs.wants_image):
                from trackreid.io.draw import TrackDrawer

                drawer = outputs.drawer if outputs is not None else TrackDrawer(trail=trail, class_names=class_names)
            total = info.num_frames
            if max_frames is not None:
                total = min(total, int(max_frames)) if total else int(max_frames)
            if not quiet:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, unit="frame", desc=info.name, file=sys.stderr, dynamic_ncols=True,
                           leave=True)
            setup_s = time.perf_counter() - t_setup
            prefetcher = Prefetcher(src, maxsize=prefetch, on_exit=src.close)  # the decode thread releases it
            emb_dim = getattr(encoder, "dim", None)
            # The tracker reads appearance only for detections scoring at least track_high_thresh (low-score ones
            # extend tracks by IoU and never touch feature memory), so only those are embedded.
            embed_min_score = float(getattr(getattr(trk, "config", None), "track_high_thresh", 0.0))
            t_loop = time.perf_counter()
            index = -1
            for index, (frame, decode_ms) in enumerate(prefetcher):
                t0 = time.perf_counter()
                dets = det(frame, index)
                t1 = time.perf_counter()
                emb = None
                if encoder is not None:
                    emb = _embed(encoder, frame, dets, embed_min_score, emb_dim)
                    emb_dim = emb.shape[1] if emb.shape[1] else emb_dim
                t2 = time.perf_counter()
                tracks = np.asarray(trk.update(dets, frame, embeddings=emb), dtype=np.float64).reshape(-1, 8)
                t3 = time.perf_counter()
                annotated = None
                if drawer is not None:
                    annotated = drawer.draw(frame, tracks)
                if outputs is not None:
                    extra = {"time_s": round(index / info.fps, 4)} if info.fps else None
                    outputs.write(index + 1, tracks, annotated, extra)
                quit_requested = False
                if show:
                    import cv2

                    cv2.imshow("trackreid", annotated)
                    quit_requested = cv2.waitKey(1) & 0xFF in (ord("q"), 27)
                t4 = time.perf_counter()
                # a stage that did no work reports exactly 0, not the cost of timing an empty call
                timings = {"decode": decode_ms, "detect": (t1 - t0) * 1e3,
                           "embed": (t2 - t1) * 1e3 if encoder is not None else 0.0,
                           "associate": (t3 - t2) * 1e3, "write": (t4 - t3) * 1e3}
                stats.add(timings)
                if len(tracks):
                    ids_seen.update(np.unique(tracks[:, 4].astype(np.int64)).tolist())
                n_dets += len(dets)
                n_tracks += len(tracks)
                if bar is not None:
                    bar.update(1)
                    if index % 10 == 0:
                        bar.set_postfix(tracks=len(tracks), ids=len(ids_seen), refresh=False)
                yield FrameResult(index, tracks, dets, frame, timings)
                if quit_requested:  # this frame is written and counted; then stop
                    status, message = "stopped", "closed by the user (q)"
                    break
                if max_frames is not None and index + 1 >= int(max_frames):
                    break
            else:
                if index < 0:
                    raise PipelineError(f"source {info.name!r} delivered no frames")
            if status == "failed":
                status = "completed"
                if src.end_reason:
                    status, message = "source_ended", src.end_reason
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
            wall = (time.perf_counter() - t_loop) if t_loop is not None else 0.0
            if prefetcher is not None:
                prefetcher.close()
            else:
                src.close()
            if bar is not None:
                bar.close()
            if show:
                _close_windows()
            if t_loop is not None or outputs is not None:
                self.summary = _summary(
                    info=info, source=source, status=status, message=message, frames=stats.frames, wall=wall,
                    setup_s=time.perf_counter() - t_setup - wall if t_loop is not None else None,
                    stats=stats, ids_seen=ids_seen, n_dets=n_dets, n_tracks=n_tracks, reid=reid_name,
                    reid_weights=reid_weights, detector=detector, device=dev, started=started, outputs=outputs,
                )
            if outputs is not None:
                outputs.close(self.summary)
        return self.summary


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


def _embed(encoder, frame, dets: np.ndarray, min_score: float, dim: int | None) -> np.ndarray:
    """Embeddings for ``dets`` (one row each). Rows scoring below ``min_score`` are not run through the encoder;
    they get a copy of a computed row (or a unit vector), which the tracker never reads."""
    n = len(dets)
    if n == 0:
        return np.empty((0, dim or 0), np.float32)
    need = np.flatnonzero(dets[:, 4] >= min_score)
    if len(need) == n:
        return np.asarray(encoder(frame, np.ascontiguousarray(dets[:, :4])), dtype=np.float32)
    if len(need) == 0:
        if not dim:
            return np.asarray(encoder(frame, np.ascontiguousarray(dets[:1, :4])), dtype=np.float32)[[0] * n]
        out = np.zeros((n, dim), np.float32)
        out[:, 0] = 1.0
        return out
    part = np.asarray(encoder(frame, np.ascontiguousarray(dets[need, :4])), dtype=np.float32)
    out = np.empty((n, part.shape[1]), np.float32)
    out[:] = part[0]
    out[need] = part
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


def track_video(source, reid="auto", reid_weights=None, detector="yolo11n.pt", classes=("person",),
                conf: float = 0.25, device="auto", half=None, tracker_config=None, output=None,
                save_video: bool = True, show: bool = False, max_frames: int | None = None, quiet: bool = False,
                **kwargs) -> Generator[FrameResult, None, dict]:
    """Track people in ``source`` and yield a :class:`FrameResult` per frame; the generator returns the summary.

    source: a video file, an image folder (or a MOT sequence folder with ``img1/``), a webcam index, or a stream URL.
    reid: ``"auto"`` (default: the architecture of ``reid_weights``, else OSNet x1.0),
        ``"osnet"`` (OSNet x1.0), ``"osnet_x0_25"``/``_x0_5``/``_x0_75``, ``"osnet_ain_x1_0"``, ``"bdb"``,
        ``"pmm"``, an encoder object, or ``"none"`` for motion only. reid_weights: a path or known weights name
        (None: random init, with a warning).
    detector: an Ultralytics model path/name, a MOT ``det.txt``, or a callable ``(frame, index) -> (N, 6)``.
    classes: class names or ids to keep (None: all). conf: minimum detection score.
    device: ``"auto"``, ``"cpu"``, ``"cuda:0"``. half: fp16 (None: on CUDA only).
    tracker_config: YAML path, dict or ``TrackerConfig``. ``tracker=`` may pass a ready Tracker instead.
    output: folder for ``tracks.txt``, ``tracks.jsonl``, ``annotated.mp4`` and ``summary.json``
        (None: write nothing). save_video: write the annotated video. show: display frames (q quits).
    max_frames: stop after this many frames. quiet: no progress bar.
    Other keywords: ``imgsz`` (detector input size), ``trail`` (trail length in frames, 30),
    ``prefetch`` (decoded frames buffered ahead, 8), ``video_name`` ("annotated.mp4" or an ``.avi`` name),
    ``mot_name`` ("tracks.txt"; ``"SEQ.txt"`` for ``trackreid-eval``),
    ``stream_timeout_s`` (10).
    """
    return (yield from TrackingRun(
        source, reid=reid, reid_weights=reid_weights, detector=detector, classes=classes, conf=conf, device=device,
        half=half, tracker_config=tracker_config, output=output, save_video=save_video, show=show,
        max_frames=max_frames, quiet=quiet, **kwargs,
    ))


def run(source, **options: Any) -> dict:
    """Run :func:`track_video` to the end and return its summary."""
    return TrackingRun(source, **options).run()
