"""The batch-hard triplet loss with known negatives only.

A classification loss over track IDs (or a plain triplet loss) treats every other track as another person, so two
fragments of one person are pushed apart. Here a crop's positives are its own label's crops and its negatives only
the crops of labels seen in the same frame (``negatives[label_i, label_j]``); pairs of labels never seen together
take no part.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def known_negative_triplet(feats: torch.Tensor, labels: torch.Tensor, negatives: torch.Tensor,
                           margin: float = 0.3) -> tuple[torch.Tensor, int]:
    """Mean of ``relu(d(a, hardest positive) - d(a, hardest known negative) + margin)`` over the anchors that
    have both (``margin`` 0: soft margin); distances between L2-normalised features. ``negatives``: (L, L) bool
    over label values. Returns the loss and the number of anchors used."""
    f = F.normalize(feats.float(), dim=1)
    dist = (2.0 - 2.0 * (f @ f.t())).clamp_min(1e-12).sqrt()
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=feats.device)
    pos = same & ~eye
    neg = negatives[labels][:, labels] & ~same
    valid = pos.any(1) & neg.any(1)
    if not valid.any():
        return feats.sum() * 0.0, 0
    d_ap = dist.masked_fill(~pos, float("-inf")).amax(1)[valid]
    d_an = dist.masked_fill(~neg, float("inf")).amin(1)[valid]
    loss = F.relu(d_ap - d_an + margin) if margin > 0 else F.softplus(d_ap - d_an)
    return loss.mean(), int(valid.sum())
