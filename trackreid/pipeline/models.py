"""What a run loads once and every source shares: the device, the detector, the ReID encoder; and the tracker of
each source."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackreid.pipeline.options import PipelineError, TrackingOptions

_NO_REID = ("none", "no", "off", "false", "")


def resolve_device(device: str | int | None = "auto") -> str:
    """``"auto"`` -> ``"cuda:0"`` when a GPU is usable, else ``"cpu"``; checks that a requested GPU exists
    (:func:`trackreid.reid.encoder.resolve_torch_device`, as a :class:`PipelineError`)."""
    from trackreid.reid.encoder import resolve_torch_device

    try:
        return str(resolve_torch_device(device))
    except ValueError as exc:
        raise PipelineError(str(exc)) from None


DEFAULT_CONF = TrackingOptions.conf
"""The detector's default minimum score, for which ``TrackerConfig``'s track-start thresholds are set."""


def start_thresholds(conf: float) -> dict:
    """Track-start thresholds for a run whose detector reports boxes from ``conf`` up: ``track_high_thresh`` and
    ``new_track_thresh`` keep their distance above the default ``--conf`` (0.5 and 0.6 at 0.25), so lowering
    ``--conf`` lowers where tracks start by as much, raising it raises them (capped at 0.95)."""
    from trackreid.tracking.config import TrackerConfig

    shift = float(conf) - DEFAULT_CONF
    high = min(0.95, max(TrackerConfig.track_low_thresh, TrackerConfig.track_high_thresh + shift))
    return {"track_high_thresh": round(high, 4),
            "new_track_thresh": round(min(0.95, max(high, TrackerConfig.new_track_thresh + shift)), 4)}


def build_tracker(tracker_config=None, tracker=None, encoder=None, conf: float | None = None):
    """A Tracker from a YAML path, a dict of overrides, a TrackerConfig, or None (defaults). The thresholds stored
    with ``encoder``'s weights (``encoder.thresholds``) and the track-start thresholds of the detector's ``conf``
    (:func:`start_thresholds`) fill the keys a YAML file or dict leaves out; a TrackerConfig is used as given."""
    from trackreid.tracking.tracker import Tracker, TrackerConfig

    if tracker is not None:
        return tracker
    scale = getattr(encoder, "thresholds", None)
    defaults = scale.tracker_settings() if scale is not None else None
    if conf is not None:
        defaults = {**(defaults or {}), **start_thresholds(conf)}
    if tracker_config is None:
        cfg = TrackerConfig.from_dict({}, defaults)
    elif isinstance(tracker_config, TrackerConfig):
        cfg = tracker_config
    elif isinstance(tracker_config, dict):
        cfg = TrackerConfig.from_dict(tracker_config, defaults)
    else:
        path = Path(tracker_config)
        if not path.is_file():
            raise PipelineError(f"tracker config {str(tracker_config)!r} does not exist (expected a YAML file)")
        cfg = TrackerConfig.from_yaml(path, defaults)
    return Tracker(cfg)


def build_linker(names: list[str], topology=None, scale=None):
    """The cross-camera linker of a multi-source run, with the linking threshold and margin of ``scale`` (the
    encoder's :class:`~trackreid.reid.thresholds.EncoderThresholds`; None: ``LinkConfig``'s defaults)."""
    from trackreid.tracking.global_ids import GlobalIdentities, LinkConfig

    config = LinkConfig(**scale.link_settings()) if scale is not None else None
    return GlobalIdentities.from_topology(names, topology, config)


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


def encoder_report(encoder) -> dict | None:
    """What ReID encoder ran, for ``summary.json``: architecture, weights (known name, file, sha256 prefix),
    runtime, precision and device (:meth:`trackreid.reid.encoder.Encoder.describe`); a user's encoder object by
    its type and embedding size; None for motion-only tracking."""
    if encoder is None:
        return None
    describe = getattr(encoder, "describe", None)
    if callable(describe):
        return describe()
    dim = getattr(encoder, "dim", None)
    return {"arch": type(encoder).__name__, "dim": int(dim) if dim else None, "weights": None, "runtime": "python"}


def encoder_fingerprint(encoder) -> str | None:
    """Which embedding space ``encoder`` produces (:meth:`trackreid.reid.encoder.Encoder.fingerprint`; a user's
    encoder object: its type and embedding size); None for motion-only tracking."""
    if encoder is None:
        return None
    fingerprint = getattr(encoder, "fingerprint", None)
    if callable(fingerprint):
        return fingerprint()
    dim = getattr(encoder, "dim", None)
    return f"{type(encoder).__module__}.{type(encoder).__qualname__}/{int(dim) if dim else '?'}"


def detector_report(detector) -> dict:
    """What detector ran, for ``summary.json``: its model (name or path), the file's sha256 prefix when it is one
    file, and for a model its device, minimum score and, when one was asked for, input size (``imgsz``; with
    ``model_file``, the resized copy of a fixed-size export that ran)."""
    from trackreid.reid.weights import sha256_file

    if isinstance(detector, list):  # one per source: the first one's report, with every model named
        out = detector_report(detector[0])
        out["models"] = [str(getattr(d, "name", type(d).__name__)) for d in detector]
        return out
    name = str(getattr(detector, "name", type(detector).__name__))
    kind = {"YoloDetector": "ultralytics", "MotFileDetector": "det.txt"}.get(type(detector).__name__, "callable")
    out = {"model": name, "kind": kind}
    path = Path(name)
    if kind != "callable" and path.is_file():
        out["sha256"] = sha256_file(path)[:16]
    for key in ("device", "conf"):
        if hasattr(detector, key) and kind == "ultralytics":
            out[key] = getattr(detector, key)
    if kind == "ultralytics" and getattr(detector, "imgsz", None) is not None:  # None: the model's own size
        out["imgsz"] = detector.imgsz if isinstance(detector.imgsz, int) else list(detector.imgsz)
        if getattr(detector, "model_path", name) != name:  # a fixed-size export resized for it
            out["model_file"] = str(detector.model_path)
    return out
