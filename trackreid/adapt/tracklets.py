"""Training labels from tracks, guarded against the tracker's mistakes.

A final ID is one person only as far as the tracker was right. So:

1. an identity unseen for more than ``gap_split`` frames starts a new *segment* (a re-entry: the identity memory
   may have been wrong);
2. a segment whose views before and after some frame differ more than different people usually do (the
   ``switch_quantile`` of the distances between the mean views of people seen together) is split there: an ID
   switch hands one track to another person, or a sudden change of appearance makes the views useless as one;
3. segments of one identity become one label again only where their views are as close as almost no two different
   people's are (``join_quantile``): positives across a re-entry only when it was surely right;
4. labels with fewer than ``min_crops`` crops are dropped.

Negatives are people in view in the same frame of the same source (``covis``): certainly different people. Two
labels never seen together are neither positives nor negatives of each other (two fragments of one person may
be two labels). Distances are the starting encoder's (``features``: L2-normalised, one row per crop).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .collect import TrackCrops
from .config import AdaptConfig


class NothingToLearn(ValueError):
    """The tracks give no usable label (too short, or nobody was ever in view with anyone else)."""


@dataclass
class Labels:
    """label: (N,) the label of each crop (-1: not used); covis: (L, L) bool, labels seen in the same frame;
    holdout: (L,) bool, labels kept out of training; counts: what was kept, split, joined and dropped."""

    label: np.ndarray
    covis: np.ndarray
    holdout: np.ndarray
    counts: dict = field(default_factory=dict)

    @property
    def num_labels(self) -> int:
        return len(self.covis)


def _normed(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _segment_starts(crops: TrackCrops, gap_split: int) -> dict[tuple[int, int], list[int]]:
    """(source, identity) -> frames where its segments start (the first frame, then after each long absence)."""
    starts: dict[tuple[int, int], list[int]] = {}
    p = crops.presence
    order = np.lexsort((p[:, 1], p[:, 2], p[:, 0]))
    p = p[order]
    keys = p[:, 0] * (1 << 32) + p[:, 2]
    cut = np.flatnonzero(np.diff(keys) != 0) + 1
    for rows in np.split(np.arange(len(p)), cut):
        if not len(rows):
            continue
        fr = p[rows, 1]
        new = np.flatnonzero(np.diff(fr) > gap_split + 1) + 1
        starts[(int(p[rows[0], 0]), int(p[rows[0], 2]))] = [int(fr[0])] + fr[new].astype(int).tolist()
    return starts


def _assign(src: np.ndarray, ident: np.ndarray, frame: np.ndarray, starts: dict) -> tuple[np.ndarray, list]:
    """Segment index of each (source, identity, frame) row; and the segments' ``(source, identity, start)``."""
    seg_of: dict[tuple[int, int, int], int] = {}
    out = np.full(len(src), -1, np.int64)
    for k, (s, i, f) in enumerate(zip(src.tolist(), ident.tolist(), frame.tolist())):
        st = starts.get((s, i))
        if st is None:
            continue
        j = int(np.searchsorted(st, f, side="right")) - 1
        if j < 0:
            continue
        key = (s, i, st[j])
        out[k] = seg_of.setdefault(key, len(seg_of))
    return out, list(seg_of)


def _covisible(crops: TrackCrops, starts: dict, n: int, index: dict) -> np.ndarray:
    """(n, n) bool: segments in view in one frame of one source."""
    p = crops.presence
    seg, keys = _assign(p[:, 0], p[:, 2], p[:, 1], starts)
    glob = np.array([index.get(k, -1) for k in keys], np.int64)
    seg = np.where(seg >= 0, glob[np.maximum(seg, 0)] if len(glob) else -1, -1)
    ok = seg >= 0
    fr_key = p[ok, 0] * (1 << 32) + p[ok, 1]
    seg = seg[ok]
    covis = np.zeros((n, n), bool)
    order = np.argsort(fr_key, kind="stable")
    fr_key, seg = fr_key[order], seg[order]
    for group in np.split(seg, np.flatnonzero(np.diff(fr_key) != 0) + 1):
        if len(group) > 1:
            covis[np.ix_(group, group)] = True
    np.fill_diagonal(covis, False)
    return covis


def _split_switches(feats: np.ndarray, frames: np.ndarray, min_side: int, thresh: float) -> list[int]:
    """Frames where a time-ordered segment's views change more than ``thresh`` (distance of the mean views
    before and after), found one at a time, largest first."""
    order = np.argsort(frames, kind="stable")
    f, fr = feats[order], frames[order]
    cuts: list[int] = []
    pending = [(0, len(f))]
    while pending:
        a, b = pending.pop()
        n = b - a
        if n < 2 * min_side:
            continue
        cs = np.cumsum(f[a:b], axis=0)
        k = np.arange(min_side, n - min_side + 1)
        before = _normed(cs[k - 1])
        after = _normed(cs[-1] - cs[k - 1])
        dist = 1.0 - (before * after).sum(1)
        j = int(np.argmax(dist))
        if dist[j] <= thresh or fr[a + k[j]] == fr[a + k[j] - 1]:
            continue
        cut = a + int(k[j])
        cuts.append(int(fr[cut]))
        pending += [(a, cut), (cut, b)]
    return sorted(cuts)


def build_labels(crops: TrackCrops, features: np.ndarray, config: AdaptConfig, seed: int = 0) -> Labels:
    """Labels, co-visibility and the held-out labels of ``crops`` (see the module docstring)."""
    c = config
    if not len(crops):
        raise NothingToLearn("no crop was kept: no person was tracked tall enough and unoccluded "
                             f"(boxes of at least {c.min_height} px)")
    feats = _normed(np.asarray(features, np.float64))
    starts = _segment_starts(crops, c.gap_split)
    gaps = sum(len(v) - 1 for v in starts.values())

    def segments():
        seg, keys = _assign(crops.source, crops.ident, crops.frame, starts)
        index = {k: j for j, k in enumerate(keys)}
        covis = _covisible(crops, starts, len(keys), index)
        means = np.zeros((len(keys), feats.shape[1]))
        np.add.at(means, seg[seg >= 0], feats[seg >= 0])
        return seg, keys, covis, _normed(means)

    seg, keys, covis, means = segments()
    iu = np.triu_indices(len(keys), 1)
    pair = covis[iu]
    if not pair.any():
        raise NothingToLearn("the tracks never show two people in view together, so nothing says who is not whom; "
                             "adapt on footage with several people at once")
    d_diff = 1.0 - (means[iu[0][pair]] * means[iu[1][pair]]).sum(1)
    switch_thresh = float(np.quantile(d_diff, c.switch_quantile))
    join_thresh = float(np.quantile(d_diff, c.join_quantile))
    switches = 0
    for j, (s, i, start) in enumerate(keys):  # 2: split where the views change as between different people
        rows = np.flatnonzero(seg == j)
        cuts = _split_switches(feats[rows], crops.frame[rows], c.min_crops, switch_thresh)
        if cuts:
            starts[(s, i)] = sorted(set(starts[(s, i)]) | set(cuts))
            switches += len(cuts)
    if switches:
        seg, keys, covis, means = segments()
    # 3: one label per segment, joined with the earlier segments of its identity where surely the same person
    label_of = np.arange(len(keys))
    joined = 0
    by_ident: dict[tuple[int, int], list[int]] = {}
    for j, (s, i, _) in enumerate(keys):
        by_ident.setdefault((s, i), []).append(j)
    count = np.bincount(seg[seg >= 0], minlength=len(keys))
    for segs in by_ident.values():
        for b in range(1, len(segs)):
            for a in range(b):
                if (count[segs[a]] and count[segs[b]] and label_of[segs[a]] == segs[a]
                        and 1.0 - float(means[segs[a]] @ means[segs[b]]) < join_thresh
                        and not covis[segs[a], segs[b]]):
                    label_of[segs[b]] = label_of[segs[a]]
                    joined += 1
                    break
    # 4: drop labels with too few crops; number the rest 0..L-1
    lab = np.where(seg >= 0, label_of[np.maximum(seg, 0)], -1)
    sizes = np.bincount(lab[lab >= 0], minlength=len(keys))
    kept = np.flatnonzero(sizes >= c.min_crops)
    new = np.full(len(keys), -1, np.int64)
    new[kept] = np.arange(len(kept))
    lab = np.where(lab >= 0, new[np.maximum(lab, 0)], -1)
    L = len(kept)
    cov = np.zeros((L, L), bool)
    src_label = new[label_of]  # segment -> final label (or -1)
    a, b = np.nonzero(covis)
    ok = (src_label[a] >= 0) & (src_label[b] >= 0)
    cov[src_label[a[ok]], src_label[b[ok]]] = True
    if np.any(np.diag(cov)):  # joined segments are never in view together, so this cannot happen
        raise AssertionError("a label is co-visible with itself")
    if L < 2 or not cov.any():
        raise NothingToLearn(f"only {L} track(s) with {c.min_crops}+ usable crops, and no two of them in view "
                             "together: track longer footage, or lower --min-crops")
    rng = np.random.default_rng(seed)
    holdout = np.zeros(L, bool)
    if c.holdout > 0 and L >= 10:
        holdout[rng.permutation(L)[:int(round(c.holdout * L))]] = True
    counts = {"identities": len(starts), "crops": int((lab >= 0).sum()), "labels": L,
              "held_out_labels": int(holdout.sum()), "split_at_gaps": gaps, "split_at_switches": switches,
              "joined_across_gaps": joined, "dropped_short": int(len(keys) - joined - L),
              "covisible_pairs": int(np.triu(cov, 1).sum()),
              "switch_distance": round(switch_thresh, 4), "join_distance": round(join_thresh, 4)}
    return Labels(lab, cov, holdout, counts)
