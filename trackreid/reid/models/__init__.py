"""ReID network architectures: OSNet family, BDB, PMM (build them with ``build_model``)."""
from __future__ import annotations

from .registry import ModelSpec, build_model, get_spec, list_models

__all__ = ["ModelSpec", "build_model", "get_spec", "list_models"]
