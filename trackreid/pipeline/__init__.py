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

from trackreid.pipeline.embed import embed_detections, embed_many, to_embed
from trackreid.pipeline.models import Models, build_models, build_reid, build_tracker, resolve_device
from trackreid.pipeline.options import PipelineError, TrackingOptions
from trackreid.pipeline.runner import Runner, TrackingRun, run, track_video
from trackreid.pipeline.source_run import FrameResult, SourceRun
from trackreid.pipeline.summary import STAGES, StageStats, run_summary, source_report, source_summary, utc_now

__all__ = [
    "FrameResult", "Models", "PipelineError", "Runner", "STAGES", "SourceRun", "StageStats", "TrackingOptions",
    "TrackingRun",
    "build_models", "build_reid", "build_tracker", "embed_detections", "embed_many", "resolve_device",
    "run", "run_summary", "to_embed", "source_report", "source_summary", "track_video", "utc_now",
]
