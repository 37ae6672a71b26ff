"""Appearance thresholds calibrated on the video: people seen together are different people, a track's views over
time are one; the scale of the encoder stops mattering."""
from __future__ import annotations

import numpy as np

from trackreid import Tracker, TrackerConfig
from trackreid.synthetic import SceneConfig, generate_scene
from trackreid.tracking.calibration import AppearanceThresholds, DistanceCalibration

FIXED = AppearanceThresholds(0.5, 0.35, 0.15)


def squeezed(e: np.ndarray, alpha: float) -> np.ndarray:
    """The same embeddings from an 'encoder' whose cosine distances are exactly (1 - alpha) times smaller: a shared
    direction of weight sqrt(alpha) appended to every vector."""
    common = np.zeros((len(e), 8), np.float32)
    common[:, 0] = 1.0
    return np.concatenate([np.sqrt(1.0 - alpha) * e, np.sqrt(alpha) * common], axis=1).astype(np.float32)


def track_scene(scene, frames, alpha, calibrate):
    tracker = Tracker(TrackerConfig(calibrate=calibrate, calibration_pairs=200))
    rows = []
    for t in range(1, frames + 1):
        out = tracker.update(scene.dets_at(t), embeddings=squeezed(scene.embeddings_at(t, dim=64, noise=0.3), alpha))
        rows.append(np.column_stack([np.full(len(out), t), out[:, [4, 7]]]))
    return np.concatenate(rows), tracker


def test_two_encoders_of_different_scales_make_the_same_decisions():
    scene = generate_scene(SceneConfig(num_people=20, num_frames=300, seed=5))
    wide, t_wide = track_scene(scene, 300, 0.75, calibrate=True)      # distances x 0.25
    narrow, t_narrow = track_scene(scene, 300, 0.875, calibrate=True)  # distances x 0.125
    a, b = t_wide.appearance_thresholds(), t_narrow.appearance_thresholds()
    assert a.source == b.source == "calibrated"
    assert abs(a.memory / b.memory - 2.0) < 0.05 and abs(a.scale / b.scale - 2.0) < 0.05
    # once calibrated (after the first frames on the fixed values) every (frame, id, detection) is the same
    ready = 60
    np.testing.assert_array_equal(wide[wide[:, 0] > ready], narrow[narrow[:, 0] > ready])
    # with fixed thresholds the two encoders disagree: the check above can fail
    wide_f, _ = track_scene(scene, 300, 0.75, calibrate=False)
    narrow_f, _ = track_scene(scene, 300, 0.875, calibrate=False)
    assert len(wide_f) != len(narrow_f) or not np.array_equal(wide_f, narrow_f)


def test_features_that_tell_nobody_apart_decide_nothing():
    cal = DistanceCalibration(min_pairs=100)
    rng = np.random.default_rng(0)
    base = rng.normal(size=64)
    for _ in range(50):  # an untrained network: every view of everyone is nearly the same vector
        views = base + 0.01 * rng.normal(size=(6, 64))
        views /= np.linalg.norm(views, axis=1, keepdims=True)
        own = base + 0.01 * rng.normal(size=(6, 64))
        cal.observe(views.astype(np.float32), (own / np.linalg.norm(own, axis=1, keepdims=True)).astype(np.float32))
    t = cal.thresholds(FIXED)
    assert t.source == "uninformative" and t.memory == 0.0 and t.reid == 0.0 and t.appearance >= 2.0


def test_fixed_values_until_enough_pairs_and_only_ever_tighter():
    cal = DistanceCalibration(min_pairs=100)
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(40, 32))
    codes /= np.linalg.norm(codes, axis=1, keepdims=True)
    assert cal.thresholds(FIXED) == FIXED
    for f in range(40):  # well-separated people, far apart: the measured scale is wider than the fixed one
        idx = rng.choice(40, 6, replace=False)
        cal.observe(codes[idx].astype(np.float32), codes[idx].astype(np.float32))
    t = cal.thresholds(FIXED)
    assert t.source == "calibrated" and t.scale == 1.0 and (t.appearance, t.reid, t.memory) == (0.5, 0.35, 0.15)
    assert len(cal.different) <= cal.size and cal.stats()["different_pairs"] == 40 * 15


def test_reservoir_stays_bounded_on_an_endless_video():
    cal = DistanceCalibration(min_pairs=10, size=256)
    rng = np.random.default_rng(2)
    for _ in range(500):
        v = rng.normal(size=(12, 16)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        cal.observe(v, v)
    assert len(cal.different) == 256 and len(cal.same) == 256
