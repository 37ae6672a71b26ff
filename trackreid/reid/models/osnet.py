"""OSNet, the omni-scale network (Zhou et al., ICCV 2019, arXiv 1905.00953), and its IN variants.

Each residual block runs four streams of stacked "lite" 3x3 convolutions (1x1 pointwise + 3x3 depthwise),
so the streams see receptive fields of 3, 5, 7 and 9 pixels; a unified aggregation gate (one small channel-attention
network shared by the four streams) weighs each stream per channel before they are summed.

Parameter names and shapes follow the checkpoints the community publishes (torchreid's model zoo, BoxMOT's
`osnet_*_<dataset>.pt` files), so those load here with ``strict=True``:

* ``osnet_x1_0 / x0_75 / x0_5 / x0_25``: width multipliers of the stage widths (64, 256, 384, 512).
* ``osnet_ibn_x1_0``: instance norm in the stem and after each first-stage block (IBN-style).
* ``osnet_ain_x*``: the AIN architecture found by search (Zhou et al., TPAMI 2021): instance norm in the stem and
  inside chosen residual blocks, and the multi-scale streams held in a list (``conv2.<t>.layers``).

Every variant ends in global average pooling and ``fc`` = Linear(C, 512) + BN + ReLU, whose output (512-d) is the
embedding; ``classifier`` (Linear 512 -> classes) exists only when ``num_classes > 0`` and is used only in training.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "OSNet",
    "OSNetConfig",
    "OSNET_CONFIGS",
    "osnet",
    "load_imagenet_osnet",
]


# ----------------------------------------------------------------------------------------------------------------
# Layers (attribute names are part of the checkpoint format: conv / bn / conv1 / conv2 / fc1 / fc2 / IN)
# ----------------------------------------------------------------------------------------------------------------
class ConvNormReLU(nn.Module):
    """k x k convolution, batch norm (or affine instance norm), ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, instance_norm: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn = nn.InstanceNorm2d(cout, affine=True) if instance_norm else nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Conv1x1Linear(nn.Module):
    """1x1 convolution with optional batch norm and no activation (block outputs, shortcuts)."""

    def __init__(self, cin: int, cout: int, bn: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return x if self.bn is None else self.bn(x)


class LiteConv3x3(nn.Module):
    """Lite 3x3: pointwise 1x1 then depthwise 3x3, one BN and ReLU after both (the paper's Fig. 3)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, groups=cout, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv2(self.conv1(x))), inplace=True)


def _lite_stack(channels: int, depth: int) -> nn.Sequential:
    return nn.Sequential(*(LiteConv3x3(channels, channels) for _ in range(depth)))


class AggregationGate(nn.Module):
    """Unified aggregation gate: GAP -> 1x1 (C -> C/16) -> ReLU -> 1x1 (C/16 -> C) -> sigmoid, times the input.

    One gate instance is shared by all streams of a block, which is what makes it "unified"."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = F.adaptive_avg_pool2d(x, 1)
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(w), inplace=True)))
        return x * w


class _Stream(nn.Module):
    """A stack of lite 3x3 convolutions held as ``layers`` (the AIN checkpoints' layout)."""

    def __init__(self, channels: int, depth: int):
        super().__init__()
        self.layers = _lite_stack(channels, depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class OSBlock(nn.Module):
    """Omni-scale residual bottleneck, streams named ``conv2a``..``conv2d`` (torchreid's OSNet layout).

    ``instance_norm`` adds an affine InstanceNorm after the residual sum (the IBN variant's first stage)."""

    def __init__(self, cin: int, cout: int, instance_norm: bool = False, bottleneck_reduction: int = 4):
        super().__init__()
        mid = cout // bottleneck_reduction
        self.conv1 = ConvNormReLU(cin, mid, 1)
        self.conv2a = LiteConv3x3(mid, mid)
        self.conv2b = _lite_stack(mid, 2)
        self.conv2c = _lite_stack(mid, 3)
        self.conv2d = _lite_stack(mid, 4)
        self.gate = AggregationGate(mid)
        self.conv3 = Conv1x1Linear(mid, cout)
        self.downsample = Conv1x1Linear(cin, cout) if cin != cout else None
        self.IN = nn.InstanceNorm2d(cout, affine=True) if instance_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x)
        g = self.gate
        h = g(self.conv2a(h)) + g(self.conv2b(h)) + g(self.conv2c(h)) + g(self.conv2d(h))
        out = self.conv3(h) + (x if self.downsample is None else self.downsample(x))
        if self.IN is not None:
            out = self.IN(out)
        return F.relu(out)


class OSBlockAIN(nn.Module):
    """Omni-scale block of the AIN architecture: streams in ``conv2`` (a list of ``layers`` stacks).

    With ``instance_norm`` the block output branch is conv3 (no BN) -> affine InstanceNorm, added to the shortcut."""

    def __init__(self, cin: int, cout: int, instance_norm: bool, bottleneck_reduction: int = 4, num_streams: int = 4):
        super().__init__()
        mid = cout // bottleneck_reduction
        self.conv1 = ConvNormReLU(cin, mid, 1)
        self.conv2 = nn.ModuleList(_Stream(mid, depth) for depth in range(1, num_streams + 1))
        self.gate = AggregationGate(mid)
        self.conv3 = Conv1x1Linear(mid, cout, bn=not instance_norm)
        self.downsample = Conv1x1Linear(cin, cout) if cin != cout else None
        self.IN = nn.InstanceNorm2d(cout, affine=True) if instance_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x)
        agg = None
        for stream in self.conv2:
            s = self.gate(stream(h))
            agg = s if agg is None else agg + s
        out = self.conv3(agg)
        if self.IN is not None:
            out = self.IN(out)
        out = out + (x if self.downsample is None else self.downsample(x))
        return F.relu(out)


def _transition(channels: int) -> nn.Sequential:
    """Between stages: 1x1 conv-BN-ReLU then 2x2 average pooling (halves H and W)."""
    return nn.Sequential(ConvNormReLU(channels, channels, 1), nn.AvgPool2d(2, stride=2))


# ----------------------------------------------------------------------------------------------------------------
# Network
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OSNetConfig:
    """Architecture of one OSNet variant.

    channels: widths of (stem, stage 2, stage 3, stage 4); x1.0 is (64, 256, 384, 512).
    style: "standard" (plain OSNet), "ibn" (IN in stem and stage-2 blocks) or "ain" (searched AIN layout).
    """

    channels: tuple[int, int, int, int]
    style: str = "standard"


_WIDTHS = {
    "x1_0": (64, 256, 384, 512),
    "x0_75": (48, 192, 288, 384),
    "x0_5": (32, 128, 192, 256),
    "x0_25": (16, 64, 96, 128),
}

OSNET_CONFIGS: dict[str, OSNetConfig] = {
    **{f"osnet_{w}": OSNetConfig(c, "standard") for w, c in _WIDTHS.items()},
    "osnet_ibn_x1_0": OSNetConfig(_WIDTHS["x1_0"], "ibn"),
    **{f"osnet_ain_{w}": OSNetConfig(c, "ain") for w, c in _WIDTHS.items()},
}

# The AIN stage layouts: True = block with instance norm inside (conv3 -> IN), False = plain BN block.
_AIN_STAGES = ((True, True), (False, True), (True, False))


class OSNet(nn.Module):
    """OSNet backbone + 512-d embedding head (+ classifier when ``num_classes > 0``).

    ``eval()``: ``model(x) -> (N, 512)`` embeddings (not normalised).
    ``train()``: ``model(x, labels=None) -> {"logits": [(N, C)], "feats": [(N, 512)]}`` (``logits`` is empty when
    the model has no classifier). ``labels`` is accepted for a uniform interface and not used.
    """

    def __init__(self, config: OSNetConfig, num_classes: int = 0, feature_dim: int = 512):
        super().__init__()
        if config.style not in ("standard", "ibn", "ain"):
            raise ValueError(f"OSNetConfig.style must be 'standard', 'ibn' or 'ain', got {config.style!r}")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        c0, c1, c2, c3 = config.channels
        self.config = config
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        style = config.style

        self.conv1 = ConvNormReLU(3, c0, 7, stride=2, instance_norm=style in ("ibn", "ain"))
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        if style == "ain":
            self.conv2 = self._ain_stage(_AIN_STAGES[0], c0, c1)
            self.pool2 = _transition(c1)
            self.conv3 = self._ain_stage(_AIN_STAGES[1], c1, c2)
            self.pool3 = _transition(c2)
            self.conv4 = self._ain_stage(_AIN_STAGES[2], c2, c3)
        else:
            ibn = style == "ibn"
            self.conv2 = nn.Sequential(OSBlock(c0, c1, ibn), OSBlock(c1, c1, ibn), _transition(c1))
            self.conv3 = nn.Sequential(OSBlock(c1, c2), OSBlock(c2, c2), _transition(c2))
            self.conv4 = nn.Sequential(OSBlock(c2, c3), OSBlock(c3, c3))
            self.pool2 = self.pool3 = None
        self.conv5 = ConvNormReLU(c3, c3, 1)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(c3, feature_dim), nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(feature_dim, num_classes) if num_classes > 0 else None
        self.reset_parameters()

    @staticmethod
    def _ain_stage(layout: tuple[bool, ...], cin: int, cout: int) -> nn.Sequential:
        blocks = [OSBlockAIN(cin if i == 0 else cout, cout, instance_norm=use_in) for i, use_in in enumerate(layout)]
        return nn.Sequential(*blocks)

    def reset_parameters(self) -> None:
        """Kaiming-normal convolutions, unit/zero norms, N(0, 0.01) linear layers (the usual ReID init)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d)) and m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Image batch (N, 3, H, W) -> last feature map (N, C, H/16, W/16)."""
        x = self.maxpool(self.conv1(x))
        x = self.conv2(x)
        if self.pool2 is not None:
            x = self.pool2(x)
        x = self.conv3(x)
        if self.pool3 is not None:
            x = self.pool3(x)
        x = self.conv4(x)
        return self.conv5(x)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None):
        v = self.fc(self.global_avgpool(self.forward_features(x)).flatten(1))
        if not self.training:
            return v
        logits = [self.classifier(v)] if self.classifier is not None else []
        return {"logits": logits, "feats": [v]}


def osnet(name: str, num_classes: int = 0, imagenet_weights: str | Path | None = None, **kwargs) -> OSNet:
    """Build the OSNet variant ``name`` (a key of ``OSNET_CONFIGS``), optionally initialised from torchreid's
    ImageNet checkpoint file ``imagenet_weights`` (loaded non-strictly: the 1000-class classifier is skipped)."""
    if name not in OSNET_CONFIGS:
        raise ValueError(f"unknown OSNet variant {name!r}; known: {', '.join(sorted(OSNET_CONFIGS))}")
    model = OSNet(OSNET_CONFIGS[name], num_classes=num_classes, **kwargs)
    if imagenet_weights is not None:
        load_imagenet_osnet(model, imagenet_weights)
    return model


def load_imagenet_osnet(model: nn.Module, path: str | Path, min_coverage: float = 0.9) -> dict:
    """Copy every tensor of an ImageNet-pretrained OSNet checkpoint whose name and shape match ``model``.

    Accepts a plain state_dict or ``{"state_dict": ...}``, with or without ``module.`` prefixes. Raises
    ``ValueError`` when fewer than ``min_coverage`` of the model's backbone tensors are found (wrong file or
    variant). Returns ``{"loaded": [...], "skipped": [...]}``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ImageNet OSNet checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file name and a hint
        raise ValueError(
            f"could not read {str(path)!r} as a tensor-only checkpoint ({exc}); re-save it as a plain state_dict"
        ) from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{str(path)!r} holds a {type(state).__name__}, expected a state_dict")
    state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    backbone_keys = [k for k in own if not k.startswith("classifier.")]
    coverage = sum(k in matched for k in backbone_keys) / max(len(backbone_keys), 1)
    if coverage < min_coverage:
        raise ValueError(
            f"{str(path)!r} matches only {coverage:.0%} of this model's backbone tensors; is it the ImageNet "
            f"checkpoint of the same OSNet variant?"
        )
    model.load_state_dict(matched, strict=False)
    return {"loaded": sorted(matched), "skipped": sorted(set(state) - set(matched))}
