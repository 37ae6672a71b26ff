"""trackreid: multi-object tracking of people with ReID appearance and Kalman motion."""
from __future__ import annotations

__version__ = "0.1.0"

# Heavy modules (torch, ultralytics) load on first use, so `import trackreid` stays fast.
_LAZY = {
    "Tracker": "trackreid.tracking.tracker",
    "TrackerConfig": "trackreid.tracking.tracker",
    "build_encoder": "trackreid.reid.encoder",
    "Encoder": "trackreid.reid.encoder",
    "build_model": "trackreid.reid.models.registry",
    "track_video": "trackreid.pipeline",
    "TrackingOptions": "trackreid.pipeline",
    "track_streams": "trackreid.streams",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'trackreid' has no attribute {name!r}")
