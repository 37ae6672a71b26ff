"""ReID retrieval metrics: CMC (rank-k) and mAP under the Market-1501 protocol, batched on a torch device.

Protocol, per query:
- Gallery samples with identity -1 are junk and ignored (Market-1501's ``-1`` images). Identity 0 (Market's
  ``0000`` distractors) and every other identity stay in the gallery as negatives.
- With camera ids, gallery samples with the query's identity *and* camera are ignored (the match must come from
  another camera). Without camera ids (``q_camids=g_camids=None``, e.g. a custom dataset of one folder per
  identity) this rule is off and every other gallery sample with the query's identity is a true match, so the
  query must not itself be in the gallery. If camera ids are given but every true match shares the query's
  camera (a single-camera dataset with camera id 0 everywhere), no query can be scored and ``ValueError`` says
  to pass ``None`` instead.
- Queries with identity -1 or without any remaining true match are skipped and counted in
  ``num_skipped_queries``; metrics average over the others.
- ``cuhk03=True``: CUHK03's single-gallery-shot CMC: per query, one random gallery sample of each identity is kept
  (``num_repeats`` times, averaged); mAP still uses the whole gallery, as in torchreid.

Distances are computed in query chunks on ``device`` and each chunk is sorted there, so memory is bounded by the
chunk (about 60 bytes per query-gallery pair in the chunk; ``max_pairs`` of them), never a full
num_query x num_gallery matrix: 20,000 x 20,000 works on a CPU or any GPU. ``rerank=True`` (k-reciprocal
re-ranking) is the exception: it is O((num_query + num_gallery)^2) in memory, see
:mod:`trackreid.evaluation.rerank`.
"""
from __future__ import annotations

import numpy as np
import torch

METRICS = ("euclidean", "cosine")


def resolve_device(device, *tensors) -> torch.device:
    """``device`` if given; else the device of the first torch tensor input; else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    for t in tensors:
        if isinstance(t, torch.Tensor):
            return t.device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _to_tensor(x, what: str, device: torch.device) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        arr = np.asarray(x)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise ValueError(f"{what}: expected a numeric array, got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    return t.to(device)


def _as_features(qf, gf, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Query and gallery features as float32 (N, D) tensors on one device; checks shapes and finiteness."""
    dev = resolve_device(device, qf, gf)
    out = []
    for x, what in ((qf, "qf"), (gf, "gf")):
        t = _to_tensor(x, what, dev)
        if t.ndim != 2 or t.shape[0] == 0:
            raise ValueError(f"{what}: expected a non-empty (N, D) feature matrix, got shape {tuple(t.shape)}")
        t = t.float()
        if not torch.isfinite(t).all():
            raise ValueError(f"{what}: features contain NaN or inf")
        out.append(t)
    if out[0].shape[1] != out[1].shape[1]:
        raise ValueError(f"qf and gf: feature dimensions differ ({out[0].shape[1]} vs {out[1].shape[1]})")
    return out[0], out[1]


def pairwise_distance(a: torch.Tensor, b: torch.Tensor, metric: str = "euclidean") -> torch.Tensor:
    """(len(a), len(b)) float32 distances: squared Euclidean, or cosine distance ``1 - cos``."""
    if metric == "euclidean":
        d = (a * a).sum(1, keepdim=True) + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
        return d.clamp_min_(0)
    if metric == "cosine":
        a_n = torch.nn.functional.normalize(a, dim=1)
        b_n = torch.nn.functional.normalize(b, dim=1)
        return 1.0 - a_n @ b_n.T
    raise ValueError(f"metric: expected one of {METRICS}, got {metric!r}")


def _labels(x, n: int, what: str, device: torch.device) -> torch.Tensor:
    t = _to_tensor(x, what, device)
    if t.ndim != 1 or t.shape[0] != n:
        raise ValueError(f"{what}: expected {n} labels (one per feature row), got shape {tuple(t.shape)}")
    if t.is_floating_point():
        if not torch.equal(t, t.round()):
            raise ValueError(f"{what}: labels must be integers")
    return t.long()


def _chunk_metrics(dist, qp, gp, qc, gc, num_ranks, single_shot, gid, num_gid, num_repeats, generator):
    """CMC hits (c, num_ranks), AP (c,), INP (c,), and validity (c,) for one chunk of queries."""
    c, ng = dist.shape
    order = torch.argsort(dist, dim=1, stable=True)
    gp_s = gp[order]
    match = gp_s == qp[:, None]
    valid = gp_s != -1
    if qc is not None:
        valid &= ~(match & (gc[order] == qc[:, None]))
    pos = match & valid
    npos = pos.sum(1)
    ok = (npos > 0) & (qp != -1)
    vrank = torch.cumsum(valid, 1, dtype=torch.int32)  # 1-based rank among the non-ignored samples
    big = torch.iinfo(torch.int32).max
    first = torch.where(pos, vrank, torch.full_like(vrank, big)).min(1).values
    last = torch.where(pos, vrank, torch.zeros_like(vrank)).max(1).values
    cum_pos = torch.cumsum(pos, 1, dtype=torch.int32)
    prec = cum_pos.float() / vrank.clamp_min(1).float()
    ap = torch.where(pos, prec, torch.zeros_like(prec)).sum(1) / npos.clamp_min(1).float()
    inp = npos.float() / last.clamp_min(1).float()
    ranks = torch.arange(1, num_ranks + 1, device=dist.device)
    if not single_shot:
        hits = (first[:, None] <= ranks[None, :]).float()
    else:
        # One random valid gallery sample per identity; rank of the query identity's sample among those kept.
        gid_s = gid[order]
        hits = torch.zeros((c, num_ranks), device=dist.device)
        for _ in range(num_repeats):
            r = torch.rand((c, ng), generator=generator, device="cpu").to(dist.device)
            r = torch.where(valid, r, torch.full_like(r, -1.0))
            best = torch.full((c, num_gid), -1.0, device=dist.device).scatter_reduce_(1, gid_s, r, "amax")
            keep = valid & (r == best.gather(1, gid_s))
            srank = torch.cumsum(keep, 1, dtype=torch.int32)
            sfirst = torch.where(pos & keep, srank, torch.full_like(srank, big)).min(1).values
            hits += (sfirst[:, None] <= ranks[None, :]).float()
        hits /= num_repeats
    return hits, ap, inp, ok


def evaluate_reid(
    qf,
    gf,
    q_pids,
    g_pids,
    q_camids=None,
    g_camids=None,
    max_rank: int = 10,
    rerank: bool = False,
    cuhk03: bool = False,
    device=None,
    *,
    metric: str = "euclidean",
    max_pairs: int | None = None,
    num_repeats: int = 10,
    seed: int = 0,
    rerank_params: dict | None = None,
) -> dict:
    """CMC and mAP of query features ``qf`` (Nq, D) against gallery features ``gf`` (Ng, D).

    Arrays may be numpy or torch. ``metric``: ``"euclidean"`` (squared, torchreid's default) or ``"cosine"``.
    ``max_pairs``: query-gallery pairs per chunk (default 2**22 on CPU, 2**25 on GPU). ``num_repeats`` and
    ``seed`` drive CUHK03's random single-shot sampling. ``rerank_params``: ``k1``, ``k2``, ``lambda_value`` for
    k-reciprocal re-ranking (defaults 20, 6, 0.3).

    Returns ``rank1, rank5, rank10, mAP, mINP`` (fractions 0..1), ``cmc`` (numpy, length ``max_rank``: the
    fraction of queries with a true match within the top k), ``num_valid_queries`` and
    ``num_skipped_queries``. See the module docstring for the protocol.
    """
    if max_rank < 1:
        raise ValueError(f"max_rank: expected >= 1, got {max_rank}")
    if metric not in METRICS:
        raise ValueError(f"metric: expected one of {METRICS}, got {metric!r}")
    if (q_camids is None) != (g_camids is None):
        raise ValueError("q_camids and g_camids: pass both (Market-1501 same-camera rule) or neither")
    q, g = _as_features(qf, gf, device)
    dev = q.device
    nq, ng = q.shape[0], g.shape[0]
    qp = _labels(q_pids, nq, "q_pids", dev)
    gp = _labels(g_pids, ng, "g_pids", dev)
    qc = gc = None
    if q_camids is not None:
        qc = _labels(q_camids, nq, "q_camids", dev)
        gc = _labels(g_camids, ng, "g_camids", dev)
    if cuhk03 and num_repeats < 1:
        raise ValueError(f"num_repeats: expected >= 1, got {num_repeats}")

    if rerank:
        from trackreid.evaluation.rerank import re_ranking

        full = re_ranking(q, g, metric=metric, device=dev, **(rerank_params or {}))

        def dist_rows(s, e):
            return full[s:e]
    else:

        def dist_rows(s, e):
            return pairwise_distance(q[s:e], g, metric)

    num_ranks = max(max_rank, 10)
    gid = num_gid = None
    if cuhk03:
        _, gid = torch.unique(gp, return_inverse=True)
        num_gid = int(gid.max().item()) + 1
    generator = torch.Generator(device="cpu").manual_seed(seed)
    if max_pairs is None:
        max_pairs = 1 << 25 if dev.type == "cuda" else 1 << 22
    step = max(1, int(max_pairs) // ng)

    cmc_sum = torch.zeros(num_ranks, dtype=torch.float64, device=dev)
    ap_sum = torch.zeros((), dtype=torch.float64, device=dev)
    inp_sum = torch.zeros((), dtype=torch.float64, device=dev)
    n_ok = 0
    for s in range(0, nq, step):
        e = min(nq, s + step)
        qcs = qc[s:e] if qc is not None else None
        hits, ap, inp, ok = _chunk_metrics(
            dist_rows(s, e), qp[s:e], gp, qcs, gc, num_ranks, cuhk03, gid, num_gid, num_repeats, generator
        )
        cmc_sum += hits[ok].sum(0).double()
        ap_sum += ap[ok].sum().double()
        inp_sum += inp[ok].sum().double()
        n_ok += int(ok.sum().item())

    if n_ok == 0:
        hint = (
            " Every true match shares the query's camera: for a dataset without real camera ids pass "
            "q_camids=g_camids=None." if qc is not None else ""
        )
        raise ValueError(f"no query has a true match in the gallery (after ignoring junk), so nothing to score.{hint}")
    cmc = (cmc_sum / n_ok).cpu().numpy()
    return {
        "rank1": float(cmc[0]),
        "rank5": float(cmc[4]),
        "rank10": float(cmc[9]),
        "mAP": float(ap_sum.item() / n_ok),
        "mINP": float(inp_sum.item() / n_ok),
        "cmc": cmc[:max_rank].astype(np.float64),
        "num_valid_queries": n_ok,
        "num_skipped_queries": nq - n_ok,
    }
