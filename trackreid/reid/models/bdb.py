"""BDB, the Batch DropBlock network (Dai et al., "Batch DropBlock Network for Person Re-identification and Beyond",
ICCV 2019).

Two branches share a ResNet-50 whose last stride is 1 (384x128 input -> 2048x24x8 map):

* global branch: global average pooling -> 1x1 conv 2048->512 + BN + ReLU -> 512-d feature -> classifier;
* feature-dropping branch: an extra ResNet bottleneck (2048->2048) -> Batch DropBlock -> global max pooling ->
  Linear 2048->1024 + BN + ReLU -> 1024-d feature -> classifier.

Batch DropBlock (training only) zeroes ONE random rectangle, the same for every sample of the batch: its height is
``round(0.3 * H)`` rows at a random vertical offset and it spans the full width. Dropping the same region across the
batch forces the triplet loss to compare people on what remains, i.e. on less salient parts.

Inference embedding: the 512-d global and 1024-d dropping-branch features concatenated (1536-d); nothing random
and no classifier runs in ``eval()`` mode. Paper figures: Market-1501 R1 95.3 / mAP 86.7, CUHK03-detected 76.4 / 73.5.
"""
from __future__ import annotations

import torch
from torch import nn

from .resnet import ResNet50LastStride1, extra_bottleneck, init_head

__all__ = ["BDB", "BatchDropBlock"]


class BatchDropBlock(nn.Module):
    """Zero one rectangle (height ``round(h_ratio*H)``, width ``round(w_ratio*W)``) at a random place, shared by
    the whole batch; identity in ``eval()`` mode. The offset is drawn from torch's CPU generator (so
    ``torch.manual_seed`` makes it reproducible, and no device sync is needed)."""

    def __init__(self, h_ratio: float = 0.3, w_ratio: float = 1.0):
        super().__init__()
        if not (0.0 < h_ratio <= 1.0 and 0.0 < w_ratio <= 1.0):
            raise ValueError(f"BatchDropBlock ratios must be in (0, 1], got h_ratio={h_ratio}, w_ratio={w_ratio}")
        self.h_ratio = h_ratio
        self.w_ratio = w_ratio

    def block(self, h: int, w: int) -> tuple[int, int, int, int]:
        """Draw (top, left, height, width) of the rectangle for an h x w map."""
        rh = max(1, round(self.h_ratio * h))
        rw = max(1, round(self.w_ratio * w))
        top = int(torch.randint(0, h - rh + 1, (1,)).item())
        left = int(torch.randint(0, w - rw + 1, (1,)).item())
        return top, left, rh, rw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        h, w = x.shape[-2:]
        top, left, rh, rw = self.block(h, w)
        mask = x.new_ones((1, 1, h, w))
        mask[..., top:top + rh, left:left + rw] = 0
        return x * mask

    def extra_repr(self) -> str:
        return f"h_ratio={self.h_ratio}, w_ratio={self.w_ratio}"


class BDB(nn.Module):
    """Batch DropBlock network.

    ``eval()``: ``model(x) -> (N, 1536)``. ``train()``: ``model(x, labels=None) -> {"logits": [global (N, C),
    drop (N, C)], "feats": [global (N, 512), drop (N, 1024)]}`` (``logits`` empty when ``num_classes == 0``).
    """

    def __init__(self, num_classes: int = 0, drop_height_ratio: float = 0.3, drop_width_ratio: float = 1.0,
                 global_dim: int = 512, drop_dim: int = 1024):
        super().__init__()
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        self.num_classes = num_classes
        self.feature_dim = global_dim + drop_dim
        self.backbone = ResNet50LastStride1()
        c = self.backbone.out_channels
        # global branch
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.global_reduction = nn.Sequential(
            nn.Conv2d(c, global_dim, 1, bias=False), nn.BatchNorm2d(global_dim), nn.ReLU(inplace=True)
        )
        # feature-dropping branch
        self.drop_bottleneck = extra_bottleneck()
        self.batch_drop = BatchDropBlock(drop_height_ratio, drop_width_ratio)
        self.drop_pool = nn.AdaptiveMaxPool2d(1)
        self.drop_reduction = nn.Sequential(nn.Linear(c, drop_dim), nn.BatchNorm1d(drop_dim), nn.ReLU(inplace=True))
        if num_classes > 0:
            self.global_classifier = nn.Linear(global_dim, num_classes)
            self.drop_classifier = nn.Linear(drop_dim, num_classes)
        else:
            self.global_classifier = self.drop_classifier = None
        init_head(self.global_reduction, self.drop_reduction, self.global_classifier, self.drop_classifier)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None):
        fmap = self.backbone(x)
        g = self.global_reduction(self.global_pool(fmap)).flatten(1)
        d = self.batch_drop(self.drop_bottleneck(fmap))
        d = self.drop_reduction(self.drop_pool(d).flatten(1))
        if not self.training:
            return torch.cat([g, d], dim=1)
        logits = [] if self.global_classifier is None else [self.global_classifier(g), self.drop_classifier(d)]
        return {"logits": logits, "feats": [g, d]}

