"""Model names -> constructors, input sizes and normalisation.

``build_model(name, num_classes=0, pretrained_backbone=False, **kw)`` is the one way the rest of trackreid makes a
ReID network; ``get_spec(name)`` says how to feed it (input (H, W), RGB mean/std on 0..1 pixels, embedding size).
Importing this module does not import torch: the model modules load on the first ``build_model``.
"""
from __future__ import annotations

import difflib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ModelSpec", "build_model", "get_spec", "list_models", "imagenet_search_dirs"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    """How to feed one architecture.

    name: canonical model name.
    input_size: (H, W) crops are resized to; 256x128 for OSNet, 384x128 for BDB and PMM (their papers' sizes).
    mean, std: per-channel RGB normalisation applied to pixels scaled to 0..1 (ImageNet statistics for all).
    feature_dim: size of the eval-mode embedding.
    """

    name: str
    input_size: tuple[int, int]
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    feature_dim: int = 512


_OSNET_NAMES = (
    "osnet_x1_0", "osnet_x0_75", "osnet_x0_5", "osnet_x0_25", "osnet_ain_x1_0",
)
_OSNET_EXTRA = ("osnet_ibn_x1_0", "osnet_ain_x0_75", "osnet_ain_x0_5", "osnet_ain_x0_25")

_SPECS: dict[str, ModelSpec] = {
    **{n: ModelSpec(n, (256, 128)) for n in _OSNET_NAMES},
    "bdb": ModelSpec("bdb", (384, 128), feature_dim=1536),
    "pmm": ModelSpec("pmm", (384, 128), feature_dim=1536),
    **{n: ModelSpec(n, (256, 128)) for n in _OSNET_EXTRA},
}
_ALIASES = {"osnet": "osnet_x1_0", "osnet_ain": "osnet_ain_x1_0", "osnet_ibn": "osnet_ibn_x1_0"}


def list_models() -> list[str]:
    """Canonical model names (aliases such as ``"osnet"`` are accepted too but not listed)."""
    return list(_SPECS)


def _canonical(name: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"model name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key in _SPECS:
        return key
    known = list(_SPECS) + list(_ALIASES)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown ReID model {name!r}.{hint} Known models: {', '.join(_SPECS)} (alias: osnet).")


def get_spec(name: str) -> ModelSpec:
    """The ``ModelSpec`` of ``name`` (or of an alias); ``ValueError`` naming the known models otherwise."""
    return _SPECS[_canonical(name)]


def imagenet_search_dirs() -> list[Path]:
    """Where ImageNet backbone files are looked for: torchvision's hub cache (``<torch hub>/checkpoints``) and
    torchreid's (``$TORCH_HOME/checkpoints``, default ``~/.cache/torch/checkpoints``)."""
    import torch.hub

    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")).expanduser()
    dirs = [Path(torch.hub.get_dir()) / "checkpoints", torch_home / "checkpoints"]
    return list(dict.fromkeys(dirs))


def _imagenet_file_names(name: str) -> tuple[str, ...]:
    if name.startswith("osnet"):
        return (f"{name}_imagenet.pth", f"{name}_imagenet.pt")
    from .resnet import RESNET50_IMAGENET_FILES

    return RESNET50_IMAGENET_FILES


def _resolve_imagenet(name: str, pretrained_backbone) -> Path | None:
    """False/None -> None; a path -> that file; True -> the cached file or FileNotFoundError; "auto" -> the cached
    file or None with a warning."""
    if pretrained_backbone is None or pretrained_backbone is False:
        return None
    if isinstance(pretrained_backbone, (str, os.PathLike)) and str(pretrained_backbone) != "auto":
        path = Path(pretrained_backbone).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"pretrained_backbone file {str(path)!r} does not exist")
        return path
    if pretrained_backbone is not True and pretrained_backbone != "auto":
        raise ValueError(f"pretrained_backbone must be True, False, 'auto' or a file path, got {pretrained_backbone!r}")
    files = _imagenet_file_names(name)
    dirs = imagenet_search_dirs()
    for d in dirs:
        for f in files:
            if (d / f).is_file():
                return d / f
    msg = (
        f"no ImageNet weights for {name!r}: looked for {' or '.join(files)} in {', '.join(map(str, dirs))}. "
        f"Put the file there (no download is attempted) or pass its path as pretrained_backbone=..."
    )
    if pretrained_backbone == "auto":
        warnings.warn(msg + " Continuing from random initialisation; identities will be poor.", stacklevel=3)
        return None
    raise FileNotFoundError(msg)


def build_model(name: str, num_classes: int = 0, pretrained_backbone=False, **kwargs):
    """Build the network ``name`` (see ``list_models()``).

    num_classes: training identities; 0 builds no classifier (inference only, or metric-learning only).
    pretrained_backbone: False (random init), True (ImageNet weights from the local cache, error if absent),
        "auto" (use them if cached, warn otherwise) or a path to the file (torchvision's ResNet-50 ``.pth`` for
        bdb/pmm, torchreid's ``<arch>_imagenet.pth`` for OSNet).
    kwargs: passed to the model constructor (e.g. ``drop_height_ratio`` for bdb, ``num_patches`` for pmm).
    """
    key = _canonical(name)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 0:
        raise ValueError(f"num_classes must be a non-negative int, got {num_classes!r}")
    weights = _resolve_imagenet(key, pretrained_backbone)
    if key.startswith("osnet"):
        from .osnet import osnet

        return osnet(key, num_classes=num_classes, imagenet_weights=weights, **kwargs)
    if key == "bdb":
        from .bdb import BDB

        model = BDB(num_classes=num_classes, **kwargs)
    else:
        from .pmm import PMM

        model = PMM(num_classes=num_classes, **kwargs)
    if weights is not None:
        model.backbone.load_imagenet(weights)
    return model
