"""ReID: network architectures (``trackreid.reid.models``), model registry, encoder and weights.

Names load lazily, so ``import trackreid.reid`` stays light (no torch, no ultralytics until first use).
"""
from __future__ import annotations

_LAZY = {
    "build_model": "trackreid.reid.models.registry",
    "get_spec": "trackreid.reid.models.registry",
    "list_models": "trackreid.reid.models.registry",
    "ModelSpec": "trackreid.reid.models.registry",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'trackreid.reid' has no attribute {name!r}")
