"""Whether a box's anchor (bottom centre: the feet) is hidden by a person standing in front of it.

Line sides and zone membership are read at the feet. When a person in front (the lower bottom edge, the usual depth
order on a ground plane) stands over someone's feet, that someone's bottom edge is a guess: an amodal box puts it
where the feet should be, a detector that boxes the visible part ends it at the occluder. Either way it is no
observation. A person covered only at the side (feet in view) is still observed.
"""
from __future__ import annotations

import numpy as np


def hidden_anchors(boxes: np.ndarray, others: np.ndarray | None = None, margin: float = 0.05) -> np.ndarray:
    """For each xyxy box (M, 4): True where its bottom-centre point lies inside a box in front of it, among the
    other rows of ``boxes`` and the extra occluders ``others`` (K, 4). ``margin`` (fraction of the box's height)
    extends each occluder upwards: a box cut off by an occluder ends at, or just above, the occluder's top."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    m = len(boxes)
    occ = boxes if others is None or not len(others) else np.concatenate([boxes, np.asarray(others, np.float64)])
    if m == 0 or len(occ) < 2:
        return np.zeros(m, bool)
    ax = (boxes[:, 0] + boxes[:, 2]) / 2
    ay = boxes[:, 3]
    top = occ[None, :, 1] - margin * (boxes[:, 3] - boxes[:, 1])[:, None]
    hit = ((occ[None, :, 3] > ay[:, None]) & (ax[:, None] >= occ[None, :, 0]) & (ax[:, None] <= occ[None, :, 2])
           & (ay[:, None] >= top))
    hit[np.arange(m), np.arange(m)] = False
    return hit.any(axis=1)
