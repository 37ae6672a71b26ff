"""Behaviour of trackreid.Tracker on hand-built scenes (each case a situation users rely on)."""
from __future__ import annotations

import numpy as np
import pytest

from trackreid import Tracker, TrackerConfig
from trackreid.tracking.track import CONFIRMED, LOST


def box(cx, cy, w=40.0, h=100.0, score=0.9, cls=0.0):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, cls]


def codes(k, dim=64, seed=0):
    c = np.random.default_rng(seed).normal(size=(k, dim))
    return (c / np.linalg.norm(c, axis=1, keepdims=True)).astype(np.float32)


def noisy(c, rng, noise=0.1):
    e = c + rng.normal(0, noise / np.sqrt(c.shape[1]), c.shape)
    return (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float32)


def ids_by_det(out):
    """{det_index: track_id} for one frame's output."""
    return {int(r[7]): int(r[4]) for r in out}


# ---------------------------------------------------------------- layout and basics
def test_output_layout_and_det_index():
    t = Tracker()
    dets = np.array([box(100, 100), box(400, 100, score=0.8), box(700, 100, score=0.05)], np.float32)
    out = t.update(dets)
    assert out.dtype == np.float64 and out.ndim == 2 and out.shape[1] == 8
    assert sorted(out[:, 7].astype(int).tolist()) == [0, 1]          # the 0.05 detection is below the low threshold
    for r in out:
        np.testing.assert_allclose(r[:4], dets[int(r[7]), :4], atol=1e-3)
        assert r[5] == pytest.approx(dets[int(r[7]), 4])
        assert r[6] == dets[int(r[7]), 5]
    assert sorted(out[:, 4].astype(int).tolist()) == [1, 2]


def test_ids_stable_on_straight_walk():
    t = Tracker()
    seen = {}
    for f in range(120):
        dets = np.array([box(100 + 3 * f, 150 + 120 * k) for k in range(5)], np.float32)
        out = t.update(dets)
        assert len(out) == 5
        for d, i in ids_by_det(out).items():
            assert seen.setdefault(d, i) == i
    assert sorted(seen.values()) == [1, 2, 3, 4, 5]


def test_new_track_needs_two_hits_after_first_frame():
    t = Tracker()
    t.update(np.array([box(100, 100)], np.float32))
    out = t.update(np.array([box(100, 100), box(600, 100)], np.float32))
    assert ids_by_det(out) == {0: 1}                  # the newcomer is tentative: no ID yet
    out = t.update(np.array([box(100, 100), box(600, 100)], np.float32))
    assert ids_by_det(out) == {0: 1, 1: 2}


# ---------------------------------------------------------------- crossings and appearance
def crossing_sequence(bounce: bool):
    """Two people walk towards each other on the same line; the one behind is hidden while they overlap.
    With ``bounce`` both turn back while hidden, which a constant-velocity model cannot foresee."""
    frames = []
    xa, xb, va, vb = 200.0, 600.0, 4.0, -4.0
    for f in range(160):
        if bounce and f == 50:
            va, vb = -va, -vb
        xa += va
        xb += vb
        rows, who = [], []
        overlap = abs(xa - xb) < 40
        rows.append(box(xa, 300, h=110))             # A is in front (lower bottom edge)
        who.append(0)
        if not overlap:
            rows.append(box(xb, 295, h=100))
            who.append(1)
        frames.append((np.array(rows, np.float32), np.array(who)))
    return frames


def run_identities(tracker, frames, app, rng):
    """Track and return {person: set of track ids given to them}."""
    got = {0: set(), 1: set()}
    for dets, who in frames:
        out = tracker.update(dets, embeddings=noisy(app[who], rng))
        for d, i in ids_by_det(out).items():
            got[int(who[d])].add(i)
    return got


@pytest.mark.parametrize("bounce", [False, True])
def test_crossing_with_appearance_keeps_ids(bounce):
    app = codes(2)
    got = run_identities(Tracker(), crossing_sequence(bounce), app, np.random.default_rng(1))
    assert len(got[0]) == 1 and len(got[1]) == 1 and got[0] != got[1]


def test_crossing_motion_only_swaps_when_people_turn_back_unseen():
    app = codes(2)
    got = run_identities(Tracker(TrackerConfig(appearance_weight=0.0)), crossing_sequence(True), app,
                         np.random.default_rng(1))
    assert len(got[0]) > 1 or len(got[1]) > 1 or got[0] & got[1]   # an identity error happens without appearance


def test_crossing_motion_only_keeps_ids_on_straight_crossing():
    app = codes(2)
    got = run_identities(Tracker(TrackerConfig(appearance_weight=0.0)), crossing_sequence(False), app,
                         np.random.default_rng(1))
    assert len(got[0]) == 1 and len(got[1]) == 1 and got[0] != got[1]


def test_swapped_appearance_is_not_accepted_against_motion():
    """Two people walking side by side: appearance alone cannot pull a track onto the other person's box when the
    boxes are clearly separated and motion agrees (the fused cost keeps them)."""
    app = codes(2)
    rng = np.random.default_rng(0)
    t = Tracker()
    for f in range(60):
        dets = np.array([box(100 + 2 * f, 200), box(100 + 2 * f, 500)], np.float32)
        out = t.update(dets, embeddings=noisy(app, rng))
    assert ids_by_det(out) == {0: 1, 1: 2}


# ---------------------------------------------------------------- re-identification
def gap_sequence(gap, shift=0.0):
    """One person walks, vanishes for ``gap`` frames, reappears ``shift`` px further on; a bystander stays."""
    frames = []
    x = 100.0
    for f in range(40 + gap + 20):
        x += 3
        rows, who = [box(900, 400)], [1]
        if not 40 <= f < 40 + gap:
            rows.append(box(x + (shift if f >= 40 + gap else 0), 200))
            who.append(0)
        frames.append((np.array(rows, np.float32), np.array(who)))
    return frames


def test_reidentified_after_occlusion_within_buffer():
    app = codes(2, seed=3)
    got = run_identities(Tracker(TrackerConfig(track_buffer=60)), gap_sequence(45), app, np.random.default_rng(0))
    assert len(got[0]) == 1 and len(got[1]) == 1


def test_new_id_after_buffer_expires_without_memory():
    app = codes(2, seed=3)
    t = Tracker(TrackerConfig(track_buffer=20, memory=False))
    got = run_identities(t, gap_sequence(45), app, np.random.default_rng(0))
    assert len(got[0]) == 2 and len(got[1]) == 1


def test_identity_memory_returns_id_after_buffer_expires():
    app = codes(2, seed=3)
    t = Tracker(TrackerConfig(track_buffer=20))
    got = run_identities(t, gap_sequence(45), app, np.random.default_rng(0))
    assert len(got[0]) == 1 and len(got[1]) == 1 and t.memory_size == 0   # taken back out of the memory


def test_reid_leans_on_appearance_when_motion_guess_is_off():
    """The person reappears one box height away from where the walk predicts; appearance re-finds them, motion
    alone (IoU with the prediction) cannot."""
    app = codes(2, seed=3)
    with_app = run_identities(Tracker(), gap_sequence(20, shift=-90), app, np.random.default_rng(0))
    assert len(with_app[0]) == 1
    motion = run_identities(Tracker(TrackerConfig(appearance_weight=0.0)), gap_sequence(20, shift=-90), app,
                            np.random.default_rng(0))
    assert len(motion[0]) == 2


def test_features_that_do_not_tell_people_apart_fall_back_to_motion():
    """An untrained network gives every crop nearly the same embedding. A person vanishes and someone else
    appears inside the lost track's re-identification gate: with such features the newcomer must get a new ID
    (as with motion alone), while distinct features of the same person still re-identify them."""
    rng = np.random.default_rng(0)

    def run(look):  # look: (3, D) appearance of person 0 and two bystanders
        t = Tracker()
        for f in range(40):
            t.update(np.array([box(100 + 3 * f, 200), box(900, 500), box(900, 800)], np.float32),
                     embeddings=noisy(look, rng))
        for _ in range(10):  # person 0 is hidden
            t.update(np.array([box(900, 500), box(900, 800)], np.float32), embeddings=noisy(look[1:], rng))
        ids = set()
        for _ in range(5):  # someone appears 1.3 box heights from where person 0 is predicted (250, 200)
            out = t.update(np.array([box(330, 300), box(900, 500), box(900, 800)], np.float32),
                           embeddings=noisy(look, rng))
            ids.add(ids_by_det(out).get(0))
        return ids - {None}                          # None: the newcomer's first, tentative frame

    alike = np.repeat(codes(1, seed=5), 3, axis=0)   # everyone looks the same: appearance says nothing
    assert run(alike) == {4}                         # a new identity, as motion alone would give
    assert run(codes(3, seed=6)) == {1}              # a distinct look: person 0 is re-identified


def test_appearance_cannot_join_far_apart_boxes():
    app = codes(1)
    t = Tracker()
    for f in range(10):
        out = t.update(np.array([box(100 + 2 * f, 200)], np.float32), embeddings=app)
    assert ids_by_det(out) == {0: 1}
    t.update(np.empty((0, 6), np.float32))
    ids = set()
    for f in range(5):  # identical appearance, but 1,300 px (13 box heights) away after 2 frames
        out = t.update(np.array([box(1400, 200)], np.float32), embeddings=app)
        ids |= set(ids_by_det(out).values())
    assert 1 not in ids and ids == {2}


def test_low_score_detections_extend_tracks():
    t = Tracker()
    for f in range(10):
        t.update(np.array([box(100 + 3 * f, 200, score=0.9)], np.float32))
    for f in range(10, 20):  # partially occluded: the detector is unsure
        out = t.update(np.array([box(100 + 3 * f, 200, score=0.3)], np.float32))
        assert ids_by_det(out) == {0: 1}
    # the embeddings of low-score rows are never read (callers may skip computing them and pass placeholders)
    app = codes(1)
    t3 = Tracker()
    for f in range(10):
        t3.update(np.array([box(100 + 3 * f, 200, score=0.9)], np.float32), embeddings=app)
    for f in range(10, 20):
        out = t3.update(np.array([box(100 + 3 * f, 200, score=0.3)], np.float32), embeddings=-app)
        assert ids_by_det(out) == {0: 1}
    np.testing.assert_allclose(t3.tracks.feat[0], app[0], atol=1e-6)
    # low-score detections alone never start a track
    t2 = Tracker()
    for f in range(5):
        assert len(t2.update(np.array([box(100, 200, score=0.3)], np.float32))) == 0


def test_class_aware_and_agnostic():
    a = np.array([box(100, 200, cls=0)], np.float32)
    b = np.array([box(102, 200, cls=2)], np.float32)
    aware = Tracker(TrackerConfig(class_aware=True))
    aware.update(a)
    aware.update(b)
    out = aware.update(b)
    assert ids_by_det(out) == {0: 2}
    agnostic = Tracker(TrackerConfig(class_aware=False))
    agnostic.update(a)
    out = agnostic.update(b)
    assert ids_by_det(out) == {0: 1} and out[0, 6] == 2


# ---------------------------------------------------------------- input handling
@pytest.mark.parametrize(
    "dets, match",
    [
        (np.zeros((3, 5), np.float32), "shape"),
        (np.array([[0, 0, 10, 10, 0.9, 0, 1]], np.float32), "shape"),
        (np.array([[0, 0, np.nan, 10, 0.9, 0]], np.float32), "NaN or inf"),
        (np.array([[0, 0, np.inf, 10, 0.9, 0]], np.float32), "NaN or inf"),
        (np.array([[10, 0, 0, 10, 0.9, 0]], np.float32), "inverted"),
        (np.array([["a", "b", "c", "d", "e", "f"]]), "numeric"),
    ],
)
def test_bad_detections_raise(dets, match):
    t = Tracker()
    with pytest.raises(ValueError, match=match):
        t.update(dets)
    assert t.frame_id == 0 and t.tracks.n == 0                 # nothing half-applied


def test_bad_embeddings_and_frame_raise():
    t = Tracker()
    dets = np.array([box(100, 100), box(300, 100)], np.float32)
    with pytest.raises(ValueError, match="2 detections"):
        t.update(dets, embeddings=np.ones((3, 8), np.float32))
    with pytest.raises(ValueError, match="NaN or inf"):
        t.update(dets, embeddings=np.full((2, 8), np.nan, np.float32))
    with pytest.raises(ValueError, match="frame"):
        t.update(dets, frame=np.zeros((10, 10), np.uint8))
    t.update(dets, embeddings=np.ones((2, 8), np.float32))
    with pytest.raises(ValueError, match="dimension 8"):
        t.update(dets, embeddings=np.ones((2, 16), np.float32))


def test_zero_area_boxes_dropped_and_embeddings_follow_rows():
    t = Tracker()
    dets = np.array([box(100, 100), [300, 50, 300, 150, 0.9, 0], box(500, 100)], np.float32)
    emb = codes(3)
    out = t.update(dets, embeddings=emb)
    assert sorted(out[:, 7].astype(int).tolist()) == [0, 2]
    np.testing.assert_allclose(t.tracks.feat[: t.tracks.n], emb[[0, 2]], atol=1e-6)


def test_empty_frames_are_normal_input():
    t = Tracker()
    for empty in (np.empty((0, 6), np.float32), [], None, np.empty((0,))):
        out = t.update(empty)
        assert out.shape == (0, 8)
    for _ in range(2):
        t.update(np.array([box(100, 100)], np.float32), embeddings=codes(1))
    out = t.update(np.empty((0, 6)), embeddings=np.empty((0, 64), np.float32))
    assert out.shape == (0, 8) and t.state_counts()["lost"] == 1
    out = t.update(np.array([box(100, 100)], np.float32), embeddings=codes(1))
    assert ids_by_det(out) == {0: 1}


def test_reset_starts_a_new_video():
    t = Tracker()
    for f in range(3):
        t.update(np.array([box(100, 100), box(300, 100)], np.float32), embeddings=codes(2))
    t.reset()
    assert t.tracks.n == 0 and t.frame_id == 0
    out = t.update(np.array([box(700, 300)], np.float32), embeddings=codes(1, dim=32))  # new dimension is fine
    assert ids_by_det(out) == {0: 1}


def test_memory_bounded_on_endless_churn():
    """5,000 frames of people arriving and leaving: the live state stays bounded by the simultaneous count."""
    rng = np.random.default_rng(0)
    t = Tracker(TrackerConfig(track_buffer=30))
    people = {}  # person -> [x, y, vx, appearance code]
    next_p = 0
    caps = []
    confirmed_ids = set()
    for f in range(5000):
        if len(people) < 12 and rng.random() < 0.5:
            code = rng.normal(size=16)
            code /= np.linalg.norm(code)
            people[next_p] = [rng.uniform(50, 1800), rng.uniform(60, 1000), rng.normal(0, 3), code]
            next_p += 1
        for p in list(people):
            if rng.random() < 0.02:
                del people[p]
        rows = [box(p[0], p[1]) for p in people.values()]
        emb = np.array([p[3] for p in people.values()], np.float32).reshape(-1, 16)
        for p in people.values():
            p[0] += p[2]
        out = t.update(np.array(rows, np.float32).reshape(-1, 6), embeddings=emb)
        confirmed_ids |= set(out[:, 4].astype(int).tolist())
        caps.append(t.tracks.cap)
    assert next_p > 1000 and len(confirmed_ids) > 800     # plenty of churn
    assert t.tracks.n <= 12 + 12 * 2              # live + lost within the buffer
    assert max(caps) <= 128 and t.memory_bytes() < 200_000


def test_config_from_yaml(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("track_buffer: 90\nappearance_weight: 0.7\n")
    cfg = TrackerConfig.from_yaml(p)
    assert cfg.track_buffer == 90 and cfg.appearance_weight == 0.7 and cfg.match_thresh == TrackerConfig().match_thresh
    p.write_text("track_bufer: 90\n")
    with pytest.raises(ValueError, match="track_bufer.*valid keys.*track_buffer"):
        TrackerConfig.from_yaml(p)
    with pytest.raises(ValueError, match="track_low_thresh"):
        TrackerConfig(track_low_thresh=0.9, track_high_thresh=0.5)
    with pytest.raises(ValueError, match="cmc"):
        TrackerConfig(cmc="orb")
    p.write_text("track_buffer: ninety\n")
    with pytest.raises(ValueError, match="track_buffer must be an integer"):
        TrackerConfig.from_yaml(p)
    with pytest.raises(ValueError, match="file not found"):
        TrackerConfig.from_yaml(tmp_path / "missing.yaml")


# ---------------------------------------------------------------- encoder hook
class RecordingEncoder:
    dim = 16

    def __init__(self):
        self.calls = []

    def __call__(self, frame, boxes):
        self.calls.append((frame.shape, np.array(boxes)))
        return codes(len(boxes), dim=self.dim, seed=len(self.calls))


def test_encoder_called_once_per_frame_with_kept_boxes():
    enc = RecordingEncoder()
    t = Tracker(encoder=enc)
    frame = np.zeros((480, 640, 3), np.uint8)
    dets = np.array([box(100, 100), [300, 50, 300, 150, 0.9, 0], box(500, 100, score=0.05), box(400, 200, score=0.3)],
                    np.float32)
    t.update(dets, frame=frame)
    assert len(enc.calls) == 1
    shape, boxes = enc.calls[0]
    assert shape == (480, 640, 3) and boxes.dtype == np.float32
    # only rows whose appearance is read: not the zero-area row, nor those below track_high_thresh
    np.testing.assert_array_equal(boxes, dets[[0], :4])
    assert t.tracks.has_feat[: t.tracks.n].tolist() == [True]
    t.update(np.empty((0, 6)), frame=frame)                      # nothing to embed: not called
    t.update(dets)                                               # no frame: motion only, not called
    t.update(dets, frame=frame, embeddings=codes(4, dim=16))     # caller's embeddings win
    assert len(enc.calls) == 1


def test_encoder_output_is_validated():
    t = Tracker(encoder=lambda frame, boxes: np.ones((len(boxes) + 1, 8), np.float32))
    with pytest.raises(ValueError, match="embeddings"):
        t.update(np.array([box(100, 100)], np.float32), frame=np.zeros((64, 64, 3), np.uint8))


# ---------------------------------------------------------------- camera motion compensation
def textured(h=360, w=640, seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    img = (rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8)
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)


def test_cmc_estimates_a_pan():
    from trackreid.tracking.motion import SparseFlowCMC

    world = textured(400, 900)
    cmc = SparseFlowCMC(downscale=2)
    cmc.estimate(np.ascontiguousarray(world[20:380, 100:740]))
    warp = cmc.estimate(np.ascontiguousarray(world[20:380, 130:770]))   # camera pans right by 30 px
    np.testing.assert_allclose(warp[:, 2], [-30, 0], atol=2.0)
    np.testing.assert_allclose(warp[:, :2], np.eye(2), atol=0.02)


def test_cmc_shifts_predictions_and_keeps_id_through_a_sudden_pan():
    world = textured(400, 1400)

    def run(cmc):
        t = Tracker(TrackerConfig(appearance_weight=0.0, cmc=cmc))
        ids = set()
        x0 = 100
        for f in range(16):
            if f == 10:
                x0 = 160  # the camera jerks 60 px right: a standing person appears 60 px further left
            frame = np.ascontiguousarray(world[20:380, x0:x0 + 640])
            out = t.update(np.array([box(400 - x0, 200, w=40, h=100)], np.float32), frame=frame)
            ids |= set(ids_by_det(out).values())
        return t, ids

    t, ids = run("sparse_flow")
    assert ids == {1}
    assert t.tracks.mean[0, 0] == pytest.approx(400 - 160, abs=3)
    _, ids = run(None)
    assert len(ids) == 2                      # without compensation the jump breaks the track


def test_cmc_requires_frame():
    t = Tracker(TrackerConfig(cmc="sparse_flow"))
    with pytest.raises(ValueError, match="frame"):
        t.update(np.array([box(100, 100)], np.float32))


def test_lost_state_and_removal():
    t = Tracker(TrackerConfig(track_buffer=5))
    for _ in range(3):
        t.update(np.array([box(100, 100)], np.float32))
    assert t.tracks.state[0] == CONFIRMED
    for _ in range(5):
        t.update(None)
    assert t.tracks.n == 1 and t.tracks.state[0] == LOST
    t.update(None)
    assert t.tracks.n == 0


def test_match_thresh_is_honoured_in_the_first_stage():
    t = Tracker(TrackerConfig(match_thresh=0.1, appearance_weight=0.0))
    t.update(np.array([box(100, 100)], np.float32))
    out = t.update(np.array([box(110, 100)], np.float32))  # 1 - IoU = 0.4 > 0.1: not the same track
    assert 1 not in ids_by_det(out).values()
    loose = Tracker(TrackerConfig(appearance_weight=0.0))
    loose.update(np.array([box(100, 100)], np.float32))
    assert ids_by_det(loose.update(np.array([box(110, 100)], np.float32))) == {0: 1}


def test_track_ids_stay_exact_past_float32_precision():
    t = Tracker()
    t.identity.next_id = 2**24 + 1
    out = t.update(np.array([box(100, 100), box(400, 100)], np.float32))
    assert out.dtype == np.float64
    assert sorted(out[:, 4].astype(np.int64).tolist()) == [2**24 + 1, 2**24 + 2]


def test_boxmot_style_call_and_none_frames():
    app = codes(1)
    t = Tracker()
    out = t.update(np.array([box(100, 100)], np.float32), None, embs=app)   # BoxMOT: update(dets, img, embs=...)
    assert ids_by_det(out) == {0: 1}
    assert t.update(None, embeddings=np.empty((0, 64), np.float32)).shape == (0, 8)
    with pytest.raises(ValueError, match="not both"):
        t.update(np.array([box(100, 100)], np.float32), embeddings=app, embs=app)


def test_embeddings_of_only_the_marked_rows_track_like_a_full_array():
    """The pipeline's path (``Tracker.detections`` + embeddings of exactly the rows it marks) and BoxMOT's path
    (one row per detection) give the same tracks, IDs, re-entries and renames on a re-entry scene, when every
    high-score row is marked (``embed_policy="always"``)."""
    from trackreid.synthetic import SceneConfig, generate_scene

    scene = generate_scene(SceneConfig(num_people=24, num_frames=600, seed=3, reentry=True))
    full, marked = Tracker(TrackerConfig(embed_policy="always")), Tracker(TrackerConfig(embed_policy="always"))
    reentries = renames = 0
    for t in range(1, scene.config.num_frames + 1):
        dets = scene.dets_at(t)
        emb = scene.embeddings_at(t, dim=32, noise=0.3)
        a = full.step(dets, embeddings=emb)
        d = marked.detections(dets)
        b = marked.step(d, embeddings=emb[d.embed_index])
        np.testing.assert_array_equal(a.tracks, b.tracks)
        assert a.reentries == b.reentries and a.renamed == b.renamed
        np.testing.assert_array_equal(a.features, b.features)
        reentries, renames = reentries + len(a.reentries), renames + len(a.renamed)
    assert reentries > 0 and renames > 0        # the scene exercises the identity memory


# ---------------------------------------------------------------- real-footage cases: re-finding, borders
def _partial_view(code, dist, seed):
    """A view of ``code`` at cosine distance ``dist`` from it (an umbrella over the upper body, say)."""
    r = np.random.default_rng(seed).normal(size=code.shape)
    r -= (r @ code) * code
    r /= np.linalg.norm(r)
    c = 1.0 - dist
    return (c * code + np.sqrt(1.0 - c * c) * r).astype(np.float32)


def _vanish_and_return(config, newcomer_at=None, newcomer_view=None):
    """Person A walks right up to x=300 and is missed for 36 frames (the track's prediction walks on, 180 px away);
    B stands far away throughout. Then a box appears: A back a few pixels from where she vanished with a partial
    view (default), or ``newcomer_view`` at ``newcomer_at``. Returns the ID A had and the ID the box gets."""
    ca, cb = codes(2, seed=3)
    back = _partial_view(ca, 0.2, seed=4)
    # B looks about as much like A's partial view as A does: the ratio test cannot tell them apart
    cb = _partial_view(back, 0.22, seed=5)
    frame = np.zeros((480, 1280, 3), np.uint8)
    t = Tracker(config)
    for f in range(40):
        x = 105 + 5 * f
        out = t.update(np.array([box(x, 300), box(1000, 300)], np.float32), frame, embeddings=np.stack([ca, cb]))
    a_id = ids_by_det(out)[0]
    for _ in range(36):
        t.update(np.array([box(1000, 300)], np.float32), frame, embeddings=cb[None])
    where = (310, 300) if newcomer_at is None else newcomer_at
    view = back if newcomer_view is None else newcomer_view
    for _ in range(3):
        # A's box is a little taller (the umbrella) but the feet stand where they stood
        cx, cy = where
        det = np.array([[cx - 22, cy - 60, cx + 22, cy + 50, 0.9, 0], box(1000, 300)], np.float32)
        out = t.update(det, frame, embeddings=np.stack([view, cb]))
    return a_id, ids_by_det(out).get(0)


def test_a_person_back_where_they_vanished_with_a_changed_upper_body_keeps_the_id():
    a_id, got = _vanish_and_return(TrackerConfig())
    assert got == a_id
    # without re-finding in place the same box starts a new identity (ratio test and memory both refuse)
    a_id, got = _vanish_and_return(TrackerConfig(refind_iou=1.0))
    assert got is not None and got != a_id


def test_a_look_alike_entering_elsewhere_does_not_take_a_lost_id():
    ca = codes(2, seed=3)[0]
    look_alike = _partial_view(ca, 0.2, seed=7)
    a_id, got = _vanish_and_return(TrackerConfig(), newcomer_at=(1200, 300), newcomer_view=look_alike)
    assert got is not None and got != a_id


def _leave_and_enter_behind(tracker):
    """A walks out through the left border; two frames later B walks in through the same border. Motion only (no
    appearance to veto anything). Returns (A's ID, B's ID)."""
    frame = np.zeros((480, 640, 3), np.uint8)
    clip = lambda b: [max(b[0], 0.0), b[1], b[2], b[3], b[4], b[5]]
    for f in range(22):           # the last box [0, 35]: cut by the border
        out = tracker.update(np.array([clip(box(120 - 5 * f, 240))], np.float32), frame)
    a_id = ids_by_det(out)[0]
    for f in range(3):            # A is gone: its last box was cut by the border, walking out
        tracker.update(np.empty((0, 6), np.float32), frame)
    for f in range(4):            # B walks in where A left
        out = tracker.update(np.array([clip(box(-5 + 6 * f, 245))], np.float32), frame)
    return a_id, ids_by_det(out).get(0)


def test_a_track_leaving_at_the_border_does_not_pass_its_id_to_the_person_behind():
    a_id, b_id = _leave_and_enter_behind(Tracker())
    assert b_id is not None and b_id != a_id
    # the rule is what holds it: a tracker that treats the gone track as still in view hands the ID over
    t = Tracker()
    t._exited = lambda: np.zeros(t.tracks.n, bool)
    a_id, b_id = _leave_and_enter_behind(t)
    assert b_id == a_id


def test_a_gap_without_frames_sends_tracks_to_the_memory_and_they_come_back():
    """skip(): a camera outage. Short, tracks are lost (not carried on by motion); longer than track_buffer, they
    leave for the identity memory, which gives them their IDs back when they show again elsewhere."""
    app = codes(2, seed=5)
    rng = np.random.default_rng(0)
    t = Tracker(TrackerConfig(track_buffer=20))
    for f in range(10):
        out = t.update(np.array([box(100 + 3 * f, 200), box(600, 400)], np.float32), embeddings=noisy(app, rng))
    before = sorted(out[:, 4].astype(int).tolist())
    t.skip(5)
    assert t.state_counts()["lost"] == 2 and t.frame_id == 15
    t.skip(30)
    assert t.tracks.n == 0 and t.memory_size == 2 and t.frame_id == 45
    for _ in range(5):  # back, somewhere else
        out = t.update(np.array([box(300, 500), box(900, 150)], np.float32), embeddings=noisy(app, rng))
    assert sorted(out[:, 4].astype(int).tolist()) == before
