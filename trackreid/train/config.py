"""Training configuration: one dataclass, recipes as YAML files shipped in ``trackreid/train/recipes/``.

A run's configuration is ``TrainConfig()`` defaults, then the recipe YAML, then command-line overrides
(``--set key=value`` and the dedicated flags). Each default is documented once, here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RECIPE_DIR = Path(__file__).parent / "recipes"


@dataclass
class TrainConfig:
    # what
    model: str = "osnet_x0_25"  #: architecture name from trackreid.reid.models.registry
    #: dataset: market1501, dukemtmcreid, cuhk03_labeled/detected, msmt17, folder, tracks, and for evaluation only
    #: flat / cuhk03_flat
    data: str = "market1501"
    root: str = ""  #: folder holding the dataset (for tracks: run folders separated by commas)
    #: data flat / cuhk03_flat only: regex whose named groups ``pid`` and ``cam`` read each file name (None: the
    #: dataset's own, ``^(?P<pid>\d+)_(?P<cam>\d+)`` for IIII_KK.jpg)
    name_pattern: str | None = None
    #: data flat / cuhk03_flat only: camera id from the integer ``cam`` group, ``cam``, ``cam//N`` or ``cam-N``
    #: (None: the dataset's own, ``cam`` for flat, ``cam//5`` for cuhk03_flat)
    camera_rule: str | None = None
    output: str = "runs/train"  #: folder for checkpoints (last.pt, best.pt), metrics.csv and TensorBoard logs
    #: start from ImageNet weights: true (the file found in the cache folders; random init with a warning when
    #: absent), false (random init), or the path of the ImageNet checkpoint itself (an error when it is missing)
    pretrained_backbone: bool | str = True
    #: start from this ReID checkpoint (a path or known weights name; trackreid, torchreid or BoxMOT file) instead
    #: of the ImageNet backbone: fine-tuning; its classifier is not loaded ("": off; with ``--data tracks`` the
    #: encoder the runs used, see :func:`trackreid.train.datasets.tracks.run_encoder_weights`; "none": random init)
    init_weights: str = ""
    # input and augmentation
    height: int = 256  #: input height
    width: int = 128  #: input width
    flip: float = 0.5  #: horizontal flip probability
    pad: int = 10  #: pad-and-random-crop border in pixels (0 off)
    erasing: float = 0.5  #: random erasing probability (0 off)
    color_jitter: float = 0.0  #: colour jitter strength (0 off)
    # sampling
    batch_size: int = 64  #: images per step per process (under torchrun the global batch is this x processes)
    sampler: str = "random"  #: "random" (softmax) or "pk" (P identities x K instances, for triplet)
    num_instances: int = 4  #: K of the P x K sampler
    # losses
    label_smooth: float = 0.1  #: label smoothing epsilon of the cross entropy
    ce_weight: float = 1.0  #: weight of the cross entropy (summed over the model's branches)
    triplet_weight: float = 0.0  #: weight of the batch-hard triplet loss (0 off)
    triplet_margin: float = 0.3  #: triplet margin; 0 = soft margin
    # optimisation
    optimizer: str = "amsgrad"  #: adam, amsgrad, sgd or adamw
    lr: float = 0.0015  #: base learning rate
    weight_decay: float = 5e-4  #: L2 weight decay
    momentum: float = 0.9  #: SGD momentum (also Adam's beta1)
    epochs: int = 150  #: number of epochs
    scheduler: str = "step"  #: "step" (x gamma at each of `steps`), "cosine" (to 0 over `epochs`) or "constant"
    steps: list[int] = field(default_factory=lambda: [60])  #: epochs at which the step scheduler multiplies by gamma
    gamma: float = 0.1  #: factor of each step
    warmup_epochs: int = 0  #: epochs of warm-up (0 off)
    warmup: str = "linear"  #: "linear" (from warmup_factor to 1, per epoch) or "step5" (lr*(epoch//5+1)*5/warmup_epochs)
    warmup_factor: float = 0.1  #: starting fraction of the lr for linear warm-up
    fixbase_epochs: int = 0  #: epochs training only `open_layers` (needs a pretrained backbone; skipped otherwise)
    open_layers: list[str] = field(default_factory=lambda: ["classifier"])  #: modules trained during fixbase
    grad_clip: float = 0.0  #: clip the global gradient norm to this value (0 off)
    amp: bool = True  #: mixed precision on CUDA (bf16 where supported, else fp16 with a grad scaler); no effect on CPU
    # run control
    seed: int = 0  #: seed of everything random (sampling, augmentation, initialisation)
    deterministic: bool = False  #: deterministic CUDA kernels (bit-exact GPU runs, slower); CPU runs are always exact
    workers: int = 4  #: data-loader worker processes (0 = load in the main process; at most the usable cores)
    device: str = "auto"  #: "auto" (cuda when available), "cpu", "cuda", "cuda:1", ...
    max_steps: int = 0  #: stop after this many optimiser steps in total, saving a checkpoint (0 = no limit)
    steps_per_epoch: int = 0  #: cap on steps per epoch (0 = the full epoch)
    # evaluation
    eval_every: int = 10  #: evaluate every N epochs and at the end (0 = only at the end; -1 = never)
    eval_flip: bool = False  #: average features of the image and its mirror at test time
    rerank: bool = False  #: k-reciprocal re-ranking at evaluation
    cuhk03_metric: bool = False  #: CUHK03's single-gallery-shot CMC (classic protocol); 767/700 uses Market's
    eval_batch_size: int = 128  #: images per forward pass when extracting features

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first invalid field."""
        def bad(name: str, expected: str) -> ValueError:
            return ValueError(f"config {name}={getattr(self, name)!r}: expected {expected}")

        for name in ("height", "width", "batch_size", "num_instances", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise bad(name, "a positive integer")
        for name in ("epochs", "max_steps", "steps_per_epoch", "warmup_epochs", "fixbase_epochs", "workers", "pad"):
            if int(getattr(self, name)) < 0:
                raise bad(name, "an integer >= 0")
        for name in ("flip", "erasing"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise bad(name, "a probability in [0, 1]")
        if self.sampler not in ("random", "pk"):
            raise bad("sampler", "'random' or 'pk'")
        if self.optimizer not in ("adam", "amsgrad", "sgd", "adamw"):
            raise bad("optimizer", "adam, amsgrad, sgd or adamw")
        if self.scheduler not in ("step", "cosine", "constant"):
            raise bad("scheduler", "step, cosine or constant")
        if self.warmup not in ("linear", "step5"):
            raise bad("warmup", "linear or step5")
        if self.lr <= 0:
            raise bad("lr", "a positive number")
        if self.sampler == "pk" and self.batch_size % self.num_instances:
            raise bad("batch_size", f"a multiple of num_instances ({self.num_instances}) for the pk sampler")
        for name in ("name_pattern", "camera_rule"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise bad(name, "a string (quote it in YAML) or null")
        if not isinstance(self.steps, list):
            self.steps = [int(s) for s in (self.steps if isinstance(self.steps, (tuple, list)) else [self.steps])]

    def lr_factor(self, epoch: int) -> float:
        """Multiplier of the base lr during ``epoch`` (0-based): warm-up, then the schedule."""
        if epoch < self.warmup_epochs:
            if self.warmup == "step5":
                return min(1.0, (epoch // 5 + 1) * 5 / self.warmup_epochs)
            return self.warmup_factor + (1 - self.warmup_factor) * epoch / self.warmup_epochs
        if self.scheduler == "step":
            return self.gamma ** sum(epoch >= s for s in self.steps)
        if self.scheduler == "cosine":
            import math
            return 0.5 * (1 + math.cos(math.pi * epoch / max(1, self.epochs)))
        return 1.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]


def recipe_path(recipe: str) -> Path:
    """A shipped recipe name (osnet, bdb, pmm) or a YAML file path."""
    p = Path(recipe)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise ValueError(f"recipe file {p} does not exist")
        return p
    shipped = RECIPE_DIR / f"{recipe}.yaml"
    if not shipped.is_file():
        names = sorted(q.stem for q in RECIPE_DIR.glob("*.yaml"))
        raise ValueError(f"unknown recipe {recipe!r}; expected one of {names} or a path to a .yaml file")
    return shipped


def default_recipe(model: str, data: str | None = None) -> str:
    """The shipped recipe: ``tracks`` for fine-tuning on a run's crops (``data`` tracks), else by model name: bdb,
    pmm, else osnet."""
    if data == "tracks":
        return "tracks"
    m = model.lower()
    return "bdb" if m.startswith("bdb") else "pmm" if m.startswith("pmm") else "osnet"


RAW_STRING_KEYS = ("name_pattern", "camera_rule")  #: --set values taken as written, not parsed as YAML


def _coerce(name: str, value: Any, default: Any) -> Any:
    if name in RAW_STRING_KEYS:
        return None if value is None or value == "" else value
    if name == "pretrained_backbone" and isinstance(value, str) and value.lower() not in (
            "1", "true", "yes", "on", "0", "false", "no", "off"):
        return value  # a file path
    if isinstance(default, bool):
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"config {name}: expected true/false, got {value!r}")
        return bool(value)
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"config {name}: expected an integer, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"config {name}: expected a number, got {value!r}")
        return float(value)
    if isinstance(default, list):
        if isinstance(value, (int, str)):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"config {name}: expected a list, got {value!r}")
        return list(value)
    if isinstance(default, str):
        return str(value)
    return value


def merge(base: dict[str, Any], overrides: dict[str, Any], source: str) -> dict[str, Any]:
    """``base`` updated by ``overrides``; unknown keys and ill-typed values are errors naming ``source``."""
    defaults = TrainConfig.__dataclass_fields__
    out = dict(base)
    for k, v in overrides.items():
        key = k.replace("-", "_")
        if key not in defaults:
            raise ValueError(f"{source}: unknown setting {k!r}; valid keys: {', '.join(TrainConfig.field_names())}")
        f = defaults[key]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out[key] = _coerce(key, v, default)
    return out


def load_recipe(recipe: str) -> dict[str, Any]:
    path = recipe_path(recipe)
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"recipe {path}: expected a mapping of settings, got {type(data).__name__}")
    return merge({}, data, f"recipe {path}")


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["lr=0.001", "steps=[20,40]"]`` -> dict; values are parsed as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected key=value")
        k, v = item.split("=", 1)
        if k.strip().replace("-", "_") in RAW_STRING_KEYS:  # a regex like [0-9]+ is no YAML list
            out[k.strip()] = v.strip()
        else:
            out[k.strip()] = yaml.safe_load(v) if v.strip() else ""
    return out


def build_config(recipe: str | None = None, model: str | None = None, overrides: dict[str, Any] | None = None
                 ) -> TrainConfig:
    """Defaults <- recipe (the model's shipped one when ``recipe`` is None) <- overrides."""
    overrides = dict(overrides or {})
    model = model or overrides.get("model")
    values = load_recipe(recipe or default_recipe(model or "osnet", overrides.get("data")))
    if model:
        overrides["model"] = model
    values = merge(values, overrides, "command line")
    return TrainConfig(**values)
