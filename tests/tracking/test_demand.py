"""Appearance on demand (``TrackerConfig.embed_policy``, ``trackreid.tracking.demand``): which detections the
tracker asks to embed, and that identities survive with only those embeddings."""
from __future__ import annotations

import numpy as np
import pytest

from trackreid import Tracker, TrackerConfig
from trackreid.tracking.track import CONFIRMED

from .test_tracker import box, codes, crossing_sequence, ids_by_det, noisy


def step(tracker, dets, emb):
    """One frame as the pipeline runs it: only the rows the tracker marks are embedded."""
    d = tracker.detections(dets)
    out = tracker.update(d, embeddings=emb[d.embed_index] if d.embed.any() else None)
    return out, d


@pytest.mark.parametrize("bounce", [False, True])
def test_crossing_is_resolved_by_appearance_embedded_on_demand(bounce):
    """Two people cross, the one behind hidden while they overlap (with ``bounce`` both turn back unseen, which
    motion alone gets wrong): with appearance on demand both keep their IDs, while far fewer boxes are embedded
    than with every box embedded."""
    app, rng = codes(2), np.random.default_rng(1)
    tracker = Tracker()
    got, crops, boxes = {0: set(), 1: set()}, 0, 0
    for dets, who in crossing_sequence(bounce):
        out, d = step(tracker, dets, noisy(app[who], rng))
        crops, boxes = crops + int(d.embed.sum()), boxes + len(dets)
        for k, i in ids_by_det(out).items():
            got[int(who[k])].add(i)
    assert len(got[0]) == 1 and len(got[1]) == 1 and got[0] != got[1]
    assert crops < 0.6 * boxes


def test_a_lone_settled_walker_is_embedded_on_refresh_frames_only():
    cfg = TrackerConfig()
    tracker, app, rng = Tracker(cfg), codes(2), np.random.default_rng(0)
    first, second = [], []
    for f in range(1, 61):
        dets = [box(100 + 3 * f, 300)] + ([box(900, 100 + 3 * f)] if f >= 23 else [])
        _, d = step(tracker, np.array(dets, np.float32), noisy(app[:len(dets)], rng))
        first.append(bool(d.embed[0]))
        second += [bool(d.embed[1])] if f >= 23 else []
    assert all(first[f - 1] == (f % cfg.embed_period == 0) for f in range(2, 61))
    assert second[:3] == [True, True, False]    # new: embedded until confirmed (min_hits 2) with a good view


def test_always_embeds_every_high_score_box():
    tracker, app, rng = Tracker(TrackerConfig(embed_policy="always")), codes(1), np.random.default_rng(0)
    for f in range(1, 30):
        dets = np.array([box(100 + 3 * f, 300), box(600, 300, score=0.3)], np.float32)
        _, d = step(tracker, dets, noisy(codes(2), rng))
        assert d.embed.tolist() == [True, False]           # low-score boxes only extend tracks by IoU


def test_people_touching_are_embedded_every_frame():
    """Two people walking side by side with overlapping boxes may be about to cross: appearance is read."""
    tracker, app, rng = Tracker(), codes(2), np.random.default_rng(0)
    for f in range(1, 40):
        dets = np.array([box(100 + 3 * f, 300), box(130 + 3 * f, 305)], np.float32)
        _, d = step(tracker, dets, noisy(app, rng))
        if f > 5:
            assert d.embed.all()


def test_an_unembedded_box_may_only_go_to_the_track_that_claims_it():
    tracker, app, rng = Tracker(), codes(1), np.random.default_rng(0)
    for f in range(1, 15):
        out, d = step(tracker, np.array([box(100 + 3 * f, 300)], np.float32), noisy(app, rng))
    assert tracker.tracks.state[0] == CONFIRMED
    d = tracker.detections(np.array([box(100 + 3 * 15, 300)], np.float32))
    assert not d.embed[0] and d.owner.tolist() == [int(out[0, 4])]


def test_calibration_learns_on_refresh_frames_only():
    """The views embedded on demand are the hard ones; only frames where every box is embedded feed the
    calibration (its samples must not depend on which boxes were hard)."""
    cfg = TrackerConfig()
    tracker, app, rng = Tracker(cfg), codes(3), np.random.default_rng(0)
    seen = []
    for f in range(1, 41):
        dets = np.array([box(100 + 2 * f, 200), box(100 + 2 * f, 450), box(700, 100 + 2 * f)], np.float32)
        step(tracker, dets, noisy(app, rng))
        seen.append(tracker.calibration.stats()["different_pairs"])
    grew = [f for f in range(2, 41) if seen[f - 1] > seen[f - 2]]
    assert grew and all(f % cfg.embed_period == 0 for f in grew)


@pytest.mark.parametrize("bad", [{"embed_policy": "sometimes"}, {"embed_period": 0}])
def test_bad_policy_settings_are_refused(bad):
    with pytest.raises(ValueError, match="embed_p"):
        TrackerConfig(**bad)


def test_motion_only_asks_for_no_embedding():
    tracker = Tracker(TrackerConfig(appearance_weight=0.0, embed_policy="always"))
    assert not tracker.detections(np.array([box(100, 300), box(400, 300)], np.float32)).embed.any()
