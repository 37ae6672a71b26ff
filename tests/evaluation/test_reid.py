"""ReID metrics: hand-computed cases, random cases against plain loop references, CUHK03, re-ranking."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from trackreid.evaluation.reid import evaluate_reid
from trackreid.evaluation.rerank import re_ranking


# ---------------------------------------------------------------- plain references (loops)


def ref_distances(qf, gf, metric="euclidean"):
    qf, gf = np.asarray(qf, np.float64), np.asarray(gf, np.float64)
    d = np.zeros((len(qf), len(gf)))
    for i in range(len(qf)):
        for j in range(len(gf)):
            if metric == "euclidean":
                d[i, j] = np.sum((qf[i] - gf[j]) ** 2)
            else:
                d[i, j] = 1 - qf[i] @ gf[j] / (np.linalg.norm(qf[i]) * np.linalg.norm(gf[j]))
    return d


def ref_evaluate(dist, q_pids, g_pids, q_cams=None, g_cams=None, max_rank=10):
    """Market-1501 protocol, one query at a time."""
    cmc, aps, inps, skipped = np.zeros(max_rank), [], [], 0
    for i in range(len(q_pids)):
        order = sorted(range(len(g_pids)), key=lambda j: (dist[i][j], j))
        kept = [
            j for j in order
            if g_pids[j] != -1 and not (q_cams is not None and g_pids[j] == q_pids[i] and g_cams[j] == q_cams[i])
        ]
        hits = [g_pids[j] == q_pids[i] for j in kept]
        if q_pids[i] == -1 or not any(hits):
            skipped += 1
            continue
        first = hits.index(True)
        for k in range(max_rank):
            cmc[k] += first <= k
        found, precisions = 0, []
        for r, h in enumerate(hits, 1):
            if h:
                found += 1
                precisions.append(found / r)
        aps.append(sum(precisions) / found)
        last = max(r for r, h in enumerate(hits, 1) if h)
        inps.append(found / last)
    n = len(aps)
    return {"cmc": cmc / n, "mAP": sum(aps) / n, "mINP": sum(inps) / n, "skipped": skipped}


def ref_rerank(qf, gf, k1, k2, lam):
    """k-reciprocal re-ranking (Zhong et al. 2017) written step by step from the paper."""
    x = np.concatenate([qf, gf]).astype(np.float64)
    n, nq = len(x), len(qf)
    d = ref_distances(x, x)
    d = d / d.max(axis=1, keepdims=True)
    rank = np.argsort(d, axis=1, kind="stable")

    def recip(i, k):
        return [j for j in rank[i, : k + 1] if i in rank[j, : k + 1]]

    v = np.zeros((n, n))
    for i in range(n):
        r = recip(i, k1)
        expanded = set(r)
        for c in r:
            rc = recip(c, int(round(k1 / 2)))
            if len(set(rc) & set(r)) > 2 / 3 * len(rc):
                expanded |= set(rc)
        idx = sorted(expanded)
        w = np.exp(-d[i, idx])
        v[i, idx] = w / w.sum()
    v = np.stack([v[rank[i, :k2]].mean(axis=0) for i in range(n)])
    out = np.zeros((nq, n - nq))
    for i in range(nq):
        for j in range(n - nq):
            jac = 1 - np.minimum(v[i], v[nq + j]).sum() / np.maximum(v[i], v[nq + j]).sum()
            out[i, j] = jac * (1 - lam) + d[i, nq + j] * lam
    return out


def _random_set(seed, nq=25, ng=80, ids=8, cams=3, dim=6, integer=True):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2, (ids, dim))
    qp = rng.integers(0, ids, nq)
    gp = rng.integers(-1, ids, ng)  # includes junk (-1) and distractor-like identity 0
    qf = centres[qp] + rng.normal(0, 1.5, (nq, dim))
    gf = centres[np.clip(gp, 0, None)] + rng.normal(0, 1.5, (ng, dim))
    if integer:  # exact float32 distances, and plenty of ties to check tie order
        qf, gf = np.round(qf), np.round(gf)
    return qf.astype(np.float32), gf.astype(np.float32), qp, gp, rng.integers(0, cams, nq), rng.integers(0, cams, ng)


# ---------------------------------------------------------------- hand-computed cases

# One query at x=0 (identity 1, camera 0); gallery on a line at x = 1..6.
Q = np.array([[0.0]])
G = np.array([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]])
GP = np.array([2, 1, 1, -1, 1, 0])  # x=4 is junk, x=6 a distractor (identity 0)
GC = np.array([1, 1, 0, 1, 2, 1])  # x=3 shares the query's identity and camera


def test_hand_market_protocol():
    r = evaluate_reid(Q, G, [1], GP, [0], GC, max_rank=5)
    # Kept ranking: pid2, pid1 (hit), pid1 (hit), pid0 -> first hit at rank 2; hits at ranks 2 and 3.
    assert r["cmc"].tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert (r["rank1"], r["rank5"], r["rank10"]) == (0.0, 1.0, 1.0)
    assert r["mAP"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert r["mINP"] == pytest.approx(2 / 3)
    assert (r["num_valid_queries"], r["num_skipped_queries"]) == (1, 0)


def test_hand_without_camera_ids_keeps_same_camera_matches():
    r = evaluate_reid(Q, G, [1], GP)
    # x=3 now counts: hits at ranks 2, 3, 4 (the junk x=4 is still ignored).
    assert r["mAP"] == pytest.approx((1 / 2 + 2 / 3 + 3 / 4) / 3)
    assert r["rank1"] == 0.0 and r["rank5"] == 1.0


def test_single_camera_dataset_needs_no_camera_ids():
    # A custom dataset from one camera: with camera ids (all 0) the same-camera rule removes every true match.
    qf, gf = np.eye(3, dtype=np.float32), np.eye(3, dtype=np.float32) + 0.1
    pids = np.arange(3)
    zeros = np.zeros(3, int)
    with pytest.raises(ValueError, match="q_camids=g_camids=None"):
        evaluate_reid(qf, gf, pids, pids, zeros, zeros)
    r = evaluate_reid(qf, gf, pids, pids)
    assert (r["rank1"], r["mAP"]) == (1.0, 1.0)


def test_queries_without_match_are_skipped_and_counted():
    r = evaluate_reid(np.array([[0.0], [10.0], [3.0]]), G, [1, 7, -1], GP, [0, 0, 0], GC)
    assert (r["num_valid_queries"], r["num_skipped_queries"]) == (1, 2)
    assert r["mAP"] == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_bad_inputs():
    with pytest.raises(ValueError, match="pass both"):
        evaluate_reid(Q, G, [1], GP, q_camids=[0])
    with pytest.raises(ValueError, match="g_pids: expected 6 labels"):
        evaluate_reid(Q, G, [1], GP[:5])
    with pytest.raises(ValueError, match="dimensions differ"):
        evaluate_reid(Q, np.zeros((6, 2)), [1], GP)
    with pytest.raises(ValueError, match="NaN"):
        evaluate_reid(np.array([[np.nan]]), G, [1], GP)
    with pytest.raises(ValueError, match="metric"):
        evaluate_reid(Q, G, [1], GP, metric="manhattan")


# ---------------------------------------------------------------- random cases against the loop reference


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("with_cams", [True, False])
def test_random_matches_reference(seed, with_cams):
    qf, gf, qp, gp, qc, gc = _random_set(seed)
    cams = (qc, gc) if with_cams else (None, None)
    ref = ref_evaluate(ref_distances(qf, gf), qp, gp, *cams, max_rank=20)
    got = evaluate_reid(qf, gf, qp, gp, *cams, max_rank=20, max_pairs=97)  # many small chunks
    np.testing.assert_allclose(got["cmc"], ref["cmc"], atol=1e-12)
    assert got["mAP"] == pytest.approx(ref["mAP"], abs=1e-6)
    assert got["mINP"] == pytest.approx(ref["mINP"], abs=1e-6)
    assert got["num_skipped_queries"] == ref["skipped"]
    assert got["rank1"] == pytest.approx(ref["cmc"][0]) and got["rank10"] == pytest.approx(ref["cmc"][9])


def test_random_cosine_and_torch_inputs_match_reference():
    qf, gf, qp, gp, qc, gc = _random_set(7, integer=False)
    ref = ref_evaluate(ref_distances(qf, gf, "cosine"), qp, gp, qc, gc)
    got = evaluate_reid(torch.from_numpy(qf), torch.from_numpy(gf), torch.from_numpy(qp), torch.from_numpy(gp),
                        torch.from_numpy(qc), torch.from_numpy(gc), metric="cosine", device="cpu")
    np.testing.assert_allclose(got["cmc"], ref["cmc"])
    assert got["mAP"] == pytest.approx(ref["mAP"], abs=1e-6)


def test_chunking_does_not_change_results():
    qf, gf, qp, gp, qc, gc = _random_set(11, nq=60, ng=300, integer=False)
    a = evaluate_reid(qf, gf, qp, gp, qc, gc)
    b = evaluate_reid(qf, gf, qp, gp, qc, gc, max_pairs=1)
    np.testing.assert_array_equal(a["cmc"], b["cmc"])
    assert a["mAP"] == pytest.approx(b["mAP"], abs=1e-6)  # float32 precision sums


# ---------------------------------------------------------------- CUHK03 single-gallery-shot


def test_cuhk03_equals_standard_when_one_sample_per_identity():
    qf, gf, qp, gp, qc, gc = _random_set(3, ng=8, ids=8, cams=2, integer=False)
    gp = np.arange(8)  # one gallery sample per identity
    gc = np.ones(8, int)
    qc = np.zeros(len(qp), int)
    a = evaluate_reid(qf, gf, qp, gp, qc, gc)
    b = evaluate_reid(qf, gf, qp, gp, qc, gc, cuhk03=True)
    np.testing.assert_allclose(a["cmc"], b["cmc"])
    assert a["mAP"] == b["mAP"]


def test_cuhk03_samples_one_gallery_image_per_identity():
    # Query identity 1 has gallery samples at distance 1 and 20; identities 2..11 one sample each at 2..11.
    # Single-shot keeps one of the two identity-1 samples: rank-1 with probability 1/2, else rank 11.
    g = np.array([[1.0], [20.0]] + [[float(k)] for k in range(2, 12)])
    gp = np.array([1, 1] + list(range(2, 12)))
    r = evaluate_reid(np.array([[0.0]]), g, [1], gp, [0], np.ones(12, int), max_rank=11, cuhk03=True,
                      num_repeats=400, seed=1)
    assert 0.4 < r["rank1"] < 0.6
    assert r["cmc"][9] == r["rank1"] and r["cmc"][10] == 1.0
    std = evaluate_reid(np.array([[0.0]]), g, [1], gp, [0], np.ones(12, int), max_rank=11)
    assert r["mAP"] == std["mAP"] == pytest.approx((1 + 2 / 12) / 2)  # mAP uses the whole gallery
    again = evaluate_reid(np.array([[0.0]]), g, [1], gp, [0], np.ones(12, int), cuhk03=True, num_repeats=400, seed=1)
    assert again["rank1"] == r["rank1"]  # seeded


# ---------------------------------------------------------------- k-reciprocal re-ranking


@pytest.mark.parametrize("k1, k2", [(20, 6), (5, 3), (4, 1)])
def test_rerank_matches_reference(k1, k2):
    qf, gf, *_ = _random_set(5, nq=12, ng=40, integer=False)
    ref = ref_rerank(qf, gf, k1, k2, 0.3)
    got = re_ranking(qf, gf, k1=k1, k2=k2, lambda_value=0.3, device="cpu")
    assert got.shape == (12, 40) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), ref, atol=2e-5)


def test_evaluate_with_rerank_uses_reranked_distances():
    qf, gf, qp, gp, qc, gc = _random_set(9, nq=15, ng=50, integer=False)
    ref = ref_evaluate(ref_rerank(qf, gf, 20, 6, 0.3), qp, gp, qc, gc)
    got = evaluate_reid(qf, gf, qp, gp, qc, gc, rerank=True)
    np.testing.assert_allclose(got["cmc"], ref["cmc"])
    assert got["mAP"] == pytest.approx(ref["mAP"], abs=1e-5)
