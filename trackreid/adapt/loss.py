"""The batch-hard triplet loss with known negatives only.

A classification loss over track IDs (or a plain triplet loss) treats every other track as another person, so two
fragments of one person are pushed apart. Here a crop's positives are its own label's crops and its negatives only
the crops of labels seen in the same frame (``negatives[label_i, label_j]``); pairs of labels never seen together
take no part.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from trackreid.train.losses import batch_hard_triplet, pairwise_euclidean


def known_negative_triplet(feats: torch.Tensor, labels: torch.Tensor, negatives: torch.Tensor,
                           margin: float = 0.3) -> tuple[torch.Tensor, int]:
    """Batch-hard triplet loss (:func:`trackreid.train.losses.batch_hard_triplet`) between L2-normalised features,
    negatives only where ``negatives`` (L, L) bool over label values says so (``margin`` 0: soft margin). Returns
    the loss and the number of anchors used."""
    dist = pairwise_euclidean(F.normalize(feats.float(), dim=1))
    return batch_hard_triplet(dist, labels, negatives[labels][:, labels], margin)
