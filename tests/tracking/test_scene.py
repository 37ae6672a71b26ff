"""Scene-level behaviour on a rendered synthetic scene (people crossing and hiding each other)."""
from __future__ import annotations

import numpy as np
import pytest

from trackreid import Tracker, TrackerConfig

synthetic = pytest.importorskip("trackreid.synthetic")


@pytest.fixture(scope="module")
def scene():
    return synthetic.generate_scene(synthetic.SceneConfig(num_people=40, num_frames=240, seed=5))


def track_scene(scene, tracker, with_embeddings):
    from trackreid.io.mot import tracks_to_mot_rows

    rows, n_frames = [], scene.config.num_frames
    for t in range(1, n_frames + 1):
        dets = scene.dets_at(t)
        emb = scene.embeddings_at(t, dim=64, noise=0.3) if with_embeddings else None
        out = tracker.update(dets, embeddings=emb)
        assert out.shape[1] == 8 and len(np.unique(out[:, 4])) == len(out)    # one box per ID per frame
        assert set(out[:, 7].astype(int)) <= set(range(len(dets)))
        if len(out):
            rows.append(tracks_to_mot_rows(t, out))
    return np.concatenate(rows)


def test_appearance_improves_identity_on_synthetic_scene(scene):
    from trackreid.evaluation.mot import evaluate_mot_arrays

    app = track_scene(scene, Tracker(), True)
    motion = track_scene(scene, Tracker(TrackerConfig(appearance_weight=0.0)), False)
    res = evaluate_mot_arrays({"app": (scene.gt, app), "motion": (scene.gt, motion)})
    assert res["app"]["IDF1"] > res["motion"]["IDF1"]
    assert res["app"]["IDSW"] < res["motion"]["IDSW"]
    assert res["app"]["MOTA"] > 0.3          # the tracker follows people at all (not just the ID metrics)


def test_det_ids_stay_with_their_track_between_crossings(scene):
    """Most detections of one person carry one track ID (measured with the scene's identity labels)."""
    tracker = Tracker()
    pairs = []
    for t in range(1, scene.config.num_frames + 1):
        out = tracker.update(scene.dets_at(t), embeddings=scene.embeddings_at(t, dim=64, noise=0.3))
        gid = scene.det_ids_at(t)
        pairs += [(int(gid[int(r[7])]), int(r[4])) for r in out if gid[int(r[7])] >= 0]
    pairs = np.array(pairs)
    purity = []
    for g in np.unique(pairs[:, 0]):
        ids = pairs[pairs[:, 0] == g, 1]
        purity.append(np.bincount(ids).max() / len(ids))
    assert np.mean(purity) > 0.8


def test_tracker_with_a_real_encoder_embeds_rendered_frames():
    """``Tracker(config, encoder=build_encoder(...))``: the tracker cuts and embeds the boxes of each frame itself;
    every confirmed track then has a feature memory, and people keep their IDs over a short stretch."""
    import warnings

    from trackreid.reid.encoder import build_encoder

    scene = synthetic.generate_scene(synthetic.SceneConfig(num_people=8, num_frames=12, width=640, height=360,
                                                           seed=2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights: the loud warning is expected here
        enc = build_encoder("osnet_x0_25", weights=None, device="cpu")
    calls = []
    real_call = enc.__call__

    def counting(frame, boxes):
        calls.append(len(boxes))
        return real_call(frame, boxes)

    tracker = Tracker(encoder=counting)
    pairs = []
    for t in range(1, 13):
        out = tracker.update(scene.dets_at(t), frame=scene.render(t))
        gid = scene.det_ids_at(t)
        pairs += [(int(gid[int(r[7])]), int(r[4])) for r in out if gid[int(r[7])] >= 0]
    assert 0 < len(calls) <= 12 and sum(calls) > 0     # at most one encoder call per frame (none: nothing to embed)
    n = tracker.tracks.n
    confirmed = tracker.tracks.state[:n] != 0
    assert tracker.tracks.feat.shape[1] == 512 and tracker.tracks.has_feat[:n][confirmed].all()
    by_person = {}
    for g, i in pairs:
        by_person.setdefault(g, set()).add(i)
    assert by_person and sum(len(v) == 1 for v in by_person.values()) >= 0.75 * len(by_person)
