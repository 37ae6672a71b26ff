"""The batched Kalman filter equals the textbook single-track filter; cost helpers and assignment behave."""
from __future__ import annotations

import numpy as np

from trackreid.tracking.kalman import BatchedKalman, cxcywh_to_xyxy, xyxy_to_cxcywh
from trackreid.tracking.matching import covered_fraction, iou_matrix, linear_assignment, spatial_gate
from trackreid.tracking.motion import apply_warp


def reference_step(mean, cov, z, kf: BatchedKalman, score=None):
    """Plain one-track predict + update with explicit matrices."""
    F = np.eye(8)
    F[:4, 4:] = np.eye(4)
    w, h = mean[2], mean[3]
    q = np.r_[kf.std_pos * np.array([w, h, w, h]), kf.std_vel * np.array([w, h, w, h])]
    mean = F @ mean
    cov = F @ cov @ F.T + np.diag(q**2)
    w, h = mean[2], mean[3]
    r = kf.std_pos * np.array([w, h, w, h])
    if kf.nsa and score is not None:
        r = r * max(1 - score, 0.1)
    H = np.eye(4, 8)
    S = H @ cov @ H.T + np.diag(r**2)
    K = cov @ H.T @ np.linalg.inv(S)
    return mean + K @ (z - H @ mean), (np.eye(8) - K @ H) @ cov


def test_batched_kalman_matches_reference():
    rng = np.random.default_rng(0)
    for nsa in (False, True):
        kf = BatchedKalman(nsa=nsa)
        z0 = np.c_[rng.uniform(0, 500, (7, 2)), rng.uniform(20, 200, (7, 2))]
        mean, cov = kf.initiate(z0)
        mean[:, 4:] = rng.normal(0, 2, (7, 4))
        ref = [(mean[i].copy(), cov[i].copy()) for i in range(7)]
        for _ in range(5):
            z = mean[:, :4] + rng.normal(0, 3, (7, 4))
            s = rng.uniform(0.3, 1.0, 7)
            ref = [reference_step(m, c, z[i], kf, s[i]) for i, (m, c) in enumerate(ref)]
            kf.predict(mean, cov)
            mean, cov = kf.update(mean, cov, z, s)
            for i in range(7):
                np.testing.assert_allclose(mean[i], ref[i][0], rtol=1e-9, atol=1e-9)
                np.testing.assert_allclose(cov[i], ref[i][1], rtol=1e-9, atol=1e-9)


def test_box_conversions_round_trip():
    b = np.array([[10.0, 20.0, 50.0, 120.0], [0.0, 0.0, 1.0, 2.0]])
    np.testing.assert_allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(b)), b)


def test_iou_and_cover():
    a = np.array([[0, 0, 10, 10], [100, 100, 110, 110]], float)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10]], float)
    np.testing.assert_allclose(iou_matrix(a, b), [[50 / 150, 1.0], [0.0, 0.0]])
    assert iou_matrix(a, np.empty((0, 4))).shape == (2, 0)
    # box 1 stands in front of box 0 (lower bottom edge) and hides half of it; box 0 hides nothing of box 1
    people = np.array([[0, 0, 10, 20], [5, 2, 15, 22]], float)
    cover = covered_fraction(people)
    np.testing.assert_allclose(cover, [5 * 18 / 200, 0.0])


def test_spatial_gate_scales_with_box_height():
    tracks = np.array([[100.0, 100.0, 40.0, 100.0], [100.0, 100.0, 20.0, 50.0]])
    dets = np.array([[180.0, 100.0, 40.0, 100.0]])
    ok, dist = spatial_gate(tracks, dets, radius=1.0, size_ratio=1.6)
    np.testing.assert_allclose(dist[:, 0], [0.8, 1.6])
    assert ok[:, 0].tolist() == [True, False]   # too far for the small box, and its height differs 2x


def test_linear_assignment_respects_threshold():
    cost = np.array([[0.1, 0.9], [0.2, 0.95], [0.3, 0.4]])
    matches, um_rows, um_cols = linear_assignment(cost, 0.5)
    assert sorted(map(tuple, matches.tolist())) == [(0, 0), (2, 1)]
    assert um_rows.tolist() == [1] and um_cols.tolist() == []
    m, r, c = linear_assignment(np.empty((0, 3)), 0.5)
    assert len(m) == 0 and c.tolist() == [0, 1, 2]


def test_apply_warp_moves_states():
    kf = BatchedKalman()
    mean, cov = kf.initiate(np.array([[100.0, 50.0, 40.0, 100.0]]))
    mean[0, 4:6] = [2.0, 0.0]
    warp = np.array([[0.0, -2.0, 10.0], [2.0, 0.0, 5.0]])   # rotate 90 degrees, scale 2, translate
    apply_warp(mean, cov, warp)
    np.testing.assert_allclose(mean[0, :6], [-90.0, 205.0, 80.0, 200.0, 0.0, 4.0])
    assert np.allclose(cov[0], cov[0].T)


def test_distinct_pairs_is_a_two_way_ratio_test():
    from trackreid.tracking.matching import distinct_pairs

    d = np.array([[0.05, 0.60, 0.70],
                  [0.50, 0.10, 0.15],    # row 1: 0.10 beats its runner-up 0.15 by only 0.05
                  [0.55, 0.65, 0.40]])
    got = distinct_pairs(d, 0.1)
    assert got.tolist() == [[True, False, False], [False, False, False], [False, False, False]]
    # (2, 2): best of its row, but column 2 has 0.15 < 0.40: not mutual-best
    assert distinct_pairs(d, 0.0)[1, 1] and not distinct_pairs(d, 0.0)[2, 2]
    assert distinct_pairs(np.array([[0.3]]), 0.1).tolist() == [[True]]     # nothing to compare with
    assert distinct_pairs(np.full((3, 3), 0.01), 0.1).sum() == 0           # all alike: nothing distinct
    assert distinct_pairs(np.zeros((0, 4)), 0.1).shape == (0, 4)
