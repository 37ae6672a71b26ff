"""The options of a tracking run (:class:`TrackingOptions`) and the error a bad one raises."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


class PipelineError(ValueError):
    """An option of the pipeline is unusable (device, tracker config, --show without a display...)."""


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
    one per thread; 1: one inference on every thread)."""
    reid_weights: Any = None
    """A checkpoint path, an exported model (``.onnx``, OpenVINO, ``.engine``), a known weights name, ``"none"``
    (untrained, on purpose), or None: the model's known trained weights."""
    detector: Any = "yolo11n.pt"
    """An Ultralytics model path or name, a MOT ``det.txt`` (one per source in a multi-source run), or a callable
    ``(frame, index) -> (N, 6)``."""
    classes: Any = ("person",)
    """Class names or ids to keep (None: all)."""
    conf: float = 0.25
    """Minimum detection score. Where tracks start moves with it (``trackreid.pipeline.models.start_thresholds``:
    0.5 / 0.6 at 0.25, 0.35 / 0.45 at 0.1) unless the tracker config sets ``track_high_thresh`` or
    ``new_track_thresh``."""
    imgsz: Any = None
    """Detector input size: an int (square) or ``(height, width)``, multiples of 32 (None: the model's own).
    Smaller is faster and misses more small people; ``(384, 640)`` runs a fixed-size 640 export on a 16:9 frame
    without the square letterbox's padding (README, "Detector input size")."""
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
    """Seconds a live stream may stall before it counts as down (then it reconnects, see ``reconnect``)."""
    reconnect: Any = None
    """How webcams and streams come back after a failure: a :class:`trackreid.io.sources.Reconnect`, or a number of
    reopening attempts per outage (0: the source ends at its first failure); None: ``Reconnect()`` (keep trying,
    backoff bounded). Each outage is logged and counted in the summary (``outages``); the tracker sees the gap
    (tracks go lost, the identity memory bridges it). Files and folders end at their end."""
    memory_file: Any = None
    """A file (``.npz``) that keeps the identity memory across runs: loaded at the start when it exists, saved
    atomically every ``memory_save_s`` seconds and at the end (also after Ctrl-C or a failure); with several
    sources, every source's memory and, with global IDs, the global bank (:mod:`trackreid.pipeline.memory_file`).
    A file written with another encoder is an error. None: the memory lasts as long as the run."""
    memory_save_s: float = 60.0
    """Seconds between two saves of ``memory_file``."""
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
    max_gap: int = 30
    """Fill gaps of at most this many frames in the MOT file and ``tracks.jsonl``: a person missed for a few frames
    whose rows on both sides carry the same final ID gets interpolated boxes there (``"interpolated": true``); every
    row then waits this many frames before it is written. 0: no filling. The per-frame results and the video are
    not changed."""
    overlap: bool = True
    """Run the detector on frame t+1 in a background thread while frame t is embedded and associated (the order of
    results and every output stay the same; False: one stage after the other)."""

    def __post_init__(self) -> None:
        if self.max_frames is not None and (isinstance(self.max_frames, bool) or int(self.max_frames) < 1):
            raise PipelineError(f"max_frames: expected a positive number of frames, got {self.max_frames}")
        if int(self.prefetch) < 1:
            raise PipelineError(f"prefetch: expected at least 1 frame, got {self.prefetch}")
        if int(self.trail) < 0:
            raise PipelineError(f"trail: expected a length >= 0, got {self.trail}")
        if isinstance(self.max_gap, bool) or int(self.max_gap) < 0:
            raise PipelineError(f"max_gap: expected a number of frames >= 0, got {self.max_gap}")
        if isinstance(self.lines, str) or isinstance(self.zones, str):
            raise PipelineError("lines / zones: expected a list of specs (e.g. lines=['0,700,1920,700:door'])")
        if self.lines or self.zones or self.events_config:
            from trackreid.analytics.regions import build_regions

            build_regions(self.lines, self.zones, self.events_config)  # a bad spec fails before any output exists
        from trackreid.io.sources import Reconnect

        try:
            Reconnect.of(self.reconnect)
        except ValueError as exc:
            raise PipelineError(str(exc)) from None
        if isinstance(self.memory_save_s, bool) or not float(self.memory_save_s) > 0:
            raise PipelineError(f"memory_save_s: expected a number of seconds > 0, got {self.memory_save_s}")
        if self.memory_file is not None and isinstance(self.reid, str) and self.reid.strip().lower() in (
                "none", "no", "off", "false", ""):
            raise PipelineError("memory_file: the identity memory needs a ReID encoder; drop --reid none or "
                                "--memory-file")
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


def detectors_per_source(detector, sources: int) -> list | None:
    """``TrackingOptions.detector`` for a run of ``sources`` sources: the list of one detector per source (a list or
    tuple, in source order), or None when one detector serves them all; a list of another length is a
    :class:`PipelineError`."""
    if not isinstance(detector, (list, tuple)):
        return None
    if len(detector) != sources:
        raise PipelineError(f"detector: {len(detector)} detectors for {sources} sources; give one detector for "
                            "every source, or one per source in source order")
    return list(detector)
