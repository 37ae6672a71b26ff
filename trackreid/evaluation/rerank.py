"""k-reciprocal re-ranking (Zhong et al., "Re-ranking Person Re-identification with k-reciprocal Encoding",
CVPR 2017), on a torch device.

Every sample is compared with every other (n = num_query + num_gallery), so the work is O(n^2 * d), done in
row chunks on the device. Memory stays near-linear: neighbour sets are (n, k) index lists, the k-reciprocal
weights are a sparse matrix (about 70-250 non-zeros per row), and the Jaccard term joins query and gallery
non-zeros through an inverted index instead of comparing dense rows. The one quadratic buffer is the
(num_query, num_gallery) float32 result itself (Market-1501: 3,368 x 15,913 = 214 MB; 20,000 x 20,000 = 1.6 GB),
plus one float32 accumulator of the same size during the Jaccard step, so budget ``8 * num_query * num_gallery``
bytes.
"""
from __future__ import annotations

import math
import warnings

import torch

from trackreid.evaluation.reid import _as_features, pairwise_distance


def _chunks(n: int, size: int):
    for s in range(0, n, size):
        yield s, min(n, s + size)


def _rows_per_chunk(n: int, budget: int = 1 << 24) -> int:
    return max(1, budget // max(1, n))


def _topk_neighbours(feats: torch.Tensor, k: int, metric: str) -> torch.Tensor:
    """(n, k) indices of each sample's k nearest samples (itself first), by ``metric``."""
    n = feats.shape[0]
    out = torch.empty((n, k), dtype=torch.long, device=feats.device)
    step = _rows_per_chunk(n)
    for s, e in _chunks(n, step):
        d = pairwise_distance(feats[s:e], feats, metric)
        d[torch.arange(e - s, device=d.device), torch.arange(s, e, device=d.device)] = -math.inf
        out[s:e] = torch.topk(d, k, dim=1, largest=False, sorted=True).indices
    return out


def _reciprocal(neigh: torch.Tensor) -> torch.Tensor:
    """Bool (n, k): ``neigh[i, a]`` is a k-reciprocal neighbour of i (i is also among its k nearest)."""
    return (neigh[neigh] == torch.arange(neigh.shape[0], device=neigh.device)[:, None, None]).any(-1)


def re_ranking(
    qf,
    gf,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
    metric: str = "euclidean",
    device=None,
) -> torch.Tensor:
    """Re-ranked (num_query, num_gallery) float32 distances on ``device``.

    ``k1``: size of the k-reciprocal neighbourhood (20 in the paper); ``k2``: neighbours averaged in local query
    expansion (6); ``lambda_value``: weight of the original distance in the final one (0.3). Memory: see the
    module docstring.
    """
    q, g = _as_features(qf, gf, device)
    if k1 < 1 or k2 < 1:
        raise ValueError(f"re_ranking: k1 and k2 must be >= 1, got k1={k1}, k2={k2}")
    if not 0.0 <= lambda_value <= 1.0:
        raise ValueError(f"re_ranking: lambda_value must be in [0, 1], got {lambda_value}")
    feats = torch.cat([q, g])
    n, nq = feats.shape[0], q.shape[0]
    dev = feats.device
    k1 = min(k1, n - 1)
    k_half = min(int(round(k1 / 2)), n - 1)
    k2 = min(k2, n)

    nearest = _topk_neighbours(feats, max(k1 + 1, k2), metric)  # self first
    nk = nearest[:, : k1 + 1]  # (n, K) K = k1 + 1
    rk = _reciprocal(nk)  # R(i, k1) = nk[i][rk[i]]
    nh = nk[:, : k_half + 1]  # (n, H)
    rh = _reciprocal(nh)  # R(c, k1/2) = nh[c][rh[c]]
    half_sizes = rh.sum(1)
    arange = torch.arange(n, device=dev)

    # Weights: each row holds exp(-d) over the expanded k-reciprocal set, normalised to sum 1, kept sparse
    # (COO rows, cols, vals). Sets are small index lists (n x K x H): O(n^2 * d) work for the distance rows.
    K, H = nk.shape[1], nh.shape[1]
    row_max = torch.empty(n, dtype=torch.float32, device=dev)
    rows, cols, vals = [], [], []
    step = max(1, min(_rows_per_chunk(n), (1 << 24) // (K * K * H)))
    for s, e in _chunks(n, step):
        cand = nk[s:e]  # (c, K) candidates of each row
        cand_ok = rk[s:e]
        cand_half = nh[cand]  # (c, K, H) R(candidate, k1/2) members...
        cand_half_ok = rh[cand]  # ...and which of them are reciprocal
        in_r = (cand_half[..., None] == cand[:, None, None, :]) & cand_ok[:, None, None, :]
        overlap = (in_r.any(-1) & cand_half_ok).sum(-1)  # |R(c, k1/2) ∩ R(i, k1)|
        take = cand_ok & (overlap > (2.0 / 3.0) * half_sizes[cand])
        own = arange[s:e, None]
        members = torch.cat(
            [
                torch.where(cand_ok, cand, own),
                torch.where(take[..., None] & cand_half_ok, cand_half, own[..., None]).flatten(1),
            ],
            dim=1,
        )  # masked-out entries point at the row itself, which is always in its own set
        expanded = torch.zeros((e - s, n), dtype=torch.bool, device=dev).scatter_(1, members, True)
        d = pairwise_distance(feats[s:e], feats, metric).clamp_min_(0)
        row_max[s:e] = d.max(1).values.clamp_min(1e-12)
        r, c = expanded.nonzero(as_tuple=True)
        w = torch.exp(-d[r, c] / row_max[s + r])
        w /= torch.zeros(e - s, device=dev).index_add_(0, r, w)[r]
        rows.append(r + s)
        cols.append(c)
        vals.append(w)
    del rk, rh, nk, nh
    v = torch.sparse_coo_tensor(
        torch.stack([torch.cat(rows), torch.cat(cols)]), torch.cat(vals), (n, n), check_invariants=False
    ).coalesce()
    del rows, cols, vals

    # Local query expansion: each row becomes the mean of its k2 nearest neighbours' rows (itself included).
    if k2 > 1:
        nb = nearest[:, :k2].reshape(-1)
        expand = torch.sparse_coo_tensor(
            torch.stack([arange.repeat_interleave(k2), nb]),
            torch.full((n * k2,), 1.0 / k2, device=dev),
            (n, n),
            check_invariants=False,
        ).coalesce()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse support is in beta" notices
            v = torch.sparse.mm(expand, v).coalesce()
    del nearest

    # Jaccard distance between query and gallery rows: 1 - sum(min) / sum(max) = 1 - m / (2 - m), m = sum(min),
    # as rows sum to 1. sum(min) only gets contributions from columns where both rows are non-zero, so pairs
    # are enumerated by joining the query and gallery non-zeros on their column (an inverted index).
    ng = g.shape[0]
    (vr, vc), vv = v.indices(), v.values()
    is_q = vr < nq
    qr, qc_, qv = vr[is_q], vc[is_q], vv[is_q]
    g_order = torch.argsort(vc[~is_q], stable=True)
    gr, gc_, gv = vr[~is_q][g_order] - nq, vc[~is_q][g_order], vv[~is_q][g_order]
    g_count = torch.bincount(gc_, minlength=n)
    g_start = torch.cumsum(g_count, 0) - g_count
    del v, vr, vc, vv

    smin = torch.zeros(nq * ng, dtype=torch.float32, device=dev)
    per_entry = g_count[qc_]  # gallery partners of each query non-zero
    bounds = torch.cumsum(per_entry, 0)
    budget, a = 1 << 24, 0
    while a < len(qr):
        # The largest run of query non-zeros whose pairs fit the budget (at least one entry).
        done = bounds[a - 1] if a else torch.zeros((), dtype=bounds.dtype, device=dev)
        b = int(torch.searchsorted(bounds, done + budget, right=True).item())
        b = min(len(qr), max(b, a + 1))
        cnt = per_entry[a:b]
        owner = torch.repeat_interleave(torch.arange(a, b, device=dev), cnt)
        offset = torch.arange(len(owner), device=dev) - (torch.cumsum(cnt, 0) - cnt).repeat_interleave(cnt)
        partner = g_start[qc_[owner]] + offset
        smin.index_add_(0, qr[owner] * ng + gr[partner], torch.minimum(qv[owner], gv[partner]))
        a = b
    smin = smin.view(nq, ng)

    out = torch.empty((nq, ng), dtype=torch.float32, device=dev)
    for s, e in _chunks(nq, _rows_per_chunk(ng)):
        jac = 1.0 - smin[s:e] / (2.0 - smin[s:e])
        d = pairwise_distance(feats[s:e], g, metric).clamp_min_(0) / row_max[s:e, None]
        out[s:e] = jac * (1.0 - lambda_value) + d * lambda_value
    return out
