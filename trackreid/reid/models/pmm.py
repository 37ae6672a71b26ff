"""PMM, Progressive Multi-stage feature Mix (Zhang, He, Sun, Li, "Progressive Multi-stage Feature Mix for Person
Re-Identification", ICASSP 2021, arXiv 2007.08779).

Backbone: ResNet-50 with last stride 1 (384x128 -> 2048x24x8 map ``F``), as in BDB.

* Stage 1 = BDB's global branch: GAP -> 1x1 conv 2048->512 + BN + ReLU (512-d ``f1``) -> classifier C1.
* Stages 2 and 3 share one extra ResNet bottleneck ``P = B(F)`` after layer4; each stage has its own global max
  pooling, Linear 2048->512 + BN + ReLU (512-d ``f2``/``f3``) and classifier (C2, C3).
* Attentive feature Hard-Mix (A-Hard-Mix), training only, with labels: a Grad-CAM of the previous stage's
  classifier (the gradient of each sample's ground-truth logit w.r.t. that stage's input map, taken with
  ``torch.autograd.grad`` so parameter gradients are untouched and the graph stays usable for ``backward``)
  is summed over patches of 3x2 cells; the k=3 most salient patches of each sample's map are replaced by the same
  patches of another identity's sample in the batch. Labels stay unchanged, so the classifier must recognise the
  person from what is left: each stage is pushed to look at regions the previous one did not rely on.

Inference embedding: ``[f1, f2, f3]`` concatenated (1536-d); eval mode runs no gradient, no mixing, no classifier.

Reading of the paper where it is ambiguous (settled with the authors' released code, models/progressive_networks.py,
read for facts only):

1. "3x2 patches" are patches of 3 rows x 2 columns of the 24x8 map (8x4 = 32 candidate patches), not a 3x2 grid.
   Patch saliency is the SUM of the CAM over the patch; the top k=3 patches are replaced (~9 % of the map).
2. The CAM is Grad-CAM: channel weights = spatial mean of d(ground-truth logit)/d(map), CAM = ReLU(sum_c w_c map_c);
   the ground-truth logits of the batch are summed before the gradient (each sample's map only affects its own
   logit, so this gives every sample its own CAM in one call).
3. Where the mixing happens: stage 2's CAM is taken w.r.t. ``F`` (stage 1's input) and applied to ``P = B(F)``
   (same 24x8 grid). Stage 3's CAM is taken w.r.t. stage 2's (mixed) input map, and applied to the UNMIXED ``P``:
   the progression is in where the attention points, not an accumulation of replaced patches.
4. The donor is a random sample of the batch with a different label, drawn independently per sample and per stage
   (the released code assumes 4 consecutive images per identity; we use the labels instead). A sample with no
   other identity in the batch is left unmixed.
5. Without labels (or with autograd disabled, or no classifiers) in train mode, Hard-Mix is skipped.
6. Triplet features are the 512-d stage features (after BN + ReLU), paired with each stage's logits.

Paper figures (A-Hard-Mix row of the ablation): Market-1501 94.1 / 85.2, DukeMTMC 88.0 / 74.6, CUHK03 76.3 / 73.0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .resnet import ResNet50LastStride1, extra_bottleneck, init_head

__all__ = ["PMM", "AttentiveHardMix", "grad_cam"]


def grad_cam(logits: torch.Tensor, labels: torch.Tensor, fmap: torch.Tensor) -> torch.Tensor:
    """Grad-CAM (N, H, W) of the ground-truth class w.r.t. ``fmap`` (N, C, H, W), detached.

    Uses ``torch.autograd.grad(..., retain_graph=True)``: no ``.grad`` is written and the graph survives for the
    training loss's backward."""
    score = logits.gather(1, labels.view(-1, 1)).sum()
    (grad,) = torch.autograd.grad(score, fmap, retain_graph=True)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    return F.relu((weights * fmap.detach()).sum(dim=1))


class AttentiveHardMix(nn.Module):
    """Replace each sample's ``num_patches`` most salient patches by those of a sample of another identity.

    ``forward(fmap, cam, labels) -> (mixed, mask, donors)``: ``mask`` (N, 1, H, W) bool marks replaced cells,
    ``donors`` (N,) the batch index each sample took its patches from (itself when no other identity exists)."""

    def __init__(self, patch_size: tuple[int, int] = (3, 2), num_patches: int = 3):
        super().__init__()
        ph, pw = patch_size
        if ph < 1 or pw < 1 or num_patches < 1:
            raise ValueError(f"patch_size must be positive and num_patches >= 1, got {patch_size}, {num_patches}")
        self.patch_size = (int(ph), int(pw))
        self.num_patches = int(num_patches)

    def salient_mask(self, cam: torch.Tensor) -> torch.Tensor:
        """(N, H, W) saliency -> (N, 1, H, W) bool mask of the top-k patches (patch score = sum of the CAM)."""
        n, h, w = cam.shape
        ph, pw = self.patch_size
        gh, gw = -(-h // ph), -(-w // pw)
        padded = F.pad(cam, (0, gw * pw - w, 0, gh * ph - h))
        scores = padded.reshape(n, gh, ph, gw, pw).sum(dim=(2, 4)).flatten(1)
        top = scores.topk(min(self.num_patches, gh * gw), dim=1).indices
        chosen = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, top, True).view(n, gh, gw)
        mask = chosen.repeat_interleave(ph, dim=1).repeat_interleave(pw, dim=2)[:, :h, :w]
        return mask.unsqueeze(1)

    @staticmethod
    def pick_donors(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A random other-identity index per sample, and whether one exists."""
        other = labels.view(-1, 1) != labels.view(1, -1)
        scores = torch.rand(other.shape, device=labels.device).masked_fill_(~other, -1.0)
        has = other.any(dim=1)
        own = torch.arange(labels.numel(), device=labels.device)
        return torch.where(has, scores.argmax(dim=1), own), has

    def forward(self, fmap: torch.Tensor, cam: torch.Tensor, labels: torch.Tensor):
        donors, has = self.pick_donors(labels)
        mask = self.salient_mask(cam) & has.view(-1, 1, 1, 1)
        return torch.where(mask, fmap[donors], fmap), mask, donors

    def extra_repr(self) -> str:
        return f"patch_size={self.patch_size}, num_patches={self.num_patches}"


class PMM(nn.Module):
    """Progressive multi-stage feature mix network.

    ``eval()``: ``model(x) -> (N, 1536)``. ``train()``: ``model(x, labels) -> {"logits": [s1, s2, s3] (N, C) each,
    "feats": [f1, f2, f3] (N, 512) each}``; Hard-Mix needs ``labels`` (N,) int64 and is skipped without them.
    """

    def __init__(self, num_classes: int = 0, stage_dim: int = 512, patch_size: tuple[int, int] = (3, 2),
                 num_patches: int = 3):
        super().__init__()
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        self.num_classes = num_classes
        self.feature_dim = 3 * stage_dim
        self.backbone = ResNet50LastStride1()
        c = self.backbone.out_channels
        # stage 1: global branch
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.reduction1 = nn.Sequential(
            nn.Conv2d(c, stage_dim, 1, bias=False), nn.BatchNorm2d(stage_dim), nn.ReLU(inplace=True)
        )
        # stages 2 and 3: shared bottleneck, own pooling / reduction / classifier
        self.part_bottleneck = extra_bottleneck()
        self.part_pool = nn.AdaptiveMaxPool2d(1)
        self.reduction2 = nn.Sequential(nn.Linear(c, stage_dim), nn.BatchNorm1d(stage_dim), nn.ReLU(inplace=True))
        self.reduction3 = nn.Sequential(nn.Linear(c, stage_dim), nn.BatchNorm1d(stage_dim), nn.ReLU(inplace=True))
        self.hard_mix = AttentiveHardMix(patch_size, num_patches)
        if num_classes > 0:
            self.classifier1 = nn.Linear(stage_dim, num_classes)
            self.classifier2 = nn.Linear(stage_dim, num_classes)
            self.classifier3 = nn.Linear(stage_dim, num_classes)
        else:
            self.classifier1 = self.classifier2 = self.classifier3 = None
        init_head(self.reduction1, self.reduction2, self.reduction3,
                   self.classifier1, self.classifier2, self.classifier3)

    def _check_labels(self, labels: torch.Tensor, n: int) -> torch.Tensor:
        if not isinstance(labels, torch.Tensor) or labels.shape != (n,) or labels.dtype.is_floating_point:
            raise ValueError(
                f"labels must be an integer tensor of shape ({n},) (one identity per image), got "
                f"{getattr(labels, 'dtype', type(labels).__name__)} {tuple(getattr(labels, 'shape', ()))}"
            )
        return labels.to(device=self.reduction2[0].weight.device, dtype=torch.long)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None):
        fmap = self.backbone(x)
        f1 = self.reduction1(self.global_pool(fmap)).flatten(1)
        part = self.part_bottleneck(fmap)
        if not self.training:
            pooled = self.part_pool(part).flatten(1)
            return torch.cat([f1, self.reduction2(pooled), self.reduction3(pooled)], dim=1)

        has_cls = self.classifier1 is not None
        mix = has_cls and labels is not None and torch.is_grad_enabled() and fmap.requires_grad
        if labels is not None:
            labels = self._check_labels(labels, x.shape[0])
        s1 = self.classifier1(f1) if has_cls else None

        part2 = self.hard_mix(part, grad_cam(s1, labels, fmap), labels)[0] if mix else part
        f2 = self.reduction2(self.part_pool(part2).flatten(1))
        s2 = self.classifier2(f2) if has_cls else None

        part3 = self.hard_mix(part, grad_cam(s2, labels, part2), labels)[0] if mix else part
        f3 = self.reduction3(self.part_pool(part3).flatten(1))
        s3 = self.classifier3(f3) if has_cls else None

        return {"logits": [s1, s2, s3] if has_cls else [], "feats": [f1, f2, f3]}
