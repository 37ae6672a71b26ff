"""Losses for ReID training: label-smoothed cross entropy and batch-hard triplet (margin or soft margin)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LabelSmoothingCrossEntropy(nn.Module):
    """Cross entropy against ``(1 - eps) * one_hot + eps / C`` (Szegedy et al.); ``eps = 0`` is plain CE.

    ``targets`` may be integer labels (N,) or soft label distributions (N, C), e.g. from a mixing augmentation.
    """

    def __init__(self, epsilon: float = 0.1):
        super().__init__()
        if not 0.0 <= epsilon < 1.0:
            raise ValueError(f"label smoothing epsilon must be in [0, 1), got {epsilon}")
        self.epsilon = float(epsilon)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits.float(), dim=1)
        num_classes = logits.shape[1]
        if targets.dim() == 1:
            soft = torch.zeros_like(log_p).scatter_(1, targets.view(-1, 1).long(), 1.0)
        else:
            soft = targets.float()
        soft = (1.0 - self.epsilon) * soft + self.epsilon / num_classes
        return -(soft * log_p).sum(dim=1).mean()


def pairwise_euclidean(x: torch.Tensor) -> torch.Tensor:
    """(N, D) -> (N, N) Euclidean distances, clamped for a finite gradient at zero."""
    sq = (x * x).sum(dim=1, keepdim=True)
    d2 = sq + sq.t() - 2.0 * (x @ x.t())
    return d2.clamp_min(1e-12).sqrt()


class BatchHardTripletLoss(nn.Module):
    """Batch-hard triplet loss (Hermans et al. 2017): per anchor the farthest positive and the nearest negative.

    ``margin > 0``: ``relu(d_ap - d_an + margin)``; ``margin = 0`` or ``None``: soft margin ``softplus(d_ap - d_an)``.
    Anchors without a positive or a negative in the batch are skipped (a P x K sampler avoids them).
    """

    def __init__(self, margin: float | None = 0.3):
        super().__init__()
        self.margin = float(margin) if margin else 0.0

    def forward(self, feats: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return batch_hard_triplet(pairwise_euclidean(feats.float()), labels, None, self.margin)[0]


def batch_hard_triplet(dist: torch.Tensor, labels: torch.Tensor, negatives: torch.Tensor | None = None,
                       margin: float = 0.3) -> tuple[torch.Tensor, int]:
    """Batch-hard triplet loss over the distances ``dist`` (N, N) of a batch with ``labels`` (N,): per anchor the
    farthest positive and the nearest negative, ``relu(d_ap - d_an + margin)`` (``margin`` 0: ``softplus``), mean
    over the anchors that have both. ``negatives`` (N, N) bool: the pairs allowed as negatives (None: every pair of
    different labels). Returns the loss and the number of anchors used."""
    same = labels.view(-1, 1) == labels.view(1, -1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos_mask = same & ~eye
    neg_mask = ~same if negatives is None else negatives & ~same
    valid = pos_mask.any(1) & neg_mask.any(1)
    if not valid.any():
        return dist.sum() * 0.0, 0
    d_ap = dist.masked_fill(~pos_mask, float("-inf")).amax(dim=1)[valid]
    d_an = dist.masked_fill(~neg_mask, float("inf")).amin(dim=1)[valid]
    loss = F.relu(d_ap - d_an + margin) if margin > 0 else F.softplus(d_ap - d_an)
    return loss.mean(), int(valid.sum())


class ReIDLoss(nn.Module):
    """Sum over every (logits, feats) pair a model returns of ``ce_weight * CE + triplet_weight * triplet``.

    BDB returns two pairs (global and drop branch), PMM three (its stages); models may add ``"targets"`` (soft
    labels per pair, e.g. after Hard-Mix). Returns the total loss and the parts for logging.
    """

    def __init__(self, label_smooth: float = 0.1, ce_weight: float = 1.0, triplet_weight: float = 0.0,
                 triplet_margin: float | None = 0.3):
        super().__init__()
        self.ce = LabelSmoothingCrossEntropy(label_smooth)
        self.triplet = BatchHardTripletLoss(triplet_margin)
        self.ce_weight, self.triplet_weight = float(ce_weight), float(triplet_weight)

    def forward(self, outputs: dict, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        logits, feats = list(outputs["logits"]), list(outputs["feats"])
        targets = outputs.get("targets") or [labels] * len(logits)
        total = labels.new_zeros((), dtype=torch.float32)
        ce_sum = tri_sum = 0.0
        for i, lg in enumerate(logits):
            if self.ce_weight:
                ce = self.ce(lg, targets[i] if targets[i] is not None else labels)
                total = total + self.ce_weight * ce
                ce_sum += float(ce.detach())
            if self.triplet_weight and i < len(feats):
                tri = self.triplet(feats[i], labels)
                total = total + self.triplet_weight * tri
                tri_sum += float(tri.detach())
        return total, {"ce": ce_sum, "triplet": tri_sum}
