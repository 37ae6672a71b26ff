"""What both integrations load the same way as a tracking run: the ReID encoder and a tracker per video."""
from __future__ import annotations

from trackreid.pipeline.options import PipelineError, TrackingOptions

MODEL_OPTIONS = ("reid", "reid_weights", "reid_runtime", "reid_threads", "reid_streams", "device", "half",
                 "tracker_config")
"""The :class:`~trackreid.pipeline.TrackingOptions` fields an integration takes (each documented there, once)."""


def model_options(where: str, kw: dict, extra: tuple[str, ...] = ()) -> TrackingOptions:
    """``kw`` as :class:`TrackingOptions` (defaults and checks from there); a keyword no integration uses is a
    :class:`PipelineError` naming the valid ones."""
    valid = MODEL_OPTIONS + extra
    unknown = sorted(set(kw) - set(valid))
    if unknown:
        raise PipelineError(f"{where}: unknown option(s) {unknown}; valid options are: {', '.join(sorted(valid))}")
    return TrackingOptions.make(**kw)


def load_encoder(opts: TrackingOptions):
    """The encoder a run with these options would use (None: motion only), on ``opts.device`` resolved."""
    from trackreid.pipeline.models import build_reid, resolve_device

    device = resolve_device(opts.device)
    return build_reid(opts.reid, opts.reid_weights, device=device, half=opts.half, runtime=opts.reid_runtime,
                      threads=opts.reid_threads, streams=opts.reid_streams)


def new_tracker(opts: TrackingOptions, encoder, conf: float | None):
    """A fresh :class:`~trackreid.Tracker` as a run builds it: ``tracker_config``, the encoder's thresholds and the
    track-start thresholds of the detector's ``conf`` (None: ``TrackerConfig``'s defaults, set for 0.25)."""
    from trackreid.pipeline.models import build_tracker

    return build_tracker(opts.tracker_config, None, encoder, conf)
